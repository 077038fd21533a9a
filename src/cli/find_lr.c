/* cli/find_lr.c: `lrlab find-lr` (not yet built: a placeholder that says so). */
#include <stdio.h>

#include "cli/cli.h"

int cli_find_lr(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lrlab find-lr: not implemented yet\n");
    return 2;
}
