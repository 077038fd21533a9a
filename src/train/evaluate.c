/* train/evaluate.c: loss, accuracy and confusion matrix of weights over a
 * split (lrlab/evaluate.h). Forward passes only; the loss is the same
 * loss_cross_entropy the trainer uses, so test_loss here equals the one in
 * metrics.csv for the same weights and batch size. Also SWA's update_bn,
 * the other forward-only pass over a split. */
#include "lrlab/evaluate.h"

#include <string.h>

#include "lrlab/optim.h"

int evaluate_split(eval_stats *out, net *n, const float *params, loader *l, int classes, float *logits,
                   const eval_hook *hook, lr_error *err) {
    memset(out, 0, sizeof *out);
    if (classes < 1 || classes > EVAL_MAX_CLASSES)
        return lr_fail(err, "%d classes: expected 1..%d", classes, EVAL_MAX_CLASSES);
    out->classes = classes;
    net_set_training(n, 0); /* net.eval(): BatchNorm's running statistics, no dropout; the trainer switches back */
    if (loader_start_epoch(l, 0, 0, err)) return -1;
    const loader_batch *b;
    int batches = loader_batches(l);
    while ((b = loader_next(l))) {
        if (net_forward(n, b->x, b->n, params, logits, err)) return -1;
        out->loss_sum += loss_cross_entropy(NULL, &out->correct, logits, b->y, b->n, classes, 1.0f, 0.0);
        for (int i = 0; i < b->n; i++) {
            const float *z = logits + (long)i * classes;
            int pred = 0;
            for (int k = 1; k < classes; k++)
                if (z[k] > z[pred]) pred = k;
            if (b->y[i] < 0 || b->y[i] >= classes)
                return lr_fail(err, "label %d of image %ld: expected 0..%d", b->y[i], out->n + i, classes - 1);
            out->confusion[b->y[i]][pred]++;
        }
        out->n += b->n;
        if (hook) hook->fn(hook->ctx, b->index + 1, batches);
    }
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
