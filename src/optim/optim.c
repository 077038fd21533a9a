/* optim/optim.c: the optimiser kinds (lrlab/optim.h): their state and
 * their step, each written as torch 1.13's _single_tensor_<kind> in
 * torch/optim/<kind>.py, one element at a time, with the same float
 * operations in the same order. The rules of that translation:
 *   - Python scalar arithmetic (1 - beta1, lr / bias_correction1,
 *     beta2 ** step, math.sqrt) is done in double, as Python does, and the
 *     result rounded to float where it enters an ATen op on a float tensor
 *     (ATen casts a Scalar to the tensor's type);
 *   - t.add_(x, alpha=a) is t + a*x; addcmul_(x, y, value=v) is
 *     t + v*x*y; addcdiv_(x, y, value=v) is t + v*x/y (ATen's kernels);
 *   - 0-dim float32 state tensors (NAdam's mu_product, ASGD's eta and mu)
 *     are kept as float values (in doubles, for checkpoints).
 * ATen's AVX2 kernels may fuse a multiply-add where C11 rounds twice, so a
 * step agrees with torch to a few float ulps, not bit for bit
 * (tests/test_optim.c states the tolerance).
 * Not here: parsing (optim/parse.c), the loss (optim/loss.c). */
#include "lrlab/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *tensors[OPTIM_MAX_TENSORS + 1]; /* per-parameter state tensors, NULL-terminated */
    const char *scalars[OPTIM_MAX_SCALARS + 1]; /* per-parameter scalars, the same for every parameter */
    const char *cycled;                         /* "momentum", "beta1" or NULL (optim.h) */
} kind_spec;

/* Scalars named "*_started" say whether torch has created that state yet
 * (SGD's momentum_buffer appears at the first step whose momentum is
 * non-zero; RMSprop's at the first step when momentum > 0 then). */
