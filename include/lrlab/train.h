/* lrlab/train.h: the training run: data, model, schedule and optimiser
 * wired into the epoch/step loop, with a run directory (config.txt,
 * metrics.csv, steps.csv, checkpoint.safetensors, model.safetensors).
 *
 * Canonical PyTorch loop: epoch e trains at lr(e), then the schedule steps
 * (per optimiser step with --sched-unit step). After every epoch a
 * checkpoint is written atomically; a stop request (SIGINT/SIGTERM in the
 * CLI) checkpoints after the current step. Resume continues bit for bit. */
#ifndef LRLAB_TRAIN_H
#define LRLAB_TRAIN_H

#include <signal.h>
#include <stdio.h>

#include "lrlab/config.h"

enum { TRAIN_OK = 0, TRAIN_ERROR = 1, TRAIN_BAD_SCHED = 2, TRAIN_DIVERGED = 3, TRAIN_STOPPED = 4,
       TRAIN_PEER_FAILED = 5 /* data-parallel: another rank failed to set up and says why */ };

typedef struct {
    FILE *log;                          /* one line per epoch (stdout); NULL: quiet */
    int progress;                       /* live progress bar on stderr */
    const char *const *model_search;    /* directories holding models/ descriptions */
    volatile sig_atomic_t *stop;        /* set asynchronously: checkpoint and return TRAIN_STOPPED */
    int resume;                         /* cfg->out is an existing run to continue */
    long stop_at_step;                  /* > 0: checkpoint and return TRAIN_STOPPED once this many
                                           optimiser steps of the run are done (--stop-at-step) */
    long stop_at_epoch;                 /* > 0: return TRAIN_STOPPED once this many epochs are done,
                                           each with its evaluation and checkpoint (--stop-at-epoch;
                                           lrlab tune's rungs); at the run's epochs it simply finishes */
    int retune;                         /* time the convolution algorithms again (--retune; setup.h) */
    int profile;                        /* --profile: where the time goes (lrlab/profile.h), as a table in
                                           the log and RUN_PROFILE, when the loop ends or stops */
} train_options;

/* Returns TRAIN_OK, TRAIN_DIVERGED (err says epoch, step, lr and which
 * checkpoint is kept), TRAIN_STOPPED (err says where and how to resume),
 * TRAIN_BAD_SCHED (the schedule expression is refused, before any step), or
 * TRAIN_ERROR (err says why). The run directory only ever changes by
 * atomic renames: whatever happens, it holds the last checkpoint whole.
 * A new run records data, init and model-file paths as absolute paths, so
 * that --resume works from any working directory. */
int train_run(const train_config *cfg, const train_options *opt, lr_error *err);

/* Paths inside a run directory. */
#define RUN_CONFIG "config.txt"
#define RUN_METRICS "metrics.csv"
#define RUN_STEPS "steps.csv"
#define RUN_CHECKPOINT "checkpoint.safetensors"
#define RUN_WEIGHTS "model.safetensors"
#define RUN_WEIGHTS_EMA "model_ema.safetensors" /* --ema: the EMA model's state_dict */
#define RUN_WEIGHTS_SWA "model_swa.safetensors" /* --swa-start: SWA's average after update_bn */
#define RUN_DIVERGED "diverged.txt" /* the divergence message, for `lrlab report` */
#define RUN_PROFILE "profile.csv"   /* --profile's rows (lrlab/profile.h): this process's part of the run */
/* The third column is the optimiser's key a cyclic schedule moves, under its
 * own name: "beta1" (betas[0]) for Adam, AdamW, Adamax, NAdam, RAdam;
 * "momentum" for the others (0 for those with neither: lrlab/optim.h).
 * grad_norm: the epoch's mean of the steps' gradient norms before clipping
 * (--clip-norm-type's norm); runs from before it have no such column. */
#define METRICS_HEADER_BASE_AS(key) \
    "epoch,lr," key ",train_loss,train_acc,test_loss,test_acc,val_loss,val_acc,seconds,images_per_s"
#define METRICS_HEADER_AS(key) METRICS_HEADER_BASE_AS(key) ",grad_norm\n"
#define METRICS_HEADER METRICS_HEADER_AS("momentum")
#define METRICS_HEADER_BETA1 METRICS_HEADER_AS("beta1")
/* With --ema: two more columns, the EMA model's test loss and accuracy. */
#define METRICS_EMA_COLUMNS ",test_loss_ema,test_acc_ema"
/* With --tta: after the EMA's two (empty without --ema), the final
 * weights' test accuracy with test-time augmentation, in the last epoch's
 * row only (empty in the others). */
#define METRICS_TTA_COLUMN ",tta_test_acc"

#endif
