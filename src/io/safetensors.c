/* safetensors.c: strict reader and atomic, deterministic writer of the
 * safetensors format (https://github.com/huggingface/safetensors, "Format"):
 *
 *   8 bytes   N, the header length, unsigned little-endian
 *   N bytes   a JSON object: {"name": {"dtype": "F32", "shape": [..],
 *             "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
 *             (the spec allows trailing spaces as padding)
 *   rest      the data region; offsets are relative to its start
 *
 * This is not a general JSON parser: it accepts exactly the grammar above
 * (tensor entries with those three keys and nothing else, a string-to-string
 * metadata map) and rejects everything else with a message naming the file,
 * the header byte and what was expected. Only the dtypes lrlab uses (F32, F64,
 * I64, U8) are known. Tensor data is not copied: st_tensor.data points into
 * the file buffer and may be unaligned for files written by others (use
 * st_copy or memcpy). Little-endian hosts only (like every lrlab file). */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/safetensors.h"

#include "lrlab/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lrlab's safetensors reader assumes a little-endian host"
#endif

/* The reference implementation's cap (safetensors/src/tensor.rs, MAX_HEADER_SIZE). */
#define ST_MAX_HEADER 100000000ull
#define ST_MAX_DIMS 8
#define ST_NAME_MAX ((int)sizeof(((st_tensor *)0)->name) - 1)

static const char *const dtype_names[] = {"F32", "F64", "I64", "U8"};
static const size_t dtype_sizes[] = {4, 8, 8, 1};

const char *st_dtype_name(st_dtype t) { return (unsigned)t < 4 ? dtype_names[t] : "?"; }
size_t st_dtype_size(st_dtype t) { return (unsigned)t < 4 ? dtype_sizes[t] : 0; }

/* ---------------------------------------------------------------- reader */

typedef struct {
    const unsigned char *s; /* the header text (borrowed) */
    size_t n, pos;
    const char *file; /* for messages */
    lr_error *err;
} json;

static int json_fail(json *j, const char *what) {
    if (j->pos >= j->n)
        return lr_fail(j->err, "%s: safetensors header ends early (%zu bytes): %s", j->file, j->n, what);
    unsigned char c = j->s[j->pos];
    if (c >= 0x20 && c < 0x7f)
        return lr_fail(j->err, "%s: safetensors header byte %zu ('%c'): %s", j->file, j->pos, c, what);
    return lr_fail(j->err, "%s: safetensors header byte %zu (0x%02x): %s", j->file, j->pos, c, what);
}

static void json_ws(json *j) {
    while (j->pos < j->n && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' || j->s[j->pos] == '\n' ||
                             j->s[j->pos] == '\r'))
        j->pos++;
}

/* Skips whitespace and consumes c if it is next. */
static int json_eat(json *j, char c) {
    json_ws(j);
    if (j->pos < j->n && j->s[j->pos] == (unsigned char)c) {
        j->pos++;
        return 1;
    }
    return 0;
}

static int json_expect(json *j, char c, const char *what) {
    if (json_eat(j, c)) return 0;
    return json_fail(j, what);
}

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned c = p[0], cp;
    size_t len;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static size_t utf8_put(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a JSON string into a fresh NUL-terminated malloc'd buffer (escapes
 * decoded, UTF-8 checked). A decoded NUL is rejected: names and metadata are
 * C strings. The decoded length is never longer than the source. */
