/* train/train.c: the training run (lrlab/train.h). Reads top to bottom in
 * execution order: set-up (data, model, weights, net, schedule, run
 * directory, checkpoint), the epoch loop (train steps, evaluation, metrics,
 * schedule step, checkpoint), the final weights.
 *
 * Every file of the run directory is replaced by an atomic rename, in an
 * order that a kill between any two writes cannot break: steps.csv before
 * the checkpoint (resume drops its rows past the checkpoint), metrics.csv
 * after it (resume rewrites it from the checkpoint's copy), model.safetensors
 * last (resume of a complete run writes it if it is missing). What survives
 * what: docs/resilience.md.
 *
 * Data-parallel (mpirun -np N, lrlab/dist.h; docs/distributed.md): every rank
 * runs this same loop on its share of each batch; the gradients, losses and
 * counts are summed over ranks before the optimiser step, so all ranks take
 * the same step. Rank 0 alone locks and writes the run directory, logs and
 * evaluates (the others get its results); the other ranks read the
 * checkpoint to resume. With one rank the dist_ calls do nothing. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "lrlab/train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <limits.h>
#include <unistd.h>

#include "lrlab/average.h"
#include "lrlab/data.h"
#include "lrlab/dist.h"
#include "lrlab/evaluate.h"
#include "lrlab/io.h"
#include "lrlab/model.h"
#include "lrlab/net.h"
#include "lrlab/optim.h"
#include "lrlab/profile.h"
#include "lrlab/sched.h"
#include "lrlab/setup.h"
#include "train/progress.h"

/* A batch's mean cross-entropy above this is divergence, as NaN is: a
 * 10-class model that learns stays near log(10) = 2.3. */
#define LOSS_DIVERGED 1e4

/* A growing text buffer (metrics.csv and steps.csv contents). */
typedef struct {
    char *s;
    size_t n, cap;
} text;

static int text_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static int text_add(text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return -1;
        if (t->s && t->n + (size_t)k < t->cap) {
            t->n += (size_t)k;
            return 0;
        }
        size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)k;
        char *s = realloc(t->s, cap);
        if (!s) return -1;
        t->s = s, t->cap = cap;
    }
}

typedef struct {
    train_config cfg; /* our copy: threads and algorithm choices get resolved */
    const train_options *opt;
    char path[5][1200]; /* config, metrics, steps, checkpoint, weights */
    train_setup s; /* data, model, params, net, loaders (lrlab/setup.h) */
    float *grads, *dlogits;
    long grad_counts[MODEL_MAX_TENSORS]; /* the trained tensors' sizes: clip_grad_norm_'s per-tensor norms */
    int n_grad_tensors;
    optim_params hp;   /* the optimiser's settings (config_optim); a schedule moves lr and the cycled key */
    optim_state optim; /* its state (lrlab/optim.h), in the checkpoint */
    param_group groups[OPTIM_MAX_GROUPS]; /* --param-group's, then the default group (config_groups) */
    int n_groups;
    long ranges[2 * MODEL_MAX_TENSORS]; /* group g's parameters: (offset, count) pairs range0[g]..range0[g + 1] */
    int range0[OPTIM_MAX_GROUPS + 1];
    lr_sched *gsched[OPTIM_MAX_GROUPS]; /* each group's schedule (its own base lr and momentum) */
    lr_sched *sched; /* the default group's (gsched[n_groups - 1]): the lr and momentum logged */
    lookahead *la;     /* --lookahead, or NULL */
    avg_state avg;     /* the averages of the weights (lrlab/average.h), in the checkpoint */
    text metrics, steps;
    train_state st;
    train_state saved; /* as of the checkpoint on disk (valid when has_saved) */
    int has_saved;
    int steps_per_epoch;
    int lock_fd; /* DIR/.lock, held while training */
    char made_top[1100]; /* the first of --out's directories this run created, or "" (a run refused
                            before writing anything removes them) */
    int locked;   /* this process holds DIR/.lock */
    int stop_seen; /* a stop signal reached some rank (summed with the step's gradients) */
    eval_stats eval[4]; /* end_epoch's test, val, EMA and TTA passes (large: a confusion matrix each) */
    lr_profile *prof;   /* --profile's, or NULL */
} run;

enum { P_CONFIG, P_METRICS, P_STEPS, P_CHECKPOINT, P_WEIGHTS };

static void run_free(run *r) {
    if (r->lock_fd > 0) close(r->lock_fd);
    train_setup_free(&r->s);
    for (int g = 0; g < r->n_groups; g++) sched_free(r->gsched[g]);
    lookahead_free(r->la);
    avg_state_free(&r->avg);
    optim_state_free(&r->optim);
    free(r->grads), free(r->dlogits);
    free(r->metrics.s), free(r->steps.s);
    free(r->prof);
}

/* ---- the run directory ---- */

/* This process writes the run directory: there is one, and this is rank 0. */
static int writer(const run *r) { return r->cfg.out[0] && dist_rank() == 0; }

/* Empty but for a lock left by a trainer that died before writing anything. */
static int dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, ".lock")) empty = 0;
    closedir(d);
    return empty;
}

/* A run that created --out and failed before writing anything leaves no
 * directory behind (only its lock was there); not a run that lost the lock
 * to another trainer starting in the same new directory. */
static void drop_unused_dir(run *r) {
    if (r->made_top[0] && r->locked && dir_is_empty(r->cfg.out)) remove_empty_dirs(r->cfg.out, r->made_top);
}

/* A relative path that exists becomes absolute, so that `--resume` from
 * another working directory finds the same files. */
static void make_absolute(char *path, size_t cap) {
    char abs[PATH_MAX];
    if (!path[0] || path[0] == '/' || !realpath(path, abs) || strlen(abs) >= cap) return;
    memcpy(path, abs, strlen(abs) + 1);
}

/* One trainer per run directory: a POSIX record lock on DIR/.lock, held
 * until the process ends (also by kill -9), so a sweep or a second shell
 * cannot resume a run that is still training. */
static int lock_run_dir(run *r, lr_error *err) {
    char path[1100];
    snprintf(path, sizeof path, "%s/.lock", r->cfg.out);
    r->lock_fd = open(path, O_RDWR | O_CREAT, 0644);
    if (r->lock_fd < 0) return lr_fail(err, "--out %s: cannot create %s: %s", r->cfg.out, path, strerror(errno));
    struct flock lk;
    memset(&lk, 0, sizeof lk);
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    if (fcntl(r->lock_fd, F_SETLK, &lk) != 0)
        return lr_fail(err, "--out %s: another lrlab process is training in this run directory", r->cfg.out);
    r->locked = 1;
    return 0;
}

