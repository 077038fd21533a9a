/* train/config.c: the settings table behind lrlab/config.h. Each setting
 * has one entry: its key, its kind, its bounds and where it lives in
 * train_config; flags, config.txt and sweep files all use it. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lrlab/average.h"
#include "lrlab/data.h"
#include "sched/expr.h"

/* K_LIST: a repeatable string setting, each value appended with '\n' (one config.txt line each) */
typedef enum { K_STR, K_DOUBLE, K_INT, K_LONG, K_SWITCH, K_NEG_SWITCH, K_ENUM, K_LIST } kind;

typedef struct {
    const char *key;  /* config.txt key; the flag is the same with '-' for '_' */
    kind kind;
    size_t offset, size;
    double lo, hi;
    const char *choices; /* K_ENUM: "a|b|c", stored as the index */
    const char *help;
} setting;

static int check_dataset(const char *value, const char *origin, lr_error *err) {
    if (lr_key_find(value, strlen(value), dataset_formats()) >= 0) return 0;
    char list[256] = "";
    for (const char *const *f = dataset_formats(); *f; f++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", f == dataset_formats() ? "" : ", ", *f);
    return lr_fail(err, "%s '%s': expected one of %s", origin, value, list);
}
static int check_resize(const char *value, const char *origin, lr_error *err) {
    int h, w;
    return data_parse_resize(value, &h, &w, origin, err);
}
static int check_transform(const char *value, const char *origin, lr_error *err) {
    data_transform t;
    (void)origin;
    return value[0] ? transform_parse(&t, value, err) : 0;
}
static int check_normalize(const char *value, const char *origin, lr_error *err) {
    data_norm nm;
    int n;
    return data_parse_norm(value, &nm, &n, origin, err);
}

/* --whiten 'LAYER[, images=N][, eps=E]' (lrlab/config.h), parsed as the call
 * "Whiten('LAYER', images=N, eps=E)" by the expression parser (a layer's name
 * such as 2.conv1 is no Python token: it is quoted); carets go back under the
 * user's text. */
static const char *const whiten_modules[] = {NULL};
static const expr_syntax whiten_syntax = {"--whiten", "whitening settings", "0, images=5000, eps=5e-4", whiten_modules};
#define WHITEN_HEAD "Whiten('"

/* images= and eps= (keyword arguments after the layer) */
static int whiten_bind(const char *src, const ast *call, int *images, double *eps, expr_error *e) {
    static const char *const names[] = {"images", "eps", NULL};
    const ast *seen[2] = {NULL};
    for (const ast *v = call->first->next; v; v = v->next) {
        int i = v->kw_len ? lr_key_find(src + v->kw_pos, (size_t)v->kw_len, names) : -1;
        const char *near = v->kw_len ? lr_nearest(src + v->kw_pos, v->kw_len, names, 2) : NULL;
        e->pos = v->kw_len ? v->kw_pos : v->pos, e->len = v->kw_len ? v->kw_len : v->len;
        if (i < 0 && !v->kw_len) return snprintf(e->msg, sizeof e->msg, "expected images=N or eps=E after the layer"), -1;
        if (i < 0)
            return snprintf(e->msg, sizeof e->msg, "unknown option '%.*s' (%s%s%s)", v->kw_len < 40 ? v->kw_len : 40,
                             src + v->kw_pos, near ? "did you mean " : "expected images=N or eps=E", near ? near : "",
                             near ? "?" : ""), -1;
        if (seen[i]) return snprintf(e->msg, sizeof e->msg, "%s given twice", names[i]), -1;
        seen[i] = v;
        e->pos = v->pos, e->len = v->len;
        if (i == 0 && !(v->kind == AST_NUM && v->is_int && v->num >= 1 && v->num <= 1e9))
            return snprintf(e->msg, sizeof e->msg, "images: expected a whole number of images >= 1"), -1;
        if (i == 1 && !(v->kind == AST_NUM && v->num >= 0 && v->num < 1e30))
            return snprintf(e->msg, sizeof e->msg, "eps: expected a number >= 0"), -1;
        if (i == 0) *images = (int)v->num;
        else *eps = v->num;
    }
    return 0;
}

int config_whiten_parse(const char *text, const char *origin, char *layer, size_t layer_size, int *images, double *eps, lr_error *err) {
    *images = 5000, *eps = 5e-4;
    /* the layer: the text before the first comma, without its blanks */
    int a = (int)strspn(text, " "), b = a + (int)strcspn(text + a, ",");
    while (b > a && text[b - 1] == ' ') b--;
    const char *odd = strpbrk(text + a, "='\"()");
    if (b == a || (odd && odd < text + b) || (size_t)(b - a) >= layer_size)
        return expr_fail_as(err, origin, text, a, b > a ? b - a : 1,
                            "expected 'LAYER[, images=N][, eps=E]' (a conv layer's name first)");
    snprintf(layer, layer_size, "%.*s", b - a, text + a);
    /* Whiten('LAYER'...): the user's text from a, the layer in quotes */
    size_t n = strlen(text), head = strlen(WHITEN_HEAD);
    char *src = malloc(n + head + 3);
    if (!src) return lr_fail(err, "%s: out of memory", origin);
    snprintf(src, n + head + 3, "%s%.*s'%s)", WHITEN_HEAD, b - a, text + a, text + b);
    expr_arena arena = {0};
    expr_error e = {0, 1, ""};
    ast *call;
    int rc = expr_parse(&arena, src, &whiten_syntax, &call, &e) || whiten_bind(src, call, images, eps, &e);
    if (rc) { /* back to the user's text: before the closing quote, after it */
        int pos = e.pos - (int)head + a;
        expr_fail_as(err, origin, text, pos > b ? pos - 1 : pos, e.len, e.msg);
    }
    expr_arena_free(&arena);
    free(src);
    return rc ? -1 : 0;
}

static int check_whiten(const char *value, const char *origin, lr_error *err) {
    char layer[64];
    int images;
    double eps;
    return config_whiten_parse(value, origin, layer, sizeof layer, &images, &eps, err);
}

#define THREADS_PER_CORE_MAX 4

#define F(field) offsetof(train_config, field), sizeof(((train_config *)0)->field)

static const setting settings[] = {
    {"model", K_STR, F(model), 0, 0, NULL, "NAME|FILE  network description (models/vgg-seed)"},
    {"dataset", K_STR, F(dataset), 0, 0, NULL, "NAME  the data's format: cifar10|cifar100|idx|folder (docs/data.md)"},
    {"data", K_STR, F(data), 0, 0, NULL, "PATH  the data set's files (cifar10: data/cifar-10-batches-bin or $CIFAR10_DIR)"},
    {"labels", K_ENUM, F(labels_coarse), 0, 0, "fine|coarse", "fine|coarse  CIFAR-100's 100 fine or 20 coarse classes (fine)"},
    {"resize", K_STR, F(resize), 0, 0, NULL, "H,W  folder: resize every image to H x W (PIL's bilinear)"},
    {"normalize", K_STR, F(normalize), 0, 0, NULL, "MEANS,STDS  Normalize's constants, e.g. '0.2860,0.3530' (default: the data set's)"},
    {"transform", K_STR, F(transform), 0, 0, NULL, "EXPR  training augmentation as torchvision transforms, e.g. 'Compose([RandomCrop(32, padding=4), RandomHorizontalFlip()])' (docs/data.md)"},
    {"out", K_STR, F(out), 0, 0, NULL, "DIR  run directory: config, metrics.csv, checkpoint, model.safetensors"},
    {"init", K_STR, F(init), 0, 0, NULL, "FILE.safetensors  start from these weights"},
    {"whiten", K_STR, F(whiten), 0, 0, NULL, "'LAYER[, images=5000][, eps=5e-4]'  airbench's whitening init of a conv from the first training images (docs/models.md)"},
    {"optim", K_STR, F(optim), 0, 0, NULL, "EXPR  optimiser in PyTorch syntax, e.g. 'AdamW(lr=1e-3, weight_decay=0.05)' (SGD)"},
    {"lr", K_DOUBLE, F(lr), 0, 1e6, NULL, "LR  base learning rate (0.01; with --optim: its lr, else this)"},
    {"momentum", K_DOUBLE, F(momentum), 0, 1, NULL, "M  SGD momentum (0.9; without --optim)"},
    {"weight_decay", K_DOUBLE, F(weight_decay), 0, 1, NULL, "WD  SGD's L2 weight decay (5e-4; without --optim)"},
    {"dampening", K_DOUBLE, F(dampening), 0, 1, NULL, "D  SGD dampening (0; without --optim)"},
    {"nesterov", K_SWITCH, F(nesterov), 0, 1, NULL, "  SGD's Nesterov momentum (without --optim)"},
    {"param_group", K_LIST, F(param_groups), 0, 0, NULL, "'SEL: k=v, ...'  a parameter group, repeatable: e.g. '@bias|@batchnorm: weight_decay=0' (docs/optimisers.md)"},
    {"label_smoothing", K_DOUBLE, F(loss.label_smoothing), 0, 1, NULL, "EPS  CrossEntropyLoss's label_smoothing of the training loss (0)"},
    {"loss_reduction", K_ENUM, F(loss.sum), 0, 0, "mean|sum", "mean|sum  the training loss's reduction: the gradient of the batch's mean or sum (mean)"},
    {"clip_grad_norm", K_DOUBLE, F(loss.clip_norm), 0, 1e30, NULL, "MAX  clip_grad_norm_(max_norm=MAX) before each step (0: off)"},
    {"clip_norm_type", K_ENUM, F(loss.clip_norm_inf), 0, 0, "2|inf", "2|inf  the norm of --clip-grad-norm and of the logged grad_norm (2)"},
    {"clip_grad_value", K_DOUBLE, F(loss.clip_value), 0, 1e30, NULL, "V  clip_grad_value_(clip_value=V) before each step (0: off)"},
    {"lookahead", K_STR, F(lookahead), 0, 0, NULL, "ARGS  Lookahead over the optimiser, e.g. 'k=5, alpha=0.5' (docs/optimisers.md)"},
    {"ema", K_DOUBLE, F(ema), 0, 1, NULL, "DECAY  also keep an EMA of the weights (timm's ModelEmaV2), e.g. 0.999 (0: none)"},
    {"swa_start", K_INT, F(swa_start), -1, 100000, NULL, "EPOCH  SWA: average the weights after every epoch from this one (from 0; -1: none)"},
    {"sched", K_STR, F(sched), 0, 0, NULL, "EXPR  schedule in PyTorch syntax, e.g. 'StepLR(step_size=16, gamma=0.2)'"},
    {"sched_unit", K_ENUM, F(sched_unit_step), 0, 0, "epoch|step", "epoch|step  what the schedule's t counts (epoch)"},
    {"monitor", K_STR, F(monitor), 0, 0, NULL, "METRIC  ReduceLROnPlateau's metric: test_loss|test_acc|train_loss|val_loss|val_acc"},
    {"batch", K_INT, F(batch), 1, 65536, NULL, "N  batch size (128)"},
    {"epochs", K_INT, F(epochs), 1, 100000, NULL, "N  epochs (30)"},
    {"tta", K_INT, F(tta), 0, 2, NULL, "0|1|2  test-time augmentation of the final test evaluation (tta_test_acc): 1 mirror, 2 mirror and 1-pixel translations, airbench94's weights (0)"},
    {"max_steps", K_LONG, F(max_steps), 0, 1e12, NULL, "N  end the run after N optimiser steps, within its last epoch, e.g. airbench's 9.9 epochs of 48 steps: --epochs 10 --max-steps 476 (0: all the epochs' steps)"},
    {"seed", K_LONG, F(seed), 0, 2147483647.0, NULL, "N  seed of every random stream (0)"},
    {"threads", K_INT, F(threads), 0, 1024, NULL, "N  OpenMP threads (0: all cores)"},
    {"ranks", K_INT, F(ranks), 0, 65536, NULL, "N  data-parallel ranks (set by the run: mpirun -np N)"},
    {"sync_bn", K_SWITCH, F(sync_bn), 0, 1, NULL, "  with ranks: BatchNorm statistics of the whole batch (SyncBatchNorm), not per rank"},
    {"limit_train", K_LONG, F(limit_train), 0, 1e9, NULL, "N  use only the first N training images (0: all)"},
    {"limit_test", K_LONG, F(limit_test), 0, 1e9, NULL, "N  use only the first N test images (0: all)"},
    {"val", K_LONG, F(val), 0, 1e9, NULL, "N  hold the last N training images out as a validation set"},
    {"augment", K_NEG_SWITCH, F(augment), 0, 1, NULL, "  no random crop and flip (the test transform only)"},
    {"shuffle", K_NEG_SWITCH, F(shuffle), 0, 1, NULL, "  training images in file order every epoch"},
    {"backend", K_ENUM, F(backend), 0, 0, "dnnl|ref", "dnnl|ref  oneDNN or the plain-C reference kernels"},
    {"conv_algo", K_ENUM, F(algo), 0, 0, "auto|direct|winograd", "auto|direct|winograd  convolution algorithm (auto: timed per layer)"},
    {"precision", K_ENUM, F(precision), 0, 0, "fp32|bf16", "fp32|bf16  convolution precision"},
    {"algo_choices", K_STR, F(algo_choices), 0, 0, NULL, "LIST  recorded per-layer algorithm choice (set by a run)"},
    {"log_steps", K_SWITCH, F(log_steps), 0, 1, NULL, "  also write steps.csv (lr, momentum, loss per step)"},
    {"verbose", K_SWITCH, F(verbose), 0, 1, NULL, "  print the algorithm choice and more"},
};
#define N_SETTINGS (int)(sizeof settings / sizeof settings[0])

/* The string settings checked beyond their length (a usage error, before any file is read). */
static const struct {
    const char *key;
    int (*check)(const char *value, const char *origin, lr_error *err);
} string_checks[] = {{"dataset", check_dataset}, {"resize", check_resize}, {"normalize", check_normalize},
                     {"transform", check_transform}, {"whiten", check_whiten}};

void config_defaults(train_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->model, sizeof c->model, "vgg-seed");
    snprintf(c->dataset, sizeof c->dataset, "cifar10"); /* c->data "": the format's default (dataset_default_path) */
    snprintf(c->monitor, sizeof c->monitor, "test_loss");
    c->lr = 0.01, c->momentum = 0.9, c->weight_decay = 5e-4;
    c->batch = 128, c->epochs = 30;
    c->swa_start = -1;
    c->augment = 1, c->shuffle = 1;
}

