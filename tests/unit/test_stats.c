/* Statistics: intervals against OHID's published test data (read from tests/data at run time),
 * the exact Poisson interval against Poisson probabilities summed directly, the chi-squared and
 * normal quantiles against known values, and hand-worked verdicts, quintiles and trends. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_stats.h"

#define KNOWN_ANSWERS CDOF_TEST_DATA "/known_answers.csv"

static void assert_near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.17g, want %.17g (|diff| %.3g > %.3g)", what, got, want,
                 fabs(got - want), tol);
}

static void assert_rel(double got, double want, double rel, const char *what)
{
    assert_near(got, want, rel * fabs(want), what);
}

/* ---- published limits (PHEindicatormethods test data) ---- */

static void test_known_answers(void **state)
{
    (void)state;
    FILE *f = fopen(KNOWN_ANSWERS, "r");
    assert_non_null(f);
    char line[512];
    int rows = 0, byar_rows = 0, wilson_rows = 0, lineno = 0;
    while (fgets(line, sizeof line, f) && lineno < 10000) {
        lineno++;
        if (lineno == 1) {
            assert_true(strncmp(line, "statistic,x,n,confidence,lower,upper", 36) == 0);
            continue;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        char *field[6];
        int nf = 0;
        char *p = line;
        while (nf < 6) {
            field[nf++] = p;
            char *comma = strchr(p, ',');
            if (!comma)
                break;
            *comma = '\0';
            p = comma + 1;
        }
        if (nf != 6)
            fail_msg("%s:%d: %d fields, want 6", KNOWN_ANSWERS, lineno, nf);
        double x = strtod(field[1], NULL);
        double conf = strtod(field[3], NULL); /* "95%" and "99.8%": strtod stops at % */
        double lower = strtod(field[4], NULL), upper = strtod(field[5], NULL);
        double z = NAN;
        if (conf == 95.0)
            z = CDOF_Z_95;
        else if (conf == 99.8)
            z = CDOF_Z_99_8;
        else
            fail_msg("%s:%d: confidence %s", KNOWN_ANSWERS, lineno, field[3]);
        char what[96];
        cdof_interval_t ci = {NAN, NAN};
        if (strcmp(field[0], "byar") == 0) {
            /* The file gives Byar's formula itself, also at x = 1 (not the exact interval). */
            assert_int_equal(cdof_stats_byar(x, z, &ci), 0);
            byar_rows++;
            if (x >= 10) {
                /* From 10 the count interval is Byar's, with z from the confidence level. */
                cdof_interval_t cc;
                assert_int_equal(cdof_stats_count_interval(x, conf / 100.0, &cc), 0);
                snprintf(what, sizeof what, "line %d count_interval lower", lineno);
                assert_near(cc.lower, lower, 1e-9, what);
                snprintf(what, sizeof what, "line %d count_interval upper", lineno);
                assert_near(cc.upper, upper, 1e-9, what);
            }
        } else if (strcmp(field[0], "wilson") == 0) {
            assert_int_equal(cdof_stats_wilson(x, strtod(field[2], NULL), z, &ci), 0);
            wilson_rows++;
        } else {
            fail_msg("%s:%d: unknown statistic %s", KNOWN_ANSWERS, lineno, field[0]);
        }
        snprintf(what, sizeof what, "line %d %s x=%g lower", lineno, field[0], x);
        assert_near(ci.lower, lower, 1e-9, what);
        snprintf(what, sizeof what, "line %d %s x=%g upper", lineno, field[0], x);
        assert_near(ci.upper, upper, 1e-9, what);
        rows++;
    }
    fclose(f);
    assert_true(rows >= 12);
    assert_true(byar_rows >= 6);
    assert_true(wilson_rows >= 6);
}

/* ---- normal and chi-squared quantiles ---- */

static void test_z(void **state)
{
    (void)state;
    assert_near(cdof_stats_z(0.95), CDOF_Z_95, 1e-12, "z 95%");
    assert_near(cdof_stats_z(0.998), CDOF_Z_99_8, 1e-12, "z 99.8%");
    assert_true(isnan(cdof_stats_z(0.0)));
    assert_true(isnan(cdof_stats_z(1.0)));
    assert_true(isnan(cdof_stats_z(-0.5)));
    assert_true(isnan(cdof_stats_z(NAN)));

    assert_rel(cdof_stats_normal_quantile(1e-10), -6.3613409024040561991, 1e-14, "q(1e-10)");
    assert_rel(cdof_stats_normal_quantile(0.3), -0.52440051270804081597, 1e-14, "q(0.3)");
    assert_rel(cdof_stats_normal_quantile(0.001), -3.0902323061678135354, 1e-14, "q(0.001)");
    assert_rel(cdof_stats_normal_quantile(0.9), 1.2815515655446005935, 1e-14, "q(0.9)");
    assert_true(cdof_stats_normal_quantile(0.5) == 0.0);
    assert_true(isnan(cdof_stats_normal_quantile(0.0)));
    assert_true(isnan(cdof_stats_normal_quantile(1.0)));

    /* Round trip through the CDF across both of Acklam's regions and the far tail. */
    static const double ps[] = {1e-300, 1e-50, 1e-12, 1e-4, 0.02, 0.02425, 0.03, 0.2, 0.4999};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double x = cdof_stats_normal_quantile(ps[i]);
        char what[64];
        snprintf(what, sizeof what, "Phi(q(%g))", ps[i]);
        assert_rel(0.5 * erfc(-x / sqrt(2.0)), ps[i], 1e-13, what);
        /* Symmetry: the upper half mirrors the lower (1 - p rounds, so mirror 1 - (1 - p)). */
        double pu = 1.0 - ps[i];
        if (pu < 1.0) {
            snprintf(what, sizeof what, "q(1 - %g)", ps[i]);
            double xl = cdof_stats_normal_quantile(1.0 - pu);
            assert_near(cdof_stats_normal_quantile(pu), -xl, 1e-14 * fmax(1.0, -xl), what);
        }
    }
}

