/* cli/figure.c: what the figures of `plot`, `schedule --plot` and `find-lr
 * --plot` share. The target is checked before any work (figure_check); the
 * script goes to gnuplot through a pipe and gnuplot's standard output is
 * the temporary file beside the target (lrlab/atomic.h), renamed over it
 * only when gnuplot succeeded, so image bytes never reach the terminal.
 * gnuplot's stderr is captured: an error becomes one lrlab message. And the
 * house style of the figures: one line style per curve, integer epoch
 * ticks, a log lr axis with readable labels, titles wrapped to fit.
 * Not here: what each figure shows (plot.c, schedule.c, find_lr.c). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lrlab/atomic.h"

extern char **environ;

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

static int on_path(const char *prog) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4200];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)(n ? n : 1), n ? path : ".", prog);
        if (access(buf, X_OK) == 0) return 1;
        path += n;
        if (*path == ':') path++;
    }
    return 0;
}

int figure_check(const char *out, const char *flag, int need_gnuplot, lr_error *err) {
    if (!out || !out[0]) return lr_fail(err, "%s: missing output file (FILE.png or FILE.svg)", flag), 2;
    if (strchr(out, '\n')) return lr_fail(err, "%s: the file name contains a newline", flag), 2;
    if (!ends_with(out, ".png") && !ends_with(out, ".svg"))
        return lr_fail(err, "%s %s: expected a file name ending in .png or .svg", flag, out), 2;
    struct stat st;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
        return lr_fail(err, "%s %s: is a directory, expected a file name ending in .png or .svg", flag, out), 1;
    char dir[4200];
    const char *slash = strrchr(out, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == out ? 1 : slash - out) : 1, slash ? out : ".");
    if (stat(dir, &st) != 0)
        return lr_fail(err, "%s %s: cannot write there: directory '%s': %s", flag, out, dir, strerror(errno)), 1;
    if (!S_ISDIR(st.st_mode))
        return lr_fail(err, "%s %s: cannot write there: '%s' is not a directory", flag, out, dir), 1;
    if (access(dir, W_OK | X_OK) != 0)
        return lr_fail(err, "%s %s: cannot write there: directory '%s': %s", flag, out, dir, strerror(errno)), 1;
    if (need_gnuplot && !on_path("gnuplot"))
        return lr_fail(err, "gnuplot not found: apt-get install gnuplot-nox"), 1;
    return 0;
}

/* The last non-blank line gnuplot wrote to stderr (its error), spaces squeezed. */
static void last_line(char *dst, size_t cap, FILE *log) {
    char buf[8192];
    rewind(log);
    size_t n = fread(buf, 1, sizeof buf - 1, log);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r')) buf[--n] = '\0';
    char *s = strrchr(buf, '\n');
    s = s ? s + 1 : buf;
    size_t k = 0;
    for (; *s && k + 1 < cap; s++)
        if (*s != ' ' || (k && dst[k - 1] != ' ')) dst[k++] = *s;
    dst[k] = '\0';
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w, n -= (size_t)w;
    }
    return 0;
}

/* Runs gnuplot with stdin = the script, stdout = fd_out, stderr = fd_err; *status as waitpid's. */
static int run_gnuplot(int *status, const char *script, int fd_out, int fd_err, lr_error *err) {
    int in[2];
    if (pipe(in)) return lr_fail(err, "cannot run gnuplot: %s", strerror(errno));
    fcntl(in[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, fd_out, 1);
    posix_spawn_file_actions_adddup2(&fa, fd_err, 2);
    posix_spawn_file_actions_addclose(&fa, in[0]);
    char *argv[] = {"gnuplot", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    if (rc) {
        close(in[1]);
        if (rc == ENOENT) return lr_fail(err, "gnuplot not found: apt-get install gnuplot-nox");
        return lr_fail(err, "cannot run gnuplot: %s", strerror(rc));
    }
    /* a gnuplot that stops reading (an error) must not kill us with SIGPIPE */
    struct sigaction ignore, old;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &old);
    write_all(in[1], script, strlen(script));
    close(in[1]);
    sigaction(SIGPIPE, &old, NULL);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) return lr_fail(err, "waiting for gnuplot: %s", strerror(errno));
    return 0;
}