static int json_string(json *j, char **out, size_t *out_len, const char *what) {
    *out = NULL;
    json_ws(j);
    if (j->pos >= j->n || j->s[j->pos] != '"') return json_fail(j, what);
    size_t start = ++j->pos;
    size_t cap = 1;
    /* first pass: find the closing quote to size the buffer */
    for (size_t i = start; i < j->n && j->s[i] != '"'; i++, cap++)
        if (j->s[i] == '\\') i++, cap++;
    char *o = malloc(cap);
    if (!o) return lr_fail(j->err, "%s: out of memory reading the safetensors header", j->file);
    size_t len = 0;
    for (;;) {
        if (j->pos >= j->n) { free(o); return json_fail(j, "unterminated string"); }
        unsigned char c = j->s[j->pos];
        if (c == '"') { j->pos++; break; }
        if (c < 0x20) { free(o); return json_fail(j, "control character in a string (must be escaped)"); }
        if (c != '\\') {
            size_t l = utf8_len(j->s + j->pos, j->n - j->pos);
            if (!l) { free(o); return json_fail(j, "invalid UTF-8 in a string"); }
            memcpy(o + len, j->s + j->pos, l);
            len += l, j->pos += l;
            continue;
        }
        if (j->pos + 1 >= j->n) { free(o); j->pos = j->n; return json_fail(j, "unterminated string"); }
        unsigned char e = j->s[++j->pos];
        static const char escapes[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
        const char *simple = strchr(escapes, e);
        if (e && simple) {
            o[len++] = decoded[simple - escapes];
            j->pos++;
            continue;
        }
        if (e != 'u') { free(o); return json_fail(j, "unknown escape in a string (expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)"); }
        unsigned cp, lo;
        if (j->pos + 5 > j->n || hex4(j->s + j->pos + 1, &cp)) { free(o); return json_fail(j, "\\u must be followed by 4 hex digits"); }
        j->pos += 5;
        if (cp >= 0xdc00 && cp <= 0xdfff) { j->pos -= 6; free(o); return json_fail(j, "unpaired low surrogate in \\u escape"); }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (j->pos + 6 > j->n || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u' ||
                hex4(j->s + j->pos + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                j->pos -= 6; free(o);
                return json_fail(j, "high surrogate in \\u escape without a low surrogate");
            }
            j->pos += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0) { j->pos -= 6; free(o); return json_fail(j, "\\u0000 is not allowed in names or metadata"); }
        len += utf8_put(o + len, cp); /* 6 (or 12) source bytes give at most 3 (or 4) */
    }
    o[len] = '\0';
    *out = o;
    if (out_len) *out_len = len;
    return 0;
}

/* A non-negative JSON integer below 2^63 (no sign, fraction or exponent). */
static int json_uint(json *j, unsigned long long *out, const char *what) {
    json_ws(j);
    size_t p = j->pos;
    if (p >= j->n || j->s[p] < '0' || j->s[p] > '9') return json_fail(j, what);
    if (j->s[p] == '0' && p + 1 < j->n && j->s[p + 1] >= '0' && j->s[p + 1] <= '9')
        return json_fail(j, "number with a leading zero");
    unsigned long long v = 0;
    while (p < j->n && j->s[p] >= '0' && j->s[p] <= '9') {
        unsigned d = j->s[p] - '0';
        if (v > (0x7fffffffffffffffull - d) / 10) return json_fail(j, "integer too large (at most 2^63-1)");
        v = v * 10 + d;
        p++;
    }
    if (p < j->n && (j->s[p] == '.' || j->s[p] == 'e' || j->s[p] == 'E')) {
        j->pos = p;
        return json_fail(j, "expected an integer, found a fraction or exponent");
    }
    j->pos = p;
    *out = v;
    return 0;
}

static int parse_tensor(json *j, st_tensor *t, unsigned long long *begin_out, const char *name) {
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    unsigned long long begin = 0, end = 0;
    if (json_expect(j, '{', "expected '{' starting a tensor entry")) return -1;
    if (json_eat(j, '}')) return json_fail(j, "empty tensor entry (expected dtype, shape, data_offsets)");
    for (;;) {
        size_t key_pos;
        json_ws(j);
        key_pos = j->pos;
        char *key;
        if (json_string(j, &key, NULL, "expected a key (\"dtype\", \"shape\" or \"data_offsets\")")) return -1;
        int *seen = !strcmp(key, "dtype") ? &have_dtype : !strcmp(key, "shape") ? &have_shape
                  : !strcmp(key, "data_offsets") ? &have_offsets : NULL;
        if (!seen || *seen) {
            j->pos = key_pos;
            int rc = lr_fail(j->err, "%s: safetensors header byte %zu: tensor '%s' has %s key '%.64s' (expected each of dtype, shape, data_offsets once)",
                             j->file, key_pos, name, seen ? "a duplicate" : "an unknown", key);
            free(key);
            return rc;
        }
        *seen = 1;
        if (json_expect(j, ':', "expected ':' after a key")) { free(key); return -1; }
        if (!strcmp(key, "dtype")) {
            free(key);
            char *dt;
            json_ws(j);
            size_t dt_pos = j->pos;
            if (json_string(j, &dt, NULL, "expected a dtype string")) return -1;
            int k = -1;
            for (int i = 0; i < 4; i++)
                if (!strcmp(dt, dtype_names[i])) k = i;
            if (k < 0) {
                int rc = lr_fail(j->err, "%s: safetensors header byte %zu: tensor '%s' has unknown dtype '%.32s' (expected F32, F64, I64 or U8)",
                                 j->file, dt_pos, name, dt);
                free(dt);
                return rc;
            }
            free(dt);
            t->dtype = (st_dtype)k;
        } else if (!strcmp(key, "shape")) {
            free(key);
            if (json_expect(j, '[', "expected '[' starting a shape")) return -1;
            t->ndim = 0;
            if (!json_eat(j, ']')) {
                for (;;) {
                    unsigned long long d;
                    if (t->ndim == ST_MAX_DIMS)
                        return lr_fail(j->err, "%s: safetensors header byte %zu: tensor '%s' has more than %d dimensions",
                                       j->file, j->pos, name, ST_MAX_DIMS);
                    if (json_uint(j, &d, "expected a non-negative integer dimension")) return -1;
                    if (d > (unsigned long long)LONG_MAX) return json_fail(j, "dimension too large");
                    t->shape[t->ndim++] = (long)d;
                    if (json_eat(j, ']')) break;
                    if (json_expect(j, ',', "expected ',' or ']' in a shape")) return -1;
                }
            }
        } else {
            free(key);
            if (json_expect(j, '[', "expected '[' starting data_offsets")) return -1;
            if (json_uint(j, &begin, "expected a non-negative integer begin offset")) return -1;
            if (json_expect(j, ',', "expected ',' between the two data_offsets")) return -1;
            if (json_uint(j, &end, "expected a non-negative integer end offset")) return -1;
            if (json_expect(j, ']', "expected ']' after the two data_offsets")) return -1;
        }
        if (json_eat(j, '}')) break;
        if (json_expect(j, ',', "expected ',' or '}' in a tensor entry")) return -1;
    }
    if (!have_dtype || !have_shape || !have_offsets)
        return lr_fail(j->err, "%s: tensor '%s' lacks %s in the safetensors header", j->file, name,
                       !have_dtype ? "\"dtype\"" : !have_shape ? "\"shape\"" : "\"data_offsets\"");
    if (begin > end)
        return lr_fail(j->err, "%s: tensor '%s' has data_offsets [%llu, %llu] with begin after end",
                       j->file, name, begin, end);
    /* element count and byte size, overflow-checked */
    unsigned long long bytes = dtype_sizes[t->dtype];
    for (int d = 0; d < t->ndim; d++) {
        unsigned long long s = (unsigned long long)t->shape[d];
        if (s != 0 && bytes > 0x7fffffffffffffffull / s)
            return lr_fail(j->err, "%s: tensor '%s' has a shape whose byte size overflows 2^63", j->file, name);
        bytes *= s;
    }
    if (bytes != end - begin)
        return lr_fail(j->err, "%s: tensor '%s' (%s, %d dims) needs %llu bytes but data_offsets [%llu, %llu] hold %llu",
                       j->file, name, dtype_names[t->dtype], t->ndim, bytes, begin, end, end - begin);
    /* t->data is set once the data region is known */
    *begin_out = begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

static int parse_metadata(json *j, st_file *f) {
    if (json_expect(j, '{', "expected '{' starting __metadata__ (a map of strings to strings)")) return -1;
    if (json_eat(j, '}')) return 0;
    for (;;) {
        json_ws(j);
        size_t key_pos = j->pos;
        char *key, *val;
        size_t klen;
        if (json_string(j, &key, &klen, "expected a metadata key string")) return -1;
        if (klen > (size_t)ST_NAME_MAX) {
            free(key);
            j->pos = key_pos;
            return json_fail(j, "metadata key longer than 127 bytes");
        }
        for (int i = 0; i < f->n_meta; i++)
            if (!strcmp(f->meta_keys[i], key)) {
                int rc = lr_fail(j->err, "%s: safetensors header byte %zu: duplicate metadata key '%s'", j->file, key_pos, key);
                free(key);
                return rc;
            }
        if (json_expect(j, ':', "expected ':' after a metadata key")) { free(key); return -1; }
        if (json_string(j, &val, NULL, "expected a metadata value string (metadata values must be strings)")) { free(key); return -1; }
        /* grow by one: metadata maps are small, and the header bounds the count */
        char(*nk)[128] = realloc(f->meta_keys, (size_t)(f->n_meta + 1) * sizeof *nk);
        if (nk) f->meta_keys = nk;
        char **nv = nk ? realloc(f->meta_values, (size_t)(f->n_meta + 1) * sizeof *nv) : NULL;
        if (nv) f->meta_values = nv;
        if (!nk || !nv) {
            free(key), free(val);
            return lr_fail(j->err, "%s: out of memory reading the safetensors metadata", j->file);
        }
        memcpy(f->meta_keys[f->n_meta], key, klen + 1);
        f->meta_values[f->n_meta++] = val;
        free(key);
        if (json_eat(j, '}')) return 0;
        if (json_expect(j, ',', "expected ',' or '}' in __metadata__")) return -1;
    }
}

/* The layout checks sort (tensor, begin offset) pairs. */
typedef struct {
    const st_tensor *t;
    unsigned long long begin;
} st_slot;

static int cmp_offsets(const void *a, const void *b) {
    const st_slot *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->t->nbytes != y->t->nbytes) return x->t->nbytes < y->t->nbytes ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t; /* ties in header order */
}

/* Names are compared through a sorted index: headers may hold many tensors. */
static int cmp_names(const void *a, const void *b) {
    return strcmp(((const st_slot *)a)->t->name, ((const st_slot *)b)->t->name);
}

/* Parses the header into f (tensors with data still unset) and the begin
 * offsets into *begins (malloc'd, f->n entries), then checks the layout. */
static int parse_header(st_file *f, unsigned long long **begins, const unsigned char *h, size_t hlen,
                        size_t data_size, lr_error *err) {
    json j = {h, hlen, 0, f->source, err};
    *begins = NULL;
    if (hlen == 0 || h[0] != '{')
        return json_fail(&j, "the header must be a JSON object starting with '{'");
    j.pos = 1;
    int cap = 0, have_meta = 0;
    if (!json_eat(&j, '}')) {
        for (;;) {
            json_ws(&j);
            size_t key_pos = j.pos;
            char *name;
            size_t nlen;
            if (json_string(&j, &name, &nlen, "expected a tensor name string")) return -1;
            if (json_expect(&j, ':', "expected ':' after a tensor name")) { free(name); return -1; }
            if (!strcmp(name, "__metadata__")) {
                free(name);
                if (have_meta) {
                    j.pos = key_pos;
                    return json_fail(&j, "duplicate __metadata__");
                }
                have_meta = 1;
                if (parse_metadata(&j, f)) return -1;
            } else {
                if (nlen == 0 || nlen > (size_t)ST_NAME_MAX) {
                    int rc = lr_fail(err, "%s: safetensors header byte %zu: tensor name '%.40s%s' is %zu bytes (expected 1 to %d)",
                                     f->source, key_pos, name, nlen > 40 ? "..." : "", nlen, ST_NAME_MAX);
                    free(name);
                    return rc;
                }
                if (f->n == cap) {
                    /* each entry takes more than 40 header bytes, so cap stays below 2^31 */
                    int ncap = cap ? 2 * cap : 16;
                    st_tensor *nt = realloc(f->tensors, (size_t)ncap * sizeof *nt);
                    if (nt) f->tensors = nt;
                    unsigned long long *nb = nt ? realloc(*begins, (size_t)ncap * sizeof *nb) : NULL;
                    if (nb) *begins = nb;
                    if (!nt || !nb) {
                        free(name);
                        return lr_fail(err, "%s: out of memory for %d tensors", f->source, ncap);
                    }
                    cap = ncap;
                }
                st_tensor *t = &f->tensors[f->n++];
                memset(t, 0, sizeof *t);
                memcpy(t->name, name, nlen + 1);
                free(name);
                if (parse_tensor(&j, t, &(*begins)[f->n - 1], t->name)) return -1;
            }
            if (json_eat(&j, '}')) break;
            if (json_expect(&j, ',', "expected ',' or '}' after an entry")) return -1;
        }
    }
    json_ws(&j);
    if (j.pos != hlen) return json_fail(&j, "trailing bytes after the header object (only whitespace padding is allowed)");

    /* names unique; offsets sorted must tile [0, data_size) exactly */
    if (f->n == 0) {
        if (data_size != 0)
            return lr_fail(err, "%s: no tensors but %zu bytes of data after the header", f->source, data_size);
        return 0;
    }
    st_slot *idx = lr_calloc((size_t)f->n, sizeof *idx, f->source, err);
    if (!idx) return -1;
    for (int i = 0; i < f->n; i++) idx[i].t = &f->tensors[i], idx[i].begin = (*begins)[i];
    qsort(idx, (size_t)f->n, sizeof *idx, cmp_names);
    for (int i = 1; i < f->n; i++)
        if (!strcmp(idx[i - 1].t->name, idx[i].t->name)) {
            int rc = lr_fail(err, "%s: duplicate tensor name '%s' in the safetensors header", f->source, idx[i].t->name);
            free(idx);
            return rc;
        }
    qsort(idx, (size_t)f->n, sizeof *idx, cmp_offsets);
    unsigned long long at = 0;
    for (int i = 0; i < f->n; i++) {
        unsigned long long b = idx[i].begin, e = b + idx[i].t->nbytes;
        if (b != at || e > data_size) {
            int rc;
            if (e > data_size)
                rc = lr_fail(err, "%s: tensor '%s' has data_offsets [%llu, %llu] beyond the %zu bytes of data (file truncated or offsets out of range)",
                             f->source, idx[i].t->name, b, e, data_size);
            else if (b < at)
                rc = lr_fail(err, "%s: tensor '%s' data_offsets [%llu, %llu] overlap tensor '%s' (which ends at %llu)",
                             f->source, idx[i].t->name, b, e, idx[i - 1].t->name, at);
            else
                rc = lr_fail(err, "%s: gap in the data region: bytes [%llu, %llu) belong to no tensor (next is '%s')",
                             f->source, at, b, idx[i].t->name);
            free(idx);
            return rc;
        }
        at = e;
    }
    free(idx);
    if (at != data_size)
        return lr_fail(err, "%s: the tensors cover %llu bytes but the data region holds %zu (trailing bytes after the last tensor)",
                       f->source, at, data_size);
    return 0;
}

/* torch.save's formats: a zip archive holding data.pkl (PyTorch >= 1.6), or
 * a bare pickle (protocol byte 0x80, then the protocol 2..5). Only asked
 * once a file has failed to parse as safetensors. */
static int is_torch_file(const unsigned char *buf, size_t size) {
    if (size >= 4 && !memcmp(buf, "PK\x03\x04", 4)) return 1;
    return size >= 2 && buf[0] == 0x80 && buf[1] >= 2 && buf[1] <= 5;
}

int st_parse(st_file *f, unsigned char *buf, size_t size, const char *name, lr_error *err) {
    memset(f, 0, sizeof *f);
    f->buf = buf;
    f->buf_size = size;
    snprintf(f->source, sizeof f->source, "%s", name ? name : "(memory)");
    if (size < 8) {
        lr_fail(err, "%s: %zu bytes is too short for a safetensors file (expected at least the 8-byte header length)",
                f->source, size);
        goto fail;
    }
    unsigned long long hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > ST_MAX_HEADER || hlen > size - 8) {
        lr_fail(err, "%s: safetensors header length %llu is impossible (file has %zu bytes after the length, cap %llu): truncated or not a safetensors file",
                f->source, hlen, size - 8, ST_MAX_HEADER);
        goto fail;
    }
    size_t data_start = 8 + (size_t)hlen;
    unsigned long long *begins = NULL;
    if (parse_header(f, &begins, buf + 8, (size_t)hlen, size - data_start, err)) {
        free(begins);
        goto fail;
    }
    for (int i = 0; i < f->n; i++) f->tensors[i].data = buf + data_start + begins[i];
    free(begins);
    return 0;
fail:
    if (is_torch_file(buf, size))
        lr_fail(err, "%s: a PyTorch file (torch.save's pickle%s), not safetensors: convert it in Python with "
                     "safetensors.torch.save_file(model.state_dict(), \"model.safetensors\")",
                f->source, buf[0] == 'P' ? " in a zip archive" : "");
    st_free(f);
    return -1;
}