static const kind_spec kinds[OPTIM_KINDS] = {
    [OPTIM_SGD] = {"SGD", {"momentum_buffer"}, {"momentum_started"}, "momentum"},
    [OPTIM_ADAM] = {"Adam", {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, {"step"}, "beta1"},
    [OPTIM_ADAMW] = {"AdamW", {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, {"step"}, "beta1"},
    [OPTIM_RMSPROP] = {"RMSprop", {"square_avg", "momentum_buffer", "grad_avg"}, {"step", "momentum_started"},
                       "momentum"},
    [OPTIM_ADAGRAD] = {"Adagrad", {"sum"}, {"step"}, NULL},
    [OPTIM_ADADELTA] = {"Adadelta", {"square_avg", "acc_delta"}, {"step"}, NULL},
    [OPTIM_ADAMAX] = {"Adamax", {"exp_avg", "exp_inf"}, {"step"}, "beta1"},
    [OPTIM_NADAM] = {"NAdam", {"exp_avg", "exp_avg_sq"}, {"step", "mu_product"}, "beta1"},
    [OPTIM_RADAM] = {"RAdam", {"exp_avg", "exp_avg_sq"}, {"step"}, "beta1"},
    [OPTIM_ASGD] = {"ASGD", {"ax"}, {"step", "eta", "mu"}, NULL},
    [OPTIM_RPROP] = {"Rprop", {"prev", "step_size"}, {"step"}, NULL},
};

static int count(const char *const *names, int max) {
    int n = 0;
    while (n < max && names[n]) n++;
    return n;
}

const char *optim_name(optim_kind k) { return (unsigned)k < OPTIM_KINDS ? kinds[k].name : NULL; }
int optim_n_tensors(optim_kind k) { return count(kinds[k].tensors, OPTIM_MAX_TENSORS); }
const char *optim_tensor_name(optim_kind k, int i) { return kinds[k].tensors[i]; }
int optim_n_scalars(optim_kind k) { return count(kinds[k].scalars, OPTIM_MAX_SCALARS); }
const char *optim_scalar_name(optim_kind k, int i) { return kinds[k].scalars[i]; }
const char *optim_cycled_key(optim_kind k) { return kinds[k].cycled; }

int optim_find(const char *name, int len) {
    for (int k = 0; k < OPTIM_KINDS; k++)
        if ((int)strlen(kinds[k].name) == len && !memcmp(kinds[k].name, name, (size_t)len)) return k;
    return -1;
}

double optim_cycled_value(const optim_params *hp) {
    const char *key = kinds[hp->kind].cycled;
    return !key ? 0.0 : !strcmp(key, "momentum") ? hp->momentum : hp->beta1;
}

void optim_set_cycled(optim_params *hp, double v) {
    const char *key = kinds[hp->kind].cycled;
    if (key && !strcmp(key, "momentum")) hp->momentum = v;
    else if (key) hp->beta1 = v;
}

/* ---- state ---- */

int optim_state_init(optim_state *o, const optim_params *hp, long n, lr_error *err) {
    memset(o, 0, sizeof *o);
    o->kind = hp->kind, o->n = n;
    o->n_tensors = optim_n_tensors(hp->kind), o->n_scalars = optim_n_scalars(hp->kind);
    for (int i = 0; i < o->n_tensors; i++)
        if (!(o->t[i] = lr_calloc((size_t)n, sizeof(float), kinds[hp->kind].tensors[i], err))) return -1;
    long all[2] = {0, n};
    optim_group_init(o, 0, all, 1, hp);
    return 0;
}

void optim_group_init(optim_state *o, int g, const long *ranges, int n_ranges, const optim_params *hp) {
    /* torch's initial values: Adagrad's sum = initial_accumulator_value (full_like, a float);
     * NAdam's mu_product = 1; ASGD's eta = lr and mu = 1 (torch.tensor: float32); Rprop's
     * step_size = lr (fill_). Zeros otherwise. */
    for (int r = 0; r < n_ranges; r++) {
        long off = ranges[2 * r], n = ranges[2 * r + 1];
        if (hp->kind == OPTIM_ADAGRAD)
            for (long i = 0; i < n; i++) o->t[0][off + i] = (float)hp->initial_accumulator_value;
        if (hp->kind == OPTIM_RPROP)
            for (long i = 0; i < n; i++) o->t[1][off + i] = (float)hp->lr;
    }
    double *s = o->s + g * OPTIM_MAX_SCALARS;
    memset(s, 0, OPTIM_MAX_SCALARS * sizeof *s);
    if (hp->kind == OPTIM_NADAM) s[1] = 1.0;
    if (hp->kind == OPTIM_ASGD) s[1] = (float)hp->lr, s[2] = 1.0;
    if (g >= o->n_groups) o->n_groups = g + 1;
}

int optim_step_group(optim_state *o, int g, const long *ranges, int n_ranges, float *params, const float *grads,
                     const optim_params *hp, lr_error *err) {
    double *s = o->s + g * OPTIM_MAX_SCALARS;
    optim_state v = *o; /* a view of each range, with the group's scalars as they were before the step */
    for (int r = 0; r < n_ranges; r++) {
        long off = ranges[2 * r];
        v.n = ranges[2 * r + 1];
        for (int i = 0; i < o->n_tensors; i++) v.t[i] = o->t[i] + off;
        memcpy(v.s, s, OPTIM_MAX_SCALARS * sizeof *s);
        if (optim_step(&v, params + off, grads + off, hp, err)) return -1;
    }
    if (n_ranges) memcpy(s, v.s, OPTIM_MAX_SCALARS * sizeof *s);
    return 0;
}

void optim_state_free(optim_state *o) {
    for (int i = 0; i < OPTIM_MAX_TENSORS; i++) free(o->t[i]);
    memset(o, 0, sizeof *o);
}

/* ---- the steps: each torch/optim/<kind>.py's _single_tensor_<kind> ---- */

/* grad, negated with maximize, plus weight_decay * param (grad.add(param, alpha=wd)) */
static inline float grad_of(const float *g, const float *p, long i, int maximize, float wd) {
    float d = maximize ? -g[i] : g[i];
    return wd != 0.0f ? d + wd * p[i] : d;
}

static void sgd(optim_state *o, float *p, const float *g, const optim_params *hp) {
    const float lr = (float)hp->lr, mom = (float)hp->momentum, damp = (float)(1.0 - hp->dampening),
                wd = (float)hp->weight_decay;
    const int nesterov = hp->nesterov, maximize = hp->maximize, first = o->s[0] == 0.0;
    float *buf = o->t[0];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        float d = grad_of(g, p, i, maximize, wd);
        if (mom != 0.0f) {
            float b = first ? d : mom * buf[i] + damp * d; /* the first buffer is torch.clone(d_p) */
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[i] = p[i] - lr * d;
    }
    if (mom != 0.0f) o->s[0] = 1.0;
}

/* Adam and AdamW (adam.py, adamw.py; capturable=False): AdamW decays the
 * parameter (param.mul_(1 - lr * wd)) where Adam adds wd * param to grad. */
static void adam(optim_state *o, float *p, const float *g, const optim_params *hp, int decoupled) {
    const double step = o->s[0] += 1;
    const double bc1 = 1 - pow(hp->beta1, step), bc2 = 1 - pow(hp->beta2, step);
    const float b1 = (float)hp->beta1, c1 = (float)(1 - hp->beta1), b2 = (float)hp->beta2,
                c2 = (float)(1 - hp->beta2), eps = (float)hp->eps, bc2_sqrt = (float)sqrt(bc2),
                neg_step = (float)-(hp->lr / bc1), decay = (float)(1 - hp->lr * hp->weight_decay),
                wd = decoupled ? 0.0f : (float)hp->weight_decay;
    const int amsgrad = hp->amsgrad, maximize = hp->maximize;
    float *m = o->t[0], *v = o->t[1], *vmax = o->t[2];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        if (decoupled) p[i] = p[i] * decay;
        float d = grad_of(g, p, i, maximize, wd);
        m[i] = m[i] * b1 + c1 * d;
        v[i] = v[i] * b2 + c2 * d * d;
        float s = v[i];
        if (amsgrad) s = vmax[i] = fmaxf(vmax[i], v[i]);
        float denom = sqrtf(s) / bc2_sqrt + eps;
        p[i] = p[i] + neg_step * m[i] / denom;
    }
}

static int rmsprop(optim_state *o, float *p, const float *g, const optim_params *hp, lr_error *err) {
    /* the momentum buffer exists when momentum > 0 at the first step (rmsprop.py's state init) */
    if (o->s[0] == 0 && hp->momentum > 0) o->s[1] = 1;
    if (hp->momentum > 0 && o->s[1] == 0)
        return lr_fail(err, "RMSprop: momentum is %g after a first step without momentum: PyTorch 1.13 has no "
                            "momentum_buffer then (KeyError)", hp->momentum);
    o->s[0] += 1;
    const float alpha = (float)hp->alpha, c = (float)(1 - hp->alpha), eps = (float)hp->eps,
                wd = (float)hp->weight_decay, mom = (float)hp->momentum, lr = (float)hp->lr,
                neg_lr = (float)-hp->lr;
    const int centered = hp->centered, maximize = hp->maximize, use_mom = hp->momentum > 0;
    float *sq = o->t[0], *buf = o->t[1], *ga = o->t[2];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        float d = grad_of(g, p, i, maximize, wd);
        sq[i] = sq[i] * alpha + c * d * d;
        float avg;
        if (centered) {
            ga[i] = ga[i] * alpha + c * d;
            avg = sqrtf(sq[i] + -1.0f * ga[i] * ga[i]);
        } else {
            avg = sqrtf(sq[i]);
        }
        avg = avg + eps;
        if (use_mom) {
            buf[i] = buf[i] * mom + 1.0f * d / avg;
            p[i] = p[i] + -lr * buf[i];
        } else {
            p[i] = p[i] + neg_lr * d / avg;
        }
    }
    (void)lr;
    return 0;
}

