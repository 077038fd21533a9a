/* lrlab/tune.h: asynchronous successive halving (ASHA, Li et al. 2018,
 * "A System for Massively Parallel Hyperparameter Tuning", Algorithm 2) as
 * a pure bookkeeping object: rungs of resource r_min * eta^k epochs while
 * eta times that is at most r_max, then r_max itself, which trial to promote next, which to start,
 * the epochs spent, and its state as text (so a stopped tune continues
 * where it was). It runs nothing: the caller trains a trial to the rung's
 * epochs and reports the metric (higher is better).
 * The CLI (`lrlab tune`, src/cli/tune.c) samples, runs and records. */
#ifndef LRLAB_TUNE_H
#define LRLAB_TUNE_H

#include <stddef.h>

#include <stdint.h>

#include "lrlab/common.h"
#include "lrlab/sweep.h"

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

/* ---- the search space (tune/space.c) ----
 * A space file is a sweep file (lrlab/sweep.h, sweep_load_space) whose
 * `space --FLAG RANGE` lines give loguniform(a, b), uniform(a, b) or
 * choice(v1, v2, ...) (options are numbers, words or 'quoted strings', such
 * as schedules with {epochs}, {total_steps} or {lr} in them); `defaults`
 * are the fixed settings, --epochs among them the full run's. */
typedef enum { TUNE_UNIFORM, TUNE_LOGUNIFORM, TUNE_CHOICE } tune_range_kind;

typedef struct {
    const sweep_flag *flag; /* as written (key, value, line) */
    tune_range_kind kind;
    double lo, hi;          /* uniform and loguniform */
    char **options;         /* choice's options; for the others the two ends as written */
    int n_options;
} tune_range;

typedef struct {
    const sweep_file *file; /* not owned */
    tune_range *ranges;
    int n;
    long grid; /* points of the full grid when every range is a choice (at most 1e6), else 0 */
} tune_space;

/* Reads every range, and resolves a trial at each end and option of each
 * range (the others at their first) with the command line's `extra`, so a
 * value the trainer would refuse is an error naming the file and line now. */
int tune_space_init(tune_space *sp, const sweep_file *f, const sweep_flags *extra, lr_error *err);
void tune_space_free(tune_space *sp);
/* Trial t's values, one flag per range: grid (every range a choice): the
 * t-th point of the grid, the last range counting fastest; else one draw
 * per range from the stream (seed, RNG_STREAM_TUNE, t), numbers as %.4g. */
int tune_space_trial(const tune_space *sp, int grid, uint64_t seed, long t, sweep_flags *values, lr_error *err);
/* The trial's flags as `lrlab train` gets them (defaults, values, extra;
 * placeholders filled) and its settings, as sweep_resolve. */
int tune_space_resolve(const tune_space *sp, const sweep_flags *values, const sweep_flags *extra, sweep_flags *out,
                       train_config *cfg, lr_error *err);

#endif
