/* The fuzz target bodies; see targets.h. */
#include "targets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chainrule_typed.h"
#include "chainrule_data.h"
#include "chainrule_io.h"

#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz contract violated: %s (%s:%d)\n", #cond, __FILE__,          \
                    __LINE__);                                                               \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* An error must be one non-empty line that starts with "<name>". */
static void check_error(const char *name) {
    const char *msg = cr_last_error();
    size_t n = strlen(msg);
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(strchr(msg, '\n') == NULL);
    FUZZ_CHECK(strncmp(msg, name, strlen(name)) == 0);
}

static void check_array(const cr_array *a) {
    FUZZ_CHECK(a->ndim >= 0 && a->ndim <= CR_ARRAY_MAX_DIMS);
    size_t count = 1;
    for (int i = 0; i < a->ndim; i++) FUZZ_CHECK(cr_mul_size(count, a->shape[i], &count) == CR_OK);
    FUZZ_CHECK(count == a->count);
    FUZZ_CHECK(a->data != NULL);
    /* touch every byte: ASan reports it if the buffer is shorter than claimed */
    size_t bytes = a->count * cr_array_dtype_size(a->dtype);
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < bytes; i++) sink ^= ((const unsigned char *)a->data)[i];
    (void)sink;
}

/* --------------------------------------------------------------------- npy */

int cr_fuzz_npy(const uint8_t *data, size_t size) {
    static const char name[] = "fuzz.npy";
    cr_array a;
    if (cr_npy_parse(name, data, size, &a)) {
        check_error(name);
        FUZZ_CHECK(a.data == NULL);
        return 0;
    }
    check_array(&a);
    /* what the CLI does next with an input array and a label array */
    void *buf = NULL;
    (void)cr_fail(CR_OK, "%s", ""); /* a failure below must set its own line */
    if (cr_array_to_real(name, &a, CR_F32, &buf) == 0) free(buf);
    else check_error(name);
    size_t n = a.ndim >= 1 ? a.shape[0] : 1;
    size_t k = a.ndim == 2 ? a.shape[1] : 10;
    if (k <= 4096 && n <= 65536) {
        (void)cr_fail(CR_OK, "%s", ""); /* a failure below must set its own line */
        if (cr_labels_to_targets(name, &a, n, k, CR_F64, &buf) == 0) free(buf);
        else check_error(name);
    }
    cr_array_free(&a);
    FUZZ_CHECK(a.data == NULL);
    return 0;
}

/* ------------------------------------------------------------- safetensors */

int cr_fuzz_safetensors(const uint8_t *data, size_t size) {
    static const char name[] = "fuzz.safetensors";
    cr_safetensors st;
    if (cr_safetensors_parse(name, data, size, &st)) {
        check_error(name);
        FUZZ_CHECK(st.n_tensors == 0 && st.tensors == NULL && st.n_meta == 0 && st.meta == NULL);
        return 0;
    }
    size_t total = 0;
    for (size_t i = 0; i < st.n_tensors; i++) {
        const cr_tensor *t = &st.tensors[i];
        FUZZ_CHECK(t->name != NULL);
        check_array(&t->array);
        FUZZ_CHECK(cr_safetensors_find(&st, t->name) == t); /* names are unique */
        total += t->array.count * cr_array_dtype_size(t->array.dtype);
    }
    FUZZ_CHECK(total <= size); /* tensors tile the data section: never more than the file */
    for (size_t i = 0; i < st.n_meta; i++) {
        FUZZ_CHECK(st.meta[i].key && st.meta[i].value);
        FUZZ_CHECK(cr_safetensors_meta(&st, st.meta[i].key) == st.meta[i].value);
    }
    cr_safetensors_free(&st);
    return 0;
}

/* --------------------------------------------------------------------- idx */

/* gzip input goes through the file reader (incremental inflate); it needs a path. */
static const char *gz_path(void) {
    static char path[64];
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/cr-fuzz-idx-%ld.gz", dir, (long)getpid());
    }
    return path;
}

