/* data/transform.c: --transform, a torchvision 0.14 pipeline written as
 * Python ('Compose([RandomCrop(32, padding=4, padding_mode="reflect"),
 * RandomHorizontalFlip(), RandomErasing(p=0.25)])'), parsed by the schedules'
 * parser (src/sched/expr.c: same syntax, same caret errors), bound here to a
 * table of each transform's arguments, and applied to one image at a time
 * with torchvision's formulas on float32 tensors
 * (torchvision/transforms/functional_tensor.py) and its sampling
 * (transforms.py: RandomCrop.get_params, RandomErasing.get_params' 10
 * attempts, ColorJitter.get_params' random order), the random numbers
 * coming from lrlab's own stream per (seed, epoch, image).
 * Not here: the seed's default transform (augment.c), batching (loader.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lrlab/data.h"
#include "lrlab/rng.h"
#include "sched/expr.h"

#define TF_ARGS 6

/* torchvision's signatures, positional order; Compose is the list's holder */
static const struct {
    const char *name;
    const char *args[TF_ARGS];
} kinds[] = {
    [TF_TO_TENSOR] = {"ToTensor", {NULL}},
    [TF_NORMALIZE] = {"Normalize", {"mean", "std", "inplace"}},
    [TF_CROP] = {"RandomCrop", {"size", "padding", "pad_if_needed", "fill", "padding_mode"}},
    [TF_HFLIP] = {"RandomHorizontalFlip", {"p"}},
    [TF_VFLIP] = {"RandomVerticalFlip", {"p"}},
    [TF_ERASING] = {"RandomErasing", {"p", "scale", "ratio", "value", "inplace"}},
    [TF_JITTER] = {"ColorJitter", {"brightness", "contrast", "saturation", "hue"}},
    [TF_ALT_FLIP] = {"AlternatingFlip", {NULL}}, /* lrlab's: airbench94's flip (data.h) */
};
static const char *const pad_modes[] = {"constant", "edge", "reflect", "symmetric", NULL};
static const char *const jitter_names[] = {"brightness", "contrast", "saturation", "hue", NULL};

static const char *const tf_modules[] = {"torchvision.transforms.", "transforms.", "T.", NULL};
static const expr_syntax tf_syntax = {"transform", "a transform", "Compose([RandomHorizontalFlip()])", tf_modules};

typedef struct {
    const char *src;
    expr_error *e;
} binder;

static int fail_at(binder *b, const ast *v, const char *fmt, const char *a1, const char *a2) {
    b->e->pos = v->pos, b->e->len = v->len;
    snprintf(b->e->msg, sizeof b->e->msg, fmt, a1, a2);
    return -1;
}

static int is_name(const binder *b, const ast *v, const char *name) {
    return (int)strlen(name) == v->len && !memcmp(b->src + v->pos, name, (size_t)v->len);
}

/* A number, or a list/tuple of 1..max numbers, into out; *n how many (0 for a lone number: broadcast as 1). */
static int numbers(binder *b, const ast *v, const char *what, double *out, int max, int *n) {
    if (v->kind == AST_NUM) {
        out[0] = v->num, *n = 1;
        return 0;
    }
    *n = 0;
    if (v->kind == AST_LIST)
        for (const ast *x = v->first; x; x = x->next) {
            if (x->kind != AST_NUM || *n >= max) return fail_at(b, x->kind != AST_NUM ? x : v, "%s: expected a number or a sequence of numbers%s", what, "");
            out[(*n)++] = x->num;
        }
    if (v->kind != AST_LIST || *n == 0) return fail_at(b, v, "%s: expected a number or a sequence of numbers%s", what, "");
    return 0;
}

static int pair(binder *b, const ast *v, const char *what, double *out) {
    int n;
    if (v->kind != AST_LIST || numbers(b, v, what, out, 2, &n) || n != 2)
        return fail_at(b, v, "%s: expected a sequence of two numbers such as (0.02, 0.33)%s", what, "");
    return 0;
}

static int boolean(binder *b, const ast *v, const char *what, int *out) {
    if (v->kind != AST_BOOL) return fail_at(b, v, "%s: expected True or False%s", what, "");
    *out = v->num != 0;
    return 0;
}

