/* train/find_lr.c: the learning-rate range test (lrlab/findlr.h): the step
 * loop with the exponential lr, the smoothed loss and the stop rule of
 * fastai's LRFinder (fastai/callback/schedule.py), then the `steep` and
 * `minimum` suggestions. Optimiser steps are the trainer's (optim_step),
 * from a fresh optimiser state. Not here: data or model loading. */
#include "lrlab/findlr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/optim.h"

void findlr_defaults(findlr_config *c) {
    memset(c, 0, sizeof *c);
    c->start_lr = 1e-7, c->end_lr = 10, c->steps = 100, c->beta = 0.98, c->diverge = 4;
    optim_sgd(&c->optim, 0.01, 0.9, 0.0, 5e-4, 0, NULL);
    c->batch = 128;
}

void findlr_result_free(findlr_result *res) {
    free(res->lr), free(res->loss), free(res->smoothed);
    res->lr = res->loss = res->smoothed = NULL;
    res->n = 0;
}

int findlr_suggest(const double *lr, const double *smoothed, int n, int steps, int *steep_index,
                   int *min_index) {
    if (n < 2) return -1;
    /* fastai: recorder.lrs[num_it//10 : -5] */
    int lo = steps / 10, hi = n - 5;
    if (hi - lo < 2) lo = 0, hi = n;
    int steep = lo, best = lo;
    double steepest = INFINITY;
    for (int i = lo; i < hi; i++) {
        if (smoothed[i] < smoothed[best]) best = i;
        if (i + 1 < hi) {
            double g = (smoothed[i + 1] - smoothed[i]) / (log(lr[i + 1]) - log(lr[i]));
            if (g < steepest) steepest = g, steep = i;
        }
    }
    *steep_index = steep;
    *min_index = best;
    return 0;
}

int findlr_run(findlr_result *res, const findlr_config *cfg, net *n, const model_spec *m, float *params,
               float *buffers, loader *train, lr_error *err) {
    memset(res, 0, sizeof *res);
    res->stop_step = -1;
    if (!(cfg->start_lr > 0) || !(cfg->end_lr > cfg->start_lr))
        return lr_fail(err, "--start-lr %g --end-lr %g: expected 0 < start < end", cfg->start_lr, cfg->end_lr);
    if (cfg->steps < 2) return lr_fail(err, "--steps %d: expected at least 2", cfg->steps);
    if (!(cfg->beta >= 0 && cfg->beta < 1)) return lr_fail(err, "--smooth %g: expected 0 <= beta < 1", cfg->beta);
    if (cfg->batch < 1) return lr_fail(err, "batch %d: expected >= 1", cfg->batch);
    long np = m->n_params, counts[MODEL_MAX_TENSORS];
    int n_counts = model_param_sizes(m, counts);
    size_t out = (size_t)cfg->batch * m->n_classes;
    float *saved = lr_calloc(np, sizeof(float), "parameters copy", err);
    float *saved_buf = saved ? lr_calloc((size_t)m->n_buffers + 1, sizeof(float), "buffers copy", err) : NULL;
    optim_state o;
    memset(&o, 0, sizeof o);
    float *grads = saved_buf && !optim_state_init(&o, &cfg->optim, np, err) ? lr_calloc(np, sizeof(float), "gradients", err) : NULL;
    float *logits = grads ? lr_calloc(out, sizeof(float), "logits", err) : NULL;
    float *dlogits = logits ? lr_calloc(out, sizeof(float), "logits", err) : NULL;
    res->lr = dlogits ? lr_calloc((size_t)cfg->steps, sizeof(double), "lr record", err) : NULL;
    res->loss = res->lr ? lr_calloc((size_t)cfg->steps, sizeof(double), "loss record", err) : NULL;
    res->smoothed = res->loss ? lr_calloc((size_t)cfg->steps, sizeof(double), "loss record", err) : NULL;
    int rc = res->smoothed ? 0 : -1, copied = 0;
    if (!rc) {
        memcpy(saved, params, (size_t)np * sizeof(float)), copied = 1;
        if (buffers) memcpy(saved_buf, buffers, (size_t)m->n_buffers * sizeof(float));
    }
    net_set_training(n, 1);
    int epoch = 0;
    if (!rc && loader_start_epoch(train, epoch, 0, err)) rc = -1;
    double avg = 0, best = INFINITY;
    for (int i = 0; !rc && i < cfg->steps; i++) {
        const loader_batch *b = loader_next(train);
        if (!b) { /* out of batches: a new epoch (new order, new augmentation) */
            if (loader_start_epoch(train, ++epoch, 0, err)) {
                rc = -1;
                break;
            }
            b = loader_next(train);
            if (!b) {
                rc = lr_fail(err, "the training split has no full batch of %d images", cfg->batch);
                break;
            }
        }
        double lr = cfg->start_lr * pow(cfg->end_lr / cfg->start_lr, (double)i / (cfg->steps - 1));
        net_set_step(n, cfg->seed, (uint64_t)i);
        if (net_forward(n, b->x, b->n, params, logits, err)) {
            rc = -1;
            break;
        }
        long correct = 0;
        double loss = loss_cross_entropy(dlogits, &correct, logits, b->y, b->n, m->n_classes,
                                         loss_grad_scale(&cfg->loss, b->n), cfg->loss.label_smoothing) / b->n;
        if (!isfinite(loss)) {
            res->stop = FINDLR_STOP_NONFINITE, res->stop_step = i;
            break;
        }
        if (net_backward(n, dlogits, params, grads, err)) {
            rc = -1;
            break;
        }
        if (!all_finite(grads, np)) {
            res->stop = FINDLR_STOP_NONFINITE, res->stop_step = i;
            break;
        }
        grad_clip(&cfg->loss, grads, np, grad_total_norm(grads, counts, n_counts, cfg->loss.clip_norm_inf));
        optim_params hp = cfg->optim;
        hp.lr = lr;
        if (optim_step(&o, params, grads, &hp, err)) {
            rc = -1;
            break;
        }
        avg = cfg->beta * avg + (1 - cfg->beta) * loss;
        double smoothed = avg / (1 - pow(cfg->beta, i + 1));
        res->lr[res->n] = lr, res->loss[res->n] = loss, res->smoothed[res->n] = smoothed;
        res->n++;
        if (i == 0 || smoothed < best) best = smoothed;
        if (smoothed > cfg->diverge * best) { /* recorded, as fastai's Recorder runs before the stop */
            res->stop = FINDLR_STOP_DIVERGED, res->stop_step = i;
            break;
        }
    }
    if (copied) { /* the weights as given, on every path; then net.eval() */
        memcpy(params, saved, (size_t)np * sizeof(float));
        if (buffers) memcpy(buffers, saved_buf, (size_t)m->n_buffers * sizeof(float));
    }
    net_set_training(n, 0);
    free(saved), free(saved_buf), optim_state_free(&o), free(grads), free(logits), free(dlogits);
    if (!rc && findlr_suggest(res->lr, res->smoothed, res->n, cfg->steps, &res->steep_index, &res->min_index))
        rc = lr_fail(err, "the loss diverged after %d step%s (at lr %g): no curve to read; lower --start-lr", res->n,
                     res->n == 1 ? "" : "s", cfg->start_lr * pow(cfg->end_lr / cfg->start_lr,
                                                                 (double)res->n / (cfg->steps - 1)));
    if (rc) {
        findlr_result_free(res);
        return -1;
    }
    res->suggested_lr = res->lr[res->steep_index];
    res->min_loss_lr_div10 = res->lr[res->min_index] / 10;
    return 0;
}
