/* test_safetensors.c: the safetensors reader and writer (src/io/safetensors.c).
 *
 * Without arguments: round trips, byte-identical rewrites, the exact header
 * bytes, every hostile header the reader must reject (each message checked),
 * every truncation of a small valid file, every single-bit flip of its
 * header, st_copy's checks, and the atomic writer's failure paths (the
 * previous file stays intact). Not the PyTorch side: that is
 * tests/safetensors_torch_test.sh, which drives this program with
 *   --write-seed-shapes FILE  write the seed's 8 weight tensors with values
 *                             v(k, i) = ((7 i + 13 k) mod 101 - 50) / 64
 *                             (k the tensor's index; exact in float32)
 *   --check FILE              read FILE and print, per tensor, its name,
 *                             dtype, shape, byte count and checksum
 *                             (control bytes and backslash printed as \xNN)
 *                             (control bytes and '\\' printed as \\xNN)
 *   --rewrite IN OUT          read IN and write its tensors and metadata to OUT
 *   --write-corpus DIR        write the fuzz seed corpus (fuzz/corpus/safetensors) */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/safetensors.h"
#include "test.h"
#include "test_files.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An image from a header text (length prefix added, not padded) and data bytes 0,1,2,... */
static unsigned char *image(const char *header, size_t data_len, size_t *size) {
    size_t h = strlen(header);
    unsigned char *p = malloc(8 + h + data_len + 1);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(((unsigned long long)h >> (8 * i)) & 0xff);
    memcpy(p + 8, header, h);
    for (size_t i = 0; i < data_len; i++) p[8 + h + i] = (unsigned char)i;
    *size = 8 + h + data_len;
    return p;
}

/* Parses header+data; returns st_parse's result and leaves the message in err. */
static int parse_text(const char *header, size_t data_len, st_file *f, lr_error *err) {
    size_t size;
    unsigned char *p = image(header, data_len, &size);
    err->msg[0] = '\0';
    return st_parse(f, p, size, "bad.safetensors", err);
}

/* Each hostile case: header, data bytes, a phrase the message must hold. */
static void expect_reject(const char *header, size_t data_len, const char *phrase) {
    st_file f;
    lr_error err;
    int rc = parse_text(header, data_len, &f, &err);
    CHECK(rc == -1, "accepted: %s", header);
    CHECK(test_contains(err.msg, "bad.safetensors") && test_contains(err.msg, phrase), "header %s: message '%s' lacks '%s'",
          header, err.msg, phrase);
    st_free(&f);
}

static void expect_accept(const char *header, size_t data_len) {
    st_file f;
    lr_error err;
    int rc = parse_text(header, data_len, &f, &err);
    CHECK(rc == 0, "rejected %s: %s", header, err.msg);
    st_free(&f);
}

/* A small file of every dtype, a scalar, an empty tensor, and metadata that needs escapes. */
static float a_f32[6] = {1.5f, -2.25f, 3.0f, 0.0f, -0.0f, 1e-30f};
static double b_f64[4] = {3.141592653589793, -1e300, 2.5, 4.0};
static int64_t c_i64[1] = {-9000000000000000000LL};
static unsigned char d_u8[5] = {0, 1, 127, 128, 255};
static const char *mk[] = {"format", "quote\"back\\slash", "note"};
static const char *mv[] = {"pt", "line1\nline2\ttab \x01 ctl", "caf\xc3\xa9 \xf0\x9f\x98\x80"};

static int small_tensors(st_tensor *t) {
    memset(t, 0, 5 * sizeof *t);
    snprintf(t[0].name, sizeof t[0].name, "layer.a");
    t[0].dtype = ST_F32, t[0].ndim = 2, t[0].shape[0] = 2, t[0].shape[1] = 3, t[0].data = a_f32, t[0].nbytes = sizeof a_f32;
    snprintf(t[1].name, sizeof t[1].name, "b\"q");
    t[1].dtype = ST_F64, t[1].ndim = 1, t[1].shape[0] = 4, t[1].data = b_f64, t[1].nbytes = sizeof b_f64;
    snprintf(t[2].name, sizeof t[2].name, "scalar");
    t[2].dtype = ST_I64, t[2].ndim = 0, t[2].data = c_i64, t[2].nbytes = sizeof c_i64;
    snprintf(t[3].name, sizeof t[3].name, "empty");
    t[3].dtype = ST_F32, t[3].ndim = 2, t[3].shape[0] = 0, t[3].shape[1] = 7, t[3].data = NULL, t[3].nbytes = 0;
    snprintf(t[4].name, sizeof t[4].name, "bytes");
    t[4].dtype = ST_U8, t[4].ndim = 1, t[4].shape[0] = 5, t[4].data = d_u8, t[4].nbytes = sizeof d_u8;
    return 5;
}

