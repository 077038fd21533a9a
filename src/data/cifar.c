/* cifar.c: the CIFAR binary formats. CIFAR-10: data_batch_1..5.bin and
 * test_batch.bin, each 10,000 records of 1 label byte + 3072 CHW pixel bytes,
 * class names in batches.meta.txt (optional). CIFAR-100: train.bin (50,000
 * records; any whole number is read) and test.bin (10,000) of a coarse label byte, a fine label byte and
 * 3072 pixel bytes; class names in coarse_label_names.txt and
 * fine_label_names.txt (optional).
 * Not here: augmentation (augment.c), batching (loader.c), getting the data
 * (scripts/get-data.sh). Every file is checked in full, even when only its
 * first images are kept, so a damaged file is reported on every run. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/formats.h"

#define CIFAR_C 3
#define CIFAR_H 32
#define CIFAR_W 32
#define CIFAR_IMAGE_BYTES (CIFAR_C * CIFAR_H * CIFAR_W) /* 3072 */

typedef struct {
    const char *name;
    int records;
} cifar_file;

/* One CIFAR binary layout: its files (training ones first, the test file
 * last), label bytes before each image, classes per label byte. */
typedef struct {
    const char *title;        /* for messages: "CIFAR-10" */
    const char *expect;       /* the files, for messages */
    const char *get;          /* how to get them, for a missing file */
    int n_train_files;
    cifar_file files[6];
    int label_bytes;
    int classes[2];
    const char *names_file[2]; /* class names per label byte, optional */
} cifar_layout;

static const cifar_layout cifar10 = {
    "CIFAR-10", "data_batch_1..5.bin and test_batch.bin", "get CIFAR-10 with `make data`", 5,
    {{"data_batch_1.bin", 10000}, {"data_batch_2.bin", 10000}, {"data_batch_3.bin", 10000},
     {"data_batch_4.bin", 10000}, {"data_batch_5.bin", 10000}, {"test_batch.bin", 10000}},
    1, {10}, {"batches.meta.txt"}};

static const cifar_layout cifar100 = {
    "CIFAR-100", "train.bin and test.bin", "get cifar-100-binary.tar.gz (docs/data.md)", 1,
    {{"train.bin", 0}, {"test.bin", 0}}, /* officially 50,000 and 10,000; any whole number of records is read */
    2, {20, 100}, {"coarse_label_names.txt", "fine_label_names.txt"}};

static const char *const cifar10_names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};

