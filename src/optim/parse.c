/* optim/parse.c: optimisers written as PyTorch constructor calls
 * ("AdamW(lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05)"), parsed by the
 * schedules' parser (src/sched/expr.c: same syntax, same caret errors) and
 * bound here to a table of each kind's keyword arguments: torch 1.13's
 * names, positional order, defaults and constructor checks (the messages of
 * its ValueErrors, under the value they are about). Also the canonical text
 * of an optimiser (optim_format) and the SGD shorthand flags (optim_sgd).
 * Not here: the steps (optim/optim.c). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/optim.h"
#include "sched/expr.h"

/* a keyword argument's type: a number; True/False; a pair of numbers (two
 * fields); an argument lrlab accepts only as torch's default (foreach: None
 * or False, lrlab computes the single-tensor path; capturable,
 * differentiable, fused: False) */
enum { T_NUM, T_BOOL, T_PAIR, T_NONE_OR_FALSE, T_FALSE };

typedef struct {
    const char *name;
    int type, kwonly;
    size_t off, off2;    /* fields of optim_params (off2: a pair's second) */
    double dflt, dflt2;
} arg_spec;

#define MAX_ARGS 12
#define P(f) offsetof(optim_params, f)
#define NUM(name, f, d) {name, T_NUM, 0, P(f), 0, d, 0}
#define BOOL(name, f) {name, T_BOOL, 0, P(f), 0, 0, 0}
#define KBOOL(name, f) {name, T_BOOL, 1, P(f), 0, 0, 0}
#define PAIR(name, f, g, d, d2) {name, T_PAIR, 0, P(f), P(g), d, d2}
#define FOREACH {"foreach", T_NONE_OR_FALSE, 0, 0, 0, 0, 0}
#define KFOREACH {"foreach", T_NONE_OR_FALSE, 1, 0, 0, 0, 0}
#define KFALSE(name) {name, T_FALSE, 1, 0, 0, 0, 0}

/* torch 1.13's signatures, in order, after `params` (kwonly: after `*`) */
static const arg_spec specs[OPTIM_KINDS][MAX_ARGS] = {
    [OPTIM_SGD] = {NUM("lr", lr, 0.01), NUM("momentum", momentum, 0), NUM("dampening", dampening, 0),
                   NUM("weight_decay", weight_decay, 0), BOOL("nesterov", nesterov), KBOOL("maximize", maximize),
                   KFOREACH, KFALSE("differentiable")},
    [OPTIM_ADAM] = {NUM("lr", lr, 1e-3), PAIR("betas", beta1, beta2, 0.9, 0.999), NUM("eps", eps, 1e-8),
                    NUM("weight_decay", weight_decay, 0), BOOL("amsgrad", amsgrad), KFOREACH,
                    KBOOL("maximize", maximize), KFALSE("capturable"), KFALSE("differentiable"), KFALSE("fused")},
    [OPTIM_ADAMW] = {NUM("lr", lr, 1e-3), PAIR("betas", beta1, beta2, 0.9, 0.999), NUM("eps", eps, 1e-8),
                     NUM("weight_decay", weight_decay, 1e-2), BOOL("amsgrad", amsgrad), KBOOL("maximize", maximize),
                     KFOREACH, KFALSE("capturable")},
    [OPTIM_RMSPROP] = {NUM("lr", lr, 1e-2), NUM("alpha", alpha, 0.99), NUM("eps", eps, 1e-8),
                       NUM("weight_decay", weight_decay, 0), NUM("momentum", momentum, 0), BOOL("centered", centered),
                       FOREACH, BOOL("maximize", maximize), {"differentiable", T_FALSE, 0, 0, 0, 0, 0}},
    [OPTIM_ADAGRAD] = {NUM("lr", lr, 1e-2), NUM("lr_decay", lr_decay, 0), NUM("weight_decay", weight_decay, 0),
                       NUM("initial_accumulator_value", initial_accumulator_value, 0), NUM("eps", eps, 1e-10),
                       FOREACH, KBOOL("maximize", maximize)},
    [OPTIM_ADADELTA] = {NUM("lr", lr, 1.0), NUM("rho", rho, 0.9), NUM("eps", eps, 1e-6),
                        NUM("weight_decay", weight_decay, 0), FOREACH, KBOOL("maximize", maximize)},
    [OPTIM_ADAMAX] = {NUM("lr", lr, 2e-3), PAIR("betas", beta1, beta2, 0.9, 0.999), NUM("eps", eps, 1e-8),
                      NUM("weight_decay", weight_decay, 0), FOREACH, KBOOL("maximize", maximize)},
    [OPTIM_NADAM] = {NUM("lr", lr, 2e-3), PAIR("betas", beta1, beta2, 0.9, 0.999), NUM("eps", eps, 1e-8),
                     NUM("weight_decay", weight_decay, 0), NUM("momentum_decay", momentum_decay, 4e-3), FOREACH},
    [OPTIM_RADAM] = {NUM("lr", lr, 1e-3), PAIR("betas", beta1, beta2, 0.9, 0.999), NUM("eps", eps, 1e-8),
                     NUM("weight_decay", weight_decay, 0), FOREACH},
    [OPTIM_ASGD] = {NUM("lr", lr, 1e-2), NUM("lambd", lambd, 1e-4), NUM("alpha", alpha, 0.75), NUM("t0", t0, 1e6),
                    NUM("weight_decay", weight_decay, 0), FOREACH, BOOL("maximize", maximize)},
    [OPTIM_RPROP] = {NUM("lr", lr, 1e-2), PAIR("etas", etaminus, etaplus, 0.5, 1.2),
                     PAIR("step_sizes", step_size_min, step_size_max, 1e-6, 50), FOREACH, BOOL("maximize", maximize)},
};

