/* tests/test_data.c: CIFAR-10 loading and validation, the seed's augmentation,
 * and the batch loader (include/lrlab/data.h).
 *
 * Files: full-size synthetic files written by this test into a temp dir, whose
 * images carry a marker (pixel 0 = file, pixels 1-2 = record) so order and
 * limits are visible; each damage (truncation, a bad label, a missing file) is
 * made on a copy and reported with the file's name.
 * Augmentation: against a plain reference written here (pad to 40x40, crop,
 * flip, normalise) for every offset, and bit for bit against PyTorch float32
 * numbers (tests/torch/augment_fixture.txt, made by augment_fixture.py).
 * Loader: batch counts, every image once per epoch, order and augmentation
 * streams as documented in rng.h, determinism across loaders and thread
 * timing, resume at a batch, restart and free mid-epoch. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/formats.h"
#include "lrlab/data.h"
#include "lrlab/rng.h"
#include "test.h"

/* The CIFAR-10 binary layout (the loader's own constants are private to it). */
#define CIFAR_FILE_RECORDS 10000
#define CIFAR_IMAGE_BYTES 3072
#define CIFAR_RECORD_BYTES 3073
#define FILE_BYTES (CIFAR_FILE_RECORDS * CIFAR_RECORD_BYTES)

static char dir[4096];
static uint8_t *filebuf; /* one file's bytes */

static const char *file_name(int f) {
    static const char *const names[6] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                         "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    return names[f];
}

/* Label and pixel of record r of file f (0..4 train, 5 test). */
static uint8_t synth_label(int f, int r) { return (uint8_t)((f * 7 + r * 3) % 10); }
static uint8_t synth_pixel(int f, int r, int i) {
    if (i == 0) return (uint8_t)f;
    if (i == 1) return (uint8_t)(r & 255);
    if (i == 2) return (uint8_t)(r >> 8);
    return (uint8_t)((f * 31 + r * 7 + i * 13) % 256);
}

static void fill_file(int f) {
    for (int r = 0; r < CIFAR_FILE_RECORDS; r++) {
        uint8_t *rec = filebuf + (size_t)r * CIFAR_RECORD_BYTES;
        rec[0] = synth_label(f, r);
        for (int i = 0; i < CIFAR_IMAGE_BYTES; i++) rec[1 + i] = synth_pixel(f, r, i);
    }
}

