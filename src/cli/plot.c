/* cli/plot.c: `lrlab plot RUN_DIR... -o FILE.png|FILE.svg [--title T]`: one
 * figure of three panels against epoch (test accuracy, training loss, lr on
 * a log scale), one line per run labelled by the run directory's name. Runs
 * NAME-s<k> of one directory (sweep --seeds) are one line, the mean over
 * seeds, with a shaded band of ± one sample standard deviation.
 *
 * gnuplot draws it (pngcairo or svg, chosen by the extension): the script
 * and its data (as datablocks) are piped to gnuplot, which writes to a
 * temporary name beside FILE that is renamed over FILE when gnuplot
 * succeeds. Also here, for `lrlab find-lr --plot`: plot_check_output and
 * plot_render. Not here: reading runs (io/runs.c). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lrlab/runs.h"


static void usage(FILE *f) {
    fprintf(f, "usage: lrlab plot RUN_DIR|LOG... -o FILE.png|FILE.svg [--title T]\n\n"
               "Draws test accuracy, training loss and lr (log scale) against epoch for the runs, one\n"
               "line per run labelled by its directory's name (gnuplot). A directory holding runs (a\n"
               "sweep's --out) stands for all of them. Runs named NAME-s<k> in one directory (sweep\n"
               "--seeds) are one line: the mean over seeds with a band of ± one standard deviation.\n"
               "A file is read as a console log in the seed's format (its PyTorch program's epoch\n"
               "lines, e.g. ../shared/reference-runs/*.log): a dashed line to compare with.\n"
               "  -o FILE      the figure: .png (pngcairo) or .svg\n"
               "  --title T    a title above the panels\n");
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

int plot_check_output(const char *out, lr_error *err) {
    if (!out || !out[0]) return lr_fail(err, "-o: missing output file (FILE.png or FILE.svg)");
    if (!ends_with(out, ".png") && !ends_with(out, ".svg"))
        return lr_fail(err, "-o %s: expected a file name ending in .png or .svg", out);
    if (strpbrk(out, "\n"))
        return lr_fail(err, "-o: the file name contains a newline");
    return 0;
}

static int on_path(const char *prog) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4200];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)(n ? n : 1), n ? path : ".", prog);
        if (access(buf, X_OK) == 0) return 1;
        path += n;
        if (*path == ':') path++;
    }
    return 0;
}

/* s as a gnuplot single-quoted string ('' stands for a quote). */
static void gp_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

int plot_render(const char *out, int width, int height, const char *body, lr_error *err) {
    if (plot_check_output(out, err)) return -1;
    if (!on_path("gnuplot")) return lr_fail(err, "gnuplot not found: apt-get install gnuplot-nox");
    char tmp[1200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld%s", out, (long)getpid(), ends_with(out, ".png") ? ".png" : ".svg") >=
        (int)sizeof tmp)
        return lr_fail(err, "-o %s: path too long", out);
    FILE *gp = popen("gnuplot", "w");
    if (!gp) return lr_fail(err, "cannot run gnuplot");
    if (ends_with(out, ".png")) fprintf(gp, "set terminal pngcairo size %d,%d font ',10' noenhanced\n", width, height);
    else fprintf(gp, "set terminal svg size %d,%d font ',10' noenhanced background '#ffffff'\n", width, height);
    fputs("set output ", gp);
    gp_quote(gp, tmp);
    fputc('\n', gp);
    fputs(body, gp);
    fputs("\nunset output\n", gp);
    int status = pclose(gp);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        unlink(tmp);
        return lr_fail(err, "gnuplot failed (status %d) drawing %s", WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
    }
    if (access(tmp, F_OK)) return lr_fail(err, "gnuplot wrote nothing for %s", out);
    if (rename(tmp, out)) {
        unlink(tmp);
        return lr_fail(err, "-o %s: cannot write (rename from %s failed)", out, tmp);
    }
    return 0;
}

/* One line of the figure: a run, or the mean of a seed group. */
typedef struct {
    char label[320];
    int n;      /* members */
    int epochs; /* longest member */
    int is_log; /* a seed-format log (PyTorch's run): drawn dashed */
} curve;

/* Writes datablock $gK: epoch, test_acc mean, std, train_loss mean, std, lr mean. An epoch's
 * numbers average the members that reached it. */
static void write_block(FILE *f, int k, const int *group, const rundir *runs, int n_runs, int epochs) {
    fprintf(f, "$g%d << EOD\n", k);
    double *v = malloc(3 * (size_t)n_runs * sizeof *v);
    if (!v) return; /* an empty block: gnuplot then says the curve has no points */
    for (int e = 0; e < epochs; e++) {
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
        fprintf(f, "%d %.9g %.9g %.9g %.9g %.9g\n", e, am, as, lm, ls, rm);
    }
    free(v);
    fputs("EOD\n", f);
}