static void test_chi2_quantile(void **state)
{
    (void)state;
    assert_rel(cdof_stats_chi2_quantile(0.95, 1), 3.841458820694124, 1e-13, "chi2(0.95;1)");
    assert_rel(cdof_stats_chi2_quantile(0.975, 10), 20.48317735080739, 1e-13, "chi2(0.975;10)");
    /* Two degrees of freedom is the exponential: chi2(p; 2) = -2 log(1 - p). */
    static const double ps[] = {1e-8, 0.001, 0.025, 0.5, 0.975, 0.999};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        assert_rel(cdof_stats_chi2_quantile(ps[i], 2), -2.0 * log1p(-ps[i]), 1e-13, "chi2 k=2");
    /* One degree of freedom is a squared normal: chi2(p; 1) = z((1 + p)/2)^2. */
    assert_rel(cdof_stats_chi2_quantile(0.998, 1), CDOF_Z_99_8 * CDOF_Z_99_8, 1e-13, "chi2 k=1");

    /* Round trip through P and Q over small, fractional and large degrees of freedom. */
    static const double ks[] = {0.1, 0.5, 1, 3, 7.5, 20, 200};
    static const double qs[] = {0.001, 0.025, 0.3, 0.5, 0.7, 0.975, 0.999};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        for (size_t j = 0; j < sizeof qs / sizeof qs[0]; j++) {
            double c = cdof_stats_chi2_quantile(qs[j], ks[i]);
            char what[64];
            snprintf(what, sizeof what, "P(chi2(%g; %g))", qs[j], ks[i]);
            if (qs[j] <= 0.5)
                assert_rel(cdof_stats_gamma_p(ks[i] / 2, c / 2), qs[j], 1e-12, what);
            else
                assert_rel(cdof_stats_gamma_q(ks[i] / 2, c / 2), 1.0 - qs[j], 1e-12, what);
        }
    }
    assert_true(isnan(cdof_stats_chi2_quantile(0.0, 1)));
    assert_true(isnan(cdof_stats_chi2_quantile(1.0, 1)));
    assert_true(isnan(cdof_stats_chi2_quantile(0.5, 0)));
    assert_true(isnan(cdof_stats_chi2_quantile(0.5, -1)));
    assert_true(isnan(cdof_stats_chi2_quantile(NAN, 1)));
    assert_true(isnan(cdof_stats_chi2_quantile(0.5, INFINITY)));
}

/* ---- Poisson, summed directly ---- */

/* Pr(X < x) for X ~ Poisson(lambda), by summing the pmf with its recurrence. */
static double poisson_cdf_below(int x, double lambda)
{
    double pmf = exp(-lambda), sum = 0.0;
    assert_true(pmf > 0.0); /* lambda small enough for the direct sum */
    for (int k = 0; k < x; k++) {
        sum += pmf;
        pmf *= lambda / (k + 1);
    }
    return sum;
}