static void path_of(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", dir, name); }

static int write_bytes(const char *name, const uint8_t *bytes, size_t n) {
    char path[4200];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(bytes, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Writes file f intact (size bytes of it, so a smaller size truncates). */
static int write_file(int f, size_t size) {
    fill_file(f);
    return write_bytes(file_name(f), filebuf, size);
}

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* dataset_load of CIFAR-10 from path, its splits handed over to train and test. */
static int load(data_split *train, data_split *test, const char *path, long limit_train, long limit_test,
                lr_error *err) {
    dataset d;
    data_options o = {.format = "cifar10", .path = path, .train = 1, .limit_train = limit_train,
                      .limit_test = limit_test};
    int rc = dataset_load(&d, &o, err);
    *train = d.train, *test = d.test;
    memset(&d.train, 0, sizeof d.train), memset(&d.test, 0, sizeof d.test);
    dataset_free(&d);
    return rc;
}

/* Image id (file * 10000 + record) read back from the marker pixels. */
static int split_id(const data_split *s, int k) {
    const uint8_t *p = s->pixels + (size_t)k * CIFAR_IMAGE_BYTES;
    return p[0] * CIFAR_FILE_RECORDS + p[1] + 256 * p[2];
}

static void test_files(void) {
    lr_error err = {{0}};
    data_split train, test;

    /* A missing directory says how to get the data. */
    char missing[4200];
    path_of(missing, sizeof missing, "nowhere");
    CHECK(load(&train, &test, missing, 0, 0, &err) == -1, "missing dir accepted");
    CHECK(contains(err.msg, "nowhere") && contains(err.msg, "make data"), "message: %s", err.msg);
    CHECK(train.n == 0 && train.pixels == NULL && test.pixels == NULL, "failed load left a split");

    for (int f = 0; f < 6; f++) CHECK(write_file(f, FILE_BYTES) == 0, "cannot write %s", file_name(f));

    /* Everything, in file order. */
    CHECK(load(&train, &test, dir, 0, 0, &err) == 0, "load: %s", err.msg);
    CHECK(train.n == 50000 && test.n == 10000, "sizes %d %d", train.n, test.n);
    int order_ok = 1;
    for (int k = 0; k < train.n && order_ok; k++) {
        int f = k / CIFAR_FILE_RECORDS, r = k % CIFAR_FILE_RECORDS;
        order_ok = split_id(&train, k) == k && train.labels[k] == synth_label(f, r) &&
                   train.pixels[(size_t)k * CIFAR_IMAGE_BYTES + 3071] == synth_pixel(f, r, 3071);
        if (!order_ok) fprintf(stderr, "  train image %d is not record %d of file %d\n", k, r, f);
    }
    CHECK(order_ok, "training images in file order");
    CHECK(split_id(&test, 9999) == 5 * 10000 + 9999 && test.labels[9999] == synth_label(5, 9999),
          "test images in file order");
    data_split_free(&train);
    data_split_free(&test);
    data_split_free(&train); /* twice is fine */

    /* Limits keep the first N in file order, across file boundaries. */
    CHECK(load(&train, &test, dir, 12345, 16, &err) == 0, "limited load: %s", err.msg);
    CHECK(train.n == 12345 && test.n == 16, "limited sizes %d %d", train.n, test.n);
    CHECK(split_id(&train, 9999) == 9999 && split_id(&train, 10000) == 10000 &&
              split_id(&train, 12344) == 12344,
          "limited order");
    CHECK(split_id(&test, 15) == 50015, "limited test order");

    /* Hold-out: the last n_val of train. */
    data_split val;
    CHECK(data_split_holdout(&train, &val, 345, &err) == 0, "holdout: %s", err.msg);
    CHECK(train.n == 12000 && val.n == 345, "holdout sizes %d %d", train.n, val.n);
    CHECK(split_id(&val, 0) == 12000 && split_id(&val, 344) == 12344 && val.labels[0] == train.labels[12000],
          "holdout content");
    data_split val2;
    CHECK(data_split_holdout(&train, &val2, 12000, &err) == -1 && contains(err.msg, "12000"),
          "holdout taking everything: %s", err.msg);
    CHECK(data_split_holdout(&train, &val2, -1, &err) == -1, "negative holdout accepted");
    CHECK(data_split_holdout(&train, &val2, 0, &err) == 0 && val2.n == 0 && train.n == 12000, "holdout of 0");
    data_split_free(&val);
    data_split_free(&train);
    data_split_free(&test);

    /* Limits larger than available name the flag. */
    CHECK(load(&train, &test, dir, 50001, 0, &err) == -1 && contains(err.msg, "--limit-train") &&
              contains(err.msg, "50001"),
          "limit-train: %s", err.msg);
    CHECK(load(&train, &test, dir, 0, 10001, &err) == -1 && contains(err.msg, "--limit-test"),
          "limit-test: %s", err.msg);
    CHECK(load(&train, &test, dir, 50000, 10000, &err) == 0, "limits equal to the sizes: %s", err.msg);
    data_split_free(&train);
    data_split_free(&test);

    /* Truncated: one byte short, named with its size. */
    CHECK(write_file(2, FILE_BYTES - 1) == 0, "write");
    CHECK(load(&train, &test, dir, 10, 10, &err) == -1, "truncated file accepted");
    CHECK(contains(err.msg, "data_batch_3.bin: 30729999 bytes, expected 30,730,000") &&
              contains(err.msg, "truncated"),
          "message: %s", err.msg);
    CHECK(train.pixels == NULL && test.pixels == NULL, "failed load left a split");
    /* Too long (another format, or two files glued together). */
    CHECK(write_file(2, FILE_BYTES) == 0 && write_bytes("test_batch.bin", filebuf, 100) == 0, "write");
    CHECK(load(&train, &test, dir, 0, 0, &err) == -1 && contains(err.msg, "test_batch.bin: 100 bytes"),
          "message: %s", err.msg);
    {
        uint8_t *big = calloc((size_t)FILE_BYTES + CIFAR_RECORD_BYTES, 1);
        CHECK(big != NULL, "alloc");
        if (big) {
            CHECK(write_bytes("test_batch.bin", big, (size_t)FILE_BYTES + CIFAR_RECORD_BYTES) == 0, "write");
            CHECK(load(&train, &test, dir, 0, 0, &err) == -1 &&
                      contains(err.msg, "test_batch.bin: 30733073 bytes"),
                  "message: %s", err.msg);
            free(big);
        }
    }
    CHECK(write_file(5, FILE_BYTES) == 0, "write");

    /* A bad label names the record, even when that file's images are not kept. */
    fill_file(1);
    filebuf[(size_t)517 * CIFAR_RECORD_BYTES] = 12;
    CHECK(write_bytes("data_batch_2.bin", filebuf, FILE_BYTES) == 0, "write");
    CHECK(load(&train, &test, dir, 10, 10, &err) == -1, "label 12 accepted");
    CHECK(contains(err.msg, "data_batch_2.bin: record 517 has label 12, expected 0..9"), "message: %s", err.msg);
    filebuf[(size_t)517 * CIFAR_RECORD_BYTES] = synth_label(1, 517);
    filebuf[(size_t)9999 * CIFAR_RECORD_BYTES] = 10;
    CHECK(write_bytes("data_batch_2.bin", filebuf, FILE_BYTES) == 0, "write");
    CHECK(load(&train, &test, dir, 0, 0, &err) == -1 &&
              contains(err.msg, "data_batch_2.bin: record 9999 has label 10"),
          "message: %s", err.msg);
    CHECK(write_file(1, FILE_BYTES) == 0, "write");

    /* Missing file; a directory in a file's place. */
    char path[4200];
    path_of(path, sizeof path, "data_batch_5.bin");
    CHECK(remove(path) == 0, "remove");
    CHECK(load(&train, &test, dir, 0, 0, &err) == -1 && contains(err.msg, "data_batch_5.bin: missing") &&
              contains(err.msg, "make data"),
          "message: %s", err.msg);
    CHECK(mkdir(path, 0700) == 0, "mkdir");
    CHECK(load(&train, &test, dir, 0, 0, &err) == -1 &&
              contains(err.msg, "data_batch_5.bin: not a regular file"),
          "message: %s", err.msg);
    CHECK(rmdir(path) == 0, "rmdir");
    CHECK(write_file(4, FILE_BYTES) == 0, "write");
    CHECK(load(&train, &test, dir, 0, 0, &err) == 0, "restored: %s", err.msg);
    data_split_free(&train);
    data_split_free(&test);

    /* Not a directory. */
    path_of(path, sizeof path, "test_batch.bin");
    CHECK(load(&train, &test, path, 0, 0, &err) == -1 && contains(err.msg, "not a directory"),
          "message: %s", err.msg);
}

/* Class names come with the data: the standard ten, or batches.meta.txt's. */
static int names_of(char names[][DATA_NAME_BYTES], lr_error *err) {
    dataset d;
    data_options o = {.format = "cifar10", .path = dir, .limit_test = 1};
    int rc = dataset_load(&d, &o, err);
    if (!rc) memcpy(names, d.names, 10 * DATA_NAME_BYTES);
    dataset_free(&d);
    return rc;
}

static void test_class_names(void) {
    lr_error err = {{0}};
    char names[10][DATA_NAME_BYTES];
    CHECK(names_of(names, &err) == 0, "absent meta: %s", err.msg);
    CHECK(strcmp(names[0], "airplane") == 0 && strcmp(names[9], "truck") == 0, "default names");
    const char *good = "zero\r\none\ntwo\nthree\nfour  \nfive\nsix\nseven\neight\nnine\n\n\n";
    CHECK(write_bytes("batches.meta.txt", (const uint8_t *)good, strlen(good)) == 0, "write");
    CHECK(names_of(names, &err) == 0, "meta: %s", err.msg);
    CHECK(strcmp(names[0], "zero") == 0 && strcmp(names[4], "four") == 0 && strcmp(names[9], "nine") == 0,
          "names read: '%s' '%s' '%s'", names[0], names[4], names[9]);
    const char *nine = "a\nb\nc\nd\ne\nf\ng\nh\ni\n";
    CHECK(write_bytes("batches.meta.txt", (const uint8_t *)nine, strlen(nine)) == 0, "write");
    CHECK(names_of(names, &err) == -1 && contains(err.msg, "batches.meta.txt: 9 class names"),
          "message: %s", err.msg);
    const char *eleven = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
    CHECK(write_bytes("batches.meta.txt", (const uint8_t *)eleven, strlen(eleven)) == 0, "write");
    CHECK(names_of(names, &err) == -1 && contains(err.msg, "class name 11"), "message: %s", err.msg);
    const char *longname = "a\nb\nc\nd\ne\nf\ng\nh\ni\nabcdefghijabcdefghijabcdefghijab\n";
    CHECK(write_bytes("batches.meta.txt", (const uint8_t *)longname, strlen(longname)) == 0, "write");
    CHECK(names_of(names, &err) == -1 && contains(err.msg, "32 bytes"), "message: %s", err.msg);
    char path[4200];
    path_of(path, sizeof path, "batches.meta.txt");
    remove(path);

    /* normalisation: the seed's by default, --normalize's when given (2 numbers: every channel) */
    dataset d;
    data_options o = {.format = "cifar10", .path = dir, .limit_test = 1};
    CHECK(dataset_load(&d, &o, &err) == 0 && d.norm.mean[2] == 0.4465f && d.norm.std[0] == 0.2023f,
          "cifar10's constants: %s", err.msg);
    dataset_free(&d);
    o.normalize = "(0.1, 0.2, 0.3), (0.4, 0.5, 0.6)";
    CHECK(dataset_load(&d, &o, &err) == 0 && d.norm.mean[1] == (float)0.2 && d.norm.std[2] == (float)0.6,
          "--normalize per channel: %s", err.msg);
    dataset_free(&d);
    o.normalize = "0.5,0.25";
    CHECK(dataset_load(&d, &o, &err) == 0 && d.norm.mean[2] == 0.5f && d.norm.std[1] == 0.25f,
          "--normalize broadcast: %s", err.msg);
    dataset_free(&d);
    o.normalize = "0.5,0.5,0.5,0.25";
    CHECK(dataset_load(&d, &o, &err) == -1 && contains(err.msg, "4 numbers") && contains(err.msg, "3 channels"),
          "--normalize of 4 numbers on 3 channels: %s", err.msg);
    data_norm nm;
    int n;
    CHECK(data_parse_norm("0.5", &nm, &n, "--normalize", &err) == -1 && contains(err.msg, "1 numbers"), "%s", err.msg);
    CHECK(data_parse_norm("0.5,0", &nm, &n, "--normalize", &err) == -1 && contains(err.msg, "std 0"), "%s", err.msg);
    CHECK(data_parse_norm("0.5;0.2", &nm, &n, "--normalize", &err) == -1 && contains(err.msg, "';'"), "%s", err.msg);
    CHECK(data_parse_norm("[0.5], [abc]", &nm, &n, "--normalize", &err) == -1 && contains(err.msg, "not a number"),
          "%s", err.msg);
    int h, w;
    CHECK(data_parse_resize("24,32", &h, &w, "--resize", &err) == 0 && h == 24 && w == 32, "resize 24,32");
    CHECK(data_parse_resize("24", &h, &w, "--resize", &err) == -1 && contains(err.msg, "H,W"), "%s", err.msg);
    CHECK(data_parse_resize("0,5", &h, &w, "--resize", &err) == -1, "resize 0,5 accepted");

    /* channel statistics: numpy's mean and std (ddof=0) of x / 255 */
    uint8_t px[2 * 2 * 2] = {0, 255, 0, 255, 51, 51, 51, 51}; /* 1 image, 2 channels of 2x2 */
    uint8_t lb[1] = {0};
    data_split s = {.n = 1, .c = 2, .h = 2, .w = 2, .labels = lb, .pixels = px};
    double mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS];
    dataset_channel_stats(&s, mean, std);
    CHECK(mean[0] == 0.5 && std[0] == 0.5 && fabs(mean[1] - 0.2) < 1e-15 && std[1] == 0, "stats %g %g %g %g", mean[0],
          std[0], mean[1], std[1]);
}

/* ---- images: PNG and JPEG decoding and resizing against PIL ---- */

static int hex_byte(const char *p) {
    unsigned v;
    return sscanf(p, "%2x", &v) == 1 ? (int)v : -1;
}

/* tests/fixtures/images/expected.txt (tests/torch/image_fixture.py): each
 * file's PIL convert("RGB") bytes, then two bilinear resizes of them. */
static void test_images(void) {
    FILE *f = fopen("tests/fixtures/images/expected.txt", "r");
    CHECK(f != NULL, "cannot open tests/fixtures/images/expected.txt (run from the repo root): %s", strerror(errno));
    if (!f) return;
    static char line[8192];
    char name[64] = "", file[256];
    data_image base = {0};
    int cases = 0, step = 0;
    lr_error err = {{0}};
    while (fgets(line, sizeof line, f)) {
        char hex[8000];
        int w, h;
        if (line[0] == '#' || sscanf(line, "%63s %d %d %7999s", file, &w, &h, hex) != 4) continue;
        if (strcmp(file, name)) { /* a new file: its decoded pixels first */
            snprintf(name, sizeof name, "%.63s", file);
            image_free(&base);
            char path[300];
            snprintf(path, sizeof path, "tests/fixtures/images/%s", name);
            CHECK(image_read(&base, path, &err) == 0, "%s: %s", path, err.msg);
            step = 0;
        }
        data_image im = base;
        im.px = NULL;
        if (base.px && (im.px = malloc((size_t)base.h * base.w * base.c))) {
            memcpy(im.px, base.px, (size_t)base.h * base.w * base.c);
            if (step > 0) CHECK(image_resize(&im, h, w, name, &err) == 0, "resize %s: %s", name, err.msg);
            int same = im.h == h && im.w == w && (int)strlen(hex) == 2 * h * w * 3, first_bad = -1;
            for (int i = 0; same && i < h * w * 3; i++) {
                int got = im.px[(i / 3) * im.c + (im.c == 3 ? i % 3 : 0)];
                if (got != hex_byte(hex + 2 * i)) same = 0, first_bad = i;
            }
            CHECK(same, "%s %s %dx%d equals PIL (%dx%d x %d decoded; first difference at byte %d)", name,
                  step ? "resized to" : "decoded", w, h, im.w, im.h, im.c, first_bad);
            cases++;
        }
        image_free(&im);
        step++;
    }
    image_free(&base);
    fclose(f);
    CHECK(cases == 24, "image fixture cases: %d, expected 24", cases);
    /* not an image, and a PNG cut short: the file is named */
    CHECK(image_read(&base, "tests/fixtures/images/expected.txt", &err) == -1 &&
              contains(err.msg, "expected.txt: neither a PNG nor a JPEG"), "message: %s", err.msg);
    char path[4200];
    path_of(path, sizeof path, "cut.png");
    FILE *src = fopen("tests/fixtures/images/rgb.png", "rb");
    uint8_t buf[100];
    size_t n = src ? fread(buf, 1, 60, src) : 0;
    if (src) fclose(src);
    CHECK(n == 60 && write_bytes("cut.png", buf, n) == 0, "write cut.png");
    CHECK(image_read(&base, path, &err) == -1 && contains(err.msg, "cut.png: damaged PNG"), "message: %s", err.msg);
    remove(path);
}

/* ---- augmentation ---- */

/* The plain reference: pad to 40x40 with zeros, crop at (dy, dx), flip,
 * then x/255, -mean, /std in float32. */
static void reference_augment(float *out, const uint8_t *img, int dy, int dx, int flip) {
    static uint8_t padded[3][40][40];
    memset(padded, 0, sizeof padded);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) padded[c][y + 4][x + 4] = img[c * 1024 + y * 32 + x];
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2023f, 0.1994f, 0.2010f};
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                uint8_t v = padded[c][dy + y][dx + (flip ? 31 - x : x)];
                float t = (float)v / 255.0f;
                t -= mean[c];
                out[c * 1024 + y * 32 + x] = t / std[c];
            }
}

