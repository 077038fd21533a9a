/* tune/asha.c: asynchronous successive halving (lrlab/tune.h): Li et al.
 * 2018, Algorithm 2 (get_job): look from the highest rung down for a trial
 * in the top 1/eta of its rung not yet promoted; else grow the bottom rung.
 * Not here: sampling configurations, running trials (the CLI's job). */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int asha_init(asha *a, int r_min, int r_max, int eta, int max_trials, long budget, lr_error *err) {
    memset(a, 0, sizeof *a);
    if (r_min < 1 || r_max < r_min || eta < 2)
        return lr_fail(err, "successive halving: min epochs %d, max epochs %d, eta %d: expected 1 <= min <= max, eta >= 2",
                       r_min, r_max, eta);
    for (long r = r_min; a->n_rungs < ASHA_MAX_RUNGS; r *= eta) {
        a->epochs[a->n_rungs++] = r < r_max ? (int)r : r_max;
        if (r >= r_max) break;
    }
    a->epochs[a->n_rungs - 1] = r_max;
    a->eta = eta, a->max_trials = max_trials, a->budget = budget;
    return 0;
}

void asha_free(asha *a) {
    free(a->metric), free(a->promoted), free(a->busy_rung);
    memset(a, 0, sizeof *a);
}

static int grow(asha *a, lr_error *err) {
    if (a->n_trials < a->cap) return 0;
    int cap = a->cap ? a->cap * 2 : 16;
    void *m = realloc(a->metric, (size_t)cap * sizeof *a->metric);
    if (m) a->metric = m;
    void *p = m ? realloc(a->promoted, (size_t)cap * sizeof *a->promoted) : NULL;
    if (p) a->promoted = p;
    void *b = p ? realloc(a->busy_rung, (size_t)cap * sizeof *a->busy_rung) : NULL;
    if (!b) return lr_fail(err, "successive halving: out of memory for %d trials", cap);
    a->busy_rung = b;
    a->cap = cap;
    return 0;
}

static int add_trial(asha *a, lr_error *err) {
    if (grow(a, err)) return -1;
    int t = a->n_trials++;
    for (int k = 0; k < ASHA_MAX_RUNGS; k++) a->metric[t][k] = NAN, a->promoted[t][k] = 0;
    a->busy_rung[t] = -1;
    return t;
}

static int fits(const asha *a, long cost) { return !a->budget || a->spent + cost <= a->budget; }

/* The best trial of rung k that is in its top floor(n_k / eta), not promoted
 * and not diverged (-inf: it would only diverge again); -1 if none. */
static int promotable(const asha *a, int k) {
    int n_k = 0;
    for (int t = 0; t < a->n_trials; t++) n_k += !isnan(a->metric[t][k]);
    int top = n_k / a->eta, best = -1;
    for (int t = 0; t < a->n_trials; t++) {
        if (isnan(a->metric[t][k])) continue;
        int rank = 0; /* trials strictly better, ties to the lower index */
        for (int u = 0; u < a->n_trials; u++)
            if (!isnan(a->metric[u][k]) &&
                (a->metric[u][k] > a->metric[t][k] || (a->metric[u][k] == a->metric[t][k] && u < t)))
                rank++;
        if (rank < top && isfinite(a->metric[t][k]) && !a->promoted[t][k] && a->busy_rung[t] < 0 &&
            (best < 0 || a->metric[t][k] > a->metric[best][k]))
            best = t;
    }
    return best;
}

static void hand_out(asha *a, asha_job *job, int t, int rung, int is_new) {
    job->trial = t, job->rung = rung, job->is_new = is_new;
    job->from_epochs = rung ? a->epochs[rung - 1] : 0;
    if (rung) a->promoted[t][rung - 1] = 1;
    a->busy_rung[t] = rung;
    a->spent += a->epochs[rung] - job->from_epochs;
}

int asha_next(asha *a, asha_job *job, lr_error *err) {
    for (int k = a->n_rungs - 2; k >= 0; k--) {
        int t = promotable(a, k);
        if (t >= 0 && fits(a, a->epochs[k + 1] - a->epochs[k])) return hand_out(a, job, t, k + 1, 0), 1;
    }
    /* a trial started before a stop that never reported rung 0: again, under its own index */
    for (int t = 0; t < a->n_trials; t++)
        if (isnan(a->metric[t][0]) && a->busy_rung[t] < 0 && fits(a, a->epochs[0]))
            return hand_out(a, job, t, 0, 1), 1;
    if ((a->max_trials && a->n_trials >= a->max_trials) || !fits(a, a->epochs[0])) return 0;
    int t = add_trial(a, err);
    if (t < 0) return -1;
    hand_out(a, job, t, 0, 1);
    return 1;
}

