/* sched/sched.c: every scheduler of torch.optim.lr_scheduler (PyTorch 1.13)
 * and GradualWarmupScheduler's intended meaning, as a tagged union with
 * state, stepped exactly as PyTorch steps them.
 *
 * PyTorch's schedulers share one optimiser param group and most of them are
 * "chainable": each step multiplies the group's current lr (ExponentialLR:
 * lr * gamma; CosineAnnealingLR: a ratio of cosines). Nested schedulers
 * (SequentialLR, ChainedScheduler) interact through that shared group, and
 * SequentialLR's constructor resets and re-steps them. To give PyTorch's
 * numbers, including its quirks, this file simulates that object model: a
 * group {lr, initial_lr, momentum, OneCycleLR's keys}, and per scheduler
 * PyTorch's own fields (last_epoch, _step_count, base_lrs, ...), with
 * __init__, step(), step(0) and get_lr() transcribed from
 * torch/optim/lr_scheduler.py in the same order of float operations.
 *
 * Not here: the syntax (expr.c), training, files, printing. */
#include "lrlab/sched.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/expr.h"

#define INT_ARG_MAX 1000000000000000L /* 1e15: larger ints are refused (t stays exact in a double) */
#define STATE_MAGIC 5.3e7             /* first double of a saved state */
#define MAX_NODES 256 /* keeps a saved state under the checkpoint's 4096 doubles */
#define COVER_MAX_STEPS 5000000L /* longer runs are not rehearsed by sched_parse */
#define PER_STEP_FACTOR 10        /* a cycle this many times the run's epochs looks sized in steps */

static const double PI = 3.141592653589793; /* math.pi */

/* One optimiser param group, as PyTorch's dict: the keys schedulers read and write. */
typedef struct {
    double lr, initial_lr, has_initial_lr, momentum;
    double max_lr, min_lr, max_momentum, base_momentum; /* OneCycleLR's keys */
} sched_group;
#define GROUP_DOUBLES 8

enum sched_kind {
    K_LAMBDA, K_MULTIPLICATIVE, K_STEP, K_MULTISTEP, K_CONSTANT, K_LINEAR, K_EXPONENTIAL,
    K_POLYNOMIAL, K_COSINE, K_WARM_RESTARTS, K_CYCLIC, K_ONECYCLE, K_PLATEAU, K_SEQUENTIAL,
    K_CHAINED, K_WARMUP, K_SWALR,
};

static const char *const kind_names[] = {
    "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
    "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
    "CyclicLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler",
    "GradualWarmupScheduler", "SWALR",
};
#define N_CLASSES 17

enum { CYC_TRIANGULAR, CYC_TRIANGULAR2, CYC_EXP_RANGE };

typedef struct node node;
struct node {
    int kind;
    int pos, len;  /* the call in the expression, for messages */
    sched_group *g; /* borrowed: the group this scheduler drives */
    /* PyTorch's per-scheduler state (all of it is saved) */
    long last_epoch, step_count;
    double base_lr, last_lr;
    double s0, s1, s2; /* kind-specific: T_cur, T_i | best, num_bad_epochs, cooldown_counter */
    union {
        struct { const ast *fn; } lambda; /* LambdaLR, MultiplicativeLR */
        struct { long step_size; double gamma; } step;
        struct { long *milestones; int n; double gamma; } multistep;
        struct { double factor; long total_iters; } constant;
        struct { double start, end; long total_iters; } linear;
        struct { double gamma; } exponential;
        struct { long total_iters; double power; } poly;
        struct { long T_max; double eta_min; } cosine;
        struct { long T_0, T_mult; double eta_min; } restarts;
        struct {
            double base_lr, max_lr, total_size, step_ratio, gamma, base_momentum, max_momentum;
            int mode, scale_by_iterations, cycle_momentum;
            const ast *scale_fn; /* NULL: the mode's own function */
        } cyclic;
        struct {
            double max_lr, div_factor, final_div_factor, base_momentum, max_momentum;
            long total_steps;
            double end_step[3];
            int n_phases, anneal_cos, cycle_momentum;
        } onecycle;
        struct {
            int mode_max, threshold_abs;
            double factor, threshold, min_lr, eps;
            long patience, cooldown;
        } plateau;
        struct { node **kids; int n; long *milestones; } seq; /* SequentialLR, ChainedScheduler */
        /* after: S (NULL: none), run alone on priv, a fresh group whose lr is b*m */
        struct { double multiplier; long total_epoch; node *after; sched_group *priv; } warmup;
        struct { double swa_lr; long anneal_epochs; int cos; } swalr; /* group['swa_lr'] */
    } u;
};

struct lr_sched {
    sched_context ctx;
    char *src; /* a copy of the expression (the syntax tree points into it) */
    expr_arena arena;
    sched_group group; /* the optimiser's one param group */
    node *root;        /* NULL: constant lr */
    long t;
    int needs_metric, cycles_momentum;
    node *nodes[MAX_NODES]; /* every node, pre-order, for state save/load */
    int n_nodes;
    sched_group *groups[MAX_NODES]; /* the shared group, then each warmup's own */
    int n_groups;
    double *scratch; /* a saved state, to undo a step that fails half-way */
    char warning[400]; /* sched_warning(): "" when none */
};

