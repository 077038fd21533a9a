/* model/model_spec.c: the model description parser: blocks expanded, every
 * layer's inputs, shapes and tensors (state_dict names, PyTorch layouts),
 * the layout of the flat parameter and buffer arrays. The format is
 * documented in docs/models.md; lrlab/model.h has the API. Initialisation
 * and the summary table are in model/init.c and model/summary.c. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/model.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WIDTH 65536
#define MAX_PARAMS 400000000L
#define MAX_TOKENS 16
#define MAX_DEPTH 8     /* blocks used inside blocks */
#define MAX_BLOCKS 64
#define MAX_BLOCK_ARGS 8
#define MAX_USES 65536  /* block uses in all: bounds the work of nested repeats of empty blocks */
#define TOKEN_LEN 128

/* ---- the description as lines of tokens ---- */

typedef struct {
    char *tok[MAX_TOKENS];
    int n, line;
} line_t;

typedef struct {
    char name[MODEL_NAME_LEN];
    char args[MAX_BLOCK_ARGS][MODEL_NAME_LEN];
    int n_args;
    int first, last; /* body: lines[first..last) */
    int line;
} block_t;

typedef struct {
    model_spec *m;
    const char *source;
    line_t *lines;
    int n_lines;
    block_t blocks[MAX_BLOCKS];
    int n_blocks;
    long uses; /* block uses expanded so far: nested repeats multiply */
    lr_error *err;
} parser;

/* Where a line came from, for messages: "file:12" or "file:12 (block basic, used at line 30)". */
typedef struct where {
    int line;
    const char *block;
    const struct where *up;
} where;

