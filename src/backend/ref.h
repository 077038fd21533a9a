/* backend/ref.h: plain-C reference kernels over flat NCHW float arrays.
 *
 * These are the independent answer the tests compare oneDNN against, and the
 * `--backend ref` executor. Clarity first: loops as the definitions read
 * (PyTorch's formulas, named where they matter). Forward kernels overwrite
 * their output; backward kernels accumulate (+=) into dinp / dweight /
 * dbias, so zero them first (ref_zero). Argument order: outputs, inputs,
 * weights, sizes. Optional pointers (bias, dinp) may be NULL. */
#ifndef LRLAB_BACKEND_REF_H
#define LRLAB_BACKEND_REF_H

#include <stdint.h>

void ref_zero(float *x, long n);

/* The geometry of a convolution or pooling window: input C x H x W, output
 * OC x OH x OW, a K x K window at stride S, padded by P before (top, left);
 * the padding after is whatever makes OH, OW (it differs for pad=same). */
typedef struct {
    int B, C, H, W, OC, OH, OW, K, S, P;
} ref_geom;

/* conv2d: out (B,OC,OH,OW), inp (B,C,H,W), w (OC,C,K,K), bias (OC) or NULL. */
void ref_conv2d_forward(float *out, const float *inp, const float *w, const float *bias, const ref_geom *g);
void ref_conv2d_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                         const float *w, const ref_geom *g);

/* ReLU, out = max(x, 0); backward from the output: din += dout * (out > 0). */
void ref_relu_forward(float *out, const float *inp, long n);
void ref_relu_backward(float *dinp, const float *dout, const float *out, long n);

/* GELU, exact: x * 0.5 * (1 + erf(x / sqrt(2))) (PyTorch's default). */
void ref_gelu_forward(float *out, const float *inp, long n);
void ref_gelu_backward(float *dinp, const float *dout, const float *inp, long n);

/* max-pool (C = OC): padding never wins; ties go to the first maximum in
 * row-major window order and a NaN wins (PyTorch's rule). */
void ref_maxpool_forward(float *out, const float *inp, const ref_geom *g);
void ref_maxpool_backward(float *dinp, const float *dout, const float *inp, const ref_geom *g);
/* average pool, count_include_pad=True: every window divides by K*K. */
void ref_avgpool_forward(float *out, const float *inp, const ref_geom *g);
void ref_avgpool_backward(float *dinp, const float *dout, const ref_geom *g);
/* global average pool: (B,C,H,W) -> (B,C). */
void ref_global_avgpool_forward(float *out, const float *inp, int B, int C, int HW);
void ref_global_avgpool_backward(float *dinp, const float *dout, int B, int C, int HW);

/* linear: out (B,OUT) = inp (B,IN) . w (OUT,IN)^T + bias (OUT). */
void ref_linear_forward(float *out, const float *inp, const float *w, const float *bias, int B, int IN, int OUT);
void ref_linear_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                         const float *w, int B, int IN, int OUT);

/* BatchNorm2d over (B,C,HW). Training: the batch's mean and biased
 * variance (accumulated in double, as PyTorch's CPU kernel), saved for
 * backward (mean, invstd per channel); running_mean and running_var (the
 * unbiased variance) move by momentum; num_batches_tracked += 1. Eval: the
 * running statistics. gamma, beta NULL: affine=False. */
void ref_batchnorm_forward(float *out, float *save_mean, float *save_invstd, const float *inp,
                           const float *gamma, const float *beta, float *running_mean, float *running_var,
                           float *num_batches, int training, double eps, double momentum, int B, int C, int HW);
void ref_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                            const float *gamma, const float *save_mean, const float *save_invstd, int training,
                            int B, int C, int HW);

/* The same in training mode over a batch split between processes
 * (SyncBatchNorm): each has B of the images; sum(v, n) replaces n doubles
 * by their sums over the processes (the same on all; 0, or -1 on failure).
 * Forward: per channel the sum and the count, summed, give the mean; the
 * squared deviations, summed, the biased variance; the running statistics
 * take the whole batch's. Backward: the per-channel sums of dout and
 * dout * xhat over the whole batch give dinp; dgamma and dbeta get this
 * process's share (the optimiser's gradient sum adds the rest). With a sum
 * that changes nothing they equal ref_batchnorm_forward/backward. 0, or -1
 * when sum or an allocation failed. */
typedef int (*ref_sum_fn)(double *v, int n);
int ref_batchnorm_forward_sync(float *out, float *save_mean, float *save_invstd, const float *inp,
                               const float *gamma, const float *beta, float *running_mean, float *running_var,
                               float *num_batches, double eps, double momentum, int B, int C, int HW, ref_sum_fn sum);
int ref_batchnorm_backward_sync(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                                const float *gamma, const float *save_mean, const float *save_invstd, int B, int C,
                                int HW, ref_sum_fn sum);

/* out = a + b; backward adds dout to both. */
void ref_add_forward(float *out, const float *a, const float *b, long n);
void ref_accumulate(float *dinp, const float *dout, long n);
/* out = x * c (c as a float); backward din += dout * c. */
void ref_scale_forward(float *out, const float *inp, float c, long n);
void ref_scale_backward(float *dinp, const float *dout, float c, long n);
/* dropout (training): noise = bernoulli(1 - p) / (1 - p) from the stream
 * (seed, step key); out = x * noise; backward din += dout * noise. p = 1
 * gives zeros. */
void ref_dropout_forward(float *out, float *noise, const float *inp, double p, uint64_t seed, uint64_t key, long n);
void ref_dropout_backward(float *dinp, const float *dout, const float *noise, long n);
/* He et al.'s option A shortcut: out[b, c + (OC - C)/2, h, w] = inp[b, c, h*S, w*S], zeros elsewhere. */
void ref_shortcut_forward(float *out, const float *inp, const ref_geom *g);
void ref_shortcut_backward(float *dinp, const float *dout, const ref_geom *g);

#endif
