/*
 * chainrule gradcheck: verify every gradient of a model by central finite
 * differences in float64, and localise a fault to one op of the chain.
 *
 *   1. per op ("layer" i of the chain linear, act, linear, ..., softmax+CE) at
 *      the operating point of example 0: the explicit Jacobian, the VJP and
 *      the JVP against finite differences of the op's own forward, and the
 *      adjoint identity <JVP(u), v> = <u, VJP(v)>;
 *   2. the totals: dJ_n/dx_n for every example and the gradient of the mean
 *      loss for every parameter tensor (all entries, or a seeded sample);
 *   3. the network-level adjoint test <J u, v> = <u, J^T v> between forward
 *      mode (cr_net_jvp) and reverse mode (cr_net_vjp) on the logits.
 *
 * The analytic side runs in the model's dtype; the finite differences always
 * run in float64 on a float64 copy. Tolerances depend on the dtype.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *const gradcheck_help =
    "usage: chainrule gradcheck [--model M.safetensors] [--inputs X.npy --labels y.npy] [options]\n"
    "\n"
    "Checks dJ/dx and every parameter gradient against central finite differences\n"
    "(float64, step 1e-6*max(1,|x|)), and each op's Jacobian, VJP and JVP on its own,\n"
    "so that a wrong derivative is reported as, e.g.,\n"
    "  \"layer 2 (sigmoid): VJP disagrees with finite differences\".\n"
    "Also runs the adjoint test <J u, v> = <u, J^T v> between forward and reverse mode.\n"
    "Exit status 1 when a check fails.\n"
    "\n"
    "  --model PATH        model to check; without it a random network is built from\n"
    "  --layers D,...,K    (default 5,4,3) --activation NAME (default sigmoid)\n"
    "  --dtype float32|float64 (default float64) and --seed\n"
    "  --inputs, --labels  data (.npy); random inputs in [-1,1] and labels when absent\n"
    "  --n N               number of random examples (default 4)\n"
    "  --seed N            seed for the random network, data and samples (default 1)\n"
    "  --samples S         parameter entries checked per tensor (default 256, 0 = all)\n"
    "  --tol T             override the relative tolerance (default 1e-6 for float64,\n"
    "                      2e-3 for float32, whose rounding cannot meet 1e-6)\n"
    "  --json              machine-readable results\n"
    "  --inject-fault L:W  testing aid: perturb the analytic W (jacobian, vjp or jvp)\n"
    "                      of layer L by 1%, to show how a faulty op is reported\n";

/* ------------------------------------------------------------ small helpers */

static double *alloc_d(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* max_i |a_i - b_i| and that divided by max(max_i |b_i|, 1e-300). */
static void compare(const double *a, const double *b, size_t n, double *abs_err, double *rel_err,
                    double *ref_max) {
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        e = (isnan(d) || d > e) ? (isnan(d) ? INFINITY : d) : e;
        m = fmax(m, fabs(b[i]));
    }
    *abs_err = e;
    *rel_err = e / fmax(m, 1e-300);
    if (ref_max) *ref_max = m;
}

static double fd_step(double x) { return 1e-6 * fmax(1.0, fabs(x)); }

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Rounds a float64 buffer to the dtype and back (to feed dtype-T analytic code). */
static void *to_dtype(cr_dtype t, const double *src, size_t n) {
    void *p = malloc((n ? n : 1) * cr_dtype_size(t));
    if (p)
        for (size_t i = 0; i < n; i++) cli_set(t, p, i, src[i]);
    return p;
}
static void from_dtype(cr_dtype t, const void *src, double *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = cli_get(t, src, i);
}

/* ------------------------------------------------------------ the ops of the chain */

typedef enum { OP_LINEAR, OP_ACT, OP_HEAD } op_kind;

typedef struct {
    op_kind kind;
    int layer;         /* linear layer index (0-based) for OP_LINEAR / OP_ACT */
    cr_activation act; /* OP_ACT */
    size_t din, dout;
    char name[64];     /* "layer 2 (sigmoid)" */
} chain_op;

typedef enum { W_JACOBIAN, W_VJP, W_JVP } what;

