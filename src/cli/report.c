/* cli/report.c: `lrlab report RUN_DIR... [--metric M] [--bootstrap N]
 * [--sort KEY] [--csv] [-o FILE]`: a Markdown table of runs: schedule,
 * epochs, final / best / last-5-mean test accuracy, final train accuracy
 * (and validation accuracy when a run has a validation set), total time.
 * Runs named NAME-s0, NAME-s1, ... in one directory (`lrlab sweep --seeds
 * K`) make one row with mean ± sample standard deviation, and a second
 * table gives each group's statistics of one metric: mean, sd, t interval
 * (and a bootstrap one), the difference from the best group with Welch's
 * test (`--csv`: that table as CSV). A status column says what became of each run
 * (rundir_status: finished, running, stopped, diverged, failed); a run
 * without an epoch yet has "-" for its numbers. A directory that is not a
 * run, or a bad config.txt or metrics.csv, is an error naming the file (exit 1).
 * Not here: reading the files (io/runs.c), the statistics (core/stats.c). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/io.h"
#include "lrlab/runs.h"
#include "lrlab/stats.h"

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab report RUN_DIR|LOG... [--metric M] [--bootstrap N [--bootstrap-seed S]]\n"
               "                    [--sort KEY] [--csv] [-o FILE]\n\n"
               "Prints a Markdown table of runs: schedule, epochs, final and best test accuracy (with\n"
               "its epoch), mean test accuracy of the last 5 epochs, final train accuracy, total time.\n"
               "A directory holding runs (a sweep's --out) stands for all of them. Runs named NAME-s<k>\n"
               "in one directory (sweep --seeds) are one row: mean ± sample standard deviation.\n"
               "A file is read as a console log in the seed's format (its PyTorch program's epoch lines,\n"
               "e.g. ../shared/reference-runs/*.log): a row to compare with.\n"
               "With seed groups, a second table: per group the metric's mean, sd, 95%% t interval,\n"
               "and its difference from the best group (95%% interval, Welch's t-test p).\n"
               "  --metric M   the statistics' metric: final, best, last5 (test accuracy) or\n"
               "               val_final, val_best, val_last5 (validation accuracy), tta (the final test\n"
               "               accuracy with --tta's test-time augmentation); default final\n"
               "  --bootstrap N  add a 95%% percentile bootstrap interval of N resamples (seeded:\n"
               "               --bootstrap-seed S, default 0)\n"
               "  --sort KEY   name, or a metric (above): highest mean first; default: the order given\n"
               "  --csv        print the statistics table as CSV (every group, one row each)\n"
               "  -o FILE      write the output to FILE (atomically) instead of stdout\n");
}

/* The metrics the statistics can be of: a name and its place in run_stats. */
typedef struct {
    const char *name, *title;
    size_t offset;
} metric_def;

static const metric_def metrics[] = {
    {"final", "final test accuracy", offsetof(run_stats, final_test)},
    {"best", "best test accuracy", offsetof(run_stats, best_test)},
    {"last5", "last-5-epoch mean test accuracy", offsetof(run_stats, last5_test)},
    {"val_final", "final validation accuracy", offsetof(run_stats, final_val)},
    {"val_best", "best validation accuracy", offsetof(run_stats, best_val)},
    {"val_last5", "last-5-epoch mean validation accuracy", offsetof(run_stats, last5_val)},
    {"tta", "final test accuracy with test-time augmentation (--tta)", offsetof(run_stats, final_tta)},
};
enum { N_METRICS = sizeof metrics / sizeof *metrics };

static int metric_find(const char *name) {
    for (int m = 0; m < N_METRICS; m++)
        if (!strcmp(metrics[m].name, name)) return m;
    return -1;
}

typedef struct {
    char label[320], name[320]; /* name: without the " (K seeds)" */
    int *members, n;
    /* statistics over the members that have rows */
    int with_rows;
    double final_m, final_s, best_m, best_s, last5_m, last5_s, train_m, train_s, val_m, val_s, time_m, time_s;
    double metric_m[N_METRICS], metric_s[N_METRICS]; /* each metric's mean and sd */
    int metric_n[N_METRICS];                          /* and how many runs have it */
} group;