int st_read(st_file *f, const char *path, lr_error *err) {
    memset(f, 0, sizeof *f);
    /* O_NONBLOCK so a FIFO does not hang the open; regular files ignore it */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return lr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return lr_fail(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lr_fail(err, "%s: not a regular file (expected a safetensors file)", path);
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = lr_calloc(size, 1, path, err);
    if (!buf) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            free(buf);
            if (r == 0) return lr_fail(err, "%s: file shrank while reading (%zu of %zu bytes)", path, got, size);
            return lr_fail(err, "%s: read failed: %s", path, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    return st_parse(f, buf, size, path, err);
}

void st_free(st_file *f) {
    if (!f) return;
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) free(f->meta_values[i]);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->buf);
    f->tensors = NULL, f->meta_keys = NULL, f->meta_values = NULL, f->buf = NULL;
    f->n = f->n_meta = 0;
    f->buf_size = 0;
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

static void shape_str(char *o, size_t cap, int ndim, const long *shape) {
    size_t k = (size_t)snprintf(o, cap, "[");
    for (int d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(o + k, cap - k, d ? ", %ld" : "%ld", shape[d]);
    if (k < cap) snprintf(o + k, cap - k, "]");
}

int st_copy(const st_file *f, const char *name, st_dtype dtype, int ndim, const long *shape, void *dst,
            lr_error *err) {
    const st_tensor *t = st_find(f, name);
    if (!t) return lr_fail(err, "%s: tensor '%s' is missing", f->source, name);
    if (t->dtype != dtype)
        return lr_fail(err, "%s: tensor '%s' has dtype %s (expected %s)", f->source, name,
                       st_dtype_name(t->dtype), st_dtype_name(dtype));
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char got[200], want[200];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        return lr_fail(err, "%s: tensor '%s' has shape %s (expected %s)", f->source, name, got, want);
    }
    if (t->nbytes) memcpy(dst, t->data, t->nbytes);
    return 0;
}

/* ---------------------------------------------------------------- writer */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) { b->oom = 1; return; }
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string: '"' and '\\' and control bytes escaped, other bytes as they are. */
static void sb_json(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        if (*p == '"' || *p == '\\') e[0] = '\\', e[1] = (char)*p, sb_put(b, e, 2);
        else if (*p < 0x20) snprintf(e, sizeof e, "\\u%04x", *p), sb_put(b, e, 6);
        else sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

static int check_utf8(const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (!l) return -1;
        i += l;
    }
    return 0;
}

