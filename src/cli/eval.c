/* cli/eval.c: `lrlab eval --model-file FILE.safetensors [--model M] [--data D]
 * [--limit-test N] [--batch N] [--threads N] [--backend dnnl|ref] ...`: the
 * test loss (a proper mean over images), the test accuracy, the accuracy of
 * each class with its name (batches.meta.txt), and the confusion matrix
 * (rows: true class, columns: predicted class). When the weights sit in a
 * run directory (config.txt beside them), the model is the run's unless
 * --model is given. Not here: the counting (train/evaluate.c). */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lrlab/config.h"
#include "lrlab/data.h"
#include "lrlab/evaluate.h"
#include "lrlab/io.h"
#include "lrlab/model.h"
#include "lrlab/train.h"

/* The train settings eval accepts (config.txt keys). */
static const char *const eval_settings[] = {"model", "data", "limit_test", "batch", "threads",
                                            "backend", "conv_algo", "precision", NULL};

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab eval --model-file FILE.safetensors [flags]\n\n"
               "Test loss and accuracy of trained weights, the accuracy of each class, and the\n"
               "confusion matrix (rows: true class, columns: predicted class).\n"
               "  --model-file F   weights (a run's model.safetensors or checkpoint-free weights file)\n"
               "  --model NAME     network description (default: the run's, from config.txt beside F;\n"
               "                   else vgg-seed)\n"
               "  --data DIR       CIFAR-10 binary files (data/cifar-10-batches-bin or $CIFAR10_DIR)\n"
               "  --limit-test N   only the first N test images\n"
               "  --batch N        images per forward pass (128)\n"
               "  --threads N      OpenMP threads (0: all cores)\n"
               "  --backend B      dnnl or ref; --conv-algo, --precision as for lrlab train\n");
}

static int allowed(const char *arg) {
    char key[64];
    size_t len = strcspn(arg + 2, "=");
    if (len >= sizeof key) return 0;
    for (size_t i = 0; i < len; i++) key[i] = arg[2 + i] == '-' ? '_' : arg[2 + i];
    key[len] = '\0';
    for (int i = 0; eval_settings[i]; i++)
        if (!strcmp(key, eval_settings[i])) return 1;
    return 0;
}

typedef struct {
    cifar_split train, test;
    model_spec m;
    float *params, *logits;
    net *net;
    loader *loader;
} eval_run;

static void eval_run_free(eval_run *r) {
    loader_free(r->loader);
    net_free(r->net);
    free(r->params), free(r->logits);
    cifar_split_free(&r->train), cifar_split_free(&r->test);
}

static void print_results(const eval_stats *s, char names[10][32]) {
    printf("test_loss=%.6f test_acc=%.2f%% (%ld/%ld)\n", s->loss_sum / s->n, 100.0 * s->correct / s->n, s->correct,
           s->n);
    printf("\nper-class accuracy:\n");
    for (int c = 0; c < s->classes; c++) {
        long row = 0;
        for (int k = 0; k < s->classes; k++) row += s->confusion[c][k];
        if (row) printf("  %d %-12.12s %6.2f%%  (%ld/%ld)\n", c, names[c], 100.0 * s->confusion[c][c] / row,
                        s->confusion[c][c], row);
        else printf("  %d %-12.12s      -   (0/0)\n", c, names[c]);
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted class):\n");
    printf("  %-14s", "");
    for (int k = 0; k < s->classes; k++) printf(" %6d", k);
    printf("\n");
    for (int c = 0; c < s->classes; c++) {
        printf("  %d %-12.12s", c, names[c]);
        for (int k = 0; k < s->classes; k++) printf(" %6ld", s->confusion[c][k]);
        printf("\n");
    }
}

int cli_eval(int argc, char **argv) {
    train_config cfg;
    config_defaults(&cfg);
    const char *model_file = NULL;
    int model_given = 0;
    lr_error err;
    for (int i = 1; i < argc;) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--model-file")) {
            if (i + 1 >= argc) return fprintf(stderr, "lrlab eval: --model-file: missing value\n"), 2;
            model_file = argv[i + 1];
            i += 2;
            continue;
        }
        if (!strncmp(argv[i], "--", 2) && allowed(argv[i])) {
            if (!strncmp(argv[i], "--model", 7) && (argv[i][7] == '\0' || argv[i][7] == '=')) model_given = 1;
            if (config_take_arg(&cfg, argc, argv, &i, &err) < 0) return cli_error("eval", &err, 2);
            continue;
        }
        fprintf(stderr, "lrlab eval: unknown flag '%s' (lrlab eval --help lists them)\n", argv[i]);
        return 2;
    }
    if (!model_file) {
        fprintf(stderr, "lrlab eval: --model-file FILE.safetensors is required\n(lrlab eval --help for the flags)\n");
        return 2;
    }
    /* the run's model, when the weights are in a run directory */
    char cfg_path[1200];
    const char *slash = strrchr(model_file, '/');
    snprintf(cfg_path, sizeof cfg_path, "%.*s%s", slash ? (int)(slash - model_file + 1) : 0, model_file, RUN_CONFIG);
    if (!model_given && access(cfg_path, F_OK) == 0) {
        train_config run_cfg;
        config_defaults(&run_cfg);
        if (config_read(&run_cfg, cfg_path, &err)) return cli_error("eval", &err, 1);
        snprintf(cfg.model, sizeof cfg.model, "%s", run_cfg.model);
    }
    if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
    eval_run r;
    memset(&r, 0, sizeof r);
    char names[10][32];
    eval_stats s;
    int rc = 0;
    /* cifar_load validates every file; keep one training image only */
    if (cifar_load(&r.train, &r.test, cfg.data, 1, cfg.limit_test, &err) ||
        cifar_class_names(names, cfg.data, &err) ||
        model_spec_load(&r.m, cfg.model, cli_search_dirs("models"), &err))
        rc = -1;
    if (!rc && (r.m.in_c != CIFAR_C || r.m.in_h != CIFAR_H || r.m.in_w != CIFAR_W || r.m.n_classes != CIFAR_CLASSES))
        rc = lr_fail(&err, "--model %s: input %dx%dx%d and %d classes, CIFAR-10 needs 3x32x32 and 10", cfg.model,
                     r.m.in_c, r.m.in_h, r.m.in_w, r.m.n_classes);
    if (!rc && (!(r.params = lr_calloc(r.m.n_params, sizeof(float), "parameters", &err)) ||
                !(r.logits = lr_calloc((size_t)cfg.batch * r.m.n_classes, sizeof(float), "logits", &err))))
        rc = -1;
    if (!rc && weights_load(model_file, &r.m, r.params, &err)) rc = -1;
    net_config nc = {.backend = cfg.backend, .algo = cfg.algo, .precision = cfg.precision, .batch = cfg.batch,
                     .training = 0};
    if (!rc && net_init(&r.net, &r.m, &nc, &err)) rc = -1;
    loader_config lc = {.split = &r.test, .batch = cfg.batch, .seed = 0};
    if (!rc && loader_init(&r.loader, &lc, &err)) rc = -1;
    if (!rc && evaluate_split(&s, r.net, r.params, r.loader, r.m.n_classes, r.logits, &err)) rc = -1;
    if (!rc) {
        printf("weights %s, model %s, %ld test images from %s\n", model_file, r.m.name, s.n, cfg.data);
        print_results(&s, names);
    }
    eval_run_free(&r);
    return rc ? cli_error("eval", &err, 1) : 0;
}
