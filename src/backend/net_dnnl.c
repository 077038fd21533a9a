/* backend/net_dnnl.c: the oneDNN 2.6 executor behind lrlab/net.h.
 *
 * At init every layer becomes one or more primitives, built once, with the
 * activations in the layouts oneDNN picks (nChw16c on AVX-512) handed from
 * layer to layer without reorders. ReLU is fused into the convolution or
 * linear layer before it as a post-op; its backward runs on the stored
 * output (relu_use_dst_for_bwd). The flat PyTorch-layout weights are
 * reordered once per call into each primitive's layout, and weight
 * gradients reordered back into the flat gradient array. For each
 * convolution and pass (forward, backward-data, backward-weights) the
 * algorithm is direct or Winograd, chosen by timing both at init (cuDNN's
 * benchmark mode) unless forced. Two ping-pong buffers hold the gradients
 * flowing backward. Not here: loss, optimiser, data. */
#define _POSIX_C_SOURCE 200809L
#include <dnnl.h>
#include <dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/net_impl.h"

#define MAX_OBJECTS 512
#define MAX_OPS 256

typedef struct {
    dnnl_primitive_t prim; /* borrowed from net_dnnl.prims */
    int nargs;
    dnnl_exec_arg_t args[8];
} op;

/* A stage's backward ops, kept per stage and run in reverse stage order. */
typedef struct {
    op ops[8];
    int n;
} stage_ops;

/* Per convolution: the algorithm of each pass and its measured time. */
typedef struct {
    char name[MODEL_NAME_LEN];
    char algo[CONV_PASSES];      /* 'd' direct, 'w' winograd, 'D' bf16 direct, '-' no such pass */
    double ms[CONV_PASSES][2];   /* timings of direct, winograd (0: not timed) */
    int bf16;                    /* this layer computes in bf16 */
    double layer_ms[2];          /* --precision bf16 auto: whole layer, fp32 best vs bf16 direct */
} conv_choice;

struct net_dnnl {
    const model_spec *m; /* borrowed */
    int batch, training;
    int count; /* images in the last forward call */
    dnnl_data_type_t conv_dt;
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    op fwd[MAX_OPS], bwd[MAX_OPS];
    int n_fwd, n_bwd;
    stage_ops stages[MAX_OPS];
    int n_stages;
    dnnl_primitive_t prims[MAX_OBJECTS];
    dnnl_memory_t prim_scratch[MAX_OBJECTS]; /* each primitive's scratchpad view, or NULL */
    int n_prims;
    /* one scratchpad buffer shared by every primitive (they run one at a time) */
    dnnl_primitive_attr_t attr;
    void *scratch;
    size_t scratch_size;
    dnnl_primitive_desc_t pds[MAX_OBJECTS];
    int n_pds;
    dnnl_memory_t mems[MAX_OBJECTS];
    int n_mems;
    void *bufs[MAX_OBJECTS];
    int n_bufs;
    /* the caller's arrays, attached on every call */
    dnnl_memory_t user_w[MODEL_MAX_LAYERS], user_dw[MODEL_MAX_LAYERS];
    dnnl_memory_t user_x;
    float *xbuf;
    dnnl_memory_t logits;   /* plain (batch, classes) f32 */
    dnnl_memory_t dlogits;
    /* ping-pong gradient buffers: memories created without a handle, attached at the end */
    dnnl_memory_t pp_mems[MAX_OBJECTS];
    int pp_which[MAX_OBJECTS], n_pp;
    size_t pp_size[2]; /* each buffer holds every other layer's gradient: sized apart */
    void *pp[2];
    /* building state: the current activation and its gradient */
    dnnl_memory_desc_t cur_md;
    dnnl_memory_t cur, dcur;
    int parity;
    /* algorithm choice */
    conv_algo algo;
    const char *forced; /* a recorded choice string, or NULL */
    conv_choice convs[MODEL_MAX_LAYERS];
    int n_convs;
    char choices[256];
};

#define CHECK_DNNL(call, what)                                                               \
    do {                                                                                     \
        dnnl_status_t st_ = (call);                                                          \
        if (st_ != dnnl_success)                                                             \
            return lr_fail(err, "oneDNN: %s failed: %s", (what), dnnl_status2str(st_));      \
    } while (0)

/* ---- object bookkeeping: everything created is freed by net_dnnl_free ---- */

static int new_mem_unbound(net_dnnl *n, dnnl_memory_t *out, const dnnl_memory_desc_t *md,
                           lr_error *err);

/* Keeps p, and a view of the shared scratchpad when its pd needs one. */
static int keep_prim(net_dnnl *n, dnnl_primitive_t p, const_dnnl_primitive_desc_t pd, lr_error *err) {
    if (n->n_prims == MAX_OBJECTS) {
        dnnl_primitive_destroy(p);
        return lr_fail(err, "model too large: more than %d oneDNN primitives", MAX_OBJECTS);
    }
    n->prim_scratch[n->n_prims] = NULL;
    n->prims[n->n_prims++] = p;
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t size = md ? dnnl_memory_desc_get_size(md) : 0;
    if (!size) return 0;
    if (size > n->scratch_size) n->scratch_size = size;
    return new_mem_unbound(n, &n->prim_scratch[n->n_prims - 1], md, err);
}

static int keep_pd(net_dnnl *n, dnnl_primitive_desc_t pd, lr_error *err) {
    if (n->n_pds == MAX_OBJECTS) {
        dnnl_primitive_desc_destroy(pd);
        return lr_fail(err, "model too large: more than %d oneDNN descriptors", MAX_OBJECTS);
    }
    n->pds[n->n_pds++] = pd;
    return 0;
}

/* A memory over a buffer we own (64-byte aligned, zeroed). */
static int new_mem(net_dnnl *n, dnnl_memory_t *out, const dnnl_memory_desc_t *md, lr_error *err) {
    if (n->n_mems == MAX_OBJECTS || n->n_bufs == MAX_OBJECTS)
        return lr_fail(err, "model too large: more than %d oneDNN memories", MAX_OBJECTS);
    size_t size = dnnl_memory_desc_get_size(md);
    size_t rounded = (size + 63) / 64 * 64;
    void *buf = aligned_alloc(64, rounded ? rounded : 64);
    if (!buf) return lr_fail(err, "out of memory (%zu bytes for activations)", size);
    memset(buf, 0, rounded ? rounded : 64);
    n->bufs[n->n_bufs++] = buf;
    CHECK_DNNL(dnnl_memory_create(out, md, n->eng, buf), "memory_create");
    n->mems[n->n_mems++] = *out;
    return 0;
}

