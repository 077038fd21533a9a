/* lrlab/safetensors.h: reader and writer of the safetensors format
 * (8-byte little-endian header length, a JSON header, then raw tensor bytes)
 * restricted to what lrlab needs: F32 (and I64/F64/U8 for checkpoints)
 * tensors, little-endian, plus the optional "__metadata__" string map.
 *
 * The reader validates everything before trusting it: header length against
 * the file size, JSON syntax, dtype names, shapes against byte ranges,
 * offsets in bounds, non-overlapping and covering the data, duplicate names.
 * The writer writes to "<path>.tmp", fsyncs, and renames: a crash leaves the
 * previous file intact. Tensors are written in the order given, so equal
 * inputs give byte-identical files. */
#ifndef LRLAB_SAFETENSORS_H
#define LRLAB_SAFETENSORS_H

#include "lrlab/common.h"

typedef enum { ST_F32, ST_F64, ST_I64, ST_U8 } st_dtype;

typedef struct {
    char name[128];
    st_dtype dtype;
    int ndim;
    long shape[8];
    const void *data; /* borrowed: points into the file's buffer (reader) or the caller's (writer) */
    size_t nbytes;
} st_tensor;

typedef struct {
    st_tensor *tensors; /* owned */
    int n;
    char (*meta_keys)[128];   /* owned, n_meta entries */
    char **meta_values;       /* owned strings */
    int n_meta;
    unsigned char *buf; /* owned: the whole file */
    size_t buf_size;
    char source[256]; /* the file's name, for messages */
} st_file;

int st_read(st_file *f, const char *path, lr_error *err);
/* Parses an in-memory image (the fuzz target's entry); takes ownership of buf
 * (allocated with malloc) in every case. */
int st_parse(st_file *f, unsigned char *buf, size_t size, const char *name, lr_error *err);
void st_free(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);
const char *st_meta(const st_file *f, const char *key); /* NULL when absent */
/* Copies tensor `name` into dst (t->nbytes bytes) after checking that it
 * exists with exactly this dtype and shape; the message names the file, the
 * tensor, and what differs. (Tensor data in a file may be unaligned.) */
int st_copy(const st_file *f, const char *name, st_dtype dtype, int ndim, const long *shape, void *dst,
            lr_error *err);
const char *st_dtype_name(st_dtype t); /* "F32", ... */
size_t st_dtype_size(st_dtype t);      /* bytes per element */

/* Atomic write (tmp + fsync + rename). meta_keys/values may be NULL with n_meta 0. */
int st_write(const char *path, const st_tensor *tensors, int n, const char *const *meta_keys,
             const char *const *meta_values, int n_meta, lr_error *err);
/* The exact bytes st_write would write, in a fresh malloc'd buffer (tests, fuzzing). */
int st_encode(unsigned char **out, size_t *out_size, const st_tensor *tensors, int n,
              const char *const *meta_keys, const char *const *meta_values, int n_meta, lr_error *err);

#endif
