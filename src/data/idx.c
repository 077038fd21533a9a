/* idx.c: MNIST-style IDX files (LeCun's format, as MNIST and Fashion-MNIST
 * ship them), plain or gzip: in one directory
 *   train-images-idx3-ubyte  train-labels-idx1-ubyte
 *   t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte
 * each also as NAME.gz (zlib reads both). An idx3 file: magic 00 00 08 03
 * (unsigned bytes, 3 dimensions), then n, rows, cols as big-endian 32-bit
 * counts, then n * rows * cols pixel bytes; an idx1 file: 00 00 08 01, n,
 * then n label bytes. Classes: the largest label + 1; names from an optional
 * classes.txt (one a line). Checked: the magic, the counts against the
 * bytes there are (truncated or trailing data), images against labels,
 * train against test image size.
 * Not here: augmentation, batching. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/formats.h"

#define IDX_MAX_DIM 65536

/* NAME, else NAME.gz, in dir: the path that exists into path; -1 naming both when neither does. */
static int idx_find(char *path, size_t cap, const char *dir, const char *name, lr_error *err) {
    struct stat st;
    for (int gz = 0; gz < 2; gz++) {
        if (snprintf(path, cap, "%s/%s%s", dir, name, gz ? ".gz" : "") >= (int)cap)
            return lr_fail(err, "%s/%s: path too long", dir, name);
        if (stat(path, &st) == 0) {
            if (!S_ISREG(st.st_mode)) return lr_fail(err, "%s: not a regular file", path);
            return 0;
        }
    }
    return lr_fail(err, "%s/%s: missing, and no %s.gz (expected MNIST-style IDX files: train-images-idx3-ubyte, "
                        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain or .gz; "
                        "Debian's dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist)",
                   dir, name, name);
}

