/* optim/loss.c: cross-entropy with PyTorch's semantics, and the finiteness
 * check of gradients and weights (lrlab/optim.h). */
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

int all_finite(const float *x, long n) {
    int ok = 1;
#pragma omp parallel for reduction(&& : ok) schedule(static)
    for (long i = 0; i < n; i++) ok = ok && isfinite(x[i]);
    return ok;
}
