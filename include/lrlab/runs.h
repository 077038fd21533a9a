/* lrlab/runs.h: reading finished or running run directories back, for
 * `lrlab report` and `lrlab plot`: config.txt (through config_read),
 * metrics.csv (validated; errors name the file and line), per-run summary
 * numbers, and the grouping of seed repeats (`name-s0`, `name-s1`, ... as
 * `lrlab sweep --seeds K` names them) with mean and standard deviation.
 * What it is not: writing runs (lrlab/train.h), printing or plotting. */
#ifndef LRLAB_RUNS_H
#define LRLAB_RUNS_H

#include "lrlab/common.h"
#include "lrlab/config.h"
#include "lrlab/stats.h" /* stats_mean_std, for the seed groups */

/* One line of metrics.csv (METRICS_HEADER in lrlab/train.h). val_loss and
 * val_acc are NAN when the run had no validation set (empty fields). */
typedef struct {
    long epoch;
    double lr, momentum, train_loss, train_acc, test_loss, test_acc, val_loss, val_acc, seconds,
        images_per_s;
    double grad_norm; /* NaN in runs from before the column */
    double test_loss_ema, test_acc_ema; /* --ema's evaluation; NaN without it */
    double tta_test_acc;                /* --tta's evaluation of the final weights (last row); NaN otherwise */
} metrics_row;

typedef struct {
    char dir[1024];
    char name[256];    /* the directory's basename: the run's label */
    int has_config;    /* config.txt was present (cfg holds it; else defaults) */
    train_config cfg;
    int has_metrics;   /* metrics.csv was present */
    int is_log;        /* read from a console log in the seed's format (a PyTorch run):
                          no config (cfg.epochs = rows), momentum and test_loss NAN */
    metrics_row *rows; /* n_rows, owned */
    int n_rows;
    /* for the status: which of the trainer's files are there, and whether a trainer holds DIR/.lock */
    int has_checkpoint, has_weights, has_diverged, running;
} rundir;

/* Parses metrics.csv text. The header must be METRICS_HEADER, or an older
 * lrlab's without its last columns (those read as NaN); each row has as
 * many comma-separated fields as the header, every one a number (val_loss and
 * val_acc may be empty), epochs counting 0, 1, 2, ... Errors read
 * "PATH:LINE: ..." naming the field. *rows is malloc'd (NULL when n = 0). */
int rundir_parse_metrics(metrics_row **rows, int *n, const char *text, const char *path,
                         lr_error *err);

/* Parses a console log in the seed's format, the one its PyTorch program
 * prints (../shared/reference-runs holds such logs): one line per epoch,
 *   epoch N:[Train] Loss: L | Acc: A% (c/t) [S s] [Test] Loss: L | Acc: A% (c/t) lr=X
 * (the seconds S optional; lrlab train's own console lines also fit). Lines
 * not starting with "epoch " are ignored (a script prints other things); an
 * epoch line that does not fit is an error naming the line and the part
 * expected. Epochs must count 0, 1, 2, ... test_loss is NAN (the seed prints
 * a scaled value, not the mean), momentum NAN, val_* NAN, images_per_s
 * derived from t and S (NAN without S). */
int rundir_parse_seedlog(metrics_row **rows, int *n, const char *text, const char *path,
                         lr_error *err);

/* Loads dir/config.txt and dir/metrics.csv. Either may be missing (a run
 * just created has config.txt only: no rows), but not both: that is not a
 * run directory. A bad file is an error naming it. */
int rundir_load(rundir *r, const char *dir, lr_error *err);
/* When dir is a regular file, it is a seed-format log (rundir_parse_seedlog),
 * named by its basename without ".log". */
void rundir_free(rundir *r); /* accepts a zeroed or half-loaded rundir */

/* Expands the command line's directories: a run directory or a file (a
 * seed-format log) stays as it is;
 * a directory without config.txt or metrics.csv whose subdirectories are
 * runs (a sweep's output) becomes those subdirectories, sorted by name.
 * *out is a malloc'd array of malloc'd strings (free with rundir_list_free). */
int rundir_expand(char ***out, int *n_out, char *const *args, int n_args, lr_error *err);
void rundir_list_free(char **list, int n);

/* The numbers `lrlab report` shows for one run (n_rows >= 1). */
typedef struct {
    int epochs_done;     /* rows in metrics.csv */
    double final_test;   /* test_acc of the last row */
    double best_test;    /* highest test_acc (first epoch reaching it) */
    long best_epoch;
    double last5_test;   /* mean test_acc of the last min(5, rows) rows */
    double final_train;  /* train_acc of the last row */
    double final_val;    /* val_acc of the last row (NAN without a validation set) */
    double best_val;     /* highest val_acc (NAN without a validation set) */
    double last5_val;    /* mean val_acc of the last min(5, rows) rows (NAN without) */
    double total_seconds; /* sum of seconds */
    double final_tta;    /* tta_test_acc of the last row (--tta; NAN without) */
} run_stats;

/* What became of a run, from its directory: "running 3/6" (a trainer holds
 * its lock), "finished" (model.safetensors there and every epoch in
 * metrics.csv), "diverged 2/6" (train wrote diverged.txt, and no checkpoint since: a
 * resume that got further and stopped is stopped), "stopped 3/6" (a
 * checkpoint to resume from), else "failed" (settings but no checkpoint: it
 * ended before its first one, or a run made by hand). A seed-format log:
 * "diverged" when a training loss is NaN, Inf or above 1e4, else
 * "finished". Writes into buf and returns it. */
const char *rundir_status(char *buf, size_t cap, const rundir *r);

/* -1 when the run has no rows yet. */
int rundir_stats(run_stats *s, const rundir *r);

/* The length of the group name: "base-s3" -> 4 ("base"), a name without a
 * trailing -s<digits> -> its whole length. Runs group when their group
 * names are equal. */
size_t rundir_group_len(const char *name);

/* Seed groups: runs NAME-s<k> in the same parent directory form one group;
 * every other run is a group of its own. Fills group[i] for run i with
 * 0..count-1, numbered in order of first appearance; returns count. */
int rundir_group(int *group, const rundir *runs, int n);

#endif
