/* sweep/sweep.c: the sweep-file parser and flag resolution of
 * lrlab/sweep.h. Reads top to bottom: the word splitter (shell-like
 * quoting), the directives (sweep, defaults, run), placeholders, and the
 * resolution of one run's flags through config_set and sched_parse. It
 * starts no process and touches no file but the sweep file; the format is
 * documented in docs/sweeps.md. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/sweep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/sched.h"


/* ---- flags ---- */

int sweep_flags_add(sweep_flags *f, const char *key, const char *value, int line, lr_error *err) {
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 8;
        sweep_flag *p = realloc(f->flags, (size_t)cap * sizeof *p);
        if (!p) return lr_fail(err, "sweep flags: out of memory");
        f->flags = p, f->cap = cap;
    }
    sweep_flag *x = &f->flags[f->n];
    x->key = strdup(key);
    x->value = value ? strdup(value) : NULL;
    x->line = line;
    if (!x->key || (value && !x->value)) {
        free(x->key), free(x->value);
        return lr_fail(err, "sweep flags: out of memory");
    }
    f->n++;
    return 0;
}

void sweep_flags_free(sweep_flags *f) {
    for (int i = 0; i < f->n; i++) free(f->flags[i].key), free(f->flags[i].value);
    free(f->flags);
    memset(f, 0, sizeof *f);
}

/* "weight-decay" and "weight_decay" are the same setting. */
static int key_is(const char *key, const char *name) { return lr_key_eq(key, strlen(key), name); }

/* Groups words into settings: "--key value", "--key=value", "--switch".
 * `where` prefixes messages ("x.sweep:7: " or ""). */
static int flags_from_words(sweep_flags *out, int n, char **w, int line, const char *where, lr_error *err) {
    for (int i = 0; i < n; i++) {
        const char *arg = w[i];
        if (strncmp(arg, "--", 2) || !arg[2] || arg[2] == '=')
            return lr_fail(err, "%sexpected a --flag of lrlab train, got '%s'", where, arg);
        char key[64];
        const char *eq = strchr(arg, '=');
        size_t klen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (klen >= sizeof key) return lr_fail(err, "%sunknown flag '%.80s' (see lrlab train --help)", where, arg);
        memcpy(key, arg + 2, klen);
        key[klen] = '\0';
        if (!config_known(key)) {
            if (key_is(key, "resume"))
                return lr_fail(err, "%s--resume is not for sweeps: a sweep resumes its unfinished runs by itself", where);
            const char *near = lr_nearest(arg, (int)(2 + klen), config_flags(), 3);
            return lr_fail(err, "%sunknown flag '--%s' (%s%s%ssee lrlab train --help)", where, key,
                           near ? "did you mean " : "", near ? near : "", near ? "? " : "");
        }
        if (key_is(key, "out"))
            return lr_fail(err, "%s--out: a sweep puts each run in OUT/NAME; give --out to lrlab sweep instead", where);
        const char *value = eq ? eq + 1 : NULL;
        if (!value && !config_is_switch(key)) {
            if (i + 1 >= n) return lr_fail(err, "%s--%s: missing value", where, key);
            value = w[++i];
        }
        if (sweep_flags_add(out, key, value, line, err)) return -1;
    }
    return 0;
}

int sweep_flags_from_argv(sweep_flags *out, int argc, char **argv, lr_error *err) {
    return flags_from_words(out, argc, argv, 0, "", err);
}

/* ---- names ---- */

static int name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= SWEEP_NAME_MAX) return 0;
    if (s[0] == '.' || s[0] == '-') return 0; /* no ".", "..", hidden dirs or flag look-alikes */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

#define NAME_RULE "1 to 63 characters of A-Z a-z 0-9 _ . -, not starting with '.' or '-'"

/* ---- words: shell-like quoting ---- */

/* The words of one directive. A directive ends at a newline outside
 * quotes; backslash-newline continues it. */
typedef struct {
    char **w;
    int n, cap;
    char *buf; /* the word being built */
    size_t len, bcap;
} words;

static void words_clear(words *ws) {
    for (int i = 0; i < ws->n; i++) free(ws->w[i]);
    ws->n = 0;
    ws->len = 0;
}

static void words_free(words *ws) {
    words_clear(ws);
    free(ws->w);
    free(ws->buf);
}

