/* dist/dist.c: data-parallel training over MPI (lrlab/dist.h), or, built
 * without MPI (LRLAB_MPI 0 in $(BUILD)/mpi.h), the same functions for one
 * rank. Only the main thread calls MPI (MPI_THREAD_FUNNELED); errors return
 * (MPI_ERRORS_RETURN) so that a lost rank becomes a message naming the
 * collective, not a silent abort. */
#include "lrlab/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LRLAB_MPI /* compiled without $(BUILD)/mpi.h (fuzz builds): the stub */
#define LRLAB_MPI 0
#endif
#if LRLAB_MPI
#include <mpi.h>
#endif

static int g_rank, g_size = 1, g_mpi;

int dist_sum_moments(double *v, int n) { return dist_sum_doubles(v, n, NULL); }

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }
int dist_built_with_mpi(void) { return LRLAB_MPI; }

#if LRLAB_MPI

/* The error of an MPI call as lr_fail's message; -1. */
static int mpi_fail(lr_error *err, const char *what, int code) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", code);
    return lr_fail(err, "rank %d of %d: %s failed: %s (did another rank die? the run directory keeps the last "
                        "checkpoint: resume it)", g_rank, g_size, what, text);
}

int dist_init(int *argc, char ***argv, lr_error *err) {
    int rank, size, provided, rc;
    dist_launch_rank(&rank, &size);
    if (size == 1) return 0; /* alone: no MPI, as in a build without it */
    if ((rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS)
        return lr_fail(err, "rank %d of %d: MPI_Init_thread failed (error %d)", rank, size, rc);
    g_mpi = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (provided < MPI_THREAD_FUNNELED)
        return lr_fail(err, "rank %d: this MPI gives thread level %d, lrlab needs MPI_THREAD_FUNNELED (OpenMP and the "
                            "loader thread run beside the MPI calls of the main thread)", g_rank, provided);
    return 0;
}

void dist_finish(int status, int collective) {
    if (!g_mpi) return;
    if (status != 0 && !collective) MPI_Abort(MPI_COMM_WORLD, status); /* the others may wait in a collective */
    MPI_Finalize();
    g_mpi = 0;
}

int dist_sum_floats(float *v, long n, lr_error *err) {
    if (g_size == 1) return 0;
    static float *scratch;
    static long cap;
    static int *counts, *displs, *rcounts, *rdispls;
    int size = g_size, me = g_rank;
    if (n > 2147483647L) return lr_fail(err, "dist_sum_floats: %ld values, more than MPI's int counts", n);
    if (!counts && !(counts = calloc((size_t)size * 4, sizeof *counts)))
        return lr_fail(err, "out of memory (MPI counts)");
    displs = counts + size, rcounts = counts + 2 * size, rdispls = counts + 3 * size;
    for (int k = 0; k < size; k++) {
        displs[k] = (int)(n * k / size);
        counts[k] = (int)(n * (k + 1) / size) - displs[k];
    }
    int mine = counts[me];
    for (int k = 0; k < size; k++) rcounts[k] = mine, rdispls[k] = k * mine;
    if ((long)size * mine > cap) {
        free(scratch);
        cap = (long)size * mine;
        if (!(scratch = malloc((size_t)cap * sizeof *scratch))) return cap = 0, lr_fail(err, "out of memory (MPI sums)");
    }
    /* every rank gets its slice from all ranks, adds them in rank order, and
     * the sums are gathered: the order is fixed, whatever the algorithms */
    int rc = MPI_Alltoallv(v, counts, displs, MPI_FLOAT, scratch, rcounts, rdispls, MPI_FLOAT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(err, "MPI_Alltoallv (summing gradients)", rc);
    float *out = v + displs[me];
    for (int i = 0; i < mine; i++) {
        float s = scratch[i];
        for (int k = 1; k < size; k++) s += scratch[(long)k * mine + i];
        out[i] = s;
    }
    rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
    return rc != MPI_SUCCESS ? mpi_fail(err, "MPI_Allgatherv (summing gradients)", rc) : 0;
}

int dist_sum_doubles(double *v, int n, lr_error *err) {
    if (g_size == 1) return 0;
    double *all = malloc((size_t)g_size * (size_t)n * sizeof *all);
    if (!all) return lr_fail(err, "out of memory (MPI sums)");
    int rc = MPI_Allgather(v, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS)
        for (int i = 0; i < n; i++) {
            double s = all[i];
            for (int k = 1; k < g_size; k++) s += all[(long)k * n + i];
            v[i] = s;
        }
    free(all);
    return rc != MPI_SUCCESS ? mpi_fail(err, "MPI_Allgather (summing losses and counts)", rc) : 0;
}

int dist_broadcast(void *buf, size_t bytes, lr_error *err) {
    if (g_size == 1) return 0;
    if (bytes > 2147483647u) return lr_fail(err, "dist_broadcast: %zu bytes, more than MPI's int counts", bytes);
    int rc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    return rc != MPI_SUCCESS ? mpi_fail(err, "MPI_Bcast", rc) : 0;
}

#else /* one rank */

int dist_init(int *argc, char ***argv, lr_error *err) {
    (void)argc, (void)argv;
    int rank, size;
    dist_launch_rank(&rank, &size);
    if (size > 1)
        return lr_fail(err, "started as rank %d of %d (mpirun, srun), but this lrlab was built without MPI: every rank "
                            "would train the whole run alone; build with MPI (libopenmpi-dev installed, `make MPI=1`) "
                            "or start one process", rank, size);
    return 0;
}

void dist_finish(int status, int collective) { (void)status, (void)collective; }

int dist_sum_floats(float *v, long n, lr_error *err) { return (void)v, (void)n, (void)err, 0; }
int dist_sum_doubles(double *v, int n, lr_error *err) { return (void)v, (void)n, (void)err, 0; }
int dist_broadcast(void *buf, size_t bytes, lr_error *err) { return (void)buf, (void)bytes, (void)err, 0; }

#endif
