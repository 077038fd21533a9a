/* backend/net_ref.c: the reference executor: every layer through the
 * plain-C kernels of ref.c, activations in NCHW, one buffer per layer
 * output. Slow and obviously right; `--backend ref` and the tests use it. */
#include <stdlib.h>
#include <string.h>

#include "backend/net_impl.h"
#include "backend/ref.h"

struct net_ref {
    const model_spec *m; /* borrowed */
    int batch, count;
    const float *x;      /* borrowed from the last forward call */
    float *acts[MODEL_MAX_LAYERS]; /* output of each layer, batch x c*h*w */
    float *dbuf[2];                /* ping-pong gradient buffers */
    long max_act;
};

static long layer_size(const layer_spec *l) { return (long)l->c * l->h * l->w; }

int net_ref_init(net_ref **out, const model_spec *m, const net_config *cfg, lr_error *err) {
    net_ref *n = lr_calloc(1, sizeof *n, "reference net", err);
    if (!n) return -1;
    *out = n;
    n->m = m;
    n->batch = cfg->batch;
    n->max_act = (long)m->in_c * m->in_h * m->in_w;
    for (int i = 0; i < m->n_layers; i++) {
        long size = layer_size(&m->layers[i]);
        if (size > n->max_act) n->max_act = size;
        n->acts[i] = lr_calloc((size_t)cfg->batch, (size_t)size * sizeof(float), "activations", err);
        if (!n->acts[i]) return -1;
    }
    for (int k = 0; k < 2; k++) {
        n->dbuf[k] = lr_calloc((size_t)cfg->batch, (size_t)n->max_act * sizeof(float), "gradients", err);
        if (!n->dbuf[k]) return -1;
    }
    return 0;
}

void net_ref_free(net_ref *n) {
    if (!n) return;
    for (int i = 0; i < MODEL_MAX_LAYERS; i++) free(n->acts[i]);
    free(n->dbuf[0]);
    free(n->dbuf[1]);
    free(n);
}

int net_ref_forward(net_ref *n, const float *x, int count, const float *params, float *logits) {
    const model_spec *m = n->m;
    const float *in = x;
    int B = count;
    n->x = x;
    n->count = count;
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        float *out = n->acts[i];
        const float *w = params + l->param_offset;
        switch (l->kind) {
        case LAYER_CONV:
            ref_conv2d_forward(out, in, w, B, l->in_c, l->in_h, l->in_w, l->c, l->u.conv.k,
                               l->u.conv.stride, l->u.conv.pad);
            break;
        case LAYER_RELU: ref_relu_forward(out, in, B * layer_size(l)); break;
        case LAYER_MAXPOOL:
            ref_maxpool_forward(out, in, B, l->in_c, l->in_h, l->in_w, l->u.pool.k, l->u.pool.stride);
            break;
        case LAYER_FLATTEN: memcpy(out, in, (size_t)B * layer_size(l) * sizeof(float)); break;
        case LAYER_LINEAR: ref_linear_forward(out, in, w, B, l->in_c, l->c); break;
        }
        in = out;
    }
    memcpy(logits, in, (size_t)B * m->n_classes * sizeof(float));
    return 0;
}

int net_ref_backward(net_ref *n, const float *dlogits, const float *params, float *grads) {
    const model_spec *m = n->m;
    int B = n->count;
    ref_zero(grads, m->n_params);
    float *dout = n->dbuf[0];
    memcpy(dout, dlogits, (size_t)B * m->n_classes * sizeof(float));
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const layer_spec *l = &m->layers[i];
        const float *in = i ? n->acts[i - 1] : n->x;
        float *din = i ? (dout == n->dbuf[0] ? n->dbuf[1] : n->dbuf[0]) : NULL;
        long in_size = (long)B * l->in_c * l->in_h * l->in_w;
        if (din) ref_zero(din, in_size);
        const float *w = params + l->param_offset;
        float *dw = grads + l->param_offset;
        switch (l->kind) {
        case LAYER_CONV:
            ref_conv2d_backward(din, dw, dout, in, w, B, l->in_c, l->in_h, l->in_w, l->c,
                                l->u.conv.k, l->u.conv.stride, l->u.conv.pad);
            break;
        case LAYER_RELU:
            if (din) ref_relu_backward(din, dout, n->acts[i], in_size);
            break;
        case LAYER_MAXPOOL:
            if (din) ref_maxpool_backward(din, dout, in, B, l->in_c, l->in_h, l->in_w, l->u.pool.k, l->u.pool.stride);
            break;
        case LAYER_FLATTEN:
            if (din) memcpy(din, dout, (size_t)in_size * sizeof(float));
            break;
        case LAYER_LINEAR: ref_linear_backward(din, dw, dout, in, w, B, l->in_c, l->c); break;
        }
        dout = din;
    }
    return 0;
}
