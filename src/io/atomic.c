/* io/atomic.c: atomic replacement of a file (lrlab/atomic.h): write to
 * "<path>.tmp", fsync, rename, fsync the directory. Not here: what goes
 * into the files. */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void atomic_free(atomic_file *a) {
    free(a->path), free(a->tmp);
    memset(a, 0, sizeof *a);
}

int atomic_open(atomic_file *a, const char *path, lr_error *err) {
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    a->path = strdup(path);
    a->tmp = malloc(n + 5);
    if (!a->path || !a->tmp) {
        atomic_free(a);
        return lr_fail(err, "%s: out of memory", path);
    }
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp", 5);
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        int e = errno;
        lr_fail(err, "%s: cannot create the temporary file '%s': %s", path, a->tmp, strerror(e));
        atomic_free(a);
        return -1;
    }
    return 0;
}

int atomic_write(atomic_file *a, const void *data, size_t n) {
    errno = 0;
    if (!a->error && n && fwrite(data, 1, n, a->f) != n) a->error = errno ? errno : EIO;
    return a->error ? -1 : 0;
}

void atomic_abort(atomic_file *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    atomic_free(a);
}

int atomic_commit(atomic_file *a, lr_error *err) {
    /* what failed first, and its errno (EIO when the C library left none) */
    const char *what = a->error ? "write" : NULL;
    int e = a->error;
    errno = 0;
    if (!what && fflush(a->f) != 0) what = "write", e = errno;
    if (!what && fsync(fileno(a->f)) != 0) what = "fsync", e = errno;
    if (fclose(a->f) != 0 && !what) what = "close", e = errno;
    a->f = NULL;
    if (!what && rename(a->tmp, a->path) != 0) what = "rename", e = errno;
    if (what) {
        lr_fail(err, "%s: %s failed: %s (the previous file, if any, is unchanged)", a->path, what,
                strerror(e ? e : EIO));
        atomic_abort(a);
        return -1;
    }
    /* make the rename itself durable; failing here still leaves a whole file */
    const char *slash = strrchr(a->path, '/');
    if (slash) a->path[slash == a->path ? 1 : slash - a->path] = '\0';
    int dfd = open(slash ? a->path : ".", O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    atomic_free(a);
    return 0;
}

int write_file_atomic(const char *path, const char *text, size_t len, lr_error *err) {
    atomic_file a;
    if (atomic_open(&a, path, err)) return -1;
    atomic_write(&a, text, len);
    return atomic_commit(&a, err);
}
