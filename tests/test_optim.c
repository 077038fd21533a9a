/* tests/test_optim.c: every optimiser's step against torch.optim 1.13, step
 * by step from the same weights and gradients: SGD (tests/fixtures/sgd/sgd.txt:
 * momentum, dampening, Nesterov, weight decay, a schedule setting the lr and
 * a cycled momentum that starts at 0, when PyTorch creates the buffer
 * undamped) and Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam,
 * RAdam, ASGD, Rprop (tests/fixtures/optim/optim.txt: each with and without
 * weight decay, their switches, and a schedule), the averages of the
 * weights over their steps (tests/fixtures/optim/average.txt: Lookahead
 * against a reference written in the script, timm's ModelEmaV2 update,
 * torch.optim.swa_utils.AveragedModel; and over a BatchNorm model, which
 * buffers each average moves), all made by
 * tests/torch/make_sched_fixtures.py; the --optim parser's defaults, checks
 * and messages; the settings check that refuses --nesterov as
 * torch.optim.SGD's constructor does; --param-group's selectors, keys and
 * frozen epochs.
 *
 * Parameters agree to float rounding, not bit for bit: ATen's AVX2 kernels
 * fuse the multiply-adds (add(x, alpha=a) is one fmadd) while lrlab's C,
 * ISO C11 without contraction, rounds the product and the sum apart, so
 * each operation may differ by half an ulp. The check allows 8 float ulps
 * per step of the magnitudes involved (a parameter and its change). The
 * averaging kernels themselves are exact: fed PyTorch's weights after each
 * step, they give PyTorch's averages bit for bit.
 *
 * Run from the repository root (SGD_FIXTURES, OPTIM_FIXTURES override the files). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/average.h"
#include "lrlab/config.h"
#include "lrlab/optim.h"
#include "lrlab/sched.h"
#include "test.h"

#define MAX_N 64
#define MAX_STEPS 32

typedef struct {
    char name[128], sched[1024], optim[1024];
    double lr, momentum, dampening, weight_decay; /* sgd.txt's settings */
    int nesterov, n, steps;
    float p0[MAX_N], g[MAX_STEPS][MAX_N], p[MAX_STEPS][MAX_N];
    char average[256]; /* average.txt: "lookahead ARGS", "ema DECAY" or "swa EVERY" */
    float q[MAX_STEPS][MAX_N], a[MAX_STEPS][MAX_N]; /* the weights before averaging, the average */
} optim_case;

static double worst_ulps[OPTIM_KINDS]; /* the largest difference seen, in float ulps of the scale */

static int read_floats(const char *s, float *out, int n) {
    char *end;
    for (int i = 0; i < n; i++) {
        out[i] = strtof(s, &end);
        if (end == s) return -1;
        s = end;
    }
    return 0;
}

/* An average of average.txt (lrlab/average.h's kernels). */
typedef struct {
    lookahead *la; /* lookahead, or NULL */
    double decay;  /* ema > 0 */
    int every;     /* swa > 0 */
    int steps;
} avg_spec;

static int avg_spec_parse(avg_spec *a, const char *text, int steps, lr_error *err) {
    memset(a, 0, sizeof *a);
    a->steps = steps;
    if (!strncmp(text, "lookahead ", 10)) return lookahead_parse(&a->la, text + 10, steps, err);
    if (!strncmp(text, "ema ", 4)) return (a->decay = strtod(text + 4, NULL)) > 0 ? 0 : -1;
    if (!strncmp(text, "swa ", 4)) return (a->every = atoi(text + 4)) > 0 ? 0 : -1;
    return lr_fail(err, "unknown average '%s'", text);
}

/* The average after the optimiser's step number `done` (from 1): avg and
 * the weights p (which Lookahead moves), n_avg SWA's n_averaged. */
static int avg_spec_step(const avg_spec *a, float *avg, float *p, int n, long *n_avg, int done, lr_error *err) {
    if (a->la) {
        double alpha;
        if (done % lookahead_k(a->la) == 0) {
            if (lookahead_alpha(a->la, done, &alpha, err)) return -1;
            avg_lookahead(avg, p, n, alpha);
        }
        if (lookahead_final(a->la) && done == a->steps) avg_lookahead(avg, p, n, 0.0);
    } else if (a->decay > 0) {
        avg_ema(avg, p, n, a->decay);
    } else if (done % a->every == 0) {
        avg_swa(avg, p, n, (*n_avg)++);
    }
    return 0;
}