static int word_putc(words *ws, char c, lr_error *err) {
    if (ws->len + 1 >= ws->bcap) {
        size_t cap = ws->bcap ? 2 * ws->bcap : 64;
        char *p = realloc(ws->buf, cap);
        if (!p) return lr_fail(err, "sweep file: out of memory");
        ws->buf = p, ws->bcap = cap;
    }
    ws->buf[ws->len++] = c;
    return 0;
}

static int word_end(words *ws, lr_error *err) {
    if (ws->n == ws->cap) {
        int cap = ws->cap ? 2 * ws->cap : 16;
        char **p = realloc(ws->w, (size_t)cap * sizeof *p);
        if (!p) return lr_fail(err, "sweep file: out of memory");
        ws->w = p, ws->cap = cap;
    }
    char *s = malloc(ws->len + 1);
    if (!s) return lr_fail(err, "sweep file: out of memory");
    if (ws->len) memcpy(s, ws->buf, ws->len);
    s[ws->len] = '\0';
    ws->w[ws->n++] = s;
    ws->len = 0;
    return 0;
}

/* Reads the next directive's words from text[*pos..len). *line counts
 * lines; *first gets the line the directive starts on. Returns 1 with
 * words, 0 at the end of the text, -1 on a syntax error. */
static int next_directive(words *ws, const char *text, size_t len, size_t *pos, int *line, int *first,
                          const char *path, lr_error *err) {
    words_clear(ws);
    int in_word = 0;
    char quote = 0;
    int quote_line = 0;
    *first = *line;
    while (*pos < len) {
        char c = text[(*pos)++];
        if (c == '\0') return lr_fail(err, "%s:%d: a NUL byte: a sweep file is text", path, *line);
        if (quote == '\'') {
            if (c == '\'') quote = 0;
            else {
                if (c == '\n') (*line)++;
                if (word_putc(ws, c, err)) return -1;
            }
            continue;
        }
        if (quote == '"') {
            if (c == '"') quote = 0;
            else if (c == '\\' && *pos < len && (text[*pos] == '"' || text[*pos] == '\\')) {
                if (word_putc(ws, text[(*pos)++], err)) return -1;
            } else if (c == '\\' && *pos < len && text[*pos] == '\n') {
                (*pos)++, (*line)++;
            } else {
                if (c == '\n') (*line)++;
                if (word_putc(ws, c, err)) return -1;
            }
            continue;
        }
        if (c == '\n') {
            (*line)++;
            if (in_word && word_end(ws, err)) return -1;
            in_word = 0;
            if (ws->n) return 1;
            *first = *line;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            if (in_word && word_end(ws, err)) return -1;
            in_word = 0;
            continue;
        }
        if (c == '#' && !in_word) { /* a comment runs to the end of the line */
            while (*pos < len && text[*pos] != '\n') (*pos)++;
            continue;
        }
        if (c == '\\') {
            if (*pos >= len) return lr_fail(err, "%s:%d: a backslash at the end of the file", path, *line);
            char d = text[(*pos)++];
            if (d == '\n') { /* continuation: the directive goes on */
                (*line)++;
                if (in_word && word_end(ws, err)) return -1;
                in_word = 0;
                continue;
            }
            if (d == '\0') return lr_fail(err, "%s:%d: a NUL byte: a sweep file is text", path, *line);
            if (word_putc(ws, d, err)) return -1;
            in_word = 1;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            quote_line = *line;
            in_word = 1;
            continue;
        }
        if (word_putc(ws, c, err)) return -1;
        in_word = 1;
    }
    if (quote) return lr_fail(err, "%s:%d: unterminated %s quote", path, quote_line, quote == '"' ? "double" : "single");
    if (in_word && word_end(ws, err)) return -1;
    return ws->n ? 1 : 0;
}

/* ---- the file ---- */

void sweep_free(sweep_file *s) {
    sweep_flags_free(&s->defaults);
    sweep_flags_free(&s->space);
    for (int i = 0; i < s->n_runs; i++) sweep_flags_free(&s->runs[i].flags);
    free(s->runs);
    memset(s, 0, sizeof *s);
}

int sweep_find_run(const sweep_file *s, const char *name) {
    for (int i = 0; i < s->n_runs; i++)
        if (!strcmp(s->runs[i].name, name)) return i;
    return -1;
}

