// fuzz-sources: src/model/*.c src/core/*.c
/* fuzz/fuzz_model.c: libFuzzer target for the model description parser
 * (model_spec_parse, what `--model FILE` reads). Any bytes must give either
 * a model or one message naming the source, never a crash, a hang or
 * undefined behaviour; an accepted model must be self-consistent: shapes
 * positive, every layer reading layers above it with their output shapes,
 * tensors laid out back to back, counts equal to the shapes, a flat last
 * layer, and its summary printable. Not a test of the shapes' values (tests/test_net.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/model.h"

static void must(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_model: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1 << 16)) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* a NUL inside ends the text early, as for a C string */
    static model_spec m; /* large: not on the stack */
    lr_error err = {{0}};
    if (model_spec_parse(&m, text, "fuzz.model", &err) != 0) {
        must(strncmp(err.msg, "fuzz.model", 10) == 0, "a rejection without the source's name");
        must(strlen(err.msg) < sizeof err.msg, "an unterminated message");
        free(text);
        return 0;
    }
    must(m.in_c > 0 && m.in_h > 0 && m.in_w > 0, "input shape not positive");
    must(m.n_layers >= 1 && m.n_layers <= MODEL_MAX_LAYERS, "layer count out of range");
    must(m.layers[m.n_layers - 1].flat, "last layer not flat");
    must(m.n_classes == m.layers[m.n_layers - 1].c, "n_classes is not the last width");
    long offset[2] = {0, 0}; /* params, buffers: tensors back to back in order */
    for (int t = 0; t < m.n_tensors; t++) {
        const model_tensor *mt = &m.tensors[t];
        long count = 1;
        for (int d = 0; d < mt->ndim; d++) {
            must(mt->shape[d] > 0, "a tensor dimension not positive");
            count *= mt->shape[d];
        }
        must(count == mt->count, "a tensor's count is not the product of its shape");
        must(mt->offset == offset[mt->buffer], "tensors not back to back");
        must(mt->layer >= 0 && mt->layer < m.n_layers, "a tensor of no layer");
        must(strlen(mt->name) > 2 && strlen(mt->name) < sizeof mt->name, "a tensor name out of range");
        offset[mt->buffer] += count;
    }
    must(offset[0] == m.n_params && offset[1] == m.n_buffers, "n_params, n_buffers are not the tensors' sums");
    for (int i = 0; i < m.n_layers; i++) {
        const layer_spec *l = &m.layers[i];
        must(l->n_in == 1 || (l->n_in == 2 && l->kind == LAYER_ADD), "inputs: one, or two for add");
        for (int k = 0; k < l->n_in; k++) {
            must(l->in[k] == MODEL_INPUT || (l->in[k] >= 0 && l->in[k] < i), "an input not above the layer");
            int c = l->in[k] < 0 ? m.in_c : m.layers[l->in[k]].c, h = l->in[k] < 0 ? m.in_h : m.layers[l->in[k]].h;
            int w = l->in[k] < 0 ? m.in_w : m.layers[l->in[k]].w;
            must(l->in_c == c && l->in_h == h && l->in_w == w, "a layer's input shape is not its input's output");
        }
        must(l->c > 0 && l->h > 0 && l->w > 0, "an output shape not positive");
        long count = 0;
        for (int t = l->tensor0; t < l->tensor0 + l->n_tensors; t++) {
            must(m.tensors[t].layer == i, "a layer's tensor belongs to another layer");
            if (!m.tensors[t].buffer) count += m.tensors[t].count;
        }
        must(count == l->param_count, "param_count is not the sum of the layer's parameter tensors");
    }
    double macs = model_forward_macs(&m);
    must(macs >= 0, "negative multiply-adds");
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull) {
        model_print_summary(&m, 128, devnull);
        fclose(devnull);
    }
    free(text);
    return 0;
}
