/* cli/plot.c: `lrlab plot RUN_DIR... -o FILE.png|FILE.svg [--title T] [--band sd|ci|none]`: one
 * figure of three panels against epoch (test accuracy, training loss, the
 * lr as steps, on a log scale when it spans a factor of 10), one line per
 * run labelled by the run directory's name, one legend for the figure. Runs
 * NAME-s<k> of one directory (sweep --seeds) are one line, the mean over
 * seeds, with a shaded band of ± one sample standard deviation (--band ci:
 * the 95% t interval of the mean, core/stats.c; --band none: no band).
 *
 * Not here: reading runs (io/runs.c); running gnuplot and the figures'
 * common style (cli/figure.c). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/runs.h"
#include "lrlab/stats.h"


static void usage(FILE *f) {
    fprintf(f, "usage: lrlab plot RUN_DIR|LOG... -o FILE.png|FILE.svg [--title T] [--band sd|ci|none]\n\n"
               "Draws test accuracy, training loss and lr (log scale) against epoch for the runs, one\n"
               "line per run labelled by its directory's name (gnuplot). A directory holding runs (a\n"
               "sweep's --out) stands for all of them. Runs named NAME-s<k> in one directory (sweep\n"
               "--seeds) are one line: the mean over seeds with a band of ± one standard deviation.\n"
               "A file is read as a console log in the seed's format (its PyTorch program's epoch\n"
               "lines, e.g. ../shared/reference-runs/*.log): a dashed line to compare with.\n"
               "  -o FILE      the figure: .png (pngcairo) or .svg\n"
               "  --title T    a title above the panels\n"
               "  --band B     a seed group's band: sd (± one standard deviation, the default), ci (the\n"
               "               95%% t interval of the mean at each epoch) or none\n");
}

/* What a seed group's band shows around its mean. */
enum { BAND_SD, BAND_CI, BAND_NONE };
static const char *const band_names[] = {"sd", "ci", "none"};
static const char *const band_legend[] = {" ± std", ", 95% CI", ""};

/* The band's half width from the members' sd at one epoch (m of them). */
static double band_half(int band, double sd, int m) {
    if (band == BAND_CI) return m >= 2 ? stats_t_halfwidth(sd, m, 0.95) : 0;
    return sd;
}

/* One line of the figure: a run, or the mean of a seed group. */
typedef struct {
    char label[320];
    int n;      /* members */
    int epochs; /* longest member */
    int is_log; /* a seed-format log (PyTorch's run): drawn dashed */
    int style;  /* its line style: runs and logs are counted apart, so run j and log j share a colour */
} curve;

/* A label longer than cap characters keeps its start and end: "a-long-na...e-s0". */
static void shorten(char *label, size_t cap) {
    size_t n = strlen(label);
    if (n <= cap) return;
    size_t head = cap * 2 / 3 - 2, tail = cap - head - 3;
    memmove(label + head + 3, label + n - tail, tail + 1);
    memcpy(label + head, "...", 3);
}

/* Datablocks $gK (epoch, test_acc mean, band half width, train_loss mean, half width; the band:
 * band_half) and $lK (epoch, lr mean, one
 * more row at `epochs` so that the last epoch's step is drawn). An epoch's numbers average the
 * members that reached it; a non-positive lr is NaN on a log axis. range (acc lo, hi, loss lo, hi)
 * grows to take in the shown values. */
static void write_blocks(FILE *f, int k, const int *group, const rundir *runs, int n_runs, int epochs,
                         int log_lr, int band, double range[4]) {
    double *v = malloc(3 * (size_t)n_runs * sizeof *v), *lr = malloc(((size_t)epochs + 1) * sizeof *lr);
    fprintf(f, "$g%d << EOD\n", k);
    for (int e = 0; v && lr && e < epochs; e++) {
        int m = 0;
        for (int i = 0; i < n_runs; i++)
            if (group[i] == k && runs[i].n_rows > e) {
                v[m] = runs[i].rows[e].test_acc;
                v[n_runs + m] = runs[i].rows[e].train_loss;
                v[2 * n_runs + m] = runs[i].rows[e].lr;
                m++;
            }
        double am, as, lm, ls, rm, rs;
        int used;
        stats_mean_std(v, m, &am, &as, &used);
        stats_mean_std(v + n_runs, m, &lm, &ls, &used);
        stats_mean_std(v + 2 * n_runs, m, &rm, &rs, &used);
        as = band_half(band, as, m), ls = band_half(band, ls, m);
        fprintf(f, "%d %.9g %.9g %.9g %.9g\n", e, am, as, lm, ls);
        double shown[4] = {am - as, am + as, lm - ls, lm + ls}; /* what panels 1 and 2 show */
        for (int j = 0; j < 4; j++)
            if (isfinite(shown[j])) range[j] = j % 2 ? fmax(range[j], shown[j]) : fmin(range[j], shown[j]);
        lr[e] = log_lr && !(rm > 0) ? NAN : rm;
    }
    fprintf(f, "EOD\n$l%d << EOD\n", k);
    for (int e = 0; v && lr && e <= epochs; e++) fprintf(f, "%d %.9g\n", e, lr[e < epochs ? e : epochs - 1]);
    fputs("EOD\n", f); /* out of memory: empty blocks, and gnuplot says so */
    free(v), free(lr);
}

