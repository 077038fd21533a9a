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

#endif
