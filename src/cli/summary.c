/* cli/summary.c: `lrlab summary [--model M] [--batch N]`: the model's
 * layers, output shapes and parameter counts, as torchsummary prints them. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/model.h"

int cli_summary(int argc, char **argv) {
    const char *model = "vgg-seed";
    long batch = -1;
    lr_error err;
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: lrlab summary [--model NAME|FILE] [--batch N]\n");
            return 0;
        }
        if (i + 1 >= argc) return fprintf(stderr, "lrlab summary: %s: missing value\n", argv[i]), 2;
        if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) {
            if (lr_parse_long(&batch, argv[i + 1], 1, 1 << 20, "--batch", &err)) return cli_error("summary", &err, 2);
        } else return fprintf(stderr, "lrlab summary: unknown flag '%s'\n", argv[i]), 2;
    }
    model_spec m;
    if (model_spec_load(&m, model, cli_search_dirs("models"), &err)) return cli_error("summary", &err, 2);
    model_print_summary(&m, (int)batch, stdout);
    return 0;
}