/* The kernels alone, bit for bit: from PyTorch's weights after each step
 * (q) and its previous average, PyTorch's average and weights (a, p). */
static int average_exact(const optim_case *c, const avg_spec *a) {
    float avg[MAX_N], p[MAX_N];
    long n_avg = 0;
    lr_error err;
    memcpy(avg, c->p0, sizeof avg);
    for (int t = 0; t < c->steps; t++) {
        memcpy(p, c->q[t], sizeof p);
        if (avg_spec_step(a, avg, p, c->n, &n_avg, t + 1, &err)) return fprintf(stderr, "  %s: %s\n", c->name, err.msg), 0;
        if (memcmp(avg, c->a[t], (size_t)c->n * sizeof(float)) || memcmp(p, c->p[t], (size_t)c->n * sizeof(float))) {
            for (int i = 0; i < c->n; i++)
                if (avg[i] != c->a[t][i] || p[i] != c->p[t][i])
                    fprintf(stderr, "  %s: step %d, parameter %d: average %.9g, PyTorch %.9g; weight %.9g, PyTorch %.9g\n",
                            c->name, t, i, avg[i], c->a[t][i], p[i], c->p[t][i]);
            return 0;
        }
        memcpy(avg, c->a[t], sizeof avg); /* PyTorch's, for the next step */
    }
    return 1;
}

static int average_cases, average_exact_ok;
static double worst_average_ulps;

static int run_case(const optim_case *c) {
    optim_params hp;
    lr_error err;
    int lr_given;
    if (c->optim[0] ? optim_parse(&hp, &lr_given, c->optim, &err)
                    : optim_sgd(&hp, c->lr, c->momentum, c->dampening, c->weight_decay, c->nesterov, &err)) {
        fprintf(stderr, "  %s: %s\n", c->name, err.msg);
        return 0;
    }
    train_config tc; /* the trainer's context: epoch 0 (no rehearsal), t counts steps */
    config_defaults(&tc);
    tc.epochs = 0, tc.sched_unit_step = 1;
    sched_context ctx = config_sched_context(&tc, &hp, 1);
    lr_sched *s;
    if (sched_parse(&s, c->sched, &ctx, &err)) {
        fprintf(stderr, "  %s: %s\n", c->name, err.msg);
        return 0;
    }
    optim_state o;
    if (optim_state_init(&o, &hp, c->n, &err)) {
        fprintf(stderr, "  %s: %s\n", c->name, err.msg);
        sched_free(s);
        return 0;
    }
    float p[MAX_N], scale[MAX_N], avg[MAX_N];
    memcpy(p, c->p0, sizeof p);
    memcpy(avg, c->p0, sizeof avg);
    long n_avg = 0;
    avg_spec as = {0};
    if (c->average[0] && avg_spec_parse(&as, c->average, c->steps, &err)) {
        fprintf(stderr, "  %s: average '%s': %s\n", c->name, c->average, err.msg);
        optim_state_free(&o);
        sched_free(s);
        return 0;
    }
    if (c->average[0]) {
        average_cases++;
        average_exact_ok += average_exact(c, &as);
    }
    int ok = 1;
    for (int i = 0; i < c->n; i++) scale[i] = fabsf(p[i]);
    for (int t = 0; t < c->steps && ok; t++) {
        optim_params h = hp;
        h.lr = sched_lr(s);
        optim_set_cycled(&h, sched_momentum(s));
        float before[MAX_N];
        memcpy(before, p, sizeof p);
        if (optim_step(&o, p, c->g[t], &h, &err)) {
            fprintf(stderr, "  %s: %s\n", c->name, err.msg);
            ok = 0;
        }
        if (ok && c->average[0] && avg_spec_step(&as, avg, p, c->n, &n_avg, t + 1, &err)) {
            fprintf(stderr, "  %s: %s\n", c->name, err.msg);
            ok = 0;
        }
        for (int i = 0; i < c->n && ok && c->average[0]; i++) { /* the average: as the weights (below) */
            float m = fabsf(before[i]) + fabsf(c->a[t][i] - before[i]) + fabsf(c->a[t][i]);
            double ulps = fabs((double)avg[i] - (double)c->a[t][i]) / ((m > scale[i] ? m : scale[i]) * 0x1p-23);
            if (ulps > worst_average_ulps) worst_average_ulps = ulps;
            if (!(ulps <= 8.0 * (t + 1))) {
                fprintf(stderr, "  %s: step %d, average of parameter %d: %.9g, PyTorch %.9g (%.1f ulps)\n", c->name, t,
                        i, avg[i], c->a[t][i], ulps);
                ok = 0;
            }
        }
        for (int i = 0; i < c->n && ok; i++) {
            /* the magnitudes this step adds and subtracts */
            float m = fabsf(before[i]) + fabsf(c->p[t][i] - before[i]) + fabsf(c->p[t][i]);
            if (m > scale[i]) scale[i] = m;
            double ulps = fabs((double)p[i] - (double)c->p[t][i]) / (scale[i] * 0x1p-23);
            if (ulps > worst_ulps[hp.kind]) worst_ulps[hp.kind] = ulps;
            if (!(ulps <= 8.0 * (t + 1))) {
                fprintf(stderr, "  %s: step %d, parameter %d: %.9g, PyTorch %.9g (%.1f ulps)\n", c->name, t, i, p[i],
                        c->p[t][i], ulps);
                ok = 0;
            }
        }
        if (ok && sched_step(s, 0, &err)) {
            fprintf(stderr, "  %s: %s\n", c->name, err.msg);
            ok = 0;
        }
    }
    optim_state_free(&o);
    sched_free(s);
    lookahead_free(as.la);
    return ok;
}

