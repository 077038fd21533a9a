/* io/runs.c: reading run directories back (lrlab/runs.h): metrics.csv
 * parsing with validation, config.txt through config_read, a sweep
 * directory's expansion into its runs, per-run summary numbers and the
 * grouping of seed repeats (their statistics: core/stats.c); console logs in the seed's format (PyTorch runs)
 * read as runs, to compare with them. Not here: printing (cli/report.c, cli/plot.c). */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/runs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lrlab/train.h"

#define N_BASE 11 /* the columns every metrics.csv has */
#define N_FIELDS (N_BASE + N_EXTRA)

static const char *field_names[N_BASE] = {"epoch",    "lr",        "momentum", "train_loss",
                                          "train_acc", "test_loss", "test_acc", "val_loss",
                                          "val_acc",   "seconds",   "images_per_s"};

/* The columns after the base ones, by name, in the order the trainer writes
 * them; a file from an older lrlab stops before some (their values: NaN). */
#define N_EXTRA 4
static const struct {
    const char *name;
    size_t offset;
} extras[N_EXTRA] = {{"grad_norm", offsetof(metrics_row, grad_norm)},
                     {"test_loss_ema", offsetof(metrics_row, test_loss_ema)}, /* --ema's */
                     {"test_acc_ema", offsetof(metrics_row, test_acc_ema)},
                     {"tta_test_acc", offsetof(metrics_row, tta_test_acc)}}; /* --tta's, last row */

/* The header's column count: the base header (momentum or beta1) and then
 * a prefix of the extras; -1 when it is not such a header. */
static int header_fields(const char *line) {
    size_t hl = strlen(METRICS_HEADER_BASE_AS("momentum")), hb = strlen(METRICS_HEADER_BASE_AS("beta1"));
    const char *p = !strncmp(line, METRICS_HEADER_BASE_AS("momentum"), hl)  ? line + hl
                    : !strncmp(line, METRICS_HEADER_BASE_AS("beta1"), hb) ? line + hb
                                                                            : NULL;
    int n = N_BASE;
    for (; p && *p && n < N_FIELDS; n++) {
        size_t k = strlen(extras[n - N_BASE].name);
        if (*p != ',' || strncmp(p + 1, extras[n - N_BASE].name, k)) return -1;
        p += 1 + k;
    }
    return p && !*p ? n : -1;
}

