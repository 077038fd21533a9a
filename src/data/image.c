/* image.c: one PNG or JPEG file decoded to 8-bit pixels as PIL opens it and
 * converts it (torchvision's ImageFolder loader: Image.open(f).convert("RGB")),
 * and PIL's bilinear resize (torchvision's Resize on a PIL image).
 * Decoding: libpng and libjpeg(-turbo), the libraries PIL itself uses.
 * PNG: palette -> RGB, 1/2/4-bit grey scaled to 8 bits, alpha dropped (PIL's
 * RGBA -> RGB drops it, it does not composite), 16-bit samples reduced to
 * their high byte (PIL's RGB;16B), the gAMA chunk ignored (as PIL does).
 * JPEG: the library's defaults (islow DCT, fancy upsampling), as PIL; a
 * warning of the decoder (a truncated or damaged file) is an error, as in
 * PIL without LOAD_TRUNCATED_IMAGES. CMYK JPEGs are refused.
 * Resize: PIL's ImagingResample with the bilinear filter (Resample.c): a
 * triangle of support max(1, scale), coefficients normalised then fixed
 * point with 22 fraction bits, horizontal pass (rounded to bytes) then
 * vertical. Not here: the folder walk (folder.c). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */
#include <png.h>

#include "data/formats.h"

#define IMAGE_MAX_SIDE 16384

void image_free(data_image *im) {
    free(im->px);
    memset(im, 0, sizeof *im);
}

static int image_alloc(data_image *im, int h, int w, int c, const char *path, lr_error *err) {
    if (h < 1 || w < 1 || h > IMAGE_MAX_SIDE || w > IMAGE_MAX_SIDE)
        return lr_fail(err, "%s: %dx%d pixels (expected 1..%d on each side)", path, w, h, IMAGE_MAX_SIDE);
    im->h = h, im->w = w, im->c = c;
    im->px = lr_calloc((size_t)h * w, (size_t)c, path, err);
    return im->px ? 0 : -1;
}

/* ---- PNG ---- */

typedef struct {
    jmp_buf jmp;
    char msg[200];
} png_failure;

static void png_on_error(png_structp p, png_const_charp msg) {
    png_failure *f = png_get_error_ptr(p);
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    longjmp(f->jmp, 1);
}
static void png_on_warning(png_structp p, png_const_charp msg) { (void)p, (void)msg; }

static int read_png(data_image *im, FILE *file, const char *path, lr_error *err) {
    png_failure fail = {.msg = ""};
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &fail, png_on_error, png_on_warning);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    png_bytep *volatile rows = NULL; /* set after setjmp and freed after a longjmp: volatile (C11 7.13.2.1) */
    if (!info) {
        png_destroy_read_struct(&p, NULL, NULL);
        return lr_fail(err, "%s: out of memory for the PNG decoder", path);
    }
    if (setjmp(fail.jmp)) {
        free(rows);
        png_destroy_read_struct(&p, &info, NULL);
        image_free(im);
        return lr_fail(err, "%s: damaged PNG: %s", path, fail.msg);
    }
    png_init_io(p, file);
    png_read_info(p, info);
    int type = png_get_color_type(p, info), depth = png_get_bit_depth(p, info);
    int w = (int)png_get_image_width(p, info), h = (int)png_get_image_height(p, info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(p);
    if (depth == 16) png_set_strip_16(p);
    if (type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(p);
    png_set_interlace_handling(p);
    png_read_update_info(p, info);
    int c = png_get_channels(p, info);
    if (c != 1 && c != 3) png_error(p, "unexpected channel count after conversion");
    if (image_alloc(im, h, w, c, path, err)) {
        png_destroy_read_struct(&p, &info, NULL);
        return -1;
    }
    if (!(rows = malloc((size_t)h * sizeof *rows))) png_error(p, "out of memory");
    for (int y = 0; y < h; y++) rows[y] = im->px + (size_t)y * w * c;
    png_read_image(p, rows);
    png_read_end(p, NULL);
    free(rows);
    png_destroy_read_struct(&p, &info, NULL);
    return 0;
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
} jpeg_failure;

static void jpeg_on_error(j_common_ptr j) { longjmp(((jpeg_failure *)j->err)->jmp, 1); }
/* A warning (level -1: corrupt data, premature end) fails the read, as PIL's decoder does. */
static void jpeg_on_message(j_common_ptr j, int level) {
    if (level < 0) longjmp(((jpeg_failure *)j->err)->jmp, 1);
}

static int read_jpeg(data_image *im, FILE *file, const char *path, lr_error *err) {
    struct jpeg_decompress_struct j;
    jpeg_failure fail;
    j.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = jpeg_on_error;
    fail.mgr.emit_message = jpeg_on_message;
    if (setjmp(fail.jmp)) {
        char msg[JMSG_LENGTH_MAX];
        fail.mgr.format_message((j_common_ptr)&j, msg);
        jpeg_destroy_decompress(&j);
        image_free(im);
        return lr_fail(err, "%s: damaged JPEG: %s", path, msg);
    }
    jpeg_create_decompress(&j);
    jpeg_stdio_src(&j, file);
    jpeg_read_header(&j, TRUE);
    if (j.num_components != 1 && j.num_components != 3) {
        int n = j.num_components;
        jpeg_destroy_decompress(&j);
        return lr_fail(err, "%s: a JPEG of %d components (CMYK?): expected greyscale or colour", path, n);
    }
    j.out_color_space = j.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&j);
    if (image_alloc(im, (int)j.output_height, (int)j.output_width, j.output_components, path, err)) {
        jpeg_destroy_decompress(&j);
        return -1;
    }
    while (j.output_scanline < j.output_height) {
        JSAMPROW row = im->px + (size_t)j.output_scanline * im->w * im->c;
        jpeg_read_scanlines(&j, &row, 1);
    }
    jpeg_finish_decompress(&j);
    jpeg_destroy_decompress(&j);
    return 0;
}