static int same_tensor(const st_tensor *a, const st_tensor *b) {
    if (strcmp(a->name, b->name) || a->dtype != b->dtype || a->ndim != b->ndim || a->nbytes != b->nbytes) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0;
}

static void test_round_trip(void) {
    st_tensor t[5];
    int n = small_tensors(t);
    lr_error err = {{0}};
    const char *p = test_path("small.safetensors");
    CHECK(st_write(p, t, n, mk, mv, 3, &err) == 0, "%s", err.msg);
    struct stat st;
    CHECK(stat(test_path("small.safetensors.tmp"), &st) != 0, "the temporary file is left behind");
    st_file f;
    CHECK(st_read(&f, p, &err) == 0, "%s", err.msg);
    CHECK(f.n == n, "%d tensors", f.n);
    for (int i = 0; i < n && i < f.n; i++) CHECK(same_tensor(&f.tensors[i], &t[i]), "tensor %d (%s) differs", i, t[i].name);
    CHECK(f.n_meta == 3, "%d metadata entries", f.n_meta);
    for (int i = 0; i < 3; i++) CHECK(st_meta(&f, mk[i]) && !strcmp(st_meta(&f, mk[i]), mv[i]), "metadata %s", mk[i]);
    CHECK(st_meta(&f, "absent") == NULL, "absent metadata found");
    CHECK(st_find(&f, "layer.a") == &f.tensors[0] && st_find(&f, "nope") == NULL, "st_find");
    CHECK(f.n > 0 && (size_t)((const unsigned char *)f.tensors[0].data - f.buf) % 8 == 0, "data region not 8-aligned");

    /* rewriting what was read gives the same bytes; st_encode gives them too */
    const char *q = test_path("small2.safetensors");
    const char *keys[3], *vals[3];
    for (int i = 0; i < f.n_meta; i++) keys[i] = f.meta_keys[i], vals[i] = f.meta_values[i];
    CHECK(st_write(q, f.tensors, f.n, keys, vals, f.n_meta, &err) == 0, "%s", err.msg);
    size_t s1, s2, s3;
    unsigned char *b1 = test_slurp(p, &s1), *b2 = test_slurp(q, &s2), *b3 = NULL;
    CHECK(b1 && b2 && s1 == s2 && memcmp(b1, b2, s1) == 0, "rewrite is not byte-identical (%zu vs %zu bytes)", s1, s2);
    CHECK(st_encode(&b3, &s3, t, n, mk, mv, 3, &err) == 0, "%s", err.msg);
    CHECK(b1 && b3 && s1 == s3 && memcmp(b1, b3, s1) == 0, "st_encode differs from st_write");
    unsigned long long hl = 0;
    for (int i = 7; b1 && s1 >= 8 && i >= 0; i--) hl = (hl << 8) | b1[i];
    CHECK(hl % 8 == 0, "header length %llu not padded to a multiple of 8", hl);
    free(b1), free(b2), free(b3);
    st_free(&f);
    st_free(&f); /* idempotent */
}

