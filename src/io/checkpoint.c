/* io/checkpoint.c: weights files, checkpoints and atomic small files
 * (lrlab/io.h), on top of the safetensors reader and writer. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lrlab/io.h"
#include "lrlab/safetensors.h"

/* The weight tensors of m over params, in layer order. Returns the count. */
static int weight_tensors(st_tensor *t, const model_spec *m, const float *params) {
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        if (!l->param_count) continue;
        memset(&t[n], 0, sizeof t[n]);
        model_param_name(l, t[n].name, sizeof t[n].name);
        t[n].dtype = ST_F32;
        t[n].ndim = l->ndim;
        for (int d = 0; d < l->ndim; d++) t[n].shape[d] = l->shape[d];
        t[n].data = params + l->param_offset;
        t[n].nbytes = (size_t)l->param_count * sizeof(float);
        n++;
    }
    return n;
}

int weights_save(const char *path, const model_spec *m, const float *params, lr_error *err) {
    st_tensor t[MODEL_MAX_LAYERS];
    int n = weight_tensors(t, m, params);
    return st_write(path, t, n, NULL, NULL, 0, err);
}

/* Copies every weight of m out of an open file; extra weight tensors are
 * an error only when `exact`. */
static int copy_weights(const st_file *f, const char *path, const model_spec *m, float *params,
                        lr_error *err) {
    for (int i = 0; i < m->n_layers; i++) {
        const layer_spec *l = &m->layers[i];
        if (!l->param_count) continue;
        char name[128];
        long shape[4];
        model_param_name(l, name, sizeof name);
        for (int d = 0; d < l->ndim; d++) shape[d] = l->shape[d];
        if (!st_find(f, name))
            return lr_fail(err, "%s: no tensor '%s': these weights are not for model '%s'", path,
                           name, m->name);
        if (st_copy(f, name, ST_F32, l->ndim, shape, params + l->param_offset, err)) return -1;
    }
    return 0;
}

int weights_load(const char *path, const model_spec *m, float *params, lr_error *err) {
    st_file f;
    if (st_read(&f, path, err)) return -1;
    int rc = copy_weights(&f, path, m, params, err);
    int weighted = 0;
    for (int i = 0; i < m->n_layers; i++) weighted += m->layers[i].param_count > 0;
    if (!rc && f.n != weighted)
        rc = lr_fail(err, "%s: %d tensors, model '%s' has %d weights: not this model's file", path,
                     f.n, m->name, weighted);
    st_free(&f);
    return rc;
}

#define STATE_FIELDS 9

int ckpt_save(const char *path, const model_spec *m, const float *params, const float *momentum,
              const ckpt_extra *x, lr_error *err) {
    st_tensor t[MODEL_MAX_LAYERS + 3];
    int n = weight_tensors(t, m, params);
    const train_state *s = &x->state;
    double state[STATE_FIELDS] = {(double)s->epoch, (double)s->batch, (double)s->step,
                                  (double)s->momentum_started, s->loss_sum, (double)s->correct,
                                  (double)s->seen, (double)s->batches, s->seconds};
    t[n] = (st_tensor){.name = "optimizer.momentum_buffer", .dtype = ST_F32, .ndim = 1,
                       .shape = {m->n_params}, .data = momentum, .nbytes = (size_t)m->n_params * sizeof(float)};
    n++;
    t[n] = (st_tensor){.name = "sched.state", .dtype = ST_F64, .ndim = 1, .shape = {x->n_sched},
                       .data = x->sched, .nbytes = (size_t)x->n_sched * sizeof(double)};
    n++;
    t[n] = (st_tensor){.name = "train.state", .dtype = ST_F64, .ndim = 1, .shape = {STATE_FIELDS},
                       .data = state, .nbytes = sizeof state};
    n++;
    char version[16];
    snprintf(version, sizeof version, "%d", CKPT_VERSION);
    const char *keys[] = {"format", "version", "model", "config", "metrics"};
    const char *values[] = {CKPT_FORMAT, version, m->name, x->config_text ? x->config_text : "",
                            x->metrics_text ? x->metrics_text : ""};
    return st_write(path, t, n, keys, values, 5, err);
}

static char *dup_meta(const st_file *f, const char *key) {
    const char *v = st_meta(f, key);
    return strdup(v ? v : "");
}

int ckpt_load(const char *path, const model_spec *m, float *params, float *momentum,
              ckpt_extra *x, lr_error *err) {
    memset(x, 0, sizeof *x);
    st_file f;
    if (st_read(&f, path, err)) return -1;
    int rc = 0;
    const char *format = st_meta(&f, "format"), *version = st_meta(&f, "version");
    long shape[1];
    double state[STATE_FIELDS];
    const st_tensor *sched = st_find(&f, "sched.state");
    if (!format || strcmp(format, CKPT_FORMAT))
        rc = lr_fail(err, "%s: not an lrlab checkpoint (metadata format is '%s', expected '%s')", path,
                     format ? format : "(none)", CKPT_FORMAT);
    else if (!version || strcmp(version, "1"))
        rc = lr_fail(err, "%s: checkpoint version '%s', this lrlab reads version %d", path,
                     version ? version : "(none)", CKPT_VERSION);
    else if (copy_weights(&f, path, m, params, err))
        rc = -1;
    else if ((shape[0] = m->n_params),
             st_copy(&f, "optimizer.momentum_buffer", ST_F32, 1, shape, momentum, err))
        rc = -1;
    else if ((shape[0] = STATE_FIELDS), st_copy(&f, "train.state", ST_F64, 1, shape, state, err))
        rc = -1;
    else if (!sched || sched->ndim != 1 || sched->shape[0] > CKPT_SCHED_MAX)
        rc = lr_fail(err, "%s: missing or oversized tensor 'sched.state'", path);
    else if ((shape[0] = sched->shape[0]), st_copy(&f, "sched.state", ST_F64, 1, shape, x->sched, err))
        rc = -1;
    if (!rc) {
        x->n_sched = (int)sched->shape[0];
        train_state *s = &x->state;
        s->epoch = (long)state[0], s->batch = (long)state[1], s->step = (long)state[2];
        s->momentum_started = (long)state[3], s->loss_sum = state[4], s->correct = (long)state[5];
        s->seen = (long)state[6], s->batches = (long)state[7], s->seconds = state[8];
        if (s->epoch < 0 || s->batch < 0 || s->step < 0 || s->seen < 0 || s->correct < 0 ||
            s->correct > s->seen)
            rc = lr_fail(err, "%s: inconsistent training state (epoch %ld, batch %ld)", path, s->epoch, s->batch);
        x->config_text = dup_meta(&f, "config");
        x->metrics_text = dup_meta(&f, "metrics");
        if (!x->config_text || !x->metrics_text) rc = lr_fail(err, "%s: out of memory", path);
    }
    st_free(&f);
    if (rc) ckpt_extra_free(x);
    return rc;
}

void ckpt_extra_free(ckpt_extra *x) {
    free(x->config_text);
    free(x->metrics_text);
    x->config_text = x->metrics_text = NULL;
}

int write_file_atomic(const char *path, const char *text, size_t len, lr_error *err) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return lr_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return lr_fail(err, "%s: cannot create '%s': %s", path, tmp, strerror(errno));
    int ok = fwrite(text, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        return lr_fail(err, "%s: write failed: %s (the previous file, if any, is unchanged)", path,
                       strerror(e ? e : EIO));
    }
    return 0;
}
