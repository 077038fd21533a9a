/* lrlab/stats.h: the statistics of seed repeats: mean and sample standard
 * deviation, Student's t distribution (CDF and quantile, any real df > 0),
 * the t interval of a mean, Welch's two-sample comparison (difference,
 * interval, Welch–Satterthwaite df, two-sided p) and a seeded percentile
 * bootstrap of a mean. Plain numbers in, numbers out: no files, no runs
 * (lrlab report and plot call these on runs' metrics). */
#ifndef LRLAB_STATS_H
#define LRLAB_STATS_H

#include <stdint.h>

/* Mean and sample standard deviation (n - 1 in the denominator, as numpy's
 * std(ddof=1) and pandas); std is 0 for n = 1. NAN values are skipped;
 * *used says how many counted. */
void stats_mean_std(const double *x, int n, double *mean, double *std, int *used);

/* The regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1
 * (NAN outside): the continued fraction of Numerical Recipes (betacf,
 * modified Lentz), to about 1e-13. */
double stats_betai(double a, double b, double x);

/* P(T <= t) for Student's t with df > 0 degrees of freedom (df may be
 * fractional, as Welch's is; df = INFINITY is the normal). */
double stats_t_cdf(double t, double df);

/* The t with P(T <= t) = p, 0 < p < 1 (bisection on stats_t_cdf). */
double stats_t_quantile(double p, double df);

/* The two-sided `level` (e.g. 0.95) t interval of the mean of n >= 2
 * values with sample standard deviation sd: mean ± t_{(1+level)/2, n-1}
 * sd / sqrt(n). Returns the half width; NAN for n < 2. */
double stats_t_halfwidth(double sd, int n, double level);

/* Welch's comparison of two means (mean, sample sd, count of each; n >= 2
 * both): diff = m1 - m2, its standard error sqrt(s1²/n1 + s2²/n2), the
 * Welch–Satterthwaite df, the `level` interval of the difference and the
 * two-sided p of t = diff / se. When se is 0 (both samples constant) the
 * test is undefined: df, lo, hi and p are NAN. */
typedef struct {
    double diff, se, df, lo, hi, t, p;
} stats_welch;
void stats_welch_test(stats_welch *w, double m1, double s1, int n1, double m2, double s2, int n2,
                      double level);

/* The q-quantile (0 <= q <= 1) of sorted[0..n-1], linear between order
 * statistics (numpy's default, "linear"). */
double stats_quantile(const double *sorted, int n, double q);

/* Percentile bootstrap of the mean of x[0..n-1] (n >= 1): `resamples`
 * means of n draws with replacement, from lrlab's RNG seeded with seed
 * (stream RNG_STREAM_BOOTSTRAP), so the same inputs and seed give the same
 * interval. *lo, *hi: the (1-level)/2 and (1+level)/2 quantiles of those
 * means. Returns -1 (out of memory or resamples < 1), else 0. */
int stats_bootstrap_mean(double *lo, double *hi, const double *x, int n, int resamples, uint64_t seed,
                         double level);

#endif