/* "weight-decay" -> the entry for "weight_decay"; also "no-augment". */
static const setting *find(const char *key, int *negated) {
    size_t len = strlen(key);
    *negated = 0;
    for (int i = 0; i < N_SETTINGS; i++) {
        if (lr_key_eq(key, len, settings[i].key)) return &settings[i];
        if (settings[i].kind == K_NEG_SWITCH && len > 3 && lr_key_eq(key, 3, "no_") &&
            lr_key_eq(key + 3, len - 3, settings[i].key)) {
            *negated = 1;
            return &settings[i];
        }
    }
    return NULL;
}

/* The settings' names, NULL-terminated: as flags ("--weight-decay",
 * "--no-augment") when flags, else as config.txt keys. */
static const char *const *names(int flags) {
    static char buf[2][N_SETTINGS][48];
    static const char *list[2][N_SETTINGS + 1];
    for (int i = 0; i < N_SETTINGS && !list[flags][i]; i++) {
        const setting *e = &settings[i];
        if (flags) {
            snprintf(buf[1][i], sizeof buf[1][i], "--%s%s", e->kind == K_NEG_SWITCH ? "no-" : "", e->key);
            for (char *p = buf[1][i] + 2; *p; p++)
                if (*p == '_') *p = '-';
        } else {
            snprintf(buf[0][i], sizeof buf[0][i], "%s", e->key);
        }
        list[flags][i] = buf[flags][i];
    }
    return list[flags];
}

