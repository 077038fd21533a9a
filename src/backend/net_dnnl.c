/* backend/net_dnnl.c: the oneDNN 2.6 executor behind lrlab/net.h.
 *
 * At init every layer of the graph becomes one or more primitives, built
 * once: each layer has an output memory in the layout oneDNN picks
 * (nChw16c on AVX-512), and for training a gradient memory of the same
 * layout. A layer reads its inputs where they are, with a reorder only
 * where a primitive wants another layout. Backward runs the layers in
 * reverse; the last reader of an activation (the first to run backward)
 * writes its gradient, the others add to it (a reorder with a sum
 * post-op), and a layer that only passes a gradient through (add,
 * flatten) to a sole reader shares its buffer instead of copying (so does
 * a fork's last reader when that is safe: check_fork_aliases). ReLU is
 * fused into the convolution, linear, add or BatchNorm layer before it
 * when that layer has no other reader; its backward runs on the stored
 * output (relu_use_dst_for_bwd) or inside BatchNorm's. The flat PyTorch-layout weights are reordered
 * once per call into each primitive's layout, and weight gradients
 * reordered back into the flat gradient array. For each convolution and
 * pass (forward, backward-data, backward-weights) the algorithm is direct
 * or Winograd, chosen by timing both at init (cuDNN's benchmark mode)
 * unless forced. BatchNorm (with the ReLU after it), dropout and the
 * option-A shortcut run hand-written kernels on the blocked layouts
 * (blocked.h); what none of these covers (e.g. dropout of a flat tensor)
 * runs the reference kernels on plain copies. Not here: loss, optimiser,
 * data. */
#define _POSIX_C_SOURCE 200809L
#include <dnnl.h>
#include <dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/blocked.h"
#include "backend/net_impl.h"

#define MAX_OBJECTS (24 * MODEL_MAX_LAYERS)
#define MAX_OPS (16 * MODEL_MAX_LAYERS)



typedef struct {
    dnnl_primitive_t prim; /* borrowed from net_dnnl.prims; NULL: fn */
    int (*fn)(net_dnnl *n, int li, lr_error *err); /* a C step (reference kernels) */
    int li; /* its layer (fn's argument; --profile's per-layer time) */
    int when; /* 0: always; else the modes it runs in (MODE_*) */
    int nargs;
    dnnl_exec_arg_t args[12];
} op;

/* The mode of a pass: BatchNorm runs its own primitives in training mode on
 * a full batch, the reference kernels on a partial one (its statistics
 * over the images of the call), and inference primitives in eval mode. */
enum { MODE_TRAIN = 1, MODE_PARTIAL = 2, MODE_EVAL = 4 };

/* Per convolution: the algorithm of each pass and its measured time. */
typedef struct {
    char name[MODEL_NAME_LEN];
    char algo[CONV_PASSES];      /* 'd' direct, 'w' winograd, 'D' bf16 direct, '-' no such pass */
    double ms[CONV_PASSES][2];   /* timings of direct, winograd (0: not timed) */
    int bf16;                    /* this layer computes in bf16 */
    double layer_ms[2];          /* --precision bf16 auto: whole layer, fp32 best vs bf16 direct */
} conv_choice;

/* A layer run by the reference kernels: plain NCHW memories. */
typedef struct {
    dnnl_memory_t in[2], out, dout, din[2]; /* din: NULL when that input wants no gradient */
    float *aux;
} fallback;

/* A layer run by the hand-written kernels of blocked.h on oneDNN's own
 * layouts (BatchNorm, the option-A shortcut). */
typedef struct {
    blk_shape in, out;
    int relu;           /* BatchNorm: the ReLU after it fused */
    dnnl_memory_t din;  /* where backward writes the input's gradient (grad_target), or NULL */
    dnnl_memory_t noise; /* dropout's */
} blk_layer;

/* A fork's last reader li that passes its gradient unchanged to input j:
 * j's gradient may share li's buffer instead of the copy bops[op]. */
typedef struct {
    int li, j, op;
} fork_alias;

