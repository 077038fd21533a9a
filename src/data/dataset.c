/* dataset.c: the dataset room's front (lrlab/data.h): the table of formats,
 * loading by name, the model check, splits and the helpers the format
 * loaders share (limits, class-name files).
 * Not here: any format's files (one file per format: cifar.c, ...). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/formats.h"

typedef struct {
    const char *name;
    const char *default_path; /* --data when not given */
    const char *env;          /* an environment variable that overrides default_path, or NULL */
    int (*load)(dataset *d, const data_options *o, const char *path, lr_error *err);
    int (*probe)(const char *path, long *n_train, lr_error *err);
} data_format;

static const data_format formats[] = {
    {"cifar10", "data/cifar-10-batches-bin", "CIFAR10_DIR", cifar10_load, cifar10_probe},
    {"cifar100", "data/cifar-100-binary", NULL, cifar100_load, cifar100_probe},
    {"idx", "/usr/share/datasets/fashion-mnist", NULL, idx_load, idx_probe}, /* Debian's dataset-fashion-mnist */
    {"folder", "data/images", NULL, folder_load, folder_probe},
};
#define N_FORMATS (int)(sizeof formats / sizeof formats[0])

const char *const *dataset_formats(void) {
    static const char *names[N_FORMATS + 1];
    for (int i = 0; i < N_FORMATS; i++) names[i] = formats[i].name;
    return names;
}

