/* cli/schedule.c: `lrlab schedule`: computes a learning-rate schedule without
 * training and prints one line per epoch (or optimiser step): `<t> <lr>`,
 * t from 0, lr with %.17g, plus the momentum with --momentum where the
 * schedule cycles it; --plot draws lr against t with gnuplot.
 *
 * The time loop is the trainer's: lr(t) is read, then the schedule steps.
 * ReduceLROnPlateau (anything that needs a metric) steps once per epoch even
 * in step mode, fed one --metrics value per epoch. Not here: the schedules
 * themselves (src/sched). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/sched.h"

#define MAX_LINES 10000000L

static void usage(FILE *f) {
    fprintf(f,
            "usage: lrlab schedule --lr B --epochs N [--sched EXPR] [--sched-unit epoch|step]\n"
            "                      [--steps-per-epoch K] [--metrics v0,v1,...] [--momentum M] [--plot FILE.png]\n"
            "\n"
            "Prints the lr PyTorch would use in each epoch (or optimiser step): `<t> <lr>`, t from 0.\n"
            "  --lr B               the optimiser's lr (base lr)\n"
            "  --epochs N           epochs to print\n"
            "  --sched EXPR         a torch.optim.lr_scheduler class in PyTorch syntax, e.g.\n"
            "                       'StepLR(step_size=16, gamma=0.2)' (default: constant lr); see docs/schedules.md\n"
            "  --sched-unit U       epoch (default): t counts epochs; step: t counts optimiser steps\n"
            "  --steps-per-epoch K  optimiser steps in an epoch, in step mode (default 390: CIFAR-10, batch 128)\n"
            "  --metrics LIST       ReduceLROnPlateau's metric, one value per epoch (the last epoch's is unused)\n"
            "  --momentum M         SGD's momentum; adds a momentum column where the schedule cycles it\n"
            "  --plot FILE.png      also draw lr against t (needs gnuplot)\n");
}

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "lrlab schedule: %s%s%s%s\n", msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    fprintf(stderr, "(lrlab schedule --help for the flags)\n");
    return 2;
}

/* The lr (and the momentum, on the right axis) against t, as steps: the lr of t holds from t to
 * t + 1. A linear lr axis, as PyTorch's documentation draws schedules, unless the lr spends half
 * the time 10x or more below its peak (decays by 0.1): then a log axis, or the tail looks like 0. */
static int plot(const char *file, const char *expr, const char *unit, long n, const double *lr, const double *mom,
                lr_error *err) {
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) return lr_fail(err, "out of memory");
    double lo = INFINITY, hi = -INFINITY;
    long low = 0;
    for (long t = 0; t < n; t++) lo = fmin(lo, lr[t]), hi = fmax(hi, lr[t]);
    for (long t = 0; t < n; t++) low += lr[t] <= hi / 10 * (1 + 1e-9);
    fputs("set title ", f);
    figure_title(f, expr[0] ? expr : "constant lr", 900);
    fputs("\nset ylabel 'lr'\nset grid\nset key outside top center horizontal Left reverse width 2 samplen 3\n", f);
    figure_epoch_axis(f, n, unit);
    if (2 * low >= n) figure_lr_axis(f, 'y', lo, hi);
    else figure_range(f, "y", 0, hi);
    if (mom) {
        double mlo = INFINITY, mhi = -INFINITY;
        for (long t = 0; t < n; t++) mlo = fmin(mlo, mom[t]), mhi = fmax(mhi, mom[t]);
        fprintf(f, "set y2label 'momentum'\nset y2tics\nset ytics nomirror\n");
        figure_range(f, "y2", mlo, mhi);
    }
    fprintf(f, "$d << EOD\n");
    for (long t = 0; t <= n; t++) { /* one more row: the last step's end */
        long u = t < n ? t : n - 1;
        if (mom) fprintf(f, "%ld %.17g %.17g\n", t, lr[u], mom[u]);
        else fprintf(f, "%ld %.17g\n", t, lr[u]);
    }
    fprintf(f, "EOD\n");
    char style[128];
    fprintf(f, "plot $d using 1:2 with steps lw 2 %s title 'lr'", figure_style(style, sizeof style, 0, 0, 0));
    if (mom) fprintf(f, ", $d using 1:3 axes x1y2 with steps lw 1.5 %s title 'momentum'", figure_style(style, sizeof style, 1, 0, 0));
    fputc('\n', f);
    fclose(f);
    int rc = figure_render(file, 900, 500, body, err);
    free(body);
    return rc;
}

