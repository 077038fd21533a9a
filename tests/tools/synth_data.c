/* tests/tools/synth_data.c: small synthetic data sets in the formats lrlab
 * reads besides CIFAR-10, with learnable classes (a brightness or colour per
 * class, plus noise), deterministic from the seed:
 *   synth_data cifar100 DIR [seed]   train.bin (600 records), test.bin (200), label names
 *   synth_data idx DIR [seed]        28x28 greyscale, 10 classes: train-* gzip'd, t10k-* plain (600 / 200)
 *   synth_data folder DIR [seed]     train/ and test/ of 3 classes, 12x10 (width x height) PNG
 *                                    (RGB, greyscale, palette) and JPEG files (30 / 9 per class)
 *   synth_data png FILE W H          one RGB PNG of W x H pixels (at most 64 x 64) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

static uint64_t rng_state;
static uint32_t next_u32(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static uint8_t clamp(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static int fail(const char *what) {
    perror(what);
    return 1;
}

static int cifar100(const char *dir) {
    const char *names[2] = {"train.bin", "test.bin"};
    int counts[2] = {600, 200};
    for (int s = 0; s < 2; s++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[s]);
        FILE *f = fopen(path, "wb");
        if (!f) return fail(path);
        for (int i = 0; i < counts[s]; i++) {
            uint8_t rec[3074];
            int fine = (int)(next_u32() % 100);
            rec[0] = (uint8_t)(fine / 5), rec[1] = (uint8_t)fine;
            for (int p = 0; p < 3072; p++) rec[2 + p] = clamp(fine * 2 + (p / 1024) * 30 + (int)(next_u32() % 40));
            if (fwrite(rec, 1, sizeof rec, f) != sizeof rec) return fail(path);
        }
        if (fclose(f)) return fail(path);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/coarse_label_names.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f) return fail(path);
    for (int k = 0; k < 20; k++) fprintf(f, "super%02d\n", k);
    return fclose(f) ? fail(path) : 0;
}

static void be32(uint8_t *p, uint32_t v) { p[0] = v >> 24, p[1] = v >> 16 & 255, p[2] = v >> 8 & 255, p[3] = v & 255; }

static int idx(const char *dir) {
    const char *prefix[2] = {"train", "t10k"};
    int counts[2] = {600, 200};
    for (int s = 0; s < 2; s++) {
        int n = counts[s];
        uint8_t *px = malloc((size_t)n * 784), *lb = malloc((size_t)n);
        if (!px || !lb) return fail("memory");
        for (int i = 0; i < n; i++) {
            lb[i] = (uint8_t)(next_u32() % 10);
            for (int p = 0; p < 784; p++) {
                int y = p / 28, x = p % 28, on = lb[i] < 5 ? (x / 3) % 2 : (y / 3) % 2;
                px[(size_t)i * 784 + p] = clamp(lb[i] * 15 + on * 60 + (int)(next_u32() % 50));
            }
        }
        uint8_t ih[16] = {0, 0, 8, 3}, lh[8] = {0, 0, 8, 1};
        be32(ih + 4, (uint32_t)n), be32(ih + 8, 28), be32(ih + 12, 28), be32(lh + 4, (uint32_t)n);
        char ip[4096], lp[4096];
        const char *ext = s == 0 ? ".gz" : "";
        snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte%s", dir, prefix[s], ext);
        snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte%s", dir, prefix[s], ext);
        gzFile fi = gzopen(ip, s == 0 ? "wb9" : "wbT"), fl = gzopen(lp, s == 0 ? "wb9" : "wbT");
        if (!fi || !fl) return fail(ip);
        if (gzwrite(fi, ih, 16) != 16 || gzwrite(fi, px, (unsigned)n * 784) != n * 784 || gzwrite(fl, lh, 8) != 8 ||
            gzwrite(fl, lb, (unsigned)n) != n)
            return fail(ip);
        if (gzclose(fi) != Z_OK || gzclose(fl) != Z_OK) return fail(ip);
        free(px), free(lb);
    }
    return 0;
}

/* kind 0: RGB PNG, 1: greyscale PNG, 2: palette PNG, 3: JPEG (RGB) */
static int write_image(const char *path, int kind, int label, int w, int h) {
    uint8_t rgb[64 * 64 * 3];
    for (int p = 0; p < w * h; p++)
        for (int c = 0; c < 3; c++) rgb[p * 3 + c] = clamp((c == label ? 150 : 40) + (int)(next_u32() % 60));
    FILE *f = fopen(path, "wb");
    if (!f) return fail(path);
    if (kind == 3) {
        struct jpeg_compress_struct j;
        struct jpeg_error_mgr e;
        j.err = jpeg_std_error(&e);
        jpeg_create_compress(&j);
        jpeg_stdio_dest(&j, f);
        j.image_width = (JDIMENSION)w, j.image_height = (JDIMENSION)h, j.input_components = 3, j.in_color_space = JCS_RGB;
        jpeg_set_defaults(&j);
        jpeg_set_quality(&j, 90, TRUE);
        jpeg_start_compress(&j, TRUE);
        while (j.next_scanline < j.image_height) {
            JSAMPROW row = rgb + (size_t)j.next_scanline * w * 3;
            jpeg_write_scanlines(&j, &row, 1);
        }
        jpeg_finish_compress(&j);
        jpeg_destroy_compress(&j);
        return fclose(f) ? fail(path) : 0;
    }
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) return fail(path);
    png_init_io(p, f);
    int type = kind == 0 ? PNG_COLOR_TYPE_RGB : kind == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_PALETTE;
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_color pal[4];
    if (kind == 2) {
        for (int k = 0; k < 4; k++) pal[k].red = (png_byte)(k * 60), pal[k].green = (png_byte)(k == label ? 200 : 30),
                                    pal[k].blue = (png_byte)(255 - k * 60);
        png_set_PLTE(p, info, pal, 4);
    }
    png_write_info(p, info);
    uint8_t row[64 * 3];
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            const uint8_t *s = rgb + ((size_t)y * w + x) * 3;
            if (kind == 0) memcpy(row + x * 3, s, 3);
            else if (kind == 1) row[x] = s[label];
            else row[x] = (uint8_t)(s[0] % 4);
        }
        png_write_row(p, row);
    }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    return fclose(f) ? fail(path) : 0;
}

