/* test_checkpoint.c: checkpoints and weights files (src/io/checkpoint.c).
 *
 * Without arguments: a checkpoint round trip (every tensor, the training
 * state, the schedule state, config and metrics metadata) and byte-identical
 * rewrites; an older 9-field train.state still loading; every hostile
 * checkpoint the loader must reject with a message naming the file (wrong
 * format or version, another model's file, wrong dtype or shape, missing or
 * extra tensors, NaN/negative/fractional/huge counts in train.state, an
 * oversized schedule state, a huge header length, duplicate names, offsets
 * out of range, every truncation, every bit flip of the header, damage to
 * any byte of the tensor data (the CRC-32 in the metadata)); weights_load
 * given a checkpoint or another model's weights; and the atomic writers'
 * failures (a directory or /dev/full where the temporary file goes, a parent
 * that is a regular file) leaving the previous file intact; the averages of
 * the weights (Lookahead, EMA, SWA and n_averaged) round trip, a checkpoint
 * with other averages than the run's is refused, one without any is the
 * same file as ckpt_save's, and eval reads the weights of one with them.
 *   --write-corpus DIR   write the fuzz seed corpus (fuzz/corpus/checkpoint)
 *                        for fuzz/fuzz_checkpoint.c's model (FUZZ_MODEL).
 * Not the trainer's use of checkpoints: tests/resume_test.sh does that. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/io.h"
#include "lrlab/train.h" /* METRICS_HEADER */
#include "lrlab/safetensors.h"
#include "test.h"
#include "test_files.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The same model as fuzz/fuzz_checkpoint.c's: 78 parameters. */
#define FUZZ_MODEL "input 3 4 4\nconv c1 2\nrelu\nmaxpool 2\nflatten\nlinear fc 3\n"
#define OTHER_MODEL "input 3 4 4\nconv c1 2\nrelu\nflatten\nlinear fc 3\n"

static unsigned char *dup_bytes(const unsigned char *b, size_t n) {
    unsigned char *p = malloc(n ? n : 1);
    if (p && n) memcpy(p, b, n);
    return p;
}

static model_spec M, OTHER;
static float params[256], momentum[256], got_p[256], got_m[256]; /* OTHER has 150 */

/* an SGD state over buf (n: m's parameters): what version 1 files hold */
#define SGD_STATE(buf, m) (&(optim_state){.kind = OPTIM_SGD, .n = (m)->n_params, .n_tensors = 1, .n_scalars = 1, .t = {(buf)}})

/* A checkpoint's tensors and metadata, each part replaceable by a test. */
typedef struct {
    const model_spec *m;
    st_dtype mom_dtype;
    long mom_len;
    int drop;            /* 1: no momentum, 2: no train.state, 3: no sched.state */
    int extra;           /* an extra tensor */
    double state[11];
    int n_state;
    double sched[CKPT_SCHED_MAX + 1];
    int n_sched, sched_2d;
    const char *format, *version;
} spec;

static void spec_default(spec *s) {
    memset(s, 0, sizeof *s);
    s->m = &M;
    s->mom_dtype = ST_F32;
    s->mom_len = M.n_params;
    double st[11] = {2, 3, 3 + 2 * 4, 1, 6.5, 40, 96, 3, 1.25, 0.05, 0.9};
    memcpy(s->state, st, sizeof st);
    s->n_state = 11;
    s->n_sched = 3;
    s->sched[0] = 11, s->sched[1] = 0.01, s->sched[2] = -1;
    s->format = CKPT_FORMAT;
    s->version = "1";
}

