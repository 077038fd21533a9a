/* tests/test_blocked.c: the hand-written kernels on channel-blocked layouts
 * (src/backend/blocked.c) against their reference twins (ref.c) on NCHW:
 * BatchNorm forward and backward (training on a full and a partial batch,
 * eval; affine or not; with and without the fused ReLU) and the option-A
 * shortcut and dropout (the reference's mask), for channel blocks 1 (plain), 8 and 16 and channel counts that
 * do and do not fill the last block; padding channels come out zero, and
 * the results are bit-identical on 1 and 2 threads. */
#include <omp.h>

#include "backend/blocked.h"
#include "backend/ref.h"
#include "test.h"

static void fill(float *x, long n, unsigned seed, float scale, float shift) {
    for (long i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = scale * ((float)(seed >> 8) / 16777216.0f - 0.5f) + shift;
    }
}

/* plain NCHW <-> blocked (padding channels get pad) */
static void to_blocked(float *dst, const float *src, const blk_shape *s, float pad) {
    int CB = (s->C + s->cb - 1) / s->cb;
    for (int b = 0; b < s->B; b++)
        for (int c = 0; c < CB * s->cb; c++)
            for (int i = 0; i < s->HW; i++)
                dst[(((long)b * CB + c / s->cb) * s->HW + i) * s->cb + c % s->cb] =
                    c < s->C ? src[((long)b * s->C + c) * s->HW + i] : pad;
}

/* blocked -> plain; returns whether every padding channel is zero */
static int from_blocked(float *dst, const float *src, const blk_shape *s) {
    int CB = (s->C + s->cb - 1) / s->cb, zero = 1;
    for (int b = 0; b < s->B; b++)
        for (int c = 0; c < CB * s->cb; c++)
            for (int i = 0; i < s->HW; i++) {
                float v = src[(((long)b * CB + c / s->cb) * s->HW + i) * s->cb + c % s->cb];
                if (c < s->C) dst[((long)b * s->C + c) * s->HW + i] = v;
                else zero &= v == 0.0f;
            }
    return zero;
}

typedef struct {
    int B, C, HW, cb, count, training, relu, affine;
} bn_case;