/* Forward of one op on one row, in float64 (the reference for finite differences). */
static void op_forward64(const chain_op *op, const cr_net *net64, const double *in, double *out) {
    if (op->kind == OP_LINEAR) {
        const double *p = net64->params;
        cr_linear_forward_f64(1, op->din, op->dout, in, p + net64->w_offset[op->layer],
                              p + net64->b_offset[op->layer], out);
    } else if (op->kind == OP_ACT) {
        switch (op->act) {
        case CR_ACT_SIGMOID: cr_sigmoid_forward_f64(op->din, in, out); break;
        case CR_ACT_TANH: cr_tanh_forward_f64(op->din, in, out); break;
        default: cr_relu_forward_f64(op->din, in, out); break;
        }
    }
}

/*
 * The analytic derivative `w` of one op at input `in` (dout x din Jacobian, the
 * VJP of g (dout) into res (din), or the JVP of u (din) into res (dout)),
 * computed in the model's dtype through the library's own functions.
 */
static int op_analytic(const chain_op *op, const cr_net *net, what w, const double *in,
                       const double *vec, double *res) {
    cr_dtype t = net->dtype;
    size_t din = op->din, dout = op->dout;
    size_t rn = w == W_JACOBIAN ? din * dout : (w == W_VJP ? din : dout);
    void *x = to_dtype(t, in, din), *h = malloc(din * cr_dtype_size(t));
    void *v = to_dtype(t, vec ? vec : in, w == W_VJP ? dout : din);
    void *r = malloc(rn * cr_dtype_size(t));
    if (!x || !h || !v || !r) {
        free(x), free(h), free(v), free(r);
        return -1;
    }
    if (op->kind == OP_LINEAR) {
        const void *wp = (const char *)net->params + net->w_offset[op->layer] * cr_dtype_size(t);
        if (t == CR_F64) {
            if (w == W_JACOBIAN) cr_linear_jacobian_f64(din, dout, wp, r);
            else if (w == W_VJP) cr_linear_vjp_f64(1, din, dout, wp, v, r);
            else cr_linear_jvp_f64(1, din, dout, wp, v, r);
        } else {
            if (w == W_JACOBIAN) cr_linear_jacobian_f32(din, dout, wp, r);
            else if (w == W_VJP) cr_linear_vjp_f32(1, din, dout, wp, v, r);
            else cr_linear_jvp_f32(1, din, dout, wp, v, r);
        }
    } else {
        /* element-wise activation: h = f(x) first, then its derivative */
#define ACT_CASE(S, NAME)                                                                        \
    do {                                                                                         \
        cr_##NAME##_forward_##S(din, x, h);                                                      \
        if (w == W_JACOBIAN) cr_##NAME##_jacobian_##S(din, x, h, r);                             \
        else if (w == W_VJP) cr_##NAME##_vjp_##S(din, x, h, v, r);                               \
        else cr_##NAME##_jvp_##S(din, x, h, v, r);                                               \
    } while (0)
        if (t == CR_F64) {
            if (op->act == CR_ACT_SIGMOID) ACT_CASE(f64, sigmoid);
            else if (op->act == CR_ACT_TANH) ACT_CASE(f64, tanh);
            else ACT_CASE(f64, relu);
        } else {
            if (op->act == CR_ACT_SIGMOID) ACT_CASE(f32, sigmoid);
            else if (op->act == CR_ACT_TANH) ACT_CASE(f32, tanh);
            else ACT_CASE(f32, relu);
        }
#undef ACT_CASE
    }
    from_dtype(t, r, res, rn);
    free(x), free(h), free(v), free(r);
    return 0;
}

/* Central-difference Jacobian (dout x din) of op_forward64 at `in`. */
static void op_fd_jacobian(const chain_op *op, const cr_net *net64, const double *in, double *jac) {
    size_t din = op->din, dout = op->dout;
    double *xp = alloc_d(din), *fp = alloc_d(dout), *fm = alloc_d(dout);
    memcpy(xp, in, din * sizeof(double));
    for (size_t j = 0; j < din; j++) {
        double h = fd_step(in[j]);
        xp[j] = in[j] + h;
        op_forward64(op, net64, xp, fp);
        xp[j] = in[j] - h;
        op_forward64(op, net64, xp, fm);
        xp[j] = in[j];
        for (size_t i = 0; i < dout; i++) jac[i * din + j] = (fp[i] - fm[i]) / (2 * h);
    }
    free(xp), free(fp), free(fm);
}

