/* backend/ref.c: the plain-C reference kernels (see ref.h). Loops are
 * written as the definitions read; OpenMP only splits independent outputs,
 * so results do not depend on the thread count. */
#include "backend/ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/rng.h"

void ref_zero(float *x, long n) { memset(x, 0, (size_t)n * sizeof *x); }

#define AT(b, c, h, w, C, H, W) ((((long)(b) * (C) + (c)) * (H) + (h)) * (W) + (w))

/* ---- convolution ---- */

void ref_conv2d_forward(float *out, const float *inp, const float *w, const float *bias, const ref_geom *g) {
    int C = g->C, H = g->H, W = g->W, OC = g->OC, K = g->K;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < g->B; b++)
        for (int oc = 0; oc < OC; oc++)
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++) {
                    float acc = 0.0f;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++) {
                            int ih = oh * g->S - g->P + kh;
                            if (ih < 0 || ih >= H) continue;
                            for (int kw = 0; kw < K; kw++) {
                                int iw = ow * g->S - g->P + kw;
                                if (iw < 0 || iw >= W) continue;
                                acc += inp[AT(b, c, ih, iw, C, H, W)] * w[AT(oc, c, kh, kw, C, K, K)];
                            }
                        }
                    out[AT(b, oc, oh, ow, OC, g->OH, g->OW)] = acc + (bias ? bias[oc] : 0.0f);
                }
}

void ref_conv2d_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                         const float *w, const ref_geom *g) {
    int C = g->C, H = g->H, W = g->W, OC = g->OC, K = g->K;
    /* dw[oc,c,kh,kw] += sum_b,oh,ow dout[b,oc,oh,ow] * inp[b,c,ih,iw]: split over oc. */
#pragma omp parallel for schedule(static)
    for (int oc = 0; oc < OC; oc++)
        for (int b = 0; b < g->B; b++)
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++) {
                    float d = dout[AT(b, oc, oh, ow, OC, g->OH, g->OW)];
                    if (dbias) dbias[oc] += d;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++) {
                            int ih = oh * g->S - g->P + kh;
                            if (ih < 0 || ih >= H) continue;
                            for (int kw = 0; kw < K; kw++) {
                                int iw = ow * g->S - g->P + kw;
                                if (iw < 0 || iw >= W) continue;
                                dw[AT(oc, c, kh, kw, C, K, K)] += d * inp[AT(b, c, ih, iw, C, H, W)];
                            }
                        }
                }
    if (!dinp) return;
    /* dinp[b,c,ih,iw] += sum dout * w: split over b (each b writes its own image). */
#pragma omp parallel for schedule(static)
    for (int b = 0; b < g->B; b++)
        for (int oc = 0; oc < OC; oc++)
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++) {
                    float d = dout[AT(b, oc, oh, ow, OC, g->OH, g->OW)];
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++) {
                            int ih = oh * g->S - g->P + kh;
                            if (ih < 0 || ih >= H) continue;
                            for (int kw = 0; kw < K; kw++) {
                                int iw = ow * g->S - g->P + kw;
                                if (iw < 0 || iw >= W) continue;
                                dinp[AT(b, c, ih, iw, C, H, W)] += d * w[AT(oc, c, kh, kw, C, K, K)];
                            }
                        }
                }
}

/* ---- element-wise ---- */

