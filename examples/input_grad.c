/* dJ/dx of a 784-128-10 sigmoid network, three ways, every status checked.
   Build: cc input_grad.c $(pkg-config --cflags --libs chainrule) -o input_grad */
#include <chainrule.h> /* the main header: one function per operation, data in the net's dtype */
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                              \
    do {                                                                         \
        cr_status st_ = (call);                                                  \
        if (st_ != CR_OK) {                                                      \
            fprintf(stderr, "%s: %s\n", #call, cr_status_string(st_));           \
            goto done;                                                           \
        }                                                                        \
    } while (0)
#define ABS(v) ((v) < 0 ? -(v) : (v))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

int main(void) {
    enum { N = 8, D = 784, H = 128, K = 10 };
    const size_t dims[] = {D, H, K};
    const cr_activation act[] = {CR_ACT_SIGMOID};
    int ok = 0;
    cr_net *net = NULL;   /* one allocation: struct + flat parameter block */
    cr_tape *tape = NULL; /* activations for batches of up to N rows */
    cr_ctx *ctx = NULL;   /* the workers: one per core available */
    double *x = malloc(sizeof(double) * N * D), *y = calloc(N * K, sizeof(double));
    double *dx = malloc(sizeof(double) * N * D), *dx2 = malloc(sizeof(double) * N * D);
    double *grads = NULL, losses[N];
    double *jac = malloc(sizeof(double) * N * K * D); /* N x K x D */
    if (!x || !y || !dx || !dx2 || !jac) goto done;

    CHECK(cr_net_create(&net, CR_F64, 2, dims, act));
    cr_net_init(net, CR_INIT_AUTO, 1);
    if (!(grads = malloc(sizeof(double) * cr_net_n_params(net)))) goto done;
    int64_t labels[N];
    for (size_t i = 0; i < N * D; i++) x[i] = (double)(i * 37 % 101) / 100; /* row-major N x D */
    for (size_t n = 0; n < N; n++) {
        labels[n] = (int64_t)(n % K);
        y[n * K + (size_t)labels[n]] = 1; /* Y: N x K one-hot targets */
    }

    /* 1. the tape: forward, loss, then the VJP chain back to the input */
    CHECK(cr_tape_create(net, N, &tape));
    double loss;
    CHECK(cr_net_forward(net, tape, N, x)); /* x: doubles, as the net is float64 */
    CHECK(cr_net_loss(net, tape, y, &loss));
    CHECK(cr_net_backward(net, tape, y, dx, grads)); /* dJ_n/dx_n, d(mean J)/dparams */

    /* 2. any number of examples, split over the context's workers */
    CHECK(cr_ctx_create(&ctx, 0));
    CHECK(cr_net_input_grad(ctx, net, N, x, y, dx2, losses)); /* dJ_n/dx_n and J_n */

    /* 3. the full Jacobian of the probabilities; row c of example n is d yhat_c / dx:
       dJ_n/dx_n = sum_c (dJ/dyhat_c) J[n][c] = -J[n][label] / yhat_label */
    CHECK(cr_net_input_jacobian(ctx, net, N, x, 1, CR_JAC_CLOSED, jac));

    double diff2 = 0, diff3 = 0, norm = 0;
    const double *probs = cr_tape_prediction(tape); /* N x K softmax outputs */
    for (size_t n = 0; n < N; n++) {
        size_t c = (size_t)labels[n];
        for (size_t j = 0; j < D; j++) {
            double g = dx[n * D + j], g3 = -jac[(n * K + c) * D + j] / probs[n * K + c];
            diff2 = MAX(diff2, ABS(dx2[n * D + j] - g));
            diff3 = MAX(diff3, ABS(g3 - g));
            norm = MAX(norm, ABS(g));
        }
    }
    printf("mean loss %.6f, max |dJ/dx| %.3e\n", loss, norm);
    printf("input_grad vs backward: %.1e, Jacobian vs backward: %.1e\n", diff2, diff3);
    ok = norm > 0 && diff2 <= 1e-12 * norm && diff3 <= 1e-12 * norm;

done:
    cr_ctx_free(ctx);
    cr_tape_free(tape);
    cr_net_free(net);
    free(x);
    free(y);
    free(dx);
    free(dx2);
    free(grads);
    free(jac);
    return ok ? 0 : 1;
}