/* Validates the inputs and builds the padded header (length prefix included)
 * into *out. Tensor data follows in the given order. */
static int build_header(sbuf *out, const char *path, const st_tensor *tensors, int n,
                        const char *const *meta_keys, const char *const *meta_values, int n_meta,
                        size_t *data_size, lr_error *err) {
    if (n < 0 || n_meta < 0 || (n > 0 && !tensors) || (n_meta > 0 && (!meta_keys || !meta_values)))
        return lr_fail(err, "%s: bad safetensors write request (%d tensors, %d metadata entries)", path, n, n_meta);
    unsigned long long at = 0;
    for (int i = 0; i < n; i++) {
        const st_tensor *t = &tensors[i];
        size_t nlen = strnlen(t->name, sizeof t->name);
        if (nlen == 0 || nlen == sizeof t->name || !strcmp(t->name, "__metadata__") || check_utf8(t->name))
            return lr_fail(err, "%s: tensor %d has an invalid name (expected 1 to %d bytes of UTF-8, not __metadata__)",
                           path, i, ST_NAME_MAX);
        if ((unsigned)t->dtype > ST_U8 || t->ndim < 0 || t->ndim > ST_MAX_DIMS)
            return lr_fail(err, "%s: tensor '%s' has dtype %d and %d dims (expected a known dtype and 0 to %d dims)",
                           path, t->name, (int)t->dtype, t->ndim, ST_MAX_DIMS);
        unsigned long long bytes = dtype_sizes[t->dtype];
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0) return lr_fail(err, "%s: tensor '%s' has negative dimension %ld", path, t->name, t->shape[d]);
            unsigned long long s = (unsigned long long)t->shape[d];
            if (s != 0 && bytes > 0x7fffffffffffffffull / s)
                return lr_fail(err, "%s: tensor '%s' has a shape whose byte size overflows", path, t->name);
            bytes *= s;
        }
        if (bytes != t->nbytes || (bytes && !t->data))
            return lr_fail(err, "%s: tensor '%s' has %zu bytes of data (expected %llu from its dtype and shape)",
                           path, t->name, t->data ? t->nbytes : 0, bytes);
        for (int k = 0; k < i; k++)
            if (!strcmp(tensors[k].name, t->name)) return lr_fail(err, "%s: duplicate tensor name '%s'", path, t->name);
        if (bytes > 0x7fffffffffffffffull - at) return lr_fail(err, "%s: tensors too large", path);
        at += bytes;
    }
    for (int i = 0; i < n_meta; i++) {
        /* an empty key is valid JSON and valid safetensors (the reader takes it) */
        if (!meta_keys[i] || !meta_values[i] || strlen(meta_keys[i]) > (size_t)ST_NAME_MAX ||
            check_utf8(meta_keys[i]) || check_utf8(meta_values[i]))
            return lr_fail(err, "%s: metadata entry %d is invalid (expected a 0 to %d byte UTF-8 key and a UTF-8 value)",
                           path, i, ST_NAME_MAX);
        for (int k = 0; k < i; k++)
            if (!strcmp(meta_keys[k], meta_keys[i])) return lr_fail(err, "%s: duplicate metadata key '%s'", path, meta_keys[i]);
    }
    if (at > SIZE_MAX) return lr_fail(err, "%s: tensors too large", path);
    *data_size = (size_t)at;

    sb_put(out, "\0\0\0\0\0\0\0\0{", 9);
    int first = 1;
    if (n_meta > 0) {
        sb_str(out, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_str(out, ",");
            sb_json(out, meta_keys[i]);
            sb_str(out, ":");
            sb_json(out, meta_values[i]);
        }
        sb_str(out, "}");
        first = 0;
    }
    at = 0;
    for (int i = 0; i < n; i++) {
        const st_tensor *t = &tensors[i];
        char num[64];
        if (!first) sb_str(out, ",");
        first = 0;
        sb_json(out, t->name);
        sb_str(out, ":{\"dtype\":");
        sb_json(out, dtype_names[t->dtype]);
        sb_str(out, ",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%ld" : "%ld", t->shape[d]);
            sb_str(out, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", at, at + t->nbytes);
        sb_str(out, num);
        at += t->nbytes;
    }
    sb_str(out, "}");
    while (!out->oom && out->n % 8 != 0) sb_str(out, " "); /* pad: the data starts 8-aligned */
    if (out->oom) return lr_fail(err, "%s: out of memory building the safetensors header", path);
    unsigned long long hlen = out->n - 8;
    for (int i = 0; i < 8; i++) out->s[i] = (char)((hlen >> (8 * i)) & 0xff);
    return 0;
}