static int probability(binder *b, const ast *v, const char *what, double *p) {
    if (v->kind != AST_NUM) return fail_at(b, v, "%s: expected a probability (a number in 0..1)%s", what, "");
    *p = v->num;
    if (!(*p >= 0 && *p <= 1)) return fail_at(b, v, "%s: %s", what, "Random erasing probability should be between 0 and 1 (torchvision's ValueError)");
    return 0;
}

/* RandomCrop's size and padding (an int or a sequence of 1, 2 or 4 ints: torchvision's _setup_size, _parse_pad_padding) */
static int crop_args(binder *b, tf_step *s, const ast *const *a) {
    const ast *v = a[0];
    int n = 0;
    double d[4];
    if (v->kind == AST_NUM || v->kind == AST_LIST) {
        if (numbers(b, v, "RandomCrop: size", d, 2, &n)) return -1;
        for (int i = 0; i < n; i++)
            if (d[i] != floor(d[i]) || d[i] < 1 || d[i] > 4096)
                return fail_at(b, v, "RandomCrop: size: expected an integer 1..4096 or a sequence (h, w) of them%s", "", "");
    } else {
        return fail_at(b, v, "RandomCrop: size: expected an integer or a sequence (h, w)%s%s", "", "");
    }
    s->size_h = (int)d[0], s->size_w = (int)d[n == 2];
    if (a[1] && a[1]->kind != AST_NONE) {
        if (numbers(b, a[1], "RandomCrop: padding", d, 4, &n)) return -1;
        if (n == 3) return fail_at(b, a[1], "RandomCrop: padding: %s%s", "Padding must be an int or a 1, 2, or 4 element tuple, not a 3 element tuple", "");
        for (int i = 0; i < n; i++)
            if (d[i] != floor(d[i]) || d[i] < 0 || d[i] > 4096)
                return fail_at(b, a[1], "RandomCrop: padding: expected integers 0..4096%s%s", "", "");
        int l = (int)d[0], t = (int)d[n >= 2], r = (int)d[n == 4 ? 2 : 0], bo = (int)d[n == 4 ? 3 : n == 2];
        s->pad[0] = l, s->pad[1] = t, s->pad[2] = r, s->pad[3] = bo;
    }
    if (a[2] && boolean(b, a[2], "RandomCrop: pad_if_needed", &s->pad_if_needed)) return -1;
    if (a[3] && numbers(b, a[3], "RandomCrop: fill", s->fill, DATA_MAX_CHANNELS, &s->n_fill)) return -1;
    if (a[4]) {
        int m = a[4]->kind == AST_STR ? lr_key_find(b->src + a[4]->str_pos, (size_t)a[4]->str_len, pad_modes) : -1;
        if (m < 0) return fail_at(b, a[4], "RandomCrop: padding_mode: %s%s", "Padding mode should be either constant, edge, reflect or symmetric", "");
        s->pad_mode = m;
    }
    return 0;
}

/* ColorJitter's four: a number x (>= 0) is [max(0, 1 - x), 1 + x] (hue: [-x, x], x <= 0.5), or a pair */
static int jitter_args(binder *b, tf_step *s, const ast *const *a) {
    for (int k = 0; k < 4; k++) {
        const ast *v = a[k];
        if (!v) continue;
        double c = k == TF_HUE ? 0 : 1, lo = k == TF_HUE ? -0.5 : 0, hi = k == TF_HUE ? 0.5 : INFINITY, r[2];
        char what[48];
        snprintf(what, sizeof what, "ColorJitter: %s", jitter_names[k]);
        if (v->kind == AST_NUM) {
            if (v->num < 0) return fail_at(b, v, "%s: If %s is a single number, it must be non negative.", what, jitter_names[k]);
            r[0] = c - v->num, r[1] = c + v->num;
            if (k != TF_HUE && r[0] < 0) r[0] = 0;
        } else if (pair(b, v, what, r)) {
            return -1;
        }
        if (!(lo <= r[0] && r[0] <= r[1] && r[1] <= hi))
            return fail_at(b, v, "%s values should be between %s (torchvision's ValueError)", jitter_names[k],
                           k == TF_HUE ? "(-0.5, 0.5)" : "(0, inf)");
        s->jitter_on[k] = !(r[0] == c && r[1] == c);
        s->jitter[k][0] = r[0], s->jitter[k][1] = r[1];
    }
    return 0;
}

