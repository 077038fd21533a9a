/* tests/test_optim.c: sgd_step against torch.optim.SGD 1.13, step by step
 * (tests/fixtures/sgd/sgd.txt, made by tests/torch/make_sched_fixtures.py):
 * momentum, dampening, Nesterov, weight decay, a schedule setting the lr
 * and a cycled momentum that starts at 0 (the buffer is created, undamped,
 * at the first step whose momentum is non-zero); and the settings check
 * that refuses --nesterov as torch.optim.SGD's constructor does.
 *
 * Parameters agree to float rounding, not bit for bit: ATen's AVX2 kernels
 * fuse the multiply-adds (add(x, alpha=a) is one fmadd) while lrlab's C,
 * ISO C11 without contraction, rounds the product and the sum apart, so
 * each operation may differ by half an ulp. The check allows 8 float ulps
 * of the magnitudes involved per step.
 *
 * Run from the repository root (SGD_FIXTURES overrides the file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/config.h"
#include "lrlab/optim.h"
#include "lrlab/sched.h"
#include "test.h"

#define MAX_N 64
#define MAX_STEPS 32

typedef struct {
    char name[128], sched[1024];
    double lr, momentum, dampening, weight_decay;
    int nesterov, n, steps;
    float p0[MAX_N], g[MAX_STEPS][MAX_N], p[MAX_STEPS][MAX_N];
} sgd_case;

static double worst_ulps; /* the largest difference seen, in float ulps of the scale */

static int read_floats(const char *s, float *out, int n) {
    char *end;
    for (int i = 0; i < n; i++) {
        out[i] = strtof(s, &end);
        if (end == s) return -1;
        s = end;
    }
    return 0;
}

static int run_case(const sgd_case *c) {
    sched_context ctx = {c->lr, c->momentum, 0, 1, 1, 0};
    lr_sched *s;
    lr_error err;
    if (sched_parse(&s, c->sched, &ctx, &err)) {
        fprintf(stderr, "  %s: %s\n", c->name, err.msg);
        return 0;
    }
    float p[MAX_N], buf[MAX_N], scale[MAX_N];
    memcpy(p, c->p0, sizeof p);
    memset(buf, 0, sizeof buf);
    int has_buf = 0, ok = 1;
    for (int i = 0; i < c->n; i++) scale[i] = fabsf(p[i]);
    for (int t = 0; t < c->steps && ok; t++) {
        sgd_params hp = {sched_lr(s), sched_momentum(s), c->dampening, c->weight_decay, c->nesterov};
        has_buf = sgd_step(p, buf, c->g[t], c->n, &hp, has_buf);
        for (int i = 0; i < c->n; i++) {
            /* the magnitudes this step adds and subtracts */
            float m = fabsf((float)hp.lr) * (fabsf(c->g[t][i]) + fabsf(buf[i])) + fabsf(p[i]);
            if (m > scale[i]) scale[i] = m;
            double ulps = fabs((double)p[i] - (double)c->p[t][i]) / (scale[i] * 0x1p-23);
            if (ulps > worst_ulps) worst_ulps = ulps;
            if (ulps > 8.0 * (t + 1)) {
                fprintf(stderr, "  %s: step %d, parameter %d: %.9g, PyTorch %.9g (%.1f ulps)\n", c->name, t, i, p[i],
                        c->p[t][i], ulps);
                ok = 0;
                break;
            }
        }
        if (sched_step(s, 0, &err)) {
            fprintf(stderr, "  %s: %s\n", c->name, err.msg);
            ok = 0;
        }
    }
    sched_free(s);
    return ok;
}

static void test_fixtures(void) {
    const char *path = getenv("SGD_FIXTURES");
    if (!path) path = "tests/fixtures/sgd/sgd.txt";
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (run from the repository root)", path);
    if (!f) return;
    static sgd_case c;
    static char line[16384];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *v = strchr(line, ' ');
        v = v ? v + 1 : line + strlen(line);
        int t;
        if (!strcmp(line, "case")) memset(&c, 0, sizeof c);
        else if (!strncmp(line, "name ", 5)) snprintf(c.name, sizeof c.name, "%s", v);
        else if (!strncmp(line, "sched ", 6)) snprintf(c.sched, sizeof c.sched, "%s", v);
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
        else if (!strcmp(line, "end")) {
            CHECK(c.steps > 0 && c.steps <= MAX_STEPS, "%s: %d steps", c.name, c.steps);
            CHECK(run_case(&c), "%s: sgd_step differs from torch.optim.SGD", c.name);
            cases++;
        }
    }
    fclose(f);
    CHECK(cases >= 14, "only %d SGD cases in %s", cases, path);
    printf("NOTE SGD cases: %d, largest difference from PyTorch: %.2f float ulps of the magnitudes\n", cases,
           worst_ulps);
}

/* momentum 0 at the first step, then 0.9, with dampening 0.5: PyTorch makes
 * the buffer at step 2 as a copy of d (not 0.9 * 0 + 0.5 * d) */
static void test_buffer_start(void) {
    float p[1] = {1.0f}, buf[1] = {0}, g[1] = {1.0f};
    sgd_params hp = {0.1, 0.0, 0.5, 0.0, 0};
    int has = sgd_step(p, buf, g, 1, &hp, 0);
    CHECK(!has && p[0] == 0.9f, "momentum 0: no buffer, plain step (%g)", p[0]);
    hp.momentum = 0.9;
    has = sgd_step(p, buf, g, 1, &hp, has);
    CHECK(has && buf[0] == 1.0f, "first non-zero momentum: buffer = d, undamped (%g)", buf[0]);
    hp.momentum = 0.0;
    has = sgd_step(p, buf, g, 1, &hp, has);
    CHECK(has && buf[0] == 1.0f, "momentum 0 again: the buffer is kept, not updated (%g)", buf[0]);
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
        int rc = config_check_sgd(&c, &err);
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

int main(void) {
    test_fixtures();
    test_buffer_start();
    test_nesterov_check();
    return test_summary("test_optim");
}
