/* optim/loss.c: cross-entropy with PyTorch's semantics (label smoothing
 * included), the gradient clippings of torch.nn.utils, and the finiteness
 * check of gradients and weights (lrlab/optim.h). */
#include "lrlab/optim.h"

#include <math.h>

double loss_cross_entropy(float *dlogits, long *correct, const float *logits, const int *labels,
                          int n, int classes, float grad_scale, double label_smoothing) {
    double total = 0.0, eps = label_smoothing, off = eps / classes;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (long)i * classes;
        int arg = 0;
        for (int k = 1; k < classes; k++)
            if (z[k] > z[arg]) arg = k;
        float zmax = z[arg];
        double sum = 0.0, zsum = 0.0;
        for (int k = 0; k < classes; k++) sum += exp((double)z[k] - zmax), zsum += z[k];
        double lse = zmax + log(sum);
        /* (1 - eps) * -log p[y] + (eps / C) * -sum_k log p[k], torch 1.13's cross_entropy_loss_label_smoothing */
        double nll = lse - z[labels[i]];
        total += eps > 0 ? (1 - eps) * nll + off * (classes * lse - zsum) : nll;
        if (arg == labels[i]) (*correct)++;
        if (!dlogits) continue;
        for (int k = 0; k < classes; k++) {
            double p = exp((double)z[k] - lse), target = (k == labels[i]) * (1 - eps) + off;
            dlogits[(long)i * classes + k] = (float)((p - target) * grad_scale);
        }
    }
    return total;
}

/* torch.norm of a float tensor: float; its square root taken of a double sum */
static float norm2(const float *x, long n) {
    double s = 0.0;
    for (long i = 0; i < n; i++) s += (double)x[i] * x[i];
    return (float)sqrt(s);
}

float grad_total_norm(const float *g, const long *counts, int n_tensors, int inf) {
    float total = 0.0f;
    if (inf) { /* torch.max(torch.stack([g.abs().max() for g in grads])) */
        long n = 0;
        for (int t = 0; t < n_tensors; t++) n += counts[t];
        for (long i = 0; i < n; i++)
            if (!(fabsf(g[i]) <= total)) total = fabsf(g[i]); /* NaN propagates, as torch's max */
        return total;
    }
    /* torch.norm(torch.stack([torch.norm(g) for g in grads])) */
    double s = 0.0;
    for (int t = 0; t < n_tensors; g += counts[t], t++) {
        float nt = norm2(g, counts[t]);
        s += (double)nt * nt;
    }
    return (float)sqrt(s);
}

void clip_grad_norm(float *g, long n, double max_norm, float total_norm) {
    /* clip_coef = max_norm / (total_norm + 1e-6): a float tensor op, Python's float / tensor being
     * reciprocal() * max_norm; then clamp(max=1.0) and g.mul_(coef), always (a multiply by 1 is exact) */
    float denom = total_norm + 1e-6f;
    float coef = (1.0f / denom) * (float)max_norm;
    if (coef > 1.0f) coef = 1.0f;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) g[i] *= coef;
}

void clip_grad_value(float *g, long n, double clip_value) {
    float hi = (float)clip_value, lo = (float)-clip_value; /* clamp_(min=-v, max=v): NaN stays NaN */
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) g[i] = g[i] < lo ? lo : g[i] > hi ? hi : g[i];
}

float loss_grad_scale(const loss_options *o, long total) { return o->sum ? 1.0f : 1.0f / (float)total; }

void grad_clip(const loss_options *o, float *g, long n, float norm) {
    if (o->clip_norm > 0) clip_grad_norm(g, n, o->clip_norm, norm);
    if (o->clip_value > 0) clip_grad_value(g, n, o->clip_value);
}

int all_finite(const float *x, long n) {
    int ok = 1;
#pragma omp parallel for reduction(&& : ok) schedule(static)
    for (long i = 0; i < n; i++) ok = ok && isfinite(x[i]);
    return ok;
}
