/* cli/schedule.c: `lrlab schedule` (not yet built: a placeholder that says so). */
#include <stdio.h>

#include "cli/cli.h"

int cli_schedule(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lrlab schedule: not implemented yet\n");
    return 2;
}
