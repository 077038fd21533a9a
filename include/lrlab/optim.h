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

/* torch.optim.SGD's arguments, as the Python floats a script passes (and a
 * schedule sets: lr, momentum); sgd_step rounds them to float as ATen does. */
typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov;
} sgd_params;

/* One SGD step over n parameters, exactly torch.optim.SGD's update
 * (torch/optim/sgd.py, _single_tensor_sgd):
 *   d = g + wd * p
 *   if momentum != 0: buf = d (no buffer yet: a copy of d, undamped) or
 *                     momentum * buf + (1 - dampening) * d; d = nesterov ? d + momentum * buf : buf
 *   p -= lr * d.
 * has_buf says whether buf holds PyTorch's momentum_buffer yet; it is
 * created at the first step whose momentum is non-zero (a cycled momentum
 * may start at 0) and kept through steps whose momentum is 0. Returns the
 * new has_buf. */
int sgd_step(float *params, float *buf, const float *grads, long n, const sgd_params *hp, int has_buf);

/* 1 when every value is finite. */
int all_finite(const float *x, long n);

#endif
