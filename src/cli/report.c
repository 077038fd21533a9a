/* cli/report.c: `lrlab report RUN_DIR... [--sort final|best|name] [-o FILE.md]`:
 * a Markdown table of runs: schedule, epochs, final / best / last-5-mean
 * test accuracy, final train accuracy (and validation accuracy when a run
 * has a validation set), total time. Runs named NAME-s0, NAME-s1, ... in one
 * directory (`lrlab sweep --seeds K`) make one row with mean ± sample
 * standard deviation. A status column says what became of each run
 * (rundir_status: finished, running, stopped, diverged, failed); a run
 * without an epoch yet has "-" for its numbers. A directory that is not a
 * run, or a bad config.txt or metrics.csv, is an error naming the file (exit 1).
 * Not here: reading the files (io/runs.c). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/io.h"
#include "lrlab/runs.h"

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab report RUN_DIR|LOG... [--sort final|best|name] [-o FILE.md]\n\n"
               "Prints a Markdown table of runs: schedule, epochs, final and best test accuracy (with\n"
               "its epoch), mean test accuracy of the last 5 epochs, final train accuracy, total time.\n"
               "A directory holding runs (a sweep's --out) stands for all of them. Runs named NAME-s<k>\n"
               "in one directory (sweep --seeds) are one row: mean ± sample standard deviation.\n"
               "A file is read as a console log in the seed's format (its PyTorch program's epoch lines,\n"
               "e.g. ../shared/reference-runs/*.log): a row to compare with.\n"
               "  --sort KEY   final or best: highest mean test accuracy first; name: by name;\n"
               "               default: in the order given\n"
               "  -o FILE      write the table to FILE (atomically) instead of stdout\n");
}

typedef struct {
    char label[320];
    int *members, n;
    /* statistics over the members that have rows */
    int with_rows;
    double final_m, final_s, best_m, best_s, last5_m, last5_s, train_m, train_s, val_m, val_s, time_m, time_s;
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

static const char *sort_key;

static int group_cmp(const void *a, const void *b) {
    const group *x = a, *y = b;
    if (!strcmp(sort_key, "name")) return strcmp(x->label, y->label);
    /* final or best: highest first; groups without rows last */
    double vx = !strcmp(sort_key, "final") ? x->final_m : x->best_m;
    double vy = !strcmp(sort_key, "final") ? y->final_m : y->best_m;
    if (!x->with_rows || !y->with_rows) return y->with_rows - x->with_rows;
    return vx < vy ? 1 : vx > vy ? -1 : 0;
}

static void group_stats(group *g, const rundir *runs) {
    double v[6][g->n];
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
    fprintf(f, ", lr %g | ", c->lr);
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

int cli_report(int argc, char **argv) {
    const char *sort = NULL, *out = NULL;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int n_args = 0;
    if (!args) return fprintf(stderr, "lrlab report: out of memory\n"), 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(args);
            return 0;
        }
        if (!strcmp(argv[i], "--sort") || !strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "lrlab report: %s: missing value\n", argv[i]);
                free(args);
                return 2;
            }
            if (!strcmp(argv[i], "--sort")) sort = argv[++i];
            else out = argv[++i];
            continue;
        }
        if (!strncmp(argv[i], "-", 1)) {
            fprintf(stderr, "lrlab report: unknown flag '%s' (lrlab report --help lists them)\n", argv[i]);
            free(args);
            return 2;
        }
        args[n_args++] = argv[i];
    }
    if (sort && strcmp(sort, "final") && strcmp(sort, "best") && strcmp(sort, "name")) {
        fprintf(stderr, "lrlab report: --sort '%s': expected final, best or name\n", sort);
        free(args);
        return 2;
    }
    if (!n_args) {
        fprintf(stderr, "lrlab report: no RUN_DIR given\n");
        usage(stderr);
        free(args);
        return 2;
    }
    lr_error err;
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
            if (groups[g].n == 1) snprintf(groups[g].label, sizeof groups[g].label, "%s", runs[groups[g].members[0]].name);
            else {
                char tail[64];
                if (groups[g].with_rows == groups[g].n) snprintf(tail, sizeof tail, " (%d seeds)", groups[g].n);
                else snprintf(tail, sizeof tail, " (%d of %d seeds)", groups[g].with_rows, groups[g].n);
                size_t ll = strlen(groups[g].label);
                snprintf(groups[g].label + ll, sizeof groups[g].label - ll, "%s", tail);
            }
        }
        if (sort) {
            sort_key = sort;
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
            fprintf(f, "| run | schedule | status | epochs | final test acc | best test acc (epoch) "
                       "| last-5 mean test acc | final train acc |%s time |\n",
                    val_column ? " final val acc |" : "");
            fprintf(f, "|---|---|---|---:|---:|---:|---:|---:|%s---:|\n", val_column ? "---:|" : "");
            for (int g = 0; g < n_groups; g++) print_row(f, &groups[g], runs, val_column);
            fprintf(f, "\nAccuracies in %%. Time: the sum of the epochs' wall-clock seconds.%s\n",
                    grouped ? " A row of seeds (runs NAME-s<k>) shows mean ± sample standard deviation"
                              " (n - 1); the epoch list gives each seed's best epoch."
                            : "");
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