/* The exact bytes of a tiny file, as the spec and docs/file-formats.md describe them. */
static void test_exact_bytes(void) {
    float v[2] = {1.0f, 2.0f};
    st_tensor t = {.dtype = ST_F32, .ndim = 1, .shape = {2}, .data = v, .nbytes = 8};
    snprintf(t.name, sizeof t.name, "w");
    const char *k[] = {"format"}, *val[] = {"pt"};
    unsigned char *b;
    size_t s;
    lr_error err;
    CHECK(st_encode(&b, &s, &t, 1, k, val, 1, &err) == 0, "%s", err.msg);
    const char *want = "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t wl = strlen(want), hl = (wl + 8 + 7) / 8 * 8 - 8;
    unsigned long long got = 0;
    for (int i = 7; i >= 0; i--) got = (got << 8) | b[i];
    CHECK(got == hl && s == 8 + hl + 8, "header length %llu (want %zu), size %zu", got, hl, s);
    CHECK(s >= 8 + wl && memcmp(b + 8, want, wl) == 0, "header text '%.*s'", (int)(s > 8 ? s - 8 : 0), (const char *)b + 8);
    int pad_ok = 1;
    for (size_t i = 8 + wl; i < 8 + hl && i < s; i++) pad_ok &= b[i] == ' ';
    CHECK(pad_ok, "padding is not spaces");
    CHECK(s == 8 + hl + 8 && memcmp(b + 8 + hl, v, 8) == 0, "data bytes");
    free(b);
    /* no metadata: no __metadata__ key at all */
    CHECK(st_encode(&b, &s, &t, 1, NULL, NULL, 0, &err) == 0, "%s", err.msg);
    int has_meta = 0;
    for (size_t i = 0; i + 12 <= s; i++) has_meta |= !memcmp(b + i, "__metadata__", 12);
    CHECK(!has_meta, "empty metadata written");
    free(b);
    /* an empty metadata key, which the reader takes, is written and read back */
    const char *ek[] = {""}, *ev[] = {"v"};
    CHECK(st_encode(&b, &s, &t, 1, ek, ev, 1, &err) == 0, "empty metadata key: %s", err.msg);
    st_file g;
    if (b) {
        CHECK(st_parse(&g, b, s, "empty-key.safetensors", &err) == 0, "%s", err.msg);
        CHECK(g.n_meta == 1 && st_meta(&g, "") && !strcmp(st_meta(&g, ""), "v"), "empty key read back");
        st_free(&g); /* st_parse owns b now */
    }
}