static void test_gamma_functions(void **state)
{
    (void)state;
    /* For integer a: P(a, lambda) = Pr(X >= a), Q(a, lambda) = Pr(X < a). */
    static const double lambdas[] = {0.01, 0.5, 1, 3.7, 9, 10.5, 25, 80};
    for (int a = 1; a <= 40; a += 3) {
        for (size_t i = 0; i < sizeof lambdas / sizeof lambdas[0]; i++) {
            double below = poisson_cdf_below(a, lambdas[i]);
            char what[64];
            snprintf(what, sizeof what, "Q(%d, %g)", a, lambdas[i]);
            assert_near(cdof_stats_gamma_q(a, lambdas[i]), below, 1e-14, what);
            snprintf(what, sizeof what, "P(%d, %g)", a, lambdas[i]);
            assert_near(cdof_stats_gamma_p(a, lambdas[i]), 1.0 - below, 1e-14, what);
        }
    }
    assert_true(cdof_stats_gamma_p(2, 0) == 0.0);
    assert_true(cdof_stats_gamma_q(2, 0) == 1.0);
    assert_true(cdof_stats_gamma_p(2, INFINITY) == 1.0);
    assert_true(isnan(cdof_stats_gamma_p(0, 1)));
    assert_true(isnan(cdof_stats_gamma_q(2, -1)));
    assert_true(isnan(cdof_stats_gamma_p(NAN, 1)));
}

static void check_exact(int x, double confidence)
{
    cdof_interval_t ci;
    assert_int_equal(cdof_stats_poisson_exact(x, confidence, &ci), 0);
    double half_alpha = (1.0 - confidence) / 2.0;
    char what[96];
    if (x == 0) {
        assert_true(ci.lower == 0.0);
    } else {
        /* Lower limit: Pr(X >= x | lambda = lower) = alpha/2. */
        snprintf(what, sizeof what, "x=%d conf=%g Pr(X>=x|lower)", x, confidence);
        assert_near(1.0 - poisson_cdf_below(x, ci.lower), half_alpha, 1e-10, what);
    }
    /* Upper limit: Pr(X <= x | lambda = upper) = alpha/2. */
    snprintf(what, sizeof what, "x=%d conf=%g Pr(X<=x|upper)", x, confidence);
    assert_near(poisson_cdf_below(x + 1, ci.upper), half_alpha, 1e-10, what);
    assert_true(ci.lower < x || x == 0);
    assert_true(ci.upper > x);
}

static void test_poisson_exact(void **state)
{
    (void)state;
    static const int big[] = {10, 15, 23, 50, 100, 250};
    for (int x = 0; x <= 9; x++) {
        check_exact(x, 0.95);
        check_exact(x, 0.998);
    }
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        check_exact(big[i], 0.95);
        check_exact(big[i], 0.998);
    }

    /* Published values (R's qchisq). The x = 1 upper limit published as 5.571643390938136 is
     * 7.6e-13 below the value at 40 digits (5.5716433909388975), hence the relative 1e-12. */
    cdof_interval_t ci;
    assert_int_equal(cdof_stats_poisson_exact(0, 0.95, &ci), 0);
    assert_true(ci.lower == 0.0);
    assert_rel(ci.upper, 3.6888794541139363, 1e-12, "x=0 upper");
    assert_int_equal(cdof_stats_poisson_exact(1, 0.95, &ci), 0);
    assert_rel(ci.lower, 0.025317807984289786, 1e-12, "x=1 lower");
    assert_rel(ci.upper, 5.571643390938136, 1e-12, "x=1 upper");
    /* x = 0: the upper limit solves exp(-lambda) = alpha/2. */
    assert_int_equal(cdof_stats_poisson_exact(0, 0.998, &ci), 0);
    assert_rel(ci.upper, -log(0.001), 1e-13, "x=0 upper 99.8%");

    assert_int_equal(cdof_stats_poisson_exact(-1, 0.95, &ci), -EDOM);
    assert_int_equal(cdof_stats_poisson_exact(NAN, 0.95, &ci), -EDOM);
    assert_int_equal(cdof_stats_poisson_exact(3, 1.0, &ci), -EDOM);
    assert_int_equal(cdof_stats_poisson_exact(3, 0.0, &ci), -EDOM);
    assert_int_equal(cdof_stats_poisson_exact(3, 0.95, NULL), -EINVAL);
}