static int erasing_args(binder *b, tf_step *s, const ast *const *a) {
    s->p = 0.5, s->scale[0] = 0.02, s->scale[1] = 0.33, s->ratio[0] = 0.3, s->ratio[1] = 3.3;
    s->n_value = 1, s->value[0] = 0;
    if (a[0] && probability(b, a[0], "RandomErasing: p", &s->p)) return -1;
    if (a[1] && pair(b, a[1], "RandomErasing: scale", s->scale)) return -1;
    if (a[2] && pair(b, a[2], "RandomErasing: ratio", s->ratio)) return -1;
    if (a[1] && (s->scale[0] < 0 || s->scale[1] > 1)) return fail_at(b, a[1], "RandomErasing: %s%s", "Scale should be between 0 and 1 (torchvision's ValueError)", "");
    if (a[2] && !(s->ratio[0] > 0)) return fail_at(b, a[2], "RandomErasing: ratio: %s%s", "expected positive numbers (torch.log of the ratio)", "");
    /* torchvision warns, then uniform_(lo, hi) raises on every image: refused here */
    if (a[1] && s->scale[0] > s->scale[1])
        return fail_at(b, a[1], "RandomErasing: scale: %s%s", "expected (min, max) (torch's uniform_ raises when from > to)", "");
    if (a[2] && s->ratio[0] > s->ratio[1])
        return fail_at(b, a[2], "RandomErasing: ratio: %s%s", "expected (min, max) (torch's uniform_ raises when from > to)", "");
    if (a[3]) {
        if (a[3]->kind == AST_STR) {
            if (!(a[3]->str_len == 6 && !memcmp(b->src + a[3]->str_pos, "random", 6)))
                return fail_at(b, a[3], "RandomErasing: value: %s%s", "If value is str, it should be 'random' (torchvision's ValueError)", "");
            s->value_random = 1;
        } else if (numbers(b, a[3], "RandomErasing: value", s->value, DATA_MAX_CHANNELS, &s->n_value)) {
            return -1;
        }
    }
    if (a[4]) {
        int dummy;
        if (boolean(b, a[4], "RandomErasing: inplace", &dummy)) return -1;
    }
    return 0;
}

static int normalize_args(binder *b, tf_step *s, const ast *const *a) {
    double m[DATA_MAX_CHANNELS], d[DATA_MAX_CHANNELS];
    int nm = 0, nd = 0, dummy;
    if (!a[0] || !a[1]) return -2;
    if (numbers(b, a[0], "Normalize: mean", m, DATA_MAX_CHANNELS, &nm) ||
        numbers(b, a[1], "Normalize: std", d, DATA_MAX_CHANNELS, &nd))
        return -1;
    if (nm != nd) return fail_at(b, a[1], "Normalize: mean and std have different lengths%s%s", "", "");
    for (int c = 0; c < nm; c++) {
        s->mean[c] = (float)m[c], s->std[c] = (float)d[c];
        if (s->std[c] == 0.0f)
            return fail_at(b, a[1], "Normalize: %s%s", "std evaluated to zero after conversion to torch.float32, leading to division by zero. (torchvision's ValueError)", "");
    }
    s->n_norm = nm;
    if (a[2] && boolean(b, a[2], "Normalize: inplace", &dummy)) return -1;
    return 0;
}