static int same_bits(const float *a, const float *b, long n, const char *what) {
    if (memcmp(a, b, (size_t)n * sizeof(float)) == 0) return 1;
    for (long i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            fprintf(stderr, "  %s: element %ld got %.9g want %.9g\n", what, i, a[i], b[i]);
            break;
        }
    return 0;
}

static void test_augment(void) {
    uint8_t img[3072];
    lr_rng r;
    rng_init(&r, 7, RNG_STREAM_SYNTH, 0);
    for (int i = 0; i < 3072; i++) img[i] = (uint8_t)rng_below(&r, 256);
    img[0] = 255; /* a corner that is never zero */
    float got[3072], want[3072];
    int all_ok = 1;
    for (int dy = 0; dy <= 8; dy++)
        for (int dx = 0; dx <= 8; dx++)
            for (int flip = 0; flip < 2; flip++) {
                augment_image(got, img, 3, 32, 32, &cifar10_norm, dy, dx, flip);
                reference_augment(want, img, dy, dx, flip);
                char what[64];
                snprintf(what, sizeof what, "augment dy=%d dx=%d flip=%d", dy, dx, flip);
                if (!same_bits(got, want, 3072, what)) all_ok = 0;
            }
    CHECK(all_ok, "augment_image equals the reference for every offset and flip");

    /* Corners by hand: padding is (0 - mean) / std, not 0. */
    for (int c = 0; c < 3; c++) {
        float pad = (0.0f - cifar10_norm.mean[c]) / cifar10_norm.std[c];
        augment_image(got, img, 3, 32, 32, &cifar10_norm, 0, 0, 0);
        CHECK(got[c * 1024] == pad && got[c * 1024 + 7 * 32 + 31] == augment_value(&cifar10_norm, c, img[c * 1024 + 3 * 32 + 27]) &&
                  got[c * 1024 + 4 * 32 + 4] == augment_value(&cifar10_norm, c, img[c * 1024]),
              "dy=dx=0, channel %d: pad %g got %g", c, pad, got[c * 1024]);
        CHECK(pad < -2.0f && pad > -2.5f, "pad value %g", pad);
        augment_image(got, img, 3, 32, 32, &cifar10_norm, 8, 8, 0);
        CHECK(got[c * 1024 + 31 * 32 + 31] == pad &&
                  got[c * 1024 + 27 * 32 + 27] == augment_value(&cifar10_norm, c, img[c * 1024 + 31 * 32 + 31]),
              "dy=dx=8, channel %d", c);
        augment_image(got, img, 3, 32, 32, &cifar10_norm, 4, 4, 1);
        CHECK(got[c * 1024 + 5 * 32 + 0] == augment_value(&cifar10_norm, c, img[c * 1024 + 5 * 32 + 31]) &&
                  got[c * 1024 + 5 * 32 + 31] == augment_value(&cifar10_norm, c, img[c * 1024 + 5 * 32 + 0]),
              "flip, channel %d", c);
        augment_image(got, img, 3, 32, 32, &cifar10_norm, 4, 4, 0);
        CHECK(got[c * 1024 + 7 * 32 + 9] == augment_value(&cifar10_norm, c, img[c * 1024 + 7 * 32 + 9]), "no shift, channel %d", c);
    }
    CHECK(augment_value(&cifar10_norm, 0, 255) == (1.0f - 0.4914f) / 0.2023f, "augment_value(&cifar10_norm, 0, 255)");

    /* Bit for bit against PyTorch's float32 computation. */
    FILE *f = fopen("tests/torch/augment_fixture.txt", "r");
    CHECK(f != NULL, "cannot open tests/torch/augment_fixture.txt (run from the repo root): %s", strerror(errno));
    if (!f) return;
    char line[256];
    int sections = 0;
    uint8_t pattern[3072];
    for (int i = 0; i < 3072; i++) pattern[i] = (uint8_t)((i * 37 + 11) % 256);
    while (fgets(line, sizeof line, f)) {
        int dy, dx, flip, count;
        float want_buf[3072], got_buf[3072];
        int is_table = strncmp(line, "table ", 6) == 0;
        int is_image = sscanf(line, "image %d %d %d %d", &dy, &dx, &flip, &count) == 4;
        if (!is_table && !is_image) continue;
        int n = is_table ? 768 : 3072;
        for (int i = 0; i < n; i++) {
            unsigned int bits;
            if (fscanf(f, "%x", &bits) != 1) {
                CHECK(0, "fixture ends early");
                fclose(f);
                return;
            }
            uint32_t b32 = bits;
            memcpy(&want_buf[i], &b32, sizeof b32);
        }
        if (is_table) {
            for (int i = 0; i < 768; i++) got_buf[i] = augment_value(&cifar10_norm, i / 256, (uint8_t)(i % 256));
            CHECK(same_bits(got_buf, want_buf, 768, "torch table"), "augment_value equals torch for all bytes");
        } else {
            augment_image(got_buf, pattern, 3, 32, 32, &cifar10_norm, dy, dx, flip);
            CHECK(same_bits(got_buf, want_buf, 3072, "torch image"), "augment_image(dy %d, dx %d, flip %d) equals torch", dy,
                  dx, flip);
        }
        sections++;
    }
    fclose(f);
    CHECK(sections == 3, "fixture sections: %d", sections);
}