struct net_dnnl {
    const model_spec *m; /* borrowed */
    int batch, training;
    int (*bn_sum)(double *v, int n); /* net_config's: BatchNorm through the reference kernels */
    int count; /* images in the last forward call */
    int mode;  /* of the last forward call (MODE_*) */
    int when;  /* building: the modes of the ops being added (0: all) */
    /* the state of the calls (net_dnnl_set_state, forward, backward) */
    int train_mode;
    uint64_t seed, step;
    float *buffers, *grads;
    const float *params;
    dnnl_data_type_t conv_dt;
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    op fwd[MAX_OPS], bwd[MAX_OPS], bops[MAX_OPS]; /* bops: backward ops in build order */
    int n_fwd, n_bwd, n_bops;
    int stage_lo[MODEL_MAX_LAYERS], stage_hi[MODEL_MAX_LAYERS]; /* each layer's range of bops */
    int building;                                               /* the layer being built: its ops' li */
    dnnl_primitive_t prims[MAX_OBJECTS];
    dnnl_memory_t prim_scratch[MAX_OBJECTS]; /* each primitive's scratchpad view, or NULL */
    int n_prims;
    /* one scratchpad buffer shared by every primitive (they run one at a time) */
    dnnl_primitive_attr_t attr, attr_sum; /* attr_sum: a reorder that adds to its destination */
    void *scratch;
    size_t scratch_size;
    dnnl_primitive_desc_t pds[MAX_OBJECTS];
    int n_pds;
    dnnl_memory_t mems[MAX_OBJECTS];
    int n_mems;
    void *bufs[MAX_OBJECTS];
    int n_bufs;
    /* per layer: output, its gradient, its descriptor; readers (input slots reading it);
     * the last reader's slot (2 * layer + k); the layer whose gradient buffer it shares */
    dnnl_memory_desc_t md[MODEL_MAX_LAYERS];
    dnnl_memory_t act[MODEL_MAX_LAYERS], dact[MODEL_MAX_LAYERS];
    int readers[MODEL_MAX_LAYERS], last_reader[MODEL_MAX_LAYERS], grad_alias[MODEL_MAX_LAYERS];
    fork_alias forks[MODEL_MAX_LAYERS]; /* candidate shared gradients at forks (pass_grad) */
    int n_forks;
    fallback fb[MODEL_MAX_LAYERS];
    blk_layer blk[MODEL_MAX_LAYERS];
    double *blk_scratch; /* shared by the BatchNorm kernels */
    long blk_scratch_size;
    /* the caller's arrays, attached on every call */
    dnnl_memory_t user_w[MODEL_MAX_LAYERS], user_dw[MODEL_MAX_LAYERS];
    dnnl_memory_t user_b[MODEL_MAX_LAYERS], user_db[MODEL_MAX_LAYERS];
    dnnl_memory_t running_mean[MODEL_MAX_LAYERS], running_var[MODEL_MAX_LAYERS]; /* the caller's buffers */
    dnnl_memory_t batch_mean[MODEL_MAX_LAYERS], batch_var[MODEL_MAX_LAYERS];
    dnnl_memory_t user_x;
    dnnl_memory_desc_t x_md;
    float *xbuf;
    dnnl_memory_t logits;   /* plain (batch, classes) f32 */
    dnnl_memory_t dlogits;
    /* algorithm choice */
    conv_algo algo;
    const char *forced; /* a recorded choice string, or NULL */
    conv_choice convs[MODEL_MAX_LAYERS];
    int n_convs;
    char choices[4 * MODEL_MAX_LAYERS];
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

/* A memory whose buffer is attached later (the caller's arrays, the scratchpad). */
static int new_mem_unbound(net_dnnl *n, dnnl_memory_t *out, const dnnl_memory_desc_t *md,
                           lr_error *err) {
    if (n->n_mems == MAX_OBJECTS) return lr_fail(err, "model too large: too many memories");
    CHECK_DNNL(dnnl_memory_create(out, md, n->eng, DNNL_MEMORY_NONE), "memory_create");
    n->mems[n->n_mems++] = *out;
    return 0;
}

static int add_op(net_dnnl *n, op *ops, int *count, int cap, dnnl_primitive_t p, int nargs,
                  const int *kinds, const dnnl_memory_t *mems, lr_error *err) {
    if (*count == cap) return lr_fail(err, "model too large: more than %d operations", cap);
    op *o = &ops[(*count)++];
    *o = (op){.prim = p, .li = n->building, .nargs = nargs, .when = n->when};
    for (int i = 0; i < nargs; i++) o->args[i] = (dnnl_exec_arg_t){kinds[i], mems[i]};
    for (int i = n->n_prims - 1; i >= 0; i--) /* most often the last one made */
        if (n->prims[i] == p) {
            if (n->prim_scratch[i]) o->args[o->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, n->prim_scratch[i]};
            break;
        }
    return 0;
}

#define ARGS(...) (const int[]){__VA_ARGS__}
#define MEMS(...) (const dnnl_memory_t[]){__VA_ARGS__}

static int fwd_op(net_dnnl *n, dnnl_primitive_t p, int nargs, const int *kinds,
                  const dnnl_memory_t *mems, lr_error *err) {
    return add_op(n, n->fwd, &n->n_fwd, MAX_OPS, p, nargs, kinds, mems, err);
}

/* A backward op of the layer being built (run in reverse layer order). */
static int bwd_op(net_dnnl *n, dnnl_primitive_t p, int nargs, const int *kinds,
                  const dnnl_memory_t *mems, lr_error *err) {
    return add_op(n, n->bops, &n->n_bops, MAX_OPS, p, nargs, kinds, mems, err);
}

static int fn_op(net_dnnl *n, op *ops, int *count, int (*fn)(net_dnnl *, int, lr_error *), int li, lr_error *err) {
    if (*count == MAX_OPS) return lr_fail(err, "model too large: more than %d operations", MAX_OPS);
    ops[(*count)++] = (op){.fn = fn, .li = li, .when = n->when};
    return 0;
}

static int make_prim(net_dnnl *n, dnnl_primitive_t *p, const_dnnl_primitive_desc_t pd, lr_error *err) {
    CHECK_DNNL(dnnl_primitive_create(p, pd), "primitive_create");
    return keep_prim(n, *p, pd, err);
}

/* A reorder primitive from src to dst (same logical tensor, other layout or
 * type); with add, it adds to dst's contents. */
static int make_reorder(net_dnnl *n, dnnl_primitive_t *p, dnnl_memory_t src, dnnl_memory_t dst, int add,
                        lr_error *err) {
    const dnnl_memory_desc_t *smd, *dmd;
    CHECK_DNNL(dnnl_memory_get_memory_desc(src, &smd), "memory_get_memory_desc");
    CHECK_DNNL(dnnl_memory_get_memory_desc(dst, &dmd), "memory_get_memory_desc");
    dnnl_primitive_desc_t pd;
    CHECK_DNNL(dnnl_reorder_primitive_desc_create(&pd, smd, n->eng, dmd, n->eng, add ? n->attr_sum : n->attr),
               "reorder_primitive_desc_create");
    if (keep_pd(n, pd, err)) return -1;
    return make_prim(n, p, pd, err);
}

static const dnnl_memory_desc_t *pd_md(const_dnnl_primitive_desc_t pd, int arg) {
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

/* ---- the graph: where a layer's inputs and their gradients are ---- */

static const dnnl_memory_desc_t *md_of(const net_dnnl *n, int j) { return j == MODEL_INPUT ? &n->x_md : &n->md[j]; }

/* Whether md is plain (NCHW or NC): the reference kernels' layouts, slow for convolutions. */
static int is_plain(const dnnl_memory_desc_t *md) {
    return md->format_kind == dnnl_blocked && md->format_desc.blocking.inner_nblks == 0 &&
           md->format_desc.blocking.strides[md->ndims - 1] == 1;
}
static dnnl_memory_t act_of(const net_dnnl *n, int j) { return j == MODEL_INPUT ? n->user_x : n->act[j]; }

/* Layer li's input k in descriptor want: the input itself, or a copy made
 * by a reorder run before the layer. */
static int input_as(net_dnnl *n, int li, int k, const dnnl_memory_desc_t *want, dnnl_memory_t *out, lr_error *err) {
    int j = n->m->layers[li].in[k];
    *out = act_of(n, j);
    if (dnnl_memory_desc_equal(want, md_of(n, j))) return 0;
    dnnl_primitive_t r;
    return new_mem(n, out, want, err) || make_reorder(n, &r, act_of(n, j), *out, 0, err) ||
                   fwd_op(n, r, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(act_of(n, j), *out), err)
               ? -1
               : 0;
}

/* Whether layer li's input k is the last reader of its layer (the first
 * to run backward): it writes the gradient, the others add to it. */
static int overwrites(const net_dnnl *n, int li, int k) {
    return n->last_reader[n->m->layers[li].in[k]] == 2 * li + k;
}

/* Where layer li's backward writes the gradient of its input k, in
 * descriptor want: the input's gradient itself when this reader overwrites
 * it and the layouts agree, else a new buffer that finish_grad reorders
 * into (or adds to) the input's gradient. NULL: the network's input. */
static int grad_target(net_dnnl *n, int li, int k, const dnnl_memory_desc_t *want, dnnl_memory_t *out,
                       lr_error *err) {
    int j = n->m->layers[li].in[k];
    *out = NULL;
    if (!n->training || j == MODEL_INPUT) return 0;
    if (overwrites(n, li, k) && dnnl_memory_desc_equal(want, &n->md[j])) {
        *out = n->dact[j];
        return 0;
    }
    return new_mem(n, out, want, err);
}

static int finish_grad(net_dnnl *n, int li, int k, dnnl_memory_t g, lr_error *err) {
    int j = n->m->layers[li].in[k];
    if (!g || g == n->dact[j]) return 0;
    dnnl_primitive_t r;
    return make_reorder(n, &r, g, n->dact[j], !overwrites(n, li, k), err) ||
                   bwd_op(n, r, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(g, n->dact[j]), err)
               ? -1
               : 0;
}

/* Backward of a layer that passes its gradient to input k unchanged (add,
 * flatten): a sole reader with the same layout shares the gradient buffer
 * (resolved once every layer is built), else the gradient is copied or
 * added. The copy of the last reader of a fork (a residual block's
 * identity shortcut) is a candidate for sharing too: the fork's other
 * readers then add into the shared buffer, which check_fork_aliases allows
 * only when nothing else reads that buffer by then. */
static int pass_grad(net_dnnl *n, int li, int k, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    int j = l->in[k];
    if (!n->training || j == MODEL_INPUT) return 0;
    int same = dnnl_memory_desc_equal(&n->md[li], &n->md[j]);
    if (n->readers[j] == 1 && same) {
        n->grad_alias[j] = li;
        return 0;
    }
    dnnl_primitive_t r;
    if (make_reorder(n, &r, n->dact[li], n->dact[j], !overwrites(n, li, k), err) ||
        bwd_op(n, r, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(n->dact[li], n->dact[j]), err))
        return -1;
    if (same && overwrites(n, li, k) && (l->n_in == 1 || l->in[0] != l->in[1]) && n->n_forks < MODEL_MAX_LAYERS) {
        n->forks[n->n_forks++] = (fork_alias){li, j, n->n_bops - 1};
        n->grad_alias[j] = li; /* until check_fork_aliases says otherwise */
    }
    return 0;
}

/* Layer li's output (and its gradient) in descriptor md. */
static int new_output(net_dnnl *n, int li, const dnnl_memory_desc_t *md, lr_error *err) {
    n->md[li] = *md;
    if (new_mem(n, &n->act[li], md, err)) return -1;
    return n->training ? new_mem(n, &n->dact[li], md, err) : 0;
}

/* An attribute with the shared scratchpad and, when fuse_relu, a ReLU post-op. */
static int layer_attr(dnnl_primitive_attr_t *attr, int fuse_relu, lr_error *err) {
    dnnl_post_ops_t po;
    CHECK_DNNL(dnnl_primitive_attr_create(attr), "primitive_attr_create");
    CHECK_DNNL(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode");
    if (!fuse_relu) return 0;
    CHECK_DNNL(dnnl_post_ops_create(&po), "post_ops_create");
    dnnl_status_t st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(*attr, po);
    dnnl_post_ops_destroy(po);
    CHECK_DNNL(st, "post_ops_append_eltwise(relu)");
    return 0;
}

/* Element-wise backward: relu from the stored output (dst), the others
 * from the input (src); dsrc may be ddst (in place). */
static int eltwise_backward(net_dnnl *n, dnnl_alg_kind_t alg, float alpha, dnnl_memory_t data, dnnl_memory_t ddst,
                            dnnl_memory_t dsrc, const dnnl_memory_desc_t *md, lr_error *err) {
    dnnl_eltwise_desc_t fd, bd;
    dnnl_primitive_desc_t hint, pd;
    dnnl_primitive_t p;
    CHECK_DNNL(dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training, alg, md, alpha, 0.0f),
               "eltwise_forward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&hint, &fd, NULL, n->eng, NULL), "eltwise fwd pd");
    if (keep_pd(n, hint, err)) return -1;
    CHECK_DNNL(dnnl_eltwise_backward_desc_init(&bd, alg, md, md, alpha, 0.0f), "eltwise_backward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&pd, &bd, n->attr, n->eng, hint), "eltwise bwd pd");
    if (keep_pd(n, pd, err) || make_prim(n, &p, pd, err)) return -1;
    int data_arg = alg == dnnl_eltwise_relu_use_dst_for_bwd ? DNNL_ARG_DST : DNNL_ARG_SRC;
    return bwd_op(n, p, 3, ARGS(data_arg, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC), MEMS(data, ddst, dsrc), err);
}

/* ---- algorithm choice ---- */

/* Times the primitives of count descriptors on scratch memories: after a
 * warm-up, each runs once per round, in turn, for TIMING_ROUNDS rounds, and
 * keeps its best time (ms; 1e30 when it cannot run). Interleaving makes
 * the comparison fair when the machine's load changes while we measure. */
#define TIMING_ROUNDS 5
static void time_pds(net_dnnl *n, const_dnnl_primitive_desc_t *pds, int count, double *ms) {
    static const int kinds[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_BIAS,
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


/* ---- convolution ---- */

typedef struct {
    const layer_spec *l;
    dnnl_memory_desc_t src, wany, bias, dst, dwany;
    int has_bias;
    const_dnnl_primitive_attr_t attr;
    int fwd_prop;
} conv_ctx;

static void conv_geometry(const layer_spec *l, dnnl_dims_t strides, dnnl_dims_t pad_l, dnnl_dims_t pad_r) {
    strides[0] = strides[1] = l->u.conv.stride;
    pad_l[0] = pad_l[1] = l->u.conv.pad;
    pad_r[0] = pad_r[1] = l->u.conv.pad_end;
}

static dnnl_status_t make_conv_fwd(net_dnnl *n, dnnl_alg_kind_t alg, void *vctx,
                                   dnnl_primitive_desc_t *pd) {
    conv_ctx *c = vctx;
    dnnl_convolution_desc_t d;
    dnnl_dims_t strides, pl, pr;
    conv_geometry(c->l, strides, pl, pr);
    dnnl_status_t st = dnnl_convolution_forward_desc_init(&d, c->fwd_prop, alg, &c->src, &c->wany,
                                                          c->has_bias ? &c->bias : NULL, &c->dst, strides, pl, pr);
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
    dnnl_dims_t strides, pl, pr;
    conv_geometry(c->l, strides, pl, pr);
    st = pass == CONV_PASS_BWD_DATA
             ? dnnl_convolution_backward_data_desc_init(&d, alg, &c->src, &c->wany, &c->dst, strides, pl, pr)
             : dnnl_convolution_backward_weights_desc_init(&d, alg, &c->src, &c->dwany, c->has_bias ? &c->bias : NULL,
                                                           &c->dst, strides, pl, pr);
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

/* The layer's bias in the flat arrays, or -1. */
static long bias_offset(const model_spec *m, const layer_spec *l) {
    for (int t = l->tensor0; t < l->tensor0 + l->n_tensors; t++)
        if (m->tensors[t].role == TENSOR_BIAS) return m->tensors[t].offset;
    return -1;
}

/* The caller's weights, bias and their gradients for layer l, in PyTorch's layout. */
static int user_weights(net_dnnl *n, int li, const dnnl_memory_desc_t *want_md, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    dnnl_memory_desc_t md;
    dnnl_dims_t dims;
    int nd = want_md->ndims;
    for (int i = 0; i < nd; i++) dims[i] = want_md->dims[i];
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&md, nd, dims, dnnl_f32, nd == 4 ? dnnl_abcd : dnnl_ab),
               "memory_desc_init(weights)");
    if (new_mem_unbound(n, &n->user_w[li], &md, err)) return -1;
    if (n->training && new_mem_unbound(n, &n->user_dw[li], &md, err)) return -1;
    if (bias_offset(n->m, l) < 0) return 0;
    dnnl_dims_t bdims = {l->c};
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&md, 1, bdims, dnnl_f32, dnnl_a), "memory_desc_init(bias)");
    if (new_mem_unbound(n, &n->user_b[li], &md, err)) return -1;
    if (n->training && new_mem_unbound(n, &n->user_db[li], &md, err)) return -1;
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
    if (new_mem(n, out, md, err) || make_reorder(n, &r, n->user_w[li], *out, 0, err)) return -1;
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
    return new_mem(n, out, md, err) || make_reorder(n, reorder, *out, n->user_dw[li], 0, err) ? -1 : 0;
}

/* The backward-weights op (and the reorder of its weight gradient into the caller's array). */
static int add_bwd_weights(net_dnnl *n, int li, const_dnnl_primitive_desc_t wpd, dnnl_memory_t src,
                           dnnl_memory_t ddst, lr_error *err) {
    dnnl_memory_t dw;
    dnnl_primitive_t p, dw_reorder;
    if (dweights_for(n, li, pd_md(wpd, DNNL_ARG_DIFF_WEIGHTS), &dw, &dw_reorder, err) || make_prim(n, &p, wpd, err))
        return -1;
    int rc = n->user_db[li]
                 ? bwd_op(n, p, 4, ARGS(DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS),
                          MEMS(src, ddst, dw, n->user_db[li]), err)
                 : bwd_op(n, p, 3, ARGS(DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS), MEMS(src, ddst, dw), err);
    if (rc) return -1;
    if (dw_reorder && bwd_op(n, dw_reorder, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(dw, n->user_dw[li]), err))
        return -1;
    return 0;
}

/* The forward op of a weighted layer, with its bias when it has one. */
static int add_fwd_weighted(net_dnnl *n, int li, dnnl_primitive_t p, dnnl_memory_t src, dnnl_memory_t w,
                            lr_error *err) {
    if (n->user_b[li])
        return fwd_op(n, p, 4, ARGS(DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST),
                      MEMS(src, w, n->user_b[li], n->act[li]), err);
    return fwd_op(n, p, 3, ARGS(DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST), MEMS(src, w, n->act[li]), err);
}

/* The descriptors of layer l computed in dt: the input's own as the
 * source when it already has that type, else oneDNN's choice. */
static int conv_ctx_init(net_dnnl *n, conv_ctx *c, const layer_spec *l, dnnl_data_type_t dt, lr_error *err) {
    *c = (conv_ctx){.l = l, .fwd_prop = n->training ? dnnl_forward_training : dnnl_forward_inference};
    dnnl_dims_t src_dims = {n->batch, l->in_c, l->in_h, l->in_w};
    dnnl_dims_t w_dims = {l->c, l->in_c, l->u.conv.k, l->u.conv.k};
    dnnl_dims_t dst_dims = {n->batch, l->c, l->h, l->w};
    dnnl_dims_t b_dims = {l->c};
    const dnnl_memory_desc_t *in = md_of(n, l->in[0]);
    if (in->data_type == dt && in->ndims == 4 && !is_plain(in)) c->src = *in; /* else oneDNN's choice: blocked */
    else CHECK_DNNL(dnnl_memory_desc_init_by_tag(&c->src, 4, src_dims, dt, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&c->wany, 4, w_dims, dt, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&c->dwany, 4, w_dims, dnnl_f32, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&c->dst, 4, dst_dims, dt, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&c->bias, 1, b_dims, dnnl_f32, dnnl_a), "md");
    c->has_bias = l->u.conv.bias;
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
 * reorder per step), written where grad_target says. */
static int add_bwd_data(net_dnnl *n, int li, const_dnnl_primitive_desc_t dpd, const_dnnl_primitive_desc_t fpd,
                        dnnl_memory_t w, dnnl_memory_t ddst, lr_error *err) {
    dnnl_memory_t wb = w, dsrc;
    dnnl_primitive_t p;
    const dnnl_memory_desc_t *wbmd = pd_md(dpd, DNNL_ARG_WEIGHTS);
    if (!dnnl_memory_desc_equal(wbmd, pd_md(fpd, DNNL_ARG_WEIGHTS)) && weights_for(n, li, wbmd, 0, &wb, err))
        return -1;
    if (grad_target(n, li, 0, pd_md(dpd, DNNL_ARG_DIFF_SRC), &dsrc, err) || make_prim(n, &p, dpd, err) ||
        bwd_op(n, p, 3, ARGS(DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC), MEMS(ddst, wb, dsrc), err))
        return -1;
    return finish_grad(n, li, 0, dsrc, err);
}

static int build_conv(net_dnnl *n, int li, int fuse_relu, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    int first = !n->training || l->in[0] == MODEL_INPUT; /* no gradient wanted for the network's input */
    conv_choice *choice = &n->convs[n->n_convs++];
    snprintf(choice->name, sizeof choice->name, "%s", l->name);
    memset(choice->algo, '-', CONV_PASSES);
    /* this layer's precision: recorded, chosen by timing, or as asked */
    dnnl_data_type_t dt = n->conv_dt;
    if (n->forced) {
        const char *s = forced_letters(n, n->n_convs - 1, err);
        if (!s) return -1;
        dt = s[CONV_PASS_FWD] == 'D' ? dnnl_bf16 : dnnl_f32;
    } else if (dt == dnnl_bf16 && n->algo == CONV_ALGO_AUTO && pick_precision(n, choice, l, first, &dt, err)) {
        return -1;
    }
    choice->bf16 = dt == dnnl_bf16;
    conv_ctx c;
    if (conv_ctx_init(n, &c, l, dt, err)) return -1;
    dnnl_primitive_attr_t attr = NULL;
    if (fuse_relu && layer_attr(&attr, 1, err)) return -1;
    c.attr = attr;
    dnnl_primitive_desc_t fpd = NULL;
    int rc = choose_pd(n, choice, CONV_PASS_FWD, make_conv_fwd, &c, &fpd, err);
    if (attr) dnnl_primitive_attr_destroy(attr);
    c.attr = NULL;
    if (rc) return -1;
    /* From here on every pass uses the forward's actual layouts. */
    c.src = *pd_md(fpd, DNNL_ARG_SRC);
    c.dst = *pd_md(fpd, DNNL_ARG_DST);
    dnnl_memory_t src, w;
    dnnl_primitive_t p;
    if (input_as(n, li, 0, &c.src, &src, err) || user_weights(n, li, &c.wany, err) ||
        weights_for(n, li, pd_md(fpd, DNNL_ARG_WEIGHTS), 1, &w, err) || make_prim(n, &p, fpd, err) ||
        new_output(n, li, &c.dst, err) || add_fwd_weighted(n, li, p, src, w, err))
        return -1;
    if (!n->training) return 0;
    dnnl_memory_t ddst = n->dact[li];
    if (fuse_relu && eltwise_backward(n, dnnl_eltwise_relu_use_dst_for_bwd, 0.0f, n->act[li], ddst, ddst, &c.dst, err))
        return -1;
    dnnl_primitive_desc_t wpd = NULL;
    if (choose_pd(n, choice, CONV_PASS_BWD_WEIGHTS, make_conv_bwd_weights, &c, &wpd, err) ||
        add_bwd_weights(n, li, wpd, src, ddst, err))
        return -1;
    if (first) return 0;
    dnnl_primitive_desc_t dpd = NULL;
    if (choose_pd(n, choice, CONV_PASS_BWD_DATA, make_conv_bwd_data, &c, &dpd, err)) return -1;
    return add_bwd_data(n, li, dpd, fpd, w, ddst, err);
}

/* ---- pooling, element-wise, add, linear ---- */

static int build_pool(net_dnnl *n, int li, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    int global = l->kind == LAYER_GLOBAL_AVGPOOL;
    dnnl_alg_kind_t alg = l->kind == LAYER_MAXPOOL ? dnnl_pooling_max : dnnl_pooling_avg_include_padding;
    int k = l->u.pool.k, s = l->u.pool.stride, p = l->u.pool.pad;
    dnnl_dims_t dst_dims = {n->batch, l->c, l->h, l->w};
    dnnl_dims_t strides = {global ? l->in_h : s, global ? l->in_w : s}, kernel = {global ? l->in_h : k, global ? l->in_w : k};
    dnnl_dims_t pad_l = {global ? 0 : p, global ? 0 : p}, pad_r;
    /* the padding after: what makes the output size (floor mode: the last window may stop short) */
    for (int d = 0; d < 2; d++) {
        int in = d ? l->in_w : l->in_h, out = d ? l->w : l->h;
        pad_r[d] = (out - 1) * strides[d] + kernel[d] - in - pad_l[d];
        if (pad_r[d] < 0) pad_r[d] = 0;
    }
    dnnl_memory_desc_t src_md = *md_of(n, l->in[0]), dst_md;
    if (src_md.ndims != 4) return lr_fail(err, "internal: pooling of a flat tensor");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, src_md.data_type, dnnl_format_tag_any), "md");
    dnnl_pooling_desc_t fd, bd;
    dnnl_primitive_desc_t fpd, bpd;
    CHECK_DNNL(dnnl_pooling_forward_desc_init(&fd, n->training ? dnnl_forward_training : dnnl_forward_inference,
                                              alg, &src_md, &dst_md, strides, kernel, pad_l, pad_r),
               "pooling_forward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&fpd, &fd, n->attr, n->eng, NULL), "pooling fwd pd");
    if (keep_pd(n, fpd, err)) return -1;
    dst_md = *pd_md(fpd, DNNL_ARG_DST);
    dnnl_memory_t src = act_of(n, l->in[0]), ws = NULL, dsrc;
    dnnl_primitive_t prim;
    const dnnl_memory_desc_t *ws_md = pd_md(fpd, DNNL_ARG_WORKSPACE);
    if (ws_md && ws_md->ndims && new_mem(n, &ws, ws_md, err)) return -1;
    if (make_prim(n, &prim, fpd, err) || new_output(n, li, &dst_md, err)) return -1;
    if (ws ? fwd_op(n, prim, 3, ARGS(DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE), MEMS(src, n->act[li], ws), err)
           : fwd_op(n, prim, 2, ARGS(DNNL_ARG_SRC, DNNL_ARG_DST), MEMS(src, n->act[li]), err))
        return -1;
    if (grad_target(n, li, 0, &src_md, &dsrc, err)) return -1;
    if (!dsrc) return 0;
    CHECK_DNNL(dnnl_pooling_backward_desc_init(&bd, alg, &src_md, &dst_md, strides, kernel, pad_l, pad_r),
               "pooling_backward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&bpd, &bd, n->attr, n->eng, fpd), "pooling bwd pd");
    if (keep_pd(n, bpd, err) || make_prim(n, &prim, bpd, err)) return -1;
    if (ws ? bwd_op(n, prim, 3, ARGS(DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_WORKSPACE), MEMS(n->dact[li], dsrc, ws), err)
           : bwd_op(n, prim, 2, ARGS(DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC), MEMS(n->dact[li], dsrc), err))
        return -1;
    return finish_grad(n, li, 0, dsrc, err);
}

/* relu, gelu (erf) and scale (x * c: eltwise linear). */
static int build_eltwise(net_dnnl *n, int li, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    dnnl_alg_kind_t alg = l->kind == LAYER_RELU   ? dnnl_eltwise_relu_use_dst_for_bwd
                          : l->kind == LAYER_GELU ? dnnl_eltwise_gelu_erf
                                                  : dnnl_eltwise_linear;
    float alpha = l->kind == LAYER_SCALE ? (float)l->u.scale.c : 0.0f;
    dnnl_memory_desc_t md = *md_of(n, l->in[0]);
    dnnl_eltwise_desc_t fd;
    dnnl_primitive_desc_t fpd;
    CHECK_DNNL(dnnl_eltwise_forward_desc_init(&fd, n->training ? dnnl_forward_training : dnnl_forward_inference,
                                              alg, &md, alpha, 0.0f),
               "eltwise_forward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(&fpd, &fd, n->attr, n->eng, NULL), "eltwise fwd pd");
    dnnl_memory_t src = act_of(n, l->in[0]), dsrc;
    dnnl_primitive_t p;
    if (keep_pd(n, fpd, err) || make_prim(n, &p, fpd, err) || new_output(n, li, &md, err) ||
        fwd_op(n, p, 2, ARGS(DNNL_ARG_SRC, DNNL_ARG_DST), MEMS(src, n->act[li]), err) ||
        grad_target(n, li, 0, &md, &dsrc, err))
        return -1;
    if (!dsrc) return 0;
    dnnl_memory_t data = l->kind == LAYER_RELU ? n->act[li] : src;
    return eltwise_backward(n, alg, alpha, data, n->dact[li], dsrc, &md, err) || finish_grad(n, li, 0, dsrc, err);
}

/* add: a binary primitive, its second input in the first's layout; with
 * fuse_relu the ReLU after it as a post-op (a residual block's last
 * ReLU), its backward in place on the output's gradient. */
static int build_add(net_dnnl *n, int li, int fuse_relu, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    /* in the layout of the blocked input when one is plain (the shortcut's) */
    int first = is_plain(md_of(n, l->in[0])) && !is_plain(md_of(n, l->in[1])) ? 1 : 0;
    dnnl_memory_desc_t md = *md_of(n, l->in[first]), dst_md;
    dnnl_memory_t a, b;
    dnnl_binary_desc_t d;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    if (input_as(n, li, 0, &md, &a, err) || input_as(n, li, 1, &md, &b, err)) return -1;
    dnnl_primitive_attr_t attr = NULL;
    CHECK_DNNL(dnnl_binary_desc_init(&d, dnnl_binary_add, &md, &md, &md), "binary_desc_init");
    if (layer_attr(&attr, fuse_relu, err)) return -1;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, &d, attr, n->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    CHECK_DNNL(st, "binary pd");
    dst_md = *pd_md(pd, DNNL_ARG_DST);
    if (keep_pd(n, pd, err) || make_prim(n, &p, pd, err) || new_output(n, li, &dst_md, err) ||
        fwd_op(n, p, 3, ARGS(DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST), MEMS(a, b, n->act[li]), err))
        return -1;
    if (fuse_relu && n->training &&
        eltwise_backward(n, dnnl_eltwise_relu_use_dst_for_bwd, 0.0f, n->act[li], n->dact[li], n->dact[li], &dst_md, err))
        return -1;
    /* backward: the later slot first (see overwrites) */
    return pass_grad(n, li, 1, err) || pass_grad(n, li, 0, err) ? -1 : 0;
}

static int build_linear(net_dnnl *n, int li, int fuse_relu, int last, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    dnnl_memory_desc_t src_md, w_any, dw_any, dst_md, b_md;
    const dnnl_memory_desc_t *cur = md_of(n, l->in[0]);
    dnnl_dims_t w_dims = {l->c, 0, 0, 0};
    int nd = cur->ndims;
    for (int i = 1; i < nd; i++) w_dims[i] = cur->dims[i];
    dnnl_dims_t dst_dims = {n->batch, l->c}, b_dims = {l->c};
    /* The linear layers are tiny: always f32. */
    if (cur->data_type == dnnl_f32) src_md = *cur;
    else CHECK_DNNL(dnnl_memory_desc_init_by_tag(&src_md, nd, cur->dims, dnnl_f32, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&w_any, nd, w_dims, dnnl_f32, dnnl_format_tag_any), "md");
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_a), "md");
    dw_any = w_any;
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, dnnl_f32, last ? dnnl_ab : dnnl_format_tag_any), "md");
    const dnnl_memory_desc_t *bias = l->u.linear.bias ? &b_md : NULL;
    dnnl_inner_product_desc_t fd, dd, wd;
    dnnl_primitive_desc_t fpd, dpd, wpd;
    dnnl_primitive_attr_t attr = NULL;
    if (layer_attr(&attr, fuse_relu, err)) return -1;
    dnnl_status_t st = dnnl_inner_product_forward_desc_init(
        &fd, n->training ? dnnl_forward_training : dnnl_forward_inference, &src_md, &w_any, bias, &dst_md);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&fpd, &fd, attr, n->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    CHECK_DNNL(st, "inner product fwd pd");
    if (keep_pd(n, fpd, err)) return -1;
    src_md = *pd_md(fpd, DNNL_ARG_SRC);
    dst_md = *pd_md(fpd, DNNL_ARG_DST);
    dnnl_memory_t src, w;
    dnnl_primitive_t p;
    if (input_as(n, li, 0, &src_md, &src, err) || user_weights(n, li, &w_any, err) ||
        weights_for(n, li, pd_md(fpd, DNNL_ARG_WEIGHTS), 1, &w, err) || make_prim(n, &p, fpd, err) ||
        new_output(n, li, &dst_md, err) || add_fwd_weighted(n, li, p, src, w, err))
        return -1;
    if (!n->training) return 0;
    dnnl_memory_t ddst = n->dact[li];
    if (fuse_relu && eltwise_backward(n, dnnl_eltwise_relu_use_dst_for_bwd, 0.0f, n->act[li], ddst, ddst, &dst_md, err))
        return -1;
    CHECK_DNNL(dnnl_inner_product_backward_weights_desc_init(&wd, &src_md, &dw_any, bias, &dst_md), "ip bwd weights desc");
    CHECK_DNNL(dnnl_primitive_desc_create(&wpd, &wd, n->attr, n->eng, fpd), "ip bwd weights pd");
    if (keep_pd(n, wpd, err) || add_bwd_weights(n, li, wpd, src, ddst, err)) return -1;
    if (l->in[0] == MODEL_INPUT) return 0;
    CHECK_DNNL(dnnl_inner_product_backward_data_desc_init(&dd, &src_md, &w_any, &dst_md), "ip bwd data desc");
    CHECK_DNNL(dnnl_primitive_desc_create(&dpd, &dd, n->attr, n->eng, fpd), "ip bwd data pd");
    if (keep_pd(n, dpd, err)) return -1;
    return add_bwd_data(n, li, dpd, fpd, w, ddst, err);
}