/* The settings as config.txt's text (malloc'd), or NULL when out of memory. */
#define CONFIG_HEADER "# lrlab run configuration: `lrlab train --resume DIR` reads it back\n"

static int write_config(run *r, lr_error *err) {
    char *body = config_text(&r->cfg, CONFIG_HEADER);
    if (!body) return lr_fail(err, "out of memory");
    int rc = write_file_atomic(r->path[P_CONFIG], body, strlen(body), err);
    free(body);
    return rc;
}

/* steps.csv first: a kill before the checkpoint's rename leaves rows past
 * it, which reload_steps drops. */
static int save_checkpoint(run *r, lr_error *err) {
    if (!writer(r)) return 0;
    if (r->cfg.log_steps && write_file_atomic(r->path[P_STEPS], r->steps.s, r->steps.n, err)) return -1;
    ckpt_extra x;
    memset(&x, 0, sizeof x);
    x.state = r->st;
    x.n_sched = 0; /* each group's schedule's state in turn */
    for (int g = 0; g < r->n_groups; g++) {
        int k = sched_state_save(r->gsched[g], x.sched + x.n_sched, CKPT_SCHED_MAX - x.n_sched);
        if (k < 0) return lr_fail(err, "schedule state larger than %d values", CKPT_SCHED_MAX);
        x.n_sched += k;
    }
    x.config_text = config_text(&r->cfg, CONFIG_HEADER);
    x.metrics_text = r->metrics.s;
    int rc = x.config_text ? ckpt_save_avg(r->path[P_CHECKPOINT], &r->s.m, r->s.params, r->s.buffers, &r->optim,
                                           &r->avg, &x, err)
                           : lr_fail(err, "out of memory");
    free(x.config_text);
    if (!rc) r->saved = r->st, r->has_saved = 1;
    return rc;
}

/* The name of the cycled key's column in metrics.csv and steps.csv (train.h). */
static const char *cycled_name(const run *r) {
    const char *key = optim_cycled_key(r->hp.kind);
    return key && !strcmp(key, "beta1") ? "beta1" : "momentum";
}

/* With --ema, the EMA's test loss and accuracy after the usual columns;
 * with --tta, those (empty without --ema) and tta_test_acc (lrlab/train.h). */
static const char *metrics_header(const run *r) {
    static char h[256];
    const char *base = !strcmp(cycled_name(r), "beta1") ? METRICS_HEADER_BETA1 : METRICS_HEADER;
    snprintf(h, sizeof h, "%.*s%s%s\n", (int)strlen(base) - 1, base,
             r->cfg.ema > 0 || r->cfg.tta ? METRICS_EMA_COLUMNS : "", r->cfg.tta ? METRICS_TTA_COLUMN : "");
    return h;
}

/* steps.csv after a resume: the header and the rows of the steps the
 * checkpoint has done (rows past it were written before a kill). */
static int reload_steps(run *r, lr_error *err) {
    if (text_add(&r->steps, "step,epoch,lr,%s,loss,grad_norm\n", cycled_name(r))) return lr_fail(err, "out of memory");
    FILE *f = r->st.step ? fopen(r->path[P_STEPS], "r") : NULL;
    if (!f) return 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *end;
        long step = strtol(line, &end, 10);
        if (end == line || *end != ',' || step < 0 || step >= r->st.step) continue;
        if (text_add(&r->steps, "%s", line)) {
            fclose(f);
            return lr_fail(err, "out of memory");
        }
    }
    fclose(f);
    return 0;
}

/* metrics.csv as of a checkpoint; one from before the grad_norm column
 * (and --ema, whose columns follow it) gets it, empty in its rows. */
static int reload_metrics(run *r, const char *saved, const char *path, lr_error *err) {
    const char *head = metrics_header(r);
    const char *old = !strcmp(cycled_name(r), "beta1") ? METRICS_HEADER_BASE_AS("beta1") "\n"
                                                        : METRICS_HEADER_BASE_AS("momentum") "\n";
    if (!strncmp(saved, head, strlen(head))) return text_add(&r->metrics, "%s", saved) ? lr_fail(err, "out of memory") : 0;
    if (r->cfg.ema > 0 || strncmp(saved, old, strlen(old)))
        return lr_fail(err, "%s: its metrics do not start with the metrics.csv header", path);
    for (const char *p = saved; *p;) {
        size_t len = strcspn(p, "\n");
        if (text_add(&r->metrics, "%.*s%s\n", (int)len, p, p == saved ? ",grad_norm" : ",")) return lr_fail(err, "out of memory");
        p += len + (p[len] == '\n');
    }
    return 0;
}

/* ---- set-up ---- */

/* The run's optimiser steps and the epochs it begins (--max-steps may end
 * the last one early: config.h). */
static long total_steps(const run *r) { return config_run_steps(&r->cfg, r->steps_per_epoch); }
static int run_epochs(const run *r) { return config_run_epochs(&r->cfg, r->steps_per_epoch); }
/* The parameter groups (config_groups) and each one's parameters as
 * (offset, count) ranges, adjacent tensors merged: without --param-group,
 * one group of one range, the whole array. Fails when a group takes no
 * parameter (a usage error: setup returns TRAIN_BAD_SCHED, exit 2). */
static int setup_groups(run *r, lr_error *err) {
    const model_spec *m = &r->s.m;
    int group_of[MODEL_MAX_TENSORS];
    if (config_groups(&r->cfg, &r->hp, r->groups, &r->n_groups, err) ||
        config_group_params(m, r->groups, r->n_groups, group_of, err))
        return -1;
    int n = 0, k;
    for (int g = 0; g < r->n_groups; g++) {
        r->range0[g] = n;
        k = 0;
        for (int i = 0; i < m->n_tensors; i++) {
            const model_tensor *t = &m->tensors[i];
            if (t->buffer) continue;
            if (group_of[k++] != g) continue;
            if (n > r->range0[g] && r->ranges[2 * n - 2] + r->ranges[2 * n - 1] == t->offset) r->ranges[2 * n - 1] += t->count;
            else r->ranges[2 * n] = t->offset, r->ranges[2 * n + 1] = t->count, n++;
        }
    }
    r->range0[r->n_groups] = n;
    return 0;
}

