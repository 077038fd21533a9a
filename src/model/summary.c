/* model/summary.c: the torchsummary-style table of `lrlab summary`, and the
 * multiply-adds of a forward pass. */
#include <stdio.h>
#include <string.h>

#include "lrlab/model.h"

static const char *const kind_names[LAYER_KINDS] = {
    [LAYER_CONV] = "Conv2d",           [LAYER_RELU] = "ReLU",       [LAYER_MAXPOOL] = "MaxPool2d",
    [LAYER_FLATTEN] = "Flatten",       [LAYER_LINEAR] = "Linear",   [LAYER_BATCHNORM] = "BatchNorm2d",
    [LAYER_GELU] = "GELU",             [LAYER_AVGPOOL] = "AvgPool2d", [LAYER_GLOBAL_AVGPOOL] = "AdaptiveAvgPool2d",
    [LAYER_ADD] = "Add",               [LAYER_DROPOUT] = "Dropout", [LAYER_SCALE] = "Scale",
    [LAYER_SHORTCUT] = "Shortcut",
};

const char *model_layer_type(layer_kind k) { return kind_names[k]; }

/* A named layer (name= or its tensors') goes by its name; another by its type and position. */
static int named(const layer_spec *l) { return l->name[0] && l->name[0] != '_'; }

void model_layer_label(const model_spec *m, int i, char *buf, size_t cap) {
    const layer_spec *l = &m->layers[i];
    if (named(l)) snprintf(buf, cap, "%s", l->name);
    else snprintf(buf, cap, "%s-%d", kind_names[l->kind], i + 1);
}

double model_forward_macs(const model_spec *m) {
    double macs = 0.0;
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        if (l->kind == LAYER_CONV || l->kind == LAYER_LINEAR)
            macs += (double)m->tensors[l->tensor0].count * l->h * l->w;
    }
    return macs;
}

/* 1234567 -> "1,234,567" */
static void with_commas(char *buf, size_t cap, long v) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%ld", v), j = 0;
    for (int i = 0; i < n && (size_t)j + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
}

void model_print_summary(const model_spec *m, int batch, FILE *f) {
    const char *rule = "------------------------------------------------------------------------------";
    fprintf(f, "%s\n%-36s %-24s %15s\n", rule, "Layer (type)", "Output Shape", "Param #");
    fprintf(f, "==============================================================================\n");
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        char label[128], shape[64], params[32];
        if (named(l)) snprintf(label, sizeof label, "%s (%s)", l->name, kind_names[l->kind]);
        else model_layer_label(m, i, label, sizeof label);
        if (l->flat) snprintf(shape, sizeof shape, "[%d, %d]", batch, l->c);
        else snprintf(shape, sizeof shape, "[%d, %d, %d, %d]", batch, l->c, l->h, l->w);
        with_commas(params, sizeof params, l->param_count);
        fprintf(f, "%-36s %-24s %15s\n", label, shape, params);
    }
    char total[32];
    with_commas(total, sizeof total, m->n_params);
    fprintf(f, "==============================================================================\n");
    /* the count people compare ends the output (`lrlab summary | tail -n 1`) */
    fprintf(f, "Trainable params: %s\nNon-trainable params: 0\n", total);
    if (m->n_buffers) fprintf(f, "Buffers (running statistics): %ld values\n", m->n_buffers);
    fprintf(f, "Forward multiply-adds per image: %.1f M\n", model_forward_macs(m) / 1e6);
    fprintf(f, "Total params: %s\n", total);
}