static int encode(const spec *s, unsigned char **out, size_t *size) {
    st_tensor t[64];
    int n = 0;
    double mom64[256];
    for (int i = 0; i < 256; i++) mom64[i] = momentum[i];
    for (int i = 0; i < s->m->n_tensors && n < 60; i++) {
        const model_tensor *mt = &s->m->tensors[i];
        memset(&t[n], 0, sizeof t[n]);
        snprintf(t[n].name, sizeof t[n].name, "%s", mt->name);
        t[n].dtype = ST_F32, t[n].ndim = mt->ndim;
        for (int d = 0; d < mt->ndim; d++) t[n].shape[d] = mt->shape[d];
        t[n].data = params + mt->offset, t[n].nbytes = (size_t)mt->count * 4;
        n++;
    }
    if (s->drop != 1)
        t[n++] = (st_tensor){.name = "optimizer.momentum_buffer", .dtype = s->mom_dtype, .ndim = 1,
                             .shape = {s->mom_len}, .data = s->mom_dtype == ST_F64 ? (void *)mom64 : (void *)momentum,
                             .nbytes = (size_t)s->mom_len * st_dtype_size(s->mom_dtype)};
    if (s->drop != 3) {
        t[n] = (st_tensor){.name = "sched.state", .dtype = ST_F64, .ndim = 1, .shape = {s->n_sched},
                           .data = s->sched, .nbytes = (size_t)s->n_sched * 8};
        if (s->sched_2d) t[n].ndim = 2, t[n].shape[0] = 1, t[n].shape[1] = s->n_sched;
        n++;
    }
    if (s->drop != 2)
        t[n++] = (st_tensor){.name = "train.state", .dtype = ST_F64, .ndim = 1, .shape = {s->n_state},
                             .data = s->state, .nbytes = (size_t)s->n_state * 8};
    if (s->extra) t[n++] = (st_tensor){.name = "extra", .dtype = ST_F32, .ndim = 1, .shape = {1}, .data = params, .nbytes = 4};
    const char *keys[] = {"format", "version", "model", "config", "metrics"};
    const char *vals[] = {s->format, s->version, s->m->name, "lr=0.1\n", METRICS_HEADER};
    int nk = 5;
    if (!s->format) keys[0] = "other", vals[0] = "x";
    if (!s->version) keys[1] = "other2", vals[1] = "x";
    lr_error err;
    return st_encode(out, size, t, n, keys, vals, nk, &err);
}

/* Loads an encoded spec; returns ckpt_parse's result, err filled. */
static int load_spec(const spec *s, ckpt_extra *x, lr_error *err) {
    unsigned char *b;
    size_t n;
    if (encode(s, &b, &n)) return lr_fail(err, "(encode failed)"), -2;
    int rc = ckpt_parse(b, n, "c.safetensors", &M, got_p, NULL, SGD_STATE(got_m, &M), x, err);
    if (!rc) ckpt_extra_free(x);
    return rc;
}

static void expect_reject(const spec *s, const char *want, const char *what) {
    ckpt_extra x;
    lr_error err = {{0}};
    int rc = load_spec(s, &x, &err);
    CHECK(rc == -1 && !strncmp(err.msg, "c.safetensors: ", 15) && test_contains(err.msg, want),
          "%s: rc %d, message '%s', expected one with 'c.safetensors: ' and '%s'", what, rc, err.msg, want);
}

static void fill(void) {
    for (int i = 0; i < 256; i++) params[i] = (float)((i * 37 % 101) - 50) / 64, momentum[i] = (float)i / 256;
}

