/* tests/test_runs.c: reading run directories (lrlab/runs.h): metrics.csv
 * parsing and its errors (wrong header, non-numeric field, short row, epoch
 * out of order: each names file:line and the field), run directories made
 * by hand in a temporary directory (config only, metrics only, neither,
 * a sweep directory expanded into its runs), console logs in the seed's
 * format read as runs, summary numbers, seed-group names, and
 * mean/standard deviation. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lrlab/runs.h"
#include "lrlab/train.h"
#include "test.h"
#include "test_files.h"

#define HDR_NORM "epoch,lr,momentum,train_loss,train_acc,test_loss,test_acc,val_loss,val_acc,seconds,images_per_s,grad_norm\n"
#define HDR "epoch,lr,momentum,train_loss,train_acc,test_loss,test_acc,val_loss,val_acc,seconds,images_per_s\n"

static const char *good = HDR
    "0,0.01,0.9,2.1,20.5,1.9,30.25,,,10.5,4000\n"
    "1,0.01,0.9,1.6,40,1.5,45.5,,,11.5,4100\n"
    "2,0.001,0.9,1.2,55,1.3,44,,,12,4200\n";

static void parse_errors(void) {
    metrics_row *rows;
    int n;
    lr_error err;
    CHECK(rundir_parse_metrics(&rows, &n, good, "r/metrics.csv", &err) == 0, "%s", err.msg);
    CHECK(n == 3, "%d rows", n);
    if (n == 3) {
        CHECK(rows[1].test_acc == 45.5 && rows[2].lr == 0.001 && rows[2].seconds == 12, "values");
        CHECK(isnan(rows[0].val_acc) && isnan(rows[0].val_loss), "empty val fields are NAN");
    }
    free(rows);

    CHECK(rundir_parse_metrics(&rows, &n, HDR, "r/metrics.csv", &err) == 0 && n == 0 && !rows,
          "header only: no rows (%s)", err.msg);
    /* runs of the Adam family log their cycled beta1 in the momentum column, under its name */
    CHECK(rundir_parse_metrics(&rows, &n, "epoch,lr,beta1,train_loss,train_acc,test_loss,test_acc,val_loss,val_acc,"
                                          "seconds,images_per_s\n0,0.001,0.95,2.1,20.5,1.9,30.25,,,10.5,4000\n",
                               "r/metrics.csv", &err) == 0 && n == 1 && rows[0].momentum == 0.95,
          "a beta1 header: %s", err.msg);
    free(rows);
    /* the trainer's header has grad_norm; older runs' have not (NaN) */
    CHECK(rundir_parse_metrics(&rows, &n, METRICS_HEADER "0,0.01,0.9,2.1,20.5,1.9,30,,,10.5,4000,0.25\n", "r/metrics.csv",
                               &err) == 0 && n == 1 && rows[0].grad_norm == 0.25 && rows[0].images_per_s == 4000,
          "grad_norm: %s", err.msg);
    free(rows);
    CHECK(rundir_parse_metrics(&rows, &n, HDR "0,0.01,0.9,2.1,20.5,1.9,30,,,10.5,4000\n", "r/metrics.csv", &err) == 0 &&
          n == 1 && isnan(rows[0].grad_norm), "an older header: grad_norm NaN (%s)", err.msg);
    free(rows);

    struct {
        const char *text, *want;
    } bad[] = {
        {"epoch,lr,loss\n0,1,2\n", "r/metrics.csv:1: header is 'epoch,lr,loss', expected 'epoch,lr,"},
        {HDR "0,0.01,0.9,2.1,20.5,1.9,abc,,,10.5,4000\n", "r/metrics.csv:2: field 7 (test_acc) is 'abc', expected a number"},
        {HDR "0,0.01,0.9,2.1,20.5,1.9,30,,,10.5,4000\n1,0.01,0.9,2.1\n", "r/metrics.csv:3: 4 fields, expected 11 (as its header)"},
        {HDR "0,0.01,0.9,2.1,20.5,1.9,30,,,10.5,4000,7\n", "r/metrics.csv:2: 12 fields, expected 11 (as its header)"},
        {HDR_NORM "0,0.01,0.9,2.1,20.5,1.9,30,,,10.5,4000\n", "r/metrics.csv:2: 11 fields, expected 12 (as its header)"},
        {HDR_NORM "0,0.01,0.9,2.1,20.5,1.9,30,,,10.5,4000,x\n", "field 12 (grad_norm) is 'x', expected a number"},
        {"epoch,lr,momentum,train_loss,train_acc,test_loss,test_acc,val_loss,val_acc,seconds,images_per_s,grad\n",
         "r/metrics.csv:1: header is"},
        {HDR "0,0.01,0.9,2.1,20.5,1.9,30,,,10.5,4000\n2,0.01,0.9,2.1,20.5,1.9,30,,,10.5,4000\n",
         "r/metrics.csv:3: epoch is '2', expected 1"},
        {HDR "1e300,0.01,0.9,2.1,20.5,1.9,30,,,10.5,4000\n", "r/metrics.csv:2: epoch is '1e300', expected 0"},
        {HDR "0,0.01,0.9,,20.5,1.9,30,,,10.5,4000\n", "r/metrics.csv:2: field 4 (train_loss) is '', expected a number"},
        {HDR "0,0.01,0.9,2,20.5,1.9,30,,,10.5,4000\n\n", "r/metrics.csv:3: empty line"},
        {"", "r/metrics.csv: empty file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        int rc = rundir_parse_metrics(&rows, &n, bad[i].text, "r/metrics.csv", &err);
        CHECK(rc == -1, "case %zu accepted", i);
        CHECK(strstr(err.msg, bad[i].want) != NULL, "case %zu: message '%s', want '%s'", i, err.msg, bad[i].want);
    }
}