static void adagrad(optim_state *o, float *p, const float *g, const optim_params *hp) {
    const double step = o->s[0] += 1;
    const float neg_clr = (float)-(hp->lr / (1 + (step - 1) * hp->lr_decay)), eps = (float)hp->eps,
                wd = (float)hp->weight_decay;
    const int maximize = hp->maximize;
    float *sum = o->t[0];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        float d = grad_of(g, p, i, maximize, wd);
        sum[i] = sum[i] + 1.0f * d * d;
        float std = sqrtf(sum[i]) + eps;
        p[i] = p[i] + neg_clr * d / std;
    }
}

static void adadelta(optim_state *o, float *p, const float *g, const optim_params *hp) {
    o->s[0] += 1;
    const float rho = (float)hp->rho, c = (float)(1 - hp->rho), eps = (float)hp->eps, wd = (float)hp->weight_decay,
                neg_lr = (float)-hp->lr;
    const int maximize = hp->maximize;
    float *sq = o->t[0], *acc = o->t[1];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        float d = grad_of(g, p, i, maximize, wd);
        sq[i] = sq[i] * rho + c * d * d;
        float std = sqrtf(sq[i] + eps);
        float delta = sqrtf(acc[i] + eps) / std * d;
        acc[i] = acc[i] * rho + c * delta * delta;
        p[i] = p[i] + neg_lr * delta;
    }
}