static int setup(run *r, lr_error *err) {
    train_config *c = &r->cfg;
    const train_options *opt = r->opt;
    if (!c->val && !strncmp(c->monitor, "val_", 4))
        return lr_fail(err, "--monitor %s needs a validation set: add --val N", c->monitor);
    /* the run directory first: refuse to overwrite before any long work */
    if (c->out[0]) {
        const char *names[5] = {RUN_CONFIG, RUN_METRICS, RUN_STEPS, RUN_CHECKPOINT, RUN_WEIGHTS};
        for (int i = 0; i < 5; i++)
            if (snprintf(r->path[i], sizeof r->path[i], "%s/%s", c->out, names[i]) >= (int)sizeof r->path[i])
                return lr_fail(err, "--out %s: path too long", c->out);
        if (dist_rank() == 0 && !opt->resume && !dir_is_empty(c->out))
            return lr_fail(err, "--out %s: directory exists and is not empty; continue it with "
                                "`lrlab train --resume %s`, or choose another --out",
                           c->out, c->out);
        if (dist_rank() == 0 && !opt->resume) dirs_missing_top(c->out, r->made_top, sizeof r->made_top);
        if (dist_rank() == 0 && (make_dirs(c->out, "--out", err) || lock_run_dir(r, err))) return -1;
    }
    if (!opt->resume) {
        make_absolute(c->data, sizeof c->data);
        make_absolute(c->init, sizeof c->init);
        if (strchr(c->model, '/') || access(c->model, R_OK) == 0) make_absolute(c->model, sizeof c->model);
    }
    setup_options so = {.training = 1, .test = 1, .model_search = opt->model_search, .retune = opt->retune,
                        .log = opt->log, .warn = stderr};
    if (train_setup_init(&r->s, c, &so, err)) return -1;
    if (evaluate_tta_check(c->tta, r->s.m.in_h, r->s.m.in_w, err)) return -1;
    long np = r->s.m.n_params;
    size_t out = (size_t)c->batch * r->s.m.n_classes;
    if (config_resolve_optim(c, &r->hp, err)) return -1;
    if (setup_groups(r, err)) return TRAIN_BAD_SCHED;
    if (optim_state_init(&r->optim, &r->hp, np, err) ||
        !(r->grads = lr_calloc(np, sizeof(float), "gradients", err)) ||
        !(r->dlogits = lr_calloc(out, sizeof(float), "logits", err)))
        return -1;
    r->n_grad_tensors = model_param_sizes(&r->s.m, r->grad_counts);
    for (int g = 0; g < r->n_groups; g++)
        optim_group_init(&r->optim, g, r->ranges + 2 * r->range0[g], r->range0[g + 1] - r->range0[g], &r->groups[g].hp);
    r->steps_per_epoch = loader_batches(r->s.train_loader);
    if (config_check_max_steps(c, r->steps_per_epoch, err)) return -1;
    for (int g = 0; g < r->n_groups; g++) {
        sched_context sc = config_group_context(c, r->groups, r->n_groups, g, r->steps_per_epoch);
        if (sched_parse(&r->gsched[g], c->sched, &sc, err)) return TRAIN_BAD_SCHED;
    }
    r->sched = r->gsched[r->n_groups - 1];
    if (c->lookahead[0] && lookahead_parse(&r->la, c->lookahead, total_steps(r), err)) return TRAIN_BAD_SCHED;
    return 0;
}

/* The averages as torch's copies of the model made before the first step:
 * of the weights in params now (the seeded init or --init, before --whiten;
 * a checkpoint then overwrites them). */
static int init_averages(run *r, lr_error *err) {
    unsigned which = (r->la ? AVG_LOOKAHEAD : 0) | (r->la && lookahead_buffers(r->la) ? AVG_LOOKAHEAD_BUFFERS : 0) |
                     (r->cfg.ema > 0 ? AVG_EMA : 0) | (r->cfg.swa_start >= 0 ? AVG_SWA : 0);
    avg_state_free(&r->avg);
    return avg_state_init(&r->avg, which, r->s.m.n_params, r->s.m.n_buffers, r->s.params, r->s.buffers, err);
}

/* Picks up a checkpoint when resuming (a run directory without one starts
 * from the beginning); else loads --init and starts metrics and config.
 * Nothing in the directory is written before the checkpoint is validated. */
static int start_or_resume(run *r, int *finished, lr_error *err) {
    *finished = 0;
    if (r->opt->resume && r->cfg.out[0] && access(r->path[P_CHECKPOINT], F_OK) == 0) {
        const char *path = r->path[P_CHECKPOINT];
        ckpt_extra x;
        if (init_averages(r, err) ||
            ckpt_load_avg(path, &r->s.m, r->s.params, r->s.buffers, &r->optim, &r->avg, &x, err))
            return -1;
        int rc = 0, at = 0; /* each group's schedule's state in turn (sizes as a fresh one's) */
        for (int g = 0; !rc && g < r->n_groups; g++) {
            double scratch[CKPT_SCHED_MAX];
            int k = sched_state_save(r->gsched[g], scratch, CKPT_SCHED_MAX);
            rc = k < 0 || at + k > x.n_sched || (g == r->n_groups - 1 && at + k != x.n_sched)
                     ? lr_fail(err, "%d values for %d parameter group%s", x.n_sched, r->n_groups, r->n_groups > 1 ? "s" : "")
                     : sched_state_load(r->gsched[g], x.sched + at, k, err);
            at += k;
        }
        if (rc) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            lr_fail(err, "%s: schedule state does not fit --sched '%s': %s", path, r->cfg.sched, msg);
        }
        r->st = x.state;
        if (!rc) rc = reload_metrics(r, x.metrics_text, path, err);
        ckpt_extra_free(&x);
        if (rc) return -1;
        const train_state *s = &r->st;
        int ended_early = s->step == total_steps(r) && s->epoch == run_epochs(r) && s->batch == 0; /* --max-steps */
        if (s->batch > r->steps_per_epoch || (s->step != s->epoch * r->steps_per_epoch + s->batch && !ended_early))
            return lr_fail(err, "%s: epoch %ld, batch %ld, step %ld does not fit %d steps per epoch: "
                                "the data, --limit-train, --val or --batch in %s changed since",
                           path, s->epoch, s->batch, s->step, r->steps_per_epoch, r->path[P_CONFIG]);
        if (s->epoch >= run_epochs(r)) *finished = 1;
        r->saved = r->st, r->has_saved = 1;
    } else {
        memset(&r->st, 0, sizeof r->st);
        if (r->cfg.init[0] && weights_load(r->cfg.init, &r->s.m, r->s.params, r->s.buffers, err)) return -1;
        if (init_averages(r, err)) return -1;
        /* --whiten after Lookahead's copy of the model as made (airbench94 makes its LookaheadState(model)
         * before init_whitening_conv), before the EMA's and SWA's copies: of the weights training starts from */
        if (r->cfg.whiten[0]) {
            if (train_setup_whiten(&r->s, &r->cfg, err)) return -1;
            avg_state_copy(&r->avg, AVG_EMA | AVG_SWA, r->s.params, r->s.buffers);
        }
        if (text_add(&r->metrics, "%s", metrics_header(r))) return lr_fail(err, "out of memory");
    }
    if (!writer(r)) return 0;
    /* metrics.csv as of the checkpoint: drops a row written after it (kill between the two) */
    if (write_file_atomic(r->path[P_METRICS], r->metrics.s, r->metrics.n, err)) return -1;
    if (r->cfg.log_steps && reload_steps(r, err)) return -1;
    return write_config(r, err);
}

