/* cli/summary.c: `lrlab summary [--model M] [--batch N] [--param-group G]...`:
 * the model's layers, output shapes and parameter counts, as torchsummary
 * prints them; with parameter groups (and the optimiser flags), first each
 * group's values and each parameter's group. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lrlab/config.h"
#include "lrlab/model.h"

/* the train settings summary takes: the model, the optimiser and the groups */
static const char *const taken[] = {"model", "optim", "lr", "momentum", "weight_decay", "dampening", "nesterov",
                                    "param_group", NULL};

/* Each group (its text, values and what freezes it), then each trained
 * tensor's group: the parameters as PyTorch's param_groups would hold them. */
static int print_groups(const train_config *c, const model_spec *m, FILE *f, lr_error *err) {
    optim_params hp;
    param_group groups[OPTIM_MAX_GROUPS];
    int n, group_of[MODEL_MAX_TENSORS];
    if (config_optim(c, &hp, err) || config_groups(c, &hp, groups, &n, err) ||
        config_group_params(m, groups, n, group_of, err))
        return -1;
    fprintf(f, "Parameter groups (in PyTorch's param_groups order; the default group last):\n");
    for (int g = 0; g < n; g++) {
        char values[512], frozen[64];
        optim_format(values, sizeof values, &groups[g].hp, 1);
        optim_group_frozen_text(&groups[g], frozen, sizeof frozen);
        fprintf(f, "  %d  %-40s %s%s%s\n", g, groups[g].text[0] ? groups[g].text : "(default: the other parameters)",
                values, frozen[0] ? ", " : "", frozen);
    }
    fprintf(f, "%-48s %12s  %s\n", "Parameter", "Count", "Group");
    for (int i = 0, k = 0; i < m->n_tensors; i++)
        if (!m->tensors[i].buffer) fprintf(f, "%-48s %12ld  %d\n", m->tensors[i].name, m->tensors[i].count, group_of[k++]);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: lrlab summary [--model NAME|FILE] [--batch N] [--param-group 'SEL: k=v, ...']... [--optim EXPR]\n\n"
               "Prints the model's layers, output shapes and parameter counts (as torchsummary does);\n"
               "with --param-group, first each group's values and each parameter's group.\n"
               "  --model NAME|FILE  network description (vgg-seed: models/NAME.model, or a file)\n"
               "  --batch N          the batch size in the output shapes (default: -1, as torchsummary)\n"
               "  --param-group, --optim, --lr, --momentum, --weight-decay, --dampening, --nesterov: as lrlab train\n");
}

int cli_summary(int argc, char **argv) {
    const char *batch_s = NULL;
    const cli_opt opts[] = {{"--batch", &batch_s, NULL}, {NULL, NULL, NULL}};
    train_config c;
    config_defaults(&c);
    lr_error err;
    for (int i = 1; i < argc;) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        int m = cli_take(argc, argv, &i, opts, "summary");
        if (m < 0) return 2;
        if (m) {
            i++;
            continue;
        }
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || lr_key_find(a + 2, strcspn(a + 2, "="), taken) < 0) {
            const cli_opt known[] = {{"--batch", NULL, NULL}, {"--model", NULL, NULL}, {"--param-group", NULL, NULL},
                                     {"--optim", NULL, NULL}, {"--lr", NULL, NULL}, {"--momentum", NULL, NULL},
                                     {"--weight-decay", NULL, NULL}, {"--dampening", NULL, NULL},
                                     {"--nesterov", NULL, NULL}, {NULL, NULL, NULL}};
            return cli_unknown("summary", a, known, 0);
        }
        if (config_take_arg(&c, argc, argv, &i, &err) < 0) return cli_error("summary", &err, 2);
    }
    long batch = -1;
    if (batch_s && lr_parse_long(&batch, batch_s, 1, 1 << 20, "--batch", &err)) return cli_error("summary", &err, 2);
    model_spec m;
    if (model_spec_load(&m, c.model, cli_search_dirs("models"), &err)) return cli_error("summary", &err, 1);
    if (c.param_groups[0] && print_groups(&c, &m, stdout, &err)) return cli_error("summary", &err, 2);
    model_print_summary(&m, (int)batch, stdout);
    return 0;
}
