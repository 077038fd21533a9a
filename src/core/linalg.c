/* core/linalg.c: cyclic Jacobi eigendecomposition of a small symmetric
 * matrix (lrlab/linalg.h; Golub & Van Loan, Matrix Computations, 8.5, with
 * the rotation of Numerical Recipes 11.1 that avoids cancellation). Exact to
 * a few ulps of the largest eigenvalue; tests/test_linalg.c checks A V = V W
 * and V'V = I on random and degenerate matrices. */
#include "lrlab/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double off_norm2(const double *a, int n) {
    double s = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) s += a[i * n + j] * a[i * n + j];
    return s;
}

/* One rotation in the (p, q) plane zeroing a[p][q]; v accumulates it. */
static void rotate(double *a, double *v, int n, int p, int q) {
    double apq = a[p * n + q];
    if (apq == 0) return;
    double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
    double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
    double c = 1 / sqrt(t * t + 1), s = t * c;
    for (int k = 0; k < n; k++) { /* columns p, q */
        double akp = a[k * n + p], akq = a[k * n + q];
        a[k * n + p] = c * akp - s * akq, a[k * n + q] = s * akp + c * akq;
    }
    for (int k = 0; k < n; k++) { /* rows p, q */
        double apk = a[p * n + k], aqk = a[q * n + k];
        a[p * n + k] = c * apk - s * aqk, a[q * n + k] = s * apk + c * aqk;
    }
    for (int k = 0; k < n; k++) {
        double vkp = v[k * n + p], vkq = v[k * n + q];
        v[k * n + p] = c * vkp - s * vkq, v[k * n + q] = s * vkp + c * vkq;
    }
}

/* Sorts the pairs by eigenvalue, ascending, and fixes each vector's sign. */
static void order_and_sign(int n, double *w, double *v) {
    for (int i = 1; i < n; i++) /* insertion sort, columns move with their values */
        for (int j = i; j > 0 && w[j] < w[j - 1]; j--) {
            double t = w[j];
            w[j] = w[j - 1], w[j - 1] = t;
            for (int k = 0; k < n; k++) t = v[k * n + j], v[k * n + j] = v[k * n + j - 1], v[k * n + j - 1] = t;
        }
    for (int j = 0; j < n; j++) {
        int big = 0;
        for (int k = 1; k < n; k++)
            if (fabs(v[k * n + j]) > fabs(v[big * n + j])) big = k;
        if (v[big * n + j] < 0)
            for (int k = 0; k < n; k++) v[k * n + j] = -v[k * n + j];
    }
}

int linalg_eigh(double *a, int n, double *w, double *v) {
    memset(v, 0, sizeof(double) * (size_t)n * n);
    for (int i = 0; i < n; i++) v[i * n + i] = 1;
    double total = 0;
    for (int i = 0; i < n * n; i++) total += a[i] * a[i];
    int sweep = 0;
    for (; sweep < 64 && off_norm2(a, n) > 1e-32 * total; sweep++)
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) rotate(a, v, n, p, q);
    for (int i = 0; i < n; i++) w[i] = a[i * n + i];
    order_and_sign(n, w, v);
    return sweep < 64 ? sweep : -1;
}