static int n_args(optim_kind k) {
    int n = 0;
    while (n < MAX_ARGS && specs[k][n].name) n++;
    return n;
}

static double *field(optim_params *hp, size_t off) { return (double *)((char *)hp + off); }
static int *bool_field(optim_params *hp, size_t off) { return (int *)((char *)hp + off); }

void optim_defaults(optim_params *hp, optim_kind k) {
    memset(hp, 0, sizeof *hp);
    hp->kind = k;
    for (int i = 0; i < n_args(k); i++) {
        const arg_spec *a = &specs[k][i];
        if (a->type == T_NUM || a->type == T_PAIR) *field(hp, a->off) = a->dflt;
        if (a->type == T_PAIR) *field(hp, a->off2) = a->dflt2;
    }
}

/* Python's repr of a float: the fewest digits that read back, in fixed
 * notation for exponents -4..15 (with ".0" when whole), else as %e does. */
static void py_float(char *out, size_t cap, double v) {
    int prec = 0;
    for (; prec < 17; prec++) {
        snprintf(out, cap, "%.*e", prec, v);
        if (strtod(out, NULL) == v) break;
    }
    int exp = atoi(strchr(out, 'e') + 1);
    if (!isfinite(v) || exp < -4 || exp >= 16) return;
    int decimals = prec - exp > 0 ? prec - exp : 0;
    snprintf(out, cap, "%.*f", decimals, v);
    if (!strchr(out, '.')) snprintf(out + strlen(out), cap - strlen(out), ".0");
}

/* ---- torch 1.13's constructor checks, in its order ---- */

typedef struct {
    const char *arg; /* the argument to point at */
    int index;       /* a pair's element (for the message), or -1 */
} blame;

