/* common.c: error messages, checked allocation, strict number parsing,
 * a monotonic clock, names compared with '-' and '_' alike and their
 * "did you mean". No state. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int lr_fail(lr_error *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void *lr_calloc(size_t count, size_t size, const char *what, lr_error *err) {
    if (size != 0 && count > SIZE_MAX / size) {
        lr_fail(err, "%s: size overflow (%zu x %zu bytes)", what, count, size);
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) lr_fail(err, "%s: out of memory (%zu x %zu bytes)", what, count, size);
    return p;
}

int lr_parse_long(long *out, const char *s, long lo, long hi, const char *name, lr_error *err) {
    if (!s || !*s) return lr_fail(err, "%s: missing value (expected an integer in [%ld, %ld])", name, lo, hi);
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return lr_fail(err, "%s: '%s' is not an integer (expected an integer in [%ld, %ld])", name, s, lo, hi);
    if (v < lo || v > hi)
        return lr_fail(err, "%s: %ld is out of range (expected an integer in [%ld, %ld])", name, v, lo, hi);
    *out = v;
    return 0;
}

int lr_parse_double(double *out, const char *s, double lo, double hi, const char *name,
                    lr_error *err) {
    if (!s || !*s) return lr_fail(err, "%s: missing value (expected a number in [%g, %g])", name, lo, hi);
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return lr_fail(err, "%s: '%s' is not a finite number (expected a number in [%g, %g])", name, s, lo, hi);
    if (v < lo || v > hi)
        return lr_fail(err, "%s: %g is out of range (expected a number in [%g, %g])", name, v, lo, hi);
    *out = v;
    return 0;
}

double lr_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fold(int c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    return c == '-' ? '_' : c;
}

int lr_key_eq(const char *a, size_t alen, const char *b) {
    size_t i = 0;
    for (; i < alen && a[i] && b[i]; i++)
        if (a[i] != b[i] && !(a[i] == '-' && b[i] == '_') && !(a[i] == '_' && b[i] == '-')) return 0;
    return (i == alen || !a[i]) && !b[i];
}

int lr_key_find(const char *key, size_t len, const char *const *names) {
    for (int i = 0; names[i]; i++)
        if (lr_key_eq(key, len, names[i])) return i;
    return -1;
}

int lr_distance(const char *a, int alen, const char *b) {
    int blen = (int)strlen(b);
    if (alen > 63 || blen > 63) return 99;
    int prev[64], cur[64];
    for (int j = 0; j <= blen; j++) prev[j] = j;
    for (int i = 1; i <= alen; i++) {
        cur[0] = i;
        for (int j = 1; j <= blen; j++) {
            int best = prev[j - 1] + (fold(a[i - 1]) != fold(b[j - 1]));
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(blen + 1));
    }
    return prev[blen];
}

const char *lr_nearest(const char *word, int len, const char *const *names, int max) {
    const char *best = NULL;
    int bestd = max + 1;
    for (int i = 0; names[i]; i++) {
        int d = lr_distance(word, len, names[i]);
        if (d < bestd && 2 * d < len) bestd = d, best = names[i];
    }
    return best;
}
