/* cli/report.c: `lrlab report` (not yet built: a placeholder that says so). */
#include <stdio.h>

#include "cli/cli.h"

int cli_report(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lrlab report: not implemented yet\n");
    return 2;
}