/* The default name: the file name without its directory and ".sweep". */
static void default_name(char *out, size_t cap, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 6 && !strcmp(base + n - 6, ".sweep")) n -= 6;
    snprintf(out, cap, "%.*s", (int)(n < cap - 1 ? n : cap - 1), base);
    if (n >= cap) out[0] = '\0'; /* too long: not a valid name, so `sweep NAME` is required */
}

static int parse_directives(sweep_file *s, const char *text, size_t len, int *sweep_line, lr_error *err) {
    words ws;
    memset(&ws, 0, sizeof ws);
    size_t pos = 0;
    int line = 1, first = 1, rc = 0, cap = 0;
    char where[1200];
    while (!rc) {
        int k = next_directive(&ws, text, len, &pos, &line, &first, s->path, err);
        if (k <= 0) { rc = k; break; }
        snprintf(where, sizeof where, "%s:%d: ", s->path, first);
        const char *d = ws.w[0];
        if (!strcmp(d, "sweep")) {
            if (*sweep_line) rc = lr_fail(err, "%ssweep: the name is already given on line %d", where, *sweep_line);
            else if (ws.n != 2) rc = lr_fail(err, "%ssweep: expected `sweep NAME` (one word)", where);
            else if (!name_ok(ws.w[1])) rc = lr_fail(err, "%ssweep '%.80s': a name is " NAME_RULE, where, ws.w[1]);
            else {
                snprintf(s->name, sizeof s->name, "%s", ws.w[1]);
                *sweep_line = first;
            }
        } else if (!strcmp(d, "defaults")) {
            if (s->n_runs)
                rc = lr_fail(err, "%sdefaults after the first run (line %d): put every `defaults` line above the runs",
                             where, s->runs[0].line);
            else if (ws.n < 2) rc = lr_fail(err, "%sdefaults: expected `defaults FLAGS...`", where);
            else rc = flags_from_words(&s->defaults, ws.n - 1, ws.w + 1, first, where, err);
        } else if (!strcmp(d, "space") && s->is_space) {
            if (ws.n < 2) rc = lr_fail(err, "%sspace: expected `space --FLAG RANGE...`", where);
            else rc = flags_from_words(&s->space, ws.n - 1, ws.w + 1, first, where, err);
        } else if (!strcmp(d, "run") && s->is_space) {
            rc = lr_fail(err, "%srun: a space file has no runs: `space --FLAG RANGE` lines (lrlab tune samples the runs)", where);
        } else if (!strcmp(d, "run")) {
            if (ws.n < 2) { rc = lr_fail(err, "%srun: expected `run NAME FLAGS...`", where); break; }
            const char *name = ws.w[1];
            int other = sweep_find_run(s, name);
            if (!name_ok(name)) { rc = lr_fail(err, "%srun '%.80s': a name is " NAME_RULE, where, name); break; }
            if (other >= 0) { rc = lr_fail(err, "%srun %s: the name is already used on line %d", where, name, s->runs[other].line); break; }
            if (s->n_runs == cap) {
                int ncap = cap ? 2 * cap : 8;
                sweep_run *p = realloc(s->runs, (size_t)ncap * sizeof *p);
                if (!p) { rc = lr_fail(err, "sweep file: out of memory"); break; }
                s->runs = p, cap = ncap;
            }
            sweep_run *r = &s->runs[s->n_runs++];
            memset(r, 0, sizeof *r);
            snprintf(r->name, sizeof r->name, "%s", name);
            r->line = first;
            rc = flags_from_words(&r->flags, ws.n - 2, ws.w + 2, first, where, err);
        } else {
            rc = lr_fail(err, "%sunknown directive '%.80s' (expected sweep, defaults or %s)", where, d,
                         s->is_space ? "space" : "run");
        }
    }
    words_free(&ws);
    return rc;
}

static int parse_file(sweep_file *s, const char *text, size_t len, const char *path, int is_space, lr_error *err) {
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->is_space = is_space;
    int sweep_line = 0;
    if (parse_directives(s, text, len, &sweep_line, err)) goto fail;
    if (is_space && !s->space.n) {
        lr_fail(err, "%s: no ranges: a space file needs at least one `space --FLAG RANGE` line", s->path);
        goto fail;
    }
    if (!is_space && !s->n_runs) {
        lr_fail(err, "%s: no runs: a sweep file needs at least one `run NAME FLAGS...` line", s->path);
        goto fail;
    }
    if (!sweep_line) {
        default_name(s->name, sizeof s->name, path);
        if (!name_ok(s->name)) {
            lr_fail(err, "%s: the file name does not make a sweep name (" NAME_RULE "): add `sweep NAME`", s->path);
            goto fail;
        }
    }
    for (int i = 0; i < s->n_runs; i++)
        if (sweep_resolve(s, i, NULL, NULL, NULL, err)) goto fail;
    return 0;
fail:
    sweep_free(s);
    return -1;
}