/* Splits line at commas in place; returns the field count (at most cap). */
static int split_fields(char *line, char **fields, int cap) {
    int n = 0;
    for (char *p = line;;) {
        if (n < cap) fields[n] = p;
        n++;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

int rundir_parse_metrics(metrics_row **rows, int *n, const char *text, const char *path,
                         lr_error *err) {
    *rows = NULL;
    *n = 0;
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    if (!buf) return lr_fail(err, "%s: out of memory (%zu bytes)", path, len + 1);
    memcpy(buf, text, len + 1);
    /* rows <= lines */
    long lines = 1;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    metrics_row *out = lr_calloc((size_t)lines, sizeof *out, path, err);
    if (!out) return free(buf), -1;
    int count = 0, lineno = 0, rc = 0, want = N_BASE;
    char *save = buf;
    while (!rc && *save) {
        char *line = save, *nl = strchr(save, '\n');
        if (nl) *nl = '\0', save = nl + 1;
        else save = line + strlen(line);
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
        if (lineno == 1) {
            if ((want = header_fields(line)) < 0)
                rc = lr_fail(err, "%s:1: header is '%.200s', expected '%.*s' (beta1 for momentum in runs of the "
                                  "Adam family)", path, line, (int)strlen(METRICS_HEADER) - 1, METRICS_HEADER);
            continue;
        }
        if (!ll) {
            rc = lr_fail(err, "%s:%d: empty line", path, lineno);
            break;
        }
        char *f[N_FIELDS];
        int nf = split_fields(line, f, N_FIELDS);
        if (nf != want) {
            rc = lr_fail(err, "%s:%d: %d fields, expected %d (as its header)", path, lineno, nf, want);
            break;
        }
        double v[N_FIELDS];
        for (int k = 0; k < N_FIELDS && !rc; k++) {
            if (k >= want || (!f[k][0] && k >= N_BASE)) { /* an extra column the file has not (or left empty) */
                v[k] = NAN;
                continue;
            }
            if (!f[k][0] && (k == 7 || k == 8)) { /* val_loss, val_acc: empty without --val */
                v[k] = NAN;
                continue;
            }
            char *end;
            errno = 0;
            v[k] = strtod(f[k], &end);
            if (!f[k][0] || *end || errno == ERANGE)
                rc = lr_fail(err, "%s:%d: field %d (%s) is '%.100s', expected a number", path, lineno,
                             k + 1, k < N_BASE ? field_names[k] : extras[k - N_BASE].name, f[k]);
        }
        if (rc) break;
        if (v[0] != (double)count) { /* checked before the cast: (long) of 1e300 is undefined */
            rc = lr_fail(err, "%s:%d: epoch is '%s', expected %d (rows count epochs from 0)", path,
                         lineno, f[0], count);
            break;
        }
        metrics_row *r = &out[count++];
        r->epoch = (long)v[0];
        r->lr = v[1], r->momentum = v[2], r->train_loss = v[3], r->train_acc = v[4];
        r->test_loss = v[5], r->test_acc = v[6], r->val_loss = v[7], r->val_acc = v[8];
        r->seconds = v[9], r->images_per_s = v[10];
        for (int k = N_BASE; k < N_FIELDS; k++) *(double *)((char *)r + extras[k - N_BASE].offset) = v[k];
    }
    if (!rc && lineno == 0) rc = lr_fail(err, "%s: empty file, expected the header line", path);
    free(buf);
    if (rc) return free(out), -1;
    if (!count) free(out), out = NULL;
    *rows = out;
    *n = count;
    return 0;
}

/* A cursor over one line of a seed-format log: each step skips blanks, then
 * matches a literal or reads a number; on failure `want` names what was
 * expected there. */
typedef struct {
    const char *p;
    const char *want;
} cursor;

static void skip_blanks(cursor *c) {
    while (*c->p == ' ' || *c->p == '\t') c->p++;
}

static int lit(cursor *c, const char *s) {
    skip_blanks(c);
    size_t n = strlen(s);
    if (strncmp(c->p, s, n)) return c->want = s, 0;
    c->p += n;
    return 1;
}

static int num(cursor *c, double *v, const char *what) {
    skip_blanks(c);
    char *end;
    errno = 0;
    *v = strtod(c->p, &end);
    if (end == c->p || errno == ERANGE) return c->want = what, 0;
    c->p = end;
    return 1;
}

/* "Loss: L | Acc: A% (c/t)" as the seed prints it for a split */
static int split_line(cursor *c, double *loss, double *acc, double *correct, double *total) {
    return lit(c, "Loss:") && num(c, loss, "a loss") && lit(c, "|") && lit(c, "Acc:") &&
           num(c, acc, "an accuracy") && lit(c, "%") && lit(c, "(") && num(c, correct, "a count") &&
           lit(c, "/") && num(c, total, "a count") && lit(c, ")");
}

int rundir_parse_seedlog(metrics_row **rows, int *n, const char *text, const char *path,
                         lr_error *err) {
    *rows = NULL;
    *n = 0;
    long lines = 1;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    metrics_row *out = lr_calloc((size_t)lines, sizeof *out, path, err);
    if (!out) return -1;
    int count = 0, lineno = 0, rc = 0;
    for (const char *line = text; !rc && *line;) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        lineno++;
        char buf[1024];
        if (ll >= sizeof buf) ll = sizeof buf - 1; /* an epoch line is ~130 characters */
        memcpy(buf, line, ll);
        buf[ll] = '\0';
        line = nl ? nl + 1 : line + strlen(line);
        if (strncmp(buf, "epoch ", 6)) continue; /* not an epoch line: the script's other output */
        cursor c = {buf, NULL};
        double ep, tl, ta, tc, tt, sl, sa, sc, st, lr, sec = NAN;
        int ok = lit(&c, "epoch") && num(&c, &ep, "an epoch number") && lit(&c, ":") && lit(&c, "[Train]") &&
                 split_line(&c, &tl, &ta, &tc, &tt);
        if (ok) { /* the seconds, when the log has them: "78.7s" */
            cursor s = c;
            if (num(&s, &sec, "seconds") && lit(&s, "s")) c = s;
            else sec = NAN;
        }
        ok = ok && lit(&c, "[Test]") && split_line(&c, &sl, &sa, &sc, &st) && lit(&c, "lr=") && num(&c, &lr, "the lr");
        if (ok && isnan(sec)) { /* lrlab's console line: "... lr=X | 59.9 s 892 img/s" */
            cursor s = c;
            if (!(lit(&s, "|") && num(&s, &sec, "seconds") && lit(&s, "s"))) sec = NAN;
        }
        if (!ok) {
            rc = lr_fail(err, "%s:%d: expected %s at '%.40s' (an epoch line of the seed's log reads "
                              "'epoch N:[Train] Loss: L | Acc: A%% (c/t) [Test] Loss: L | Acc: A%% (c/t) lr=X')",
                         path, lineno, c.want, c.p);
            break;
        }
        if (ep != (double)count) {
            rc = lr_fail(err, "%s:%d: epoch %g, expected %d (epoch lines count from 0)", path, lineno, ep, count);
            break;
        }
        if (!(tt > 0) || !(st > 0) || !(tc >= 0 && tc <= tt) || !(sc >= 0 && sc <= st) || !isfinite(ta) ||
            !isfinite(sa) || !isfinite(lr)) {
            rc = lr_fail(err, "%s:%d: counts or numbers out of range (correct/total must be 0 <= c <= t, t > 0; "
                              "accuracy and lr finite)", path, lineno);
            break;
        }
        metrics_row *r = &out[count++];
        r->epoch = (long)ep;
        r->lr = lr, r->momentum = NAN, r->train_loss = tl, r->train_acc = ta;
        r->test_loss = NAN, r->test_acc = sa, r->val_loss = NAN, r->val_acc = NAN;
        r->seconds = sec, r->images_per_s = sec > 0 ? tt / sec : NAN, r->grad_norm = NAN;
    }
    if (!rc && !count)
        rc = lr_fail(err, "%s: no epoch lines ('epoch N:[Train] Loss: ...'): not a log in the seed's format", path);
    if (rc) return free(out), -1;
    *rows = out;
    *n = count;
    return 0;
}

/* The whole of a small text file, NUL-terminated; NULL with errno when absent. */
static char *read_text(const char *path, lr_error *err, int *absent) {
    *absent = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) *absent = 1;
        lr_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *s = malloc(cap);
    int read_error = 0;
    while (s) {
        len += fread(s + len, 1, cap - len - 1, f);
        if (ferror(f)) {
            read_error = 1;
            free(s);
            s = NULL;
            break;
        }
        if (feof(f)) break;
        char *t = cap > ((size_t)1 << 30) ? NULL : realloc(s, cap * 2);
        if (!t) free(s);
        s = t, cap *= 2;
    }
    fclose(f);
    if (!s) {
        lr_fail(err, read_error ? "%s: read error" : "%s: out of memory or larger than 1 GB", path);
        return NULL;
    }
    if (memchr(s, '\0', len)) {
        free(s);
        lr_fail(err, "%s: contains a NUL byte: not a text file", path);
        return NULL;
    }
    s[len] = '\0';
    return s;
}