/* flatten (and an identity shortcut): nothing to compute; the next layer takes the tensor as it is. */
static int build_flatten(net_dnnl *n, int li, lr_error *err) {
    int j = n->m->layers[li].in[0];
    n->md[li] = *md_of(n, j);
    n->act[li] = act_of(n, j);
    if (n->training && new_mem(n, &n->dact[li], &n->md[li], err)) return -1;
    return pass_grad(n, li, 0, err);
}

/* ---- the kinds without a primitive: the reference kernels on plain NCHW ---- */

static void *handle(dnnl_memory_t m) {
    void *h = NULL;
    if (m) dnnl_memory_get_data_handle(m, &h);
    return h;
}

static ref_layer_ctx ref_ctx(const net_dnnl *n) {
    return (ref_layer_ctx){.m = n->m, .B = n->count, .training = n->train_mode, .seed = n->seed, .step = n->step,
                           .params = n->params, .buffers = n->buffers, .grads = n->grads, .bn_sum = n->bn_sum};
}

static int fallback_forward(net_dnnl *n, int li, lr_error *err) {
    fallback *f = &n->fb[li];
    ref_layer_ctx c = ref_ctx(n);
    return ref_layer_forward(&c, li, handle(f->in[0]), handle(f->in[1]), handle(f->out), f->aux, err);
}