/* "12.3 s", "4m05s", "1h02m" */
static void fmt_time(char *buf, size_t cap, double s) {
    if (isnan(s)) snprintf(buf, cap, "-");
    else if (s < 60) snprintf(buf, cap, "%.1f s", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void fmt_pm(char *buf, size_t cap, double m, double s, int n) {
    if (isnan(m)) snprintf(buf, cap, "-");
    else if (n > 1) snprintf(buf, cap, "%.2f ± %.2f", m, s);
    else snprintf(buf, cap, "%.2f", m);
}

/* Markdown cell text: '|' escaped. */
static void put_cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

static int sort_metric; /* -1: by name */

static int group_cmp(const void *a, const void *b) {
    const group *x = a, *y = b;
    if (sort_metric < 0) return strcmp(x->label, y->label);
    /* a metric: highest mean first; groups without it last */
    double vx = x->metric_m[sort_metric], vy = y->metric_m[sort_metric];
    if (isnan(vx) || isnan(vy)) return isnan(vx) - isnan(vy);
    return vx < vy ? 1 : vx > vy ? -1 : 0;
}

/* The values of metric m over a group's runs that have rows (NAN where a run lacks it). */
static int group_values(double *v, const group *g, const rundir *runs, int m) {
    int k = 0;
    for (int i = 0; i < g->n; i++) {
        run_stats s;
        if (!rundir_stats(&s, &runs[g->members[i]])) memcpy(&v[k++], (const char *)&s + metrics[m].offset, sizeof *v);
    }
    return k;
}

static void group_stats(group *g, const rundir *runs) {
    double v[6][g->n];
    for (int m = 0; m < N_METRICS; m++) {
        int got = group_values(v[0], g, runs, m);
        stats_mean_std(v[0], got, &g->metric_m[m], &g->metric_s[m], &g->metric_n[m]);
    }
    int k = 0;
    for (int i = 0; i < g->n; i++) {
        run_stats s;
        if (rundir_stats(&s, &runs[g->members[i]])) continue;
        v[0][k] = s.final_test, v[1][k] = s.best_test, v[2][k] = s.last5_test;
        v[3][k] = s.final_train, v[4][k] = s.final_val, v[5][k] = s.total_seconds;
        k++;
    }
    g->with_rows = k;
    int used;
    stats_mean_std(v[0], k, &g->final_m, &g->final_s, &used);
    stats_mean_std(v[1], k, &g->best_m, &g->best_s, &used);
    stats_mean_std(v[2], k, &g->last5_m, &g->last5_s, &used);
    stats_mean_std(v[3], k, &g->train_m, &g->train_s, &used);
    stats_mean_std(v[4], k, &g->val_m, &g->val_s, &used);
    stats_mean_std(v[5], k, &g->time_m, &g->time_s, &used);
}

static void print_row(FILE *f, const group *g, const rundir *runs, int val_column) {
    const rundir *first = &runs[g->members[0]];
    const train_config *c = &first->cfg;
    char a[64], b[64];
    fputs("| ", f);
    put_cell(f, g->label);
    fputs(" | ", f);
    if (first->is_log) {
        fputs("(seed-format log)", f);
    } else if (c->sched[0]) {
        fputc('`', f);
        put_cell(f, c->sched);
        fprintf(f, "`%s", c->sched_unit_step ? " per step" : "");
    } else {
        fputs("constant", f);
    }
    fprintf(f, ", lr %g", c->lr);
    optim_params hp;
    char text[512];
    if (!first->is_log && c->optim[0] && config_optim(c, &hp, NULL) == 0) { /* not the SGD shorthand: say which */
        optim_format(text, sizeof text, &hp, 1);
        fputs(", `", f);
        put_cell(f, text);
        fputc('`', f);
    }
    if (!first->is_log && c->lookahead[0]) { /* the averages of the weights (docs/optimisers.md) */
        fputs(", Lookahead `", f);
        put_cell(f, c->lookahead);
        fputc('`', f);
    }
    if (!first->is_log && c->ema > 0) fprintf(f, ", EMA %g", c->ema);
    if (!first->is_log && c->swa_start >= 0) fprintf(f, ", SWA from epoch %d", c->swa_start);
    fputs(" | ", f);
    /* status and epochs done; a group lists each seed's when they differ */
    char st[64], st0[64];
    rundir_status(st0, sizeof st0, first);
    int same = 1;
    for (int i = 1; i < g->n; i++)
        if (runs[g->members[i]].n_rows != first->n_rows ||
            strcmp(rundir_status(st, sizeof st, &runs[g->members[i]]), st0))
            same = 0;
    for (int i = 0; i < (same ? 1 : g->n); i++)
        fprintf(f, "%s%s", i ? ", " : "", rundir_status(st, sizeof st, &runs[g->members[i]]));
    fputs(" | ", f);
    for (int i = 0; i < (same ? 1 : g->n); i++) fprintf(f, "%s%d", i ? ", " : "", runs[g->members[i]].n_rows);
    if (!g->with_rows) {
        fprintf(f, " | - | - | - | - |%s - |\n", val_column ? " - |" : "");
        return;
    }
    int n = g->with_rows;
    fmt_pm(a, sizeof a, g->final_m, g->final_s, n);
    fprintf(f, " | %s | ", a);
    fmt_pm(a, sizeof a, g->best_m, g->best_s, n);
    fprintf(f, "%s (", a);
    int shown = 0;
    for (int i = 0; i < g->n; i++) {
        run_stats s;
        if (rundir_stats(&s, &runs[g->members[i]])) continue;
        fprintf(f, "%s%ld", shown++ ? ", " : "", s.best_epoch);
    }
    fmt_pm(a, sizeof a, g->last5_m, g->last5_s, n);
    fprintf(f, ") | %s | ", a);
    fmt_pm(a, sizeof a, g->train_m, g->train_s, n);
    fprintf(f, "%s |", a);
    if (val_column) {
        fmt_pm(a, sizeof a, g->val_m, g->val_s, n);
        fprintf(f, " %s |", a);
    }
    fmt_time(a, sizeof a, g->time_m);
    if (n > 1) {
        fmt_time(b, sizeof b, g->time_s);
        fprintf(f, " %s ± %s |\n", a, b);
    } else {
        fprintf(f, " %s |\n", a);
    }
}

static void print_table(FILE *f, const group *groups, int n_groups, const rundir *runs, int val_column,
                        int grouped) {
    fprintf(f, "| run | schedule | status | epochs | final test acc | best test acc (epoch) "
               "| last-5 mean test acc | final train acc |%s time |\n",
            val_column ? " final val acc |" : "");
    fprintf(f, "|---|---|---|---:|---:|---:|---:|---:|%s---:|\n", val_column ? "---:|" : "");
    for (int g = 0; g < n_groups; g++) print_row(f, &groups[g], runs, val_column);
    fprintf(f, "\nAccuracies in %%. Time: the sum of the epochs' wall-clock seconds.%s\n",
            grouped ? " A row of seeds (runs NAME-s<k>) shows mean ± sample standard deviation"
                      " (n - 1); the epoch list gives each seed's best epoch."
                    : "");
}

/* ---- the statistics table ---- */

typedef struct {
    int metric;      /* index into metrics[] */
    int bootstrap;   /* resamples; 0: none */
    uint64_t boot_seed;
} stats_opts;

/* One group's numbers in the statistics table. */
typedef struct {
    int n;                     /* runs with the metric */
    double mean, sd, lo, hi;   /* the t interval: NAN for n < 2 */
    double blo, bhi;           /* the bootstrap interval: NAN without */
    stats_welch w;             /* against the best group */
    const char *verdict;       /* best, not distinguishable, worse, no test, - */
} stats_line;

/* The best group: the highest mean of the metric among groups with at least two values (a single
 * run cannot be tested); -1 when there is none. */
static int best_group(const group *groups, int n_groups, int m) {
    int best = -1;
    for (int g = 0; g < n_groups; g++)
        if (groups[g].metric_n[m] >= 2 && (best < 0 || groups[g].metric_m[m] > groups[best].metric_m[m])) best = g;
    return best;
}

static void stats_line_make(stats_line *l, const group *g, const group *best, const rundir *runs,
                            const stats_opts *o) {
    int m = o->metric;
    l->n = g->metric_n[m], l->mean = g->metric_m[m], l->sd = l->n >= 2 ? g->metric_s[m] : NAN;
    double half = stats_t_halfwidth(l->sd, l->n, 0.95);
    l->lo = l->mean - half, l->hi = l->mean + half;
    l->blo = l->bhi = NAN;
    if (o->bootstrap && l->n >= 1) {
        double v[g->n];
        int k = 0, got = group_values(v, g, runs, m);
        for (int i = 0; i < got; i++)
            if (!isnan(v[i])) v[k++] = v[i];
        stats_bootstrap_mean(&l->blo, &l->bhi, v, k, o->bootstrap, o->boot_seed, 0.95);
    }
    memset(&l->w, 0, sizeof l->w);
    l->w.diff = l->w.lo = l->w.hi = l->w.df = l->w.p = NAN;
    if (!l->n || !best) l->verdict = "-";
    else if (g == best) l->verdict = "best";
    else {
        stats_welch_test(&l->w, l->mean, l->n >= 2 ? l->sd : 0, l->n, best->metric_m[m], best->metric_s[m],
                         best->metric_n[m], 0.95);
        if (l->n < 2) l->verdict = "no test (one run)";
        else if (isnan(l->w.p)) l->verdict = "no test (no variance)";
        else l->verdict = l->w.p < 0.05 ? "worse" : "not distinguishable";
    }
}

static void put_num(FILE *f, const char *fmt, double v) {
    if (isnan(v)) fputc('-', f);
    else fprintf(f, fmt, v);
}

static void put_interval(FILE *f, double lo, double hi) {
    if (isnan(lo) || isnan(hi)) fputc('-', f);
    else fprintf(f, "[%.2f, %.2f]", lo, hi);
}

static void put_p(FILE *f, double p) {
    if (isnan(p)) fputc('-', f);
    else if (p >= 0.001) fprintf(f, "%.3f", p);
    else fprintf(f, "%.1e", p);
}

static void stats_markdown(FILE *f, const group *groups, int n_groups, const rundir *runs, const stats_opts *o) {
    int m = o->metric, b = best_group(groups, n_groups, m);
    const group *best = b >= 0 ? &groups[b] : NULL;
    fprintf(f, "\nStatistics of the %s (%%) over seeds, 95%% intervals", metrics[m].title);
    if (best) fprintf(f, "; best: %s (mean %.2f).\n\n", best->name, best->metric_m[m]);
    else fputs("; no group has two runs with it, so nothing is tested.\n\n", f);
    fprintf(f, "| group | runs | mean | sd | 95%% CI (t) |%s difference from best [95%% CI] | p (Welch) | vs best |\n",
            o->bootstrap ? " 95% CI (bootstrap) |" : "");
    fprintf(f, "|---|---:|---:|---:|---|%s---|---:|---|\n", o->bootstrap ? "---|" : "");
    int few = 0;
    for (int g = 0; g < n_groups; g++) {
        stats_line l;
        stats_line_make(&l, &groups[g], best, runs, o);
        few |= l.n == 2;
        fputs("| ", f);
        put_cell(f, groups[g].name);
        fprintf(f, " | %d | ", l.n);
        put_num(f, "%.2f", l.mean);
        fputs(" | ", f);
        put_num(f, "%.2f", l.sd);
        fputs(" | ", f);
        put_interval(f, l.lo, l.hi);
        if (o->bootstrap) fputs(" | ", f), put_interval(f, l.blo, l.bhi);
        fputs(" | ", f);
        put_num(f, "%+.2f", l.w.diff);
        if (!isnan(l.w.lo)) fputc(' ', f), put_interval(f, l.w.lo, l.w.hi);
        fputs(" | ", f);
        put_p(f, l.w.p);
        fprintf(f, " | %s |\n", l.verdict);
    }
    fputs("\nCI (t): mean ± t(0.975, n-1) · sd/√n. Difference from the best group: Welch's t-test (unequal "
          "variances, Welch–Satterthwaite df), two-sided; \"not distinguishable\": p ≥ 0.05. These intervals "
          "hold the seed-to-seed noise only, on this one test set: a single accuracy p on n test images "
          "has its own binomial sd √(p(1-p)/n), 0.3 points at 90% on 10,000 images.",
          f);
    if (o->bootstrap)
        fprintf(f, " Bootstrap: percentile interval of the mean, %d resamples, seed %llu.", o->bootstrap,
                (unsigned long long)o->boot_seed);
    fputc('\n', f);
    if (few)
        fputs("\nNote: a group with 2 runs has one degree of freedom: its sd is a rough guess, its t interval is "
              "± 12.7 sd/√2, and a test against it has little power. Use 3 seeds or more (sweep --seeds).\n",
              f);
}

/* A CSV field: quoted when it holds a comma, a quote or a newline. */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v) {
    if (!isnan(v)) fprintf(f, "%.9g", v);
    fputc(',', f);
}

static void stats_csv(FILE *f, const group *groups, int n_groups, const rundir *runs, const stats_opts *o) {
    int m = o->metric, b = best_group(groups, n_groups, m);
    const group *best = b >= 0 ? &groups[b] : NULL;
    fputs("group,runs,metric,mean,sd,ci_low,ci_high,boot_low,boot_high,diff,diff_low,diff_high,df,p,vs_best\n", f);
    for (int g = 0; g < n_groups; g++) {
        stats_line l;
        stats_line_make(&l, &groups[g], best, runs, o);
        csv_field(f, groups[g].name);
        fprintf(f, ",%d,%s,", l.n, metrics[m].name);
        double v[] = {l.mean, l.sd, l.lo, l.hi, l.blo, l.bhi, l.w.diff, l.w.lo, l.w.hi, l.w.df, l.w.p};
        for (size_t i = 0; i < sizeof v / sizeof *v; i++) csv_num(f, v[i]);
        fprintf(f, "%s\n", l.verdict);
    }
}

int cli_report(int argc, char **argv) {
    const char *sort = NULL, *out = NULL, *metric = NULL, *boot = NULL, *boot_seed = NULL;
    int csv = 0;
    const cli_opt opts[] = {{"--sort", &sort, NULL},        {"-o", &out, NULL},
                            {"--out", &out, NULL},          {"--metric", &metric, NULL},
                            {"--bootstrap", &boot, NULL},   {"--bootstrap-seed", &boot_seed, NULL},
                            {"--csv", NULL, &csv},          {NULL, NULL, NULL}};
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int n_args = 0;
    if (!args) return fprintf(stderr, "lrlab report: out of memory\n"), 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(args);
            return 0;
        }
        int m = cli_take(argc, argv, &i, opts, "report");
        if (m > 0) continue;
        if (m < 0 || argv[i][0] == '-') {
            free(args);
            return m < 0 ? 2 : cli_unknown("report", argv[i], opts, 0);
        }
        args[n_args++] = argv[i];
    }
    lr_error err;
    stats_opts so = {0, 0, 0};
    long lv;
    sort_metric = -1;
    if (sort && strcmp(sort, "name") && (sort_metric = metric_find(sort)) < 0) {
        fprintf(stderr, "lrlab report: --sort '%s': expected name, final, best, last5, val_final, val_best or val_last5\n", sort);
        free(args);
        return 2;
    }
    if (metric && (so.metric = metric_find(metric)) < 0) {
        fprintf(stderr, "lrlab report: --metric '%s': expected final, best, last5, val_final, val_best, val_last5 or tta\n", metric);
        free(args);
        return 2;
    }
    if (boot && lr_parse_long(&lv, boot, 1, 10000000, "--bootstrap", &err)) return free(args), cli_error("report", &err, 2);
    if (boot) so.bootstrap = (int)lv;
    if (boot_seed && !boot) {
        fprintf(stderr, "lrlab report: --bootstrap-seed without --bootstrap N\n");
        free(args);
        return 2;
    }
    if (boot_seed && lr_parse_long(&lv, boot_seed, 0, 0x7fffffffffffffffL, "--bootstrap-seed", &err))
        return free(args), cli_error("report", &err, 2);
    if (boot_seed) so.boot_seed = (uint64_t)lv;
    if (!n_args) {
        fprintf(stderr, "lrlab report: no RUN_DIR given\n");
        usage(stderr);
        free(args);
        return 2;
    }
    char **dirs = NULL;
    int n = 0;
    int rc = rundir_expand(&dirs, &n, args, n_args, &err);
    free(args);
    if (rc) return cli_error("report", &err, 1);
    rundir *runs = calloc((size_t)n, sizeof *runs);
    group *groups = calloc((size_t)n, sizeof *groups);
    int *members = calloc((size_t)n, sizeof *members);
    int n_groups = 0;
    rc = 0;
    if (!runs || !groups || !members) rc = lr_fail(&err, "out of memory for %d runs", n);
    for (int i = 0; !rc && i < n; i++) rc = rundir_load(&runs[i], dirs[i], &err);
    /* groups: NAME-s<k> runs of one parent directory; each member list is a slice of `members` */
    int *owner = rc ? NULL : calloc((size_t)n, sizeof *owner);
    if (!rc && !owner) rc = lr_fail(&err, "out of memory");
    if (!rc) {
        n_groups = rundir_group(owner, runs, n);
        for (int i = 0; i < n; i++) {
            group *g = &groups[owner[i]];
            if (!g->n++) snprintf(g->label, sizeof g->label, "%.*s", (int)rundir_group_len(runs[i].name), runs[i].name);
            if (g->n == 1) snprintf(g->name, sizeof g->name, "%s", g->label);
        }
    }
    if (!rc) {
        int off = 0;
        for (int g = 0; g < n_groups; g++) {
            groups[g].members = members + off;
            off += groups[g].n;
            groups[g].n = 0;
        }
        for (int i = 0; i < n; i++) groups[owner[i]].members[groups[owner[i]].n++] = i;
        for (int g = 0; g < n_groups; g++) {
            group_stats(&groups[g], runs);
            /* a lone NAME-s0 keeps its own name; a real group says how many seeds it averages */
            if (groups[g].n == 1) {
                snprintf(groups[g].label, sizeof groups[g].label, "%s", runs[groups[g].members[0]].name);
                snprintf(groups[g].name, sizeof groups[g].name, "%s", groups[g].label);
            }
            else {
                char tail[64];
                if (groups[g].with_rows == groups[g].n) snprintf(tail, sizeof tail, " (%d seeds)", groups[g].n);
                else snprintf(tail, sizeof tail, " (%d of %d seeds)", groups[g].with_rows, groups[g].n);
                size_t ll = strlen(groups[g].label);
                snprintf(groups[g].label + ll, sizeof groups[g].label - ll, "%s", tail);
            }
        }
        if (sort) {
            qsort(groups, (size_t)n_groups, sizeof *groups, group_cmp);
        }
    }
    free(owner);
    if (!rc) {
        int val_column = 0, grouped = 0;
        for (int g = 0; g < n_groups; g++) {
            if (!isnan(groups[g].val_m)) val_column = 1;
            if (groups[g].n > 1) grouped = 1;
        }
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) rc = lr_fail(&err, "out of memory");
        else {
            if (csv) {
                stats_csv(f, groups, n_groups, runs, &so);
            } else {
                print_table(f, groups, n_groups, runs, val_column, grouped);
                /* the statistics: for seed groups, or when asked for */
                int seeded = best_group(groups, n_groups, so.metric) >= 0;
                if (seeded || metric || boot) stats_markdown(f, groups, n_groups, runs, &so);
            }
            fclose(f);
            if (out) rc = write_file_atomic(out, text, len, &err);
            else fwrite(text, 1, len, stdout);
            free(text);
        }
    }
    for (int i = 0; runs && i < n; i++) rundir_free(&runs[i]);
    free(runs), free(groups), free(members);
    rundir_list_free(dirs, n);
    return rc ? cli_error("report", &err, 1) : 0;
}
