/* loader.c: the batch loader. One worker pthread turns uint8 images into
 * normalised NCHW float batches (epoch order, crop/flip, ToTensor, Normalize)
 * into a ring of LOADER_SLOTS buffers, ahead of the trainer.
 * Not here: the transform itself (augment.c), any allocation after init.
 *
 * Determinism: a batch is computed by loader_fill_batch from (split, config,
 * epoch, batch index) only; the order stream is rng(seed, ORDER, epoch) and
 * the augmentation stream rng(seed, AUGMENT, epoch * 1000003 + b) (rng.h),
 * so thread timing and resuming at any batch cannot change a byte.
 *
 * Ring protocol (all under mu): batch b lives in slot b % LOADER_SLOTS. The
 * consumer holds batch taken-1 until its next call; the worker fills batch
 * `filled` when filled <= taken + LOADER_SLOTS - 2, so it never writes the
 * held slot or a ready one. loader_start_epoch waits until the worker is not
 * filling (busy == 0) before it rewrites the order and resets the counters,
 * so a stale batch can never be handed out. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/data.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/rng.h"

#define LOADER_SLOTS 3

struct loader {
    loader_config cfg;
    int n_batches;
    int slot_images;          /* images a slot holds: min(batch, n) */
    int *perm;                /* n: the current epoch's order */
    float *scratch;           /* one image of floats: a --transform's crop */
    loader_batch slots[LOADER_SLOTS];
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sync_made;
    /* under mu */
    int quit;
    int active;               /* an epoch is running */
    int busy;                 /* the worker is filling a slot */
    int epoch;
    int filled;               /* batches [first, filled) are ready or held */
    int taken;                /* next batch to hand out */
};

static int loader_count_batches(const loader_config *cfg) {
    long n = cfg->split->n, batch = cfg->batch;
    return (int)(cfg->drop_last ? n / batch : (n + batch - 1) / batch);
}

void loader_epoch_order(int *perm, const loader_config *cfg, int epoch) {
    int n = cfg->split->n;
    if (cfg->shuffle) {
        lr_rng r;
        rng_init(&r, cfg->seed, RNG_STREAM_ORDER, (uint64_t)epoch);
        rng_permutation(&r, perm, n);
    } else {
        for (int i = 0; i < n; i++) perm[i] = i;
    }
}

/* Batch b into x and y (cfg's shard); scratch: c * h * w floats for a --transform pipeline. */
static int fill_batch(float *x, int *y, float *scratch, const loader_config *cfg, const int *perm, int epoch, int b,
                      int *total) {
    const data_split *s = cfg->split;
    const size_t image = data_image_bytes(s);
    if (total) *total = 0;
    if (b < 0 || b >= loader_count_batches(cfg)) return 0;
    long start = (long)b * cfg->batch;
    int n = (int)(s->n - start < cfg->batch ? s->n - start : cfg->batch);
    int shards = cfg->shards > 1 ? cfg->shards : 1;
    int lo = (int)((long)n * cfg->shard / shards), hi = (int)((long)n * (cfg->shard + 1) / shards);
    lr_rng r;
    rng_init(&r, cfg->seed, RNG_STREAM_AUGMENT, (uint64_t)epoch * 1000003u + (uint64_t)b);
    const int pipeline = cfg->augment && cfg->transform;
    for (int i = 0; i < hi; i++) { /* the draws of the images before lo too: the stream is the batch's */
        int idx = perm[start + i];
        int dy = 4, dx = 4, flip = 0;
        if (cfg->augment && !pipeline) {
            dy = (int)rng_below(&r, 9);
            dx = (int)rng_below(&r, 9);
            flip = (int)rng_below(&r, 2);
        }
        if (i < lo) continue;
        float *out = x + (size_t)(i - lo) * image;
        const uint8_t *px = s->pixels + (size_t)idx * image;
        if (pipeline) /* its own stream per (seed, epoch, image) */
            transform_image(out, scratch, px, s->c, s->h, s->w, cfg->transform, &cfg->norm, cfg->seed, epoch, idx, NULL);
        else
            augment_image(out, px, s->c, s->h, s->w, &cfg->norm, dy, dx, flip);
        y[i - lo] = s->labels[idx];
    }
    if (total) *total = n;
    return hi - lo;
}

int loader_fill_batch(float *x, int *y, const loader_config *cfg, const int *perm, int epoch, int b, int *total) {
    float *scratch = NULL;
    if (cfg->augment && cfg->transform) {
        scratch = malloc(sizeof(float) * data_image_bytes(cfg->split));
        if (!scratch) return 0;
    }
    int n = fill_batch(x, y, scratch, cfg, perm, epoch, b, total);
    free(scratch);
    return n;
}