static void test_count_interval(void **state)
{
    (void)state;
    cdof_interval_t a, b;
    for (int x = 0; x <= 9; x++) {
        assert_int_equal(cdof_stats_count_interval(x, 0.95, &a), 0);
        assert_int_equal(cdof_stats_poisson_exact(x, 0.95, &b), 0);
        assert_true(a.lower == b.lower && a.upper == b.upper);
    }
    for (int x = 10; x <= 40; x += 5) {
        assert_int_equal(cdof_stats_count_interval(x, 0.998, &a), 0);
        assert_int_equal(cdof_stats_byar(x, CDOF_Z_99_8, &b), 0);
        assert_near(a.lower, b.lower, 1e-12, "count_interval = byar lower");
        assert_near(a.upper, b.upper, 1e-12, "count_interval = byar upper");
    }
    /* Exact and Byar agree closely where the method switches. */
    assert_int_equal(cdof_stats_poisson_exact(10, 0.95, &a), 0);
    assert_int_equal(cdof_stats_count_interval(10, 0.95, &b), 0);
    assert_near(a.lower, b.lower, 0.01, "x=10 lower");
    assert_near(a.upper, b.upper, 0.01, "x=10 upper");
    assert_int_equal(cdof_stats_count_interval(-1, 0.95, &a), -EDOM);
    assert_int_equal(cdof_stats_count_interval(INFINITY, 0.95, &a), -EDOM);
    assert_int_equal(cdof_stats_count_interval(5, 1.5, &a), -EDOM);
    assert_int_equal(cdof_stats_count_interval(5, 0.95, NULL), -EINVAL);
}

/* ---- Wilson and Byar edges ---- */

static void test_wilson_edges(void **state)
{
    (void)state;
    cdof_interval_t ci;
    double z2 = CDOF_Z_95 * CDOF_Z_95;
    assert_int_equal(cdof_stats_wilson(0, 10, CDOF_Z_95, &ci), 0);
    assert_true(ci.lower == 0.0);
    assert_near(ci.upper, z2 / (10 + z2), 1e-15, "wilson x=0 upper");
    assert_int_equal(cdof_stats_wilson(10, 10, CDOF_Z_95, &ci), 0);
    assert_near(ci.lower, 10 / (10 + z2), 1e-15, "wilson x=n lower");
    assert_true(ci.upper == 1.0);
    /* z = 0 collapses to the point estimate. */
    assert_int_equal(cdof_stats_wilson(3, 12, 0, &ci), 0);
    assert_near(ci.lower, 0.25, 1e-15, "z=0 lower");
    assert_near(ci.upper, 0.25, 1e-15, "z=0 upper");

    ci.lower = 42;
    assert_int_equal(cdof_stats_wilson(11, 10, CDOF_Z_95, &ci), -EDOM);
    assert_true(ci.lower == 42); /* untouched on error */
    assert_int_equal(cdof_stats_wilson(-1, 10, CDOF_Z_95, &ci), -EDOM);
    assert_int_equal(cdof_stats_wilson(0, 0, CDOF_Z_95, &ci), -EDOM);
    assert_int_equal(cdof_stats_wilson(NAN, 10, CDOF_Z_95, &ci), -EDOM);
    assert_int_equal(cdof_stats_wilson(1, NAN, CDOF_Z_95, &ci), -EDOM);
    assert_int_equal(cdof_stats_wilson(1, 10, -1, &ci), -EDOM);
    assert_int_equal(cdof_stats_wilson(1, 10, CDOF_Z_95, NULL), -EINVAL);
}

static void test_byar_edges(void **state)
{
    (void)state;
    cdof_interval_t ci;
    assert_int_equal(cdof_stats_byar(0, CDOF_Z_95, &ci), 0);
    assert_true(ci.lower == 0.0);
    double u = 1.0 - 1.0 / 9.0 + CDOF_Z_95 / 3.0;
    assert_near(ci.upper, u * u * u, 1e-14, "byar x=0 upper");
    /* At x = 1, z = 3.09 the lower formula goes negative (1 - 1/9 - 1.03 < 0): clamped. */
    assert_true(1.0 - 1.0 / 9.0 - CDOF_Z_99_8 / 3.0 < 0.0);
    assert_int_equal(cdof_stats_byar(1, CDOF_Z_99_8, &ci), 0);
    assert_true(ci.lower == 0.0);
    assert_int_equal(cdof_stats_byar(-1, CDOF_Z_95, &ci), -EDOM);
    assert_int_equal(cdof_stats_byar(NAN, CDOF_Z_95, &ci), -EDOM);
    assert_int_equal(cdof_stats_byar(5, NAN, &ci), -EDOM);
    assert_int_equal(cdof_stats_byar(5, CDOF_Z_95, NULL), -EINVAL);
}

/* ---- the benchmark test ---- */

