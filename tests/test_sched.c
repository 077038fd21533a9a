/* tests/test_sched.c: learning-rate schedules against PyTorch 1.13's own
 * classes (the tables in tests/fixtures/sched/, made by
 * tests/torch/make_sched_fixtures.py), GradualWarmupScheduler's intended
 * meaning on the seed's configuration, parser errors with their caret
 * positions, and state save/load continuing bit for bit.
 *
 * Run from the repository root (SCHED_FIXTURES overrides the directory). */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/sched.h"
#include "test.h"

#define REL_TOL 1e-9

static double worst_rel; /* the largest relative difference seen, for the record */

static int close_enough(double got, double want) {
    return fabs(got - want) <= REL_TOL * fabs(want) + 1e-300 || (got == want);
}

/* ---- fixtures ---- */

typedef struct {
    char expr[8192];
    double lr, momentum;
    int unit_step, spe, steps, raises_at, n_metrics, n_rows;
    double metrics[256];
    double row_lr[512], row_m[512];
} fixture;

static int run_fixture(const fixture *f, const char *file) {
    /* epochs 0: the run's length is not known, so no coverage check (the
     * fixtures step OneCycleLR to its very end and beyond) */
    sched_context ctx = {f->lr, f->momentum, 0, f->spe, f->unit_step, 0, SCHED_CYCLE_MOMENTUM, 0, 0, 0};
    lr_sched *s;
    lr_error err;
    if (sched_parse(&s, f->expr, &ctx, &err)) {
        fprintf(stderr, "  %s: %s: parse failed:\n%s\n", file, f->expr, err.msg);
        return 0;
    }
    int ok = 1;
    int last = f->raises_at ? f->raises_at : f->steps - 1; /* steps to take */
    /* as the trainer: a schedule with a metric steps at epoch ends only */
    int per_epoch = f->unit_step && sched_needs_metric(s);
    for (int t = 0; t <= last; t++) {
        if (t < f->n_rows) {
            double lr = sched_lr(s), m = sched_momentum(s);
            if (f->row_lr[t] != 0 && fabs(lr - f->row_lr[t]) / fabs(f->row_lr[t]) > worst_rel)
                worst_rel = fabs(lr - f->row_lr[t]) / fabs(f->row_lr[t]);
            if (!close_enough(lr, f->row_lr[t]) || !close_enough(m, f->row_m[t])) {
                fprintf(stderr, "  %s: %s\n    t=%d: lr %.17g want %.17g, momentum %.17g want %.17g\n", file, f->expr,
                        t, lr, f->row_lr[t], m, f->row_m[t]);
                ok = 0;
            }
            if (sched_t(s) != (per_epoch ? t / f->spe : t)) {
                fprintf(stderr, "  %s: %s: sched_t %ld at t=%d\n", file, f->expr, sched_t(s), t);
                ok = 0;
            }
        }
        if (t == last) break;
        double before = sched_lr(s);
        int per = per_epoch ? f->spe : 1;
        if ((t + 1) % per) continue;
        int k = (t + 1) / per - 1;
        double metric = k < f->n_metrics ? f->metrics[k] : 0.0;
        int rc = sched_step(s, metric, &err);
        if (f->raises_at && t + 1 == f->raises_at) {
            if (rc == 0) {
                fprintf(stderr, "  %s: %s: PyTorch raised on the step to t=%d, lrlab did not\n", file, f->expr, t + 1);
                ok = 0;
            } else if (sched_lr(s) != before || sched_t(s) != t) {
                fprintf(stderr, "  %s: %s: a failed step changed the state\n", file, f->expr);
                ok = 0;
            }
        } else if (rc) {
            fprintf(stderr, "  %s: %s: step to t=%d failed:\n%s\n", file, f->expr, t + 1, err.msg);
            ok = 0;
            break;
        }
    }
    sched_free(s);
    return ok;
}