const char *const *config_flags(void) { return names(1); }

int config_known(const char *key) {
    int neg;
    return find(key, &neg) != NULL;
}

int config_is_switch(const char *key) {
    int neg;
    const setting *s = find(key, &neg);
    return s && (s->kind == K_SWITCH || s->kind == K_NEG_SWITCH);
}

/* The shorthand settings, in CONFIG_GIVEN_* bit order. */
static const char *const shorthand[] = {"lr", "momentum", "weight_decay", "dampening", "nesterov", NULL};

static int set_value(train_config *c, const char *key, const char *value, const char *origin, lr_error *err);

int config_set(train_config *c, const char *key, const char *value, const char *origin, lr_error *err) {
    if (set_value(c, key, value, origin, err)) return -1;
    int i = lr_key_find(key, strlen(key), shorthand);
    if (i >= 0) c->given |= 1u << i;
    return 0;
}

static int set_value(train_config *c, const char *key, const char *value, const char *origin, lr_error *err) {
    int neg;
    const setting *s = find(key, &neg);
    if (!s) {
        const char *near = lr_nearest(key, (int)strlen(key), names(0), 3);
        return lr_fail(err, "%s: unknown setting '%s' (%s%s%ssee lrlab train --help)", origin, key,
                       near ? "did you mean " : "", near ? near : "", near ? "? " : "");
    }
    char *field = (char *)c + s->offset;
    switch (s->kind) {
    case K_STR:
        if (!value) return lr_fail(err, "%s: missing value", origin);
        if (strlen(value) >= s->size)
            return lr_fail(err, "%s: value longer than %zu characters", origin, s->size - 1);
        if (!strcmp(s->key, "monitor") && strcmp(value, "test_loss") && strcmp(value, "test_acc") &&
            strcmp(value, "train_loss") && strcmp(value, "val_loss") && strcmp(value, "val_acc"))
            return lr_fail(err, "%s '%s': expected test_loss, test_acc, train_loss, val_loss or val_acc", origin, value);
        for (size_t k = 0; *value && k < sizeof string_checks / sizeof string_checks[0]; k++)
            if (!strcmp(s->key, string_checks[k].key) && string_checks[k].check(value, origin, err)) return -1;
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case K_LIST: {
        if (!value) return lr_fail(err, "%s: missing value", origin);
        if (!*value) { /* "param_group=": none, so far (a sweep run replaces its file's groups after it) */
            field[0] = '\0';
            return 0;
        }
        if (strchr(value, '\n')) return lr_fail(err, "%s: a line break in the value", origin);
        size_t have = strlen(field);
        if (have + strlen(value) + 2 > s->size)
            return lr_fail(err, "%s: the values together are longer than %zu characters", origin, s->size - 2);
        snprintf(field + have, s->size - have, "%s\n", value);
        return 0;
    }
    case K_DOUBLE: {
        double v;
        if (!value) return lr_fail(err, "%s: missing value", origin);
        if (lr_parse_double(&v, value, s->lo, s->hi, origin, err)) return -1;
        *(double *)field = v;
        return 0;
    }
    case K_INT:
    case K_LONG: {
        long v;
        if (!value) return lr_fail(err, "%s: missing value", origin);
        if (lr_parse_long(&v, value, (long)s->lo, (long)s->hi, origin, err)) return -1;
        /* more threads than this only wait for cores (a 1000-thread run hung); above the cores: setup.c warns */
        long cores = sysconf(_SC_NPROCESSORS_ONLN); /* not OpenMP's: the settings table needs no runtime */
        if (cores < 1) cores = 1;
        if (!strcmp(s->key, "threads") && v > THREADS_PER_CORE_MAX * cores)
            return lr_fail(err, "%s %ld: expected at most %ld on this machine (%d per core, %ld cores; 0: one per core)",
                           origin, v, THREADS_PER_CORE_MAX * cores, THREADS_PER_CORE_MAX, cores);
        if (s->kind == K_INT) *(int *)field = (int)v;
        else *(long *)field = v;
        return 0;
    }
    case K_SWITCH:
    case K_NEG_SWITCH: {
        long v = 1;
        if (value && lr_parse_long(&v, value, 0, 1, origin, err)) return -1;
        *(int *)field = neg ? !v : (int)v;
        return 0;
    }
    case K_ENUM: {
        if (!value) return lr_fail(err, "%s: missing value", origin);
        int idx = 0;
        for (const char *p = s->choices; *p; idx++) {
            size_t len = strcspn(p, "|");
            if (strlen(value) == len && !strncmp(p, value, len)) {
                *(int *)field = idx;
                return 0;
            }
            p += len + (p[len] == '|');
        }
        return lr_fail(err, "%s '%s': expected one of %s", origin, value, s->choices);
    }
    }
    return -1;
}