static int folder(const char *dir) {
    const char *split[2] = {"train", "test"}, *cls[3] = {"ant", "bee", "cat"};
    int per[2] = {30, 9};
    for (int s = 0; s < 2; s++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, split[s]);
        if (mkdir(path, 0777)) return fail(path);
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, split[s], cls[k]);
            if (mkdir(path, 0777)) return fail(path);
            for (int i = 0; i < per[s]; i++) {
                int kind = i % 4;
                snprintf(path, sizeof path, "%s/%s/%s/img%03d.%s", dir, split[s], cls[k], i, kind == 3 ? "jpg" : "png");
                if (write_image(path, kind, k, 12, 10)) return 1;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: synth_data cifar100|idx|folder DIR [seed]\n");
        return 2;
    }
    if (!strcmp(argv[1], "png") && argc == 5) {
        int w = atoi(argv[3]), h = atoi(argv[4]);
        if (w < 1 || h < 1 || w > 64 || h > 64) return 2;
        return write_image(argv[2], 0, 0, w, h);
    }
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    if (mkdir(argv[2], 0777)) return fail(argv[2]);
    if (!strcmp(argv[1], "cifar100")) return cifar100(argv[2]);
    if (!strcmp(argv[1], "idx")) return idx(argv[2]);
    if (!strcmp(argv[1], "folder")) return folder(argv[2]);
    fprintf(stderr, "synth_data: unknown format '%s'\n", argv[1]);
    return 2;
}
