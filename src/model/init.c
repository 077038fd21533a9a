/* model/init.c: parameters and buffers as PyTorch's modules create them,
 * drawn from lrlab's own init stream (the values are not PyTorch's draws;
 * the distributions are). */
#include <math.h>
#include <string.h>

#include "lrlab/model.h"
#include "lrlab/rng.h"

static void uniform(lr_rng *r, float *x, long n, double bound) {
    for (long i = 0; i < n; i++) x[i] = (float)((2.0 * rng_uniform(r) - 1.0) * bound);
}

/* N(0, std) by Box-Muller, one value per pair of uniforms. */
static void normal(lr_rng *r, float *x, long n, double std) {
    for (long i = 0; i < n; i++) {
        double u1 = 1.0 - rng_uniform(r), u2 = rng_uniform(r);
        x[i] = (float)(std * sqrt(-2.0 * log(u1)) * cos(2.0 * 3.141592653589793 * u2));
    }
}

/* torch.nn.init.dirac_ on the first min(out, in) output channels (as
 * airbench: dirac_(w[:w.size(1)])); the other channels keep their init. */
static void dirac(float *w, const int *shape) {
    int out = shape[0], in = shape[1], k = shape[2], n = out < in ? out : in;
    long per = (long)in * k * k;
    memset(w, 0, (size_t)n * per * sizeof(float));
    for (int i = 0; i < n; i++) w[(long)i * per + ((long)i * k + k / 2) * k + k / 2] = 1.0f;
}

void model_init_params(const model_spec *m, float *params, uint64_t seed) {
    lr_rng r;
    rng_init(&r, seed, RNG_STREAM_INIT, 0);
    for (int i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        const layer_spec *l = &m->layers[t->layer];
        if (t->buffer) continue;
        float *x = params + t->offset;
        if (l->kind == LAYER_BATCHNORM) { /* weight 1, bias 0 */
            for (long j = 0; j < t->count; j++) x[j] = t->role == TENSOR_WEIGHT ? 1.0f : 0.0f;
            continue;
        }
        /* conv, linear: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)); the bias the same bound */
        long fan_in = m->tensors[l->tensor0].count / l->shape[0]; /* the weight's in * k * k */
        double bound = 1.0 / sqrt((double)fan_in);
        if (t->role == TENSOR_BIAS && l->zero_bias) memset(x, 0, (size_t)t->count * sizeof(float));
        else if (t->role == TENSOR_WEIGHT && l->init == INIT_KAIMING_NORMAL) normal(&r, x, t->count, sqrt(2.0 / fan_in));
        else uniform(&r, x, t->count, bound);
        if (t->role == TENSOR_WEIGHT && l->init == INIT_DIRAC) dirac(x, t->shape);
    }
}

void model_init_buffers(const model_spec *m, float *buffers) {
    for (int i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (!t->buffer) continue;
        for (long j = 0; j < t->count; j++) buffers[t->offset + j] = t->role == TENSOR_RUNNING_VAR ? 1.0f : 0.0f;
    }
}
