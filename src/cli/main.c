/* cli/main.c: `lrlab VERB [flags]`: dispatches to one file per verb;
 * `lrlab help [VERB]`, `lrlab --version` (also `lrlab version`): the
 * Makefile's VERSION and, when built from git, `git describe`. */
#define _DEFAULT_SOURCE
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#ifndef LRLAB_VERSION
#define LRLAB_VERSION "unknown" /* built without the Makefile */
#endif

static char self_path[PATH_MAX];

const char *cli_self_path(void) { return self_path; }

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} verbs[] = {
    {"train", cli_train, "train a model (the seed's VGG on CIFAR-10 by default)"},
    {"summary", cli_summary, "print a model's layers, output shapes and parameter counts"},
    {"bench", cli_bench, "time training steps on synthetic data"},
    {"schedule", cli_schedule, "print a learning-rate schedule without training"},
    {"sweep", cli_sweep, "run the named runs of a sweep file"},
    {"tune", cli_tune, "search a space of settings with successive halving (ASHA)"},
    {"plot", cli_plot, "plot runs' curves into a PNG or SVG (gnuplot)"},
    {"report", cli_report, "print a Markdown table of runs"},
    {"eval", cli_eval, "test accuracy, per-class accuracy and confusion matrix of weights"},
    {"find-lr", cli_find_lr, "learning-rate range test: suggest a starting lr"},
    {"data", cli_data, "data stats: a data set's shape, classes, channel means and stds"},
};

#define N_VERBS (int)(sizeof verbs / sizeof verbs[0])

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab VERB [flags]   (lrlab help VERB or lrlab VERB --help: a verb's flags)\n"
               "       lrlab --version\n\nverbs:\n");
    for (int i = 0; i < N_VERBS; i++) fprintf(f, "  %-9s %s\n", verbs[i].name, verbs[i].help);
    fprintf(f, "\nexit status: 0 ok, 1 error (a file, the data, a run failed), 2 usage or schedule error,\n"
               "3 training diverged, 130 stopped by a signal (checkpoint written): docs/tools.md\n");
}

static int find_verb(const char *name) {
    for (int i = 0; i < N_VERBS; i++)
        if (!strcmp(name, verbs[i].name)) return i;
    return -1;
}

static int unknown_verb(const char *name) {
    const char *names[N_VERBS + 3];
    for (int i = 0; i < N_VERBS; i++) names[i] = verbs[i].name;
    names[N_VERBS] = "help", names[N_VERBS + 1] = "version", names[N_VERBS + 2] = NULL;
    const char *near = lr_nearest(name, (int)strlen(name), names, 3);
    fprintf(stderr, "lrlab: unknown verb '%s'%s%s%s\n\n", name, near ? " (did you mean " : "", near ? near : "",
            near ? "?)" : "");
    usage(stderr);
    return 2;
}

/* How OpenMP threads wait for each other (at the end of a parallel region,
 * and for the next one): libgomp's default spins 300,000 rounds first,
 * which on a machine whose cores others hold takes the core that the
 * thread being waited for needs (a 2-thread epoch took 409 s instead of 33 s
 * under load). lrlab spins WAIT_SPINCOUNT rounds, enough to bridge the gaps
 * between the primitives of a training step, then sleeps (BENCHMARKS.md
 * "On a busy machine"). libgomp reads its settings once, before main, so
 * they are set by running this program again with them in the environment;
 * a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT is left alone. */
#define WAIT_SPINCOUNT "1000"

static void set_wait_policy(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    /* under valgrind /proc/self/exe is valgrind's tool, and a new program would run outside it */
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) return;
    if (setenv("GOMP_SPINCOUNT", WAIT_SPINCOUNT, 1)) return;
    execv("/proc/self/exe", argv);
    /* no /proc: run on with libgomp's default (the environment now says otherwise: unset it) */
    unsetenv("GOMP_SPINCOUNT");
}

int main(int argc, char **argv) {
    set_wait_policy(argv);
    /* Large buffers (activations, oneDNN's timing runs at start-up) come
     * from mmap and go back to the system when freed; glibc's default
     * raises this threshold after the first free and keeps them instead,
     * which doubled the peak resident memory. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n > 0) self_path[n] = '\0';
    else snprintf(self_path, sizeof self_path, "%s", argv[0]);
    if (argc < 2) { usage(stderr); return 2; }
    const char *verb = argv[1];
    if (!strcmp(verb, "--version") || !strcmp(verb, "version")) {
        printf("lrlab %s\n", LRLAB_VERSION);
        return 0;
    }
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
        if (argc < 3 || !strcmp(argv[2], "help")) {
            usage(stdout);
            return 0;
        }
        int k = find_verb(argv[2]);
        if (k < 0) return unknown_verb(argv[2]);
        char *help_argv[] = {argv[2], "--help", NULL};
        return verbs[k].run(2, help_argv);
    }
    int k = find_verb(verb);
    if (k < 0) return unknown_verb(verb);
    return verbs[k].run(argc - 1, argv + 1);
}
