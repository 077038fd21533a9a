/* cli/sweep.c: `lrlab sweep FILE [train flags] [--out DIR] [--jobs N]
 * [--seeds K] [--only NAMES] [--task-id K] [--dry-run | --list | --count]`: runs the named runs of a sweep
 * file (lrlab/sweep.h, docs/sweeps.md), each as a child `lrlab train`
 * process (fork + exec of this executable, no shell) writing its run
 * directory OUT/NAME and its console output to OUT/NAME.log.
 *
 * A run whose directory holds model.safetensors is complete and skipped; a
 * started one is continued with `lrlab train --resume` (with its own
 * config.txt: this command line's flags do not change it); the others
 * start. SIGINT/SIGTERM are passed on to the children, which checkpoint;
 * the sweep waits for them and exits 130, and the same command resumes.
 * On a cluster: under a launcher (mpirun -np N, srun) rank k of N runs the
 * runs k, k+N, k+2N, ... of the list (lrlab/dist.h reads the rank from the
 * launcher's environment; no messages between ranks); `--task-id K` runs
 * only the K-th (a Slurm job array) and `--count` prints how many there are.
 * Not here: the file format (src/sweep), training (src/train), tables and
 * plots (lrlab report, lrlab plot). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/runner.h"
#include "lrlab/data.h"
#include "lrlab/dist.h"
#include "lrlab/io.h"
#include "lrlab/model.h"
#include "lrlab/runs.h"
#include "lrlab/sweep.h"
#include "lrlab/train.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lrlab sweep FILE [train flags...] [--out DIR] [--jobs N] [--seeds K] [--only NAME,...]\n"
            "                   [--task-id K] [--dry-run | --list | --count]\n"
            "\n"
            "Runs the named runs of a sweep file (format: docs/sweeps.md), each as `lrlab train` into\n"
            "DIR/NAME/ with its console output in DIR/NAME.log. Complete runs (DIR/NAME/model.safetensors)\n"
            "are skipped; started ones resume from their checkpoint with the settings they started with.\n"
            "  FILE           a sweep file, or a name looked up in experiments/ (here, then beside the\n"
            "                 executable: ../experiments, ../share/lrlab/experiments), with or without .sweep\n"
            "  train flags    any `lrlab train` flag (--epochs 2 --limit-train 512 ...): overrides every run;\n"
            "                 {epochs} and {total_steps} in the file follow it\n"
            "  --out DIR      where the runs go (default runs/SWEEP_NAME)\n"
            "  --jobs N       run N at once, each with --threads max(1, cores/N) unless --threads is given (1)\n"
            "  --seeds K      repeat each run with seeds s..s+K-1 (s: the run's --seed, 0 by default),\n"
            "                 into DIR/NAME-sSEED/\n"
            "  --only LIST    only these runs (comma-separated names)\n"
            "  --task-id K    only the K-th run of the list (0-based, as --list prints them; for a Slurm job\n"
            "                 array: --task-id $SLURM_ARRAY_TASK_ID)\n"
            "  --count        print the number of runs (with --seeds: runs x seeds) and stop\n"
            "  --dry-run      print what would run (the exact commands) and stop\n"
            "  --list         print the run directories, one a line, in the file's order, and stop\n"
            "Under mpirun -np N (or srun), rank k runs the runs k, k+N, k+2N, ... of the list, each as a\n"
            "single process with --threads max(1, cores/(N on this machine x jobs)) unless --threads is given.\n"
            "Exit status: 0 all complete, 1 a run failed, 2 usage or sweep-file error, 3 a run diverged\n"
            "(the others still run), 130 interrupted (run the same command again to resume).\n\n"
            "train flags (for every run, as lrlab train; --out is the sweep's own):\n");
    static const char *const not_listed[] = {"out", NULL};
    config_print_help(f, NULL, not_listed);
}

/* ---- one job: a run (and seed) of the sweep ---- */

typedef enum { JOB_NEW, JOB_RESUME, JOB_COMPLETE } job_kind;
typedef enum { ST_PENDING, ST_RUNNING, ST_DONE, ST_SKIPPED, ST_FAILED, ST_DIVERGED, ST_STOPPED } job_state;

