/* io/checkpoint.c: weights files and checkpoints (lrlab/io.h), on top of
 * the safetensors reader and writer (atomic: lrlab/atomic.h), and mkdir -p
 * (make_dirs) for run and output directories. What goes in a
 * checkpoint is in docs/file-formats.md ("Checkpoint"); what survives what
 * is in docs/resilience.md. Not the trainer's policy of when to write. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lrlab/io.h"
#include "lrlab/safetensors.h"

/* num_batches_tracked is an int64 in PyTorch's state_dict: kept as a float
 * in buffers (exact to 2^24), written and read as I64. */
static int is_i64(const model_tensor *mt) { return mt->role == TENSOR_NUM_BATCHES; }

static int count_i64(const model_spec *m) {
    int n = 0;
    for (int i = 0; i < m->n_tensors; i++) n += is_i64(&m->tensors[i]);
    return n;
}

/* The state_dict of m over params and buffers, in its order; t has room for
 * m->n_tensors, i64 for count_i64(m) values. Returns the count. */
static int state_tensors(st_tensor *t, int64_t *i64, const model_spec *m, const float *params,
                         const float *buffers) {
    for (int i = 0; i < m->n_tensors; i++) {
        const model_tensor *mt = &m->tensors[i];
        const float *src = (mt->buffer ? buffers : params) + mt->offset;
        memset(&t[i], 0, sizeof t[i]);
        snprintf(t[i].name, sizeof t[i].name, "%s", mt->name);
        t[i].ndim = mt->ndim;
        for (int d = 0; d < mt->ndim; d++) t[i].shape[d] = mt->shape[d];
        if (is_i64(mt)) {
            *i64 = (int64_t)src[0];
            t[i].dtype = ST_I64, t[i].data = i64++, t[i].nbytes = sizeof(int64_t);
        } else {
            t[i].dtype = ST_F32, t[i].data = src, t[i].nbytes = (size_t)mt->count * sizeof(float);
        }
    }
    return m->n_tensors;
}

/* room for the state_dict and `extra` more tensors */
static int alloc_tensors(st_tensor **t, int64_t **i64, const model_spec *m, int extra, lr_error *err) {
    *t = lr_calloc((size_t)m->n_tensors + extra, sizeof **t, "tensor list", err);
    *i64 = lr_calloc((size_t)count_i64(m) + 1, sizeof **i64, "tensor list", err);
    if (*t && *i64) return 0;
    free(*t), free(*i64);
    return -1;
}

int weights_save(const char *path, const model_spec *m, const float *params, const float *buffers, lr_error *err) {
    st_tensor *t;
    int64_t *i64;
    if (alloc_tensors(&t, &i64, m, 1, err)) return -1;
    int rc = st_write(path, t, state_tensors(t, i64, m, params, buffers), NULL, NULL, 0, err);
    free(t), free(i64);
    return rc;
}

/* A buffer's values: running statistics finite, variances >= 0 (a file
 * that breaks this would make every evaluation NaN without a word). */
static int check_buffer(const char *path, const model_tensor *mt, const float *v, lr_error *err) {
    for (long j = 0; j < mt->count; j++)
        if (!isfinite(v[j]) || (mt->role == TENSOR_RUNNING_VAR && v[j] < 0))
            return lr_fail(err, "%s: %s[%ld] is %g: expected a finite %s", path, mt->name, j, v[j],
                           mt->role == TENSOR_RUNNING_VAR ? "variance >= 0" : "value");
    return 0;
}

/* Copies every tensor of m's state_dict out of an open file; *absent
 * counts the num_batches_tracked it lacks (read as 0, as PyTorch's
 * BatchNorm loads a state_dict without them). check: the buffers' values
 * too (weights files; a checkpoint resumes whatever its run reached). */
