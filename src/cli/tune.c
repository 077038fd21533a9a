/* cli/tune.c: `lrlab tune SPACE_FILE [train flags] [--trials N] [--budget
 * EPOCHS] [--eta 3] [--min-epochs R] [--seed S] [--sampler grid|random]
 * [--metric M] [--jobs N] [--out DIR] [--dry-run]`: asynchronous
 * successive halving (tune/asha.c) over a space file (tune/space.c). Trial
 * t is the run directory OUT/tNNN, trained by a child `lrlab train` (the
 * runner of sweep, cli/runner.c) up to a rung's epochs with
 * --stop-at-epoch; a promoted trial continues with --resume, so it equals a
 * straight run of its settings. After every reported rung the state goes to
 * OUT/tune.state atomically; rerunning the same command continues: a trial
 * whose rung is already in its metrics.csv is counted from there, one that
 * was training resumes from its checkpoint. At the end: the rung table
 * (OUT/tune.md), the best trial as a `lrlab train` command, the compute
 * used against a full run of every trial, and OUT/curves.png.
 * Not here: the rungs' decisions (asha.c), the file format (sweep.c). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/runner.h"
#include "lrlab/atomic.h"
#include "lrlab/io.h"
#include "lrlab/runs.h"
#include "lrlab/train.h"
#include "lrlab/tune.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lrlab tune SPACE_FILE [train flags...] [--trials N] [--budget EPOCHS] [--eta E]\n"
            "                  [--min-epochs R] [--seed S] [--sampler grid|random] [--metric M]\n"
            "                  [--jobs N] [--out DIR] [--dry-run]\n"
            "\n"
            "Searches a space file (a sweep file with `space --FLAG RANGE` lines: loguniform(a, b),\n"
            "uniform(a, b), choice(v1, v2, ...); docs/tools.md) with asynchronous successive halving:\n"
            "every trial trains to the lowest rung (R epochs), the top 1/E of each rung continue from\n"
            "their checkpoint to E times the epochs, up to the full run's --epochs. Trial t is the run\n"
            "directory DIR/tNNN (lrlab report and plot read them).\n"
            "  --trials N       trials to start (default: the grid's size when every range is a choice)\n"
            "  --budget EPOCHS  epochs to spend at most, over every trial and rung\n"
            "  --eta E          the reduction factor (3)\n"
            "  --min-epochs R   the lowest rung (default: the run's epochs / E^2, at least 1)\n"
            "  --seed S         the random sampler's seed (0); the trials' own --seed is the space's\n"
            "  --sampler S      grid (every range a choice: the default then) or random\n"
            "  --metric M       val_acc (the default with --val) or test_acc (the default without)\n"
            "  --jobs N         trials at once, each with --threads max(1, cores/N) unless given (1)\n"
            "  --out DIR        where the trials go (default runs/NAME)\n"
            "  --dry-run        print the rungs and the trials' commands, run nothing\n"
            "Stop it whenever (Ctrl-C, a kill): the same command continues where it was.\n"
            "Exit status: 0 done, 1 a trial failed, 2 usage or space-file error, 130 interrupted.\n");
}

/* ---- the command line ---- */

typedef struct {
    const char *file, *out, *metric, *sampler;
    long trials, budget, eta, min_epochs, seed, jobs;
    int dry;
    sweep_flags extra;
} tune_args;