static int test_fixtures(void) {
    const char *dir = getenv("SCHED_FIXTURES");
    if (!dir) dir = "tests/fixtures/sched";
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open fixture directory %s (run from the repository root)", dir);
    if (!d) return 0;
    static fixture f;
    int cases = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".txt")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *fp = fopen(path, "r");
        CHECK(fp != NULL, "cannot open %s", path);
        if (!fp) continue;
        static char line[8192];
        while (fgets(line, sizeof line, fp)) {
            line[strcspn(line, "\n")] = '\0';
            if (!strcmp(line, "case")) {
                memset(&f, 0, sizeof f);
                f.spe = 1;
            } else if (!strncmp(line, "expr ", 5)) {
                snprintf(f.expr, sizeof f.expr, "%s", line + 5);
            } else if (!strncmp(line, "lr ", 3)) {
                f.lr = strtod(line + 3, NULL);
            } else if (!strncmp(line, "momentum ", 9)) {
                f.momentum = strtod(line + 9, NULL);
            } else if (!strncmp(line, "unit ", 5)) {
                f.unit_step = !strcmp(line + 5, "step");
            } else if (!strncmp(line, "spe ", 4)) {
                f.spe = atoi(line + 4);
            } else if (!strncmp(line, "steps ", 6)) {
                f.steps = atoi(line + 6);
            } else if (!strncmp(line, "raises_at ", 10)) {
                f.raises_at = atoi(line + 10);
            } else if (!strncmp(line, "metrics ", 8)) {
                char *p = line + 8, *end;
                while (f.n_metrics < 256) {
                    double v = strtod(p, &end);
                    if (end == p) break;
                    f.metrics[f.n_metrics++] = v;
                    p = end;
                }
            } else if (!strcmp(line, "end")) {
                CHECK(f.n_rows == f.steps && f.steps > 0, "%s: %s: %d rows for steps %d", path, f.expr, f.n_rows,
                      f.steps);
                CHECK(run_fixture(&f, de->d_name), "%s: %s differs from PyTorch", de->d_name, f.expr);
                cases++;
            } else if (line[0] >= '0' && line[0] <= '9' && f.n_rows < 512) {
                char *end;
                long t = strtol(line, &end, 10);
                if (t == f.n_rows) {
                    f.row_lr[f.n_rows] = strtod(end, &end);
                    f.row_m[f.n_rows] = strtod(end, NULL);
                    f.n_rows++;
                }
            }
        }
        fclose(fp);
    }
    closedir(d);
    CHECK(cases >= 60, "only %d fixture cases found in %s", cases, dir);
    return cases;
}

/* ---- the seed's warmup, by its stated numbers ---- */

static void test_seed_warmup(void) {
    sched_context ctx = {0.001, 0.9, 30, 390, 0, 0, SCHED_CYCLE_MOMENTUM, 0, 0, 0};
    lr_sched *s;
    lr_error err;
    int rc = sched_parse(&s,
                         "GradualWarmupScheduler(multiplier=40, total_epoch=5, "
                         "after_scheduler=ExponentialLR(gamma=0.885))",
                         &ctx, &err);
    CHECK(rc == 0, "seed warmup parse: %s", err.msg);
    if (rc) return;
    int ok = 1;
    for (int e = 0; e < 30; e++) {
        double want = e <= 5 ? 0.001 * (1 + 39.0 * e / 5) : 0.04 * pow(0.885, e - 5);
        if (fabs(sched_lr(s) - want) > 1e-12 * want) {
            fprintf(stderr, "  seed warmup: epoch %d lr %.17g want %.17g\n", e, sched_lr(s), want);
            ok = 0;
        }
        sched_step(s, 0, &err);
    }
    CHECK(ok, "seed warmup: 0.001, 0.0088, ..., 0.04 at epoch 5, then 0.04*0.885^(e-5)");
    sched_free(s);
}

/* ---- constant lr, flags ---- */