int figure_render(const char *out, int width, int height, const char *body, lr_error *err) {
    char *script = NULL;
    size_t len = 0;
    FILE *s = open_memstream(&script, &len);
    if (!s) return lr_fail(err, "out of memory");
    /* no `set output`: gnuplot's stdout is the temporary file */
    if (ends_with(out, ".png")) fprintf(s, "set terminal pngcairo size %d,%d font ',10' noenhanced\n", width, height);
    else fprintf(s, "set terminal svg size %d,%d font ',10' noenhanced background '#ffffff'\n", width, height);
    fputs(body, s);
    fputs("\n", s);
    fclose(s);
    atomic_file a;
    FILE *log = tmpfile();
    int rc = 0, status = 0;
    if (!log) rc = lr_fail(err, "cannot make a temporary file for gnuplot's messages: %s", strerror(errno));
    if (!rc && atomic_open(&a, out, err)) rc = -1, fclose(log), log = NULL;
    if (!rc && fflush(a.f) == 0 && run_gnuplot(&status, script, fileno(a.f), fileno(log), err)) rc = -1;
    free(script);
    if (!log) return -1;
    struct stat st;
    if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        char what[600];
        last_line(what, sizeof what, log);
        rc = lr_fail(err, "gnuplot failed drawing %s: %s", out, what[0] ? what : "no message");
    } else if (!rc && (fstat(fileno(a.f), &st) != 0 || st.st_size == 0)) {
        rc = lr_fail(err, "gnuplot wrote nothing for %s", out);
    }
    fclose(log);
    if (rc) {
        atomic_abort(&a);
        return -1;
    }
    return atomic_commit(&a, err);
}

void figure_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

/* About 7 pixels a character at the 10-point font. */
enum { CHAR_PX = 7 };

int figure_title(FILE *f, const char *text, int width) {
    int cap = width / CHAR_PX - 4;
    if (cap < 20) cap = 20;
    fputc('"', f);
    const char *s = text;
    int line = 0;
    for (; *s; line++) {
        size_t n = strlen(s), cut = n;
        if ((int)n > cap) { /* break at the last space that fits, else mid-word */
            cut = (size_t)cap;
            while (cut > (size_t)cap / 2 && s[cut] != ' ') cut--;
            if (s[cut] != ' ') cut = (size_t)cap;
        }
        int last = line == 2 && cut < n; /* three lines at most */
        if (last) cut = (size_t)cap - 3;
        if (line) fputs("\\n", f);
        for (size_t i = 0; i < cut; i++) {
            if (s[i] == '"' || s[i] == '\\') fputc('\\', f);
            fputc(s[i] == '\n' ? ' ' : s[i], f);
        }
        if (last) {
            fputs("...", f);
            line++;
            break;
        }
        s += cut;
        while (*s == ' ') s++;
    }
    fputc('"', f);
    return line;
}

/* The tick step: the first of 1, 2, 5, 10, 20, 50, ... giving at most 10 intervals. */
static long tick_step(long n) {
    static const long c[] = {1, 2, 5};
    long m = 1;
    for (; m < 100000000000L; m *= 10)
        for (int i = 0; i < 3; i++)
            if (n <= 10 * c[i] * m) return c[i] * m;
    return m;
}

void figure_epoch_axis(FILE *f, long n, const char *label) {
    long step = tick_step(n);
    fprintf(f, "set xrange [0:%ld]\nset xtics 0, %ld format '%%.0f'\n", n, step);
    if (step > 1) fprintf(f, "set mxtics %ld\n", step <= 10 ? step : 5);
    else fputs("unset mxtics\n", f);
    fputs("set xlabel ", f);
    figure_quote(f, label);
    fputc('\n', f);
}

