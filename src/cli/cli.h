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

/* The program's own path (argv[0] resolved through /proc/self/exe), for
 * finding models/ and experiments/ beside the executable, and for sweep's
 * child processes. */
const char *cli_self_path(void);



#include "lrlab/common.h"

/* Directories to search for models ("models") or sweep files ("experiments"). */
const char *const *cli_search_dirs(const char *sub);
/* Prints "lrlab VERB: message" to stderr and returns code. */
int cli_error(const char *verb, const lr_error *err, int code);
#endif