void ref_relu_forward(float *out, const float *inp, long n) {
    for (long i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void ref_relu_backward(float *dinp, const float *dout, const float *out, long n) {
    for (long i = 0; i < n; i++)
        if (out[i] > 0.0f) dinp[i] += dout[i];
}

void ref_gelu_forward(float *out, const float *inp, long n) {
    for (long i = 0; i < n; i++) {
        double x = inp[i];
        out[i] = (float)(x * 0.5 * (1.0 + erf(x / sqrt(2.0))));
    }
}

void ref_gelu_backward(float *dinp, const float *dout, const float *inp, long n) {
    const double inv_sqrt_2pi = 0.3989422804014327;
    for (long i = 0; i < n; i++) {
        double x = inp[i];
        double cdf = 0.5 * (1.0 + erf(x / sqrt(2.0))), pdf = inv_sqrt_2pi * exp(-0.5 * x * x);
        dinp[i] += (float)(dout[i] * (cdf + x * pdf));
    }
}

void ref_add_forward(float *out, const float *a, const float *b, long n) {
    for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void ref_accumulate(float *dinp, const float *dout, long n) {
    for (long i = 0; i < n; i++) dinp[i] += dout[i];
}

void ref_scale_forward(float *out, const float *inp, float c, long n) {
    for (long i = 0; i < n; i++) out[i] = inp[i] * c;
}

void ref_scale_backward(float *dinp, const float *dout, float c, long n) {
    for (long i = 0; i < n; i++) dinp[i] += dout[i] * c;
}

void ref_dropout_forward(float *out, float *noise, const float *inp, double p, uint64_t seed, uint64_t key, long n) {
    lr_rng r;
    rng_init(&r, seed, RNG_STREAM_DROPOUT, key);
    float keep = (float)(1.0 - p);
    for (long i = 0; i < n; i++) {
        int kept = rng_uniform(&r) < 1.0 - p;
        noise[i] = p >= 1.0 ? 0.0f : (kept ? 1.0f : 0.0f) / keep;
        out[i] = inp[i] * noise[i];
    }
}

void ref_dropout_backward(float *dinp, const float *dout, const float *noise, long n) {
    for (long i = 0; i < n; i++) dinp[i] += dout[i] * noise[i];
}

/* ---- pooling ---- */

/* Index (within the image plane) of the window's first maximum over the
 * positions inside the image; a NaN wins, as in PyTorch's max_pool2d
 * ((val > max) || isnan(val)). */
static int pool_argmax(const float *plane, const ref_geom *g, int oh, int ow) {
    int best = -1;
    for (int kh = 0; kh < g->K; kh++) {
        int ih = oh * g->S - g->P + kh;
        if (ih < 0 || ih >= g->H) continue;
        for (int kw = 0; kw < g->K; kw++) {
            int iw = ow * g->S - g->P + kw;
            if (iw < 0 || iw >= g->W) continue;
            int i = ih * g->W + iw;
            float v = plane[i];
            if (best < 0 || v > plane[best] || (v != v && plane[best] == plane[best])) best = i;
        }
    }
    return best;
}

void ref_maxpool_forward(float *out, const float *inp, const ref_geom *g) {
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < g->B * g->C; bc++) {
        const float *plane = inp + (long)bc * g->H * g->W;
        for (int oh = 0; oh < g->OH; oh++)
            for (int ow = 0; ow < g->OW; ow++)
                out[((long)bc * g->OH + oh) * g->OW + ow] = plane[pool_argmax(plane, g, oh, ow)];
    }
}

void ref_maxpool_backward(float *dinp, const float *dout, const float *inp, const ref_geom *g) {
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < g->B * g->C; bc++) {
        const float *plane = inp + (long)bc * g->H * g->W;
        for (int oh = 0; oh < g->OH; oh++)
            for (int ow = 0; ow < g->OW; ow++)
                dinp[(long)bc * g->H * g->W + pool_argmax(plane, g, oh, ow)] +=
                    dout[((long)bc * g->OH + oh) * g->OW + ow];
    }
}

void ref_avgpool_forward(float *out, const float *inp, const ref_geom *g) {
    float area = (float)(g->K * g->K);
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < g->B * g->C; bc++) {
        const float *plane = inp + (long)bc * g->H * g->W;
        for (int oh = 0; oh < g->OH; oh++)
            for (int ow = 0; ow < g->OW; ow++) {
                float sum = 0.0f;
                for (int kh = 0; kh < g->K; kh++)
                    for (int kw = 0; kw < g->K; kw++) {
                        int ih = oh * g->S - g->P + kh, iw = ow * g->S - g->P + kw;
                        if (ih >= 0 && ih < g->H && iw >= 0 && iw < g->W) sum += plane[ih * g->W + iw];
                    }
                out[((long)bc * g->OH + oh) * g->OW + ow] = sum / area;
            }
    }
}

void ref_avgpool_backward(float *dinp, const float *dout, const ref_geom *g) {
    float area = (float)(g->K * g->K);
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < g->B * g->C; bc++)
        for (int oh = 0; oh < g->OH; oh++)
            for (int ow = 0; ow < g->OW; ow++) {
                float d = dout[((long)bc * g->OH + oh) * g->OW + ow] / area;
                for (int kh = 0; kh < g->K; kh++)
                    for (int kw = 0; kw < g->K; kw++) {
                        int ih = oh * g->S - g->P + kh, iw = ow * g->S - g->P + kw;
                        if (ih >= 0 && ih < g->H && iw >= 0 && iw < g->W) dinp[((long)bc * g->H + ih) * g->W + iw] += d;
                    }
            }
}