static int read_fixtures(const char *env, const char *dflt) {
    const char *path = getenv(env);
    if (!path) path = dflt;
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (run from the repository root)", path);
    if (!f) return 0;
    static optim_case c;
    static char line[16384];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *v = strchr(line, ' ');
        v = v ? v + 1 : line + strlen(line);
        int t;
        if (!strcmp(line, "case")) memset(&c, 0, sizeof c);
        else if (!strncmp(line, "name ", 5)) snprintf(c.name, sizeof c.name, "%s", v);
        else if (!strncmp(line, "sched", 5)) snprintf(c.sched, sizeof c.sched, "%s", v);
        else if (!strncmp(line, "optim ", 6)) snprintf(c.optim, sizeof c.optim, "%s", v);
        else if (!strncmp(line, "average ", 8)) snprintf(c.average, sizeof c.average, "%s", v);
        else if (!strncmp(line, "lr ", 3)) c.lr = strtod(v, NULL);
        else if (!strncmp(line, "momentum ", 9)) c.momentum = strtod(v, NULL);
        else if (!strncmp(line, "dampening ", 10)) c.dampening = strtod(v, NULL);
        else if (!strncmp(line, "weight_decay ", 13)) c.weight_decay = strtod(v, NULL);
        else if (!strncmp(line, "nesterov ", 9)) c.nesterov = atoi(v);
        else if (!strncmp(line, "n ", 2)) c.n = atoi(v);
        else if (!strncmp(line, "steps ", 6)) c.steps = atoi(v);
        else if (!strncmp(line, "init ", 5)) CHECK(c.n <= MAX_N && !read_floats(v, c.p0, c.n), "%s: init", c.name);
        else if (sscanf(line, "g%d ", &t) == 1 && t >= 0 && t < MAX_STEPS)
            CHECK(!read_floats(v, c.g[t], c.n), "%s: g%d", c.name, t);
        else if (sscanf(line, "p%d ", &t) == 1 && t >= 0 && t < MAX_STEPS)
            CHECK(!read_floats(v, c.p[t], c.n), "%s: p%d", c.name, t);
        else if (sscanf(line, "q%d ", &t) == 1 && t >= 0 && t < MAX_STEPS)
            CHECK(!read_floats(v, c.q[t], c.n), "%s: q%d", c.name, t);
        else if (sscanf(line, "a%d ", &t) == 1 && t >= 0 && t < MAX_STEPS)
            CHECK(!read_floats(v, c.a[t], c.n), "%s: a%d", c.name, t);
        else if (!strcmp(line, "end")) {
            CHECK(c.steps > 0 && c.steps <= MAX_STEPS, "%s: %d steps", c.name, c.steps);
            CHECK(run_case(&c), "%s: the step differs from torch.optim's", c.name);
            cases++;
        }
    }
    fclose(f);
    return cases;
}