static int parse_args(tune_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->eta = 3, a->jobs = 1;
    const char *s[6] = {NULL};
    const cli_opt opts[] = {{"--out", &a->out, NULL},       {"--trials", &s[0], NULL},     {"--budget", &s[1], NULL},
                            {"--eta", &s[2], NULL},         {"--min-epochs", &s[3], NULL}, {"--seed", &s[4], NULL},
                            {"--jobs", &s[5], NULL},        {"--metric", &a->metric, NULL},
                            {"--sampler", &a->sampler, NULL}, {"--dry-run", NULL, &a->dry}, {NULL, NULL, NULL}};
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, rc = 0;
    lr_error err;
    if (!rest) return fprintf(stderr, "lrlab tune: out of memory\n"), 1;
    for (int i = 1; i < argc && !rc; i++) {
        const char *w = argv[i];
        int m = cli_take(argc, argv, &i, opts, "tune");
        if (m) rc = m < 0 ? 2 : 0;
        else if (!strcmp(w, "--help") || !strcmp(w, "-h")) usage(stdout), rc = -1;
        else if (!strncmp(w, "--", 2)) { /* a train flag for every trial */
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)strcspn(w + 2, "="), w + 2);
            if (!config_known(key)) rc = cli_unknown("tune", w, opts, 1);
            rest[nrest++] = argv[i];
            if (!rc && !strchr(w, '=') && !config_is_switch(w + 2) && i + 1 < argc) rest[nrest++] = argv[++i];
        } else if (!a->file) a->file = w;
        else rc = (fprintf(stderr, "lrlab tune: one space file at a time: '%s' is a second\n", w), 2);
    }
    if (!rc && !a->file) rc = (fprintf(stderr, "lrlab tune: no space file given (lrlab tune --help)\n"), 2);
    const char *names[6] = {"--trials", "--budget", "--eta", "--min-epochs", "--seed", "--jobs"};
    long *vals[6] = {&a->trials, &a->budget, &a->eta, &a->min_epochs, &a->seed, &a->jobs};
    const long lo[6] = {1, 1, 2, 1, 0, 1}, hi[6] = {1000000, 1000000000, 100, 1000000, 4294967295L, 256};
    for (int k = 0; k < 6 && !rc; k++)
        if (s[k] && lr_parse_long(vals[k], s[k], lo[k], hi[k], names[k], &err)) rc = cli_error("tune", &err, 2);
    if (!rc && a->metric && strcmp(a->metric, "val_acc") && strcmp(a->metric, "test_acc"))
        rc = (fprintf(stderr, "lrlab tune: --metric '%s': expected val_acc or test_acc\n", a->metric), 2);
    if (!rc && a->sampler && strcmp(a->sampler, "grid") && strcmp(a->sampler, "random"))
        rc = (fprintf(stderr, "lrlab tune: --sampler '%s': expected grid or random\n", a->sampler), 2);
    if (!rc && sweep_flags_from_argv(&a->extra, nrest, rest, &err)) rc = cli_error("tune", &err, 2);
    free(rest);
    return rc;
}

/* ---- the tune: space, rungs, trials ---- */

typedef struct {
    long trial;
    int rung;
    pid_t pid;
} worker;

typedef struct {
    tune_args *a;
    sweep_file file;
    tune_space space;
    asha asha;
    int grid, use_val, threads;
    long epochs;        /* the full run's */
    char out[1100], state[1200], header[512];
    worker *w;          /* a->jobs slots; pid 0: free */
} tune;

static void trial_dir(char *dir, size_t cap, const tune *t, long trial) { snprintf(dir, cap, "%s/t%03ld", t->out, trial); }

/* Trial t's flags as lrlab train gets them (threads aside) and its settings. */
static int trial_flags(const tune *t, long trial, sweep_flags *flags, train_config *cfg, lr_error *err) {
    sweep_flags values;
    if (tune_space_trial(&t->space, t->grid, (uint64_t)t->a->seed, trial, &values, err)) return -1;
    int rc = tune_space_resolve(&t->space, &values, &t->a->extra, flags, cfg, err);
    sweep_flags_free(&values);
    return rc;
}

/* The last value of key among the flags ("" if none). */
static const char *flag_value(const sweep_flags *f, const char *key) {
    const char *v = "";
    for (int i = 0; i < f->n; i++)
        if (lr_key_eq(f->flags[i].key, strlen(f->flags[i].key), key)) v = f->flags[i].value ? f->flags[i].value : "";
    return v;
}

/* FNV-1a of the settings that decide the trials: defaults, ranges, command-line flags. */
static unsigned long long settings_hash(const tune *t) {
    unsigned long long h = 1469598103934665603ULL;
    const sweep_flags *lists[3] = {&t->file.defaults, &t->file.space, &t->a->extra};
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < lists[l]->n; i++) {
            const char *parts[2] = {lists[l]->flags[i].key, lists[l]->flags[i].value ? lists[l]->flags[i].value : ""};
            for (int p = 0; p < 2; p++)
                for (const char *c = parts[p];; c++) {
                    h = (h ^ (unsigned char)*c) * 1099511628211ULL;
                    if (!*c) break;
                }
        }
    return h;
}