static const data_format *find_format(const char *name, lr_error *err) {
    if (!name || !*name) name = "cifar10";
    for (int i = 0; i < N_FORMATS; i++)
        if (!strcmp(formats[i].name, name)) return &formats[i];
    char list[256] = "";
    for (int i = 0; i < N_FORMATS; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", formats[i].name);
    lr_fail(err, "--dataset '%s': expected one of %s", name, list);
    return NULL;
}

const char *dataset_default_path(const char *format) {
    const data_format *f = find_format(format, NULL);
    if (!f) return NULL;
    const char *env = f->env ? getenv(f->env) : NULL;
    return env && *env ? env : f->default_path;
}

int dataset_probe(const char *format, const char *path, long *n_train, lr_error *err) {
    *n_train = 0;
    const data_format *f = find_format(format, err);
    if (!f) return -1;
    return f->probe(path && *path ? path : dataset_default_path(format), n_train, err);
}

void data_split_free(data_split *s) {
    if (!s) return;
    free(s->labels);
    free(s->pixels);
    memset(s, 0, sizeof *s);
}

size_t data_image_bytes(const data_split *s) { return (size_t)s->c * s->h * s->w; }

int data_split_alloc(data_split *s, int n, int c, int h, int w, const char *what, lr_error *err) {
    memset(s, 0, sizeof *s);
    s->c = c, s->h = h, s->w = w;
    s->labels = lr_calloc((size_t)n, 1, what, err);
    s->pixels = s->labels ? lr_calloc((size_t)n, data_image_bytes(s), what, err) : NULL;
    if (!s->pixels) {
        data_split_free(s);
        return -1;
    }
    s->n = n;
    return 0;
}

void dataset_free(dataset *d) {
    if (!d) return;
    data_split_free(&d->train);
    data_split_free(&d->test);
    memset(d, 0, sizeof *d);
}

int dataset_load(dataset *d, const data_options *o, lr_error *err) {
    memset(d, 0, sizeof *d);
    const data_format *f = find_format(o->format, err);
    if (!f) return -1;
    const char *path = o->path && *o->path ? o->path : dataset_default_path(f->name);
    if (!*path) return lr_fail(err, "--data: empty path (expected the %s files)", f->name);
    snprintf(d->format, sizeof d->format, "%s", f->name);
    if (snprintf(d->path, sizeof d->path, "%s", path) >= (int)sizeof d->path)
        return lr_fail(err, "--data %.64s...: path longer than %zu bytes", path, sizeof d->path - 1);
    if (o->resize_h && strcmp(f->name, "folder"))
        return lr_fail(err, "--resize %dx%d: only for --dataset folder (%s images have one size)", o->resize_h,
                       o->resize_w, f->name);
    if (o->coarse && strcmp(f->name, "cifar100"))
        return lr_fail(err, "--labels coarse: only for --dataset cifar100 (%s has one kind of label)", f->name);
    data_norm nm;
    int n_norm = 0;
    if (o->normalize && *o->normalize && data_parse_norm(o->normalize, &nm, &n_norm, "--normalize", err)) return -1;
    for (int k = 0; k < DATA_MAX_CLASSES; k++) snprintf(d->names[k], DATA_NAME_BYTES, "%d", k);
    if (f->load(d, o, path, err)) {
        dataset_free(d);
        return -1;
    }
    if (n_norm && n_norm != 2 && n_norm != 2 * d->c) {
        lr_fail(err, "--normalize '%s': %d numbers, but %s has %d channel%s (expected %d: the means then the stds, "
                     "or 2 for every channel)", o->normalize, n_norm, path, d->c, d->c > 1 ? "s" : "", 2 * d->c);
        dataset_free(d);
        return -1;
    }
    for (int c = 0; n_norm && c < d->c; c++) /* 2 numbers: torchvision's broadcast over the channels */
        d->norm.mean[c] = nm.mean[n_norm == 2 ? 0 : c], d->norm.std[c] = nm.std[n_norm == 2 ? 0 : c];
    return 0;
}

int data_parse_resize(const char *s, int *h, int *w, const char *origin, lr_error *err) {
    char *end;
    long a = strtol(s, &end, 10), b = -1;
    if (*end == ',' || *end == 'x') b = strtol(end + 1, &end, 10);
    if (*end || a < 1 || a > 4096 || b < 1 || b > 4096)
        return lr_fail(err, "%s '%s': expected H,W: a height and a width of 1..4096 pixels, e.g. 32,32", origin, s);
    *h = (int)a, *w = (int)b;
    return 0;
}

int data_parse_norm(const char *s, data_norm *nm, int *n, const char *origin, lr_error *err) {
    double v[2 * DATA_MAX_CHANNELS + 1];
    int k = 0;
    for (const char *p = s;;) {
        while (*p == ' ' || *p == '(' || *p == ')' || *p == '[' || *p == ']' || (k && *p == ','))
            p++; /* Python's brackets and trailing commas: "(0.1307,), (0.3081,)" */
        if (!*p) break;
        char *end;
        double x = strtod(p, &end);
        if (end == p || k == 2 * DATA_MAX_CHANNELS || !(x > -1e6 && x < 1e6))
            return lr_fail(err, "%s '%s': %s (expected the means then the stds, e.g. '0.2860,0.3530' or "
                                "'(0.49,0.48,0.45),(0.25,0.24,0.26)')", origin, s,
                           end == p ? "not a number list" : k == 2 * DATA_MAX_CHANNELS ? "more than 6 numbers"
                                                                                        : "a number out of range");
        v[k++] = x;
        p = end;
        while (*p == ' ' || *p == ')' || *p == ']') p++;
        if (*p == ',') p++;
        else if (*p) return lr_fail(err, "%s '%s': unexpected '%c' (expected numbers separated by commas)", origin, s, *p);
    }
    if (k != 2 && k != 4 && k != 6)
        return lr_fail(err, "%s '%s': %d numbers (expected the means then the stds: 2, 4 or 6 numbers)", origin, s, k);
    *n = k;
    memset(nm, 0, sizeof *nm);
    for (int c = 0; c < k / 2; c++) {
        nm->mean[c] = (float)v[c], nm->std[c] = (float)v[k / 2 + c];
        if (!(nm->std[c] > 0))
            return lr_fail(err, "%s '%s': std %g of channel %d (expected > 0)", origin, s, v[k / 2 + c], c);
    }
    return 0;
}

int dataset_check_model(const dataset *d, const char *model, int c, int h, int w, int classes, lr_error *err) {
    if (c == d->c && h == d->h && w == d->w && classes == d->classes) return 0;
    return lr_fail(err, "--model %s: input %dx%dx%d and %d classes, but --dataset %s (%s) has %dx%dx%d images and "
                        "%d classes", model, c, h, w, classes, d->format, d->path, d->c, d->h, d->w, d->classes);
}

int data_split_holdout(data_split *train, data_split *val, int n_val, lr_error *err) {
    memset(val, 0, sizeof *val);
    if (n_val == 0) return 0;
    if (n_val < 0 || n_val >= train->n)
        return lr_fail(err, "hold-out of %d images from %d training images: expected 1..%d (training keeps "
                            "at least one image)", n_val, train->n, train->n - 1);
    if (data_split_alloc(val, n_val, train->c, train->h, train->w, "hold-out images", err)) return -1;
    int first = train->n - n_val;
    size_t image = data_image_bytes(train);
    memcpy(val->labels, train->labels + first, (size_t)n_val);
    memcpy(val->pixels, train->pixels + (size_t)first * image, (size_t)n_val * image);
    train->n = first;
    return 0;
}

int data_keep(long *keep, long limit, long available, const char *flag, const char *path, lr_error *err) {
    if (available < 1) return lr_fail(err, "%s: no images (expected at least one %s image)", path,
                                       strstr(flag, "train") ? "training" : "test");
    if (limit > available)
        return lr_fail(err, "%s %ld: only %ld images in %s (expected 1..%ld, or 0 for all)", flag, limit, available,
                       path, available);
    *keep = limit > 0 ? limit : available;
    return 0;
}

int data_read_names(char names[][DATA_NAME_BYTES], int want, const char *path, int optional, lr_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT && optional) return 0;
        return lr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    char (*got)[DATA_NAME_BYTES] = lr_calloc((size_t)want, DATA_NAME_BYTES, "class names", err);
    if (!got) {
        fclose(f);
        return -1;
    }
    char line[256];
    int count = 0, lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = lr_fail(err, "%s: line %d longer than %zu bytes (expected one class name per line)", path,
                         lineno, sizeof line - 2);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            line[--len] = '\0';
        if (len == 0) continue;
        if (count == want) {
            rc = lr_fail(err, "%s: line %d ('%s') is class name %d (expected %d non-empty lines)", path, lineno,
                         line, count + 1, want);
            break;
        }
        if (len > DATA_NAME_BYTES - 1) {
            rc = lr_fail(err, "%s: line %d: class name of %zu bytes (expected at most %d)", path, lineno, len,
                         DATA_NAME_BYTES - 1);
            break;
        }
        memcpy(got[count], line, len + 1);
        count++;
    }
    if (!rc && ferror(f)) rc = lr_fail(err, "%s: read error", path);
    fclose(f);
    if (!rc && count != want)
        rc = lr_fail(err, "%s: %d class names, expected %d non-empty lines", path, count, want);
    if (!rc) memcpy(names, got, (size_t)want * DATA_NAME_BYTES);
    free(got);
    return rc;
}

void dataset_channel_stats(const data_split *s, double *mean, double *std) {
    size_t plane = (size_t)s->h * s->w, image = data_image_bytes(s);
    for (int c = 0; c < s->c; c++) {
        double hist[256] = {0}, n = (double)s->n * plane, m = 0, v = 0;
        for (int i = 0; i < s->n; i++) {
            const uint8_t *p = s->pixels + (size_t)i * image + (size_t)c * plane;
            for (size_t k = 0; k < plane; k++) hist[p[k]]++;
        }
        for (int b = 0; b < 256; b++) m += hist[b] * (b / 255.0);
        m = n > 0 ? m / n : 0;
        for (int b = 0; b < 256; b++) v += hist[b] * (b / 255.0 - m) * (b / 255.0 - m);
        mean[c] = m, std[c] = n > 0 ? sqrt(v / n) : 0;
    }
}
