/* model/model_spec.c: the model description parser, shapes, parameter
 * layout, PyTorch's default initialisation and the summary table. The
 * format is documented in docs/models.md; lrlab/model.h has the API. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/model.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/rng.h"

#define MAX_WIDTH 65536
#define MAX_PARAMS 400000000L
#define MAX_TOKENS 8

static int split_tokens(char *line, char **tok) {
    int n = 0;
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    for (char *p = strtok(line, " \t\r"); p; p = strtok(NULL, " \t\r")) {
        if (n == MAX_TOKENS) return MAX_TOKENS + 1;
        tok[n++] = p;
    }
    return n;
}

static int parse_int(int *out, const char *s, int lo, int hi, const char *source, int line,
                     const char *what, lr_error *err) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return lr_fail(err, "%s:%d: %s '%s': expected an integer in %d..%d", source, line, what,
                       s, lo, hi);
    *out = (int)v;
    return 0;
}

/* key=value options after the positional fields, e.g. "k=5". */
static int parse_option(char *tok, const char *const *keys, int *const *vals, int n, int lo,
                        int hi, const char *source, int line, lr_error *err) {
    char *eq = strchr(tok, '=');
    if (!eq) return lr_fail(err, "%s:%d: unexpected '%s': expected key=value", source, line, tok);
    *eq = '\0';
    for (int i = 0; i < n; i++)
        if (!strcmp(tok, keys[i])) return parse_int(vals[i], eq + 1, lo, hi, source, line, keys[i], err);
    return lr_fail(err, "%s:%d: unknown option '%s'", source, line, tok);
}

static int check_name(const model_spec *m, const char *name, const char *source, int line,
                      lr_error *err) {
    size_t len = strlen(name);
    if (len == 0 || len >= MODEL_NAME_LEN || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return lr_fail(err, "%s:%d: layer name '%s': expected an identifier of 1..%d characters",
                       source, line, name, MODEL_NAME_LEN - 1);
    for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
            return lr_fail(err, "%s:%d: layer name '%s': only letters, digits and '_' allowed",
                           source, line, name);
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i].name, name))
            return lr_fail(err, "%s:%d: layer name '%s' already used on line %d", source, line,
                           name, m->layers[i].line);
    return 0;
}

/* One layer line. *flat says whether the activations are already flat
 * (after 'flatten'): convolution and pooling need an image, linear a vector. */