/* One transform call into s. */
static int bind_one(binder *b, tf_step *s, const ast *call) {
    int k = -1;
    for (int i = 0; i < TF_KINDS; i++)
        if (is_name(b, call, kinds[i].name)) k = i;
    if (k < 0) {
        const char *names[TF_KINDS + 1] = {NULL};
        for (int i = 0; i < TF_KINDS; i++) names[i] = kinds[i].name;
        const char *near = lr_nearest(b->src + call->pos, call->len, names, 4);
        return fail_at(b, call, near ? "unknown transform (did you mean %s?)%s" : "unknown transform%s (lrlab knows ToTensor, "
                       "Normalize, RandomCrop, RandomHorizontalFlip, RandomVerticalFlip, RandomErasing, ColorJitter, "
                       "AlternatingFlip)%s",
                       near ? near : "", "");
    }
    memset(s, 0, sizeof *s);
    s->kind = (tf_kind)k, s->pos = call->pos, s->len = call->len;
    s->p = 0.5;
    const ast *a[TF_ARGS] = {NULL};
    int n = 0, next = 0;
    while (n < TF_ARGS && kinds[k].args[n]) n++;
    char what[64];
    for (const ast *v = call->first; v; v = v->next) {
        int i = -1;
        if (!v->kw_len) {
            if (next >= n) return fail_at(b, v, "%s: too many positional arguments%s", kinds[k].name, "");
            i = next++;
        } else {
            for (int j = 0; j < n; j++)
                if ((int)strlen(kinds[k].args[j]) == v->kw_len && !memcmp(b->src + v->kw_pos, kinds[k].args[j], (size_t)v->kw_len)) i = j;
            if (i < 0) {
                b->e->pos = v->kw_pos, b->e->len = v->kw_len;
                const char *near = lr_nearest(b->src + v->kw_pos, v->kw_len, kinds[k].args, 3);
                snprintf(b->e->msg, sizeof b->e->msg, "%s: unknown argument '%.*s'%s%s%s", kinds[k].name,
                         v->kw_len < 40 ? v->kw_len : 40, b->src + v->kw_pos, near ? " (did you mean " : "",
                         near ? near : "", near ? "?)" : "");
                return -1;
            }
        }
        if (a[i]) return fail_at(b, v, "%s: argument '%s' given twice", kinds[k].name, kinds[k].args[i]);
        a[i] = v;
    }
    int rc = 0;
    switch (k) {
    case TF_NORMALIZE: rc = normalize_args(b, s, a); break;
    case TF_CROP: rc = a[0] ? crop_args(b, s, a) : -2; break;
    case TF_HFLIP:
    case TF_VFLIP:
        snprintf(what, sizeof what, "%s: p", kinds[k].name);
        if (a[0] && a[0]->kind != AST_NUM) rc = fail_at(b, a[0], "%s: expected a probability (a number in 0..1)%s", what, "");
        if (a[0] && !rc) s->p = a[0]->num;
        break;
    case TF_ERASING: rc = erasing_args(b, s, a); break;
    case TF_JITTER: rc = jitter_args(b, s, a); break;
    default: break;
    }
    if (rc == -2)
        return fail_at(b, call, "%s: missing required argument '%s'", kinds[k].name, kinds[k].args[!a[0] ? 0 : 1]);
    return rc;
}

static int needs_tensor(tf_kind k) { return k == TF_JITTER || k == TF_ERASING || k == TF_NORMALIZE; }