static int copy_state(const st_file *f, const char *path, const model_spec *m, float *params, float *buffers,
                      int check, int *absent, lr_error *err) {
    *absent = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const model_tensor *mt = &m->tensors[i];
        float *dst = (mt->buffer ? buffers : params) + mt->offset;
        long shape[4];
        for (int d = 0; d < mt->ndim; d++) shape[d] = mt->shape[d];
        if (!st_find(f, mt->name)) {
            if (!is_i64(mt))
                return lr_fail(err, "%s: no tensor '%s': these weights are not for model '%s'", path, mt->name, m->name);
            dst[0] = 0, (*absent)++;
            continue;
        }
        if (is_i64(mt)) {
            int64_t v;
            if (st_copy(f, mt->name, ST_I64, 0, shape, &v, err)) return -1;
            if (v < 0 || v > (1L << 24))
                return lr_fail(err, "%s: %s is %lld: expected 0..%ld", path, mt->name, (long long)v, 1L << 24);
            dst[0] = (float)v;
        } else if (st_copy(f, mt->name, ST_F32, mt->ndim, shape, dst, err) ||
                   (check && mt->buffer && check_buffer(path, mt, dst, err))) {
            return -1;
        }
    }
    return 0;
}

/* The first tensor of f that m's state_dict lacks (NULL: none). */
static const char *foreign_tensor(const st_file *f, const model_spec *m) {
    for (int i = 0; i < f->n; i++) {
        int found = 0;
        for (int k = 0; k < m->n_tensors && !found; k++) found = !strcmp(f->tensors[i].name, m->tensors[k].name);
        if (!found) return f->tensors[i].name;
    }
    return NULL;
}

static int ckpt_from(const st_file *f, const char *path, const model_spec *m, float *params, float *buffers,
                     optim_state *o, avg_state *avg, ckpt_extra *x, lr_error *err);

/* any: a checkpoint gives its weights too, after all of its checks. */
static int load_weights(const char *path, const model_spec *m, float *params, float *buffers, int any,
                        lr_error *err) {
    st_file f;
    if (st_read(&f, path, err)) return -1;
    const char *format = st_meta(&f, "format");
    int rc;
    int absent = 0;
    if (any && format && !strcmp(format, CKPT_FORMAT)) {
        ckpt_extra x;
        memset(&x, 0, sizeof x);
        rc = ckpt_from(&f, path, m, params, buffers, NULL, NULL, &x, err);
        ckpt_extra_free(&x);
    } else if (format && !strcmp(format, CKPT_FORMAT)) {
        rc = lr_fail(err, "%s: a checkpoint of `lrlab train`, not a weights file: give the run's model.safetensors "
                          "(or continue the run: lrlab train --resume DIR)", path);
    } else if (!(rc = copy_state(&f, path, m, params, buffers, 1, &absent, err)) && f.n != m->n_tensors - absent) {
        const char *extra = foreign_tensor(&f, m);
        rc = extra ? lr_fail(err, "%s: tensor '%s' is not in model '%s': not this model's file", path, extra, m->name)
                   : lr_fail(err, "%s: %d tensors, model '%s' has %d: not this model's file", path, f.n, m->name,
                             m->n_tensors);
    }
    st_free(&f);
    return rc;
}

int weights_load(const char *path, const model_spec *m, float *params, float *buffers, lr_error *err) {
    return load_weights(path, m, params, buffers, 0, err);
}

int weights_load_any(const char *path, const model_spec *m, float *params, float *buffers, lr_error *err) {
    return load_weights(path, m, params, buffers, 1, err);
}

/* train.state: the fields of train_state as doubles, in this order, with
 * field 3 SGD's momentum_started in version 1 (0 in version 2, where every
 * optimiser's scalars are in optimizer.scalars). Version 1 files written
 * before epoch_lr/epoch_momentum existed hold the first 9; they still load
 * (the two come back as NaN); those before grad_norm_sum hold 11. */
#define STATE_FIELDS 12
#define STATE_FIELDS_LR 11 /* before grad_norm_sum (it comes back as NaN) */
#define STATE_FIELDS_OLD 9

