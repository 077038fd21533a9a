// fuzz-sources: src/io/runs.c src/train/config.c src/model/*.c src/optim/*.c src/data/*.c src/sched/*.c src/core/*.c
/* fuzz/fuzz_runs.c: libFuzzer target for the readers behind `lrlab report`
 * and `lrlab plot` (lrlab/runs.h): any bytes as a metrics.csv and as a
 * seed-format console log must give either rows or one error message, never
 * a crash, a hang or undefined behaviour. Parsed rows must hold what the
 * parsers promise: epochs 0, 1, 2, ... in order, and rundir_stats over
 * them sane. Not a test of the messages (tests/test_runs.c does that). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/runs.h"

static void check_rows(const metrics_row *rows, int n) {
    for (int i = 0; i < n; i++)
        if (rows[i].epoch != i) abort();
    if (!n) return;
    rundir r;
    memset(&r, 0, sizeof r);
    r.rows = (metrics_row *)rows, r.n_rows = n;
    run_stats s;
    if (rundir_stats(&s, &r) || s.epochs_done != n || s.best_epoch < 0 || s.best_epoch >= n) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* the readers reject NUL bytes before parsing; a NUL here ends the text */
    metrics_row *rows;
    int n;
    lr_error err = {{0}};
    if (!rundir_parse_metrics(&rows, &n, text, "fuzz/metrics.csv", &err)) {
        check_rows(rows, n);
        free(rows);
    } else if (!err.msg[0]) {
        abort();
    }
    err.msg[0] = '\0';
    if (!rundir_parse_seedlog(&rows, &n, text, "fuzz.log", &err)) {
        if (n < 1) abort();
        check_rows(rows, n);
        free(rows);
    } else if (!err.msg[0]) {
        abort();
    }
    free(text);
    return 0;
}
