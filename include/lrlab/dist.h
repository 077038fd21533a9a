/* lrlab/dist.h: running as one of several processes (ranks) started by a
 * launcher (mpirun, srun). Two parts:
 *
 * - the launcher's rank and size, read from its environment (no MPI needed):
 *   `lrlab sweep` deals its runs out by them (src/dist/launch.c);
 * - data-parallel training over MPI (src/dist/dist.c): built with MPI when
 *   `make` finds it (or MPI=1), else a stub of one rank, so that the trainer
 *   calls the same functions in every build.
 *
 * Determinism: every sum over ranks is done in rank order 0, 1, ..., N-1
 * (each rank sums its slice of the vector in that order after an
 * all-to-all exchange, then the slices are gathered), never by
 * MPI_Allreduce, whose summation order depends on the algorithm Open MPI
 * picks: a run with the same N is bit-identical from run to run. */
#ifndef LRLAB_DIST_H
#define LRLAB_DIST_H

#include <stddef.h>

#include "lrlab/common.h"

/* ---- the launcher (src/dist/launch.c) ---- */

/* This process's rank and the number of ranks, as the launcher's
 * environment says: OMPI_COMM_WORLD_RANK/SIZE (Open MPI's mpirun),
 * PMI_RANK/PMI_SIZE (MPICH, srun --mpi=pmi2), SLURM_PROCID with
 * SLURM_STEP_NUM_TASKS (srun). 0 of 1 when started by none of them. */
void dist_launch_rank(int *rank, int *size);

/* Ranks of this job on this machine (OMPI_COMM_WORLD_LOCAL_SIZE,
 * SLURM_STEP_TASKS_PER_NODE's first number), 1 when unknown: a rank's share
 * of the cores is cores / local ranks. */
int dist_launch_local_size(void);

/* Removes the launcher's variables from this process's environment, so that
 * a child it starts (a sweep's `lrlab train`) is a plain single process. */
void dist_launch_forget(void);

/* ---- data-parallel training (src/dist/dist.c) ---- */

/* Joins the MPI job when started by a launcher (and built with MPI); a
 * no-op otherwise. After it, dist_rank()/dist_size() are the job's. A
 * launcher's environment in a build without MPI is an error (a run started
 * N times would train N independent copies into one directory). */
int dist_init(int *argc, char ***argv, lr_error *err);
int dist_rank(void);
int dist_size(void);
int dist_built_with_mpi(void);

/* Leaves the job: MPI_Finalize when status is 0 or every rank reached it
 * together (collective: a divergence or a stop decided on summed values);
 * else MPI_Abort(status), which ends the other ranks, which may be waiting
 * in a collective. No-op with one rank. */
void dist_finish(int status, int collective);

/* v (n floats) becomes the sum over ranks, in rank order (see above); scratch
 * is allocated once and kept. 0, or -1 with err set. */
int dist_sum_floats(float *v, long n, lr_error *err);

/* The same for a few doubles (loss sums, counts): every rank gathers all and
 * adds them in rank order. */
int dist_sum_doubles(double *v, int n, lr_error *err);

/* dist_sum_doubles for --sync-bn's BatchNorm kernels (net_config.bn_sum):
 * 0, or -1 (the MPI error is reported by the next gradient sum). */
int dist_sum_moments(double *v, int n);

/* Rank 0's bytes to every rank. */
int dist_broadcast(void *buf, size_t bytes, lr_error *err);

#endif