int cli_schedule(int argc, char **argv) {
    const char *lr_s = NULL, *epochs_s = NULL, *expr = "", *unit = "epoch", *spe_s = "390", *metrics_s = NULL,
               *momentum_s = NULL, *plot_file = NULL;
    const cli_opt opts[] = {{"--lr", &lr_s, NULL},         {"--epochs", &epochs_s, NULL},
                            {"--sched", &expr, NULL},       {"--sched-unit", &unit, NULL},
                            {"--steps-per-epoch", &spe_s, NULL}, {"--metrics", &metrics_s, NULL},
                            {"--momentum", &momentum_s, NULL}, {"--plot", &plot_file, NULL},
                            {NULL, NULL, NULL}};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        int m = cli_take(argc, argv, &i, opts, "schedule");
        if (m < 0) return 2;
        if (!m) return cli_unknown("schedule", argv[i], opts, 0);
    }
    lr_error err;
    double lr, momentum = 0.0;
    long epochs, spe = 1;
    if (!lr_s) return usage_error("--lr is required (the optimiser's lr)", NULL);
    if (!epochs_s) return usage_error("--epochs is required", NULL);
    if (lr_parse_double(&lr, lr_s, 0, 1e6, "--lr", &err) || lr_parse_long(&epochs, epochs_s, 1, 10000000, "--epochs", &err) ||
        (momentum_s && lr_parse_double(&momentum, momentum_s, 0, 1e6, "--momentum", &err)))
        return cli_error("schedule", &err, 2);
    int unit_step;
    if (!strcmp(unit, "epoch")) unit_step = 0;
    else if (!strcmp(unit, "step")) unit_step = 1;
    else return usage_error("--sched-unit must be epoch or step, got", unit);
    if (lr_parse_long(&spe, spe_s, 1, 10000000, "--steps-per-epoch", &err)) return cli_error("schedule", &err, 2);
    long k_steps = unit_step ? spe : 1; /* lines per epoch */
    if (epochs > MAX_LINES / k_steps)
        return usage_error("too many lines: --epochs times --steps-per-epoch must be at most 10000000", NULL);
    long n = epochs * k_steps;
    int bad = plot_file ? figure_check(plot_file, "--plot", 1, &err) : 0;
    if (bad) return cli_error("schedule", &err, bad);

    sched_context ctx = {lr, momentum, (int)epochs, (int)spe, unit_step, 1, SCHED_CYCLE_MOMENTUM, 0, 0, 0}; /* prints lr(t), no step after the last */
    lr_sched *s;
    if (sched_parse(&s, expr, &ctx, &err)) return cli_error("schedule", &err, 2);
    if (sched_warning(s)) fprintf(stderr, "lrlab schedule: warning: %s\n", sched_warning(s));
    int needs_metric = sched_needs_metric(s);
    double *metrics = NULL;
    long n_metrics = 0;
    if (needs_metric) {
        if (!metrics_s) {
            sched_free(s);
            return usage_error("this schedule needs a metric per epoch (ReduceLROnPlateau): give --metrics v0,v1,...", NULL);
        }
        metrics = calloc((size_t)epochs + 1, sizeof *metrics);
        if (!metrics) {
            sched_free(s);
            fprintf(stderr, "lrlab schedule: out of memory\n");
            return 1;
        }
        const char *p = metrics_s;
        while (*p && n_metrics <= epochs) {
            size_t len = strcspn(p, ",");
            char item[64];
            snprintf(item, sizeof item, "%.*s", (int)(len < 63 ? len : 63), p);
            if (lr_parse_double(&metrics[n_metrics], item, -1e300, 1e300, "--metrics", &err)) {
                free(metrics);
                sched_free(s);
                return cli_error("schedule", &err, 2);
            }
            n_metrics++;
            p += len;
            if (*p == ',') p++;
        }
        if (n_metrics < epochs - 1) {
            fprintf(stderr,
                    "lrlab schedule: --metrics has %ld values; ReduceLROnPlateau needs one per epoch "
                    "(at least %ld for %ld epochs: the last epoch's is not used)\n",
                    n_metrics, epochs - 1, epochs);
            free(metrics);
            sched_free(s);
            return 2;
        }
    }

    int show_m = momentum_s != NULL && sched_cycles_momentum(s);
    double *lrs = calloc((size_t)n, sizeof *lrs);
    double *moms = calloc((size_t)n, sizeof *moms);
    if (!lrs || !moms) {
        fprintf(stderr, "lrlab schedule: out of memory for %ld lines\n", n);
        free(lrs), free(moms), free(metrics), sched_free(s);
        return 1;
    }
    int rc = 0;
    for (long t = 0; t < n; t++) {
        lrs[t] = sched_lr(s);
        moms[t] = sched_momentum(s);
        if (t == n - 1) break;
        int epoch_end = (t + 1) % k_steps == 0;
        if (needs_metric) {
            /* per epoch, even in step mode: the trainer does the same */
            if (epoch_end && sched_step(s, metrics[(t + 1) / k_steps - 1], &err)) rc = 2;
        } else if (sched_step(s, 0.0, &err)) {
            rc = 2;
        }
        if (rc) {
            fprintf(stderr, "lrlab schedule: at %s %ld: %s\n", unit_step ? "step" : "epoch", t + 1, err.msg);
            break;
        }
    }
    if (!rc) {
        for (long t = 0; t < n; t++) {
            if (show_m) printf("%ld %.17g %.17g\n", t, lrs[t], moms[t]);
            else printf("%ld %.17g\n", t, lrs[t]);
        }
        if (fflush(stdout) != 0) rc = 1;
    }
    if (!rc && plot_file && plot(plot_file, expr, unit_step ? "step" : "epoch", n, lrs, show_m ? moms : NULL, &err))
        rc = cli_error("schedule", &err, 1);
    free(lrs);
    free(moms);
    free(metrics);
    sched_free(s);
    return rc;
}