static void test_fixtures(void) {
    int sgd = read_fixtures("SGD_FIXTURES", "tests/fixtures/sgd/sgd.txt");
    CHECK(sgd >= 14, "only %d SGD cases", sgd);
    int other = read_fixtures("OPTIM_FIXTURES", "tests/fixtures/optim/optim.txt");
    CHECK(other >= 30, "only %d optimiser cases", other);
    printf("NOTE optimiser cases: %d SGD, %d others; largest difference from PyTorch in float ulps of the magnitudes:",
           sgd, other);
    for (int k = 0; k < OPTIM_KINDS; k++) printf(" %s %.2f", optim_name(k), worst_ulps[k]);
    printf("\n");
    int averages = read_fixtures("AVERAGE_FIXTURES", "tests/fixtures/optim/average.txt");
    CHECK(averages >= 10 && average_cases == averages, "only %d averaging cases", averages);
    CHECK(average_exact_ok == average_cases, "the averaging kernels differ from PyTorch in %d of %d cases",
          average_cases - average_exact_ok, average_cases);
    printf("NOTE averaging cases (Lookahead, EMA, SWA): %d, the kernels bit-exact in %d; over the optimisers' steps "
           "the largest difference of an average is %.2f float ulps\n", averages, average_exact_ok, worst_average_ulps);
}

/* momentum 0 at the first step, then 0.9, with dampening 0.5: PyTorch makes
 * the buffer at step 2 as a copy of d (not 0.9 * 0 + 0.5 * d) */
static void test_buffer_start(void) {
    float p[1] = {1.0f}, g[1] = {1.0f};
    optim_params hp;
    optim_state o;
    lr_error err;
    CHECK(optim_sgd(&hp, 0.1, 0.0, 0.5, 0.0, 0, &err) == 0 && optim_state_init(&o, &hp, 1, &err) == 0, "%s", err.msg);
    optim_step(&o, p, g, &hp, &err);
    CHECK(o.s[0] == 0 && p[0] == 0.9f, "momentum 0: no buffer, plain step (%g)", p[0]);
    hp.momentum = 0.9;
    optim_step(&o, p, g, &hp, &err);
    CHECK(o.s[0] == 1 && o.t[0][0] == 1.0f, "first non-zero momentum: buffer = d, undamped (%g)", o.t[0][0]);
    hp.momentum = 0.0;
    optim_step(&o, p, g, &hp, &err);
    CHECK(o.s[0] == 1 && o.t[0][0] == 1.0f, "momentum 0 again: the buffer is kept, not updated (%g)", o.t[0][0]);
    optim_state_free(&o);
}

