/* tests/test_stats.c: core/stats.c against values computed independently
 * (scipy is not a dependency): the closed forms of Student's t for df = 1,
 * 2 and 4, published t-table quantiles, R's Welch test on its `sleep` data
 * (t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776,
 * p = 0.07939, 95% CI -3.3654832 .. 0.2054832), a Welch example worked by
 * hand, the incomplete beta function's special cases, numpy's linear
 * quantile, and the bootstrap's determinism and coverage. */
#include <math.h>

#include "lrlab/stats.h"
#include "test.h"

#define NEAR(got, want, tol, what) \
    CHECK(fabs((got) - (want)) <= (tol), "%s: got %.12g, want %.12g", what, (double)(got), (double)(want))

static void incomplete_beta(void) {
    for (double x = 0; x <= 1.0001; x += 0.125) {
        NEAR(stats_betai(1, 1, x), x, 1e-13, "I_x(1,1) = x");
        NEAR(stats_betai(3, 1, x), x * x * x, 1e-13, "I_x(3,1) = x^3");
        NEAR(stats_betai(1, 2.5, x), 1 - pow(1 - x, 2.5), 1e-13, "I_x(1,2.5) = 1-(1-x)^2.5");
    }
    NEAR(stats_betai(7.3, 7.3, 0.5), 0.5, 1e-13, "I_0.5(a,a) = 1/2");
    CHECK(isnan(stats_betai(-1, 1, 0.5)) && isnan(stats_betai(1, 1, 1.5)), "out of domain is NAN");
}

/* df = 4: F(t) = 1/2 + (3/8) u (1 - u²/12 ... ) with the exact form below (u = t / sqrt(1 + t²/4)) */
static double t4_cdf(double t) {
    double a = 1 + t * t / 4;
    return 0.5 + 0.375 * (t / sqrt(a)) * (1 - t * t / (12 * a));
}

static void t_distribution(void) {
    const double pi = 3.14159265358979323846;
    for (double t = -30; t <= 30; t += 0.37) {
        NEAR(stats_t_cdf(t, 1), 0.5 + atan(t) / pi, 1e-12, "Cauchy CDF (df 1)");
        NEAR(stats_t_cdf(t, 2), 0.5 + t / (2 * sqrt(2 + t * t)), 1e-12, "df 2 CDF");
        NEAR(stats_t_cdf(t, 4), t4_cdf(t), 1e-12, "df 4 CDF");
    }
    for (double p = 0.01; p < 1; p += 0.049) {
        NEAR(stats_t_quantile(p, 1), tan(pi * (p - 0.5)), 1e-9 * fmax(1, fabs(tan(pi * (p - 0.5)))), "df 1 quantile");
        NEAR(stats_t_quantile(p, 2), (2 * p - 1) / sqrt(2 * p * (1 - p)), 1e-10, "df 2 quantile");
        NEAR(stats_t_cdf(stats_t_quantile(p, 3.7), 3.7), p, 1e-12, "quantile inverts the CDF at df 3.7");
    }
    /* t tables (two-sided 95%, one-sided 95%, two-sided 99%) */
    static const struct { double p, df, t; } table[] = {
        {0.975, 1, 12.7062047}, {0.975, 2, 4.3026527}, {0.975, 3, 3.1824463}, {0.975, 4, 2.7764451},
        {0.975, 5, 2.5705818},  {0.975, 9, 2.2621572}, {0.975, 10, 2.2281389}, {0.975, 30, 2.0422725},
        {0.975, 100, 1.9839715}, {0.95, 10, 1.8124611}, {0.995, 5, 4.0321430}, {0.975, INFINITY, 1.9599640},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        char what[64];
        snprintf(what, sizeof what, "t table p %g df %g", table[i].p, table[i].df);
        NEAR(stats_t_quantile(table[i].p, table[i].df), table[i].t, 2e-7, what);
    }
    NEAR(stats_t_cdf(2.0, 5), 1 - 0.050969739, 1e-8, "P(T5 <= 2)");
    CHECK(isnan(stats_t_quantile(1, 5)) && isnan(stats_t_cdf(1, 0)), "bad arguments are NAN");
}

static void intervals(void) {
    double x[3] = {1, 2, 3}, m, s;
    int used;
    stats_mean_std(x, 3, &m, &s, &used);
    NEAR(m, 2, 0, "mean");
    NEAR(s, 1, 1e-15, "sd");
    NEAR(stats_t_halfwidth(s, 3, 0.95), 4.30265272975 / sqrt(3.0), 1e-7, "t interval, n 3");
    CHECK(isnan(stats_t_halfwidth(1, 1, 0.95)), "no interval from one value");
}