int sweep_parse(sweep_file *s, const char *text, size_t len, const char *path, lr_error *err) {
    return parse_file(s, text, len, path, 0, err);
}

int sweep_parse_space(sweep_file *s, const char *text, size_t len, const char *path, lr_error *err) {
    return parse_file(s, text, len, path, 1, err);
}

static int load_file(sweep_file *s, const char *path, int is_space, lr_error *err) {
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f) return lr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (size_t)16 << 20) {
                fclose(f), free(text);
                return lr_fail(err, "%s: larger than 16 MiB: not a sweep file", path);
            }
            cap = cap ? 2 * cap : 4096;
            char *p = realloc(text, cap);
            if (!p) { fclose(f), free(text); return lr_fail(err, "%s: out of memory", path); }
            text = p;
        }
        size_t k = fread(text + len, 1, cap - len, f);
        len += k;
        if (k == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(text); return lr_fail(err, "%s: read error", path); }
    int rc = parse_file(s, text, len, path, is_space, err);
    free(text);
    return rc;
}

int sweep_load(sweep_file *s, const char *path, lr_error *err) { return load_file(s, path, 0, err); }
int sweep_load_space(sweep_file *s, const char *path, lr_error *err) { return load_file(s, path, 1, err); }

/* ---- resolution: placeholders and checks ---- */

long sweep_steps_per_epoch(const train_config *c) { return config_steps_per_epoch(c); }

static void origin_of(char *out, size_t cap, const sweep_file *s, const sweep_flag *f) {
    if (f->line > 0) snprintf(out, cap, "%s:%d: --%s", s->path, f->line, f->key);
    else snprintf(out, cap, "--%s", f->key);
}

typedef struct {
    long epochs, steps_per_epoch, total_steps;
    double lr;
} placeholders;

#define PLACEHOLDERS "{epochs}, {steps_per_epoch}, {total_steps}, {lr}"

/* The shortest %g text that reads back as v exactly. */
static void exact_text(char *out, size_t cap, double v) {
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(out, cap, "%.*g", digits, v);
        if (strtod(out, NULL) == v) return;
    }
}

/* value with {epochs} etc. replaced; NULL (err filled) on an unknown or
 * unterminated placeholder. Caller frees. */
static char *substitute(const char *value, const placeholders *ph, const char *origin, lr_error *err) {
    size_t cap = strlen(value) + 64, n = 0;
    char *out = malloc(cap);
    if (!out) return lr_fail(err, "%s: out of memory", origin), NULL;
    for (const char *p = value; *p;) {
        char piece[32];
        const char *add = piece;
        size_t alen;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close) {
                free(out);
                return lr_fail(err, "%s '%.200s': '{' without '}' (placeholders: " PLACEHOLDERS ")", origin, value), NULL;
            }
            size_t k = (size_t)(close - p - 1);
            if (k == 6 && !strncmp(p + 1, "epochs", 6)) snprintf(piece, sizeof piece, "%ld", ph->epochs);
            else if (k == 15 && !strncmp(p + 1, "steps_per_epoch", 15))
                snprintf(piece, sizeof piece, "%ld", ph->steps_per_epoch);
            else if (k == 11 && !strncmp(p + 1, "total_steps", 11)) snprintf(piece, sizeof piece, "%ld", ph->total_steps);
            else if (k == 2 && !strncmp(p + 1, "lr", 2)) exact_text(piece, sizeof piece, ph->lr);
            else {
                free(out);
                return lr_fail(err, "%s '%.200s': unknown placeholder {%.*s} (known: " PLACEHOLDERS ")",
                               origin, value, (int)(k < 40 ? k : 40), p + 1), NULL;
            }
            alen = strlen(piece);
            p = close + 1;
        } else {
            add = p;
            alen = 1;
            p++;
        }
        if (n + alen + 1 > cap) {
            cap = 2 * (n + alen + 1);
            char *q = realloc(out, cap);
            if (!q) { free(out); return lr_fail(err, "%s: out of memory", origin), NULL; }
            out = q;
        }
        memcpy(out + n, add, alen);
        n += alen;
    }
    out[n] = '\0';
    return out;
}

