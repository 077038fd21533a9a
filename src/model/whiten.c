/* model/whiten.c: the data-dependent whitening init of a conv layer
 * (lrlab/model.h, model_whiten_conv): patch covariance in double, its
 * eigendecomposition (core/linalg.c), the scaled eigenvectors and their
 * negatives as filters. Not here: which images (train/setup.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/linalg.h"
#include "lrlab/model.h"

/* cov += the outer products of every k x k patch of one C x H x W image */
static void add_patches(double *cov, const float *img, int C, int H, int W, int k, double *patch) {
    int d = C * k * k;
    for (int y = 0; y + k <= H; y++)
        for (int x = 0; x + k <= W; x++) {
            for (int c = 0, i = 0; c < C; c++)
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++) patch[i++] = img[((size_t)c * H + y + dy) * W + x + dx];
            for (int i = 0; i < d; i++)
                for (int j = i; j < d; j++) cov[i * d + j] += patch[i] * patch[j];
        }
}

int model_whiten_conv(const model_spec *m, float *params, const char *layer, const float *x, int n, double eps,
                      lr_error *err) {
    int li = model_find_layer(m, layer, m->n_layers);
    if (li < 0) return lr_fail(err, "--whiten: no layer '%s' in model '%s'", layer, m->name);
    const layer_spec *l = &m->layers[li];
    int C = l->in_c, k = l->u.conv.k, d = C * k * k;
    if (l->kind != LAYER_CONV || l->u.conv.out_c != 2 * d)
        return lr_fail(err, "--whiten: layer '%s' must be a conv with 2 x in_channels x k x k outputs (%d for its "
                            "input of %d channels, k %d)", layer, 2 * d, C, l->kind == LAYER_CONV ? k : 0);
    if (l->in[0] != MODEL_INPUT) /* the patches are the images' (and x holds images) */
        return lr_fail(err, "--whiten: layer '%s' reads layer %d, not the network's input (expected the conv that "
                            "reads the images: its filters come from their patches)", layer, l->in[0] + 1);
    if (n < 1 || l->in_h < k || l->in_w < k) return lr_fail(err, "--whiten: no %dx%d patches to whiten with", k, k);
    double *cov = calloc((size_t)d * d * 3 + d, sizeof(double));
    if (!cov) return lr_fail(err, "--whiten: out of memory");
    double *w = cov + (size_t)d * d, *v = w + d, *patch = v + (size_t)d * d;
    size_t img = (size_t)C * l->in_h * l->in_w;
    for (int i = 0; i < n; i++) add_patches(cov, x + i * img, C, l->in_h, l->in_w, k, patch);
    double count = (double)n * (l->in_h - k + 1) * (l->in_w - k + 1);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) cov[i * d + j] = cov[j * d + i] = cov[i * d + j] / count;
    int rc = linalg_eigh(cov, d, w, v) < 0 ? lr_fail(err, "--whiten: the patch covariance did not converge") : 0;
    for (int o = 0; !rc && o < d; o++) {
        int e = d - 1 - o; /* largest first */
        if (!(w[e] + eps > 0)) {
            rc = lr_fail(err, "--whiten: layer '%s': eigenvalue %g + eps %g is not positive", layer, w[e], eps);
            break;
        }
        double s = 1 / sqrt(w[e] + eps);
        float *f = params + l->param_offset + (size_t)o * d, *g = f + (size_t)d * d;
        for (int i = 0; i < d; i++) f[i] = (float)(v[i * d + e] * s), g[i] = -f[i];
    }
    free(cov);
    return rc;
}
