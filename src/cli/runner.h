/* cli/runner.h: child `lrlab train` processes, for `lrlab sweep` and
 * `lrlab tune`: argv words from resolved flags, the command as a shell
 * would need it (for logs and --dry-run), the fork + exec of a child with
 * its console output appended to a log, and the log's last line (the
 * child's error). No shell is involved. */
#ifndef LRLAB_CLI_RUNNER_H
#define LRLAB_CLI_RUNNER_H

#include <stdio.h>
#include <sys/types.h>

#include "lrlab/common.h"
#include "lrlab/sweep.h"

/* argv words for the flags: "--key" "value", or "--key=value" for a switch
 * given a value. NULL on out of memory; free with runner_words_free. */
char **runner_flag_words(const sweep_flags *f, int *count);
void runner_words_free(char **w, int n);

/* "lrlab WORD..." for av[1..], each word quoted as a shell needs it. */
void runner_print_command(FILE *f, char *const *av);

/* Starts av (av[0]: this program) with stdin from /dev/null and stdout and
 * stderr appended to log, after a line "# lrlab WHO, DATE: COMMAND". The
 * child gets its own process group (a terminal's Ctrl-C reaches only the
 * parent, which passes it on) and SIGTERM when the parent dies (it
 * checkpoints and stops). 0 with *pid; -1 with err (nothing started). */
int runner_spawn(const char *who, char *const *av, const char *log, pid_t *pid, lr_error *err);

/* The log's last non-empty line (a progress bar's last frame): usually the child's error. */
void runner_last_line(const char *path, char *out, size_t cap);

#endif
