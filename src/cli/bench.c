/* cli/bench.c: `lrlab bench`: times training steps (forward, loss,
 * backward, the optimiser step: SGD or --optim) and forward passes on synthetic data, with the same
 * settings as `lrlab train` (model, batch, threads, backend, conv algorithm,
 * precision). Prints machine-readable lines:
 *   train_step images_per_s=<n> ms_per_step=<n> gflops=<n>
 *   forward images_per_s=<n> gflops=<n>
 *   peak_rss_mb=<n>
 * and with --profile the timed steps' table (lrlab/profile.h).
 * Effective GFLOP/s counts 2 FLOP per multiply-add of a direct convolution,
 * three passes for a training step (conv1 has no backward-data pass). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "lrlab/config.h"
#include "lrlab/net.h"
#include "lrlab/optim.h"
#include "lrlab/profile.h"
#include "lrlab/rng.h"
#include "lrlab/setup.h"

static double train_macs(const model_spec *m) {
    double macs = 0.0;
    int first = 1;
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        if (!l->param_count) continue;
        double f = (double)l->param_count * l->h * l->w;
        macs += f * (first ? 2 : 3);
        first = 0;
    }
    return macs;
}

/* A training step's arrays: synthetic images and labels, weights, gradients, logits. */
typedef struct {
    net *n;
    const model_spec *m;
    int batch;
    float *x, *p, *g, *logits, *dl;
    const int *y;
    optim_state *o;
    const optim_params *hp;
} bench_step;

/* Forward, loss, backward, the optimiser's step; with prof, their laps. */
static int train_step(const bench_step *s, lr_profile *prof, lr_error *err) {
    double t = profile_now(prof);
    long correct = 0;
    if (net_forward(s->n, s->x, s->batch, s->p, s->logits, err)) return -1;
    profile_lap(prof, PROF_FORWARD, &t);
    loss_cross_entropy(s->dl, &correct, s->logits, s->y, s->batch, s->m->n_classes, 1.0f / s->batch, 0.0);
    profile_lap(prof, PROF_LOSS, &t);
    if (net_backward(s->n, s->dl, s->p, s->g, err)) return -1;
    profile_lap(prof, PROF_BACKWARD, &t);
    if (optim_step(s->o, s->p, s->g, s->hp, err)) return -1;
    profile_lap(prof, PROF_OPTIM, &t);
    return 0;
}

/* The train settings a bench takes (config.txt keys). */
static const char *const bench_settings[] = {"model",   "batch",     "threads",      "backend",      "conv_algo",
                                             "precision", "algo_choices", "optim", "lr", "momentum", "weight_decay",
                                             "verbose", NULL};

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab bench [flags]\n\n"
               "Times training steps (forward, loss, backward, optimiser step) and forward passes on synthetic data.\n"
               "  --iters N            timed iterations (20)\n"
               "  --warmup N           untimed iterations first (3)\n"
               "  --retune             with --conv-algo auto: time the algorithms again (as train)\n"
               "  --profile            then the timed steps' time per layer (forward, backward), loss and\n"
               "                       optimiser, as a table (docs/tools.md)\n");
    config_print_help(f, bench_settings, NULL);
}

/* Forward only (the forward loop's iteration). */
static int forward_pass(const bench_step *s, lr_profile *prof, lr_error *err) {
    (void)prof;
    return net_forward(s->n, s->x, s->batch, s->p, s->logits, err);
}

/* warmup + iters calls of one(); the timed ones' mean and best seconds (and
 * laps into prof, from the first timed call on). */
static int time_calls(int (*one)(const bench_step *, lr_profile *, lr_error *), const bench_step *s, long warmup,
                      long iters, lr_profile *prof, double *mean, double *best, lr_error *err) {
    double total = 0;
    *best = 1e30;
    for (long it = 0; it < warmup + iters; it++) {
        if (prof && it == warmup) profile_start(prof), net_set_times(s->n, &prof->layers);
        double t0 = lr_now();
        if (one(s, it >= warmup ? prof : NULL, err)) return -1;
        double dt = lr_now() - t0;
        if (it >= warmup) total += dt, *best = dt < *best ? dt : *best;
    }
    if (prof) profile_stop(prof), net_set_times(s->n, NULL);
    *mean = total / iters;
    return 0;
}

/* The step's arrays on the heap (synthetic images in [-1, 1) and labels,
 * the model's initial weights and buffers) and the optimiser's state. */
