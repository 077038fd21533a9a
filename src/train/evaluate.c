/* train/evaluate.c: loss, accuracy and confusion matrix of weights over a
 * split (lrlab/evaluate.h). Forward passes only; the loss is the same
 * loss_cross_entropy the trainer uses, so test_loss here equals the one in
 * metrics.csv for the same weights and batch size. Also SWA's update_bn,
 * the other forward-only pass over a split. */
#include "lrlab/evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "lrlab/optim.h"

/* Reflect padding's index (torch's F.pad 'reflect'; shifts of one pixel). */
static int reflect(int i, int n) { return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i; }

/* One TTA view of a batch of n CHW images: shifted by `shift` pixels in both
 * directions (-1: the padded image's [0:H, 0:W], +1: its [2:H+2, 2:W+2]),
 * then mirrored when `mirror`. */
static void tta_view(float *dst, const float *src, long n, int C, int H, int W, int shift, int mirror) {
    for (long i = 0; i < n * C; i++)
        for (int y = 0; y < H; y++) {
            const float *row = src + (i * H + reflect(y + shift, H)) * W;
            float *out = dst + (i * H + y) * W;
            for (int x = 0; x < W; x++) out[x] = row[reflect((mirror ? W - 1 - x : x) + shift, W)];
        }
}

/* mirror(view) = 0.5 * net(view) + 0.5 * net(flip(view)) into acc (count floats); tmp: the same. */
static int tta_mirror(float *acc, float *tmp, float *view, const float *x, long n, int C, int H, int W, int shift,
                      net *nt, const float *params, long count, lr_error *err) {
    tta_view(view, x, n, C, H, W, shift, 0);
    if (net_forward(nt, view, (int)n, params, acc, err)) return -1;
    tta_view(view, x, n, C, H, W, shift, 1);
    if (net_forward(nt, view, (int)n, params, tmp, err)) return -1;
    for (long i = 0; i < count; i++) acc[i] = 0.5f * acc[i] + 0.5f * tmp[i];
    return 0;
}

/* The batch's combined logits (level >= 1) into logits; scratch: 3 logits-sized and 1 batch-sized buffer. */
static int tta_logits(float *logits, float *scratch, const loader_batch *b, int C, int H, int W, int classes, int level,
                      net *nt, const float *params, lr_error *err) {
    long count = (long)b->n * classes;
    float *t1 = scratch, *t2 = t1 + count, *tmp = t2 + count, *view = tmp + count;
    if (tta_mirror(logits, tmp, view, b->x, b->n, C, H, W, 0, nt, params, count, err)) return -1;
    if (level < 2) return 0;
    if (tta_mirror(t1, tmp, view, b->x, b->n, C, H, W, -1, nt, params, count, err) ||
        tta_mirror(t2, tmp, view, b->x, b->n, C, H, W, 1, nt, params, count, err))
        return -1;
    for (long i = 0; i < count; i++) logits[i] = 0.5f * logits[i] + 0.5f * ((t1[i] + t2[i]) * 0.5f); /* stack().mean(0) */
    return 0;
}

int evaluate_split(eval_stats *out, net *n, const float *params, loader *l, int classes, float *logits,
                   const eval_hook *hook, lr_error *err) {
    return evaluate_split_tta(out, n, params, l, classes, logits, 0, hook, err);
}

int evaluate_tta_check(int tta, int h, int w, lr_error *err) {
    if (tta < 0 || tta > EVAL_TTA_MAX) return lr_fail(err, "--tta %d: expected 0, 1 (mirror) or 2 (mirror and translate)", tta);
    if (tta == 2 && (h < 2 || w < 2)) /* F.pad(mode='reflect') needs a padding below the size */
        return lr_fail(err, "--tta 2: images of %dx%d (height x width): its one-pixel reflect padding needs at least 2x2 "
                            "(use --tta 1)", h, w);
    return 0;
}

int evaluate_split_tta(eval_stats *out, net *n, const float *params, loader *l, int classes, float *logits, int tta,
                       const eval_hook *hook, lr_error *err) {
    memset(out, 0, sizeof *out);
    if (classes < 1 || classes > EVAL_MAX_CLASSES)
        return lr_fail(err, "%d classes: expected 1..%d", classes, EVAL_MAX_CLASSES);
    out->classes = classes;
    net_set_training(n, 0); /* net.eval(): BatchNorm's running statistics, no dropout; the trainer switches back */
    if (loader_start_epoch(l, 0, 0, err)) return -1;
    const loader_batch *b;
    int batches = loader_batches(l), C, H, W;
    loader_image_shape(l, &C, &H, &W);
    if (evaluate_tta_check(tta, H, W, err)) return -1;
    float *scratch = NULL;
    while ((b = loader_next(l))) {
        if (tta && !scratch &&
            !(scratch = lr_calloc((size_t)b->n * (3 * classes + (size_t)C * H * W), sizeof(float), "TTA views", err)))
            return -1; /* the first batch is the largest */
        int rc = tta ? tta_logits(logits, scratch, b, C, H, W, classes, tta, n, params, err)
                     : net_forward(n, b->x, b->n, params, logits, err);
        if (rc) return free(scratch), -1;
        out->loss_sum += loss_cross_entropy(NULL, &out->correct, logits, b->y, b->n, classes, 1.0f, 0.0);
        for (int i = 0; i < b->n; i++) {
            const float *z = logits + (long)i * classes;
            int pred = 0;
            for (int k = 1; k < classes; k++)
                if (z[k] > z[pred]) pred = k;
            if (b->y[i] < 0 || b->y[i] >= classes)
                return free(scratch), lr_fail(err, "label %d of image %ld: expected 0..%d", b->y[i], out->n + i, classes - 1);
            out->confusion[b->y[i]][pred]++;
        }
        out->n += b->n;
        if (hook) hook->fn(hook->ctx, b->index + 1, batches);
    }
    free(scratch);
    return 0;
}

int evaluate_update_bn(net *n, model_spec *m, const float *params, float *buffers, loader *l, int epoch,
                       uint64_t seed, uint64_t step0, float *logits, long *batches, lr_error *err) {
    *batches = 0;
    double momentum[MODEL_MAX_LAYERS];
    int any = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == LAYER_BATCHNORM) momentum[i] = m->layers[i].u.bn.momentum, any = 1;
    if (!any) return 0; /* "if not momenta: return" */
    model_init_buffers(m, buffers); /* zeros_like(running_mean), ones_like(running_var), num_batches_tracked *= 0 */
    net_set_buffers(n, buffers);
    net_set_training(n, 1);
    int rc = loader_start_epoch(l, epoch, 0, err);
    const loader_batch *b;
    while (!rc && (b = loader_next(l))) {
        ++*batches;
        /* momentum=None: BatchNorm's factor is 1 / num_batches_tracked, a cumulative average */
        for (int i = 0; i < m->n_layers; i++)
            if (m->layers[i].kind == LAYER_BATCHNORM) m->layers[i].u.bn.momentum = 1.0 / (double)*batches;
        net_set_step(n, seed, step0 + (uint64_t)*batches); /* dropout: model.train() applies it */
        rc = net_forward(n, b->x, b->n, params, logits, err);
    }
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == LAYER_BATCHNORM) m->layers[i].u.bn.momentum = momentum[i];
    return rc;
}
