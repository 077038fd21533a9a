/* lrlab/data.h: a data set in memory, one loader per file format, the
 * seed's augmentation, and the background batch loader.
 *
 * What it is: a dataset (its images' shape, classes and their names, the
 * normalisation, and train/test splits of uint8 CHW pixels: never float, 184
 * MB for CIFAR-10), loaded and validated from the files of one format
 * (src/data/<format>.c, chosen by name through one table in dataset.c); a
 * hold-out split; the per-image transform of the seed (RandomCrop(size,
 * padding=4), RandomHorizontalFlip, ToTensor, Normalize;
 * ../shared/docs/SEMANTICS.md "Data and augmentation"), and a loader whose
 * thread prepares normalised NCHW float batches ahead of the trainer.
 * What it is not: any knowledge of flags, the model, or the console.
 * Everything is a pure function of its inputs and the seed: a batch's bytes
 * depend only on (split, config, epoch, batch index). */
#ifndef LRLAB_DATA_H
#define LRLAB_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "lrlab/common.h"

#define DATA_MAX_CLASSES 256 /* labels are bytes */
#define DATA_MAX_CHANNELS 3
#define DATA_NAME_BYTES 32   /* a class name, with its NUL */

typedef struct {
    int n;             /* images */
    int c, h, w;       /* every image's shape */
    uint8_t *labels;   /* n, owned */
    uint8_t *pixels;   /* n * c * h * w, CHW uint8, owned */
} data_split;

/* torchvision Normalize's arguments, per channel (float32, as torch holds them). */
typedef struct {
    float mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS];
} data_norm;

typedef struct {
    char format[16];   /* cifar10 | ... (dataset_formats) */
    char path[1024];   /* where it was read */
    int c, h, w;       /* the images' shape */
    int classes;
    char names[DATA_MAX_CLASSES][DATA_NAME_BYTES]; /* class names, in label order */
    data_norm norm;    /* the format's constants, or --normalize's */
    data_split train, test; /* train is empty when not asked for */
} dataset;

typedef struct {
    const char *format;      /* a name of dataset_formats(); NULL or "": cifar10 */
    const char *path;        /* the format's files; NULL or "": dataset_default_path */
    int train;               /* 0: the test split only (evaluating weights needs nothing else) */
    long limit_train, limit_test; /* keep only the first N images in file order (<= 0: all); more than there
                                     are is an error naming --limit-train / --limit-test */
    int coarse;              /* cifar100: the 20 coarse labels (--labels coarse), else the 100 fine ones */
    int resize_h, resize_w;  /* folder: resize every image to h x w (PIL's bilinear); 0: refuse other sizes */
    const char *normalize;   /* NULL or "": the format's constants; else data_parse_norm's text, 2 or 2 x channels numbers */
} data_options;

/* --resize "H,W": two integers 1..4096. */
int data_parse_resize(const char *s, int *h, int *w, const char *origin, lr_error *err);
/* --normalize: the means then the stds, numbers separated by commas, with
 * torchvision's brackets allowed ("(0.49, 0.48, 0.45), (0.2, 0.2, 0.2)"); *n
 * numbers (2, 4 or 6) into nm (mean[0..n/2), std[0..n/2)), each std > 0.
 * Float32 of the decimal's double, as torch.as_tensor does. */
int data_parse_norm(const char *s, data_norm *nm, int *n, const char *origin, lr_error *err);

/* Loads and validates a data set. Every file is checked in full even when
 * limited; a message names the file and what is wrong, and a missing
 * directory says how to get the data. On failure d is left empty (free it
 * or not: dataset_free accepts it). */
int dataset_load(dataset *d, const data_options *o, lr_error *err);
/* Frees and zeroes; accepts a zeroed or half-built dataset. */
void dataset_free(dataset *d);

/* The formats' names, NULL-terminated ("cifar10", ...). */
const char *const *dataset_formats(void);
/* The format's default files when --data is not given (cifar10:
 * $CIFAR10_DIR or data/cifar-10-batches-bin); NULL for an unknown format. */
