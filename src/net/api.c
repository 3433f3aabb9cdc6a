/*
 * The main header's functions over the net's dtype (chainrule.h, "computing"): each
 * takes its arrays as `const void *` / `void *` in the dtype of the net (or of the
 * optimiser) and calls the typed twin of that dtype (chainrule_typed.h), so that a
 * caller never meets CR_ERR_DTYPE for a mismatch it could not see. No arithmetic
 * here: the numbers are the typed functions', bit for bit.
 */
#include <math.h>

#include "chainrule_typed.h"
#include "core/fail.h"
#include "net_internal.h"

/* f(ARGS) of the net's dtype: the _f64 twin for a float64 net, else the _f32 one
   (the void pointers convert to float * / double * implicitly). */
#define CR_DISPATCH(net, f, ...)                                                           \
    (cr_net_dtype(net) == CR_F64 ? f##_f64(__VA_ARGS__) : f##_f32(__VA_ARGS__))

cr_status cr_net_forward(const cr_net *net, cr_tape *tape, size_t n, const void *x) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_net_forward, net, tape, n, x);
}

/* A tape made for this net (its dtype and widths) holding a forward pass: the typed
   loss answers NaN otherwise, which the status turns into an error. */
static int tape_holds_pass(const cr_net *net, const cr_tape *tape) {
    if (cr_tape_dtype(tape) != cr_net_dtype(net) || cr_tape_rows(tape) == 0) return 0;
    if (tape->n_layers != net->n_layers || tape->head != net->head ||
        tape->has_out_act != net->has_out_act)
        return 0;
    for (int l = 0; l <= net->n_layers; l++)
        if (tape->dims[l] != net->dims[l]) return 0;
    return (net->link_form[0] != CR_AFFINE_NONE) == (tape->input_z != NULL);
}

cr_status cr_net_loss(const cr_net *net, cr_tape *tape, const void *y, double *mean) {
    if (!net || !tape || !y || !mean || !tape_holds_pass(net, tape)) return CR_FAIL(CR_ERR_ARG);
    *mean = cr_net_dtype(net) == CR_F64 ? cr_net_loss_f64(net, tape, y)
                                        : (double)cr_net_loss_f32(net, tape, y);
    return CR_OK;
}

cr_status cr_net_backward(const cr_net *net, cr_tape *tape, const void *y, void *dx,
                          void *grads) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_net_backward, net, tape, y, dx, grads);
}

cr_status cr_net_vjp(const cr_net *net, cr_tape *tape, const void *g_out, void *dx) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_net_vjp, net, tape, g_out, dx);
}

cr_status cr_net_jvp(const cr_net *net, cr_tape *tape, const void *xd, void *out_dot,
                     void *probs_dot) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_net_jvp, net, tape, xd, out_dot, probs_dot);
}

cr_status cr_net_input_grad(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const cr_label *labels,
                            void *dx, void *loss) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_net_input_grad, ctx, net, n, x, labels, dx, loss);
}

cr_status cr_net_input_grad_targets(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const void *y,
                                    void *dx, void *loss) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_net_input_grad_targets, ctx, net, n, x, y, dx, loss);
}

cr_status cr_net_class_grad(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const cr_label *cls,
                            int of_probs, void *grad, void *score) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_net_class_grad, ctx, net, n, x, cls, of_probs, grad, score);
}

cr_status cr_net_input_jacobian(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, int of_probs,
                                cr_jac_mode mode, void *jac) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_net_input_jacobian, ctx, net, n, x, of_probs, mode, jac);
}

cr_status cr_attribute(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const cr_label *cls,
                       const cr_attr_options *opt, void *attr, cr_attr_report *report) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_attribute, ctx, net, n, x, cls, opt, attr, report);
}

cr_status cr_attack(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const cr_label *labels,
                    const cr_label *target, const cr_attack_options *opt, void *x_adv,
                    cr_attack_stats *stats) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_attack, ctx, net, n, x, labels, target, opt, x_adv, stats);
}

cr_status cr_attack_regress(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const void *t,
                            const cr_attack_options *opt, void *x_adv, cr_attack_stats *stats) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_attack_regress, ctx, net, n, x, t, opt, x_adv, stats);
}

cr_status cr_optim_step(cr_optim *opt, void *params, const void *grads) {
    if (!opt) return CR_FAIL(CR_ERR_ARG);
    return opt->dtype == CR_F64 ? cr_optim_step_f64(opt, params, grads)
                                : cr_optim_step_f32(opt, params, grads);
}

/* Training exists for float32 nets (docs/training.md): the float32 functions are the
   only twins, and a float64 net is CR_ERR_DTYPE (convert it with cr_net_convert
   first). Evaluation runs in the net's dtype. */
cr_status cr_train_step(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n, const void *x,
                        const cr_label *labels, double *loss_sum, size_t *correct) {
    return cr_train_step_f32(ctx, net, opt, ws, n, x, labels, loss_sum, correct);
}

cr_status cr_train_epoch(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n, const void *x,
                         const cr_label *labels, size_t batch, cr_rng *rng,
                         cr_train_stats *stats, cr_train_progress_fn progress, size_t every,
                         void *user) {
    return cr_train_epoch_f32(ctx, net, opt, ws, n, x, labels, batch, rng, stats, progress, every,
                              user);
}

cr_status cr_evaluate(cr_ctx *ctx, const cr_net *net, cr_tape *tape, size_t n, const void *x,
                      const cr_label *labels, double *loss_sum, size_t *correct,
                      uint64_t *confusion, void *probs) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return CR_DISPATCH(net, cr_evaluate, ctx, net, tape, n, x, labels, loss_sum, correct, confusion, probs);
}
