/* lrlab/config.h: one run's settings, train_config, and the single table
 * that maps them to command-line flags (`--weight-decay 5e-4`) and to the
 * lines of a run directory's config.txt (`weight_decay=5e-4`). The CLI,
 * resume and sweep files all go through config_set, so a value is checked
 * the same way wherever it comes from. */
#ifndef LRLAB_CONFIG_H
#define LRLAB_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "lrlab/common.h"
#include "lrlab/net.h"
#include "lrlab/optim.h"
#include "lrlab/sched.h"

typedef struct {
    char model[512], data[1024], out[1024], init[1024];
    char whiten[128];    /* --whiten 'LAYER[, images=N][, eps=E]': data-dependent init (config_whiten_parse); "": none */
    char dataset[16];    /* a format of dataset_formats() (lrlab/data.h) */
    int labels_coarse;   /* --labels coarse (cifar100) */
    char resize[32];     /* --resize H,W (folder); "": none */
    char normalize[256]; /* --normalize MEANS,STDS; "": the data set's constants */
    char transform[1024]; /* --transform EXPR (torchvision's syntax); "": the seed's crop and flip */
    char sched[2048];
    int sched_unit_step; /* --sched-unit step */
    char monitor[16];    /* test_loss | test_acc | train_loss | val_loss | val_acc */
    char optim[1024]; /* --optim EXPR (lrlab/optim.h); "": SGD from the shorthand flags below */
    double lr, momentum, weight_decay, dampening;
    int nesterov;
    char param_groups[4096]; /* --param-group TEXT, repeatable: the groups' texts, each ending in '\n' */
    loss_options loss; /* --label-smoothing --loss-reduction --clip-grad-norm --clip-norm-type --clip-grad-value */
    char lookahead[512]; /* --lookahead 'k=5, alpha=0.5' (lrlab/average.h); "": none */
    double ema;          /* --ema DECAY: an EMA of the weights (0: none) */
    int swa_start;       /* --swa-start EPOCH: SWA's average after every epoch from this one (-1: none) */
    unsigned given;   /* CONFIG_GIVEN_* bits: shorthand settings set by a flag or a sweep file (config_set;
                         not by config_read: a run's recorded values are not a user's choice) */
    int batch, epochs;
    int tta;        /* --tta 0|1|2: test-time augmentation of the final evaluation (lrlab/evaluate.h) */
    long max_steps; /* --max-steps N: the run ends after N optimiser steps, within its last epoch (0: epochs x
                       steps per epoch) */
    long seed;
    int threads; /* 0: all cores */
    int ranks;   /* data-parallel ranks the run trains on (set by the run; 0: 1) */
    int sync_bn; /* BatchNorm statistics over all ranks' shares of the batch (SyncBatchNorm); 0: per rank */
    long limit_train, limit_test, val;
    int augment, shuffle;
    net_backend backend;
    conv_algo algo;
    net_precision precision;
    char algo_choices[NET_ALGO_CHOICES_LEN]; /* recorded by a run, reused on resume */
    int log_steps, verbose;
} train_config;

enum { CONFIG_GIVEN_LR = 1, CONFIG_GIVEN_MOMENTUM = 2, CONFIG_GIVEN_WEIGHT_DECAY = 4, CONFIG_GIVEN_DAMPENING = 8,
       CONFIG_GIVEN_NESTEROV = 16 };

/* The seed's settings: lr 0.01, momentum 0.9, weight decay 5e-4, batch 128,
 * 30 epochs, augmentation and shuffling on, model vgg-seed. */
void config_defaults(train_config *c);

/* Sets one setting by its config.txt key or its flag name without "--"
 * (e.g. "weight_decay" or "weight-decay"). Boolean flags given without a
 * value ("--nesterov", "--no-augment") pass value NULL. `origin` names where
 * the value came from, for messages ("--lr", "run/config.txt:4"). */
int config_set(train_config *c, const char *key, const char *value, const char *origin,
               lr_error *err);

/* 1 when key is a setting (a config.txt key or a flag without "--"). */
int config_known(const char *key);

/* 1 when key is a setting that takes no value on the command line. */
int config_is_switch(const char *key);

/* Handles argv[*i] if it is a setting's flag, consuming its value
 * (argv[*i + 1]) when it takes one and advancing *i past what it used.
 * Returns 1 when handled, 0 when argv[*i] is not a setting (the caller's
 * own flag), -1 on a bad or missing value. */
int config_take_arg(train_config *c, int argc, char **argv, int *i, lr_error *err);

/* --whiten's text: the conv layer's name, images (5000) and eps (5e-4);
 * parsed by the schedules' expression parser as "Whiten('LAYER', images=N,
 * eps=E)", errors prefixed with origin and a caret under the culprit. */