static void test_round_trip(void) {
    ckpt_extra x, y;
    memset(&x, 0, sizeof x);
    x.state = (train_state){.epoch = 3, .batch = 2, .step = 14, .loss_sum = 4.25,
                            .correct = 17, .seen = 128, .batches = 2, .seconds = 0.5, .epoch_lr = 0.125,
                            .epoch_momentum = 0.875};
    x.n_sched = 4;
    x.sched[0] = 14, x.sched[1] = 0.1, x.sched[2] = NAN, x.sched[3] = -1e300;
    x.config_text = "model=x\nlr=0.1\n";
    x.metrics_text = METRICS_HEADER "0,0.1,0.9,2.3,10,2.3,10,,,1,1\n";
    lr_error err;
    CHECK(ckpt_save(test_path("a.safetensors"), &M, params, NULL, SGD_STATE(momentum, &M), &x, &err) == 0, "%s", err.msg);
    CHECK(ckpt_save(test_path("b.safetensors"), &M, params, NULL, SGD_STATE(momentum, &M), &x, &err) == 0, "%s", err.msg);
    size_t na, nb;
    unsigned char *a = test_slurp(test_path("a.safetensors"), &na), *b = test_slurp(test_path("b.safetensors"), &nb);
    CHECK(a && b && na == nb && !memcmp(a, b, na), "two saves of the same state differ");
    free(a), free(b);
    optim_state got = {.kind = OPTIM_SGD, .n = M.n_params, .n_tensors = 1, .n_scalars = 1, .t = {got_m}};
    CHECK(ckpt_load(test_path("a.safetensors"), &M, got_p, NULL, &got, &y, &err) == 0, "%s", err.msg);
    CHECK(!memcmp(got_p, params, M.n_params * 4) && !memcmp(got_m, momentum, M.n_params * 4), "tensors differ");
    CHECK(got.s[0] == 0, "SGD's momentum_started: %g", got.s[0]);
    CHECK(!memcmp(&y.state, &x.state, sizeof x.state), "train state differs (epoch %ld batch %ld)", y.state.epoch,
          y.state.batch);
    CHECK(y.n_sched == 4 && y.sched[0] == 14 && y.sched[1] == 0.1 && isnan(y.sched[2]) && y.sched[3] == -1e300,
          "schedule state differs");
    CHECK(y.config_text && !strcmp(y.config_text, x.config_text), "config text differs");
    CHECK(y.metrics_text && !strcmp(y.metrics_text, x.metrics_text), "metrics text differs");
    ckpt_extra_free(&y);
    CHECK(y.config_text == NULL && y.metrics_text == NULL, "ckpt_extra_free leaves pointers");
    /* damage to the tensor data, which the safetensors layer cannot see: every byte of it */
    size_t n;
    unsigned char *c = test_slurp(test_path("a.safetensors"), &n);
    size_t hlen = 0;
    for (int i = 7; c && i >= 0; i--) hlen = hlen << 8 | c[i];
    int missed = 0;
    for (size_t k = 8 + hlen; c && k < n; k++) {
        unsigned char *d = dup_bytes(c, n);
        d[k] ^= 0x10;
        if (ckpt_parse(d, n, "d.safetensors", &M, got_p, NULL, SGD_STATE(got_m, &M), &y, &err) != -1 || !test_contains(err.msg, "damaged"))
            missed++;
    }
    CHECK(c && missed == 0, "%d of %zu damaged data bytes not found by the CRC", missed, n - 8 - hlen);
    free(c);
    /* the weights part is a weights file's: weights_save of the same params is a prefix-free subset */
    CHECK(weights_save(test_path("w.safetensors"), &M, params, NULL, &err) == 0, "%s", err.msg);
    memset(got_p, 0, sizeof got_p);
    CHECK(weights_load(test_path("w.safetensors"), &M, got_p, NULL, &err) == 0, "%s", err.msg);
    CHECK(!memcmp(got_p, params, M.n_params * 4), "weights differ");
    /* a checkpoint is not a weights file (its format says so), nor another model's weights */
    CHECK(weights_load(test_path("a.safetensors"), &M, got_p, NULL, &err) == -1 && test_contains(err.msg, "a.safetensors") &&
              test_contains(err.msg, "not a weights file"), "checkpoint as --init: '%s'", err.msg);
    CHECK(weights_save(test_path("o.safetensors"), &OTHER, params, NULL, &err) == 0, "%s", err.msg);
    CHECK(weights_load(test_path("o.safetensors"), &M, got_p, NULL, &err) == -1 && test_contains(err.msg, "o.safetensors") &&
              test_contains(err.msg, "fc.weight"), "other model's weights: '%s'", err.msg);
    CHECK(ckpt_load(test_path("missing.safetensors"), &M, got_p, NULL, SGD_STATE(got_m, &M), &y, &err) == -1 &&
              test_contains(err.msg, "missing.safetensors"), "missing file: '%s'", err.msg);
    /* another model's checkpoint */
    CHECK(ckpt_save(test_path("oc.safetensors"), &OTHER, params, NULL, SGD_STATE(momentum, &OTHER), &x, &err) == 0, "%s", err.msg);
    CHECK(ckpt_load(test_path("oc.safetensors"), &M, got_p, NULL, SGD_STATE(got_m, &M), &y, &err) == -1 && test_contains(err.msg, "oc.safetensors"),
          "other model's checkpoint: '%s'", err.msg);
}

/* The extra part of a checkpoint written at the end of epoch 0 (4 steps). */
static ckpt_extra epoch_end_extra(void) {
    ckpt_extra x;
    memset(&x, 0, sizeof x);
    x.state = (train_state){.epoch = 1, .batch = 0, .step = 4, .epoch_lr = 0.1, .epoch_momentum = 0.9};
    x.config_text = "lr=0.1\n", x.metrics_text = METRICS_HEADER;
    return x;
}

