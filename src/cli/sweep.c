/* cli/sweep.c: `lrlab sweep` (not yet built: a placeholder that says so). */
#include <stdio.h>

#include "cli/cli.h"

int cli_sweep(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lrlab sweep: not implemented yet\n");
    return 2;
}