static void test_benchmark_verdicts(void **state)
{
    (void)state;
    const cdof_interval_t ci95 = {10, 20}, ci998 = {8, 22};
    /* benchmark, then the verdict for high_good, low_good, none */
    static const struct {
        double benchmark;
        cdof_verdict_t high, low, none;
    } cases[] = {
        {15, CDOF_VERDICT_SIMILAR, CDOF_VERDICT_SIMILAR, CDOF_VERDICT_SIMILAR},
        {10, CDOF_VERDICT_SIMILAR, CDOF_VERDICT_SIMILAR, CDOF_VERDICT_SIMILAR}, /* on 95% */
        {20, CDOF_VERDICT_SIMILAR, CDOF_VERDICT_SIMILAR, CDOF_VERDICT_SIMILAR},
        /* benchmark below the area: the area is higher */
        {9.5, CDOF_VERDICT_BETTER, CDOF_VERDICT_WORSE, CDOF_VERDICT_HIGHER},
        {8, CDOF_VERDICT_BETTER, CDOF_VERDICT_WORSE, CDOF_VERDICT_HIGHER}, /* on 99.8% */
        {7.9, CDOF_VERDICT_BEST, CDOF_VERDICT_WORST, CDOF_VERDICT_HIGHER},
        {-100, CDOF_VERDICT_BEST, CDOF_VERDICT_WORST, CDOF_VERDICT_HIGHER},
        /* benchmark above the area: the area is lower */
        {20.5, CDOF_VERDICT_WORSE, CDOF_VERDICT_BETTER, CDOF_VERDICT_LOWER},
        {22, CDOF_VERDICT_WORSE, CDOF_VERDICT_BETTER, CDOF_VERDICT_LOWER}, /* on 99.8% */
        {22.1, CDOF_VERDICT_WORST, CDOF_VERDICT_BEST, CDOF_VERDICT_LOWER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double b = cases[i].benchmark;
        assert_int_equal(cdof_stats_benchmark(b, &ci95, &ci998, CDOF_STATS_POLARITY_HIGH_GOOD),
                         cases[i].high);
        assert_int_equal(cdof_stats_benchmark(b, &ci95, &ci998, CDOF_STATS_POLARITY_LOW_GOOD),
                         cases[i].low);
        assert_int_equal(cdof_stats_benchmark(b, &ci95, &ci998, CDOF_STATS_POLARITY_NONE),
                         cases[i].none);
    }
}

static void test_benchmark_not_compared(void **state)
{
    (void)state;
    const cdof_interval_t ci95 = {10, 20}, ci998 = {8, 22};
    const cdof_interval_t nan_lower = {NAN, 20}, inf_upper = {8, INFINITY}, reversed = {20, 10};
    const cdof_stats_polarity_t p = CDOF_STATS_POLARITY_HIGH_GOOD;
    assert_int_equal(cdof_stats_benchmark(NAN, &ci95, &ci998, p), CDOF_VERDICT_NOT_COMPARED);
    assert_int_equal(cdof_stats_benchmark(INFINITY, &ci95, &ci998, p), CDOF_VERDICT_NOT_COMPARED);
    assert_int_equal(cdof_stats_benchmark(15, &nan_lower, &ci998, p), CDOF_VERDICT_NOT_COMPARED);
    assert_int_equal(cdof_stats_benchmark(15, &ci95, &inf_upper, p), CDOF_VERDICT_NOT_COMPARED);
    assert_int_equal(cdof_stats_benchmark(15, &reversed, &ci998, p), CDOF_VERDICT_NOT_COMPARED);
    assert_int_equal(cdof_stats_benchmark(15, NULL, &ci998, p), CDOF_VERDICT_NOT_COMPARED);
    assert_int_equal(cdof_stats_benchmark(15, &ci95, NULL, p), CDOF_VERDICT_NOT_COMPARED);
}

static void test_verdict_is_worse(void **state)
{
    (void)state;
    for (int v = CDOF_VERDICT_NOT_COMPARED; v <= CDOF_VERDICT_LOWER; v++)
        assert_int_equal(cdof_stats_verdict_is_worse((cdof_verdict_t)v),
                         v == CDOF_VERDICT_WORSE || v == CDOF_VERDICT_WORST);
}

/* ---- percentiles and quintiles ---- */

static void test_percentile_inc(void **state)
{
    (void)state;
    const double s[] = {1, 2, 3, 4};
    assert_near(cdof_stats_percentile_inc(s, 4, 0.3), 1.9, 1e-15, "P(0.3)"); /* Excel: 1.9 */
    assert_near(cdof_stats_percentile_inc(s, 4, 0.5), 2.5, 1e-15, "P(0.5)");
    assert_true(cdof_stats_percentile_inc(s, 4, 0.0) == 1.0);
    assert_true(cdof_stats_percentile_inc(s, 4, 1.0) == 4.0);
    const double one[] = {7};
    assert_true(cdof_stats_percentile_inc(one, 1, 0.4) == 7.0);
    /* 0.6 * 5 is 3.0000000000000004 in doubles: the rank must land on the data point. */
    const double six[] = {10, 20, 30, 40, 50, 60};
    assert_true(cdof_stats_percentile_inc(six, 6, 0.6) == 40.0);
    assert_true(cdof_stats_percentile_inc(six, 6, 0.2) == 20.0);
    assert_true(isnan(cdof_stats_percentile_inc(s, 0, 0.5)));
    assert_true(isnan(cdof_stats_percentile_inc(NULL, 4, 0.5)));
    assert_true(isnan(cdof_stats_percentile_inc(s, 4, 1.5)));
    assert_true(isnan(cdof_stats_percentile_inc(s, 4, NAN)));
}

static void check_quintiles(const double *values, size_t n, cdof_stats_polarity_t polarity,
                            const int *want, int want_rc)
{
    double scratch[32];
    int out[32];
    assert_true(n <= 32);
    for (size_t i = 0; i < n; i++)
        out[i] = -1;
    assert_int_equal(cdof_stats_quintiles(values, n, polarity, scratch, out), want_rc);
    for (size_t i = 0; i < n; i++) {
        if (out[i] != want[i])
            fail_msg("polarity %d value[%zu] = %g: quintile %d, want %d", (int)polarity, i,
                     values[i], out[i], want[i]);
    }
}

static void test_quintiles(void **state)
{
    (void)state;
    const cdof_stats_polarity_t HI = CDOF_STATS_POLARITY_HIGH_GOOD,
                                LO = CDOF_STATS_POLARITY_LOW_GOOD, NONE = CDOF_STATS_POLARITY_NONE;
    /* Exactly five, unsorted: bounds 1.8, 2.6, 3.4, 4.2, one value in each quintile. */
    const double five[] = {5, 1, 4, 2, 3};
    check_quintiles(five, 5, LO, (const int[]){5, 1, 4, 2, 3}, 0);
    check_quintiles(five, 5, NONE, (const int[]){5, 1, 4, 2, 3}, 0);
    check_quintiles(five, 5, HI, (const int[]){1, 5, 2, 4, 3}, 0);

    /* Six values: the bounds are the data points 20, 30, 40, 50 themselves; a value on a bound
     * belongs to the quintile of lower values, then the orientation applies. */
    const double six[] = {60, 10, 20, 30, 40, 50};
    check_quintiles(six, 6, LO, (const int[]){5, 1, 1, 2, 3, 4}, 0);
    check_quintiles(six, 6, HI, (const int[]){1, 5, 5, 4, 3, 2}, 0);

    /* Ties: eleven values, bounds at ranks 2, 4, 6, 8 = 2, 2, 4, 6. All the 2s share a quintile
     * and quintile 2 is empty. */
    const double ties[] = {1, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8};
    check_quintiles(ties, 11, LO, (const int[]){1, 1, 1, 1, 1, 3, 3, 4, 4, 5, 5}, 0);
    check_quintiles(ties, 11, HI, (const int[]){5, 5, 5, 5, 5, 3, 3, 2, 2, 1, 1}, 0);
    const double same[] = {7, 7, 7, 7, 7};
    check_quintiles(same, 5, LO, (const int[]){1, 1, 1, 1, 1}, 0);

    /* NaN and infinite values get 0 and are left out of the bounds. */
    const double gaps[] = {NAN, 5, 1, INFINITY, 4, 2, 3};
    check_quintiles(gaps, 7, LO, (const int[]){0, 5, 1, 0, 4, 2, 3}, 0);

    /* Fewer than five valid values: all 0 and -EDOM. */
    const double four[] = {1, 2, NAN, 3, 4};
    check_quintiles(four, 5, LO, (const int[]){0, 0, 0, 0, 0}, -EDOM);
    check_quintiles(four, 4, HI, (const int[]){0, 0, 0, 0}, -EDOM);
    check_quintiles(four, 0, HI, (const int[]){0}, -EDOM);

    double scratch[5];
    int out[5];
    assert_int_equal(cdof_stats_quintiles(NULL, 5, LO, scratch, out), -EINVAL);
    assert_int_equal(cdof_stats_quintiles(five, 5, LO, NULL, out), -EINVAL);
    assert_int_equal(cdof_stats_quintiles(five, 5, LO, scratch, NULL), -EINVAL);
}

/* ---- recent trend ---- */

/* Five points with the given values and SEs: 95% interval value -/+ 1.96 SE. */
static void make_series(const double *v, const double *se, size_t n, cdof_interval_t *ci)
{
    for (size_t i = 0; i < n; i++) {
        ci[i].lower = v[i] - 1.96 * se[i];
        ci[i].upper = v[i] + 1.96 * se[i];
    }
}

static cdof_trend_result_t run_trend(const double *v, const double *se, size_t n,
                                     cdof_stats_polarity_t polarity)
{
    cdof_interval_t ci[16];
    assert_true(n <= 16);
    make_series(v, se, n, ci);
    cdof_trend_result_t r;
    memset(&r, 0xa5, sizeof r);
    assert_int_equal(cdof_stats_trend(v, ci, n, polarity, &r), 0);
    return r;
}

static const double se1[] = {1, 1, 1, 1, 1, 1, 1};

static void test_trend_significant(void **state)
{
    (void)state;
    /* Equal weights, x = 0..4: slope 2, SE sqrt(1/10), chi2 = 40. */
    const double up[] = {10, 12, 14, 16, 18};
    cdof_trend_result_t r = run_trend(up, se1, 5, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_INCREASING);
    assert_near(r.slope, 2.0, 1e-12, "slope");
    assert_near(r.se, sqrt(0.1), 1e-12, "se");
    assert_near(r.chi2, 40.0, 1e-9, "chi2");
    assert_true(r.getting_better && !r.getting_worse);
    r = run_trend(up, se1, 5, CDOF_STATS_POLARITY_LOW_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_INCREASING);
    assert_true(!r.getting_better && r.getting_worse);
    r = run_trend(up, se1, 5, CDOF_STATS_POLARITY_NONE);
    assert_int_equal(r.direction, CDOF_TREND_INCREASING);
    assert_true(!r.getting_better && !r.getting_worse);

    const double down[] = {18, 16, 14, 12, 10};
    r = run_trend(down, se1, 5, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_DECREASING);
    assert_near(r.slope, -2.0, 1e-12, "slope");
    assert_true(!r.getting_better && r.getting_worse);
    r = run_trend(down, se1, 5, CDOF_STATS_POLARITY_LOW_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_DECREASING);
    assert_true(r.getting_better && !r.getting_worse);
    r = run_trend(down, se1, 5, CDOF_STATS_POLARITY_NONE);
    assert_true(!r.getting_better && !r.getting_worse);

    /* Weighted: a noisy point counts less. Unequal SEs on an exact line still give its slope. */
    const double line[] = {3, 4, 5, 6, 7};
    const double se_mixed[] = {0.1, 2, 0.3, 1, 0.2};
    r = run_trend(line, se_mixed, 5, CDOF_STATS_POLARITY_LOW_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_INCREASING);
    assert_near(r.slope, 1.0, 1e-12, "weighted slope");

    /* Only the last five of a longer series count: the first two would break it. */
    const double longer[] = {NAN, 100, 10, 12, 14, 16, 18};
    r = run_trend(longer, se1, 7, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_INCREASING);
    assert_near(r.slope, 2.0, 1e-12, "last five");
}

static void test_trend_threshold(void **state)
{
    (void)state;
    /* With SE 1 everywhere, chi2 = 10 slope^2: 0.98 gives 9.604 > 9.5495, 0.97 gives 9.409. */
    const double above[] = {0, 0.98, 1.96, 2.94, 3.92};
    cdof_trend_result_t r = run_trend(above, se1, 5, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_INCREASING);
    assert_near(r.chi2, 9.604, 1e-9, "chi2 above");
    const double below[] = {0, 0.97, 1.94, 2.91, 3.88};
    r = run_trend(below, se1, 5, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_NO_SIGNIFICANT);
    assert_near(r.chi2, 9.409, 1e-9, "chi2 below");
    assert_true(!r.getting_better && !r.getting_worse);

    /* Flat with noise: slope 0.12, chi2 0.144. */
    const double flat[] = {10, 10.5, 10, 10.5, 10.6};
    r = run_trend(flat, se1, 5, CDOF_STATS_POLARITY_LOW_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_NO_SIGNIFICANT);
    assert_near(r.slope, 0.12, 1e-12, "flat slope");
    assert_true(!r.getting_better && !r.getting_worse);
}

static void test_trend_sign_flip(void **state)
{
    (void)state;
    /* Four noisy points falling by exactly 1 and a precise last point far above: the full
     * weighted slope is strongly positive, but without the last point the slope is -1. */
    const double v[] = {10, 9, 8, 7, 20};
    const double se[] = {1, 1, 1, 1, 0.1};
    cdof_trend_result_t r = run_trend(v, se, 5, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_true(r.slope > 0.0);
    assert_true(r.chi2 > CDOF_TREND_CHI2);
    assert_int_equal(r.direction, CDOF_TREND_NO_SIGNIFICANT);
    assert_true(!r.getting_better && !r.getting_worse);
    /* The same series without the flip (last point on the line's continuation, above the rest
     * by far) is significant, so the flip is what made the difference above. */
    /* Weights 1/SE^2 = 1, 1, 1, 1, 4 on y = 0, 0, 0, 0, 8, worked by hand: weighted means
     * x 2.75, y 4; Sxx = 17.5, Sxy = 40; slope 16/7, SE sqrt(1/17.5), chi2 91.43. Dropping
     * the last point leaves a slope of exactly 0, which keeps no sign: not significant. */
    const double w0[] = {0, 0, 0, 0, 8};
    const double se_w[] = {1, 1, 1, 1, 0.5};
    r = run_trend(w0, se_w, 5, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_near(r.slope, 16.0 / 7.0, 1e-12, "weighted slope by hand");
    assert_near(r.se, sqrt(1.0 / 17.5), 1e-12, "weighted se by hand");
    assert_true(r.chi2 > CDOF_TREND_CHI2);
    assert_int_equal(r.direction, CDOF_TREND_NO_SIGNIFICANT);

    const double v2[] = {10, 11, 12, 13, 20};
    r = run_trend(v2, se, 5, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_INCREASING);
}

static void test_trend_none(void **state)
{
    (void)state;
    const double up[] = {10, 12, 14, 16, 18};
    cdof_trend_result_t r = run_trend(up, se1, 4, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_NONE);
    assert_true(!r.getting_better && !r.getting_worse);
    assert_true(isnan(r.slope));
    r = run_trend(up, se1, 0, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_NONE);

    const double gap[] = {10, 12, NAN, 16, 18};
    r = run_trend(gap, se1, 5, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_NONE);

    /* A zero-width interval has SE 0 and infinite weight. */
    const double se_zero[] = {1, 1, 0, 1, 1};
    r = run_trend(up, se_zero, 5, CDOF_STATS_POLARITY_HIGH_GOOD);
    assert_int_equal(r.direction, CDOF_TREND_NONE);

    /* A NaN or reversed bound. */
    cdof_interval_t ci[5];
    make_series(up, se1, 5, ci);
    ci[4].upper = NAN;
    assert_int_equal(cdof_stats_trend(up, ci, 5, CDOF_STATS_POLARITY_HIGH_GOOD, &r), 0);
    assert_int_equal(r.direction, CDOF_TREND_NONE);
    make_series(up, se1, 5, ci);
    ci[1].lower = 20;
    assert_int_equal(cdof_stats_trend(up, ci, 5, CDOF_STATS_POLARITY_HIGH_GOOD, &r), 0);
    assert_int_equal(r.direction, CDOF_TREND_NONE);

    assert_int_equal(cdof_stats_trend(NULL, ci, 5, CDOF_STATS_POLARITY_NONE, &r), -EINVAL);
    assert_int_equal(cdof_stats_trend(up, NULL, 5, CDOF_STATS_POLARITY_NONE, &r), -EINVAL);
    assert_int_equal(cdof_stats_trend(up, ci, 5, CDOF_STATS_POLARITY_NONE, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),      cmocka_unit_test(test_z),
        cmocka_unit_test(test_chi2_quantile),      cmocka_unit_test(test_gamma_functions),
        cmocka_unit_test(test_poisson_exact),      cmocka_unit_test(test_count_interval),
        cmocka_unit_test(test_wilson_edges),       cmocka_unit_test(test_byar_edges),
        cmocka_unit_test(test_benchmark_verdicts), cmocka_unit_test(test_benchmark_not_compared),
        cmocka_unit_test(test_verdict_is_worse),   cmocka_unit_test(test_percentile_inc),
        cmocka_unit_test(test_quintiles),          cmocka_unit_test(test_trend_significant),
        cmocka_unit_test(test_trend_threshold),    cmocka_unit_test(test_trend_sign_flip),
        cmocka_unit_test(test_trend_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
