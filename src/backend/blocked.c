/* backend/blocked.c: BatchNorm (with a fused ReLU) and the option-A
 * shortcut on channel-blocked layouts (blocked.h). The work is split over
 * (image, channel block) chunks, each a contiguous HW x cb run of floats;
 * sums are double, per chunk, then added over images in order. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backend/blocked.h"
#include "lrlab/rng.h"

#define BLK_MAX_CB 16

static long chunk(const blk_shape *s, int b, int j) {
    int CB = (s->C + s->cb - 1) / s->cb;
    return ((long)b * CB + j) * s->HW * s->cb;
}

static long blk_at(const blk_shape *s, int b, int c, long i) {
    return chunk(s, b, c / s->cb) + i * s->cb + c % s->cb;
}

/* Sum and sum of squared deviations from the chunk's own mean, per lane
 * (a chunk is re-read from cache for the second pass). cb is a constant
 * where this is inlined, so the lane loops vectorise. */
static inline void chunk_moments(const float *x, int HW, int cb, double *sum, double *m2) {
    double acc[BLK_MAX_CB] = {0}, dev[BLK_MAX_CB] = {0};
    for (int i = 0; i < HW; i++)
        for (int l = 0; l < cb; l++) acc[l] += x[(long)i * cb + l];
    for (int l = 0; l < cb; l++) sum[l] = acc[l], acc[l] /= HW;
    for (int i = 0; i < HW; i++)
        for (int l = 0; l < cb; l++) {
            double d = x[(long)i * cb + l] - acc[l];
            dev[l] += d * d;
        }
    for (int l = 0; l < cb; l++) m2[l] = dev[l];
}

static inline void chunk_affine(float *y, const float *x, int HW, int cb, const float *a, const float *b, int relu) {
    for (int i = 0; i < HW; i++)
        for (int l = 0; l < cb; l++) {
            float v = fmaf(x[(long)i * cb + l], a[l], b[l]);
            y[(long)i * cb + l] = relu && !(v > 0.0f) ? 0.0f : v;
        }
}

/* dy, zero where the fused ReLU's output (x * a + b, as the forward
 * computed it) was not positive (NaN included, as PyTorch's
 * threshold_backward). The select is an AND with a bit mask, which GCC
 * vectorises where it will not if-convert a branch. */
static inline float masked(float g, float x, float a, float b, int relu) {
    if (!relu) return g;
    uint32_t bits, keep = -(uint32_t)(fmaf(x, a, b) > 0.0f);
    memcpy(&bits, &g, sizeof bits);
    bits &= keep;
    memcpy(&g, &bits, sizeof g);
    return g;
}

/* Sum of dy and of dy * (x - mean), dy masked by the fused ReLU. cb and
 * relu are constants where this is inlined (blk_dsums_chunk). */
static inline void chunk_dsums(const float *dy, const float *x, int HW, int cb, const float *mean, const float *a,
                               const float *b, int relu, double *sd, double *sdx) {
    double acc[BLK_MAX_CB] = {0}, accx[BLK_MAX_CB] = {0};
    for (int i = 0; i < HW; i++)
        for (int l = 0; l < cb; l++) {
            long k = (long)i * cb + l;
            float g = masked(dy[k], x[k], a[l], b[l], relu);
            acc[l] += g;
            accx[l] += (double)g * ((double)x[k] - mean[l]);
        }
    for (int l = 0; l < cb; l++) sd[l] = acc[l], sdx[l] = accx[l];
}

/* dx = ((dy - gmean) - (x - mean) * k) * w: PyTorch's CPU formula (k = 0 and
 * gmean = 0 in eval mode). */
static inline void chunk_dx(float *dx, const float *dy, const float *x, int HW, int cb, const float *mean,
                            const float *a, const float *b, int relu, const float *gmean, const float *k,
                            const float *w) {
    for (int i = 0; i < HW; i++)
        for (int l = 0; l < cb; l++) {
            long e = (long)i * cb + l;
            float g = masked(dy[e], x[e], a[l], b[l], relu);
            dx[e] = ((g - gmean[l]) - (x[e] - mean[l]) * k[l]) * w[l];
        }
}

/* The chunk loops above with cb and relu as constants (cb 16: oneDNN's
 * nChw16c), so that their lane loops vectorise; any other cb as it comes. */
static void affine_chunk(float *y, const float *x, int HW, int cb, const float *a, const float *b, int relu) {
    if (cb == 16 && relu) chunk_affine(y, x, HW, 16, a, b, 1);
    else if (cb == 16) chunk_affine(y, x, HW, 16, a, b, 0);
    else chunk_affine(y, x, HW, cb, a, b, relu);
}