/* A memory whose buffer is attached later (caller arrays, ping-pong). */
static int new_mem_unbound(net_dnnl *n, dnnl_memory_t *out, const dnnl_memory_desc_t *md,
                           lr_error *err) {
    if (n->n_mems == MAX_OBJECTS) return lr_fail(err, "model too large: too many memories");
    CHECK_DNNL(dnnl_memory_create(out, md, n->eng, DNNL_MEMORY_NONE), "memory_create");
    n->mems[n->n_mems++] = *out;
    return 0;
}

/* The gradient of an activation with descriptor md lives in ping-pong buffer `which`. */
static int new_grad_mem(net_dnnl *n, dnnl_memory_t *out, const dnnl_memory_desc_t *md, int which,
                        lr_error *err) {
    if (new_mem_unbound(n, out, md, err)) return -1;
    size_t size = dnnl_memory_desc_get_size(md);
    if (size > n->pp_size[which]) n->pp_size[which] = size;
    n->pp_mems[n->n_pp] = *out;
    n->pp_which[n->n_pp++] = which;
    return 0;
}

static int add_op(net_dnnl *n, op *ops, int *count, int cap, dnnl_primitive_t p, int nargs,
                  const int *kinds, const dnnl_memory_t *mems, lr_error *err) {
    if (*count == cap) return lr_fail(err, "model too large: more than %d operations", cap);
    op *o = &ops[(*count)++];
    o->prim = p;
    o->nargs = nargs;
    for (int i = 0; i < nargs; i++) o->args[i] = (dnnl_exec_arg_t){kinds[i], mems[i]};
    for (int i = 0; i < n->n_prims; i++)
        if (n->prims[i] == p && n->prim_scratch[i])
            o->args[o->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, n->prim_scratch[i]};
    return 0;
}

#define ARGS(...) (const int[]){__VA_ARGS__}
#define MEMS(...) (const dnnl_memory_t[]){__VA_ARGS__}
#define NARGS(...) (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

static int fwd_op(net_dnnl *n, dnnl_primitive_t p, int nargs, const int *kinds,
                  const dnnl_memory_t *mems, lr_error *err) {
    return add_op(n, n->fwd, &n->n_fwd, MAX_OPS, p, nargs, kinds, mems, err);
}

static int bwd_op(net_dnnl *n, dnnl_primitive_t p, int nargs, const int *kinds,
                  const dnnl_memory_t *mems, lr_error *err) {
    stage_ops *s = &n->stages[n->n_stages];
    return add_op(n, s->ops, &s->n, 8, p, nargs, kinds, mems, err);
}

static int make_prim(net_dnnl *n, dnnl_primitive_t *p, const_dnnl_primitive_desc_t pd, lr_error *err) {
    CHECK_DNNL(dnnl_primitive_create(p, pd), "primitive_create");
    return keep_prim(n, *p, pd, err);
}

/* A reorder primitive from src to dst (same logical tensor, other layout or type). */
static int make_reorder(net_dnnl *n, dnnl_primitive_t *p, dnnl_memory_t src, dnnl_memory_t dst,
                        lr_error *err) {
    const dnnl_memory_desc_t *smd, *dmd;
    CHECK_DNNL(dnnl_memory_get_memory_desc(src, &smd), "memory_get_memory_desc");
    CHECK_DNNL(dnnl_memory_get_memory_desc(dst, &dmd), "memory_get_memory_desc");
    dnnl_primitive_desc_t pd;
    CHECK_DNNL(dnnl_reorder_primitive_desc_create(&pd, smd, n->eng, dmd, n->eng, n->attr),
               "reorder_primitive_desc_create");
    if (keep_pd(n, pd, err)) return -1;
    return make_prim(n, p, pd, err);
}