void ref_global_avgpool_forward(float *out, const float *inp, int B, int C, int HW) {
    for (long bc = 0; bc < (long)B * C; bc++) {
        double sum = 0.0;
        for (int i = 0; i < HW; i++) sum += inp[bc * HW + i];
        out[bc] = (float)(sum / HW);
    }
}

void ref_global_avgpool_backward(float *dinp, const float *dout, int B, int C, int HW) {
    for (long bc = 0; bc < (long)B * C; bc++)
        for (int i = 0; i < HW; i++) dinp[bc * HW + i] += dout[bc] / (float)HW;
}

/* ---- linear ---- */

void ref_linear_forward(float *out, const float *inp, const float *w, const float *bias, int B, int IN, int OUT) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OUT; o++) {
            float acc = 0.0f;
            for (int i = 0; i < IN; i++) acc += inp[(long)b * IN + i] * w[(long)o * IN + i];
            out[(long)b * OUT + o] = acc + (bias ? bias[o] : 0.0f);
        }
}

void ref_linear_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                         const float *w, int B, int IN, int OUT) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OUT; o++)
        for (int b = 0; b < B; b++) {
            float d = dout[(long)b * OUT + o];
            if (dbias) dbias[o] += d;
            for (int i = 0; i < IN; i++) dw[(long)o * IN + i] += d * inp[(long)b * IN + i];
        }
    if (!dinp) return;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OUT; o++) {
            float d = dout[(long)b * OUT + o];
            for (int i = 0; i < IN; i++) dinp[(long)b * IN + i] += d * w[(long)o * IN + i];
        }
}

/* ---- batch normalisation ---- */

void ref_batchnorm_forward(float *out, float *save_mean, float *save_invstd, const float *inp,
                           const float *gamma, const float *beta, float *running_mean, float *running_var,
                           float *num_batches, int training, double eps, double momentum, int B, int C, int HW) {
    long n = (long)B * HW;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double mean, invstd;
        if (training) {
            double sum = 0.0, sq = 0.0;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < HW; i++) sum += inp[AT(b, c, 0, i, C, 1, HW)];
            mean = sum / n;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < HW; i++) {
                    double d = inp[AT(b, c, 0, i, C, 1, HW)] - mean;
                    sq += d * d;
                }
            double var = sq / n;
            invstd = 1.0 / sqrt(var + eps);
            running_mean[c] = (float)(momentum * mean + (1.0 - momentum) * running_mean[c]);
            double unbiased = n > 1 ? sq / (n - 1) : var;
            running_var[c] = (float)(momentum * unbiased + (1.0 - momentum) * running_var[c]);
        } else {
            mean = running_mean[c];
            invstd = 1.0 / sqrt((double)running_var[c] + eps);
        }
        save_mean[c] = (float)mean, save_invstd[c] = (float)invstd;
        double gm = gamma ? gamma[c] : 1.0, bt = beta ? beta[c] : 0.0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                long k = AT(b, c, 0, i, C, 1, HW);
                out[k] = (float)((inp[k] - mean) * invstd * gm + bt);
            }
    }
    if (training && num_batches) *num_batches += 1.0f;
}

void ref_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                            const float *gamma, const float *save_mean, const float *save_invstd, int training,
                            int B, int C, int HW) {
    long n = (long)B * HW;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double mean = save_mean[c], invstd = save_invstd[c], sum_d = 0.0, sum_dx = 0.0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                long k = AT(b, c, 0, i, C, 1, HW);
                sum_d += dout[k];
                sum_dx += dout[k] * (inp[k] - mean) * invstd;
            }
        if (dgamma) dgamma[c] += (float)sum_dx;
        if (dbeta) dbeta[c] += (float)sum_d;
        if (!dinp) continue;
        double gm = gamma ? gamma[c] : 1.0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                long k = AT(b, c, 0, i, C, 1, HW);
                double xhat = (inp[k] - mean) * invstd;
                double d = training ? (dout[k] - sum_d / n - xhat * sum_dx / n) : dout[k];
                dinp[k] += (float)(d * gm * invstd);
            }
    }
}

