/* lrlab/tune.h: asynchronous successive halving (ASHA, Li et al. 2018,
 * "A System for Massively Parallel Hyperparameter Tuning", Algorithm 2) as
 * a pure bookkeeping object: rungs of resource r_min * eta^k epochs (the
 * last one capped at r_max), which trial to promote next, which to start,
 * the epochs spent, and its state as text (so a stopped tune continues
 * where it was). It runs nothing: the caller trains a trial to the rung's
 * epochs and reports the metric (higher is better).
 * The CLI (`lrlab tune`, src/cli/tune.c) samples, runs and records. */
#ifndef LRLAB_TUNE_H
#define LRLAB_TUNE_H

#include <stddef.h>

#include "lrlab/common.h"

#define ASHA_MAX_RUNGS 16

typedef struct {
    int n_rungs;
    int epochs[ASHA_MAX_RUNGS]; /* rung k's resource, increasing; the last is r_max */
    int eta;
    int max_trials;             /* trials to start at most (0: no limit) */
    long budget;                /* epochs to spend at most (0: no limit) */
    /* per trial: its metric at each rung (NAN: not reached), promoted past rung k, busy */
    int n_trials, cap;
    double (*metric)[ASHA_MAX_RUNGS];
    unsigned char (*promoted)[ASHA_MAX_RUNGS];
    int *busy_rung;             /* rung a trial is running towards, -1 when idle */
    long spent;                 /* epochs handed out (new trials and promotions) */
} asha;

typedef struct {
    int trial;       /* a new trial's index is n_trials - 1 after asha_next */
    int rung;        /* train it to epochs[rung] */
    int from_epochs; /* from its checkpoint at this many epochs (0: from scratch) */
    int is_new;
} asha_job;

/* r_min >= 1, eta >= 2, r_max >= r_min. */
int asha_init(asha *a, int r_min, int r_max, int eta, int max_trials, long budget, lr_error *err);
void asha_free(asha *a);

/* The next job: a promotion (the best trial of the highest rung k that is
 * in the top floor(n_k / eta) of rung k and not promoted yet), else a new
 * trial at rung 0. Returns 1 with *job, 0 when nothing can start now
 * (budget or trial count spent: wait for busy trials, or done), -1 on out
 * of memory. */
int asha_next(asha *a, asha_job *job, lr_error *err);

/* The metric trial reached at rung (the job handed out before). */
int asha_report(asha *a, int trial, int rung, double metric, lr_error *err);

/* True when no job can start and none is busy. */
int asha_done(const asha *a);

/* The trial with the best metric at the highest rung any trial reached; -1 if none. */
int asha_best(const asha *a);

/* The state as text (one line per trial; busy jobs are not recorded, so a
 * continued tune hands them out again) and back. */
int asha_save(const asha *a, char **text, size_t *len, lr_error *err);
int asha_load(asha *a, const char *text, const char *path, lr_error *err); /* a from asha_init */

#endif