static int bench_alloc(bench_step *s, float **buffers, const train_config *cfg, lr_error *err) {
    const model_spec *m = s->m;
    long nx = (long)cfg->batch * m->in_c * m->in_h * m->in_w;
    s->x = malloc(nx * sizeof(float)), s->p = malloc(m->n_params * sizeof(float));
    s->g = malloc(m->n_params * sizeof(float));
    s->logits = malloc((size_t)cfg->batch * m->n_classes * sizeof(float));
    s->dl = malloc((size_t)cfg->batch * m->n_classes * sizeof(float));
    int *y = malloc(cfg->batch * sizeof(int));
    s->y = y;
    *buffers = calloc((size_t)m->n_buffers + 1, sizeof(float)); /* BatchNorm's running statistics */
    if (!s->x || !s->p || !s->g || !s->logits || !s->dl || !y || !*buffers) return lr_fail(err, "out of memory");
    lr_rng r;
    rng_init(&r, 1, RNG_STREAM_SYNTH, 0);
    for (long i = 0; i < nx; i++) s->x[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    for (int i = 0; i < cfg->batch; i++) y[i] = (int)rng_below(&r, (uint32_t)m->n_classes);
    model_init_params(m, s->p, 0);
    model_init_buffers(m, *buffers);
    net_set_buffers(s->n, *buffers);
    return 0;
}

static void bench_free(bench_step *s, float *buffers) {
    free(s->x), free(s->p), free(s->g), free(s->logits), free(s->dl), free((int *)s->y), free(buffers);
}

/* The report: settings, how threads wait, the two timings, peak memory. */
static void bench_print(const bench_step *s, const train_config *cfg, double t_init, double step, double best_step,
                        double fwd) {
    const model_spec *m = s->m;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("# lrlab bench: model %s, batch %d, %d threads, backend %s, algorithms %s, precision %s, init %.2f s\n",
           m->name, cfg->batch, omp_get_max_threads(), cfg->backend == NET_BACKEND_REF ? "ref" : "dnnl",
           net_algo_choices(s->n)[0] ? net_algo_choices(s->n) : "-",
           cfg->precision == NET_PRECISION_BF16 ? "bf16" : "fp32", t_init);
    /* how the OpenMP threads wait (cli/main.c sets GOMP_SPINCOUNT unless the user chose) */
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    printf("# threads wait: OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n", policy ? policy : "(unset)", spin ? spin : "(unset)");
    if (cfg->verbose) {
        char desc[4096];
        net_describe(s->n, desc, sizeof desc);
        printf("%s", desc);
    }
    printf("train_step images_per_s=%.1f ms_per_step=%.2f best_ms=%.2f gflops=%.1f\n", cfg->batch / step,
           step * 1e3, best_step * 1e3, 2.0 * train_macs(m) * cfg->batch / step / 1e9);
    printf("forward images_per_s=%.1f ms_per_batch=%.2f gflops=%.1f\n", cfg->batch / fwd, fwd * 1e3,
           2.0 * model_forward_macs(m) * cfg->batch / fwd / 1e9);
    printf("peak_rss_mb=%.1f\n", ru.ru_maxrss / 1024.0);
}

int cli_bench(int argc, char **argv) {
    train_config cfg;
    config_defaults(&cfg);
    long iters = 20, warmup = 3;
    const char *iters_s = NULL, *warmup_s = NULL;
    int retune = 0, profile = 0;
    const cli_opt opts[] = {{"--iters", &iters_s, NULL}, {"--warmup", &warmup_s, NULL}, {"--retune", NULL, &retune},
                            {"--profile", NULL, &profile}, {NULL, NULL, NULL}};
    lr_error err;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        int rc = cli_take(argc, argv, &i, opts, "bench");
        if (rc < 0) return 2;
        if (rc > 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) || lr_key_find(a + 2, strcspn(a + 2, "="), bench_settings) < 0)
            return cli_unknown("bench", a, opts, 0);
        if (config_take_arg(&cfg, argc, argv, &i, &err) < 0) return cli_error("bench", &err, 2);
    }
    if ((iters_s && lr_parse_long(&iters, iters_s, 1, 100000, "--iters", &err)) ||
        (warmup_s && lr_parse_long(&warmup, warmup_s, 0, 100000, "--warmup", &err)))
        return cli_error("bench", &err, 2);
    train_setup_threads(&cfg, stderr);
    model_spec m;
    if (model_spec_load(&m, cfg.model, cli_search_dirs("models"), &err)) return cli_error("bench", &err, 1);
    /* with --conv-algo auto, the algorithms a training run uses: the per-user cache's */
    setup_options so = {.retune = retune, .warn = stderr};
    net *n = NULL;
    double t_init = lr_now();
    if (train_setup_net(&n, &m, &cfg, 1, &so, &err)) return cli_error("bench", &err, 1);
    t_init = lr_now() - t_init;
    optim_params hp;
    optim_state o;
    if (config_optim(&cfg, &hp, &err) || optim_state_init(&o, &hp, m.n_params, &err)) return cli_error("bench", &err, 2);
    bench_step bs = {.n = n, .m = &m, .batch = cfg.batch, .o = &o, .hp = &hp};
    float *buffers = NULL;
    lr_profile *prof = profile ? calloc(1, sizeof *prof) : NULL; /* the timed steps' */
    double step, best_step, fwd, best_fwd;
    int rc = 1;
    if (bench_alloc(&bs, &buffers, &cfg, &err) || (profile && !prof && lr_fail(&err, "out of memory")) ||
        time_calls(train_step, &bs, warmup, iters, prof, &step, &best_step, &err) ||
        time_calls(forward_pass, &bs, warmup, iters, NULL, &fwd, &best_fwd, &err)) {
        cli_error("bench", &err, 1);
    } else {
        bench_print(&bs, &cfg, t_init, step, best_step, fwd);
        if (prof) profile_print(prof, &m, cfg.batch, 0, stdout); /* its steps wait for every layer: a little slower */
        rc = 0;
    }
    free(prof);
    bench_free(&bs, buffers);
    net_free(n);
    optim_state_free(&o);
    return rc;
}
