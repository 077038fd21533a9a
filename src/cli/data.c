/* cli/data.c: `lrlab data stats [--dataset NAME] [--data PATH] [--labels ...]
 * [--resize H,W] [--split train|test]`: a data set's shape, classes, the
 * constants lrlab normalises it with, and its channel means and stds (of
 * ToTensor's x/255 over every pixel of the split: numpy's mean and std with
 * ddof=0), printed as a --normalize value. `lrlab data transform --transform
 * EXPR --image N...`: training images through the pipeline with the random
 * choices it made (what tests/torch/transform_check.py replays in torchvision).
 * Not here: the counting (dataset_channel_stats, data/dataset.c), the
 * transforms (data/transform.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/config.h"
#include "lrlab/data.h"
#include "lrlab/setup.h"

/* The train settings that describe the data (config.txt keys). */
static const char *const data_settings[] = {"dataset", "data", "labels", "resize", "normalize", "limit_train",
                                            "limit_test", "transform", "seed", NULL};

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab data stats [flags]\n"
               "       lrlab data transform --transform EXPR [--epoch E] [--seed S] --image N [--image N...]\n\n"
               "stats: a data set's shape, classes and normalisation, and the channel means and stds of its\n"
               "training split (x/255 over every pixel; numpy's mean and std), as a --normalize value.\n"
               "transform: training images N (file order) through --transform as epoch E of a run would\n"
               "see them: each step's random choices, then the values (C printf %%a, CHW order).\n"
               "  --split train|test   the split to measure (train)\n"
               "  --epoch E            transform: the epoch (0)\n"
               "  --image N            transform: an image to show (repeatable)\n");
    config_print_help(f, data_settings, NULL);
}

static int show_transform(dataset *d, const train_config *cfg, const char *epoch_s, const long *images, int n) {
    static const char *const names[] = {"to_tensor", "normalize", "crop", "hflip", "vflip", "erase", "jitter", "alt_flip"};
    lr_error err;
    long epoch;
    data_transform t;
    if (!cfg->transform[0]) return fprintf(stderr, "lrlab data transform: --transform EXPR is required\n"), 2;
    if (lr_parse_long(&epoch, epoch_s, 0, 1000000, "--epoch", &err) || transform_parse(&t, cfg->transform, &err) ||
        transform_check(&t, cfg->transform, d->c, d->h, d->w, &err))
        return cli_error("data", &err, 2);
    transform_norm(&t, d->c, &d->norm);
    const data_split *s = &d->train;
    size_t bytes = data_image_bytes(s);
    float *out = malloc(2 * bytes * sizeof(float));
    if (!out) return fprintf(stderr, "lrlab data transform: out of memory\n"), 1;
    for (int k = 0; k < n; k++) {
        if (images[k] >= s->n) {
            fprintf(stderr, "lrlab data transform: --image %ld: expected 0..%d (the training images)\n", images[k], s->n - 1);
            free(out);
            return 2;
        }
        tf_draw draws[TF_MAX_STEPS];
        transform_image(out, out + bytes, s->pixels + (size_t)images[k] * bytes, s->c, s->h, s->w, &t, &d->norm,
                        (uint64_t)cfg->seed, (int)epoch, (int)images[k], draws);
        printf("image %ld %dx%dx%d\n", images[k], s->c, s->h, s->w);
        for (int j = 0; j < t.n; j++) {
            const tf_draw *r = &draws[j];
            const tf_step *st = &t.step[j];
            printf("step %s applied %d box %d %d %d %d", names[st->kind], r->applied, r->i, r->j, r->h, r->w);
            if (st->kind == TF_JITTER) {
                printf(" order %d %d %d %d factors", r->order[0], r->order[1], r->order[2], r->order[3]);
                for (int f = 0; f < 4; f++) {
                    if (st->jitter_on[f])
                        printf(" %a", r->factor[f]);
                    else
                        printf(" -");
                }
            }
            if (st->kind == TF_NORMALIZE)
                for (int c = 0; c < s->c; c++) printf(" %a %a", (double)d->norm.mean[c], (double)d->norm.std[c]);
            printf("\n");
        }
        printf("values");
        for (size_t i = 0; i < bytes; i++) printf(" %a", (double)out[i]);
        printf("\n");
    }
    free(out);
    return 0;
}

