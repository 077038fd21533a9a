/* train/optim.c: cross-entropy and SGD with PyTorch's semantics (optim.h). */
#include "lrlab/optim.h"

#include <math.h>

double loss_cross_entropy(float *dlogits, long *correct, const float *logits, const int *labels,
                          int n, int classes, float grad_scale) {
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (long)i * classes;
        int arg = 0;
        for (int k = 1; k < classes; k++)
            if (z[k] > z[arg]) arg = k;
        float zmax = z[arg];
        double sum = 0.0;
        for (int k = 0; k < classes; k++) sum += exp((double)z[k] - zmax);
        double lse = zmax + log(sum);
        total += lse - z[labels[i]];
        if (arg == labels[i]) (*correct)++;
        if (!dlogits) continue;
        for (int k = 0; k < classes; k++) {
            double p = exp((double)z[k] - lse);
            dlogits[(long)i * classes + k] = (float)((p - (k == labels[i])) * grad_scale);
        }
    }
    return total;
}

int sgd_step(float *params, float *buf, const float *grads, long n, const sgd_params *hp, int has_buf) {
    /* the scalars as ATen sees them: alpha = 1 - dampening in double, then float */
    const float lr = (float)hp->lr, mom = (float)hp->momentum, damp = (float)(1.0 - hp->dampening),
                wd = (float)hp->weight_decay;
    const int nesterov = hp->nesterov, first = !has_buf;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float d = grads[i];
        if (wd != 0.0f) d = d + wd * params[i];
        if (mom != 0.0f) {
            float b = first ? d : mom * buf[i] + damp * d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        params[i] = params[i] - lr * d;
    }
    return has_buf || mom != 0.0f;
}

int all_finite(const float *x, long n) {
    int ok = 1;
#pragma omp parallel for reduction(&& : ok) schedule(static)
    for (long i = 0; i < n; i++) ok = ok && isfinite(x[i]);
    return ok;
}