int st_encode(unsigned char **out, size_t *out_size, const st_tensor *tensors, int n,
              const char *const *meta_keys, const char *const *meta_values, int n_meta, lr_error *err) {
    sbuf b = {0};
    size_t data_size;
    *out = NULL, *out_size = 0;
    if (build_header(&b, "(memory)", tensors, n, meta_keys, meta_values, n_meta, &data_size, err)) {
        free(b.s);
        return -1;
    }
    if (data_size > SIZE_MAX - b.n) {
        free(b.s);
        return lr_fail(err, "(memory): tensors too large");
    }
    unsigned char *p = lr_calloc(b.n + data_size, 1, "safetensors image", err);
    if (!p) {
        free(b.s);
        return -1;
    }
    memcpy(p, b.s, b.n);
    size_t at = b.n;
    for (int i = 0; i < n; i++) {
        if (tensors[i].nbytes) memcpy(p + at, tensors[i].data, tensors[i].nbytes);
        at += tensors[i].nbytes;
    }
    *out = p, *out_size = b.n + data_size;
    free(b.s);
    return 0;
}

int st_write(const char *path, const st_tensor *tensors, int n, const char *const *meta_keys,
             const char *const *meta_values, int n_meta, lr_error *err) {
    sbuf b = {0};
    size_t data_size;
    if (build_header(&b, path, tensors, n, meta_keys, meta_values, n_meta, &data_size, err)) {
        free(b.s);
        return -1;
    }
    atomic_file a;
    if (atomic_open(&a, path, err)) {
        free(b.s);
        return -1;
    }
    atomic_write(&a, b.s, b.n);
    for (int i = 0; i < n; i++) atomic_write(&a, tensors[i].data, tensors[i].nbytes);
    free(b.s);
    return atomic_commit(&a, err);
}
