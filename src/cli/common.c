/* cli/common.c: what several verbs share: where models/ and experiments/
 * are found (the working directory, then beside the executable: a build
 * tree's ../models or an install prefix's ../share/lrlab/models; the same
 * for the default data directory), the
 * error printer, and the flag matcher with its "did you mean". */
#define _POSIX_C_SOURCE 200809L
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lrlab/config.h"
#include "lrlab/data.h"

const char *const *cli_search_dirs(const char *sub) {
    static char dirs[3][4][1100];
    static const char *list[3][5];
    int k = !strcmp(sub, "models") ? 0 : !strcmp(sub, "experiments") ? 1 : 2;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", cli_self_path());
    char *dir = dirname(exe);
    snprintf(dirs[k][0], sizeof dirs[k][0], "%s", sub);
    snprintf(dirs[k][1], sizeof dirs[k][1], "%s/../%s", dir, sub);
    snprintf(dirs[k][2], sizeof dirs[k][2], "%s/../share/lrlab/%s", dir, sub);
    for (int i = 0; i < 3; i++) list[k][i] = dirs[k][i];
    list[k][3] = NULL;
    return list[k];
}

void cli_default_data(train_config *c) {
    if (c->data[0]) return;
    const char *def = dataset_default_path(c->dataset);
    if (!def || strlen(def) >= sizeof c->data) return; /* an unknown format: the loader says so */
    snprintf(c->data, sizeof c->data, "%s", def);
    if (strncmp(def, "data/", 5) || access(def, F_OK) == 0) return; /* $CIFAR10_DIR, an absolute path, or here */
    const char *const *dirs = cli_search_dirs("data");
    for (int i = 1; dirs[i]; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dirs[i], def + 5);
        if (access(path, F_OK) == 0 && strlen(path) < sizeof c->data) {
            snprintf(c->data, sizeof c->data, "%s", path);
            return;
        }
    }
}

int cli_error(const char *verb, const lr_error *err, int code) {
    fprintf(stderr, "lrlab %s: %s\n", verb, err->msg);
    return code;
}

int cli_take(int argc, char **argv, int *i, const cli_opt *opts, const char *verb) {
    const char *a = argv[*i];
    for (const cli_opt *o = opts; o && o->name; o++) {
        size_t n = strlen(o->name);
        if (strncmp(a, o->name, n) || (a[n] != '\0' && a[n] != '=')) continue;
        if (!o->value) { /* a switch */
            if (a[n] == '=') break;
            *o->on = 1;
            return 1;
        }
        if (a[n] == '=') *o->value = a + n + 1;
        else if (*i + 1 < argc) *o->value = argv[++*i];
        else {
            fprintf(stderr, "lrlab %s: %s: missing value (lrlab %s --help lists the flags)\n", verb, o->name, verb);
            return -1;
        }
        return 1;
    }
    return 0;
}

int cli_unknown(const char *verb, const char *arg, const cli_opt *opts, int settings) {
    const char *names[160];
    int n = 0;
    names[n++] = "--help";
    for (const cli_opt *o = opts; o && o->name && n < 80; o++) names[n++] = o->name;
    for (const char *const *f = config_flags(); settings && *f && n < 159; f++) names[n++] = *f;
    names[n] = NULL;
    const char *near = lr_nearest(arg, (int)strcspn(arg, "="), names, 3);
    fprintf(stderr, "lrlab %s: unknown %s '%s' (%s%s%slrlab %s --help lists them)\n", verb,
            arg[0] == '-' ? "flag" : "argument", arg, near ? "did you mean " : "", near ? near : "",
            near ? "? " : "", verb);
    return 2;
}

int cli_run_settings(train_config *c, const char *cfg_path, int model_given, int dataset_given, int data_given,
                     lr_error *err) {
    train_config run;
    config_defaults(&run);
    if (config_read(&run, cfg_path, err)) return -1;
    if (!model_given) snprintf(c->model, sizeof c->model, "%s", run.model);
    if (!dataset_given) {
        snprintf(c->dataset, sizeof c->dataset, "%s", run.dataset);
        snprintf(c->resize, sizeof c->resize, "%s", run.resize);
        snprintf(c->normalize, sizeof c->normalize, "%s", run.normalize);
        snprintf(c->transform, sizeof c->transform, "%s", run.transform);
        c->labels_coarse = run.labels_coarse;
    }
    if (!data_given && !dataset_given && strcmp(run.dataset, "cifar10"))
        snprintf(c->data, sizeof c->data, "%s", run.data);
    return 0;
}