/* Reads exactly n bytes; an error naming the file when it ends first or is damaged. */
static int idx_read(gzFile f, uint8_t *out, size_t n, const char *path, const char *what, lr_error *err) {
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, out + got, chunk);
        if (r < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            return lr_fail(err, "%s: damaged gzip data while reading %s: %s", path, what, msg);
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    if (got < n) {
        int code;
        const char *msg = gzerror(f, &code);
        return lr_fail(err, "%s: truncated: %zu of the %zu bytes of %s%s%s", path, got, n, what,
                       code != Z_OK ? ": " : "", code != Z_OK ? msg : "");
    }
    return 0;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* One IDX file of `dims` dimensions (3: images, 1: labels): its counts into
 * shape[], its payload (malloc'd) into *data. */
static int idx_read_file(uint8_t **data, long shape[3], const char *dir, const char *name, int dims, lr_error *err) {
    char path[4096];
    *data = NULL;
    if (idx_find(path, sizeof path, dir, name, err)) return -1;
    gzFile f = gzopen(path, "rb");
    if (!f) return lr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[16];
    int rc = idx_read(f, head, 4 + 4 * (size_t)dims, path, "the header", err);
    if (!rc && (head[0] || head[1] || head[2] != 0x08 || head[3] != dims))
        rc = lr_fail(err, "%s: magic %02x %02x %02x %02x, expected 00 00 08 %02x (an IDX file of unsigned bytes in %d "
                          "dimension%s: %s)", path, head[0], head[1], head[2], head[3], dims, dims, dims > 1 ? "s" : "",
                     dims == 3 ? "images" : "labels");
    size_t total = 1;
    for (int k = 0; !rc && k < dims; k++) {
        uint32_t v = be32(head + 4 + 4 * k);
        if (v < 1 || (k > 0 && v > IDX_MAX_DIM) || v > 0x7fffffff)
            rc = lr_fail(err, "%s: dimension %d is %u (expected 1..%d)", path, k, v, k ? IDX_MAX_DIM : 0x7fffffff);
        shape[k] = v;
        total *= v;
        if (!rc && total > ((size_t)1 << 36)) rc = lr_fail(err, "%s: %zu bytes of data: too large", path, total);
    }
    if (!rc && !(*data = lr_calloc(total, 1, path, err))) rc = -1;
    if (!rc) rc = idx_read(f, *data, total, path, dims == 3 ? "the images" : "the labels", err);
    uint8_t extra;
    if (!rc && gzread(f, &extra, 1) != 0)
        rc = lr_fail(err, "%s: more bytes than the header's counts (%ld%s%s), expected exactly %zu after the header",
                     path, shape[0], dims == 3 ? " images of " : " labels", dims == 3 ? "rows x cols" : "", total);
    gzclose(f);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

/* One split (prefix "train" or "t10k"): images and labels, checked against each other. */
static int idx_split(data_split *s, long limit, const char *flag, const char *dir, const char *prefix, int *max_label,
                     lr_error *err) {
    char images[64], labels[64];
    snprintf(images, sizeof images, "%s-images-idx3-ubyte", prefix);
    snprintf(labels, sizeof labels, "%s-labels-idx1-ubyte", prefix);
    uint8_t *px = NULL, *lb = NULL;
    long ishape[3], lshape[3], keep = 0;
    int rc = idx_read_file(&px, ishape, dir, images, 3, err) || idx_read_file(&lb, lshape, dir, labels, 1, err);
    if (!rc && ishape[0] != lshape[0])
        rc = lr_fail(err, "%s/%s: %ld labels, but %s has %ld images (expected one label per image)", dir, labels,
                     lshape[0], images, ishape[0]);
    if (!rc) rc = data_keep(&keep, limit, ishape[0], flag, dir, err);
    if (!rc) rc = data_split_alloc(s, (int)keep, 1, (int)ishape[1], (int)ishape[2], prefix, err);
    if (!rc) {
        memcpy(s->pixels, px, (size_t)keep * data_image_bytes(s));
        memcpy(s->labels, lb, (size_t)keep);
        for (long i = 0; i < lshape[0]; i++)
            if (lb[i] > *max_label) *max_label = lb[i];
    }
    free(px);
    free(lb);
    return rc ? -1 : 0;
}

int idx_load(dataset *d, const data_options *o, const char *path, lr_error *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return lr_fail(err, "%s: %s (expected a directory of MNIST-style IDX files; Debian's dataset-fashion-mnist "
                            "installs Fashion-MNIST in /usr/share/datasets/fashion-mnist)", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return lr_fail(err, "%s: not a directory (expected the directory of IDX files)", path);
    int max_label = 0;
    if ((o->train && idx_split(&d->train, o->limit_train, "--limit-train", path, "train", &max_label, err)) ||
        idx_split(&d->test, o->limit_test, "--limit-test", path, "t10k", &max_label, err))
        return -1;
    if (o->train && (d->train.h != d->test.h || d->train.w != d->test.w))
        return lr_fail(err, "%s/t10k-images-idx3-ubyte: images of %dx%d, but the training images are %dx%d", path,
                       d->test.h, d->test.w, d->train.h, d->train.w);
    d->c = 1, d->h = d->test.h, d->w = d->test.w, d->classes = max_label + 1;
    d->norm = (data_norm){{0.1307f}, {0.3081f}}; /* MNIST's usual constants; --normalize for others */
    char names[4200];
    snprintf(names, sizeof names, "%s/classes.txt", path);
    return data_read_names(d->names, d->classes, names, 1, err);
}

/* The training count from the labels file's header. */
int idx_probe(const char *path, long *n_train, lr_error *err) {
    *n_train = 0;
    char file[4096];
    if (idx_find(file, sizeof file, path, "train-labels-idx1-ubyte", err)) return -1;
    gzFile f = gzopen(file, "rb");
    if (!f) return lr_fail(err, "%s: cannot open: %s", file, strerror(errno));
    uint8_t head[8];
    int rc = idx_read(f, head, 8, file, "the header", err);
    gzclose(f);
    if (!rc) *n_train = be32(head + 4);
    return rc;
}