static void write_text(const char *path, const char *text) {
    CHECK(test_put(path, text, strlen(text)) == 0, "cannot write %s", path);
}

static void dirs(void) {
    const char *root = test_tmpdir;
    char p[1024], q[1100];
    lr_error err;
    rundir r;
    /* a complete run */
    snprintf(p, sizeof p, "%s/sweep/base-s0", root);
    snprintf(q, sizeof q, "%s/sweep", root);
    mkdir(q, 0777), mkdir(p, 0777);
    snprintf(q, sizeof q, "%s/config.txt", p);
    write_text(q, "# test\nlr=0.05\nsched=StepLR(step_size=2)\nepochs=3\n");
    snprintf(q, sizeof q, "%s/metrics.csv", p);
    write_text(q, good);
    CHECK(rundir_load(&r, p, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(r.name, "base-s0"), "name %s", r.name);
    CHECK(r.has_config && r.cfg.lr == 0.05 && r.cfg.epochs == 3 && !strcmp(r.cfg.sched, "StepLR(step_size=2)"),
          "config lr %g", r.cfg.lr);
    run_stats s;
    CHECK(rundir_stats(&s, &r) == 0, "stats");
    CHECK(s.epochs_done == 3 && s.final_test == 44 && s.best_test == 45.5 && s.best_epoch == 1, "final %g best %g@%ld",
          s.final_test, s.best_test, s.best_epoch);
    CHECK(fabs(s.last5_test - (30.25 + 45.5 + 44) / 3) < 1e-12, "last5 %g", s.last5_test);
    CHECK(s.final_train == 55 && s.total_seconds == 34 && isnan(s.final_val), "train %g time %g", s.final_train,
          s.total_seconds);
    rundir_free(&r);

    /* a run just created: config only -> no rows, no error */
    snprintf(p, sizeof p, "%s/sweep/new", root);
    mkdir(p, 0777);
    snprintf(q, sizeof q, "%s/config.txt", p);
    write_text(q, "lr=0.1\n");
    CHECK(rundir_load(&r, p, &err) == 0 && r.n_rows == 0 && !r.has_metrics, "config only: %s", err.msg);
    CHECK(rundir_stats(&s, &r) == -1, "no stats without rows");
    rundir_free(&r);

    /* a bad config.txt names its line */
    snprintf(p, sizeof p, "%s/badcfg", root);
    mkdir(p, 0777);
    snprintf(q, sizeof q, "%s/config.txt", p);
    write_text(q, "lr=0.1\nbatch=zero\n");
    CHECK(rundir_load(&r, p, &err) == -1 && strstr(err.msg, "config.txt:2"), "bad config: %s", err.msg);
    rundir_free(&r);

    /* a bad metrics.csv names the file and line */
    snprintf(p, sizeof p, "%s/badmetrics", root);
    mkdir(p, 0777);
    snprintf(q, sizeof q, "%s/metrics.csv", p);
    write_text(q, HDR "0,0.01\n");
    CHECK(rundir_load(&r, p, &err) == -1 && strstr(err.msg, "badmetrics/metrics.csv:2: 2 fields"), "bad metrics: %s",
          err.msg);
    rundir_free(&r);

    /* neither file; a missing directory */
    snprintf(p, sizeof p, "%s/empty", root);
    mkdir(p, 0777);
    CHECK(rundir_load(&r, p, &err) == -1 && strstr(err.msg, "not a run directory"), "empty dir: %s", err.msg);
    rundir_free(&r);
    snprintf(p, sizeof p, "%s/missing", root);
    CHECK(rundir_load(&r, p, &err) == -1 && strstr(err.msg, "no such run directory"), "missing: %s", err.msg);
    rundir_free(&r);

    /* a sweep directory expands to its runs in name order */
    snprintf(p, sizeof p, "%s/sweep", root);
    char *args[1] = {p};
    char **list;
    int n;
    CHECK(rundir_expand(&list, &n, args, 1, &err) == 0, "%s", err.msg);
    CHECK(n == 2 && strstr(list[0], "/base-s0") && strstr(list[1], "/new"), "expanded to %d", n);
    rundir_list_free(list, n);
    snprintf(p, sizeof p, "%s/empty", root);
    CHECK(rundir_expand(&list, &n, args, 1, &err) == -1 && strstr(err.msg, "holds no runs"), "%s", err.msg);
}

/* Console logs in the seed's format: the reference runs' lines (with
 * seconds), the seed's own (without), lrlab's console lines; other lines
 * ignored; every malformed epoch line an error naming the line. */
static void seed_logs(void) {
    metrics_row *rows;
    int n;
    lr_error err;
    const char *log =
        "Files already downloaded and verified\n"
        "epoch 0:[Train] Loss: 2.208 | Acc: 15.954% (7964/49920) 83.7s [Test] Loss: 1.581 | Acc: 26.020% (2602/10000) lr=0.0100\n"
        "epoch 1:[Train] Loss: 1.828 | Acc: 31.987% (15968/49920)[Test] Loss: 1.313 | Acc: 38.200% (3820/10000) lr=0.0100\r\n"
        "epoch 2: [Train] Loss: 0.333 | Acc: 88.524% (44191/49920) [Test] Loss: 0.521 | Acc: 82.550% (8255/10000) "
        "lr=0.0014775 | 59.9 s 892 img/s\n"
        "Finished\n";
    CHECK(rundir_parse_seedlog(&rows, &n, log, "t.log", &err) == 0, "%s", err.msg);
    CHECK(n == 3, "%d rows", n);
    if (n == 3) {
        CHECK(rows[0].train_loss == 2.208 && rows[0].train_acc == 15.954 && rows[0].test_acc == 26.02 &&
                  rows[0].lr == 0.01 && rows[0].seconds == 83.7 && fabs(rows[0].images_per_s - 49920 / 83.7) < 1e-9,
              "reference line");
        CHECK(isnan(rows[1].seconds) && isnan(rows[1].images_per_s) && rows[1].test_acc == 38.2, "seed line");
        CHECK(rows[2].lr == 0.0014775 && rows[2].seconds == 59.9 && rows[2].test_acc == 82.55, "lrlab line");
        CHECK(isnan(rows[0].test_loss) && isnan(rows[0].momentum) && isnan(rows[0].val_acc), "not in the log: NAN");
    }
    free(rows);
    struct {
        const char *text, *want;
    } bad[] = {
        {"nothing here\n", "t.log: no epoch lines"},
        {"", "t.log: no epoch lines"},
        {"epoch 0:[Train] Loss: 2.2 | Acc: 15% (7964/49920) [Test] Loss: 1.5 | Acc: 26% (2602/10000)\n",
         "t.log:1: expected lr= at"},
        {"x\nepoch 0:[Train] Loss: 2.2 | Acc: 15% (7964/49920) [Test] Loss: abc\n", "t.log:2: expected a loss at 'abc'"},
        {"epoch 1:[Train] Loss: 2.2 | Acc: 15% (1/2) [Test] Loss: 1 | Acc: 26% (1/2) lr=0.1\n",
         "t.log:1: epoch 1, expected 0"},
        {"epoch 0:[Train] Loss: 2.2 | Acc: 15% (3/2) [Test] Loss: 1 | Acc: 26% (1/2) lr=0.1\n", "t.log:1: counts"},
        {"epoch 0:[Train] Loss: 2.2 | Acc: 15% (1/2) [Test] Loss: 1 | Acc: 26% (1/2) lr=inf\n", "t.log:1: counts"},
        {"epoch zero\n", "t.log:1: expected an epoch number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        CHECK(rundir_parse_seedlog(&rows, &n, bad[i].text, "t.log", &err) == -1, "log case %zu accepted", i);
        CHECK(strstr(err.msg, bad[i].want) != NULL, "log case %zu: message '%s', want '%s'", i, err.msg, bad[i].want);
    }

    /* a log file is a run: loaded by rundir_load, kept by rundir_expand, named without .log */
    const char *p = test_path("torch_const.log");
    write_text(p, log);
    rundir r;
    CHECK(rundir_load(&r, p, &err) == 0, "%s", err.msg);
    CHECK(r.is_log && r.n_rows == 3 && !strcmp(r.name, "torch_const") && r.cfg.epochs == 3 && r.cfg.lr == 0.01,
          "log run: is_log %d rows %d name '%s'", r.is_log, r.n_rows, r.name);
    rundir_free(&r);
    char *args[1] = {(char *)p}, **list;
    int rc = rundir_expand(&list, &n, args, 1, &err);
    CHECK(rc == 0 && n == 1 && !strcmp(list[0], p), "expand keeps a file: %s", rc ? err.msg : list[0]);
    if (!rc) rundir_list_free(list, n);
}

static void groups(void) {
    CHECK(rundir_group_len("base-s0") == 4, "base-s0");
    CHECK(rundir_group_len("step_lr-s12") == 7, "step_lr-s12");
    CHECK(rundir_group_len("base") == 4, "base");
    CHECK(rundir_group_len("base-s") == 6, "base-s");
    CHECK(rundir_group_len("bases0") == 6, "bases0");
    CHECK(rundir_group_len("-s0") == 3, "-s0");
    CHECK(rundir_group_len("a-s1") == 1, "a-s1");
    rundir r[5];
    memset(r, 0, sizeof r);
    const char *d[5] = {"sw/a-s0", "sw/b", "sw/a-s1", "other/a-s0", "sw/a-s2/"};
    const char *nm[5] = {"a-s0", "b", "a-s1", "a-s0", "a-s2"};
    for (int i = 0; i < 5; i++) snprintf(r[i].dir, sizeof r[i].dir, "%s", d[i]), snprintf(r[i].name, sizeof r[i].name, "%s", nm[i]);
    int g[5];
    CHECK(rundir_group(g, r, 5) == 3, "3 groups");
    CHECK(g[0] == 0 && g[1] == 1 && g[2] == 0 && g[3] == 2 && g[4] == 0, "groups %d %d %d %d %d", g[0], g[1], g[2], g[3], g[4]);
    double x[4] = {50, 52, NAN, 54}, mean, std;
    int used;
    stats_mean_std(x, 4, &mean, &std, &used);
    CHECK(used == 3 && mean == 52 && fabs(std - 2) < 1e-12, "mean %g std %g", mean, std);
    stats_mean_std(x, 1, &mean, &std, &used);
    CHECK(used == 1 && mean == 50 && std == 0, "one value");
}

int main(void) {
    if (test_tmpdir_make("test_runs")) return 1;
    parse_errors();
    dirs();
    seed_logs();
    groups();
    test_tmpdir_remove();
    return test_summary("test_runs");
}