/* ---- loader ---- */

/* A small in-memory split whose pixel 0..1 of channel 0 encode the index. */
static void make_small(data_split *s, int n) {
    s->n = n, s->c = 3, s->h = 32, s->w = 32;
    s->labels = malloc((size_t)n);
    s->pixels = malloc((size_t)n * CIFAR_IMAGE_BYTES);
    lr_rng r;
    rng_init(&r, 99, RNG_STREAM_SYNTH, 1);
    for (int k = 0; k < n; k++) {
        s->labels[k] = (uint8_t)rng_below(&r, 10);
        uint8_t *p = s->pixels + (size_t)k * CIFAR_IMAGE_BYTES;
        for (int i = 0; i < CIFAR_IMAGE_BYTES; i++) p[i] = (uint8_t)rng_below(&r, 256);
    }
}

/* Which image of s produced an un-augmented output image (by its first 2 bytes of each plane
 * decoded from the normalised values); -1 if none. */
static int decode_byte(int c, float v) {
    for (int b = 0; b < 256; b++)
        if (augment_value(&cifar10_norm, c, (uint8_t)b) == v) return b;
    return -1;
}
static int marker_id(const float *x) { return decode_byte(0, x[0]) + 256 * decode_byte(1, x[1024]); }
static void set_markers(data_split *s) {
    for (int k = 0; k < s->n; k++) {
        s->pixels[(size_t)k * CIFAR_IMAGE_BYTES] = (uint8_t)(k & 255);
        s->pixels[(size_t)k * CIFAR_IMAGE_BYTES + 1024] = (uint8_t)(k >> 8);
    }
}