/* Space, sampler, rungs and trial count from the file and the flags; 0 or the exit status. */
static int tune_setup(tune *t, tune_args *a) {
    lr_error err;
    memset(t, 0, sizeof *t);
    t->a = a;
    if (sweep_load_space(&t->file, a->file, &err) || tune_space_init(&t->space, &t->file, &a->extra, &err))
        return cli_error("tune", &err, 2);
    if (a->sampler && !strcmp(a->sampler, "grid") && !t->space.grid)
        return fprintf(stderr, "lrlab tune: --sampler grid: %s has a continuous range (or over 1e6 points); "
                               "grid needs every range a choice(...)\n", a->file), 2;
    t->grid = t->space.grid && !(a->sampler && !strcmp(a->sampler, "random"));
    if (t->grid && a->trials > t->space.grid)
        return fprintf(stderr, "lrlab tune: --trials %ld: the grid of %s has %ld points\n", a->trials, a->file,
                       t->space.grid), 2;
    long trials = a->trials ? a->trials : t->grid ? t->space.grid : 0;
    if (!trials && !a->budget)
        return fprintf(stderr, "lrlab tune: %s has a continuous range: give --trials N or --budget EPOCHS\n", a->file), 2;
    train_config cfg;
    sweep_flags flags;
    if (trial_flags(t, 0, &flags, &cfg, &err)) return cli_error("tune", &err, 2);
    sweep_flags_free(&flags);
    t->epochs = cfg.epochs;
    t->use_val = a->metric ? !strcmp(a->metric, "val_acc") : cfg.val > 0;
    if (t->use_val && !cfg.val)
        return fprintf(stderr, "lrlab tune: --metric val_acc needs a validation set: --val N (in defaults or here)\n"), 2;
    long r_min = a->min_epochs ? a->min_epochs : t->epochs / (a->eta * a->eta);
    if (r_min < 1) r_min = 1;
    if (r_min > t->epochs)
        return fprintf(stderr, "lrlab tune: --min-epochs %ld: above the run's --epochs %ld\n", r_min, t->epochs), 2;
    if (a->budget && a->budget < r_min)
        return fprintf(stderr, "lrlab tune: --budget %ld: less than one trial's first rung (%ld epochs)\n", a->budget,
                       r_min), 2;
    if (asha_init(&t->asha, (int)r_min, (int)t->epochs, (int)a->eta, (int)trials, a->budget, &err))
        return cli_error("tune", &err, 2);
    if (a->out) snprintf(t->out, sizeof t->out, "%s", a->out);
    else snprintf(t->out, sizeof t->out, "runs/%s", t->file.name);
    snprintf(t->state, sizeof t->state, "%s/tune.state", t->out);
    snprintf(t->header, sizeof t->header,
             "tune 1 sampler %s seed %ld trials %ld budget %ld min %ld max %ld eta %ld metric %s settings %016llx\n",
             t->grid ? "grid" : "random", a->seed, trials, a->budget, r_min, t->epochs, a->eta,
             t->use_val ? "val_acc" : "test_acc", settings_hash(t));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    t->threads = (int)(cores / a->jobs > 1 ? cores / a->jobs : 1);
    return 0;
}

static void tune_free(tune *t) {
    asha_free(&t->asha);
    tune_space_free(&t->space);
    sweep_free(&t->file);
    free(t->w);
}

/* ---- the state on disk ---- */

static int state_save(const tune *t, lr_error *err) {
    char *text;
    size_t len;
    if (asha_save(&t->asha, &text, &len, err)) return -1;
    size_t hl = strlen(t->header);
    char *all = malloc(hl + len + 1);
    if (!all) return free(text), lr_fail(err, "out of memory");
    memcpy(all, t->header, hl), memcpy(all + hl, text, len + 1);
    int rc = write_file_atomic(t->state, all, hl + len, err);
    free(all), free(text);
    return rc;
}