int config_take_arg(train_config *c, int argc, char **argv, int *i, lr_error *err) {
    const char *arg = argv[*i];
    if (strncmp(arg, "--", 2)) return 0;
    char key[64];
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    if (len >= sizeof key) return 0;
    memcpy(key, arg + 2, len);
    key[len] = '\0';
    int neg;
    const setting *s = find(key, &neg);
    if (!s) return 0;
    char origin[96];
    snprintf(origin, sizeof origin, "--%s", key);
    const char *value = eq ? eq + 1 : NULL;
    if (!value && s->kind != K_SWITCH && s->kind != K_NEG_SWITCH) {
        if (*i + 1 >= argc) return lr_fail(err, "%s: missing value", origin);
        value = argv[++*i];
    }
    (*i)++;
    return config_set(c, key, value, origin, err) ? -1 : 1;
}

void config_write(const train_config *c, FILE *f) {
    for (int i = 0; i < N_SETTINGS; i++) {
        const setting *s = &settings[i];
        const char *field = (const char *)c + s->offset;
        if (s->kind == K_LIST) { /* one line per value; none: no line */
            for (const char *p = field; *p; p += strcspn(p, "\n") + 1)
                fprintf(f, "%s=%.*s\n", s->key, (int)strcspn(p, "\n"), p);
            continue;
        }
        fprintf(f, "%s=", s->key);
        switch (s->kind) {
        case K_STR: fprintf(f, "%s", field); break;
        case K_DOUBLE: fprintf(f, "%.17g", *(const double *)field); break;
        case K_INT:
        case K_SWITCH:
        case K_NEG_SWITCH: fprintf(f, "%d", *(const int *)field); break;
        case K_LONG: fprintf(f, "%ld", *(const long *)field); break;
        case K_LIST: break;
        case K_ENUM: {
            int idx = *(const int *)field;
            const char *p = s->choices;
            for (int k = 0; k < idx && strchr(p, '|'); k++) p = strchr(p, '|') + 1;
            fprintf(f, "%.*s", (int)strcspn(p, "|"), p);
            break;
        }
        }
        fputc('\n', f);
    }
}