int cr_fuzz_idx(const uint8_t *data, size_t size) {
    static const char name[] = "fuzz.idx";
    cr_array a;
    int rc;
    const char *nm = name;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        nm = gz_path();
        FILE *f = fopen(nm, "wb");
        if (!f) return 0;
        int ok = fwrite(data, 1, size, f) == size;
        if (fclose(f) != 0 || !ok) {
            unlink(nm);
            return 0;
        }
        rc = cr_idx_read(nm, &a);
        unlink(nm);
    } else {
        rc = cr_idx_parse(name, data, size, &a);
    }
    if (rc) {
        check_error(nm);
        FUZZ_CHECK(a.data == NULL);
        return 0;
    }
    check_array(&a);
    FUZZ_CHECK(a.ndim >= 1 && a.count > 0);
    cr_array_free(&a);
    return 0;
}

/* --------------------------------------------------------------------- csv */

int cr_fuzz_csv(const uint8_t *data, size_t size) {
    static const char name[] = "fuzz.csv";
    /* the default options, and one variant chosen by the input length */
    cr_dataset_options opts[2] = {CR_DATASET_OPTIONS_INIT, CR_DATASET_OPTIONS_INIT};
    switch (size % 4) {
    case 0: opts[1].label_column = -1; break;
    case 1: opts[1].has_header = 1; opts[1].k = 3; break;
    case 2: opts[1].has_header = 0; opts[1].limit = 2; break;
    default: opts[1].label_column = 2; opts[1].k = 10; break;
    }
    for (int v = 0; v < 2; v++) {
        cr_dataset ds;
        if (cr_csv_parse(name, (const char *)data, size, &opts[v], &ds)) {
            check_error(name);
            FUZZ_CHECK(ds.x == NULL && ds.labels == NULL);
            continue;
        }
        FUZZ_CHECK(ds.n > 0 && ds.d > 0 && ds.k > 0 && ds.x && ds.labels);
        FUZZ_CHECK(ds.n * ds.d <= size); /* every value took at least one byte of input */
        for (size_t i = 0; i < ds.n; i++) FUZZ_CHECK(ds.labels[i] >= 0 && (size_t)ds.labels[i] < ds.k);
        volatile float sink = 0;
        for (size_t i = 0; i < ds.n * ds.d; i++) sink += ds.x[i];
        (void)sink;
        cr_dataset_free(&ds);
    }
    return 0;
}

/* ------------------------------------------------------------------- model */

/* What every command does with a model it loaded: one forward + loss +
   backward pass on a zero input. */
static void check_model_runs(const cr_model *m) {
    const cr_net *net = m->net;
    FUZZ_CHECK(net && cr_net_n_layers(net) >= 1 && cr_net_n_layers(net) <= CR_MAX_LAYERS);
    size_t D = cr_net_input_dim(net), K = cr_net_output_dim(net);
    FUZZ_CHECK(D > 0 && K > 0);
    FUZZ_CHECK(m->input_mean.data == NULL || m->input_mean.count == D);
    FUZZ_CHECK(m->input_std.data == NULL || m->input_std.count == D);
    cr_tape *tape = NULL;
    size_t es = cr_dtype_size(cr_net_dtype(net));
    void *x = calloc(D, es), *y = calloc(K, es), *dx = calloc(D, es);
    void *g = calloc(cr_net_n_params(net) ? cr_net_n_params(net) : 1, es);
    if (x && y && dx && g && cr_tape_create(net, 1, &tape) == CR_OK) {
        if (cr_net_dtype(net) == CR_F64) {
            ((double *)y)[0] = 1.0;
            FUZZ_CHECK(cr_net_forward_f64(net, tape, 1, x) == CR_OK);
            (void)cr_net_loss_f64(net, tape, y);
            FUZZ_CHECK(cr_net_backward_f64(net, tape, y, dx, g) == CR_OK);
        } else {
            ((float *)y)[0] = 1.0f;
            FUZZ_CHECK(cr_net_forward_f32(net, tape, 1, x) == CR_OK);
            (void)cr_net_loss_f32(net, tape, y);
            FUZZ_CHECK(cr_net_backward_f32(net, tape, y, dx, g) == CR_OK);
        }
    }
    cr_tape_free(tape);
    free(x);
    free(y);
    free(dx);
    free(g);
}