typedef struct {
    char name[SWEEP_NAME_MAX + 16];
    char dir[1200], log[1300];
    job_kind kind;
    int epochs;      /* of the run as it will be (config.txt for a started run) */
    sweep_flags flags; /* resolved flags for a new run */
    char note[512];  /* settings this command asks for that a started run will not use */
    job_state state;
    pid_t pid;
    int code;        /* exit status or signal */
    double start;
} job;

/* What the run's metrics.csv says (read and checked by io/runs.c): 0 with
 * st filled, -1 when it has no epoch yet or cannot be read. */
static int run_summary(const char *dir, run_stats *st) {
    rundir r;
    lr_error e;
    int rc = rundir_load(&r, dir, &e) == 0 && rundir_stats(st, &r) == 0 ? 0 : -1;
    rundir_free(&r);
    if (rc) memset(st, 0, sizeof *st);
    return rc;
}

static int is_file(const char *dir, const char *name) {
    char path[1400];
    struct stat sb;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return 0;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* A directory that exists and has something in it (the trainer refuses
 * --out there, and an empty one is simply started). */
static int dir_started(const char *dir) {
    struct stat sb;
    if (stat(dir, &sb)) return 0;
    if (!S_ISDIR(sb.st_mode)) return 1; /* let the trainer say what is wrong */
    char path[1400];
    const char *names[] = {RUN_CONFIG, RUN_METRICS, RUN_CHECKPOINT, RUN_WEIGHTS, RUN_STEPS};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (access(path, F_OK) == 0) return 1;
    }
    return 0;
}

/* The settings that change results, as config.txt lines; where to run
 * (threads, data path, output) and what a run records are left out. */
static char *settings_text(const train_config *c0) {
    train_config c = *c0;
    c.out[0] = c.data[0] = c.algo_choices[0] = '\0';
    c.threads = 0, c.ranks = 0, c.verbose = 0, c.log_steps = 0;
    return config_text(&c, NULL);
}

/* "lr 0.01 -> 0.02, epochs 2 -> 30" for the keys where want differs from have. */
static void describe_difference(char *out, size_t cap, const train_config *have, const train_config *want) {
    char *a = settings_text(have), *b = settings_text(want);
    out[0] = '\0';
    size_t n = 0;
    for (char *p = a, *q = b; p && q && *p && *q;) {
        char *pe = strchr(p, '\n'), *qe = strchr(q, '\n');
        if (!pe || !qe) break;
        *pe = *qe = '\0';
        if (strcmp(p, q) && n < cap) {
            char *eq = strchr(p, '=');
            if (eq) {
                int w = snprintf(out + n, cap - n, "%s%.*s %s -> %s", n ? ", " : "", (int)(eq - p), p, eq + 1,
                                 strchr(q, '=') + 1);
                n = w < 0 ? cap : n + (size_t)w;
            }
        }
        p = pe + 1, q = qe + 1;
    }
    if (n >= cap && cap > 4) strcpy(out + cap - 4, "...");
    free(a), free(b);
}

/* ---- output: plain lines, or a live view on a terminal ---- */

static int live;         /* stdout is a terminal */
static char rank_tag[32]; /* "rank K/N: " under a launcher, else "" */
static int drawn;        /* lines of the live view on screen */