char *config_text(const train_config *c, const char *header) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    if (header) fputs(header, f);
    config_write(c, f);
    fclose(f);
    return buf;
}

int config_read(train_config *c, const char *path, lr_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return lr_fail(err, "%s: cannot open: no config here", path);
    char line[NET_ALGO_CHOICES_LEN + 64]; /* the longest value (algo_choices) and its key */
    int n = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        n++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        else if (!feof(f)) { rc = lr_fail(err, "%s:%d: line too long", path, n); break; }
        if (!line[0] || line[0] == '#') continue;
        char *eq = strchr(line, '=');
        char origin[1200];
        snprintf(origin, sizeof origin, "%s:%d", path, n);
        if (!eq) { rc = lr_fail(err, "%s: expected key=value", origin); break; }
        *eq = '\0';
        rc = set_value(c, line, eq + 1, origin, err);
    }
    fclose(f);
    return rc;
}

void config_print_help(FILE *f, const char *const *only, const char *const *skip) {
    const char *const *flags = names(1);
    for (int i = 0; i < N_SETTINGS; i++) {
        const char *key = settings[i].key;
        if ((only && lr_key_find(key, strlen(key), only) < 0) || (skip && lr_key_find(key, strlen(key), skip) >= 0))
            continue;
        const char *h = settings[i].help, *gap = strstr(h, "  "); /* "VALUE  what it is" */
        int k = gap ? (int)(gap - h) : 0;
        char left[96];
        snprintf(left, sizeof left, "%s%s%.*s", flags[i], k ? " " : "", k, h);
        fprintf(f, "  %-20s %s\n", left, gap ? gap + 2 : h);
    }
}

