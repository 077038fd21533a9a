/* train/setup.c: the one set-up path of train, find-lr and eval
 * (lrlab/setup.h): threads, data, model, parameters, the net with its
 * convolution algorithms from the per-user cache, loaders. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/setup.h"

#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/algocache.h"
#include "lrlab/dist.h"
#include "lrlab/io.h"

static void warn(const setup_options *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(const setup_options *o, const char *fmt, ...) {
    if (!o->warn) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(o->warn, "lrlab: warning: ");
    vfprintf(o->warn, fmt, ap);
    fprintf(o->warn, "\n");
    va_end(ap);
    fflush(o->warn);
}

void train_setup_threads(train_config *cfg, FILE *warn_to) {
    int cores = omp_get_num_procs();
    if (cfg->threads > 0) omp_set_num_threads(cfg->threads);
    else cfg->threads = omp_get_max_threads();
    if (cfg->threads > cores && warn_to)
        fprintf(warn_to, "lrlab: warning: --threads %d: more than the %d cores of this machine; the threads "
                         "take turns on the cores and every step waits for the slowest (0: one per core)\n",
                cfg->threads, cores);
}

/* ---- the net and the algorithm cache ---- */

static int count_convs(const model_spec *m) {
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) n += m->layers[i].kind == LAYER_CONV;
    return n;
}

/* Looks the choice up (unless retune) into nc->algo_choices and builds the
 * net with it; without one, or when it does not fit, decides by timing and
 * stores the decision. *source says which, for --verbose. */
static int net_from_cache(net **out, const model_spec *m, net_config *nc, int threads, const setup_options *o,
                          char *source, size_t cap, lr_error *err) {
    char key[4096];
    algo_cache c;
    lr_error w;
    c.lock_fd = -1;
    int usable = !algo_cache_key(key, sizeof key, m, nc, threads, &w) && !algo_cache_open(&c, &w);
    if (!usable) warn(o, "%s; timing the convolution algorithms for this run only", w.msg);
    int found = 0;
    if (usable && !o->retune) {
        found = algo_cache_lookup(&c, key, count_convs(m), nc->algo_choices, sizeof nc->algo_choices, &w);
        if (found < 0) warn(o, "%s; timing the convolution algorithms again (the file will be rewritten)", w.msg);
    }
    int rc;
    if (found > 0) {
        rc = net_init(out, m, nc, &w);
        if (!rc) snprintf(source, cap, "from the cache %s", c.path);
        else warn(o, "%s: the stored choice '%s' does not fit this net: %s; timing the algorithms again", c.path,
                  nc->algo_choices, w.msg);
        if (!rc) goto done;
    }
    nc->algo_choices[0] = '\0';
    rc = net_init(out, m, nc, err);
    snprintf(source, cap, "timed now%s%s", usable ? ", stored in " : "", usable ? c.path : "");
    if (!rc && usable && algo_cache_store(&c, key, net_algo_choices(*out), &w))
        warn(o, "%s; the choice is not kept for the next run", w.msg);
done:
    algo_cache_close(&c);
    return rc;
}

int train_setup_net(net **out, const model_spec *m, train_config *cfg, int training, const setup_options *o,
                    lr_error *err) {
    net_config nc = {.backend = cfg->backend, .algo = cfg->algo, .precision = cfg->precision, .batch = cfg->batch,
                     .training = training,
                     .bn_sum = cfg->sync_bn && dist_size() > 1 ? dist_sum_moments : NULL}; /* --sync-bn */
    snprintf(nc.algo_choices, sizeof nc.algo_choices, "%s", cfg->algo_choices);
    char source[1200] = "recorded (--algo-choices or the run's config.txt)";
    int rc;
    if (cfg->backend == NET_BACKEND_DNNL && cfg->algo == CONV_ALGO_AUTO && !nc.algo_choices[0] && count_convs(m))
        rc = net_from_cache(out, m, &nc, cfg->threads, o, source, sizeof source, err);
    else {
        if (!nc.algo_choices[0]) snprintf(source, sizeof source, "as --conv-algo and --precision say");
        rc = net_init(out, m, &nc, err);
    }
    if (rc) return -1;
    snprintf(cfg->algo_choices, sizeof cfg->algo_choices, "%s", net_algo_choices(*out));
    if (cfg->verbose && o->log) {
        char desc[4096];
        net_describe(*out, desc, sizeof desc);
        fprintf(o->log, "convolution algorithms (%s), %s:\n%s", cfg->algo_choices, source, desc);
    }
    return 0;
}

/* ---- the whitening init (--whiten) ---- */

/* The first `images` training images (file order, normalised, no
 * augmentation, as airbench's train_loader.normalize(images[:5000])) into
 * model_whiten_conv. */