static void view_clear(void) {
    for (; drawn > 0; drawn--) fputs("\033[1A\033[2K", stdout);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    if (live) view_clear();
    va_list ap;
    va_start(ap, fmt);
    fputs(rank_tag, stdout);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static void view_draw(const job *jobs, int n) {
    if (!live) return;
    view_clear();
    double now = lr_now();
    for (int i = 0; i < n; i++) {
        const job *j = &jobs[i];
        if (j->state != ST_RUNNING) continue;
        run_stats m;
        char acc[32] = "";
        if (run_summary(j->dir, &m) == 0) snprintf(acc, sizeof acc, "test %.2f%%", m.final_test);
        int secs = (int)(now - j->start);
        printf("  %-22s %3d/%d epochs done  %-12s %d:%02d\n", j->name, m.epochs_done, j->epochs, acc, secs / 60,
               secs % 60);
        drawn++;
    }
    fflush(stdout);
}

static void say_result(const job *j) {
    run_stats m;
    int have = run_summary(j->dir, &m) == 0;
    char tail[600];
    switch (j->state) {
    case ST_DONE:
    case ST_SKIPPED:
        if (have)
            say("%s %s: final test %.2f%%, best %.2f%% @ epoch %ld, %d epochs, %.1f min%s", j->state == ST_DONE ? "done" : "skip",
                j->name, m.final_test, m.best_test, m.best_epoch, m.epochs_done, m.total_seconds / 60.0,
                j->state == ST_SKIPPED ? " (complete)" : "");
        else say("%s %s: %s", j->state == ST_DONE ? "done" : "skip", j->name, j->state == ST_DONE ? "no metrics.csv" : "complete");
        if (j->state == ST_SKIPPED && j->note[0])
            say("  note: %s was completed with other settings (%s); this command's are not applied: use another --out",
                j->name, j->note);
        break;
    case ST_DIVERGED:
    case ST_FAILED:
        runner_last_line(j->log, tail, sizeof tail);
        if (j->state == ST_DIVERGED) say("DIVERGED %s: %s", j->name, tail);
        else if (j->code >= 256) say("FAILED %s: killed by signal %d; see %s", j->name, j->code - 256, j->log);
        else say("FAILED %s (exit %d): %s", j->name, j->code, tail[0] ? tail : j->log);
        break;
    case ST_STOPPED:
        say("stopped %s after %d of %d epochs (%s)", j->name, m.epochs_done, j->epochs,
            is_file(j->dir, RUN_CHECKPOINT) ? "checkpoint written" : "before its first step: it will start over");
        break;
    default: break;
    }
}

/* ---- child processes ---- */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

/* The full child argv: self train (--resume DIR | --out DIR flags...). */
static char **child_argv(const job *j, char ***words, int *nwords) {
    *words = NULL, *nwords = 0;
    if (j->kind == JOB_NEW && !(*words = runner_flag_words(&j->flags, nwords))) return NULL;
    char **av = calloc((size_t)*nwords + 6, sizeof *av);
    if (!av) return NULL;
    int n = 0;
    av[n++] = (char *)cli_self_path();
    av[n++] = "train";
    av[n++] = j->kind == JOB_RESUME ? "--resume" : "--out";
    av[n++] = (char *)j->dir;
    for (int i = 0; i < *nwords; i++) av[n++] = (*words)[i];
    av[n] = NULL;
    return av;
}

static int job_start(job *j) {
    char **words;
    int nwords;
    char **av = child_argv(j, &words, &nwords);
    lr_error err;
    int rc = av ? runner_spawn("sweep", av, j->log, &j->pid, &err) : lr_fail(&err, "out of memory");
    free(av), runner_words_free(words, nwords);
    if (rc) {
        say("FAILED %s: %s", j->name, err.msg);
        return -1;
    }
    j->state = ST_RUNNING;
    j->start = lr_now();
    return 0;
}

static void job_finished(job *j, int status) {
    if (WIFEXITED(status)) {
        j->code = WEXITSTATUS(status);
        j->state = j->code == 0 ? ST_DONE : j->code == 3 ? ST_DIVERGED : j->code == 130 ? ST_STOPPED : ST_FAILED;
    } else {
        j->code = 256 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        j->state = ST_FAILED;
    }
    if (j->state == ST_DONE && !is_file(j->dir, RUN_WEIGHTS)) {
        j->state = ST_FAILED; /* exit 0 without weights: should not happen; say so rather than claim done */
        j->code = 0;
    }
    say_result(j);
}

/* ---- finding the file, building the jobs ---- */

static int find_sweep_file(char *out, size_t cap, const char *arg) {
    struct stat sb;
    if (stat(arg, &sb) == 0 && S_ISREG(sb.st_mode)) return snprintf(out, cap, "%s", arg), 0;
    if (strchr(arg, '/')) return -1;
    const char *const *dirs = cli_search_dirs("experiments");
    const char *ext[] = {"", ".sweep"};
    for (int e = 0; e < 2; e++) {
        snprintf(out, cap, "%s%s", arg, ext[e]);
        if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode)) return 0;
    }
    for (int d = 0; dirs[d]; d++)
        for (int e = 0; e < 2; e++) {
            snprintf(out, cap, "%s/%s%s", dirs[d], arg, ext[e]);
            if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode)) return 0;
        }
    return -1;
}

static int has_key(const sweep_flags *f, const char *key) {
    for (int i = 0; i < f->n; i++)
        if (lr_key_eq(f->flags[i].key, strlen(f->flags[i].key), key)) return 1;
    return 0;
}

/* What would make every run fail at once, said before any starts: the
 * model and the data files (their contents are the trainer's to check). */
