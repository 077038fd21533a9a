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

#endif