static void adamax(optim_state *o, float *p, const float *g, const optim_params *hp) {
    const double step = o->s[0] += 1;
    const float b1 = (float)hp->beta1, c1 = (float)(1 - hp->beta1), b2 = (float)hp->beta2, eps = (float)hp->eps,
                wd = (float)hp->weight_decay, neg_clr = (float)-(hp->lr / (1 - pow(hp->beta1, step)));
    const int maximize = hp->maximize;
    float *m = o->t[0], *u = o->t[1];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        float d = grad_of(g, p, i, maximize, wd);
        m[i] = m[i] * b1 + c1 * d;
        /* torch.amax over cat([exp_inf * beta2, |grad| + eps]): NaN wins */
        float a = u[i] * b2, b = fabsf(d) + eps;
        u[i] = isnan(a) || a > b ? a : b;
        p[i] = p[i] + neg_clr * m[i] / u[i];
    }
}

static void nadam(optim_state *o, float *p, const float *g, const optim_params *hp) {
    const double step = o->s[0] += 1;
    const double bc2 = 1 - pow(hp->beta2, step);
    const double mu = hp->beta1 * (1. - 0.5 * pow(0.96, step * hp->momentum_decay));
    const double mu_next = hp->beta1 * (1. - 0.5 * pow(0.96, (step + 1) * hp->momentum_decay));
    /* mu_product is a float32 0-dim tensor: mu_product *= mu; mu_product * mu * mu_next */
    const float mu_product = (float)o->s[1] * (float)mu;
    const float mu_product_next = mu_product * (float)mu * (float)mu_next;
    o->s[1] = mu_product;
    const float b1 = (float)hp->beta1, c1 = (float)(1 - hp->beta1), b2 = (float)hp->beta2,
                c2 = (float)(1 - hp->beta2), eps = (float)hp->eps, wd = (float)hp->weight_decay, fbc2 = (float)bc2,
                v_grad = (float)(-hp->lr * (1. - mu) / (1. - (double)mu_product)),
                v_avg = (float)(-hp->lr * mu_next / (1. - (double)mu_product_next));
    float *m = o->t[0], *v = o->t[1];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        float d = grad_of(g, p, i, 0, wd); /* NAdam has no maximize in 1.13 */
        m[i] = m[i] * b1 + c1 * d;
        v[i] = v[i] * b2 + c2 * d * d;
        float denom = sqrtf(v[i] / fbc2) + eps;
        p[i] = p[i] + v_grad * d / denom;
        p[i] = p[i] + v_avg * m[i] / denom;
    }
}

