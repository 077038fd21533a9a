/* cli/train.c: `lrlab train [flags]` and `lrlab train --resume RUN_DIR`.
 * Parses the flags into a train_config (lrlab/config.h), picks a new
 * runs/DATE-TIME when no --out is given (and says so), installs the
 * SIGINT/SIGTERM handler that asks the trainer to checkpoint and stop (a
 * second signal kills at once: the checkpoint on disk is whole either way),
 * and maps the outcome to the exit status: 0 done (or stopped as asked by
 * --stop-at-step or --stop-at-epoch), 1 error, 2 usage or schedule error, 3 diverged, 130
 * stopped by SIGINT or SIGTERM with the checkpoint written. Under mpirun
 * (lrlab/dist.h) every rank runs this; rank 0 alone prints, unless a rank
 * fails on its own, which then prints its message and ends the job. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lrlab/dist.h"
#include "lrlab/io.h"
#include "lrlab/train.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab train [flags]\n       lrlab train --resume RUN_DIR\n\n"
               "Trains a model on CIFAR-10 as the seed's PyTorch program does (defaults: the seed's\n"
               "VGG, SGD lr 0.01 momentum 0.9 weight decay 5e-4, batch 128, 30 epochs). Without --out\n"
               "the run goes to a new directory runs/DATE-TIME. Flags take `--flag VALUE` or `--flag=VALUE`.\n\nflags:\n");
    config_print_help(f, NULL, NULL);
    fprintf(f, "  --resume DIR         continue the run in DIR from its last checkpoint (no other flags needed)\n"
               "  --stop-at-step N     checkpoint and exit 0 once the run has done N optimiser steps in all\n"
               "                       (continue later with --resume; also allowed with --resume)\n"
               "  --stop-at-epoch N    exit 0 once N epochs are done, each evaluated and checkpointed (a run\n"
               "                       already past N stops at once; also allowed with --resume)\n"
               "  --retune             time the convolution algorithms again (--conv-algo auto) and keep the\n"
               "                       new choice in the per-user cache for later runs (docs/resilience.md)\n"
               "  --profile            where the time goes: forward and backward per layer, loss, optimiser, data\n"
               "                       wait, evaluation; a table at the end and DIR/profile.csv (docs/tools.md;\n"
               "                       also allowed with --resume; the weights do not change)\n"
               "exit status: 0 done, 1 error, 2 usage error (a flag, a schedule), 3 diverged,\n"
               "130 stopped by SIGINT/SIGTERM with the checkpoint written\n");
}

/* No --out: a new directory runs/YYYYmmdd-HHMMSS (-2, -3, ... when taken:
 * mkdir is atomic, so two runs started in the same second get two). */
static int default_out(char *out, size_t cap, int *made_parent, lr_error *err) {
    char stamp[32];
    time_t t = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
    *made_parent = access("runs", F_OK) != 0;
    if (make_dirs("runs", "--out", err)) return -1;
    for (int k = 1; k < 1000; k++) {
        if (k == 1) snprintf(out, cap, "runs/%s", stamp);
        else snprintf(out, cap, "runs/%s-%d", stamp, k);
        if (mkdir(out, 0777) == 0) return 0;
        if (errno != EEXIST) return lr_fail(err, "--out %s: cannot create: %s", out, strerror(errno));
    }
    return lr_fail(err, "runs/%s: 999 runs started this second; give --out", stamp);
}

/* The exit status of train_run's outcome, with its message (rank 0, or a
 * rank that failed alone: quiet stays quiet). */
