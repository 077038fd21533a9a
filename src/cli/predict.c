/* cli/predict.c: `lrlab predict RUN_DIR IMG...` or `lrlab predict --model M
 * --weights W [--dataset D --data P --normalize ... --resize H,W] IMG...`:
 * the class and the top-5 softmax probabilities of each PNG or JPEG file.
 * The images become the model's input as a data set's test images do:
 * decoded as PIL's convert("RGB") (greyscale kept as one channel for a
 * 1-channel model), resized with --resize (PIL's bilinear) or refused when
 * not the model's size, ToTensor and the data set's Normalize. The
 * normalisation and the class names come from the data set: the run's
 * (config.txt beside the weights) or the flags'; its test files are read for
 * them (one image kept). Not here: decoding (data/image.c), the net. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data/formats.h"
#include "lrlab/config.h"
#include "lrlab/data.h"
#include "lrlab/setup.h"
#include "lrlab/train.h"

static const char *const predict_settings[] = {"model", "dataset", "data", "labels", "normalize", "threads",
                                               "backend", NULL};

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab predict RUN_DIR IMG...\n"
               "       lrlab predict --model NAME|FILE --weights FILE [--dataset NAME ...] IMG...\n\n"
               "The predicted class and the top-5 probabilities (softmax of the logits) of PNG and JPEG\n"
               "files. Each image must have the model's size, or --resize H,W resizes it (PIL's bilinear).\n"
               "The normalisation and the class names are the data set's: the run's (its config.txt)\n"
               "or --dataset's (the data files are read for them).\n"
               "  RUN_DIR              a run directory: its model.safetensors, model and data set\n"
               "  --weights FILE       a weights file (model.safetensors, --init's format) or a checkpoint\n"
               "  --resize H,W         resize every image to H x W, the model's input size (PIL's bilinear);\n"
               "                       a run on --dataset folder with --resize resizes them too\n"
               "  --top K              how many classes to list (5)\n");
    config_print_help(f, predict_settings, NULL);
}

/* One file as the model's input x (c x h x w floats, ToTensor then Normalize). */
static int load_image(float *x, const char *path, const dataset *d, int resize, lr_error *err) {
    data_image im;
    if (image_read(&im, path, err)) return -1;
    int rc = 0;
    if (im.c == 3 && d->c == 1)
        rc = lr_fail(err, "%s: a colour image, but the model takes 1 channel (expected a greyscale PNG or JPEG)", path);
    else if ((im.h != d->h || im.w != d->w) && !resize)
        rc = lr_fail(err, "%s: %dx%d pixels (width x height), but the model takes %dx%d (pass --resize %d,%d to "
                          "resize it with PIL's bilinear filter)", path, im.w, im.h, d->w, d->h, d->h, d->w);
    else if (im.h != d->h || im.w != d->w)
        rc = image_resize(&im, d->h, d->w, path, err);
    if (!rc) {
        size_t plane = (size_t)d->h * d->w;
        for (int c = 0; c < d->c; c++)
            for (size_t p = 0; p < plane; p++)
                x[c * plane + p] = augment_value(&d->norm, c, im.px[p * im.c + (im.c == 3 ? c : 0)]);
    }
    image_free(&im);
    return rc;
}

/* Softmax of n logits (as torch.softmax: exp(x - max) / sum, in float32 values, summed in double). */
static void softmax(double *p, const float *z, int n) {
    float m = z[0];
    for (int i = 1; i < n; i++) m = z[i] > m ? z[i] : m;
    double s = 0;
    for (int i = 0; i < n; i++) s += p[i] = exp((double)z[i] - m);
    for (int i = 0; i < n; i++) p[i] /= s;
}