static int check_inputs(const train_config *run, const sweep_file *s, int r, lr_error *err) {
    train_config cfg = *run, *c = &cfg;
    cli_default_data(c); /* as the child will */
    model_spec m;
    lr_error e;
    if (model_spec_load(&m, c->model, cli_search_dirs("models"), &e))
        return lr_fail(err, "%s:%d: run %s: %s", s->path, s->runs[r].line, s->runs[r].name, e.msg);
    long n_train;
    if (dataset_probe(c->dataset, c->data, &n_train, &e)) return lr_fail(err, "run %s: %s", s->runs[r].name, e.msg);
    return 0;
}

/* Fills job j for run r (seed index k of `seeds`, or plain when seeds is 0);
 * check: also look for the model and the data files. */
static int job_init(job *j, const sweep_file *s, int r, const sweep_flags *extra, int seeds, int k,
                    const char *out, int threads, int check, lr_error *err) {
    memset(j, 0, sizeof *j);
    sweep_flags ex;
    memset(&ex, 0, sizeof ex);
    for (int i = 0; extra && i < extra->n; i++)
        if (sweep_flags_add(&ex, extra->flags[i].key, extra->flags[i].value, 0, err)) goto fail;
    train_config cfg;
    if (seeds) { /* the run's own seed (or 0), plus k */
        if (sweep_resolve(s, r, &ex, NULL, &cfg, err)) goto fail;
        char v[32];
        long seed = cfg.seed + k;
        snprintf(v, sizeof v, "%ld", seed);
        if (sweep_flags_add(&ex, "seed", v, 0, err)) goto fail;
        snprintf(j->name, sizeof j->name, "%s-s%ld", s->runs[r].name, seed);
    } else {
        snprintf(j->name, sizeof j->name, "%s", s->runs[r].name);
    }
    if (sweep_resolve(s, r, &ex, &j->flags, &cfg, err)) goto fail;
    if (!has_key(&j->flags, "threads")) {
        char v[32];
        snprintf(v, sizeof v, "%d", threads);
        if (sweep_flags_add(&j->flags, "threads", v, 0, err)) goto fail;
        cfg.threads = threads;
    }
    sweep_flags_free(&ex);
    snprintf(j->dir, sizeof j->dir, "%s/%s", out, j->name);
    snprintf(j->log, sizeof j->log, "%s/%s.log", out, j->name);
    j->epochs = config_run_epochs(&cfg, config_steps_per_epoch(&cfg));
    j->kind = is_file(j->dir, RUN_WEIGHTS) ? JOB_COMPLETE : dir_started(j->dir) ? JOB_RESUME : JOB_NEW;
    if (check && j->kind == JOB_NEW && check_inputs(&cfg, s, r, err)) goto fail;
    if (j->kind != JOB_NEW) { /* a started run keeps its own settings: say when they differ */
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", j->dir, RUN_CONFIG);
        train_config have;
        config_defaults(&have);
        lr_error e;
        if (config_read(&have, path, &e) == 0) {
            describe_difference(j->note, sizeof j->note, &have, &cfg);
            j->epochs = config_run_epochs(&have, config_steps_per_epoch(&have));
        }
    }
    return 0;
fail:
    sweep_flags_free(&ex);
    sweep_flags_free(&j->flags);
    return -1;
}

/* ---- the verb ---- */

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "lrlab sweep: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (lrlab sweep --help for the flags)\n");
    return 2;
}

/* The command line: the sweep's own flags; every other --flag is a train
 * flag for every run (extra). */
typedef struct {
    const char *file, *out, *only;
    long jobs, seeds, task_id; /* task_id -1: all */
    int dry, list, count;
    sweep_flags extra;
} sweep_args;