long config_train_images(const train_config *c) {
    long n;
    lr_error e;
    dataset_probe(c->dataset, c->data, &n, &e); /* a missing file: the trainer says so */
    return c->limit_train > 0 && (n <= 0 || c->limit_train < n) ? c->limit_train : n;
}

long config_steps_per_epoch(const train_config *c) {
    long n = config_train_images(c) - c->val;
    return n > 0 && c->batch > 0 ? n / c->batch : 0;
}

long config_run_steps(const train_config *c, long steps_per_epoch) {
    long all = steps_per_epoch * c->epochs;
    return c->max_steps > 0 && c->max_steps < all ? c->max_steps : all;
}

int config_run_epochs(const train_config *c, long steps_per_epoch) {
    return steps_per_epoch > 0 ? (int)((config_run_steps(c, steps_per_epoch) + steps_per_epoch - 1) / steps_per_epoch)
                               : c->epochs;
}

/* The shorthand flags make torch.optim.SGD, checked as its constructor
 * checks (lr, momentum and weight decay >= 0 are also the table's bounds);
 * a schedule that cycles the momentum later does not change what the
 * constructor saw, as in PyTorch. */
int config_optim(const train_config *c, optim_params *hp, lr_error *err) {
    if (c->loss.clip_norm > 0 && c->loss.clip_value > 0)
        return lr_fail(err, "--clip-grad-norm %g and --clip-grad-value %g: give one clipping (their order would "
                            "matter)", c->loss.clip_norm, c->loss.clip_value);
    if (c->optim[0]) {
        int lr_given;
        if (optim_parse(hp, &lr_given, c->optim, err)) return -1;
        for (int i = 1; shorthand[i]; i++)
            if (c->given & (1u << i))
                return lr_fail(err, "--%s is SGD's shorthand: with --optim, give %s= inside the expression "
                                    "(--optim '%s')", i == 2 ? "weight-decay" : shorthand[i], shorthand[i], c->optim);
        if (lr_given && (c->given & CONFIG_GIVEN_LR) && c->lr != hp->lr)
            return lr_fail(err, "--lr %g and --optim's lr=%g: the lr is given twice; give it in one place", c->lr,
                           hp->lr);
        if (!lr_given && ((c->given & CONFIG_GIVEN_LR) || hp->kind == OPTIM_SGD)) hp->lr = c->lr;
        return 0;
    }
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
        return lr_fail(err, "--nesterov with --momentum %g and --dampening %g: Nesterov momentum requires a momentum "
                            "and zero dampening (PyTorch's ValueError)",
                       c->momentum, c->dampening);
    return optim_sgd(hp, c->lr, c->momentum, c->dampening, c->weight_decay, c->nesterov, err);
}