const char *dataset_default_path(const char *format);
/* Cheap look at the files before a run (a sweep's check, the schedule's
 * rehearsal): 0 with *n_train the training images there are, or -1 with a
 * message naming the missing file; *n_train is then what the format
 * normally holds, or 0 when that is unknown. */
int dataset_probe(const char *format, const char *path, long *n_train, lr_error *err);

/* The data's shape and classes against a model's: 0, or -1 with a message
 * naming both (`model` is its name, for the message). */
int dataset_check_model(const dataset *d, const char *model, int c, int h, int w, int classes, lr_error *err);

/* The mean and standard deviation of x / 255 over every pixel of each
 * channel of s (numpy's mean and std, ddof=0), in double. */
void dataset_channel_stats(const data_split *s, double *mean, double *std);

/* Frees and zeroes a split; accepts a zeroed or half-built one. */
void data_split_free(data_split *s);
/* Allocates n images of c x h x w (labels and pixels zeroed); `what` names it in messages. */
int data_split_alloc(data_split *s, int n, int c, int h, int w, const char *what, lr_error *err);
/* Bytes of one image: c * h * w. */
size_t data_image_bytes(const data_split *s);

/* Moves the last n_val images of train into val (copies; train->n shrinks,
 * its buffers are kept). n_val in 1..train->n-1 (train keeps >= 1 image);
 * n_val == 0 leaves val zeroed and train unchanged. */
int data_split_holdout(data_split *train, data_split *val, int n_val, lr_error *err);

/* ---- helpers the format loaders share (src/data/dataset.c) ---- */

/* Images to keep of `available` under a limit (<= 0: all); an error naming
 * `flag` when the limit is larger. */
int data_keep(long *keep, long limit, long available, const char *flag, const char *path, lr_error *err);
/* Reads class names, one a line, from path into names: exactly `want`
 * non-empty lines (blank lines, trailing spaces and CR ignored), each at most
 * 31 bytes. An absent file leaves names alone and returns 0 when optional. */
int data_read_names(char names[][DATA_NAME_BYTES], int want, const char *path, int optional, lr_error *err);

/* ---- the seed's transform ---- */

/* The seed's CIFAR-10 normalisation constants (torchvision Normalize arguments). */
extern const data_norm cifar10_norm;

/* One image: uint8 CHW (c x h x w) -> float CHW written at out (plane stride
 * h * w). RandomCrop((h, w), padding=4) with zero padding at offset (dy, dx)
 * in 0..8 (dy = dx = 4 is no shift), then a horizontal flip if flip, then
 * ToTensor (x/255 in float32) and Normalize ((x - mean[c]) / std[c] in
 * float32), in torchvision's order and precision, so padded pixels become
 * (0 - mean[c]) / std[c]. Offsets outside 0..8 are clamped. */
void augment_image(float *out, const uint8_t *img, int c, int h, int w, const data_norm *nm, int dy, int dx,
                   int flip);

/* The normalised value of pixel byte v in channel c, exactly as augment_image
 * computes it (for tests and for the trainer's own checks). */
float augment_value(const data_norm *nm, int c, uint8_t v);

/* ---- --transform: a torchvision pipeline (src/data/transform.c, docs/data.md) ---- */

#define TF_MAX_STEPS 16

typedef enum { TF_TO_TENSOR, TF_NORMALIZE, TF_CROP, TF_HFLIP, TF_VFLIP, TF_ERASING, TF_JITTER, TF_ALT_FLIP, TF_KINDS } tf_kind;
enum { TF_PAD_CONSTANT, TF_PAD_EDGE, TF_PAD_REFLECT, TF_PAD_SYMMETRIC };
enum { TF_BRIGHTNESS, TF_CONTRAST, TF_SATURATION, TF_HUE };