static int is_dir(const char *path) {
    struct stat sb;
    return !stat(path, &sb) && S_ISDIR(sb.st_mode);
}

static int has_file(const char *dir, const char *name) {
    char path[1400];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return 0;
    return !access(path, F_OK);
}

/* dir/a exists, and dir/b does not or is not newer than a. */
static int newer_or_same(const char *dir, const char *a, const char *b) {
    char pa[1400], pb[1400];
    struct stat sa, sb;
    snprintf(pa, sizeof pa, "%s/%s", dir, a);
    snprintf(pb, sizeof pb, "%s/%s", dir, b);
    if (stat(pa, &sa) != 0) return 0;
    if (stat(pb, &sb) != 0) return 1;
    return sa.st_mtim.tv_sec > sb.st_mtim.tv_sec ||
           (sa.st_mtim.tv_sec == sb.st_mtim.tv_sec && sa.st_mtim.tv_nsec >= sb.st_mtim.tv_nsec);
}

/* A trainer holds DIR/.lock (a POSIX record lock, lrlab/train.h): the run is in progress. */
static int is_locked(const char *dir) {
    char path[1400];
    if (snprintf(path, sizeof path, "%s/.lock", dir) >= (int)sizeof path) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    struct flock lk;
    memset(&lk, 0, sizeof lk);
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    int locked = fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type != F_UNLCK;
    close(fd);
    return locked;
}

static int is_file(const char *path) {
    struct stat sb;
    return !stat(path, &sb) && S_ISREG(sb.st_mode);
}

