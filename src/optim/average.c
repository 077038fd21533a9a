/* optim/average.c: the averages of the weights (lrlab/average.h):
 * Lookahead's settings and synchronisation, the EMA, SWA's running mean,
 * each an element-wise kernel in PyTorch 1.13's float order, and the
 * copies a run keeps. Not here: when the trainer calls them, update_bn,
 * checkpoints. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/average.h"
#include "sched/expr.h"

/* ---- the kernels ---- */

/* at::native::lerp (Lerp.h): self + w * (end - self) for |w| < 0.5, else
 * end - (end - self) * (1 - w); torch's AVX2 build contracts each into one
 * fused multiply-add (checked against torch in tests/test_optim.c). */
void avg_lookahead(float *slow, float *fast, long n, double alpha) {
    float w = (float)alpha; /* the Scalar weight as scalar_t */
    if (fabsf(w) < 0.5f) {
        for (long i = 0; i < n; i++) fast[i] = slow[i] = fmaf(w, fast[i] - slow[i], slow[i]);
    } else {
        float rest = 1.0f - w;
        for (long i = 0; i < n; i++) fast[i] = slow[i] = fmaf(-(fast[i] - slow[i]), rest, fast[i]);
    }
}

/* timm's ModelEmaV2.update: `decay * e + (1. - decay) * m`, three float
 * kernels (mul, mul, add) with the Python scalars rounded to float. */
void avg_ema(float *ema, const float *w, long n, double decay) {
    float d = (float)decay, r = (float)(1.0 - decay);
    for (long i = 0; i < n; i++) {
        float a = d * ema[i], b = r * w[i];
        ema[i] = a + b;
    }
}

/* swa_utils.AveragedModel's avg_fn: p + (m - p) / (n_averaged + 1), the
 * int64 count promoted to float, a true division. */
void avg_swa(float *avg, const float *w, long n, long n_averaged) {
    if (n_averaged == 0) {
        memcpy(avg, w, (size_t)n * sizeof(float));
        return;
    }
    float k = (float)(n_averaged + 1);
    for (long i = 0; i < n; i++) {
        float d = w[i] - avg[i];
        avg[i] = avg[i] + d / k;
    }
}

/* ---- Lookahead's settings ---- */

struct lookahead {
    int k, buffers, final;
    double alpha;     /* when no expression */
    expr_arena arena; /* holds the expression */
    ast *expr;        /* alpha in step and total_steps, or NULL */
    long total_steps;
    char *src;        /* the parsed text, "Lookahead(...)" */
    char *text;       /* the user's (for carets) */
    int off;          /* where it starts in src */
    int alpha_pos, alpha_len; /* alpha's value in src */
};

static const char *const la_modules[] = {NULL};
static const expr_syntax la_syntax = {"--lookahead", "lookahead settings", "k=5, alpha=0.5", la_modules};
#define LA_WRAP "Lookahead("

static int la_fail(expr_error *e, const ast *v, const char *msg) {
    e->pos = v->pos, e->len = v->len;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    return -1;
}

int lookahead_alpha(const lookahead *la, long step, double *alpha, lr_error *err) {
    if (!la->expr) {
        *alpha = la->alpha;
        return 0;
    }
    expr_error e = {0, 1, ""};
    char msg[600];
    if (expr_eval2(la->expr, (double)step, (double)la->total_steps, alpha, &e)) {
        snprintf(msg, sizeof msg, "alpha at step %ld of %ld: %.500s", step, la->total_steps, e.msg);
        return expr_fail_as(err, "--lookahead", la->text, e.pos - la->off, e.len, msg);
    }
    if (!(*alpha >= 0.0 && *alpha <= 1.0)) {
        snprintf(msg, sizeof msg, "alpha at step %ld of %ld is %.17g: expected a value in [0, 1]", step,
                 la->total_steps, *alpha);
        return expr_fail_as(err, "--lookahead", la->text, la->alpha_pos - la->off, la->alpha_len, msg);
    }
    return 0;
}