/* Version 2: every optimiser's tensors and scalars by name, round trip;
 * a checkpoint of one optimiser refused by a run of another; version 1
 * files (SGD) load into an SGD state (spec_default writes version 1). */
static void test_every_optimiser(void) {
    lr_error err;
    ckpt_extra x = epoch_end_extra(), y;
    for (int k = 0; k < OPTIM_KINDS; k++) {
        optim_params hp;
        optim_defaults(&hp, (optim_kind)k);
        optim_state a, b;
        int ok = optim_state_init(&a, &hp, M.n_params, &err) == 0 && optim_state_init(&b, &hp, M.n_params, &err) == 0;
        CHECK(ok, "%s: %s", optim_name(k), err.msg);
        if (!ok) return;
        for (int i = 0; i < a.n_tensors; i++)
            for (long j = 0; j < a.n; j++) a.t[i][j] = (float)(i + 1) * (float)j / 7;
        for (int i = 0; i < a.n_scalars; i++) a.s[i] = strstr(optim_scalar_name(k, i), "_started") ? 1 : 3 + i;
        const char *path = test_path("opt.safetensors");
        CHECK(ckpt_save(path, &M, params, NULL, &a, &x, &err) == 0, "%s: %s", optim_name(k), err.msg);
        CHECK(ckpt_load(path, &M, got_p, NULL, &b, &y, &err) == 0, "%s: %s", optim_name(k), err.msg);
        ckpt_extra_free(&y);
        int same = 1;
        for (int i = 0; i < a.n_tensors; i++) same = same && !memcmp(a.t[i], b.t[i], (size_t)a.n * 4);
        for (int i = 0; i < a.n_scalars; i++) same = same && a.s[i] == b.s[i];
        CHECK(same, "%s: the state does not come back", optim_name(k));
        /* a scalar out of its kind's range is refused: a flag not 0 or 1, a step not whole */
        for (int i = 0; i < a.n_scalars; i++) {
            const char *name = optim_scalar_name(k, i);
            int flag = strstr(name, "_started") != NULL, step = !strcmp(name, "step");
            if (!flag && !step) continue;
            double keep = a.s[i];
            a.s[i] = flag ? 2 : 2.5;
            CHECK(ckpt_save(path, &M, params, NULL, &a, &x, &err) == 0, "%s", err.msg);
            CHECK(ckpt_load(path, &M, got_p, NULL, &b, &y, &err) == -1 && test_contains(err.msg, name) &&
                      test_contains(err.msg, flag ? "expected 0 or 1" : "whole number"),
                  "%s's %s = %g: %s", optim_name(k), name, a.s[i], err.msg);
            a.s[i] = keep;
        }
        CHECK(ckpt_save(path, &M, params, NULL, &a, &x, &err) == 0, "%s", err.msg);
        /* another optimiser's run refuses it */
        optim_params other;
        optim_defaults(&other, (optim_kind)((k + 1) % OPTIM_KINDS));
        optim_state c;
        CHECK(optim_state_init(&c, &other, M.n_params, &err) == 0, "%s", err.msg);
        CHECK(ckpt_load(path, &M, got_p, NULL, &c, &y, &err) == -1 && test_contains(err.msg, "a checkpoint of") &&
                  test_contains(err.msg, optim_name(k)),
              "%s's checkpoint into %s: %s", optim_name(k), optim_name(other.kind), err.msg);
        /* eval reads the weights of any optimiser's checkpoint */
        CHECK(weights_load_any(path, &M, got_p, NULL, &err) == 0, "%s: weights_load_any: %s", optim_name(k), err.msg);
        optim_state_free(&a), optim_state_free(&b), optim_state_free(&c);
    }
    spec s;
    spec_default(&s);
    s.state[3] = 1;
    optim_state v1 = {.kind = OPTIM_SGD, .n = M.n_params, .n_tensors = 1, .n_scalars = 1, .t = {got_m}};
    unsigned char *b;
    size_t n;
    CHECK(encode(&s, &b, &n) == 0, "encode");
    CHECK(ckpt_parse(b, n, "v1.safetensors", &M, got_p, NULL, &v1, &y, &err) == 0 && v1.s[0] == 1 &&
              !memcmp(got_m, momentum, (size_t)M.n_params * 4),
          "a version 1 checkpoint: %s (momentum_started %g)", err.msg, v1.s[0]);
    ckpt_extra_free(&y);
}