static void bn_check(const bn_case *t) {
    char what[160];
    snprintf(what, sizeof what, "batchnorm B=%d C=%d HW=%d cb=%d count=%d %s%s%s", t->B, t->C, t->HW, t->cb, t->count,
             t->training ? "train" : "eval", t->relu ? " relu" : "", t->affine ? " affine" : "");
    blk_shape s = {t->B, t->C, t->HW, t->cb};
    long n = (long)t->B * t->C * t->HW, nb = blk_size(&s), np = (long)t->count * t->C * t->HW;
    float *x = malloc(n * sizeof(float)), *dy = malloc(n * sizeof(float)), *yr = malloc(n * sizeof(float));
    float *dyr = calloc(n, sizeof(float)), *dxr = calloc(n, sizeof(float)), *plain = malloc(n * sizeof(float));
    float *xb = malloc(nb * sizeof(float)), *dyb = malloc(nb * sizeof(float)), *yb = malloc(nb * sizeof(float));
    float *dxb = malloc(nb * sizeof(float)), *yb1 = malloc(nb * sizeof(float)), *dxb1 = malloc(nb * sizeof(float));
    double *scratch = malloc(blk_bn_scratch(&s) * sizeof(double));
    float gamma[64], beta[64], rm[2][64], rv[2][64], sm[2][64], si[2][64], dg[3][64], db[3][64];
    fill(x, n, 1, 4.0f, 1.5f);
    fill(dy, n, 2, 1.0f, 0.1f);
    fill(gamma, t->C, 3, 1.0f, 1.0f);
    fill(beta, t->C, 4, 1.0f, 0.0f);
    for (int c = 0; c < t->C; c++) rm[0][c] = rm[1][c] = 0.1f * c, rv[0][c] = rv[1][c] = 1.0f + 0.05f * c;
    const float *g = t->affine ? gamma : NULL, *bt = t->affine ? beta : NULL;
    /* reference: BatchNorm over the first count images, then relu */
    ref_batchnorm_forward(yr, sm[0], si[0], x, g, bt, rm[0], rv[0], NULL, t->training, 1e-5, 0.1, t->count, t->C, t->HW);
    if (t->relu) ref_relu_forward(yr, yr, np);
    if (t->relu) ref_relu_backward(dyr, dy, yr, np);
    else memcpy(dyr, dy, np * sizeof(float));
    for (int c = 0; c < t->C; c++) dg[0][c] = db[0][c] = 0.0f;
    ref_batchnorm_backward(dxr, t->affine ? dg[0] : NULL, t->affine ? db[0] : NULL, dyr, x, g, sm[0], si[0], t->training,
                           t->count, t->C, t->HW);
    /* blocked, on 2 threads and on 1 */
    to_blocked(xb, x, &s, 7.0f);
    to_blocked(dyb, dy, &s, 3.0f);
    for (int th = 2; th >= 1; th--) {
        omp_set_num_threads(th);
        float *y = th == 2 ? yb : yb1, *dx = th == 2 ? dxb : dxb1;
        if (th == 1)
            for (int c = 0; c < t->C; c++) rm[1][c] = 0.1f * c, rv[1][c] = 1.0f + 0.05f * c;
        blk_batchnorm_forward(y, sm[1], si[1], xb, g, bt, rm[1], rv[1], t->training, 1e-5, 0.1, t->relu, t->count, &s,
                              scratch);
        blk_batchnorm_backward(dx, dg[th], db[th], dyb, xb, g, bt, sm[1], si[1], t->training, t->relu, t->count, &s,
                               scratch);
    }
    omp_set_num_threads(2);
    CHECK(from_blocked(plain, yb, &s), "%s: padding of the output not zero", what);
    CHECK(test_close(what, plain, yr, np, 1e-5, 1e-5), "%s: output", what);
    CHECK(test_close(what, sm[1], sm[0], t->C, 1e-6, 1e-6) && test_close(what, si[1], si[0], t->C, 1e-6, 1e-6),
          "%s: saved mean, invstd", what);
    CHECK(test_close(what, rm[1], rm[0], t->C, 1e-6, 1e-6) && test_close(what, rv[1], rv[0], t->C, 1e-6, 1e-6),
          "%s: running statistics", what);
    CHECK(from_blocked(plain, dxb, &s), "%s: padding of the input gradient not zero", what);
    CHECK(test_close(what, plain, dxr, np, 1e-5, 1e-4), "%s: input gradient", what);
    int zero = 1;
    for (long i = np; i < n; i++) zero &= plain[i] == 0.0f;
    CHECK(zero, "%s: images past count got a gradient", what);
    if (t->affine)
        CHECK(test_close(what, dg[2], dg[0], t->C, 1e-4, 1e-4) && test_close(what, db[2], db[0], t->C, 1e-4, 1e-4),
              "%s: weight and bias gradients", what);
    CHECK(!memcmp(yb, yb1, nb * sizeof(float)) && !memcmp(dxb, dxb1, nb * sizeof(float)) &&
              (!t->affine || (!memcmp(dg[1], dg[2], t->C * sizeof(float)) && !memcmp(db[1], db[2], t->C * sizeof(float)))),
          "%s: 1 and 2 threads differ", what);
    free(x), free(dy), free(yr), free(dyr), free(dxr), free(plain), free(xb), free(dyb), free(yb), free(dxb);
    free(yb1), free(dxb1), free(scratch);
}

static void shortcut_check(int B, int C, int OC, int H, int W, int S, int cbi, int cbo) {
    char what[128];
    snprintf(what, sizeof what, "shortcut B=%d C=%d->%d %dx%d stride %d cb %d->%d", B, C, OC, H, W, S, cbi, cbo);
    int OH = (H + S - 1) / S, OW = (W + S - 1) / S;
    ref_geom geo = {.B = B, .C = C, .H = H, .W = W, .OC = OC, .OH = OH, .OW = OW, .S = S};
    blk_shape si = {B, C, H * W, cbi}, so = {B, OC, OH * OW, cbo};
    long n = (long)B * C * H * W, on = (long)B * OC * OH * OW;
    float *x = malloc(n * sizeof(float)), *dy = malloc(on * sizeof(float)), *yr = malloc(on * sizeof(float));
    float *dxr = calloc(n, sizeof(float)), *xb = malloc(blk_size(&si) * sizeof(float));
    float *dyb = malloc(blk_size(&so) * sizeof(float)), *yb = malloc(blk_size(&so) * sizeof(float));
    float *dxb = malloc(blk_size(&si) * sizeof(float)), *py = malloc(on * sizeof(float)), *pdx = malloc(n * sizeof(float));
    fill(x, n, 5, 2.0f, 0.0f);
    fill(dy, on, 6, 2.0f, 0.0f);
    ref_shortcut_forward(yr, x, &geo);
    ref_shortcut_backward(dxr, dy, &geo);
    to_blocked(xb, x, &si, 9.0f);
    to_blocked(dyb, dy, &so, 9.0f);
    blk_shortcut_forward(yb, xb, &so, &si, H, W, OH, OW, S);
    blk_shortcut_backward(dxb, dyb, &so, &si, H, W, OH, OW, S);
    CHECK(from_blocked(py, yb, &so), "%s: output padding not zero", what);
    CHECK(from_blocked(pdx, dxb, &si), "%s: gradient padding not zero", what);
    CHECK(!memcmp(py, yr, on * sizeof(float)), "%s: output differs from ref_shortcut_forward", what);
    CHECK(!memcmp(pdx, dxr, n * sizeof(float)), "%s: gradient differs from ref_shortcut_backward", what);
    free(x), free(dy), free(yr), free(dxr), free(xb), free(dyb), free(yb), free(dxb), free(py), free(pdx);
}

