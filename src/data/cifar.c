/* cifar.c: loads and validates the CIFAR-10 binary files (data_batch_1..5.bin,
 * test_batch.bin; each 10,000 records of 1 label byte + 3072 CHW pixel bytes),
 * splits off a hold-out set and reads the class names.
 * Not here: augmentation (augment.c), batching (loader.c), getting the data
 * (scripts/get-data.sh). Every file is checked in full, even when only its
 * first images are kept, so a damaged file is reported on every run. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_FILE_BYTES ((long)CIFAR_FILE_RECORDS * CIFAR_RECORD_BYTES) /* 30,730,000 */

static const char *const cifar_default_names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                                     "dog",      "frog",       "horse", "ship", "truck"};

void cifar_split_free(cifar_split *s) {
    if (!s) return;
    free(s->labels);
    free(s->pixels);
    s->labels = NULL;
    s->pixels = NULL;
    s->n = 0;
}

static int cifar_split_alloc(cifar_split *s, int n, const char *what, lr_error *err) {
    s->n = 0;
    s->labels = lr_calloc((size_t)n, 1, what, err);
    s->pixels = s->labels ? lr_calloc((size_t)n, CIFAR_IMAGE_BYTES, what, err) : NULL;
    if (!s->pixels) {
        cifar_split_free(s);
        return -1;
    }
    s->n = n;
    return 0;
}

/* Reads one whole file into buf (CIFAR_FILE_BYTES), checking that it is a
 * regular file of exactly the right size and that every label is 0..9. */