static void test_basics(void) {
    sched_context ctx = {0.01, 0.9, 10, 390, 0, 0, SCHED_CYCLE_MOMENTUM, 0, 0, 0};
    lr_sched *s;
    lr_error err;
    CHECK(sched_parse(&s, NULL, &ctx, &err) == 0, "NULL expression: %s", err.msg);
    for (int t = 0; t < 5; t++) sched_step(s, 0, &err);
    CHECK(sched_lr(s) == 0.01 && sched_t(s) == 5 && sched_momentum(s) == 0.9, "constant lr");
    CHECK(!sched_needs_metric(s) && !sched_cycles_momentum(s), "constant lr flags");
    sched_free(s);
    CHECK(sched_parse(&s, "  ", &ctx, &err) == 0, "blank expression: %s", err.msg);
    sched_free(s);
    CHECK(sched_parse(&s, "ReduceLROnPlateau()", &ctx, &err) == 0 && sched_needs_metric(s), "plateau needs a metric");
    sched_free(s);
    CHECK(sched_parse(&s, "GradualWarmupScheduler(2, 3, ReduceLROnPlateau(patience=0))", &ctx, &err) == 0 &&
              sched_needs_metric(s),
          "warmup + plateau needs a metric: %s", err.msg);
    /* warmup over 3 epochs ignores metrics, then the plateau starts from b*m */
    for (int t = 0; t < 3; t++) sched_step(s, 1.0, &err);
    CHECK(fabs(sched_lr(s) - 0.02) < 1e-15, "warmup + plateau at peak: %.17g", sched_lr(s));
    sched_step(s, 1.0, &err); /* first metric: an improvement */
    sched_step(s, 2.0, &err); /* worse, patience 0: drop */
    CHECK(fabs(sched_lr(s) - 0.002) < 1e-15, "warmup + plateau after a bad epoch: %.17g", sched_lr(s));
    sched_free(s);
    CHECK(sched_parse(&s, "OneCycleLR(max_lr=0.1, total_steps=100)", &ctx, &err) == 0 && sched_cycles_momentum(s),
          "OneCycleLR cycles momentum");
    sched_free(s);
    CHECK(sched_parse(&s, "CyclicLR(0.01, 0.1, cycle_momentum=False)", &ctx, &err) == 0 && !sched_cycles_momentum(s),
          "CyclicLR(cycle_momentum=False)");
    sched_free(s);
    CHECK(sched_parse(&s, "torch.optim.lr_scheduler.SequentialLR(optimizer, [lr_scheduler.StepLR(optimizer, 3)], [])",
                      &ctx, &err) == 0,
          "module prefixes: %s", err.msg);
    sched_free(s);
    CHECK(sched_parse(&s, "StepLR(optimizer, step_size=3)", &ctx, &err) == 0, "optimizer argument: %s", err.msg);
    sched_free(s);
    CHECK(sched_parse(&s, "StepLR(optimizer=opt, step_size=3, verbose=False, last_epoch=-1)", &ctx, &err) == 0,
          "optimizer=, verbose, last_epoch=-1: %s", err.msg);
    sched_free(s);
    CHECK(sched_parse(&s, "LinearLR(start_factor=1/40, total_iters=2 * 2)", &ctx, &err) == 0 &&
              fabs(sched_lr(s) - 0.01 / 40) < 1e-18,
          "constant arithmetic in arguments: %s", err.msg);
    sched_free(s);
    /* tuples where PyTorch takes them, and parentheses */
    static const char *const good[] = {
        "MultiStepLR(milestones=(2, 4))", "MultiStepLR((5,))", "MultiStepLR(())", "MultiStepLR(milestones=(2, 4,))",
        "SequentialLR((StepLR(2), ExponentialLR(0.9)), (3,))", "ChainedScheduler((StepLR(2),))",
        "CyclicLR(base_lr=(0.01,), max_lr=(0.1,), base_momentum=(0.8,), max_momentum=(0.9,))",
        "OneCycleLR(max_lr=(0.1,), total_steps=100)", "LambdaLR(('0.9 ** epoch',))", "LambdaLR((lambda e: 0.5,))",
        "StepLR((3))", "StepLR(step_size=(1 + 2) * 3)", "StepLR(step_size=((3)), gamma=(0.5))",
        "GradualWarmupScheduler(2, 3, (StepLR(2)))", "StepLR(0x3, 0_0.5)", "StepLR(1_0, 05e-1)", "StepLR(0o7, 0e1 + 0.5)",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(sched_parse(&s, good[i], &ctx, &err) == 0, "%s: %s", good[i], err.msg);
        sched_free(s);
    }
    CHECK(sched_parse(&s, "StepLR(step_size=(1 + 2) * 3)", &ctx, &err) == 0, "%s", err.msg);
    for (int t = 0; t < 9; t++) sched_step(s, 0, &err);
    CHECK(fabs(sched_lr(s) - 0.001) < 1e-18, "(1 + 2) * 3 is 9: lr at 9 %g", sched_lr(s));
    sched_free(s);
    ctx.base_lr = NAN;
    CHECK(sched_parse(&s, "StepLR(3)", &ctx, &err) == -1, "NaN base lr refused");
}

/* ---- errors: message and caret ---- */

typedef struct {
    const char *expr, *want; /* want: a substring of the first line */
    int pos, len;            /* caret column and width; -1: not checked */
} error_case;

