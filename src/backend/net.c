/* backend/net.c: lrlab/net.h's dispatch to the oneDNN or reference executor. */
#include "lrlab/net.h"

#include <stdio.h>
#include <stdlib.h>

#include "backend/net_impl.h"

struct net {
    net_backend backend;
    int batch, n_classes;
    float *buffers;
    int training;
    uint64_t seed, step;
    net_ref *ref;
    net_dnnl *dnnl;
    net_times *times; /* --profile's, or NULL */
};

int net_init(net **out, const model_spec *m, const net_config *cfg, lr_error *err) {
    *out = NULL;
    if (cfg->batch < 1) return lr_fail(err, "--batch %d: expected >= 1", cfg->batch);
    net *n = lr_calloc(1, sizeof *n, "net", err);
    if (!n) return -1;
    n->backend = cfg->backend;
    n->batch = cfg->batch;
    n->n_classes = m->n_classes;
    n->training = cfg->training;
    int rc = cfg->backend == NET_BACKEND_REF ? net_ref_init(&n->ref, m, cfg, err)
                                             : net_dnnl_init(&n->dnnl, m, cfg, err);
    if (rc) {
        net_free(n);
        return -1;
    }
    *out = n;
    return 0;
}

void net_free(net *n) {
    if (!n) return;
    net_ref_free(n->ref);
    net_dnnl_free(n->dnnl);
    free(n);
}

int net_forward(net *n, const float *x, int count, const float *params, float *logits,
                lr_error *err) {
    if (count < 1 || count > n->batch)
        return lr_fail(err, "net_forward: %d images, expected 1..%d", count, n->batch);
    if (n->ref) {
        net_ref_set_state(n->ref, n->buffers, n->training, n->seed, n->step);
        return net_ref_forward(n->ref, x, count, params, logits, n->times ? n->times->fwd : NULL, err);
    }
    net_dnnl_set_state(n->dnnl, n->buffers, n->training, n->seed, n->step);
    return net_dnnl_forward(n->dnnl, x, count, params, logits, n->times ? n->times->fwd : NULL, err);
}

int net_backward(net *n, const float *dlogits, const float *params, float *grads, lr_error *err) {
    double *times = n->times ? n->times->bwd : NULL;
    if (n->ref) return net_ref_backward(n->ref, dlogits, params, grads, times, err);
    return net_dnnl_backward(n->dnnl, dlogits, params, grads, times, err);
}

void net_set_buffers(net *n, float *buffers) { n->buffers = buffers; }
void net_set_training(net *n, int training) { n->training = training; }
void net_set_step(net *n, uint64_t seed, uint64_t step) { n->seed = seed, n->step = step; }
void net_set_times(net *n, net_times *t) { n->times = t; }

const char *net_algo_choices(const net *n) { return n->dnnl ? net_dnnl_algo_choices(n->dnnl) : ""; }

void net_platform(char *buf, size_t cap) { net_dnnl_platform(buf, cap); }

void net_describe(const net *n, char *buf, size_t cap) {
    if (n->dnnl) net_dnnl_describe(n->dnnl, buf, cap);
    else snprintf(buf, cap, "backend ref: plain-C NCHW reference kernels\n");
}