/* CRC-32 (IEEE 802.3, as zlib's crc32) of the tensor bytes, kept in the
 * metadata as "crc32" so that damage to the data (which the safetensors
 * layer cannot see) is found on load. Files without the key still load. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int ckpt_save(const char *path, const model_spec *m, const float *params, const float *buffers,
              const optim_state *o, const ckpt_extra *x, lr_error *err) {
    return ckpt_save_avg(path, m, params, buffers, o, NULL, x, err);
}

int ckpt_save_avg(const char *path, const model_spec *m, const float *params, const float *buffers,
                  const optim_state *o, const avg_state *avg, const ckpt_extra *x, lr_error *err) {
    if (x->n_sched < 0 || x->n_sched > CKPT_SCHED_MAX)
        return lr_fail(err, "%s: schedule state of %d values, at most %d fit", path, x->n_sched, CKPT_SCHED_MAX);
    if (o->n != m->n_params) return lr_fail(err, "%s: optimiser state of %ld values for %ld parameters", path, o->n, m->n_params);
    st_tensor *t;
    int64_t *i64;
    if (alloc_tensors(&t, &i64, m, OPTIM_MAX_TENSORS + AVG_MAX_TENSORS + 4, err)) return -1;
    int n = state_tensors(t, i64, m, params, buffers);
    const train_state *s = &x->state;
    double state[STATE_FIELDS] = {(double)s->epoch, (double)s->batch, (double)s->step, 0, s->loss_sum,
                                  (double)s->correct, (double)s->seen, (double)s->batches, s->seconds,
                                  s->epoch_lr, s->epoch_momentum, s->grad_norm_sum};
    for (int i = 0; i < o->n_tensors; i++) {
        t[n] = (st_tensor){.dtype = ST_F32, .ndim = 1, .shape = {m->n_params}, .data = o->t[i],
                           .nbytes = (size_t)m->n_params * sizeof(float)};
        snprintf(t[n].name, sizeof t[n].name, "optimizer.%s", optim_tensor_name(o->kind, i));
        n++;
    }
    double scalars[OPTIM_MAX_GROUPS * OPTIM_MAX_SCALARS]; /* each parameter group's in turn */
    int groups = o->n_groups > 0 ? o->n_groups : 1;
    for (int g = 0; g < groups; g++)
        memcpy(scalars + g * o->n_scalars, o->s + g * OPTIM_MAX_SCALARS, sizeof(double) * (size_t)o->n_scalars);
    t[n] = (st_tensor){.name = "optimizer.scalars", .dtype = ST_F64, .ndim = 1, .shape = {groups * o->n_scalars},
                       .data = scalars, .nbytes = (size_t)(groups * o->n_scalars) * sizeof(double)};
    n++;
    t[n] = (st_tensor){.name = "sched.state", .dtype = ST_F64, .ndim = 1, .shape = {x->n_sched},
                       .data = x->sched, .nbytes = (size_t)x->n_sched * sizeof(double)};
    n++;
    t[n] = (st_tensor){.name = "train.state", .dtype = ST_F64, .ndim = 1, .shape = {STATE_FIELDS},
                       .data = state, .nbytes = sizeof state};
    n++;
    /* the averages of the weights (lrlab/average.h), and SWA's n_averaged */
    avg_tensor at[AVG_MAX_TENSORS];
    int n_avg = avg ? avg_state_tensors(avg, at) : 0;
    for (int i = 0; i < n_avg; i++) {
        t[n] = (st_tensor){.dtype = ST_F32, .ndim = 1, .shape = {at[i].count}, .data = at[i].data,
                           .nbytes = (size_t)at[i].count * sizeof(float)};
        snprintf(t[n].name, sizeof t[n].name, "%s", at[i].name);
        n++;
    }
    int64_t swa_n = avg ? avg->swa_n : 0;
    if (avg && avg->swa_params) {
        t[n] = (st_tensor){.name = "average.swa.n_averaged", .dtype = ST_I64, .ndim = 0, .data = &swa_n,
                           .nbytes = sizeof swa_n};
        n++;
    }
    /* the data section is the tensors in this order (st_write) */
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) crc = crc32_update(crc, t[i].data, t[i].nbytes);
    char version[16], crc_text[16];
    snprintf(version, sizeof version, "%d", CKPT_VERSION);
    snprintf(crc_text, sizeof crc_text, "%08x", (unsigned)crc);
    const char *keys[] = {"format", "version", "model", "optimizer", "crc32", "config", "metrics"};
    const char *values[] = {CKPT_FORMAT, version, m->name, optim_name(o->kind), crc_text,
                            x->config_text ? x->config_text : "", x->metrics_text ? x->metrics_text : ""};
    int rc = st_write(path, t, n, keys, values, 7, err);
    free(t), free(i64);
    return rc;
}

