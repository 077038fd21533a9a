/* lrlab/net.h: a model_spec made executable: forward to logits and backward
 * to parameter gradients, for a fixed maximum batch.
 *
 * Two backends behind one API: oneDNN (primitives built once, activations
 * in the blocked layouts oneDNN picks, ReLU fused into the layer before it,
 * per-layer algorithm choice) and the plain-C reference (NCHW, the tests'
 * independent answer). Parameters and gradients stay flat float arrays in
 * PyTorch's layout, owned by the caller: the backend reorders weights into
 * its own layouts on each call. Nothing here knows about data, schedules or
 * files. */
#ifndef LRLAB_NET_H
#define LRLAB_NET_H

#include "lrlab/common.h"
#include "lrlab/model.h"

typedef enum { NET_BACKEND_DNNL, NET_BACKEND_REF } net_backend;
/* An algorithm choice string: 3 letters and a ',' per convolution. */
#define NET_ALGO_CHOICES_LEN (4 * MODEL_MAX_LAYERS)
typedef enum { CONV_ALGO_AUTO, CONV_ALGO_DIRECT, CONV_ALGO_WINOGRAD } conv_algo;
typedef enum { NET_PRECISION_FP32, NET_PRECISION_BF16 } net_precision;

/* The three passes of a convolution, for per-pass algorithm choice. */
enum { CONV_PASS_FWD, CONV_PASS_BWD_DATA, CONV_PASS_BWD_WEIGHTS, CONV_PASSES };

typedef struct {
    net_backend backend;
    conv_algo algo;          /* auto: time direct and winograd per layer and pass at init */
    net_precision precision; /* bf16: convolutions in bf16 (with auto: per layer, where faster
                                than fp32); fp32 master weights, gradients, linear layers */
    int batch;               /* maximum images per call */
    int training;            /* 0: forward only (no backward buffers) */
    int (*bn_sum)(double *v, int n); /* SyncBatchNorm: sums n doubles over the data-parallel ranks in place
                                        (lrlab/dist.h), so that training BatchNorm normalises by the whole
                                        batch's statistics; NULL: this process's images only */
    /* A previous choice to reuse (as recorded by net_algo_choices), or "" to
     * choose: one letter per convolution and pass (forward, backward-data,
     * backward-weights): 'd' direct, 'w' winograd, 'D' bf16 direct, '-' no
     * such pass; layers separated by ','. E.g. "D-D,www,www,www,www,www".
     * NET_ALGO_CHOICES_LEN holds the choice of any net the parser accepts. */
    char algo_choices[NET_ALGO_CHOICES_LEN];
} net_config;

typedef struct net net; /* opaque */

int net_init(net **out, const model_spec *m, const net_config *cfg, lr_error *err);
void net_free(net *n); /* accepts NULL and half-built nets */

/* Models with BatchNorm have buffers (running statistics, model_spec.n_buffers
 * floats, model_init_buffers), owned by the caller like the parameters and
 * updated by training-mode forward passes. */
void net_set_buffers(net *n, float *buffers);
/* PyTorch's net.train() (1) and net.eval() (0): training mode normalises
 * with the batch's statistics (updating the running ones) and applies
 * dropout; eval mode uses the running statistics and no dropout. A net
 * starts in training mode when built with training = 1. */
void net_set_training(net *n, int training);
/* The random stream of the next forward pass's dropout masks: (seed, step),
 * so that a run is deterministic and a resumed one draws the same masks. */
void net_set_step(net *n, uint64_t seed, uint64_t step);

/* x: count images (count <= batch), NCHW float; logits: count x n_classes. */
int net_forward(net *n, const float *x, int count, const float *params, float *logits,
                lr_error *err);
/* After net_forward on the same batch: dlogits (count x n_classes) is
 * dLoss/dlogits; grads (n_params) is overwritten with dLoss/dparams. */
int net_backward(net *n, const float *dlogits, const float *params, float *grads, lr_error *err);

/* Per-layer wall time (`lrlab train --profile`, lrlab/profile.h): while set,
 * every net_forward and net_backward adds each layer's seconds to fwd[i]
 * and bwd[i] (its primitives, weight reorders and kernels; a layer fused
 * into the one before it, as a ReLU in the oneDNN backend, gets none, and
 * the copies in and out of a call belong to no layer). Timing waits for
 * each layer to finish and changes no arithmetic. NULL (the default): no
 * clock is read. */
typedef struct {
    double fwd[MODEL_MAX_LAYERS], bwd[MODEL_MAX_LAYERS];
} net_times;
void net_set_times(net *n, net_times *t);

/* The algorithm chosen per convolution and pass, in the algo_choices format. */
const char *net_algo_choices(const net *n);
/* What a choice depends on besides the net: "onednn=2.6.3 isa=avx512_core_bf16"
 * (the library's version and the instruction set it uses on this CPU). */
void net_platform(char *buf, size_t cap);
/* A human-readable line per convolution: name, algorithm per pass, timings. */
void net_describe(const net *n, char *buf, size_t cap);

#endif