/* ---- the loop ---- */

/* The training line: epoch, bar, batch, running loss and accuracy, speed,
 * and the time the rest of the run takes at this speed. */
static void progress(const run *r, int batch, double loss, double acc, double ips) {
    const train_state *st = &r->st;
    long left = total_steps(r) - st->step;
    char head[32], tail[160], eta[32];
    progress_time(eta, sizeof eta, left * st->seconds / (st->batches ? st->batches : 1));
    snprintf(head, sizeof head, "epoch %ld", st->epoch);
    snprintf(tail, sizeof tail, "%d/%d ETA %s loss %.3f acc %.2f%% %.0f img/s", batch, r->steps_per_epoch, eta, loss,
             acc, ips); /* a narrow terminal cuts from the end */
    progress_draw(stderr, head, batch, r->steps_per_epoch, tail);
}

/* The line during an evaluation pass: "epoch 3 test [=====>   ] 40/79". */
typedef struct {
    const run *r;
    const char *split;
} eval_line;

static void eval_progress(void *ctx, int batch, int batches) {
    const eval_line *e = ctx;
    char head[48], tail[32];
    snprintf(head, sizeof head, "epoch %ld %s", e->r->st.epoch, e->split);
    snprintf(tail, sizeof tail, "%d/%d", batch, batches);
    progress_draw(stderr, head, batch, batches, tail);
}

/* The message of a diverged run: where, and what the run directory keeps. */
static int diverged(run *r, const char *what, double lr, lr_error *err) {
    const train_state *st = &r->st;
    char kept[1400];
    if (!r->cfg.out[0]) snprintf(kept, sizeof kept, "no run directory (--out), nothing saved");
    else if (!r->has_saved)
        snprintf(kept, sizeof kept, "no checkpoint was written before (%s holds the settings): "
                                    "a new run with a lower --lr is needed", r->path[P_CONFIG]);
    else if (r->saved.batch == 0)
        snprintf(kept, sizeof kept, "%s after epoch %ld is kept", r->path[P_CHECKPOINT], r->saved.epoch - 1);
    else
        snprintf(kept, sizeof kept, "%s at epoch %ld, batch %ld is kept", r->path[P_CHECKPOINT],
                 r->saved.epoch, r->saved.batch);
    /* steps.csv shows the way there; resume drops its rows past the checkpoint */
    if (writer(r) && r->cfg.log_steps) write_file_atomic(r->path[P_STEPS], r->steps.s, r->steps.n, NULL);
    lr_fail(err, "training diverged at epoch %ld, step %ld (batch %ld): %s at lr %.6g; %s", st->epoch, st->step,
            st->batch, what, lr, kept);
    char path[1100], line[1100]; /* for `lrlab report`: the run diverged */
    if (writer(r) && err && snprintf(path, sizeof path, "%s/%s", r->cfg.out, RUN_DIVERGED) < (int)sizeof path)
        write_file_atomic(path, line, (size_t)snprintf(line, sizeof line, "%.1000s\n", err->msg), NULL);
    return TRAIN_DIVERGED;
}

/* A stop request: a signal (opt->stop; with several ranks, one that some
 * rank had at the last step, so that all stop at the same step) or
 * --stop-at-step reached. */
static int stop_requested(const run *r) {
    int sig = dist_size() > 1 ? r->stop_seen : r->opt->stop && *r->opt->stop;
    return sig || (r->opt->stop_at_step > 0 && r->st.step >= r->opt->stop_at_step);
}

static int stopped(run *r, lr_error *err) {
    const char *dir = r->cfg.out[0] ? r->cfg.out : NULL;
    int need = r->st.step > 0 && (!r->has_saved || r->saved.step != r->st.step);
    if (dir && need && save_checkpoint(r, err)) return TRAIN_ERROR;
    if (dir)
        lr_fail(err, "stopped at epoch %ld, batch %ld (step %ld)%s: continue with `lrlab train --resume %s`",
                r->st.epoch, r->st.batch, r->st.step,
                r->has_saved ? "; the checkpoint holds this point" : " before any step", dir);
    else
        lr_fail(err, "stopped at epoch %ld, batch %ld (step %ld); no --out, so nothing was saved",
                r->st.epoch, r->st.batch, r->st.step);
    return TRAIN_STOPPED;
}

/* The weights and every state tensor of the optimiser are finite. */
static int optim_finite(const run *r) {
    int ok = all_finite(r->s.params, r->s.m.n_params);
    for (int i = 0; ok && i < r->optim.n_tensors; i++) ok = all_finite(r->optim.t[i], r->optim.n);
    return ok;
}

/* Frozen groups (this epoch) have no gradient, as parameters with
 * requires_grad=False have none in PyTorch: clip_grad_norm_ leaves them
 * out (a zero adds nothing to either norm) and they do not step. */
static void freeze_grads(run *r) {
    for (int g = 0; g < r->n_groups; g++)
        if (optim_group_frozen(&r->groups[g], r->st.epoch))
            for (int k = r->range0[g]; k < r->range0[g + 1]; k++)
                memset(r->grads + r->ranges[2 * k], 0, (size_t)r->ranges[2 * k + 1] * sizeof(float));
}

/* One optimiser step of every group not frozen this epoch, with its
 * schedule's lr and cycled momentum/beta1. */
static int step_groups(run *r, lr_error *err) {
    for (int g = 0; g < r->n_groups; g++) {
        if (optim_group_frozen(&r->groups[g], r->st.epoch)) continue;
        optim_params hp = r->groups[g].hp;
        hp.lr = sched_lr(r->gsched[g]);
        optim_set_cycled(&hp, sched_momentum(r->gsched[g]));
        if (optim_step_group(&r->optim, g, r->ranges + 2 * r->range0[g], r->range0[g + 1] - r->range0[g], r->s.params,
                             r->grads, &hp, err))
            return -1;
    }
    return 0;
}

static int sched_step_all(run *r, double metric, lr_error *err) {
    for (int g = 0; g < r->n_groups; g++)
        if (sched_step(r->gsched[g], metric, err)) return -1;
    return 0;
}

