/* lrlab/average.h: averages of the weights beside the optimiser
 * (docs/optimisers.md, "Weight averaging"): Lookahead's slow weights
 * (Zhang et al. 2019, with airbench94's schedule and final copy), an
 * exponential moving average (timm's ModelEmaV2) and SWA's running mean
 * (torch.optim.swa_utils.AveragedModel). Each is a copy of the model's
 * parameters (and BatchNorm buffers) updated by an element-wise kernel in
 * PyTorch's float order; the trainer decides when. Nothing here knows
 * about data, files or the console. */
#ifndef LRLAB_AVERAGE_H
#define LRLAB_AVERAGE_H

#include "lrlab/common.h"
#include "lrlab/model.h"

/* ---- the kernels (flat float arrays) ---- */

/* Lookahead's synchronisation: slow = torch.lerp(slow, fast, alpha) (its
 * two branches, |alpha| < 0.5 and above, each one fused multiply-add, as
 * torch 1.13's AVX2 kernel computes them), then fast = slow. */
void avg_lookahead(float *slow, float *fast, long n, double alpha);
/* ModelEmaV2's update: ema = decay * ema + (1 - decay) * w, both scalars
 * rounded to float, one rounding per operation. */
void avg_ema(float *ema, const float *w, long n, double decay);
/* AveragedModel's default avg_fn after n_averaged averages:
 * avg = avg + (w - avg) / (n_averaged + 1); n_averaged 0 copies w. */
void avg_swa(float *avg, const float *w, long n, long n_averaged);

/* ---- Lookahead's settings: --lookahead 'k=5, alpha=0.5' ---- */

typedef struct lookahead lookahead; /* opaque: k, alpha (a number or an expression), buffers, final */

/* Parses text: keyword arguments k (int >= 1, 5), alpha (a number in
 * [0, 1], or a quoted expression in `step`, the optimiser steps done, and
 * `total_steps`, the run's: 0.5), buffers (False: the parameters only, as
 * Zhang et al.; True: the BatchNorm running statistics too, as airbench94's
 * state_dict), final (False; True: after the run's last step the weights
 * become the slow weights, airbench94's closing update(decay=1.0)), with
 * the schedule parser's syntax and caret errors ("--lookahead: ..."). With
 * total_steps > 0 alpha is rehearsed at every synchronisation of the run
 * and refused where it fails or leaves [0, 1]. */
int lookahead_parse(lookahead **out, const char *text, long total_steps, lr_error *err);
void lookahead_free(lookahead *la);
int lookahead_k(const lookahead *la);
int lookahead_buffers(const lookahead *la);
int lookahead_final(const lookahead *la);
/* alpha after `step` optimiser steps of the run. */
int lookahead_alpha(const lookahead *la, long step, double *alpha, lr_error *err);

/* ---- the averages of one model ---- */

/* The averages a run keeps, each a copy of the model's parameters and
 * buffers (state_dict order, as setup holds them): Lookahead's slow
 * weights, the EMA, SWA's running mean and its n_averaged. A NULL
 * pointer: that average is off (or has no buffers). */
typedef struct {
    long n_params, n_buffers;
    float *slow_params, *slow_buffers; /* --lookahead (buffers with buffers=True) */
    float *ema_params, *ema_buffers;   /* --ema */
    float *swa_params;                 /* --swa-start (its buffers come from update_bn) */
    long swa_n;                        /* AveragedModel.n_averaged */
} avg_state;

/* Copies of params and buffers for each average asked for (which: AVG_*
 * bits), as torch's deepcopy of the model at the start of training. */
enum { AVG_LOOKAHEAD = 1, AVG_LOOKAHEAD_BUFFERS = 2, AVG_EMA = 4, AVG_SWA = 8 };
int avg_state_init(avg_state *s, unsigned which, long n_params, long n_buffers, const float *params,
                   const float *buffers, lr_error *err);
void avg_state_free(avg_state *s); /* accepts a zeroed or half-built one */
/* The model's params and buffers copied again into the averages of s named
 * by which (AVG_LOOKAHEAD: the slow weights and, when kept, buffers; AVG_EMA;
 * AVG_SWA), as avg_state_init copies them: after a data-dependent init that
 * follows Lookahead's copy (the trainer's --whiten). Averages s does not keep: nothing. */
void avg_state_copy(avg_state *s, unsigned which, const float *params, const float *buffers);

/* The state's tensors as the checkpoint names them ("average.ema.params"):
 * up to AVG_MAX_TENSORS, in a fixed order; returns the count. */
#define AVG_MAX_TENSORS 5
typedef struct {
    const char *name;
    float *data;
    long count;
} avg_tensor;
int avg_state_tensors(const avg_state *s, avg_tensor *out);

/* The updates of a model's averages (m: its tensors; params and buffers:
 * the model's, the fast weights):
 * Lookahead: avg_lookahead over the parameters and, with its buffers, over
 * the BatchNorm running statistics (not num_batches_tracked, an integer in
 * PyTorch, which airbench's update skips); the model gets the slow weights.
 * EMA: avg_ema over the parameters; the buffers are copied.
 * SWA: avg_swa over the parameters; n_averaged + 1. */
void avg_update_lookahead(avg_state *s, const model_spec *m, float *params, float *buffers, double alpha);
void avg_update_ema(avg_state *s, const float *params, const float *buffers, double decay);
void avg_update_swa(avg_state *s, const float *params);

#endif
