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
    int (*bn_sum)(double *v, int n); /* net_config's */
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
    n->bn_sum = cfg->bn_sum;
    int L = m->n_layers;
    if (!(n->acts = lr_calloc(L, sizeof(float *), "activations", err)) ||
        !(n->dacts = lr_calloc(L, sizeof(float *), "gradients", err)) ||
        !(n->aux = lr_calloc(L, sizeof(float *), "layer state", err)))
        return -1;
    for (int i = 0; i < L; i++) {
        const layer_spec *l = &m->layers[i];
        long size = layer_size(l);
        long aux = ref_layer_aux_size(l, cfg->batch);
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

/* The layer's tensors: weight and bias (or NULL) in params (or grads), BatchNorm's buffers. */
static float *tensor(const ref_layer_ctx *c, const layer_spec *l, tensor_role role, const float *params) {
    for (int t = l->tensor0; t < l->tensor0 + l->n_tensors; t++) {
        const model_tensor *mt = &c->m->tensors[t];
        /* the cast: params is the caller's const array, grads its writable twin */
        if (mt->role == role) return mt->buffer ? c->buffers + mt->offset : (float *)params + mt->offset;
    }
    return NULL;
}

/* The BatchNorm layer's factor for this step (model_bn_factor: momentum=None
 * takes 1 / num_batches_tracked after its increment). */
static double bn_factor(const ref_layer_ctx *c, const layer_spec *l, const float *params) {
    const float *nb = tensor(c, l, TENSOR_NUM_BATCHES, params);
    return model_bn_factor(&l->u.bn, nb ? *nb + 1.0 : 1.0);
}

long ref_layer_aux_size(const layer_spec *l, int batch) {
    return l->kind == LAYER_DROPOUT ? (long)batch * l->c * l->h * l->w : l->kind == LAYER_BATCHNORM ? 2L * l->c : 0;
}

int ref_layer_forward(const ref_layer_ctx *c, int i, const float *in0, const float *in1, float *out, float *aux,
                      lr_error *err) {
    const layer_spec *l = &c->m->layers[i];
    const float *params = c->params;
    int B = c->B;
    long size = (long)B * layer_size(l);
    ref_geom g = geom(l, B);
    switch (l->kind) {
    case LAYER_CONV: ref_conv2d_forward(out, in0, params + l->param_offset, tensor(c, l, TENSOR_BIAS, params), &g); break;
    case LAYER_LINEAR:
        ref_linear_forward(out, in0, params + l->param_offset, tensor(c, l, TENSOR_BIAS, params), B, l->in_c, l->c);
        break;
    case LAYER_BATCHNORM:
        if (!c->buffers) return lr_fail(err, "net_forward: the model has BatchNorm buffers: net_set_buffers first");
        if (c->training && c->bn_sum) {
            if (ref_batchnorm_forward_sync(out, aux, aux + l->c, in0, tensor(c, l, TENSOR_WEIGHT, params),
                                           tensor(c, l, TENSOR_BIAS, params), tensor(c, l, TENSOR_RUNNING_MEAN, params),
                                           tensor(c, l, TENSOR_RUNNING_VAR, params),
                                           tensor(c, l, TENSOR_NUM_BATCHES, params), l->u.bn.eps, bn_factor(c, l, params), B,
                                           l->c, l->h * l->w, c->bn_sum))
                return lr_fail(err, "layer %d (BatchNorm, --sync-bn): summing its statistics over the ranks failed", i);
            break;
        }
        ref_batchnorm_forward(out, aux, aux + l->c, in0, tensor(c, l, TENSOR_WEIGHT, params),
                              tensor(c, l, TENSOR_BIAS, params), tensor(c, l, TENSOR_RUNNING_MEAN, params),
                              tensor(c, l, TENSOR_RUNNING_VAR, params), tensor(c, l, TENSOR_NUM_BATCHES, params),
                              c->training, l->u.bn.eps, bn_factor(c, l, params), B, l->c, l->h * l->w);
        break;
    case LAYER_RELU: ref_relu_forward(out, in0, size); break;
    case LAYER_GELU: ref_gelu_forward(out, in0, size); break;
    case LAYER_MAXPOOL: ref_maxpool_forward(out, in0, &g); break;
    case LAYER_AVGPOOL: ref_avgpool_forward(out, in0, &g); break;
    case LAYER_GLOBAL_AVGPOOL: ref_global_avgpool_forward(out, in0, B, l->c, l->in_h * l->in_w); break;
    case LAYER_FLATTEN: memcpy(out, in0, (size_t)size * sizeof(float)); break;
    case LAYER_ADD: ref_add_forward(out, in0, in1, size); break;
    case LAYER_SCALE: ref_scale_forward(out, in0, (float)l->u.scale.c, size); break;
    case LAYER_SHORTCUT: ref_shortcut_forward(out, in0, &g); break;
    case LAYER_DROPOUT:
        if (c->training) ref_dropout_forward(out, aux, in0, l->u.dropout.p, c->seed, c->step * MODEL_MAX_LAYERS + (uint64_t)i, size);
        else memcpy(out, in0, (size_t)size * sizeof(float));
        break;
    }
    return 0;
}

int net_ref_forward(net_ref *n, const float *x, int count, const float *params, float *logits, double *times,
                    lr_error *err) {
    const model_spec *m = n->m;
    n->x = x;
    n->count = count;
    ref_layer_ctx c = {.m = m, .B = count, .training = n->training, .seed = n->seed, .step = n->step,
                       .params = params, .buffers = n->buffers, .bn_sum = n->bn_sum};
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        double t0 = times ? lr_now() : 0;
        if (ref_layer_forward(&c, i, input_of(n, l, 0), l->n_in > 1 ? input_of(n, l, 1) : NULL, n->acts[i],
                              n->aux[i], err))
            return -1;
        if (times) times[i] += lr_now() - t0;
    }
    memcpy(logits, n->acts[m->n_layers - 1], (size_t)count * m->n_classes * sizeof(float));
    return 0;
}