static int fail_at(expr_error *e, int pos, int len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int fail_at(expr_error *e, int pos, int len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->pos = pos;
    e->len = len;
    return -1;
}

/* The shortest %g that reads back as v, as Python's repr of a float. */
static void py_repr(char *out, size_t cap, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

/* Python's % for a positive modulus. */
static long py_mod(long a, long m) {
    long r = a % m;
    return r < 0 ? r + m : r;
}

static void node_free(node *n) {
    if (!n) return;
    if (n->kind == K_MULTISTEP) free(n->u.multistep.milestones);
    if (n->kind == K_SEQUENTIAL || n->kind == K_CHAINED) {
        for (int i = 0; i < n->u.seq.n; i++) node_free(n->u.seq.kids[i]);
        free(n->u.seq.kids);
        free(n->u.seq.milestones);
    }
    if (n->kind == K_WARMUP) {
        node_free(n->u.warmup.after);
        free(n->u.warmup.priv);
    }
    free(n);
}

/* ------------------------------------------------------------------ */
/* Stepping: transcriptions of torch/optim/lr_scheduler.py (1.13)      */
/* ------------------------------------------------------------------ */

static int node_step(node *n, int epoch0, double metric, expr_error *e);

static int eval_fn(const node *n, const ast *fn, double x, double *out, expr_error *e) {
    if (expr_eval(fn, x, out, e) == 0) return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %.400s at %.0f", kind_names[n->kind], e->msg, x);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    return -1;
}

/* Cyclic's scale_fn(x) */
static int cyclic_scale(const node *n, double cycle, double *out, expr_error *e) {
    double x = n->u.cyclic.scale_by_iterations ? (double)n->last_epoch : cycle;
    if (n->u.cyclic.scale_fn) return eval_fn(n, n->u.cyclic.scale_fn, x, out, e);
    switch (n->u.cyclic.mode) {
    case CYC_TRIANGULAR: *out = 1.0; break;
    case CYC_TRIANGULAR2: *out = 1 / pow(2.0, x - 1); break;
    default: *out = pow(n->u.cyclic.gamma, x); break;
    }
    if (!isfinite(*out))
        return fail_at(e, n->pos, n->len, "CyclicLR: the scale factor overflows at step %ld (PyTorch raises OverflowError)",
                       n->last_epoch);
    return 0;
}

static double anneal(int cos_strategy, double start, double end, double pct) {
    if (cos_strategy) {
        double cos_out = cos(PI * pct) + 1;
        return end + (start - end) / 2.0 * cos_out;
    }
    return (end - start) * pct + start;
}

static double group_key(const node *n, int key) {
    switch (key) {
    case 0: return n->g->initial_lr;
    case 1: return n->g->max_lr;
    case 2: return n->g->min_lr;
    case 3: return n->g->max_momentum;
    default: return n->g->base_momentum;
    }
}

/* Python's max(0, min(1, x)) for a float x. */
static double clamp01(double x) { return x > 1 ? 1 : x < 0 ? 0 : x; }

/* SWALR's anneal_func: _cosine_anneal (1 - cos(pi t)) / 2, or _linear_anneal t. */
static double swalr_anneal(const node *n, double t) { return n->u.swalr.cos ? (1 - cos(PI * t)) / 2 : t; }

/* get_lr() of the _LRScheduler subclasses: the chainable form. */
static int get_lr(node *n, double *out, expr_error *e) {
    const double lr = n->g->lr;
    const long t = n->last_epoch;
    double f;
    switch (n->kind) {
    case K_LAMBDA:
        if (eval_fn(n, n->u.lambda.fn, (double)t, &f, e)) return -1;
        *out = n->base_lr * f;
        break;
    case K_MULTIPLICATIVE:
        if (t > 0) {
            if (eval_fn(n, n->u.lambda.fn, (double)t, &f, e)) return -1;
            *out = lr * f;
        } else {
            *out = lr;
        }
        break;
    case K_STEP:
        *out = (t == 0 || t % n->u.step.step_size != 0) ? lr : lr * n->u.step.gamma;
        break;
    case K_MULTISTEP: {
        int count = 0;
        for (int i = 0; i < n->u.multistep.n; i++) count += n->u.multistep.milestones[i] == t;
        *out = count ? lr * pow(n->u.multistep.gamma, (double)count) : lr;
        break;
    }
    case K_CONSTANT:
        if (t == 0) *out = lr * n->u.constant.factor;
        else if (t != n->u.constant.total_iters) *out = lr;
        else *out = lr * (1.0 / n->u.constant.factor);
        break;
    case K_LINEAR: {
        const double s = n->u.linear.start, en = n->u.linear.end;
        const long T = n->u.linear.total_iters;
        if (t == 0) *out = lr * s;
        else if (t > T) *out = lr;
        else {
            double den = (double)T * s + (double)(t - 1) * (en - s);
            if (den == 0.0) return fail_at(e, n->pos, n->len, "LinearLR: division by zero at step %ld (as in PyTorch)", t);
            *out = lr * (1. + (en - s) / den);
        }
        break;
    }
    case K_EXPONENTIAL:
        *out = t == 0 ? lr : lr * n->u.exponential.gamma;
        break;
    case K_POLYNOMIAL: {
        const long T = n->u.poly.total_iters;
        if (t == 0 || t > T) {
            *out = lr;
        } else {
            double decay = pow((1.0 - (double)t / (double)T) / (1.0 - (double)(t - 1) / (double)T), n->u.poly.power);
            *out = lr * decay;
        }
        break;
    }
    case K_COSINE: {
        const long T = n->u.cosine.T_max;
        const double eta = n->u.cosine.eta_min;
        if (t == 0) {
            *out = lr;
        } else if (n->step_count == 1 && t > 0) {
            *out = eta + (n->base_lr - eta) * (1 + cos((double)t * PI / (double)T)) / 2;
        } else if (py_mod(t - 1 - T, 2 * T) == 0) {
            *out = lr + (n->base_lr - eta) * (1 - cos(PI / (double)T)) / 2;
        } else {
            double den = 1 + cos(PI * (double)(t - 1) / (double)T);
            if (den == 0.0) return fail_at(e, n->pos, n->len, "CosineAnnealingLR: division by zero at step %ld", t);
            *out = (1 + cos(PI * (double)t / (double)T)) / den * (lr - eta) + eta;
        }
        break;
    }
    case K_WARM_RESTARTS: {
        const double eta = n->u.restarts.eta_min;
        *out = eta + (n->base_lr - eta) * (1 + cos(PI * n->s0 / n->s1)) / 2;
        break;
    }
    case K_CYCLIC: {
        const double total = n->u.cyclic.total_size, ratio = n->u.cyclic.step_ratio;
        double cycle = floor(1 + (double)t / total);
        double x = 1. + (double)t / total - cycle;
        double sf = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
        double scale;
        if (cyclic_scale(n, cycle, &scale, e)) return -1;
        double base_height = (n->u.cyclic.max_lr - n->base_lr) * sf;
        *out = n->base_lr + base_height * scale;
        if (n->u.cyclic.cycle_momentum) {
            double mh = (n->u.cyclic.max_momentum - n->u.cyclic.base_momentum) * sf;
            n->g->momentum = n->u.cyclic.max_momentum - mh * scale;
        }
        break;
    }
    case K_ONECYCLE: {
        /* phases: {end_step, start_lr, end_lr, start_momentum, end_momentum}, keys as group_key() */
        static const int two[2][4] = {{0, 1, 3, 4}, {1, 2, 4, 3}};
        static const int three[3][4] = {{0, 1, 3, 4}, {1, 0, 4, 3}, {0, 2, 3, 3}};
        const long N = n->u.onecycle.total_steps;
        if (t > N)
            return fail_at(e, n->pos, n->len,
                           "OneCycleLR: Tried to step %ld times. The specified number of total steps is %ld "
                           "(PyTorch raises this ValueError)",
                           t + 1, N);
        double start = 0;
        for (int i = 0; i < n->u.onecycle.n_phases; i++) {
            double end = n->u.onecycle.end_step[i];
            if ((double)t <= end || i == n->u.onecycle.n_phases - 1) {
                const int *k = n->u.onecycle.n_phases == 3 ? three[i] : two[i];
                if (end - start == 0.0)
                    return fail_at(e, n->pos, n->len,
                                   "OneCycleLR: phase %d has zero length (pct_start * total_steps = %g), "
                                   "PyTorch raises ZeroDivisionError",
                                   i + 1, n->u.onecycle.end_step[0] + 1);
                double pct = ((double)t - start) / (end - start);
                *out = anneal(n->u.onecycle.anneal_cos, group_key(n, k[0]), group_key(n, k[1]), pct);
                if (n->u.onecycle.cycle_momentum)
                    n->g->momentum = anneal(n->u.onecycle.anneal_cos, group_key(n, k[2]), group_key(n, k[3]), pct);
                break;
            }
            start = end;
        }
        break;
    }
    case K_SWALR: { /* torch/optim/swa_utils.py: its own step count, recursive in the group's lr */
        const double swa = n->u.swalr.swa_lr;
        const long A = n->u.swalr.anneal_epochs, per = A > 1 ? A : 1;
        long step = n->step_count - 1;
        if (A == 0 && step < 1) step = 1;
        double prev_t = clamp01((double)(step - 1) / (double)per), t1 = clamp01((double)step / (double)per);
        double prev_alpha = swalr_anneal(n, prev_t), alpha = swalr_anneal(n, t1);
        double prev_lr = prev_alpha == 1 ? swa : (lr - prev_alpha * swa) / (1 - prev_alpha); /* _get_initial_lr */
        *out = swa * alpha + prev_lr * (1 - alpha);
        break;
    }
    default:
        return fail_at(e, n->pos, n->len, "internal: get_lr of %s", kind_names[n->kind]);
    }
    if (!isfinite(*out))
        return fail_at(e, n->pos, n->len, "%s: the lr is not finite at step %ld", kind_names[n->kind], t);
    return 0;
}

/* _get_closed_form_lr(), used by step(epoch) (SequentialLR's step(0)). */
static int has_closed_form(int kind) {
    return kind == K_STEP || kind == K_MULTISTEP || kind == K_CONSTANT || kind == K_LINEAR ||
           kind == K_EXPONENTIAL || kind == K_POLYNOMIAL || kind == K_COSINE;
}

static double closed_form_lr(const node *n) {
    const long t = n->last_epoch;
    const double b = n->base_lr;
    switch (n->kind) {
    case K_STEP: {
        long q = t / n->u.step.step_size; /* t >= 0 here */
        return b * pow(n->u.step.gamma, (double)q);
    }
    case K_MULTISTEP: {
        int count = 0;
        for (int i = 0; i < n->u.multistep.n; i++) count += n->u.multistep.milestones[i] <= t;
        return b * pow(n->u.multistep.gamma, (double)count);
    }
    case K_CONSTANT: {
        const double f = n->u.constant.factor;
        return b * (f + (double)(t >= n->u.constant.total_iters) * (1 - f));
    }
    case K_LINEAR: {
        const long T = n->u.linear.total_iters;
        return b * (n->u.linear.start +
                    (n->u.linear.end - n->u.linear.start) * (double)(T < t ? T : t) / (double)T);
    }
    case K_EXPONENTIAL:
        return b * pow(n->u.exponential.gamma, (double)t);
    case K_POLYNOMIAL: {
        const long T = n->u.poly.total_iters;
        return b * pow(1.0 - (double)(T < t ? T : t) / (double)T, n->u.poly.power);
    }
    default: { /* K_COSINE */
        const double eta = n->u.cosine.eta_min;
        return eta + (b - eta) * (1 + cos(PI * (double)t / (double)n->u.cosine.T_max)) / 2;
    }
    }
}

/* _LRScheduler.step(epoch): epoch None (epoch0 == 0) or 0. */
static int lrs_step(node *n, int epoch0, expr_error *e) {
    double v;
    n->step_count += 1;
    if (!epoch0) {
        n->last_epoch += 1;
        if (get_lr(n, &v, e)) return -1;
    } else {
        n->last_epoch = 0;
        if (has_closed_form(n->kind)) v = closed_form_lr(n);
        else if (get_lr(n, &v, e)) return -1;
    }
    n->g->lr = v;
    n->last_lr = v;
    return 0;
}

/* CosineAnnealingWarmRestarts.step(epoch): its own, with T_cur and T_i. */
static int restarts_step(node *n, int epoch0, expr_error *e) {
    if (!epoch0 && n->last_epoch < 0) epoch0 = 1;
    if (!epoch0) {
        n->last_epoch += 1;
        n->s0 += 1;
        if (n->s0 >= n->s1) {
            n->s0 -= n->s1;
            /* T_i *= T_mult; saturating far beyond any reachable t */
            n->s1 = n->s1 * (double)n->u.restarts.T_mult;
            if (n->s1 > 9007199254740992.0) n->s1 = 9007199254740992.0;
        }
    } else {
        n->s1 = (double)n->u.restarts.T_0;
        n->s0 = 0;
        n->last_epoch = 0;
    }
    double v;
    if (get_lr(n, &v, e)) return -1;
    n->g->lr = v;
    n->last_lr = v;
    return 0;
}

/* ReduceLROnPlateau.step(metrics) */
static void plateau_step(node *n, double current) {
    n->last_epoch += 1;
    const double best = n->s0, thr = n->u.plateau.threshold;
    int better;
    if (!n->u.plateau.mode_max && !n->u.plateau.threshold_abs) better = current < best * (1. - thr);
    else if (!n->u.plateau.mode_max) better = current < best - thr;
    else if (!n->u.plateau.threshold_abs) better = current > best * (thr + 1.);
    else better = current > best + thr;
    if (better) {
        n->s0 = current;
        n->s1 = 0;
    } else {
        n->s1 += 1;
    }
    if (n->s2 > 0) { /* in cooldown: ignore bad epochs */
        n->s2 -= 1;
        n->s1 = 0;
    }
    if (n->s1 > (double)n->u.plateau.patience) {
        double old_lr = n->g->lr;
        double new_lr = old_lr * n->u.plateau.factor;
        if (n->u.plateau.min_lr > new_lr) new_lr = n->u.plateau.min_lr;
        if (old_lr - new_lr > n->u.plateau.eps) n->g->lr = new_lr;
        n->s2 = (double)n->u.plateau.cooldown;
        n->s1 = 0;
    }
    n->last_lr = n->g->lr;
}

/* SequentialLR.step() */
static int sequential_step(node *n, double metric, expr_error *e) {
    n->last_epoch += 1;
    int idx = 0; /* bisect_right(milestones, last_epoch) */
    while (idx < n->u.seq.n - 1 && n->u.seq.milestones[idx] <= n->last_epoch) idx++;
    node *c = n->u.seq.kids[idx];
    int at_milestone = idx > 0 && n->u.seq.milestones[idx - 1] == n->last_epoch;
    if (node_step(c, at_milestone, metric, e)) return -1;
    n->last_lr = c->last_lr;
    return 0;
}

/* GradualWarmupScheduler's ramp (SEMANTICS.md): b (1 + (m - 1) t / E) from b
 * when m > 1, b t / E from 0 when m == 1, and exactly b*m from t = E on. */
static double warmup_ramp(const node *n, long t) {
    const double b = n->base_lr, m = n->u.warmup.multiplier;
    const long E = n->u.warmup.total_epoch;
    if (t >= E) return b * m;
    if (m == 1.0) return b * (double)t / (double)E;
    return b * (1 + (m - 1) * (double)t / (double)E);
}

/* t <= E: the ramp; t > E: S's step t - E, S running alone on its own group
 * (whose lr was b*m when S was built), so S(0) is never used. */
static int warmup_step(node *n, double metric, expr_error *e) {
    node *after = n->u.warmup.after;
    if (n->last_epoch + 1 > n->u.warmup.total_epoch && after && node_step(after, 0, metric, e)) return -1;
    n->last_epoch += 1;
    n->g->lr = n->last_epoch > n->u.warmup.total_epoch && after ? n->u.warmup.priv->lr : warmup_ramp(n, n->last_epoch);
    n->g->momentum = n->u.warmup.priv->momentum;
    n->last_lr = n->g->lr;
    return 0;
}

/* scheduler.step() (epoch0 == 0) or scheduler.step(0) */
static int node_step(node *n, int epoch0, double metric, expr_error *e) {
    switch (n->kind) {
    case K_WARM_RESTARTS: return restarts_step(n, epoch0, e);
    case K_PLATEAU: plateau_step(n, metric); return 0;
    case K_SEQUENTIAL: return sequential_step(n, metric, e);
    case K_CHAINED:
        for (int i = 0; i < n->u.seq.n; i++)
            if (node_step(n->u.seq.kids[i], 0, metric, e)) return -1;
        n->last_lr = n->g->lr;
        return 0;
    case K_WARMUP: return warmup_step(n, metric, e);
    default: return lrs_step(n, epoch0, e);
    }
}

/* _LRScheduler._initial_step() */
static int initial_step(node *n, expr_error *e) {
    n->step_count = 0;
    return node_step(n, 0, 0.0, e);
}

/* ------------------------------------------------------------------ */
/* Construction: the side effects of each __init__ on the group         */
/* ------------------------------------------------------------------ */

static int node_init(node *n, expr_error *e);

/* _LRScheduler.__init__(optimizer, last_epoch=-1) */
static int lrs_init(node *n, expr_error *e) {
    if (!n->g->has_initial_lr) {
        n->g->initial_lr = n->g->lr;
        n->g->has_initial_lr = 1;
    }
    n->base_lr = n->g->initial_lr;
    n->last_epoch = -1;
    return initial_step(n, e);
}

static int node_init(node *n, expr_error *e) {
    sched_group *g = n->g;
    switch (n->kind) {
    case K_CYCLIC:
        g->lr = n->u.cyclic.base_lr;
        if (n->u.cyclic.cycle_momentum) g->momentum = n->u.cyclic.base_momentum;
        if (lrs_init(n, e)) return -1;
        n->base_lr = n->u.cyclic.base_lr; /* set after super().__init__ in PyTorch */
        return 0;
    case K_ONECYCLE:
        g->initial_lr = n->u.onecycle.max_lr / n->u.onecycle.div_factor;
        g->has_initial_lr = 1;
        g->max_lr = n->u.onecycle.max_lr;
        g->min_lr = g->initial_lr / n->u.onecycle.final_div_factor;
        if (n->u.onecycle.cycle_momentum) {
            g->momentum = n->u.onecycle.max_momentum;
            g->max_momentum = n->u.onecycle.max_momentum;
            g->base_momentum = n->u.onecycle.base_momentum;
        }
        return lrs_init(n, e);
    case K_WARM_RESTARTS:
        n->s1 = (double)n->u.restarts.T_0;
        n->s0 = -1; /* T_cur = last_epoch */
        return lrs_init(n, e);
    case K_PLATEAU:
        n->s0 = n->u.plateau.mode_max ? -INFINITY : INFINITY;
        n->s1 = 0;
        n->s2 = 0;
        n->last_epoch = 0;
        n->last_lr = g->lr;
        return 0;
    case K_CHAINED:
        for (int i = 0; i < n->u.seq.n; i++)
            if (node_init(n->u.seq.kids[i], e)) return -1;
        n->last_lr = g->lr;
        return 0;
    case K_SEQUENTIAL:
        for (int i = 0; i < n->u.seq.n; i++)
            if (node_init(n->u.seq.kids[i], e)) return -1;
        n->last_epoch = 0;
        g->lr = g->initial_lr; /* "Reset learning rates back to initial values" */
        for (int i = 0; i < n->u.seq.n; i++) /* "Undo" the step performed by other schedulers */
            if (n->u.seq.kids[i]->kind != K_WARMUP) n->u.seq.kids[i]->last_epoch -= 1;
        if (n->u.seq.kids[0]->kind == K_WARMUP) {
            node *w = n->u.seq.kids[0]; /* it keeps its own t = 0: only its lr is put back */
            g->lr = w->last_lr;
            g->momentum = w->u.warmup.priv->momentum;
        } else if (initial_step(n->u.seq.kids[0], e)) {
            return -1;
        }
        n->last_lr = n->u.seq.kids[0]->last_lr;
        return 0;
    case K_WARMUP: {
        /* the intended meaning (SEMANTICS.md): S is built on a fresh optimiser
         * (the group priv) whose lr is b*m; its constructor may set that
         * group's momentum (CyclicLR, OneCycleLR), which is then in use from
         * t = 0, as in a script that builds S on the optimiser before the warmup */
        if (!g->has_initial_lr) {
            g->initial_lr = g->lr;
            g->has_initial_lr = 1;
        }
        sched_group *p = n->u.warmup.priv;
        memset(p, 0, sizeof *p);
        n->base_lr = g->initial_lr;
        p->lr = n->base_lr * n->u.warmup.multiplier;
        p->momentum = g->momentum;
        if (n->u.warmup.after && node_init(n->u.warmup.after, e)) return -1;
        n->last_epoch = 0;
        g->lr = warmup_ramp(n, 0);
        g->momentum = p->momentum;
        n->last_lr = g->lr;
        return 0;
    }
    default:
        return lrs_init(n, e);
    }
}

/* ------------------------------------------------------------------ */
/* Binding: a call in the syntax tree -> a node, checked as PyTorch's   */
/* constructors check (plus sense checks), errors under the argument    */
/* ------------------------------------------------------------------ */

enum ptype {
    P_INT, P_NUM, P_FLOAT, P_BOOL, P_STR, P_FUNC, P_SCHED_LIST, P_INT_LIST, P_NUM1,
    P_OPT_INT, P_OPT_NUM, P_OPT_SCHED, P_OPT_FUNC, P_LAST_EPOCH, P_VERBOSE,
};

typedef struct {
    const char *name;
    int type, required;
} param_spec;

typedef struct {
    int kind, has_optimizer;
    param_spec p[14];
} class_spec;

#define LAST_VERBOSE {"last_epoch", P_LAST_EPOCH, 0}, {"verbose", P_VERBOSE, 0}
static const class_spec classes[N_CLASSES] = {
    {K_LAMBDA, 1, {{"lr_lambda", P_FUNC, 1}, LAST_VERBOSE}},
    {K_MULTIPLICATIVE, 1, {{"lr_lambda", P_FUNC, 1}, LAST_VERBOSE}},
    {K_STEP, 1, {{"step_size", P_INT, 1}, {"gamma", P_NUM, 0}, LAST_VERBOSE}},
    {K_MULTISTEP, 1, {{"milestones", P_INT_LIST, 1}, {"gamma", P_NUM, 0}, LAST_VERBOSE}},
    {K_CONSTANT, 1, {{"factor", P_NUM, 0}, {"total_iters", P_INT, 0}, LAST_VERBOSE}},
    {K_LINEAR, 1, {{"start_factor", P_NUM, 0}, {"end_factor", P_NUM, 0}, {"total_iters", P_INT, 0}, LAST_VERBOSE}},
    {K_EXPONENTIAL, 1, {{"gamma", P_NUM, 1}, LAST_VERBOSE}},
    {K_POLYNOMIAL, 1, {{"total_iters", P_INT, 0}, {"power", P_NUM, 0}, LAST_VERBOSE}},
    {K_COSINE, 1, {{"T_max", P_INT, 1}, {"eta_min", P_NUM, 0}, LAST_VERBOSE}},
    {K_WARM_RESTARTS, 1, {{"T_0", P_INT, 1}, {"T_mult", P_INT, 0}, {"eta_min", P_NUM, 0}, LAST_VERBOSE}},
    {K_CYCLIC, 1, {{"base_lr", P_NUM1, 1}, {"max_lr", P_NUM1, 1}, {"step_size_up", P_NUM, 0},
                   {"step_size_down", P_OPT_NUM, 0}, {"mode", P_STR, 0}, {"gamma", P_NUM, 0},
                   {"scale_fn", P_OPT_FUNC, 0}, {"scale_mode", P_STR, 0}, {"cycle_momentum", P_BOOL, 0},
                   {"base_momentum", P_NUM1, 0}, {"max_momentum", P_NUM1, 0}, LAST_VERBOSE}},
    {K_ONECYCLE, 1, {{"max_lr", P_NUM1, 1}, {"total_steps", P_OPT_INT, 0}, {"epochs", P_OPT_INT, 0},
                     {"steps_per_epoch", P_OPT_INT, 0}, {"pct_start", P_FLOAT, 0},
                     {"anneal_strategy", P_STR, 0}, {"cycle_momentum", P_BOOL, 0},
                     {"base_momentum", P_NUM1, 0}, {"max_momentum", P_NUM1, 0}, {"div_factor", P_NUM, 0},
                     {"final_div_factor", P_NUM, 0}, {"three_phase", P_BOOL, 0}, LAST_VERBOSE}},
    {K_PLATEAU, 1, {{"mode", P_STR, 0}, {"factor", P_NUM, 0}, {"patience", P_INT, 0}, {"threshold", P_NUM, 0},
                    {"threshold_mode", P_STR, 0}, {"cooldown", P_INT, 0}, {"min_lr", P_NUM1, 0},
                    {"eps", P_NUM, 0}, {"verbose", P_VERBOSE, 0}}},
    {K_SEQUENTIAL, 1, {{"schedulers", P_SCHED_LIST, 1}, {"milestones", P_INT_LIST, 1}, LAST_VERBOSE}},
    {K_CHAINED, 0, {{"schedulers", P_SCHED_LIST, 1}}},
    {K_WARMUP, 1, {{"multiplier", P_NUM, 1}, {"total_epoch", P_INT, 1}, {"after_scheduler", P_OPT_SCHED, 0}}},
    {K_SWALR, 1, {{"swa_lr", P_NUM1, 1}, {"anneal_epochs", P_INT, 0}, {"anneal_strategy", P_STR, 0},
                  {"last_epoch", P_LAST_EPOCH, 0}}},
};

typedef struct {
    lr_sched *s;
    expr_error *e;
} binder;

/* The bound arguments of one call: vals[i] for classes[].p[i], NULL when defaulted. */
typedef struct {
    const class_spec *cls;
    const ast *call;
    const ast *vals[14];
} args;

static node *bind_call(binder *b, const ast *call, sched_group *g);

static int n_params(const class_spec *c) {
    int n = 0;
    while (n < 14 && c->p[n].name) n++;
    return n;
}

static int param_index(const args *a, const char *name) {
    for (int i = 0; i < n_params(a->cls); i++)
        if (!strcmp(a->cls->p[i].name, name)) return i;
    return -1;
}

static const char *cname(const args *a) { return kind_names[a->cls->kind]; }

/* Where a message about parameter i goes: its value, or the class name. */
static void span_of(const args *a, int i, int *pos, int *len) {
    const ast *v = i >= 0 ? a->vals[i] : NULL;
    if (v) {
        *pos = v->pos;
        *len = v->len;
    } else {
        *pos = a->call->pos;
        *len = a->call->len;
    }
}

static int arg_fail(binder *b, const args *a, const char *param, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int arg_fail(binder *b, const args *a, const char *param, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int pos, len;
    span_of(a, param ? param_index(a, param) : -1, &pos, &len);
    return fail_at(b->e, pos, len, "%s: %s", cname(a), msg);
}

static const char *value_type(const ast *v) {
    switch (v->kind) {
    case AST_NUM: return v->is_int ? "an integer" : "a float";
    case AST_STR: return "a string";
    case AST_BOOL: return "a bool";
    case AST_NONE: return "None";
    case AST_NAME: return "a name";
    case AST_LIST: return v->op == '(' ? "a tuple" : "a list";
    case AST_CALL: return "a scheduler";
    case AST_LAMBDA: return "a lambda";
    default: return "an expression";
    }
}

static int type_fail(binder *b, const args *a, int i, const char *expected) {
    const ast *v = a->vals[i];
    if (v->kind == AST_NAME)
        return fail_at(b->e, v->pos, v->len, "%s: unknown name '%.*s' for %s (expected %s)", cname(a),
                       v->len < 40 ? v->len : 40, b->s->src + v->pos, a->cls->p[i].name, expected);
    return fail_at(b->e, v->pos, v->len, "%s: %s must be %s, got %s", cname(a), a->cls->p[i].name, expected,
                   value_type(v));
}

/* The parameter groups the schedule's optimiser has (sched_context). */
static int n_param_groups(const binder *b) { return b->s->ctx.n_groups > 1 ? b->s->ctx.n_groups : 1; }

static int list_len(const ast *v) {
    int n = 0;
    for (const ast *x = v->first; x; x = x->next) n++;
    return n;
}

/* A number, or a list of one per parameter group: this group's element
 * (a list of another length is returned as is, for the caller's message). */
static const ast *unwrap1(const binder *b, const ast *v) {
    if (!v || v->kind != AST_LIST || list_len(v) != n_param_groups(b)) return v;
    const ast *x = v->first;
    for (int g = 0; g < b->s->ctx.group && x->next; g++) x = x->next;
    return x;
}

static int get_int(binder *b, const args *a, const char *name, long dflt, long *out) {
    int i = param_index(a, name);
    const ast *v = a->vals[i];
    if (!v || (v->kind == AST_NONE && a->cls->p[i].type == P_OPT_INT)) {
        *out = dflt;
        return 0;
    }
    if (v->kind != AST_NUM || !v->is_int) return type_fail(b, a, i, "an integer");
    if (fabs(v->num) > (double)INT_ARG_MAX)
        return fail_at(b->e, v->pos, v->len, "%s: %s = %.17g is too large (at most 1e15)", cname(a), name, v->num);
    *out = (long)v->num;
    return 0;
}

static int get_num(binder *b, const args *a, const char *name, double dflt, double *out) {
    int i = param_index(a, name);
    const ast *v = a->cls->p[i].type == P_NUM1 ? unwrap1(b, a->vals[i]) : a->vals[i];
    if (!v || (v->kind == AST_NONE && a->cls->p[i].type == P_OPT_NUM)) {
        *out = dflt;
        return 0;
    }
    if (v->kind != AST_NUM) {
        if (a->cls->p[i].type == P_NUM1 && a->vals[i]->kind == AST_LIST)
            return fail_at(b->e, a->vals[i]->pos, a->vals[i]->len,
                           "%s: expected %d value%s for %s, got %d (PyTorch's ValueError: one per parameter group)",
                           cname(a), n_param_groups(b), n_param_groups(b) > 1 ? "s" : "", name, list_len(a->vals[i]));
        return type_fail(b, a, i, "a number");
    }
    if (a->cls->p[i].type == P_FLOAT && v->is_int)
        return fail_at(b->e, v->pos, v->len, "%s: %s must be a float (PyTorch checks isinstance(%s, float)), got an integer",
                       cname(a), name, name);
    *out = v->num;
    return 0;
}

static int get_bool(binder *b, const args *a, const char *name, int dflt, int *out) {
    int i = param_index(a, name);
    const ast *v = a->vals[i];
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (v->kind != AST_BOOL) return type_fail(b, a, i, "True or False");
    *out = v->num != 0;
    return 0;
}

/* A string among choices; returns the index. */
static int get_choice(binder *b, const args *a, const char *name, const char *const *choices, int n, int dflt,
                      int *out) {
    int i = param_index(a, name);
    const ast *v = a->vals[i];
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (v->kind != AST_STR) return type_fail(b, a, i, "a string");
    for (int k = 0; k < n; k++)
        if ((int)strlen(choices[k]) == v->str_len && !memcmp(b->s->src + v->str_pos, choices[k], (size_t)v->str_len)) {
            *out = k;
            return 0;
        }
    char list[160] = "";
    for (int k = 0; k < n; k++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s'%s'", k ? ", " : "", choices[k]);
    }
    return fail_at(b->e, v->pos, v->len, "%s: %s must be one of %s, got '%.*s'", cname(a), name, list,
                   v->str_len < 40 ? v->str_len : 40, b->s->src + v->str_pos);
}

/* lr_lambda / scale_fn: a quoted expression in `var`, or a lambda. */
static int get_func(binder *b, const args *a, const char *name, const char *var, const ast **out) {
    int i = param_index(a, name);
    const ast *v = unwrap1(b, a->vals[i]);
    *out = NULL;
    if (!v || v->kind == AST_NONE) {
        if (v && a->cls->p[i].type != P_OPT_FUNC) return type_fail(b, a, i, "a function");
        return 0;
    }
    if (v->kind == AST_LAMBDA) {
        *out = v->first;
        return 0;
    }
    if (v->kind != AST_STR) {
        char what[96];
        snprintf(what, sizeof what, "a quoted expression in %s such as '0.95 ** %s', or a lambda", var, var);
        return type_fail(b, a, i, what);
    }
    ast *fn;
    if (expr_parse_arith(&b->s->arena, v->str_pos, v->str_len, var, &fn, b->e)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: %s: %.400s", cname(a), name, b->e->msg);
        snprintf(b->e->msg, sizeof b->e->msg, "%s", msg);
        return -1;
    }
    *out = fn;
    return 0;
}

static int get_int_list(binder *b, const args *a, const char *name, long **out, int *n_out) {
    int i = param_index(a, name);
    const ast *v = a->vals[i];
    if (v->kind != AST_LIST)
        return fail_at(b->e, v->pos, v->len, "%s: %s: expected a list or tuple of ints, got %s", cname(a), name,
                       value_type(v));
    int n = 0;
    for (const ast *k = v->first; k; k = k->next) n++;
    long *m = calloc((size_t)n + 1, sizeof *m);
    if (!m) return fail_at(b->e, v->pos, v->len, "out of memory");
    n = 0;
    for (const ast *k = v->first; k; k = k->next) {
        if (k->kind != AST_NUM || !k->is_int || fabs(k->num) > (double)INT_ARG_MAX) {
            free(m);
            char got[96];
            char num[32];
            if (k->kind == AST_NUM) py_repr(num, sizeof num, k->num);
            if (k->kind == AST_NUM && !k->is_int) snprintf(got, sizeof got, "float %s", num);
            else if (k->kind == AST_NUM) snprintf(got, sizeof got, "int %s, larger than 1e15", num);
            else snprintf(got, sizeof got, "%s", value_type(k));
            return fail_at(b->e, k->pos, k->len, "%s: %s: expected a list or tuple of ints, got %s at element %d",
                           cname(a), name, got, n);
        }
        m[n++] = (long)k->num;
    }
    *out = m;
    *n_out = n;
    return 0;
}

/* Matches a call's arguments to the class's parameters. */
static int bind_args(binder *b, const ast *call, const class_spec *cls, args *a) {
    memset(a, 0, sizeof *a);
    a->cls = cls;
    a->call = call;
    const char *src = b->s->src;
    int np = n_params(cls), next_pos = 0, first = 1;
    for (const ast *v = call->first; v; v = v->next, first = 0) {
        int i;
        if (v->kw_len == 0) {
            if (first && cls->has_optimizer && v->kind == AST_NAME) continue; /* the optimizer: implied */
            if (v->kind == AST_NAME)
                return fail_at(b->e, v->pos, v->len, "%s: unknown name '%.*s'%s", kind_names[cls->kind],
                               v->len < 40 ? v->len : 40, src + v->pos,
                               cls->has_optimizer ? "" : " (ChainedScheduler takes no optimizer)");
            if (next_pos >= np) {
                char list[300] = "";
                for (int k = 0; k < np; k++) {
                    size_t l = strlen(list);
                    snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", cls->p[k].name);
                }
                return fail_at(b->e, v->pos, v->len, "%s: too many positional arguments (it takes %s%s)",
                               kind_names[cls->kind], cls->has_optimizer ? "optimizer, " : "", list);
            }
            i = next_pos++;
        } else {
            if (cls->has_optimizer && v->kw_len == 9 && !memcmp(src + v->kw_pos, "optimizer", 9)) {
                if (v->kind != AST_NAME)
                    return fail_at(b->e, v->pos, v->len, "%s: optimizer must be a name (it is implied and ignored)",
                                   kind_names[cls->kind]);
                continue;
            }
            i = -1;
            for (int k = 0; k < np; k++)
                if ((int)strlen(cls->p[k].name) == v->kw_len && !memcmp(src + v->kw_pos, cls->p[k].name, (size_t)v->kw_len))
                    i = k;
            if (i < 0) {
                int best = -1, bestd = 3;
                for (int k = 0; k < np; k++) {
                    int d = lr_distance(src + v->kw_pos, v->kw_len, cls->p[k].name);
                    if (d < bestd) {
                        bestd = d;
                        best = k;
                    }
                }
                char hint[300];
                if (best >= 0) {
                    snprintf(hint, sizeof hint, "did you mean %s?", cls->p[best].name);
                } else {
                    snprintf(hint, sizeof hint, "%s takes ", kind_names[cls->kind]);
                    for (int k = 0; k < np; k++) {
                        size_t l = strlen(hint);
                        snprintf(hint + l, sizeof hint - l, "%s%s", k ? ", " : "", cls->p[k].name);
                    }
                }
                return fail_at(b->e, v->kw_pos, v->kw_len, "%s: unknown argument '%.*s' (%s)", kind_names[cls->kind],
                               v->kw_len < 40 ? v->kw_len : 40, src + v->kw_pos, hint);
            }
        }
        if (a->vals[i]) {
            int pos = v->kw_len ? v->kw_pos : v->pos, len = v->kw_len ? v->kw_len : v->len;
            return fail_at(b->e, pos, len, "%s: argument '%s' given twice", kind_names[cls->kind], cls->p[i].name);
        }
        a->vals[i] = v;
    }
    for (int i = 0; i < np; i++)
        if (cls->p[i].required && !a->vals[i])
            return fail_at(b->e, call->pos, call->len, "%s: missing required argument '%s'", kind_names[cls->kind],
                           cls->p[i].name);
    /* last_epoch (resuming is done with checkpoints) and verbose (ignored) */
    for (int i = 0; i < np; i++) {
        const ast *v = a->vals[i];
        if (!v) continue;
        if (cls->p[i].type == P_LAST_EPOCH && !(v->kind == AST_NUM && v->is_int && v->num == -1))
            return fail_at(b->e, v->pos, v->len,
                           "%s: only last_epoch=-1 is supported (resume from a checkpoint instead)", cname(a));
        if (cls->p[i].type == P_VERBOSE && v->kind != AST_BOOL) return type_fail(b, a, i, "True or False");
    }
    return 0;
}

static node *new_node(binder *b, int kind, const ast *call, sched_group *g) {
    if (b->s->n_nodes >= MAX_NODES) {
        fail_at(b->e, call ? call->pos : 0, call ? call->len : 1, "too many schedulers (at most %d)", MAX_NODES);
        return NULL;
    }
    node *n = calloc(1, sizeof *n);
    if (!n) {
        fail_at(b->e, 0, 1, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->g = g;
    if (call) {
        n->pos = call->pos;
        n->len = call->len;
    }
    b->s->nodes[b->s->n_nodes++] = n;
    return n;
}

/* Child scheduler of SequentialLR / ChainedScheduler: reject what PyTorch
 * 1.13 cannot step there. (GradualWarmupScheduler's after_scheduler runs
 * alone on its own group: anything goes.) */
static int check_child(binder *b, const node *parent, const node *c, int index) {
    const char *pk = kind_names[parent->kind], *ck = kind_names[c->kind];
    if (c->kind == K_PLATEAU)
        return fail_at(b->e, c->pos, c->len,
                       "%s cannot contain ReduceLROnPlateau (PyTorch 1.13 steps its children without a metric)", pk);
    if (parent->kind == K_SEQUENTIAL && c->kind == K_CHAINED)
        return fail_at(b->e, c->pos, c->len,
                       "SequentialLR cannot contain ChainedScheduler (PyTorch 1.13 fails: it has no last_epoch)");
    if (parent->kind == K_SEQUENTIAL && index > 0 && (c->kind == K_SEQUENTIAL || c->kind == K_WARMUP))
        return fail_at(b->e, c->pos, c->len,
                       "%s can only be SequentialLR's first scheduler (PyTorch 1.13 calls step(0) on the "
                       "others at their milestone, which %s does not accept)",
                       ck, ck);
    return 0;
}

static node *bind_sched_value(binder *b, const args *a, int i, sched_group *g) {
    const ast *v = a->vals[i];
    if (v->kind != AST_CALL) {
        type_fail(b, a, i, "a scheduler such as StepLR(step_size=30)");
        return NULL;
    }
    return bind_call(b, v, g);
}

static int bind_list(binder *b, const args *a, node *n) {
    int i = param_index(a, "schedulers");
    const ast *v = a->vals[i];
    if (v->kind != AST_LIST)
        return fail_at(b->e, v->pos, v->len, "%s: schedulers: expected a list or tuple of schedulers, got %s", cname(a),
                       value_type(v));
    int count = 0;
    for (const ast *k = v->first; k; k = k->next) count++;
    if (count == 0) return arg_fail(b, a, "schedulers", "schedulers must not be empty (PyTorch 1.13 fails with IndexError)");
    n->u.seq.kids = calloc((size_t)count, sizeof *n->u.seq.kids);
    if (!n->u.seq.kids) return fail_at(b->e, v->pos, v->len, "out of memory");
    for (const ast *k = v->first; k; k = k->next) {
        if (k->kind != AST_CALL)
            return fail_at(b->e, k->pos, k->len,
                           "%s: schedulers: expected a list or tuple of schedulers, got %s at element %d", cname(a),
                           value_type(k), n->u.seq.n);
        node *c = bind_call(b, k, n->g);
        if (!c) return -1;
        n->u.seq.kids[n->u.seq.n++] = c;
        if (check_child(b, n, c, n->u.seq.n - 1)) return -1;
    }
    return 0;
}

/* The bounds of the arguments, checked on the values given (defaults are
 * in bounds): PyTorch's constructors' checks, plus values that make no
 * sense or would make PyTorch fail later (docs/schedules.md lists them). */
typedef struct {
    int kind;
    const char *name;
    double lo, hi;          /* -INFINITY / INFINITY: no bound */
    int lo_open, hi_open;   /* 1: the bound itself is refused */
    const char *rule, *why; /* "must be >= 1"; why: NULL or a note after the value */
} arg_bound;

static const arg_bound bounds[] = {
    {K_STEP, "step_size", 1, INFINITY, 0, 0, "must be >= 1", NULL},
    {K_STEP, "gamma", 0, INFINITY, 1, 0, "must be > 0", NULL},
    {K_MULTISTEP, "gamma", 0, INFINITY, 1, 0, "must be > 0", NULL},
    {K_CONSTANT, "factor", 0, 1, 1, 0, "must be in (0, 1]", "PyTorch allows 0 but then divides by it at total_iters"},
    {K_CONSTANT, "total_iters", 1, INFINITY, 0, 0, "must be >= 1", NULL},
    {K_LINEAR, "start_factor", 0, 1, 1, 0, "must be in (0, 1]", "PyTorch 1.13 allows 0 but then divides by zero"},
    {K_LINEAR, "end_factor", 0, 1, 0, 0, "must be in [0, 1]", NULL},
    {K_LINEAR, "total_iters", 1, INFINITY, 0, 0, "must be >= 1", NULL},
    {K_EXPONENTIAL, "gamma", 0, INFINITY, 1, 0, "must be > 0", NULL},
    {K_POLYNOMIAL, "total_iters", 1, INFINITY, 0, 0, "must be >= 1", NULL},
    {K_POLYNOMIAL, "power", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_COSINE, "T_max", 1, INFINITY, 0, 0, "must be >= 1", NULL},
    {K_COSINE, "eta_min", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_WARM_RESTARTS, "T_0", 1, INFINITY, 0, 0, "must be a positive integer", NULL},
    {K_WARM_RESTARTS, "T_mult", 1, INFINITY, 0, 0, "must be an integer >= 1", NULL},
    {K_WARM_RESTARTS, "eta_min", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_CYCLIC, "base_lr", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_CYCLIC, "max_lr", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_CYCLIC, "step_size_up", 0, INFINITY, 1, 0, "must be > 0", NULL},
    {K_CYCLIC, "step_size_down", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_CYCLIC, "gamma", 0, INFINITY, 1, 0, "must be > 0", NULL},
    {K_ONECYCLE, "max_lr", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_ONECYCLE, "total_steps", 1, INFINITY, 0, 0, "must be a positive integer", NULL},
    {K_ONECYCLE, "epochs", 1, INFINITY, 0, 0, "must be a positive integer", NULL},
    {K_ONECYCLE, "steps_per_epoch", 1, INFINITY, 0, 0, "must be a positive integer", NULL},
    {K_ONECYCLE, "pct_start", 0, 1, 0, 0, "must be a float between 0 and 1", NULL},
    {K_ONECYCLE, "div_factor", 0, INFINITY, 1, 0, "must be > 0", NULL},
    {K_ONECYCLE, "final_div_factor", 0, INFINITY, 1, 0, "must be > 0", NULL},
    {K_PLATEAU, "factor", -INFINITY, 1, 0, 1, "should be < 1.0", "as PyTorch"},
    {K_PLATEAU, "factor", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_PLATEAU, "patience", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_PLATEAU, "threshold", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_PLATEAU, "cooldown", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_PLATEAU, "min_lr", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_PLATEAU, "eps", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_WARMUP, "multiplier", 1, INFINITY, 0, 0, "must be >= 1", "the package raises ValueError"},
    {K_WARMUP, "total_epoch", 1, INFINITY, 0, 0, "must be >= 1", NULL},
    {K_SWALR, "swa_lr", 0, INFINITY, 0, 0, "must be >= 0", NULL},
    {K_SWALR, "anneal_epochs", 0, INFINITY, 0, 0, "must be equal or greater than 0", "PyTorch's ValueError"},
};

static int check_bounds(binder *b, const args *a) {
    for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
        const arg_bound *r = &bounds[k];
        if (r->kind != a->cls->kind) continue;
        const ast *v = unwrap1(b, a->vals[param_index(a, r->name)]);
        if (!v || v->kind != AST_NUM) continue; /* defaulted or None */
        double x = v->num;
        if (r->lo_open ? x > r->lo : x >= r->lo) {
            if (r->hi_open ? x < r->hi : x <= r->hi) continue;
        }
        char num[32];
        py_repr(num, sizeof num, x);
        return arg_fail(b, a, r->name, "%s %s, got %s%s%s%s", r->name, r->rule, num, r->why ? " (" : "",
                        r->why ? r->why : "", r->why ? ")" : "");
    }
    return 0;
}

/* ---- one binder per class: the values into the node, and what the bounds cannot say ---- */

/* the argument was written, and not as None */
static int given(const args *a, const char *name) {
    const ast *v = a->vals[param_index(a, name)];
    return v && v->kind != AST_NONE;
}

static int bind_lambda(binder *b, const args *a, node *n) {
    return get_func(b, a, "lr_lambda", "epoch", &n->u.lambda.fn);
}

static int bind_step(binder *b, const args *a, node *n) {
    return get_int(b, a, "step_size", 1, &n->u.step.step_size) || get_num(b, a, "gamma", 0.1, &n->u.step.gamma);
}

/* Any order, repeats counting twice (PyTorch keeps a Counter); never negative. */
static int bind_multistep(binder *b, const args *a, node *n) {
    if (get_int_list(b, a, "milestones", &n->u.multistep.milestones, &n->u.multistep.n) ||
        get_num(b, a, "gamma", 0.1, &n->u.multistep.gamma))
        return -1;
    const ast *k = a->vals[param_index(a, "milestones")]->first;
    for (int i = 0; i < n->u.multistep.n; i++, k = k->next)
        if (n->u.multistep.milestones[i] < 0)
            return fail_at(b->e, k->pos, k->len, "MultiStepLR: milestones must be >= 0, got %ld",
                           n->u.multistep.milestones[i]);
    return 0;
}

static int bind_constant(binder *b, const args *a, node *n) {
    return get_num(b, a, "factor", 1.0 / 3, &n->u.constant.factor) ||
           get_int(b, a, "total_iters", 5, &n->u.constant.total_iters);
}

static int bind_linear(binder *b, const args *a, node *n) {
    return get_num(b, a, "start_factor", 1.0 / 3, &n->u.linear.start) ||
           get_num(b, a, "end_factor", 1.0, &n->u.linear.end) || get_int(b, a, "total_iters", 5, &n->u.linear.total_iters);
}

static int bind_exponential(binder *b, const args *a, node *n) {
    return get_num(b, a, "gamma", 1, &n->u.exponential.gamma);
}

static int bind_polynomial(binder *b, const args *a, node *n) {
    return get_int(b, a, "total_iters", 5, &n->u.poly.total_iters) || get_num(b, a, "power", 1.0, &n->u.poly.power);
}

static int bind_cosine(binder *b, const args *a, node *n) {
    return get_int(b, a, "T_max", 1, &n->u.cosine.T_max) || get_num(b, a, "eta_min", 0, &n->u.cosine.eta_min);
}

static int bind_restarts(binder *b, const args *a, node *n) {
    return get_int(b, a, "T_0", 1, &n->u.restarts.T_0) || get_int(b, a, "T_mult", 1, &n->u.restarts.T_mult) ||
           get_num(b, a, "eta_min", 0, &n->u.restarts.eta_min);
}

static int bind_cyclic(binder *b, const args *a, node *n) {
    static const char *const modes[] = {"triangular", "triangular2", "exp_range"};
    static const char *const scale_modes[] = {"cycle", "iterations"};
    double up = 0, down = 0;
    int scale_mode = 0;
    if (get_num(b, a, "base_lr", 0, &n->u.cyclic.base_lr) || get_num(b, a, "max_lr", 0, &n->u.cyclic.max_lr) ||
        get_num(b, a, "step_size_up", 2000, &up) || get_num(b, a, "step_size_down", -1, &down) ||
        get_choice(b, a, "mode", modes, 3, 0, &n->u.cyclic.mode) || get_num(b, a, "gamma", 1.0, &n->u.cyclic.gamma) ||
        get_func(b, a, "scale_fn", "x", &n->u.cyclic.scale_fn) ||
        get_choice(b, a, "scale_mode", scale_modes, 2, 0, &scale_mode) ||
        get_bool(b, a, "cycle_momentum", 1, &n->u.cyclic.cycle_momentum) ||
        get_num(b, a, "base_momentum", 0.8, &n->u.cyclic.base_momentum) ||
        get_num(b, a, "max_momentum", 0.9, &n->u.cyclic.max_momentum))
        return -1;
    if (n->u.cyclic.cycle_momentum && b->s->ctx.cycle_key != SCHED_CYCLE_MOMENTUM)
        return arg_fail(b, a, "cycle_momentum", "optimizer must support momentum with `cycle_momentum` option enabled "
                                                "(PyTorch's ValueError: %s; pass cycle_momentum=False)",
                        b->s->ctx.cycle_key == SCHED_CYCLE_BETA1 ? "CyclicLR 1.13 cycles momentum, not betas"
                                                                 : "this optimiser has no momentum");
    if (!given(a, "step_size_down")) down = up;
    n->u.cyclic.total_size = up + down;
    n->u.cyclic.step_ratio = up / n->u.cyclic.total_size;
    /* PyTorch: with scale_fn None the mode decides the scale mode; else scale_mode does */
    n->u.cyclic.scale_by_iterations = n->u.cyclic.scale_fn ? scale_mode == 1 : n->u.cyclic.mode == CYC_EXP_RANGE;
    return 0;
}

/* total_steps, or epochs * steps_per_epoch (PyTorch's order of precedence;
 * the bounds table says they must be positive) */
static int onecycle_total(binder *b, const args *a, long *total) {
    long epochs, spe;
    if (get_int(b, a, "total_steps", -1, total) || get_int(b, a, "epochs", -1, &epochs) ||
        get_int(b, a, "steps_per_epoch", -1, &spe))
        return -1;
    if (given(a, "total_steps")) return 0;
    if (!given(a, "epochs") && !given(a, "steps_per_epoch"))
        return arg_fail(b, a, NULL, "you must define either total_steps OR (epochs AND steps_per_epoch) "
                                    "(as in PyTorch; lrlab does not take them from --epochs)");
    if (!given(a, "epochs")) return arg_fail(b, a, "steps_per_epoch", "expected a positive integer epochs (with steps_per_epoch)");
    if (!given(a, "steps_per_epoch")) return arg_fail(b, a, "epochs", "expected a positive integer steps_per_epoch (with epochs)");
    if ((double)epochs * (double)spe > (double)INT_ARG_MAX)
        return arg_fail(b, a, "epochs", "epochs * steps_per_epoch is too large");
    *total = epochs * spe;
    return 0;
}

static int bind_onecycle(binder *b, const args *a, node *n) {
    static const char *const strategies[] = {"cos", "linear"};
    int strategy = 0, three = 0;
    long total;
    double pct = 0.3;
    if (get_num(b, a, "max_lr", 0, &n->u.onecycle.max_lr) || onecycle_total(b, a, &total) ||
        get_num(b, a, "pct_start", 0.3, &pct) || get_choice(b, a, "anneal_strategy", strategies, 2, 0, &strategy) ||
        get_bool(b, a, "cycle_momentum", 1, &n->u.onecycle.cycle_momentum) ||
        get_num(b, a, "base_momentum", 0.85, &n->u.onecycle.base_momentum) ||
        get_num(b, a, "max_momentum", 0.95, &n->u.onecycle.max_momentum) ||
        get_num(b, a, "div_factor", 25., &n->u.onecycle.div_factor) ||
        get_num(b, a, "final_div_factor", 1e4, &n->u.onecycle.final_div_factor) ||
        get_bool(b, a, "three_phase", 0, &three))
        return -1;
    if (n->u.onecycle.cycle_momentum && b->s->ctx.cycle_key == SCHED_CYCLE_NONE)
        return arg_fail(b, a, "cycle_momentum", "optimizer must support momentum with `cycle_momentum` option enabled "
                                                "(PyTorch's ValueError: this optimiser has neither momentum nor betas; "
                                                "pass cycle_momentum=False)");
    n->u.onecycle.total_steps = total;
    n->u.onecycle.anneal_cos = strategy == 0;
    n->u.onecycle.n_phases = three ? 3 : 2;
    n->u.onecycle.end_step[0] = pct * (double)total - 1;
    if (three) n->u.onecycle.end_step[1] = 2 * pct * (double)total - 2;
    n->u.onecycle.end_step[n->u.onecycle.n_phases - 1] = (double)(total - 1);
    return 0;
}

static int bind_plateau(binder *b, const args *a, node *n) {
    static const char *const modes[] = {"min", "max"};
    static const char *const tmodes[] = {"rel", "abs"};
    return get_choice(b, a, "mode", modes, 2, 0, &n->u.plateau.mode_max) ||
           get_num(b, a, "factor", 0.1, &n->u.plateau.factor) || get_int(b, a, "patience", 10, &n->u.plateau.patience) ||
           get_num(b, a, "threshold", 1e-4, &n->u.plateau.threshold) ||
           get_choice(b, a, "threshold_mode", tmodes, 2, 0, &n->u.plateau.threshold_abs) ||
           get_int(b, a, "cooldown", 0, &n->u.plateau.cooldown) || get_num(b, a, "min_lr", 0, &n->u.plateau.min_lr) ||
           get_num(b, a, "eps", 1e-8, &n->u.plateau.eps);
}

/* One milestone fewer than schedulers, each >= 1, strictly increasing. */
static int bind_sequential(binder *b, const args *a, node *n) {
    int nm;
    if (bind_list(b, a, n) || get_int_list(b, a, "milestones", &n->u.seq.milestones, &nm)) return -1;
    if (nm != n->u.seq.n - 1)
        return arg_fail(b, a, "milestones", "expects one milestone fewer than schedulers, got %d schedulers and %d milestones",
                        n->u.seq.n, nm);
    const long *m = n->u.seq.milestones;
    const ast *k = a->vals[param_index(a, "milestones")]->first;
    for (int i = 0; i < nm; i++, k = k->next) {
        if (m[i] < 1) return fail_at(b->e, k->pos, k->len, "SequentialLR: milestones must be >= 1, got %ld", m[i]);
        if (i > 0 && m[i] <= m[i - 1])
            return fail_at(b->e, k->pos, k->len, "SequentialLR: milestones must be strictly increasing (%ld after %ld)",
                           m[i], m[i - 1]);
    }
    return 0;
}

/* GradualWarmupScheduler: its after_scheduler is bound to a group of its own. */
static int bind_warmup(binder *b, const args *a, node *n) {
    if (get_num(b, a, "multiplier", 1, &n->u.warmup.multiplier) || get_int(b, a, "total_epoch", 1, &n->u.warmup.total_epoch))
        return -1;
    n->u.warmup.priv = calloc(1, sizeof *n->u.warmup.priv);
    if (!n->u.warmup.priv || b->s->n_groups >= MAX_NODES) return fail_at(b->e, n->pos, n->len, "out of memory");
    b->s->groups[b->s->n_groups++] = n->u.warmup.priv;
    int i = param_index(a, "after_scheduler");
    if (a->vals[i] && a->vals[i]->kind != AST_NONE) {
        n->u.warmup.after = bind_sched_value(b, a, i, n->u.warmup.priv);
        if (!n->u.warmup.after) return -1;
    }
    return 0;
}

/* torch.optim.swa_utils.SWALR(optimizer, swa_lr, anneal_epochs=10, anneal_strategy='cos') */
static int bind_swalr(binder *b, const args *a, node *n) {
    static const char *const strategies[] = {"cos", "linear"};
    int strategy = 0;
    if (get_num(b, a, "swa_lr", 0, &n->u.swalr.swa_lr) || get_int(b, a, "anneal_epochs", 10, &n->u.swalr.anneal_epochs) ||
        get_choice(b, a, "anneal_strategy", strategies, 2, 0, &strategy))
        return -1;
    n->u.swalr.cos = strategy == 0;
    return 0;
}

/* indexed by enum sched_kind */
static int (*const binders[N_CLASSES])(binder *, const args *, node *) = {
    bind_lambda, bind_lambda, bind_step, bind_multistep, bind_constant, bind_linear, bind_exponential,
    bind_polynomial, bind_cosine, bind_restarts, bind_cyclic, bind_onecycle, bind_plateau, bind_sequential,
    bind_list, bind_warmup, bind_swalr,
};

/* Types first (the binder's get_*), then the bounds. */
static node *bind_class(binder *b, const args *a, node *n) {
    return binders[n->kind](b, a, n) || check_bounds(b, a) ? NULL : n;
}

static node *bind_call(binder *b, const ast *call, sched_group *g) {
    const char *src = b->s->src;
    int k = -1;
    for (int i = 0; i < N_CLASSES; i++)
        if ((int)strlen(kind_names[i]) == call->len && !memcmp(src + call->pos, kind_names[i], (size_t)call->len)) k = i;
    if (k < 0) {
        int best = -1, bestd = 4;
        for (int i = 0; i < N_CLASSES; i++) {
            int d = lr_distance(src + call->pos, call->len, kind_names[i]);
            if (d < bestd) {
                bestd = d;
                best = i;
            }
        }
        if (best >= 0)
            fail_at(b->e, call->pos, call->len, "unknown scheduler '%.*s' (did you mean %s?)",
                    call->len < 40 ? call->len : 40, src + call->pos, kind_names[best]);
        else
            fail_at(b->e, call->pos, call->len,
                    "unknown scheduler '%.*s' (lrlab knows LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, "
                    "ConstantLR, LinearLR, ExponentialLR, PolynomialLR, CosineAnnealingLR, "
                    "CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, ReduceLROnPlateau, SequentialLR, "
                    "ChainedScheduler, GradualWarmupScheduler, SWALR)",
                    call->len < 40 ? call->len : 40, src + call->pos);
        return NULL;
    }
    args a;
    if (bind_args(b, call, &classes[k], &a)) return NULL;
    node *n = new_node(b, classes[k].kind, call, g);
    if (!n) return NULL;
    if (n->kind == K_PLATEAU) b->s->needs_metric = 1;
    if ((n->kind == K_CYCLIC || n->kind == K_ONECYCLE)) {
        node *r = bind_class(b, &a, n);
        if (r && (n->kind == K_CYCLIC ? n->u.cyclic.cycle_momentum : n->u.onecycle.cycle_momentum))
            b->s->cycles_momentum = 1;
        return r;
    }
    return bind_class(b, &a, n);
}

/* ------------------------------------------------------------------ */
/* The public API                                                       */
/* ------------------------------------------------------------------ */

void sched_free(lr_sched *s) {
    if (!s) return;
    node_free(s->root);
    /* nodes not yet linked into the tree when a parse failed */
    if (!s->root)
        for (int i = 0; i < s->n_nodes; i++) {
            node *n = s->nodes[i];
            if (n->kind == K_MULTISTEP) free(n->u.multistep.milestones);
            if (n->kind == K_SEQUENTIAL || n->kind == K_CHAINED) {
                free(n->u.seq.kids);
                free(n->u.seq.milestones);
            }
            if (n->kind == K_WARMUP) free(n->u.warmup.priv);
            free(n);
        }
    expr_arena_free(&s->arena);
    free(s->scratch);
    free(s->src);
    free(s);
}

static int state_size(const lr_sched *s) { return 4 + 7 * s->n_nodes + GROUP_DOUBLES * s->n_groups; }

/* The steps a run takes: one after every epoch (or optimiser step), the
 * last one included, as the trainer and PyTorch's canonical loop do; 0
 * when the run's length is not known. */
static long run_steps(const sched_context *c) {
    if (c->epochs <= 0) return 0;
    if (c->unit_step && c->total_steps > 0) return c->total_steps - (c->print_only != 0);
    return (long)c->epochs * (c->unit_step && c->steps_per_epoch > 0 ? c->steps_per_epoch : 1) - (c->print_only != 0);
}

/* "the run steps it 30 times (30 epochs)" */
static void run_words(const sched_context *c, long n, char *out, size_t cap) {
    char what[80];
    if (c->unit_step && c->total_steps > 0 && c->total_steps != (long)c->epochs * c->steps_per_epoch)
        snprintf(what, sizeof what, "%ld steps in %d epochs of %d steps, --sched-unit step", c->total_steps, c->epochs,
                 c->steps_per_epoch);
    else if (c->unit_step) snprintf(what, sizeof what, "%d epochs of %d steps, --sched-unit step", c->epochs, c->steps_per_epoch);
    else snprintf(what, sizeof what, "%d epochs", c->epochs);
    if (c->print_only) snprintf(out, cap, "printing lr(0..%ld) steps it %ld times (%s)", n, n, what);
    else snprintf(out, cap, "the run steps it %ld times (%s)", n, what);
}

/* Rehearses the whole run on the freshly parsed schedule, so that a
 * schedule that cannot cover it (OneCycleLR with total_steps below the
 * run's steps, an lr_lambda that overflows late) is refused before any
 * training, then puts the state back. A schedule with a metric
 * (ReduceLROnPlateau) cannot fail and is not rehearsed. */
static int sched_cover(lr_sched *s, lr_error *err) {
    long n = run_steps(&s->ctx);
    if (!s->root || s->needs_metric || n <= 0 || n > COVER_MAX_STEPS) return 0;
    double *start = malloc((size_t)state_size(s) * sizeof *start);
    if (!start) return lr_fail(err, "sched: out of memory");
    int k = sched_state_save(s, start, state_size(s));
    expr_error e = {0, 1, ""};
    long step = 0;
    while (step < n && node_step(s->root, 0, 0.0, &e) == 0) step++;
    int rc = 0;
    if (step < n) {
        char run[160], hint[160] = "";
        run_words(&s->ctx, n, run, sizeof run);
        for (int i = 0; i < s->n_nodes; i++) {
            const node *c = s->nodes[i];
            if (c->kind == K_ONECYCLE && c->last_epoch > c->u.onecycle.total_steps)
                snprintf(hint, sizeof hint, "; it needs total_steps >= %ld (or epochs * steps_per_epoch)",
                         c->u.onecycle.total_steps + (n - step));
        }
        char msg[sizeof e.msg + 400];
        snprintf(msg, sizeof msg, "the schedule cannot cover the run: %s, but step %ld fails: %s%s", run, step + 1,
                 e.msg, hint);
        rc = expr_fail(err, s->src, e.pos, e.len, msg);
    }
    sched_state_load(s, start, k, NULL);
    free(start);
    return rc;
}

/* In epoch unit, a OneCycleLR or CyclicLR whose cycle is sized in
 * optimiser steps (total_steps or step_size_up far beyond the epochs). */
static void sched_check_unit(lr_sched *s) {
    const sched_context *c = &s->ctx;
    if (c->unit_step || c->epochs <= 0) return;
    for (int i = 0; i < s->n_nodes && !s->warning[0]; i++) {
        const node *n = s->nodes[i];
        const char *what = NULL;
        double len = 0;
        if (n->kind == K_ONECYCLE) what = "total_steps", len = (double)n->u.onecycle.total_steps;
        if (n->kind == K_CYCLIC) what = "step_size_up", len = n->u.cyclic.total_size * n->u.cyclic.step_ratio;
        if (what && len >= (double)PER_STEP_FACTOR * c->epochs)
            snprintf(s->warning, sizeof s->warning,
                     "%s: %s=%.15g is far more than the run's %d epochs, and t counts epochs (--sched-unit "
                     "epoch): the run would use only lr(0..%d) of it; for a schedule sized in optimiser steps "
                     "use --sched-unit step",
                     kind_names[n->kind], what, len, c->epochs, c->epochs - 1);
    }
}

int sched_parse(lr_sched **out, const char *expr, const sched_context *ctx, lr_error *err) {
    *out = NULL;
    if (!ctx) return lr_fail(err, "sched: no context");
    if (!isfinite(ctx->base_lr) || ctx->base_lr < 0)
        return lr_fail(err, "sched: base lr %g must be a finite number >= 0", ctx->base_lr);
    if (!isfinite(ctx->base_momentum) || ctx->base_momentum < 0)
        return lr_fail(err, "sched: momentum %g must be a finite number >= 0", ctx->base_momentum);
    lr_sched *s = lr_calloc(1, sizeof *s, "sched", err);
    if (!s) return -1;
    s->ctx = *ctx;
    s->group.lr = ctx->base_lr;
    s->group.momentum = ctx->base_momentum;
    s->groups[s->n_groups++] = &s->group;
    const char *p = expr ? expr : "";
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (!*p) { /* constant lr */
        *out = s;
        return 0;
    }
    size_t n = strlen(expr);
    if (n > EXPR_MAX_LEN) {
        sched_free(s);
        return lr_fail(err, "sched: expression is %zu characters long (at most %d)", n, EXPR_MAX_LEN);
    }
    s->src = malloc(n + 1);
    if (!s->src) {
        sched_free(s);
        return lr_fail(err, "sched: out of memory");
    }
    memcpy(s->src, expr, n + 1);
    expr_error e = {0, 1, ""};
    ast *tree;
    if (expr_parse(&s->arena, s->src, NULL, &tree, &e)) {
        expr_fail(err, s->src, e.pos, e.len, e.msg);
        sched_free(s);
        return -1;
    }
    binder b = {s, &e};
    node *root = bind_call(&b, tree, &s->group);
    if (!root) {
        expr_fail(err, s->src, e.pos, e.len, e.msg);
        sched_free(s);
        return -1;
    }
    s->root = root;
    s->scratch = calloc((size_t)state_size(s), sizeof *s->scratch);
    if (!s->scratch) {
        sched_free(s);
        return lr_fail(err, "sched: out of memory");
    }
    if (node_init(root, &e)) {
        expr_fail(err, s->src, e.pos, e.len, e.msg);
        sched_free(s);
        return -1;
    }
    if (sched_cover(s, err)) {
        sched_free(s);
        return -1;
    }
    sched_check_unit(s);
    *out = s;
    return 0;
}

const char *sched_warning(const lr_sched *s) { return s->warning[0] ? s->warning : NULL; }

double sched_lr(const lr_sched *s) { return s->group.lr; }
int sched_cycles_momentum(const lr_sched *s) { return s->cycles_momentum; }
double sched_momentum(const lr_sched *s) { return s->group.momentum; }
int sched_needs_metric(const lr_sched *s) { return s->needs_metric; }
long sched_t(const lr_sched *s) { return s->t; }


static double state_check(const lr_sched *s) {
    double c = 0;
    for (int i = 0; i < s->n_nodes; i++) c += (double)(s->nodes[i]->kind + 1) * (double)(i + 1);
    return c;
}

int sched_state_save(const lr_sched *s, double *buf, int cap) {
    int need = state_size(s);
    if (cap < need) return -1;
    int k = 0;
    buf[k++] = STATE_MAGIC;
    buf[k++] = (double)s->n_nodes;
    buf[k++] = state_check(s);
    buf[k++] = (double)s->t;
    for (int i = 0; i < s->n_nodes; i++) {
        const node *n = s->nodes[i];
        buf[k++] = (double)n->last_epoch;
        buf[k++] = (double)n->step_count;
        buf[k++] = n->base_lr;
        buf[k++] = n->last_lr;
        buf[k++] = n->s0;
        buf[k++] = n->s1;
        buf[k++] = n->s2;
    }
    for (int i = 0; i < s->n_groups; i++) {
        const sched_group *g = s->groups[i];
        const double v[GROUP_DOUBLES] = {g->lr, g->initial_lr, g->has_initial_lr, g->momentum,
                                         g->max_lr, g->min_lr, g->max_momentum, g->base_momentum};
        for (int j = 0; j < GROUP_DOUBLES; j++) buf[k++] = v[j];
    }
    return k;
}

static int is_count(double v, double lo) { return isfinite(v) && v == floor(v) && v >= lo && v <= (double)INT_ARG_MAX * 8; }

int sched_state_load(lr_sched *s, const double *buf, int n, lr_error *err) {
    int need = state_size(s);
    if (!buf || n != need)
        return lr_fail(err, "sched state: %d values, expected %d (a state saved from a different schedule?)", n, need);
    if (buf[0] != STATE_MAGIC || buf[1] != (double)s->n_nodes || buf[2] != state_check(s))
        return lr_fail(err, "sched state: saved from a different schedule expression (expected the same --sched)");
    if (!is_count(buf[3], 0)) return lr_fail(err, "sched state: t = %g is not a count", buf[3]);
    /* validate everything before changing anything */
    for (int i = 0; i < s->n_nodes; i++) {
        const double *v = buf + 4 + 7 * i;
        const node *nd = s->nodes[i];
        if (!is_count(v[0], -1) || !is_count(v[1], 0) || !isfinite(v[2]) || !isfinite(v[3]))
            return lr_fail(err, "sched state: bad values for %s (scheduler %d)", kind_names[nd->kind], i);
        if (nd->kind == K_WARM_RESTARTS && !(is_count(v[4], -1) && is_count(v[5], 1) && v[4] < v[5]))
            return lr_fail(err, "sched state: bad T_cur/T_i %g/%g for CosineAnnealingWarmRestarts", v[4], v[5]);
        if (nd->kind == K_PLATEAU && !(!isnan(v[4]) && is_count(v[5], 0) && is_count(v[6], 0)))
            return lr_fail(err, "sched state: bad counters for ReduceLROnPlateau");
    }
    const double *gv = buf + 4 + 7 * s->n_nodes;
    for (int i = 0; i < GROUP_DOUBLES * s->n_groups; i++)
        if (!isfinite(gv[i])) return lr_fail(err, "sched state: optimiser group value %d is not finite", i);
    s->t = (long)buf[3];
    for (int i = 0; i < s->n_nodes; i++) {
        const double *v = buf + 4 + 7 * i;
        node *nd = s->nodes[i];
        nd->last_epoch = (long)v[0];
        nd->step_count = (long)v[1];
        nd->base_lr = v[2];
        nd->last_lr = v[3];
        nd->s0 = v[4];
        nd->s1 = v[5];
        nd->s2 = v[6];
    }
    for (int i = 0; i < s->n_groups; i++) {
        sched_group *g = s->groups[i];
        const double *v = gv + GROUP_DOUBLES * i;
        g->lr = v[0];
        g->initial_lr = v[1];
        g->has_initial_lr = v[2];
        g->momentum = v[3];
        g->max_lr = v[4];
        g->min_lr = v[5];
        g->max_momentum = v[6];
        g->base_momentum = v[7];
    }
    return 0;
}

int sched_step(lr_sched *s, double metric, lr_error *err) {
    if (!s->root) {
        s->t++;
        return 0;
    }
    /* PyTorch may raise half-way through a step (a ChainedScheduler's second
     * child); keep the state of before the failed step */
    int n = sched_state_save(s, s->scratch, state_size(s));
    expr_error e = {0, 1, ""};
    if (node_step(s->root, 0, metric, &e)) {
        if (n > 0) sched_state_load(s, s->scratch, n, NULL);
        return expr_fail(err, s->src, e.pos, e.len, e.msg);
    }
    s->t++;
    return 0;
}
