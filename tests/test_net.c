/* tests/test_net.c: the executors. (1) Finite-difference gradient checks,
 * a step and tolerance per layer kind, through the reference net; (2) the oneDNN net against
 * the reference net on the seed's model and on odd shapes, forward logits
 * and every parameter gradient, for each convolution algorithm; (3) a
 * partial batch gives the same rows as a full one; (4) SyncBatchNorm's
 * kernels over two halves of a batch equal the plain ones on the whole. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ref.h"
#include "lrlab/model.h"
#include "lrlab/net.h"
#include "lrlab/optim.h"
#include "lrlab/rng.h"
#include "test.h"

static void fill(float *x, long n, uint64_t seed, float scale) {
    lr_rng r;
    rng_init(&r, seed, 99, 0);
    for (long i = 0; i < n; i++) x[i] = (float)((2.0 * rng_uniform(&r) - 1.0) * scale);
}

static const char *seed_model =
    "input 3 32 32\nconv conv1 32\nrelu\nmaxpool 2\nconv conv2_1 64\nrelu\nconv conv2_2 64\nrelu\n"
    "maxpool 2\nconv conv3_1 128\nrelu\nconv conv3_2 128\nrelu\nconv conv3_3 128\nrelu\nmaxpool 2\n"
    "flatten\nlinear fc1 128\nrelu\nlinear fc2 10\n";

/* Odd sizes: channels not multiples of 16, a 5x5 conv with stride 2, a relu
 * after a pool (not fusable), pool with stride != k, no relu between linears. */
static const char *odd_model =
    "input 3 11 9\nconv a 5 k=3\nrelu\nconv b 17 k=5 stride=2 pad=2\nmaxpool 2 stride=1\nrelu\n"
    "conv c 7 k=1\nrelu\nflatten\nlinear d 13\nlinear e 4\n";

/* Loss of a batch through the ref net (double sum), for finite differences;
 * NAN when net_forward fails. */
static double batch_loss(net *n, const float *x, const int *y, int B, const float *p, int classes) {
    float logits[64 * 16];
    lr_error err;
    long correct = 0;
    if (net_forward(n, x, B, p, logits, &err)) return NAN;
    return loss_cross_entropy(NULL, &correct, logits, y, B, classes, 1.0f, 0.0);
}

/* A finite-difference gradient check per layer kind, as ggml's
 * test-backend-ops: a small model with the kind under test fed by a layer
 * with parameters, the step h and the tolerance |fd - g| <= atol + rtol*|fd|
 * of that kind. The loss is a float forward pass (sum over a batch of 3, ~7),
 * so a central difference carries ~1e-6/h of rounding: smooth kinds (conv,
 * linear, flatten) take h = 1e-2 (error ~1e-4); kinds with kinks (relu,
 * maxpool) a smaller h = 2e-3, so that fewer probes straddle a kink. */
typedef struct {
    layer_kind kind;
    const char *what, *model;
    float h;
    double atol, rtol;
    int eval; /* net.eval(): BatchNorm on running statistics, no dropout */
} gradcheck_case;

#define SMOOTH 1e-2f, 5e-4, 5e-3 /* conv, linear, flatten, batchnorm, gelu, pools' sums, add, scale */
#define KINKS 2e-3f, 1e-3, 5e-3  /* relu, maxpool: a smaller step straddles fewer kinks */