int train_setup_whiten(train_setup *s, const train_config *cfg, lr_error *err) {
    if (!cfg->whiten[0]) return 0;
    const dataset *d = &s->data;
    char layer[64];
    int images;
    double eps;
    if (config_whiten_parse(cfg->whiten, "--whiten", layer, sizeof layer, &images, &eps, err)) return -1;
    const data_split *t = &d->train;
    int n = images < t->n ? images : t->n;
    size_t img = (size_t)t->c * t->h * t->w;
    float *x = lr_calloc((size_t)n * img, sizeof(float), "whitening images", err);
    if (!x) return -1;
    for (size_t i = 0; i < (size_t)n * img; i++) x[i] = augment_value(&d->norm, (int)(i / (t->h * t->w) % t->c), t->pixels[i]);
    int rc = model_whiten_conv(&s->m, s->params, layer, x, n, eps, err);
    free(x);
    return rc;
}

/* ---- everything ---- */

int setup_data_options(data_options *o, const train_config *cfg, int training, int test, lr_error *err) {
    *o = (data_options){.format = cfg->dataset, .path = cfg->data, .train = training,
                        .limit_train = training ? cfg->limit_train : 1, .limit_test = test ? cfg->limit_test : 1,
                        .coarse = cfg->labels_coarse, .normalize = cfg->normalize};
    return cfg->resize[0] ? data_parse_resize(cfg->resize, &o->resize_h, &o->resize_w, "--resize", err) : 0;
}

int train_setup_init(train_setup *s, train_config *cfg, const setup_options *o, lr_error *err) {
    memset(s, 0, sizeof *s);
    train_setup_threads(cfg, o->warn);
    /* the files are validated even when a split is not used (one image is kept), but for eval: the test files only */
    data_options d;
    if (setup_data_options(&d, cfg, o->training, o->test, err) || dataset_load(&s->data, &d, err)) return -1;
    data_split *train = &s->data.train;
    if (o->training) {
        if (cfg->val >= train->n)
            return lr_fail(err, "--val %ld: expected fewer than the %d training images (--limit-train) so that "
                                "some are left to train on", cfg->val, train->n);
        if (cfg->val && data_split_holdout(train, &s->val, (int)cfg->val, err)) return -1;
        if (train->n < cfg->batch)
            return lr_fail(err, "--batch %d: larger than the %d training images (drop_last leaves no batch)",
                           cfg->batch, train->n);
    }
    model_spec *m = &s->m;
    if (model_spec_load(m, cfg->model, o->model_search, err)) return -1;
    if (dataset_check_model(&s->data, cfg->model, m->in_c, m->in_h, m->in_w, m->n_classes, err)) return -1;
    if (!(s->params = lr_calloc(m->n_params, sizeof(float), "parameters", err)) ||
        !(s->buffers = lr_calloc((size_t)m->n_buffers + 1, sizeof(float), "buffers", err)) ||
        !(s->logits = lr_calloc((size_t)cfg->batch * m->n_classes, sizeof(float), "logits", err)))
        return -1;
    model_init_params(m, s->params, (uint64_t)cfg->seed);
    model_init_buffers(m, s->buffers);
    if (o->weights && (o->training ? weights_load : weights_load_any)(o->weights, m, s->params, s->buffers, err)) return -1;
    if (train_setup_net(&s->net, m, cfg, o->training, o, err)) return -1;
    net_set_buffers(s->net, s->buffers);
    if (cfg->transform[0]) { /* parsed by config_set already; now against the images */
        if (transform_parse(&s->transform, cfg->transform, err) ||
            transform_check(&s->transform, cfg->transform, s->data.c, s->data.h, s->data.w, err))
            return -1;
        transform_norm(&s->transform, s->data.c, &s->data.norm);
    }
    if (o->training && o->whiten && train_setup_whiten(s, cfg, err)) return -1; /* normalised as the training images */
    if (o->training) {
        loader_config lc = {.split = train, .transform = s->transform.n ? &s->transform : NULL, .norm = s->data.norm, .batch = cfg->batch, .drop_last = 1, .shuffle = cfg->shuffle,
                            .augment = cfg->augment, .seed = (uint64_t)cfg->seed,
                            .shard = dist_rank(), .shards = dist_size()}; /* this rank's share (lrlab/dist.h) */
        if (loader_init(&s->train_loader, &lc, err)) return -1;
    }
    loader_config tc = {.split = &s->data.test, .norm = s->data.norm, .batch = cfg->batch, .seed = (uint64_t)cfg->seed};
    if (o->test && loader_init(&s->test_loader, &tc, err)) return -1;
    tc.split = &s->val;
    if (o->training && cfg->val && loader_init(&s->val_loader, &tc, err)) return -1;
    return 0;
}

void train_setup_free(train_setup *s) {
    loader_free(s->train_loader);
    loader_free(s->test_loader);
    loader_free(s->val_loader);
    net_free(s->net);
    free(s->params), free(s->buffers), free(s->logits);
    dataset_free(&s->data);
    data_split_free(&s->val);
    memset(s, 0, sizeof *s);
}
