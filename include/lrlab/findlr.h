/* lrlab/findlr.h: the learning-rate range test (Smith 2017, "Cyclical
 * Learning Rates for Training Neural Networks", section 3.3), as fastai's
 * lr_find runs it: one SGD step per training batch at an lr growing
 * exponentially from start_lr to end_lr over `steps` steps,
 *     lr_i = start_lr * (end_lr / start_lr)^(i / (steps - 1)),
 * recording the batch loss (before the step) smoothed by an exponential
 * moving average with bias correction,
 *     avg = beta * avg + (1 - beta) * loss;  smoothed_i = avg / (1 - beta^(i+1)),
 * and stopping early once smoothed_i > 4 * (lowest smoothed so far) or the
 * loss or a gradient is NaN/Inf (the trainer's divergence test). The
 * parameters are restored to their values on entry, whatever happens.
 *
 * Suggestions (fastai's `steep` and `minimum`), over the recorded points
 * without the first steps/10 and the last 5 (all points if fewer than 2
 * would remain): the lr where the smoothed loss falls fastest against
 * log(lr), and the lr of the lowest smoothed loss divided by 10.
 * What it is not: loading data or models, or printing. */
#ifndef LRLAB_FINDLR_H
#define LRLAB_FINDLR_H

#include "lrlab/common.h"
#include "lrlab/data.h"
#include "lrlab/model.h"
#include "lrlab/net.h"
#include "lrlab/optim.h"

typedef struct {
    double start_lr, end_lr; /* 1e-7, 10 */
    int steps;               /* 100 */
    double beta;             /* smoothing, 0.98 */
    double diverge;          /* stop when smoothed > diverge * best: 4 */
    optim_params optim;      /* the optimiser (lrlab/optim.h; its lr is the test's): the seed's SGD */
    loss_options loss;       /* the training loss and clipping (lrlab/optim.h): none */
    int batch;               /* the loader's and the net's batch: scratch sizes */
    uint64_t seed;           /* dropout's stream (the run's --seed) */
} findlr_config;

void findlr_defaults(findlr_config *c);

enum { FINDLR_DONE = 0, FINDLR_STOP_DIVERGED = 1, FINDLR_STOP_NONFINITE = 2 };

typedef struct {
    int n;                          /* points recorded (<= steps) */
    double *lr, *loss, *smoothed;   /* n each, owned */
    int stop;                       /* FINDLR_DONE or why it stopped early */
    int stop_step;                  /* the step that stopped it (-1 when done) */
    double suggested_lr;            /* steepest fall of the smoothed loss */
    double min_loss_lr_div10;       /* lr of the lowest smoothed loss / 10 */
    int steep_index, min_index;     /* into lr[] */
} findlr_result;

/* Runs the test on the training batches of `train` (augmented as its
 * config says; a new epoch starts when the batches run out), with n (built
 * with training = 1, in training mode) over m's parameters. params and
 * buffers (BatchNorm's running statistics, the net's: NULL without any)
 * are restored on return, and n is left in eval mode. Fails when fewer
 * than 2 points could be recorded (lower start_lr). */
int findlr_run(findlr_result *res, const findlr_config *cfg, net *n, const model_spec *m, float *params,
               float *buffers, loader *train, lr_error *err);
void findlr_result_free(findlr_result *res);

/* The suggestions alone, from recorded points (used by findlr_run; tests).
 * Returns -1 when n < 2. */
int findlr_suggest(const double *lr, const double *smoothed, int n, int steps, int *steep_index,
                   int *min_index);

#endif