/* After the optimiser's step, `done` steps into the run: Lookahead every k
 * steps (and its final copy after the run's last step), then the EMA of the
 * weights that result. */
static int update_averages(run *r, long done, lr_error *err) {
    if (r->la && done % lookahead_k(r->la) == 0) {
        double alpha;
        if (lookahead_alpha(r->la, done, &alpha, err)) return -1;
        avg_update_lookahead(&r->avg, &r->s.m, r->s.params, r->s.buffers, alpha);
    }
    if (r->la && lookahead_final(r->la) && done == total_steps(r)) /* airbench's update(decay=1.0) */
        avg_update_lookahead(&r->avg, &r->s.m, r->s.params, r->s.buffers, 0.0);
    if (r->cfg.ema > 0) avg_update_ema(&r->avg, r->s.params, r->s.buffers, r->cfg.ema);
    return 0;
}

static int train_epoch(run *r, lr_error *err) {
    const train_config *c = &r->cfg;
    train_state *st = &r->st;
    if (loader_start_epoch(r->s.train_loader, (int)st->epoch, (int)st->batch, err)) return TRAIN_ERROR;
    const loader_batch *b;
    net_set_training(r->s.net, 1); /* net.train(): the test pass before left it in eval mode */
    double t = profile_now(r->prof); /* --profile's laps */
    /* --max-steps ends the last epoch early; a run resumed there takes no step */
    while (st->step < total_steps(r) && (b = loader_next(r->s.train_loader))) {
        profile_lap(r->prof, PROF_DATA, &t);
        double t0 = lr_now();
        double lr = sched_lr(r->sched), mom = sched_momentum(r->sched);
        net_set_step(r->s.net, (uint64_t)c->seed, (uint64_t)st->step); /* dropout's masks of this step */
        if (net_forward(r->s.net, b->x, b->n, r->s.params, r->s.logits, err)) return TRAIN_ERROR;
        profile_lap(r->prof, PROF_FORWARD, &t);
        /* the mean over the whole batch (b->total images, all ranks' shares), or with
         * --loss-reduction sum the sum; the loss logged is the per-image mean either way */
        long correct = 0;
        double sums[3] = {loss_cross_entropy(r->dlogits, &correct, r->s.logits, b->y, b->n, r->s.m.n_classes,
                                             loss_grad_scale(&c->loss, b->total), c->loss.label_smoothing)};
        profile_lap(r->prof, PROF_LOSS, &t);
        if (net_backward(r->s.net, r->dlogits, r->s.params, r->grads, err)) return TRAIN_ERROR;
        profile_lap(r->prof, PROF_BACKWARD, &t);
        sums[1] = (double)correct, sums[2] = r->opt->stop && *r->opt->stop;
        if (dist_sum_floats(r->grads, r->s.m.n_params, err) || dist_sum_doubles(sums, 3, err)) return TRAIN_ERROR;
        double loss = sums[0] / b->total;
        correct = (long)sums[1], r->stop_seen = sums[2] > 0;
        freeze_grads(r);
        float norm = grad_total_norm(r->grads, r->grad_counts, r->n_grad_tensors, c->loss.clip_norm_inf);
        if (c->log_steps &&
            text_add(&r->steps, "%ld,%ld,%.17g,%.17g,%.9g,%.9g\n", st->step, st->epoch, lr, mom, loss, norm))
            return lr_fail(err, "out of memory"), TRAIN_ERROR;
        if (!isfinite(loss) || loss > LOSS_DIVERGED) {
            char what[160];
            if (isfinite(loss))
                snprintf(what, sizeof what, "the loss is %.6g (above %g: a model that learns stays near "
                                            "log(10) = 2.3)", loss, LOSS_DIVERGED);
            else snprintf(what, sizeof what, "the loss is %s", isnan(loss) ? "NaN" : "Inf");
            return diverged(r, what, lr, err);
        }
        if (!all_finite(r->grads, r->s.m.n_params)) return diverged(r, "a gradient is NaN or Inf", lr, err);
        grad_clip(&c->loss, r->grads, r->s.m.n_params, norm);
        profile_lap(r->prof, PROF_GRADS, &t);
        if (step_groups(r, err)) return TRAIN_ERROR;
        /* an overflow in the update itself: no checkpoint may ever hold it */
        if (!optim_finite(r)) {
            char what[160];
            snprintf(what, sizeof what, "the %s update overflowed (a weight or the optimiser's state is NaN or Inf)",
                     optim_name(r->hp.kind));
            return diverged(r, what, lr, err);
        }
        profile_lap(r->prof, PROF_OPTIM, &t);
        if (update_averages(r, st->step + 1, err)) return TRAIN_ERROR;
        if (r->la || c->ema > 0) profile_lap(r->prof, PROF_AVERAGES, &t);
        st->step++;
        st->batch = b->index + 1;
        st->batches++;
        st->loss_sum += loss;
        st->grad_norm_sum += norm;
        st->correct += correct;
        st->seen += b->total;
        st->seconds += lr_now() - t0;
        if (c->sched_unit_step && !sched_needs_metric(r->sched) && sched_step_all(r, NAN, err)) return TRAIN_ERROR;
        if (r->opt->progress)
            progress(r, b->index + 1, st->loss_sum / st->batches, 100.0 * st->correct / st->seen,
                     st->seen / (st->seconds > 0 ? st->seconds : 1));
        if (stop_requested(r)) {
            if (r->opt->progress) fputc('\n', stderr);
            return stopped(r, err);
        }
        t = profile_now(r->prof); /* the step's bookkeeping above is "other" */
    }
    if (r->opt->progress) progress_clear(stderr); /* the epoch's line takes its place */
    return TRAIN_OK;
}

static double monitored(const run *r, double train_loss, const eval_stats *te, const eval_stats *va) {
    const char *m = r->cfg.monitor;
    if (!strcmp(m, "train_loss")) return train_loss;
    if (!strcmp(m, "test_acc")) return 100.0 * te->correct / te->n;
    if (!strcmp(m, "val_loss")) return va->loss_sum / va->n;
    if (!strcmp(m, "val_acc")) return 100.0 * va->correct / va->n;
    return te->loss_sum / te->n;
}

/* --tta after the run's last epoch: the final weights' test accuracy with
 * test-time augmentation (rank 0; 0 images otherwise). */
static int final_tta(run *r, eval_stats *t, lr_error *err) {
    memset(t, 0, sizeof *t);
    if (!r->cfg.tta || r->st.epoch != run_epochs(r) - 1 || dist_rank() != 0) return 0;
    eval_line tl = {r, "test (--tta)"};
    eval_hook th = {eval_progress, &tl};
    return evaluate_split_tta(t, r->s.net, r->s.params, r->s.test_loader, r->s.m.n_classes, r->s.logits, r->cfg.tta,
                              r->opt->progress ? &th : NULL, err);
}

