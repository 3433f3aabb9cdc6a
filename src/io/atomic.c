/*
 * Atomic file writes: write "<path>.tmp.XXXXXX" in the target's folder, then
 * fflush + fsync + fclose + rename over the target + fsync of the folder.
 * A failure at any step removes the temporary file and leaves the target as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chainrule_io.h"
#include "io_internal.h"

static void atomic_release(cr_atomic_file *af) {
    free(af->tmp_path);
    free(af->path);
    af->fp = NULL;
    af->tmp_path = NULL;
    af->path = NULL;
}

/* The mode a newly created file would get (0666 & ~umask), or the existing target's. */
static mode_t target_mode(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
    mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

cr_status cr_atomic_open(cr_atomic_file *af, const char *path) {
    if (!af) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path ? path : "(null)");
    af->fp = NULL;
    af->tmp_path = NULL;
    af->path = NULL;
    if (!path || !*path) return cr_fail(CR_ERR_ARG, "(empty path): invalid output path");
    size_t n = strlen(path);
    static const char suffix[] = ".tmp.XXXXXX";
    af->path = malloc(n + 1);
    af->tmp_path = malloc(n + sizeof suffix);
    if (!af->path || !af->tmp_path) {
        atomic_release(af);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->path, path, n + 1);
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, suffix, sizeof suffix);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        cr_fail(CR_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(e));
        atomic_release(af);
        return cr_io_status(-1);
    }
    (void)fchmod(fd, target_mode(path)); /* mkstemp's 0600 would stick after rename */
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        cr_fail(CR_ERR_IO, "%s: cannot open temporary file: %s", path, strerror(e));
        atomic_release(af);
        return cr_io_status(-1);
    }
    af->fp = fp;
    return CR_OK;
}

static void fsync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = malloc(2);
        if (dir) memcpy(dir, ".", 2);
    } else {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(len + 1);
        if (dir) {
            memcpy(dir, path, len);
            dir[len] = '\0';
        }
    }
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    if (fd < 0) return;
    (void)fsync(fd); /* best effort: some file systems refuse fsync on folders */
    close(fd);
}

cr_status cr_atomic_commit(cr_atomic_file *af) {
    if (!af || !af->fp || !af->tmp_path || !af->path) {
        if (af) cr_atomic_abort(af);
        return cr_fail(CR_ERR_FORMAT, "atomic write: no open file");
    }
    FILE *fp = af->fp;
    af->fp = NULL;
    int e = 0;
    errno = 0;
    if (fflush(fp) != 0 || ferror(fp)) e = errno ? errno : EIO;
    if (!e && fsync(fileno(fp)) != 0) e = errno;
    if (fclose(fp) != 0 && !e) e = errno ? errno : EIO;
    if (!e && rename(af->tmp_path, af->path) != 0) e = errno;
    if (e) {
        unlink(af->tmp_path);
        cr_fail(CR_ERR_IO, "%s: write failed: %s", af->path, strerror(e));
        atomic_release(af);
        return cr_io_status(-1);
    }
    fsync_parent_dir(af->path);
    atomic_release(af);
    return CR_OK;
}

void cr_atomic_abort(cr_atomic_file *af) {
    if (!af) return;
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    atomic_release(af);
}