static char *dup_meta(const st_file *f, const char *key) {
    const char *v = st_meta(f, key);
    return strdup(v ? v : "");
}

/* A count stored as a double: whole, in 0..max (checked before the cast,
 * which is undefined for NaN or out-of-range values). */
static int state_count(long *out, double v, double max, const char *path, const char *what, lr_error *err) {
    if (!(v >= 0 && v <= max) || v != floor(v))
        return lr_fail(err, "%s: %s is %g: expected a whole number in 0..%g", path, what, v, max);
    *out = (long)v;
    return 0;
}

static int state_from(train_state *s, long *started, const double *v, int n, const char *path, lr_error *err) {
    const double big = 1e15; /* far beyond any run, well inside long and exact in a double */
    memset(s, 0, sizeof *s);
    if (state_count(&s->epoch, v[0], big, path, "train.state epoch", err) ||
        state_count(&s->batch, v[1], big, path, "train.state batch", err) ||
        state_count(&s->step, v[2], big, path, "train.state step", err) ||
        state_count(started, v[3], 1, path, "train.state momentum_started", err) ||
        state_count(&s->correct, v[5], big, path, "train.state correct", err) ||
        state_count(&s->seen, v[6], big, path, "train.state seen", err) ||
        state_count(&s->batches, v[7], big, path, "train.state batches", err))
        return -1;
    s->loss_sum = v[4], s->seconds = v[8];
    s->epoch_lr = n > STATE_FIELDS_OLD ? v[9] : NAN;
    s->epoch_momentum = n > STATE_FIELDS_OLD ? v[10] : NAN;
    s->grad_norm_sum = n > STATE_FIELDS_LR ? v[11] : s->batches ? NAN : 0; /* an older one, mid-epoch: unknown */
    if (s->correct > s->seen || s->batches > s->batch || !isfinite(s->loss_sum) || !(isfinite(s->seconds) && s->seconds >= 0))
        return lr_fail(err, "%s: inconsistent training state (epoch %ld, batch %ld: %ld of %ld correct, "
                            "%ld batches, loss sum %g)", path, s->epoch, s->batch, s->correct, s->seen,
                       s->batches, s->loss_sum);
    if (n > STATE_FIELDS_OLD && !((isfinite(s->epoch_lr) && s->epoch_lr >= 0 && isfinite(s->epoch_momentum)) ||
                                  (isnan(s->epoch_lr) && isnan(s->epoch_momentum))))
        return lr_fail(err, "%s: train.state epoch lr %g, momentum %g: expected finite values", path,
                       s->epoch_lr, s->epoch_momentum);
    if (n > STATE_FIELDS_LR && !(isnan(s->grad_norm_sum) || (isfinite(s->grad_norm_sum) && s->grad_norm_sum >= 0)))
        return lr_fail(err, "%s: train.state gradient norm sum %g: expected a finite value >= 0", path,
                       s->grad_norm_sum);
    return 0;
}

/* One optimiser scalar by its kind of name: a "*_started" flag is 0 or 1
 * (the step functions branch on it), "step" a whole count, the others
 * (NAdam's mu_product, ASGD's eta and mu) finite and non-negative. */
static int check_scalar(double v, const char *name, const char *path, lr_error *err) {
    size_t n = strlen(name);
    if (n > 8 && !strcmp(name + n - 8, "_started")) {
        if (v == 0 || v == 1) return 0;
        return lr_fail(err, "%s: optimizer.scalars %s is %g: expected 0 or 1", path, name, v);
    }
    if (!strcmp(name, "step")) {
        long whole;
        return state_count(&whole, v, 1e15, path, "optimizer.scalars step", err);
    }
    if (isfinite(v) && v >= 0 && v <= 1e15) return 0;
    return lr_fail(err, "%s: optimizer.scalars %s is %g: expected a finite number in 0..1e15", path, name, v);
}

