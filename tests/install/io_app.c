/* A program of the io layer, built against an installed chainrule by
   tests/lib_install.sh: saves a random model to argv[1], loads it back and
   checks that every parameter came back bit for bit. */
#include <chainrule_io.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: io_app MODEL.safetensors\n");
        return 2;
    }
    const size_t dims[] = {5, 4, 3};
    const cr_activation act[] = {CR_ACT_TANH};
    cr_net *net = NULL, *back = NULL;
    int ok = 0;
    if (cr_net_create(&net, CR_F32, 2, dims, act) != CR_OK) goto done;
    cr_net_init(net, CR_INIT_AUTO, 7);
    if (cr_model_save(argv[1], net) || cr_model_load(argv[1], &back)) {
        fprintf(stderr, "%s\n", cr_last_error());
        goto done;
    }
    ok = cr_net_n_params(back) == cr_net_n_params(net) && cr_net_dtype(back) == CR_F32 &&
         memcmp(cr_net_params(back), cr_net_params(net), cr_net_n_params(net) * sizeof(float)) == 0;
    printf("%s: %zu parameters %s\n", argv[1], cr_net_n_params(net), ok ? "round-trip" : "DIFFER");
done:
    cr_net_free(net);
    cr_net_free(back);
    return ok ? 0 : 1;
}