/* s = scale x sum / n printed with fmt, or "" where the pass did not run
 * (n == 0): a cell of metrics.csv. */
static const char *cell(char s[32], const char *fmt, double scale, double sum, long n) {
    s[0] = '\0';
    if (n) snprintf(s, 32, fmt, scale * sum / n);
    return s;
}

/* The epoch's row of metrics.csv: the columns of metrics_header, the
 * optional ones (validation, EMA, TTA) empty where the epoch has no value. */
static int metrics_row(run *r, double lr, double mom, double seconds, lr_error *err) {
    const train_state *st = &r->st;
    const eval_stats *te = &r->eval[0], *va = &r->eval[1], *ema = &r->eval[2], *tta = &r->eval[3];
    int ema_cols = r->cfg.ema > 0 || r->cfg.tta, tta_col = r->cfg.tta != 0;
    char c[5][32];
    if (text_add(&r->metrics, "%ld,%.17g,%.17g,%.6f,%.4f,%.6f,%.4f,%s,%s,%.2f,%.1f,%.9g%s%s%s%s%s%s\n", st->epoch, lr,
                 mom, st->loss_sum / st->batches, 100.0 * st->correct / st->seen, te->loss_sum / te->n,
                 100.0 * te->correct / te->n, cell(c[0], "%.6f", 1, va->loss_sum, va->n),
                 cell(c[1], "%.4f", 100, va->correct, va->n), seconds,
                 st->seen / (st->seconds > 0 ? st->seconds : 1), st->grad_norm_sum / st->batches,
                 ema_cols ? "," : "", cell(c[2], "%.6f", 1, ema->loss_sum, ema->n), ema_cols ? "," : "",
                 cell(c[3], "%.4f", 100, ema->correct, ema->n), tta_col ? "," : "",
                 cell(c[4], "%.4f", 100, tta->correct, tta->n)))
        return lr_fail(err, "out of memory");
    return 0;
}

/* The epoch's line of the log (the seed's format, then the optional passes)
 * and, after the last epoch with --tta, the final TTA line. */
static void log_epoch(const run *r, double lr, double seconds) {
    const train_state *st = &r->st;
    const eval_stats *te = &r->eval[0], *va = &r->eval[1], *ema = &r->eval[2], *tta = &r->eval[3];
    FILE *f = r->opt->log;
    if (!f) return;
    fprintf(f, "epoch %ld: [Train] Loss: %.3f | Acc: %.3f%% (%ld/%ld) [Test] Loss: %.3f | Acc: %.3f%% (%ld/%ld)",
            st->epoch, st->loss_sum / st->batches, 100.0 * st->correct / st->seen, st->correct, st->seen,
            te->loss_sum / te->n, 100.0 * te->correct / te->n, te->correct, te->n);
    if (va->n) fprintf(f, " [Val] Loss: %.3f | Acc: %.3f%%", va->loss_sum / va->n, 100.0 * va->correct / va->n);
    if (ema->n) fprintf(f, " [EMA] Loss: %.3f | Acc: %.3f%%", ema->loss_sum / ema->n, 100.0 * ema->correct / ema->n);
    fprintf(f, " lr=%.6g | %.1f s %.0f img/s\n", lr, seconds, st->seen / (st->seconds > 0 ? st->seconds : 1));
    if (tta->n)
        fprintf(f, "final: [Test, --tta %d] Loss: %.3f | Acc: %.3f%% (%ld/%ld) tta_test_acc=%.4f\n", r->cfg.tta,
                tta->loss_sum / tta->n, 100.0 * tta->correct / tta->n, tta->correct, tta->n,
                100.0 * tta->correct / tta->n);
    fflush(f);
}

/* The passes after an epoch, on rank 0 (its BatchNorm statistics are the
 * run's, as DDP broadcasts them): the final TTA (--tta), test, validation,
 * the EMA model; then their results on every rank (the same metric for
 * ReduceLROnPlateau). Into r->eval (train/evaluate.c). */
static int evaluate_epoch(run *r, lr_error *err) {
    eval_stats *te = &r->eval[0], *va = &r->eval[1], *ema = &r->eval[2], *tta = &r->eval[3];
    int classes = r->s.m.n_classes;
    memset(va, 0, sizeof *va);
    memset(ema, 0, sizeof *ema);
    double t = profile_now(r->prof);
    if (final_tta(r, tta, err)) return -1;
    if (r->cfg.tta) profile_lap(r->prof, PROF_TTA, &t);
    eval_line tl = {r, "test"}, vl = {r, "val"};
    eval_hook th = {eval_progress, &tl}, vh = {eval_progress, &vl};
    int shown = r->opt->progress != 0;
    if (dist_rank() == 0) {
        if (evaluate_split(te, r->s.net, r->s.params, r->s.test_loader, classes, r->s.logits, shown ? &th : NULL, err))
            return -1;
        if (r->s.val_loader &&
            evaluate_split(va, r->s.net, r->s.params, r->s.val_loader, classes, r->s.logits, shown ? &vh : NULL, err))
            return -1;
        if (r->avg.ema_params) { /* the EMA model: its weights and buffers */
            eval_line el = {r, "test (EMA)"};
            eval_hook eh = {eval_progress, &el};
            net_set_buffers(r->s.net, r->avg.ema_buffers);
            int rc = evaluate_split(ema, r->s.net, r->avg.ema_params, r->s.test_loader, classes, r->s.logits,
                                    shown ? &eh : NULL, err);
            net_set_buffers(r->s.net, r->s.buffers);
            if (rc) return -1;
        }
    }
    profile_lap(r->prof, PROF_EVAL, &t);
    if (shown) progress_clear(stderr); /* the epoch's line takes its place */
    if (dist_broadcast(te, sizeof *te, err) || dist_broadcast(va, sizeof *va, err) ||
        dist_broadcast(ema, sizeof *ema, err) || dist_broadcast(tta, sizeof *tta, err))
        return -1;
    return 0;
}

