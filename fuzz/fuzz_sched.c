// fuzz-sources: src/sched/*.c src/core/*.c
/* fuzz/fuzz_sched.c: libFuzzer target for the schedule parser and the
 * schedulers: any bytes as a --sched expression must give either a schedule
 * or one error message, never a crash, a hang or undefined behaviour; a
 * schedule is then stepped a few hundred times (with a changing metric for
 * ReduceLROnPlateau), and its state saved and loaded into a second parse.
 * Not a test of the numbers (tests/test_sched.c does that). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 6000) return 0;
    char *expr = malloc(size + 1);
    if (!expr) return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    sched_context ctx = {0.1, 0.9, 20, 10, 0};
    lr_sched *s = NULL, *r = NULL;
    lr_error err;
    if (sched_parse(&s, expr, &ctx, &err) != 0) {
        if (s != NULL || strlen(err.msg) >= sizeof err.msg) abort();
        free(expr);
        return 0;
    }
    double state[4096];
    for (int t = 0; t < 300; t++) {
        volatile double lr = sched_lr(s), m = sched_momentum(s);
        (void)lr;
        (void)m;
        if (t == 150) {
            int n = sched_state_save(s, state, 4096);
            if (n > 0 && sched_parse(&r, expr, &ctx, &err) == 0) {
                if (sched_state_load(r, state, n, &err) != 0) abort();
                if (sched_lr(r) != sched_lr(s) || sched_t(r) != sched_t(s)) abort();
            }
        }
        if (sched_step(s, (double)(t % 7) * 0.1, &err) != 0) break;
        if (r) sched_step(r, (double)(t % 7) * 0.1, &err);
    }
    sched_free(r);
    sched_free(s);
    free(expr);
    return 0;
}