/* ckpt_save_avg / ckpt_load_avg: every average, by name, round trip. */
static void test_averages(void) {
    lr_error err;
    ckpt_extra x = epoch_end_extra(), y;
    const char *path = test_path("avg.safetensors"), *plain = test_path("plain.safetensors");
    const optim_state *o = SGD_STATE(momentum, &M);
    unsigned all = AVG_LOOKAHEAD | AVG_EMA | AVG_SWA;
    avg_state a, b, c;
    CHECK(avg_state_init(&a, all, M.n_params, 0, params, NULL, &err) == 0 &&
              avg_state_init(&b, all, M.n_params, 0, params, NULL, &err) == 0 &&
              avg_state_init(&c, AVG_EMA, M.n_params, 0, params, NULL, &err) == 0,
          "%s", err.msg);
    for (long j = 0; j < M.n_params; j++)
        a.slow_params[j] = (float)j / 3, a.ema_params[j] = (float)j / 5, a.swa_params[j] = (float)j / 7;
    a.swa_n = 12;
    CHECK(ckpt_save_avg(path, &M, params, NULL, o, &a, &x, &err) == 0, "%s", err.msg);
    CHECK(ckpt_load_avg(path, &M, got_p, NULL, SGD_STATE(got_m, &M), &b, &y, &err) == 0, "%s", err.msg);
    ckpt_extra_free(&y);
    long bytes = M.n_params * (long)sizeof(float);
    CHECK(!memcmp(a.slow_params, b.slow_params, (size_t)bytes) && !memcmp(a.ema_params, b.ema_params, (size_t)bytes) &&
              !memcmp(a.swa_params, b.swa_params, (size_t)bytes) && b.swa_n == 12,
          "the averages do not come back (n_averaged %ld)", b.swa_n);
    CHECK(ckpt_load_avg(path, &M, got_p, NULL, SGD_STATE(got_m, &M), &c, &y, &err) == -1 &&
              test_contains(err.msg, "avg.safetensors") && test_contains(err.msg, "the run keeps 1"),
          "a run with only the EMA refuses a checkpoint with three averages: %s", err.msg);
    CHECK(ckpt_save_avg(plain, &M, params, NULL, o, &c, &x, &err) == 0, "%s", err.msg);
    CHECK(ckpt_load_avg(plain, &M, got_p, NULL, SGD_STATE(got_m, &M), &b, &y, &err) == -1 &&
              test_contains(err.msg, "no tensor 'average.lookahead.params'"),
          "a run with three averages refuses a checkpoint with the EMA only: %s", err.msg);
    CHECK(weights_load_any(path, &M, got_p, NULL, &err) == 0 && !memcmp(got_p, params, (size_t)bytes),
          "eval reads the weights of a checkpoint with averages: %s", err.msg);
    avg_state none;
    CHECK(avg_state_init(&none, 0, M.n_params, 0, params, NULL, &err) == 0, "%s", err.msg);
    CHECK(ckpt_save_avg(path, &M, params, NULL, o, &none, &x, &err) == 0 &&
              ckpt_save(plain, &M, params, NULL, o, &x, &err) == 0,
          "%s", err.msg);
    size_t n1, n2;
    unsigned char *p1 = test_slurp(path, &n1), *p2 = test_slurp(plain, &n2);
    CHECK(p1 && p2 && n1 == n2 && !memcmp(p1, p2, n1), "without averages ckpt_save_avg writes ckpt_save's file");
    free(p1), free(p2);
    avg_state_free(&a), avg_state_free(&b), avg_state_free(&c), avg_state_free(&none);
}