static int fallback_backward(net_dnnl *n, int li, lr_error *err) {
    fallback *f = &n->fb[li];
    const layer_spec *l = &n->m->layers[li];
    ref_layer_ctx c = ref_ctx(n);
    for (int k = 0; k < 2; k++) /* whole buffers: rows past count stay zero */
        if (f->din[k]) {
            const dnnl_memory_desc_t *md;
            dnnl_memory_get_memory_desc(f->din[k], &md);
            memset(handle(f->din[k]), 0, dnnl_memory_desc_get_size(md));
        }
    if (l->param_count) memset(n->grads + l->param_offset, 0, (size_t)l->param_count * sizeof(float));
    return ref_layer_backward(&c, li, handle(f->in[0]), handle(f->out), handle(f->dout), handle(f->din[0]),
                              handle(f->din[1]), f->aux, err);
}

/* A plain f32 descriptor of dims (abcd, or ab when 2-D). */
static int plain_md(dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims, lr_error *err) {
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, nd == 4 ? dnnl_abcd : dnnl_ab), "md");
    return 0;
}

/* The reference kernels for layer li: its inputs and output gradient
 * reordered into plain NCHW buffers and back. The output is plain too,
 * unless the layer already has one (BatchNorm's partial batches): then a
 * plain copy reordered into it. */
