/* lrlab/profile.h: where the time of a training run or a bench goes
 * (`--profile`): the forward and backward wall time of every layer
 * (net_times, lrlab/net.h) and the other phases of a step, printed as a
 * table or as profile.csv's rows. Timing reads the clock between phases and
 * changes no arithmetic; without a profile (NULL) the calls below do
 * nothing but test the pointer. */
#ifndef LRLAB_PROFILE_H
#define LRLAB_PROFILE_H

#include <stdio.h>

#include "lrlab/model.h"
#include "lrlab/net.h"

/* The phases of a training step, then the passes after an epoch. Forward
 * and backward are the whole net_forward/net_backward calls; their layers'
 * shares are in `layers`. */
typedef enum {
    PROF_DATA,      /* waiting for the loader's next batch */
    PROF_FORWARD,
    PROF_LOSS,
    PROF_BACKWARD,
    PROF_GRADS,     /* summing over ranks, gradient norm, finiteness checks, clipping */
    PROF_OPTIM,     /* the optimiser's update of every group */
    PROF_AVERAGES,  /* Lookahead, EMA */
    PROF_EVAL,      /* the test, validation and EMA passes */
    PROF_TTA,       /* the final --tta pass */
    PROF_PHASES
} prof_phase;

typedef struct {
    net_times layers;             /* the training steps' per layer (net_set_times) */
    double seconds[PROF_PHASES];
    long laps[PROF_PHASES];       /* how often each phase was timed: a phase never timed has no row;
                                     forward's are the steps */
    double start, total;          /* profile_start's clock; seconds from it to profile_stop */
} lr_profile;

/* Zeroes p and starts its clock; profile_stop takes the total wall time,
 * which the phases share with "other" (what no phase covers). */
void profile_start(lr_profile *p);
void profile_stop(lr_profile *p);

/* The clock for profile_lap, or 0 when p is NULL (not profiling). */
double profile_now(const lr_profile *p);
/* Adds the seconds since *t to phase ph and sets *t to now (p NULL: nothing). */
void profile_lap(lr_profile *p, prof_phase ph, double *t);

/* The rows: phase, layer, kind, shape (batch x c x h x w), seconds,
 * ms_per_step, share_pct; a row per layer for forward and for backward
 * (and their time outside the layers), a row per other phase timed,
 * "other", and "total" (100%). csv: profile.csv's format (a header line,
 * then the rows); else an aligned table after a heading with the phases'
 * shares and the layers that take the most. */
void profile_print(const lr_profile *p, const model_spec *m, int batch, int csv, FILE *f);

#endif