/* The calls (Compose's list, or one call) into t, with the implied ToTensor and Normalize. */
static int bind_all(binder *b, data_transform *t, const ast *top) {
    const ast *first = top, *list = NULL;
    if (is_name(b, top, "Compose")) {
        list = top->first;
        if (!list || list->next || list->kind != AST_LIST || (list->kw_len && !(list->kw_len == 10 && !memcmp(b->src + list->kw_pos, "transforms", 10))))
            return fail_at(b, list ? list : top, "Compose: expected one argument, a list of transforms%s%s", "", "");
        first = list->first;
        if (!first) return fail_at(b, list, "Compose: an empty list (leave --transform out for the default)%s%s", "", "");
    }
    memset(t, 0, sizeof *t);
    int stage = 0, have_norm = 0;
    for (const ast *c = first; c; c = list ? c->next : NULL) {
        if (c->kind != AST_CALL) return fail_at(b, c, "expected a transform such as RandomHorizontalFlip()%s%s", "", "");
        if (t->n >= TF_MAX_STEPS - 2) return fail_at(b, c, "too many transforms (at most %s)%s", "14", "");
        tf_step *s = &t->step[t->n];
        if (bind_one(b, s, c)) return -1;
        if (s->kind == TF_TO_TENSOR && stage > 0)
            return fail_at(b, c, stage == 1 && !have_norm ? "ToTensor() given twice, or after a transform that needs a tensor (leave it out or put it first)%s%s"
                                                          : "ToTensor() after Normalize%s%s", "", "");
        if (s->kind == TF_NORMALIZE && have_norm) return fail_at(b, c, "Normalize given twice (lrlab normalises once)%s%s", "", "");
        if (needs_tensor(s->kind) && stage == 0) { /* the implied ToTensor() */
            t->step[t->n + 1] = *s;
            memset(s, 0, sizeof *s);
            s->kind = TF_TO_TENSOR;
            s = &t->step[++t->n];
            stage = 1;
        }
        s->stage = stage;
        if (s->kind == TF_TO_TENSOR) stage = 1;
        if (s->kind == TF_NORMALIZE) stage = 2, have_norm = 1;
        if (s->kind == TF_CROP && stage > 0 && s->n_fill > 1)
            return fail_at(b, c, "RandomCrop: fill: a tensor is padded with one number (torchvision's TypeError: "
                                 "Got inappropriate fill arg)%s%s", "", "");
        if (s->kind == TF_CROP && stage == 0)
            for (int i = 0; i < s->n_fill; i++)
                if (s->fill[i] != floor(s->fill[i]) || s->fill[i] < 0 || s->fill[i] > 255)
                    return fail_at(b, c, "RandomCrop: fill: before ToTensor() the image is uint8: expected integers 0..255%s%s", "", "");
        t->n++;
    }
    if (stage == 0) t->step[t->n++] = (tf_step){.kind = TF_TO_TENSOR};
    if (!have_norm) t->step[t->n++] = (tf_step){.kind = TF_NORMALIZE, .stage = 1};
    return 0;
}

int transform_parse(data_transform *t, const char *text, lr_error *err) {
    expr_arena a;
    expr_error e = {0, 1, ""};
    ast *tree;
    binder b = {text, &e};
    int rc = expr_parse(&a, text, &tf_syntax, &tree, &e) || bind_all(&b, t, tree);
    if (rc) expr_fail_as(err, "--transform", text, e.pos, e.len, e.msg);
    expr_arena_free(&a);
    return rc ? -1 : 0;
}

int transform_check(const data_transform *t, const char *text, int c, int h, int w, lr_error *err) {
    char msg[400];
    for (int k = 0; k < t->n; k++) {
        const tf_step *s = &t->step[k];
        const char *name = kinds[s->kind].name;
        int nvals = s->kind == TF_CROP ? s->n_fill : s->kind == TF_ERASING && !s->value_random ? s->n_value
                    : s->kind == TF_NORMALIZE ? s->n_norm : 0;
        msg[0] = '\0';
        if (nvals > 1 && nvals != c)
            snprintf(msg, sizeof msg, "%s: %d values for images of %d channel%s (expected 1 or %d)", name, nvals, c,
                     c == 1 ? "" : "s", c);
        if (s->kind == TF_CROP) {
            int big = s->pad_mode == TF_PAD_REFLECT ? (s->pad[1] >= h || s->pad[3] >= h || s->pad[0] >= w || s->pad[2] >= w)
                      : s->pad_mode == TF_PAD_SYMMETRIC ? (s->pad[1] > h || s->pad[3] > h || s->pad[0] > w || s->pad[2] > w) : 0;
            if (s->size_h != h || s->size_w != w)
                snprintf(msg, sizeof msg, "RandomCrop: size %dx%d, but the images are %dx%d (the crop must keep the "
                         "size: the test images are not cropped)", s->size_h, s->size_w, h, w);
            else if (big)
                snprintf(msg, sizeof msg, "RandomCrop: padding (%d, %d, %d, %d) with padding_mode '%s' must be %s the "
                         "image's %dx%d", s->pad[0], s->pad[1], s->pad[2], s->pad[3], pad_modes[s->pad_mode],
                         s->pad_mode == TF_PAD_REFLECT ? "smaller than" : "at most", h, w);
        }
        if (msg[0]) return expr_fail_as(err, "--transform", text, s->pos, s->len, msg);
    }
    return 0;
}