static int build_fallback(net_dnnl *n, int li, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    fallback *f = &n->fb[li];
    int native = n->act[li] != NULL;
    for (int k = 0; k < l->n_in; k++) {
        const dnnl_memory_desc_t *in = md_of(n, l->in[k]);
        dnnl_memory_desc_t want;
        if (plain_md(&want, in->ndims, in->dims, err) || input_as(n, li, k, &want, &f->in[k], err) ||
            grad_target(n, li, k, &want, &f->din[k], err))
            return -1;
    }
    const dnnl_memory_desc_t *in = md_of(n, l->in[0]);
    dnnl_dims_t dims = {n->batch, l->c, l->h, l->w};
    dnnl_memory_desc_t out;
    if (plain_md(&out, in->ndims == 2 ? 2 : 4, dims, err)) return -1;
    if (native ? new_mem(n, &f->out, &out, err) || (n->training && new_mem(n, &f->dout, &out, err))
               : new_output(n, li, &out, err))
        return -1;
    if (!native) f->out = n->act[li], f->dout = n->dact[li];
    long aux = ref_layer_aux_size(l, n->batch);
    if (aux && !(f->aux = lr_calloc((size_t)aux, sizeof(float), "layer state", err))) return -1;
    if (aux) n->bufs[n->n_bufs++] = f->aux;
    dnnl_primitive_t r;
    if (fn_op(n, n->fwd, &n->n_fwd, fallback_forward, li, err) ||
        (native && (make_reorder(n, &r, f->out, n->act[li], 0, err) ||
                    fwd_op(n, r, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(f->out, n->act[li]), err))))
        return -1;
    if (!n->training) return 0;
    if (native && (make_reorder(n, &r, n->dact[li], f->dout, 0, err) ||
                   bwd_op(n, r, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(n->dact[li], f->dout), err)))
        return -1;
    if (fn_op(n, n->bops, &n->n_bops, fallback_backward, li, err)) return -1;
    for (int k = l->n_in - 1; k >= 0; k--)
        if (finish_grad(n, li, k, f->din[k], err)) return -1;
    return 0;
}

/* ---- hand-written kernels on oneDNN's blocked layouts (blocked.h) ---- */

/* The channel block of md when it is a dense f32 (N, C/cb, H, W, cb)
 * layout the kernels of blocked.h take (cb 1: plain NCHW), else 0. */
static int blk_cb(const dnnl_memory_desc_t *md) {
    if (md->ndims != 4 || md->data_type != dnnl_f32 || md->format_kind != dnnl_blocked || md->offset0) return 0;
    const dnnl_blocking_desc_t *bd = &md->format_desc.blocking;
    int cb = bd->inner_nblks == 0 ? 1 : bd->inner_nblks == 1 && bd->inner_idxs[0] == 1 ? (int)bd->inner_blks[0] : 0;
    if (cb != 1 && cb != 8 && cb != 16) return 0;
    dnnl_dim_t C = md->dims[1], H = md->dims[2], W = md->dims[3], CP = (C + cb - 1) / cb * cb;
    if (md->padded_dims[0] != md->dims[0] || md->padded_dims[1] != CP || md->padded_dims[2] != H ||
        md->padded_dims[3] != W)
        return 0;
    for (int d = 0; d < 4; d++)
        if (md->padded_offsets[d]) return 0;
    int dense = bd->strides[3] == cb && bd->strides[2] == W * cb && bd->strides[1] == H * W * cb &&
                bd->strides[0] == CP * H * W;
    return dense ? cb : 0;
}

static blk_shape blk_shape_of(const dnnl_memory_desc_t *md) {
    return (blk_shape){(int)md->dims[0], (int)md->dims[1], (int)(md->dims[2] * md->dims[3]), blk_cb(md)};
}

