/* core/stats.c: the statistics of seed repeats (lrlab/stats.h): mean and
 * sd, Student's t CDF through the regularized incomplete beta function
 * (Numerical Recipes 2nd ed., 6.4: betai, betacf with the modified Lentz
 * method), its quantile by bisection, t intervals, Welch's test and a
 * seeded percentile bootstrap. Checked against t tables, the closed forms
 * for df = 1, 2, 4 and R's Welch test on the sleep data (tests/test_stats.c).
 * Not here: which runs form a group, or printing (io/runs.c, cli/report.c). */
#define _POSIX_C_SOURCE 200809L
#include "lrlab/stats.h"

#include <math.h>
#include <stdlib.h>

#include "lrlab/rng.h"

void stats_mean_std(const double *x, int n, double *mean, double *std, int *used) {
    double sum = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) sum += x[i], k++;
    *used = k;
    *mean = k ? sum / k : NAN;
    *std = 0;
    if (k < 2) return;
    double ss = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) ss += (x[i] - *mean) * (x[i] - *mean);
    *std = sqrt(ss / (k - 1));
}

/* The continued fraction of I_x(a, b), evaluated by the modified Lentz method (NR betacf). */
static double betacf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-15;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 100000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

double stats_betai(double a, double b, double x) {
    if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1)) return NAN;
    if (x == 0 || x == 1) return x;
    double bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    /* the fraction converges fast for x < (a+1)/(a+b+2); else use I_x(a,b) = 1 - I_{1-x}(b,a) */
    if (x < (a + 1) / (a + b + 2)) return bt * betacf(a, b, x) / a;
    return 1 - bt * betacf(b, a, 1 - x) / b;
}

double stats_t_cdf(double t, double df) {
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return t > 0 ? 1 : 0;
    if (df > 1e7) return 0.5 * erfc(-t / sqrt(2.0)); /* the normal, to ~1e-8 */
    /* P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2) */
    double tail = 0.5 * stats_betai(df / 2, 0.5, df / (df + t * t));
    return t > 0 ? 1 - tail : tail;
}

double stats_t_quantile(double p, double df) {
    if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
    if (p < 0.5) return -stats_t_quantile(1 - p, df);
    double lo = 0, hi = 1;
    while (stats_t_cdf(hi, df) < p && hi < 1e300) lo = hi, hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (stats_t_cdf(mid, df) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

double stats_t_halfwidth(double sd, int n, double level) {
    if (n < 2) return NAN;
    return stats_t_quantile(0.5 + level / 2, n - 1) * sd / sqrt((double)n);
}

void stats_welch_test(stats_welch *w, double m1, double s1, int n1, double m2, double s2, int n2,
                      double level) {
    double v1 = s1 * s1 / n1, v2 = s2 * s2 / n2;
    w->diff = m1 - m2;
    w->se = sqrt(v1 + v2);
    w->df = w->lo = w->hi = w->t = w->p = NAN;
    if (n1 < 2 || n2 < 2 || !(w->se > 0)) return;
    /* Welch–Satterthwaite */
    w->df = (v1 + v2) * (v1 + v2) / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1));
    double q = stats_t_quantile(0.5 + level / 2, w->df);
    w->lo = w->diff - q * w->se;
    w->hi = w->diff + q * w->se;
    w->t = w->diff / w->se;
    w->p = 2 * stats_t_cdf(-fabs(w->t), w->df);
}

double stats_quantile(const double *sorted, int n, double q) {
    if (n < 1) return NAN;
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return sorted[n - 1];
    return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int stats_bootstrap_mean(double *lo, double *hi, const double *x, int n, int resamples, uint64_t seed,
                         double level) {
    *lo = *hi = NAN;
    if (n < 1 || resamples < 1) return -1;
    double *means = malloc((size_t)resamples * sizeof *means);
    if (!means) return -1;
    lr_rng r;
    rng_init(&r, seed, RNG_STREAM_BOOTSTRAP, 0);
    for (int b = 0; b < resamples; b++) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += x[rng_below(&r, (uint32_t)n)];
        means[b] = sum / n;
    }
    qsort(means, (size_t)resamples, sizeof *means, cmp_double);
    *lo = stats_quantile(means, resamples, (1 - level) / 2);
    *hi = stats_quantile(means, resamples, (1 + level) / 2);
    free(means);
    return 0;
}