int cli_data(int argc, char **argv) {
    int show = argc >= 2 && !strcmp(argv[1], "transform");
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || (strcmp(argv[1], "stats") && !show)) {
        usage(argc < 2 || strcmp(argv[1], "--help") ? stderr : stdout);
        if (argc >= 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
            fprintf(stderr, "lrlab data: unknown action '%s' (expected stats or transform)\n", argv[1]);
        return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
    }
    train_config cfg;
    config_defaults(&cfg);
    const char *split_s = "train", *epoch_s = "0", *image_s = NULL;
    const cli_opt opts[] = {{"--split", &split_s, NULL}, {"--epoch", &epoch_s, NULL}, {"--image", &image_s, NULL},
                            {NULL, NULL, NULL}};
    lr_error err;
    long images[64];
    int n_images = 0;
    for (int i = 2; i < argc;) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        int rc = cli_take(argc, argv, &i, opts, "data");
        if (rc < 0) return 2;
        if (rc > 0) {
            if (image_s && n_images < 64 && lr_parse_long(&images[n_images++], image_s, 0, 1000000000, "--image", &err))
                return cli_error("data", &err, 2);
            image_s = NULL;
            i++;
            continue;
        }
        size_t len = strcspn(a + 2, "=");
        if (strncmp(a, "--", 2) || lr_key_find(a + 2, len, data_settings) < 0) return cli_unknown("data", a, opts, 0);
        if (config_take_arg(&cfg, argc, argv, &i, &err) < 0) return cli_error("data", &err, 2);
    }
    int test = !strcmp(split_s, "test");
    if (!test && strcmp(split_s, "train")) {
        fprintf(stderr, "lrlab data: --split '%s': expected train or test\n", split_s);
        return 2;
    }
    cli_default_data(&cfg);
    data_options o;
    if (setup_data_options(&o, &cfg, 1, 1, &err)) return cli_error("data", &err, 2);
    dataset d;
    if (dataset_load(&d, &o, &err)) return cli_error("data", &err, 1);
    if (show) {
        int rc = show_transform(&d, &cfg, epoch_s, images, n_images);
        dataset_free(&d);
        return rc;
    }
    const data_split *s = test ? &d.test : &d.train;
    double mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS];
    dataset_channel_stats(s, mean, std);
    printf("%s %s: %d train / %d test images of %dx%dx%d, %d classes (%s, %s, ...)\n", d.format, d.path, d.train.n,
           d.test.n, d.c, d.h, d.w, d.classes, d.names[0], d.classes > 1 ? d.names[1] : "");
    printf("normalised with:  mean (");
    for (int c = 0; c < d.c; c++) printf("%s%.4g", c ? ", " : "", d.norm.mean[c]);
    printf(") std (");
    for (int c = 0; c < d.c; c++) printf("%s%.4g", c ? ", " : "", d.norm.std[c]);
    printf(")\n%s split, %d images: mean (", test ? "test" : "train", s->n);
    for (int c = 0; c < d.c; c++) printf("%s%.4f", c ? ", " : "", mean[c]);
    printf(") std (");
    for (int c = 0; c < d.c; c++) printf("%s%.4f", c ? ", " : "", std[c]);
    printf(")\n--normalize '");
    for (int c = 0; c < 2 * d.c; c++) printf("%s%.4f", c ? "," : "", c < d.c ? mean[c] : std[c - d.c]);
    printf("'\n");
    dataset_free(&d);
    return 0;
}
