/* tests/test.h: the smallest test harness. Each tests/test_*.c is its own
 * program; CHECK counts a pass or prints what failed; test_summary prints
 * "<name>: N passed, N failed" and returns the exit status. tests/run.sh adds
 * the counts up. Tolerances are per tensor: |a-b| <= atol + rtol*|b|.
 * tests/test_files.h adds scratch files. */
#ifndef LRLAB_TEST_H
#define LRLAB_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            test_passed++;                                                 \
        } else {                                                           \
            test_failed++;                                                 \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

/* A check that cannot run here (a missing tool or file): prints
 * "SKIP reason"; a failure when the environment variable CI is set (as
 * CI services and .ci/run set it), where every check must run. */
static inline int test_in_ci(void) {
    const char *ci = getenv("CI");
    return ci && *ci && strcmp(ci, "0") && strcmp(ci, "false") && strcmp(ci, "no");
}
#define TEST_SKIP(...)                                                            \
    do {                                                                          \
        printf("SKIP ");                                                          \
        printf(__VA_ARGS__);                                                      \
        printf("\n");                                                             \
        if (test_in_ci()) {                                                       \
            test_failed++;                                                        \
            fprintf(stderr, "FAIL %s:%d: skipped with CI set (every check must run in CI)\n", \
                    __FILE__, __LINE__);                                          \
        }                                                                         \
    } while (0)

/* Compares n floats; reports the worst element. Returns 1 when all close. */
static inline int test_close(const char *what, const float *got, const float *want, long n,
                             double atol, double rtol) {
    long worst = -1;
    double worst_excess = 0.0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double tol = atol + rtol * fabs((double)want[i]);
        if (!(d <= tol) && (worst < 0 || d - tol > worst_excess)) {
            worst = i;
            worst_excess = d - tol;
        }
    }
    if (worst >= 0) {
        fprintf(stderr, "  %s: element %ld got %.9g want %.9g (atol %g rtol %g, n %ld)\n", what,
                worst, got[worst], want[worst], atol, rtol, n);
        return 0;
    }
    return 1;
}

static inline int test_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
