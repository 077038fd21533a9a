/* lrlab/linalg.h: the little dense linear algebra lrlab needs, in double:
 * the eigendecomposition of a small symmetric matrix (the whitening init's
 * patch covariance, model/whiten.c). Not a BLAS: sizes are tens. */
#ifndef LRLAB_LINALG_H
#define LRLAB_LINALG_H

/* Eigenvalues and eigenvectors of the symmetric n x n matrix a (row-major;
 * destroyed) by cyclic Jacobi rotations, as torch.linalg.eigh: w[0..n-1]
 * ascending, v row-major with column j the unit eigenvector of w[j]. An
 * eigenvector's sign is free in any solver (LAPACK's too); here each is
 * signed so that its component of largest magnitude (the first of equal
 * ones) is positive. Returns the sweeps taken, -1 if 64 were not enough. */
int linalg_eigh(double *a, int n, double *w, double *v);

#endif
