/* backend/blocked.h: hand-written kernels on oneDNN's channel-blocked
 * activation layouts, for what the oneDNN executor does better itself
 * than through a primitive (internal).
 *
 * A tensor (B, C, H*W) with channel block cb keeps element (b, c, i) at
 * ((b * CB + c / cb) * HW + i) * cb + c % cb, CB = ceil(C / cb): cb = 1 is
 * plain NCHW, cb = 16 oneDNN's nChw16c. The channels past C in the last
 * block are padding: written as zeros.
 *
 * Why BatchNorm is here: oneDNN 2.6's batch_normalization splits a small
 * channel count over threads with its own spinning barriers, which on a
 * machine shared with other jobs costs tens of milliseconds per call; these
 * kernels split only over (image, channel block), reduce per image and
 * then over images in a fixed order, so their results are also the same
 * for any number of threads. Each kernel has a reference twin in ref.h
 * (tests/test_blocked.c compares them). */
#ifndef LRLAB_BACKEND_BLOCKED_H
#define LRLAB_BACKEND_BLOCKED_H

#include <stdint.h>

typedef struct {
    int B, C, HW, cb;
} blk_shape;

static inline long blk_size(const blk_shape *s) {
    return (long)s->B * ((s->C + s->cb - 1) / s->cb) * s->cb * s->HW;
}
/* The doubles of scratch the BatchNorm kernels want: per image and
 * channel two partial sums, then six float vectors of the channels. */
static inline long blk_bn_scratch(const blk_shape *s) {
    long cp = (long)(s->C + s->cb - 1) / s->cb * s->cb;
    return 2L * s->B * cp + 3L * cp;
}

/* BatchNorm2d as ref_batchnorm_forward, over the first count images (the
 * statistics; every image is normalised), then max(., 0) when relu.
 * Training: the batch's mean and biased variance, saved as mean and invstd
 * for backward; running_mean and running_var (unbiased) move by momentum
 * (num_batches_tracked is the caller's). Eval: the running statistics.
 * gamma, beta NULL: affine=False. */
void blk_batchnorm_forward(float *out, float *save_mean, float *save_invstd, const float *inp,
                           const float *gamma, const float *beta, float *running_mean, float *running_var,
                           int training, double eps, double momentum, int relu, int count, const blk_shape *s,
                           double *scratch);
/* Its backward (after a relu, dout is the ReLU's output gradient): dinp
 * (NULL: not wanted), dgamma and dbeta OVERWRITTEN; images from count on
 * get a zero gradient. beta is read when relu (the ReLU's mask). */
void blk_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                            const float *gamma, const float *beta, const float *save_mean,
                            const float *save_invstd, int training, int relu, int count, const blk_shape *s,
                            double *scratch);

/* Dropout as ref_dropout_forward (training): the noise of the first count
 * images drawn from the stream (seed, key) in NCHW order, so the same
 * mask as the reference's, kept in the blocked layout (zero past count
 * and in the padding); out = inp * noise. Backward OVERWRITES dinp with
 * dout * noise. */
void blk_dropout_forward(float *out, float *noise, const float *inp, double p, uint64_t seed, uint64_t key, int count,
                         const blk_shape *s);
void blk_dropout_backward(float *dinp, const float *dout, const float *noise, const blk_shape *s);

/* He et al.'s option-A shortcut as ref_shortcut_forward: in (B, C, H*W) with
 * channel block cb_in, out (B, OC, OH*OW) with block s_out->cb;
 * out[b, c + (OC - C) / 2, h, w] = in[b, c, h * S, w * S], zeros elsewhere.
 * Backward OVERWRITES dinp. */
void blk_shortcut_forward(float *out, const float *inp, const blk_shape *s_out, const blk_shape *s_in, int H, int W,
                          int OH, int OW, int S);
void blk_shortcut_backward(float *dinp, const float *dout, const blk_shape *s_out, const blk_shape *s_in, int H,
                           int W, int OH, int OW, int S);

#endif
