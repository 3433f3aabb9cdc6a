/*
 * Branch and bound with a subdomain budget instead of a timeout, for before/after comparisons on a loaded machine
 * (a wall-clock timeout measures the neighbours; a budget does not): cr_certify with --method bab's settings
 * (α-CROWN, branch and bound on), one worker, and the CPU time of the call.
 *
 *   bab_budget MODEL VNNLIB MAX_DOMAINS [WARM]
 *     MODEL: any file cr_model_load reads (ONNX, safetensors); WARM: 1 (default) or 0, branch and bound's α/β warm
 *     start (chk_bab_warm, internal: link the static libraries)
 *   prints: verdict, wall s, CPU s, subdomains, proved_by
 *
 * Build against a build's static libraries, e.g.
 *   cc -O2 -Iinclude bench/bab_budget.c -o bab_budget build/rel/libchainrule_io.a build/rel/libchainrule.a \
 *      -lm -lopenblas -lcjson -lz -lpng16
 * docs/certification.md ("Warm start") ran WARM 0 and 1 alternately per instance, OPENBLAS_NUM_THREADS=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "chainrule.h"
#include "chainrule_certify.h"
#include "chainrule_io.h"

extern int chk_bab_warm; /* src/check/bab.h */

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bab_budget MODEL VNNLIB MAX_DOMAINS [WARM]\n");
        return 2;
    }
    cr_net *net;
    if (cr_model_load(argv[1], &net) != CR_OK) {
        fprintf(stderr, "bab_budget: %s: %s\n", argv[1], cr_last_error());
        return 2;
    }
    cr_spec spec;
    if (cr_vnnlib_load(argv[2], cr_net_input_dim(net), cr_net_output_dim(net), &spec) != CR_OK) {
        fprintf(stderr, "bab_budget: %s: %s\n", argv[2], cr_last_error());
        cr_net_free(net);
        return 2;
    }
    chk_bab_warm = argc > 4 ? atoi(argv[4]) : 1;
    cr_certify_options o = {0};
    o.bab = 1;
    o.bab_max_domains = (size_t)atol(argv[3]);
    o.bound.method = CR_BOUND_ALPHA;
    cr_certify_result res = {0};
    const clock_t c0 = clock();
    const cr_status st = cr_certify(NULL, net, &spec, &o, &res);
    const double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    printf("%s %.2f %.2f %zu %s\n", st != CR_OK ? cr_status_string(st) : cr_verdict_name(res.verdict), res.seconds, cpu,
           res.domains, res.proved_by ? res.proved_by : "-");
    cr_spec_free(&spec);
    cr_net_free(net);
    return st != CR_OK;
}
