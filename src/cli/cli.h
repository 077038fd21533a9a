/* cli/cli.h: one function per verb of the `lrlab` program. Each takes the
 * verb's own argc/argv (argv[0] is the verb) and returns the exit status:
 * 0 ok, 1 runtime failure, 2 usage error, 3 training diverged. */
#ifndef LRLAB_CLI_H
#define LRLAB_CLI_H

int cli_train(int argc, char **argv);
int cli_summary(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_schedule(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_plot(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_find_lr(int argc, char **argv);
int cli_tune(int argc, char **argv);
int cli_data(int argc, char **argv);

/* The program's own path (argv[0] resolved through /proc/self/exe), for
 * finding models/ and experiments/ beside the executable, and for sweep's
 * child processes. */
const char *cli_self_path(void);



#include <stdio.h>

#include "lrlab/common.h"
#include "lrlab/config.h"

/* Directories to search for models ("models"), sweep files ("experiments")
 * or the data ("data"): SUB, EXE_DIR/../SUB, EXE_DIR/../share/lrlab/SUB. */
const char *const *cli_search_dirs(const char *sub);

/* --data not given: the format's default (dataset_default_path); a default
 * under data/ that is not here is taken beside the executable, where there
 * is one (a build tree's data/), so that the program works from any directory. */
void cli_default_data(train_config *c);
/* cli/figure.c: the gnuplot figures of plot, schedule --plot and find-lr --plot.
 * figure_check: before any work, the target (FLAG names the flag): a name
 * ending in .png or .svg (else 2, a usage error), not a directory, in a
 * directory that exists and is writable, and gnuplot on PATH if need_gnuplot
 * (else 1); 0 when fine. figure_render: gnuplot draws body (after the
 * terminal line) into FILE.tmp beside `out`, renamed over `out` on success;
 * never to stdout; gnuplot's error becomes err. The rest write parts of a
 * script: a '...' string; a title wrapped to fit `width` pixels; x from 0 to
 * n with integer ticks; a padded linear range of an axis ("x", "y", "y2") for
 * values in [lo, hi]; an lr axis: logarithmic with readable ticks when lo >
 * 0 and hi >= 10 lo (returns 1), else linear from 0 (returns 0); the line style of curve k (a colour, a dash
 * pattern (and a point type if `points`) distinct for the first 40
 * curves, dashed patterns for a log's curve). */
int figure_check(const char *out, const char *flag, int need_gnuplot, lr_error *err);
int figure_render(const char *out, int width, int height, const char *body, lr_error *err);
void figure_quote(FILE *f, const char *s);
int figure_title(FILE *f, const char *text, int width); /* returns its lines */
void figure_epoch_axis(FILE *f, long n, const char *label);
void figure_range(FILE *f, const char *axis, double lo, double hi);
int figure_lr_axis(FILE *f, char axis, double lo, double hi);
const char *figure_style(char *buf, size_t cap, int k, int dashed, int points);
const char *figure_colour(int k); /* curve k's colour, "#rrggbb" */

/* A verb's own flag: "--out" with the value's slot, or a switch ("--list")
 * with value NULL and `on` set to 1 when given. Tables end with {NULL}. */
typedef struct {
    const char *name;
    const char **value;
    int *on;
} cli_opt;

/* Matches argv[*i] against opts, as "NAME VALUE" or "NAME=VALUE": returns 1
 * (the value stored, *i on the last word used), 0 when it is none of them,
 * -1 when the value is missing (message printed: the caller exits 2). */
int cli_take(int argc, char **argv, int *i, const cli_opt *opts, const char *verb);

/* "lrlab VERB: unknown flag 'ARG' (did you mean --x? lrlab VERB --help lists
 * them)" to stderr; returns 2. The candidates: opts' names and, when
 * settings is 1, every train setting's flag. */
int cli_unknown(const char *verb, const char *arg, const cli_opt *opts, int settings);

/* Prints "lrlab VERB: message" to stderr and returns code. */
int cli_error(const char *verb, const lr_error *err, int code);
#endif