/* 0 to go on; else the exit status (the message printed; -1: --help shown). */
static int parse_args(sweep_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->jobs = 1, a->task_id = -1;
    const char *jobs_s = NULL, *seeds_s = NULL, *task_s = NULL;
    const cli_opt opts[] = {{"--out", &a->out, NULL},   {"--jobs", &jobs_s, NULL},   {"--seeds", &seeds_s, NULL},
                            {"--only", &a->only, NULL}, {"--dry-run", NULL, &a->dry}, {"--list", NULL, &a->list},
                            {"--task-id", &task_s, NULL}, {"--count", NULL, &a->count}, {NULL, NULL, NULL}};
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, rc = 0;
    lr_error err;
    if (!rest) return fprintf(stderr, "lrlab sweep: out of memory\n"), 1;
    for (int i = 1; i < argc && !rc; i++) {
        const char *w = argv[i];
        int m = cli_take(argc, argv, &i, opts, "sweep");
        if (m) rc = m < 0 ? 2 : 0;
        else if (!strcmp(w, "--help") || !strcmp(w, "-h")) usage(stdout), rc = -1;
        else if (!strncmp(w, "--", 2)) {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)strcspn(w + 2, "="), w + 2);
            if (!config_known(key) && strcmp(key, "resume")) {
                rc = cli_unknown("sweep", w, opts, 1);
                break;
            }
            rest[nrest++] = argv[i];
            if (!strchr(w, '=') && !config_is_switch(w + 2) && i + 1 < argc) rest[nrest++] = argv[++i];
        } else if (!a->file) a->file = w;
        else rc = usage_error("one sweep file at a time: '%s' is a second", w);
    }
    if (!rc && !a->file) rc = usage_error("%s", "no sweep file given");
    if (!rc && ((jobs_s && lr_parse_long(&a->jobs, jobs_s, 1, 256, "--jobs", &err)) ||
                (seeds_s && lr_parse_long(&a->seeds, seeds_s, 1, 10000, "--seeds", &err)) ||
                (task_s && lr_parse_long(&a->task_id, task_s, 0, 100000000, "--task-id", &err)) ||
                sweep_flags_from_argv(&a->extra, nrest, rest, &err)))
        rc = cli_error("sweep", &err, 2);
    free(rest);
    return rc;
}