static int outcome(int rc, const train_config *cfg, lr_error *err, int quiet) {
    switch (rc) {
    case TRAIN_OK:
        if (!quiet) printf("lrlab train: the weights are in %s/%s (lrlab eval %s)\n", cfg->out, RUN_WEIGHTS, cfg->out);
        return 0;
    case TRAIN_BAD_SCHED: return quiet ? 2 : cli_error("train", err, 2); /* as lrlab schedule and sweep */
    case TRAIN_DIVERGED: return quiet ? 3 : cli_error("train", err, 3);
    case TRAIN_STOPPED:
        if (!stop_requested) { /* --stop-at-step or --stop-at-epoch: done as asked */
            if (!quiet) fprintf(stderr, "lrlab train: %s\n", err->msg);
            return 0;
        }
        return quiet ? 130 : cli_error("train", err, 130); /* also for SIGTERM: lrlab sweep counts 130 as stopped */
    case TRAIN_PEER_FAILED: return 1; /* the rank that failed says why, then ends the job */
    default: return cli_error("train", err, 1);
    }
}

int cli_train(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* epoch lines reach a log file as they happen */
    train_config cfg;
    config_defaults(&cfg);
    lr_error err;
    const char *resume = NULL, *stop_s = NULL, *stop_epoch_s = NULL;
    long stop_at_step = 0, stop_at_epoch = 0;
    int n_set = 0, retune = 0, profile = 0;
    const cli_opt opts[] = {{"--resume", &resume, NULL}, {"--stop-at-step", &stop_s, NULL}, {"--retune", NULL, &retune},
                            {"--stop-at-epoch", &stop_epoch_s, NULL}, {"--profile", NULL, &profile},
                            {NULL, NULL, NULL}};
    for (int i = 1; i < argc;) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        int rc = cli_take(argc, argv, &i, opts, "train");
        if (rc < 0) return 2;
        if (rc > 0) {
            i++;
            continue;
        }
        rc = config_take_arg(&cfg, argc, argv, &i, &err);
        if (rc < 0) return cli_error("train", &err, 2);
        if (rc == 0) return cli_unknown("train", argv[i], opts, 1);
        n_set++;
    }
    if (stop_s && lr_parse_long(&stop_at_step, stop_s, 1, 1000000000000L, "--stop-at-step", &err))
        return cli_error("train", &err, 2);
    if (stop_epoch_s && lr_parse_long(&stop_at_epoch, stop_epoch_s, 1, 1000000000L, "--stop-at-epoch", &err))
        return cli_error("train", &err, 2);
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
    if (!resume) cli_default_data(&cfg);
    int made = 0, made_parent = 0, launch_rank, ranks;
    dist_launch_rank(&launch_rank, &ranks);
    if (!cfg.out[0] && ranks > 1) {
        fprintf(stderr, "lrlab train: %d ranks (mpirun, srun): give --out DIR, the same for every rank\n", ranks);
        return 2;
    }
    if (!cfg.out[0]) {
        if (default_out(cfg.out, sizeof cfg.out, &made_parent, &err)) return cli_error("train", &err, 1);
        made = 1;
        printf("lrlab train: no --out: this run goes to %s\n", cfg.out);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* the second Ctrl-C is the default action */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (dist_init(&argc, &argv, &err)) return cli_error("train", &err, 1);
    int rank = dist_rank();
    train_options opt = {.log = rank ? NULL : stdout, .progress = !rank && isatty(STDERR_FILENO),
                         .model_search = cli_search_dirs("models"), .stop = &stop_requested,
                         .resume = resume != NULL, .stop_at_step = stop_at_step, .retune = retune,
                         .stop_at_epoch = stop_at_epoch, .profile = profile};
    int rc = train_run(&cfg, &opt, &err);
    /* a default directory that the run left empty: removed again, with runs/ when this command made it */
    if (made && rc != TRAIN_OK) remove_empty_dirs(cfg.out, made_parent ? "runs" : cfg.out);
    /* every rank reaches these together (decided on summed values); an error may be one rank's alone */
    int together = rc == TRAIN_OK || rc == TRAIN_DIVERGED || rc == TRAIN_STOPPED || rc == TRAIN_PEER_FAILED;
    int status = outcome(rc, &cfg, &err, rank && together);
    fflush(stdout);
    dist_finish(status, together);
    return status;
}