static void dsums_chunk(const float *dy, const float *x, int HW, int cb, const float *mean, const float *a,
                        const float *b, int relu, double *sd, double *sdx) {
    if (cb == 16 && relu) chunk_dsums(dy, x, HW, 16, mean, a, b, 1, sd, sdx);
    else if (cb == 16) chunk_dsums(dy, x, HW, 16, mean, a, b, 0, sd, sdx);
    else chunk_dsums(dy, x, HW, cb, mean, a, b, relu, sd, sdx);
}

static void dx_chunk(float *dx, const float *dy, const float *x, int HW, int cb, const float *mean, const float *a,
                     const float *b, int relu, const float *gmean, const float *k, const float *w) {
    if (cb == 16 && relu) chunk_dx(dx, dy, x, HW, 16, mean, a, b, 1, gmean, k, w);
    else if (cb == 16) chunk_dx(dx, dy, x, HW, 16, mean, a, b, 0, gmean, k, w);
    else chunk_dx(dx, dy, x, HW, cb, mean, a, b, relu, gmean, k, w);
}

/* The affine map of the forward pass from the saved statistics, so that
 * backward recomputes exactly the forward's ReLU mask: a = gamma * invstd,
 * b = beta - mean * a; zero for padding channels. */
static void bn_affine(float *a, float *b, const float *mean, const float *invstd, const float *gamma,
                      const float *beta, const blk_shape *s) {
    int CP = (s->C + s->cb - 1) / s->cb * s->cb;
    for (int c = 0; c < CP; c++) {
        if (c >= s->C) {
            a[c] = b[c] = 0.0f;
            continue;
        }
        double ad = (gamma ? gamma[c] : 1.0) * (double)invstd[c];
        a[c] = (float)ad;
        b[c] = (float)((beta ? beta[c] : 0.0) - (double)mean[c] * ad);
    }
}

void blk_batchnorm_forward(float *out, float *save_mean, float *save_invstd, const float *inp,
                           const float *gamma, const float *beta, float *running_mean, float *running_var,
                           int training, double eps, double momentum, int relu, int count, const blk_shape *s,
                           double *scratch) {
    int cb = s->cb, CB = (s->C + cb - 1) / cb, CP = CB * cb, HW = s->HW;
    double *sums = scratch, *m2s = scratch + (long)s->B * CP;
    if (training) {
#pragma omp parallel for collapse(2) schedule(static)
        for (int b = 0; b < count; b++)
            for (int j = 0; j < CB; j++) {
                const float *x = inp + chunk(s, b, j);
                double *sm = sums + (long)b * CP + j * cb, *mm = m2s + (long)b * CP + j * cb;
                if (cb == 16) chunk_moments(x, HW, 16, sm, mm);
                else chunk_moments(x, HW, cb, sm, mm);
            }
        double n = (double)count * HW;
        for (int c = 0; c < s->C; c++) {
            double sum = 0.0, m2 = 0.0;
            for (int b = 0; b < count; b++) sum += sums[(long)b * CP + c];
            double mean = sum / n;
            for (int b = 0; b < count; b++) { /* Chan et al.'s combination of the per-image moments */
                double d = sums[(long)b * CP + c] / HW - mean;
                m2 += m2s[(long)b * CP + c] + HW * d * d;
            }
            double var = m2 / n, unbiased = n > 1 ? m2 / (n - 1) : var;
            save_mean[c] = (float)mean;
            save_invstd[c] = (float)(1.0 / sqrt(var + eps));
            running_mean[c] = (float)(momentum * mean + (1.0 - momentum) * running_mean[c]);
            running_var[c] = (float)(momentum * unbiased + (1.0 - momentum) * running_var[c]);
        }
    } else {
        for (int c = 0; c < s->C; c++) {
            save_mean[c] = running_mean[c];
            save_invstd[c] = (float)(1.0 / sqrt((double)running_var[c] + eps));
        }
    }
    float *a = (float *)(m2s + (long)s->B * CP), *bb = a + CP;
    bn_affine(a, bb, save_mean, save_invstd, gamma, beta, s);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < s->B; b++)
        for (int j = 0; j < CB; j++) {
            long o = chunk(s, b, j);
            affine_chunk(out + o, inp + o, HW, cb, a + j * cb, bb + j * cb, relu);
        }
}