/* Each check returns 0, or fills msg and *b with torch's ValueError. */
static int check(const optim_params *hp, char *msg, size_t cap, blame *b) {
    char v1[32], v2[32];
    b->index = -1;
#define FAIL(argname, ...) (b->arg = (argname), snprintf(msg, cap, __VA_ARGS__), -1)
#define REPR(buf, x) (py_float(buf, sizeof buf, x), buf)
    optim_kind k = hp->kind;
    if (!(0.0 <= hp->lr)) return FAIL("lr", "Invalid learning rate: %s", REPR(v1, hp->lr));
    switch (k) {
    case OPTIM_SGD:
        if (hp->momentum < 0.0) return FAIL("momentum", "Invalid momentum value: %s", REPR(v1, hp->momentum));
        if (hp->weight_decay < 0.0)
            return FAIL("weight_decay", "Invalid weight_decay value: %s", REPR(v1, hp->weight_decay));
        if (hp->nesterov && (hp->momentum <= 0 || hp->dampening != 0))
            return FAIL("nesterov", "Nesterov momentum requires a momentum and zero dampening");
        return 0;
    case OPTIM_RMSPROP:
        if (!(0.0 <= hp->eps)) return FAIL("eps", "Invalid epsilon value: %s", REPR(v1, hp->eps));
        if (!(0.0 <= hp->momentum)) return FAIL("momentum", "Invalid momentum value: %s", REPR(v1, hp->momentum));
        if (!(0.0 <= hp->weight_decay))
            return FAIL("weight_decay", "Invalid weight_decay value: %s", REPR(v1, hp->weight_decay));
        if (!(0.0 <= hp->alpha)) return FAIL("alpha", "Invalid alpha value: %s", REPR(v1, hp->alpha));
        return 0;
    case OPTIM_ADAGRAD:
        if (!(0.0 <= hp->lr_decay)) return FAIL("lr_decay", "Invalid lr_decay value: %s", REPR(v1, hp->lr_decay));
        if (!(0.0 <= hp->weight_decay))
            return FAIL("weight_decay", "Invalid weight_decay value: %s", REPR(v1, hp->weight_decay));
        if (!(0.0 <= hp->initial_accumulator_value))
            return FAIL("initial_accumulator_value", "Invalid initial_accumulator_value value: %s",
                        REPR(v1, hp->initial_accumulator_value));
        if (!(0.0 <= hp->eps)) return FAIL("eps", "Invalid epsilon value: %s", REPR(v1, hp->eps));
        return 0;
    case OPTIM_ADADELTA:
        if (!(0.0 <= hp->rho && hp->rho <= 1.0)) return FAIL("rho", "Invalid rho value: %s", REPR(v1, hp->rho));
        if (!(0.0 <= hp->eps)) return FAIL("eps", "Invalid epsilon value: %s", REPR(v1, hp->eps));
        if (!(0.0 <= hp->weight_decay))
            return FAIL("weight_decay", "Invalid weight_decay value: %s", REPR(v1, hp->weight_decay));
        return 0;
    case OPTIM_ASGD:
        if (!(0.0 <= hp->weight_decay))
            return FAIL("weight_decay", "Invalid weight_decay value: %s", REPR(v1, hp->weight_decay));
        return 0;
    case OPTIM_RPROP:
        if (!(0.0 < hp->etaminus && hp->etaminus < 1.0 && 1.0 < hp->etaplus))
            return FAIL("etas", "Invalid eta values: %s, %s", REPR(v1, hp->etaminus), REPR(v2, hp->etaplus));
        return 0;
    default: /* the Adam family: Adam, AdamW, Adamax, NAdam, RAdam */
        if (!(0.0 <= hp->eps)) return FAIL("eps", "Invalid epsilon value: %s", REPR(v1, hp->eps));
        if (!(0.0 <= hp->beta1 && hp->beta1 < 1.0))
            return b->index = 0, FAIL("betas", "Invalid beta parameter at index 0: %s", REPR(v1, hp->beta1));
        if (!(0.0 <= hp->beta2 && hp->beta2 < 1.0))
            return b->index = 1, FAIL("betas", "Invalid beta parameter at index 1: %s", REPR(v1, hp->beta2));
        if (!(0.0 <= hp->weight_decay))
            return FAIL("weight_decay", "Invalid weight_decay value: %s", REPR(v1, hp->weight_decay));
        if (k == OPTIM_NADAM && !(0.0 <= hp->momentum_decay))
            return FAIL("momentum_decay", "Invalid momentum_decay value: %s", REPR(v1, hp->momentum_decay));
        return 0;
    }
#undef FAIL
#undef REPR
}

int optim_sgd(optim_params *hp, double lr, double momentum, double dampening, double weight_decay, int nesterov,
              lr_error *err) {
    optim_defaults(hp, OPTIM_SGD);
    hp->lr = lr, hp->momentum = momentum, hp->dampening = dampening, hp->weight_decay = weight_decay;
    hp->nesterov = nesterov;
    char msg[256];
    blame b;
    if (check(hp, msg, sizeof msg, &b))
        return lr_fail(err, "--%s: %s (PyTorch's ValueError)", !strcmp(b.arg, "nesterov") ? "nesterov" : b.arg, msg);
    return 0;
}