/* 0.02, 0.001, 1e-4, 2e-5: %g down to 1e-3, then mantissa and exponent without padding */
static void tick_label(char *buf, size_t cap, double v) {
    if (v >= 1e-3) {
        snprintf(buf, cap, "%g", v);
        return;
    }
    int e = (int)floor(log10(v) + 1e-9);
    snprintf(buf, cap, "%ge%d", round(v / pow(10, e) * 1e6) / 1e6, e);
}

void figure_range(FILE *f, const char *axis, double lo, double hi) {
    if (!(lo <= hi)) lo = 0, hi = 1; /* nothing finite to show */
    double pad = hi > lo ? (hi - lo) * 0.05 : fabs(hi) > 0 ? fabs(hi) * 0.1 : 1;
    fprintf(f, "set %srange [%.6g:%.6g]\n", axis, lo - pad, hi + pad);
}

int figure_lr_axis(FILE *f, char axis, double lo, double hi) {
    if (!(lo > 0) || !(hi / lo >= 10)) { /* linear, from 0 */
        figure_range(f, axis == 'x' ? "x" : "y", 0, hi > 0 ? hi : 1);
        return 0;
    }
    int d0 = (int)floor(log10(lo) + 1e-9), d1 = (int)ceil(log10(hi) - 1e-9);
    int span = d1 - d0;
    /* labels at 1, 2, 5 x 10^k over a short range, 1 and 3 x 10^k over a medium one, decades (every
     * k-th) over a long one; unlabelled minor ticks at the other integers x 10^k */
    static const double m125[] = {1, 2, 5}, m13[] = {1, 3}, m1[] = {1};
    const double *mant = span <= 2 ? m125 : span <= 4 ? m13 : m1;
    int n_mant = span <= 2 ? 3 : span <= 4 ? 2 : 1, every = span <= 8 ? 1 : (span + 7) / 8;
    fprintf(f, "set logscale %c\nset %crange [%.6g:%.6g]\nset %ctics (", axis, axis, lo / 1.25, hi * 1.25, axis);
    int first = 1;
    for (int d = d0; d <= d1; d++)
        for (int k = 0; k < 10; k++) {
            double v = (k + 1) * pow(10, d);
            if (v < lo / 1.25 * (1 - 1e-9) || v > hi * 1.25 * (1 + 1e-9)) continue;
            int major = 0;
            for (int j = 0; j < n_mant; j++)
                if (k + 1 == (int)mant[j] && (d - d0) % every == 0) major = 1;
            char label[32] = "";
            if (major) tick_label(label, sizeof label, v);
            fprintf(f, "%s\"%s\" %.6g %d", first ? "" : ", ", label, v, !major);
            first = 0;
        }
    fputs(")\n", f);
    return 1;
}

/* Tableau's ten colours; solid-looking dash patterns for runs, dashed ones for logs (PyTorch's runs) */
static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
static const char *const run_dash[] = {"solid", "(6,3,2,3)", "(2,3)", "(6,3,2,3,2,3)"};
static const char *const log_dash[] = {"(8,5)", "(16,6)", "(3,3)"};
static const int run_pt[] = {7, 5, 9, 13}, log_pt[] = {6, 4, 8};

const char *figure_colour(int k) { return colours[k % 10]; }

const char *figure_style(char *buf, size_t cap, int k, int dashed, int points) {
    int g = k / 10;
    int n = snprintf(buf, cap, "lc rgb '%s' dt %s", colours[k % 10], dashed ? log_dash[g % 3] : run_dash[g % 4]);
    if (points && n > 0 && (size_t)n < cap) snprintf(buf + n, cap - (size_t)n, " pt %d", dashed ? log_pt[g % 3] : run_pt[g % 4]);
    return buf;
}