/* A model: safetensors parse, then the network built from the tensors, then
   one forward + backward pass on a zero input (as `chainrule grad` would). */
int cr_fuzz_model(const uint8_t *data, size_t size) {
    static const char name[] = "fuzz.safetensors";
    cr_safetensors st;
    if (cr_safetensors_parse(name, data, size, &st)) {
        check_error(name);
        return 0;
    }
    cr_model m;
    (void)cr_fail(CR_OK, "%s", ""); /* a failure below must set its own line */
    int rc = cr_model_from_safetensors(name, &st, &m);
    cr_safetensors_free(&st);
    if (rc) {
        check_error(name);
        FUZZ_CHECK(m.net == NULL);
        return 0;
    }
    check_model_runs(&m);
    cr_model_free(&m);
    return 0;
}

/* -------------------------------------------------------------------- json */

/* A JSON model: parsed, run once (forward + backward), written back as JSON and
   read again: the second net must have the first one's parameters bit for bit. */
int cr_fuzz_json(const uint8_t *data, size_t size) {
    static const char name[] = "fuzz.json";
    cr_model m;
    if (cr_model_json_parse(name, data, size, &m)) {
        check_error(name);
        FUZZ_CHECK(m.net == NULL);
        return 0;
    }
    check_model_runs(&m);
    char *buf = NULL;
    size_t len = 0;
    (void)cr_fail(CR_OK, "%s", ""); /* a failure below must set its own line */
    FUZZ_CHECK(cr_model_json_encode(name, &m, &buf, &len) == 0);
    cr_model m2;
    FUZZ_CHECK(cr_model_json_parse(name, (const unsigned char *)buf, len, &m2) == 0);
    const cr_net *a = m.net, *b = m2.net;
    FUZZ_CHECK(cr_net_dtype(a) == cr_net_dtype(b) && cr_net_n_layers(a) == cr_net_n_layers(b) && cr_net_n_params(a) == cr_net_n_params(b));
    FUZZ_CHECK(!memcmp(cr_net_params_const(a), cr_net_params_const(b), cr_net_n_params(a) * cr_dtype_size(cr_net_dtype(a))));
    FUZZ_CHECK(cr_net_head(a) == cr_net_head(b) && cr_net_output_activation(a, NULL) == cr_net_output_activation(b, NULL));
    FUZZ_CHECK(cr_net_affine_form(a, 0) == cr_net_affine_form(b, 0));
    free(buf);
    cr_model_free(&m2);
    cr_model_free(&m);
    return 0;
}

/* -------------------------------------------------------------------- onnx */

static double cr_fuzz_real(const cr_array *a, size_t i) {
    return a->dtype == CR_ARRAY_F64 ? ((const double *)a->data)[i]
                                    : (double)((const float *)a->data)[i];
}

/* The folder that external tensor data is read from, made once per process
   (removed at exit): w.bin, 1024 float32 values (4 KB), a symbolic link
   link.bin to it, a sub-folder sub/ with another w.bin. The input is parsed
   as if it were the file fuzz.onnx there. */
static char onnx_dir[160], onnx_path[200];
static void onnx_dir_remove(void) {
    static const char *const names[] = {"sub/w.bin", "sub", "link.bin", "w.bin"};
    char p[256];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", onnx_dir, names[i]);
        if (i == 1) rmdir(p);
        else unlink(p);
    }
    rmdir(onnx_dir);
}
static const char *onnx_fuzz_path(void) {
    if (onnx_path[0]) return onnx_path;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(onnx_dir, sizeof onnx_dir, "%s/cr-fuzz-onnx-%ld", base, (long)getpid());
    mkdir(onnx_dir, 0700);
    char p[256];
    unsigned char w[4096];
    for (size_t i = 0; i < 1024; i++) { /* (i * 37 mod 101 - 50) / 100, little-endian */
        float v = (float)((int)(i * 37 % 101) - 50) / 100.0f;
        uint32_t u;
        memcpy(&u, &v, 4);
        for (int b = 0; b < 4; b++) w[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, k ? "%s/sub" : "%s", onnx_dir);
        if (k) mkdir(p, 0700);
        snprintf(p + strlen(p), sizeof p - strlen(p), "/w.bin");
        FILE *f = fopen(p, "wb");
        if (f) {
            if (fwrite(w, 1, sizeof w, f) != sizeof w) fputs("fuzz: cannot write w.bin\n", stderr);
            fclose(f);
        }
    }
    snprintf(p, sizeof p, "%s/link.bin", onnx_dir);
    if (symlink("w.bin", p) != 0) fputs("fuzz: cannot make link.bin\n", stderr);
    atexit(onnx_dir_remove);
    snprintf(onnx_path, sizeof onnx_path, "%s/fuzz.onnx", onnx_dir);
    return onnx_path;
}

