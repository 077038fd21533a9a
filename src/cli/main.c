/* cli/main.c: `lrlab VERB [flags]`: dispatches to one file per verb. */
#define _DEFAULT_SOURCE
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

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
    {"plot", cli_plot, "plot runs' curves into a PNG or SVG (gnuplot)"},
    {"report", cli_report, "print a Markdown table of runs"},
    {"eval", cli_eval, "test accuracy, per-class accuracy and confusion matrix of weights"},
    {"find-lr", cli_find_lr, "learning-rate range test: suggest a starting lr"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab VERB [flags]   (lrlab VERB --help for a verb's flags)\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(f, "  %-9s %s\n", verbs[i].name, verbs[i].help);
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
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(argv[1], verbs[i].name)) return verbs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lrlab: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