/* sel[r] = 1 for the runs to do: --only's names, or all. */
static int select_runs(char *sel, const sweep_file *s, const char *only) {
    if (!only) return memset(sel, 1, (size_t)s->n_runs), 0;
    for (const char *p = only; *p;) {
        size_t n = strcspn(p, ",");
        char name[SWEEP_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)(n < SWEEP_NAME_MAX ? n : SWEEP_NAME_MAX), p);
        int r = sweep_find_run(s, name);
        if (r < 0) {
            fprintf(stderr, "lrlab sweep: --only: no run '%s' in %s; its runs:", name, s->path);
            for (int i = 0; i < s->n_runs; i++) fprintf(stderr, " %s", s->runs[i].name);
            fprintf(stderr, "\n");
            return -1;
        }
        sel[r] = 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

/* One job per selected run (and seed); 0, or the exit status (message printed). */
static int build_jobs(job *jobs, int *njobs, const sweep_file *s, const sweep_args *a, const char *out) {
    char *sel = calloc((size_t)s->n_runs, 1);
    if (!sel) return fprintf(stderr, "lrlab sweep: out of memory\n"), 1;
    if (select_runs(sel, s, a->only)) return free(sel), 2;
    long cores = sysconf(_SC_NPROCESSORS_ONLN), share = a->jobs * dist_launch_local_size();
    int threads = (int)(cores / share > 1 ? cores / share : 1);
    int per = a->seeds ? (int)a->seeds : 1, rc = 0;
    lr_error err;
    for (int r = 0; r < s->n_runs && !rc; r++)
        for (int k = 0; sel[r] && k < per && !rc; k++) {
            if (job_init(&jobs[*njobs], s, r, &a->extra, (int)a->seeds, k, out, threads, !a->list && !a->count, &err)) {
                rc = cli_error("sweep", &err, 2);
                break;
            }
            job *j = &jobs[(*njobs)++];
            for (int o = 0; o < *njobs - 1 && !rc; o++)
                if (!strcmp(jobs[o].name, j->name)) {
                    fprintf(stderr, "lrlab sweep: %s: two runs would share %s/%s (rename one)\n", s->path, out, j->name);
                    rc = 2;
                }
        }
    free(sel);
    return rc;
}

/* Keeps the jobs this process runs (or lists): the --task-id'th, or under a
 * launcher with N ranks every N-th from this rank's; 0, or the exit status. */
static int deal_jobs(job *jobs, int *njobs, const sweep_args *a, const char *path) {
    int rank, size, kept = 0;
    dist_launch_rank(&rank, &size);
    if (a->task_id >= 0 && size > 1) {
        fprintf(stderr, "lrlab sweep: --task-id %ld under a launcher with %d ranks: each rank would run the same "
                        "run; give --task-id with one rank, or no --task-id (rank k runs runs k, k+%d, ...)\n",
                a->task_id, size, size);
        return 2;
    }
    if (a->task_id >= *njobs) {
        fprintf(stderr, "lrlab sweep: --task-id %ld: %s has %d runs (expected 0..%d; --count prints it)\n",
                a->task_id, path, *njobs, *njobs - 1);
        return 2;
    }
    if (size > 1 && !a->list) snprintf(rank_tag, sizeof rank_tag, "rank %d/%d: ", rank, size);
    for (int i = 0; i < *njobs; i++) {
        int mine = a->task_id >= 0 ? i == a->task_id : a->list || i % size == rank; /* --list: all */
        if (mine) {
            job t = jobs[kept];
            jobs[kept++] = jobs[i];
            jobs[i] = t;
        }
    }
    for (int i = kept; i < *njobs; i++) sweep_flags_free(&jobs[i].flags);
    *njobs = kept;
    return 0;
}

/* --dry-run: the exact commands. */
static void print_plan(const sweep_file *s, const job *jobs, int njobs, const char *out, const int count[3]) {
    printf("sweep %s (%s): %d runs into %s: %d to start, %d to resume, %d complete\n", s->name, s->path, njobs, out,
           count[JOB_NEW], count[JOB_RESUME], count[JOB_COMPLETE]);
    for (int i = 0; i < njobs; i++) {
        const job *j = &jobs[i];
        if (j->kind == JOB_COMPLETE) {
            printf("skip   %s: complete (%s/%s)\n", j->name, j->dir, RUN_WEIGHTS);
            continue;
        }
        char **words;
        int nw;
        char **av = child_argv(j, &words, &nw);
        printf("%s %s: ", j->kind == JOB_RESUME ? "resume" : "start ", j->name);
        if (av) runner_print_command(stdout, av);
        printf(" > %s\n", j->log);
        if (j->kind == JOB_RESUME && j->note[0]) printf("  note: started with other settings (%s); they are kept\n", j->note);
        free(av), runner_words_free(words, nw);
    }
}

/* Starts the next pending job (skipping complete ones); 1 when one started. */
static int start_next(job *jobs, int njobs, int *next) {
    while (*next < njobs) {
        job *j = &jobs[(*next)++];
        if (j->kind == JOB_COMPLETE) {
            j->state = ST_SKIPPED;
            say_result(j);
            continue;
        }
        if (j->kind == JOB_RESUME && j->note[0])
            say("  note: %s resumes with the settings it started with (%s/%s), not this command's: %s", j->name, j->dir,
                RUN_CONFIG, j->note);
        if (job_start(j) == 0) {
            if (!live) say("%s %s (epochs %d, log %s)", j->kind == JOB_RESUME ? "resume" : "start", j->name, j->epochs, j->log);
            return 1;
        }
        j->state = ST_FAILED;
        j->code = 1;
    }
    return 0;
}

/* Runs the jobs, at_once at a time, until all are done or a signal stops them. */
static void run_jobs(job *jobs, int njobs, long at_once) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int next = 0, running = 0, forwarded = 0;
    double last_draw = 0;
    for (;;) {
        if (stop_signal && !forwarded) {
            int sig = stop_signal == SIGINT ? SIGINT : SIGTERM;
            for (int i = 0; i < njobs; i++)
                if (jobs[i].state == ST_RUNNING) kill(jobs[i].pid, sig);
            forwarded = 1;
            say("interrupted: %d running run(s) checkpoint and stop; the same command resumes them", running);
        }
        while (!stop_signal && running < at_once && start_next(jobs, njobs, &next)) running++;
        if (!running) break;
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int i = 0; i < njobs; i++)
                if (jobs[i].state == ST_RUNNING && jobs[i].pid == pid) {
                    job_finished(&jobs[i], status);
                    running--;
                }
            continue;
        }
        if (pid < 0 && errno != EINTR) break; /* no children left: should not happen */
        if (live && lr_now() - last_draw >= 1.0) {
            view_draw(jobs, njobs);
            last_draw = lr_now();
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (live) view_clear();
}

