/* lrlab/algocache.h: the per-user cache of convolution algorithm choices
 * (as FFTW keeps its wisdom), so that `--conv-algo auto` decides once per
 * machine kind and net and every later run, every run of a sweep and
 * find-lr reuse that decision: same command, same seed, same weights.
 *
 * One text file, DIR/conv-algo.txt, one line per decision: the choice
 * string (net.h's algo_choices format) and the key it was made for (CPU
 * model, oneDNN version and ISA, convolution shapes, batch, threads,
 * precision, training or forward only). DIR is $LRLAB_CACHE_DIR, else
 * $XDG_CACHE_HOME/lrlab, else $HOME/.cache/lrlab. Readers and the one
 * process that decides hold DIR/conv-algo.lock (a POSIX record lock), so
 * two runs starting at once decide once: one times, the other waits and
 * reads. The file is rewritten atomically. Format: docs/file-formats.md.
 * Not here: timing (the backend) or when to use the cache (train/setup.c). */
#ifndef LRLAB_ALGOCACHE_H
#define LRLAB_ALGOCACHE_H

#include <stddef.h>

#include "lrlab/common.h"
#include "lrlab/model.h"
#include "lrlab/net.h"

#define ALGO_CACHE_FILE "conv-algo.txt"
#define ALGO_CACHE_LOCK "conv-algo.lock"
#define ALGO_CACHE_MAGIC "lrlab-conv-algo 1"

/* The key of a decision: one line of text without newlines. */
int algo_cache_key(char *key, size_t cap, const model_spec *m, const net_config *nc, int threads, lr_error *err);

typedef struct {
    char dir[1024], path[1100]; /* the cache directory and DIR/conv-algo.txt */
    int lock_fd;                /* -1 when not locked */
} algo_cache;

/* Finds the directory (creating it) and takes the lock, waiting for a
 * process that is deciding. On failure (no HOME, unwritable directory) err
 * names the directory and c is unlocked: decide without the cache. */
int algo_cache_open(algo_cache *c, lr_error *err);
/* Releases the lock; accepts a cache that failed to open. */
void algo_cache_close(algo_cache *c);

/* The choice stored for key: 1 found (choices filled), 0 none, -1 the file
 * is unreadable or corrupt (err names the file and line; the caller warns
 * and decides). n_convs: the convolutions a choice must describe. */
int algo_cache_lookup(const algo_cache *c, const char *key, int n_convs, char *choices, size_t cap, lr_error *err);
/* Stores (or replaces) key's choice: the file is rewritten atomically, with
 * its other valid lines kept and unreadable ones dropped. */
int algo_cache_store(const algo_cache *c, const char *key, const char *choices, lr_error *err);

#endif