static const gradcheck_case gradcheck_cases[] = {
    {LAYER_CONV, "conv 3x3", "input 2 6 6\nconv c 3\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_CONV, "conv 1x1", "input 3 4 4\nconv c 5 k=1\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_CONV, "conv 5x5 stride 2 pad 2", "input 2 7 5\nconv c 3 k=5 stride=2 pad=2\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_CONV, "conv 3x3 pad 0 after conv", "input 2 7 7\nconv a 3\nconv b 4 k=3 pad=0\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_CONV, "conv 7x7 stride 2 bias", "input 2 9 9\nconv c 3 k=7 stride=2 pad=3 bias=1\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_CONV, "conv 4x4 pad=same bias", "input 2 5 6\nconv c 3 k=4 pad=same bias=1\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_CONV, "conv 2x2 stride 2 pad 0 bias", "input 3 6 6\nconv c 4 k=2 stride=2 pad=0 bias=1\nflatten\nlinear f 3\n", SMOOTH, 0},
    {LAYER_RELU, "relu", "input 2 5 5\nconv c 3\nrelu\nflatten\nlinear f 4\n", KINKS, 0},
    {LAYER_GELU, "gelu", "input 2 5 5\nconv c 3 bias=1\ngelu\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_MAXPOOL, "maxpool 2", "input 2 6 6\nconv c 3\nmaxpool 2\nflatten\nlinear f 4\n", KINKS, 0},
    {LAYER_MAXPOOL, "maxpool 3 stride 1", "input 2 5 5\nconv c 3\nmaxpool 3 stride=1\nflatten\nlinear f 4\n", KINKS, 0},
    {LAYER_MAXPOOL, "maxpool 3 stride 2 pad 1", "input 2 6 5\nconv c 3\nmaxpool 3 stride=2 pad=1\nflatten\nlinear f 4\n", KINKS, 0},
    {LAYER_AVGPOOL, "avgpool 2", "input 2 6 6\nconv c 3\navgpool 2\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_AVGPOOL, "avgpool 3 stride 2 pad 1", "input 2 7 6\nconv c 3\navgpool 3 stride=2 pad=1\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_GLOBAL_AVGPOOL, "global_avgpool", "input 2 5 4\nconv c 3\nglobal_avgpool\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_BATCHNORM, "batchnorm (train)", "input 2 4 4\nconv c 3\nbatchnorm bn\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_BATCHNORM, "batchnorm (eval)", "input 2 4 4\nconv c 3\nbatchnorm bn\nflatten\nlinear f 4\n", SMOOTH, 1},
    {LAYER_BATCHNORM, "batchnorm affine=0 eps momentum", "input 2 4 4\nconv c 3\nbatchnorm bn eps=1e-3 momentum=0.4 affine=0\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_FLATTEN, "flatten", "input 2 3 3\nconv c 2\nflatten\nlinear f 3\n", SMOOTH, 0},
    {LAYER_LINEAR, "linear", "input 6 1 1\nflatten\nlinear a 5\nlinear b 4\n", SMOOTH, 0},
    {LAYER_LINEAR, "linear bias", "input 6 1 1\nflatten\nlinear a 5 bias=1\nlinear b 4 bias=1\n", SMOOTH, 0},
    {LAYER_LINEAR, "linear after relu", "input 6 1 1\nflatten\nlinear a 5\nrelu\nlinear b 4\n", KINKS, 0},
    {LAYER_ADD, "add (residual)", "input 2 5 5\nconv a 3\nconv b 3 bias=1\nadd in=a\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_ADD, "add in=A,B (a fork read twice)", "input 2 5 5\nconv a 3\nconv b 3 in=a\nconv c 3 in=a\nadd in=b,c\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_DROPOUT, "dropout (train)", "input 2 5 5\nconv c 3\ndropout 0.3\nflatten\nlinear f 4\n", SMOOTH, 0},
    {LAYER_DROPOUT, "dropout (eval)", "input 2 5 5\nconv c 3\ndropout 0.3\nflatten\nlinear f 4\n", SMOOTH, 1},
    {LAYER_SCALE, "scale", "input 6 1 1\nflatten\nlinear a 5\nscale 0.1111111111\n", SMOOTH, 0},
    {LAYER_SHORTCUT, "shortcut (option A)", "input 2 6 6\nconv a 4\nconv b 8 stride=2\nshortcut 8 stride=2 in=a\nadd in=b\nflatten\nlinear f 4\n", SMOOTH, 0},
    /* whole models: every kind together, odd sizes */
    {LAYER_CONV, "odd model", NULL, KINKS, 0},
    {LAYER_CONV, "resnet-like", "input 3 8 8\nconv conv1 4\nbatchnorm bn1\nrelu\n"
     "block basic NAME PLANES STRIDE\nconv $NAME.conv1 $PLANES stride=$STRIDE\nbatchnorm $NAME.bn1\nrelu\n"
     "conv $NAME.conv2 $PLANES\nbatchnorm $NAME.bn2\nshortcut $PLANES stride=$STRIDE in=$input name=$NAME.short\n"
     "add in=$NAME.bn2\nrelu\nend\nbasic layer1.0 4 1\nbasic layer2.0 8 2\nglobal_avgpool\nflatten\nlinear fc 3 bias=1\n",
     5e-4f, 4e-3, 1e-2, 0}, /* BatchNorm scales a step up: more relu kinks within reach, a smaller h */
    {LAYER_CONV, "resnet-like gelu", "input 3 8 8\nconv conv1 4\nbatchnorm bn1\ngelu\n"
     "block basic NAME PLANES STRIDE\nconv $NAME.conv1 $PLANES stride=$STRIDE\nbatchnorm $NAME.bn1\ngelu\n"
     "conv $NAME.conv2 $PLANES\nbatchnorm $NAME.bn2\nshortcut $PLANES stride=$STRIDE in=$input name=$NAME.short\n"
     "add in=$NAME.bn2\ngelu\nend\nbasic layer1.0 4 1\nbasic layer2.0 8 2\nglobal_avgpool\nflatten\nlinear fc 3 bias=1\n",
     SMOOTH, 0},
};

/* One probe of parameter i: the central difference, and whether it
 * straddles a kink: its one-sided differences disagree with each other by
 * more than the tolerance (on a smooth loss they differ by h * f'', far
 * less), so the central one means nothing there. A wrong gradient is not
 * hidden by this: its one-sided differences agree, with each other and not
 * with it. */
static int probe(net *n, const float *x, const int *y, int B, float *p, int classes, long i, float h,
                 double tol_a, double tol_r, double *fd) {
    float keep = p[i];
    double mid = batch_loss(n, x, y, B, p, classes);
    p[i] = keep + h;
    double up = batch_loss(n, x, y, B, p, classes);
    p[i] = keep - h;
    double down = batch_loss(n, x, y, B, p, classes);
    p[i] = keep;
    *fd = (up - down) / (2.0 * h);
    double right = (up - mid) / h, left = (mid - down) / h;
    return fabs(right - left) > tol_a + tol_r * fabs(*fd);
}

static void gradcheck(const gradcheck_case *tc, const char *text) {
    model_spec m;
    lr_error err;
    int parsed = model_spec_parse(&m, text, tc->what, &err) == 0;
    CHECK(parsed, "%s: %s", tc->what, err.msg);
    if (!parsed) return;
    int B = 3;
    net_config cfg = {.backend = NET_BACKEND_REF, .batch = B, .training = 1};
    net *n = NULL;
    CHECK(net_init(&n, &m, &cfg, &err) == 0, "%s", err.msg);
    long nx = (long)B * m.in_c * m.in_h * m.in_w;
    float *x = malloc(nx * sizeof(float)), *p = malloc(m.n_params * sizeof(float));
    float *g = malloc(m.n_params * sizeof(float)), logits[64 * 16], dl[64 * 16];
    float *buf = malloc((m.n_buffers + 1) * sizeof(float));
    int y[3] = {1, 0, 3 % m.n_classes};
    fill(x, nx, 1, 1.0f);
    model_init_params(&m, p, 7);
    model_init_buffers(&m, buf);
    for (long i = 0; i < m.n_params; i++) p[i] += 0.05f * (float)((i * 7919) % 13 - 6) / 6.0f; /* BN weights off 1 */
    for (int t = 0; t < m.n_tensors; t++) /* running statistics that are not the batch's */
        if (m.tensors[t].role == TENSOR_RUNNING_MEAN || m.tensors[t].role == TENSOR_RUNNING_VAR)
            for (long i = 0; i < m.tensors[t].count; i++) buf[m.tensors[t].offset + i] += 0.3f + 0.1f * (float)(i % 3);
    net_set_buffers(n, buf);
    net_set_training(n, !tc->eval);
    net_set_step(n, 5, 3);
    long correct = 0;
    CHECK(net_forward(n, x, B, p, logits, &err) == 0, "%s: net_forward: %s", tc->what, err.msg);
    double loss = loss_cross_entropy(dl, &correct, logits, y, B, m.n_classes, 1.0f, 0.0);
    CHECK(isfinite(loss), "%s: loss %g", tc->what, loss);
    CHECK(net_backward(n, dl, p, g, &err) == 0, "%s: net_backward: %s", tc->what, err.msg);
    /* probe a spread of parameters of every layer */
    int bad = 0, kinks = 0, probes = 0;
    for (int li = 0; li < m.n_layers; li++) {
        const layer_spec *l = &m.layers[li];
        for (long k = 0; k < l->param_count; k += 1 + l->param_count / 11) {
            long i = l->param_offset + k;
            double fd;
            int kink = probe(n, x, y, B, p, m.n_classes, i, tc->h, tc->atol, tc->rtol, &fd);
            probes++;
            if (fabs(fd - g[i]) <= tc->atol + tc->rtol * fabs(fd)) continue;
            if (kink) { kinks++; continue; }
            bad++;
            fprintf(stderr, "  %s layer %s param %ld: analytic %.6g, numeric %.6g (h %g)\n", tc->what,
                    l->name, k, g[i], fd, tc->h);
        }
    }
    CHECK(probes >= 10, "%s: only %d probes", tc->what, probes);
    CHECK(bad == 0, "%s: %d of %d finite-difference probes disagree", tc->what, bad, probes);
    CHECK(kinks * 10 <= probes, "%s: %d of %d probes straddle a kink (h %g too large?)", tc->what, kinks,
          probes, tc->h);
    net_free(n);
    free(x), free(p), free(g), free(buf);
}

/* oneDNN vs reference: logits, every gradient and BatchNorm's buffers
 * after the pass; eval: in eval mode (running statistics, no dropout). */
static void compare_mode(const char *text, const char *what, conv_algo algo, net_precision prec, int B, int count,
                         int eval) {
    model_spec m;
    lr_error err;
    CHECK(model_spec_parse(&m, text, what, &err) == 0, "%s", err.msg);
    net_config rc = {.backend = NET_BACKEND_REF, .batch = B, .training = 1};
    net_config dc = {.backend = NET_BACKEND_DNNL, .batch = B, .training = 1, .algo = algo, .precision = prec};
    net *r = NULL, *d = NULL;
    CHECK(net_init(&r, &m, &rc, &err) == 0, "%s", err.msg);
    int ok = net_init(&d, &m, &dc, &err) == 0;
    CHECK(ok, "%s: %s", what, err.msg);
    if (!ok) { net_free(r); return; }
    long nx = (long)B * m.in_c * m.in_h * m.in_w;
    float *x = malloc(nx * sizeof(float)), *p = malloc(m.n_params * sizeof(float));
    float *gr = malloc(m.n_params * sizeof(float)), *gd = malloc(m.n_params * sizeof(float));
    float *lr_ = malloc((size_t)B * m.n_classes * sizeof(float)), *ld = malloc((size_t)B * m.n_classes * sizeof(float));
    float *dl = malloc((size_t)B * m.n_classes * sizeof(float));
    float *br = malloc((m.n_buffers + 1) * sizeof(float)), *bd = malloc((m.n_buffers + 1) * sizeof(float));
    int *y = malloc(B * sizeof(int));
    for (int i = 0; i < B; i++) y[i] = (i * 7 + 3) % m.n_classes;
    fill(x, nx, 2, 2.0f);
    model_init_params(&m, p, 11);
    model_init_buffers(&m, br);
    for (long i = 0; i < m.n_buffers; i++) br[i] += 0.2f + 0.1f * (float)(i % 3); /* not the batch's statistics */
    memcpy(bd, br, (m.n_buffers + 1) * sizeof(float));
    net_set_buffers(r, br), net_set_buffers(d, bd);
    net_set_training(r, !eval), net_set_training(d, !eval);
    net_set_step(r, 9, 4), net_set_step(d, 9, 4);
    long correct = 0;
    CHECK(net_forward(r, x, count, p, lr_, &err) == 0, "%s", err.msg);
    CHECK(net_forward(d, x, count, p, ld, &err) == 0, "%s", err.msg);
    double tol = prec == NET_PRECISION_BF16 ? 3e-2 : 1e-4;
    CHECK(test_close(what, ld, lr_, (long)count * m.n_classes, tol, tol), "%s: logits", what);
    if (m.n_buffers) CHECK(test_close(what, bd, br, m.n_buffers, 1e-5, 1e-5), "%s: BatchNorm buffers", what);
    loss_cross_entropy(dl, &correct, lr_, y, count, m.n_classes, 1.0f / count, 0.0);
    CHECK(net_backward(r, dl, p, gr, &err) == 0, "%s", err.msg);
    CHECK(net_backward(d, dl, p, gd, &err) == 0, "%s", err.msg);
    for (int t = 0; t < m.n_tensors; t++) {
        const model_tensor *mt = &m.tensors[t];
        if (mt->buffer) continue;
        /* per tensor: tolerance relative to the tensor's largest gradient */
        double gmax = 0;
        for (long k = 0; k < mt->count; k++) gmax = fmax(gmax, fabs(gr[mt->offset + k]));
        double atol = (prec == NET_PRECISION_BF16 ? 3e-2 : 2e-4) * gmax;
        char name[160];
        snprintf(name, sizeof name, "%s %s grad", what, mt->name);
        if (prec == NET_PRECISION_BF16) {
            /* bf16 keeps 8 bits of mantissa and flips ReLU masks near 0: a loose whole-tensor check (accuracy is measured by training runs) */
            double num = 0, den = 0;
            for (long k = 0; k < mt->count; k++) {
                double e = gd[mt->offset + k] - gr[mt->offset + k];
                num += e * e, den += (double)gr[mt->offset + k] * gr[mt->offset + k];
            }
            CHECK(sqrt(num / den) < 0.3, "%s: relative error %.3g", name, sqrt(num / den));
            continue;
        }
        CHECK(test_close(name, gd + mt->offset, gr + mt->offset, mt->count, atol, 1e-3), "%s", name);
    }
    net_free(r);
    net_free(d);
    free(x), free(p), free(gr), free(gd), free(lr_), free(ld), free(dl), free(y), free(br), free(bd);
}

static void compare(const char *text, const char *what, conv_algo algo, net_precision prec, int B, int count) {
    compare_mode(text, what, algo, prec, B, count, 0);
}

/* A shipped model's description with a smaller input (the tests' speed). */
static char *shipped_model(const char *path, const char *input) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s: cannot open", path);
    if (!f) return NULL;
    static char text[16384];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    char *at = strstr(text, "input 3 32 32");
    CHECK(at != NULL, "%s: no 'input 3 32 32' line", path);
    if (at) memcpy(at, input, strlen(input)); /* same length */
    return text;
}

/* Graphs and every layer kind, oneDNN against the reference. */
static const char *bias_model = /* conv and linear bias, pad=same with an even kernel, 1x1 stride 2 */
    "input 3 9 8\nconv a 6 k=4 pad=same bias=1\nrelu\nconv b 5 k=3 stride=2 bias=1\nconv c 8 k=1 stride=2 bias=1\n"
    "relu\nflatten\nlinear d 7 bias=1\nrelu\nlinear e 4 bias=1\n";
static const char *pool_model = /* padded pools, gelu, global average pool, scale, a relu read twice */
    "input 3 10 10\nconv a 8\nmaxpool 3 stride=2 pad=1\nconv b 8 bias=1\navgpool 3 stride=2 pad=1\ngelu\n"
    "conv c 6 k=1\nrelu name=rc\nconv d 6 k=1\nadd in=rc\nglobal_avgpool\nflatten\nlinear f 5\nscale 0.1111111111\n";
static const char *fork_model = /* a fork read by three, add of a layer with itself, dropout, flatten read twice */
    "input 3 6 6\nconv a 8 bias=1\nrelu name=r\nconv b 8 in=r\nconv c 8 in=r\nadd in=b,c\nadd in=r name=s\nadd in=s,s\n"
    "dropout 0.3\nflatten name=fl\nlinear f 6 bias=1\nlinear g 6 in=fl\nadd in=f\n";
static const char *bn_model = /* BatchNorm with and without affine, its eps and momentum, relu after it */
    "input 3 6 6\nconv a 8\nbatchnorm bn1\nrelu\nconv b 8\nbatchnorm bn2 eps=1e-3 momentum=0.4 affine=0\ngelu\n"
    "flatten\nlinear f 4\n";

/* ---- SyncBatchNorm's kernels: two "ranks" (threads), each with half of
 * the batch and a sum that adds both in rank order, against the plain
 * kernels on the whole batch ---- */

enum { SB_B = 6, SB_C = 3, SB_HW = 5, SB_N = SB_B * SB_C * SB_HW };
static pthread_barrier_t sb_barrier;
static double sb_vals[2][2 * SB_C + 1];
static __thread int sb_rank;

static int sb_sum(double *v, int n) {
    memcpy(sb_vals[sb_rank], v, (size_t)n * sizeof *v);
    pthread_barrier_wait(&sb_barrier);
    for (int i = 0; i < n; i++) v[i] = sb_vals[0][i] + sb_vals[1][i];
    pthread_barrier_wait(&sb_barrier); /* both have read before the next sum writes */
    return 0;
}

typedef struct {
    int rank;
    const float *x, *dout, *gamma, *beta;
    float out[SB_N], din[SB_N], rm[SB_C], rv[SB_C], nb, save[2 * SB_C], dgamma[SB_C], dbeta[SB_C];
    int rc;
} sb_half;

static void *sb_run(void *arg) {
    sb_half *h = arg;
    sb_rank = h->rank;
    int b0 = h->rank * SB_B / 2; /* images [b0, b0 + SB_B/2) */
    const float *x = h->x + (long)b0 * SB_C * SB_HW, *dout = h->dout + (long)b0 * SB_C * SB_HW;
    h->rc = ref_batchnorm_forward_sync(h->out, h->save, h->save + SB_C, x, h->gamma, h->beta, h->rm, h->rv, &h->nb,
                                       1e-5, 0.1, SB_B / 2, SB_C, SB_HW, sb_sum) ||
            ref_batchnorm_backward_sync(h->din, h->dgamma, h->dbeta, dout, x, h->gamma, h->save, h->save + SB_C,
                                        SB_B / 2, SB_C, SB_HW, sb_sum);
    return NULL;
}

static void sync_bn_kernels(void) {
    float x[SB_N], dout[SB_N], gamma[SB_C], beta[SB_C], out[SB_N], din[SB_N] = {0}, save[2 * SB_C];
    float rm[SB_C] = {0}, rv[SB_C] = {1, 1, 1}, nb = 0, dgamma[SB_C] = {0}, dbeta[SB_C] = {0};
    lr_rng r;
    rng_init(&r, 7, 0, 0);
    for (int i = 0; i < SB_N; i++) x[i] = 3.0f * (float)rng_uniform(&r) - 1.0f, dout[i] = (float)rng_uniform(&r) - 0.5f;
    for (int c = 0; c < SB_C; c++) gamma[c] = 0.5f + (float)c, beta[c] = 0.1f * (float)c;
    ref_batchnorm_forward(out, save, save + SB_C, x, gamma, beta, rm, rv, &nb, 1, 1e-5, 0.1, SB_B, SB_C, SB_HW);
    ref_batchnorm_backward(din, dgamma, dbeta, dout, x, gamma, save, save + SB_C, 1, SB_B, SB_C, SB_HW);
    sb_half h[2];
    pthread_t t[2];
    pthread_barrier_init(&sb_barrier, NULL, 2);
    for (int k = 0; k < 2; k++) {
        memset(&h[k], 0, sizeof h[k]);
        h[k].rank = k, h[k].x = x, h[k].dout = dout, h[k].gamma = gamma, h[k].beta = beta;
        for (int c = 0; c < SB_C; c++) h[k].rv[c] = 1;
        pthread_create(&t[k], NULL, sb_run, &h[k]);
    }
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    pthread_barrier_destroy(&sb_barrier);
    double worst = 0;
    int half = SB_N / 2;
    for (int i = 0; i < SB_N; i++) {
        const sb_half *o = &h[i / half];
        worst = fmax(worst, fabs(o->out[i % half] - out[i]) + fabs(o->din[i % half] - din[i]));
    }
    for (int k = 0; k < 2; k++)
        for (int c = 0; c < SB_C; c++)
            worst = fmax(worst, fabs(h[k].rm[c] - rm[c]) + fabs(h[k].rv[c] - rv[c]));
    for (int c = 0; c < SB_C; c++)
        worst = fmax(worst, fabs(h[0].dgamma[c] + h[1].dgamma[c] - dgamma[c]) + fabs(h[0].dbeta[c] + h[1].dbeta[c] - dbeta[c]));
    CHECK(h[0].rc == 0 && h[1].rc == 0 && h[0].nb == 1 && h[1].nb == 1, "sync BatchNorm kernels ran");
    CHECK(worst < 1e-5, "sync BatchNorm over 2 halves equals the whole batch: largest difference %g", worst);
}

int main(void) {
    sync_bn_kernels();
    int covered[LAYER_KINDS] = {0};
    for (size_t i = 0; i < sizeof gradcheck_cases / sizeof gradcheck_cases[0]; i++) {
        const gradcheck_case *tc = &gradcheck_cases[i];
        gradcheck(tc, tc->model ? tc->model : odd_model);
        if (tc->model) covered[tc->kind] = 1;
    }
    for (int k = 0; k < LAYER_KINDS; k++) CHECK(covered[k], "layer kind %d has no gradient check", k);
    /* a failed forward pass is not a number */
    {
        model_spec m;
        lr_error err;
        net *n = NULL;
        CHECK(model_spec_parse(&m, "input 2 4 4\nconv c 2\nflatten\nlinear f 3\n", "x", &err) == 0, "%s", err.msg);
        net_config cfg = {.backend = NET_BACKEND_REF, .batch = 2, .training = 1};
        CHECK(net_init(&n, &m, &cfg, &err) == 0, "%s", err.msg);
        float x[64] = {0}, p[256] = {0}, logits[8];
        CHECK(net_forward(n, x, 3, p, logits, &err) != 0, "net_forward: 3 images accepted by a net built for 2");
        net_free(n);
    }
    compare(seed_model, "vgg-seed direct", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 8, 8);
    compare(seed_model, "vgg-seed winograd", CONV_ALGO_WINOGRAD, NET_PRECISION_FP32, 8, 8);
    compare(seed_model, "vgg-seed auto", CONV_ALGO_AUTO, NET_PRECISION_FP32, 8, 8);
    compare(seed_model, "vgg-seed partial batch", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 8, 5);
    compare(seed_model, "vgg-seed bf16", CONV_ALGO_DIRECT, NET_PRECISION_BF16, 8, 8);
    compare(seed_model, "vgg-seed bf16 auto (per-layer precision)", CONV_ALGO_AUTO, NET_PRECISION_BF16, 8, 8);
    compare(odd_model, "odd model", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 6, 6);
    compare(odd_model, "odd model partial", CONV_ALGO_AUTO, NET_PRECISION_FP32, 6, 2);
    compare(bias_model, "bias and pad=same", CONV_ALGO_AUTO, NET_PRECISION_FP32, 5, 5);
    compare(pool_model, "pools, gelu, scale", CONV_ALGO_AUTO, NET_PRECISION_FP32, 5, 5);
    compare(fork_model, "forks, dropout", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 5, 5);
    compare_mode(fork_model, "forks, dropout (eval)", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 5, 5, 1);
    compare(fork_model, "forks, dropout partial batch", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 5, 3);
    compare(bn_model, "batchnorm", CONV_ALGO_AUTO, NET_PRECISION_FP32, 6, 6);
    compare(bn_model, "batchnorm partial batch", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 6, 4);
    compare_mode(bn_model, "batchnorm (eval)", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 6, 6, 1);
    compare(gradcheck_cases[sizeof gradcheck_cases / sizeof gradcheck_cases[0] - 2].model, "resnet-like", CONV_ALGO_AUTO,
            NET_PRECISION_FP32, 4, 4);
    const char *resnet20 = shipped_model("models/resnet20", "input 3 8  8 ");
    if (resnet20) {
        compare(resnet20, "resnet20 (8x8)", CONV_ALGO_AUTO, NET_PRECISION_FP32, 4, 4);
        compare(resnet20, "resnet20 (8x8) partial batch", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 4, 3);
        compare_mode(resnet20, "resnet20 (8x8, eval)", CONV_ALGO_WINOGRAD, NET_PRECISION_FP32, 4, 4, 1);
    }
    return test_summary("test_net");
}