/* An ONNX file: the protobuf decoder and the graph walk (cr_onnx_parse_file,
   external data from the folder above), then the network it built runs; the
   model-file dispatcher gives the same model; from a buffer (no folder) the
   same model or a refusal of external data; a valid model is also written
   back as ONNX and must read back to the same parameters and standardisation. */
int cr_fuzz_onnx(const uint8_t *data, size_t size) {
    const char *name = onnx_fuzz_path();
    cr_model m;
    if (cr_onnx_parse_file(name, data, size, &m)) {
        check_error(name);
        FUZZ_CHECK(m.net == NULL && m.input_mean.data == NULL && m.input_std.data == NULL);
        return 0;
    }
    check_model_runs(&m);
    /* the model-file dispatcher reaches the same parser for what looks like ONNX */
    if (cr_model_file_detect(data, size) == CR_MODEL_FILE_ONNX) {
        cr_model m2;
        (void)cr_fail(CR_OK, "%s", ""); /* a failure below must set its own line */
        FUZZ_CHECK(cr_model_parse_file(name, data, size, &m2) == 0);
        FUZZ_CHECK(cr_net_n_params(m2.net) == cr_net_n_params(m.net));
        cr_model_free(&m2);
    }
    {
        static const char bname[] = "fuzz.onnx";
        cr_model m3;
        (void)cr_fail(CR_OK, "%s", ""); /* a failure below must set its own line */
        if (cr_onnx_parse(bname, data, size, &m3) == 0) {
            FUZZ_CHECK(cr_net_n_params(m3.net) == cr_net_n_params(m.net) && cr_net_dtype(m3.net) == cr_net_dtype(m.net));
            FUZZ_CHECK(memcmp(cr_net_params(m3.net), cr_net_params(m.net),
                              cr_net_n_params(m.net) * cr_dtype_size(cr_net_dtype(m.net))) == 0);
            cr_model_free(&m3);
        } else {
            check_error(bname);
            FUZZ_CHECK(strstr(cr_last_error(), "external file") != NULL);
        }
    }
    unsigned char *buf;
    size_t len;
    if (cr_onnx_encode(name, &m, &buf, &len) == 0) {
        cr_model back;
        FUZZ_CHECK(cr_onnx_parse(name, buf, len, &back) == 0);
        FUZZ_CHECK(cr_net_n_params(back.net) == cr_net_n_params(m.net) && cr_net_dtype(back.net) == cr_net_dtype(m.net));
        FUZZ_CHECK(memcmp(cr_net_params(back.net), cr_net_params(m.net),
                          cr_net_n_params(m.net) * cr_dtype_size(cr_net_dtype(m.net))) == 0);
        FUZZ_CHECK(!back.input_mean.data == !m.input_mean.data);
        /* link 0 comes back as it was written: the same form and values, bit for bit */
        FUZZ_CHECK(cr_net_affine_form(back.net, 0) == cr_net_affine_form(m.net, 0));
        if (cr_net_affine_form(m.net, 0) != CR_AFFINE_NONE) {
            const size_t es = cr_dtype_size(cr_net_dtype(m.net)), w = cr_net_width(m.net, 0) * es;
            for (int k = 0; k < 2; k++) /* p, q */
                FUZZ_CHECK(memcmp(cr_net_link_vector(back.net, 0, k), cr_net_link_vector(m.net, 0, k), w) == 0);
        }
        for (size_t i = 0; m.input_mean.data && i < m.input_mean.count; i++) /* -0 == 0 */
            FUZZ_CHECK(cr_fuzz_real(&back.input_mean, i) == cr_fuzz_real(&m.input_mean, i) &&
                       cr_fuzz_real(&back.input_std, i) == cr_fuzz_real(&m.input_std, i));
        free(buf);
        cr_model_free(&back);
    }
    cr_model_free(&m);
    return 0;
}

