/* tests/test_findlr.c: the lr range test (lrlab/findlr.h) on a small
 * convolutional net and a learnable in-memory data set (no files): the
 * weights come back bit for bit, the recorded lr follows the exponential
 * formula, the smoothed loss is the bias-corrected moving average of the
 * recorded losses, a run to a huge lr stops early, the suggestion lands in
 * a range where training does lower the loss, and the suggestion rule on
 * an analytic curve picks the steepest point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/data.h"
#include "lrlab/findlr.h"
#include "lrlab/model.h"
#include "lrlab/net.h"
#include "lrlab/optim.h"
#include "lrlab/rng.h"
#include "test.h"

static const char *tiny_model =
    "input 3 32 32\nconv c1 8\nrelu\nmaxpool 4\nconv c2 16\nrelu\nmaxpool 4\nflatten\nlinear fc 10\n";

/* Class k: a colour bias on channel k % 3 that grows with k, plus noise. */
static void make_split(data_split *s, int n) {
    s->n = n, s->c = 3, s->h = 32, s->w = 32;
    s->labels = malloc((size_t)n);
    s->pixels = malloc((size_t)n * 3072);
    lr_rng r;
    rng_init(&r, 5, RNG_STREAM_SYNTH, 0);
    for (int i = 0; i < n; i++) {
        int k = (int)rng_below(&r, 10);
        s->labels[i] = (uint8_t)k;
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 1024; p++) {
                int v = 60 + (int)rng_below(&r, 60) + (c == k % 3 ? 12 * k : 0) + ((p / 32) % 4 < 2 && k >= 5 ? 40 : 0);
                s->pixels[(size_t)i * 3072 + c * 1024 + p] = (uint8_t)(v > 255 ? 255 : v);
            }
    }
}

static void suggest_curve(void) {
    int n = 100, steep, mn;
    double lr[100], sm[100];
    for (int i = 0; i < n; i++) {
        lr[i] = 1e-6 * pow(1e6, i / 99.0);
        double x = log10(lr[i]) + 2; /* the fall is steepest at lr = 1e-2 */
        sm[i] = 2.3 - 2.0 / (1 + exp(-3 * x));
    }
    CHECK(findlr_suggest(lr, sm, n, 100, &steep, &mn) == 0, "suggest");
    CHECK(fabs(log10(lr[steep]) + 2) < 0.07, "steepest at lr %g, want about 1e-2", lr[steep]);
    CHECK(mn == 94, "min index %d, want 94 (the last 5 points are skipped)", mn);
    CHECK(findlr_suggest(lr, sm, 1, 100, &steep, &mn) == -1, "one point: no suggestion");
    CHECK(findlr_suggest(lr, sm, 6, 100, &steep, &mn) == 0 && steep >= 0 && steep < 5 && mn == 5,
          "a short run uses every point (steep %d, min %d)", steep, mn);
}

