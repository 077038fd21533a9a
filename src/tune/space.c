/* tune/space.c: the search space of `lrlab tune` (lrlab/tune.h): a space
 * file's `space --FLAG RANGE` values read as loguniform(a, b), uniform(a,
 * b) or choice(v1, v2, ...), every range checked by resolving trials at its
 * ends and options through sweep_resolve (the settings table and the
 * schedule parser), and trial t's values: the grid's t-th point (mixed
 * radix, the last range fastest) or random draws from the stream (seed,
 * RNG_STREAM_TUNE, t), so a trial's settings follow from its index alone.
 * Not here: the file syntax (sweep/sweep.c), running trials (cli/tune.c). */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/rng.h"

#define RANGE_FORMS "loguniform(a, b), uniform(a, b) or choice(v1, v2, ...)"

static const char *const kind_names[] = {"uniform", "loguniform", "choice"};

void tune_space_free(tune_space *sp) {
    for (int i = 0; i < sp->n; i++) {
        for (int k = 0; k < sp->ranges[i].n_options; k++) free(sp->ranges[i].options[k]);
        free(sp->ranges[i].options);
    }
    free(sp->ranges);
    memset(sp, 0, sizeof *sp);
}

static char *trimmed(const char *s, size_t n) {
    while (n && (*s == ' ' || *s == '\t' || *s == '\n')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) n--;
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) s++, n -= 2; /* 'a quoted option' */
    char *o = malloc(n + 1);
    if (o) memcpy(o, s, n), o[n] = '\0';
    return o;
}

/* The arguments of "name(a, b, ...)": split at commas outside quotes and brackets. */
static int split_args(tune_range *r, const char *args, size_t len, const char *where, lr_error *err) {
    int depth = 0;
    char quote = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? args[i] : ',';
        if (quote) { quote = c == quote ? 0 : quote; continue; }
        if (c == '\'' || c == '"') quote = c;
        else if (c == '(' || c == '[') depth++;
        else if (c == ')' || c == ']') depth--;
        else if (c == ',' && depth == 0) {
            char **p = realloc(r->options, (size_t)(r->n_options + 1) * sizeof *p);
            if (!p) return lr_fail(err, "%s: out of memory", where);
            r->options = p;
            if (!(p[r->n_options] = trimmed(args + start, i - start))) return lr_fail(err, "%s: out of memory", where);
            if (!p[r->n_options++][0]) return lr_fail(err, "%s: an empty value (expected %s)", where, RANGE_FORMS);
            start = i + 1;
        }
    }
    if (quote) return lr_fail(err, "%s: an unterminated %c quote", where, quote);
    return 0;
}

static int number(double *v, const char *s) {
    char *end;
    *v = strtod(s, &end);
    return end != s && !*end && isfinite(*v);
}

/* One `space` value: kind and its numbers or options. */
static int parse_range(tune_range *r, const sweep_flag *f, const char *path, lr_error *err) {
    char where[1400];
    snprintf(where, sizeof where, "%s:%d: --%s '%.200s'", path, f->line, f->key, f->value ? f->value : "");
    memset(r, 0, sizeof *r);
    r->flag = f;
    const char *v = f->value ? f->value : "", *open = strchr(v, '(');
    size_t len = strlen(v);
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
    int kind = -1;
    for (int k = 0; open && k < 3; k++)
        if ((size_t)(open - v) == strlen(kind_names[k]) && !strncmp(v, kind_names[k], strlen(kind_names[k]))) kind = k;
    if (kind < 0 || v[len - 1] != ')')
        return lr_fail(err, "%s: expected a range: %s (a fixed setting goes on a `defaults` line)", where, RANGE_FORMS);
    r->kind = (tune_range_kind)kind;
    if (split_args(r, open + 1, (size_t)(v + len - 1 - open - 1), where, err)) return -1;
    if (r->kind == TUNE_CHOICE) return r->n_options ? 0 : lr_fail(err, "%s: choice() of nothing", where);
    if (r->n_options != 2 || !number(&r->lo, r->options[0]) || !number(&r->hi, r->options[1]))
        return lr_fail(err, "%s: expected %s(a, b) with two numbers", where, kind_names[kind]);
    if (!(r->lo < r->hi) || (r->kind == TUNE_LOGUNIFORM && !(r->lo > 0)))
        return lr_fail(err, "%s: expected %sa < b", where, r->kind == TUNE_LOGUNIFORM ? "0 < " : "");
    return 0;
}

/* The number of a continuous draw u in [0, 1), as the trial's value text. */
static void draw_text(char *out, size_t cap, const tune_range *r, double u) {
    double x = r->kind == TUNE_LOGUNIFORM ? exp(log(r->lo) + u * (log(r->hi) - log(r->lo))) : r->lo + u * (r->hi - r->lo);
    snprintf(out, cap, "%.4g", x);
}