/* k, alpha, buffers, final: keyword (or positional, in that order) arguments. */
static int la_bind(lookahead *la, const ast *call, expr_error *e) {
    static const char *const names[] = {"k", "alpha", "buffers", "final", NULL};
    const ast *seen[4] = {NULL};
    int next = 0;
    char msg[300];
    la->k = 5, la->alpha = 0.5;
    for (const ast *v = call->first; v; v = v->next) {
        int i = v->kw_len ? lr_key_find(la->src + v->kw_pos, (size_t)v->kw_len, names) : next++;
        if (i < 0 || i > 3) {
            if (!v->kw_len) return la_fail(e, v, "too many arguments (k, alpha, buffers, final)");
            const char *near = lr_nearest(la->src + v->kw_pos, v->kw_len, names, 2);
            snprintf(msg, sizeof msg, "unknown argument '%.*s' (%s%s%s)", v->kw_len < 40 ? v->kw_len : 40,
                     la->src + v->kw_pos, near ? "did you mean " : "expected k, alpha, buffers, final",
                     near ? near : "", near ? "?" : "");
            e->pos = v->kw_pos, e->len = v->kw_len;
            snprintf(e->msg, sizeof e->msg, "%s", msg);
            return -1;
        }
        if (seen[i]) return la_fail(e, v, "argument given twice");
        seen[i] = v;
        if (i == 0 && !(v->kind == AST_NUM && v->is_int && v->num >= 1 && v->num <= 1e9))
            return la_fail(e, v, "k must be a whole number of steps >= 1");
        if (i == 0) la->k = (int)v->num;
        if (i == 1 && v->kind == AST_NUM) {
            if (!(v->num >= 0 && v->num <= 1)) return la_fail(e, v, "alpha must be in [0, 1]");
            la->alpha = v->num;
        } else if (i == 1 && v->kind == AST_STR) {
            la->alpha_pos = v->pos, la->alpha_len = v->len;
            if (expr_parse_arith2(&la->arena, v->str_pos, v->str_len, "step", "total_steps", &la->expr, e)) return -1;
        } else if (i == 1) {
            return la_fail(e, v, "alpha must be a number or a quoted expression in step and total_steps, "
                                 "e.g. '1 - 0.95**5 * (step / total_steps)**3'");
        }
        if (i >= 2 && v->kind != AST_BOOL) return la_fail(e, v, "must be True or False");
        if (i == 2) la->buffers = v->num != 0;
        if (i == 3) la->final = v->num != 0;
    }
    return 0;
}

int lookahead_parse(lookahead **out, const char *text, long total_steps, lr_error *err) {
    *out = NULL;
    lookahead *la = lr_calloc(1, sizeof *la, "lookahead", err);
    if (!la) return -1;
    /* "k=5, alpha=0.5" is parsed as the call "Lookahead(k=5, alpha=0.5)"; a
     * caret goes back under the user's text */
    size_t len = strlen(text), off = strncmp(text, LA_WRAP, strlen(LA_WRAP)) ? strlen(LA_WRAP) : 0;
    la->src = malloc(len + off + 2);
    la->text = strdup(text);
    la->off = (int)off;
    if (!la->src || !la->text) return free(la->src), free(la->text), free(la), lr_fail(err, "--lookahead: out of memory");
    snprintf(la->src, len + off + 2, "%s%s%s", off ? LA_WRAP : "", text, off ? ")" : "");
    la->total_steps = total_steps;
    expr_error e = {0, 1, ""};
    ast *call;
    int rc = expr_parse(&la->arena, la->src, &la_syntax, &call, &e) || la_bind(la, call, &e);
    if (rc) {
        int pos = e.pos - (int)off;
        expr_fail_as(err, "--lookahead", text, pos < 0 ? 0 : pos, e.len, e.msg);
        lookahead_free(la);
        return -1;
    }
    if (total_steps > 0 && la->k > total_steps) { /* never a synchronisation, and final=True returns the start */
        lr_fail(err, "--lookahead '%s': k=%d is more than the run's %ld steps: the slow weights would never "
                     "synchronise%s (expected k <= %ld)", text, la->k, total_steps,
                la->final ? ", and final=True would end the run with its initial weights" : "", total_steps);
        lookahead_free(la);
        return -1;
    }
    /* the run's synchronisations: refused where alpha fails (airbench's own alpha is 0.95**5 * (step / total)**3) */
    for (long s = la->k; la->expr && total_steps > 0 && s <= total_steps; s += la->k) {
        double a;
        if (lookahead_alpha(la, s, &a, err)) {
            lookahead_free(la);
            return -1;
        }
    }
    *out = la;
    return 0;
}