static const dnnl_memory_desc_t *pd_md(const_dnnl_primitive_desc_t pd, int arg) {
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

/* Makes the current activation available in descriptor `want`: a reorder
 * forward and the reverse reorder of its gradient backward, when the layouts
 * differ. Returns the memories to use as the layer's src and diff_src. */
static int adapt_input(net_dnnl *n, const dnnl_memory_desc_t *want, dnnl_memory_t *src,
                       dnnl_memory_t *dsrc, lr_error *err) {
    *src = n->cur;
    *dsrc = n->dcur;
    if (dnnl_memory_desc_equal(want, &n->cur_md)) return 0;
    dnnl_primitive_t r;
    if (new_mem(n, src, want, err) || make_reorder(n, &r, n->cur, *src, err) ||
        fwd_op(n, r, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(n->cur, *src), err))
        return -1;
    if (!n->dcur) {
        *dsrc = NULL;
        return 0;
    }
    /* backward: the layer writes *dsrc in `want`; bring it back into dcur.
     * Added by the caller after its own backward ops (see finish_adapt). */
    return new_mem(n, dsrc, want, err);
}

/* dorig: the input's own gradient memory, as it was before the layer pushed its output. */
static int finish_adapt(net_dnnl *n, dnnl_memory_t dsrc, dnnl_memory_t dorig, lr_error *err) {
    if (!dsrc || dsrc == dorig) return 0;
    dnnl_primitive_t r;
    return make_reorder(n, &r, dsrc, dorig, err) ||
                   bwd_op(n, r, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(dsrc, dorig), err)
               ? -1
               : 0;
}

/* A new activation with descriptor md becomes the current one (with its gradient). */
static int push_activation(net_dnnl *n, const dnnl_memory_desc_t *md, dnnl_memory_t *act,
                           dnnl_memory_t *dact, lr_error *err) {
    if (new_mem(n, act, md, err)) return -1;
    *dact = NULL;
    if (n->training) {
        n->parity ^= 1;
        if (new_grad_mem(n, dact, md, n->parity, err)) return -1;
    }
    n->cur_md = *md;
    n->cur = *act;
    n->dcur = *dact;
    return 0;
}

static int post_op_relu(dnnl_primitive_attr_t *attr, lr_error *err) {
    dnnl_post_ops_t po;
    CHECK_DNNL(dnnl_primitive_attr_create(attr), "primitive_attr_create");
    CHECK_DNNL(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode");
    CHECK_DNNL(dnnl_post_ops_create(&po), "post_ops_create");
    dnnl_status_t st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(*attr, po);
    dnnl_post_ops_destroy(po);
    CHECK_DNNL(st, "post_ops_append_eltwise(relu)");
    return 0;
}

/* ReLU backward on the stored output; dsrc may be dact (in place). */
static int relu_backward(net_dnnl *n, dnnl_memory_t act, dnnl_memory_t dact, dnnl_memory_t dsrc,
                         const dnnl_memory_desc_t *md, lr_error *err) {
    dnnl_eltwise_desc_t fd, bd;
    dnnl_primitive_desc_t hint, pd;
    dnnl_primitive_t p;
    CHECK_DNNL(dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training,
                                              dnnl_eltwise_relu_use_dst_for_bwd, md, 0.0f, 0.0f),
               "eltwise_forward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&hint, &fd, NULL, n->eng, NULL), "eltwise fwd pd");
    if (keep_pd(n, hint, err)) return -1;
    CHECK_DNNL(dnnl_eltwise_backward_desc_init(&bd, dnnl_eltwise_relu_use_dst_for_bwd, md, md,
                                               0.0f, 0.0f),
               "eltwise_backward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&pd, &bd, n->attr, n->eng, hint), "eltwise bwd pd");
    if (keep_pd(n, pd, err) || make_prim(n, &p, pd, err)) return -1;
    return bwd_op(n, p, 3, ARGS(DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC),
                  MEMS(act, dact, dsrc), err);
}

/* ---- algorithm choice ---- */

/* Times the primitives of count descriptors on scratch memories: after a
 * warm-up, each runs once per round, in turn, for TIMING_ROUNDS rounds, and
 * keeps its best time (ms; 1e30 when it cannot run). Interleaving makes
 * the comparison fair when the machine's load changes while we measure. */
#define TIMING_ROUNDS 5
static void time_pds(net_dnnl *n, const_dnnl_primitive_desc_t *pds, int count, double *ms) {
    static const int kinds[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_DIFF_SRC,
                                DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST, DNNL_ARG_WORKSPACE,
                                DNNL_ARG_SCRATCHPAD};
    enum { K = sizeof kinds / sizeof kinds[0], MAX_CAND = 4 };
    dnnl_exec_arg_t args[MAX_CAND][K];
    int nargs[MAX_CAND] = {0};
    dnnl_primitive_t p[MAX_CAND] = {NULL};
    for (int c = 0; c < count && c < MAX_CAND; c++) {
        ms[c] = 1e30;
        if (!pds[c] || dnnl_primitive_create(&p[c], pds[c]) != dnnl_success) {
            p[c] = NULL;
            continue;
        }
        for (int i = 0; i < K; i++) {
            const dnnl_memory_desc_t *md = pd_md(pds[c], kinds[i]);
            dnnl_memory_t mem;
            if (!md || md->ndims == 0 || dnnl_memory_create(&mem, md, n->eng, DNNL_MEMORY_ALLOCATE) != dnnl_success)
                continue;
            void *h = NULL;
            dnnl_memory_get_data_handle(mem, &h);
            if (h) memset(h, 0x3c, dnnl_memory_desc_get_size(md)); /* small finite values */
            args[c][nargs[c]++] = (dnnl_exec_arg_t){kinds[i], mem};
        }
    }
    for (int round = 0; round <= TIMING_ROUNDS; round++)
        for (int c = 0; c < count && c < MAX_CAND; c++) {
            if (!p[c]) continue;
            double t0 = lr_now();
            if (dnnl_primitive_execute(p[c], n->stream, nargs[c], args[c]) != dnnl_success ||
                dnnl_stream_wait(n->stream) != dnnl_success) {
                dnnl_primitive_destroy(p[c]);
                p[c] = NULL;
                ms[c] = 1e30;
                continue;
            }
            double t = (lr_now() - t0) * 1e3;
            if (round > 0 && t < ms[c]) ms[c] = t; /* round 0 warms up */
        }
    for (int c = 0; c < count && c < MAX_CAND; c++) {
        for (int i = 0; i < nargs[c]; i++) dnnl_memory_destroy(args[c][i].memory);
        if (p[c]) dnnl_primitive_destroy(p[c]);
    }
}

/* Builds one pass's primitive descriptor with the chosen algorithm. make()
 * creates the pd for an algorithm (or fails). Records the choice. */
typedef dnnl_status_t (*make_pd_fn)(net_dnnl *n, dnnl_alg_kind_t alg, void *ctx,
                                    dnnl_primitive_desc_t *pd);

/* The recorded letters of convolution `conv` in n->forced, or NULL with err set. */
static const char *forced_letters(const net_dnnl *n, int conv, lr_error *err) {
    const char *s = n->forced;
    for (int i = 0; i < conv && s; i++) s = strchr(s, ','), s = s ? s + 1 : NULL;
    if (!s || strlen(s) < CONV_PASSES || (s[CONV_PASSES] && s[CONV_PASSES] != ','))
        return lr_fail(err, "recorded algorithm choice '%s' does not fit this model", n->forced), NULL;
    for (int p = 0; p < CONV_PASSES; p++)
        if (!strchr("dwD-", s[p]))
            return lr_fail(err, "recorded algorithm choice '%s': unknown letter '%c'", n->forced, s[p]), NULL;
    return s;
}

static int choose_pd(net_dnnl *n, conv_choice *c, int pass, make_pd_fn make, void *ctx,
                     dnnl_primitive_desc_t *out, lr_error *err) {
    const dnnl_alg_kind_t algs[2] = {dnnl_convolution_direct, dnnl_convolution_winograd};
    const char letters[2] = {'d', 'w'};
    dnnl_primitive_desc_t cand[2] = {NULL, NULL};
    int want = -1; /* forced index */
    if (c->bf16) {
        want = 0; /* oneDNN 2.6 offers no bf16 Winograd */
    } else if (n->forced) {
        const char *s = forced_letters(n, (int)(c - n->convs), err);
        if (!s) return -1;
        want = s[pass] == 'w' ? 1 : 0;
    } else if (n->algo == CONV_ALGO_DIRECT) {
        want = 0;
    } else if (n->algo == CONV_ALGO_WINOGRAD) {
        want = 1;
    }
    for (int a = 0; a < 2; a++) {
        if (want >= 0 && a != want && !(want == 1 && a == 0)) continue;
        if (make(n, algs[a], ctx, &cand[a]) != dnnl_success) cand[a] = NULL;
    }
    int pick;
    if (want == 0) pick = 0;
    else if (want == 1) pick = cand[1] ? 1 : 0; /* Winograd not offered (e.g. conv1's backward): direct */
    else if (cand[0] && cand[1]) {
        time_pds(n, (const_dnnl_primitive_desc_t *)cand, 2, c->ms[pass]);
        pick = c->ms[pass][1] < c->ms[pass][0] ? 1 : 0;
    } else pick = cand[1] && !cand[0] ? 1 : 0;
    if (!cand[pick]) {
        if (cand[1 - pick]) dnnl_primitive_desc_destroy(cand[1 - pick]);
        return lr_fail(err, "oneDNN offers no %s convolution for layer %s (pass %d)",
                       pick ? "Winograd" : "direct", c->name, pass);
    }
    if (cand[1 - pick]) dnnl_primitive_desc_destroy(cand[1 - pick]);
    c->algo[pass] = c->bf16 ? 'D' : letters[pick];
    *out = cand[pick];
    return keep_pd(n, *out, err);
}

/* ---- convolution ---- */

typedef struct {
    const layer_spec *l;
    dnnl_memory_desc_t src, wany, dst, dwany;
    const_dnnl_primitive_attr_t attr;
    int fwd_prop;
} conv_ctx;

static void conv_geometry(const layer_spec *l, dnnl_dims_t strides, dnnl_dims_t pad) {
    strides[0] = strides[1] = l->u.conv.stride;
    pad[0] = pad[1] = l->u.conv.pad;
}

static dnnl_status_t make_conv_fwd(net_dnnl *n, dnnl_alg_kind_t alg, void *vctx,
                                   dnnl_primitive_desc_t *pd) {
    conv_ctx *c = vctx;
    dnnl_convolution_desc_t d;
    dnnl_dims_t strides, pad;
    conv_geometry(c->l, strides, pad);
    dnnl_status_t st = dnnl_convolution_forward_desc_init(&d, c->fwd_prop, alg, &c->src, &c->wany,
                                                          NULL, &c->dst, strides, pad, pad);
    if (st != dnnl_success) return st;
    return dnnl_primitive_desc_create(pd, &d, c->attr ? c->attr : n->attr, n->eng, NULL);
}

static dnnl_status_t make_conv_hint(net_dnnl *n, dnnl_alg_kind_t alg, conv_ctx *c,
                                    dnnl_primitive_desc_t *hint) {
    const_dnnl_primitive_attr_t attr = c->attr;
    c->attr = NULL;
    dnnl_status_t st = make_conv_fwd(n, alg, c, hint);
    c->attr = attr;
    return st;
}

/* A backward pass (data or weights), with the forward of the same
 * algorithm as its hint. */
static dnnl_status_t make_conv_bwd(net_dnnl *n, dnnl_alg_kind_t alg, conv_ctx *c, int pass,
                                   dnnl_primitive_desc_t *pd) {
    dnnl_primitive_desc_t hint;
    dnnl_status_t st = make_conv_hint(n, alg, c, &hint);
    if (st != dnnl_success) return st;
    dnnl_convolution_desc_t d;
    dnnl_dims_t strides, pad;
    conv_geometry(c->l, strides, pad);
    st = pass == CONV_PASS_BWD_DATA
             ? dnnl_convolution_backward_data_desc_init(&d, alg, &c->src, &c->wany, &c->dst, strides, pad, pad)
             : dnnl_convolution_backward_weights_desc_init(&d, alg, &c->src, &c->dwany, NULL, &c->dst, strides,
                                                           pad, pad);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, &d, n->attr, n->eng, hint);
    dnnl_primitive_desc_destroy(hint);
    return st;
}

static dnnl_status_t make_conv_bwd_data(net_dnnl *n, dnnl_alg_kind_t alg, void *c, dnnl_primitive_desc_t *pd) {
    return make_conv_bwd(n, alg, c, CONV_PASS_BWD_DATA, pd);
}

static dnnl_status_t make_conv_bwd_weights(net_dnnl *n, dnnl_alg_kind_t alg, void *c, dnnl_primitive_desc_t *pd) {
    return make_conv_bwd(n, alg, c, CONV_PASS_BWD_WEIGHTS, pd);
}

/* The caller's weights (and gradients) for layer l, in PyTorch's layout. */
static int user_weights(net_dnnl *n, int li, const dnnl_memory_desc_t *want_md, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    dnnl_memory_desc_t md;
    dnnl_dims_t dims;
    int nd = want_md->ndims;
    for (int i = 0; i < nd; i++) dims[i] = want_md->dims[i];
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&md, nd, dims, dnnl_f32, nd == 4 ? dnnl_abcd : dnnl_ab),
               "memory_desc_init(weights)");
    (void)l;
    if (new_mem_unbound(n, &n->user_w[li], &md, err)) return -1;
    if (n->training && new_mem_unbound(n, &n->user_dw[li], &md, err)) return -1;
    return 0;
}

