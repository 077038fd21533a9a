/* backend/net_ref.c: the reference executor: every layer of the graph
 * through the plain-C kernels of ref.c, activations in NCHW, one buffer per
 * layer output and one per output gradient (gradients of a layer read by
 * several accumulate). Slow and obviously right; `--backend ref` and the
 * tests use it. */
#include <stdlib.h>
#include <string.h>

#include "backend/net_impl.h"
#include "backend/ref.h"

struct net_ref {
    const model_spec *m; /* borrowed */
    int batch, count, training;
    uint64_t seed, step; /* dropout's stream */
    float *buffers;      /* the caller's running statistics */
    const float *x;      /* borrowed from the last forward call */
    float **acts, **dacts; /* per layer: output and its gradient, batch x c*h*w */
    float **aux;           /* per layer: dropout's noise, or batchnorm's saved mean and invstd */
};

static long layer_size(const layer_spec *l) { return (long)l->c * l->h * l->w; }

int net_ref_init(net_ref **out, const model_spec *m, const net_config *cfg, lr_error *err) {
    net_ref *n = lr_calloc(1, sizeof *n, "reference net", err);
    if (!n) return -1;
    *out = n;
    n->m = m;
    n->batch = cfg->batch;
    n->training = cfg->training;
    int L = m->n_layers;
    if (!(n->acts = lr_calloc(L, sizeof(float *), "activations", err)) ||
        !(n->dacts = lr_calloc(L, sizeof(float *), "gradients", err)) ||
        !(n->aux = lr_calloc(L, sizeof(float *), "layer state", err)))
        return -1;
    for (int i = 0; i < L; i++) {
        const layer_spec *l = &m->layers[i];
        long size = layer_size(l);
        long aux = l->kind == LAYER_DROPOUT ? (long)cfg->batch * size : l->kind == LAYER_BATCHNORM ? 2L * l->c : 0;
        if (!(n->acts[i] = lr_calloc((size_t)cfg->batch, (size_t)size * sizeof(float), "activations", err)) ||
            (cfg->training && !(n->dacts[i] = lr_calloc((size_t)cfg->batch, (size_t)size * sizeof(float), "gradients", err))) ||
            (aux && !(n->aux[i] = lr_calloc((size_t)aux, sizeof(float), "layer state", err))))
            return -1;
    }
    return 0;
}

void net_ref_free(net_ref *n) {
    if (!n) return;
    for (int i = 0; n->acts && i < n->m->n_layers; i++) {
        free(n->acts[i]);
        if (n->dacts) free(n->dacts[i]);
        if (n->aux) free(n->aux[i]);
    }
    free(n->acts), free(n->dacts), free(n->aux);
    free(n);
}

void net_ref_set_state(net_ref *n, float *buffers, int training, uint64_t seed, uint64_t step) {
    n->buffers = buffers, n->training = training, n->seed = seed, n->step = step;
}

static const float *input_of(const net_ref *n, const layer_spec *l, int k) {
    return l->in[k] == MODEL_INPUT ? n->x : n->acts[l->in[k]];
}

static ref_geom geom(const layer_spec *l, int B) {
    ref_geom g = {.B = B, .C = l->in_c, .H = l->in_h, .W = l->in_w, .OC = l->c, .OH = l->h, .OW = l->w};
    if (l->kind == LAYER_CONV) g.K = l->u.conv.k, g.S = l->u.conv.stride, g.P = l->u.conv.pad;
    if (l->kind == LAYER_MAXPOOL || l->kind == LAYER_AVGPOOL) g.K = l->u.pool.k, g.S = l->u.pool.stride, g.P = l->u.pool.pad;
    if (l->kind == LAYER_SHORTCUT) g.S = l->u.shortcut.stride;
    return g;
}

/* The layer's tensors: weight and bias (or NULL) in params, BatchNorm's buffers. */
static const float *tensor(const net_ref *n, const layer_spec *l, tensor_role role, const float *params) {
    for (int t = l->tensor0; t < l->tensor0 + l->n_tensors; t++) {
        const model_tensor *mt = &n->m->tensors[t];
        if (mt->role == role) return mt->buffer ? n->buffers + mt->offset : params + mt->offset;
    }
    return NULL;
}

