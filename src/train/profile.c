/* train/profile.c: `--profile`'s clock laps and its table (lrlab/profile.h). */
#include "lrlab/profile.h"

#include <string.h>

static const char *const phase_names[PROF_PHASES] = {
    [PROF_DATA] = "data",          [PROF_FORWARD] = "forward",    [PROF_LOSS] = "loss",
    [PROF_BACKWARD] = "backward",  [PROF_GRADS] = "gradients",    [PROF_OPTIM] = "optimiser",
    [PROF_AVERAGES] = "averages",  [PROF_EVAL] = "eval",          [PROF_TTA] = "tta",
};

void profile_start(lr_profile *p) {
    memset(p, 0, sizeof *p);
    p->start = lr_now();
}

void profile_stop(lr_profile *p) { p->total = lr_now() - p->start; }

double profile_now(const lr_profile *p) { return p ? lr_now() : 0; }

void profile_lap(lr_profile *p, prof_phase ph, double *t) {
    if (!p) return;
    double now = lr_now();
    p->seconds[ph] += now - *t;
    p->laps[ph]++;
    *t = now;
}

/* Where the rows go, and what ms per step and shares divide by. */
typedef struct {
    FILE *f;
    int csv;
    long steps;
    double total;
} sink;

static double share(const sink *o, double s) { return o->total > 0 ? 100.0 * s / o->total : 0.0; }

static void row(const sink *o, const char *phase, const char *layer, const char *kind, const char *shape, double s) {
    double ms = o->steps > 0 ? 1e3 * s / (double)o->steps : 0.0;
    if (o->csv) fprintf(o->f, "%s,%s,%s,%s,%.6f,%.3f,%.2f\n", phase, layer, kind, shape, s, ms, share(o, s));
    else fprintf(o->f, "%-10s %-24s %-18s %-18s %10.3f %10.3f %7.2f\n", phase, layer, kind, shape, s, ms, share(o, s));
}

static void layer_shape(const layer_spec *l, int batch, char *buf, size_t cap) {
    if (l->flat) snprintf(buf, cap, "%dx%d", batch, l->c);
    else snprintf(buf, cap, "%dx%dx%dx%d", batch, l->c, l->h, l->w);
}

/* Forward's or backward's row per layer, and its time outside them
 * (copies in and out, attaching the weights). */
static void layer_rows(const sink *o, const lr_profile *p, const model_spec *m, int batch, prof_phase ph) {
    const double *t = ph == PROF_FORWARD ? p->layers.fwd : p->layers.bwd;
    double sum = 0;
    for (int i = 0; i < m->n_layers; i++) {
        char label[MODEL_NAME_LEN + 32], shape[64];
        model_layer_label(m, i, label, sizeof label);
        layer_shape(&m->layers[i], batch, shape, sizeof shape);
        row(o, phase_names[ph], label, model_layer_type(m->layers[i].kind), shape, t[i]);
        sum += t[i];
    }
    double rest = p->seconds[ph] - sum;
    row(o, phase_names[ph], "(outside layers)", "-", "-", rest > 0 ? rest : 0);
}

/* What no phase covers: checkpoints, logs, the schedule, the loop itself. */
static double other_seconds(const lr_profile *p) {
    double rest = p->total;
    for (int ph = 0; ph < PROF_PHASES; ph++) rest -= p->seconds[ph];
    return rest > 0 ? rest : 0;
}

/* Layer pass j: layer j / 2's forward (j even) or backward (odd). */
static double pass_seconds(const lr_profile *p, int j) { return (j % 2 ? p->layers.bwd : p->layers.fwd)[j / 2]; }

/* The five layer passes that take the longest, as "conv3 backward 20.1%, ...". */
static void top_layers(const sink *o, const lr_profile *p, const model_spec *m) {
    char taken[2 * MODEL_MAX_LAYERS] = {0};
    fprintf(o->f, "# most time:");
    for (int k = 0; k < 5; k++) {
        int best = -1;
        for (int j = 0; j < 2 * m->n_layers; j++)
            if (!taken[j] && pass_seconds(p, j) > 0 && (best < 0 || pass_seconds(p, j) > pass_seconds(p, best))) best = j;
        if (best < 0) break;
        taken[best] = 1;
        char label[MODEL_NAME_LEN + 32];
        model_layer_label(m, best / 2, label, sizeof label);
        fprintf(o->f, "%s %s %s %.1f%%", k ? "," : "", label, best % 2 ? "backward" : "forward",
                share(o, pass_seconds(p, best)));
    }
    fprintf(o->f, "\n");
}

static void heading(const sink *o, const lr_profile *p, const model_spec *m, int batch) {
    fprintf(o->f, "# profile: model %s, batch %d, %ld steps in %.2f s (%.2f ms per step, all phases)\n# phases:",
            m->name, batch, o->steps, p->total, o->steps ? 1e3 * p->total / (double)o->steps : 0.0);
    for (int ph = 0; ph < PROF_PHASES; ph++)
        if (p->laps[ph]) fprintf(o->f, " %s %.1f%%,", phase_names[ph], share(o, p->seconds[ph]));
    fprintf(o->f, " other %.1f%%\n", share(o, other_seconds(p)));
    top_layers(o, p, m);
    fprintf(o->f, "%-10s %-24s %-18s %-18s %10s %10s %7s\n", "phase", "layer", "kind", "shape", "seconds", "ms/step",
            "share%");
}

void profile_print(const lr_profile *p, const model_spec *m, int batch, int csv, FILE *f) {
    sink o = {f, csv, p->laps[PROF_FORWARD], p->total};
    if (csv) fprintf(f, "phase,layer,kind,shape,seconds,ms_per_step,share_pct\n");
    else heading(&o, p, m, batch);
    for (int ph = 0; ph < PROF_PHASES; ph++) {
        if (!p->laps[ph]) continue;
        if (ph == PROF_FORWARD || ph == PROF_BACKWARD) layer_rows(&o, p, m, batch, (prof_phase)ph);
        else row(&o, phase_names[ph], "-", "-", "-", p->seconds[ph]);
    }
    row(&o, "other", "-", "-", "-", other_seconds(p));
    row(&o, "total", "-", "-", "-", p->total);
}