/* ------------------------------------------------------------------ vnnlib */

/* The first byte picks the model's sizes (d, k); the rest is the VNN-LIB text. */
int cr_fuzz_vnnlib(const uint8_t *data, size_t size) {
    static const char name[] = "fuzz.vnnlib";
    static const size_t dims[4][2] = {{1, 1}, {2, 2}, {5, 5}, {3, 2}};
    if (size == 0) return 0;
    size_t d = dims[data[0] % 4][0], k = dims[data[0] % 4][1];
    cr_spec s;
    if (cr_vnnlib_parse(name, (const char *)data + 1, size - 1, d, k, &s)) {
        check_error(name);
        FUZZ_CHECK(s.parts == NULL && s.n_parts == 0);
        return 0;
    }
    FUZZ_CHECK(s.n_parts >= 1 && s.parts);
    for (size_t p = 0; p < s.n_parts; p++) {
        const cr_spec_part *q = &s.parts[p];
        FUZZ_CHECK(q->d == d && q->k == k && q->n_rows >= q->n_clauses && q->n_clauses >= 1);
        FUZZ_CHECK(q->n_rows <= ((size_t)1 << 20)); /* the reader's limit */
        for (size_t i = 0; i < d; i++) {
            FUZZ_CHECK(isfinite(q->lo[i]) && isfinite(q->hi[i]) && q->lo[i] <= q->hi[i]);
            FUZZ_CHECK(q->lo[i] <= q->lo_in[i] && q->hi_in[i] <= q->hi[i]);
            /* the two roundings of one decimal are at most one double apart */
            FUZZ_CHECK(nextafter(q->lo[i], INFINITY) >= q->lo_in[i] && nextafter(q->hi_in[i], INFINITY) >= q->hi[i]);
        }
        FUZZ_CHECK(q->clause[0] == 0 && q->clause[q->n_clauses] == q->n_rows);
        for (size_t c = 0; c < q->n_clauses; c++) FUZZ_CHECK(q->clause[c] < q->clause[c + 1]);
        for (size_t r = 0; r < q->n_rows; r++) {
            FUZZ_CHECK(isfinite(q->rhs[r]) && isfinite(q->rhs_in[r]) && q->rhs_in[r] <= q->rhs[r]);
            for (size_t j = 0; j < k; j++) FUZZ_CHECK(isfinite(q->c[r * k + j]));
        }
        /* parts have different boxes */
        for (size_t o = 0; o < p; o++) {
            const cr_spec_part *e = &s.parts[o];
            int same = 1;
            for (size_t i = 0; i < d && same; i++)
                same = e->lo[i] == q->lo[i] && e->hi[i] == q->hi[i] && e->lo_in[i] == q->lo_in[i] &&
                       e->hi_in[i] == q->hi_in[i];
            FUZZ_CHECK(!same);
        }
    }
    cr_spec_free(&s);
    FUZZ_CHECK(s.parts == NULL);
    return 0;
}

const cr_fuzz_target cr_fuzz_targets[] = {
    {"npy", cr_fuzz_npy},   {"safetensors", cr_fuzz_safetensors}, {"idx", cr_fuzz_idx},
    {"csv", cr_fuzz_csv},   {"model", cr_fuzz_model}, {"onnx", cr_fuzz_onnx},
    {"vnnlib", cr_fuzz_vnnlib}, {"json", cr_fuzz_json},
};
const size_t cr_fuzz_n_targets = sizeof cr_fuzz_targets / sizeof cr_fuzz_targets[0];