static int fail_at(parser *p, const where *w, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(parser *p, const where *w, const char *fmt, ...) {
    char msg[768], ctx[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    for (const where *u = w; u && u->up && len < sizeof ctx - 1; u = u->up)
        len += (size_t)snprintf(ctx + len, sizeof ctx - len, " (in block '%s' used at line %d)", u->block,
                                u->up->line);
    return lr_fail(p->err, "%s:%d%s: %s", p->source, w->line, ctx, msg);
}

static int split_tokens(char *line, char **tok) {
    int n = 0;
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    for (char *s = strtok(line, " \t\r"); s; s = strtok(NULL, " \t\r")) {
        if (n == MAX_TOKENS) return MAX_TOKENS + 1;
        tok[n++] = s;
    }
    return n;
}

/* ---- names ---- */

/* State_dict names: letters, digits, '_' and '.', not starting or ending
 * with '.', no "..": "conv1", "layer1.0.bn1", "0" (a Sequential's index). */
static int valid_name(const char *s) {
    size_t len = strlen(s);
    if (len == 0 || len >= MODEL_NAME_LEN || s[0] == '.' || s[len - 1] == '.' || strstr(s, "..")) return 0;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')) return 0;
    return strcmp(s, "input") != 0;
}

int model_find_layer(const model_spec *m, const char *name, int before) {
    for (int i = before - 1; i >= 0; i--)
        if (!strcmp(m->layers[i].name, name)) return i;
    return -1;
}

/* "_" and digits: the hidden label of an unnamed layer (current_input). */
static int hidden_label(const char *s) {
    if (s[0] != '_' || !s[1]) return 0;
    for (s++; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static int take_name(parser *p, const where *w, layer_spec *l, const char *name) {
    if (!valid_name(name))
        return fail_at(p, w, "name '%s': expected 1..%d letters, digits, '_' or '.' (as a state_dict "
                             "name: 'conv1', 'layer1.0.bn1'; not 'input')", name, MODEL_NAME_LEN - 1);
    if (hidden_label(name))
        return fail_at(p, w, "name '%s': '_' and digits only is kept for the labels of unnamed layers", name);
    int prev = model_find_layer(p->m, name, p->m->n_layers);
    if (prev >= 0)
        return fail_at(p, w, "name '%s' already used on line %d", name, p->m->layers[prev].line);
    snprintf(l->name, sizeof l->name, "%s", name);
    return 0;
}

/* ---- values ---- */

static int parse_int(parser *p, const where *w, int *out, const char *s, int lo, int hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return fail_at(p, w, "%s '%s': expected an integer in %d..%d", what, s, lo, hi);
    *out = (int)v;
    return 0;
}

static int parse_num(parser *p, const where *w, double *out, const char *s, double lo, double hi,
                     const char *what) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return fail_at(p, w, "%s '%s': expected a number in %g..%g", what, s, lo, hi);
    *out = v;
    return 0;
}

/* ---- layer kinds: keyword, positional fields, options ---- */

typedef struct {
    const char *kw;
    layer_kind kind;
    int named;            /* a NAME comes first (the tensors' prefix) */
    int min_pos, max_pos; /* positional fields after the name */
    const char *options;  /* accepted key=value options */
    const char *usage;
} kind_spec;

static const kind_spec kinds[] = {
    {"conv", LAYER_CONV, 1, 1, 1, "k stride pad bias init bias_init in",
     "conv NAME OUT_CHANNELS [k=3] [stride=1] [pad=(k-1)/2|same] [bias=0] [init=default|kaiming_normal|dirac] "
     "[bias_init=default|zeros] [in=LAYER]"},
    {"linear", LAYER_LINEAR, 1, 1, 1, "bias init bias_init in",
     "linear NAME OUT_FEATURES [bias=0] [init=default|kaiming_normal] [bias_init=default|zeros] [in=LAYER]"},
    {"batchnorm", LAYER_BATCHNORM, 1, 0, 0, "eps momentum affine in",
     "batchnorm NAME [eps=1e-5] [momentum=0.1|None] [affine=1] [in=LAYER]"},
    {"relu", LAYER_RELU, 0, 0, 0, "in name", "relu [in=LAYER] [name=LABEL]"},
    {"gelu", LAYER_GELU, 0, 0, 0, "in name", "gelu [in=LAYER] [name=LABEL]"},
    {"maxpool", LAYER_MAXPOOL, 0, 1, 1, "stride pad in name", "maxpool K [stride=K] [pad=0] [in=LAYER] [name=LABEL]"},
    {"avgpool", LAYER_AVGPOOL, 0, 1, 1, "stride pad in name", "avgpool K [stride=K] [pad=0] [in=LAYER] [name=LABEL]"},
    {"global_avgpool", LAYER_GLOBAL_AVGPOOL, 0, 0, 0, "in name", "global_avgpool [in=LAYER] [name=LABEL]"},
    {"flatten", LAYER_FLATTEN, 0, 0, 0, "in name", "flatten [in=LAYER] [name=LABEL]"},
    {"add", LAYER_ADD, 0, 0, 0, "in name", "add in=A[,B] [name=LABEL]  (B: the previous layer)"},
    {"dropout", LAYER_DROPOUT, 0, 0, 1, "in name", "dropout [P=0.5] [in=LAYER] [name=LABEL]"},
    {"scale", LAYER_SCALE, 0, 1, 1, "in name", "scale C [in=LAYER] [name=LABEL]"},
    {"shortcut", LAYER_SHORTCUT, 0, 1, 1, "stride in name",
     "shortcut OUT_CHANNELS [stride=1] [in=LAYER] [name=LABEL]"},
};
#define N_KINDS ((int)(sizeof kinds / sizeof kinds[0]))

static const kind_spec *find_kind(const char *kw) {
    for (int i = 0; i < N_KINDS; i++)
        if (!strcmp(kinds[i].kw, kw)) return &kinds[i];
    return NULL;
}

static int has_word(const char *list, const char *word) {
    size_t n = strlen(word);
    if (!n) return 0; /* "=5": no key (strstr would find "" forever) */
    for (const char *s = list; (s = strstr(s, word)); s += n)
        if ((s == list || s[-1] == ' ') && (s[n] == ' ' || s[n] == '\0')) return 1;
    return 0;
}

/* The options of a line, checked against the kind's list. */
typedef struct {
    const char *key[MAX_TOKENS], *val[MAX_TOKENS];
    int n;
} options;

static const char *opt(const options *o, const char *key) {
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->key[i], key)) return o->val[i];
    return NULL;
}

static int opt_int(parser *p, const where *w, const options *o, const char *key, int dflt, int lo, int hi,
                   int *out) {
    const char *v = opt(o, key);
    *out = dflt;
    return v ? parse_int(p, w, out, v, lo, hi, key) : 0;
}

/* ---- shapes and tensors of each kind ---- */

static int add_tensor(parser *p, const where *w, layer_spec *l, tensor_role role, int ndim, const int *shape) {
    static const char *suffix[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
    model_spec *m = p->m;
    if (m->n_tensors == MODEL_MAX_TENSORS) return fail_at(p, w, "more than %d tensors", MODEL_MAX_TENSORS);
    model_tensor *t = &m->tensors[m->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s.%s", l->name, suffix[role]);
    t->layer = m->n_layers;
    t->role = role;
    t->buffer = role >= TENSOR_RUNNING_MEAN;
    t->ndim = ndim;
    t->count = 1;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d], t->count *= shape[d];
    long *total = t->buffer ? &m->n_buffers : &m->n_params;
    if (t->count > MAX_PARAMS - *total) return fail_at(p, w, "more than %ld parameters", MAX_PARAMS);
    t->offset = *total;
    *total += t->count;
    if (!t->buffer) {
        if (!l->param_count) l->param_offset = t->offset;
        l->param_count += t->count;
    }
    if (!l->n_tensors) l->tensor0 = m->n_tensors - 1;
    l->n_tensors++;
    return 0;
}

static int need_image(parser *p, const where *w, const layer_spec *l, const char *kw) {
    if (l->flat) return fail_at(p, w, "'%s' of a flat input (after 'flatten'): it needs an image", kw);
    return 0;
}

static int parse_init(parser *p, const where *w, const options *o, layer_spec *l, int allow_dirac, int has_bias) {
    const char *v = opt(o, "init");
    if (!v || !strcmp(v, "default")) l->init = INIT_DEFAULT;
    else if (!strcmp(v, "kaiming_normal")) l->init = INIT_KAIMING_NORMAL;
    else if (allow_dirac && !strcmp(v, "dirac")) l->init = INIT_DIRAC;
    else return fail_at(p, w, "init=%s: expected default, kaiming_normal%s", v, allow_dirac ? " or dirac" : "");
    const char *b = opt(o, "bias_init");
    if (b && strcmp(b, "default") && strcmp(b, "zeros"))
        return fail_at(p, w, "bias_init=%s: expected default or zeros", b);
    if (b && !has_bias) return fail_at(p, w, "bias_init=%s: the layer has no bias (bias=1 adds one)", b);
    l->zero_bias = b && !strcmp(b, "zeros");
    return 0;
}

static int conv_shape(parser *p, const where *w, layer_spec *l, char **pos, const options *o) {
    conv_spec *c = &l->u.conv;
    if (need_image(p, w, l, "conv") || parse_int(p, w, &c->out_c, pos[0], 1, MAX_WIDTH, "output channels") ||
        opt_int(p, w, o, "k", 3, 1, 64, &c->k) || opt_int(p, w, o, "stride", 1, 1, 64, &c->stride) ||
        opt_int(p, w, o, "bias", 0, 0, 1, &c->bias) || parse_init(p, w, o, l, 1, c->bias))
        return -1;
    const char *pad = opt(o, "pad");
    if (pad && !strcmp(pad, "same")) {
        if (c->stride != 1) return fail_at(p, w, "pad=same needs stride=1 (as PyTorch's padding='same')");
        c->pad = (c->k - 1) / 2, c->pad_end = c->k - 1 - c->pad; /* PyTorch: the extra one after */
    } else {
        if (pad && !isdigit((unsigned char)pad[0])) return fail_at(p, w, "pad=%s: expected same or an integer in 0..64", pad);
        if (opt_int(p, w, o, "pad", (c->k - 1) / 2, 0, 64, &c->pad)) return -1;
        c->pad_end = c->pad;
    }
    if (l->in_h + c->pad + c->pad_end < c->k || l->in_w + c->pad + c->pad_end < c->k)
        return fail_at(p, w, "kernel %d larger than the padded input %dx%d", c->k, l->in_h, l->in_w);
    l->c = c->out_c;
    l->h = (l->in_h + c->pad + c->pad_end - c->k) / c->stride + 1;
    l->w = (l->in_w + c->pad + c->pad_end - c->k) / c->stride + 1;
    int shape[4] = {c->out_c, l->in_c, c->k, c->k};
    return add_tensor(p, w, l, TENSOR_WEIGHT, 4, shape) || (c->bias && add_tensor(p, w, l, TENSOR_BIAS, 1, shape));
}

static int linear_shape(parser *p, const where *w, layer_spec *l, char **pos, const options *o) {
    linear_spec *f = &l->u.linear;
    if (!l->flat) return fail_at(p, w, "'linear' needs flat input: add a 'flatten' line before it");
    if (parse_int(p, w, &f->out, pos[0], 1, MAX_WIDTH, "output features") ||
        opt_int(p, w, o, "bias", 0, 0, 1, &f->bias) || parse_init(p, w, o, l, 0, f->bias))
        return -1;
    l->c = f->out, l->h = l->w = 1;
    int shape[2] = {f->out, l->in_c};
    return add_tensor(p, w, l, TENSOR_WEIGHT, 2, shape) || (f->bias && add_tensor(p, w, l, TENSOR_BIAS, 1, shape));
}

static int batchnorm_shape(parser *p, const where *w, layer_spec *l, char **pos, const options *o) {
    (void)pos;
    batchnorm_spec *b = &l->u.bn;
    b->eps = 1e-5, b->momentum = 0.1;
    const char *eps = opt(o, "eps"), *mom = opt(o, "momentum");
    if (need_image(p, w, l, "batchnorm") || (eps && parse_num(p, w, &b->eps, eps, 0, 1e30, "eps")) ||
        (mom && strcmp(mom, "None") && parse_num(p, w, &b->momentum, mom, 0, 1, "momentum")) ||
        opt_int(p, w, o, "affine", 1, 0, 1, &b->affine))
        return -1;
    if (!(b->eps > 0)) return fail_at(p, w, "eps=%s: expected a number > 0", eps);
    if (mom && !strcmp(mom, "None")) b->momentum = MODEL_BN_CUMULATIVE; /* BatchNorm2d(momentum=None) */
    l->c = l->in_c, l->h = l->in_h, l->w = l->in_w;
    int shape[1] = {l->c};
    if (b->affine && (add_tensor(p, w, l, TENSOR_WEIGHT, 1, shape) || add_tensor(p, w, l, TENSOR_BIAS, 1, shape)))
        return -1;
    return add_tensor(p, w, l, TENSOR_RUNNING_MEAN, 1, shape) || add_tensor(p, w, l, TENSOR_RUNNING_VAR, 1, shape) ||
           add_tensor(p, w, l, TENSOR_NUM_BATCHES, 0, shape);
}

static int pool_shape(parser *p, const where *w, layer_spec *l, char **pos, const options *o) {
    pool_spec *q = &l->u.pool;
    const char *kw = l->kind == LAYER_MAXPOOL ? "maxpool" : "avgpool";
    if (need_image(p, w, l, kw) || parse_int(p, w, &q->k, pos[0], 1, 64, "pool size") ||
        opt_int(p, w, o, "stride", q->k, 1, 64, &q->stride) || opt_int(p, w, o, "pad", 0, 0, 32, &q->pad))
        return -1;
    if (2 * q->pad > q->k)
        return fail_at(p, w, "pad=%d: at most half the pool size %d (as PyTorch)", q->pad, q->k);
    if (l->in_h + 2 * q->pad < q->k || l->in_w + 2 * q->pad < q->k)
        return fail_at(p, w, "pool size %d larger than the input %dx%d", q->k, l->in_h, l->in_w);
    l->c = l->in_c;
    l->h = (l->in_h + 2 * q->pad - q->k) / q->stride + 1;
    l->w = (l->in_w + 2 * q->pad - q->k) / q->stride + 1;
    return 0;
}

static int shortcut_shape(parser *p, const where *w, layer_spec *l, char **pos, const options *o) {
    shortcut_spec *s = &l->u.shortcut;
    if (need_image(p, w, l, "shortcut") || parse_int(p, w, &s->out_c, pos[0], 1, MAX_WIDTH, "output channels") ||
        opt_int(p, w, o, "stride", 1, 1, 64, &s->stride))
        return -1;
    if (s->out_c < l->in_c || (s->out_c - l->in_c) % 2)
        return fail_at(p, w, "shortcut to %d channels from %d: expected at least as many, with an even "
                             "difference (zero channels padded equally on both sides)", s->out_c, l->in_c);
    l->c = s->out_c;
    l->h = (l->in_h + s->stride - 1) / s->stride;
    l->w = (l->in_w + s->stride - 1) / s->stride;
    return 0;
}

/* Layers whose output has the input's shape, and those with their own rule. */
static int simple_shape(parser *p, const where *w, layer_spec *l, char **pos, int n_pos, const options *o) {
    (void)o;
    l->c = l->in_c, l->h = l->in_h, l->w = l->in_w;
    switch (l->kind) {
    case LAYER_FLATTEN: {
        if (l->flat) return fail_at(p, w, "'flatten' of an already flat input (a second 'flatten')");
        long size = (long)l->in_c * l->in_h * l->in_w;
        if (size > MAX_PARAMS) return fail_at(p, w, "flattened size %ld too large", size);
        l->c = (int)size, l->h = l->w = 1, l->flat = 1;
        return 0;
    }
    case LAYER_GLOBAL_AVGPOOL:
        l->h = l->w = 1;
        return need_image(p, w, l, "global_avgpool");
    case LAYER_DROPOUT:
        l->u.dropout.p = 0.5;
        return n_pos ? parse_num(p, w, &l->u.dropout.p, pos[0], 0, 1, "dropout probability") : 0;
    case LAYER_SCALE: {
        double c = 0.0;
        if (parse_num(p, w, &c, pos[0], -1e30, 1e30, "scale")) return -1;
        l->u.scale.c = c;
        return 0;
    }
    default: return 0;
    }
}

/* ---- one layer line ---- */

/* "CxHxW", or "flat C" for a vector (after flatten). */
static void shape_text(char *out, size_t cap, int c, int h, int w, int flat) {
    if (flat) snprintf(out, cap, "flat %d", c);
    else snprintf(out, cap, "%dx%dx%d", c, h, w);
}

/* Resolves in=A[,B] (or the previous layer) into l->in[] and the input shape. */
static int resolve_inputs(parser *p, const where *w, layer_spec *l, const options *o) {
    model_spec *m = p->m;
    int prev = m->n_layers ? m->n_layers - 1 : MODEL_INPUT;
    const char *in = opt(o, "in");
    char names[2][TOKEN_LEN] = {"", ""};
    int n = 0;
    if (in) {
        const char *comma = strchr(in, ',');
        size_t len = comma ? (size_t)(comma - in) : strlen(in);
        if (len >= TOKEN_LEN || (comma && strchr(comma + 1, ',')))
            return fail_at(p, w, "in=%s: expected one layer name, or two for 'add'", in);
        memcpy(names[0], in, len);
        n = 1;
        if (comma) snprintf(names[1], sizeof names[1], "%s", comma + 1), n = 2;
    }
    if (l->kind == LAYER_ADD) {
        if (!n) return fail_at(p, w, "'add' needs in=NAME (added to the previous layer) or in=A,B");
        if (n == 1 && prev == MODEL_INPUT) return fail_at(p, w, "'add' with one input as the first layer");
    } else if (n == 2) {
        return fail_at(p, w, "in=%s: only 'add' reads two layers", in);
    }
    l->n_in = l->kind == LAYER_ADD ? 2 : 1;
    l->in[0] = l->in[1] = prev;
    for (int i = 0; i < n; i++) {
        if (!names[i][0]) return fail_at(p, w, "in=%s: an empty layer name", in);
        if (!strcmp(names[i], "input")) { l->in[i] = MODEL_INPUT; continue; }
        l->in[i] = model_find_layer(m, names[i], m->n_layers);
        if (l->in[i] < 0)
            return fail_at(p, w, "in=%s: no layer named '%s' above this line", in, names[i]);
    }
    const layer_spec *a = l->in[0] >= 0 ? &m->layers[l->in[0]] : NULL;
    l->in_c = a ? a->c : m->in_c, l->in_h = a ? a->h : m->in_h, l->in_w = a ? a->w : m->in_w;
    l->flat = a ? a->flat : 0;
    if (l->kind == LAYER_ADD) {
        const layer_spec *b = l->in[1] >= 0 ? &m->layers[l->in[1]] : NULL;
        int bc = b ? b->c : m->in_c, bh = b ? b->h : m->in_h, bw = b ? b->w : m->in_w, bf = b ? b->flat : 0;
        if (bc != l->in_c || bh != l->in_h || bw != l->in_w || bf != l->flat) {
            char sa[48], sb[48];
            shape_text(sa, sizeof sa, l->in_c, l->in_h, l->in_w, l->flat), shape_text(sb, sizeof sb, bc, bh, bw, bf);
            return fail_at(p, w, "'add' of shapes %s and %s: expected equal shapes", sa, sb);
        }
    }
    return 0;
}

static int layer_line(parser *p, const where *w, char **tok, int n) {
    model_spec *m = p->m;
    const kind_spec *k = find_kind(tok[0]);
    if (!k) {
        char known[512] = "";
        for (int i = 0; i < N_KINDS; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", kinds[i].kw);
        return fail_at(p, w, "unknown layer '%s': expected input, block, repeat, a block's name, or a layer: %s",
                       tok[0], known);
    }
    if (!m->in_c) return fail_at(p, w, "expected 'input C H W' before the first layer");
    if (m->n_layers == MODEL_MAX_LAYERS) return fail_at(p, w, "more than %d layers", MODEL_MAX_LAYERS);
    layer_spec *l = &m->layers[m->n_layers];
    memset(l, 0, sizeof *l);
    l->kind = k->kind;
    l->line = w->line;
    char *pos[MAX_TOKENS];
    int n_pos = 0;
    options o = {.n = 0};
    for (int i = 1; i < n; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) { pos[n_pos++] = tok[i]; continue; }
        *eq = '\0';
        if (!has_word(k->options, tok[i]))
            return fail_at(p, w, "'%s' takes no option '%s' (usage: %s)", k->kw, tok[i], k->usage);
        if (opt(&o, tok[i])) return fail_at(p, w, "option '%s' given twice", tok[i]);
        o.key[o.n] = tok[i], o.val[o.n++] = eq + 1;
    }
    if (n_pos < k->named + k->min_pos || n_pos > k->named + k->max_pos)
        return fail_at(p, w, "expected '%s'", k->usage);
    if (k->named && take_name(p, w, l, pos[0])) return -1;
    const char *label = opt(&o, "name");
    if (label && take_name(p, w, l, label)) return -1;
    if (resolve_inputs(p, w, l, &o)) return -1;
    char **args = pos + k->named;
    int n_args = n_pos - k->named;
    int rc;
    switch (k->kind) {
    case LAYER_CONV: rc = conv_shape(p, w, l, args, &o); break;
    case LAYER_LINEAR: rc = linear_shape(p, w, l, args, &o); break;
    case LAYER_BATCHNORM: rc = batchnorm_shape(p, w, l, args, &o); break;
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL: rc = pool_shape(p, w, l, args, &o); break;
    case LAYER_SHORTCUT: rc = shortcut_shape(p, w, l, args, &o); break;
    default: rc = simple_shape(p, w, l, args, n_args, &o); break;
    }
    if (rc) return -1;
    if (l->n_tensors) {
        const model_tensor *t = &m->tensors[l->tensor0];
        l->ndim = t->ndim;
        memcpy(l->shape, t->shape, sizeof l->shape);
    }
    m->n_layers++;
    return 0;
}

static int input_line(parser *p, const where *w, char **tok, int n) {
    model_spec *m = p->m;
    if (m->in_c) return fail_at(p, w, "a second 'input' line");
    if (n != 4) return fail_at(p, w, "expected 'input C H W'");
    return parse_int(p, w, &m->in_c, tok[1], 1, 4096, "input channels") ||
                   parse_int(p, w, &m->in_h, tok[2], 1, 4096, "input height") ||
                   parse_int(p, w, &m->in_w, tok[3], 1, 4096, "input width")
               ? -1
               : 0;
}

/* ---- blocks: definitions, uses, repeat ---- */

typedef struct {
    const char *name[MAX_BLOCK_ARGS + 2];
    char value[MAX_BLOCK_ARGS + 2][TOKEN_LEN];
    int n;
} vars;

/* Replaces every $NAME / ${NAME} in src by its value. */
static int substitute(parser *p, const where *w, const vars *v, const char *src, char *out, size_t cap) {
    size_t o = 0;
    for (const char *s = src; *s;) {
        if (*s != '$') {
            if (o + 1 >= cap) return fail_at(p, w, "'%s': too long after substitution", src);
            out[o++] = *s++;
            continue;
        }
        int brace = s[1] == '{';
        const char *a = s + 1 + brace, *e = a;
        while (isalnum((unsigned char)*e) || *e == '_') e++;
        if (e == a || (brace && *e != '}')) return fail_at(p, w, "'%s': expected $NAME or ${NAME}", src);
        const char *val = NULL;
        for (int i = v->n - 1; i >= 0 && !val; i--) /* the innermost first: a repeat's variable shadows */
            if (strlen(v->name[i]) == (size_t)(e - a) && !strncmp(v->name[i], a, (size_t)(e - a))) val = v->value[i];
        if (!val) return fail_at(p, w, "'%s': no variable '%.*s' here", src, (int)(e - a), a);
        size_t len = strlen(val);
        if (o + len + 1 >= cap) return fail_at(p, w, "'%s': too long after substitution", src);
        memcpy(out + o, val, len);
        o += len;
        s = e + brace;
    }
    out[o] = '\0';
    return 0;
}

static const block_t *find_block(const parser *p, const char *name) {
    for (int i = 0; i < p->n_blocks; i++)
        if (!strcmp(p->blocks[i].name, name)) return &p->blocks[i];
    return NULL;
}

static int run_lines(parser *p, int first, int last, const vars *v, const where *up, int depth);

/* The name of the layer that feeds what comes next: $input inside a block. */
static void current_input(const model_spec *m, char *out, size_t cap) {
    if (!m->n_layers) { snprintf(out, cap, "input"); return; }
    const layer_spec *l = &m->layers[m->n_layers - 1];
    if (l->name[0]) snprintf(out, cap, "%s", l->name);
    else snprintf(out, cap, "_%d", m->n_layers - 1); /* an unnamed layer gets a hidden label */
}

static int use_block(parser *p, const where *w, const block_t *b, char **args, int n_args, int depth) {
    if (depth >= MAX_DEPTH) return fail_at(p, w, "blocks used inside blocks deeper than %d (a block that uses itself?)", MAX_DEPTH);
    if (++p->uses > MAX_USES)
        return fail_at(p, w, "more than %d block uses (nested repeats multiply)", MAX_USES);
    if (n_args != b->n_args)
        return fail_at(p, w, "block '%s' takes %d argument%s (defined at line %d), got %d", b->name, b->n_args,
                       b->n_args == 1 ? "" : "s", b->line, n_args);
    vars v = {.n = 0};
    for (int i = 0; i < n_args; i++) {
        if (strlen(args[i]) >= TOKEN_LEN) return fail_at(p, w, "argument '%s' too long", args[i]);
        v.name[v.n] = b->args[i];
        snprintf(v.value[v.n++], TOKEN_LEN, "%s", args[i]);
    }
    model_spec *m = p->m;
    if (m->n_layers && !m->layers[m->n_layers - 1].name[0])
        snprintf(m->layers[m->n_layers - 1].name, MODEL_NAME_LEN, "_%d", m->n_layers - 1);
    v.name[v.n] = "input";
    current_input(m, v.value[v.n++], TOKEN_LEN);
    where inner = {.line = 0, .block = b->name, .up = w};
    return run_lines(p, b->first, b->last, &v, &inner, depth + 1);
}

/* repeat N BLOCK ARGS... (i = 0..N-1), or repeat VAR=A..B BLOCK ARGS...;
 * $VAR in the arguments is the count. */
static int repeat_line(parser *p, const where *w, char *const *raw, int n, const vars *outer, int depth) {
    if (n < 3) return fail_at(p, w, "expected 'repeat N BLOCK [ARGS...]' or 'repeat i=A..B BLOCK [ARGS...]'");
    char head[2][TOKEN_LEN], *tok[3] = {raw[0], head[0], head[1]}; /* the count and block: the outer variables */
    if (substitute(p, w, outer, raw[1], head[0], TOKEN_LEN) || substitute(p, w, outer, raw[2], head[1], TOKEN_LEN))
        return -1;
    char var[32] = "i";
    int from = 0, to = -1;
    const char *eq = strchr(tok[1], '=');
    if (eq) {
        size_t len = (size_t)(eq - tok[1]);
        const char *dots = strstr(eq, "..");
        if (!len || len >= sizeof var || !dots) return fail_at(p, w, "'%s': expected VAR=A..B", tok[1]);
        memcpy(var, tok[1], len), var[len] = '\0';
        char a[32];
        snprintf(a, sizeof a, "%.*s", (int)(dots - eq - 1), eq + 1);
        if (parse_int(p, w, &from, a, 0, MODEL_MAX_LAYERS, "repeat start") ||
            parse_int(p, w, &to, dots + 2, from - 1, MODEL_MAX_LAYERS, "repeat end")) /* A..A-1: none */
            return -1;
    } else {
        int count = 0;
        if (parse_int(p, w, &count, tok[1], 0, MODEL_MAX_LAYERS, "repeat count")) return -1;
        to = count - 1;
    }
    const block_t *b = find_block(p, tok[2]);
    if (!b) return fail_at(p, w, "repeat: no block named '%s'", tok[2]);
    for (int i = from; i <= to; i++) {
        vars v = *outer;
        if (v.n == MAX_BLOCK_ARGS + 2) return fail_at(p, w, "too many variables");
        v.name[v.n] = var;
        snprintf(v.value[v.n++], TOKEN_LEN, "%d", i);
        char buf[MAX_TOKENS][TOKEN_LEN], *args[MAX_TOKENS];
        for (int k = 3; k < n; k++) {
            if (substitute(p, w, &v, raw[k], buf[k], TOKEN_LEN)) return -1;
            args[k - 3] = buf[k];
        }
        if (use_block(p, w, b, args, n - 3, depth)) return -1;
    }
    return 0;
}

static int run_line(parser *p, const where *w, char *const *raw, int n, const vars *v, int depth) {
    if (!strcmp(raw[0], "repeat")) return repeat_line(p, w, raw, n, v, depth);
    char buf[MAX_TOKENS][TOKEN_LEN], *tok[MAX_TOKENS];
    for (int i = 0; i < n; i++) {
        if (substitute(p, w, v, raw[i], buf[i], TOKEN_LEN)) return -1;
        tok[i] = buf[i];
    }
    if (!strcmp(tok[0], "input")) {
        if (depth) return fail_at(p, w, "'input' inside a block");
        return input_line(p, w, tok, n);
    }
    const block_t *b = find_block(p, tok[0]);
    if (b) return use_block(p, w, b, tok + 1, n - 1, depth);
    return layer_line(p, w, tok, n);
}

static int run_lines(parser *p, int first, int last, const vars *v, const where *up, int depth) {
    for (int i = first; i < last; i++) {
        const line_t *ln = &p->lines[i];
        if (!ln->n) continue;
        if (!strcmp(ln->tok[0], "block")) { /* skip a definition */
            while (i < last && !(p->lines[i].n && !strcmp(p->lines[i].tok[0], "end"))) i++;
            continue;
        }
        where w = {.line = ln->line, .block = up ? up->block : NULL, .up = up ? up->up : NULL};
        if (run_line(p, &w, ln->tok, ln->n, v, depth)) return -1;
    }
    return 0;
}

/* First pass: every `block NAME ARGS...` ... `end`. */
static int collect_blocks(parser *p) {
    for (int i = 0; i < p->n_lines; i++) {
        line_t *ln = &p->lines[i];
        where w = {.line = ln->line};
        if (ln->n && !strcmp(ln->tok[0], "end")) return fail_at(p, &w, "'end' without 'block'");
        if (!ln->n || strcmp(ln->tok[0], "block")) continue;
        if (ln->n < 2) return fail_at(p, &w, "expected 'block NAME [ARG...]'");
        if (p->n_blocks == MAX_BLOCKS) return fail_at(p, &w, "more than %d blocks", MAX_BLOCKS);
        block_t *b = &p->blocks[p->n_blocks];
        const char *name = ln->tok[1];
        if (!isalpha((unsigned char)name[0]) || !valid_name(name) || strchr(name, '.') || find_kind(name) ||
            !strcmp(name, "block") || !strcmp(name, "end") || !strcmp(name, "repeat"))
            return fail_at(p, &w, "block name '%s': expected an identifier that is not a layer kind", name);
        if (find_block(p, name)) return fail_at(p, &w, "block '%s' defined twice", name);
        if (ln->n - 2 > MAX_BLOCK_ARGS) return fail_at(p, &w, "more than %d block arguments", MAX_BLOCK_ARGS);
        snprintf(b->name, sizeof b->name, "%s", name);
        b->n_args = ln->n - 2;
        for (int a = 0; a < b->n_args; a++) {
            const char *arg = ln->tok[2 + a];
            int ok = isalpha((unsigned char)arg[0]) && strlen(arg) < MODEL_NAME_LEN && strcmp(arg, "input");
            for (const char *c = arg; ok && *c; c++) ok = isalnum((unsigned char)*c) || *c == '_';
            if (!ok) return fail_at(p, &w, "block argument '%s': expected an identifier other than 'input'", arg);
            snprintf(b->args[a], sizeof b->args[a], "%s", arg);
        }
        b->line = ln->line;
        b->first = i + 1;
        for (i++; i < p->n_lines && !(p->lines[i].n && !strcmp(p->lines[i].tok[0], "end")); i++)
            if (p->lines[i].n && !strcmp(p->lines[i].tok[0], "block")) {
                where in = {.line = p->lines[i].line};
                return fail_at(p, &in, "'block' inside block '%s' (define blocks one after another)", name);
            }
        if (i == p->n_lines) return fail_at(p, &w, "block '%s' has no 'end'", name);
        if (p->lines[i].n > 1) {
            where e = {.line = p->lines[i].line};
            return fail_at(p, &e, "'end %s': expected 'end' alone", p->lines[i].tok[1]);
        }
        b->last = i;
        p->n_blocks++;
    }
    return 0;
}

/* ---- the whole description ---- */

static int finish(parser *p) {
    model_spec *m = p->m;
    if (!m->in_c) return lr_fail(p->err, "%s: no 'input C H W' line: not a model description", p->source);
    if (!m->n_layers) return lr_fail(p->err, "%s: no layers", p->source);
    const layer_spec *last = &m->layers[m->n_layers - 1];
    if (!last->flat)
        return lr_fail(p->err, "%s:%d: the last layer's output must be flat (a 'linear' after 'flatten'): its "
                               "width is the number of classes", p->source, last->line);
    m->n_classes = last->c;
    /* every layer but the last feeds a later one: PyTorch gives an unused
     * module's parameters no gradient, lrlab would decay them */
    char read[MODEL_MAX_LAYERS] = {0};
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i].n_in; k++)
            if (m->layers[i].in[k] >= 0) read[m->layers[i].in[k]] = 1;
    for (int i = 0; i < m->n_layers - 1; i++) {
        const layer_spec *l = &m->layers[i];
        if (!read[i])
            return lr_fail(p->err, "%s:%d: the output of layer %d ('%s%s%s') is never read (every layer but the "
                                   "last feeds a later one: the next line, or in=NAME)", p->source, l->line, i + 1,
                           model_layer_kind_name(l->kind), l->name[0] && !hidden_label(l->name) ? " " : "",
                           hidden_label(l->name) ? "" : l->name);
    }
    return 0;
}