/* The closing lines; returns the exit status. */
static int print_outcome(const sweep_file *s, const job *jobs, int njobs, const char *out) {
    int n[ST_STOPPED + 1] = {0};
    for (int i = 0; i < njobs; i++) n[jobs[i].state]++;
    printf("%ssweep %s: %d done, %d skipped (complete), %d failed, %d diverged", rank_tag, s->name, n[ST_DONE], n[ST_SKIPPED],
           n[ST_FAILED], n[ST_DIVERGED]);
    if (n[ST_STOPPED] || n[ST_PENDING]) printf(", %d stopped, %d not started", n[ST_STOPPED], n[ST_PENDING]);
    printf("; runs in %s\n", out);
    if (n[ST_FAILED] || n[ST_DIVERGED]) {
        printf("%s%s:", rank_tag, n[ST_FAILED] ? "failed" : "diverged");
        for (int i = 0; i < njobs; i++)
            if (jobs[i].state == ST_FAILED || jobs[i].state == ST_DIVERGED)
                printf(" %s%s", jobs[i].name, jobs[i].state == ST_DIVERGED && n[ST_FAILED] ? " (diverged)" : "");
        printf("  (logs: %s/NAME.log)\n", out);
    }
    fflush(stdout);
    return stop_signal ? 130 : n[ST_FAILED] ? 1 : n[ST_DIVERGED] ? 3 : 0;
}

/* Finds and loads the sweep file; 0, or the exit status (message printed). */
static int load_sweep(sweep_file *s, const char *file) {
    char path[1200];
    lr_error err;
    if (find_sweep_file(path, sizeof path, file)) {
        const char *const *dirs = cli_search_dirs("experiments");
        fprintf(stderr, "lrlab sweep: no sweep file '%s' (looked for %s and %s.sweep here", file, file, file);
        for (int d = 0; !strchr(file, '/') && dirs[d]; d++) fprintf(stderr, ", in %s", dirs[d]);
        fprintf(stderr, ")\n");
        return 2;
    }
    return sweep_load(s, path, &err) ? cli_error("sweep", &err, 2) : 0;
}

/* Makes OUT and runs the jobs; returns the exit status. */
static int run_sweep(const sweep_file *s, job *jobs, int njobs, const sweep_args *a, const char *out,
                     const int count[3]) {
    lr_error err;
    if (make_dirs(out, "--out", &err)) return cli_error("sweep", &err, 1);
    live = isatty(STDOUT_FILENO) && !rank_tag[0]; /* ranks share mpirun's terminal: plain lines */
    say("sweep %s: %d runs into %s (%d to start, %d to resume, %d complete); %ld at a time", s->name, njobs, out,
        count[JOB_NEW], count[JOB_RESUME], count[JOB_COMPLETE], a->jobs);
    run_jobs(jobs, njobs, a->jobs);
    return print_outcome(s, jobs, njobs, out);
}

int cli_sweep(int argc, char **argv) {
    sweep_args a;
    sweep_file s;
    memset(&s, 0, sizeof s);
    job *jobs = NULL;
    int njobs = 0, count[3] = {0};
    char out[1100];
    int rc = parse_args(&a, argc, argv); /* -1: --help shown */
    if (!rc) rc = load_sweep(&s, a.file);
    if (!rc) {
        if (a.out) snprintf(out, sizeof out, "%s", a.out);
        else snprintf(out, sizeof out, "runs/%s", s.name);
        jobs = calloc((size_t)s.n_runs * (size_t)(a.seeds ? a.seeds : 1), sizeof *jobs);
        rc = jobs ? build_jobs(jobs, &njobs, &s, &a, out) : (fprintf(stderr, "lrlab sweep: out of memory\n"), 1);
    }
    if (!rc && a.count) {
        printf("%d\n", njobs);
        rc = -1;
    }
    if (!rc) rc = deal_jobs(jobs, &njobs, &a, s.path);
    for (int i = 0; i < njobs; i++) count[jobs[i].kind]++;
    if (!rc && a.list) /* for scripts: `lrlab report $(lrlab sweep FILE --list)` */
        for (int i = 0; i < njobs; i++) printf("%s\n", jobs[i].dir);
    else if (!rc && a.dry) print_plan(&s, jobs, njobs, out, count);
    else if (!rc) rc = run_sweep(&s, jobs, njobs, &a, out, count);
    for (int i = 0; i < njobs; i++) sweep_flags_free(&jobs[i].flags);
    free(jobs);
    sweep_flags_free(&a.extra);
    sweep_free(&s);
    return rc < 0 ? 0 : rc;
}