void lookahead_free(lookahead *la) {
    if (!la) return;
    if (la->src) expr_arena_free(&la->arena);
    free(la->src);
    free(la->text);
    free(la);
}

int lookahead_k(const lookahead *la) { return la->k; }
int lookahead_buffers(const lookahead *la) { return la->buffers; }
int lookahead_final(const lookahead *la) { return la->final; }

/* ---- a run's averages ---- */

static float *alloc(long n, const char *what, lr_error *err) { return lr_calloc((size_t)n + 1, sizeof(float), what, err); }

int avg_state_init(avg_state *s, unsigned which, long n_params, long n_buffers, const float *params,
                   const float *buffers, lr_error *err) {
    memset(s, 0, sizeof *s);
    s->n_params = n_params, s->n_buffers = n_buffers;
    int fail = 0;
    if (which & AVG_LOOKAHEAD) fail |= !(s->slow_params = alloc(n_params, "lookahead weights", err));
    if ((which & AVG_LOOKAHEAD_BUFFERS) && n_buffers) fail |= !(s->slow_buffers = alloc(n_buffers, "lookahead buffers", err));
    if (which & AVG_EMA) fail |= !(s->ema_params = alloc(n_params, "EMA weights", err));
    if ((which & AVG_EMA) && n_buffers) fail |= !(s->ema_buffers = alloc(n_buffers, "EMA buffers", err));
    if (which & AVG_SWA) fail |= !(s->swa_params = alloc(n_params, "SWA weights", err));
    if (fail) return -1;
    avg_state_copy(s, which, params, buffers);
    return 0;
}

void avg_state_copy(avg_state *s, unsigned which, const float *params, const float *buffers) {
    const struct {
        unsigned bit;
        float *to;
        const float *from;
        long n;
    } all[] = {{AVG_LOOKAHEAD, s->slow_params, params, s->n_params},
               {AVG_LOOKAHEAD, s->slow_buffers, buffers, s->n_buffers},
               {AVG_EMA, s->ema_params, params, s->n_params},
               {AVG_EMA, s->ema_buffers, buffers, s->n_buffers},
               {AVG_SWA, s->swa_params, params, s->n_params}};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if ((which & all[i].bit) && all[i].to && all[i].n) memcpy(all[i].to, all[i].from, (size_t)all[i].n * sizeof(float));
}

void avg_state_free(avg_state *s) {
    free(s->slow_params), free(s->slow_buffers), free(s->ema_params), free(s->ema_buffers), free(s->swa_params);
    memset(s, 0, sizeof *s);
}

int avg_state_tensors(const avg_state *s, avg_tensor *out) {
    const avg_tensor all[AVG_MAX_TENSORS] = {
        {"average.lookahead.params", s->slow_params, s->n_params},
        {"average.lookahead.buffers", s->slow_buffers, s->n_buffers},
        {"average.ema.params", s->ema_params, s->n_params},
        {"average.ema.buffers", s->ema_buffers, s->n_buffers},
        {"average.swa.params", s->swa_params, s->n_params},
    };
    int n = 0;
    for (int i = 0; i < AVG_MAX_TENSORS; i++)
        if (all[i].data) out[n++] = all[i];
    return n;
}

void avg_update_lookahead(avg_state *s, const model_spec *m, float *params, float *buffers, double alpha) {
    avg_lookahead(s->slow_params, params, s->n_params, alpha);
    for (int i = 0; s->slow_buffers && i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (t->buffer && t->role != TENSOR_NUM_BATCHES)
            avg_lookahead(s->slow_buffers + t->offset, buffers + t->offset, t->count, alpha);
    }
}

void avg_update_ema(avg_state *s, const float *params, const float *buffers, double decay) {
    avg_ema(s->ema_params, params, s->n_params, decay);
    if (s->ema_buffers) memcpy(s->ema_buffers, buffers, (size_t)s->n_buffers * sizeof(float));
}

void avg_update_swa(avg_state *s, const float *params) {
    avg_swa(s->swa_params, params, s->n_params, s->swa_n);
    s->swa_n++;
}