int model_spec_parse(model_spec *m, const char *text, const char *source, lr_error *err) {
    memset(m, 0, sizeof *m);
    const char *base = strrchr(source, '/');
    snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : source);
    size_t len = strlen(text), n_lines = 1;
    for (const char *s = text; *s; s++) n_lines += *s == '\n';
    char *copy = malloc(len + 1);
    parser p = {.m = m, .source = source, .err = err};
    p.lines = calloc(n_lines, sizeof *p.lines);
    if (!copy || !p.lines) {
        free(copy), free(p.lines);
        return lr_fail(err, "%s: out of memory", source);
    }
    memcpy(copy, text, len + 1);
    int rc = 0;
    for (char *s = copy; s && !rc; p.n_lines++) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        line_t *ln = &p.lines[p.n_lines];
        ln->line = p.n_lines + 1;
        ln->n = split_tokens(s, ln->tok);
        if (ln->n > MAX_TOKENS) rc = lr_fail(err, "%s:%d: too many fields", source, ln->line);
        for (int i = 0; i < ln->n && !rc; i++)
            if (strlen(ln->tok[i]) >= TOKEN_LEN) rc = lr_fail(err, "%s:%d: field '%.20s...' too long", source, ln->line, ln->tok[i]);
        s = nl ? nl + 1 : NULL;
    }
    vars none = {.n = 0};
    if (!rc) rc = collect_blocks(&p) || run_lines(&p, 0, p.n_lines, &none, NULL, 0) || finish(&p);
    free(copy);
    free(p.lines);
    return rc ? -1 : 0;
}

