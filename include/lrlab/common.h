/* lrlab/common.h: the error convention shared by every room of the library.
 *
 * Library functions return 0 on success and -1 on failure; on failure they
 * fill an lr_error with one message that names the file or flag, the value,
 * and what was expected. Only the CLI decides to print and exit. */
#ifndef LRLAB_COMMON_H
#define LRLAB_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char msg[1024];
} lr_error;

/* Formats msg into err (err may be NULL) and returns -1, so that
 * `return lr_fail(err, "...", ...);` reads as one line. */
int lr_fail(lr_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Allocation with overflow-checked sizes; NULL (and err filled) on failure. */
void *lr_calloc(size_t count, size_t size, const char *what, lr_error *err);

/* Strict number parsing: the whole string must be a number in [lo, hi].
 * `name` is the flag or field, for the message. */
int lr_parse_long(long *out, const char *s, long lo, long hi, const char *name, lr_error *err);
int lr_parse_double(double *out, const char *s, double lo, double hi, const char *name,
                    lr_error *err);

/* Seconds from a monotonic clock. */
double lr_now(void);

/* Names: settings and flags are spelled with '-' or '_' alike ("weight-decay"
 * is "weight_decay"). lr_key_eq compares a's first alen characters with b
 * that way; lr_key_find returns the index of key[0, len) in the
 * NULL-terminated list names, or -1. */
int lr_key_eq(const char *a, size_t alen, const char *b);
int lr_key_find(const char *key, size_t len, const char *const *names);

/* Levenshtein distance of a[0, alen) and b, ASCII case-insensitive, '-' and
 * '_' alike; 99 when either is longer than 63 characters. */
int lr_distance(const char *a, int alen, const char *b);
/* For "did you mean": the entry of names (NULL-terminated) nearest to
 * word[0, len) when it is within `max` edits (and fewer than half of the
 * word's letters), else NULL. */
const char *lr_nearest(const char *word, int len, const char *const *names, int max);

#endif