int transform_norm(const data_transform *t, int c, data_norm *nm) {
    for (int k = 0; k < t->n; k++)
        if (t->step[k].kind == TF_NORMALIZE && t->step[k].n_norm) {
            for (int i = 0; i < c; i++) {
                int j = t->step[k].n_norm == 1 ? 0 : i;
                nm->mean[i] = t->step[k].mean[j], nm->std[i] = t->step[k].std[j];
            }
            return 1;
        }
    return 0;
}

/* ---- applying: torchvision's tensor formulas in float32 ---- */

static int pad_index(int i, int n, int mode) { /* a padded coordinate in the image, or -1 for the fill */
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case TF_PAD_EDGE: return i < 0 ? 0 : n - 1;
    case TF_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case TF_PAD_SYMMETRIC: return i < 0 ? -i - 1 : 2 * n - 1 - i;
    default: return -1;
    }
}

static void crop(float *x, float *scratch, int C, int H, int W, const tf_step *s, int top, int left) {
    for (int c = 0; c < C; c++) {
        float fill = (float)s->fill[s->n_fill > 1 ? c : 0];
        if (s->stage == 0) fill = fill / 255.0f; /* a padded uint8 byte through ToTensor */
        for (int y = 0; y < H; y++) {
            int sy = pad_index(y + top - s->pad[1], H, s->pad_mode);
            for (int xx = 0; xx < W; xx++) {
                int sx = pad_index(xx + left - s->pad[0], W, s->pad_mode);
                scratch[((size_t)c * H + y) * W + xx] = sy < 0 || sx < 0 ? fill : x[((size_t)c * H + sy) * W + sx];
            }
        }
    }
    memcpy(x, scratch, sizeof(float) * (size_t)C * H * W);
}

static void flip(float *x, int C, int H, int W, int vertical) {
    for (int c = 0; c < C; c++)
        for (int y = 0; y < (vertical ? H / 2 : H); y++)
            for (int i = 0; i < (vertical ? W : W / 2); i++) {
                float *a = x + ((size_t)c * H + y) * W + i;
                float *b = vertical ? x + ((size_t)c * H + (H - 1 - y)) * W + i : x + ((size_t)c * H + y) * W + (W - 1 - i);
                float tmp = *a;
                *a = *b, *b = tmp;
            }
}

static float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

/* rgb_to_grayscale: (0.2989 * r + 0.587 * g + 0.114 * b) in float32 */
static float gray(float r, float g, float b) { return 0.2989f * r + 0.587f * g + 0.114f * b; }

/* _blend(img, other, f): (f * img + (1 - f) * other).clamp(0, 1); other[i] or, with n_other 1, other[0] */
static void blend(float *x, size_t n, const float *other, size_t n_other, double f) {
    float a = (float)f, b = (float)(1.0 - f);
    for (size_t i = 0; i < n; i++) x[i] = clamp01(a * x[i] + b * other[n_other == 1 ? 0 : i % n_other]);
}

static void hue(float *x, int H, int W, double factor) {
    size_t n = (size_t)H * W;
    float *R = x, *G = x + n, *B = x + 2 * n;
    for (size_t i = 0; i < n; i++) {
        float r = R[i], g = G[i], b = B[i]; /* _rgb2hsv */
        float maxc = fmaxf(r, fmaxf(g, b)), minc = fminf(r, fminf(g, b));
        int eqc = maxc == minc;
        float cr = maxc - minc;
        float s = cr / (eqc ? 1.0f : maxc), d = eqc ? 1.0f : cr;
        float rc = (maxc - r) / d, gc = (maxc - g) / d, bc = (maxc - b) / d;
        float hr = (float)(maxc == r) * (bc - gc);
        float hg = (float)(maxc == g && maxc != r) * (2.0f + rc - bc);
        float hb = (float)(maxc != g && maxc != r) * (4.0f + gc - rc);
        float h = fmodf(((hr + hg) + hb) / 6.0f + 1.0f, 1.0f);
        float m = fmodf(h + (float)factor, 1.0f); /* (h + hue_factor) % 1.0: Python's remainder */
        if (m != 0.0f && m < 0.0f) m += 1.0f;
        h = m;
        float v = maxc, h6 = h * 6.0f, fi = floorf(h6), f = h6 - fi; /* _hsv2rgb */
        int k = ((int)fi % 6 + 6) % 6;
        float p = clamp01(v * (1.0f - s)), q = clamp01(v * (1.0f - s * f)), t = clamp01(v * (1.0f - s * (1.0f - f)));
        const float rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
        R[i] = rgb[k][0], G[i] = rgb[k][1], B[i] = rgb[k][2];
    }
}

