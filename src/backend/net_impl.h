/* backend/net_impl.h: the two executors behind lrlab/net.h (internal). */
#ifndef LRLAB_BACKEND_NET_IMPL_H
#define LRLAB_BACKEND_NET_IMPL_H

#include "lrlab/net.h"

typedef struct net_ref net_ref;
int net_ref_init(net_ref **out, const model_spec *m, const net_config *cfg, lr_error *err);
void net_ref_free(net_ref *n);
int net_ref_forward(net_ref *n, const float *x, int count, const float *params, float *logits, lr_error *err);
void net_ref_set_state(net_ref *n, float *buffers, int training, uint64_t seed, uint64_t step);
int net_ref_backward(net_ref *n, const float *dlogits, const float *params, float *grads);

typedef struct net_dnnl net_dnnl;
int net_dnnl_init(net_dnnl **out, const model_spec *m, const net_config *cfg, lr_error *err);
void net_dnnl_free(net_dnnl *n);
int net_dnnl_forward(net_dnnl *n, const float *x, int count, const float *params, float *logits,
                     lr_error *err);
int net_dnnl_backward(net_dnnl *n, const float *dlogits, const float *params, float *grads,
                      lr_error *err);
const char *net_dnnl_algo_choices(const net_dnnl *n);
void net_dnnl_describe(const net_dnnl *n, char *buf, size_t cap);
void net_dnnl_platform(char *buf, size_t cap);

#endif