static int end_epoch(run *r, double lr, double mom, double epoch_start, lr_error *err) {
    train_state *st = &r->st;
    if (evaluate_epoch(r, err)) return -1;
    double seconds = lr_now() - epoch_start;
    if (metrics_row(r, lr, mom, seconds, err)) return -1;
    log_epoch(r, lr, seconds);
    /* SWA: swa_model.update_parameters(model) after every epoch from --swa-start on */
    if (r->avg.swa_params && st->epoch >= r->cfg.swa_start) avg_update_swa(&r->avg, r->s.params);
    /* the schedule steps at the end of the epoch (ReduceLROnPlateau with the metric) */
    /* (in step mode a metric-driven schedule is still stepped here, once per epoch: sched.h) */
    if ((!r->cfg.sched_unit_step || sched_needs_metric(r->sched)) &&
        sched_step_all(r, monitored(r, st->loss_sum / st->batches, &r->eval[0], &r->eval[1]), err))
        return -1;
    st->epoch++;
    st->batch = 0, st->loss_sum = 0, st->correct = 0, st->seen = 0, st->batches = 0, st->seconds = 0;
    st->grad_norm_sum = 0;
    st->epoch_lr = sched_lr(r->sched), st->epoch_momentum = sched_momentum(r->sched);
    if (save_checkpoint(r, err)) return -1;
    if (writer(r) && write_file_atomic(r->path[P_METRICS], r->metrics.s, r->metrics.n, err)) return -1;
    return 0;
}

/* SWA's model at the end of the run (torch.optim.swa_utils' recipe): the
 * average's BatchNorm statistics from update_bn over a pass of the training
 * data (the epoch after the last: its own order and augmentation, the same
 * on every resume), on every rank (SyncBatchNorm sums over them); then, on
 * rank 0, its test accuracy in the log and model_swa.safetensors. */
static int finish_swa(run *r, const char *path, lr_error *err) {
    long nb = r->s.m.n_buffers, batches = 0;
    float *buffers = lr_calloc((size_t)nb + 1, sizeof(float), "SWA buffers", err);
    if (!buffers) return -1;
    model_init_buffers(&r->s.m, buffers); /* AveragedModel's deepcopy; update_bn resets them anyway */
    int rc = evaluate_update_bn(r->s.net, &r->s.m, r->avg.swa_params, buffers, r->s.train_loader, run_epochs(r),
                                (uint64_t)r->cfg.seed, (uint64_t)total_steps(r), r->s.logits, &batches, err);
    eval_stats te;
    if (!rc && dist_rank() == 0)
        rc = evaluate_split(&te, r->s.net, r->avg.swa_params, r->s.test_loader, r->s.m.n_classes, r->s.logits, NULL,
                            err) ||
             (writer(r) && weights_save(path, &r->s.m, r->avg.swa_params, buffers, err));
    net_set_buffers(r->s.net, r->s.buffers);
    if (!rc && dist_rank() == 0 && r->opt->log)
        fprintf(r->opt->log, "SWA: the average of %ld epochs, BatchNorm statistics from %ld batches (update_bn): "
                             "[Test] Loss: %.3f | Acc: %.3f%% (%ld/%ld)%s%s\n",
                r->avg.swa_n, batches, te.loss_sum / te.n, 100.0 * te.correct / te.n, te.correct, te.n,
                writer(r) ? " -> " : "", writer(r) ? path : "");
    free(buffers);
    return rc;
}

/* The weights files of a finished run: the EMA's (model_ema.safetensors),
 * SWA's (model_swa.safetensors), then model.safetensors, which says the run
 * is complete (train.h). With missing_only, only the files a kill
 * prevented. Called on every rank (SWA's update_bn runs on all). */
static int save_final(run *r, int missing_only, lr_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", r->cfg.out, RUN_WEIGHTS_SWA);
    int swa = r->avg.swa_params && (!missing_only || (writer(r) && access(path, F_OK) != 0));
    if (r->avg.swa_params && missing_only && dist_broadcast(&swa, sizeof swa, err)) return -1;
    if (swa && finish_swa(r, path, err)) return -1;
    if (!writer(r)) return 0;
    snprintf(path, sizeof path, "%s/%s", r->cfg.out, RUN_WEIGHTS_EMA);
    if (r->avg.ema_params && (!missing_only || access(path, F_OK) != 0) &&
        weights_save(path, &r->s.m, r->avg.ema_params, r->avg.ema_buffers, err))
        return -1;
    if (missing_only && access(r->path[P_WEIGHTS], F_OK) == 0) return 0;
    return weights_save(r->path[P_WEIGHTS], &r->s.m, r->s.params, r->s.buffers, err);
}

/* --profile when the loop ends or stops: the table in the log, the rows
 * in RUN_PROFILE (of this process's part of the run: a resumed run's
 * covers what it did). The shapes are of one rank's share of a batch. */