/* r->dir = path; r->name, the run's label: path's basename, trailing
 * slashes ignored, without `suffix` when the basename ends so (and is
 * longer than it). */
static void set_label(rundir *r, const char *path, const char *suffix) {
    snprintf(r->dir, sizeof r->dir, "%s", path);
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t l = strlen(tmp);
    while (l > 1 && tmp[l - 1] == '/') tmp[--l] = '\0';
    const char *base = strrchr(tmp, '/');
    base = base && base[1] ? base + 1 : tmp;
    size_t bl = strlen(base), sl = strlen(suffix);
    if (bl > sl && !strcmp(base + bl - sl, suffix)) bl -= sl;
    snprintf(r->name, sizeof r->name, "%.*s", (int)(bl < 255 ? bl : 255), base);
}

/* A seed-format log as a run: named by its basename without ".log". */
static int load_seedlog(rundir *r, const char *path, lr_error *err) {
    set_label(r, path, ".log");
    int absent;
    char *text = read_text(path, err, &absent);
    if (!text) return -1;
    int rc = rundir_parse_seedlog(&r->rows, &r->n_rows, text, path, err);
    free(text);
    if (rc) return -1;
    r->is_log = 1, r->has_metrics = 1;
    r->cfg.epochs = r->n_rows;
    r->cfg.lr = r->rows[0].lr;
    return 0;
}

int rundir_load(rundir *r, const char *dir, lr_error *err) {
    memset(r, 0, sizeof *r);
    config_defaults(&r->cfg);
    if (strlen(dir) >= sizeof r->dir - 32) return lr_fail(err, "%s: path too long", dir);
    if (is_file(dir)) return load_seedlog(r, dir, err);
    if (!is_dir(dir)) return lr_fail(err, "%s: no such run directory or log file", dir);
    set_label(r, dir, "");
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, RUN_CONFIG);
    if (has_file(dir, RUN_CONFIG)) {
        if (config_read(&r->cfg, path, err)) return -1;
        r->has_config = 1;
    }
    snprintf(path, sizeof path, "%s/%s", dir, RUN_METRICS);
    int absent;
    char *text = read_text(path, err, &absent);
    if (!text && !absent) return -1;
    if (!text && !r->has_config)
        return lr_fail(err, "%s: not a run directory (neither %s nor %s)", dir, RUN_CONFIG, RUN_METRICS);
    if (text) {
        r->has_metrics = 1;
        int rc = rundir_parse_metrics(&r->rows, &r->n_rows, text, path, err);
        free(text);
        if (rc) return -1;
    }
    r->has_checkpoint = has_file(dir, RUN_CHECKPOINT);
    r->has_weights = has_file(dir, RUN_WEIGHTS);
    r->has_diverged = newer_or_same(dir, RUN_DIVERGED, RUN_CHECKPOINT); /* not a resume's later checkpoint */
    r->running = is_locked(dir);
    return 0;
}

const char *rundir_status(char *buf, size_t cap, const rundir *r) {
    int epochs = r->cfg.epochs;
    if (r->is_log) {
        int bad = 0;
        for (int e = 0; e < r->n_rows; e++) bad |= !(r->rows[e].train_loss <= 1e4);
        snprintf(buf, cap, "%s", bad ? "diverged" : "finished");
    } else if (r->running) {
        snprintf(buf, cap, "running %d/%d", r->n_rows, epochs);
    } else if (r->has_weights && r->n_rows >= epochs) {
        snprintf(buf, cap, "finished");
    } else if (r->has_diverged) {
        snprintf(buf, cap, "diverged %d/%d", r->n_rows, epochs);
    } else if (r->has_checkpoint) {
        snprintf(buf, cap, "stopped %d/%d", r->n_rows, epochs);
    } else {
        snprintf(buf, cap, "failed");
    }
    return buf;
}

void rundir_free(rundir *r) {
    free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_add(char ***list, int *n, int *cap, const char *s, lr_error *err) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        char **t = realloc(*list, (size_t)nc * sizeof *t);
        if (!t) return lr_fail(err, "out of memory listing runs");
        *list = t, *cap = nc;
    }
    if (!((*list)[*n] = strdup(s))) return lr_fail(err, "out of memory listing runs");
    (*n)++;
    return 0;
}