/* The --optim parser: torch's names, defaults and checks, caret messages. */
static void test_parse(void) {
    static const struct {
        const char *expr, *want; /* want: optim_format's text, or a part of the message */
        int ok, lr_given;
    } cases[] = {
        {"Adam()", "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False, maximize=False)", 1, 0},
        {"torch.optim.AdamW(params, 0.01, (0.8, 0.9))",
         "AdamW(lr=0.01, betas=(0.8, 0.9), eps=1e-08, weight_decay=0.01, amsgrad=False, maximize=False)", 1, 1},
        {"SGD(lr=0.1, momentum=0.9, nesterov=True)",
         "SGD(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True, maximize=False)", 1, 1},
        {"RMSprop(momentum=0.9, centered=True, foreach=False)",
         "RMSprop(lr=0.01, alpha=0.99, eps=1e-08, weight_decay=0.0, momentum=0.9, centered=True, maximize=False)", 1, 0},
        {"Adagrad()", "Adagrad(lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, maximize=False)", 1, 0},
        {"Adadelta()", "Adadelta(lr=1.0, rho=0.9, eps=1e-06, weight_decay=0.0, maximize=False)", 1, 0},
        {"Adamax()", "Adamax(lr=0.002, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, maximize=False)", 1, 0},
        {"NAdam()", "NAdam(lr=0.002, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, momentum_decay=0.004)", 1, 0},
        {"RAdam()", "RAdam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)", 1, 0},
        {"ASGD()", "ASGD(lr=0.01, lambd=0.0001, alpha=0.75, t0=1000000.0, weight_decay=0.0, maximize=False)", 1, 0},
        {"Rprop()", "Rprop(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-06, 50.0), maximize=False)", 1, 0},
        {"Adam(betas=(1.5, 0.9))", "Adam: Invalid beta parameter at index 0: 1.5 (PyTorch's ValueError)\n  Adam(betas=(1.5, 0.9))\n              ^~~", 0, 0},
        {"Adam(betas=[0.9, 1])", "Invalid beta parameter at index 1: 1.0 (PyTorch's ValueError)\n  Adam(betas=[0.9, 1])\n                   ^", 0, 0},
        {"SGD(nesterov=True)", "SGD: Nesterov momentum requires a momentum and zero dampening (PyTorch's ValueError)\n  SGD(nesterov=True)\n               ^~~~", 0, 0},
        {"SGD(0.1, 0.9, 0.5, 0, True)", "Nesterov momentum requires", 0, 1},
        {"SGD(lr=-1)", "SGD: Invalid learning rate: -1.0", 0, 0},
        {"RMSprop(alpha=-0.5)", "Invalid alpha value: -0.5", 0, 0},
        {"Adadelta(rho=1.5)", "Invalid rho value: 1.5", 0, 0},
        {"Rprop(etas=(1.5, 2))", "Invalid eta values: 1.5, 2.0", 0, 0},
        {"Adagrad(initial_accumulator_value=-1)", "Invalid initial_accumulator_value value: -1.0", 0, 0},
        {"NAdam(momentum_decay=-1)", "Invalid momentum_decay value: -1.0", 0, 0},
        {"Adam(lr=0.1, betas=0.9)", "betas must be a pair of numbers", 0, 0},
        {"Adam(amsgrad=1)", "amsgrad must be True or False", 0, 0},
        {"Adam(betass=(0.9, 0.99))", "unknown argument 'betass' (did you mean betas?)", 0, 0},
        {"Adam(0.1, (0.9, 0.99), 1e-8, 0, False, False)", "too many positional arguments", 0, 0},
        {"Adam(lr=0.1, lr=0.2)", "argument 'lr' given twice", 0, 0},
        {"Adam(foreach=True)", "only foreach=None or False", 0, 0},
        {"Adam(fused=True)", "only fused=False", 0, 0},
        {"Adma(lr=0.1)", "unknown optimiser 'Adma' (did you mean Adam?)", 0, 0},
        {"LBFGS(lr=1)", "LBFGS is not supported (docs/optimisers.md", 0, 0},
        {"Adam", "optim: expected an optimiser call such as Adam(lr=1e-3)", 0, 0},
        {"Adam(lr=0.1) + 1", "expected the end", 0, 0},
        {"torch.nn.Adam()", "unknown module 'torch.nn'", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        optim_params hp;
        lr_error err = {{0}};
        int given = -1;
        int rc = optim_parse(&hp, &given, cases[i].expr, &err);
        if (cases[i].ok) {
            char text[512];
            if (!rc) optim_format(text, sizeof text, &hp, 0);
            CHECK(rc == 0 && !strcmp(text, cases[i].want) && given == cases[i].lr_given, "%s: rc %d, %s (lr given %d)",
                  cases[i].expr, rc, rc ? err.msg : text, given);
        } else {
            CHECK(rc == -1 && !strncmp(err.msg, "optim: ", 7) && strstr(err.msg, cases[i].want), "%s: rc %d, '%s'",
                  cases[i].expr, rc, err.msg);
        }
    }
}

/* Which optimiser a cyclic schedule can cycle, as PyTorch 1.13's
 * constructors decide: OneCycleLR cycles momentum or betas[0]; CyclicLR
 * momentum only; with neither, cycle_momentum=True is PyTorch's ValueError. */
static void test_cycle_refusals(void) {
    static const struct {
        const char *optim, *sched;
        int ok;
    } cases[] = {
        {"SGD(momentum=0.9)", "CyclicLR(0.001, 0.01)", 1},
        {"RMSprop(momentum=0.9)", "CyclicLR(0.001, 0.01)", 1},
        {"Adam()", "CyclicLR(0.001, 0.01)", 0},
        {"Adam()", "CyclicLR(0.001, 0.01, cycle_momentum=False)", 1},
        {"Adam()", "OneCycleLR(max_lr=0.01, total_steps=100)", 1},
        {"NAdam()", "SequentialLR([ConstantLR(), OneCycleLR(max_lr=0.01, total_steps=100)], milestones=[2])", 1},
        {"Adagrad()", "OneCycleLR(max_lr=0.01, total_steps=100)", 0},
        {"Rprop()", "GradualWarmupScheduler(2, 2, CyclicLR(0.001, 0.01))", 0},
        {"ASGD()", "OneCycleLR(max_lr=0.01, total_steps=100, cycle_momentum=False)", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        optim_params hp;
        lr_error err = {{0}};
        int given;
        CHECK(optim_parse(&hp, &given, cases[i].optim, &err) == 0, "%s", err.msg);
        train_config tc;
        config_defaults(&tc);
        tc.epochs = 0;
        sched_context ctx = config_sched_context(&tc, &hp, 100);
        lr_sched *s = NULL;
        int rc = sched_parse(&s, cases[i].sched, &ctx, &err);
        sched_free(s);
        CHECK(rc == (cases[i].ok ? 0 : -1) &&
                  (cases[i].ok || strstr(err.msg, "optimizer must support momentum with `cycle_momentum` option enabled")),
              "%s with %s: rc %d, %s", cases[i].optim, cases[i].sched, rc, err.msg);
    }
}

static void test_nesterov_check(void) {
    static const struct {
        double momentum, dampening;
        int nesterov, ok;
    } cases[] = {{0.9, 0, 1, 1}, {0, 0, 1, 0}, {0.9, 0.1, 1, 0}, {0, 0.5, 0, 1}, {0.9, 0.5, 0, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        train_config c;
        config_defaults(&c);
        c.momentum = cases[i].momentum, c.dampening = cases[i].dampening, c.nesterov = cases[i].nesterov;
        lr_error err;
        err.msg[0] = '\0';
        optim_params hp;
        int rc = config_optim(&c, &hp, &err);
        CHECK(rc == (cases[i].ok ? 0 : -1) &&
                  (cases[i].ok || strstr(err.msg, "Nesterov momentum requires a momentum and zero dampening")),
              "nesterov %d momentum %g dampening %g: rc %d, %s", cases[i].nesterov, cases[i].momentum,
              cases[i].dampening, rc, err.msg);
    }
    /* config_check: the same, and the schedule over the whole run */
    train_config c;
    config_defaults(&c);
    c.epochs = 30;
    snprintf(c.sched, sizeof c.sched, "OneCycleLR(max_lr=0.1, total_steps=20)");
    char warning[512];
    lr_error err;
    CHECK(config_check(&c, warning, sizeof warning, &err) == -1 && strstr(err.msg, "30 times") &&
              strstr(err.msg, "total steps is 20"),
          "OneCycleLR shorter than the run: %s", err.msg);
    c.sched_unit_step = 1;
    snprintf(c.sched, sizeof c.sched, "OneCycleLR(max_lr=0.1, epochs=30, steps_per_epoch=390)");
    CHECK(config_check(&c, warning, sizeof warning, &err) == 0 && !warning[0], "OneCycleLR per step: %s", err.msg);
    c.sched_unit_step = 0;
    CHECK(config_check(&c, warning, sizeof warning, &err) == 0 && strstr(warning, "--sched-unit step"),
          "OneCycleLR per step in epoch unit warns: '%s'", warning);
    c.sched_unit_step = 1;
    c.epochs = 31;
    CHECK(config_check(&c, warning, sizeof warning, &err) == -1 && strstr(err.msg, "12090 times") &&
              strstr(err.msg, "total steps is 11700"),
          "31 epochs of 390 steps: %s", err.msg);
}

/* --param-group: what a selector takes, the keys over the optimiser's values, frozen epochs */
static void test_groups(void) {
    static const struct {
        const char *sel, *name, *layer;
        int bias, want;
    } sel[] = {
        {"@bias", "fc.bias", "linear", 1, 1},         {"@bias", "fc.weight", "linear", 0, 0},
        {"@batchnorm", "bn1.weight", "batchnorm", 0, 1}, {"@batchnorm.bias", "bn1.weight", "batchnorm", 0, 0},
        {"@batchnorm.bias", "bn1.bias", "batchnorm", 1, 1}, {"@conv.weight | @linear", "fc.bias", "linear", 1, 1},
        {"layer1.*", "layer1.0.conv1.weight", "conv", 0, 1}, {"layer1.*", "layer2.0.conv1.weight", "conv", 0, 0},
        {"*.bias|conv1.weight", "conv1.weight", "conv", 0, 1}, {"conv?.weight", "conv12.weight", "conv", 0, 0},
    };
    optim_params base;
    lr_error err;
    int lr_given;
    optim_parse(&base, &lr_given, "SGD(lr=0.1, momentum=0.9, weight_decay=5e-4)", &err);
    for (size_t i = 0; i < sizeof sel / sizeof sel[0]; i++) {
        param_group g;
        char text[128];
        snprintf(text, sizeof text, "%s: lr=1", sel[i].sel);
        CHECK(optim_group_parse(&g, &base, text, &err) == 0, "%s: %s", text, err.msg);
        CHECK(optim_group_selects(&g, sel[i].name, sel[i].layer, sel[i].bias) == sel[i].want, "'%s' takes %s: %d",
              sel[i].sel, sel[i].name, !sel[i].want);
    }
    param_group g;
    CHECK(optim_group_parse(&g, &base, "@bias: weight_decay=0, lr_scale=4, nesterov=True, frozen=from:3", &err) == 0,
          "%s", err.msg);
    CHECK(g.hp.lr == 0.4 && g.hp.weight_decay == 0 && g.hp.momentum == 0.9 && g.hp.nesterov && g.frozen == FROZEN_FROM,
          "group values: lr %g wd %g momentum %g", g.hp.lr, g.hp.weight_decay, g.hp.momentum);
    CHECK(!optim_group_frozen(&g, 2) && optim_group_frozen(&g, 3), "from:3 freezes epoch 3 on");
    CHECK(optim_group_parse(&g, &base, "x: frozen=until:2", &err) == 0 && optim_group_frozen(&g, 1) &&
              !optim_group_frozen(&g, 2), "until:2 freezes epochs 0, 1");
    CHECK(optim_group_parse(&g, &base, "x: frozen", &err) == 0 && optim_group_frozen(&g, 1000), "frozen: always");
    CHECK(optim_group_parse(&g, &base, "x: momentum=0, nesterov=True", &err) == -1 &&
              strstr(err.msg, "Nesterov momentum requires a momentum and zero dampening"), "%s", err.msg);
}

/* The averages of a model with BatchNorm: Lookahead with buffers=True lerps
 * the running statistics but not num_batches_tracked and gives the model the
 * slow values; without buffers it leaves them; the EMA copies the buffers. */
static void test_model_averages(void) {
    model_spec m;
    lr_error err;
    CHECK(model_spec_parse(&m, "input 3 4 4\nconv c1 2\nbatchnorm bn1\nrelu\nflatten\nlinear fc 3\n", "bn", &err) == 0,
          "%s", err.msg);
    float p[256], b[16], p0[256], b0[16];
    CHECK(m.n_params <= 256 && m.n_buffers == 5, "%ld params, %ld buffers", m.n_params, m.n_buffers);
    for (long i = 0; i < m.n_params; i++) p0[i] = (float)i;
    for (long i = 0; i < m.n_buffers; i++) b0[i] = (float)(i + 1);
    for (int with = 0; with < 2; with++) {
        avg_state s;
        CHECK(avg_state_init(&s, AVG_LOOKAHEAD | (with ? AVG_LOOKAHEAD_BUFFERS : 0) | AVG_EMA, m.n_params,
                             m.n_buffers, p0, b0, &err) == 0,
              "%s", err.msg);
        for (long i = 0; i < m.n_params; i++) p[i] = p0[i] + 2;
        for (long i = 0; i < m.n_buffers; i++) b[i] = b0[i] + 2;
        avg_update_ema(&s, p, b, 0.9);
        CHECK(!memcmp(s.ema_buffers, b, sizeof(float) * 5), "the EMA copies the buffers");
        avg_update_lookahead(&s, &m, p, b, 0.25);
        CHECK(p[3] == p0[3] + 0.5f && s.slow_params[3] == p[3], "slow weights: %g", p[3]);
        for (int t = 0; t < m.n_tensors; t++) {
            const model_tensor *mt = &m.tensors[t];
            if (!mt->buffer) continue;
            float want = mt->role == TENSOR_NUM_BATCHES || !with ? b0[mt->offset] + 2 : b0[mt->offset] + 0.5f;
            CHECK(b[mt->offset] == want && (!with || mt->role == TENSOR_NUM_BATCHES || s.slow_buffers[mt->offset] == want), "buffers=%d: %s is %g, expected %g",
                  with, mt->name, b[mt->offset], want);
        }
        avg_state_free(&s);
    }
}

int main(void) {
    test_fixtures();
    test_model_averages();
    test_buffer_start();
    test_parse();
    test_cycle_refusals();
    test_nesterov_check();
    test_groups();
    return test_summary("test_optim");
}