static int finish_profile(run *r, lr_error *err) {
    lr_profile *p = r->prof;
    if (!p || !p->laps[PROF_FORWARD]) return 0;
    profile_stop(p);
    int batch = r->cfg.batch / dist_size();
    if (r->opt->log) profile_print(p, &r->s.m, batch, 0, r->opt->log);
    if (!writer(r)) return 0;
    char *csv = NULL, path[1200];
    size_t len = 0;
    FILE *f = open_memstream(&csv, &len);
    if (!f) return lr_fail(err, "out of memory");
    profile_print(p, &r->s.m, batch, 1, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s", r->cfg.out, RUN_PROFILE);
    int rc = write_file_atomic(path, csv, len, err);
    free(csv);
    return rc;
}

/* The ranks this run trains on, in config.txt (ranks=N): a new run records
 * them; a resumed one may continue with another N (said on stderr). */
static int check_ranks(run *r, lr_error *err) {
    int n = dist_size(), had = r->cfg.ranks > 0 ? r->cfg.ranks : 1;
    if (!r->opt->resume && r->cfg.ranks > 0 && had != n)
        return lr_fail(err, "--ranks %d: this run has %d rank%s (set by the launcher: mpirun -np %d)", had, n,
                       n > 1 ? "s" : "", had);
    if (n > 1 && r->cfg.batch < n)
        return lr_fail(err, "--batch %d with %d ranks: expected at least %d (every rank takes a share of every batch)",
                       r->cfg.batch, n, n);
    if (n > 1 && !r->cfg.out[0]) return lr_fail(err, "with %d ranks give --out DIR (the same for every rank)", n);
    if (r->opt->resume && had != n && dist_rank() == 0)
        fprintf(stderr, "lrlab train: warning: %s started on %d rank%s and continues on %d: the same run, but the rest "
                        "of it differs from an uninterrupted %d-rank run by the order of float sums (and, with "
                        "BatchNorm, by its per-rank batch statistics over %d instead of %d images)\n",
                r->cfg.out, had, had > 1 ? "s" : "", n, had, r->cfg.batch / n, r->cfg.batch / had);
    r->cfg.ranks = n;
    return 0;
}

/* Set-up and checkpoint on every rank: rank 0 first (it checks and locks the
 * run directory and chooses the convolution algorithms: timing may differ
 * between ranks), then the others, with its choice. 0, or TRAIN_BAD_SCHED
 * or TRAIN_ERROR on a rank that failed and TRAIN_PEER_FAILED on the others. */
static int setup_ranks(run *r, int *finished, lr_error *err) {
    struct { int rc; char algo[sizeof r->cfg.algo_choices]; } first;
    int rc = 0;
    memset(&first, 0, sizeof first);
    if (dist_rank() == 0) {
        rc = check_ranks(r, err) ? -1 : setup(r, err);
        rc = rc == TRAIN_BAD_SCHED ? rc : rc || start_or_resume(r, finished, err) ? TRAIN_ERROR : 0;
        first.rc = rc;
        memcpy(first.algo, r->cfg.algo_choices, sizeof first.algo);
    }
    if (dist_broadcast(&first, sizeof first, err)) return TRAIN_ERROR;
    if (first.rc) return dist_rank() == 0 ? rc : (lr_fail(err, "rank 0 failed to set up the run"), TRAIN_PEER_FAILED);
    if (dist_rank() != 0) {
        memcpy(r->cfg.algo_choices, first.algo, sizeof first.algo);
        rc = check_ranks(r, err) ? -1 : setup(r, err);
        rc = rc == TRAIN_BAD_SCHED ? rc : rc || start_or_resume(r, finished, err) ? TRAIN_ERROR : 0;
    }
    double failed = rc != 0;
    if (dist_sum_doubles(&failed, 1, err)) return TRAIN_ERROR;
    if (failed > 0 && !rc) return lr_fail(err, "another rank failed to set up the run"), TRAIN_PEER_FAILED;
    return rc;
}

/* The run's first line in the log: model, data, batch, the optimiser and
 * the averages of the weights, schedule, seed, threads, ranks, backend. */
static void log_start(const run *r) {
    FILE *f = r->opt->log;
    if (!f) return;
    char optim_text[1024];
    optim_format(optim_text, sizeof optim_text, &r->hp, 1);
    size_t ol = strlen(optim_text);
    if (r->cfg.lookahead[0]) snprintf(optim_text + ol, sizeof optim_text - ol, ", lookahead %s", r->cfg.lookahead);
    ol = strlen(optim_text);
    if (r->cfg.ema > 0) snprintf(optim_text + ol, sizeof optim_text - ol, ", ema %g", r->cfg.ema);
    ol = strlen(optim_text);
    if (r->cfg.swa_start >= 0) snprintf(optim_text + ol, sizeof optim_text - ol, ", swa from epoch %d", r->cfg.swa_start);
    char ranks[32] = "", steps[48] = ""; /* data-parallel: threads per rank; --max-steps */
    if (total_steps(r) != (long)r->cfg.epochs * r->steps_per_epoch)
        snprintf(steps, sizeof steps, " (%ld steps in all)", total_steps(r));
    if (r->cfg.ranks > 1) snprintf(ranks, sizeof ranks, " x %d ranks", r->cfg.ranks);
    fprintf(f, "lrlab train: model %s (%ld params), %d train / %d test images, batch %d, %d steps/epoch%s, "
               "%s, sched %s, seed %ld, %d threads%s, backend %s%s\n",
            r->s.m.name, r->s.m.n_params, r->s.data.train.n, r->s.data.test.n, r->cfg.batch, r->steps_per_epoch, steps,
            optim_text, r->cfg.sched[0] ? r->cfg.sched : "constant", r->cfg.seed, r->cfg.threads, ranks,
            r->cfg.backend == NET_BACKEND_REF ? "ref" : "dnnl", r->st.epoch || r->st.batch ? " (resumed)" : "");
    fflush(f);
}

static int train_run_in(run *r, const train_config *cfg, const train_options *opt, lr_error *err) {
    r->cfg = *cfg;
    r->opt = opt;
    int finished = 0, rc = TRAIN_ERROR;
    int set = setup_ranks(r, &finished, err);
    if (set) {
        rc = set;
        goto done;
    }
    if (finished) {
        /* a kill after the last checkpoint but before the weights files */
        if (save_final(r, 1, err)) goto done;
        if (opt->log)
            fprintf(opt->log, "%s: the run is complete (%d epochs, %ld steps); nothing to do\n", r->cfg.out, run_epochs(r),
                    total_steps(r));
        rc = TRAIN_OK;
        goto done;
    }
    log_start(r);
    /* the lr and momentum of the epoch's metrics row: its first step's,
     * also when it was resumed mid-epoch (step-mode schedules move on) */
    if (r->st.batch == 0 || isnan(r->st.epoch_lr))
        r->st.epoch_lr = sched_lr(r->sched), r->st.epoch_momentum = sched_momentum(r->sched);
    if (opt->profile) {
        if (!(r->prof = lr_calloc(1, sizeof *r->prof, "profile", err))) goto done;
        profile_start(r->prof);
    }
    while (r->st.epoch < run_epochs(r)) {
        if (stop_requested(r) || (opt->stop_at_epoch > 0 && r->st.epoch >= opt->stop_at_epoch)) {
            rc = stopped(r, err);
            goto done;
        }
        double start = lr_now() - r->st.seconds;
        double lr = r->st.epoch_lr, mom = r->st.epoch_momentum;
        net_set_times(r->s.net, r->prof ? &r->prof->layers : NULL); /* the steps' layers, not evaluation's */
        int trc = train_epoch(r, err);
        net_set_times(r->s.net, NULL);
        if (trc != TRAIN_OK) {
            rc = trc;
            goto done;
        }
        if (end_epoch(r, lr, mom, start, err)) goto done;
    }
    if (save_final(r, 0, err)) goto done;
    rc = TRAIN_OK;
done:
    if (rc == TRAIN_OK || rc == TRAIN_STOPPED) {
        lr_error perr; /* a stop's message stays */
        if (finish_profile(r, &perr) && rc == TRAIN_OK) {
            if (err) *err = perr;
            rc = TRAIN_ERROR;
        }
    }
    if (rc != TRAIN_OK) drop_unused_dir(r);
    run_free(r);
    return rc;
}

/* The run's state is large (the settings' texts, per-group optimiser and
 * schedule states): on the heap, not the stack (valgrind's and threads'
 * stacks are smaller than the main thread's). */
int train_run(const train_config *cfg, const train_options *opt, lr_error *err) {
    run *r = calloc(1, sizeof *r);
    if (!r) return lr_fail(err, "out of memory (%zu bytes for the run)", sizeof *r), TRAIN_ERROR;
    int rc = train_run_in(r, cfg, opt, err);
    free(r);
    return rc;
}