int rundir_expand(char ***out, int *n_out, char *const *args, int n_args, lr_error *err) {
    char **list = NULL;
    int n = 0, cap = 0, rc = 0;
    for (int i = 0; i < n_args && !rc; i++) {
        const char *a = args[i];
        if (is_file(a)) { /* a seed-format log */
            rc = list_add(&list, &n, &cap, a, err);
            continue;
        }
        if (!is_dir(a)) {
            rc = lr_fail(err, "%s: no such run directory or log file", a);
            break;
        }
        if (has_file(a, RUN_CONFIG) || has_file(a, RUN_METRICS)) {
            rc = list_add(&list, &n, &cap, a, err);
            continue;
        }
        /* a sweep's output directory: its runs, in name order */
        DIR *d = opendir(a);
        if (!d) {
            rc = lr_fail(err, "%s: cannot list: %s", a, strerror(errno));
            break;
        }
        int first = n;
        struct dirent *e;
        char sub[1300];
        while (!rc && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            size_t al = strlen(a);
            if (snprintf(sub, sizeof sub, "%s%s%s", a, al && a[al - 1] == '/' ? "" : "/", e->d_name) >=
                (int)sizeof sub)
                continue;
            if (is_dir(sub) && (has_file(sub, RUN_CONFIG) || has_file(sub, RUN_METRICS)))
                rc = list_add(&list, &n, &cap, sub, err);
        }
        closedir(d);
        if (!rc && n == first)
            rc = lr_fail(err, "%s: not a run directory (no %s or %s) and holds no runs", a, RUN_CONFIG,
                         RUN_METRICS);
        if (!rc) qsort(list + first, (size_t)(n - first), sizeof *list, cmp_str);
    }
    if (rc) {
        rundir_list_free(list, n);
        return -1;
    }
    *out = list;
    *n_out = n;
    return 0;
}

void rundir_list_free(char **list, int n) {
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
}

int rundir_stats(run_stats *s, const rundir *r) {
    memset(s, 0, sizeof *s);
    if (r->n_rows < 1) return -1;
    const metrics_row *last = &r->rows[r->n_rows - 1];
    s->epochs_done = r->n_rows;
    s->final_test = last->test_acc;
    s->final_tta = last->tta_test_acc;
    s->final_train = last->train_acc;
    s->final_val = last->val_acc;
    s->best_test = r->rows[0].test_acc;
    s->best_epoch = r->rows[0].epoch;
    for (int i = 0; i < r->n_rows; i++) {
        if (r->rows[i].test_acc > s->best_test) s->best_test = r->rows[i].test_acc, s->best_epoch = r->rows[i].epoch;
        s->total_seconds += r->rows[i].seconds;
    }
    s->best_val = r->rows[0].val_acc;
    for (int i = 1; i < r->n_rows; i++)
        if (r->rows[i].val_acc > s->best_val) s->best_val = r->rows[i].val_acc;
    int k = r->n_rows < 5 ? r->n_rows : 5;
    double sum = 0, vsum = 0;
    for (int i = r->n_rows - k; i < r->n_rows; i++) sum += r->rows[i].test_acc, vsum += r->rows[i].val_acc;
    s->last5_test = sum / k;
    s->last5_val = vsum / k;
    return 0;
}

size_t rundir_group_len(const char *name) {
    size_t len = strlen(name), i = len;
    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9') i--;
    if (i == len || i < 3 || name[i - 1] != 's' || name[i - 2] != '-') return len;
    return i - 2;
}

/* parent directory + group name, or "" for a name without -s<k> */
static void group_key(char *key, size_t cap, const rundir *r) {
    size_t gl = rundir_group_len(r->name), nl = strlen(r->name);
    key[0] = '\0';
    if (gl == nl) return;
    size_t dl = strlen(r->dir);
    while (dl > 1 && r->dir[dl - 1] == '/') dl--;
    snprintf(key, cap, "%.*s%.*s", (int)(dl >= nl ? dl - nl : 0), r->dir, (int)gl, r->name);
}

int rundir_group(int *group, const rundir *runs, int n) {
    int count = 0;
    char ki[1400], kj[1400];
    for (int i = 0; i < n; i++) {
        group[i] = -1;
        group_key(ki, sizeof ki, &runs[i]);
        for (int j = 0; ki[0] && j < i && group[i] < 0; j++) {
            group_key(kj, sizeof kj, &runs[j]);
            if (!strcmp(ki, kj)) group[i] = group[j];
        }
        if (group[i] < 0) group[i] = count++;
    }
    return count;
}
