/* io/algo_cache.c: the per-user cache of convolution algorithm choices
 * (lrlab/algocache.h): its key, where it lives, its lock, reading and
 * atomically rewriting DIR/conv-algo.txt. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/algocache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lrlab/io.h"

/* ---- the key ---- */

/* "AMD_EPYC/26/2/1": /proc/cpuinfo's model name, family, model, stepping
 * (spaces made '_' so that the key stays one word per field). */
static void cpu_model(char *out, size_t cap) {
    char name[128] = "unknown", fam[16] = "?", mod[16] = "?", step[16] = "?", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        if (line[0] == '\n' || !strncmp(line, "processor", 9)) {
            if (strcmp(name, "unknown")) break; /* the first processor is enough */
            continue;
        }
        char *v = colon + 1 + (colon[1] == ' ');
        v[strcspn(v, "\n")] = '\0';
        char *dst = !strncmp(line, "model name", 10) ? name : !strncmp(line, "cpu family", 10) ? fam
                  : !strncmp(line, "model\t", 6) ? mod : !strncmp(line, "stepping", 8) ? step : NULL;
        if (dst) snprintf(dst, dst == name ? sizeof name : sizeof fam, "%s", v);
    }
    if (f) fclose(f);
    for (char *p = name; *p; p++)
        if (*p == ' ' || *p == '\t') *p = '_';
    snprintf(out, cap, "%s/%s/%s/%s", name, fam, mod, step);
}

int algo_cache_key(char *key, size_t cap, const model_spec *m, const net_config *nc, int threads, lr_error *err) {
    char cpu[200], platform[128];
    cpu_model(cpu, sizeof cpu);
    net_platform(platform, sizeof platform);
    size_t len = (size_t)snprintf(key, cap, "cpu=%s %s threads=%d batch=%d precision=%s pass=%s convs=", cpu,
                                  platform, threads, nc->batch, nc->precision == NET_PRECISION_BF16 ? "bf16" : "fp32",
                                  nc->training ? "train" : "forward");
    /* each convolution: input CxHxW, output channels, kernel, stride, padding (before/after when they
     * differ); 'b' with a bias, 'r' with a fused ReLU */
    int n = 0;
    for (int i = 0; i < m->n_layers && len < cap; i++) {
        const layer_spec *l = &m->layers[i];
        if (l->kind != LAYER_CONV) continue;
        const conv_spec *c = &l->u.conv;
        int relu = i + 1 < m->n_layers && m->layers[i + 1].kind == LAYER_RELU;
        char pad[32];
        if (c->pad_end == c->pad) snprintf(pad, sizeof pad, "%d", c->pad);
        else snprintf(pad, sizeof pad, "%d/%d", c->pad, c->pad_end);
        len += (size_t)snprintf(key + len, cap - len, "%s%dx%dx%d:%dk%ds%dp%s%s%s", n++ ? "," : "", l->in_c, l->in_h,
                                l->in_w, c->out_c, c->k, c->stride, pad, c->bias ? "b" : "", relu ? "r" : "");
    }
    if (len >= cap) return lr_fail(err, "algorithm cache key longer than %zu characters", cap - 1);
    return 0;
}

/* ---- where, and the lock ---- */