/* ------------------------------------------------------------ results */

typedef struct {
    char name[96];
    double abs_err, rel_err, ref_max;
    size_t checked, total;
    int pass;
} check_result;

typedef struct {
    check_result *items;
    size_t n, cap;
    int failures;
} results;

static check_result *add_result(results *rs) {
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? 2 * rs->cap : 32;
        check_result *p = realloc(rs->items, cap * sizeof *p);
        if (!p) return NULL;
        rs->items = p;
        rs->cap = cap;
    }
    check_result *r = &rs->items[rs->n++];
    memset(r, 0, sizeof *r);
    return r;
}

/* ------------------------------------------------------------ the command */

typedef struct {
    int layer; /* 1-based op number in the chain, 0 = none */
    what w;
} fault;

static int parse_fault(const char *s, fault *f) {
    char kind[16];
    int layer;
    if (sscanf(s, "%d:%15s", &layer, kind) != 2 || layer < 1) return 0;
    if (!strcmp(kind, "jacobian")) f->w = W_JACOBIAN;
    else if (!strcmp(kind, "vjp")) f->w = W_VJP;
    else if (!strcmp(kind, "jvp")) f->w = W_JVP;
    else return 0;
    f->layer = layer;
    return 1;
}

static void inject(const fault *f, int layer, what w, double *res, size_t n) {
    if (f->layer != layer || f->w != w) return;
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(res[i]));
    for (size_t i = 0; i < n; i++) res[i] += 0.01 * m * (double)((i % 3) == 0);
}