static int parse_line(model_spec *m, char **tok, int n, int *flat, const char *source, int line,
                      lr_error *err) {
    const char *kw = tok[0];
    if (!strcmp(kw, "input")) {
        if (m->in_c) return lr_fail(err, "%s:%d: a second 'input' line", source, line);
        if (n != 4) return lr_fail(err, "%s:%d: expected 'input C H W'", source, line);
        return parse_int(&m->in_c, tok[1], 1, 4096, source, line, "input channels", err) ||
                       parse_int(&m->in_h, tok[2], 1, 4096, source, line, "input height", err) ||
                       parse_int(&m->in_w, tok[3], 1, 4096, source, line, "input width", err)
                   ? -1
                   : 0;
    }
    if (!m->in_c)
        return lr_fail(err, "%s:%d: expected 'input C H W' before the first layer", source, line);
    if (m->n_layers == MODEL_MAX_LAYERS)
        return lr_fail(err, "%s:%d: more than %d layers", source, line, MODEL_MAX_LAYERS);
    const layer_spec *prev = m->n_layers ? &m->layers[m->n_layers - 1] : NULL;
    layer_spec l;
    memset(&l, 0, sizeof l);
    l.line = line;
    l.in_c = prev ? prev->c : m->in_c;
    l.in_h = prev ? prev->h : m->in_h;
    l.in_w = prev ? prev->w : m->in_w;
    if (!strcmp(kw, "conv")) {
        if (*flat) return lr_fail(err, "%s:%d: 'conv' after 'flatten': a convolution needs an image", source, line);
        if (n < 3) return lr_fail(err, "%s:%d: expected 'conv NAME OUT_CHANNELS [k=3] [stride=1] [pad=(k-1)/2]'", source, line);
        l.kind = LAYER_CONV;
        if (check_name(m, tok[1], source, line, err)) return -1;
        snprintf(l.name, sizeof l.name, "%s", tok[1]);
        conv_spec *c = &l.u.conv;
        if (parse_int(&c->out_c, tok[2], 1, MAX_WIDTH, source, line, "output channels", err)) return -1;
        c->k = 3, c->stride = 1, c->pad = -1;
        const char *keys[] = {"k", "stride", "pad"};
        int *vals[] = {&c->k, &c->stride, &c->pad};
        for (int i = 3; i < n; i++)
            if (parse_option(tok[i], keys, vals, 3, 0, 64, source, line, err)) return -1;
        if (c->k < 1 || c->stride < 1)
            return lr_fail(err, "%s:%d: k and stride must be >= 1", source, line);
        if (c->pad < 0) c->pad = (c->k - 1) / 2;
        if (l.in_h + 2 * c->pad < c->k || l.in_w + 2 * c->pad < c->k)
            return lr_fail(err, "%s:%d: kernel %d larger than the padded input %dx%d", source, line, c->k, l.in_h, l.in_w);
        l.c = c->out_c;
        l.h = (l.in_h + 2 * c->pad - c->k) / c->stride + 1;
        l.w = (l.in_w + 2 * c->pad - c->k) / c->stride + 1;
        l.ndim = 4;
        l.shape[0] = c->out_c, l.shape[1] = l.in_c, l.shape[2] = c->k, l.shape[3] = c->k;
        l.param_count = (long)c->out_c * l.in_c * c->k * c->k;
    } else if (!strcmp(kw, "relu")) {
        if (n != 1) return lr_fail(err, "%s:%d: 'relu' takes no arguments", source, line);
        if (!prev) return lr_fail(err, "%s:%d: 'relu' cannot be the first layer", source, line);
        l.kind = LAYER_RELU;
        l.c = l.in_c, l.h = l.in_h, l.w = l.in_w;
    } else if (!strcmp(kw, "maxpool")) {
        if (*flat) return lr_fail(err, "%s:%d: 'maxpool' after 'flatten'", source, line);
        if (n < 2 || n > 3) return lr_fail(err, "%s:%d: expected 'maxpool K [stride=K]'", source, line);
        l.kind = LAYER_MAXPOOL;
        pool_spec *p = &l.u.pool;
        if (parse_int(&p->k, tok[1], 1, 64, source, line, "pool size", err)) return -1;
        p->stride = p->k;
        const char *keys[] = {"stride"};
        int *vals[] = {&p->stride};
        if (n == 3 && parse_option(tok[2], keys, vals, 1, 1, 64, source, line, err)) return -1;
        if (l.in_h < p->k || l.in_w < p->k)
            return lr_fail(err, "%s:%d: pool size %d larger than the input %dx%d", source, line, p->k, l.in_h, l.in_w);
        l.c = l.in_c;
        l.h = (l.in_h - p->k) / p->stride + 1;
        l.w = (l.in_w - p->k) / p->stride + 1;
    } else if (!strcmp(kw, "flatten")) {
        if (n != 1) return lr_fail(err, "%s:%d: 'flatten' takes no arguments", source, line);
        if (*flat) return lr_fail(err, "%s:%d: a second 'flatten'", source, line);
        l.kind = LAYER_FLATTEN;
        long size = (long)l.in_c * l.in_h * l.in_w;
        if (size > MAX_PARAMS) return lr_fail(err, "%s:%d: flattened size %ld too large", source, line, size);
        l.c = (int)size, l.h = 1, l.w = 1;
        *flat = 1;
    } else if (!strcmp(kw, "linear")) {
        if (!*flat) return lr_fail(err, "%s:%d: 'linear' needs flat input: add a 'flatten' line before it", source, line);
        if (n != 3) return lr_fail(err, "%s:%d: expected 'linear NAME OUT_FEATURES'", source, line);
        l.kind = LAYER_LINEAR;
        if (check_name(m, tok[1], source, line, err)) return -1;
        snprintf(l.name, sizeof l.name, "%s", tok[1]);
        if (parse_int(&l.u.linear.out, tok[2], 1, MAX_WIDTH, source, line, "output features", err)) return -1;
        l.c = l.u.linear.out, l.h = 1, l.w = 1;
        l.ndim = 2;
        l.shape[0] = l.u.linear.out, l.shape[1] = l.in_c;
        l.param_count = (long)l.u.linear.out * l.in_c;
    } else {
        return lr_fail(err, "%s:%d: unknown layer '%s': expected input, conv, relu, maxpool, flatten or linear", source, line, kw);
    }
    l.param_offset = m->n_params;
    if (l.param_count > MAX_PARAMS - m->n_params)
        return lr_fail(err, "%s:%d: more than %ld parameters", source, line, MAX_PARAMS);
    m->n_params += l.param_count;
    m->layers[m->n_layers++] = l;
    return 0;
}