int config_groups(const train_config *c, const optim_params *hp, param_group *groups, int *n, lr_error *err) {
    *n = 0;
    for (const char *p = c->param_groups; *p; p += strcspn(p, "\n") + 1) {
        char text[sizeof groups->text];
        int len = (int)strcspn(p, "\n");
        if (*n + 1 >= OPTIM_MAX_GROUPS)
            return lr_fail(err, "--param-group: at most %d groups (and the default group)", OPTIM_MAX_GROUPS - 1);
        if (len >= (int)sizeof text) return lr_fail(err, "--param-group: longer than %zu characters", sizeof text - 1);
        snprintf(text, sizeof text, "%.*s", len, p);
        if (optim_group_parse(&groups[(*n)++], hp, text, err)) return -1;
    }
    optim_group_default(&groups[(*n)++], hp);
    return 0;
}

int config_group_params(const model_spec *m, const param_group *groups, int n, int *group_of, lr_error *err) {
    int used[OPTIM_MAX_GROUPS] = {0}, k = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (t->buffer) continue;
        const char *layer = model_layer_kind_name(m->layers[t->layer].kind);
        int g = 0;
        while (g < n - 1 && !optim_group_selects(&groups[g], t->name, layer, t->role == TENSOR_BIAS)) g++;
        group_of[k++] = g, used[g]++;
    }
    for (int g = 0; g < n - 1; g++)
        if (!used[g]) {
            char msg[256];
            snprintf(msg, sizeof msg, "the selector takes no parameter of model %s%s (lrlab summary --param-group "
                                      "'...' lists them)", m->name, g ? " that an earlier group left" : "");
            return optim_group_fail(err, &groups[g], msg);
        }
    return 0;
}