/* Runs a whole epoch from first_batch and copies every batch into x/y (the full epoch's arrays). */
static int run_epoch(loader *l, int epoch, int first_batch, float *x, int *y, int batch, int *n_seen) {
    lr_error err = {{0}};
    if (loader_start_epoch(l, epoch, first_batch, &err)) {
        fprintf(stderr, "  start_epoch: %s\n", err.msg);
        return -1;
    }
    int expect = first_batch, total = 0;
    const loader_batch *b;
    while ((b = loader_next(l))) {
        if (b->index != expect++) return -1;
        memcpy(x + (size_t)b->index * batch * CIFAR_IMAGE_BYTES, b->x, (size_t)b->n * CIFAR_IMAGE_BYTES * sizeof(float));
        memcpy(y + (size_t)b->index * batch, b->y, (size_t)b->n * sizeof(int));
        total += b->n;
    }
    if (expect != loader_batches(l)) return -1;
    *n_seen = total;
    return 0;
}

static void test_loader_small(void) {
    lr_error err = {{0}};
    data_split s;
    const int n = 1000, batch = 128;
    make_small(&s, n);
    set_markers(&s);
    loader_config cfg = {.split = &s, .norm = cifar10_norm, .batch = batch, .drop_last = 1, .shuffle = 1, .augment = 1, .seed = 1234};
    loader *a = NULL, *b = NULL;
    CHECK(loader_init(&a, &cfg, &err) == 0, "init: %s", err.msg);
    CHECK(loader_init(&b, &cfg, &err) == 0, "init: %s", err.msg);
    if (!a || !b) return;
    CHECK(loader_batches(a) == 7, "drop_last batches %d", loader_batches(a));
    CHECK(loader_next(a) == NULL, "a batch before any epoch");

    size_t floats = (size_t)8 * batch * CIFAR_IMAGE_BYTES;
    float *xa = calloc(floats, sizeof(float)), *xb = calloc(floats, sizeof(float)), *xr = calloc(floats, sizeof(float));
    int *ya = calloc(8 * batch, sizeof(int)), *yb = calloc(8 * batch, sizeof(int)), *yr = calloc(8 * batch, sizeof(int));
    int *perm = calloc((size_t)n, sizeof(int));
    int seen = 0;

    /* The documented streams, computed here from rng.h directly. */
    for (int epoch = 0; epoch < 2; epoch++) {
        lr_rng ro;
        rng_init(&ro, 1234, RNG_STREAM_ORDER, (uint64_t)epoch);
        rng_permutation(&ro, perm, n);
        for (int bi = 0; bi < 7; bi++) {
            lr_rng ra;
            rng_init(&ra, 1234, RNG_STREAM_AUGMENT, (uint64_t)epoch * 1000003u + (uint64_t)bi);
            for (int i = 0; i < batch; i++) {
                int k = perm[bi * batch + i];
                int dy = (int)rng_below(&ra, 9), dx = (int)rng_below(&ra, 9), flip = (int)rng_below(&ra, 2);
                reference_augment(xr + ((size_t)bi * batch + i) * CIFAR_IMAGE_BYTES,
                                  s.pixels + (size_t)k * CIFAR_IMAGE_BYTES, dy, dx, flip);
                yr[bi * batch + i] = s.labels[k];
            }
        }
        CHECK(run_epoch(a, epoch, 0, xa, ya, batch, &seen) == 0 && seen == 7 * batch, "epoch %d: %d images", epoch,
              seen);
        CHECK(same_bits(xa, xr, 7L * batch * CIFAR_IMAGE_BYTES, "loader vs documented streams") &&
                  memcmp(ya, yr, 7 * batch * sizeof(int)) == 0,
              "epoch %d equals the documented order and augmentation streams", epoch);
    }

    /* Two loaders, same seed: identical bytes, whatever the timing (b is consumed slowly). */
    CHECK(run_epoch(a, 3, 0, xa, ya, batch, &seen) == 0, "epoch 3");
    CHECK(loader_start_epoch(b, 3, 0, &err) == 0, "start: %s", err.msg);
    const loader_batch *bb;
    int bi = 0, same = 1;
    while ((bb = loader_next(b))) {
        nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 2000000}, NULL); /* the worker runs ahead */
        same = same && bb->index == bi &&
               memcmp(bb->x, xa + (size_t)bi * batch * CIFAR_IMAGE_BYTES, (size_t)bb->n * CIFAR_IMAGE_BYTES * 4) == 0 &&
               memcmp(bb->y, ya + (size_t)bi * batch, (size_t)bb->n * sizeof(int)) == 0;
        bi++;
    }
    CHECK(same && bi == 7, "two loaders with one seed give identical batches");
    CHECK(loader_next(b) == NULL, "NULL again after the end");

    /* Resume at batch 4 equals the tail of the full epoch. */
    memset(xb, 0, floats * sizeof(float));
    CHECK(run_epoch(b, 3, 4, xb, yb, batch, &seen) == 0 && seen == 3 * batch, "resume: %d images", seen);
    size_t off = (size_t)4 * batch * CIFAR_IMAGE_BYTES;
    CHECK(memcmp(xb + off, xa + off, (size_t)3 * batch * CIFAR_IMAGE_BYTES * 4) == 0 &&
              memcmp(yb + 4 * batch, ya + 4 * batch, 3 * batch * sizeof(int)) == 0,
          "resume at batch 4 equals batches 4..6 of the full epoch");
    CHECK(run_epoch(b, 3, 7, xb, yb, batch, &seen) == 0 && seen == 0, "resume at the end: empty epoch");

    /* Restart mid-epoch: take 2 batches of epoch 5, then start epoch 3 again. */
    CHECK(loader_start_epoch(b, 5, 0, &err) == 0 && loader_next(b) && loader_next(b), "epoch 5 begun");
    CHECK(run_epoch(b, 3, 0, xb, yb, batch, &seen) == 0 && memcmp(xb, xa, (size_t)7 * batch * CIFAR_IMAGE_BYTES * 4) == 0,
          "restart mid-epoch gives the clean epoch");
    /* Many quick restarts without consuming, then one full epoch. */
    for (int i = 0; i < 50; i++) CHECK(loader_start_epoch(b, i, i % 7, &err) == 0, "restart %d", i);
    CHECK(run_epoch(b, 3, 0, xb, yb, batch, &seen) == 0 && memcmp(xb, xa, (size_t)7 * batch * CIFAR_IMAGE_BYTES * 4) == 0,
          "after 50 restarts");

    /* The synchronous reference equals the thread. */
    loader_epoch_order(perm, &cfg, 3);
    int total = 0, m = loader_fill_batch(xr, yr, &cfg, perm, 3, 6, &total);
    CHECK(m == batch && total == batch &&
              memcmp(xr, xa + (size_t)6 * batch * CIFAR_IMAGE_BYTES, (size_t)m * CIFAR_IMAGE_BYTES * 4) == 0,
          "loader_fill_batch equals the thread");
    CHECK(loader_fill_batch(xr, yr, &cfg, perm, 3, 7, NULL) == 0, "no batch 7 with drop_last");

    /* Shards (data-parallel ranks): 3 uneven shards of batch 6, one after
     * another, are the whole batch, bytes and labels, augmentation included. */
    for (int k = 0, at = 0; k < 3; k++) {
        loader_config sc = cfg;
        sc.shard = k, sc.shards = 3;
        int t = 0, got = loader_fill_batch(xr, yr, &sc, perm, 3, 6, &t);
        int want = batch * (k + 1) / 3 - batch * k / 3;
        CHECK(got == want && t == batch &&
                  memcmp(xr, xa + (size_t)(6 * batch + at) * CIFAR_IMAGE_BYTES, (size_t)got * CIFAR_IMAGE_BYTES * 4) == 0 &&
                  memcmp(yr, ya + 6 * batch + at, (size_t)got * sizeof(int)) == 0,
              "shard %d of 3: %d images (want %d), images %d.. of the batch", k, got, want, at);
        at += got;
    }

    /* Another epoch, another order; another seed, other bytes. */
    float *x4 = xb;
    CHECK(run_epoch(a, 4, 0, x4, yb, batch, &seen) == 0, "epoch 4");
    CHECK(memcmp(ya, yb, 7 * batch * sizeof(int)) != 0, "epoch 4 order differs from epoch 3");
    loader_free(b);
    b = NULL;
    cfg.seed = 1235;
    CHECK(loader_init(&b, &cfg, &err) == 0, "init: %s", err.msg);
    CHECK(run_epoch(b, 3, 0, xb, yb, batch, &seen) == 0 && memcmp(xb, xa, (size_t)batch * CIFAR_IMAGE_BYTES * 4) != 0,
          "another seed gives other batches");
    loader_free(b);
    b = NULL;

    /* --transform: the thread's batches are transform_image of each image of the epoch's order, with
     * the image's own stream (seed, epoch, image): the same bytes in any batch, shard or order. */
    data_transform tf;
    CHECK(transform_parse(&tf, "Compose([RandomCrop(32, padding=4, padding_mode='reflect'), RandomHorizontalFlip(), "
                               "ColorJitter(0.3, 0.3, 0.3, 0.1), RandomErasing(p=0.5)])", &err) == 0 &&
              transform_check(&tf, "", 3, 32, 32, &err) == 0,
          "transform: %s", err.msg);
    cfg.transform = &tf;
    CHECK(loader_init(&b, &cfg, &err) == 0, "init: %s", err.msg);
    CHECK(run_epoch(b, 2, 0, xb, yb, batch, &seen) == 0 && seen == 7 * batch, "transform epoch: %d", seen);
    loader_epoch_order(perm, &cfg, 2);
    int tf_ok = 1;
    float tone[3072], scratch[3072];
    for (int k = 0; k < seen && tf_ok; k++) {
        transform_image(tone, scratch, s.pixels + (size_t)perm[k] * CIFAR_IMAGE_BYTES, 3, 32, 32, &tf, &cfg.norm, cfg.seed, 2,
                        perm[k], NULL);
        tf_ok = memcmp(tone, xb + (size_t)k * CIFAR_IMAGE_BYTES, sizeof tone) == 0;
    }
    CHECK(tf_ok, "a --transform loader's images are transform_image(seed, epoch, image) in the epoch's order");
    loader_config sc = cfg;
    sc.shard = 1, sc.shards = 2;
    int tm = loader_fill_batch(xr, yr, &sc, perm, 2, 3, NULL);
    CHECK(tm == batch - batch / 2 &&
              memcmp(xr, xb + (size_t)(3 * batch + batch / 2) * CIFAR_IMAGE_BYTES, (size_t)tm * CIFAR_IMAGE_BYTES * 4) == 0,
          "a shard of a --transform batch is that part of the batch");
    loader_free(b);
    b = NULL;
    cfg.transform = NULL;

    /* Without augmentation and shuffle: file order, augment_image(dy 4, dx 4, no flip), right labels; no drop_last. */
    cfg.shuffle = 0;
    cfg.augment = 0;
    cfg.drop_last = 0;
    CHECK(loader_init(&b, &cfg, &err) == 0, "init: %s", err.msg);
    CHECK(loader_batches(b) == 8, "batches without drop_last: %d", loader_batches(b));
    CHECK(run_epoch(b, 0, 0, xb, yb, batch, &seen) == 0 && seen == n, "plain epoch: %d images", seen);
    int plain_ok = 1;
    float one[3072];
    for (int k = 0; k < n && plain_ok; k++) {
        augment_image(one, s.pixels + (size_t)k * CIFAR_IMAGE_BYTES, 3, 32, 32, &cifar10_norm, 4, 4, 0);
        plain_ok = memcmp(one, xb + (size_t)k * CIFAR_IMAGE_BYTES, sizeof one) == 0 && yb[k] == s.labels[k];
        if (!plain_ok) fprintf(stderr, "  plain image %d differs\n", k);
    }
    CHECK(plain_ok, "no-shuffle, no-augment batches are augment_image(dy 4, dx 4, no flip) in file order");
    loader_free(b);
    b = NULL;

    /* Shuffle without augmentation: every image exactly once, with its label. */
    cfg.shuffle = 1;
    CHECK(loader_init(&b, &cfg, &err) == 0, "init: %s", err.msg);
    CHECK(run_epoch(b, 2, 0, xb, yb, batch, &seen) == 0 && seen == n, "shuffled epoch: %d", seen);
    int *count = calloc((size_t)n, sizeof(int));
    int once = 1, labels_ok = 1, moved = 0;
    for (int k = 0; k < n; k++) {
        int id = marker_id(xb + (size_t)k * CIFAR_IMAGE_BYTES);
        if (id < 0 || id >= n) { once = 0; break; }
        count[id]++;
        moved += id != k;
        labels_ok = labels_ok && yb[k] == s.labels[id];
    }
    for (int k = 0; k < n && once; k++) once = count[k] == 1;
    CHECK(once, "every image exactly once in a shuffled epoch");
    CHECK(labels_ok, "labels travel with their images");
    CHECK(moved > n / 2, "the order is shuffled (%d of %d moved)", moved, n);
    free(count);

    /* Free mid-epoch, with the worker running ahead. */
    CHECK(loader_start_epoch(b, 0, 0, &err) == 0 && loader_next(b) != NULL, "mid-epoch");
    loader_free(b);
    loader_free(NULL);
    loader_free(a);

    /* Bad configurations name what is wrong. */
    loader *bad = NULL;
    cfg.batch = 0;
    CHECK(loader_init(&bad, &cfg, &err) == -1 && contains(err.msg, "--batch") && bad == NULL, "batch 0: %s", err.msg);
    cfg.batch = 1001;
    cfg.drop_last = 1;
    CHECK(loader_init(&bad, &cfg, &err) == -1 && contains(err.msg, "--batch 1001"), "batch > n: %s", err.msg);
    cfg.drop_last = 0;
    CHECK(loader_init(&bad, &cfg, &err) == 0 && loader_batches(bad) == 1, "one short batch without drop_last");
    CHECK(loader_start_epoch(bad, 0, 2, &err) == -1 && contains(err.msg, "first batch 2"), "first batch past end");
    CHECK(loader_start_epoch(bad, -1, 0, &err) == -1, "negative epoch");
    CHECK(loader_start_epoch(bad, 0, 0, &err) == 0, "start");
    const loader_batch *lb = loader_next(bad);
    CHECK(lb && lb->n == n && loader_next(bad) == NULL, "one batch of %d", lb ? lb->n : -1);
    loader_free(bad);

    free(xa); free(xb); free(xr); free(ya); free(yb); free(yr); free(perm);
    data_split_free(&s);
}