int model_spec_parse(model_spec *m, const char *text, const char *source, lr_error *err) {
    memset(m, 0, sizeof *m);
    const char *base = strrchr(source, '/');
    snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : source);
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (!copy) return lr_fail(err, "%s: out of memory", source);
    memcpy(copy, text, len + 1);
    int flat = 0, line = 0, rc = 0;
    for (char *p = copy; p && !rc;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        line++;
        char *tok[MAX_TOKENS + 1];
        int n = split_tokens(p, tok);
        if (n > MAX_TOKENS) rc = lr_fail(err, "%s:%d: too many fields", source, line);
        else if (n > 0) rc = parse_line(m, tok, n, &flat, source, line, err);
        p = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (rc) return -1;
    if (!m->in_c) return lr_fail(err, "%s: no 'input C H W' line: not a model description", source);
    if (!m->n_layers || m->layers[m->n_layers - 1].kind != LAYER_LINEAR)
        return lr_fail(err, "%s: the last layer must be 'linear' (its width is the number of classes)", source);
    m->n_classes = m->layers[m->n_layers - 1].c;
    return 0;
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

void model_init_params(const model_spec *m, float *params, uint64_t seed) {
    lr_rng r;
    rng_init(&r, seed, RNG_STREAM_INIT, 0);
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        if (!l->param_count) continue;
        long fan_in = l->param_count / l->shape[0];
        double bound = 1.0 / sqrt((double)fan_in);
        for (long j = 0; j < l->param_count; j++)
            params[l->param_offset + j] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
    }
}

void model_param_name(const layer_spec *l, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.weight", l->name);
}

double model_forward_macs(const model_spec *m) {
    double macs = 0.0;
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        if (l->param_count) macs += (double)l->param_count * l->h * l->w;
    }
    return macs;
}

/* 1234567 -> "1,234,567" */
static void with_commas(char *buf, size_t cap, long v) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%ld", v), j = 0;
    for (int i = 0; i < n && (size_t)j + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
}

void model_print_summary(const model_spec *m, int batch, FILE *f) {
    static const char *kinds[] = {"Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"};
    const char *rule = "----------------------------------------------------------------------";
    fprintf(f, "%s\n%-28s %-24s %15s\n", rule, "Layer (type)", "Output Shape", "Param #");
    fprintf(f, "======================================================================\n");
    int counts[5] = {0};
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        char label[64], shape[64], params[32];
        counts[l->kind]++;
        if (l->name[0]) snprintf(label, sizeof label, "%s (%s)", l->name, kinds[l->kind]);
        else snprintf(label, sizeof label, "%s-%d", kinds[l->kind], i + 1);
        if (l->h == 1 && l->w == 1 && (l->kind == LAYER_LINEAR || l->kind == LAYER_FLATTEN ||
                                       l->in_h == 1))
            snprintf(shape, sizeof shape, "[%d, %d]", batch, l->c);
        else snprintf(shape, sizeof shape, "[%d, %d, %d, %d]", batch, l->c, l->h, l->w);
        with_commas(params, sizeof params, l->param_count);
        fprintf(f, "%-28s %-24s %15s\n", label, shape, params);
    }
    char total[32];
    with_commas(total, sizeof total, m->n_params);
    fprintf(f, "======================================================================\n");
    fprintf(f, "Total params: %s\nTrainable params: %s\nNon-trainable params: 0\n", total, total);
    fprintf(f, "Forward multiply-adds per image: %.1f M\n", model_forward_macs(m) / 1e6);
    fprintf(f, "%s\n", rule);
}