/* One panel's plot command: p = 0 test accuracy (with the legend's titles), 1 training loss, 2 lr
 * as steps; a seed group's band under its line. */
static void write_panel(FILE *f, int p, const curve *c, int n_curves, int every, int band) {
    static const char *const col[2][2] = {{"2", "3"}, {"4", "5"}}; /* mean, std columns of $gK */
    fputs("plot ", f);
    const char *sep = "";
    for (int k = 0; k < n_curves; k++) {
        if (!c[k].epochs) continue;
        char style[128];
        figure_style(style, sizeof style, c[k].style, c[k].is_log, p < 2);
        if (p < 2 && c[k].n > 1 && band != BAND_NONE)
            fprintf(f, "%s$g%d using 1:($%s-$%s):($%s+$%s) with filledcurves lc rgb '%s'", sep, k, col[p][0],
                    col[p][1], col[p][0], col[p][1], figure_colour(c[k].style)),
                sep = ", \\\n  ";
        if (p < 2) fprintf(f, "%s$g%d using 1:%s with linespoints lw 2 pi %d %s", sep, k, col[p][0], every, style);
        else fprintf(f, "%s$l%d using 1:2 with steps lw 2 %s", sep, k, style);
        if (p == 0) {
            fputs(" title ", f);
            figure_quote(f, c[k].label);
        }
        sep = ", \\\n  ";
    }
    fputc('\n', f);
}

/* The figure: three panels sharing the epoch axis; one legend (panel 1's) in a column on the right,
 * as wide as the longest label needs. */
