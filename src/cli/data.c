/* cli/data.c: `lrlab data stats [--dataset NAME] [--data PATH] [--labels ...]
 * [--resize H,W] [--split train|test]`: a data set's shape, classes, the
 * constants lrlab normalises it with, and its channel means and stds (of
 * ToTensor's x/255 over every pixel of the split: numpy's mean and std with
 * ddof=0), printed as a --normalize value. Not here: the counting
 * (dataset_channel_stats, data/dataset.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/config.h"
#include "lrlab/data.h"
#include "lrlab/setup.h"

/* The train settings that describe the data (config.txt keys). */
static const char *const data_settings[] = {"dataset", "data", "labels", "resize", "normalize", "limit_train",
                                            "limit_test", NULL};

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab data stats [flags]\n\n"
               "A data set's shape, classes and normalisation, and the channel means and stds of its\n"
               "training split (x/255 over every pixel; numpy's mean and std), as a --normalize value.\n"
               "  --split train|test   the split to measure (train)\n");
    config_print_help(f, data_settings, NULL);
}

int cli_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || strcmp(argv[1], "stats")) {
        usage(argc < 2 || strcmp(argv[1], "--help") ? stderr : stdout);
        if (argc >= 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
            fprintf(stderr, "lrlab data: unknown action '%s' (expected stats)\n", argv[1]);
        return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
    }
    train_config cfg;
    config_defaults(&cfg);
    const char *split_s = "train";
    const cli_opt opts[] = {{"--split", &split_s, NULL}, {NULL, NULL, NULL}};
    lr_error err;
    for (int i = 2; i < argc;) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        int rc = cli_take(argc, argv, &i, opts, "data");
        if (rc < 0) return 2;
        if (rc > 0) {
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