static void dropout_check(int B, int C, int HW, int cb, int count, double p) {
    char what[128];
    snprintf(what, sizeof what, "dropout B=%d C=%d HW=%d cb=%d count=%d p=%g", B, C, HW, cb, count, p);
    blk_shape s = {B, C, HW, cb};
    long n = (long)B * C * HW, np = (long)count * C * HW, nb = blk_size(&s);
    float *x = malloc(n * sizeof(float)), *dy = malloc(n * sizeof(float)), *yr = malloc(n * sizeof(float));
    float *noise = malloc(n * sizeof(float)), *dxr = calloc(n, sizeof(float)), *plain = malloc(n * sizeof(float));
    float *xb = malloc(nb * sizeof(float)), *dyb = malloc(nb * sizeof(float)), *yb = malloc(nb * sizeof(float));
    float *nzb = malloc(nb * sizeof(float)), *dxb = malloc(nb * sizeof(float));
    fill(x, n, 7, 2.0f, 0.0f);
    fill(dy, n, 8, 2.0f, 0.0f);
    ref_dropout_forward(yr, noise, x, p, 9, 1234, np);
    ref_dropout_backward(dxr, dy, noise, np);
    to_blocked(xb, x, &s, 5.0f);
    to_blocked(dyb, dy, &s, 5.0f);
    blk_dropout_forward(yb, nzb, xb, p, 9, 1234, count, &s);
    blk_dropout_backward(dxb, dyb, nzb, &s);
    CHECK(from_blocked(plain, yb, &s), "%s: output padding not zero", what);
    CHECK(!memcmp(plain, yr, np * sizeof(float)), "%s: output differs from ref_dropout_forward", what);
    CHECK(from_blocked(plain, dxb, &s), "%s: gradient padding not zero", what);
    CHECK(test_close(what, plain, dxr, np, 0.0, 0.0), "%s: gradient differs from ref_dropout_backward", what);
    int zero = 1;
    for (long i = np; i < n; i++) zero &= plain[i] == 0.0f;
    CHECK(zero, "%s: images past count got a gradient", what);
    free(x), free(dy), free(yr), free(noise), free(dxr), free(plain), free(xb), free(dyb), free(yb), free(nzb), free(dxb);
}

int main(void) {
    static const bn_case cases[] = {
        {4, 16, 36, 16, 4, 1, 0, 1}, {4, 16, 36, 16, 4, 1, 1, 1}, {5, 20, 9, 16, 3, 1, 1, 1},
        {5, 20, 9, 16, 5, 0, 1, 1},  {3, 3, 25, 16, 3, 1, 0, 0},  {3, 3, 25, 1, 2, 1, 1, 0},
        {6, 12, 16, 8, 6, 1, 1, 1},  {2, 40, 7, 16, 2, 0, 0, 1},  {2, 7, 1, 1, 2, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) bn_check(&cases[i]);
    shortcut_check(3, 16, 32, 8, 8, 2, 16, 16);
    shortcut_check(2, 4, 8, 5, 7, 2, 1, 16);
    shortcut_check(2, 8, 16, 6, 6, 2, 8, 16);
    shortcut_check(2, 6, 10, 5, 5, 3, 1, 1);
    dropout_check(3, 20, 9, 16, 3, 0.3);
    dropout_check(4, 5, 4, 8, 2, 0.5);
    dropout_check(2, 3, 6, 1, 2, 1.0);
    return test_summary("test_blocked");
}