static char *make_script(const curve *c, int n_curves, const int *group, const rundir *runs, int n_runs,
                         const char *title) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    int any_pos_lr = 0;
    for (int i = 0; i < n_runs; i++)
        for (int e = 0; e < runs[i].n_rows; e++)
            if (runs[i].rows[e].lr > 0) any_pos_lr = 1;
    for (int k = 0; k < n_curves; k++)
        if (c[k].epochs) write_block(f, k, group, runs, n_runs, c[k].epochs);
    fputs("set multiplot layout 3,1", f);
    if (title && title[0]) {
        fputs(" title ", f);
        gp_quote(f, title);
    }
    fputs("\nset grid\nset key outside right top\nset xlabel 'epoch'\nset style fill transparent solid 0.2 noborder\n", f);
    const char *panels[3][3] = {{"test accuracy (%)", "2", "3"}, {"training loss", "4", "5"}, {"lr", "6", ""}};
    for (int p = 0; p < 3; p++) {
        fprintf(f, "set ylabel '%s'\n", panels[p][0]);
        if (p == 2 && any_pos_lr) fputs("set logscale y\nset format y '%g'\n", f);
        fputs("plot ", f);
        int first = 1;
        for (int k = 0; k < n_curves; k++) {
            if (!c[k].epochs) continue;
            int lc = k + 1;
            if (c[k].n > 1 && panels[p][2][0])
                fprintf(f, "%s$g%d using 1:($%s-$%s):($%s+$%s) with filledcurves lc %d notitle", first ? "" : ", ", k,
                        panels[p][1], panels[p][2], panels[p][1], panels[p][2], lc),
                    first = 0;
            if (p == 2) fprintf(f, "%s$g%d using 1:($6 > 0 || !%d ? $6 : NaN)", first ? "" : ", ", k, any_pos_lr);
            else fprintf(f, "%s$g%d using 1:%s", first ? "" : ", ", k, panels[p][1]);
            fprintf(f, " with linespoints lc %d lw 2 pt 7 ps 0.4%s title ", lc, c[k].is_log ? " dt 2" : "");
            gp_quote(f, c[k].label);
            first = 0;
        }
        fputc('\n', f);
    }
    fputs("unset multiplot\n", f);
    fclose(f);
    return text;
}

int cli_plot(int argc, char **argv) {
    const char *out = NULL, *title = NULL;
    const cli_opt opts[] = {{"-o", &out, NULL}, {"--out", &out, NULL}, {"--title", &title, NULL}, {NULL, NULL, NULL}};
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
    lr_error err;
    if (!n_args || plot_check_output(out, &err)) {
        if (!n_args) fprintf(stderr, "lrlab plot: no RUN_DIR given\n");
        else cli_error("plot", &err, 2);
        fprintf(stderr, "(lrlab plot --help for the flags)\n");
        free(args);
        return 2;
    }
    /* before reading anything: a missing gnuplot is the likeliest failure */
    if (!on_path("gnuplot")) {
        free(args);
        lr_fail(&err, "gnuplot not found: apt-get install gnuplot-nox");
        return cli_error("plot", &err, 1);
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
        for (int k = 0; k < n_curves; k++) {
            if (c[k].n > 1) {
                int len = (int)rundir_group_len(c[k].label);
                char tail[40];
                snprintf(tail, sizeof tail, " (mean of %d seeds)", c[k].n);
                c[k].label[len] = '\0';
                strncat(c[k].label, tail, sizeof c[k].label - strlen(c[k].label) - 1);
            }
            if (c[k].epochs) drawn++;
            else fprintf(stderr, "lrlab plot: %s: no metrics yet, left out\n", c[k].label);
        }
        if (!drawn) rc = lr_fail(&err, "none of the runs has finished an epoch yet: nothing to plot");
    }
    if (!rc) {
        char *script = make_script(c, n_curves, group, runs, n, title);
        if (!script) rc = lr_fail(&err, "out of memory");
        else rc = plot_render(out, 1000, 1200, script, &err);
        free(script);
    }
    for (int i = 0; runs && i < n; i++) rundir_free(&runs[i]);
    free(runs), free(group), free(c);
    rundir_list_free(dirs, n);
    if (rc) return cli_error("plot", &err, 1);
    printf("wrote %s (%d %s)\n", out, drawn, drawn == 1 ? "line" : "lines");
    return 0;
}
