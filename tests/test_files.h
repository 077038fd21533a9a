/* tests/test_files.h: scratch files for the tests of file formats and
 * readers (test.h's companion). A program including it defines
 * _POSIX_C_SOURCE 200809L before its first include (mkdtemp). */
#ifndef LRLAB_TEST_FILES_H
#define LRLAB_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A scratch directory per test program (TMPDIR or /tmp): test_tmpdir_make
 * creates NAME.XXXXXX, test_path gives a file inside it (16 results live at
 * once), test_tmpdir_remove deletes it with what it holds. Files: slurp
 * reads a whole file (NULL when absent, unreadable or over 1 GB), put writes
 * one (0 or -1). */
static char test_tmpdir[512];

static inline int test_tmpdir_make(const char *name) {
    const char *base = getenv("TMPDIR");
    snprintf(test_tmpdir, sizeof test_tmpdir, "%.200s/%s.XXXXXX", base && *base ? base : "/tmp", name);
    if (mkdtemp(test_tmpdir)) return 0;
    perror("mkdtemp");
    return -1;
}

static inline const char *test_path(const char *name) {
    static char buf[16][1024];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", test_tmpdir, name);
    return buf[k];
}

static inline void test_tmpdir_remove(void) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "NOTE: could not remove %s\n", test_tmpdir);
}

static inline int test_contains(const char *msg, const char *want) { return strstr(msg, want) != NULL; }

static inline unsigned char *test_slurp(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = n >= 0 && n <= (1L << 30) ? malloc(n > 0 ? (size_t)n : 1) : NULL;
    if (p && fread(p, 1, (size_t)n, fp) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(fp);
    *size = p ? (size_t)n : 0;
    return p;
}

static inline int test_put(const char *path, const void *b, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int ok = fwrite(b, 1, n, fp) == n;
    return (fclose(fp) == 0 && ok) ? 0 : -1;
}

#endif