static const error_case error_cases[] = {
    {"StepLr(step_size=3)", "unknown scheduler 'StepLr' (did you mean StepLR?)", 0, 6},
    {"StepLR(step_size=0)", "step_size must be >= 1, got 0", 17, 1},
    {"StepLR(gamma=0.5)", "missing required argument 'step_size'", 0, 6},
    {"StepLR(step_size=3, step_size=4)", "argument 'step_size' given twice", 20, 9},
    {"StepLR(3, step_size=4)", "argument 'step_size' given twice", 10, 9},
    {"StepLR(step_size=3, gama=0.5)", "unknown argument 'gama' (did you mean gamma?)", 20, 4},
    {"MultiStepLR(milestones=[10, -5])", "milestones must be >= 0, got -5", 28, 2},
    {"ExponentialLR(gamma=-0.1)", "gamma must be > 0", 20, 4},
    {"ExponentialLR(gamma=0)", "gamma must be > 0", 20, 1},
    {"LambdaLR(lr_lambda='0.95 ^ epoch')", "unexpected '^'", 25, 1},
    {"LambdaLR(lr_lambda='0.95 ** epok')", "unknown name 'epok'", 28, 4},
    {"LambdaLR(lr_lambda='1 / epoch')", "division by zero at 0", 22, 1},
    {"LambdaLR(lr_lambda='epoch // 2')", "'//' is not supported", 26, 2},
    {"LambdaLR(lr_lambda='sin(epoch)')", "unknown function 'sin'", 20, 3},
    {"LambdaLR(lr_lambda='log(epoch)')", "log of a number <= 0", 20, 10},
    {"LambdaLR(lr_lambda='')", "empty expression", -1, -1},
    {"LambdaLR(lr_lambda=0.5)", "lr_lambda must be a quoted expression", 19, 3},
    {"StepLR(step_size=2.5)", "step_size must be an integer, got a float", 17, 3},
    {"StepLR(step_size=True)", "step_size must be an integer, got a bool", 17, 4},
    {"StepLR(step_size=3, gamma=\"0.1\")", "gamma must be a number, got a string", 26, 5},
    {"StepLR(step_size=3, gamma=1e999)", "is not finite", 26, 5},
    {"StepLR(step_size=3, last_epoch=5)", "only last_epoch=-1", 31, 1},
    {"StepLR(3, 0.1, -1, False, 7)", "too many positional arguments", 26, 1},
    {"StepLR(gamma=0.1, 3)", "positional argument follows keyword argument", 18, 1},
    {"StepLR(step_size=3", "unexpected end of the expression", 18, 1},
    {"StepLR(step_size=3))", "unexpected ')'", 19, 1},
    {"StepLR(step_size=3) extra", "unexpected 'extra'", 20, 5},
    {"StepLR(step_size=x)", "unknown name 'x'", 17, 1},
    {"StepLR(step_size=3 $)", "unexpected '$'", 19, 1},
    {"StepLR(step_size='3)", "unterminated string", 17, 1},
    {"42", "unexpected '42'", 0, 2},
    {"[StepLR(3)]", "unexpected '['", 0, 1},
    {"CosineAnnealingLR(T_max=0)", "T_max must be >= 1", 24, 1},
    {"CosineAnnealingWarmRestarts(T_0=2, T_mult=1.5)", "T_mult must be an integer", 42, 3},
    {"CosineAnnealingWarmRestarts(T_0=0)", "T_0 must be a positive integer", 32, 1},
    {"ConstantLR(factor=1.5)", "factor must be in (0, 1]", 18, 3},
    {"LinearLR(start_factor=0)", "start_factor must be in (0, 1]", 22, 1},
    {"LinearLR(total_iters=0)", "total_iters must be >= 1", 21, 1},
    {"PolynomialLR(power=-1)", "power must be >= 0", 19, 2},
    {"OneCycleLR(max_lr=0.1)", "either total_steps OR (epochs AND steps_per_epoch)", 0, 10},
    {"OneCycleLR(max_lr=0.1, epochs=3)", "steps_per_epoch", -1, -1},
    {"OneCycleLR(max_lr=0.1, total_steps=10, pct_start=1)", "pct_start must be a float", 49, 1},
    {"OneCycleLR(max_lr=0.1, total_steps=10, pct_start=0.1)", "phase 1 has zero length", 0, 10},
    {"OneCycleLR(max_lr=0.1, total_steps=10, anneal_strategy='cosine')", "one of 'cos', 'linear'", 55, 8},
    {"CyclicLR(0.01, 0.1, mode='triangle')", "mode must be one of 'triangular', 'triangular2', 'exp_range'", 25, 10},
    {"CyclicLR(0.01, 0.1, step_size_up=0)", "step_size_up must be > 0", 33, 1},
    {"CyclicLR(base_lr=[0.01, 0.02], max_lr=0.1)", "expected 1 value for base_lr, got 2", 17, 12},
    {"ReduceLROnPlateau(factor=1.0)", "factor should be < 1.0", 25, 3},
    {"ReduceLROnPlateau(mode='mni')", "mode must be one of 'min', 'max'", 23, 5},
    {"ReduceLROnPlateau(patience=-1)", "patience must be >= 0", 27, 2},
    {"SequentialLR([ConstantLR(), ExponentialLR(0.9)], [])", "one milestone fewer than schedulers", 49, 2},
    {"SequentialLR([ConstantLR(), ExponentialLR(0.9)], [0])", "milestones must be >= 1", 50, 1},
    {"SequentialLR([], [])", "schedulers must not be empty", 13, 2},
    {"SequentialLR([ConstantLR(), ReduceLROnPlateau()], [2])", "cannot contain ReduceLROnPlateau", 28, 17},
    {"SequentialLR([ChainedScheduler([StepLR(2)])], [])", "cannot contain ChainedScheduler", 14, 16},
    {"SequentialLR([StepLR(2), SequentialLR([StepLR(2)], [])], [3])", "can only be SequentialLR's first", 25, 12},
    {"ChainedScheduler([ReduceLROnPlateau()])", "cannot contain ReduceLROnPlateau", 18, 17},
    {"ChainedScheduler(optimizer, [StepLR(2)])", "unknown name 'optimizer'", 17, 9},
    {"ChainedScheduler([StepLR(2), 3])", "schedulers: expected a list or tuple of schedulers, got an integer at element 1", 29, 1},
    {"SequentialLR((StepLR(2), 'x'), (1,))", "got a string at element 1", 25, 3},
    /* Python's literals and tuples */
    {"StepLR(step_size=03)", "invalid number '03': leading zeros in decimal integer literals are not permitted", 17, 2},
    {"StepLR(step_size=1__0)", "invalid number '1__0': invalid decimal literal", 17, 4},
    {"StepLR(step_size=3, gamma=0.5_)", "invalid decimal literal", 26, 4},
    {"StepLR(step_size=0b12)", "invalid digit in binary literal", 17, 4},
    {"StepLR(step_size=3, gamma=1j)", "complex numbers are not supported", 26, 2},
    {"LambdaLR(lr_lambda='03 * epoch')", "leading zeros", 20, 2},
    {"MultiStepLR(milestones=(2, 2.5))", "MultiStepLR: milestones: expected a list or tuple of ints, got float 2.5 at element 1", 27, 3},
    {"MultiStepLR(milestones=[2, 'x'])", "milestones: expected a list or tuple of ints, got a string at element 1", 27, 3},
    {"MultiStepLR(milestones=(2, 1e16))", "got float 1e+16 at element 1", 27, 4},
    {"MultiStepLR(milestones=2)", "milestones: expected a list or tuple of ints, got an integer", 23, 1},
    {"SequentialLR([StepLR(2), StepLR(3)], milestones=(1.5,))", "got float 1.5 at element 0", 49, 3},
    {"CyclicLR(base_lr=(0.01, 0.02), max_lr=0.1)", "expected 1 value for base_lr, got 2 (PyTorch's ValueError: one per parameter group)", 17, 12},
    {"StepLR(step_size=(3, 4))", "step_size must be an integer, got a tuple", 17, 6},
    {"StepLR(step_size=(3,)", "unexpected end of the expression", 21, 1},
    {"StepLR(step_size=(3 4))", "unexpected '4' (expected ',' or ')')", 20, 1},
    {"GradualWarmupScheduler(multiplier=0.5, total_epoch=5)", "multiplier must be >= 1", 34, 3},
    {"GradualWarmupScheduler(multiplier=2, total_epoch=0)", "total_epoch must be >= 1", 49, 1},
    {"GradualWarmupScheduler(2, 5, after_scheduler=SequentialLR([StepLR(2), ReduceLROnPlateau()], [2]))", "cannot contain ReduceLROnPlateau", 70, 17},
    {"GradualWarmupScheduler(2, 5, after_scheduler=3)", "after_scheduler must be a scheduler", 45, 1},
    {"Foo(1)", "unknown scheduler 'Foo' (lrlab knows", 0, 3},
    {"torch.optim.lr_schedular.StepLR(3)", "unknown module 'torch.optim.lr_schedular'", 0, 24},
    {"lr_scheduler.StepLr(3)", "unknown scheduler 'StepLr'", 13, 6},
    {"lr_scheduler.(3)", "unexpected '(' (expected a name after '.')", 13, 1},
};