/* An existing state: must be this tune's (same settings); 0 when none or loaded. */
static int state_load(tune *t, lr_error *err) {
    FILE *f = fopen(t->state, "rb");
    if (!f) return errno == ENOENT ? 0 : lr_fail(err, "%s: cannot open: %s", t->state, strerror(errno));
    char *text = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 1 >= cap) {
            char *p = cap < (64u << 20) ? realloc(text, cap = cap ? 2 * cap : 65536) : NULL;
            if (!p) return fclose(f), free(text), lr_fail(err, "%s: larger than 64 MiB or out of memory", t->state);
            text = p;
        }
        size_t k = fread(text + len, 1, cap - 1 - len, f);
        if (!k) break;
        len += k;
    }
    fclose(f);
    text[len] = '\0';
    size_t hl = strlen(t->header);
    int rc = 0;
    if (strncmp(text, t->header, hl)) {
        size_t n = strcspn(text, "\n");
        rc = lr_fail(err, "%s: made by another tune:\n  it has:  %.*s\n  this is: %.*s\n(the same space file and "
                          "flags continue it; another --out starts afresh)", t->state, (int)(n < 400 ? n : 400), text,
                     (int)hl - 1, t->header);
    } else rc = asha_load(&t->asha, text + hl, t->state, err);
    free(text);
    return rc;
}

/* ---- running trials ---- */

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* Trial t's metric after `epochs` epochs from its metrics.csv: 1 found, 0 not (yet), -1 unreadable. */
static int metric_at(const tune *t, long trial, int epochs, double *m, lr_error *err) {
    char dir[1200], path[1300];
    trial_dir(dir, sizeof dir, t, trial);
    snprintf(path, sizeof path, "%s/%s", dir, RUN_METRICS);
    if (access(path, F_OK)) return 0; /* not started, or started without an epoch */
    rundir r;
    if (rundir_load(&r, dir, err)) return -1;
    int found = r.n_rows >= epochs;
    if (found) *m = t->use_val ? r.rows[epochs - 1].val_acc : r.rows[epochs - 1].test_acc;
    rundir_free(&r);
    return found;
}

static int start_trial(tune *t, worker *w, const asha_job *j, lr_error *err) {
    char dir[1200], log[1300], config[1300], stop[32];
    trial_dir(dir, sizeof dir, t, j->trial);
    snprintf(log, sizeof log, "%s.log", dir);
    snprintf(config, sizeof config, "%s/%s", dir, RUN_CONFIG);
    snprintf(stop, sizeof stop, "%d", t->asha.epochs[j->rung]);
    int resume = access(config, F_OK) == 0, nw = 0;
    sweep_flags flags;
    memset(&flags, 0, sizeof flags);
    if (!resume) {
        train_config cfg;
        if (trial_flags(t, j->trial, &flags, &cfg, err)) return -1;
        char threads[16];
        snprintf(threads, sizeof threads, "%d", t->threads);
        if (!*flag_value(&flags, "threads") && sweep_flags_add(&flags, "threads", threads, 0, err))
            return sweep_flags_free(&flags), -1;
    }
    char **words = resume ? NULL : runner_flag_words(&flags, &nw);
    char **av = calloc((size_t)nw + 8, sizeof *av);
    int rc = -1;
    if (av && (resume || words)) {
        int n = 0;
        av[n++] = (char *)cli_self_path(), av[n++] = "train", av[n++] = resume ? "--resume" : "--out";
        av[n++] = dir, av[n++] = "--stop-at-epoch", av[n++] = stop;
        for (int i = 0; i < nw; i++) av[n++] = words[i];
        rc = runner_spawn("tune", av, log, &w->pid, err);
    } else lr_fail(err, "out of memory");
    free(av), runner_words_free(words, nw), sweep_flags_free(&flags);
    if (rc) return -1;
    w->trial = j->trial, w->rung = j->rung;
    int e = t->asha.epochs[j->rung];
    printf("%s t%03d: %s %d epoch%s (rung %d)\n", j->is_new ? "start" : "promote", j->trial,
           j->from_epochs ? "continues to" : "trains", e, e == 1 ? "" : "s", j->rung);
    fflush(stdout);
    return 0;
}

