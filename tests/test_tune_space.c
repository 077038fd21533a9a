/* tests/test_tune_space.c: lrlab tune's space (tune/space.c over
 * sweep_load_space): the grid's order and size, random trials that follow
 * from (seed, trial) alone and stay inside their ranges, the {lr}
 * placeholder's exact text, and errors naming the file, line, value and
 * what was expected. Runs no training (tests/tune_test.sh does). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/tune.h"
#include "test.h"
#include "test_files.h"

static const char *value_of(const sweep_flags *f, const char *key) {
    const char *v = NULL;
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->flags[i].key, key)) v = f->flags[i].value;
    return v;
}

/* Loads text as a space file; 0 with s and sp ready, else -1 with err. */
static int load(sweep_file *s, tune_space *sp, const char *text, lr_error *err) {
    FILE *f = fopen(test_path("x.tune"), "w");
    fputs(text, f);
    fclose(f);
    if (sweep_load_space(s, test_path("x.tune"), err)) return -1;
    if (tune_space_init(sp, s, NULL, err)) return sweep_free(s), -1;
    return 0;
}

static void check_error(const char *text, const char *want) {
    sweep_file s;
    tune_space sp;
    lr_error err = {{0}};
    int rc = load(&s, &sp, text, &err);
    const char *msg = strstr(err.msg, "x.tune") ? strstr(err.msg, "x.tune") : err.msg;
    CHECK(rc == -1 && strstr(msg, want), "space\n%s\ngave rc %d, '%s'; wanted '%s'", text, rc, msg, want);
    if (!rc) tune_space_free(&sp), sweep_free(&s);
}

int main(void) {
    if (test_tmpdir_make("test_tune_space")) return 1;
    sweep_file s;
    tune_space sp;
    lr_error err = {{0}};
    sweep_flags v, out;
    train_config cfg;

    /* a grid: 3 x 2, the last range fastest; {lr} and {total_steps} per trial */
    int rc = load(&s, &sp,
                  "defaults --epochs 4 --limit-train 1000 --batch 100\n"
                  "space --lr 'choice(0.1, 0.025, 1e-3)'\n"
                  "space --sched \"choice('CosineAnnealingLR(T_max={epochs})', \\\n"
                  "    'OneCycleLR(max_lr={lr}, total_steps={total_steps})')\"\n",
                  &err);
    CHECK(rc == 0, "grid space: %s", err.msg);
    if (!rc) {
        CHECK(sp.grid == 6 && sp.n == 2 && sp.ranges[1].n_options == 2, "grid %ld", sp.grid);
        CHECK(sp.ranges[1].flag->line == 3, "the range's line: %d", sp.ranges[1].flag->line);
        CHECK(!tune_space_trial(&sp, 1, 0, 3, &v, &err), "trial 3: %s", err.msg);
        CHECK(!strcmp(value_of(&v, "lr"), "0.025") && !strcmp(value_of(&v, "sched"), sp.ranges[1].options[1]),
              "trial 3 = (0.025, OneCycleLR): %s", value_of(&v, "lr"));
        CHECK(!tune_space_resolve(&sp, &v, NULL, &out, &cfg, &err), "resolve: %s", err.msg);
        CHECK(!strcmp(value_of(&out, "sched"), "OneCycleLR(max_lr=0.025, total_steps=40)"), "placeholders: %s",
              value_of(&out, "sched"));
        CHECK(cfg.lr == 0.025 && cfg.epochs == 4, "settings");
        sweep_flags_free(&v), sweep_flags_free(&out);
        tune_space_free(&sp), sweep_free(&s);
    }

    /* random: in range, the same for the same (seed, trial), another for another seed */
    rc = load(&s, &sp, "space --lr 'loguniform(1e-3, 0.3)' --momentum 'uniform(0.8, 0.99)' --batch 'choice(64, 128)'\n",
              &err);
    CHECK(rc == 0, "random space: %s", err.msg);
    if (!rc) {
        CHECK(sp.grid == 0, "a continuous range: no grid");
        int in = 1, same = 1, differ = 0, small = 0, batches[2] = {0};
        for (long t = 0; t < 200; t++) {
            sweep_flags a, b, c;
            tune_space_trial(&sp, 0, 7, t, &a, &err);
            tune_space_trial(&sp, 0, 7, t, &b, &err);
            tune_space_trial(&sp, 0, 8, t, &c, &err);
            double lr = atof(value_of(&a, "lr")), m = atof(value_of(&a, "momentum"));
            in &= lr >= 1e-3 * 0.9999 && lr <= 0.3 * 1.0001 && m >= 0.8 && m <= 0.99;
            small += lr < 0.0173; /* the geometric mean: half of a loguniform's draws lie below it */
            batches[!strcmp(value_of(&a, "batch"), "128")]++;
            same &= !strcmp(value_of(&a, "lr"), value_of(&b, "lr"));
            differ += strcmp(value_of(&a, "lr"), value_of(&c, "lr")) != 0;
            sweep_flags_free(&a), sweep_flags_free(&b), sweep_flags_free(&c);
        }
        CHECK(in, "every draw inside its range");
        CHECK(same && differ > 190, "a trial follows from (seed, trial): %d of 200 differ by seed", differ);
        CHECK(small > 70 && small < 130, "loguniform: %d of 200 below the geometric mean", small);
        CHECK(batches[0] > 70 && batches[1] > 70, "choice: %d / %d", batches[0], batches[1]);
        tune_space_free(&sp), sweep_free(&s);
    }

    check_error("space --lr 'loguniform(0, 1)'\n", "x.tune:1: --lr 'loguniform(0, 1)': expected 0 < a < b");
    check_error("space --lr 'uniform(0.5, 0.1)'\n", "x.tune:1: --lr 'uniform(0.5, 0.1)': expected a < b");
    check_error("\nspace --lr 'normal(0, 1)'\n", "x.tune:2: --lr 'normal(0, 1)': expected a range");
    check_error("space --lr 'uniform(a, 1)'\n", "expected uniform(a, b) with two numbers");
    check_error("space --lr 'choice()'\n", "an empty value");
    check_error("space --sched \"choice('StepLR(step_size=2)', 'StepLR(step_size=0)')\"\n", "x.tune:1: --sched");
    check_error("space --lr 'choice(0.1, 0.2)'\nspace --lr 'choice(0.3)'\n", "x.tune:2: --lr: already a range on line 1");
    check_error("space --epochs 'choice(1, 2)'\n", "x.tune:1: --epochs: the epochs are what successive halving");
    check_error("space --batch 'uniform(32, 64)'\n", "x.tune:1: --batch");
    check_error("run a --lr 0.1\n", "x.tune:1: run: a space file has no runs");
    check_error("defaults --epochs 2\n", "no ranges");
    check_error("space --lr \"choice('0.1)\"\n", "unterminated");

    test_tmpdir_remove();
    return test_summary("test_tune_space");
}
