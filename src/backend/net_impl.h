/* backend/net_impl.h: the two executors behind lrlab/net.h (internal). */
#ifndef LRLAB_BACKEND_NET_IMPL_H
#define LRLAB_BACKEND_NET_IMPL_H

#include "lrlab/net.h"

typedef struct net_ref net_ref;
int net_ref_init(net_ref **out, const model_spec *m, const net_config *cfg, lr_error *err);
void net_ref_free(net_ref *n);
/* times: each layer's seconds are added to times[i] (net_set_times), or NULL. */
int net_ref_forward(net_ref *n, const float *x, int count, const float *params, float *logits, double *times,
                    lr_error *err);
void net_ref_set_state(net_ref *n, float *buffers, int training, uint64_t seed, uint64_t step);
int net_ref_backward(net_ref *n, const float *dlogits, const float *params, float *grads, double *times,
                     lr_error *err);

/* One layer through the reference kernels, for both executors (the oneDNN
 * one runs the kinds it has no primitive for this way, on plain NCHW
 * copies). in1/din1: add's second input, else NULL; din (accumulated into,
 * += like the kernels) NULL for the model's input; parameter gradients
 * accumulate into grads; aux: ref_layer_aux_size floats of per-layer state
 * (dropout's mask, BatchNorm's saved mean and invstd). */
typedef struct {
    const model_spec *m;
    int B, training;
    uint64_t seed, step; /* dropout's stream */
    const float *params;
    float *buffers, *grads;
    int (*bn_sum)(double *v, int n); /* training BatchNorm over all ranks' shares (net_config), or NULL */
} ref_layer_ctx;
long ref_layer_aux_size(const layer_spec *l, int batch);
int ref_layer_forward(const ref_layer_ctx *c, int i, const float *in0, const float *in1, float *out, float *aux,
                      lr_error *err);
int ref_layer_backward(const ref_layer_ctx *c, int i, const float *in0, const float *out, const float *dout,
                       float *din, float *din1, const float *aux, lr_error *err);

typedef struct net_dnnl net_dnnl;
int net_dnnl_init(net_dnnl **out, const model_spec *m, const net_config *cfg, lr_error *err);
void net_dnnl_free(net_dnnl *n);
void net_dnnl_set_state(net_dnnl *n, float *buffers, int training, uint64_t seed, uint64_t step);
int net_dnnl_forward(net_dnnl *n, const float *x, int count, const float *params, float *logits, double *times,
                     lr_error *err);
int net_dnnl_backward(net_dnnl *n, const float *dlogits, const float *params, float *grads, double *times,
                      lr_error *err);
const char *net_dnnl_algo_choices(const net_dnnl *n);
void net_dnnl_describe(const net_dnnl *n, char *buf, size_t cap);
void net_dnnl_platform(char *buf, size_t cap);

#endif