/* Validates and copies out of a read file f (freed by the caller). */
/* The optimiser's tensors and scalars of a version 2 checkpoint into o
 * (NULL: checked, not copied). */
static int copy_optim(const st_file *f, const char *path, const model_spec *m, optim_kind kind, optim_state *o,
                      lr_error *err) {
    long shape[1] = {m->n_params};
    float *scratch = o ? NULL : lr_calloc((size_t)m->n_params, sizeof(float), "optimiser state", err);
    if (!o && !scratch) return -1;
    int rc = 0;
    for (int i = 0; !rc && i < optim_n_tensors(kind); i++) {
        char name[96];
        snprintf(name, sizeof name, "optimizer.%s", optim_tensor_name(kind, i));
        if (!st_find(f, name))
            rc = lr_fail(err, "%s: no tensor '%s' (%s's state): not a complete checkpoint", path, name, optim_name(kind));
        else rc = st_copy(f, name, ST_F32, 1, shape, o ? o->t[i] : scratch, err);
    }
    free(scratch);
    if (rc) return -1;
    /* each parameter group's scalars in turn (one group: a checkpoint from before groups) */
    double scalars[OPTIM_MAX_GROUPS * OPTIM_MAX_SCALARS];
    int ns = optim_n_scalars(kind);
    const st_tensor *ts = st_find(f, "optimizer.scalars");
    long have = ts && ts->ndim == 1 ? ts->shape[0] : -1, groups = ns ? have / ns : 1;
    int want = o && o->n_groups > 1 ? o->n_groups : 1; /* a state built without groups has one */
    if (o ? have != (long)want * ns : have < ns || have % (ns ? ns : 1) || groups > OPTIM_MAX_GROUPS)
        return lr_fail(err, "%s: tensor 'optimizer.scalars' missing or not a vector of %ld values (%s's, %d parameter "
                            "group%s)", path, (long)want * ns, optim_name(kind), want, want > 1 ? "s" : "");
    shape[0] = have;
    if (st_copy(f, "optimizer.scalars", ST_F64, 1, shape, scalars, err)) return -1;
    for (int i = 0; i < have; i++) /* check_scalar's names are per group: the same in each */
        if (check_scalar(scalars[i], optim_scalar_name(kind, i % ns), path, err)) return -1;
    for (int g = 0; o && g < groups; g++) memcpy(o->s + g * OPTIM_MAX_SCALARS, scalars + g * ns, sizeof(double) * (size_t)ns);
    return 0;
}

/* Validates and copies out of a read file f (freed by the caller); o NULL:
 * the optimiser state is checked, not kept. */
/* The averages' tensors into avg, which names those the run keeps (NULL:
 * whatever the file holds is skipped); returns the count of "average."
 * tensors in the file, or -1. */
static int copy_averages(const st_file *f, const char *path, avg_state *avg, lr_error *err) {
    int in_file = 0;
    for (int i = 0; i < f->n; i++) in_file += !strncmp(f->tensors[i].name, "average.", 8);
    if (!avg) return in_file;
    avg_tensor at[AVG_MAX_TENSORS];
    int n = avg_state_tensors(avg, at);
    for (int i = 0; i < n; i++) {
        long shape[1] = {at[i].count};
        if (!st_find(f, at[i].name))
            return lr_fail(err, "%s: no tensor '%s': the run keeps this average (--lookahead, --ema, --swa-start) "
                                "but its checkpoint does not", path, at[i].name);
        if (st_copy(f, at[i].name, ST_F32, 1, shape, at[i].data, err)) return -1;
    }
    if (avg->swa_params) {
        int64_t v;
        if (!st_find(f, "average.swa.n_averaged"))
            return lr_fail(err, "%s: no tensor 'average.swa.n_averaged': not a complete checkpoint", path);
        if (st_copy(f, "average.swa.n_averaged", ST_I64, 0, NULL, &v, err)) return -1;
        if (v < 0 || v > (1L << 40))
            return lr_fail(err, "%s: average.swa.n_averaged is %lld: expected 0..%ld", path, (long long)v, 1L << 40);
        avg->swa_n = (long)v;
        n++;
    }
    if (n != in_file)
        return lr_fail(err, "%s: %d averages of the weights, the run keeps %d (--lookahead, --ema, --swa-start "
                            "differ from the run's)", path, in_file, n);
    return in_file;
}