static int layer_forward(net_ref *n, int i, const float *params, int B, lr_error *err) {
    const layer_spec *l = &n->m->layers[i];
    const float *in = input_of(n, l, 0);
    float *out = n->acts[i];
    long size = (long)B * layer_size(l);
    ref_geom g = geom(l, B);
    switch (l->kind) {
    case LAYER_CONV: ref_conv2d_forward(out, in, params + l->param_offset, tensor(n, l, TENSOR_BIAS, params), &g); break;
    case LAYER_LINEAR:
        ref_linear_forward(out, in, params + l->param_offset, tensor(n, l, TENSOR_BIAS, params), B, l->in_c, l->c);
        break;
    case LAYER_BATCHNORM: {
        if (!n->buffers) return lr_fail(err, "net_forward: the model has BatchNorm buffers: net_set_buffers first");
        float *rm = (float *)tensor(n, l, TENSOR_RUNNING_MEAN, params), *rv = (float *)tensor(n, l, TENSOR_RUNNING_VAR, params);
        float *nb = (float *)tensor(n, l, TENSOR_NUM_BATCHES, params);
        ref_batchnorm_forward(out, n->aux[i], n->aux[i] + l->c, in, tensor(n, l, TENSOR_WEIGHT, params),
                              tensor(n, l, TENSOR_BIAS, params), rm, rv, nb, n->training, l->u.bn.eps,
                              l->u.bn.momentum, B, l->c, l->h * l->w);
        break;
    }
    case LAYER_RELU: ref_relu_forward(out, in, size); break;
    case LAYER_GELU: ref_gelu_forward(out, in, size); break;
    case LAYER_MAXPOOL: ref_maxpool_forward(out, in, &g); break;
    case LAYER_AVGPOOL: ref_avgpool_forward(out, in, &g); break;
    case LAYER_GLOBAL_AVGPOOL: ref_global_avgpool_forward(out, in, B, l->c, l->in_h * l->in_w); break;
    case LAYER_FLATTEN: memcpy(out, in, (size_t)size * sizeof(float)); break;
    case LAYER_ADD: ref_add_forward(out, in, input_of(n, l, 1), size); break;
    case LAYER_SCALE: ref_scale_forward(out, in, (float)l->u.scale.c, size); break;
    case LAYER_SHORTCUT: ref_shortcut_forward(out, in, &g); break;
    case LAYER_DROPOUT:
        if (n->training) ref_dropout_forward(out, n->aux[i], in, l->u.dropout.p, n->seed, n->step * MODEL_MAX_LAYERS + (uint64_t)i, size);
        else memcpy(out, in, (size_t)size * sizeof(float));
        break;
    }
    return 0;
}

int net_ref_forward(net_ref *n, const float *x, int count, const float *params, float *logits, lr_error *err) {
    const model_spec *m = n->m;
    n->x = x;
    n->count = count;
    for (int i = 0; i < m->n_layers; i++)
        if (layer_forward(n, i, params, count, err)) return -1;
    memcpy(logits, n->acts[m->n_layers - 1], (size_t)count * m->n_classes * sizeof(float));
    return 0;
}

/* The gradient buffer of layer i's input k, or NULL for the model's input. */
static float *dinput_of(net_ref *n, const layer_spec *l, int k) {
    return l->in[k] == MODEL_INPUT ? NULL : n->dacts[l->in[k]];
}

static void layer_backward(net_ref *n, int i, const float *params, float *grads, int B) {
    const layer_spec *l = &n->m->layers[i];
    const float *in = input_of(n, l, 0), *dout = n->dacts[i];
    float *din = dinput_of(n, l, 0);
    long size = (long)B * layer_size(l);
    ref_geom g = geom(l, B);
    float *dw = grads + l->param_offset;
    float *db = l->n_tensors > 1 && n->m->tensors[l->tensor0 + 1].role == TENSOR_BIAS
                    ? grads + n->m->tensors[l->tensor0 + 1].offset : NULL;
    switch (l->kind) {
    case LAYER_CONV: ref_conv2d_backward(din, dw, db, dout, in, params + l->param_offset, &g); break;
    case LAYER_LINEAR: ref_linear_backward(din, dw, db, dout, in, params + l->param_offset, B, l->in_c, l->c); break;
    case LAYER_BATCHNORM:
        ref_batchnorm_backward(din, l->param_count ? dw : NULL, db, dout, in, tensor(n, l, TENSOR_WEIGHT, params),
                               n->aux[i], n->aux[i] + l->c, n->training, B, l->c, l->h * l->w);
        break;
    case LAYER_RELU: if (din) ref_relu_backward(din, dout, n->acts[i], size); break;
    case LAYER_GELU: if (din) ref_gelu_backward(din, dout, in, size); break;
    case LAYER_MAXPOOL: if (din) ref_maxpool_backward(din, dout, in, &g); break;
    case LAYER_AVGPOOL: if (din) ref_avgpool_backward(din, dout, &g); break;
    case LAYER_GLOBAL_AVGPOOL: if (din) ref_global_avgpool_backward(din, dout, B, l->c, l->in_h * l->in_w); break;
    case LAYER_FLATTEN: if (din) ref_accumulate(din, dout, size); break;
    case LAYER_ADD:
        if (din) ref_accumulate(din, dout, size);
        if (dinput_of(n, l, 1)) ref_accumulate(dinput_of(n, l, 1), dout, size);
        break;
    case LAYER_SCALE: if (din) ref_scale_backward(din, dout, (float)l->u.scale.c, size); break;
    case LAYER_SHORTCUT: if (din) ref_shortcut_backward(din, dout, &g); break;
    case LAYER_DROPOUT:
        if (din && n->training) ref_dropout_backward(din, dout, n->aux[i], size);
        else if (din) ref_accumulate(din, dout, size);
        break;
    }
}

int net_ref_backward(net_ref *n, const float *dlogits, const float *params, float *grads) {
    const model_spec *m = n->m;
    int B = n->count;
    ref_zero(grads, m->n_params);
    for (int i = 0; i < m->n_layers; i++) ref_zero(n->dacts[i], (long)B * layer_size(&m->layers[i]));
    memcpy(n->dacts[m->n_layers - 1], dlogits, (size_t)B * m->n_classes * sizeof(float));
    for (int i = m->n_layers - 1; i >= 0; i--) layer_backward(n, i, params, grads, B);
    return 0;
}