/* Reports trial's rung from its metrics.csv; a run that diverged reports NaN. */
static int report_rung(tune *t, long trial, int rung, int diverged, lr_error *err) {
    double m = NAN;
    int k = diverged ? 0 : metric_at(t, trial, t->asha.epochs[rung], &m, err);
    if (k < 0) return -1;
    if (!diverged && !k) return lr_fail(err, "t%03ld: no epoch %d in its metrics.csv", trial, t->asha.epochs[rung]);
    if (asha_report(&t->asha, (int)trial, rung, m, err)) return -1;
    if (diverged) printf("t%03ld: diverged before %d epochs: never promoted\n", trial, t->asha.epochs[rung]);
    else printf("t%03ld: %s %.2f after %d epoch%s (rung %d)\n", trial, t->use_val ? "val_acc" : "test_acc", m,
                t->asha.epochs[rung], t->asha.epochs[rung] == 1 ? "" : "s", rung);
    fflush(stdout);
    return state_save(t, err);
}

/* A finished child: 0 on, 1 stop starting (failed; message printed), -1 error. */
static int child_done(tune *t, worker *w, int status, lr_error *err) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 256 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    long trial = w->trial;
    int rung = w->rung;
    w->pid = 0;
    if (code == 0 || code == 3) return report_rung(t, trial, rung, code == 3, err);
    if (code == 130 && stop_signal) return 0; /* stopped with us: busy, handed out again on the next run */
    char dir[1200], log[1300], tail[600];
    trial_dir(dir, sizeof dir, t, trial);
    snprintf(log, sizeof log, "%s.log", dir);
    runner_last_line(log, tail, sizeof tail);
    if (code >= 256) fprintf(stderr, "lrlab tune: t%03ld FAILED: killed by signal %d; see %s\n", trial, code - 256, log);
    else fprintf(stderr, "lrlab tune: t%03ld FAILED (exit %d): %s\n", trial, code, tail[0] ? tail : log);
    return 1;
}

/* Hands out jobs to free workers; a rung already in metrics.csv is reported at once. */
static int fill_workers(tune *t, int *running, lr_error *err) {
    for (;;) {
        worker *w = NULL;
        for (int i = 0; i < t->a->jobs && !w; i++)
            if (!t->w[i].pid) w = &t->w[i];
        asha_job j;
        if (!w || stop_signal) return 0;
        int k = asha_next(&t->asha, &j, err);
        if (k <= 0) return k;
        double m;
        int have = metric_at(t, j.trial, t->asha.epochs[j.rung], &m, err);
        if (have < 0) return -1;
        if (have) { /* trained before a stop, not yet counted */
            if (report_rung(t, j.trial, j.rung, 0, err)) return -1;
            continue;
        }
        if (start_trial(t, w, &j, err)) return -1;
        (*running)++;
    }
}

/* Runs until ASHA is done, a trial fails or a signal stops it: 0, 1 (failed), 130, or -1 (err). */
static int run_tune(tune *t, lr_error *err) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL), sigaction(SIGTERM, &sa, NULL), sigaction(SIGHUP, &sa, NULL);
    int running = 0, failed = 0, forwarded = 0, rc = 0;
    for (;;) {
        if (stop_signal && !forwarded) {
            for (int i = 0; i < t->a->jobs; i++)
                if (t->w[i].pid) kill(t->w[i].pid, stop_signal == SIGINT ? SIGINT : SIGTERM);
            forwarded = 1;
            printf("interrupted: %d trial(s) checkpoint and stop; the same command continues\n", running);
        }
        if (!failed && !rc && fill_workers(t, &running, err)) rc = -1;
        if (!running) break;
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int i = 0; i < t->a->jobs; i++)
                if (t->w[i].pid == pid) {
                    running--;
                    int k = child_done(t, &t->w[i], status, err);
                    if (k < 0 && !rc) rc = -1;
                    if (k > 0) failed = 1;
                }
            continue;
        }
        if (pid < 0 && errno != EINTR) break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return rc ? -1 : stop_signal ? 130 : failed ? 1 : 0;
}

/* ---- the results ---- */

/* "lrlab train FLAGS..." as a shell takes it. */
static void print_train(FILE *f, const sweep_flags *flags) {
    int nw = 0;
    char **words = runner_flag_words(flags, &nw);
    char **av = words ? calloc((size_t)nw + 3, sizeof *av) : NULL;
    if (av) {
        av[0] = "lrlab", av[1] = "train";
        for (int w = 0; w < nw; w++) av[2 + w] = words[w];
        runner_print_command(f, av);
    }
    free(av), runner_words_free(words, nw);
}