int cli_predict(int argc, char **argv) {
    train_config cfg;
    config_defaults(&cfg);
    const char *weights = NULL, *top_s = "5", *run = NULL, *resize = NULL;
    const cli_opt opts[] = {{"--weights", &weights, NULL}, {"--top", &top_s, NULL}, {"--resize", &resize, NULL},
                            {NULL, NULL, NULL}};
    int model_given = 0, data_given = 0, dataset_given = 0, first_image = 0;
    lr_error err;
    const char **images = calloc((size_t)argc, sizeof *images);
    int n_images = 0;
    if (!images) return fprintf(stderr, "lrlab predict: out of memory\n"), 1;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return free(images), 0;
        }
        int rc = cli_take(argc, argv, &i, opts, "predict");
        if (rc < 0) return free(images), 2;
        if (rc > 0) {
            i++;
            continue;
        }
        if (a[0] != '-') {
            struct stat st;
            if (!first_image && !weights && !stat(a, &st) && S_ISDIR(st.st_mode)) run = a;
            else images[n_images++] = a;
            first_image = 1, i++;
            continue;
        }
        size_t len = strcspn(a + 2, "=");
        if (strncmp(a, "--", 2) || lr_key_find(a + 2, len, predict_settings) < 0)
            return free(images), cli_unknown("predict", a, opts, 0);
        if (lr_key_eq(a + 2, len, "model")) model_given = 1;
        if (lr_key_eq(a + 2, len, "data")) data_given = 1;
        if (!lr_key_eq(a + 2, len, "model") && !lr_key_eq(a + 2, len, "data") && !lr_key_eq(a + 2, len, "threads") &&
            !lr_key_eq(a + 2, len, "backend"))
            dataset_given = 1;
        if (config_take_arg(&cfg, argc, argv, &i, &err) < 0) return free(images), cli_error("predict", &err, 2);
    }
    long top;
    int rc = 2, rh = 0, rw = 0;
    char path[1400];
    if (lr_parse_long(&top, top_s, 1, DATA_MAX_CLASSES, "--top", &err) ||
        (resize && data_parse_resize(resize, &rh, &rw, "--resize", &err))) {
        cli_error("predict", &err, 2);
    } else if (!n_images || (!run && !weights) || (run && weights)) {
        fprintf(stderr, "lrlab predict: %s\n(lrlab predict --help for the flags)\n",
                run && weights ? "a run directory or --weights, not both"
                : !n_images    ? "which images? give PNG or JPEG files after the weights"
                               : "which weights? give a run directory first, or --model and --weights");
    } else {
        rc = 0;
        if (run) snprintf(path, sizeof path, "%s/%s", run, RUN_WEIGHTS);
        else snprintf(path, sizeof path, "%s", weights);
        char cfg_path[1500];
        const char *slash = strrchr(path, '/');
        snprintf(cfg_path, sizeof cfg_path, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, RUN_CONFIG);
        if (access(cfg_path, F_OK) == 0 && cli_run_settings(&cfg, cfg_path, model_given, dataset_given, data_given, &err))
            rc = cli_error("predict", &err, 1);
    }
    if (rc) return free(images), rc;
    cli_default_data(&cfg);
    cfg.batch = 1, cfg.limit_test = 1;
    setup_options so = {.test = 1, .weights = path, .model_search = cli_search_dirs("models"), .warn = stderr};
    train_setup r;
    memset(&r, 0, sizeof r);
    rc = train_setup_init(&r, &cfg, &so, &err);
    int classes = r.m.n_classes;
    float *x = rc ? NULL : malloc(sizeof(float) * (size_t)r.data.c * r.data.h * r.data.w);
    double *p = rc ? NULL : malloc(sizeof(double) * (size_t)classes);
    int *order = rc ? NULL : malloc(sizeof(int) * (size_t)classes);
    if (!rc && (!x || !p || !order)) rc = lr_fail(&err, "out of memory");
    if (!rc && rh && (rh != r.data.h || rw != r.data.w))
        rc = lr_fail(&err, "--resize %s: the model %s takes %dx%d images (expected --resize %d,%d)", resize, cfg.model,
                     r.data.h, r.data.w, r.data.h, r.data.w);
    if (!rc) net_set_training(r.net, 0);
    for (int k = 0; !rc && k < n_images; k++) {
        if (load_image(x, images[k], &r.data, rh || cfg.resize[0], &err) ||
            net_forward(r.net, x, 1, r.params, r.logits, &err)) {
            rc = -1;
            break;
        }
        softmax(p, r.logits, classes);
        for (int i = 0; i < classes; i++) order[i] = i;
        for (int i = 0; i < classes; i++) /* by probability, the lower class first on ties (a stable sort) */
            for (int j = i; j > 0 && p[order[j]] > p[order[j - 1]]; j--) {
                int t = order[j];
                order[j] = order[j - 1], order[j - 1] = t;
            }
        printf("%s: %s (%.4f)\n", images[k], r.data.names[order[0]], p[order[0]]);
        for (int i = 0; i < classes && i < top; i++)
            printf("  %d %-16s %.6f\n", order[i], r.data.names[order[i]], p[order[i]]);
    }
    free(x), free(p), free(order), free(images);
    train_setup_free(&r);
    return rc ? cli_error("predict", &err, 1) : 0;
}
