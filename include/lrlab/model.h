/* lrlab/model.h: a network described as data.
 *
 * A model description is a small text file (docs/models.md), one layer per
 * line, e.g. the seed's VGG in models/vgg-seed:
 *     input 3 32 32
 *     conv conv1 32        # 3x3, stride 1, padding 1, no bias
 *     relu
 *     maxpool 2
 *     ...
 *     flatten
 *     linear fc1 128
 *     relu
 *     linear fc2 10
 * Parsing computes every output shape and lays the parameters out in one
 * flat float array, layer after layer, each weight in PyTorch's layout
 * (conv: [out, in, k, k]; linear: [out, in]) so that a state_dict maps onto
 * it by name. This room knows nothing of oneDNN or training. */
#ifndef LRLAB_MODEL_H
#define LRLAB_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "lrlab/common.h"

#define MODEL_MAX_LAYERS 64
#define MODEL_NAME_LEN 32

typedef enum { LAYER_CONV, LAYER_RELU, LAYER_MAXPOOL, LAYER_FLATTEN, LAYER_LINEAR } layer_kind;
#define LAYER_KINDS (LAYER_LINEAR + 1) /* the number of layer kinds */

typedef struct {
    int out_c, k, stride, pad;
} conv_spec;

typedef struct {
    int k, stride;
} pool_spec;

typedef struct {
    int out;
} linear_spec;

typedef struct {
    layer_kind kind;
    char name[MODEL_NAME_LEN]; /* parameter name prefix ("conv1"); "" for layers without weights */
    int in_c, in_h, in_w;      /* input shape (one image) */
    int c, h, w;               /* output shape; a linear or flattened output has h = w = 1 */
    union {
        conv_spec conv;
        pool_spec pool;
        linear_spec linear;
    } u;
    long param_offset; /* into the flat parameter array */
    long param_count;  /* 0 for layers without weights */
    int shape[4];      /* weight shape in PyTorch's layout (ndim = 4 conv, 2 linear) */
    int ndim;
    int line;          /* line of the description, for messages */
} layer_spec;

typedef struct {
    char name[64];
    int in_c, in_h, in_w;
    int n_layers;
    layer_spec layers[MODEL_MAX_LAYERS];
    long n_params;
    int n_classes; /* width of the last layer */
} model_spec;

/* Parses a description held in text; `source` names it in messages. */
int model_spec_parse(model_spec *m, const char *text, const char *source, lr_error *err);
/* Loads a model by file path, or by name from the models/ directories in
 * search (a NULL-terminated list of directories). */
int model_spec_load(model_spec *m, const char *name_or_path, const char *const *search,
                    lr_error *err);

/* PyTorch's default init: every weight ~ U(-1/sqrt(fan_in), +1/sqrt(fan_in)),
 * drawn from the init stream of seed, layer by layer in order. */
void model_init_params(const model_spec *m, float *params, uint64_t seed);

/* torchsummary-style table: layer, output shape, parameters, total. */
void model_print_summary(const model_spec *m, int batch, FILE *f);

/* "conv1.weight" for the i-th weighted layer; the state_dict name. */
void model_param_name(const layer_spec *l, char *buf, size_t cap);

/* Multiply-adds of one image's forward pass (for GFLOP/s). */
double model_forward_macs(const model_spec *m);

#endif