/* The weights in the layout a primitive wants: the user's memory itself, or
 * a reorder of it into a buffer, run first in the plan `into_fwd`. */
static int weights_for(net_dnnl *n, int li, const dnnl_memory_desc_t *md, int into_fwd,
                       dnnl_memory_t *out, lr_error *err) {
    const dnnl_memory_desc_t *umd;
    CHECK_DNNL(dnnl_memory_get_memory_desc(n->user_w[li], &umd), "memory_get_memory_desc");
    if (dnnl_memory_desc_equal(md, umd)) {
        *out = n->user_w[li];
        return 0;
    }
    dnnl_primitive_t r;
    if (new_mem(n, out, md, err) || make_reorder(n, &r, n->user_w[li], *out, err)) return -1;
    int kinds[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    dnnl_memory_t mems[2] = {n->user_w[li], *out};
    return into_fwd ? fwd_op(n, r, 2, kinds, mems, err) : bwd_op(n, r, 2, kinds, mems, err);
}

/* Weight gradients: straight into the caller's array, or via a reorder. */
static int dweights_for(net_dnnl *n, int li, const dnnl_memory_desc_t *md, dnnl_memory_t *out,
                        dnnl_primitive_t *reorder, lr_error *err) {
    const dnnl_memory_desc_t *umd;
    *reorder = NULL;
    CHECK_DNNL(dnnl_memory_get_memory_desc(n->user_dw[li], &umd), "memory_get_memory_desc");
    if (dnnl_memory_desc_equal(md, umd)) {
        *out = n->user_dw[li];
        return 0;
    }
    return new_mem(n, out, md, err) || make_reorder(n, reorder, *out, n->user_dw[li], err) ? -1 : 0;
}

/* The descriptors of layer l computed in dt: the current activation as
 * the source when it already has that type, else oneDNN's choice. */
static int conv_ctx_init(net_dnnl *n, conv_ctx *c, const layer_spec *l, dnnl_data_type_t dt, lr_error *err) {
    *c = (conv_ctx){.l = l, .fwd_prop = n->training ? dnnl_forward_training : dnnl_forward_inference};
    dnnl_dims_t src_dims = {n->batch, l->in_c, l->in_h, l->in_w};
    dnnl_dims_t w_dims = {l->c, l->in_c, l->u.conv.k, l->u.conv.k};
    dnnl_dims_t dst_dims = {n->batch, l->c, l->h, l->w};
    if (n->cur_md.data_type == dt) c->src = n->cur_md;
    else CHECK_DNNL(dnnl_memory_desc_init_by_tag(&c->src, 4, src_dims, dt, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&c->wany, 4, w_dims, dt, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&c->dwany, 4, w_dims, dnnl_f32, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&c->dst, 4, dst_dims, dt, dnnl_format_tag_any), "md");
    return 0;
}

/* --precision bf16 with auto: time the whole layer (every pass it needs)
 * as bf16 direct and as fp32 with the faster algorithm per pass, and keep
 * the faster; PERFORMANCE.md shows fp32 Winograd and bf16 direct close. */
static int pick_precision(net_dnnl *n, conv_choice *choice, const layer_spec *l, int first,
                          dnnl_data_type_t *dt, lr_error *err) {
    static const make_pd_fn makes[CONV_PASSES] = {make_conv_fwd, make_conv_bwd_data, make_conv_bwd_weights};
    const dnnl_alg_kind_t algs[2] = {dnnl_convolution_direct, dnnl_convolution_winograd};
    conv_ctx c[2]; /* fp32, bf16 */
    if (conv_ctx_init(n, &c[0], l, dnnl_f32, err) || conv_ctx_init(n, &c[1], l, dnnl_bf16, err)) return -1;
    choice->layer_ms[0] = choice->layer_ms[1] = 0.0;
    for (int pass = 0; pass < CONV_PASSES; pass++) {
        if ((pass != CONV_PASS_FWD && !n->training) || (pass == CONV_PASS_BWD_DATA && first)) continue;
        /* candidates: fp32 direct, fp32 Winograd, bf16 direct (no bf16 Winograd in oneDNN 2.6) */
        dnnl_primitive_desc_t pds[3] = {NULL, NULL, NULL};
        double ms[3];
        for (int k = 0; k < 3; k++)
            if (makes[pass](n, algs[k == 1], &c[k == 2], &pds[k]) != dnnl_success) pds[k] = NULL;
        time_pds(n, (const_dnnl_primitive_desc_t *)pds, 3, ms);
        for (int k = 0; k < 3; k++)
            if (pds[k]) dnnl_primitive_desc_destroy(pds[k]);
        choice->layer_ms[0] += ms[0] < ms[1] ? ms[0] : ms[1];
        choice->layer_ms[1] += ms[2];
    }
    *dt = choice->layer_ms[1] < choice->layer_ms[0] ? dnnl_bf16 : dnnl_f32;
    return 0;
}

/* Backward-data of a weighted layer (dpd kept by the caller): its weights
 * in dpd's layout (the forward's memory when the layouts agree, else one
 * reorder per step), then the gradient brought back to the input's layout. */
static int add_bwd_data(net_dnnl *n, int li, const_dnnl_primitive_desc_t dpd, const_dnnl_primitive_desc_t fpd,
                        dnnl_memory_t w, dnnl_memory_t ddst, dnnl_memory_t dsrc, dnnl_memory_t dorig,
                        lr_error *err) {
    dnnl_memory_t wb = w;
    dnnl_primitive_t p;
    const dnnl_memory_desc_t *wbmd = pd_md(dpd, DNNL_ARG_WEIGHTS);
    if (!dnnl_memory_desc_equal(wbmd, pd_md(fpd, DNNL_ARG_WEIGHTS)) && weights_for(n, li, wbmd, 0, &wb, err))
        return -1;
    if (make_prim(n, &p, dpd, err) ||
        bwd_op(n, p, 3, ARGS(DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC), MEMS(ddst, wb, dsrc), err))
        return -1;
    return finish_adapt(n, dsrc, dorig, err);
}

static int build_conv(net_dnnl *n, int li, int fuse_relu, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    conv_choice *choice = &n->convs[n->n_convs++];
    snprintf(choice->name, sizeof choice->name, "%s", l->name);
    memset(choice->algo, '-', CONV_PASSES);
    /* this layer's precision: recorded, chosen by timing, or as asked */
    dnnl_data_type_t dt = n->conv_dt;
    if (n->forced) {
        const char *s = forced_letters(n, n->n_convs - 1, err);
        if (!s) return -1;
        dt = s[CONV_PASS_FWD] == 'D' ? dnnl_bf16 : dnnl_f32;
    } else if (dt == dnnl_bf16 && n->algo == CONV_ALGO_AUTO &&
               pick_precision(n, choice, l, li == 0 || !n->dcur, &dt, err)) {
        return -1;
    }
    choice->bf16 = dt == dnnl_bf16;
    conv_ctx c;
    if (conv_ctx_init(n, &c, l, dt, err)) return -1;
    dnnl_primitive_attr_t attr = NULL;
    if (fuse_relu && post_op_relu(&attr, err)) return -1;
    c.attr = attr;
    dnnl_primitive_desc_t fpd = NULL;
    int rc = choose_pd(n, choice, CONV_PASS_FWD, make_conv_fwd, &c, &fpd, err);
    if (attr) dnnl_primitive_attr_destroy(attr);
    c.attr = NULL;
    if (rc) return -1;
    /* From here on every pass uses the forward's actual layouts. */
    c.src = *pd_md(fpd, DNNL_ARG_SRC);
    c.dst = *pd_md(fpd, DNNL_ARG_DST);
    dnnl_memory_t src, dsrc, w, dst, ddst, dorig = n->dcur;
    dnnl_primitive_t p;
    if (adapt_input(n, &c.src, &src, &dsrc, err) || user_weights(n, li, &c.wany, err) ||
        weights_for(n, li, pd_md(fpd, DNNL_ARG_WEIGHTS), 1, &w, err) ||
        make_prim(n, &p, fpd, err))
        return -1;
    int first = li == 0 || !dsrc;
    if (push_activation(n, &c.dst, &dst, &ddst, err) ||
        fwd_op(n, p, 3, ARGS(DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST), MEMS(src, w, dst), err))
        return -1;
    if (!n->training) return 0;
    if (fuse_relu && relu_backward(n, dst, ddst, ddst, &c.dst, err)) return -1;
    dnnl_primitive_desc_t wpd = NULL;
    dnnl_memory_t dw;
    dnnl_primitive_t dw_reorder;
    if (choose_pd(n, choice, CONV_PASS_BWD_WEIGHTS, make_conv_bwd_weights, &c, &wpd, err) ||
        dweights_for(n, li, pd_md(wpd, DNNL_ARG_DIFF_WEIGHTS), &dw, &dw_reorder, err) ||
        make_prim(n, &p, wpd, err) ||
        bwd_op(n, p, 3, ARGS(DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS), MEMS(src, ddst, dw), err))
        return -1;
    if (dw_reorder && bwd_op(n, dw_reorder, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(dw, n->user_dw[li]), err))
        return -1;
    if (first) return 0; /* no gradient wanted for the network's input */
    dnnl_primitive_desc_t dpd = NULL;
    if (choose_pd(n, choice, CONV_PASS_BWD_DATA, make_conv_bwd_data, &c, &dpd, err)) return -1;
    return add_bwd_data(n, li, dpd, fpd, w, ddst, dsrc, dorig, err);
}

/* ---- max-pool, standalone ReLU, linear ---- */

static int build_pool(net_dnnl *n, int li, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    dnnl_dims_t dst_dims = {n->batch, l->c, l->h, l->w};
    dnnl_dims_t strides = {l->u.pool.stride, l->u.pool.stride}, kernel = {l->u.pool.k, l->u.pool.k}, pad = {0, 0};
    dnnl_memory_desc_t src_md = n->cur_md, dst_md;
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, src_md.data_type, dnnl_format_tag_any), "md");
    dnnl_pooling_desc_t fd, bd;
    dnnl_primitive_desc_t fpd, bpd;
    CHECK_DNNL(dnnl_pooling_forward_desc_init(&fd, n->training ? dnnl_forward_training : dnnl_forward_inference,
                                              dnnl_pooling_max, &src_md, &dst_md, strides, kernel, pad, pad),
               "pooling_forward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&fpd, &fd, n->attr, n->eng, NULL), "pooling fwd pd");
    if (keep_pd(n, fpd, err)) return -1;
    dst_md = *pd_md(fpd, DNNL_ARG_DST);
    dnnl_memory_t src = n->cur, dsrc = n->dcur, dst, ddst, ws = NULL;
    dnnl_primitive_t p;
    const dnnl_memory_desc_t *ws_md = pd_md(fpd, DNNL_ARG_WORKSPACE);
    if (ws_md && ws_md->ndims && new_mem(n, &ws, ws_md, err)) return -1;
    if (make_prim(n, &p, fpd, err) || push_activation(n, &dst_md, &dst, &ddst, err)) return -1;
    if (ws ? fwd_op(n, p, 3, ARGS(DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE), MEMS(src, dst, ws), err)
           : fwd_op(n, p, 2, ARGS(DNNL_ARG_SRC, DNNL_ARG_DST), MEMS(src, dst), err))
        return -1;
    if (!n->training || !dsrc) return 0;
    CHECK_DNNL(dnnl_pooling_backward_desc_init(&bd, dnnl_pooling_max, &src_md, &dst_md, strides,
                                               kernel, pad, pad),
               "pooling_backward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&bpd, &bd, n->attr, n->eng, fpd), "pooling bwd pd");
    if (keep_pd(n, bpd, err) || make_prim(n, &p, bpd, err)) return -1;
    return bwd_op(n, p, 3, ARGS(DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_WORKSPACE),
                  MEMS(ddst, dsrc, ws), err);
}

static int build_relu(net_dnnl *n, lr_error *err) {
    dnnl_memory_desc_t md = n->cur_md;
    dnnl_eltwise_desc_t fd;
    dnnl_primitive_desc_t fpd;
    CHECK_DNNL(dnnl_eltwise_forward_desc_init(&fd, n->training ? dnnl_forward_training : dnnl_forward_inference,
                                              dnnl_eltwise_relu_use_dst_for_bwd, &md, 0.0f, 0.0f),
               "eltwise_forward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&fpd, &fd, n->attr, n->eng, NULL), "eltwise fwd pd");
    dnnl_memory_t src = n->cur, dsrc = n->dcur, dst, ddst;
    dnnl_primitive_t p;
    if (keep_pd(n, fpd, err) || make_prim(n, &p, fpd, err) || push_activation(n, &md, &dst, &ddst, err) ||
        fwd_op(n, p, 2, ARGS(DNNL_ARG_SRC, DNNL_ARG_DST), MEMS(src, dst), err))
        return -1;
    if (!n->training || !dsrc) return 0;
    return relu_backward(n, dst, ddst, dsrc, &md, err);
}

static int build_linear(net_dnnl *n, int li, int fuse_relu, int last, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    dnnl_memory_desc_t src_md, w_any, dw_any, dst_md;
    const dnnl_memory_desc_t *cur = &n->cur_md;
    dnnl_dims_t w_dims = {l->c, 0, 0, 0};
    int nd = cur->ndims;
    for (int i = 1; i < nd; i++) w_dims[i] = cur->dims[i];
    dnnl_dims_t dst_dims = {n->batch, l->c};
    /* The linear layers are tiny: always f32. */
    if (cur->data_type == dnnl_f32) src_md = *cur;
    else CHECK_DNNL(dnnl_memory_desc_init_by_tag(&src_md, nd, cur->dims, dnnl_f32, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&w_any, nd, w_dims, dnnl_f32, dnnl_format_tag_any), "md");
    dw_any = w_any;
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, dnnl_f32, last ? dnnl_ab : dnnl_format_tag_any), "md");
    dnnl_inner_product_desc_t fd, dd, wd;
    dnnl_primitive_desc_t fpd, dpd, wpd;
    dnnl_primitive_attr_t attr = NULL;
    if (fuse_relu && post_op_relu(&attr, err)) return -1;
    dnnl_status_t st = dnnl_inner_product_forward_desc_init(
        &fd, n->training ? dnnl_forward_training : dnnl_forward_inference, &src_md, &w_any, NULL, &dst_md);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&fpd, &fd, attr ? attr : n->attr, n->eng, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    CHECK_DNNL(st, "inner product fwd pd");
    if (keep_pd(n, fpd, err)) return -1;
    src_md = *pd_md(fpd, DNNL_ARG_SRC);
    dst_md = *pd_md(fpd, DNNL_ARG_DST);
    dnnl_memory_t src, dsrc, w, dst, ddst, dorig = n->dcur;
    dnnl_primitive_t p;
    if (adapt_input(n, &src_md, &src, &dsrc, err) || user_weights(n, li, &w_any, err) ||
        weights_for(n, li, pd_md(fpd, DNNL_ARG_WEIGHTS), 1, &w, err) || make_prim(n, &p, fpd, err) ||
        push_activation(n, &dst_md, &dst, &ddst, err) ||
        fwd_op(n, p, 3, ARGS(DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST), MEMS(src, w, dst), err))
        return -1;
    if (last) {
        n->logits = dst;
        n->dlogits = ddst;
    }
    if (!n->training) return 0;
    if (fuse_relu && relu_backward(n, dst, ddst, ddst, &dst_md, err)) return -1;
    CHECK_DNNL(dnnl_inner_product_backward_weights_desc_init(&wd, &src_md, &dw_any, NULL, &dst_md), "ip bwd weights desc");
    CHECK_DNNL(dnnl_primitive_desc_create(&wpd, &wd, n->attr, n->eng, fpd), "ip bwd weights pd");
    dnnl_memory_t dw;
    dnnl_primitive_t dw_reorder;
    if (keep_pd(n, wpd, err) || dweights_for(n, li, pd_md(wpd, DNNL_ARG_DIFF_WEIGHTS), &dw, &dw_reorder, err) ||
        make_prim(n, &p, wpd, err) ||
        bwd_op(n, p, 3, ARGS(DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS), MEMS(src, ddst, dw), err))
        return -1;
    if (dw_reorder && bwd_op(n, dw_reorder, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(dw, n->user_dw[li]), err))
        return -1;
    if (!dsrc) return 0;
    CHECK_DNNL(dnnl_inner_product_backward_data_desc_init(&dd, &src_md, &w_any, &dst_md), "ip bwd data desc");
    CHECK_DNNL(dnnl_primitive_desc_create(&dpd, &dd, n->attr, n->eng, fpd), "ip bwd data pd");
    if (keep_pd(n, dpd, err)) return -1;
    return add_bwd_data(n, li, dpd, fpd, w, ddst, dsrc, dorig, err);
}