int ref_batchnorm_forward_sync(float *out, float *save_mean, float *save_invstd, const float *inp,
                               const float *gamma, const float *beta, float *running_mean, float *running_var,
                               float *num_batches, double eps, double momentum, int B, int C, int HW, ref_sum_fn sum) {
    double *s = malloc((size_t)(2 * C + 1) * sizeof *s), *sq = s ? s + C + 1 : NULL;
    if (!s) return -1;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double t = 0.0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) t += inp[AT(b, c, 0, i, C, 1, HW)];
        s[c] = t;
    }
    s[C] = (double)B * HW;
    if (sum(s, C + 1)) return free(s), -1;
    double n = s[C];
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double mean = s[c] / n, t = 0.0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                double d = inp[AT(b, c, 0, i, C, 1, HW)] - mean;
                t += d * d;
            }
        sq[c] = t;
    }
    if (sum(sq, C)) return free(s), -1;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double mean = s[c] / n, var = sq[c] / n, invstd = 1.0 / sqrt(var + eps);
        running_mean[c] = (float)(momentum * mean + (1.0 - momentum) * running_mean[c]);
        double unbiased = n > 1 ? sq[c] / (n - 1) : var;
        running_var[c] = (float)(momentum * unbiased + (1.0 - momentum) * running_var[c]);
        save_mean[c] = (float)mean, save_invstd[c] = (float)invstd;
        double gm = gamma ? gamma[c] : 1.0, bt = beta ? beta[c] : 0.0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                long k = AT(b, c, 0, i, C, 1, HW);
                out[k] = (float)((inp[k] - mean) * invstd * gm + bt);
            }
    }
    if (num_batches) *num_batches += 1.0f;
    free(s);
    return 0;
}

int ref_batchnorm_backward_sync(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                                const float *gamma, const float *save_mean, const float *save_invstd, int B, int C,
                                int HW, ref_sum_fn sum) {
    double *s = malloc((size_t)(2 * C + 1) * sizeof *s); /* sum_d[C], sum_dx[C], count */
    if (!s) return -1;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double mean = save_mean[c], invstd = save_invstd[c], sum_d = 0.0, sum_dx = 0.0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                long k = AT(b, c, 0, i, C, 1, HW);
                sum_d += dout[k];
                sum_dx += dout[k] * (inp[k] - mean) * invstd;
            }
        if (dgamma) dgamma[c] += (float)sum_dx; /* this process's share */
        if (dbeta) dbeta[c] += (float)sum_d;
        s[c] = sum_d, s[C + c] = sum_dx;
    }
    s[2 * C] = (double)B * HW;
    if (sum(s, 2 * C + 1)) return free(s), -1;
    double n = s[2 * C];
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        if (!dinp) continue;
        double mean = save_mean[c], invstd = save_invstd[c], gm = gamma ? gamma[c] : 1.0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                long k = AT(b, c, 0, i, C, 1, HW);
                double xhat = (inp[k] - mean) * invstd;
                double d = dout[k] - s[c] / n - xhat * s[C + c] / n;
                dinp[k] += (float)(d * gm * invstd);
            }
    }
    free(s);
    return 0;
}

/* ---- the option-A shortcut ---- */

void ref_shortcut_forward(float *out, const float *inp, const ref_geom *g) {
    int lo = (g->OC - g->C) / 2;
    ref_zero(out, (long)g->B * g->OC * g->OH * g->OW);
    for (int b = 0; b < g->B; b++)
        for (int c = 0; c < g->C; c++)
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++)
                    out[AT(b, c + lo, oh, ow, g->OC, g->OH, g->OW)] = inp[AT(b, c, oh * g->S, ow * g->S, g->C, g->H, g->W)];
}

void ref_shortcut_backward(float *dinp, const float *dout, const ref_geom *g) {
    int lo = (g->OC - g->C) / 2;
    for (int b = 0; b < g->B; b++)
        for (int c = 0; c < g->C; c++)
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++)
                    dinp[AT(b, c, oh * g->S, ow * g->S, g->C, g->H, g->W)] += dout[AT(b, c + lo, oh, ow, g->OC, g->OH, g->OW)];
}
