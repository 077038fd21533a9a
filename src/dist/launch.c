/* dist/launch.c: the launcher's rank and size from the environment
 * (lrlab/dist.h); no MPI here, so `lrlab sweep` deals runs out to ranks in
 * every build. */
#define _DEFAULT_SOURCE
#include "lrlab/dist.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

/* The variable as an int >= min, or -1 when absent or not a number. */
static int env_int(const char *name, int min) {
    const char *s = getenv(name);
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return (*end && *end != '(' && *end != ',') || v < min || v > 1000000 ? -1 : (int)v;
}

void dist_launch_rank(int *rank, int *size) {
    static const char *const pairs[][2] = {{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                           {"PMI_RANK", "PMI_SIZE"},
                                           {"SLURM_PROCID", "SLURM_STEP_NUM_TASKS"}};
    *rank = 0, *size = 1;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int r = env_int(pairs[i][0], 0), n = env_int(pairs[i][1], 1);
        if (r >= 0 && n >= 1 && r < n) {
            *rank = r, *size = n;
            return;
        }
    }
}

int dist_launch_local_size(void) {
    int n = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
    if (n < 1) n = env_int("SLURM_STEP_TASKS_PER_NODE", 1); /* "2(x3),1": the first node's */
    return n < 1 ? 1 : n;
}

/* Prefixes of the variables a launcher sets for its ranks. */
static int launcher_var(const char *kv) {
    static const char *const prefixes[] = {"OMPI_", "PMIX_", "PMI_", "SLURM_PROCID=", "SLURM_STEP_NUM_TASKS="};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(kv, prefixes[i], strlen(prefixes[i]))) return 1;
    return 0;
}

void dist_launch_forget(void) {
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; e && *e; e++)
            if (launcher_var(*e)) {
                char name[256];
                size_t n = strcspn(*e, "=");
                if (n >= sizeof name) continue;
                memcpy(name, *e, n), name[n] = '\0';
                unsetenv(name); /* environ changed: scan again */
                again = 1;
                break;
            }
    }
}