int image_read(data_image *im, const char *path, lr_error *err) {
    memset(im, 0, sizeof *im);
    FILE *f = fopen(path, "rb");
    if (!f) return lr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    uint8_t sig[8] = {0};
    size_t got = fread(sig, 1, sizeof sig, f);
    rewind(f);
    int rc;
    if (got == 8 && !png_sig_cmp(sig, 0, 8)) rc = read_png(im, f, path, err);
    else if (got >= 3 && sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff) rc = read_jpeg(im, f, path, err);
    else rc = lr_fail(err, "%s: neither a PNG nor a JPEG (%zu bytes; its first bytes are not a PNG or JPEG signature)",
                      path, got);
    fclose(f);
    return rc;
}

/* ---- PIL's bilinear resize ---- */

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* PIL's precompute_coeffs + normalize_coeffs_8bpc: for each output index, the
 * first input index (bounds[2i]), the count (bounds[2i+1]) and ksize fixed-point weights. */
static int resize_coeffs(int in_size, int out_size, int *bounds, int **kk_out, int *ksize_out, lr_error *err) {
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *pre = lr_calloc((size_t)out_size * ksize, sizeof(double), "resize weights", err);
    int *kk = pre ? lr_calloc((size_t)out_size * ksize, sizeof(int), "resize weights", err) : NULL;
    if (!kk) return free(pre), -1;
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = pre + (size_t)xx * ksize;
        for (int x = 0; x < xmax; x++) {
            double w = bilinear((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? k[x] : 0.0;
            kk[(size_t)xx * ksize + x] = (int)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        bounds[xx * 2] = xmin, bounds[xx * 2 + 1] = xmax;
    }
    free(pre);
    *kk_out = kk, *ksize_out = ksize;
    return 0;
}

static uint8_t clip8(int v) {
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* One pass along rows (horizontal) or columns: out is oh x ow x c. */
static void resize_pass(uint8_t *out, const uint8_t *in, int ih, int iw, int oh, int ow, int c, int horizontal,
                        const int *bounds, const int *kk, int ksize) {
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int i = horizontal ? x : y;
            const int *k = kk + (size_t)i * ksize;
            int first = bounds[i * 2], count = bounds[i * 2 + 1];
            for (int ch = 0; ch < c; ch++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int t = 0; t < count; t++) {
                    int sy = horizontal ? y : first + t, sx = horizontal ? first + t : x;
                    ss += in[((size_t)sy * iw + sx) * c + ch] * k[t];
                }
                out[((size_t)y * ow + x) * c + ch] = clip8(ss);
            }
        }
    (void)ih;
}

int image_resize(data_image *im, int h, int w, const char *path, lr_error *err) {
    if (im->h == h && im->w == w) return 0;
    data_image tmp = {0}, out = {0};
    int *bx = lr_calloc((size_t)w * 2, sizeof(int), "resize", err), *by = lr_calloc((size_t)h * 2, sizeof(int), "resize", err);
    int *kx = NULL, *ky = NULL, ksx = 0, ksy = 0, rc = -1;
    if (!bx || !by) goto done;
    const data_image *src = im;
    if (im->w != w) { /* PIL: the horizontal pass first, then the vertical */
        if (resize_coeffs(im->w, w, bx, &kx, &ksx, err) || image_alloc(&tmp, im->h, w, im->c, path, err)) goto done;
        resize_pass(tmp.px, im->px, im->h, im->w, im->h, w, im->c, 1, bx, kx, ksx);
        src = &tmp;
    }
    if (im->h != h) {
        if (resize_coeffs(src->h, h, by, &ky, &ksy, err) || image_alloc(&out, h, w, im->c, path, err)) goto done;
        resize_pass(out.px, src->px, src->h, src->w, h, w, im->c, 0, by, ky, ksy);
        image_free(&tmp);
    } else {
        out = tmp;
        tmp.px = NULL;
    }
    image_free(im);
    *im = out;
    rc = 0;
done:
    if (rc) image_free(&out);
    image_free(&tmp);
    free(bx), free(by), free(kx), free(ky);
    return rc;
}
