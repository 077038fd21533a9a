/* cli/common.c: what several verbs share: where models/ and experiments/
 * are found (the working directory, then beside the executable: a build
 * tree's ../models or an install prefix's ../share/lrlab/models), and the
 * error printer. */
#define _POSIX_C_SOURCE 200809L
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const char *const *cli_search_dirs(const char *sub) {
    static char dirs[2][4][1100];
    static const char *list[2][5];
    int k = strcmp(sub, "models") ? 1 : 0;
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

int cli_error(const char *verb, const lr_error *err, int code) {
    fprintf(stderr, "lrlab %s: %s\n", verb, err->msg);
    return code;
}