/* One transform with its constructor's arguments (torchvision 0.14's defaults). */
typedef struct {
    tf_kind kind;
    int pos, len;       /* its span in the text (0, 0: implied) */
    int stage;          /* what it sees: 0 the uint8 image (before ToTensor), 1 ToTensor's x/255, 2 normalised */
    double p;           /* flips, RandomErasing */
    int size_h, size_w; /* RandomCrop */
    int pad[4];         /* RandomCrop: left, top, right, bottom */
    int pad_mode, pad_if_needed;
    int n_fill;         /* 1 or the channels */
    double fill[DATA_MAX_CHANNELS];
    double scale[2], ratio[2]; /* RandomErasing */
    int value_random, n_value; /* value='random', else 1 or the channels' numbers */
    double value[DATA_MAX_CHANNELS];
    int jitter_on[4];          /* ColorJitter: brightness, contrast, saturation, hue (off: torchvision's None) */
    double jitter[4][2];       /* each factor's range */
    int n_norm;                /* Normalize: 1 or the channels' numbers; 0 (implied): the data set's */
    float mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS];
} tf_step;

typedef struct {
    int n;
    tf_step step[TF_MAX_STEPS]; /* with ToTensor and Normalize where they are implied */
} data_transform;

/* The random choices of one step for one image (what transform_image drew). */
typedef struct {
    int applied;        /* flips, RandomErasing: 1 when it happened */
    int i, j, h, w;     /* RandomCrop: top, left (h, w: its size); RandomErasing: the box */
    int order[4];       /* ColorJitter: torch.randperm(4) */
    double factor[4];   /* ColorJitter: the factors drawn (float32 values) */
} tf_draw;

/* Parses --transform's text: torchvision's Compose([...]) or a single
 * transform, with the schedules' parser (src/sched/expr.c); errors put a caret
 * under the culprit. ToTensor() is implied before the first transform that
 * needs a tensor (ColorJitter, RandomErasing, Normalize) when not written,
 * and Normalize with the data set's constants at the end when not written. */
int transform_parse(data_transform *t, const char *text, lr_error *err);
/* The pipeline against the images' shape: every step keeps c x h x w (the
 * test images are not cropped), reflect padding smaller than the image,
 * per-channel values of 1 or c numbers. */
int transform_check(const data_transform *t, const char *text, int c, int h, int w, lr_error *err);
/* An explicit Normalize's constants into nm (then used for the test images
 * too); 0 when there is none, nm untouched. */
int transform_norm(const data_transform *t, int c, data_norm *nm);
/* One training image through the pipeline: uint8 CHW in, float CHW out;
 * scratch holds c * h * w floats. The draws come from rng(seed,
 * RNG_STREAM_TRANSFORM, epoch << 32 | index) only, index the image's place
 * in its split; AlternatingFlip (an lrlab extension: airbench's flip) flips
 * when rng(seed, RNG_STREAM_ALT_FLIP, index)'s first uniform is below 0.5,
 * xor the epoch is odd: a random flip fixed at epoch 0, then the whole set
 * flipped on odd epochs. draws (NULL or t->n entries) receives them. */
void transform_image(float *out, float *scratch, const uint8_t *img, int c, int h, int w, const data_transform *t,
                     const data_norm *nm, uint64_t seed, int epoch, int index, tf_draw *draws);

typedef struct {
    const data_split *split; /* borrowed; must outlive the loader */
    const data_transform *transform; /* NULL: the seed's (augment); else this pipeline when augment */
    data_norm norm;
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
    float *x;     /* n * c * h * w, NCHW, owned by the loader, valid until the next loader_next */
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
/* The shape of one image of its batches (channels, height, width). */
void loader_image_shape(const loader *l, int *c, int *h, int *w);

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
 * * c * h * w floats) and y: the reference the loader thread must equal, and
 * a way to get batch b of an epoch without a loader. perm is scratch of
 * split->n ints holding the epoch's order (filled by loader_epoch_order).
 * Returns the number of images (0 when b is past the end): cfg's shard of
 * them; *total (may be NULL) receives the whole batch's. */
int loader_fill_batch(float *x, int *y, const loader_config *cfg, const int *perm, int epoch, int b, int *total);

/* The order of epoch `epoch`: a seeded permutation when cfg->shuffle, else
 * 0..n-1. perm holds split->n ints. */
void loader_epoch_order(int *perm, const loader_config *cfg, int epoch);

#endif