static void check_caret(const char *expr, const char *msg, int pos, int len) {
    /* message: "sched: ...\n  EXPR\n  ^~~" */
    const char *l2 = strchr(msg, '\n');
    const char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
    CHECK(l3 != NULL, "%s: message has no caret line:\n%s", expr, msg);
    if (!l3) return;
    l3++;
    const char *caret = strchr(l3, '^');
    int col = caret ? (int)(caret - l3) - 2 : -1;
    int tildes = 0;
    if (caret)
        while (caret[1 + tildes] == '~') tildes++;
    CHECK(col == pos && tildes == len - 1, "%s: caret at %d width %d, want %d width %d:\n%s", expr, col, tildes + 1,
          pos, len, msg);
}

static void test_errors(void) {
    sched_context ctx = {0.1, 0.9, 10, 390, 0, 0, SCHED_CYCLE_MOMENTUM, 0, 0, 0};
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const error_case *c = &error_cases[i];
        lr_sched *s = NULL;
        lr_error err;
        err.msg[0] = '\0';
        int rc = sched_parse(&s, c->expr, &ctx, &err);
        CHECK(rc == -1 && s == NULL, "%s: parsed, expected an error containing '%s'", c->expr, c->want);
        if (rc != -1) {
            sched_free(s);
            continue;
        }
        char first[1024];
        snprintf(first, sizeof first, "%s", err.msg);
        first[strcspn(first, "\n")] = '\0';
        CHECK(!strncmp(first, "sched: ", 7) && strstr(first, c->want), "%s: message\n%s\nlacks '%s'", c->expr,
              err.msg, c->want);
        if (c->pos >= 0) check_caret(c->expr, err.msg, c->pos, c->len);
    }
    /* the exact whole message of the brief's example */
    lr_sched *s;
    lr_error err;
    sched_parse(&s, "StepLr(step_size=3)", &ctx, &err);
    CHECK(!strcmp(err.msg, "sched: unknown scheduler 'StepLr' (did you mean StepLR?)\n  StepLr(step_size=3)\n  ^~~~~~"),
          "whole message:\n%s", err.msg);
    /* bounded: nesting and length */
    char deep[400];
    int k = snprintf(deep, sizeof deep, "LambdaLR('");
    for (int i = 0; i < 100; i++) deep[k++] = '(';
    k += snprintf(deep + k, sizeof deep - (size_t)k, "epoch");
    for (int i = 0; i < 100; i++) deep[k++] = ')';
    snprintf(deep + k, sizeof deep - (size_t)k, "')");
    CHECK(sched_parse(&s, deep, &ctx, &err) == -1 && strstr(err.msg, "nested too deeply"), "deep nesting: %s", err.msg);
    static char longx[6000];
    memset(longx, ' ', sizeof longx - 1);
    memcpy(longx, "StepLR(3)", 9);
    CHECK(sched_parse(&s, longx, &ctx, &err) == -1 && strstr(err.msg, "characters long"), "long: %s", err.msg);
    /* a long expression's message shows a window with the caret in it */
    char wide[1200];
    k = snprintf(wide, sizeof wide, "ChainedScheduler([");
    for (int i = 0; i < 40; i++) k += snprintf(wide + k, sizeof wide - (size_t)k, "StepLR(2), ");
    snprintf(wide + k, sizeof wide - (size_t)k, "StepLR(0)])");
    CHECK(sched_parse(&s, wide, &ctx, &err) == -1 && strstr(err.msg, "...") && strlen(err.msg) < 400,
          "long expression window:\n%s", err.msg);
    /* OneCycleLR past its end (in a run of unknown length): PyTorch's error, and the state is kept */
    ctx.epochs = 0;
    CHECK(sched_parse(&s, "OneCycleLR(max_lr=0.1, total_steps=3)", &ctx, &err) == 0, "%s", err.msg);
    int fails = 0;
    for (int t = 0; t < 3; t++) fails += sched_step(s, 0, &err) != 0;
    double lr = sched_lr(s);
    CHECK(fails == 0 && sched_step(s, 0, &err) == -1 && strstr(err.msg, "Tried to step 5 times. The specified number of total steps is 3") && sched_t(s) == 3 &&
              sched_lr(s) == lr,
          "OneCycleLR past total_steps: %s", err.msg);
    sched_free(s);
}