/* ---- the whole network ---- */

/* What this executor runs today: a chain of conv (no bias, symmetric
 * padding), relu, maxpool (no padding), flatten and linear (no bias). The
 * reference executor runs every description. */
static int check_supported(const model_spec *m, lr_error *err) {
    if (m->n_layers > MAX_OBJECTS / 8) /* up to 8 memories a layer: refuse before any timing */
        return lr_fail(err, "%s: %d layers: the oneDNN backend runs at most %d today: use --backend ref",
                       m->name, m->n_layers, MAX_OBJECTS / 8);
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        const char *why = NULL;
        if (l->in[0] != i - 1 || l->n_in != 1) why = "a layer that reads another than the previous one";
        else if (l->kind == LAYER_CONV && (l->u.conv.bias || l->u.conv.pad != l->u.conv.pad_end)) why = "a conv with bias or pad=same";
        else if (l->kind == LAYER_LINEAR && l->u.linear.bias) why = "a linear layer with bias";
        else if (l->kind == LAYER_MAXPOOL && l->u.pool.pad) why = "a padded maxpool";
        else if (l->kind != LAYER_CONV && l->kind != LAYER_LINEAR && l->kind != LAYER_MAXPOOL &&
                 l->kind != LAYER_RELU && l->kind != LAYER_FLATTEN)
            why = "this layer kind";
        if (why)
            return lr_fail(err, "%s:%d: the oneDNN backend does not run %s yet: use --backend ref", m->name,
                           l->line, why);
    }
    return 0;
}

