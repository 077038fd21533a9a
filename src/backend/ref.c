/* backend/ref.c: the plain-C reference kernels (see ref.h). Loops are
 * written as the definitions read; OpenMP only splits independent outputs,
 * so results do not depend on the thread count. */
#include "backend/ref.h"

#include <string.h>

void ref_zero(float *x, long n) { memset(x, 0, (size_t)n * sizeof *x); }

void ref_conv2d_forward(float *out, const float *inp, const float *w, int B, int C, int H, int W,
                        int OC, int K, int stride, int pad) {
    int OH = (H + 2 * pad - K) / stride + 1, OW = (W + 2 * pad - K) / stride + 1;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int oc = 0; oc < OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    float acc = 0.0f;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++) {
                            int ih = oh * stride - pad + kh;
                            if (ih < 0 || ih >= H) continue;
                            for (int kw = 0; kw < K; kw++) {
                                int iw = ow * stride - pad + kw;
                                if (iw < 0 || iw >= W) continue;
                                acc += inp[((long)(b * C + c) * H + ih) * W + iw] *
                                       w[((long)(oc * C + c) * K + kh) * K + kw];
                            }
                        }
                    out[((long)(b * OC + oc) * OH + oh) * OW + ow] = acc;
                }
}

void ref_conv2d_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, int B, int C, int H, int W, int OC, int K, int stride,
                         int pad) {
    int OH = (H + 2 * pad - K) / stride + 1, OW = (W + 2 * pad - K) / stride + 1;
    /* dw[oc,c,kh,kw] += sum_b,oh,ow dout[b,oc,oh,ow] * inp[b,c,ih,iw]: split over oc. */
#pragma omp parallel for schedule(static)
    for (int oc = 0; oc < OC; oc++)
        for (int b = 0; b < B; b++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    float g = dout[((long)(b * OC + oc) * OH + oh) * OW + ow];
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++) {
                            int ih = oh * stride - pad + kh;
                            if (ih < 0 || ih >= H) continue;
                            for (int kw = 0; kw < K; kw++) {
                                int iw = ow * stride - pad + kw;
                                if (iw < 0 || iw >= W) continue;
                                dw[((long)(oc * C + c) * K + kh) * K + kw] +=
                                    g * inp[((long)(b * C + c) * H + ih) * W + iw];
                            }
                        }
                }
    if (!dinp) return;
    /* dinp[b,c,ih,iw] += sum dout * w: split over b (each b writes its own image). */
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int oc = 0; oc < OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    float g = dout[((long)(b * OC + oc) * OH + oh) * OW + ow];
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++) {
                            int ih = oh * stride - pad + kh;
                            if (ih < 0 || ih >= H) continue;
                            for (int kw = 0; kw < K; kw++) {
                                int iw = ow * stride - pad + kw;
                                if (iw < 0 || iw >= W) continue;
                                dinp[((long)(b * C + c) * H + ih) * W + iw] +=
                                    g * w[((long)(oc * C + c) * K + kh) * K + kw];
                            }
                        }
                }
}

void ref_relu_forward(float *out, const float *inp, long n) {
    for (long i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void ref_relu_backward(float *dinp, const float *dout, const float *out, long n) {
    for (long i = 0; i < n; i++)
        if (out[i] > 0.0f) dinp[i] += dout[i];
}

/* Index (within the image plane) of the window's first maximum; a NaN wins,
 * as in PyTorch's max_pool2d ((val > max) || isnan(val)). */
static int pool_argmax(const float *plane, int W, int oh, int ow, int K, int S) {
    int best = (oh * S) * W + ow * S;
    for (int kh = 0; kh < K; kh++)
        for (int kw = 0; kw < K; kw++) {
            int i = (oh * S + kh) * W + ow * S + kw;
            float v = plane[i];
            if (v > plane[best] || (v != v && plane[best] == plane[best])) best = i;
        }
    return best;
}

void ref_maxpool_forward(float *out, const float *inp, int B, int C, int H, int W, int K, int S) {
    int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        const float *plane = inp + (long)bc * H * W;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++)
                out[((long)bc * OH + oh) * OW + ow] = plane[pool_argmax(plane, W, oh, ow, K, S)];
    }
}

void ref_maxpool_backward(float *dinp, const float *dout, const float *inp, int B, int C, int H,
                          int W, int K, int S) {
    int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        const float *plane = inp + (long)bc * H * W;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++)
                dinp[(long)bc * H * W + pool_argmax(plane, W, oh, ow, K, S)] +=
                    dout[((long)bc * OH + oh) * OW + ow];
    }
}

void ref_linear_forward(float *out, const float *inp, const float *w, int B, int IN, int OUT) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OUT; o++) {
            float acc = 0.0f;
            for (int i = 0; i < IN; i++) acc += inp[(long)b * IN + i] * w[(long)o * IN + i];
            out[(long)b * OUT + o] = acc;
        }
}

void ref_linear_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, int B, int IN, int OUT) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OUT; o++)
        for (int b = 0; b < B; b++) {
            float g = dout[(long)b * OUT + o];
            for (int i = 0; i < IN; i++) dw[(long)o * IN + i] += g * inp[(long)b * IN + i];
        }
    if (!dinp) return;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OUT; o++) {
            float g = dout[(long)b * OUT + o];
            for (int i = 0; i < IN; i++) dinp[(long)b * IN + i] += g * w[(long)o * IN + i];
        }
}