int asha_report(asha *a, int trial, int rung, double metric, lr_error *err) {
    if (trial < 0 || trial >= a->n_trials || a->busy_rung[trial] != rung)
        return lr_fail(err, "successive halving: trial %d did not run to rung %d", trial, rung);
    if (isnan(metric)) metric = -INFINITY; /* a diverged trial: last, never promoted first */
    a->metric[trial][rung] = metric;
    a->busy_rung[trial] = -1;
    return 0;
}

int asha_done(const asha *a) {
    for (int t = 0; t < a->n_trials; t++)
        if (a->busy_rung[t] >= 0) return 0;
    /* asha_next's decision without its effects: a promotion or a start that fits */
    for (int k = a->n_rungs - 2; k >= 0; k--)
        if (promotable(a, k) >= 0 && fits(a, a->epochs[k + 1] - a->epochs[k])) return 0;
    for (int t = 0; t < a->n_trials; t++)
        if (isnan(a->metric[t][0]) && fits(a, a->epochs[0])) return 0;
    return (a->max_trials && a->n_trials >= a->max_trials) || !fits(a, a->epochs[0]);
}

int asha_best(const asha *a) {
    for (int k = a->n_rungs - 1; k >= 0; k--) {
        int best = -1;
        for (int t = 0; t < a->n_trials; t++)
            if (!isnan(a->metric[t][k]) && (best < 0 || a->metric[t][k] > a->metric[best][k])) best = t;
        if (best >= 0) return best;
    }
    return -1;
}

/* "asha 1 rungs R eta E trials N" then per trial: its metric at each rung ("-": not reached). */
int asha_save(const asha *a, char **text, size_t *len, lr_error *err) {
    FILE *f = open_memstream(text, len);
    if (!f) return lr_fail(err, "out of memory");
    fprintf(f, "asha 1 rungs %d eta %d trials %d\n", a->n_rungs, a->eta, a->n_trials);
    for (int t = 0; t < a->n_trials; t++) {
        for (int k = 0; k < a->n_rungs; k++) {
            if (isnan(a->metric[t][k])) fprintf(f, "%s-", k ? " " : "");
            else fprintf(f, "%s%.17g", k ? " " : "", a->metric[t][k]);
        }
        fputc('\n', f);
    }
    return fclose(f) ? lr_fail(err, "out of memory") : 0;
}

int asha_load(asha *a, const char *text, const char *path, lr_error *err) {
    int n_rungs, eta, n;
    const char *p = text;
    int used = 0;
    if (sscanf(p, "asha 1 rungs %d eta %d trials %d\n%n", &n_rungs, &eta, &n, &used) != 3 || !used)
        return lr_fail(err, "%s:1: expected 'asha 1 rungs R eta E trials N'", path);
    if (n_rungs != a->n_rungs || eta != a->eta || n < 0)
        return lr_fail(err, "%s:1: %d rungs, eta %d; this tune has %d rungs, eta %d: not its state", path, n_rungs,
                       eta, a->n_rungs, a->eta);
    p += used;
    a->n_trials = 0, a->spent = 0;
    for (int t = 0; t < n; t++) {
        if (add_trial(a, err) < 0) return -1;
        int reached = 0;
        for (int k = 0; k < n_rungs; k++) {
            while (*p == ' ') p++;
            if (*p == '-') {
                p++;
                continue;
            }
            char *end;
            double v = strtod(p, &end);
            if (end == p || (k && isnan(a->metric[t][k - 1])))
                return lr_fail(err, "%s:%d: field %d: expected a number or '-' (rungs in order)", path, t + 2, k + 1);
            a->metric[t][k] = v, p = end, reached = k + 1;
            if (k) a->promoted[t][k - 1] = 1;
        }
        if (*p == '\n') p++;
        else if (*p) return lr_fail(err, "%s:%d: expected %d fields", path, t + 2, n_rungs);
        a->spent += reached ? a->epochs[reached - 1] : 0;
    }
    return 0;
}
