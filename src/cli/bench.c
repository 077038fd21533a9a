/* cli/bench.c: `lrlab bench`: times training steps (forward, loss,
 * backward, SGD) and forward passes on synthetic data, with the same
 * settings as `lrlab train` (model, batch, threads, backend, conv algorithm,
 * precision). Prints machine-readable lines:
 *   train_step images_per_s=<n> ms_per_step=<n> gflops=<n>
 *   forward images_per_s=<n> gflops=<n>
 *   peak_rss_mb=<n>
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

int cli_bench(int argc, char **argv) {
    train_config cfg;
    config_defaults(&cfg);
    long iters = 20, warmup = 3;
    int retune = 0;
    lr_error err;
    for (int i = 1; i < argc;) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: lrlab bench [--model M] [--batch 128] [--threads N] [--iters 20] [--warmup 3]\n"
                   "                   [--backend dnnl|ref] [--conv-algo auto|direct|winograd] [--precision fp32|bf16]\n"
                   "                   [--retune]   (auto: the cached choice of lrlab train; --retune times it again)\n");
            return 0;
        }
        if (!strcmp(argv[i], "--retune")) {
            retune = 1, i++;
            continue;
        }
        if (!strcmp(argv[i], "--iters") || !strcmp(argv[i], "--warmup")) {
            if (i + 1 >= argc) return fprintf(stderr, "lrlab bench: %s: missing value\n", argv[i]), 2;
            if (lr_parse_long(!strcmp(argv[i], "--iters") ? &iters : &warmup, argv[i + 1],
                              !strcmp(argv[i], "--iters") ? 1 : 0, 100000, argv[i], &err))
                return cli_error("bench", &err, 2);
            i += 2;
            continue;
        }
        int rc = config_take_arg(&cfg, argc, argv, &i, &err);
        if (rc < 0) return cli_error("bench", &err, 2);
        if (rc == 0) return fprintf(stderr, "lrlab bench: unknown flag '%s'\n", argv[i]), 2;
    }
    train_setup_threads(&cfg, stderr);
    model_spec m;
    if (model_spec_load(&m, cfg.model, cli_search_dirs("models"), &err)) return cli_error("bench", &err, 2);
    /* with --conv-algo auto, the algorithms a training run uses: the per-user cache's */
    setup_options so = {.retune = retune, .warn = stderr};
    net *n = NULL;
    double t_init = lr_now();
    if (train_setup_net(&n, &m, &cfg, 1, &so, &err)) return cli_error("bench", &err, 1);
    t_init = lr_now() - t_init;
    long nx = (long)cfg.batch * m.in_c * m.in_h * m.in_w;
    float *x = malloc(nx * sizeof(float)), *p = malloc(m.n_params * sizeof(float));
    float *g = malloc(m.n_params * sizeof(float)), *buf = calloc(m.n_params, sizeof(float));
    float *logits = malloc((size_t)cfg.batch * m.n_classes * sizeof(float));
    float *dl = malloc((size_t)cfg.batch * m.n_classes * sizeof(float));
    int *y = malloc(cfg.batch * sizeof(int));
    if (!x || !p || !g || !buf || !logits || !dl || !y) return fprintf(stderr, "lrlab bench: out of memory\n"), 1;
    lr_rng r;
    rng_init(&r, 1, RNG_STREAM_SYNTH, 0);
    for (long i = 0; i < nx; i++) x[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    for (int i = 0; i < cfg.batch; i++) y[i] = (int)rng_below(&r, (uint32_t)m.n_classes);
    model_init_params(&m, p, 0);
    sgd_params hp = {cfg.lr, cfg.momentum, 0.0, cfg.weight_decay, 0};
    double best_step = 1e30, total_step = 0, best_fwd = 1e30;
    for (long it = 0; it < warmup + iters; it++) {
        double t0 = lr_now();
        long correct = 0;
        if (net_forward(n, x, cfg.batch, p, logits, &err)) return cli_error("bench", &err, 1);
        loss_cross_entropy(dl, &correct, logits, y, cfg.batch, m.n_classes, 1.0f / cfg.batch);
        if (net_backward(n, dl, p, g, &err)) return cli_error("bench", &err, 1);
        sgd_step(p, buf, g, m.n_params, &hp, it > 0);
        double dt = lr_now() - t0;
        if (it >= warmup) total_step += dt, best_step = dt < best_step ? dt : best_step;
    }
    double total_fwd = 0;
    for (long it = 0; it < warmup + iters; it++) {
        double t0 = lr_now();
        if (net_forward(n, x, cfg.batch, p, logits, &err)) return cli_error("bench", &err, 1);
        double dt = lr_now() - t0;
        if (it >= warmup) total_fwd += dt, best_fwd = dt < best_fwd ? dt : best_fwd;
    }
    double step = total_step / iters, fwd = total_fwd / iters;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("# lrlab bench: model %s, batch %d, %d threads, backend %s, algorithms %s, precision %s, init %.2f s\n",
           m.name, cfg.batch, omp_get_max_threads(), cfg.backend == NET_BACKEND_REF ? "ref" : "dnnl",
           net_algo_choices(n)[0] ? net_algo_choices(n) : "-", cfg.precision == NET_PRECISION_BF16 ? "bf16" : "fp32", t_init);
    /* how the OpenMP threads wait (cli/main.c sets GOMP_SPINCOUNT unless the user chose) */
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    printf("# threads wait: OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n", policy ? policy : "(unset)", spin ? spin : "(unset)");
    if (cfg.verbose) {
        char desc[4096];
        net_describe(n, desc, sizeof desc);
        printf("%s", desc);
    }
    printf("train_step images_per_s=%.1f ms_per_step=%.2f best_ms=%.2f gflops=%.1f\n", cfg.batch / step,
           step * 1e3, best_step * 1e3, 2.0 * train_macs(&m) * cfg.batch / step / 1e9);
    printf("forward images_per_s=%.1f ms_per_batch=%.2f gflops=%.1f\n", cfg.batch / fwd, fwd * 1e3,
           2.0 * model_forward_macs(&m) * cfg.batch / fwd / 1e9);
    printf("peak_rss_mb=%.1f\n", ru.ru_maxrss / 1024.0);
    net_free(n);
    free(x), free(p), free(g), free(buf), free(logits), free(dl), free(y);
    return 0;
}
