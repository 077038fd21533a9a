/* tests/test_asha.c: tune/asha.c's promotion decisions on a synthetic
 * objective (trial t scores q[t] + 10 k at rung k: ranks agree across
 * rungs), worked by hand for r_min 1, eta 3, r_max 9 (rungs 1, 3, 9) and 9
 * trials run one at a time:
 *   new 0, 1, 2; promote 1 (top 1 of 3); new 3, 4, 5; promote 5 (top 2 of
 *   6: 1 and 5); new 6, 7, 8; promote 3 (top 3 of 9); promote 1 to rung 2
 *   (top 1 of 3 at rung 1); done. Spent: 9·1 + 3·2 + 1·6 = 21 epochs (a
 *   full run of each: 81).
 * A budget of 15 epochs stops before the last promotion. A stop after any
 * hand-out (the busy job lost), saved and loaded, continues to the same
 * end: no trial lost or run twice at a rung. */
#include <math.h>
#include <stdlib.h>

#include "lrlab/tune.h"
#include "test.h"

static const double q[9] = {5, 9, 1, 7, 3, 8, 2, 6, 4};

/* Runs a to the end; trace gets "n0 n1 ... p1.1 ..." (new trial t, promotion of t to rung k);
 * stop_after: save and reload a fresh object after that many hand-outs (the job in flight is lost). */
static void run(asha *a, char *trace, size_t cap, int stop_after, int r_min, int r_max, int max_trials, long budget) {
    asha_job j;
    lr_error err;
    int handed = 0;
    trace[0] = '\0';
    while (asha_next(a, &j, &err) == 1) {
        size_t l = strlen(trace);
        if (j.is_new) snprintf(trace + l, cap - l, "n%d ", j.trial);
        else snprintf(trace + l, cap - l, "p%d.%d ", j.trial, j.rung);
        if (++handed == stop_after) { /* killed while training it: only the file survives */
            char *text;
            size_t len;
            CHECK(!asha_save(a, &text, &len, &err), "save: %s", err.msg);
            asha_free(a);
            asha_init(a, r_min, r_max, 3, max_trials, budget, &err);
            CHECK(!asha_load(a, text, "state", &err), "load: %s", err.msg);
            free(text);
            l = strlen(trace);
            snprintf(trace + l, cap - l, "| ");
            continue;
        }
        CHECK(!asha_report(a, j.trial, j.rung, q[j.trial] + 10 * j.rung, &err), "report: %s", err.msg);
    }
    CHECK(asha_done(a), "done at the end");
}

int main(void) {
    asha a;
    lr_error err;
    char trace[512];
    CHECK(!asha_init(&a, 1, 9, 3, 9, 0, &err), "init");
    CHECK(a.n_rungs == 3 && a.epochs[0] == 1 && a.epochs[1] == 3 && a.epochs[2] == 9, "rungs %d: %d %d %d", a.n_rungs,
          a.epochs[0], a.epochs[1], a.epochs[2]);
    run(&a, trace, sizeof trace, -1, 1, 9, 9, 0);
    CHECK(!strcmp(trace, "n0 n1 n2 p1.1 n3 n4 n5 p5.1 n6 n7 n8 p3.1 p1.2 "), "trace '%s'", trace);
    CHECK(a.spent == 21, "spent %ld epochs, want 21", a.spent);
    CHECK(asha_best(&a) == 1 && a.metric[1][2] == 29, "best %d", asha_best(&a));
    asha_free(&a);

    asha_init(&a, 1, 9, 3, 9, 15, &err);
    run(&a, trace, sizeof trace, -1, 1, 9, 9, 15);
    CHECK(!strcmp(trace, "n0 n1 n2 p1.1 n3 n4 n5 p5.1 n6 n7 n8 p3.1 "), "budget 15: trace '%s'", trace);
    CHECK(a.spent == 15, "budget 15: spent %ld", a.spent);
    CHECK(asha_best(&a) == 1, "budget 15: best at rung 1 is trial 1");
    asha_free(&a);

    /* r_max not a power: rungs 2, 6, 10 */
    asha_init(&a, 2, 10, 3, 0, 0, &err);
    CHECK(a.n_rungs == 3 && a.epochs[2] == 10 && a.epochs[1] == 6, "rungs 2 6 10");
    asha_free(&a);
    CHECK(asha_init(&a, 0, 9, 3, 0, 0, &err) == -1 && strstr(err.msg, "min epochs 0"), "bad r_min: %s", err.msg);

    /* a stop after each hand-out: the same results, every (trial, rung) reported once */
    asha_init(&a, 1, 9, 3, 9, 0, &err);
    run(&a, trace, sizeof trace, -1, 1, 9, 9, 0);
    asha ref = a;
    for (int stop = 1; stop <= 13; stop++) {
        asha b;
        asha_init(&b, 1, 9, 3, 9, 0, &err);
        run(&b, trace, sizeof trace, stop, 1, 9, 9, 0);
        int same = b.n_trials == ref.n_trials && b.spent == ref.spent;
        for (int t = 0; same && t < b.n_trials; t++)
            for (int k = 0; k < 3; k++)
                same &= isnan(b.metric[t][k]) ? isnan(ref.metric[t][k]) : b.metric[t][k] == ref.metric[t][k];
        CHECK(same, "stopped after hand-out %d: trace '%s', %d trials, spent %ld", stop, trace, b.n_trials, b.spent);
        asha_free(&b);
    }
    asha_free(&a);

    /* a diverged trial (NaN: -inf) is never promoted, even in the top 1/eta: 3 trials, 2 diverged */
    asha_init(&a, 1, 9, 3, 3, 0, &err);
    asha_job j;
    for (int t = 0; t < 3; t++) {
        CHECK(asha_next(&a, &j, &err) == 1 && j.is_new && j.trial == t, "diverged case: new trial %d", t);
        asha_report(&a, j.trial, 0, t == 2 ? 1.0 : NAN, &err);
    }
    CHECK(asha_next(&a, &j, &err) == 1 && j.trial == 2 && j.rung == 1, "the finite trial 2 is promoted");
    asha_report(&a, 2, 1, 2.0, &err);
    CHECK(asha_next(&a, &j, &err) == 0 && asha_done(&a), "then done: no diverged trial promoted");
    asha_free(&a);
    asha_init(&a, 1, 9, 3, 3, 0, &err);
    for (int t = 0; t < 3; t++) asha_next(&a, &j, &err), asha_report(&a, t, 0, NAN, &err);
    CHECK(asha_next(&a, &j, &err) == 0 && asha_done(&a), "all diverged: none promoted, done");
    asha_free(&a);

    asha_init(&a, 1, 9, 3, 9, 0, &err);
    CHECK(asha_load(&a, "asha 1 rungs 2 eta 3 trials 0\n", "st", &err) == -1 && strstr(err.msg, "not its state"),
          "another tune's state is refused: %s", err.msg);
    CHECK(asha_load(&a, "asha 1 rungs 3 eta 3 trials 1\n- 5 -\n", "st", &err) == -1 && strstr(err.msg, "st:2"),
          "a rung reached without the one below is refused: %s", err.msg);
    asha_free(&a);
    return test_summary("test_asha");
}