int main(void) {
    suggest_curve();
    model_spec m;
    lr_error err;
    CHECK(model_spec_parse(&m, tiny_model, "tiny", &err) == 0, "%s", err.msg);
    data_split train;
    make_split(&train, 256);
    int B = 32;
    net_config nc = {.backend = NET_BACKEND_REF, .batch = B, .training = 1};
    net *n = NULL;
    loader *l = NULL;
    loader_config lc = {.split = &train, .norm = cifar10_norm, .batch = B, .drop_last = 1, .shuffle = 1, .augment = 1, .seed = 3};
    CHECK(net_init(&n, &m, &nc, &err) == 0, "%s", err.msg);
    CHECK(loader_init(&l, &lc, &err) == 0, "%s", err.msg);
    float *p = malloc(m.n_params * sizeof(float)), *p0 = malloc(m.n_params * sizeof(float));
    model_init_params(&m, p, 1);
    memcpy(p0, p, m.n_params * sizeof(float));

    /* a full run: 40 steps over 8 batches per epoch crosses four epoch ends */
    findlr_config fc;
    findlr_defaults(&fc);
    fc.start_lr = 1e-5, fc.end_lr = 10, fc.steps = 40, fc.batch = B;
    findlr_result res;
    CHECK(findlr_run(&res, &fc, n, &m, p, NULL, l, &err) == 0, "%s", err.msg);
    CHECK(!memcmp(p, p0, m.n_params * sizeof(float)), "weights restored after the run");
    CHECK(res.n >= 10, "%d points recorded", res.n);
    int lr_ok = 1, sm_ok = 1;
    double avg = 0;
    for (int i = 0; i < res.n; i++) {
        double want = 1e-5 * pow(1e6, i / 39.0);
        if (fabs(res.lr[i] - want) > 1e-12 * want) lr_ok = 0;
        avg = 0.98 * avg + 0.02 * res.loss[i];
        if (fabs(res.smoothed[i] - avg / (1 - pow(0.98, i + 1))) > 1e-12 * fabs(res.smoothed[i])) sm_ok = 0;
    }
    CHECK(lr_ok, "lr_i = start * (end/start)^(i/(steps-1))");
    CHECK(sm_ok, "smoothed = bias-corrected moving average of the losses");
    CHECK(res.stop != FINDLR_DONE || res.n == 40, "stop %d with %d points", res.stop, res.n);
    double lr = res.suggested_lr;
    printf("NOTE test_findlr: suggested_lr=%g min_loss_lr_div10=%g (%d points, stop %d)\n", lr,
           res.min_loss_lr_div10, res.n, res.stop);
    CHECK(lr >= 1e-4 && lr <= 1, "suggested lr %g outside [1e-4, 1]", lr);
    CHECK(res.min_loss_lr_div10 >= 1e-5 && res.min_loss_lr_div10 <= 1, "min/10 lr %g", res.min_loss_lr_div10);

    /* the known good range: SGD at the suggested lr lowers the loss; at 1e-6 it barely moves */
    double first = 0, last[2] = {0, 0};
    for (int trial = 0; trial < 2; trial++) {
        float *g = malloc(m.n_params * sizeof(float));
        float logits[32 * 10], dl[32 * 10];
        memcpy(p, p0, m.n_params * sizeof(float));
        optim_params hp;
        optim_state o;
        CHECK(optim_sgd(&hp, trial ? 1e-6 : lr, 0.9f, 0, 5e-4f, 0, &err) == 0 && optim_state_init(&o, &hp, m.n_params, &err) == 0,
              "%s", err.msg);
        int step = 0;
        for (int epoch = 0; epoch < 4; epoch++) {
            loader_start_epoch(l, epoch, 0, &err);
            const loader_batch *b;
            while ((b = loader_next(l))) {
                long correct = 0;
                net_forward(n, b->x, b->n, p, logits, &err);
                double loss = loss_cross_entropy(dl, &correct, logits, b->y, b->n, 10, 1.0f / b->n, 0.0) / b->n;
                if (step == 0) first = loss;
                if (epoch == 3) last[trial] += loss / 8;
                net_backward(n, dl, p, g, &err);
                optim_step(&o, p, g, &hp, &err);
                step++;
            }
        }
        optim_state_free(&o), free(g);
    }
    printf("NOTE test_findlr: loss %.4f -> %.4f after 4 epochs at the suggested lr, %.4f at lr 1e-6\n", first,
           last[0], last[1]);
    CHECK(last[0] < first - 0.2 && last[0] < last[1] - 0.2, "training at lr %g: loss %g -> %g (at 1e-6: %g)", lr,
          first, last[0], last[1]);
    findlr_result_free(&res);

    /* to a huge lr: stops early, weights still restored */
    memcpy(p, p0, m.n_params * sizeof(float));
    fc.start_lr = 1e-3, fc.end_lr = 1e6, fc.steps = 40;
    CHECK(findlr_run(&res, &fc, n, &m, p, NULL, l, &err) == 0, "%s", err.msg);
    CHECK(res.stop != FINDLR_DONE && res.stop_step < 39, "stop %d at step %d", res.stop, res.stop_step);
    CHECK(!memcmp(p, p0, m.n_params * sizeof(float)), "weights restored after a diverged run");
    findlr_result_free(&res);

    /* bad settings */
    fc.start_lr = 1, fc.end_lr = 0.1;
    CHECK(findlr_run(&res, &fc, n, &m, p, NULL, l, &err) == -1 && strstr(err.msg, "start < end"), "%s", err.msg);
    fc.start_lr = 1e-5, fc.end_lr = 1, fc.steps = 1;
    CHECK(findlr_run(&res, &fc, n, &m, p, NULL, l, &err) == -1 && strstr(err.msg, "--steps 1"), "%s", err.msg);

    loader_free(l);
    net_free(n);
    data_split_free(&train);
    free(p), free(p0);
    return test_summary("test_findlr");
}
