/* tests/test_net.c: the executors. (1) Finite-difference gradient checks
 * of every layer kind through the reference net; (2) the oneDNN net against
 * the reference net on the seed's model and on odd shapes, forward logits
 * and every parameter gradient, for each convolution algorithm; (3) a
 * partial batch gives the same rows as a full one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Loss of a batch through the ref net (double sum), for finite differences. */
static double batch_loss(net *n, const float *x, const int *y, int B, const float *p, int classes) {
    float logits[64 * 16];
    lr_error err;
    long correct = 0;
    net_forward(n, x, B, p, logits, &err);
    return loss_cross_entropy(NULL, &correct, logits, y, B, classes, 1.0f);
}

static void gradcheck(const char *text, const char *what) {
    model_spec m;
    lr_error err;
    CHECK(model_spec_parse(&m, text, what, &err) == 0, "%s", err.msg);
    int B = 3;
    net_config cfg = {.backend = NET_BACKEND_REF, .batch = B, .training = 1};
    net *n = NULL;
    CHECK(net_init(&n, &m, &cfg, &err) == 0, "%s", err.msg);
    long nx = (long)B * m.in_c * m.in_h * m.in_w;
    float *x = malloc(nx * sizeof(float)), *p = malloc(m.n_params * sizeof(float));
    float *g = malloc(m.n_params * sizeof(float)), logits[64 * 16], dl[64 * 16];
    int y[3] = {1, 0, 3 % m.n_classes};
    fill(x, nx, 1, 1.0f);
    model_init_params(&m, p, 7);
    long correct = 0;
    net_forward(n, x, B, p, logits, &err);
    loss_cross_entropy(dl, &correct, logits, y, B, m.n_classes, 1.0f);
    net_backward(n, dl, p, g, &err);
    /* central differences in float: probe a spread of parameters of every layer */
    int bad = 0, probes = 0;
    for (int li = 0; li < m.n_layers; li++) {
        const layer_spec *l = &m.layers[li];
        for (long k = 0; k < l->param_count; k += 1 + l->param_count / 7) {
            long i = l->param_offset + k;
            float keep = p[i], h = 1e-2f;
            p[i] = keep + h;
            double up = batch_loss(n, x, y, B, p, m.n_classes);
            p[i] = keep - h;
            double down = batch_loss(n, x, y, B, p, m.n_classes);
            p[i] = keep;
            double fd = (up - down) / (2.0 * h);
            probes++;
            if (fabs(fd - g[i]) > 2e-3 + 2e-2 * fabs(fd)) {
                bad++;
                fprintf(stderr, "  %s layer %s param %ld: analytic %.6g, numeric %.6g\n", what,
                        l->name, k, g[i], fd);
            }
        }
    }
    CHECK(bad == 0, "%s: %d of %d finite-difference probes disagree", what, bad, probes);
    net_free(n);
    free(x), free(p), free(g);
}

/* oneDNN vs reference: logits and every gradient. */
static void compare(const char *text, const char *what, conv_algo algo, net_precision prec, int B,
                    int count) {
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
    int *y = malloc(B * sizeof(int));
    for (int i = 0; i < B; i++) y[i] = (i * 7 + 3) % m.n_classes;
    fill(x, nx, 2, 2.0f);
    model_init_params(&m, p, 11);
    long correct = 0;
    CHECK(net_forward(r, x, count, p, lr_, &err) == 0, "%s", err.msg);
    CHECK(net_forward(d, x, count, p, ld, &err) == 0, "%s", err.msg);
    double tol = prec == NET_PRECISION_BF16 ? 3e-2 : 1e-4;
    CHECK(test_close(what, ld, lr_, (long)count * m.n_classes, tol, tol), "%s: logits", what);
    loss_cross_entropy(dl, &correct, lr_, y, count, m.n_classes, 1.0f / count);
    CHECK(net_backward(r, dl, p, gr, &err) == 0, "%s", err.msg);
    CHECK(net_backward(d, dl, p, gd, &err) == 0, "%s", err.msg);
    for (int li = 0; li < m.n_layers; li++) {
        const layer_spec *l = &m.layers[li];
        if (!l->param_count) continue;
        /* per tensor: tolerance relative to the tensor's largest gradient */
        double gmax = 0;
        for (long k = 0; k < l->param_count; k++) gmax = fmax(gmax, fabs(gr[l->param_offset + k]));
        double atol = (prec == NET_PRECISION_BF16 ? 3e-2 : 2e-4) * gmax;
        char name[96];
        snprintf(name, sizeof name, "%s %s.weight grad", what, l->name);
        if (prec == NET_PRECISION_BF16) {
            /* bf16 keeps 8 bits of mantissa and flips ReLU masks near 0: a loose whole-tensor check (accuracy is measured by training runs) */
            double num = 0, den = 0;
            for (long k = 0; k < l->param_count; k++) {
                double e = gd[l->param_offset + k] - gr[l->param_offset + k];
                num += e * e, den += (double)gr[l->param_offset + k] * gr[l->param_offset + k];
            }
            CHECK(sqrt(num / den) < 0.3, "%s: relative error %.3g", name, sqrt(num / den));
            continue;
        }
        CHECK(test_close(name, gd + l->param_offset, gr + l->param_offset, l->param_count, atol, 1e-3),
              "%s", name);
    }
    net_free(r);
    net_free(d);
    free(x), free(p), free(gr), free(gd), free(lr_), free(ld), free(dl), free(y);
}

int main(void) {
    gradcheck(odd_model, "odd model");
    gradcheck("input 2 6 6\nconv c 3\nrelu\nmaxpool 2\nflatten\nlinear f 5\n", "small model");
    compare(seed_model, "vgg-seed direct", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 8, 8);
    compare(seed_model, "vgg-seed winograd", CONV_ALGO_WINOGRAD, NET_PRECISION_FP32, 8, 8);
    compare(seed_model, "vgg-seed auto", CONV_ALGO_AUTO, NET_PRECISION_FP32, 8, 8);
    compare(seed_model, "vgg-seed partial batch", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 8, 5);
    compare(seed_model, "vgg-seed bf16", CONV_ALGO_DIRECT, NET_PRECISION_BF16, 8, 8);
    compare(seed_model, "vgg-seed bf16 auto (per-layer precision)", CONV_ALGO_AUTO, NET_PRECISION_BF16, 8, 8);
    compare(odd_model, "odd model", CONV_ALGO_DIRECT, NET_PRECISION_FP32, 6, 6);
    compare(odd_model, "odd model partial", CONV_ALGO_AUTO, NET_PRECISION_FP32, 6, 2);
    return test_summary("test_net");
}
