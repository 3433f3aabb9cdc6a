/* Names and choices of the input-derivative tools (jacobian/attribute/attack). */
#include <string.h>

#include "chainrule_typed.h"
#include "core/fail.h"

static const char *const jac_names[] = {"auto", "rev", "fwd", "closed"};
static const char *const attr_names[] = {"saliency", "input-x-gradient", "integrated-gradients",
                                         "smoothgrad"};

const char *cr_jac_mode_name(cr_jac_mode mode) {
    return (unsigned)mode < 4 ? jac_names[mode] : "unknown";
}

cr_status cr_jac_mode_parse(const char *name, cr_jac_mode *out) {
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, jac_names[i])) {
            *out = (cr_jac_mode)i;
            return CR_OK;
        }
    return cr_fail(CR_ERR_ARG, "%s: unknown Jacobian mode '%s'", __func__, name ? name : "(null)");
}

cr_jac_mode cr_jac_mode_resolve(cr_jac_mode mode, size_t k, size_t d) {
    if (mode != CR_JAC_AUTO) return mode;
    /* K VJPs cost ~K passes, D JVPs ~D passes: reverse when there are fewer outputs */
    return k < d ? CR_JAC_REV : CR_JAC_FWD;
}

const char *cr_attr_method_name(cr_attr_method m) {
    return (unsigned)m < 4 ? attr_names[m] : "unknown";
}

cr_status cr_attr_method_parse(const char *name, cr_attr_method *out) {
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, attr_names[i])) {
            *out = (cr_attr_method)i;
            return CR_OK;
        }
    if (name && (!strcmp(name, "ig") || !strcmp(name, "ixg"))) {
        *out = name[1] == 'g' ? CR_ATTR_IG : CR_ATTR_INPUT_X_GRAD;
        return CR_OK;
    }
    return cr_fail(CR_ERR_ARG, "%s: unknown attribution method '%s'", __func__, name ? name : "(null)");
}