/* "30,730,000": v with thousands separators, into buf. */
static const char *thousands(char *buf, size_t cap, long long v) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", v), k = 0;
    for (int i = 0; i < n && (size_t)k + 2 < cap; i++) {
        if (i && digits[i - 1] != '-' && (n - i) % 3 == 0) buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

/* Reads one whole file into *buf (malloc'd) and its record count into
 * *records, checking that it is a regular file of exactly the layout's size
 * (cf->records records, or any whole number of them when 0) and that every
 * label is in range. */
static int cifar_read_file(uint8_t **buf, long *records, const cifar_layout *L, const cifar_file *cf, const char *dir,
                           lr_error *err) {
    char path[4096];
    *buf = NULL;
    if (snprintf(path, sizeof path, "%s/%s", dir, cf->name) >= (int)sizeof path)
        return lr_fail(err, "%s/%s: path too long", dir, cf->name);
    const long record = L->label_bytes + CIFAR_IMAGE_BYTES;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return lr_fail(err, "%s: missing (expected %s in %s; %s)", path, L->expect, dir, L->get);
        return lr_fail(err, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return lr_fail(err, "%s: not a regular file", path);
    char a[32], b[32];
    long long size = (long long)st.st_size, want = (long long)cf->records * record;
    if (cf->records && size != want)
        return lr_fail(err, "%s: %lld bytes, expected %s (%s records of %ld bytes): %s%s binary", path, size,
                       thousands(a, sizeof a, want), thousands(b, sizeof b, cf->records), record,
                       size < want ? "truncated or not " : "not ", L->title);
    if (!cf->records && (size < record || size % record || size / record > 0x7fffffff))
        return lr_fail(err, "%s: %lld bytes, expected a whole number of %ld-byte records (%d label bytes and 3072 "
                            "pixels): %s%s binary", path, size, record, L->label_bytes,
                       size % record ? "truncated or not " : "not ", L->title);
    *records = (long)(size / record);
    if (!(*buf = lr_calloc((size_t)size, 1, path, err))) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return lr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(*buf, 1, (size_t)size, f);
    int read_error = ferror(f);
    fclose(f);
    if (got != (size_t)size)
        return lr_fail(err, "%s: read %zu of %s bytes%s", path, got, thousands(a, sizeof a, size),
                       read_error ? " (read error)" : " (file shrank while reading)");
    for (long r = 0; r < *records; r++)
        for (int k = 0; k < L->label_bytes; k++) {
            uint8_t label = (*buf)[(size_t)r * record + k];
            if (label >= L->classes[k])
                return lr_fail(err, "%s: record %ld has %slabel %d, expected 0..%d (records counted from 0): "
                                    "damaged or not %s binary", path, r,
                               L->label_bytes == 1 ? "" : k == 0 ? "coarse " : "fine ", label, L->classes[k] - 1,
                               L->title);
        }
    return 0;
}

/* Copies records [0, count) of a file buffer to images [at, at + count) of s,
 * with the label of label byte `which`. */
static void cifar_take(data_split *s, int at, const uint8_t *buf, int count, const cifar_layout *L, int which) {
    const size_t record = (size_t)L->label_bytes + CIFAR_IMAGE_BYTES;
    for (int r = 0; r < count; r++) {
        const uint8_t *rec = buf + (size_t)r * record;
        s->labels[at + r] = rec[which];
        memcpy(s->pixels + (size_t)(at + r) * CIFAR_IMAGE_BYTES, rec + L->label_bytes, CIFAR_IMAGE_BYTES);
    }
}

static int cifar_probe(const char *dir, const cifar_layout *L, long *n_train, lr_error *err);

/* The training files' records: the layout's count, or the file sizes' (a stat each) when the layout leaves it open. */
static long cifar_count(const cifar_layout *L, int first, int last, const char *dir) {
    long n = 0;
    for (int i = first; i < last; i++) {
        struct stat st;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, L->files[i].name);
        n += L->files[i].records ? L->files[i].records
                                 : !stat(path, &st) ? (long)(st.st_size / (L->label_bytes + CIFAR_IMAGE_BYTES)) : 0;
    }
    return n;
}

static int cifar_load(dataset *d, const data_options *o, const char *dir, const cifar_layout *L, int which,
                      lr_error *err) {
    struct stat st;
    if (stat(dir, &st) != 0)
        return lr_fail(err, "%s: %s (expected the %s binary files there; %s, or pass --data DIR)", dir,
                       strerror(errno), L->title, L->get);
    if (!S_ISDIR(st.st_mode))
        return lr_fail(err, "%s: not a directory (expected the directory holding %s)", dir, L->expect);
    long n_train = 0, n_test = 0, unused;
    if (!L->files[0].records && cifar_probe(dir, L, &unused, err)) return -1; /* counts from sizes: the files first */
    if ((o->train && data_keep(&n_train, o->limit_train, cifar_count(L, 0, L->n_train_files, dir), "--limit-train",
                               dir, err)) ||
        data_keep(&n_test, o->limit_test, cifar_count(L, L->n_train_files, L->n_train_files + 1, dir), "--limit-test",
                  dir, err))
        return -1;
    d->c = CIFAR_C, d->h = CIFAR_H, d->w = CIFAR_W, d->classes = L->classes[which];
    int rc = (o->train && data_split_alloc(&d->train, (int)n_train, CIFAR_C, CIFAR_H, CIFAR_W, "training images", err)) ||
             data_split_alloc(&d->test, (int)n_test, CIFAR_C, CIFAR_H, CIFAR_W, "test images", err);
    long at = 0;
    for (int i = 0; !rc && i <= L->n_train_files; i++) {
        if (!o->train && i < L->n_train_files) continue;
        int test = i == L->n_train_files;
        uint8_t *buf;
        long records = 0;
        rc = cifar_read_file(&buf, &records, L, &L->files[i], dir, err);
        long room = test ? n_test : n_train - at;
        long count = room < records ? room : records;
        if (!rc && count > 0) cifar_take(test ? &d->test : &d->train, test ? 0 : (int)at, buf, (int)count, L, which);
        at += records;
        free(buf);
    }
    char names[4096];
    if (!rc && L->names_file[which] &&
        snprintf(names, sizeof names, "%s/%s", dir, L->names_file[which]) >= (int)sizeof names)
        rc = lr_fail(err, "%s/%s: path too long", dir, L->names_file[which]);
    if (!rc && L->names_file[which]) rc = data_read_names(d->names, d->classes, names, 1, err);
    return rc ? -1 : 0;
}

int cifar10_load(dataset *d, const data_options *o, const char *path, lr_error *err) {
    for (int i = 0; i < 10; i++) snprintf(d->names[i], DATA_NAME_BYTES, "%s", cifar10_names[i]);
    d->norm = cifar10_norm;
    return cifar_load(d, o, path, &cifar10, 0, err);
}

/* torchvision users' usual CIFAR-100 constants (the training set's channel
 * means and stds; `lrlab data stats` computes them). */
int cifar100_load(dataset *d, const data_options *o, const char *path, lr_error *err) {
    d->norm = (data_norm){{0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}};
    return cifar_load(d, o, path, &cifar100, o->coarse ? 0 : 1, err);
}

/* What a sweep checks before its runs start: every file is there. */
static int cifar_probe(const char *dir, const cifar_layout *L, long *n_train, lr_error *err) {
    *n_train = cifar_count(L, 0, L->n_train_files, dir); /* the layout's count even when a file is missing */
    for (int i = 0; i <= L->n_train_files; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, L->files[i].name);
        if (stat(path, &st) || !S_ISREG(st.st_mode))
            return lr_fail(err, "--data %s: no %s there (expected %s's binary files: %s, or --data DIR)", dir,
                           L->files[i].name, L->title, L->get);
    }
    return 0;
}

int cifar10_probe(const char *path, long *n_train, lr_error *err) { return cifar_probe(path, &cifar10, n_train, err); }
int cifar100_probe(const char *path, long *n_train, lr_error *err) { return cifar_probe(path, &cifar100, n_train, err); }