static int ckpt_from(const st_file *f, const char *path, const model_spec *m, float *params, float *buffers,
                     optim_state *o, avg_state *avg, ckpt_extra *x, lr_error *err) {
    const char *format = st_meta(f, "format"), *version = st_meta(f, "version");
    if (!format || strcmp(format, CKPT_FORMAT))
        return lr_fail(err, "%s: not an lrlab checkpoint (metadata format is '%s', expected '%s')", path,
                       format ? format : "(none)", CKPT_FORMAT);
    int v1 = version && !strcmp(version, "1");
    char want[16];
    snprintf(want, sizeof want, "%d", CKPT_VERSION);
    if (!version || (strcmp(version, want) && !v1))
        return lr_fail(err, "%s: checkpoint version '%s', this lrlab reads versions 1 to %d", path,
                       version ? version : "(none)", CKPT_VERSION);
    /* version 1: SGD's momentum_buffer; version 2: the optimiser the metadata names */
    const char *oname = v1 ? "SGD" : st_meta(f, "optimizer");
    int kind = oname ? optim_find(oname, (int)strlen(oname)) : -1;
    if (kind < 0)
        return lr_fail(err, "%s: metadata optimizer is '%.40s': not an optimiser this lrlab knows", path,
                       oname ? oname : "(none)");
    if (o && o->kind != (optim_kind)kind)
        return lr_fail(err, "%s: a checkpoint of %s, but the run's optimiser is %s", path, oname, optim_name(o->kind));
    if (o && o->n != m->n_params)
        return lr_fail(err, "%s: optimiser state of %ld values for %ld parameters", path, o->n, m->n_params);
    /* a checkpoint holds the model's state_dict plus the optimiser's tensors (and
     * scalars, version 2), sched.state and train.state */
    int n_avg = copy_averages(f, path, avg, err);
    if (n_avg < 0) return -1;
    int want_n = m->n_tensors + 2 + (v1 ? 1 : optim_n_tensors(kind) + 1) + n_avg;
    if (f->n != want_n)
        return lr_fail(err, "%s: %d tensors, a checkpoint of model '%s' has %d: not this model's checkpoint",
                       path, f->n, m->name, want_n);
    const char *crc_text = st_meta(f, "crc32");
    if (crc_text) {
        uint64_t hlen = 0;
        for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->buf[i]; /* st_parse checked it fits */
        char got[16];
        snprintf(got, sizeof got, "%08x", (unsigned)crc32_update(0, f->buf + 8 + hlen, f->buf_size - 8 - hlen));
        if (strcmp(got, crc_text))
            return lr_fail(err, "%s: damaged: the tensor data's CRC-32 is %s, the file says %.16s", path, got,
                           crc_text);
    }
    int absent;
    if (copy_state(f, path, m, params, buffers, 0, &absent, err)) return -1;
    if (absent) return lr_fail(err, "%s: %d num_batches_tracked missing: not a complete checkpoint", path, absent);
    long shape[1] = {m->n_params};
    if (v1) {
        if (!st_find(f, "optimizer.momentum_buffer"))
            return lr_fail(err, "%s: no tensor 'optimizer.momentum_buffer': not a complete checkpoint", path);
        float *scratch = o ? NULL : lr_calloc((size_t)m->n_params, sizeof(float), "optimiser state", err);
        if (!o && !scratch) return -1;
        int rc = st_copy(f, "optimizer.momentum_buffer", ST_F32, 1, shape, o ? o->t[0] : scratch, err);
        free(scratch);
        if (rc) return -1;
    } else if (copy_optim(f, path, m, (optim_kind)kind, o, err)) {
        return -1;
    }
    const st_tensor *ts = st_find(f, "train.state");
    if (!ts || ts->ndim != 1 || (ts->shape[0] != STATE_FIELDS && ts->shape[0] != STATE_FIELDS_LR &&
                                   ts->shape[0] != STATE_FIELDS_OLD))
        return lr_fail(err, "%s: tensor 'train.state' missing or not a vector of %d values", path, STATE_FIELDS);
    double state[STATE_FIELDS];
    shape[0] = ts->shape[0];
    if (st_copy(f, "train.state", ST_F64, 1, shape, state, err)) return -1;
    long started = 0;
    if (state_from(&x->state, &started, state, (int)shape[0], path, err)) return -1;
    if (v1 && o) o->s[0] = (double)started; /* SGD's momentum_started */
    const st_tensor *sched = st_find(f, "sched.state");
    if (!sched || sched->ndim != 1 || sched->shape[0] > CKPT_SCHED_MAX)
        return lr_fail(err, "%s: tensor 'sched.state' missing or not a vector of at most %d values", path,
                       CKPT_SCHED_MAX);
    shape[0] = sched->shape[0];
    if (st_copy(f, "sched.state", ST_F64, 1, shape, x->sched, err)) return -1;
    x->n_sched = (int)shape[0];
    x->config_text = dup_meta(f, "config");
    x->metrics_text = dup_meta(f, "metrics");
    if (!x->config_text || !x->metrics_text) return lr_fail(err, "%s: out of memory", path);
    return 0;
}