int algo_cache_open(algo_cache *c, lr_error *err) {
    memset(c, 0, sizeof *c);
    c->lock_fd = -1;
    const char *env = getenv("LRLAB_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (env && *env) n = snprintf(c->dir, sizeof c->dir, "%s", env);
    else if (xdg && xdg[0] == '/') n = snprintf(c->dir, sizeof c->dir, "%s/lrlab", xdg);
    else if (home && *home) n = snprintf(c->dir, sizeof c->dir, "%s/.cache/lrlab", home);
    else return lr_fail(err, "no cache directory: neither LRLAB_CACHE_DIR, XDG_CACHE_HOME nor HOME is set");
    if (n >= (int)sizeof c->dir) return lr_fail(err, "cache directory path too long: %s", c->dir);
    snprintf(c->path, sizeof c->path, "%s/%s", c->dir, ALGO_CACHE_FILE);
    if (make_dirs(c->dir, "the cache directory", err)) return -1; /* parents like ~/.cache may not exist */
    char lock[1100];
    snprintf(lock, sizeof lock, "%s/%s", c->dir, ALGO_CACHE_LOCK);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return lr_fail(err, "cannot open the cache lock %s: %s", lock, strerror(errno));
    struct flock lk;
    memset(&lk, 0, sizeof lk);
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    while (fcntl(fd, F_SETLKW, &lk) != 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(fd);
        return lr_fail(err, "cannot lock %s: %s", lock, strerror(e));
    }
    c->lock_fd = fd;
    return 0;
}

void algo_cache_close(algo_cache *c) {
    if (c->lock_fd >= 0) close(c->lock_fd); /* closing releases the record lock */
    c->lock_fd = -1;
}

/* ---- the file ---- */

/* A choice string: n_convs groups of three letters of "dwD-", ','-separated. */
static int valid_choices(const char *s, size_t len, int n_convs) {
    if (len != (size_t)n_convs * 4 - 1 || n_convs < 1) return 0;
    for (size_t i = 0; i < len; i++)
        if (i % 4 == 3 ? s[i] != ',' : !strchr("dwD-", s[i]) || !s[i]) return 0;
    return 1;
}

/* Reads the whole file (malloc'd, NUL-terminated) into *text; *text = NULL
 * when it does not exist. */
static int read_all(const char *path, char **text, lr_error *err) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? 0 : lr_fail(err, "%s: cannot read: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t k; buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += k;
        if (n + 1 == cap) {
            char *b = cap < (64u << 20) ? realloc(buf, cap *= 2) : NULL;
            if (!b) free(buf);
            buf = b;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return lr_fail(err, "%s: larger than 64 MB or out of memory", path);
    if (bad) {
        free(buf);
        return lr_fail(err, "%s: read error", path);
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        free(buf);
        return lr_fail(err, "%s: not a text file (a NUL byte)", path);
    }
    *text = buf;
    return 0;
}

/* The entry lines of text: calls fn(line, len, choices_len, ctx) for each
 * well-formed "CHOICES KEY" line; returns -1 with err at the first line that
 * is not (the header must be the first non-comment line). */
typedef void (*line_fn)(const char *line, size_t len, size_t choices_len, void *ctx);

static int scan(const char *path, const char *text, line_fn fn, void *ctx, lr_error *err) {
    int lineno = 0, header = 0;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        lineno++;
        if (p[len] != '\n') return lr_fail(err, "%s:%d: the last line is cut short (no newline)", path, lineno);
        if (len && p[0] != '#') {
            if (!header) {
                if (len != strlen(ALGO_CACHE_MAGIC) || strncmp(p, ALGO_CACHE_MAGIC, len))
                    return lr_fail(err, "%s:%d: expected the header '%s'", path, lineno, ALGO_CACHE_MAGIC);
                header = 1;
            } else {
                size_t clen = strcspn(p, " \n");
                if (clen == 0 || clen + 1 >= len || !valid_choices(p, clen, (int)(clen + 1) / 4))
                    return lr_fail(err, "%s:%d: expected 'CHOICES KEY' (choices like ddd,www,...)", path, lineno);
                fn(p, len, clen, ctx);
            }
        }
        p += len + 1;
    }
    if (!header && *text) return lr_fail(err, "%s: no header line '%s'", path, ALGO_CACHE_MAGIC);
    return 0;
}

typedef struct {
    const char *key;
    int n_convs;
    char *choices;
    size_t cap;
    int found, bad;
} lookup_ctx;

static void lookup_line(const char *line, size_t len, size_t clen, void *vctx) {
    lookup_ctx *c = vctx;
    const char *k = line + clen + 1;
    if (len - clen - 1 != strlen(c->key) || strncmp(k, c->key, len - clen - 1)) return;
    if (!valid_choices(line, clen, c->n_convs) || clen >= c->cap) {
        c->bad = 1;
        return;
    }
    memcpy(c->choices, line, clen);
    c->choices[clen] = '\0';
    c->found = 1;
}

int algo_cache_lookup(const algo_cache *c, const char *key, int n_convs, char *choices, size_t cap, lr_error *err) {
    char *text;
    if (read_all(c->path, &text, err)) return -1;
    if (!text) return 0;
    lookup_ctx lc = {key, n_convs, choices, cap, 0, 0};
    int rc = scan(c->path, text, lookup_line, &lc, err);
    free(text);
    if (rc) return -1;
    if (lc.bad) return lr_fail(err, "%s: the entry for this net does not describe its %d convolutions", c->path, n_convs);
    return lc.found;
}

typedef struct {
    const char *key;
    FILE *out;
} store_ctx;

static void store_line(const char *line, size_t len, size_t clen, void *vctx) {
    store_ctx *s = vctx;
    const char *k = line + clen + 1;
    if (len - clen - 1 == strlen(s->key) && !strncmp(k, s->key, len - clen - 1)) return; /* replaced */
    fprintf(s->out, "%.*s\n", (int)len, line);
}

int algo_cache_store(const algo_cache *c, const char *key, const char *choices, lr_error *err) {
    char *old = NULL, *body = NULL;
    size_t len = 0;
    lr_error ignored;
    if (read_all(c->path, &old, &ignored)) old = NULL; /* unreadable: rewritten from scratch */
    FILE *f = open_memstream(&body, &len);
    if (!f) {
        free(old);
        return lr_fail(err, "out of memory");
    }
    fprintf(f, "# lrlab: convolution algorithms chosen by timing, one line per machine kind and net:\n"
               "# CHOICES KEY (docs/file-formats.md). Delete this file, or run with --retune, to decide again.\n"
               "%s\n", ALGO_CACHE_MAGIC);
    store_ctx sc = {key, f};
    if (old && scan(c->path, old, store_line, &sc, &ignored)) {
        /* a corrupt file: keep only our line (the valid lines before the damage are already out) */
    }
    fprintf(f, "%s %s\n", choices, key);
    fclose(f);
    free(old);
    int rc = body ? write_file_atomic(c->path, body, len, err) : lr_fail(err, "out of memory");
    free(body);
    return rc;
}