/* The tensor (dims) in the same kind of blocked layout as like. */
static int blk_md_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *like, const dnnl_dims_t dims, lr_error *err) {
    int cb = blk_cb(like);
    dnnl_format_tag_t tag = cb == 16 ? dnnl_nChw16c : cb == 8 ? dnnl_nChw8c : dnnl_nchw;
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag), "md");
    return 0;
}

static float *buffer_of(const net_dnnl *n, int li, tensor_role role) {
    const layer_spec *l = &n->m->layers[li];
    for (int t = l->tensor0; t < l->tensor0 + l->n_tensors; t++)
        if (n->m->tensors[t].role == role) return n->buffers + n->m->tensors[t].offset;
    return NULL;
}

static int bn_blk_forward(net_dnnl *n, int li, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    const blk_layer *k = &n->blk[li];
    if (!n->buffers) return lr_fail(err, "net_forward: the model has BatchNorm buffers: net_set_buffers first");
    const float *g = l->u.bn.affine ? n->params + l->param_offset : NULL;
    const float *b = l->u.bn.affine ? n->params + bias_offset(n->m, l) : NULL;
    float *nb = buffer_of(n, li, TENSOR_NUM_BATCHES);
    blk_batchnorm_forward(handle(n->act[li]), handle(n->batch_mean[li]), handle(n->batch_var[li]),
                          handle(act_of(n, l->in[0])), g, b, buffer_of(n, li, TENSOR_RUNNING_MEAN),
                          buffer_of(n, li, TENSOR_RUNNING_VAR), n->train_mode, l->u.bn.eps,
                          model_bn_factor(&l->u.bn, nb ? *nb + 1.0 : 1.0), k->relu, n->count, &k->in, n->blk_scratch);
    if (n->train_mode && nb) *nb += 1.0f;
    return 0;
}

static int bn_blk_backward(net_dnnl *n, int li, lr_error *err) {
    (void)err;
    const layer_spec *l = &n->m->layers[li];
    const blk_layer *k = &n->blk[li];
    int affine = l->u.bn.affine;
    long bo = affine ? bias_offset(n->m, l) : 0;
    blk_batchnorm_backward(handle(k->din), affine ? n->grads + l->param_offset : NULL, affine ? n->grads + bo : NULL,
                           handle(n->dact[li]), handle(act_of(n, l->in[0])), affine ? n->params + l->param_offset : NULL,
                           affine ? n->params + bo : NULL, handle(n->batch_mean[li]), handle(n->batch_var[li]),
                           n->train_mode, k->relu, n->count, &k->in, n->blk_scratch);
    return 0;
}

/* BatchNorm (and the ReLU after it, fuse_relu) by blocked.h's kernels on
 * its input's layout: one op forward and one backward in every mode, a
 * partial batch included. batch_mean/batch_var keep the saved mean and
 * invstd. */
static int build_bn_blocked(net_dnnl *n, int li, int fuse_relu, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    blk_layer *k = &n->blk[li];
    dnnl_memory_desc_t md = *md_of(n, l->in[0]), cmd;
    dnnl_dims_t cdims = {l->c};
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&cmd, 1, cdims, dnnl_f32, dnnl_a), "md");
    k->in = k->out = blk_shape_of(&md);
    k->relu = fuse_relu;
    long need = blk_bn_scratch(&k->in);
    if (need > n->blk_scratch_size) n->blk_scratch_size = need;
    if (new_output(n, li, &md, err) || new_mem(n, &n->batch_mean[li], &cmd, err) ||
        new_mem(n, &n->batch_var[li], &cmd, err) || fn_op(n, n->fwd, &n->n_fwd, bn_blk_forward, li, err))
        return -1;
    if (!n->training) return 0;
    return grad_target(n, li, 0, &md, &k->din, err) || fn_op(n, n->bops, &n->n_bops, bn_blk_backward, li, err) ||
                   finish_grad(n, li, 0, k->din, err)
               ? -1
               : 0;
}

static int shortcut_blk_forward(net_dnnl *n, int li, lr_error *err) {
    (void)err;
    const layer_spec *l = &n->m->layers[li];
    const blk_layer *k = &n->blk[li];
    blk_shortcut_forward(handle(n->act[li]), handle(act_of(n, l->in[0])), &k->out, &k->in, l->in_h, l->in_w, l->h, l->w,
                         l->u.shortcut.stride);
    return 0;
}

static int shortcut_blk_backward(net_dnnl *n, int li, lr_error *err) {
    (void)err;
    const layer_spec *l = &n->m->layers[li];
    const blk_layer *k = &n->blk[li];
    blk_shortcut_backward(handle(k->din), handle(n->dact[li]), &k->out, &k->in, l->in_h, l->in_w, l->h, l->w,
                          l->u.shortcut.stride);
    return 0;
}

/* The option-A shortcut on its input's blocked layout; its output in the
 * same kind of layout (what the add after it wants). */
static int build_shortcut(net_dnnl *n, int li, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    blk_layer *k = &n->blk[li];
    const dnnl_memory_desc_t *in = md_of(n, l->in[0]);
    if (l->u.shortcut.stride == 1 && l->c == l->in_c) return build_flatten(n, li, err); /* the identity */
    if (!blk_cb(in)) return build_fallback(n, li, err);
    dnnl_dims_t dims = {n->batch, l->c, l->h, l->w};
    dnnl_memory_desc_t md;
    if (blk_md_like(&md, in, dims, err)) return -1;
    k->in = blk_shape_of(in), k->out = blk_shape_of(&md);
    if (new_output(n, li, &md, err) || fn_op(n, n->fwd, &n->n_fwd, shortcut_blk_forward, li, err)) return -1;
    if (!n->training) return 0;
    if (grad_target(n, li, 0, in, &k->din, err)) return -1;
    if (!k->din) return 0;
    return fn_op(n, n->bops, &n->n_bops, shortcut_blk_backward, li, err) || finish_grad(n, li, 0, k->din, err) ? -1 : 0;
}

static int dropout_blk_forward(net_dnnl *n, int li, lr_error *err) {
    (void)err;
    const layer_spec *l = &n->m->layers[li];
    const blk_layer *k = &n->blk[li];
    const float *x = handle(act_of(n, l->in[0]));
    if (n->train_mode)
        blk_dropout_forward(handle(n->act[li]), handle(k->noise), x, l->u.dropout.p, n->seed,
                            n->step * MODEL_MAX_LAYERS + (uint64_t)li, n->count, &k->in);
    else memcpy(handle(n->act[li]), x, (size_t)blk_size(&k->in) * sizeof(float));
    return 0;
}

static int dropout_blk_backward(net_dnnl *n, int li, lr_error *err) {
    (void)err;
    const blk_layer *k = &n->blk[li];
    if (n->train_mode) blk_dropout_backward(handle(k->din), handle(n->dact[li]), handle(k->noise), &k->in);
    else memcpy(handle(k->din), handle(n->dact[li]), (size_t)blk_size(&k->in) * sizeof(float));
    return 0;
}

/* Dropout on its input's blocked layout (the reference's mask, blocked.h);
 * a flat input through the reference kernels. */
static int build_dropout(net_dnnl *n, int li, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    blk_layer *k = &n->blk[li];
    const dnnl_memory_desc_t *in = md_of(n, l->in[0]);
    if (!blk_cb(in)) return build_fallback(n, li, err);
    k->in = k->out = blk_shape_of(in);
    if (new_output(n, li, in, err) || new_mem(n, &k->noise, in, err) ||
        fn_op(n, n->fwd, &n->n_fwd, dropout_blk_forward, li, err))
        return -1;
    if (!n->training) return 0;
    if (grad_target(n, li, 0, in, &k->din, err)) return -1;
    if (!k->din) return 0;
    return fn_op(n, n->bops, &n->n_bops, dropout_blk_backward, li, err) || finish_grad(n, li, 0, k->din, err) ? -1 : 0;
}

/* ---- batch normalisation ---- */

/* After a training pass on a full batch: the running statistics as
 * PyTorch updates them (ref_batchnorm_forward): oneDNN gives the batch mean
 * and the biased variance; running_var takes the unbiased one. */
static int bn_update_running(net_dnnl *n, int li, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    if (!n->buffers) return lr_fail(err, "net_forward: the model has BatchNorm buffers: net_set_buffers first");
    const float *mean = handle(n->batch_mean[li]), *var = handle(n->batch_var[li]);
    float *rm = handle(n->running_mean[li]), *rv = handle(n->running_var[li]);
    double count = (double)n->count * l->h * l->w;
    float *nb = buffer_of(n, li, TENSOR_NUM_BATCHES);
    double mom = model_bn_factor(&l->u.bn, nb ? *nb + 1.0 : 1.0);
    for (int c = 0; c < l->c; c++) {
        double unbiased = count > 1 ? var[c] * count / (count - 1) : var[c];
        rm[c] = (float)(mom * mean[c] + (1.0 - mom) * rm[c]);
        rv[c] = (float)(mom * unbiased + (1.0 - mom) * rv[c]);
    }
    if (nb) *nb += 1.0f;
    return 0;
}

