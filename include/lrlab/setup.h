/* lrlab/setup.h: the one path from a train_config to what train, find-lr
 * and eval run: threads, the data splits, the model, its parameters, the
 * executable net (its convolution algorithms from the per-user cache,
 * lrlab/algocache.h, so that the same command gives the same weights), and
 * the loaders. Not here: run directories, checkpoints, the loops. */
#ifndef LRLAB_SETUP_H
#define LRLAB_SETUP_H

#include <stdio.h>

#include "lrlab/config.h"
#include "lrlab/data.h"
#include "lrlab/model.h"
#include "lrlab/net.h"

typedef struct {
    int training;                    /* 1: the training split (--limit-train, --val) and its loader, a net with
                                        backward passes; 0: one training image (the files still validated),
                                        a forward-only net */
    int test;                        /* 1: the test split (--limit-test) and its loader; 0: one test image */
    const char *weights;             /* loaded over the seeded init (--init, eval's weights), or NULL */
    int whiten;                      /* 1 (training): --whiten's data-dependent init after the weights
                                        (train_setup_whiten); 0: the caller's to do */
    const char *const *model_search; /* directories holding models/ descriptions */
    int retune;                      /* --retune: time the algorithms again and rewrite the cache entry */
    FILE *log;                       /* with cfg->verbose: the algorithm choice per layer; NULL: quiet */
    FILE *warn;                      /* warnings (unusable cache, more threads than cores); NULL: none */
} setup_options;

typedef struct {
    dataset data;   /* its train split shrinks by --val */
    data_split val;
    model_spec m;
    float *params; /* n_params: seeded init, then o->weights */
    float *buffers; /* n_buffers (BatchNorm's running statistics): PyTorch's initial values, then o->weights;
                       handed to the net */
    float *logits; /* batch x classes scratch */
    net *net;
    loader *train_loader, *test_loader, *val_loader; /* NULL when not asked for */
    data_transform transform; /* --transform (n 0: none): the training loader's pipeline */
} train_setup;

/* Builds everything; cfg->threads and cfg->algo_choices are resolved (the
 * thread count in use; the algorithms the net runs). On failure s holds
 * what was built: free it with train_setup_free. */
int train_setup_init(train_setup *s, train_config *cfg, const setup_options *o, lr_error *err);
void train_setup_free(train_setup *s); /* accepts a zeroed or half-built setup */

/* --whiten's data-dependent init of s's parameters (model_whiten_conv) from
 * the first training images; nothing without --whiten. The trainer calls it
 * itself, after it has taken Lookahead's copy of the model as made. */
int train_setup_whiten(train_setup *s, const train_config *cfg, lr_error *err);

/* The data options of cfg (--dataset, --data, --labels, --resize,
 * --normalize, the limits; training: the training split too, test: the test
 * split's limit, else one image of it). */
int setup_data_options(data_options *o, const train_config *cfg, int training, int test, lr_error *err);

/* Sets the OpenMP thread count (0: one per core) and warns above the cores. */
void train_setup_threads(train_config *cfg, FILE *warn);

/* The net alone (also for bench): with --conv-algo auto on oneDNN and no
 * recorded choice, the cache's choice for this machine and net, timed and
 * stored once when there is none (or with retune). cfg->algo_choices
 * receives the choice in use. */
int train_setup_net(net **out, const model_spec *m, train_config *cfg, int training, const setup_options *o,
                    lr_error *err);

#endif