/* ---- binding a call to a kind's arguments ---- */

static const char *const optim_modules[] = {"torch.optim.", "optim.", NULL};
static const expr_syntax optim_syntax = {"optim", "an optimiser", "Adam(lr=1e-3)", optim_modules};

static int fail_at(expr_error *e, const ast *v, const char *msg) {
    e->pos = v->pos, e->len = v->len;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    return -1;
}

static const char *type_name(const ast *v) {
    switch (v->kind) {
    case AST_NUM: return v->is_int ? "an integer" : "a float";
    case AST_STR: return "a string";
    case AST_BOOL: return "a bool";
    case AST_NONE: return "None";
    case AST_LIST: return v->op == '(' ? "a tuple" : "a list";
    case AST_CALL: return "a call";
    default: return "an expression";
    }
}

/* One argument's value into hp. */
static int bind_value(optim_params *hp, const char *kind, const arg_spec *a, const ast *v, expr_error *e) {
    char msg[256];
    switch (a->type) {
    case T_NUM:
        if (v->kind != AST_NUM) {
            snprintf(msg, sizeof msg, "%s: %s must be a number, got %s", kind, a->name, type_name(v));
            return fail_at(e, v, msg);
        }
        *field(hp, a->off) = v->num;
        return 0;
    case T_BOOL:
        if (v->kind != AST_BOOL) {
            snprintf(msg, sizeof msg, "%s: %s must be True or False, got %s", kind, a->name, type_name(v));
            return fail_at(e, v, msg);
        }
        *bool_field(hp, a->off) = v->num != 0;
        return 0;
    case T_PAIR: {
        const ast *x = v->kind == AST_LIST ? v->first : NULL, *y = x ? x->next : NULL;
        if (!x || !y || y->next || x->kind != AST_NUM || y->kind != AST_NUM) {
            snprintf(msg, sizeof msg, "%s: %s must be a pair of numbers such as (%g, %g), got %s", kind, a->name,
                     a->dflt, a->dflt2, type_name(v));
            return fail_at(e, v, msg);
        }
        *field(hp, a->off) = x->num, *field(hp, a->off2) = y->num;
        return 0;
    }
    default: /* foreach, capturable, differentiable, fused: only their defaults */
        if ((v->kind == AST_BOOL && v->num == 0) || (a->type == T_NONE_OR_FALSE && v->kind == AST_NONE)) return 0;
        snprintf(msg, sizeof msg, "%s: only %s=%s is supported (lrlab computes PyTorch's single-tensor CPU path)",
                 kind, a->name, a->type == T_NONE_OR_FALSE ? "None or False" : "False");
        return fail_at(e, v, msg);
    }
}

static int unknown_kind(const char *src, const ast *call, expr_error *e) {
    char list[256] = "", msg[400];
    int best = -1, bestd = 4;
    for (int k = 0; k < OPTIM_KINDS; k++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", optim_name(k));
        int d = lr_distance(src + call->pos, call->len, optim_name(k));
        if (d < bestd) bestd = d, best = k;
    }
    int len = call->len < 40 ? call->len : 40;
    if (best >= 0)
        snprintf(msg, sizeof msg, "unknown optimiser '%.*s' (did you mean %s?)", len, src + call->pos,
                 optim_name(best));
    else if ((call->len == 5 && !memcmp(src + call->pos, "LBFGS", 5)) ||
             (call->len == 10 && !memcmp(src + call->pos, "SparseAdam", 10)))
        snprintf(msg, sizeof msg, "%.*s is not supported (docs/optimisers.md says why); lrlab knows %s", len,
                 src + call->pos, list);
    else
        snprintf(msg, sizeof msg, "unknown optimiser '%.*s' (lrlab knows %s)", len, src + call->pos, list);
    return fail_at(e, call, msg);
}

/* The call's arguments, positional (after an optional leading name: the
 * params, implied) and keyword, into hp over the kind's defaults. */