static int bn_pds(net_dnnl *n, const dnnl_memory_desc_t *md, double eps, unsigned flags, dnnl_primitive_desc_t *fpd,
                  dnnl_primitive_desc_t *bpd, int training, lr_error *err) {
    dnnl_batch_normalization_desc_t fd, bd;
    CHECK_DNNL(dnnl_batch_normalization_forward_desc_init(&fd, training ? dnnl_forward_training : dnnl_forward_inference,
                                                          md, (float)eps, flags),
               "batch_normalization_forward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(fpd, &fd, n->attr, n->eng, NULL), "batchnorm fwd pd");
    if (keep_pd(n, *fpd, err)) return -1;
    if (!n->training) return 0;
    CHECK_DNNL(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, md, md, (float)eps, flags),
               "batch_normalization_backward_desc_init");
    CHECK_DNNL(dnnl_primitive_desc_create(bpd, &bd, n->attr, n->eng, *fpd), "batchnorm bwd pd");
    return keep_pd(n, *bpd, err);
}

static int build_batchnorm(net_dnnl *n, int li, int fuse_relu, lr_error *err) {
    const layer_spec *l = &n->m->layers[li];
    dnnl_memory_desc_t md = *md_of(n, l->in[0]), cmd;
    /* --sync-bn: the reference kernels, which sum the statistics over the ranks */
    if (n->bn_sum) return build_fallback(n, li, err);
    if (blk_cb(&md)) return build_bn_blocked(n, li, fuse_relu, err);
    if (md.ndims != 4 || md.data_type != dnnl_f32) return build_fallback(n, li, err);
    dnnl_dims_t cdims = {l->c};
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&cmd, 1, cdims, dnnl_f32, dnnl_a), "md");
    unsigned flags = l->u.bn.affine ? dnnl_use_scale | dnnl_use_shift : 0;
    dnnl_memory_t src = act_of(n, l->in[0]), dsrc;
    if (new_output(n, li, &md, err) || new_mem_unbound(n, &n->running_mean[li], &cmd, err) ||
        new_mem_unbound(n, &n->running_var[li], &cmd, err) || new_mem(n, &n->batch_mean[li], &cmd, err) ||
        new_mem(n, &n->batch_var[li], &cmd, err))
        return -1;
    if (l->u.bn.affine) {
        if (new_mem_unbound(n, &n->user_w[li], &cmd, err) || new_mem_unbound(n, &n->user_b[li], &cmd, err) ||
            (n->training && (new_mem_unbound(n, &n->user_dw[li], &cmd, err) || new_mem_unbound(n, &n->user_db[li], &cmd, err))))
            return -1;
    }
    if (grad_target(n, li, 0, &md, &dsrc, err)) return -1;
    if (n->training && !dsrc && new_mem(n, &dsrc, &md, err)) return -1; /* the network's input: computed, unused */
    for (int train = 0; train < 2; train++) {
        if (train && !n->training) break;
        n->when = train ? MODE_TRAIN : MODE_EVAL;
        unsigned fl = flags | (train ? 0 : dnnl_use_global_stats);
        dnnl_memory_t mean = train ? n->batch_mean[li] : n->running_mean[li];
        dnnl_memory_t var = train ? n->batch_var[li] : n->running_var[li];
        dnnl_primitive_desc_t fpd, bpd = NULL;
        dnnl_primitive_t p;
        if (bn_pds(n, &md, l->u.bn.eps, fl, &fpd, &bpd, train, err) || make_prim(n, &p, fpd, err)) return -1;
        int rc = l->u.bn.affine
                     ? fwd_op(n, p, 6, ARGS(DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT),
                              MEMS(src, n->act[li], mean, var, n->user_w[li], n->user_b[li]), err)
                     : fwd_op(n, p, 4, ARGS(DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE),
                              MEMS(src, n->act[li], mean, var), err);
        if (rc || (train && fn_op(n, n->fwd, &n->n_fwd, bn_update_running, li, err))) return -1;
        if (!n->training) continue;
        if (make_prim(n, &p, bpd, err)) return -1;
        rc = l->u.bn.affine
                 ? bwd_op(n, p, 9, ARGS(DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE,
                                        DNNL_ARG_SHIFT, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT),
                          MEMS(src, mean, var, n->dact[li], n->user_w[li], n->user_b[li], dsrc, n->user_dw[li], n->user_db[li]), err)
                 : bwd_op(n, p, 5, ARGS(DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC),
                          MEMS(src, mean, var, n->dact[li], dsrc), err);
        if (rc || (l->in[0] != MODEL_INPUT && finish_grad(n, li, 0, dsrc, err))) return -1;
    }
    n->when = MODE_PARTIAL; /* training on a partial batch: the reference kernels */
    int rc = n->training ? build_fallback(n, li, err) : 0;
    n->when = 0;
    return rc;
}

/* ---- the whole network ---- */

/* Readers of each layer, the last reader's slot, and which conv/linear
 * layers take the ReLU after them as a post-op. */
static void plan_graph(net_dnnl *n) {
    const model_spec *m = n->m;
    for (int i = 0; i < m->n_layers; i++) n->readers[i] = 0, n->last_reader[i] = -1, n->grad_alias[i] = -1;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i].n_in; k++) {
            int j = m->layers[i].in[k];
            if (j == MODEL_INPUT) continue;
            n->readers[j]++;
            n->last_reader[j] = 2 * i + k;
        }
}

static int fused_relu_after(const net_dnnl *n, int i) {
    const model_spec *m = n->m;
    const layer_spec *l = &m->layers[i];
    int bn_blocked = l->kind == LAYER_BATCHNORM && blk_cb(md_of(n, l->in[0])) && !n->bn_sum;
    if (l->kind != LAYER_CONV && l->kind != LAYER_LINEAR && l->kind != LAYER_ADD && !bn_blocked) return 0;
    return i + 1 < m->n_layers && m->layers[i + 1].kind == LAYER_RELU && m->layers[i + 1].in[0] == i &&
           n->readers[i] == 1;
}

static int build_layer(net_dnnl *n, int i, lr_error *err) {
    const model_spec *m = n->m;
    const layer_spec *l = &m->layers[i];
    if (l->kind == LAYER_RELU && i > 0 && l->in[0] == i - 1 && fused_relu_after(n, i - 1)) {
        /* fused into the layer before: same output, same gradient */
        n->md[i] = n->md[i - 1], n->act[i] = n->act[i - 1], n->dact[i] = n->dact[i - 1];
        return 0;
    }
    switch (l->kind) {
    case LAYER_CONV: return build_conv(n, i, fused_relu_after(n, i), err);
    case LAYER_LINEAR: return build_linear(n, i, fused_relu_after(n, i), i == m->n_layers - 1, err);
    case LAYER_MAXPOOL:
    case LAYER_AVGPOOL:
    case LAYER_GLOBAL_AVGPOOL: return build_pool(n, i, err);
    case LAYER_RELU:
    case LAYER_GELU:
    case LAYER_SCALE: return build_eltwise(n, i, err);
    case LAYER_ADD: return build_add(n, i, fused_relu_after(n, i), err);
    case LAYER_FLATTEN: return build_flatten(n, i, err);
    case LAYER_SHORTCUT: return build_shortcut(n, i, err);
    case LAYER_BATCHNORM: return build_batchnorm(n, i, fused_relu_after(n, i), err);
    case LAYER_DROPOUT: return build_dropout(n, i, err);
    }
    return lr_fail(err, "internal: layer kind %d reached the oneDNN builder", (int)l->kind);
}

/* The layer whose gradient buffer t's resolves to (following grad_alias;
 * a fused ReLU's producer shares the ReLU's memory), and whether that
 * chain passes through layer j. */
static int grad_root(const net_dnnl *n, int t, int j, int *via_j) {
    *via_j = 0;
    for (;;) {
        *via_j |= t == j;
        if (t + 1 < n->m->n_layers && n->dact[t + 1] == n->dact[t]) t++;
        else if (n->grad_alias[t] >= 0) t = n->grad_alias[t];
        else return t;
    }
}

/* Keeps a fork's shared gradient (dropping its copy) when every layer
 * using that buffer, but j and those sharing j's, runs backward before
 * the fork's other readers add to it (a higher index than the latest of
 * them; their own readers, later still, wrote it before); else the copy
 * stays. Dropping one
 * can only make another safe, so: until nothing changes. */
#define MODE_NEVER 8
static void check_fork_aliases(net_dnnl *n) {
    const model_spec *m = n->m;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int f = 0; f < n->n_forks; f++) {
            fork_alias *fa = &n->forks[f];
            if (fa->op < 0) continue;
            int later = -1, via, root; /* the latest other reader of j: where the adding starts */
            for (int i = fa->j + 1; i < fa->li; i++)
                for (int k = 0; k < m->layers[i].n_in; k++)
                    if (m->layers[i].in[k] == fa->j) later = i;
            root = grad_root(n, fa->li, -1, &via);
            int safe = 1;
            for (int t = 0; t < m->n_layers && safe; t++)
                if (grad_root(n, t, fa->j, &via) == root && !via && t <= later) safe = 0;
            if (!safe) n->grad_alias[fa->j] = -1, fa->op = -1, changed = 1;
        }
    }
    for (int f = 0; f < n->n_forks; f++)
        if (n->forks[f].op >= 0) n->bops[n->forks[f].op].when = MODE_NEVER;
}

