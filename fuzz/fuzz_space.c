// fuzz-sources: src/sweep/*.c src/tune/space.c src/train/config.c src/model/*.c src/optim/*.c src/data/*.c src/sched/*.c src/core/*.c
/* fuzz/fuzz_space.c: libFuzzer target for lrlab tune's space files
 * (sweep_parse_space, tune/space.c): any bytes must give a space or one
 * error message, never a crash, a hang or undefined behaviour. A space
 * that is accepted must give trials (grid and random) that resolve: every
 * range was checked at its ends and options, and a drawn value lies between
 * them. Not a test of the messages (tests/test_tune_space.c does that). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lrlab/tune.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sweep_file s;
    tune_space sp;
    lr_error err;
    if (sweep_parse_space(&s, (const char *)data, size, "fuzz.tune", &err)) return 0;
    if (tune_space_init(&sp, &s, NULL, &err) == 0) {
        for (long t = 0; t < 4; t++)
            for (int grid = 0; grid <= (sp.grid > 0); grid++) {
                sweep_flags v, out;
                if (tune_space_trial(&sp, grid, 1, grid ? t % sp.grid : t, &v, &err)) abort();
                /* a draw between two checked ends may still be refused (an integer setting): an error, not a crash */
                if (tune_space_resolve(&sp, &v, NULL, &out, NULL, &err) == 0) sweep_flags_free(&out);
                sweep_flags_free(&v);
            }
        tune_space_free(&sp);
    }
    sweep_free(&s);
    return 0;
}
