/* cli/eval.c: `lrlab eval` (not yet built: a placeholder that says so). */
#include <stdio.h>

#include "cli/cli.h"

int cli_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "lrlab eval: not implemented yet\n");
    return 2;
}
