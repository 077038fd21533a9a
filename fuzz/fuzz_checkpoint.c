// fuzz-sources: src/io/checkpoint.c src/io/safetensors.c src/io/atomic.c src/model/*.c src/core/*.c src/optim/*.c src/sched/expr.c
/* fuzz/fuzz_checkpoint.c: libFuzzer target for the checkpoint reader
 * (ckpt_parse: what `lrlab train --resume` reads, after the safetensors
 * layer) and, on the same bytes, the weights reader's checks (weights_load
 * = st_read + the same copy). Any input must be accepted or rejected with a
 * message naming the file, never crash; an accepted checkpoint's training
 * state must be in range (the trainer casts and indexes with it). The model
 * is the tiny one of tests/test_checkpoint.c (FUZZ_MODEL, 78 parameters),
 * whose --write-corpus writes the seeds in fuzz/corpus/checkpoint. Not a
 * test of ckpt_save's file handling (tests/test_checkpoint.c). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/io.h"

#define FUZZ_MODEL "input 3 4 4\nconv c1 2\nrelu\nmaxpool 2\nflatten\nlinear fc 3\n"

static void must(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static model_spec m;
    static int ready;
    lr_error err = {{0}};
    if (!ready) {
        must(model_spec_parse(&m, FUZZ_MODEL, "fuzz-model", &err) == 0, err.msg);
        must(m.n_params == 78, "the fuzz model changed");
        ready = 1;
    }
    float params[78];
    static optim_state o; /* SGD: what version 1 files hold */
    if (!o.n) {
        optim_params hp;
        must(optim_sgd(&hp, 0.1, 0.9, 0, 0, 0, &err) == 0 && optim_state_init(&o, &hp, 78, &err) == 0, err.msg);
    }
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    ckpt_extra x;
    if (ckpt_parse(buf, size, "fuzz.ckpt", &m, params, NULL, &o, &x, &err) != 0) {
        must(strncmp(err.msg, "fuzz.ckpt: ", 11) == 0, "a rejection without the file's name");
        must(x.config_text == NULL && x.metrics_text == NULL, "a rejection that keeps memory");
        return 0;
    }
    const train_state *s = &x.state;
    must(s->epoch >= 0 && s->batch >= 0 && s->step >= 0 && s->seen >= 0 && s->correct >= 0 &&
             s->correct <= s->seen && s->batches >= 0 && s->batches <= s->batch,
         "an accepted state out of range");
    must(o.s[0] == 0 || o.s[0] == 1, "momentum_started not 0 or 1");
    must(isfinite(s->loss_sum) && isfinite(s->seconds) && s->seconds >= 0, "accepted non-finite sums");
    must(x.n_sched >= 0 && x.n_sched <= CKPT_SCHED_MAX, "schedule state size out of range");
    must(x.config_text && x.metrics_text, "accepted without texts");
    volatile size_t sink = strlen(x.config_text) + strlen(x.metrics_text);
    (void)sink;
    ckpt_extra_free(&x);
    return 0;
}