static void radam(optim_state *o, float *p, const float *g, const optim_params *hp) {
    const double step = o->s[0] += 1;
    const double bc1 = 1 - pow(hp->beta1, step), bc2 = 1 - pow(hp->beta2, step);
    const double rho_inf = 2 / (1 - hp->beta2) - 1;
    const double rho_t = rho_inf - 2 * step * pow(hp->beta2, step) / bc2;
    const int rectify = rho_t > 5.;
    const double rect =
        rectify ? sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) : 0;
    const float b1 = (float)hp->beta1, c1 = (float)(1 - hp->beta1), b2 = (float)hp->beta2,
                c2 = (float)(1 - hp->beta2), eps = (float)hp->eps, wd = (float)hp->weight_decay, fbc1 = (float)bc1,
                lr = (float)hp->lr, frect = (float)rect, bc2_sqrt = (float)sqrt(bc2);
    float *m = o->t[0], *v = o->t[1];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        float d = grad_of(g, p, i, 0, wd); /* RAdam has no maximize in 1.13 */
        m[i] = m[i] * b1 + c1 * d;
        v[i] = v[i] * b2 + c2 * d * d;
        float corrected = m[i] / fbc1;
        if (rectify) {
            /* math.sqrt(bc2) / tensor is Tensor.__rtruediv__: tensor.reciprocal() * scalar */
            float adaptive = 1.0f / (sqrtf(v[i]) + eps) * bc2_sqrt;
            p[i] = p[i] + -1.0f * (corrected * lr * adaptive * frect);
        } else {
            p[i] = p[i] + -1.0f * (corrected * lr);
        }
    }
}

static void asgd(optim_state *o, float *p, const float *g, const optim_params *hp) {
    const double step = o->s[0] += 1, eta = o->s[1], mu = o->s[2];
    const float decay = (float)(1 - hp->lambd * eta), neg_eta = (float)-eta, fmu = (float)mu,
                wd = (float)hp->weight_decay;
    const int maximize = hp->maximize, average = mu != 1;
    float *ax = o->t[0];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        float d = grad_of(g, p, i, maximize, wd);
        p[i] = p[i] * decay;
        p[i] = p[i] + neg_eta * d;
        ax[i] = average ? ax[i] + (p[i] - ax[i]) * fmu : p[i];
    }
    /* new eta and mu: torch.tensor(python float), float32 */
    o->s[1] = (float)(hp->lr / pow(1 + hp->lambd * hp->lr * step, hp->alpha));
    o->s[2] = (float)(1 / fmax(1, step - hp->t0));
}

static void rprop(optim_state *o, float *p, const float *g, const optim_params *hp) {
    o->s[0] += 1;
    const float etaminus = (float)hp->etaminus, etaplus = (float)hp->etaplus, lo = (float)hp->step_size_min,
                hi = (float)hp->step_size_max;
    const int maximize = hp->maximize;
    float *prev = o->t[0], *size = o->t[1];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < o->n; i++) {
        float d = maximize ? -g[i] : g[i], s = d * prev[i];
        float f = s > 0 ? etaplus : s < 0 ? etaminus : 1.0f; /* NaN: sign NaN, none of the three masks */
        if (isnan(s)) f = s;
        float z = size[i] * f;
        size[i] = isnan(z) ? z : z < lo ? lo : z > hi ? hi : z; /* clamp_ keeps NaN */
        if (f == etaminus) d = 0.0f;
        float sign = d > 0 ? 1.0f : d < 0 ? -1.0f : d; /* sign(0) = 0, sign(NaN) = NaN */
        p[i] = p[i] + -1.0f * sign * size[i];
        prev[i] = d;
    }
}

int optim_step(optim_state *o, float *params, const float *grads, const optim_params *hp, lr_error *err) {
    if (hp->kind != o->kind) return lr_fail(err, "optimiser %s stepped with %s's settings", optim_name(o->kind),
                                            optim_name(hp->kind));
    switch (o->kind) {
    case OPTIM_SGD: sgd(o, params, grads, hp); return 0;
    case OPTIM_ADAM: adam(o, params, grads, hp, 0); return 0;
    case OPTIM_ADAMW: adam(o, params, grads, hp, 1); return 0;
    case OPTIM_RMSPROP: return rmsprop(o, params, grads, hp, err);
    case OPTIM_ADAGRAD: adagrad(o, params, grads, hp); return 0;
    case OPTIM_ADADELTA: adadelta(o, params, grads, hp); return 0;
    case OPTIM_ADAMAX: adamax(o, params, grads, hp); return 0;
    case OPTIM_NADAM: nadam(o, params, grads, hp); return 0;
    case OPTIM_RADAM: radam(o, params, grads, hp); return 0;
    case OPTIM_ASGD: asgd(o, params, grads, hp); return 0;
    case OPTIM_RPROP: rprop(o, params, grads, hp); return 0;
    default: return lr_fail(err, "optimiser kind %d unknown", (int)o->kind);
    }
}