/* Settings the placeholders are computed from cannot use them. */
static int feeds_placeholders(const char *key) {
    return key_is(key, "epochs") || key_is(key, "max_steps") || key_is(key, "batch") || key_is(key, "limit_train") ||
           key_is(key, "val") || key_is(key, "lr");
}

int sweep_resolve(const sweep_file *s, int i, const sweep_flags *extra, sweep_flags *out,
                  train_config *cfg_out, lr_error *err) {
    const sweep_flags *lists[3] = {&s->defaults, &s->runs[i].flags, extra};
    const sweep_run *run = &s->runs[i];
    char origin[1400];
    /* pass 1: the settings placeholders depend on, from the flags without any */
    train_config c;
    config_defaults(&c);
    for (int l = 0; l < 3; l++)
        for (int k = 0; lists[l] && k < lists[l]->n; k++) {
            const sweep_flag *f = &lists[l]->flags[k];
            origin_of(origin, sizeof origin, s, f);
            if (f->value && strchr(f->value, '{')) {
                if (feeds_placeholders(f->key))
                    return lr_fail(err, "%s '%.200s': placeholders are computed from --%s; give it a number",
                                   origin, f->value, f->key);
                continue;
            }
            if (config_set(&c, f->key, f->value, origin, err)) return -1;
        }
    long spe = sweep_steps_per_epoch(&c); /* probes the data files: once */
    placeholders ph = {c.epochs, spe, config_run_steps(&c, spe), c.lr};
    /* pass 2: every flag, placeholders filled in */
    sweep_flags res;
    memset(&res, 0, sizeof res);
    config_defaults(&c);
    const sweep_flag *sched_flag = NULL;
    for (int l = 0; l < 3; l++)
        for (int k = 0; lists[l] && k < lists[l]->n; k++) {
            const sweep_flag *f = &lists[l]->flags[k];
            origin_of(origin, sizeof origin, s, f);
            char *v = f->value ? substitute(f->value, &ph, origin, err) : NULL;
            int rc = (f->value && !v) || config_set(&c, f->key, v, origin, err) ||
                     sweep_flags_add(&res, f->key, v, f->line, err);
            free(v);
            if (rc) { sweep_flags_free(&res); return -1; }
            if (key_is(f->key, "sched")) sched_flag = f;
        }
    /* what the trainer would refuse after loading the data, said now */
    char where[1200];
    snprintf(where, sizeof where, "%s:%d: run %s", s->path, run->line, run->name);
    lr_error sub;
    optim_params hp;
    param_group groups[OPTIM_MAX_GROUPS];
    int rc = 0, n_groups;
    if (ph.steps_per_epoch < 1)
        rc = lr_fail(err, "%s: --batch %d is larger than the %ld training images (--limit-train %ld, --val %ld)",
                     where, c.batch, config_train_images(&c) - c.val,
                     c.limit_train, c.val);
    else if (!c.val && !strncmp(c.monitor, "val_", 4))
        rc = lr_fail(err, "%s: --monitor %s needs a validation set: add --val N", where, c.monitor);
    else if (config_check_max_steps(&c, ph.steps_per_epoch, &sub) ||
             config_optim(&c, &hp, &sub) || config_groups(&c, &hp, groups, &n_groups, &sub) ||
             config_check_lookahead(&c, ph.total_steps, &sub))
        rc = lr_fail(err, "%s: %s", where, sub.msg);
    else if (c.sched[0]) {
        sched_context sc = config_sched_context(&c, &hp, ph.steps_per_epoch);
        lr_sched *sch = NULL;
        lr_error e;
        if (sched_parse(&sch, c.sched, &sc, &e)) {
            if (sched_flag) origin_of(origin, sizeof origin, s, sched_flag);
            else snprintf(origin, sizeof origin, "%s", where);
            rc = lr_fail(err, "%s: %s", origin, e.msg);
        }
        sched_free(sch);
    }
    if (rc || !out) sweep_flags_free(&res);
    else *out = res;
    if (!rc && cfg_out) {
        *cfg_out = c;
        config_resolve_optim(cfg_out, &hp, &sub); /* as the run will record it (checked above) */
    }
    return rc;
}