int config_resolve_optim(train_config *c, optim_params *hp, lr_error *err) {
    if (config_optim(c, hp, err)) return -1;
    if (c->optim[0]) optim_format(c->optim, sizeof c->optim, hp, 0);
    c->lr = hp->lr;
    return 0;
}

sched_context config_sched_context(const train_config *c, const optim_params *hp, long steps_per_epoch) {
    sched_context sc = {.base_lr = hp->lr, .base_momentum = optim_cycled_value(hp),
                        .epochs = config_run_epochs(c, steps_per_epoch),
                        .steps_per_epoch = (int)(steps_per_epoch < 1000000000 ? steps_per_epoch : 1000000000),
                        .total_steps = config_run_steps(c, steps_per_epoch), .unit_step = c->sched_unit_step};
    for (const char *p = c->param_groups; *p; p++) sc.n_groups += *p == '\n';
    sc.group = sc.n_groups++; /* the default group, last (config_groups) */
    const char *key = optim_cycled_key(hp->kind);
    sc.cycle_key = !key ? SCHED_CYCLE_NONE : !strcmp(key, "momentum") ? SCHED_CYCLE_MOMENTUM : SCHED_CYCLE_BETA1;
    return sc;
}

int config_check_max_steps(const train_config *c, long steps_per_epoch, lr_error *err) {
    if (c->max_steps > steps_per_epoch * c->epochs)
        return lr_fail(err, "--max-steps %ld: more than the %ld steps of --epochs %d (%ld steps per epoch); expected "
                            "at most %ld, or raise --epochs to %ld",
                       c->max_steps, steps_per_epoch * c->epochs, c->epochs, steps_per_epoch, steps_per_epoch * c->epochs,
                       (c->max_steps + steps_per_epoch - 1) / steps_per_epoch);
    return 0;
}

sched_context config_group_context(const train_config *c, const param_group *groups, int n, int g,
                                   long steps_per_epoch) {
    sched_context sc = config_sched_context(c, &groups[g].hp, steps_per_epoch);
    sc.group = g, sc.n_groups = n;
    return sc;
}

int config_check_lookahead(const train_config *c, long total_steps, lr_error *err) {
    if (!c->lookahead[0]) return 0;
    lookahead *la = NULL;
    int rc = lookahead_parse(&la, c->lookahead, total_steps, err);
    lookahead_free(la);
    return rc;
}

int config_check(const train_config *c, char *warning, size_t cap, lr_error *err) {
    if (warning && cap) warning[0] = '\0';
    optim_params hp;
    param_group groups[OPTIM_MAX_GROUPS];
    int n;
    if (config_optim(c, &hp, err) || config_groups(c, &hp, groups, &n, err)) return -1;
    long spe = config_steps_per_epoch(c);
    /* its syntax whatever the data; k and alpha over the run's steps when they are known */
    if (config_check_lookahead(c, spe > 0 ? config_run_steps(c, spe) : 0, err)) return -1;
    if (c->ema >= 1) return lr_fail(err, "--ema %g: expected a decay below 1 (at 1 the EMA never moves; 0: no EMA)", c->ema);
    if (c->swa_start >= c->epochs)
        return lr_fail(err, "--swa-start %d: the run has %d epochs (0..%d): SWA would average nothing", c->swa_start,
                       c->epochs, c->epochs - 1);
    if (spe < 1) return 0; /* the trainer says what is wrong with the data split */
    if (config_check_max_steps(c, spe, err)) return -1;
    for (int g = n - 1; g >= 0; g--) { /* the default group first: its messages are the run's */
        sched_context sc = config_group_context(c, groups, n, g, spe);
        lr_sched *s;
        lr_error e;
        if (sched_parse(&s, c->sched, &sc, &e))
            return g == n - 1 ? lr_fail(err, "--sched: %s", e.msg)
                              : lr_fail(err, "--sched, for --param-group '%s': %s", groups[g].text, e.msg);
        if (g == n - 1 && warning && cap && sched_warning(s)) snprintf(warning, cap, "--sched: %s", sched_warning(s));
        sched_free(s);
    }
    return 0;
}
