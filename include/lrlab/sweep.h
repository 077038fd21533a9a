/* lrlab/sweep.h: sweep files, the list of named `lrlab train` runs that
 * `lrlab sweep` executes (format: docs/sweeps.md). This is the parser and
 * the flag resolution only: which flags each run gets, with placeholders
 * such as {epochs} filled in and every value checked through config_set
 * and the schedule parser. It starts no process and touches no run
 * directory; that is the CLI's job (src/cli/sweep.c). */
#ifndef LRLAB_SWEEP_H
#define LRLAB_SWEEP_H

#include <stddef.h>

#include "lrlab/common.h"
#include "lrlab/config.h"

#define SWEEP_NAME_MAX 64

/* One `--key value` setting as written; line 0 means the command line. */
typedef struct {
    char *key;   /* without "--", as written ("weight-decay", "no-augment") */
    char *value; /* NULL for a switch given without a value */
    int line;
} sweep_flag;

typedef struct {
    sweep_flag *flags;
    int n, cap;
} sweep_flags;

typedef struct {
    char name[SWEEP_NAME_MAX];
    int line; /* of its `run` directive */
    sweep_flags flags;
} sweep_run;

typedef struct {
    char path[1024];              /* for messages: "experiments/seed.sweep:7: ..." */
    char name[SWEEP_NAME_MAX];    /* `sweep NAME`, else the file name without .sweep */
    sweep_flags defaults;         /* every `defaults` line, in order */
    sweep_run *runs;
    int n_runs;
    sweep_flags space;            /* a space file's `space` lines (lrlab tune; values are ranges) */
    int is_space;                 /* parsed as a space file: `space` lines, no `run` lines */
} sweep_file;

/* Parses a sweep file's text (len bytes; need not be NUL-terminated).
 * `path` is used in messages and for the default name. Checks the syntax,
 * the names, and each run's flags (defaults, then its own) through
 * config_set and sched_parse, so a bad value is reported with its line
 * before anything runs. On failure s is left empty (sweep_free is safe). */
int sweep_parse(sweep_file *s, const char *text, size_t len, const char *path, lr_error *err);
/* Reads and parses a file. */
int sweep_load(sweep_file *s, const char *path, lr_error *err);
/* A space file for `lrlab tune` (docs/tools.md): the same syntax, with
 * `space FLAGS...` lines (values are ranges, checked by tune/space.c) in
 * place of `run` lines; `defaults` are its fixed settings. No run is
 * resolved here. */
int sweep_load_space(sweep_file *s, const char *path, lr_error *err);
int sweep_parse_space(sweep_file *s, const char *text, size_t len, const char *path, lr_error *err);
void sweep_free(sweep_file *s);

/* Index of the run called name, or -1. */
int sweep_find_run(const sweep_file *s, const char *name);

/* Splits command-line arguments into settings (appended to out, line 0).
 * Each argv[i] must be a setting's flag (config_take_arg's syntax: "--lr
 * 0.1", "--lr=0.1", "--nesterov", "--no-augment"); "--out" is refused
 * (the sweep places each run). Values are checked when a run resolves. */
int sweep_flags_from_argv(sweep_flags *out, int argc, char **argv, lr_error *err);
int sweep_flags_add(sweep_flags *f, const char *key, const char *value, int line, lr_error *err);
void sweep_flags_free(sweep_flags *f);

/* Steps per epoch as the trainer will count them: floor((N - val) / batch)
 * with N = limit_train, or the training images the data set holds (config_train_images) when it is 0. */
long sweep_steps_per_epoch(const train_config *c);

/* The flags of run i, in the order `lrlab train` must get them: the
 * defaults, the run's own flags, then `extra` (command-line overrides; may
 * be NULL). Later flags win. Placeholders {epochs}, {steps_per_epoch},
 * {total_steps} and {lr} in values are replaced by the effective settings'
 * numbers (after every override; {lr} as the shortest text that reads back
 * as the same double). `out` receives the resolved flags (caller frees
 * with sweep_flags_free), `cfg` the effective settings; either may be NULL.
 * Errors name the sweep file and line (or the command-line flag). */
int sweep_resolve(const sweep_file *s, int i, const sweep_flags *extra, sweep_flags *out,
                  train_config *cfg, lr_error *err);

#endif