static int cifar_read_file(uint8_t *buf, const char *dir, const char *name, lr_error *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return lr_fail(err, "%s/%s: path too long", dir, name);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return lr_fail(err, "%s: missing (expected data_batch_1..5.bin and test_batch.bin in %s; "
                                "get CIFAR-10 with `make data`)", path, dir);
        return lr_fail(err, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return lr_fail(err, "%s: not a regular file", path);
    if ((long long)st.st_size != (long long)CIFAR_FILE_BYTES)
        return lr_fail(err, "%s: %lld bytes, expected 30,730,000 (10,000 records of 3073 bytes): %s", path,
                       (long long)st.st_size,
                       (long long)st.st_size < (long long)CIFAR_FILE_BYTES ? "truncated or not CIFAR-10 binary"
                                                                            : "not CIFAR-10 binary");
    FILE *f = fopen(path, "rb");
    if (!f) return lr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(buf, 1, (size_t)CIFAR_FILE_BYTES, f);
    int read_error = ferror(f);
    fclose(f);
    if (got != (size_t)CIFAR_FILE_BYTES)
        return lr_fail(err, "%s: read %zu of 30,730,000 bytes%s", path, got,
                       read_error ? " (read error)" : " (file shrank while reading)");
    for (int r = 0; r < CIFAR_FILE_RECORDS; r++) {
        uint8_t label = buf[(size_t)r * CIFAR_RECORD_BYTES];
        if (label >= CIFAR_CLASSES)
            return lr_fail(err, "%s: record %d has label %d, expected 0..9 (records counted from 0): "
                                "damaged or not CIFAR-10 binary", path, r, label);
    }
    return 0;
}

/* Copies records [0, count) of a file buffer to images [at, at + count) of s. */
static void cifar_take(cifar_split *s, int at, const uint8_t *buf, int count) {
    for (int r = 0; r < count; r++) {
        const uint8_t *rec = buf + (size_t)r * CIFAR_RECORD_BYTES;
        s->labels[at + r] = rec[0];
        memcpy(s->pixels + (size_t)(at + r) * CIFAR_IMAGE_BYTES, rec + 1, CIFAR_IMAGE_BYTES);
    }
}

static int cifar_check_limit(long limit, long available, const char *flag, const char *dir,
                             lr_error *err) {
    if (limit > available)
        return lr_fail(err, "%s %ld: only %ld images in %s (expected 1..%ld, or 0 for all)", flag, limit,
                       available, dir, available);
    return 0;
}

int cifar_load(cifar_split *train, cifar_split *test, const char *dir, long limit_train,
               long limit_test, lr_error *err) {
    if (train) memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    const long n_train_all = (long)CIFAR_TRAIN_FILES * CIFAR_FILE_RECORDS;
    const long n_test_all = CIFAR_FILE_RECORDS;
    struct stat st;
    if (!dir || !*dir) return lr_fail(err, "data dir: empty path (expected the CIFAR-10 binary directory)");
    if (stat(dir, &st) != 0)
        return lr_fail(err, "%s: %s (expected the CIFAR-10 binary files there; get them with `make data`, "
                            "or pass --data DIR)", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return lr_fail(err, "%s: not a directory (expected the directory holding data_batch_1..5.bin)", dir);
    if (train && cifar_check_limit(limit_train, n_train_all, "--limit-train", dir, err)) return -1;
    if (cifar_check_limit(limit_test, n_test_all, "--limit-test", dir, err)) return -1;
    int n_train = (int)(limit_train > 0 ? limit_train : n_train_all);
    int n_test = (int)(limit_test > 0 ? limit_test : n_test_all);

    uint8_t *buf = lr_calloc((size_t)CIFAR_FILE_BYTES, 1, "CIFAR-10 file buffer", err);
    if (!buf) return -1;
    if ((train && cifar_split_alloc(train, n_train, "CIFAR-10 training images", err)) ||
        cifar_split_alloc(test, n_test, "CIFAR-10 test images", err))
        goto fail;
    for (int i = 0; train && i < CIFAR_TRAIN_FILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", i + 1);
        if (cifar_read_file(buf, dir, name, err)) goto fail;
        int at = i * CIFAR_FILE_RECORDS;
        int count = n_train - at;
        if (count > CIFAR_FILE_RECORDS) count = CIFAR_FILE_RECORDS;
        if (count > 0) cifar_take(train, at, buf, count);
    }
    if (cifar_read_file(buf, dir, "test_batch.bin", err)) goto fail;
    cifar_take(test, 0, buf, n_test);
    free(buf);
    return 0;
fail:
    free(buf);
    if (train) cifar_split_free(train);
    cifar_split_free(test);
    return -1;
}

int cifar_split_holdout(cifar_split *train, cifar_split *val, int n_val, lr_error *err) {
    memset(val, 0, sizeof *val);
    if (n_val == 0) return 0;
    if (n_val < 0 || n_val >= train->n)
        return lr_fail(err, "hold-out of %d images from %d training images: expected 1..%d (training keeps "
                            "at least one image)", n_val, train->n, train->n - 1);
    if (cifar_split_alloc(val, n_val, "hold-out images", err)) return -1;
    int first = train->n - n_val;
    memcpy(val->labels, train->labels + first, (size_t)n_val);
    memcpy(val->pixels, train->pixels + (size_t)first * CIFAR_IMAGE_BYTES, (size_t)n_val * CIFAR_IMAGE_BYTES);
    train->n = first;
    return 0;
}

int cifar_class_names(char names[10][32], const char *dir, lr_error *err) {
    for (int i = 0; i < 10; i++) snprintf(names[i], 32, "%s", cifar_default_names[i]);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/batches.meta.txt", dir) >= (int)sizeof path)
        return lr_fail(err, "%s/batches.meta.txt: path too long", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0; /* optional: the standard names */
        return lr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    char got[10][32];
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
        if (count == 10) {
            rc = lr_fail(err, "%s: line %d ('%s') is an 11th class name (expected 10 non-empty lines)", path,
                         lineno, line);
            break;
        }
        if (len > 31) {
            rc = lr_fail(err, "%s: line %d: class name of %zu bytes (expected at most 31)", path, lineno, len);
            break;
        }
        memcpy(got[count], line, len + 1);
        count++;
    }
    if (!rc && ferror(f)) rc = lr_fail(err, "%s: read error", path);
    fclose(f);
    if (!rc && count != 10)
        rc = lr_fail(err, "%s: %d class names, expected 10 non-empty lines", path, count);
    if (!rc) memcpy(names, got, sizeof got);
    return rc;
}