/* ---- a schedule that cannot cover the run ---- */

static void test_coverage(void) {
    lr_sched *s;
    lr_error err;
    sched_context ctx = {0.1, 0.9, 30, 390, 0, 0, SCHED_CYCLE_MOMENTUM, 0, 0, 0};
    /* epoch unit: the run steps 30 times */
    CHECK(sched_parse(&s, "OneCycleLR(max_lr=0.1, total_steps=29)", &ctx, &err) == -1 &&
              strstr(err.msg, "the run steps it 30 times (30 epochs)") &&
              strstr(err.msg, "Tried to step 31 times. The specified number of total steps is 29") &&
              strstr(err.msg, "needs total_steps >= 30"),
          "total_steps 29 for 30 epochs: %s", err.msg);
    /* printing lr(0..29) (lrlab schedule) takes 29 steps: all PyTorch computes with total_steps 29 */
    ctx.print_only = 1;
    CHECK(sched_parse(&s, "OneCycleLR(max_lr=0.1, total_steps=29)", &ctx, &err) == 0, "print only: %s", err.msg);
    sched_free(s);
    CHECK(sched_parse(&s, "OneCycleLR(max_lr=0.1, total_steps=28)", &ctx, &err) == -1 &&
              strstr(err.msg, "printing lr(0..29) steps it 29 times (30 epochs)"),
          "print only, total_steps 28: %s", err.msg);
    ctx.print_only = 0;
    CHECK(sched_parse(&s, "OneCycleLR(max_lr=0.1, total_steps=30)", &ctx, &err) == 0, "total_steps 30: %s", err.msg);
    CHECK(sched_warning(s) == NULL, "total_steps 30 for 30 epochs: no warning");
    /* the state after the rehearsal is the fresh one */
    CHECK(sched_t(s) == 0 && fabs(sched_lr(s) - 0.004) < 1e-15 && sched_momentum(s) == 0.95,
          "rehearsal undone: t %ld lr %g", sched_t(s), sched_lr(s));
    sched_free(s);
    /* step unit: 30 * 390 steps */
    ctx.unit_step = 1;
    CHECK(sched_parse(&s, "OneCycleLR(max_lr=0.1, epochs=30, steps_per_epoch=390)", &ctx, &err) == 0, "%s", err.msg);
    sched_free(s);
    CHECK(sched_parse(&s, "OneCycleLR(max_lr=0.1, epochs=29, steps_per_epoch=390)", &ctx, &err) == -1 &&
              strstr(err.msg, "11700 times (30 epochs of 390 steps") && strstr(err.msg, "total steps is 11310"),
          "29 epochs of steps for 30: %s", err.msg);
    /* nested: OneCycleLR from milestone 10 of 30 needs 20 more steps */
    ctx.unit_step = 0;
    CHECK(sched_parse(&s, "SequentialLR([ConstantLR(), OneCycleLR(max_lr=0.1, total_steps=15)], [10])", &ctx, &err) == -1 &&
              strstr(err.msg, "needs total_steps >= 20"),
          "OneCycleLR as the second phase: %s", err.msg);
    CHECK(sched_parse(&s, "GradualWarmupScheduler(2, 5, OneCycleLR(max_lr=0.1, total_steps=25))", &ctx, &err) == 0,
          "OneCycleLR after a 5-epoch warmup covers 30: %s", err.msg);
    sched_free(s);
    /* anything that fails later in the run: an lr_lambda that overflows at t = 710 */
    ctx.epochs = 800;
    CHECK(sched_parse(&s, "LambdaLR('exp(epoch)')", &ctx, &err) == -1 && strstr(err.msg, "step 710 fails"),
          "a lambda that overflows inside the run: %s", err.msg);
    ctx.epochs = 0; /* unknown length: no rehearsal */
    CHECK(sched_parse(&s, "LambdaLR('exp(epoch)')", &ctx, &err) == 0, "%s", err.msg);
    sched_free(s);
    /* warnings: per-step sizes in epoch unit */
    ctx.epochs = 30;
    static const struct {
        const char *expr;
        int unit_step, warns;
    } w[] = {
        {"OneCycleLR(max_lr=0.1, epochs=30, steps_per_epoch=390)", 0, 1},
        {"OneCycleLR(max_lr=0.1, total_steps=299)", 0, 0},
        {"OneCycleLR(max_lr=0.1, total_steps=300)", 0, 1},
        {"CyclicLR(0.01, 0.1)", 0, 1},
        {"CyclicLR(0.01, 0.1, step_size_up=4)", 0, 0},
        {"SequentialLR([StepLR(2), CyclicLR(0.01, 0.1, step_size_up=780)], [5])", 0, 1},
        {"CyclicLR(0.01, 0.1)", 1, 0},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        ctx.unit_step = w[i].unit_step;
        CHECK(sched_parse(&s, w[i].expr, &ctx, &err) == 0, "%s: %s", w[i].expr, err.msg);
        const char *msg = sched_warning(s);
        CHECK(w[i].warns ? msg && strstr(msg, "--sched-unit step") : !msg, "%s (unit %d): warning '%s'", w[i].expr,
              w[i].unit_step, msg ? msg : "");
        sched_free(s);
    }
}