/* The gradient buffer of layer i's input k, or NULL for the model's input. */
static float *dinput_of(net_ref *n, const layer_spec *l, int k) {
    return l->in[k] == MODEL_INPUT ? NULL : n->dacts[l->in[k]];
}

int ref_layer_backward(const ref_layer_ctx *c, int i, const float *in0, const float *out, const float *dout,
                       float *din, float *din1, const float *aux, lr_error *err) {
    const layer_spec *l = &c->m->layers[i];
    const float *params = c->params;
    int B = c->B;
    long size = (long)B * layer_size(l);
    ref_geom g = geom(l, B);
    float *dw = c->grads + l->param_offset;
    float *db = tensor(c, l, TENSOR_BIAS, c->grads);
    switch (l->kind) {
    case LAYER_CONV: ref_conv2d_backward(din, dw, db, dout, in0, params + l->param_offset, &g); break;
    case LAYER_LINEAR: ref_linear_backward(din, dw, db, dout, in0, params + l->param_offset, B, l->in_c, l->c); break;
    case LAYER_BATCHNORM:
        if (c->training && c->bn_sum) {
            if (ref_batchnorm_backward_sync(din, l->param_count ? dw : NULL, db, dout, in0,
                                            tensor(c, l, TENSOR_WEIGHT, params), aux, aux + l->c, B, l->c,
                                            l->h * l->w, c->bn_sum))
                return lr_fail(err, "layer %d (BatchNorm, --sync-bn): summing its gradients over the ranks failed", i);
            break;
        }
        ref_batchnorm_backward(din, l->param_count ? dw : NULL, db, dout, in0, tensor(c, l, TENSOR_WEIGHT, params),
                               aux, aux + l->c, c->training, B, l->c, l->h * l->w);
        break;
    case LAYER_RELU: if (din) ref_relu_backward(din, dout, out, size); break;
    case LAYER_GELU: if (din) ref_gelu_backward(din, dout, in0, size); break;
    case LAYER_MAXPOOL: if (din) ref_maxpool_backward(din, dout, in0, &g); break;
    case LAYER_AVGPOOL: if (din) ref_avgpool_backward(din, dout, &g); break;
    case LAYER_GLOBAL_AVGPOOL: if (din) ref_global_avgpool_backward(din, dout, B, l->c, l->in_h * l->in_w); break;
    case LAYER_FLATTEN: if (din) ref_accumulate(din, dout, size); break;
    case LAYER_ADD:
        if (din) ref_accumulate(din, dout, size);
        if (din1) ref_accumulate(din1, dout, size);
        break;
    case LAYER_SCALE: if (din) ref_scale_backward(din, dout, (float)l->u.scale.c, size); break;
    case LAYER_SHORTCUT: if (din) ref_shortcut_backward(din, dout, &g); break;
    case LAYER_DROPOUT:
        if (din && c->training) ref_dropout_backward(din, dout, aux, size);
        else if (din) ref_accumulate(din, dout, size);
        break;
    }
    return 0;
}

int net_ref_backward(net_ref *n, const float *dlogits, const float *params, float *grads, double *times,
                     lr_error *err) {
    const model_spec *m = n->m;
    int B = n->count;
    ref_zero(grads, m->n_params);
    for (int i = 0; i < m->n_layers; i++) ref_zero(n->dacts[i], (long)B * layer_size(&m->layers[i]));
    memcpy(n->dacts[m->n_layers - 1], dlogits, (size_t)B * m->n_classes * sizeof(float));
    ref_layer_ctx c = {.m = m, .B = B, .training = n->training, .params = params, .buffers = n->buffers, .grads = grads,
                       .bn_sum = n->bn_sum};
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const layer_spec *l = &m->layers[i];
        double t0 = times ? lr_now() : 0;
        if (ref_layer_backward(&c, i, input_of(n, l, 0), n->acts[i], n->dacts[i], dinput_of(n, l, 0),
                               l->n_in > 1 ? dinput_of(n, l, 1) : NULL, n->aux[i], err))
            return -1;
        if (times) times[i] += lr_now() - t0;
    }
    return 0;
}
