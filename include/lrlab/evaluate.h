/* lrlab/evaluate.h: a model's weights measured on a data split: mean
 * cross-entropy loss, accuracy, and the confusion matrix (rows: true class,
 * columns: predicted class = argmax of the logits, the first maximum on
 * ties, as loss_cross_entropy counts it). Per-class accuracy is a row's
 * diagonal over the row's sum. Not here: loading weights or data, printing. */
#ifndef LRLAB_EVALUATE_H
#define LRLAB_EVALUATE_H

#include "lrlab/common.h"
#include "lrlab/data.h"
#include "lrlab/model.h"
#include "lrlab/net.h"

#define EVAL_MAX_CLASSES DATA_MAX_CLASSES

typedef struct {
    int classes;
    long n, correct;
    double loss_sum; /* per-image losses summed: mean loss = loss_sum / n */
    long confusion[EVAL_MAX_CLASSES][EVAL_MAX_CLASSES];
} eval_stats;

/* Called after each batch of a pass (batch counts from 1), e.g. to draw
 * the trainer's progress line during the test pass. */
typedef struct {
    void (*fn)(void *ctx, int batch, int batches);
    void *ctx;
} eval_hook;

/* Runs every batch of l (from epoch 0, batch 0) forward through n with
 * params, in eval mode (net_set_training(n, 0); it stays so). logits is
 * scratch of batch * classes floats (batch: the loader's and the net's).
 * Labels outside 0..classes-1 are an error. hook may be NULL. */
int evaluate_split(eval_stats *out, net *n, const float *params, loader *l, int classes, float *logits,
                   const eval_hook *hook, lr_error *err);

/* The same with test-time augmentation (--tta; airbench94's infer, tta_level):
 * 0 none; 1 mirror: 0.5 * net(x) + 0.5 * net(flip(x)); 2 mirror and
 * translate: 0.5 * mirror(x) + 0.5 * mean(mirror(up-left(x)), mirror(down-right(x))),
 * the translations by one pixel of the image padded by 1 with reflect
 * padding. The loss and the confusion are those of the combined logits.
 * Forward passes of the loader's batches, 2 or 6 per batch. */
#define EVAL_TTA_MAX 2
/* Whether --tta LEVEL can run on images of h x w (level 2's reflect padding
 * needs 2x2): checked before training, so that a run does not fail at its end. */
int evaluate_tta_check(int tta, int h, int w, lr_error *err);
int evaluate_split_tta(eval_stats *out, net *n, const float *params, loader *l, int classes, float *logits, int tta,
                       const eval_hook *hook, lr_error *err);

/* torch.optim.swa_utils.update_bn (1.13) for the model params with buffers
 * (n_buffers floats, overwritten): the buffers reset to PyTorch's initial
 * values, then one pass over l's epoch `epoch` in training mode (dropout
 * masks of (seed, step0 + batch)) with every BatchNorm's momentum None, a
 * cumulative average over the batches (m's momenta are set per batch and
 * put back: m must be the model n runs; logits: scratch as for
 * evaluate_split). *batches receives the batches
 * used (0 for a model without BatchNorm, which is left alone). The net is
 * left in training mode with `buffers`: the caller sets its own back. */
int evaluate_update_bn(net *n, model_spec *m, const float *params, float *buffers, loader *l, int epoch,
                       uint64_t seed, uint64_t step0, float *logits, long *batches, lr_error *err);

#endif