static int bind_call(optim_params *hp, int *lr_given, const char *src, const ast *call, const ast **vals,
                     expr_error *e) {
    int k = optim_find(src + call->pos, call->len);
    if (k < 0) return unknown_kind(src, call, e);
    optim_defaults(hp, (optim_kind)k);
    const char *kind = optim_name(k);
    int n = n_args(k), next = 0;
    char msg[400];
    for (const ast *v = call->first; v; v = v->next) {
        int i = -1;
        if (v->kw_len == 0) {
            if (v == call->first && v->kind == AST_NAME) continue; /* the params: implied */
            if (next >= n || specs[k][next].kwonly) {
                snprintf(msg, sizeof msg, "%s: too many positional arguments", kind);
                return fail_at(e, v, msg);
            }
            i = next++;
        } else {
            for (int j = 0; j < n; j++)
                if ((int)strlen(specs[k][j].name) == v->kw_len && !memcmp(src + v->kw_pos, specs[k][j].name, (size_t)v->kw_len))
                    i = j;
            if (i < 0 && v->kw_len == 6 && !memcmp(src + v->kw_pos, "params", 6) && v->kind == AST_NAME) continue;
            if (i < 0) {
                const char *names[MAX_ARGS + 1] = {NULL};
                for (int j = 0; j < n; j++) names[j] = specs[k][j].name;
                const char *near = lr_nearest(src + v->kw_pos, v->kw_len, names, 3);
                char takes[300] = "";
                for (int j = 0; j < n; j++) {
                    size_t l = strlen(takes);
                    snprintf(takes + l, sizeof takes - l, "%s%s", j ? ", " : "", names[j]);
                }
                snprintf(msg, sizeof msg, "%s: unknown argument '%.*s' (%s%s%s)", kind, v->kw_len < 40 ? v->kw_len : 40,
                         src + v->kw_pos, near ? "did you mean " : "", near ? near : takes, near ? "?" : "");
                e->pos = v->kw_pos, e->len = v->kw_len;
                snprintf(e->msg, sizeof e->msg, "%s", msg);
                return -1;
            }
        }
        if (vals[i]) {
            snprintf(msg, sizeof msg, "%s: argument '%s' given twice", kind, specs[k][i].name);
            return fail_at(e, v, msg);
        }
        vals[i] = v;
        if (bind_value(hp, kind, &specs[k][i], v, e)) return -1;
    }
    *lr_given = vals[0] != NULL; /* lr is every kind's first argument */
    blame b;
    if (check(hp, msg, sizeof msg, &b)) {
        int i = 0;
        while (i < n && strcmp(specs[k][i].name, b.arg)) i++;
        const ast *at = i < n && vals[i] ? vals[i] : call;
        if (at != call && b.index >= 0 && at->kind == AST_LIST) at = b.index ? at->first->next : at->first;
        char full[512];
        snprintf(full, sizeof full, "%s: %s (PyTorch's ValueError)", kind, msg);
        return fail_at(e, at, full);
    }
    return 0;
}

int optim_parse(optim_params *hp, int *lr_given, const char *expr, lr_error *err) {
    expr_arena a;
    expr_error e = {0, 1, ""};
    ast *tree;
    const ast *vals[MAX_ARGS] = {NULL};
    int rc = expr_parse(&a, expr, &optim_syntax, &tree, &e) || bind_call(hp, lr_given, expr, tree, vals, &e);
    if (rc) expr_fail_as(err, "optim", expr, e.pos, e.len, e.msg);
    expr_arena_free(&a);
    return rc ? -1 : 0;
}