/* Range i's value from pick: an option's index, or (continuous) -1 for a, -2 for b, else u = pick / 2^53. */
static const char *value_of(char *buf, size_t cap, const tune_range *r, long long pick) {
    if (r->kind == TUNE_CHOICE) return r->options[pick];
    if (pick < 0) return r->options[pick == -1 ? 0 : 1];
    draw_text(buf, cap, r, (double)pick / 9007199254740992.0);
    return buf;
}

/* The flags of one point: range i at picks[i]. */
static int point_flags(const tune_space *sp, const long long *picks, sweep_flags *out, lr_error *err) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < sp->n; i++) {
        char buf[64];
        const tune_range *r = &sp->ranges[i];
        if (sweep_flags_add(out, r->flag->key, value_of(buf, sizeof buf, r, picks[i]), r->flag->line, err))
            return sweep_flags_free(out), -1;
    }
    return 0;
}

int tune_space_resolve(const tune_space *sp, const sweep_flags *values, const sweep_flags *extra, sweep_flags *out,
                       train_config *cfg, lr_error *err) {
    sweep_file f = *sp->file; /* a view with one run: the trial's values after the defaults */
    sweep_run run;
    memset(&run, 0, sizeof run);
    snprintf(run.name, sizeof run.name, "(space)");
    run.line = values->n ? values->flags[0].line : 0;
    run.flags = *values;
    f.runs = &run, f.n_runs = 1;
    return sweep_resolve(&f, 0, extra, out, cfg, err);
}

int tune_space_init(tune_space *sp, const sweep_file *f, const sweep_flags *extra, lr_error *err) {
    memset(sp, 0, sizeof *sp);
    sp->file = f;
    sp->ranges = calloc((size_t)f->space.n, sizeof *sp->ranges);
    if (!sp->ranges) return lr_fail(err, "%s: out of memory", f->path);
    sp->grid = 1;
    for (int i = 0; i < f->space.n; i++, sp->n++) {
        const sweep_flag *fl = &f->space.flags[i];
        if (lr_key_eq(fl->key, strlen(fl->key), "epochs"))
            return tune_space_free(sp), lr_fail(err, "%s:%d: --epochs: the epochs are what successive halving hands "
                                                "out (its rungs): give the full run's on a `defaults` line", f->path, fl->line);
        for (int k = 0; k < i; k++)
            if (lr_key_eq(fl->key, strlen(fl->key), f->space.flags[k].key))
                return tune_space_free(sp), lr_fail(err, "%s:%d: --%s: already a range on line %d", f->path, fl->line,
                                                    fl->key, f->space.flags[k].line);
        if (parse_range(&sp->ranges[i], fl, f->path, err)) return sp->n++, tune_space_free(sp), -1;
        int n = sp->ranges[i].kind == TUNE_CHOICE ? sp->ranges[i].n_options : 0;
        sp->grid = n && sp->grid && sp->grid * n <= 1000000 ? sp->grid * n : 0;
    }
    /* every option and both ends of every range, the others at their first: each a trial that resolves */
    long long *picks = calloc((size_t)sp->n, sizeof *picks);
    if (!picks) return tune_space_free(sp), lr_fail(err, "%s: out of memory", f->path);
    for (int i = 0; i < sp->n; i++) picks[i] = sp->ranges[i].kind == TUNE_CHOICE ? 0 : -1;
    int rc = 0;
    for (int i = 0; i < sp->n && !rc; i++) {
        const tune_range *r = &sp->ranges[i];
        int probes = r->kind == TUNE_CHOICE ? r->n_options : 3; /* a, b, and a drawn value (u = 1/3) */
        for (int k = 0; k < probes && !rc; k++) {
            long long keep = picks[i];
            picks[i] = r->kind == TUNE_CHOICE ? k : k < 2 ? -1 - k : 3002399751580330LL;
            sweep_flags values;
            rc = point_flags(sp, picks, &values, err) || tune_space_resolve(sp, &values, extra, NULL, NULL, err);
            sweep_flags_free(&values);
            picks[i] = keep;
        }
    }
    free(picks);
    if (rc) tune_space_free(sp);
    return rc ? -1 : 0;
}

int tune_space_trial(const tune_space *sp, int grid, uint64_t seed, long t, sweep_flags *values, lr_error *err) {
    long long *picks = calloc((size_t)sp->n + 1, sizeof *picks);
    if (!picks) return lr_fail(err, "out of memory");
    lr_rng rng;
    rng_init(&rng, seed, RNG_STREAM_TUNE, (uint64_t)t);
    long rest = t;
    for (int i = sp->n - 1; grid && i >= 0; i--) { /* the last range counts fastest */
        picks[i] = rest % sp->ranges[i].n_options;
        rest /= sp->ranges[i].n_options;
    }
    for (int i = 0; !grid && i < sp->n; i++) { /* one draw per range, whatever its kind */
        uint64_t bits = rng_next(&rng) >> 11;
        const tune_range *r = &sp->ranges[i];
        picks[i] = r->kind == TUNE_CHOICE ? (long long)((double)bits / 9007199254740992.0 * r->n_options) : (long long)bits;
    }
    int rc = point_flags(sp, picks, values, err);
    free(picks);
    return rc;
}