/* Full-size counts: 50,000 / 128 with drop_last and 10,000 / 128 without. */
static void test_loader_full(void) {
    lr_error err = {{0}};
    data_split train, test;
    CHECK(load(&train, &test, dir, 0, 0, &err) == 0, "load: %s", err.msg);
    if (train.n == 0) return;
    loader_config tc = {.split = &train, .norm = cifar10_norm, .batch = 128, .drop_last = 1, .shuffle = 1, .augment = 1, .seed = 0};
    loader_config ec = {.split = &test, .norm = cifar10_norm, .batch = 128, .drop_last = 0, .shuffle = 0, .augment = 0, .seed = 0};
    loader *lt = NULL, *le = NULL;
    CHECK(loader_init(&lt, &tc, &err) == 0 && loader_init(&le, &ec, &err) == 0, "init: %s", err.msg);
    if (lt && le) {
        CHECK(loader_batches(lt) == 390, "train batches %d", loader_batches(lt));
        CHECK(loader_batches(le) == 79, "test batches %d", loader_batches(le));
        CHECK(loader_start_epoch(lt, 0, 0, &err) == 0 && loader_start_epoch(le, 0, 0, &err) == 0, "start");
        int nt = 0, ne = 0, last = -1, ordered = 1, labelled = 1;
        const loader_batch *b;
        while ((b = loader_next(lt))) nt += b->n;
        while ((b = loader_next(le))) {
            for (int i = 0; i < b->n; i++) {
                int k = ne + i;
                /* marker pixel 1 (record & 255) survives un-augmented in channel 0 */
                ordered = ordered && b->x[(size_t)i * CIFAR_IMAGE_BYTES + 1] == augment_value(&cifar10_norm, 0, (uint8_t)(k & 255));
                labelled = labelled && b->y[i] == test.labels[k];
            }
            ne += b->n;
            last = b->n;
        }
        CHECK(nt == 390 * 128, "train images per epoch %d", nt);
        CHECK(ne == 10000 && last == 16, "test images %d, last batch %d", ne, last);
        CHECK(ordered && labelled, "test batches in file order with their labels");
    }
    loader_free(lt);
    loader_free(le);
    data_split_free(&train);
    data_split_free(&test);
}

