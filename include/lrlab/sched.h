/* lrlab/sched.h: learning-rate schedules written in PyTorch constructor
 * syntax, e.g. "StepLR(step_size=16, gamma=0.2)".
 *
 * A schedule is a pure function of its own state: the trainer asks
 * sched_lr() before each epoch (or optimiser step, in step mode) and calls
 * sched_step() after it. Time t starts at 0, so epoch 0 trains at lr(0),
 * as PyTorch's canonical loop does (docs: SEMANTICS.md). Nothing here
 * knows about training, files or the console. */
#ifndef LRLAB_SCHED_H
#define LRLAB_SCHED_H

#include "lrlab/common.h"

typedef struct {
    double base_lr;        /* the optimiser's lr (--lr) */
    double base_momentum;  /* the optimiser's momentum (--momentum) */
    int epochs;            /* --epochs: the run's length (0: not known, no coverage check) */
    int steps_per_epoch;   /* optimiser steps in one epoch */
    int unit_step;         /* 1: t counts optimiser steps (--sched-unit step); 0: epochs */
    int print_only;        /* 1: lr(t) is only read for the run's t (lrlab schedule): no step after the last */
    int cycle_key;         /* what the optimiser lets CyclicLR and OneCycleLR cycle (SCHED_CYCLE_*) */
    long total_steps;      /* the run's optimiser steps when --max-steps ends it within its last epoch
                              (0: epochs x steps_per_epoch) */
    int group, n_groups;   /* the schedule of parameter group `group` of n_groups (0: one group): base_lr and
                              base_momentum are the group's, a per-group list (max_lr=[a, b]) gives its element */
} sched_context;

/* The optimiser's key a cyclic schedule cycles, as PyTorch 1.13 decides
 * from its defaults: `momentum` (SGD, RMSprop: both schedules), `betas[0]`
 * (the Adam family: OneCycleLR only; CyclicLR 1.13 requires momentum), or
 * neither (Adagrad, Adadelta, ASGD, Rprop). With cycle_momentum=True (their
 * default) a schedule that cannot cycle is refused with PyTorch's
 * ValueError. base_momentum is the key's value either way. */
enum { SCHED_CYCLE_MOMENTUM = 0, SCHED_CYCLE_BETA1 = 1, SCHED_CYCLE_NONE = 2 };

typedef struct lr_sched lr_sched; /* opaque */

/* Parses expr (NULL or "" means constant lr). On error, err holds one
 * message quoting the expression with a caret under the offending part.
 * With ctx->epochs > 0 it also rehearses the run (a step after every epoch,
 * or every optimiser step with unit_step, the last one included unless
 * print_only; up to 5e6 steps) and refuses a schedule that would fail in it, saying how many
 * steps the run takes and what fails (OneCycleLR: PyTorch's "Tried to step
 * X times. The specified number of total steps is Y"). */
int sched_parse(lr_sched **out, const char *expr, const sched_context *ctx, lr_error *err);
void sched_free(lr_sched *s);

/* NULL, or a warning about a schedule that parses but is likely a mistake:
 * in epoch unit, a OneCycleLR or CyclicLR sized in optimiser steps
 * (total_steps or step_size_up at least 10 times the run's epochs). */
const char *sched_warning(const lr_sched *s);

double sched_lr(const lr_sched *s);        /* lr at the current t */
int sched_cycles_momentum(const lr_sched *s);
double sched_momentum(const lr_sched *s);  /* momentum at t (base_momentum when not cycled) */
int sched_needs_metric(const lr_sched *s); /* contains ReduceLROnPlateau */
/* A schedule that needs a metric is stepped once per epoch, at the epoch's
 * end with that epoch's metric, also in step mode (unit_step = 1): the
 * trainer then reads sched_lr() before every optimiser step but calls
 * sched_step() only at epoch ends. docs/schedules.md says so to users. */
long sched_t(const lr_sched *s);

/* Advances t by one. metric feeds ReduceLROnPlateau (ignored otherwise).
 * Fails where PyTorch raises (OneCycleLR stepped past total_steps). */
int sched_step(lr_sched *s, double metric, lr_error *err);

/* The whole state (t, recursive lr, plateau counters, cycle position) as
 * doubles, for checkpoints. save returns the count written (<= cap) or -1.
 * load needs a schedule parsed from the same expression and context. */
int sched_state_save(const lr_sched *s, double *buf, int cap);
int sched_state_load(lr_sched *s, const double *buf, int n, lr_error *err);

#endif
