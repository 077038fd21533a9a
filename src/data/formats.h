/* data/formats.h: the format loaders behind dataset_load (lrlab/data.h),
 * one per file format, each in its own file; dataset.c's table names them.
 * A loader fills d's shape, classes, names, normalisation and splits (train
 * only when o->train) from `path`, checking every file in full, and keeps
 * the first images under o's limits (data_keep). On failure it may leave d
 * half-built: dataset_load frees it. A probe looks at the files cheaply. */
#ifndef LRLAB_DATA_FORMATS_H
#define LRLAB_DATA_FORMATS_H

#include "lrlab/data.h"

int cifar10_load(dataset *d, const data_options *o, const char *path, lr_error *err);
int cifar10_probe(const char *path, long *n_train, lr_error *err);
int cifar100_load(dataset *d, const data_options *o, const char *path, lr_error *err);
int cifar100_probe(const char *path, long *n_train, lr_error *err);
int idx_load(dataset *d, const data_options *o, const char *path, lr_error *err);
int idx_probe(const char *path, long *n_train, lr_error *err);

int folder_load(dataset *d, const data_options *o, const char *path, lr_error *err);
int folder_probe(const char *path, long *n_train, lr_error *err);

/* One decoded image (image.c): h x w x c bytes, interleaved (HWC), c 1 or 3. */
typedef struct {
    int h, w, c;
    uint8_t *px;
} data_image;
/* A PNG or JPEG file, as PIL opens and converts it (image.c says how); a
 * message naming the file when it is neither, or damaged. */
int image_read(data_image *im, const char *path, lr_error *err);
/* In place, to h x w with PIL's bilinear filter (Image.resize((w, h), BILINEAR)). */
int image_resize(data_image *im, int h, int w, const char *path, lr_error *err);
void image_free(data_image *im);

#endif
