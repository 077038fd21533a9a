// fuzz-sources: src/model/model_spec.c src/core/common.c src/core/rng.c
/* fuzz/fuzz_model.c: libFuzzer target for the model description parser
 * (model_spec_parse, what `--model FILE` reads). Any bytes must give either
 * a model or one message naming the source, never a crash, a hang or
 * undefined behaviour; an accepted model must be self-consistent: shapes
 * positive and chained layer to layer, parameters laid out back to back,
 * counts equal to the weight shapes, a linear last layer, and its summary
 * printable. Not a test of the shapes' values (tests/test_net.c). */
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
    must(m.layers[m.n_layers - 1].kind == LAYER_LINEAR, "last layer not linear");
    must(m.n_classes == m.layers[m.n_layers - 1].c, "n_classes is not the last width");
    long offset = 0;
    int c = m.in_c, h = m.in_h, w = m.in_w;
    for (int i = 0; i < m.n_layers; i++) {
        const layer_spec *l = &m.layers[i];
        must(l->in_c == c && l->in_h == h && l->in_w == w, "a layer's input is not the previous output");
        must(l->c > 0 && l->h > 0 && l->w > 0, "an output shape not positive");
        must(l->param_offset == offset, "parameters not back to back");
        long count = l->param_count ? 1 : 0;
        for (int d = 0; d < l->ndim; d++) {
            must(l->shape[d] > 0, "a weight dimension not positive");
            count *= l->shape[d];
        }
        must(count == l->param_count, "param_count is not the product of the weight shape");
        if (l->param_count) {
            char name[128];
            model_param_name(l, name, sizeof name);
            must(strlen(name) > 7 && strlen(name) < sizeof name, "a parameter name out of range");
        }
        offset += l->param_count;
        c = l->c, h = l->h, w = l->w;
    }
    must(offset == m.n_params, "n_params is not the sum of the layers'");
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