/* The highest rung trial reached, -1 for none. */
static int final_rung(const asha *a, int trial) {
    int k = -1;
    while (k + 1 < a->n_rungs && !isnan(a->metric[trial][k + 1])) k++;
    return k;
}

/* The rung table, the best command and the compute, as Markdown; returns the epochs trained. */
static long write_results(FILE *f, const tune *t) {
    const asha *a = &t->asha;
    fprintf(f, "# tune %s: %d trials, successive halving (eta %d), rungs at", t->file.name, a->n_trials, a->eta);
    for (int k = 0; k < a->n_rungs; k++) fprintf(f, "%s %d", k ? "," : "", a->epochs[k]);
    fprintf(f, " epochs; %s, %s sampler\n\n| trial | settings |", t->use_val ? "val_acc" : "test_acc",
            t->grid ? "grid" : "random");
    for (int k = 0; k < a->n_rungs; k++) fprintf(f, " %d ep |", a->epochs[k]);
    fputs(" outcome |\n|---|---|", f);
    for (int k = 0; k < a->n_rungs; k++) fputs("---:|", f);
    fputs("---|\n", f);
    long trained = 0;
    for (int i = 0; i < a->n_trials; i++) {
        sweep_flags flags;
        train_config cfg;
        lr_error err;
        fprintf(f, "| t%03d | ", i);
        if (trial_flags(t, i, &flags, &cfg, &err) == 0) {
            for (int r = 0; r < t->space.n; r++)
                fprintf(f, "%s%s %s", r ? ", " : "", t->space.ranges[r].flag->key, flag_value(&flags, t->space.ranges[r].flag->key));
            sweep_flags_free(&flags);
        }
        fputs(" |", f);
        for (int k = 0; k < a->n_rungs; k++)
            if (isnan(a->metric[i][k])) fputs(" |", f);
            else if (isinf(a->metric[i][k])) fputs(" diverged |", f);
            else fprintf(f, " %.2f |", a->metric[i][k]);
        int top = final_rung(a, i);
        const char *outcome = top < 0 ? "not run" : top == a->n_rungs - 1 ? "full run" : "stopped";
        if (top >= 0 && isinf(a->metric[i][top])) outcome = "diverged";
        fprintf(f, " %s |\n", outcome);
        char dir[1200];
        trial_dir(dir, sizeof dir, t, i);
        rundir r;
        if (rundir_load(&r, dir, &err) == 0) trained += r.n_rows;
        rundir_free(&r);
    }
    int best = asha_best(a);
    if (best >= 0) {
        sweep_flags flags;
        train_config cfg;
        lr_error err;
        int k = final_rung(a, best);
        fprintf(f, "\nbest: t%03d, %s %.2f after %d epochs%s; as a run of its own:\n\n```\n", best,
                t->use_val ? "val_acc" : "test_acc", a->metric[best][k], a->epochs[k],
                k == a->n_rungs - 1 ? "" : " (no trial reached the full run)");
        if (trial_flags(t, best, &flags, &cfg, &err) == 0) print_train(f, &flags), sweep_flags_free(&flags);
        fputs("\n```\n", f);
    }
    long full = (long)a->n_trials * t->epochs;
    fprintf(f, "\ncompute: %ld epochs trained (ASHA handed out %ld), against %ld for a full run of every trial "
               "(%d x %ld): %.1f%%\n", trained, a->spent, full, a->n_trials, t->epochs,
            full ? 100.0 * (double)trained / (double)full : 0.0);
    if (t->a->budget) fprintf(f, "budget: %ld epochs\n", t->a->budget);
    return trained;
}