static void test_hostile_headers(void) {
    /* a valid base line and its variants */
    expect_accept("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_accept("{ \"a\" :\n{\t\"data_offsets\" : [ 0 , 8 ] ,\"shape\":[ 2 ],\r\n\"dtype\":\"F32\" } }        ", 8);
    expect_accept("{}", 0);
    expect_accept("{\"__metadata__\":{}}", 0);
    expect_accept("{\"__metadata__\":{\"\":\"v\"}}", 0); /* an empty key: JSON and safetensors allow it */
    expect_accept("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},"
                  "\"e\":{\"dtype\":\"F64\",\"shape\":[0,3],\"data_offsets\":[1,1]}}", 1);
    expect_accept("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,2]}}", 2);
    /* tensors in any order in the header, data in another */
    expect_accept("{\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[2,5]},"
                  "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 5);

    expect_reject("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'F16'");
    expect_reject("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}", 8, "overflows");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807,2],\"data_offsets\":[0,8]}}", 8, "overflows");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "beyond the 4 bytes");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "begin after end");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}", 12, "overlap");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4, "overlap");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", 12, "gap");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8, "gap");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 6, "trailing bytes after the last tensor");
    expect_reject("{}", 3, "no tensors but 3 bytes");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                  "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, "duplicate tensor name 'a'");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "more than 8 dimensions");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}x", 1, "trailing bytes after the header");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}  }", 1, "trailing bytes after the header");
    expect_reject("[1,2]", 0, "JSON object");
    expect_reject(" {}", 0, "JSON object");
    expect_reject("", 0, "JSON object");
    expect_reject("\"a\"", 0, "JSON object");
    expect_reject("{\"a\":[1]}", 0, "expected '{' starting a tensor entry");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":1}}", 1, "unknown key 'extra'");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "duplicate key 'dtype'");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "lacks \"data_offsets\"");
    expect_reject("{\"a\":{}}", 0, "empty tensor entry");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1, "non-negative integer");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1, "fraction or exponent");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1e0],\"data_offsets\":[0,1]}}", 1, "fraction or exponent");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}", 1, "leading zero");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 1, "too large");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1, "expected ']' after the two");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,],\"data_offsets\":[0,1]}}", 1, "non-negative integer dimension");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},}", 1, "expected a tensor name");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}", 1, "ends early");
    expect_reject("{\"a", 0, "unterminated string");
    expect_reject("{\"a\\", 0, "unterminated string");
    expect_reject("{\"a\\x\":{}}", 0, "unknown escape");
    expect_reject("{\"a\\u00zz\":{}}", 0, "4 hex digits");
    expect_reject("{\"a\\u0000\":{}}", 0, "\\u0000 is not allowed");
    expect_reject("{\"a\\ud800\":{}}", 0, "high surrogate");
    expect_reject("{\"a\\udc00\":{}}", 0, "unpaired low surrogate");
    expect_reject("{\"a\xff\":{}}", 0, "invalid UTF-8");
    expect_reject("{\"a\xc0\x80\":{}}", 0, "invalid UTF-8");
    expect_reject("{\"a\xed\xa0\x80\":{}}", 0, "invalid UTF-8");
    expect_reject("{\"a\tb\":{}}", 0, "control character");
    expect_reject("{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "is 0 bytes");
    expect_reject("{\"__metadata__\":{\"k\":1}}", 0, "metadata values must be strings");
    expect_reject("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "duplicate metadata key 'k'");
    expect_reject("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate __metadata__");
    expect_reject("{\"__metadata__\":[]}", 0, "starting __metadata__");
    expect_reject("{\"__metadata__\":null}", 0, "starting __metadata__");

    /* names: 127 bytes is the most the struct holds */
    char h[512], name[200];
    memset(name, 'n', 128);
    name[127] = '\0';
    snprintf(h, sizeof h, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", name);
    expect_accept(h, 1);
    name[127] = 'n', name[128] = '\0';
    snprintf(h, sizeof h, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", name);
    expect_reject(h, 1, "is 128 bytes (expected 1 to 127)");
    snprintf(h, sizeof h, "{\"__metadata__\":{\"%s\":\"v\"}}", name);
    expect_reject(h, 0, "metadata key longer than 127");

    /* escapes decode to the right bytes */
    st_file f;
    lr_error err;
    int rc = parse_text("{\"__metadata__\":{\"k\\u00e9\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\ud83d\\ude00\\u20ac\"},"
                        "\"x\\\"y\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &f, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK(f.n == 1 && !strcmp(f.tensors[0].name, "x\"y"), "escaped name '%s'", f.tensors[0].name);
        const char *v = st_meta(&f, "k\xc3\xa9");
        CHECK(v && !strcmp(v, "\"\\/\b\f\n\r\t\xf0\x9f\x98\x80\xe2\x82\xac"), "escaped metadata value");
    }
    st_free(&f);

    /* the 8-byte length: huge, beyond the file, beyond the cap, too short a file */
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    unsigned char *p = malloc(16);
    memcpy(p, huge, 16);
    err.msg[0] = '\0';
    CHECK(st_parse(&f, p, 10, "huge.safetensors", &err) == -1 && test_contains(err.msg, "huge.safetensors") &&
              test_contains(err.msg, "header length 18446744073709551615"), "%s", err.msg);
    p = malloc(16);
    memcpy(p, (unsigned char[]){3, 0, 0, 0, 0, 0, 0, 0, '{', '}'}, 10);
    CHECK(st_parse(&f, p, 10, "short.safetensors", &err) == -1 && test_contains(err.msg, "header length 3 is impossible"), "%s", err.msg);
    size_t big = 100000001 + 8;
    p = calloc(big, 1);
    if (p) {
        p[0] = 0x01, p[1] = 0xe1, p[2] = 0xf5, p[3] = 0x05; /* 100000001 */
        CHECK(st_parse(&f, p, big, "cap.safetensors", &err) == -1 && test_contains(err.msg, "cap 100000000"), "%s", err.msg);
    }
    p = malloc(4);
    memset(p, 0, 4);
    CHECK(st_parse(&f, p, 4, "tiny.safetensors", &err) == -1 && test_contains(err.msg, "4 bytes is too short"), "%s", err.msg);
    CHECK(st_parse(&f, NULL, 0, "zero.safetensors", &err) == -1 && test_contains(err.msg, "zero.safetensors"), "%s", err.msg);
}

static void test_truncations_and_flips(void) {
    st_tensor t[5];
    int n = small_tensors(t);
    unsigned char *full;
    size_t size;
    lr_error err;
    CHECK(st_encode(&full, &size, t, n, mk, mv, 3, &err) == 0, "%s", err.msg);
    int bad_trunc = 0;
    for (size_t len = 0; len < size; len++) {
        unsigned char *p = malloc(len ? len : 1);
        memcpy(p, full, len);
        st_file f;
        err.msg[0] = '\0';
        if (st_parse(&f, p, len, "trunc.safetensors", &err) != -1 || !test_contains(err.msg, "trunc.safetensors")) {
            if (!bad_trunc) fprintf(stderr, "  truncation to %zu bytes: '%s'\n", len, err.msg);
            bad_trunc++;
        }
        st_free(&f);
    }
    CHECK(bad_trunc == 0, "%d of %zu truncations not rejected cleanly", bad_trunc, size);

    /* every single-bit flip in the length and header: no crash (run this under
     * ASan: make asan), and either a clean message or a file that is still
     * self-consistent (every tensor inside the buffer) */
    unsigned long long hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | full[i];
    int bad_flip = 0, accepted = 0;
    for (size_t byte = 0; byte < 8 + hlen; byte++)
        for (int bit = 0; bit < 8; bit++) {
            unsigned char *p = malloc(size);
            memcpy(p, full, size);
            p[byte] ^= (unsigned char)(1u << bit);
            st_file f;
            err.msg[0] = '\0';
            if (st_parse(&f, p, size, "flip.safetensors", &err) == 0) {
                accepted++;
                for (int i = 0; i < f.n; i++) {
                    const unsigned char *d = f.tensors[i].data;
                    if (d < f.buf + 8 || d + f.tensors[i].nbytes > f.buf + f.buf_size) bad_flip++;
                }
            } else if (strncmp(err.msg, "flip.safetensors: ", 18) != 0) {
                if (!bad_flip) fprintf(stderr, "  flip byte %zu bit %d: '%s'\n", byte, bit, err.msg);
                bad_flip++;
            }
            st_free(&f);
        }
    CHECK(bad_flip == 0, "%d bit flips mishandled", bad_flip);
    printf("NOTE test_safetensors: %zu truncations rejected; %llu header bit flips, %d still valid\n", size,
           (8 + hlen) * 8, accepted);
    free(full);
}

static void test_read_errors(void) {
    st_file f;
    lr_error err;
    const char *missing = test_path("missing.safetensors");
    CHECK(st_read(&f, missing, &err) == -1 && test_contains(err.msg, missing) && test_contains(err.msg, "No such file"), "%s", err.msg);
    CHECK(st_read(&f, test_tmpdir, &err) == -1 && test_contains(err.msg, "not a regular file"), "%s", err.msg);
    const char *fifo = test_path("fifo.safetensors");
    if (mkfifo(fifo, 0600) == 0)
        CHECK(st_read(&f, fifo, &err) == -1 && test_contains(err.msg, "not a regular file"), "%s", err.msg);
    FILE *fp = fopen(test_path("garbage.safetensors"), "wb");
    fputs("this is not a safetensors file at all", fp);
    fclose(fp);
    CHECK(st_read(&f, test_path("garbage.safetensors"), &err) == -1 && test_contains(err.msg, "garbage.safetensors") &&
              test_contains(err.msg, "impossible"), "%s", err.msg);
}

static void test_copy(void) {
    st_tensor t[5];
    int n = small_tensors(t);
    unsigned char *b;
    size_t s;
    lr_error err;
    CHECK(st_encode(&b, &s, t, n, NULL, NULL, 0, &err) == 0, "%s", err.msg);
    st_file f;
    CHECK(st_parse(&f, b, s, "copy.safetensors", &err) == 0, "%s", err.msg);
    float got[6] = {0};
    CHECK(st_copy(&f, "layer.a", ST_F32, 2, (long[]){2, 3}, got, &err) == 0 && !memcmp(got, a_f32, sizeof got), "%s", err.msg);
    CHECK(st_copy(&f, "layer.b", ST_F32, 2, (long[]){2, 3}, got, &err) == -1 &&
              test_contains(err.msg, "copy.safetensors: tensor 'layer.b' is missing"), "%s", err.msg);
    CHECK(st_copy(&f, "layer.a", ST_F64, 2, (long[]){2, 3}, got, &err) == -1 &&
              test_contains(err.msg, "dtype F32 (expected F64)"), "%s", err.msg);
    CHECK(st_copy(&f, "layer.a", ST_F32, 2, (long[]){3, 2}, got, &err) == -1 &&
              test_contains(err.msg, "shape [2, 3] (expected [3, 2])"), "%s", err.msg);
    CHECK(st_copy(&f, "layer.a", ST_F32, 1, (long[]){6}, got, &err) == -1 && test_contains(err.msg, "(expected [6])"), "%s", err.msg);
    st_free(&f);
}

static void test_write_errors(void) {
    st_tensor t[5];
    int n = small_tensors(t);
    lr_error err;
    char p[1024];
    snprintf(p, sizeof p, "%s", test_path("w.safetensors"));
    /* invalid requests: nothing is written */
    st_tensor d[2] = {t[0], t[0]};
    CHECK(st_write(p, d, 2, NULL, NULL, 0, &err) == -1 && test_contains(err.msg, "duplicate tensor name 'layer.a'"), "%s", err.msg);
    d[1] = t[4], d[1].nbytes = 4;
    CHECK(st_write(p, d, 2, NULL, NULL, 0, &err) == -1 && test_contains(err.msg, "'bytes' has 4 bytes of data (expected 5"), "%s", err.msg);
    d[1] = t[4], snprintf(d[1].name, sizeof d[1].name, "__metadata__");
    CHECK(st_write(p, d, 2, NULL, NULL, 0, &err) == -1 && test_contains(err.msg, "invalid name"), "%s", err.msg);
    d[1] = t[4], d[1].ndim = 9;
    CHECK(st_write(p, d, 2, NULL, NULL, 0, &err) == -1 && test_contains(err.msg, "9 dims"), "%s", err.msg);
    const char *dk[] = {"k", "k"}, *dv[] = {"a", "b"};
    CHECK(st_write(p, t, n, dk, dv, 2, &err) == -1 && test_contains(err.msg, "duplicate metadata key 'k'"), "%s", err.msg);
    struct stat st;
    CHECK(stat(p, &st) != 0 && stat(test_path("w.safetensors.tmp"), &st) != 0, "an invalid request wrote a file");

    /* the parent is a regular file */
    FILE *fp = fopen(test_path("regular"), "wb");
    fclose(fp);
    const char *under = test_path("regular/x.safetensors");
    CHECK(st_write(under, t, n, NULL, NULL, 0, &err) == -1 && test_contains(err.msg, under) &&
              test_contains(err.msg, strerror(ENOTDIR)), "%s", err.msg);

    /* an old file exists; each failure leaves it as it was and no temporary file */
    CHECK(st_write(p, t, 1, NULL, NULL, 0, &err) == 0, "%s", err.msg);
    size_t s0, s1;
    unsigned char *old = test_slurp(p, &s0), *now;

    /* 1. the temporary name is a link to a full device (a full disk) */
    const char *tmp = test_path("w.safetensors.tmp");
    struct stat full;
    if (stat("/dev/full", &full) == 0 && S_ISCHR(full.st_mode) && symlink("/dev/full", tmp) == 0) {
        CHECK(st_write(p, t, n, NULL, NULL, 0, &err) == -1 && test_contains(err.msg, p) && test_contains(err.msg, strerror(ENOSPC)),
              "%s", err.msg);
        now = test_slurp(p, &s1);
        CHECK(now && s1 == s0 && !memcmp(now, old, s0), "old file changed after a failed write");
        free(now);
        CHECK(lstat(tmp, &st) != 0, "the temporary link is left behind");
        unlink(tmp);
    } else {
        printf("NOTE test_safetensors: no /dev/full, the full-disk case is not run\n");
    }
    /* 2. the temporary name is taken by a directory */
    CHECK(mkdir(tmp, 0700) == 0, "mkdir %s", tmp);
    CHECK(st_write(p, t, n, NULL, NULL, 0, &err) == -1 && test_contains(err.msg, strerror(EISDIR)), "%s", err.msg);
    now = test_slurp(p, &s1);
    CHECK(now && s1 == s0 && !memcmp(now, old, s0), "old file changed after a failed write");
    free(now);
    rmdir(tmp);
    free(old);

    /* 3. the file's name fits but "<name>.tmp" is too long for the file system */
    char lname[300];
    memset(lname, 'L', 253);
    memcpy(lname + 253 - 12, ".safetensors", 13);
    const char *lp = test_path(lname);
    fp = fopen(lp, "wb"); /* st_write cannot make it: its temporary name is too long */
    CHECK(fp != NULL, "cannot create %s", lp);
    if (fp) fputs("the previous file", fp), fclose(fp);
    old = test_slurp(lp, &s0);
    CHECK(st_write(lp, t, n, NULL, NULL, 0, &err) == -1 && test_contains(err.msg, strerror(ENAMETOOLONG)) && test_contains(err.msg, lname),
          "%s", err.msg);
    now = test_slurp(lp, &s1);
    CHECK(old && now && s1 == s0 && !memcmp(now, old, s0), "old file changed after a failed write");
    free(old), free(now);
    unlink(lp);
    unlink(p);
    unlink(test_path("regular"));
}

/* ------------------------------------------------ modes for the torch test */

static const char *seed_names[8] = {"conv1.weight", "conv2_1.weight", "conv2_2.weight", "conv3_1.weight",
                                    "conv3_2.weight", "conv3_3.weight", "fc1.weight", "fc2.weight"};
static const long seed_shapes[8][4] = {{32, 3, 3, 3},     {64, 32, 3, 3},    {64, 64, 3, 3}, {128, 64, 3, 3},
                                       {128, 128, 3, 3}, {128, 128, 3, 3}, {128, 2048},    {10, 128}};

static int write_seed_shapes(const char *path) {
    st_tensor t[8];
    float *bufs[8];
    for (int k = 0; k < 8; k++) {
        memset(&t[k], 0, sizeof t[k]);
        snprintf(t[k].name, sizeof t[k].name, "%s", seed_names[k]);
        t[k].dtype = ST_F32;
        t[k].ndim = k < 6 ? 4 : 2;
        long numel = 1;
        for (int d = 0; d < t[k].ndim; d++) t[k].shape[d] = seed_shapes[k][d], numel *= seed_shapes[k][d];
        bufs[k] = malloc((size_t)numel * sizeof(float));
        for (long i = 0; i < numel; i++) bufs[k][i] = (float)((7 * i + 13 * k) % 101 - 50) / 64.0f;
        t[k].data = bufs[k];
        t[k].nbytes = (size_t)numel * sizeof(float);
    }
    const char *keys[] = {"format"}, *vals[] = {"pt"};
    lr_error err;
    int rc = st_write(path, t, 8, keys, vals, 1, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    for (int k = 0; k < 8; k++) free(bufs[k]);
    return rc ? 1 : 0;
}

/* Prints s with backslash and control bytes as \\xNN, so each entry is one line. */
static void print_escaped(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == '\\') printf("\\x%02x", *p);
        else putchar(*p);
}

static int check_file(const char *path) {
    st_file f;
    lr_error err;
    if (st_read(&f, path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < f.n; i++) {
        const st_tensor *t = &f.tensors[i];
        const unsigned char *b = t->data;
        unsigned long long sum = 0;
        for (size_t j = 0; j < t->nbytes; j++) sum += (unsigned long long)(b[j] + 1) * (2 * j + 1);
        printf("tensor ");
        print_escaped(t->name);
        printf(" %s [", st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf(d ? ",%ld" : "%ld", t->shape[d]);
        printf("] %zu %llu\n", t->nbytes, sum);
    }
    for (int i = 0; i < f.n_meta; i++) {
        printf("meta ");
        print_escaped(f.meta_keys[i]);
        printf("=");
        print_escaped(f.meta_values[i]);
        printf("\n");
    }
    st_free(&f);
    return 0;
}

static int rewrite(const char *in, const char *out) {
    st_file f;
    lr_error err;
    if (st_read(&f, in, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const char **keys = calloc((size_t)f.n_meta + 1, sizeof *keys), **vals = calloc((size_t)f.n_meta + 1, sizeof *vals);
    for (int i = 0; i < f.n_meta; i++) keys[i] = f.meta_keys[i], vals[i] = f.meta_values[i];
    int rc = st_write(out, f.tensors, f.n, keys, vals, f.n_meta, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    free(keys), free(vals);
    st_free(&f);
    return rc ? 1 : 0;
}

static int put_corpus(const char *dir, const char *name, const unsigned char *b, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!test_put(path, b, n)) return 0;
    fprintf(stderr, "%s: cannot write\n", path);
    return 1;
}

/* Small valid files: lrlab's writer's output, and headers the way other
 * writers lay them out (spaces, other key orders, data not in header order). */
static int write_corpus(const char *dir) {
    st_tensor t[5];
    int n = small_tensors(t), bad = 0;
    unsigned char *b;
    size_t s;
    lr_error err;
    if (st_encode(&b, &s, NULL, 0, NULL, NULL, 0, &err) == 0) bad |= put_corpus(dir, "empty", b, s), free(b);
    if (st_encode(&b, &s, t, n, mk, mv, 3, &err) == 0) bad |= put_corpus(dir, "all_dtypes_meta", b, s), free(b);
    if (st_encode(&b, &s, t, 1, mk, mv, 1, &err) == 0) bad |= put_corpus(dir, "one_f32", b, s), free(b);
    float w[2 * 3 * 1 * 1] = {0.5f, -1, 2, 0.25f, 8, -0.125f}, fc[4] = {1, 2, 3, 4};
    double mom[4] = {0.1, 0.2, 0.3, 0.4};
    int64_t step[1] = {390}, rng[4] = {1, -2, 3, -4};
    st_tensor c[5] = {{.name = "conv1.weight", .dtype = ST_F32, .ndim = 4, .shape = {2, 3, 1, 1}, .data = w, .nbytes = sizeof w},
                      {.name = "fc2.weight", .dtype = ST_F32, .ndim = 2, .shape = {2, 2}, .data = fc, .nbytes = sizeof fc},
                      {.name = "momentum.fc2.weight", .dtype = ST_F64, .ndim = 2, .shape = {2, 2}, .data = mom, .nbytes = sizeof mom},
                      {.name = "step", .dtype = ST_I64, .ndim = 0, .data = step, .nbytes = sizeof step},
                      {.name = "rng.data", .dtype = ST_I64, .ndim = 1, .shape = {4}, .data = rng, .nbytes = sizeof rng}};
    const char *ck[] = {"format", "lrlab.version", "lrlab.epoch", "lrlab.config"};
    const char *cv[] = {"pt", "1", "3", "{\"lr\": 0.01, \"sched\": \"StepLR(step_size=16, gamma=0.2)\"}"};
    if (st_encode(&b, &s, c, 5, ck, cv, 4, &err) == 0) bad |= put_corpus(dir, "checkpoint_like", b, s), free(b);
    b = image("{\"b\": {\"shape\": [3], \"dtype\": \"U8\", \"data_offsets\": [2, 5]}, "
              "\"__metadata__\": {\"format\": \"pt\", \"n\\u00e9\": \"\\ud83d\\ude00\"}, "
              "\"a\": {\"dtype\": \"F64\", \"shape\": [0], \"data_offsets\": [0, 0]}, "
              "\"c\": {\"dtype\": \"U8\", \"shape\": [1, 2], \"data_offsets\": [0, 2]}}\n    ", 5, &s);
    bad |= put_corpus(dir, "foreign_layout", b, s), free(b);
    return bad;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-seed-shapes")) return write_seed_shapes(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "--check")) return check_file(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "--rewrite")) return rewrite(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "--write-corpus")) return write_corpus(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write-seed-shapes FILE | --check FILE | --rewrite IN OUT | --write-corpus DIR]\n", argv[0]);
        return 2;
    }
    if (test_tmpdir_make("test_safetensors")) return 1;
    test_round_trip();
    test_exact_bytes();
    test_hostile_headers();
    test_truncations_and_flips();
    test_read_errors();
    test_copy();
    test_write_errors();
    test_tmpdir_remove();
    return test_summary("test_safetensors");
}