void optim_format(char *out, size_t cap, const optim_params *hp, int brief) {
    optim_kind k = hp->kind;
    optim_params *h = (optim_params *)hp, d; /* field() reads only */
    optim_defaults(&d, k);
    int len = snprintf(out, cap, "%s(", optim_name(k));
    for (int i = 0; i < n_args(k) && len >= 0 && (size_t)len < cap; i++) {
        const arg_spec *a = &specs[k][i];
        if (a->type == T_NONE_OR_FALSE || a->type == T_FALSE) continue; /* only their defaults exist */
        char v1[32], v2[32];
        const char *sep = len > 0 && out[len - 1] != '(' ? ", " : "";
        int dflt = a->type == T_BOOL ? *bool_field(h, a->off) == *bool_field(&d, a->off)
                   : *field(h, a->off) == *field(&d, a->off) &&
                         (a->type != T_PAIR || *field(h, a->off2) == *field(&d, a->off2));
        if (brief && i > 0 && dflt) continue; /* lr, the first, always shown */
        if (a->type == T_NUM) {
            py_float(v1, sizeof v1, *field(h, a->off));
            len += snprintf(out + len, cap - (size_t)len, "%s%s=%s", sep, a->name, v1);
        } else if (a->type == T_PAIR) {
            py_float(v1, sizeof v1, *field(h, a->off));
            py_float(v2, sizeof v2, *field(h, a->off2));
            len += snprintf(out + len, cap - (size_t)len, "%s%s=(%s, %s)", sep, a->name, v1, v2);
        } else if (a->type == T_BOOL) {
            len += snprintf(out + len, cap - (size_t)len, "%s%s=%s", sep, a->name,
                            *bool_field(h, a->off) ? "True" : "False");
        }
    }
    if (len >= 0 && (size_t)len < cap) snprintf(out + len, cap - (size_t)len, ")");
}

/* ---- parameter groups ---- */

static const char *const group_kinds[] = {"conv", "linear", "batchnorm", "weight", "bias", NULL};
static const char *const group_roles[] = {"weight", "bias", NULL};