static char *make_script(const curve *c, int n_curves, const int *group, const rundir *runs, int n_runs,
                         const char *title, int band, int width, int height) {
    char *text = NULL, *lr_axis = NULL;
    size_t len = 0, lr_len = 0;
    FILE *f = open_memstream(&text, &len), *axis = open_memstream(&lr_axis, &lr_len);
    if (!f || !axis) {
        if (f) fclose(f);
        if (axis) fclose(axis);
        free(text), free(lr_axis);
        return NULL;
    }
    double lo = INFINITY, hi = 0, range[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    int epochs = 1, label_len = 0, title_lines = 0;
    for (int i = 0; i < n_runs; i++)
        for (int e = 0; e < runs[i].n_rows; e++)
            if (runs[i].rows[e].lr > 0) lo = fmin(lo, runs[i].rows[e].lr), hi = fmax(hi, runs[i].rows[e].lr);
    for (int k = 0; k < n_curves; k++) {
        if (c[k].epochs > epochs) epochs = c[k].epochs;
        if ((int)strlen(c[k].label) > label_len) label_len = (int)strlen(c[k].label);
    }
    int log_lr = figure_lr_axis(axis, 'y', lo, hi);
    fclose(axis);
    for (int k = 0; k < n_curves; k++)
        if (c[k].epochs) write_blocks(f, k, group, runs, n_runs, c[k].epochs, log_lr, band, range);
    double right = 1.0 - (label_len * 8.0 + 90) / width;
    right = right < 0.5 ? 0.5 : right > 0.88 ? 0.88 : right;
    fputs("set multiplot", f);
    if (title && title[0]) {
        fputs(" title ", f);
        title_lines = figure_title(f, title, width);
    }
    double top = 1.0 - (title_lines * 16.0 + 14) / height;
    fprintf(f, " layout 3,1 margins 0.08,%.4f,%.4f,%.4f spacing 0,%.4f\n", right, 50.0 / height, top, 45.0 / height);
    fputs("set grid\nset style fill transparent solid 0.2 noborder\nset pointsize 0.6\n", f);
    figure_epoch_axis(f, epochs, "");
    fprintf(f, "set key at screen %.4f, screen %.4f left top Left reverse samplen 3 noautotitle\n", right + 0.015, top);
    static const char *const ylabel[3] = {"'test accuracy (%)'", "'training loss'", "'lr'"};
    for (int p = 0; p < 3; p++) {
        fprintf(f, "set ylabel %s\n", ylabel[p]);
        if (p == 1) fputs("unset key\n", f);
        if (p < 2) figure_range(f, "y", range[2 * p], range[2 * p + 1]);
        else fprintf(f, "set xlabel 'epoch'\n%s", lr_axis ? lr_axis : "");
        write_panel(f, p, c, n_curves, (epochs + 29) / 30, band); /* a point per epoch, fewer on long runs */
    }
    fputs("unset multiplot\n", f);
    fclose(f);
    free(lr_axis);
    return text;
}

int cli_plot(int argc, char **argv) {
    const char *out = NULL, *title = NULL, *band_name = NULL;
    int band = BAND_SD;
    const cli_opt opts[] = {{"-o", &out, NULL}, {"--out", &out, NULL}, {"--title", &title, NULL},
                            {"--band", &band_name, NULL}, {NULL, NULL, NULL}};
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int n_args = 0;
    if (!args) return fprintf(stderr, "lrlab plot: out of memory\n"), 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(args);
            return 0;
        }
        int m = cli_take(argc, argv, &i, opts, "plot");
        if (m > 0) continue;
        if (m < 0 || argv[i][0] == '-') {
            free(args);
            return m < 0 ? 2 : cli_unknown("plot", argv[i], opts, 0);
        }
        args[n_args++] = argv[i];
    }
    if (band_name) {
        band = 0;
        while (band <= BAND_NONE && strcmp(band_name, band_names[band])) band++;
        if (band > BAND_NONE) {
            fprintf(stderr, "lrlab plot: --band '%s': expected sd, ci or none\n", band_name);
            free(args);
            return 2;
        }
    }
    lr_error err;
    int bad = n_args ? figure_check(out, "-o", 1, &err) : 2;
    if (bad) { /* before reading anything: a target we cannot write or a missing gnuplot */
        if (!n_args) fprintf(stderr, "lrlab plot: no RUN_DIR given\n");
        else cli_error("plot", &err, bad);
        if (bad == 2) fprintf(stderr, "(lrlab plot --help for the flags)\n");
        free(args);
        return bad;
    }
    char **dirs = NULL;
    int n = 0;
    int rc = rundir_expand(&dirs, &n, args, n_args, &err);
    free(args);
    if (rc) return cli_error("plot", &err, 1);
    rundir *runs = calloc((size_t)n, sizeof *runs);
    int *group = calloc((size_t)n, sizeof *group);
    curve *c = calloc((size_t)n, sizeof *c);
    if (!runs || !group || !c) rc = lr_fail(&err, "out of memory for %d runs", n);
    for (int i = 0; !rc && i < n; i++) rc = rundir_load(&runs[i], dirs[i], &err);
    int n_curves = 0, drawn = 0;
    if (!rc) {
        n_curves = rundir_group(group, runs, n);
        for (int i = 0; i < n; i++) {
            curve *k = &c[group[i]];
            if (!k->n++) snprintf(k->label, sizeof k->label, "%s", runs[i].name);
            if (runs[i].is_log) k->is_log = 1;
            if (runs[i].n_rows > k->epochs) k->epochs = runs[i].n_rows;
        }
        int n_logs = 0, n_lines = 0;
        for (int k = 0; k < n_curves; k++) {
            if (c[k].n > 1) {
                int len = (int)rundir_group_len(c[k].label);
                char tail[48];
                snprintf(tail, sizeof tail, " (mean of %d seeds%s)", c[k].n, band_legend[band]);
                c[k].label[len] = '\0';
                strncat(c[k].label, tail, sizeof c[k].label - strlen(c[k].label) - 1);
            }
            if (c[k].epochs) drawn++, c[k].style = c[k].is_log ? n_logs++ : n_lines++;
            else fprintf(stderr, "lrlab plot: %s: no metrics yet, left out\n", c[k].label);
            shorten(c[k].label, 44);
        }
        if (!drawn) rc = lr_fail(&err, "none of the runs has finished an epoch yet: nothing to plot");
    }
    if (!rc) {
        int height = drawn * 16 + 200 > 1200 ? drawn * 16 + 200 : 1200; /* room for the legend */
        char *script = make_script(c, n_curves, group, runs, n, title, band, 1000, height);
        if (!script) rc = lr_fail(&err, "out of memory");
        else rc = figure_render(out, 1000, height, script, &err);
        free(script);
    }
    for (int i = 0; runs && i < n; i++) rundir_free(&runs[i]);
    free(runs), free(group), free(c);
    rundir_list_free(dirs, n);
    if (rc) return cli_error("plot", &err, 1);
    printf("wrote %s (%d %s)\n", out, drawn, drawn == 1 ? "line" : "lines");
    return 0;
}