int ckpt_parse(unsigned char *buf, size_t size, const char *name, const model_spec *m, float *params,
               float *buffers, optim_state *o, ckpt_extra *x, lr_error *err) {
    memset(x, 0, sizeof *x);
    st_file f;
    if (st_parse(&f, buf, size, name, err)) return -1;
    int rc = ckpt_from(&f, name, m, params, buffers, o, NULL, x, err);
    st_free(&f);
    if (rc) ckpt_extra_free(x);
    return rc;
}

int ckpt_load(const char *path, const model_spec *m, float *params, float *buffers, optim_state *o,
              ckpt_extra *x, lr_error *err) {
    return ckpt_load_avg(path, m, params, buffers, o, NULL, x, err);
}

int ckpt_load_avg(const char *path, const model_spec *m, float *params, float *buffers, optim_state *o,
                  avg_state *avg, ckpt_extra *x, lr_error *err) {
    memset(x, 0, sizeof *x);
    st_file f;
    if (st_read(&f, path, err)) return -1;
    int rc = ckpt_from(&f, path, m, params, buffers, o, avg, x, err);
    st_free(&f);
    if (rc) ckpt_extra_free(x);
    return rc;
}

void ckpt_extra_free(ckpt_extra *x) {
    free(x->config_text);
    free(x->metrics_text);
    x->config_text = x->metrics_text = NULL;
}
int make_dirs(const char *path, const char *what, lr_error *err) {
    char buf[4200];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return lr_fail(err, "%s %s: path too long", what, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST)
            return lr_fail(err, "%s %s: cannot create %s: %s", what, path, buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST) return lr_fail(err, "%s %s: cannot create: %s", what, path, strerror(errno));
    struct stat sb;
    if (stat(buf, &sb) || !S_ISDIR(sb.st_mode)) return lr_fail(err, "%s %s: not a directory", what, path);
    return 0;
}

void dirs_missing_top(const char *path, char *out, size_t cap) {
    if (access(path, F_OK) == 0) {
        snprintf(out, cap, "%s", "");
        return;
    }
    snprintf(out, cap, "%s", path);
    char up[4200];
    for (;;) {
        snprintf(up, sizeof up, "%s", out);
        char *slash = strrchr(up, '/');
        if (!slash || slash == up) return;
        *slash = '\0';
        if (access(up, F_OK) == 0) return;
        snprintf(out, cap, "%s", up);
    }
}

void remove_empty_dirs(const char *path, const char *top) {
    char buf[4200];
    snprintf(buf, sizeof buf, "%s/.lock", path);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s", path);
    size_t stop = strlen(top);
    while (strlen(buf) >= stop && rmdir(buf) == 0) {
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf) break;
        *slash = '\0';
    }
}
