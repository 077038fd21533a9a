/* cli/train.c: `lrlab train [flags]` and `lrlab train --resume RUN_DIR`.
 * Parses the flags into a train_config (lrlab/config.h), installs the
 * SIGINT/SIGTERM handler that asks the trainer to checkpoint and stop (a
 * second signal kills at once: the checkpoint on disk is whole either way),
 * and maps the outcome to the exit status: 0 done (or stopped as asked by
 * --stop-at-step), 1 error, 2 usage, 3 diverged, 130 stopped by SIGINT or
 * SIGTERM with the checkpoint written. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lrlab/train.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab train [flags]\n       lrlab train --resume RUN_DIR\n\n"
               "Trains a model on CIFAR-10 as the seed's PyTorch program does (defaults: the seed's\n"
               "VGG, SGD lr 0.01 momentum 0.9 weight decay 5e-4, batch 128, 30 epochs).\n\nflags:\n");
    config_print_help(f);
    fprintf(f, "  --resume DIR     continue the run in DIR from its last checkpoint (no other flags needed)\n"
               "  --stop-at-step N checkpoint and exit 0 once the run has done N optimiser steps in all\n"
               "                   (continue later with --resume; also allowed with --resume)\n"
               "  --retune         time the convolution algorithms again (--conv-algo auto) and keep the\n"
               "                   new choice in the per-user cache for later runs (docs/resilience.md)\n");
}

int cli_train(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* epoch lines reach a log file as they happen */
    train_config cfg;
    config_defaults(&cfg);
    lr_error err;
    const char *resume = NULL;
    long stop_at_step = 0;
    int n_set = 0, retune = 0;
    for (int i = 1; i < argc;) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--resume")) {
            if (i + 1 >= argc) return fprintf(stderr, "lrlab train: --resume: missing RUN_DIR\n"), 2;
            resume = argv[i + 1];
            i += 2;
            continue;
        }
        if (!strcmp(argv[i], "--retune")) {
            retune = 1, i++;
            continue;
        }
        if (!strcmp(argv[i], "--stop-at-step")) {
            if (i + 1 >= argc) return fprintf(stderr, "lrlab train: --stop-at-step: missing N\n"), 2;
            if (lr_parse_long(&stop_at_step, argv[i + 1], 1, 1000000000000L, "--stop-at-step", &err))
                return cli_error("train", &err, 2);
            i += 2;
            continue;
        }
        int rc = config_take_arg(&cfg, argc, argv, &i, &err);
        if (rc < 0) return cli_error("train", &err, 2);
        if (rc == 0) {
            fprintf(stderr, "lrlab train: unknown flag '%s' (lrlab train --help lists them)\n", argv[i]);
            return 2;
        }
        n_set++;
    }
    if (resume) {
        if (n_set || retune) {
            fprintf(stderr, "lrlab train: --resume takes its settings from %s/%s; give no other flags\n", resume, RUN_CONFIG);
            return 2;
        }
        char path[1200];
        struct stat sb;
        if (stat(resume, &sb) || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "lrlab train: --resume %s: no such run directory\n", resume);
            return 2;
        }
        snprintf(path, sizeof path, "%s/%s", resume, RUN_CONFIG);
        if (access(path, F_OK) != 0) {
            fprintf(stderr, "lrlab train: --resume %s: no %s there: not an lrlab run directory\n", resume, RUN_CONFIG);
            return 2;
        }
        config_defaults(&cfg);
        if (config_read(&cfg, path, &err)) return cli_error("train", &err, 2);
        snprintf(cfg.out, sizeof cfg.out, "%s", resume);
    }
    char warning[512];
    if (config_check(&cfg, warning, sizeof warning, &err)) return cli_error("train", &err, 2);
    if (warning[0]) fprintf(stderr, "lrlab train: warning: %s\n", warning);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* the second Ctrl-C is the default action */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    train_options opt = {.log = stdout, .progress = isatty(STDERR_FILENO),
                         .model_search = cli_search_dirs("models"), .stop = &stop_requested,
                         .resume = resume != NULL, .stop_at_step = stop_at_step, .retune = retune};
    int rc = train_run(&cfg, &opt, &err);
    switch (rc) {
    case TRAIN_OK: return 0;
    case TRAIN_DIVERGED: return cli_error("train", &err, 3);
    case TRAIN_STOPPED:
        if (!stop_requested) { /* --stop-at-step: done as asked */
            fprintf(stderr, "lrlab train: %s\n", err.msg);
            return 0;
        }
        return cli_error("train", &err, 130); /* also for SIGTERM: lrlab sweep counts 130 as stopped */
    default: return cli_error("train", &err, 1);
    }
}