/* The logits in a plain (batch, classes) memory, and dlogits into the last
 * layer's gradient: reorders when its layout is another. */
static int build_logits(net_dnnl *n, lr_error *err) {
    int last = n->m->n_layers - 1;
    dnnl_memory_desc_t md;
    if (plain_md(&md, n->md[last].ndims, n->md[last].dims, err)) return -1;
    if (dnnl_memory_desc_equal(&md, &n->md[last])) {
        n->logits = n->act[last], n->dlogits = n->dact[last];
        return 0;
    }
    dnnl_primitive_t r;
    if (new_mem(n, &n->logits, &md, err) || make_reorder(n, &r, n->act[last], n->logits, 0, err) ||
        fwd_op(n, r, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(n->act[last], n->logits), err))
        return -1;
    if (!n->training) return 0;
    if (new_mem(n, &n->dlogits, &md, err) || make_reorder(n, &r, n->dlogits, n->dact[last], 0, err)) return -1;
    /* the first backward op */
    return add_op(n, n->bwd, &n->n_bwd, MAX_OPS, r, 2, ARGS(DNNL_ARG_FROM, DNNL_ARG_TO), MEMS(n->dlogits, n->dact[last]), err);
}

static int build(net_dnnl *n, lr_error *err) {
    const model_spec *m = n->m;
    dnnl_dims_t x_dims = {n->batch, m->in_c, m->in_h, m->in_w};
    CHECK_DNNL(dnnl_memory_desc_init_by_tag(&n->x_md, 4, x_dims, dnnl_f32, dnnl_nchw), "md");
    n->xbuf = lr_calloc((size_t)n->batch, (size_t)m->in_c * m->in_h * m->in_w * sizeof(float), "input batch", err);
    if (!n->xbuf) return -1;
    n->bufs[n->n_bufs++] = n->xbuf;
    CHECK_DNNL(dnnl_memory_create(&n->user_x, &n->x_md, n->eng, n->xbuf), "memory_create");
    n->mems[n->n_mems++] = n->user_x;
    plan_graph(n);
    for (int i = 0; i < m->n_layers; i++) {
        n->stage_lo[i] = n->n_bops;
        n->building = i;
        if (build_layer(n, i, err)) return -1;
        n->stage_hi[i] = n->n_bops;
    }
    if (build_logits(n, err)) return -1; /* ops of the last layer (building) */
    if (n->training) check_fork_aliases(n);
    /* Backward plan: layers in reverse, each layer's ops in order. */
    for (int i = m->n_layers - 1; i >= 0; i--)
        for (int k = n->stage_lo[i]; k < n->stage_hi[i]; k++) {
            if (n->n_bwd == MAX_OPS) return lr_fail(err, "model too large");
            n->bwd[n->n_bwd++] = n->bops[k];
        }
    /* shared gradient buffers, from the last layer down (an alias may point to an alias) */
    for (int j = m->n_layers - 1; j >= 0 && n->training; j--)
        if (n->grad_alias[j] >= 0)
            CHECK_DNNL(dnnl_memory_set_data_handle(n->dact[j], handle(n->dact[n->grad_alias[j]])), "set_data_handle");
    if (n->blk_scratch_size &&
        !(n->blk_scratch = lr_calloc((size_t)n->blk_scratch_size, sizeof(double), "BatchNorm sums", err)))
        return -1;
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
    n->training = n->train_mode = cfg->training;
    n->bn_sum = cfg->bn_sum;
    n->algo = cfg->algo;
    n->forced = cfg->algo_choices[0] ? cfg->algo_choices : NULL;
    n->conv_dt = cfg->precision == NET_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
    CHECK_DNNL(dnnl_engine_create(&n->eng, dnnl_cpu, 0), "engine_create");
    if (layer_attr(&n->attr, 0, err) || layer_attr(&n->attr_sum, 0, err)) return -1;
    dnnl_post_ops_t po;
    CHECK_DNNL(dnnl_post_ops_create(&po), "post_ops_create");
    dnnl_status_t st = dnnl_post_ops_append_sum(po, 1.0f);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(n->attr_sum, po);
    dnnl_post_ops_destroy(po);
    CHECK_DNNL(st, "post_ops_append_sum");
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
    free(n->scratch);
    free(n->blk_scratch);
    if (n->attr) dnnl_primitive_attr_destroy(n->attr);
    if (n->attr_sum) dnnl_primitive_attr_destroy(n->attr_sum);
    if (n->stream) dnnl_stream_destroy(n->stream);
    if (n->eng) dnnl_engine_destroy(n->eng);
    free(n);
}

void net_dnnl_set_state(net_dnnl *n, float *buffers, int training, uint64_t seed, uint64_t step) {
    n->buffers = buffers, n->train_mode = training, n->seed = seed, n->step = step;
}

static int attach_weights(net_dnnl *n, const float *params, float *grads, lr_error *err) {
    const model_spec *m = n->m;
    n->params = params;
    n->grads = grads;
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        if (n->running_mean[i]) {
            if (!n->buffers) return lr_fail(err, "net_forward: the model has BatchNorm buffers: net_set_buffers first");
            for (int t = l->tensor0; t < l->tensor0 + l->n_tensors; t++) {
                const model_tensor *mt = &m->tensors[t];
                dnnl_memory_t mem = mt->role == TENSOR_RUNNING_MEAN ? n->running_mean[i]
                                    : mt->role == TENSOR_RUNNING_VAR ? n->running_var[i] : NULL;
                if (mem) CHECK_DNNL(dnnl_memory_set_data_handle(mem, n->buffers + mt->offset), "set_data_handle(buffers)");
            }
        }
        if (!l->param_count || !n->user_w[i]) continue;
        long b = bias_offset(m, l);
        /* oneDNN only reads through user_w: the cast drops const for its API. */
        CHECK_DNNL(dnnl_memory_set_data_handle(n->user_w[i], (void *)(params + l->param_offset)),
                   "set_data_handle(weights)");
        if (n->user_b[i]) CHECK_DNNL(dnnl_memory_set_data_handle(n->user_b[i], (void *)(params + b)), "set_data_handle(bias)");
        if (!grads) continue;
        CHECK_DNNL(dnnl_memory_set_data_handle(n->user_dw[i], grads + l->param_offset), "set_data_handle(gradients)");
        if (n->user_db[i]) CHECK_DNNL(dnnl_memory_set_data_handle(n->user_db[i], grads + b), "set_data_handle(bias gradients)");
    }
    return 0;
}

/* The ops of this mode in order; with times (net_set_times), each waited
 * for and its seconds added to its layer's. */
static int run(net_dnnl *n, const op *ops, int count, double *times, lr_error *err) {
    for (int i = 0; i < count; i++) {
        const op *o = &ops[i];
        if (o->when && !(o->when & n->mode)) continue;
        double t0 = times ? lr_now() : 0;
        if (o->fn) {
            CHECK_DNNL(dnnl_stream_wait(n->stream), "stream_wait");
            if (o->fn(n, o->li, err)) return -1;
        } else CHECK_DNNL(dnnl_primitive_execute(o->prim, n->stream, o->nargs, o->args), "execute");
        if (times) {
            CHECK_DNNL(dnnl_stream_wait(n->stream), "stream_wait");
            times[o->li] += lr_now() - t0;
        }
    }
    CHECK_DNNL(dnnl_stream_wait(n->stream), "stream_wait");
    return 0;
}

int net_dnnl_forward(net_dnnl *n, const float *x, int count, const float *params, float *logits, double *times,
                     lr_error *err) {
    const model_spec *m = n->m;
    size_t image = (size_t)m->in_c * m->in_h * m->in_w;
    if (n->train_mode && !n->training) return lr_fail(err, "net_forward: training mode on a forward-only net");
    /* Rows past count keep earlier images: every row is computed
     * independently (BatchNorm's statistics take the first count), so they
     * cannot change the first count outputs. */
    memcpy(n->xbuf, x, (size_t)count * image * sizeof(float));
    n->count = count;
    n->mode = !n->train_mode ? MODE_EVAL : count < n->batch ? MODE_PARTIAL : MODE_TRAIN;
    if (attach_weights(n, params, NULL, err) || run(n, n->fwd, n->n_fwd, times, err)) return -1;
    memcpy(logits, handle(n->logits), (size_t)count * m->n_classes * sizeof(float));
    return 0;
}

int net_dnnl_backward(net_dnnl *n, const float *dlogits, const float *params, float *grads, double *times,
                      lr_error *err) {
    if (!n->training) return lr_fail(err, "net_backward on a forward-only net");
    const model_spec *m = n->m;
    float *h = handle(n->dlogits);
    /* Rows past the batch's count get zero gradient, so they add nothing. */
    memset(h, 0, (size_t)n->batch * m->n_classes * sizeof(float));
    memcpy(h, dlogits, (size_t)n->count * m->n_classes * sizeof(float));
    if (attach_weights(n, params, grads, err) || run(n, n->bwd, n->n_bwd, times, err)) return -1;
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
