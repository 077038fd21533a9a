/* cli/eval.c: `lrlab eval --model-file FILE.safetensors [--model M] [--data D]
 * [--limit-test N] [--batch N] [--threads N] [--backend dnnl|ref] ...`: the
 * test loss (a proper mean over images), the test accuracy, the accuracy of
 * each class with its name (batches.meta.txt), and the confusion matrix
 * (rows: true class, columns: predicted class). When the weights sit in a
 * run directory (config.txt beside them), the model is the run's unless
 * --model is given. Not here: the counting (train/evaluate.c). */
#define _POSIX_C_SOURCE 200809L
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
#include "lrlab/setup.h"
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
    setup_options so = {.test = 1, .weights = model_file, .model_search = cli_search_dirs("models"), .warn = stderr};
    train_setup r;
    memset(&r, 0, sizeof r);
    char names[10][32];
    eval_stats s;
    int rc = cifar_class_names(names, cfg.data, &err) || train_setup_init(&r, &cfg, &so, &err) ? -1 : 0;
    if (!rc && evaluate_split(&s, r.net, r.params, r.test_loader, r.m.n_classes, r.logits, &err)) rc = -1;
    if (!rc) {
        printf("weights %s, model %s, %ld test images from %s\n", model_file, r.m.name, s.n, cfg.data);
        print_results(&s, names);
    }
    train_setup_free(&r);
    return rc ? cli_error("eval", &err, 1) : 0;
}
