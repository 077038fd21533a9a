/* fuzz_safetensors.c: libFuzzer target for the safetensors reader
 * (st_parse, the entry st_read uses after reading a file). Any input must be
 * accepted or rejected with a message naming the file, never crash; and an
 * accepted file must survive encode -> parse -> encode unchanged (the writer
 * and the reader agree). Not a test of st_write's file handling.
 * Run with fuzz/run.sh SECONDS fuzz_safetensors. */
// fuzz-sources: src/io/safetensors.c src/io/atomic.c src/core/*.c
#include "lrlab/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned sink; /* keeps the reads of tensor bytes */

static void must(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_safetensors: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    st_file f;
    lr_error err = {{0}};
    if (st_parse(&f, buf, size, "fuzz.safetensors", &err) != 0) {
        must(strncmp(err.msg, "fuzz.safetensors: ", 18) == 0, "a rejection without the file's name");
        must(f.buf == NULL && f.tensors == NULL, "a rejection that keeps memory");
        return 0;
    }
    /* touch every byte the reader says belongs to a tensor */
    unsigned sum = 0;
    for (int i = 0; i < f.n; i++) {
        const unsigned char *d = f.tensors[i].data;
        must(d >= f.buf + 8 && d + f.tensors[i].nbytes <= f.buf + f.buf_size, "tensor outside the file");
        for (size_t j = 0; j < f.tensors[i].nbytes; j++) sum += d[j];
        must(st_find(&f, f.tensors[i].name) == &f.tensors[i], "st_find misses a tensor");
    }
    const char **keys = calloc((size_t)f.n_meta + 1, sizeof *keys), **vals = calloc((size_t)f.n_meta + 1, sizeof *vals);
    must(keys && vals, "out of memory");
    for (int i = 0; i < f.n_meta; i++) {
        keys[i] = f.meta_keys[i], vals[i] = f.meta_values[i];
        must(st_meta(&f, keys[i]) == vals[i], "st_meta misses a key");
    }
    unsigned char *e1 = NULL, *e2 = NULL;
    size_t s1 = 0, s2 = 0;
    must(st_encode(&e1, &s1, f.tensors, f.n, keys, vals, f.n_meta, &err) == 0, "cannot encode what was read");
    st_file g;
    must(st_parse(&g, e1, s1, "re.safetensors", &err) == 0, "cannot read what was encoded");
    must(g.n == f.n && g.n_meta == f.n_meta, "round trip changes the counts");
    for (int i = 0; i < f.n; i++) {
        const st_tensor *a = &f.tensors[i], *b = &g.tensors[i];
        must(!strcmp(a->name, b->name) && a->dtype == b->dtype && a->ndim == b->ndim && a->nbytes == b->nbytes &&
                 !memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) &&
                 (a->nbytes == 0 || !memcmp(a->data, b->data, a->nbytes)),
             "round trip changes a tensor");
    }
    for (int i = 0; i < f.n_meta; i++)
        must(!strcmp(g.meta_keys[i], keys[i]) && !strcmp(g.meta_values[i], vals[i]), "round trip changes metadata");
    const char **k2 = calloc((size_t)g.n_meta + 1, sizeof *k2), **v2 = calloc((size_t)g.n_meta + 1, sizeof *v2);
    must(k2 && v2, "out of memory");
    for (int i = 0; i < g.n_meta; i++) k2[i] = g.meta_keys[i], v2[i] = g.meta_values[i];
    must(st_encode(&e2, &s2, g.tensors, g.n, k2, v2, g.n_meta, &err) == 0, "cannot re-encode");
    must(s1 == s2 && !memcmp(g.buf, e2, s2), "encoding is not deterministic");
    free(e2), free(k2), free(v2), free(keys), free(vals);
    st_free(&g);
    st_free(&f);
    sink = sum;
    return 0;
}
