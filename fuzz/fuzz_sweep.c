// fuzz-sources: src/sweep/*.c src/train/config.c src/model/*.c src/optim/*.c src/data/*.c src/sched/*.c src/core/*.c
/* fuzz/fuzz_sweep.c: libFuzzer target for the sweep-file parser
 * (lrlab/sweep.h): any bytes as a sweep file must give either a parsed file
 * or one error message, never a crash, a hang or undefined behaviour. A
 * parsed file must hold what the parser promises (at least one run, valid
 * unique names, every run resolving without overrides), resolve with
 * command-line overrides without crashing, and survive a round trip: written
 * back with every word single-quoted, it parses to the same runs and flags.
 * Not a test of the messages (tests/test_sweep.c does that). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/sweep.h"

/* A growing text buffer for the round trip. */
typedef struct {
    char *s;
    size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = 2 * (b->n + n + 1);
        b->s = realloc(b->s, b->cap);
        if (!b->s) abort();
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void put_word(buf *b, const char *prefix, const char *w) {
    put(b, " '", 2);
    put(b, prefix, strlen(prefix));
    for (const char *p = w; *p; p++) {
        if (*p == '\'') put(b, "'\\''", 4);
        else put(b, p, 1);
    }
    put(b, "'", 1);
}

static void put_flags(buf *b, const sweep_flags *f) {
    for (int i = 0; i < f->n; i++) {
        const sweep_flag *x = &f->flags[i];
        if (x->value && config_is_switch(x->key)) {
            char key[80];
            snprintf(key, sizeof key, "--%s=", x->key);
            put_word(b, key, x->value);
        } else {
            put_word(b, "--", x->key);
            if (x->value) put_word(b, "", x->value);
        }
    }
}

static int same_flags(const sweep_flags *a, const sweep_flags *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        const sweep_flag *x = &a->flags[i], *y = &b->flags[i];
        if (strcmp(x->key, y->key) || !x->value != !y->value || (x->value && strcmp(x->value, y->value))) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 8000) return 0;
    sweep_file s;
    lr_error err;
    if (sweep_parse(&s, (const char *)data, size, "fuzz.sweep", &err) != 0) {
        if (s.n_runs || s.runs || s.defaults.n || strlen(err.msg) >= sizeof err.msg) abort();
        return 0;
    }
    if (s.n_runs < 1 || !s.name[0]) abort();
    for (int i = 0; i < s.n_runs; i++) {
        if (!s.runs[i].name[0] || sweep_find_run(&s, s.runs[i].name) != i) abort();
        train_config cfg;
        sweep_flags out = {0};
        if (sweep_resolve(&s, i, NULL, &out, &cfg, &err) != 0) abort(); /* the parse checked this */
        if (out.n != s.defaults.n + s.runs[i].flags.n) abort();
        sweep_flags_free(&out);
        char *quick[] = {"--epochs", "2", "--limit-train", "512", "--val=64"};
        sweep_flags extra = {0};
        if (sweep_flags_from_argv(&extra, 5, quick, &err) != 0) abort();
        if (sweep_resolve(&s, i, &extra, NULL, &cfg, &err) == 0 && (cfg.epochs != 2 || cfg.limit_train != 512))
            abort();
        sweep_flags_free(&extra);
    }
    /* round trip */
    buf b = {0};
    put(&b, "sweep", 5);
    put_word(&b, "", s.name);
    put(&b, "\n", 1);
    if (s.defaults.n) {
        put(&b, "defaults", 8);
        put_flags(&b, &s.defaults);
        put(&b, "\n", 1);
    }
    for (int i = 0; i < s.n_runs; i++) {
        put(&b, "run", 3);
        put_word(&b, "", s.runs[i].name);
        put_flags(&b, &s.runs[i].flags);
        put(&b, "\n", 1);
    }
    sweep_file t;
    if (sweep_parse(&t, b.s, b.n, "again.sweep", &err) != 0) {
        fprintf(stderr, "round trip failed: %s\n%s", err.msg, b.s);
        abort();
    }
    if (strcmp(s.name, t.name) || s.n_runs != t.n_runs || !same_flags(&s.defaults, &t.defaults)) abort();
    for (int i = 0; i < s.n_runs; i++)
        if (strcmp(s.runs[i].name, t.runs[i].name) || !same_flags(&s.runs[i].flags, &t.runs[i].flags)) abort();
    sweep_free(&t);
    sweep_free(&s);
    free(b.s);
    return 0;
}