/* Every trial's metric per epoch, coloured by the highest rung it reached. */
static void write_figure(const tune *t) {
    char out[1200];
    lr_error err;
    snprintf(out, sizeof out, "%s/curves.png", t->out);
    if (figure_check(out, "curves", 1, &err)) {
        printf("no figure: %s\n", err.msg);
        return;
    }
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) return;
    const asha *a = &t->asha;
    fprintf(f, "set grid\nset key bottom right\nset ylabel '%s (%%)'\n", t->use_val ? "validation accuracy" : "test accuracy");
    figure_epoch_axis(f, t->epochs, "epoch");
    fprintf(f, "set title 'tune %s: every trial, coloured by the last rung it reached'\nplot", t->file.name);
    int first = 1, labelled[ASHA_MAX_RUNGS] = {0};
    for (int i = 0; i < a->n_trials; i++) {
        int k = final_rung(a, i);
        if (k < 0) continue;
        fprintf(f, "%s '-' using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 lc rgb '%s' ", first ? "" : ",",
                figure_colour(k));
        if (labelled[k]++) fputs("notitle", f);
        else fprintf(f, "title '%s %d epoch%s'", k == a->n_rungs - 1 ? "full run," : "stopped at", a->epochs[k],
                     a->epochs[k] == 1 ? "" : "s");
        first = 0;
    }
    fputc('\n', f);
    for (int i = 0; i < a->n_trials; i++) {
        if (final_rung(a, i) < 0) continue;
        char dir[1200];
        trial_dir(dir, sizeof dir, t, i);
        rundir r;
        if (rundir_load(&r, dir, &err) == 0)
            for (int e = 0; e < r.n_rows; e++)
                fprintf(f, "%d %.4f\n", e + 1, t->use_val ? r.rows[e].val_acc : r.rows[e].test_acc);
        rundir_free(&r);
        fputs("e\n", f);
    }
    fclose(f);
    if (first) printf("no figure: no trial has a rung yet\n");
    else if (figure_render(out, 900, 600, body, &err)) printf("no figure: %s\n", err.msg);
    else printf("wrote %s\n", out);
    free(body);
}

static int finish(tune *t) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return fprintf(stderr, "lrlab tune: out of memory\n"), 1;
    write_results(f, t);
    fclose(f);
    fputs(text, stdout);
    char path[1200];
    lr_error err;
    snprintf(path, sizeof path, "%s/tune.md", t->out);
    int rc = write_file_atomic(path, text, len, &err);
    free(text);
    if (rc) return cli_error("tune", &err, 1);
    printf("wrote %s\n", path);
    write_figure(t);
    return 0;
}

/* --dry-run: the rungs and every trial's command. */
static void print_plan(const tune *t) {
    const asha *a = &t->asha;
    printf("tune %s: %s sampler, %s%d trials%s, rungs at", t->file.name, t->grid ? "grid" : "random",
           a->max_trials ? "" : "no trial limit, ", a->max_trials, "");
    for (int k = 0; k < a->n_rungs; k++) printf("%s %d", k ? "," : "", a->epochs[k]);
    printf(" epochs (eta %d); into %s\n", a->eta, t->out);
    int n = a->max_trials ? a->max_trials : 10;
    for (int i = 0; i < n; i++) {
        sweep_flags flags;
        train_config cfg;
        lr_error err;
        if (trial_flags(t, i, &flags, &cfg, &err)) {
            printf("t%03d: %s\n", i, err.msg);
            continue;
        }
        printf("t%03d: ", i);
        print_train(stdout, &flags);
        putchar('\n');
        sweep_flags_free(&flags);
    }
    if (!a->max_trials) printf("... (the first 10; --budget decides how many)\n");
}

int cli_tune(int argc, char **argv) {
    tune_args a;
    tune t;
    memset(&t, 0, sizeof t);
    int rc = parse_args(&a, argc, argv);
    if (!rc) rc = tune_setup(&t, &a);
    lr_error err;
    if (!rc && a.dry) print_plan(&t);
    else if (!rc) {
        t.w = calloc((size_t)a.jobs, sizeof *t.w);
        if (!t.w) rc = (fprintf(stderr, "lrlab tune: out of memory\n"), 1);
        else if (make_dirs(t.out, "--out", &err) || state_load(&t, &err)) rc = cli_error("tune", &err, 1);
        if (!rc) {
            printf("tune %s: into %s, %d trial(s) on record, %ld at a time\n", t.file.name, t.out, t.asha.n_trials, a.jobs);
            rc = run_tune(&t, &err);
            if (rc < 0) rc = cli_error("tune", &err, 1);
            else if (rc == 130) printf("stopped: run the same command to continue (%s)\n", t.state);
            else if (finish(&t) && !rc) rc = 1;
        }
    }
    tune_free(&t);
    sweep_flags_free(&a.extra);
    return rc < 0 ? 0 : rc;
}