int cmd_gradcheck(int argc, char **argv) {
    const char *model_path = NULL, *inputs = NULL, *labels = NULL, *layers = "5,4,3";
    const char *activation = "sigmoid", *dtype_s = "float64", *n_s = "4", *seed_s = "1";
    const char *samples_s = "256", *tol_s = NULL, *fault_s = NULL;
    int json = 0;
    cli_args a = cli_args_start(argc, argv);
    while (cli_args_next(&a)) {
        if (cli_value(&a, "--model", &model_path) || cli_value(&a, "--inputs", &inputs) ||
            cli_value(&a, "--labels", &labels) || cli_value(&a, "--layers", &layers) ||
            cli_value(&a, "--activation", &activation) || cli_value(&a, "--dtype", &dtype_s) ||
            cli_value(&a, "--n", &n_s) || cli_value(&a, "--seed", &seed_s) ||
            cli_value(&a, "--samples", &samples_s) || cli_value(&a, "--tol", &tol_s) ||
            cli_value(&a, "--inject-fault", &fault_s))
            continue;
        if (cli_flag(&a, "--json")) json = 1;
        else return cli_args_unknown(&a);
    }
    if (a.help) return fputs(gradcheck_help, stdout), CLI_OK;
    if (a.failed) return CLI_USAGE;
    if (!inputs != !labels) return cli_error("gradcheck: give both --inputs and --labels, or neither");

    uint64_t seed, samples;
    long n_random;
    double tol = 0;
    fault flt = {0, W_JACOBIAN};
    if (!cli_parse_u64("--seed", seed_s, &seed) || !cli_parse_u64("--samples", samples_s, &samples) ||
        !cli_parse_long("--n", n_s, 1, 100000, &n_random) ||
        (tol_s && !cli_parse_double("--tol", tol_s, 0, 1, &tol)))
        return CLI_USAGE;
    if (fault_s && !parse_fault(fault_s, &flt))
        return cli_error("--inject-fault: '%s' is not LAYER:jacobian|vjp|jvp", fault_s);

    /* ---------------------------------------------------------------- model and data */
    cr_model model = {0};
    int rc = CLI_OK;
    if (model_path) {
        if ((rc = cli_load_model(model_path, &model))) return rc;
    } else {
        size_t dims[CR_MAX_LAYERS + 1];
        int nl;
        cr_activation act[CR_MAX_LAYERS];
        cr_dtype dt;
        if (!cli_parse_layers("--layers", layers, dims, &nl) ||
            !cli_parse_activations("--activation", activation, nl - 1, act) ||
            !cli_parse_dtype("--dtype", dtype_s, &dt))
            return CLI_USAGE;
        if (cr_net_create(&model.net, dt, nl, dims, act) != CR_OK)
            return cli_error("gradcheck: cannot create a %s network", layers);
        cr_net_init(model.net, CR_INIT_AUTO, seed);
    }
    const cr_net *net = model.net;
    const cr_dtype t = net->dtype;
    const int L = net->n_layers;
    const size_t d = net->dims[0], k = net->dims[L];
    if (!tol_s) tol = t == CR_F64 ? 1e-6 : 2e-3;

    cr_net *net64 = NULL;
    cr_tape *tape = NULL, *tape64 = NULL;
    void *x = NULL, *y = NULL, *dx = NULL, *grads = NULL, *tmp = NULL;
    double *x64 = NULL, *y64 = NULL, *p64 = NULL, *buf = NULL, *buf2 = NULL, *ref = NULL;
    results rs = {0};
    size_t n;

    if (inputs) {
        if ((rc = cli_load_inputs(inputs, &model, &x, &n)) ||
            (rc = cli_load_targets(labels, n, k, t, &y)))
            goto done;
    } else {
        n = (size_t)n_random;
        x = malloc(n * d * cr_dtype_size(t));
        y = malloc(n * k * cr_dtype_size(t));
        if (!x || !y) goto nomem;
        cli_random_data(t, n, d, k, seed ^ 0x5eed, x, y);
    }
    if (cr_net_convert(net, CR_F64, &net64) != CR_OK || cr_tape_create(net, n, &tape) != CR_OK ||
        cr_tape_create(net64, n, &tape64) != CR_OK)
        goto nomem;
    x64 = alloc_d(n * d), y64 = alloc_d(n * k);
    dx = malloc(n * d * cr_dtype_size(t));
    grads = malloc(net->n_params * cr_dtype_size(t));
    size_t maxdim = 0;
    for (int l = 0; l <= L; l++) maxdim = net->dims[l] > maxdim ? net->dims[l] : maxdim;
    size_t big = (n * maxdim > maxdim * maxdim ? n * maxdim : maxdim * maxdim);
    buf = alloc_d(big), buf2 = alloc_d(big), ref = alloc_d(big);
    if (!x64 || !y64 || !dx || !grads || !buf || !buf2 || !ref) goto nomem;
    from_dtype(t, x, x64, n * d);
    from_dtype(t, y, y64, n * k);
    p64 = net64->params;

    cr_rng rng;
    cr_rng_seed(&rng, seed ^ 0xc4ec);

    /* ---------------------------------------------------------------- 1. per op */
    /* operating point: example 0 of a float64 forward pass */
    cr_net_forward_f64(net64, tape64, n, x64);
    chain_op ops[2 * CR_MAX_LAYERS + 1];
    int n_ops = 0;
    for (int l = 0; l < L; l++) {
        chain_op *o = &ops[n_ops++];
        *o = (chain_op){OP_LINEAR, l, CR_ACT_SIGMOID, net->dims[l], net->dims[l + 1], ""};
        snprintf(o->name, sizeof o->name, "layer %d (linear %zu->%zu)", n_ops, o->din, o->dout);
        if (l + 1 < L) {
            o = &ops[n_ops++];
            *o = (chain_op){OP_ACT, l, net->act[l], net->dims[l + 1], net->dims[l + 1], ""};
            snprintf(o->name, sizeof o->name, "layer %d (%s)", n_ops, cr_activation_name(o->act));
        }
    }
    for (int i = 0; i < n_ops; i++) {
        const chain_op *o = &ops[i];
        const double *in = o->kind == OP_LINEAR
                               ? (o->layer ? (const double *)tape64->post[o->layer - 1] : x64)
                               : (const double *)tape64->pre[o->layer];
        size_t din = o->din, dout = o->dout;
        double *jfd = alloc_d(din * dout), *jan = alloc_d(din * dout), *g = alloc_d(dout),
               *u = alloc_d(din), *va = alloc_d(din > dout ? din : dout),
               *vr = alloc_d(din > dout ? din : dout);
        if (!jfd || !jan || !g || !u || !va || !vr) {
            free(jfd), free(jan), free(g), free(u), free(va), free(vr);
            goto nomem;
        }
        for (size_t j = 0; j < dout; j++) g[j] = 2 * cr_rng_uniform(&rng) - 1;
        for (size_t j = 0; j < din; j++) u[j] = 2 * cr_rng_uniform(&rng) - 1;
        op_fd_jacobian(o, net64, in, jfd);
        double ae, rm, errs[4];
        /* Jacobian */
        op_analytic(o, net, W_JACOBIAN, in, NULL, jan);
        inject(&flt, i + 1, W_JACOBIAN, jan, din * dout);
        compare(jan, jfd, din * dout, &ae, &errs[0], &rm);
        /* VJP: g J */
        op_analytic(o, net, W_VJP, in, g, va);
        inject(&flt, i + 1, W_VJP, va, din);
        for (size_t c = 0; c < din; c++) {
            double s = 0;
            for (size_t r = 0; r < dout; r++) s += g[r] * jfd[r * din + c];
            vr[c] = s;
        }
        compare(va, vr, din, &ae, &errs[1], NULL);
        double *vjp_g = alloc_d(din);
        if (vjp_g) memcpy(vjp_g, va, din * sizeof(double));
        /* JVP: J u */
        op_analytic(o, net, W_JVP, in, u, va);
        inject(&flt, i + 1, W_JVP, va, dout);
        for (size_t r = 0; r < dout; r++) vr[r] = dot(jfd + r * din, u, din);
        compare(va, vr, dout, &ae, &errs[2], NULL);
        /* adjoint: <JVP(u), g> = <u, VJP(g)> */
        double lhs = dot(va, g, dout), rhs = vjp_g ? dot(u, vjp_g, din) : NAN;
        errs[3] = fabs(lhs - rhs) / fmax(fmax(fabs(lhs), fabs(rhs)), 1e-300);
        free(vjp_g);
        static const char *const labels4[] = {"Jacobian", "VJP", "JVP", "adjoint <JVP(u),v> = <u,VJP(v)>"};
        for (int w = 0; w < 4; w++) {
            check_result *r = add_result(&rs);
            if (!r) goto nomem;
            snprintf(r->name, sizeof r->name, "%s: %s", o->name, labels4[w]);
            r->rel_err = errs[w];
            r->abs_err = NAN;
            r->ref_max = rm;
            r->checked = r->total = w == 0 ? din * dout : (w == 1 ? din : dout);
            r->pass = errs[w] <= tol;
            if (!r->pass) {
                rs.failures++;
                if (!json)
                    fprintf(stderr, "FAIL: %s: %s (max rel err %.2e > tol %.0e)\n", o->name,
                            w < 3 ? (w == 0 ? "Jacobian disagrees with finite differences"
                                     : w == 1 ? "VJP disagrees with finite differences"
                                              : "JVP disagrees with finite differences")
                                  : "VJP and JVP are not adjoint",
                            errs[w], tol);
            }
        }
        free(jfd), free(jan), free(g), free(u), free(va), free(vr);
    }
    /* the head: fused softmax + CE, dJ/dθ = ŷ − y against finite differences of the loss */
    {
        const double *theta = tape64->pre[L - 1];
        double *th = alloc_d(k), *gfd = alloc_d(k), *gan = alloc_d(k), *yh = alloc_d(k),
               *jsm = alloc_d(k * k), *jce = alloc_d(k), *chain = alloc_d(k);
        if (!th || !gfd || !gan || !yh || !jsm || !jce || !chain) {
            free(th), free(gfd), free(gan), free(yh), free(jsm), free(jce), free(chain);
            goto nomem;
        }
        memcpy(th, theta, k * sizeof(double));
        for (size_t j = 0; j < k; j++) {
            double h = fd_step(theta[j]), lp, lm;
            th[j] = theta[j] + h;
            cr_softmax_ce_forward_f64(1, k, th, y64, NULL, &lp);
            th[j] = theta[j] - h;
            cr_softmax_ce_forward_f64(1, k, th, y64, NULL, &lm);
            th[j] = theta[j];
            gfd[j] = (lp - lm) / (2 * h);
        }
        /* analytic, in the model's dtype */
        void *tt = to_dtype(t, theta, k), *ty = to_dtype(t, y64, k);
        void *tyh = malloc(k * cr_dtype_size(t)), *tg = malloc(k * cr_dtype_size(t));
        double loss_unused;
        if (!tt || !ty || !tyh || !tg) {
            free(tt), free(ty), free(tyh), free(tg);
            free(th), free(gfd), free(gan), free(yh), free(jsm), free(jce), free(chain);
            goto nomem;
        }
        if (t == CR_F64) {
            cr_softmax_ce_forward_f64(1, k, tt, ty, tyh, &loss_unused);
            cr_softmax_ce_vjp_f64(1, k, tyh, ty, NULL, tg);
        } else {
            float lf;
            cr_softmax_ce_forward_f32(1, k, tt, ty, tyh, &lf);
            cr_softmax_ce_vjp_f32(1, k, tyh, ty, NULL, tg);
        }
        from_dtype(t, tg, gan, k);
        inject(&flt, n_ops + 1, W_VJP, gan, k);
        /* unfused, float64: (−y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) */
        cr_softmax_forward_f64(1, k, theta, yh);
        cr_softmax_jacobian_f64(k, yh, jsm);
        cr_cross_entropy_jacobian_f64(k, yh, y64, jce);
        for (size_t j = 0; j < k; j++) {
            double s = 0;
            for (size_t i = 0; i < k; i++) s += jce[i] * jsm[i * k + j];
            chain[j] = s;
        }
        double ae, re, rm;
        check_result *r = add_result(&rs);
        if (!r) goto nomem;
        snprintf(r->name, sizeof r->name, "layer %d (softmax+cross-entropy, fused): VJP yhat - y", n_ops + 1);
        compare(gan, gfd, k, &ae, &re, &rm);
        r->abs_err = ae, r->rel_err = re, r->ref_max = rm, r->checked = r->total = k;
        r->pass = re <= tol;
        if (!r->pass) {
            rs.failures++;
            if (!json)
                fprintf(stderr, "FAIL: layer %d (softmax+cross-entropy): VJP disagrees with finite differences (max rel err %.2e > tol %.0e)\n",
                        n_ops + 1, re, tol);
        }
        r = add_result(&rs);
        if (!r) goto nomem;
        snprintf(r->name, sizeof r->name, "layer %d (softmax then cross-entropy, unfused): (-y/yhat) J_softmax", n_ops + 1);
        compare(chain, gfd, k, &ae, &re, &rm);
        r->abs_err = ae, r->rel_err = re, r->ref_max = rm, r->checked = r->total = k;
        r->pass = re <= (t == CR_F64 ? tol : 1e-6);
        if (!r->pass) rs.failures++;
        free(tt), free(ty), free(tyh), free(tg);
        free(th), free(gfd), free(gan), free(yh), free(jsm), free(jce), free(chain);
    }

    /* ---------------------------------------------------------------- 2. totals */
    if (cli_net_forward(net, tape, n, x) != CR_OK || cli_net_backward(net, tape, y, dx, grads) != CR_OK)
        goto nomem;
    /* dJ_n/dx_n: perturbing feature j of every example at once moves each J_n alone */
    {
        double *lp = alloc_d(n), *xp = alloc_d(n * d), *an = alloc_d(n * d), *fd = alloc_d(n * d);
        if (!lp || !xp || !an || !fd) {
            free(lp), free(xp), free(an), free(fd);
            goto nomem;
        }
        memcpy(xp, x64, n * d * sizeof(double));
        for (size_t j = 0; j < d; j++) {
            for (int sgn = 1; sgn >= -1; sgn -= 2) {
                for (size_t i = 0; i < n; i++) xp[i * d + j] = x64[i * d + j] + sgn * fd_step(x64[i * d + j]);
                cr_net_forward_f64(net64, tape64, n, xp);
                cr_net_loss_f64(net64, tape64, y64);
                for (size_t i = 0; i < n; i++) {
                    double l = ((double *)tape64->loss)[i];
                    lp[i] = sgn > 0 ? l : (lp[i] - l) / (2 * fd_step(x64[i * d + j]));
                }
            }
            for (size_t i = 0; i < n; i++) {
                fd[i * d + j] = lp[i];
                xp[i * d + j] = x64[i * d + j];
            }
        }
        from_dtype(t, dx, an, n * d);
        check_result *r = add_result(&rs);
        if (!r) goto nomem;
        snprintf(r->name, sizeof r->name, "dJ/dx [%zu, %zu]", n, d);
        compare(an, fd, n * d, &r->abs_err, &r->rel_err, &r->ref_max);
        r->checked = r->total = n * d;
        r->pass = r->rel_err <= tol && r->ref_max > 0;
        if (!r->pass) {
            rs.failures++;
            if (!json) fprintf(stderr, "FAIL: dJ/dx disagrees with finite differences (max rel err %.2e > tol %.0e)\n", r->rel_err, tol);
        }
        free(lp), free(xp), free(an), free(fd);
    }
    /* parameters of the mean loss, one tensor at a time */
    for (int l = 0; l < L; l++) {
        for (int isb = 0; isb < 2; isb++) {
            size_t off = isb ? net->b_offset[l] : net->w_offset[l];
            size_t count = isb ? net->dims[l + 1] : net->dims[l] * net->dims[l + 1];
            size_t m = (samples == 0 || samples >= count) ? count : (size_t)samples;
            double *an = alloc_d(m), *fd = alloc_d(m);
            if (!an || !fd) {
                free(an), free(fd);
                goto nomem;
            }
            for (size_t s = 0; s < m; s++) {
                size_t idx = off + (m == count ? s : (size_t)cr_rng_below(&rng, count));
                double p0 = p64[idx], h = fd_step(p0), lp, lm;
                p64[idx] = p0 + h;
                cr_net_forward_f64(net64, tape64, n, x64);
                lp = cr_net_loss_f64(net64, tape64, y64);
                p64[idx] = p0 - h;
                cr_net_forward_f64(net64, tape64, n, x64);
                lm = cr_net_loss_f64(net64, tape64, y64);
                p64[idx] = p0;
                fd[s] = (lp - lm) / (2 * h);
                an[s] = cli_get(t, grads, idx);
            }
            check_result *r = add_result(&rs);
            if (!r) goto nomem;
            if (isb)
                snprintf(r->name, sizeof r->name, "fc%d.bias [%zu]", l + 1, net->dims[l + 1]);
            else
                snprintf(r->name, sizeof r->name, "fc%d.weight [%zu, %zu]", l + 1, net->dims[l + 1], net->dims[l]);
            compare(an, fd, m, &r->abs_err, &r->rel_err, &r->ref_max);
            r->checked = m;
            r->total = count;
            r->pass = r->rel_err <= tol;
            if (!r->pass) {
                rs.failures++;
                if (!json) fprintf(stderr, "FAIL: %s: gradient disagrees with finite differences (max rel err %.2e > tol %.0e)\n", r->name, r->rel_err, tol);
            }
            free(an), free(fd);
        }
    }

    /* ---------------------------------------------------------------- 3. adjoint, whole net */
    {
        size_t es = cr_dtype_size(t);
        double *u = alloc_d(n * d), *v = alloc_d(n * k), *ju = alloc_d(n * k), *jtv = alloc_d(n * d);
        void *tu = NULL, *tv = NULL, *tju = malloc(n * k * es), *tjtv = malloc(n * d * es);
        if (u && v)
            for (size_t i = 0; i < n * d; i++) u[i] = 2 * cr_rng_uniform(&rng) - 1;
        if (u && v)
            for (size_t i = 0; i < n * k; i++) v[i] = 2 * cr_rng_uniform(&rng) - 1;
        if (u && v) tu = to_dtype(t, u, n * d), tv = to_dtype(t, v, n * k);
        if (!u || !v || !ju || !jtv || !tu || !tv || !tju || !tjtv) {
            free(u), free(v), free(ju), free(jtv), free(tu), free(tv), free(tju), free(tjtv);
            goto nomem;
        }
        cli_net_forward(net, tape, n, x);
        if (t == CR_F64) {
            cr_net_jvp_f64(net, tape, tu, tju, NULL);
            cr_net_vjp_f64(net, tape, tv, tjtv);
        } else {
            cr_net_jvp_f32(net, tape, tu, tju, NULL);
            cr_net_vjp_f32(net, tape, tv, tjtv);
        }
        from_dtype(t, tju, ju, n * k);
        from_dtype(t, tjtv, jtv, n * d);
        double lhs = dot(ju, v, n * k), rhs = dot(u, jtv, n * d);
        check_result *r = add_result(&rs);
        if (!r) goto nomem;
        snprintf(r->name, sizeof r->name, "network adjoint <J u, v> = <u, J^T v> (logits)");
        r->abs_err = fabs(lhs - rhs);
        r->rel_err = r->abs_err / fmax(fmax(fabs(lhs), fabs(rhs)), 1e-300);
        r->ref_max = fabs(lhs);
        r->checked = r->total = 1;
        r->pass = r->rel_err <= tol;
        if (!r->pass) {
            rs.failures++;
            if (!json) fprintf(stderr, "FAIL: forward and reverse mode are not adjoint (rel err %.2e)\n", r->rel_err);
        }
        free(u), free(v), free(ju), free(jtv), free(tu), free(tv), free(tju), free(tjtv);
    }

    /* ---------------------------------------------------------------- report */
    {
        char arch[256];
        size_t len = 0;
        for (int l = 0; l <= L && len < sizeof arch - 16; l++)
            len += (size_t)snprintf(arch + len, sizeof arch - len, l ? "-%zu" : "%zu", net->dims[l]);
        if (json) {
            printf("{\"model\": \"%s\", \"layers\": \"%s\", \"dtype\": \"%s\", \"examples\": %zu, "
                   "\"tolerance\": %.3g, \"fd_step\": \"1e-6*max(1,|x|)\", \"checks\": [",
                   model_path ? model_path : "(random)", arch, cr_dtype_name(t), n, tol);
            for (size_t i = 0; i < rs.n; i++) {
                check_result *r = &rs.items[i];
                printf("%s\n  {\"name\": \"%s\", \"max_rel_err\": %.6g, \"max_abs_err\": %.6g, "
                       "\"checked\": %zu, \"total\": %zu, \"pass\": %s}",
                       i ? "," : "", r->name, r->rel_err, isnan(r->abs_err) ? -1.0 : r->abs_err,
                       r->checked, r->total, r->pass ? "true" : "false");
            }
            printf("\n], \"failures\": %d, \"pass\": %s}\n", rs.failures, rs.failures ? "false" : "true");
        } else {
            printf("gradcheck: %s (%s, %s), %zu example%s (%s)\n",
                   model_path ? model_path : "random network", arch, cr_dtype_name(t), n,
                   n == 1 ? "" : "s", inputs ? inputs : "random inputs in [-1,1] and labels");
            printf("finite differences: float64, central, step 1e-6*max(1,|x|)\n");
            if (t == CR_F32)
                printf("tolerance: max relative error %.0e for float32 (its rounding, ~6e-8 per op,\n"
                       "           accumulates past the float64 tolerance 1e-6, which it cannot meet)\n", tol);
            else
                printf("tolerance: max relative error %.0e (float64)\n", tol);
            printf("relative error = max |analytic - reference| / max |reference|\n\n");
            printf("  %-66s %9s %10s  %s\n", "check", "rel err", "checked", "");
            for (size_t i = 0; i < rs.n; i++) {
                check_result *r = &rs.items[i];
                char checked[32];
                if (r->checked == r->total) snprintf(checked, sizeof checked, "%zu", r->checked);
                else snprintf(checked, sizeof checked, "%zu/%zu", r->checked, r->total);
                printf("  %-66s %9.2e %10s  %s\n", r->name, r->rel_err, checked, r->pass ? "PASS" : "FAIL");
            }
            printf("\ngradcheck: %s (%zu checks, %d failed)\n", rs.failures ? "FAIL" : "PASS", rs.n, rs.failures);
        }
    }
    rc = rs.failures ? CLI_FAIL : CLI_OK;
    goto done;
nomem:
    rc = cli_error("gradcheck: out of memory");
done:
    free(rs.items);
    free(x), free(y), free(dx), free(grads), free(tmp);
    free(x64), free(y64), free(buf), free(buf2), free(ref);
    cr_tape_free(tape);
    cr_tape_free(tape64);
    cr_net_free(net64);
    cr_model_free(&model);
    return rc;
}
