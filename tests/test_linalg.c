/* tests/test_linalg.c: core/linalg.c's Jacobi eigendecomposition against
 * what defines it: A V = V diag(w) and V'V = I to 1e-12 (relative to A's
 * size), w ascending, each vector's largest component positive; on random
 * symmetric matrices of sizes 1..27 (27 = a 3x3 patch of 3 channels), a
 * rank-one matrix, a diagonal one, the identity (every vector a unit
 * vector), and a matrix with known eigenvalues (Q diag(1..n) Q'). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/linalg.h"
#include "lrlab/rng.h"
#include "test.h"

#define N_MAX 27

/* Checks the decomposition of a (kept intact) of size n; returns the largest residual. */
static double check_eigh(const double *a, int n, const char *what, double *w_out) {
    double work[N_MAX * N_MAX], w[N_MAX], v[N_MAX * N_MAX], scale = 0;
    memcpy(work, a, sizeof(double) * n * n);
    for (int i = 0; i < n * n; i++) scale = fmax(scale, fabs(a[i]));
    int sweeps = linalg_eigh(work, n, w, v);
    CHECK(sweeps >= 0, "%s: no convergence", what);
    double worst = 0;
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < n; i++) {
            double av = 0, vtv = 0;
            for (int k = 0; k < n; k++) av += a[i * n + k] * v[k * n + j], vtv += v[k * n + i] * v[k * n + j];
            worst = fmax(worst, fabs(av - w[j] * v[i * n + j]) / fmax(scale, 1e-300));
            CHECK(fabs(vtv - (i == j)) <= 1e-12, "%s: V'V[%d][%d] = %.3g", what, i, j, vtv);
        }
        CHECK(j == 0 || w[j] >= w[j - 1], "%s: w[%d] = %g < w[%d] = %g", what, j, w[j], j - 1, w[j - 1]);
        int big = 0;
        for (int k = 1; k < n; k++)
            if (fabs(v[k * n + j]) > fabs(v[big * n + j])) big = k;
        CHECK(v[big * n + j] > 0, "%s: vector %d's largest component is negative", what, j);
    }
    CHECK(worst <= 1e-12, "%s: |A V - V W| = %.3g of |A|", what, worst);
    if (w_out) memcpy(w_out, w, sizeof(double) * n);
    return worst;
}

static void random_symmetric(double *a, int n, lr_rng *r) {
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng_uniform(r) * 2 - 1;
}

int main(void) {
    lr_rng r;
    rng_init(&r, 7, 1, 0);
    double a[N_MAX * N_MAX], w[N_MAX];
    char what[64];
    for (int n = 1; n <= N_MAX; n++) {
        random_symmetric(a, n, &r);
        snprintf(what, sizeof what, "random %dx%d", n, n);
        check_eigh(a, n, what, NULL);
    }
    /* rank one: u u', eigenvalues 0 (n-1 times) and |u|^2 */
    int n = 12;
    double u[12], uu = 0;
    for (int i = 0; i < n; i++) u[i] = rng_uniform(&r) - 0.5, uu += u[i] * u[i];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) a[i * n + j] = u[i] * u[j];
    check_eigh(a, n, "rank one", w);
    CHECK(fabs(w[n - 1] - uu) <= 1e-12 * uu && fabs(w[0]) <= 1e-12 * uu, "rank one: w = %g .. %g, want 0 .. %g",
          w[0], w[n - 1], uu);
    /* the identity and a diagonal: nothing to rotate */
    memset(a, 0, sizeof a);
    for (int i = 0; i < n; i++) a[i * n + i] = 1;
    check_eigh(a, n, "identity", NULL);
    for (int i = 0; i < n; i++) a[i * n + i] = n - i;
    check_eigh(a, n, "diagonal", w);
    for (int i = 0; i < n; i++) CHECK(w[i] == i + 1, "diagonal: w[%d] = %g, want %d", i, w[i], i + 1);
    /* Q diag(1..n) Q' with Q a product of Householder reflections: eigenvalues 1..n */
    double q[12 * 12], h[12], t[12 * 12];
    memset(q, 0, sizeof q);
    for (int i = 0; i < n; i++) q[i * n + i] = 1;
    for (int rep = 0; rep < 3; rep++) {
        double hh = 0;
        for (int i = 0; i < n; i++) h[i] = rng_uniform(&r) - 0.5, hh += h[i] * h[i];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) s += ((i == k) - 2 * h[i] * h[k] / hh) * q[k * n + j];
                t[i * n + j] = s;
            }
        memcpy(q, t, sizeof q);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += q[i * n + k] * (k + 1) * q[j * n + k];
            a[i * n + j] = s;
        }
    check_eigh(a, n, "Q diag(1..12) Q'", w);
    for (int i = 0; i < n; i++) CHECK(fabs(w[i] - (i + 1)) <= 1e-12 * n, "known: w[%d] = %.17g, want %d", i, w[i], i + 1);
    return test_summary("test_linalg");
}