static void *loader_main(void *arg) {
    loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->quit &&
               !(l->active && l->filled < l->n_batches && l->filled <= l->taken + LOADER_SLOTS - 2))
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->quit) break;
        int b = l->filled, epoch = l->epoch;
        l->busy = 1;
        pthread_mutex_unlock(&l->mu);
        loader_batch *slot = &l->slots[b % LOADER_SLOTS];
        slot->n = fill_batch(slot->x, slot->y, l->scratch, &l->cfg, l->perm, epoch, b, &slot->total);
        slot->index = b;
        pthread_mutex_lock(&l->mu);
        l->busy = 0;
        l->filled = b + 1;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int loader_init(loader **out, const loader_config *cfg, lr_error *err) {
    *out = NULL;
    if (!cfg || !cfg->split || cfg->split->n < 1 || !cfg->split->pixels || !cfg->split->labels)
        return lr_fail(err, "loader: no images (expected a loaded split with at least one image)");
    const data_split *s = cfg->split;
    if (s->c < 1 || s->c > DATA_MAX_CHANNELS || s->h < 1 || s->w < 1)
        return lr_fail(err, "loader: images of %dx%dx%d (expected 1..%d channels and a height and width of at least 1)",
                       s->c, s->h, s->w, DATA_MAX_CHANNELS);
    if (cfg->batch < 1) return lr_fail(err, "--batch %d: expected at least 1", cfg->batch);
    if (cfg->shards > 1 && (cfg->shard < 0 || cfg->shard >= cfg->shards))
        return lr_fail(err, "loader: shard %d of %d: expected 0..%d", cfg->shard, cfg->shards, cfg->shards - 1);
    if (cfg->drop_last && cfg->batch > cfg->split->n)
        return lr_fail(err, "--batch %d: larger than the %d images of the split, and drop_last leaves no batch "
                            "(expected at most %d)", cfg->batch, cfg->split->n, cfg->split->n);
    loader *l = lr_calloc(1, sizeof *l, "loader", err);
    if (!l) return -1;
    l->cfg = *cfg;
    l->n_batches = loader_count_batches(cfg);
    l->slot_images = cfg->batch < cfg->split->n ? cfg->batch : cfg->split->n;
    l->perm = lr_calloc((size_t)cfg->split->n, sizeof *l->perm, "loader order", err);
    if (!l->perm) goto fail;
    l->scratch = lr_calloc(data_image_bytes(cfg->split), sizeof(float), "loader scratch", err);
    if (!l->scratch) goto fail;
    for (int i = 0; i < LOADER_SLOTS; i++) {
        l->slots[i].x = lr_calloc((size_t)l->slot_images * data_image_bytes(cfg->split), sizeof(float), "loader batch",
                                  err);
        l->slots[i].y = lr_calloc((size_t)l->slot_images, sizeof(int), "loader labels", err);
        if (!l->slots[i].x || !l->slots[i].y) goto fail;
    }
    if (pthread_mutex_init(&l->mu, NULL)) {
        lr_fail(err, "loader: cannot create a mutex");
        goto fail;
    }
    if (pthread_cond_init(&l->cv, NULL)) {
        pthread_mutex_destroy(&l->mu);
        lr_fail(err, "loader: cannot create a condition variable");
        goto fail;
    }
    l->sync_made = 1;
    if (pthread_create(&l->thread, NULL, loader_main, l)) {
        lr_fail(err, "loader: cannot start the loader thread");
        goto fail;
    }
    l->thread_started = 1;
    *out = l;
    return 0;
fail:
    loader_free(l);
    return -1;
}

int loader_batches(const loader *l) { return l->n_batches; }

void loader_image_shape(const loader *l, int *c, int *h, int *w) {
    *c = l->cfg.split->c, *h = l->cfg.split->h, *w = l->cfg.split->w;
}

int loader_start_epoch(loader *l, int epoch, int first_batch, lr_error *err) {
    if (epoch < 0) return lr_fail(err, "loader: epoch %d, expected >= 0", epoch);
    if (first_batch < 0 || first_batch > l->n_batches)
        return lr_fail(err, "loader: first batch %d, expected 0..%d", first_batch, l->n_batches);
    pthread_mutex_lock(&l->mu);
    l->active = 0;
    while (l->busy) pthread_cond_wait(&l->cv, &l->mu);
    /* The worker is idle and cannot start while active == 0: the order is ours. */
    loader_epoch_order(l->perm, &l->cfg, epoch);
    l->epoch = epoch;
    l->filled = first_batch;
    l->taken = first_batch;
    l->active = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

const loader_batch *loader_next(loader *l) {
    const loader_batch *out = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->active && l->taken < l->n_batches) {
        while (l->filled <= l->taken) pthread_cond_wait(&l->cv, &l->mu);
        out = &l->slots[l->taken % LOADER_SLOTS];
        l->taken++;
        pthread_cond_broadcast(&l->cv); /* a slot came free */
    } else if (l->active) {
        l->active = 0; /* end of the epoch */
    }
    pthread_mutex_unlock(&l->mu);
    return out;
}

void loader_free(loader *l) {
    if (!l) return;
    if (l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->quit = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    if (l->sync_made) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
    }
    for (int i = 0; i < LOADER_SLOTS; i++) {
        free(l->slots[i].x);
        free(l->slots[i].y);
    }
    free(l->perm);
    free(l->scratch);
    free(l);
}
