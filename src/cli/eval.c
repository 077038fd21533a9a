/* cli/eval.c: `lrlab eval RUN_DIR|FILE [--model M] [--data D] [--limit-test N]
 * [--batch N] [--threads N] [--backend dnnl|ref] ...` (the file also as
 * --model-file FILE): the test loss (a proper mean over images), the test
 * accuracy, the accuracy of each class with its name (the data set's), and
 * the confusion matrix (rows: true class, columns: predicted class). A run
 * directory stands for its model.safetensors, or its checkpoint while it
 * has none; a checkpoint file gives its weights. When the weights sit in a
 * run directory (config.txt beside them), the model is the run's unless
 * --model is given, and so is the data set (--dataset, --labels, --resize,
 * --normalize; the files too unless --data is given, but for cifar10). Reads the test files only. Not here: the counting
 * (train/evaluate.c). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lrlab/config.h"
#include "lrlab/data.h"
#include "lrlab/evaluate.h"
#include "lrlab/io.h"
#include "lrlab/model.h"
#include "lrlab/setup.h"
#include "lrlab/train.h"

/* The train settings eval accepts (config.txt keys); the help lists them
 * from "data" on (--model is said with the weights). */
static const char *const eval_settings[] = {"model",   "dataset",   "data",      "labels",     "resize",
                                            "normalize", "limit_test", "batch",   "threads",   "backend",
                                            "conv_algo", "precision", "tta", NULL};

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab eval RUN_DIR|FILE [flags]   (or --model-file FILE)\n\n"
               "Test loss and accuracy of trained weights, the accuracy of each class, and the\n"
               "confusion matrix (rows: true class, columns: predicted class). Reads the test files only.\n"
               "  RUN_DIR              a run directory: its model.safetensors (its checkpoint while the\n"
               "                       run is not finished)\n"
               "  FILE                 a weights file (model.safetensors, --init's format) or a checkpoint\n"
               "  --model-file FILE    the same as FILE\n"
               "  --model NAME|FILE    network description (default: the run's, from config.txt beside\n"
               "                       the weights; else vgg-seed)\n");
    config_print_help(f, eval_settings + 1, NULL);
}

/* RUN_DIR -> RUN_DIR/model.safetensors, or its checkpoint (said on stderr);
 * a file stays. */
static int resolve_weights(char *out, size_t cap, const char *arg, lr_error *err) {
    struct stat sb;
    if (stat(arg, &sb))
        return lr_fail(err, "%s: %s (expected a run directory, a weights file or a checkpoint)", arg, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return snprintf(out, cap, "%s", arg), 0;
    snprintf(out, cap, "%s/%s", arg, RUN_WEIGHTS);
    if (access(out, F_OK) == 0) return 0;
    snprintf(out, cap, "%s/%s", arg, RUN_CHECKPOINT);
    if (access(out, F_OK) == 0) {
        fprintf(stderr, "lrlab eval: %s has no %s yet (the run is not finished): its checkpoint\n", arg, RUN_WEIGHTS);
        return 0;
    }
    return lr_fail(err, "%s: no %s or %s: not a run directory that has trained", arg, RUN_WEIGHTS, RUN_CHECKPOINT);
}

static void print_results(const eval_stats *s, const char (*names)[DATA_NAME_BYTES]) {
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
    const char *model_arg = NULL;
    const cli_opt opts[] = {{"--model-file", &model_arg, NULL}, {NULL, NULL, NULL}};
    int model_given = 0, data_given = 0, dataset_given = 0, n_files = 0;
    lr_error err;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        int rc = cli_take(argc, argv, &i, opts, "eval");
        if (rc < 0) return 2;
        if (rc > 0) {
            n_files++, i++;
            continue;
        }
        if (a[0] != '-') {
            model_arg = a, n_files++, i++;
            continue;
        }
        size_t len = strcspn(a + 2, "=");
        if (strncmp(a, "--", 2) || lr_key_find(a + 2, len, eval_settings) < 0) {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(len < 63 ? len : 63), a + 2);
            if (!strncmp(a, "--", 2) && config_known(key))
                fprintf(stderr, "lrlab eval: %s is a training flag; eval takes the weights and the test data "
                                "(lrlab eval --help lists its flags)\n", a);
            else cli_unknown("eval", a, opts, 0);
            return 2;
        }
        if (lr_key_eq(a + 2, len, "model")) model_given = 1;
        if (lr_key_eq(a + 2, len, "data")) data_given = 1;
        if (lr_key_eq(a + 2, len, "dataset") || lr_key_eq(a + 2, len, "labels") || lr_key_eq(a + 2, len, "resize") ||
            lr_key_eq(a + 2, len, "normalize"))
            dataset_given = 1;
        if (config_take_arg(&cfg, argc, argv, &i, &err) < 0) return cli_error("eval", &err, 2);
    }
    if (n_files != 1) {
        fprintf(stderr, "lrlab eval: %s\n(lrlab eval --help for the flags)\n",
                n_files ? "one weights file or run directory at a time"
                        : "which weights? give a run directory, a weights file or a checkpoint");
        return 2;
    }
    char model_file[1200];
    if (resolve_weights(model_file, sizeof model_file, model_arg, &err)) return cli_error("eval", &err, 1);
    /* the run's model and data set, when the weights are in a run directory */
    char cfg_path[1400];
    const char *slash = strrchr(model_file, '/');
    snprintf(cfg_path, sizeof cfg_path, "%.*s%s", slash ? (int)(slash - model_file + 1) : 0, model_file, RUN_CONFIG);
    if (access(cfg_path, F_OK) == 0 && cli_run_settings(&cfg, cfg_path, model_given, dataset_given, data_given, &err))
        return cli_error("eval", &err, 1);
    cli_default_data(&cfg);
    setup_options so = {.test = 1, .weights = model_file, .model_search = cli_search_dirs("models"), .warn = stderr};
    train_setup r;
    memset(&r, 0, sizeof r);
    eval_stats s;
    int rc = train_setup_init(&r, &cfg, &so, &err) || evaluate_tta_check(cfg.tta, r.m.in_h, r.m.in_w, &err);
    if (!rc && evaluate_split(&s, r.net, r.params, r.test_loader, r.m.n_classes, r.logits, NULL, &err)) rc = -1;
    eval_stats t; /* --tta: after the plain pass, the augmented one */
    if (!rc && cfg.tta &&
        evaluate_split_tta(&t, r.net, r.params, r.test_loader, r.m.n_classes, r.logits, cfg.tta, NULL, &err))
        rc = -1;
    if (!rc) {
        printf("weights %s, model %s, %ld test images from %s\n", model_file, r.m.name, s.n, r.data.path);
        if (cfg.tta)
            printf("tta_test_acc=%.2f%% (%ld/%ld) tta_test_loss=%.6f (--tta %d)\n", 100.0 * t.correct / t.n, t.correct,
                   t.n, t.loss_sum / t.n, cfg.tta);
        print_results(&s, (const char (*)[DATA_NAME_BYTES])r.data.names);
    }
    train_setup_free(&r);
    return rc ? cli_error("eval", &err, 1) : 0;
}