#define MODEL_FILE_MAX (1 << 20)

int model_spec_load(model_spec *m, const char *name_or_path, const char *const *search,
                    lr_error *err) {
    char path[4096];
    FILE *f = NULL;
    if (strchr(name_or_path, '/')) {
        snprintf(path, sizeof path, "%s", name_or_path);
        f = fopen(path, "rb");
    } else {
        f = fopen(name_or_path, "rb");
        snprintf(path, sizeof path, "%s", name_or_path);
        for (int i = 0; !f && search && search[i]; i++) {
            snprintf(path, sizeof path, "%s/%s", search[i], name_or_path);
            f = fopen(path, "rb");
        }
    }
    if (!f)
        return lr_fail(err, "--model %s: no such file, and no model of that name in models/ (try "
                            "'vgg-seed' or a path to a description)", name_or_path);
    char *text = malloc(MODEL_FILE_MAX + 1);
    if (!text) {
        fclose(f);
        return lr_fail(err, "%s: out of memory", path);
    }
    size_t n = fread(text, 1, MODEL_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad) rc = lr_fail(err, "%s: read error", path);
    else if (n > MODEL_FILE_MAX) rc = lr_fail(err, "%s: larger than %d bytes: not a model description", path, MODEL_FILE_MAX);
    else if (memchr(text, '\0', n)) rc = lr_fail(err, "%s: contains a NUL byte: not a text model description", path);
    else {
        text[n] = '\0';
        rc = model_spec_parse(m, text, path, err);
    }
    free(text);
    return rc;
}

int model_param_sizes(const model_spec *m, long *counts) {
    int n = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (!m->tensors[i].buffer) counts[n++] = m->tensors[i].count;
    return n;
}

const char *model_layer_kind_name(layer_kind k) {
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == k) return kinds[i].kw;
    return "";
}