void blk_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                            const float *gamma, const float *beta, const float *save_mean,
                            const float *save_invstd, int training, int relu, int count, const blk_shape *s,
                            double *scratch) {
    int cb = s->cb, CB = (s->C + cb - 1) / cb, CP = CB * cb, HW = s->HW;
    double *sds = scratch, *sdxs = scratch + (long)s->B * CP;
    /* per-channel float vectors after the partial sums: a, b, mean, gmean, k, w */
    float *a = (float *)(sdxs + (long)s->B * CP), *bb = a + CP, *mean = bb + CP, *gmean = mean + CP, *k = gmean + CP,
          *w = k + CP;
    bn_affine(a, bb, save_mean, save_invstd, gamma, beta, s);
    for (int c = 0; c < CP; c++) mean[c] = c < s->C ? save_mean[c] : 0.0f;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < count; b++)
        for (int j = 0; j < CB; j++) {
            long o = chunk(s, b, j);
            double *sd = sds + (long)b * CP + j * cb, *sdx = sdxs + (long)b * CP + j * cb;
            dsums_chunk(dout + o, inp + o, HW, cb, mean + j * cb, a + j * cb, bb + j * cb, relu, sd, sdx);
        }
    double n = (double)count * HW;
    for (int c = 0; c < CP; c++) {
        double sd = 0.0, sdx = 0.0;
        for (int b = 0; b < count && c < s->C; b++) sd += sds[(long)b * CP + c], sdx += sdxs[(long)b * CP + c];
        double invstd = c < s->C ? save_invstd[c] : 0.0;
        if (c < s->C && dgamma) dgamma[c] = (float)(sdx * invstd);
        if (c < s->C && dbeta) dbeta[c] = (float)sd;
        gmean[c] = training ? (float)(sd / n) : 0.0f;
        k[c] = training ? (float)(sdx * invstd * invstd / n) : 0.0f;
        w[c] = c < s->C ? (float)((gamma ? gamma[c] : 1.0) * invstd) : 0.0f;
    }
    if (!dinp) return;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < s->B; b++)
        for (int j = 0; j < CB; j++) {
            long o = chunk(s, b, j);
            if (b >= count)
                for (long e = 0; e < (long)HW * cb; e++) dinp[o + e] = 0.0f;
            else
                dx_chunk(dinp + o, dout + o, inp + o, HW, cb, mean + j * cb, a + j * cb, bb + j * cb, relu,
                         gmean + j * cb, k + j * cb, w + j * cb);
        }
}

void blk_shortcut_forward(float *out, const float *inp, const blk_shape *so, const blk_shape *si, int H, int W,
                          int OH, int OW, int S) {
    int lo = (so->C - si->C) / 2, CBo = (so->C + so->cb - 1) / so->cb;
    (void)H;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < so->B; b++)
        for (int j = 0; j < CBo; j++) {
            float *y = out + chunk(so, b, j);
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++)
                    for (int l = 0; l < so->cb; l++) {
                        int c = j * so->cb + l - lo;
                        int inside = c >= 0 && c < si->C && c + lo < so->C;
                        y[((long)oh * OW + ow) * so->cb + l] =
                            inside ? inp[blk_at(si, b, c, (long)oh * S * W + (long)ow * S)] : 0.0f;
                    }
        }
}

void blk_shortcut_backward(float *dinp, const float *dout, const blk_shape *so, const blk_shape *si, int H, int W,
                           int OH, int OW, int S) {
    int lo = (so->C - si->C) / 2, CBi = (si->C + si->cb - 1) / si->cb;
    (void)OH;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < si->B; b++)
        for (int j = 0; j < CBi; j++) {
            float *dx = dinp + chunk(si, b, j);
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    for (int l = 0; l < si->cb; l++) {
                        int c = j * si->cb + l;
                        int hit = c < si->C && h % S == 0 && w % S == 0;
                        dx[((long)h * W + w) * si->cb + l] =
                            hit ? dout[blk_at(so, b, c + lo, (long)(h / S) * OW + w / S)] : 0.0f;
                    }
        }
}

void blk_dropout_forward(float *out, float *noise, const float *inp, double p, uint64_t seed, uint64_t key, int count,
                         const blk_shape *s) {
    lr_rng r;
    rng_init(&r, seed, RNG_STREAM_DROPOUT, key);
    float keep = (float)(1.0 - p);
    long size = blk_size(s);
    for (long e = 0; e < size; e++) noise[e] = 0.0f;
    for (int b = 0; b < count; b++) /* one stream in NCHW order: the reference's mask */
        for (int c = 0; c < s->C; c++)
            for (long i = 0; i < s->HW; i++) {
                int kept = rng_uniform(&r) < 1.0 - p;
                noise[blk_at(s, b, c, i)] = p >= 1.0 ? 0.0f : (kept ? 1.0f : 0.0f) / keep;
            }
#pragma omp parallel for schedule(static)
    for (long e = 0; e < size; e++) out[e] = inp[e] * noise[e];
}

void blk_dropout_backward(float *dinp, const float *dout, const float *noise, const blk_shape *s) {
    long size = blk_size(s);
#pragma omp parallel for schedule(static)
    for (long e = 0; e < size; e++) dinp[e] = dout[e] * noise[e];
}