static void welch(void) {
    /* R's sleep data, Welch (the default of t.test) */
    double g1[10] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
    double g2[10] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
    double m1, s1, m2, s2;
    int u;
    stats_mean_std(g1, 10, &m1, &s1, &u);
    stats_mean_std(g2, 10, &m2, &s2, &u);
    stats_welch w;
    stats_welch_test(&w, m1, s1, 10, m2, s2, 10, 0.95);
    NEAR(w.diff, -1.58, 1e-12, "sleep: difference");
    NEAR(w.t, -1.8608, 5e-5, "sleep: t");
    NEAR(w.df, 17.776, 5e-4, "sleep: Welch df");
    NEAR(w.p, 0.07939, 5e-6, "sleep: p");
    NEAR(w.lo, -3.3654832, 5e-7, "sleep: CI low");
    NEAR(w.hi, 0.2054832, 5e-7, "sleep: CI high");
    /* by hand: {3,4,5} vs {1,2,3}: diff 2, se sqrt(2/3), df (2/3)² / (2 (1/3)² / 2) = 4 exactly,
     * t = sqrt(6), p = 2 (1 - F4(sqrt 6)) = 0.0704839 */
    stats_welch_test(&w, 4, 1, 3, 2, 1, 3, 0.95);
    NEAR(w.df, 4, 1e-12, "hand: df");
    NEAR(w.t, sqrt(6.0), 1e-12, "hand: t");
    NEAR(w.p, 2 * (1 - t4_cdf(sqrt(6.0))), 1e-10, "hand: p");
    NEAR(w.p, 0.0704839, 1e-6, "hand: p value");
    NEAR(w.lo, 2 - 2.7764451052 * sqrt(2.0 / 3), 1e-8, "hand: CI low");
    /* both samples constant: no test */
    stats_welch_test(&w, 4, 0, 3, 2, 0, 3, 0.95);
    CHECK(w.diff == 2 && isnan(w.p) && isnan(w.lo), "zero variance: difference only");
    stats_welch_test(&w, 4, 1, 1, 2, 1, 3, 0.95);
    CHECK(isnan(w.p), "n = 1: no test");
}

static void bootstrap(void) {
    double s[4] = {4, 1, 3, 2};
    double sorted[4] = {1, 2, 3, 4};
    NEAR(stats_quantile(sorted, 4, 0.25), 1.75, 1e-15, "numpy linear quantile 0.25");
    NEAR(stats_quantile(sorted, 4, 1), 4, 0, "quantile 1");
    NEAR(stats_quantile(sorted, 4, 0), 1, 0, "quantile 0");
    double lo, hi, lo2, hi2;
    CHECK(!stats_bootstrap_mean(&lo, &hi, s, 4, 2000, 7, 0.95), "bootstrap runs");
    CHECK(!stats_bootstrap_mean(&lo2, &hi2, s, 4, 2000, 7, 0.95) && lo == lo2 && hi == hi2, "same seed, same interval");
    CHECK(lo >= 1 && hi <= 4 && lo < 2.5 && hi > 2.5, "interval [%g, %g] around the mean, inside the data", lo, hi);
    double c[3] = {5, 5, 5};
    stats_bootstrap_mean(&lo, &hi, c, 3, 100, 1, 0.95);
    CHECK(lo == 5 && hi == 5, "constant data: a point");
    CHECK(stats_bootstrap_mean(&lo, &hi, c, 3, 0, 1, 0.95) == -1, "0 resamples is an error");
    /* n = 100: the bootstrap interval of the mean is close to the normal one, mean ± 1.96 sd_plugin / sqrt(n) */
    double x[100];
    for (int i = 0; i < 100; i++) x[i] = i;
    stats_bootstrap_mean(&lo, &hi, x, 100, 20000, 1, 0.95);
    double half = 1.959964 * sqrt(9999.0 / 12) / 10; /* plug-in sd of 0..99 = sqrt((n²-1)/12) */
    NEAR(lo, 49.5 - half, 0.3, "bootstrap low vs normal");
    NEAR(hi, 49.5 + half, 0.3, "bootstrap high vs normal");
    stats_bootstrap_mean(&lo2, &hi2, x, 100, 20000, 2, 0.95);
    CHECK(lo != lo2 || hi != hi2, "another seed, another interval");
}

int main(void) {
    incomplete_beta();
    t_distribution();
    intervals();
    welch();
    bootstrap();
    return test_summary("test_stats");
}
