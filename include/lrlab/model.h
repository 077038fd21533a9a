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
 * A layer reads the previous layer's output unless `in=NAME` names an
 * earlier one; `add` sums two (a residual connection). Blocks defined once
 * (`block NAME ARGS...` ... `end`) are used as often as needed, so a
 * network is a graph in topological order: every layer reads only layers
 * above it. Parsing computes every output shape and lays the tensors out:
 * trainable parameters (weights, biases) in one flat float array and
 * buffers (BatchNorm's running statistics) in another, each in PyTorch's
 * layout and with its state_dict name, so that a state_dict maps onto them.
 * This room knows nothing of oneDNN or training. */
#ifndef LRLAB_MODEL_H
#define LRLAB_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "lrlab/common.h"

#define MODEL_MAX_LAYERS 1024 /* ResNet-110 takes ~440 */
#define MODEL_MAX_TENSORS 2048
#define MODEL_NAME_LEN 64     /* a layer's name: "layer3.17.shortcut.1" */
#define MODEL_TENSOR_NAME_LEN (MODEL_NAME_LEN + 24)
#define MODEL_INPUT (-1)      /* in[]: the model's input, not a layer */

typedef enum {
    LAYER_CONV,
    LAYER_RELU,
    LAYER_MAXPOOL,
    LAYER_FLATTEN,
    LAYER_LINEAR,
    LAYER_BATCHNORM,
    LAYER_GELU,
    LAYER_AVGPOOL,
    LAYER_GLOBAL_AVGPOOL,
    LAYER_ADD,
    LAYER_DROPOUT,
    LAYER_SCALE,
    LAYER_SHORTCUT,
} layer_kind;
#define LAYER_KINDS (LAYER_SHORTCUT + 1) /* the number of layer kinds */

/* How a conv or linear weight starts (its bias as PyTorch's default, or zeros). */
typedef enum { INIT_DEFAULT, INIT_KAIMING_NORMAL, INIT_DIRAC } init_kind;

typedef struct {
    int out_c, k, stride;
    int pad, pad_end; /* before (top, left) and after (bottom, right): differ for pad=same, even k */
    int bias;
} conv_spec;

typedef struct {
    int k, stride, pad; /* avgpool counts the padding (PyTorch's count_include_pad=True) */
} pool_spec;

typedef struct {
    int out, bias;
} linear_spec;

typedef struct {
    double eps, momentum; /* PyTorch's convention: running = (1 - momentum) * running + momentum * batch */
    int affine;           /* learned weight and bias */
} batchnorm_spec;

/* momentum=None: the running statistics are the cumulative average */
#define MODEL_BN_CUMULATIVE (-1.0)
/* The factor of a training step after which num_batches_tracked is `count`:
 * momentum, or 1 / num_batches_tracked with momentum=None (BatchNorm2d's
 * exponential_average_factor). */
static inline double model_bn_factor(const batchnorm_spec *b, double count) {
    return b->momentum < 0 ? 1.0 / (count > 0 ? count : 1.0) : b->momentum;
}

typedef struct {
    double p; /* dropout probability */
} dropout_spec;

typedef struct {
    double c; /* x * c, c rounded to float as PyTorch does with a Python float */
} scale_spec;

typedef struct {
    int out_c, stride; /* He et al.'s option A: x[:, :, ::stride, ::stride], zero channels padded on both sides */
} shortcut_spec;

/* One tensor of the state_dict: a parameter (weight, bias: in the flat
 * params array) or a buffer (BatchNorm's running statistics: in the flat
 * buffers array; num_batches_tracked is an int64 in PyTorch, kept here as a
 * float, exact up to 2^24 steps). */
typedef enum { TENSOR_WEIGHT, TENSOR_BIAS, TENSOR_RUNNING_MEAN, TENSOR_RUNNING_VAR, TENSOR_NUM_BATCHES } tensor_role;

typedef struct {
    char name[MODEL_TENSOR_NAME_LEN]; /* "layer1.0.bn1.running_mean" */
    int layer;                        /* the layer it belongs to */
    tensor_role role;
    int buffer;                       /* 1: in buffers, not trained */
    int ndim, shape[4];
    long offset, count;               /* into params or buffers */
} model_tensor;

typedef struct {
    layer_kind kind;
    char name[MODEL_NAME_LEN]; /* the tensors' name prefix ("conv1"); for other layers an optional
                                  label (name=...) or "" */
    int in[2], n_in;           /* inputs: earlier layers' indices, or MODEL_INPUT */
    int in_c, in_h, in_w;      /* input shape (one image; add: both inputs have it) */
    int c, h, w;               /* output shape; a flat output (flatten, linear) has h = w = 1 */
    int flat;                  /* output is a vector (after flatten): linear needs it, conv refuses it */
    union {
        conv_spec conv;
        pool_spec pool;
        linear_spec linear;
        batchnorm_spec bn;
        dropout_spec dropout;
        scale_spec scale;
        shortcut_spec shortcut;
    } u;
    init_kind init;
    int zero_bias;     /* bias_init=zeros: the bias starts at 0 (airbench's Conv) */
    long param_offset; /* trainable parameters, weight then bias, back to back in params */
    long param_count;  /* 0 for layers without parameters */
    int shape[4];      /* weight shape in PyTorch's layout (ndim = 4 conv, 2 linear, 1 batchnorm) */
    int ndim;
    int tensor0, n_tensors; /* this layer's entries in model_spec.tensors */
    int line;          /* line of the description, for messages */
} layer_spec;

typedef struct {
    char name[64];
    int in_c, in_h, in_w;
    int n_layers;
    layer_spec layers[MODEL_MAX_LAYERS];
    int n_tensors;
    model_tensor tensors[MODEL_MAX_TENSORS]; /* state_dict order: layer by layer, params then buffers */
    long n_params;  /* floats in params */
    long n_buffers; /* floats in buffers */
    int n_classes;  /* width of the last layer */
} model_spec;

/* Parses a description held in text; `source` names it in messages. */
int model_spec_parse(model_spec *m, const char *text, const char *source, lr_error *err);
/* Loads a model by file path, or by name from the models/ directories in
 * search (a NULL-terminated list of directories). */
int model_spec_load(model_spec *m, const char *name_or_path, const char *const *search,
                    lr_error *err);

/* A layer kind's word in descriptions ("conv", "batchnorm"); "" if none. */
const char *model_layer_kind_name(layer_kind k);

/* The sizes of the trained tensors (not buffers) in params order, into
 * counts (room for n_tensors); returns how many. */
int model_param_sizes(const model_spec *m, long *counts);

/* PyTorch's default init: conv and linear weights and biases
 * ~ U(-1/sqrt(fan_in), +1/sqrt(fan_in)), BatchNorm weight 1 and bias 0; a
 * layer's init= option (kaiming_normal, dirac) for its weight, bias_init=zeros
 * for its bias. Drawn from the init stream of seed, tensor by tensor in order. */
void model_init_params(const model_spec *m, float *params, uint64_t seed);
/* Buffers as PyTorch creates them: running_mean 0, running_var 1,
 * num_batches_tracked 0. */
void model_init_buffers(const model_spec *m, float *buffers);

/* The whitening init of airbench94 (KellerJordan/cifar10-airbench,
 * init_whitening_conv): conv layer `layer`, k x k over C channels with
 * 2 * C * k * k outputs, gets as its first C*k*k filters the eigenvectors of
 * the covariance (X'X / N, not centred) of every k x k patch (stride 1, no
 * padding) of the n images x (normalised, NCHW, the layer's input shape),
 * largest eigenvalue first, each divided by sqrt(eigenvalue + eps), and as
 * the other half the same negated. Accumulated and decomposed in double
 * (lrlab/linalg.h; airbench's float32 can give an eigenvalue below -eps and
 * a NaN weight). The bias is left alone. An eigenvector's sign is
 * linalg_eigh's (PyTorch's LAPACK may choose the other: that swaps filter
 * i with filter C*k*k + i). Errors name the layer. */
int model_whiten_conv(const model_spec *m, float *params, const char *layer, const float *x, int n, double eps,
                      lr_error *err);

/* torchsummary-style table: layer, output shape, parameters, total. */
void model_print_summary(const model_spec *m, int batch, FILE *f);
/* A layer's PyTorch type ("Conv2d"), and its label: its name, or for an
 * unnamed layer its type and position ("ReLU-3"), as in the table. */
const char *model_layer_type(layer_kind k);
void model_layer_label(const model_spec *m, int i, char *buf, size_t cap);

/* The layer whose name or label is name (the layers above `before`), or
 * -1. */
int model_find_layer(const model_spec *m, const char *name, int before);

/* Multiply-adds of one image's forward pass (for GFLOP/s). */
double model_forward_macs(const model_spec *m);

#endif