/* ---- GradualWarmupScheduler at the edges (SEMANTICS.md) ---- */

static void test_warmup_edges(void) {
    sched_context ctx = {0.01, 0.9, 0, 1, 0, 0, SCHED_CYCLE_MOMENTUM, 0, 0, 0};
    lr_sched *s;
    lr_error err;
    /* at t = E exactly b*m; after it S(t - E) on a fresh optimiser at b*m */
    static const struct {
        const char *expr;
        double at_E, after; /* lr(E), lr(E + 1) */
    } c[] = {
        {"GradualWarmupScheduler(4, 3, MultiplicativeLR('0.5'))", 0.04, 0.02},
        {"GradualWarmupScheduler(4, 3, LambdaLR('0.5'))", 0.04, 0.02},
        {"GradualWarmupScheduler(4, 3, CyclicLR(0.001, 0.1, step_size_up=2))", 0.04, 0.0505},
        {"GradualWarmupScheduler(3, 7, ExponentialLR(0.5))", 0.03, 0.015},
        {"GradualWarmupScheduler(1, 7, ExponentialLR(0.5))", 0.01, 0.005},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        if (sched_parse(&s, c[i].expr, &ctx, &err)) {
            CHECK(0, "%s: %s", c[i].expr, err.msg);
            continue;
        }
        long E = strstr(c[i].expr, ", 7,") ? 7 : 3;
        for (long t = 0; t < E; t++) sched_step(s, 0, &err);
        double at_E = sched_lr(s);
        sched_step(s, 0, &err);
        CHECK(at_E == c[i].at_E && fabs(sched_lr(s) - c[i].after) < 1e-15, "%s: lr(E) %.17g want %.17g, lr(E+1) %.17g want %g",
              c[i].expr, at_E, c[i].at_E, sched_lr(s), c[i].after);
        sched_free(s);
    }
    /* OneCycleLR does not change the ramp: b, then up to b*m */
    CHECK(sched_parse(&s, "GradualWarmupScheduler(10, 4, OneCycleLR(max_lr=1.0, total_steps=10, div_factor=5.0))", &ctx,
                      &err) == 0,
          "%s", err.msg);
    double want[] = {0.01, 0.0325, 0.055, 0.0775, 0.1};
    int ok = 1;
    for (int t = 0; t < 5; t++, sched_step(s, 0, &err)) ok &= fabs(sched_lr(s) - want[t]) < 1e-15;
    CHECK(ok && sched_momentum(s) < 0.95, "OneCycleLR after the warmup: ramp from b to b*m, then S(1) (lr %g)", sched_lr(s));
    sched_free(s);
}