/* AlternatingFlip (airbench94's flip): every image flipped at random once,
 * fixed from epoch 0, then the whole set flipped on odd epochs; a pure
 * function of (seed, epoch, image). */
static void test_alternating_flip(void) {
    data_transform tf, none, bad;
    lr_error err;
    CHECK(transform_parse(&tf, "Compose([AlternatingFlip()])", &err) == 0, "AlternatingFlip: %s", err.msg);
    CHECK(transform_parse(&none, "Compose([ToTensor()])", &err) == 0, "ToTensor: %s", err.msg);
    CHECK(transform_parse(&bad, "AlternatingFlip(0.5)", &err) != 0 && strstr(err.msg, "too many positional"),
          "AlternatingFlip takes no argument: %s", err.msg);
    data_norm nm = {{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
    enum { N = 400, C = 3, H = 4, W = 5 };
    static uint8_t img[C * H * W];
    for (int i = 0; i < C * H * W; i++) img[i] = (uint8_t)(i * 7 + 3);
    float plain[C * H * W], mirrored[C * H * W], x[C * H * W], scratch[C * H * W];
    transform_image(plain, scratch, img, C, H, W, &none, &nm, 9, 0, 0, NULL);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int i = 0; i < W; i++) mirrored[(c * H + y) * W + i] = plain[(c * H + y) * W + (W - 1 - i)];
    int base_flips = 0, ok = 1, other_seed_differs = 0;
    for (int k = 0; k < N; k++) {
        int first = -1;
        for (int e = 0; e < 5; e++) {
            tf_draw d[TF_MAX_STEPS];
            transform_image(x, scratch, img, C, H, W, &tf, &nm, 9, e, k, d);
            int flipped = d[0].applied;
            ok &= !memcmp(x, flipped ? mirrored : plain, sizeof x);
            if (e == 0) first = flipped, base_flips += flipped;
            ok &= flipped == (first ^ (e & 1));
        }
        tf_draw d[TF_MAX_STEPS];
        transform_image(x, scratch, img, C, H, W, &tf, &nm, 10, 0, k, d);
        other_seed_differs += d[0].applied != first;
    }
    CHECK(ok, "AlternatingFlip: the image as it is or mirrored, the choice of epoch 0 kept on even epochs and "
              "reversed on odd ones");
    CHECK(base_flips > N * 2 / 5 && base_flips < N * 3 / 5, "AlternatingFlip: %d of %d images flipped at epoch 0",
          base_flips, N);
    CHECK(other_seed_differs > N / 4, "AlternatingFlip: another seed, other flips (%d of %d differ)",
          other_seed_differs, N);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/lrlab_test_data_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot make a temp dir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    filebuf = malloc(FILE_BYTES);
    if (!filebuf) return 1;
    test_augment();
    test_alternating_flip();
    test_images();
    test_loader_small();
    test_files();
    test_class_names();
    test_loader_full();
    for (int f = 0; f < 6; f++) {
        char path[4200];
        path_of(path, sizeof path, file_name(f));
        remove(path);
    }
    rmdir(dir);
    free(filebuf);
    return test_summary("test_data");
}
