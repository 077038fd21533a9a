/* lrlab/io.h: the model's weights and the training checkpoint as files.
 *
 * Both are safetensors (lrlab/safetensors.h; docs/file-formats.md), written
 * atomically. Weights: the model's state_dict, each tensor with PyTorch's
 * name, shape and dtype ("conv1.weight" F32 [32,3,3,3], BatchNorm's
 * "bn1.running_mean" F32 and "bn1.num_batches_tracked" I64 []), nothing
 * else, so that equal weights give identical files and torch's
 * load_state_dict(strict=True) takes them. A checkpoint adds the optimiser's
 * state, the schedule's state, the position in the run, and the config and
 * metrics so far as metadata, under a format name and version that the
 * loader checks. `buffers` (model_spec.n_buffers floats) may be NULL for a
 * model without any. */
#ifndef LRLAB_IO_H
#define LRLAB_IO_H

#include "lrlab/atomic.h" /* write_file_atomic */
#include "lrlab/average.h"
#include "lrlab/common.h"
#include "lrlab/model.h"
#include "lrlab/optim.h"

int weights_save(const char *path, const model_spec *m, const float *params, const float *buffers, lr_error *err);
/* Every tensor of m must be present with its exact shape and dtype;
 * extra tensors are an error too (a file for another model). A PyTorch
 * file (torch.save) is an error that says how to convert it. */
int weights_load(const char *path, const model_spec *m, float *params, float *buffers, lr_error *err);
/* The same, or a checkpoint's (below) weights after all of its checks
 * (lrlab eval of a run that is not finished). */
int weights_load_any(const char *path, const model_spec *m, float *params, float *buffers, lr_error *err);

#define CKPT_FORMAT "lrlab-checkpoint"
#define CKPT_VERSION 2 /* 1: SGD only (optimizer.momentum_buffer); still read */
#define CKPT_SCHED_MAX 4096

/* Where a run stands: the next epoch and batch to run, and the partial sums
 * of the epoch in progress (a checkpoint written mid-epoch on SIGINT). */
typedef struct {
    long epoch, batch, step; /* next epoch, next batch in it, optimiser steps done */
    double loss_sum;         /* this epoch so far: sum of batch-mean losses */
    long correct, seen, batches;
    double seconds;          /* training seconds of this epoch so far */
    double epoch_lr, epoch_momentum; /* the schedule's values when this epoch began (its
                                        metrics row); NaN from a checkpoint that predates them */
    double grad_norm_sum;            /* this epoch so far: sum of the steps' gradient norms before
                                        clipping; NaN from a checkpoint that predates it */
} train_state;

typedef struct {
    train_state state;
    double sched[CKPT_SCHED_MAX];
    int n_sched;
    char *config_text;  /* owned (malloc) */
    char *metrics_text; /* owned (malloc): metrics.csv as of the checkpoint */
} ckpt_extra;

/* The optimiser's state: its tensors as "optimizer.NAME" (F32, n_params),
 * its scalars as "optimizer.scalars" (F64), its kind as the metadata key
 * "optimizer" (lrlab/optim.h). */
int ckpt_save(const char *path, const model_spec *m, const float *params, const float *buffers,
              const optim_state *o, const ckpt_extra *x, lr_error *err);
/* Fills params (n_params), buffers (n_buffers), the state of o (made by
 * optim_state_init with the run's optimiser, which the checkpoint's must
 * be) and x; x's strings must be freed with ckpt_extra_free. Everything is
 * validated before use: format and version (1: SGD's momentum buffer, read
 * as an SGD state), every tensor's name, dtype and shape against m and the
 * optimiser, the training state (whole, non-negative numbers in range), the
 * schedule state's size. On failure params and o may be partly
 * overwritten, x holds nothing to free, and err names the file and what is
 * wrong. */
int ckpt_load(const char *path, const model_spec *m, float *params, float *buffers, optim_state *o,
              ckpt_extra *x, lr_error *err);
/* The same from an in-memory image of the file (the fuzz target's entry);
 * takes ownership of buf (malloc'd) in every case. */
int ckpt_parse(unsigned char *buf, size_t size, const char *name, const model_spec *m, float *params,
               float *buffers, optim_state *o, ckpt_extra *x, lr_error *err);
void ckpt_extra_free(ckpt_extra *x);

/* ckpt_save and ckpt_load with the run's averages of the weights
 * (lrlab/average.h): each copy as "average.NAME" (F32, as
 * avg_state_tensors names it), SWA's n_averaged as
 * "average.swa.n_averaged" (I64 []). A run without averages writes the
 * same file as ckpt_save; loading wants exactly the averages avg keeps
 * (ckpt_load and ckpt_parse skip any: eval of a run's checkpoint). */
int ckpt_save_avg(const char *path, const model_spec *m, const float *params, const float *buffers,
                  const optim_state *o, const avg_state *avg, const ckpt_extra *x, lr_error *err);
int ckpt_load_avg(const char *path, const model_spec *m, float *params, float *buffers, optim_state *o,
                  avg_state *avg, ckpt_extra *x, lr_error *err);


/* mkdir -p: path and its missing parents; an existing directory is fine.
 * Messages read "WHAT PATH: cannot create ..." (what: "--out"). */
int make_dirs(const char *path, const char *what, lr_error *err);
/* What make_dirs(path) would create: the first of path's directories that
 * does not exist (path itself when only it is missing), or "" when path exists. */
void dirs_missing_top(const char *path, char *out, size_t cap);
/* Undoes make_dirs for a run that wrote nothing: removes path/.lock, then
 * path and its parents up to top (rmdir: a directory that is not empty stays). */
void remove_empty_dirs(const char *path, const char *top);

#endif
