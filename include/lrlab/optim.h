/* lrlab/optim.h: the loss and the optimiser, with PyTorch's semantics
 * (torch.nn.CrossEntropyLoss, torch.optim.SGD; docs: SEMANTICS.md). Plain
 * loops over flat arrays: no knowledge of layers or backends. */
#ifndef LRLAB_OPTIM_H
#define LRLAB_OPTIM_H

/* Cross-entropy of n rows of logits against labels, computed with the max
 * subtracted. Writes dlogits = (softmax - onehot) * grad_scale (pass
 * 1/batch for the gradient of the batch mean; dlogits may be NULL), adds the
 * count of rows whose argmax (first maximum) equals the label to *correct,
 * and returns the SUM of the per-row losses (in double). */
double loss_cross_entropy(float *dlogits, long *correct, const float *logits, const int *labels,
                          int n, int classes, float grad_scale);

typedef struct {
    float lr, momentum, dampening, weight_decay;
    int nesterov;
} sgd_params;

/* One SGD step over n parameters, exactly torch.optim.SGD's update:
 *   d = g + wd * p; buf = d (first step) or momentum * buf + (1 - dampening) * d;
 *   d = nesterov ? d + momentum * buf : buf; p -= lr * d.
 * buf is the momentum buffer (unused when momentum == 0); first_step says
 * whether it holds anything yet. */
void sgd_step(float *params, float *buf, const float *grads, long n, const sgd_params *hp,
              int first_step);

/* 1 when every value is finite. */
int all_finite(const float *x, long n);

#endif
