/*
 * dataset_load.c — labelled datasets loaded by name: Fashion-MNIST, IDX
 * folders, CSV (csv.c), X,Y pairs of .npy/IDX files.
 */
#include "chainrule_data.h"
#include "io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int ends_with_ci(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int read_array(const char *path, cr_array *a) {
    if (ends_with_ci(path, ".npy")) return cr_npy_read(path, a);
    return cr_idx_read(path, a);
}

static int load_pair(const char *xpath, const char *ypath, const cr_dataset_options *opt,
                     cr_dataset *out) {
    cr_array x = {0}, y = {0};
    int rc = -1;
    if (read_array(xpath, &x)) goto done;
    if (read_array(ypath, &y)) goto done;
    rc = cr_dataset_from_arrays(xpath, &x, ypath, &y, opt, out);
done:
    cr_array_free(&x);
    cr_array_free(&y);
    return rc;
}

/* Finds "<dir>/<prefix>-<kind>..." among the usual spellings; 0 if found. */
static int find_idx(const char *dir, const char *prefix, const char *kind, int idxn, char *out,
                    size_t cap) {
    static const char *const fmts[] = {"%s/%s-%s-idx%d-ubyte", "%s/%s-%s-idx%d-ubyte.gz",
                                       "%s/%s-%s.idx%d-ubyte", "%s/%s-%s.idx%d-ubyte.gz"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        int w = snprintf(out, cap, fmts[i], dir, prefix, kind, idxn);
        if (w > 0 && (size_t)w < cap && is_file(out)) return 0;
    }
    return -1;
}

static int load_idx_dir(const char *dir, int test, const cr_dataset_options *opt,
                        cr_dataset *out) {
    const char *prefix = test ? "t10k" : "train";
    char xp[4096], yp[4096];
    if (find_idx(dir, prefix, "images", 3, xp, sizeof xp))
        return cr_fail(CR_ERR_FORMAT, "%s: no %s-images-idx3-ubyte[.gz] in this folder", dir, prefix);
    if (find_idx(dir, prefix, "labels", 1, yp, sizeof yp))
        return cr_fail(CR_ERR_FORMAT, "%s: no %s-labels-idx1-ubyte[.gz] in this folder", dir, prefix);
    return load_pair(xp, yp, opt, out);
}

cr_status cr_dataset_load(const char *spec, cr_dataset *out, const cr_dataset_options *opt) {
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) return cr_fail(CR_ERR_FORMAT, "empty dataset name");

    const char *comma = strchr(spec, ',');
    if (comma) {
        size_t a = (size_t)(comma - spec);
        char *xp = malloc(a + 1);
        if (!xp) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", spec);
        memcpy(xp, spec, a);
        xp[a] = 0;
        const char *yp = comma + 1;
        int rc;
        if (!*xp || !*yp || strchr(yp, ','))
            rc = cr_fail(CR_ERR_FORMAT, "%s: expected X,Y: two files, inputs and labels", spec);
        else
            rc = load_pair(xp, yp, opt, out);
        free(xp);
        return cr_io_status(rc);
    }
    if (ends_with_ci(spec, ".csv")) return cr_io_status(cr_csv_read(spec, opt, out));

    /* DIR, DIR:train, DIR:test */
    size_t len = strlen(spec), base_len = len;
    int test = 0;
    if (ends_with_ci(spec, ":test")) {
        test = 1;
        base_len = len - 5;
    } else if (ends_with_ci(spec, ":train")) {
        base_len = len - 6;
    }
    char base[4096];
    if (base_len == 0 || base_len >= sizeof base)
        return cr_fail(CR_ERR_FORMAT, "%s: not a dataset name", spec);
    memcpy(base, spec, base_len);
    base[base_len] = 0;

    const char *dir = base;
    if (strcmp(base, "fashion-mnist") == 0) {
        const char *env = getenv("CR_FASHION_MNIST_DIR");
        dir = env && *env ? env : CR_FASHION_MNIST_DIR;
        if (!is_dir(dir))
            return cr_fail(CR_ERR_FORMAT, "fashion-mnist: folder %s not found (install Debian's "
                                "dataset-fashion-mnist or set CR_FASHION_MNIST_DIR)",
                                dir);
    } else if (strcmp(base, "mnist") == 0 && !is_dir(base)) {
        dir = "/usr/share/datasets/mnist";
        if (!is_dir(dir))
            return cr_fail(CR_ERR_FORMAT, "mnist: no folder ./mnist or %s with the IDX files", dir);
    }
    if (!is_dir(dir)) {
        struct stat st;
        if (stat(dir, &st) != 0) /* a mistyped name, e.g. "fashion": say what a dataset is */
            return cr_fail(CR_ERR_IO, "%s: %s (a dataset is fashion-mnist[:train|:test], a folder of IDX files, "
                                      "FILE.csv or X.npy,y.npy)", dir, strerror(errno));
        return cr_fail(CR_ERR_FORMAT, "%s: not a dataset: expected a folder of IDX files, a .csv file or "
                            "X,Y (.npy or IDX files)",
                            spec);
    }
    return cr_io_status(load_idx_dir(dir, test, opt, out));
}
