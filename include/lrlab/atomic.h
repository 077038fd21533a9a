/* lrlab/atomic.h: the one way lrlab replaces a file. The new content goes
 * to "<path>.tmp" beside it (a stray one from a crash is overwritten), is
 * flushed and fsync'ed, then renamed over <path>, and the directory is
 * fsync'ed so the rename itself is durable. A failure at any point removes
 * the temporary file and leaves the previous <path>, if any, unchanged.
 * Users: write_file_atomic (small text files), st_write (weights and
 * checkpoints), and the gnuplot figures, whose bytes gnuplot writes into the
 * temporary file's descriptor. */
#ifndef LRLAB_ATOMIC_H
#define LRLAB_ATOMIC_H

#include <stdio.h>

#include "lrlab/common.h"

typedef struct {
    FILE *f;    /* the temporary file, open for writing */
    char *path; /* owned copies */
    char *tmp;
    int error;  /* the errno of the first failed atomic_write, 0 if none */
} atomic_file;

/* Creates (truncates) "<path>.tmp"; the message names path, the temporary
 * name and the system's reason. On failure a holds nothing. */
int atomic_open(atomic_file *a, const char *path, lr_error *err);
/* Appends n bytes; a failure is remembered (and reported by atomic_commit). */
int atomic_write(atomic_file *a, const void *data, size_t n);
/* Flush, fsync, close, rename over path, fsync of the directory. Frees a
 * in every case; on failure the temporary file is gone and path unchanged. */
int atomic_commit(atomic_file *a, lr_error *err);
/* Gives up: closes and removes the temporary file, frees a. */
void atomic_abort(atomic_file *a);

/* A whole small file in one call: atomic_open + atomic_write + atomic_commit. */
int write_file_atomic(const char *path, const char *text, size_t len, lr_error *err);

#endif