/* torch.sum of n contiguous float32s on the CPU as ATen 1.13 computes it
 * (SumKernel.cpp, AVX2: 8-lane vectors): vectorized_inner_sum -> row_sum
 * (4 interleaved vector accumulators, multi_row_sum's cascade of 4 levels
 * in chunks of 2^level_power) -> the 4 summed in order -> the scalar tail,
 * then the 8 lanes in order. The same bits as torch.mean's sum. */
#define TORCH_LANES 8
static float torch_sum(const float *a, long n) {
    enum { ROWS = 4, LEVELS = 4 };
    long vecs = n / TORCH_LANES, size = vecs / ROWS;
    int power = 1;
    while ((1L << power) < size) power++;
    power = power / LEVELS > 4 ? power / LEVELS : 4;
    long step = 1L << power, mask = step - 1;
    float acc[LEVELS][ROWS][TORCH_LANES] = {{{0}}};
    long i = 0;
#define ADD_ROW(row) for (int k = 0; k < ROWS; k++) for (int l = 0; l < TORCH_LANES; l++) \
            acc[0][k][l] += a[((row) * ROWS + k) * TORCH_LANES + l]
    while (i + step <= size) {
        for (long j = 0; j < step; j++, i++) ADD_ROW(i);
        for (int j = 1; j < LEVELS; j++) {
            for (int k = 0; k < ROWS; k++)
                for (int l = 0; l < TORCH_LANES; l++) acc[j][k][l] += acc[j - 1][k][l], acc[j - 1][k][l] = 0.0f;
            if (i & (mask << (j * power))) break;
        }
    }
    for (; i < size; i++) ADD_ROW(i);
#undef ADD_ROW
    for (int j = 1; j < LEVELS; j++)
        for (int k = 0; k < ROWS; k++)
            for (int l = 0; l < TORCH_LANES; l++) acc[0][k][l] += acc[j][k][l];
    for (long v = size * ROWS; v < vecs; v++) /* vectors past the last group of 4 */
        for (int l = 0; l < TORCH_LANES; l++) acc[0][0][l] += a[v * TORCH_LANES + l];
    for (int k = 1; k < ROWS; k++)
        for (int l = 0; l < TORCH_LANES; l++) acc[0][0][l] += acc[0][k][l];
    float sum = 0.0f;
    for (long k = vecs * TORCH_LANES; k < n; k++) sum += a[k];
    for (int l = 0; l < TORCH_LANES; l++) sum += acc[0][0][l];
    return sum;
}

static void jitter(float *x, float *scratch, int C, int H, int W, int which, double f) {
    size_t n = (size_t)H * W;
    if (which == TF_BRIGHTNESS) {
        float zero = 0.0f;
        blend(x, (size_t)C * n, &zero, 1, f);
    } else if (which == TF_CONTRAST) { /* blend with the mean of the greyscale image: torch.sum / n */
        for (size_t i = 0; i < n; i++) scratch[i] = C == 3 ? gray(x[i], x[n + i], x[2 * n + i]) : x[i];
        float mean = torch_sum(scratch, (long)n) / (float)n;
        blend(x, (size_t)C * n, &mean, 1, f);
    } else if (which == TF_SATURATION && C == 3) { /* 1 channel: unchanged, as PIL */
        for (size_t i = 0; i < n; i++) scratch[i] = gray(x[i], x[n + i], x[2 * n + i]);
        blend(x, 3 * n, scratch, n, f);
    } else if (which == TF_HUE && C == 3) {
        hue(x, H, W, f);
    }
}

static float uniform_f32(lr_rng *r, double lo, double hi) { return (float)(lo + (hi - lo) * rng_uniform(r)); }