static void test_hostile_tensors(void) {
    spec s;
    ckpt_extra x;
    lr_error err;
    spec_default(&s);
    CHECK(load_spec(&s, &x, &err) == 0, "the default spec does not load: %s", err.msg);
    spec_default(&s), s.n_state = 9;
    CHECK(load_spec(&s, &x, &err) == 0 && isnan(x.state.epoch_lr) && isnan(x.state.epoch_momentum),
          "a 9-field train.state: %s", err.msg);
    spec_default(&s), s.format = NULL;
    expect_reject(&s, "not an lrlab checkpoint", "no format");
    spec_default(&s), s.format = "lrlab-weights";
    expect_reject(&s, "not an lrlab checkpoint", "another format");
    spec_default(&s), s.version = "3";
    expect_reject(&s, "version '3'", "version 3");
    spec_default(&s), s.version = NULL;
    expect_reject(&s, "version", "no version");
    spec_default(&s), s.m = &OTHER;
    expect_reject(&s, "", "another model's checkpoint");
    spec_default(&s), s.mom_dtype = ST_F64;
    expect_reject(&s, "optimizer.momentum_buffer", "F64 momentum");
    spec_default(&s), s.mom_len = M.n_params - 1;
    expect_reject(&s, "optimizer.momentum_buffer", "short momentum");
    spec_default(&s), s.drop = 1;
    expect_reject(&s, "tensors", "no momentum");
    spec_default(&s), s.drop = 2;
    expect_reject(&s, "tensors", "no train.state");
    spec_default(&s), s.drop = 3;
    expect_reject(&s, "tensors", "no sched.state");
    spec_default(&s), s.extra = 1;
    expect_reject(&s, "tensors", "an extra tensor");
    spec_default(&s), s.n_state = 5;
    expect_reject(&s, "train.state", "a 5-field train.state");
    spec_default(&s), s.n_sched = CKPT_SCHED_MAX + 1;
    expect_reject(&s, "sched.state", "an oversized schedule state");
    spec_default(&s), s.sched_2d = 1;
    expect_reject(&s, "sched.state", "a 2-D schedule state");
    /* counts that are not whole numbers in range: rejected before any cast */
    const struct {
        int field;
        double v;
        const char *want;
    } bad[] = {{0, NAN, "epoch"},     {0, -1, "epoch"},          {0, 1e300, "epoch"},     {0, 0.5, "epoch"},
               {1, INFINITY, "batch"}, {2, -INFINITY, "step"},   {3, 2, "momentum_started"}, {5, 1e19, "correct"},
               {6, -0.0 - 1, "seen"},  {7, 9e18, "batches"},     {5, 97, "inconsistent"}, {7, 4, "inconsistent"},
               {4, NAN, "inconsistent"}, {8, -1, "inconsistent"}, {8, INFINITY, "inconsistent"},
               {9, NAN, "epoch lr"},  {9, -1, "epoch lr"},        {10, INFINITY, "epoch lr"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        spec_default(&s);
        s.state[bad[i].field] = bad[i].v;
        char what[64];
        snprintf(what, sizeof what, "train.state[%d] = %g", bad[i].field, bad[i].v);
        expect_reject(&s, bad[i].want, what);
    }
}

/* Raw files the encoder cannot produce: 8-byte length, header, data. */
static int raw(const char *name, uint64_t len, const char *header, size_t data_bytes) {
    size_t hl = strlen(header);
    unsigned char *b = calloc(1, 8 + hl + data_bytes);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(len >> (8 * i));
    memcpy(b + 8, header, hl);
    int rc = test_put(test_path(name), b, 8 + hl + data_bytes);
    free(b);
    return rc;
}

static void expect_file_reject(const char *name, const char *what) {
    ckpt_extra x;
    lr_error err = {{0}};
    int rc = ckpt_load(test_path(name), &M, got_p, NULL, SGD_STATE(got_m, &M), &x, &err);
    CHECK(rc == -1 && test_contains(err.msg, name), "%s: rc %d, message '%s'", what, rc, err.msg);
    rc = weights_load(test_path(name), &M, got_p, NULL, &err);
    CHECK(rc == -1 && test_contains(err.msg, name), "%s as weights: rc %d, message '%s'", what, rc, err.msg);
}

static void test_hostile_files(void) {
    const char *h = "{\"c1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3,3,3],\"data_offsets\":[0,216]}}";
    raw("huge.safetensors", UINT64_MAX, h, 216);
    expect_file_reject("huge.safetensors", "header length 2^64-1");
    raw("huge2.safetensors", (uint64_t)1 << 40, h, 216);
    expect_file_reject("huge2.safetensors", "header length 2^40");
    raw("range.safetensors", strlen(h), "{\"c1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3,3,3],\"data_offsets\":[0,216000]}}", 216);
    expect_file_reject("range.safetensors", "offsets out of range");
    const char *dup = "{\"c1.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"c1.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    raw("dup.safetensors", strlen(dup), dup, 8);
    expect_file_reject("dup.safetensors", "duplicate names");
    const char *dt = "{\"c1.weight\":{\"dtype\":\"F16\",\"shape\":[2,3,3,3],\"data_offsets\":[0,108]}}";
    raw("dtype.safetensors", strlen(dt), dt, 108);
    expect_file_reject("dtype.safetensors", "dtype F16");
    test_put(test_path("empty.safetensors"), "", 0);
    expect_file_reject("empty.safetensors", "an empty file");
    test_put(test_path("text.safetensors"), "model=vgg-seed\nlr=0.1\n", 22);
    expect_file_reject("text.safetensors", "a text file");

    /* every truncation and every bit flip of the header of a valid checkpoint */
    spec s;
    spec_default(&s);
    unsigned char *b;
    size_t n;
    if (encode(&s, &b, &n)) {
        CHECK(0, "encode failed");
        return;
    }
    int bad_trunc = 0, flips_ok = 0, flips_bad = 0;
    ckpt_extra x;
    lr_error err;
    for (size_t k = 0; k < n; k++) {
        err.msg[0] = '\0';
        if (ckpt_parse(dup_bytes(b, k), k, "t.safetensors", &M, got_p, NULL, SGD_STATE(got_m, &M), &x, &err) != -1 ||
            strncmp(err.msg, "t.safetensors: ", 15))
            bad_trunc++;
    }
    CHECK(bad_trunc == 0, "%d of %zu truncations not rejected with the file's name", bad_trunc, n);
    size_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    for (size_t bit = 0; bit < 8 * (8 + hlen); bit++) {
        unsigned char *c = dup_bytes(b, n);
        c[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        err.msg[0] = '\0';
        int rc = ckpt_parse(c, n, "f.safetensors", &M, got_p, NULL, SGD_STATE(got_m, &M), &x, &err);
        if (rc == 0) flips_ok++, ckpt_extra_free(&x);
        else if (strncmp(err.msg, "f.safetensors: ", 15)) flips_bad++;
    }
    CHECK(flips_bad == 0, "%d header bit flips rejected without the file's name", flips_bad);
    printf("NOTE: %zu truncations rejected; %zu header bit flips: %d still a valid checkpoint (names, text)\n", n,
           8 * (8 + hlen), flips_ok);
    free(b);
}

static void test_atomic_writes(void) {
    lr_error err;
    ckpt_extra x;
    memset(&x, 0, sizeof x);
    x.metrics_text = METRICS_HEADER;
    const char *p = test_path("keep.safetensors");
    CHECK(ckpt_save(p, &M, params, NULL, SGD_STATE(momentum, &M), &x, &err) == 0, "%s", err.msg);
    size_t n0, n1;
    unsigned char *before = test_slurp(p, &n0), *after;
    /* the temporary file's name is taken by a directory */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    mkdir(tmp, 0700);
    x.state.epoch = 1;
    CHECK(ckpt_save(p, &M, params, NULL, SGD_STATE(momentum, &M), &x, &err) == -1 && test_contains(err.msg, "keep.safetensors"),
          "save over a directory .tmp: '%s'", err.msg);
    after = test_slurp(p, &n1);
    CHECK(before && after && n0 == n1 && !memcmp(before, after, n0), "the previous checkpoint changed");
    free(after);
    rmdir(tmp);
    CHECK(write_file_atomic(test_path("m.csv"), "a\n", 2, &err) == 0, "%s", err.msg);
    mkdir(test_path("m.csv.tmp"), 0700);
    CHECK(write_file_atomic(test_path("m.csv"), "b\n", 2, &err) == -1 && test_contains(err.msg, "m.csv"), "'%s'", err.msg);
    after = test_slurp(test_path("m.csv"), &n1);
    CHECK(after && n1 == 2 && after[0] == 'a', "write_file_atomic over a directory .tmp changed the file");
    free(after);
    rmdir(test_path("m.csv.tmp"));
    /* a full disk: the temporary file is /dev/full */
    if (access("/dev/full", W_OK) == 0) {
        CHECK(symlink("/dev/full", tmp) == 0, "symlink");
        CHECK(ckpt_save(p, &M, params, NULL, SGD_STATE(momentum, &M), &x, &err) == -1 && test_contains(err.msg, "No space left"),
              "save on a full disk: '%s'", err.msg);
        after = test_slurp(p, &n1);
        CHECK(after && n0 == n1 && !memcmp(before, after, n0), "the previous checkpoint changed (full disk)");
        free(after);
        CHECK(access(tmp, F_OK) != 0, "the temporary file is left after a failed write");
        snprintf(tmp, sizeof tmp, "%s.tmp", test_path("m.csv"));
        CHECK(symlink("/dev/full", tmp) == 0, "symlink");
        CHECK(write_file_atomic(test_path("m.csv"), "b\n", 2, &err) == -1 && test_contains(err.msg, "No space left"),
              "write_file_atomic on a full disk: '%s'", err.msg);
        after = test_slurp(test_path("m.csv"), &n1);
        CHECK(after && n1 == 2 && after[0] == 'a', "write_file_atomic on a full disk changed the file");
        free(after);
        unlink(tmp);
    } else {
        printf("NOTE: no writable /dev/full: full-disk cases skipped\n");
    }
    /* a parent directory that is a regular file */
    test_put(test_path("plain"), "x", 1);
    CHECK(ckpt_save(test_path("plain/c.safetensors"), &M, params, NULL, SGD_STATE(momentum, &M), &x, &err) == -1 &&
              test_contains(err.msg, "plain/c.safetensors"), "'%s'", err.msg);
    CHECK(write_file_atomic(test_path("plain/m.csv"), "a", 1, &err) == -1 && test_contains(err.msg, "plain/m.csv"),
          "'%s'", err.msg);
    free(before);
}

static int write_corpus(const char *dir) {
    spec s;
    unsigned char *b;
    size_t n;
    int bad = 0;
    char path[1200];
    struct {
        const char *name;
        int n_state, n_sched;
        double epoch;
    } seeds[] = {{"fresh", 11, 0, 0}, {"mid_epoch", 11, 3, 2}, {"old_state", 9, 3, 1}, {"long_sched", 11, 40, 5}};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        spec_default(&s);
        s.n_state = seeds[i].n_state, s.n_sched = seeds[i].n_sched;
        for (int k = 0; k < s.n_sched; k++) s.sched[k] = k * 0.5;
        s.state[0] = seeds[i].epoch, s.state[2] = seeds[i].epoch * 4 + s.state[1];
        snprintf(path, sizeof path, "%s/%s", dir, seeds[i].name);
        if (encode(&s, &b, &n) || test_put(path, b, n)) bad = 1;
        else free(b);
    }
    lr_error err;
    ckpt_extra x;
    memset(&x, 0, sizeof x);
    x.state = (train_state){.epoch = 1, .batch = 2, .step = 6, .loss_sum = 4.5, .correct = 9,
                            .seen = 64, .batches = 2, .epoch_lr = 0.1, .epoch_momentum = 0.9};
    x.n_sched = 2, x.sched[0] = 6, x.sched[1] = 0.1;
    x.config_text = "lr=0.1\n", x.metrics_text = METRICS_HEADER;
    snprintf(path, sizeof path, "%s/saved_crc", dir);
    if (ckpt_save(path, &M, params, NULL, SGD_STATE(momentum, &M), &x, &err)) bad = 1;
    snprintf(path, sizeof path, "%s/weights_only", dir);
    if (weights_save(path, &M, params, NULL, &err)) bad = 1;
    return bad;
}

int main(int argc, char **argv) {
    lr_error err;
    if (model_spec_parse(&M, FUZZ_MODEL, "fuzz-model", &err) || model_spec_parse(&OTHER, OTHER_MODEL, "other", &err)) {
        fprintf(stderr, "test_checkpoint: %s\n", err.msg);
        return 1;
    }
    fill();
    if (argc == 3 && !strcmp(argv[1], "--write-corpus")) return write_corpus(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_checkpoint [--write-corpus DIR]\n");
        return 2;
    }
    if (test_tmpdir_make("test_checkpoint")) return 1;
    CHECK(M.n_params == 78, "the fuzz model has %ld parameters, expected 78", M.n_params);
    test_round_trip();
    test_every_optimiser();
    test_averages();
    test_hostile_tensors();
    test_hostile_files();
    test_atomic_writes();
    test_tmpdir_remove();
    return test_summary("test_checkpoint");
}
