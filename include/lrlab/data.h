/* lrlab/data.h: CIFAR-10 in memory, the seed's augmentation, and the
 * background batch loader.
 *
 * What it is: loading and validating the official CIFAR-10 binary files into
 * uint8 arrays (never float: 184 MB for the whole set), a hold-out split,
 * class names, the per-image transform of the seed (RandomCrop(32, padding=4),
 * RandomHorizontalFlip, ToTensor, Normalize; ../shared/docs/SEMANTICS.md
 * "Data and augmentation"), and a loader whose thread prepares normalised
 * NCHW float batches ahead of the trainer.
 * What it is not: any knowledge of flags, files other than CIFAR-10, the
 * model, or the console. Everything is a pure function of its inputs and the
 * seed: a batch's bytes depend only on (split, config, epoch, batch index). */
#ifndef LRLAB_DATA_H
#define LRLAB_DATA_H

#include <stdint.h>

#include "lrlab/common.h"

#define CIFAR_H 32
#define CIFAR_W 32
#define CIFAR_C 3
#define CIFAR_IMAGE_BYTES 3072
#define CIFAR_RECORD_BYTES 3073
#define CIFAR_FILE_RECORDS 10000
#define CIFAR_CLASSES 10
#define CIFAR_TRAIN_FILES 5

typedef struct {
    int n;             /* images */
    uint8_t *labels;   /* n, owned */
    uint8_t *pixels;   /* n * 3072, CHW uint8 as in the files, owned */
} cifar_split;

/* Loads data_batch_1..5.bin and test_batch.bin from dir. Every file is
 * validated even when limited: present, a regular file, exactly 30,730,000
 * bytes, every label in 0..9; the message names the file and what is wrong.
 * A missing dir says how to get the data (`make data`).
 * limit_train/limit_test: keep only the first N images in file order (<= 0:
 * all); N larger than available is an error naming the flag
 * (--limit-train / --limit-test). On failure both splits are left zeroed.
 * train NULL: test_batch.bin only (evaluating weights needs nothing else). */
int cifar_load(cifar_split *train, cifar_split *test, const char *dir, long limit_train,
               long limit_test, lr_error *err);

/* Frees and zeroes; accepts a zeroed or half-built split. */
void cifar_split_free(cifar_split *s);

/* Moves the last n_val images of train into val (copies; train->n shrinks,
 * its buffers are kept). n_val in 1..train->n-1 (train keeps >= 1 image);
 * n_val == 0 leaves val zeroed and train unchanged. */
int cifar_split_holdout(cifar_split *train, cifar_split *val, int n_val, lr_error *err);

/* Class names from dir/batches.meta.txt (10 non-empty lines, each at most 31
 * bytes; blank lines, trailing spaces and CR are ignored). Falls back to the
 * standard names with no error when the file is absent; an error when it is
 * present but malformed or unreadable. */
int cifar_class_names(char names[10][32], const char *dir, lr_error *err);

/* The seed's normalisation constants (torchvision Normalize arguments). */
extern const float cifar_mean[3];
extern const float cifar_std[3];

/* One image: uint8 CHW -> float CHW written at out (3*32*32 floats, plane
 * stride 1024). RandomCrop(32, padding=4) with zero padding at offset
 * (dy, dx) in 0..8 (dy = dx = 4 is no shift), then a horizontal flip if flip,
 * then ToTensor (x/255 in float32) and Normalize ((x - mean[c]) / std[c] in
 * float32), in torchvision's order and precision, so padded pixels become
 * (0 - mean[c]) / std[c]. Offsets outside 0..8 are clamped. */
void augment_image(float *out, const uint8_t *img, int dy, int dx, int flip);

/* The normalised value of pixel byte v in channel c, exactly as augment_image
 * computes it (for tests and for the trainer's own checks). */
float augment_value(int c, uint8_t v);

typedef struct {
    const cifar_split *split; /* borrowed; must outlive the loader */
    int batch;        /* >= 1 */
    int drop_last;    /* training: 1 (390 batches of 128 from 50,000); test: 0 (last batch smaller) */
    int shuffle;      /* fresh permutation every epoch: rng_init(&r, seed, RNG_STREAM_ORDER, epoch); rng_permutation */
    int augment;      /* crop+flip; per batch rng_init(&r, seed, RNG_STREAM_AUGMENT, epoch * 1000003 + b);
                         for each image in batch order: dy = rng_below(&r, 9), dx = rng_below(&r, 9), flip = rng_below(&r, 2) */
    uint64_t seed;
    int shard, shards; /* data-parallel ranks (shards 0 or 1: the whole batch): this loader hands out only
                          images [lo, hi) of every batch of `batch`, lo = n * shard / shards, hi = n *
                          (shard + 1) / shards for a batch of n; the order and augmentation streams are the
                          whole batch's, so the shards of all ranks together are the one-process batch */
} loader_config;

typedef struct {
    float *x;     /* n * 3 * 32 * 32, NCHW, owned by the loader, valid until the next loader_next */
    int *y;       /* n labels */
    int n;        /* images in this batch (this shard's share) */
    int total;    /* images in the whole batch, all shards */
    int index;    /* batch index within the epoch */
} loader_batch;

typedef struct loader loader; /* opaque */

/* Allocates every buffer (a ring of 3 batches, the permutation) and starts
 * the worker thread, which idles until loader_start_epoch. */
int loader_init(loader **out, const loader_config *cfg, lr_error *err);

/* Batches per epoch: n / batch with drop_last, ceil(n / batch) without. */
int loader_batches(const loader *l);

/* Starts epoch `epoch` (>= 0) at batch first_batch (0..loader_batches(); for
 * resume): the worker prepares batches into the ring ahead of the consumer.
 * May be called at any time, also mid-epoch: the previous epoch is dropped
 * and any batch held from it becomes invalid. */
int loader_start_epoch(loader *l, int epoch, int first_batch, lr_error *err);

/* Blocks until the next batch is ready; NULL at the end of the epoch (or
 * before any epoch was started). The batch stays valid until the next call
 * to loader_next, loader_start_epoch or loader_free. */
const loader_batch *loader_next(loader *l);

/* Stops the thread and frees everything; accepts NULL and a loader mid-epoch. */
void loader_free(loader *l);

/* The same batch computed synchronously on the calling thread, into x (batch
 * * 3072 floats) and y: the reference the loader thread must equal, and a
 * way to get batch b of an epoch without a loader. perm is scratch of
 * split->n ints holding the epoch's order (filled by loader_epoch_order).
 * Returns the number of images (0 when b is past the end): cfg's shard of
 * them; *total (may be NULL) receives the whole batch's. */
int loader_fill_batch(float *x, int *y, const loader_config *cfg, const int *perm, int epoch, int b, int *total);

/* The order of epoch `epoch`: a seeded permutation when cfg->shuffle, else
 * 0..n-1. perm holds split->n ints. */
void loader_epoch_order(int *perm, const loader_config *cfg, int epoch);

#endif