static int build(net_dnnl *n, lr_error *err) {
    const model_spec *m = n->m;
    if (check_supported(m, err)) return -1;
    dnnl_dims_t x_dims = {n->batch, m->in_c, m->in_h, m->in_w};
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&n->cur_md, 4, x_dims, dnnl_f32, dnnl_nchw), "md");
    n->xbuf = lr_calloc((size_t)n->batch, (size_t)m->in_c * m->in_h * m->in_w * sizeof(float), "input batch", err);
    if (!n->xbuf) return -1;
    n->bufs[n->n_bufs++] = n->xbuf;
    CHECK_DNNL(dnnl_memory_create(&n->user_x, &n->cur_md, n->eng, n->xbuf), "memory_create");
    n->mems[n->n_mems++] = n->user_x;
    n->cur = n->user_x;
    n->dcur = NULL;
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        int fuse = i + 1 < m->n_layers && m->layers[i + 1].kind == LAYER_RELU;
        int rc = 0;
        switch (l->kind) {
        case LAYER_CONV: rc = build_conv(n, i, fuse, err); break;
        case LAYER_LINEAR: rc = build_linear(n, i, fuse, i == m->n_layers - 1, err); break;
        case LAYER_MAXPOOL: rc = build_pool(n, i, err); break;
        case LAYER_FLATTEN: break; /* the linear layer takes the 4D tensor as it is */
        case LAYER_RELU:
            if (i > 0 && (m->layers[i - 1].kind == LAYER_CONV || m->layers[i - 1].kind == LAYER_LINEAR))
                break; /* fused into the layer before */
            rc = build_relu(n, err);
            break;
        default: return lr_fail(err, "internal: layer kind %d reached the oneDNN builder", (int)l->kind);
        }
        if (rc) return -1;
        if (n->stages[n->n_stages].n) {
            if (n->n_stages + 1 == MAX_OPS) return lr_fail(err, "model too large");
            n->n_stages++;
        }
    }
    /* Backward plan: stages in reverse, each stage's ops in order. */
    for (int s = n->n_stages - 1; s >= 0; s--)
        for (int k = 0; k < n->stages[s].n; k++) {
            if (n->n_bwd == MAX_OPS) return lr_fail(err, "model too large");
            n->bwd[n->n_bwd++] = n->stages[s].ops[k];
        }
    for (int k = 0; k < 2 && n->training; k++) {
        size_t size = (n->pp_size[k] + 63) / 64 * 64;
        n->pp[k] = aligned_alloc(64, size ? size : 64);
        if (!n->pp[k]) return lr_fail(err, "out of memory (%zu bytes for gradients)", size);
        memset(n->pp[k], 0, size ? size : 64);
    }
    for (int i = 0; i < n->n_pp; i++)
        CHECK_DNNL(dnnl_memory_set_data_handle(n->pp_mems[i], n->pp[n->pp_which[i]]), "set_data_handle");
    if (n->scratch_size) {
        n->scratch = aligned_alloc(64, (n->scratch_size + 63) / 64 * 64);
        if (!n->scratch) return lr_fail(err, "out of memory (%zu bytes of oneDNN scratchpad)", n->scratch_size);
        for (int i = 0; i < n->n_prims; i++)
            if (n->prim_scratch[i])
                CHECK_DNNL(dnnl_memory_set_data_handle(n->prim_scratch[i], n->scratch), "set_data_handle(scratchpad)");
    }
    /* the choice string: "ddd,www,..." */
    n->choices[0] = '\0';
    for (int c = 0; c < n->n_convs; c++) {
        size_t len = strlen(n->choices);
        snprintf(n->choices + len, sizeof n->choices - len, "%s%.3s", c ? "," : "", n->convs[c].algo);
    }
    return 0;
}