/* ---- state save/load ---- */

static const char *const state_exprs[] = {
    "CosineAnnealingLR(T_max=7, eta_min=0.001)",
    "CosineAnnealingWarmRestarts(T_0=2, T_mult=2)",
    "MultiplicativeLR('0.9 + 0.01 * epoch')",
    "ReduceLROnPlateau(patience=1, cooldown=2, factor=0.5)",
    "OneCycleLR(max_lr=0.1, total_steps=40, three_phase=True)",
    "CyclicLR(0.01, 0.1, step_size_up=3, mode='triangular2')",
    "SequentialLR([LinearLR(total_iters=3), CosineAnnealingLR(T_max=8)], [4])",
    "ChainedScheduler([StepLR(3, 0.5), ExponentialLR(0.95)])",
    "GradualWarmupScheduler(multiplier=40, total_epoch=5, after_scheduler=ExponentialLR(gamma=0.885))",
    "GradualWarmupScheduler(multiplier=1, total_epoch=3, after_scheduler=ReduceLROnPlateau(patience=0))",
};

static double metric_at(int t) { return 1.0 / (1 + t % 5); }

static void test_state(void) {
    sched_context ctx = {0.1, 0.9, 40, 10, 0, 0, SCHED_CYCLE_MOMENTUM, 0, 0, 0};
    for (size_t i = 0; i < sizeof state_exprs / sizeof state_exprs[0]; i++) {
        const char *x = state_exprs[i];
        lr_sched *a, *b, *c;
        lr_error err;
        if (sched_parse(&a, x, &ctx, &err) || sched_parse(&b, x, &ctx, &err) || sched_parse(&c, x, &ctx, &err)) {
            CHECK(0, "%s: %s", x, err.msg);
            continue;
        }
        /* a runs straight through; b runs 11 steps, saves; c loads and continues */
        int ok = 1;
        for (int t = 0; t < 11; t++) {
            sched_step(a, metric_at(t), &err);
            sched_step(b, metric_at(t), &err);
        }
        double buf[256];
        int n = sched_state_save(b, buf, 256);
        CHECK(n > 0 && sched_state_save(b, buf, 2) == -1, "%s: save", x);
        CHECK(sched_state_load(c, buf, n, &err) == 0, "%s: load: %s", x, err.msg);
        CHECK(sched_state_load(c, buf, n - 1, &err) == -1, "%s: load of a short state refused", x);
        for (int t = 11; t < 30; t++) {
            if (sched_lr(a) != sched_lr(c) || sched_momentum(a) != sched_momentum(c) || sched_t(a) != sched_t(c)) {
                fprintf(stderr, "  %s: t=%d: resumed lr %.17g, straight %.17g\n", x, t, sched_lr(c), sched_lr(a));
                ok = 0;
                break;
            }
            sched_step(a, metric_at(t), &err);
            sched_step(c, metric_at(t), &err);
        }
        CHECK(ok, "%s: a resumed schedule continues bit for bit", x);
        sched_free(a);
        sched_free(b);
        sched_free(c);
    }
    /* a state from another expression is refused */
    lr_sched *a, *b;
    lr_error err;
    sched_parse(&a, "StepLR(3)", &ctx, &err);
    sched_parse(&b, "ExponentialLR(0.9)", &ctx, &err);
    double buf[64];
    int n = sched_state_save(a, buf, 64);
    CHECK(sched_state_load(b, buf, n, &err) == -1 && strstr(err.msg, "different"), "foreign state: %s", err.msg);
    buf[4] = NAN; /* last_epoch of the StepLR */
    CHECK(sched_state_load(a, buf, n, &err) == -1, "NaN in a state refused");
    sched_free(a);
    sched_free(b);
}

int main(void) {
    int cases = test_fixtures();
    printf("NOTE fixture cases: %d, largest relative difference from PyTorch: %.3g\n", cases, worst_rel);
    test_seed_warmup();
    test_basics();
    test_errors();
    test_coverage();
    test_warmup_edges();
    test_state();
    return test_summary("test_sched");
}