/* RandomErasing.get_params: up to 10 attempts at a box of the drawn area and aspect ratio. */
static int erase_box(lr_rng *r, const tf_step *s, int H, int W, tf_draw *d) {
    double area = (double)H * W;
    float lr0 = logf((float)s->ratio[0]), lr1 = logf((float)s->ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double erase_area = area * (double)uniform_f32(r, s->scale[0], s->scale[1]);
        double aspect = (double)expf(uniform_f32(r, lr0, lr1));
        int h = (int)nearbyint(sqrt(erase_area * aspect)), w = (int)nearbyint(sqrt(erase_area / aspect));
        if (!(h < H && w < W)) continue;
        d->h = h, d->w = w;
        d->i = (int)rng_below(r, (uint32_t)(H - h + 1));
        d->j = (int)rng_below(r, (uint32_t)(W - w + 1));
        return 1;
    }
    return 0;
}

/* A standard normal (Box-Muller), float32: RandomErasing's value='random'. */
static float normal(lr_rng *r) {
    double u = 1.0 - rng_uniform(r), v = rng_uniform(r);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

void transform_image(float *out, float *scratch, const uint8_t *img, int C, int H, int W, const data_transform *t,
                     const data_norm *nm, uint64_t seed, int epoch, int index, tf_draw *draws) {
    lr_rng r;
    rng_init(&r, seed, RNG_STREAM_TRANSFORM, (uint64_t)epoch << 32 | (uint32_t)index);
    size_t n = (size_t)C * H * W;
    for (size_t i = 0; i < n; i++) out[i] = (float)img[i] / 255.0f; /* ToTensor's values; crops and flips commute */
    for (int k = 0; k < t->n; k++) {
        const tf_step *s = &t->step[k];
        tf_draw d = {0};
        switch (s->kind) {
        case TF_CROP: {
            int ph = H + s->pad[1] + s->pad[3], pw = W + s->pad[0] + s->pad[2];
            if (ph != H || pw != W) {
                d.i = (int)rng_below(&r, (uint32_t)(ph - H + 1));
                d.j = (int)rng_below(&r, (uint32_t)(pw - W + 1));
            }
            d.h = H, d.w = W, d.applied = 1;
            if (ph != H || pw != W) crop(out, scratch, C, H, W, s, d.i, d.j);
            break;
        }
        case TF_HFLIP:
        case TF_VFLIP:
            d.applied = rng_uniform(&r) < s->p;
            if (d.applied) flip(out, C, H, W, s->kind == TF_VFLIP);
            break;
        case TF_ALT_FLIP: { /* its own stream: the same choice every epoch, then xor the epoch's parity */
            lr_rng fixed;
            rng_init(&fixed, seed, RNG_STREAM_ALT_FLIP, (uint64_t)(uint32_t)index);
            d.applied = (rng_uniform(&fixed) < 0.5) ^ (epoch & 1);
            if (d.applied) flip(out, C, H, W, 0);
            break;
        }
        case TF_ERASING:
            if (rng_uniform(&r) < s->p && erase_box(&r, s, H, W, &d)) {
                d.applied = 1;
                for (int c = 0; c < C; c++)
                    for (int y = d.i; y < d.i + d.h; y++)
                        for (int x = d.j; x < d.j + d.w; x++)
                            out[((size_t)c * H + y) * W + x] = s->value_random ? normal(&r) : (float)s->value[s->n_value > 1 ? c : 0];
            }
            break;
        case TF_JITTER: {
            rng_permutation(&r, d.order, 4);
            for (int j = 0; j < 4; j++)
                if (s->jitter_on[j]) d.factor[j] = uniform_f32(&r, s->jitter[j][0], s->jitter[j][1]);
            for (int j = 0; j < 4; j++)
                if (s->jitter_on[d.order[j]]) jitter(out, scratch, C, H, W, d.order[j], d.factor[d.order[j]]);
            d.applied = 1;
            break;
        }
        case TF_NORMALIZE:
            for (int c = 0; c < C; c++) {
                int j = s->n_norm > 1 ? c : 0;
                float mean = s->n_norm ? s->mean[j] : nm->mean[c], std = s->n_norm ? s->std[j] : nm->std[c];
                float *o = out + (size_t)c * H * W;
                for (size_t i = 0; i < (size_t)H * W; i++) o[i] = (o[i] - mean) / std;
            }
            break;
        default: break; /* ToTensor: done above */
        }
        if (draws) draws[k] = d;
    }
}