int net_dnnl_init(net_dnnl **out, const model_spec *m, const net_config *cfg, lr_error *err) {
    net_dnnl *n = lr_calloc(1, sizeof *n, "oneDNN net", err);
    if (!n) return -1;
    *out = n;
    n->m = m;
    n->batch = cfg->batch;
    n->training = cfg->training;
    n->algo = cfg->algo;
    n->forced = cfg->algo_choices[0] ? cfg->algo_choices : NULL;
    n->conv_dt = cfg->precision == NET_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
    CHECK_DNNL(dnnl_engine_create(&n->eng, dnnl_cpu, 0), "engine_create");
    CHECK_DNNL(dnnl_primitive_attr_create(&n->attr), "primitive_attr_create");
    CHECK_DNNL(dnnl_primitive_attr_set_scratchpad_mode(n->attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode");
    CHECK_DNNL(dnnl_stream_create(&n->stream, n->eng, dnnl_stream_default_flags), "stream_create");
    int rc = build(n, err);
    n->forced = NULL; /* it pointed into cfg */
    return rc;
}

void net_dnnl_free(net_dnnl *n) {
    if (!n) return;
    for (int i = 0; i < n->n_prims; i++) dnnl_primitive_destroy(n->prims[i]);
    for (int i = 0; i < n->n_pds; i++) dnnl_primitive_desc_destroy(n->pds[i]);
    for (int i = 0; i < n->n_mems; i++) dnnl_memory_destroy(n->mems[i]);
    for (int i = 0; i < n->n_bufs; i++) free(n->bufs[i]);
    free(n->pp[0]);
    free(n->pp[1]);
    free(n->scratch);
    if (n->attr) dnnl_primitive_attr_destroy(n->attr);
    if (n->stream) dnnl_stream_destroy(n->stream);
    if (n->eng) dnnl_engine_destroy(n->eng);
    free(n);
}

static int attach_weights(net_dnnl *n, const float *params, float *grads, lr_error *err) {
    const model_spec *m = n->m;
    for (int i = 0; i < m->n_layers; i++) {
        if (!m->layers[i].param_count) continue;
        /* oneDNN only reads through user_w: the cast drops const for its API. */
        CHECK_DNNL(dnnl_memory_set_data_handle(n->user_w[i], (void *)(params + m->layers[i].param_offset)),
                   "set_data_handle(weights)");
        if (grads)
            CHECK_DNNL(dnnl_memory_set_data_handle(n->user_dw[i], grads + m->layers[i].param_offset),
                       "set_data_handle(gradients)");
    }
    return 0;
}

static int run(net_dnnl *n, const op *ops, int count, lr_error *err) {
    for (int i = 0; i < count; i++)
        CHECK_DNNL(dnnl_primitive_execute(ops[i].prim, n->stream, ops[i].nargs, ops[i].args), "execute");
    CHECK_DNNL(dnnl_stream_wait(n->stream), "stream_wait");
    return 0;
}

int net_dnnl_forward(net_dnnl *n, const float *x, int count, const float *params, float *logits,
                     lr_error *err) {
    const model_spec *m = n->m;
    size_t image = (size_t)m->in_c * m->in_h * m->in_w;
    /* Rows past count keep earlier images: every row is computed
     * independently, so they cannot change the first count outputs. */
    memcpy(n->xbuf, x, (size_t)count * image * sizeof(float));
    n->count = count;
    if (attach_weights(n, params, NULL, err) || run(n, n->fwd, n->n_fwd, err)) return -1;
    void *h;
    CHECK_DNNL(dnnl_memory_get_data_handle(n->logits, &h), "get_data_handle");
    memcpy(logits, h, (size_t)count * m->n_classes * sizeof(float));
    return 0;
}

int net_dnnl_backward(net_dnnl *n, const float *dlogits, const float *params, float *grads,
                      lr_error *err) {
    if (!n->training) return lr_fail(err, "net_backward on a forward-only net");
    const model_spec *m = n->m;
    void *h;
    CHECK_DNNL(dnnl_memory_get_data_handle(n->dlogits, &h), "get_data_handle");
    /* Rows past the batch's count get zero gradient, so they add nothing. */
    memset(h, 0, (size_t)n->batch * m->n_classes * sizeof(float));
    memcpy(h, dlogits, (size_t)n->count * m->n_classes * sizeof(float));
    if (attach_weights(n, params, grads, err) || run(n, n->bwd, n->n_bwd, err)) return -1;
    return 0;
}

const char *net_dnnl_algo_choices(const net_dnnl *n) { return n->choices; }

void net_dnnl_platform(char *buf, size_t cap) {
    static const struct {
        dnnl_cpu_isa_t isa;
        const char *name;
    } isas[] = {{dnnl_cpu_isa_sse41, "sse41"}, {dnnl_cpu_isa_avx, "avx"}, {dnnl_cpu_isa_avx2, "avx2"},
                {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"}, {dnnl_cpu_isa_avx512_core, "avx512_core"},
                {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"},
                {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"}, {dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"}};
    const dnnl_version_t *v = dnnl_version();
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    char other[32];
    const char *name = NULL;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if (isas[i].isa == isa) name = isas[i].name;
    if (!name) snprintf(other, sizeof other, "0x%x", (unsigned)isa), name = other;
    snprintf(buf, cap, "onednn=%d.%d.%d isa=%s", v->major, v->minor, v->patch, name);
}

void net_dnnl_describe(const net_dnnl *n, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int c = 0; c < n->n_convs && len < cap; c++) {
        const conv_choice *ch = &n->convs[c];
        static const char *passes[CONV_PASSES] = {"fwd", "bwd-data", "bwd-weights"};
        len += (size_t)snprintf(buf + len, cap - len, "%-10s", ch->name);
        for (int p = 0; p < CONV_PASSES && len < cap; p++) {
            const char *a = ch->algo[p] == 'w' ? "winograd" : ch->algo[p] == 'd' ? "direct" : "-";
            if (ch->algo[p] == 'D') a = "bf16-direct";
            if (ch->ms[p][0] > 0 && ch->ms[p][0] < 1e29)
                len += (size_t)snprintf(buf + len, cap - len, " %s=%s (direct %.2f ms, winograd %.2f ms)",
                                        passes[p], a, ch->ms[p][0], ch->ms[p][1] < 1e29 ? ch->ms[p][1] : 0.0);
            else len += (size_t)snprintf(buf + len, cap - len, " %s=%s", passes[p], a);
        }
        if (ch->layer_ms[0] > 0 && len < cap)
            len += (size_t)snprintf(buf + len, cap - len, " [layer: fp32 %.2f ms, bf16 %.2f ms]", ch->layer_ms[0],
                                    ch->layer_ms[1]);
        if (len < cap) len += (size_t)snprintf(buf + len, cap - len, "\n");
    }
}
