/* cli/plot.c: `lrlab plot` (not yet built: a placeholder that says so). */
#include <stdio.h>

#include "cli/cli.h"

int cli_plot(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lrlab plot: not implemented yet\n");
    return 2;
}