int config_whiten_parse(const char *text, const char *origin, char *layer, size_t layer_size, int *images, double *eps, lr_error *err);

/* config.txt: `key=value` lines, '#' comments. write is deterministic. */
void config_write(const train_config *c, FILE *f);
/* config_write's text after `header` (NULL: none), malloc'd; NULL when out of memory. */
char *config_text(const train_config *c, const char *header);
int config_read(train_config *c, const char *path, lr_error *err);

/* The flags' help text, one line each: only the settings named in `only`
 * (config.txt keys, NULL-terminated; NULL: all) and not in `skip`. */
void config_print_help(FILE *f, const char *const *only, const char *const *skip);

/* Every setting's flag ("--weight-decay", "--no-augment"), NULL-terminated,
 * in the table's order: for "did you mean". */
const char *const *config_flags(void);

/* The training images a run will see before --val: --limit-train, or as
 * many as the data set's files hold (dataset_probe; 0 when unknown). */
long config_train_images(const train_config *c);
/* Optimiser steps in an epoch of those images, after --val, with drop_last
 * (0: not even one batch, or the count is unknown). */
long config_steps_per_epoch(const train_config *c);

/* The run's optimiser (lrlab/optim.h). Without --optim: SGD from the
 * shorthand flags --lr --momentum --dampening --weight-decay --nesterov,
 * refused as torch.optim.SGD's constructor refuses (--nesterov without
 * momentum or with dampening). With --optim: the expression, PyTorch's
 * defaults for what it leaves out; its lr is lr= when given, else --lr when
 * given, else the optimiser's default (SGD: --lr's 0.01); --lr and lr= both
 * given and different is refused, and so is any other shorthand flag
 * (momentum= belongs in the expression). Also refuses both gradient
 * clippings at once (--clip-grad-norm and --clip-grad-value). */
int config_optim(const train_config *c, optim_params *hp, lr_error *err);

/* The parameter groups of c with optimiser hp (config_optim's): the
 * --param-group ones in order, then the default group (every parameter no
 * other group selects), last as in PyTorch's order of a script that lists
 * the special groups first; *n counts them all (at most OPTIM_MAX_GROUPS).
 * Refused: a text optim_group_parse refuses, too many groups. */
int config_groups(const train_config *c, const optim_params *hp, param_group *groups, int *n, lr_error *err);

/* Which group (of n, config_groups') takes each trained tensor of m, in
 * params order (model_param_sizes'): the first whose selector takes it,
 * else the default group (the last). A --param-group that takes no
 * parameter is refused (its text, a caret under the selector). */
int config_group_params(const model_spec *m, const param_group *groups, int n, int *group_of, lr_error *err);

/* config_optim, then c's optim as the canonical expression with every
 * hyper-parameter (optim_format) and c's lr as the optimiser's: what a run
 * records in config.txt, so that --resume rebuilds the same optimiser. */
int config_resolve_optim(train_config *c, optim_params *hp, lr_error *err);

/* The schedule's context of a run with optimiser hp: base lr hp's lr, base
 * momentum the value hp's cycled key holds (optim_cycled_value), as the
 * default group's of the run's groups (the trainer sets each group's). */
sched_context config_sched_context(const train_config *c, const optim_params *hp, long steps_per_epoch);

/* The context of group g's schedule (of n groups, config_groups'): its own
 * base lr and momentum, its element of per-group lists. */
sched_context config_group_context(const train_config *c, const param_group *groups, int n, int g,
                                   long steps_per_epoch);

/* The checks across settings, before any data is read (a usage error,
 * exit 2): the optimiser (config_optim), the parameter groups
 * (config_groups), the schedule of each group, parsed and rehearsed for the whole run (lrlab/sched.h),
 * --lookahead (its alpha over the run); copies the schedule's warning, if any,
 * into warning (cap bytes; "" when none). */
int config_check(const train_config *c, char *warning, size_t cap, lr_error *err);

/* The run's optimiser steps for steps_per_epoch (config_steps_per_epoch):
 * epochs x steps_per_epoch, or --max-steps when it is less; and the epochs
 * the run begins: ceil(steps / steps_per_epoch), the last one partial when
 * --max-steps ends it early (its metrics.csv row is still written). */
long config_run_steps(const train_config *c, long steps_per_epoch);
int config_run_epochs(const train_config *c, long steps_per_epoch);
/* --max-steps within --epochs x steps_per_epoch, or a message saying so. */
int config_check_max_steps(const train_config *c, long steps_per_epoch, lr_error *err);
/* --lookahead's syntax, and its k and alpha over total_steps (0: unknown). */
int config_check_lookahead(const train_config *c, long total_steps, lr_error *err);

#endif
