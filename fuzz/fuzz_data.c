// fuzz-sources: src/data/*.c src/core/*.c src/sched/expr.c
/* fuzz/fuzz_data.c: libFuzzer target for the data readers: the first byte
 * picks a reader and a file, the rest of the input becomes that file on disk
 * beside small valid companions (the readers take paths):
 *   0 idx: train-images-idx3-ubyte     1 idx: train-labels-idx1-ubyte
 *   2 idx: t10k-images-idx3-ubyte.gz   3 idx: t10k-labels-idx1-ubyte.gz
 *     (the input as the .gz file: gzip data, or plain bytes zlib passes through)
 *   4 cifar100: train.bin              5 cifar100: test.bin
 *   6 a PNG or JPEG image (image_read, then image_resize to 5x7)
 * Any input must be loaded or refused with a message naming the file, never
 * crash; a loaded data set must be consistent (counts, shape, labels below
 * the class count). Seeds: fuzz/corpus/data (valid files of each kind with
 * their selector byte). Not a test of what is read (tests/test_data.c,
 * tests/data_formats_test.sh). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/formats.h"
#include "lrlab/data.h"

static void must(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_data: %s\n", what);
        abort();
    }
}

static char dir[512];

static void put(const char *name, const void *bytes, size_t n) {
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    must(f != NULL, "cannot write a scratch file");
    if (n) must(fwrite(bytes, 1, n, f) == n, "cannot write a scratch file");
    fclose(f);
}

/* Valid companions: two 3x2 images with labels 0 and 1 (idx), one CIFAR-100 record. */
static void valid_files(void) {
    static const uint8_t img[16 + 12] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    static const uint8_t lab[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 0, 1};
    static uint8_t rec[3074];
    rec[0] = 3, rec[1] = 42;
    const char *names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        char gz[64];
        snprintf(gz, sizeof gz, "%s.gz", names[i]);
        char path[640];
        snprintf(path, sizeof path, "%s/%s", dir, gz);
        unlink(path); /* NAME is read before NAME.gz: keep one of them */
        put(names[i], i % 2 ? lab : img, i % 2 ? sizeof lab : sizeof img);
    }
    put("train.bin", rec, sizeof rec);
    put("test.bin", rec, sizeof rec);
}

static void check_loaded(const dataset *d) {
    const data_split *s[2] = {&d->train, &d->test};
    must(d->classes >= 1 && d->classes <= DATA_MAX_CLASSES, "classes out of range");
    for (int k = 0; k < 2; k++) {
        must(s[k]->n >= 1 && s[k]->c == d->c && s[k]->h == d->h && s[k]->w == d->w, "a split disagrees with the set");
        for (int i = 0; i < s[k]->n; i++) must(s[k]->labels[i] < d->classes, "a label out of range");
        volatile uint8_t sink = s[k]->pixels[data_image_bytes(s[k]) * (size_t)s[k]->n - 1];
        (void)sink;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/fuzz_data.XXXXXX", tmp && tmp[0] && strlen(tmp) < 400 ? tmp : "/tmp");
        must(mkdtemp(dir) != NULL, "cannot make a scratch directory");
    }
    if (size < 1) return 0;
    int which = data[0] % 7;
    data++, size--;
    valid_files();
    static const char *const target[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train.bin",
                                         "test.bin", "image"};
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, target[which]);
    if (which == 2 || which == 3) { /* the .gz replaces the plain file */
        char plain[640];
        snprintf(plain, sizeof plain, "%s/%s", dir, which == 2 ? "t10k-images-idx3-ubyte" : "t10k-labels-idx1-ubyte");
        unlink(plain);
    }
    put(target[which], data, size);
    lr_error err = {{0}};
    if (which == 6) {
        data_image im;
        if (image_read(&im, path, &err) == 0) {
            must(im.h >= 1 && im.w >= 1 && (im.c == 1 || im.c == 3) && im.px, "a decoded image out of shape");
            if (image_resize(&im, 5, 7, path, &err) == 0) must(im.h == 5 && im.w == 7, "resized to another size");
            image_free(&im);
        } else {
            must(strstr(err.msg, path) != NULL, "a refused image without the file's name");
        }
        return 0;
    }
    dataset d;
    data_options o = {.format = which < 4 ? "idx" : "cifar100", .path = dir, .train = 1};
    if (dataset_load(&d, &o, &err) == 0) check_loaded(&d);
    else must(strstr(err.msg, dir) != NULL, "a refusal without the file's name");
    dataset_free(&d);
    return 0;
}
