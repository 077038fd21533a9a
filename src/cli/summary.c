/* cli/summary.c: `lrlab summary [--model M] [--batch N]`: the model's
 * layers, output shapes and parameter counts, as torchsummary prints them. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/model.h"

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab summary [--model NAME|FILE] [--batch N]\n\n"
               "Prints the model's layers, output shapes and parameter counts (as torchsummary does).\n"
               "  --model NAME|FILE  network description (vgg-seed: models/NAME.model, or a file)\n"
               "  --batch N          the batch size in the output shapes (default: -1, as torchsummary)\n");
}

int cli_summary(int argc, char **argv) {
    const char *model = "vgg-seed", *batch_s = NULL;
    const cli_opt opts[] = {{"--model", &model, NULL}, {"--batch", &batch_s, NULL}, {NULL, NULL, NULL}};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        int m = cli_take(argc, argv, &i, opts, "summary");
        if (m < 0) return 2;
        if (!m) return cli_unknown("summary", argv[i], opts, 0);
    }
    lr_error err;
    long batch = -1;
    if (batch_s && lr_parse_long(&batch, batch_s, 1, 1 << 20, "--batch", &err)) return cli_error("summary", &err, 2);
    model_spec m;
    if (model_spec_load(&m, model, cli_search_dirs("models"), &err)) return cli_error("summary", &err, 1);
    model_print_summary(&m, (int)batch, stdout);
    return 0;
}