static int group_fail(lr_error *err, const char *text, int pos, int len, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int group_fail(lr_error *err, const char *text, int pos, int len, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return expr_fail_as(err, "--param-group", text, pos, len > 0 ? len : 1, msg);
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* [pos, pos + len) trimmed of blanks */
static void trim(const char *t, int *pos, int *len) {
    while (*len > 0 && is_space(t[*pos])) (*pos)++, (*len)--;
    while (*len > 0 && is_space(t[*pos + *len - 1])) (*len)--;
}

/* The selector's alternatives: each a glob or @kind[.role]. */
static int check_selector(const char *t, int pos, int len, lr_error *err) {
    trim(t, &pos, &len);
    if (len == 0) return group_fail(err, t, pos, 1, "expected a selector before ':' (a glob such as '*.bias', or @batchnorm)");
    for (int end = pos + len, a = pos; a <= end;) {
        int b = a;
        while (b < end && t[b] != '|') b++;
        int p = a, l = b - a;
        trim(t, &p, &l);
        if (l == 0) return group_fail(err, t, a, 1, "an empty alternative in the selector");
        if (t[p] == '@') {
            int dot = p + 1;
            while (dot < p + l && t[dot] != '.') dot++;
            if (lr_key_find(t + p + 1, (size_t)(dot - p - 1), group_kinds) < 0)
                return group_fail(err, t, p, dot - p, "unknown kind '%.*s' (expected @conv, @linear, @batchnorm, @weight or "
                                  "@bias, optionally with .weight or .bias)", dot - p, t + p);
            if (dot < p + l && lr_key_find(t + dot + 1, (size_t)(p + l - dot - 1), group_roles) < 0)
                return group_fail(err, t, dot + 1, p + l - dot - 1, "unknown role '%.*s' (expected weight or bias)",
                                  p + l - dot - 1, t + dot + 1);
        } else {
            for (int i = p; i < p + l; i++)
                if (!(isalnum((unsigned char)t[i]) || strchr("_.*?[]!-", t[i])))
                    return group_fail(err, t, i, 1, "'%c' in a glob (expected state_dict names with * ? [...])", t[i]);
        }
        a = b + 1;
    }
    return 0;
}

/* frozen, frozen=True|False|until:N|from:N */
static int parse_frozen(param_group *g, const char *t, int vpos, int vlen, lr_error *err) {
    if (vlen < 0 || (vlen == 4 && !memcmp(t + vpos, "True", 4))) return g->frozen = FROZEN_ALWAYS, 0;
    if (vlen == 5 && !memcmp(t + vpos, "False", 5)) return g->frozen = FROZEN_NO, 0;
    int until = vlen > 6 && !memcmp(t + vpos, "until:", 6), from = vlen > 5 && !memcmp(t + vpos, "from:", 5);
    if (until || from) {
        int k = vpos + (until ? 6 : 5), n = vpos + vlen - k;
        char num[32] = "", *end;
        if (n < (int)sizeof num) memcpy(num, t + k, (size_t)n), num[n] = '\0';
        long e = strtol(num, &end, 10);
        if (n > 0 && n < (int)sizeof num && !*end && e >= 0 && e <= 1000000) {
            g->frozen = until ? FROZEN_UNTIL : FROZEN_FROM, g->frozen_epoch = e;
            return 0;
        }
        return group_fail(err, t, k, n, "expected a number of epochs >= 0 after '%s'", until ? "until:" : "from:");
    }
    return group_fail(err, t, vpos, vlen, "frozen takes True, False, until:N (frozen for the first N epochs) or from:N "
                                          "(frozen from epoch N on)");
}

/* One key=value of a group: lr_scale, frozen, or one of the kind's arguments
 * (its value parsed as in an --optim expression). given[i]: the span of the
 * value of argument i (length 0: not given). */
static int group_item(param_group *g, const char *t, int pos, int len, int (*given)[2], lr_error *err) {
    optim_kind k = g->hp.kind;
    int klen = 0;
    while (klen < len && (isalnum((unsigned char)t[pos + klen]) || t[pos + klen] == '_')) klen++;
    int eq = pos + klen, e2 = eq;
    while (e2 < pos + len && is_space(t[e2])) e2++;
    int vpos = -1, vlen = -1;
    if (e2 < pos + len) {
        if (t[e2] != '=') return group_fail(err, t, e2, 1, "expected key=value");
        vpos = e2 + 1, vlen = pos + len - vpos;
        trim(t, &vpos, &vlen);
        if (vlen == 0) return group_fail(err, t, e2, 1, "expected a value after '='");
    }
    if (klen == 0) return group_fail(err, t, pos, 1, "expected key=value");
    const char *names[MAX_ARGS + 3] = {NULL};
    int n = n_args(k), m = 0;
    for (int j = 0; j < n; j++) names[m++] = specs[k][j].name;
    names[m++] = "lr_scale", names[m++] = "frozen";
    int i = lr_key_find(t + pos, (size_t)klen, names);
    if (i < 0 || (klen > 0 && strncmp(t + pos, names[i], (size_t)klen))) {
        const char *near = lr_nearest(t + pos, klen, names, 3);
        char list[400] = "";
        for (int j = 0; j < m; j++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "", names[j]);
        return group_fail(err, t, pos, klen, "unknown key '%.*s' for %s (%s%s%s)", klen, t + pos, optim_name(k),
                          near ? "did you mean " : "its keys: ", near ? near : list, near ? "?" : "");
    }
    if (given[i][1]) return group_fail(err, t, pos, klen, "key '%s' given twice", names[i]);
    given[i][0] = vlen > 0 ? vpos : pos, given[i][1] = vlen > 0 ? vlen : klen;
    if (i == n + 1) return parse_frozen(g, t, vpos, vlen, err);
    if (vlen < 0) return group_fail(err, t, pos, klen, "expected %s=VALUE", names[i]);
    if (i == n) { /* lr_scale */
        char num[64] = "", *end;
        if (vlen < (int)sizeof num) memcpy(num, t + vpos, (size_t)vlen), num[vlen] = '\0';
        double v = strtod(num, &end);
        if (!num[0] || *end || !isfinite(v) || v < 0)
            return group_fail(err, t, vpos, vlen, "lr_scale must be a number >= 0");
        g->lr_scale = v;
        return 0;
    }
    /* the value as in an --optim call: "G(" key=value ")" parsed, positions mapped back */
    char src[600];
    int off = snprintf(src, sizeof src, "G(");
    int l = snprintf(src + off, sizeof src - (size_t)off, "%.*s)", pos + len - pos, t + pos);
    if (off + l >= (int)sizeof src) return group_fail(err, t, pos, len, "too long");
    expr_error e = {0, 1, ""};
    expr_arena arena;
    ast *tree;
    int shift = pos - off, rc = expr_parse(&arena, src, &optim_syntax, &tree, &e) ||
                                bind_value(&g->hp, optim_name(k), &specs[k][i], tree->first, &e);
    expr_arena_free(&arena);
    return rc ? group_fail(err, t, e.pos + shift, e.len, "%s", e.msg) : 0;
}

void optim_group_default(param_group *g, const optim_params *base) {
    memset(g, 0, sizeof *g);
    g->hp = *base, g->lr_scale = 1;
}

int optim_group_parse(param_group *g, const optim_params *base, const char *text, lr_error *err) {
    optim_group_default(g, base);
    int n = (int)strlen(text);
    if (n >= (int)sizeof g->text) return lr_fail(err, "--param-group: longer than %zu characters", sizeof g->text - 1);
    memcpy(g->text, text, (size_t)n + 1);
    const char *t = g->text, *colon = strchr(t, ':');
    if (!colon) return group_fail(err, t, n, 1, "expected 'SELECTOR: key=value, ...' (no ':')");
    g->sel_pos = 0, g->sel_len = (int)(colon - t);
    trim(t, &g->sel_pos, &g->sel_len);
    if (check_selector(t, 0, (int)(colon - t), err)) return -1;
    int given[MAX_ARGS + 2][2], items = 0, rc = 0;
    memset(given, 0, sizeof given);
    for (int a = (int)(colon - t) + 1; !rc && a <= n;) {
        int b = a, depth = 0;
        for (; b < n && (depth > 0 || t[b] != ','); b++) depth += (t[b] == '(' || t[b] == '[') - (t[b] == ')' || t[b] == ']');
        int p = a, l = b - a;
        trim(t, &p, &l);
        if (l == 0 && (b < n || items == 0)) rc = group_fail(err, t, p, 1, "expected key=value");
        else if (l > 0) rc = group_item(g, t, p, l, given, err), items++;
        a = b + 1;
    }
    char msg[256];
    blame bl;
    if (!rc && check(&g->hp, msg, sizeof msg, &bl)) {
        int i = 0, k = g->hp.kind;
        while (i < n_args(k) && strcmp(specs[k][i].name, bl.arg)) i++;
        int at = i < n_args(k) && given[i][1]; /* the group's value, else the whole group (the optimiser's) */
        rc = group_fail(err, t, at ? given[i][0] : 0, at ? given[i][1] : n, "%s: %s (as PyTorch's constructor checks)",
                        optim_name(k), msg);
    }
    if (!rc) g->hp.lr *= g->lr_scale;
    return rc;
}

/* fnmatch without FNM_PATHNAME: '*' crosses dots */
int optim_group_selects(const param_group *g, const char *name, const char *layer, int bias) {
    if (!g->text[0]) return 1;
    const char *t = g->text;
    for (int end = g->sel_pos + g->sel_len, a = g->sel_pos; a <= end;) {
        int b = a;
        while (b < end && t[b] != '|') b++;
        int p = a, l = b - a;
        trim(t, &p, &l);
        char term[256];
        snprintf(term, sizeof term, "%.*s", l, t + p);
        if (term[0] == '@') {
            char *dot = strchr(term, '.');
            if (dot) *dot = '\0';
            const char *k = term + 1, *role = dot ? dot + 1 : NULL;
            int kind_ok = !strcmp(k, "weight") ? !bias : !strcmp(k, "bias") ? bias : !strcmp(k, layer);
            int role_ok = !role || (!strcmp(role, "bias") ? bias : !bias);
            if (kind_ok && role_ok) return 1;
        } else if (fnmatch(term, name, 0) == 0) {
            return 1;
        }
        a = b + 1;
    }
    return 0;
}

int optim_group_frozen(const param_group *g, long epoch) {
    return g->frozen == FROZEN_ALWAYS || (g->frozen == FROZEN_UNTIL && epoch < g->frozen_epoch) ||
           (g->frozen == FROZEN_FROM && epoch >= g->frozen_epoch);
}

const char *optim_group_frozen_text(const param_group *g, char *buf, size_t cap) {
    if (g->frozen == FROZEN_ALWAYS) snprintf(buf, cap, "frozen");
    else if (g->frozen == FROZEN_UNTIL) snprintf(buf, cap, "frozen for epochs 0..%ld", g->frozen_epoch - 1);
    else if (g->frozen == FROZEN_FROM) snprintf(buf, cap, "frozen from epoch %ld", g->frozen_epoch);
    else snprintf(buf, cap, "%s", "");
    return buf;
}

int optim_group_fail(lr_error *err, const param_group *g, const char *msg) {
    return group_fail(err, g->text, g->sel_pos, g->sel_len, "%s", msg);
}
