/* Statistics for comparisons: confidence intervals, the benchmark test, quintiles and the recent
 * trend, as OHID's Fingertips and PHEindicatormethods compute them. Pure functions of numbers. */
#include "cdof_stats.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#define CDOF_STATS_SQRT_2PI  2.5066282746310002 /* sqrt(2 pi) */
#define CDOF_STATS_SQRT_2    1.4142135623730951
#define CDOF_STATS_GAMMA_MAX 1000   /* terms of the series or continued fraction */
#define CDOF_STATS_INV_MAX   400    /* Newton/bisection steps in the gamma inverse */
#define CDOF_STATS_TINY      1e-300 /* keeps Lentz's denominators off zero */

/* Acklam's rational approximation of the normal quantile for the lower half, p in (0, 0.5]:
 * relative error below 1.2e-9 before refinement. */
static double cdof_stats_acklam_lower(double p)
{
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2.0 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

/* Lower half only: Phi(x) = erfc(-x/sqrt2)/2 keeps full relative precision for x < 0, which
 * 1 - p near 1 would not. */
static double cdof_stats_norm_inv_lower(double p)
{
    double x = cdof_stats_acklam_lower(p);
    /* One Halley step on Phi(x) - p: cubic convergence takes 1e-9 to rounding level. */
    double e = 0.5 * erfc(-x / CDOF_STATS_SQRT_2) - p;
    double u = e * CDOF_STATS_SQRT_2PI * exp(0.5 * x * x);
    return x - u / (1.0 + 0.5 * x * u);
}

double cdof_stats_normal_quantile(double p)
{
    if (!(p > 0.0 && p < 1.0))
        return NAN;
    if (p <= 0.5)
        return cdof_stats_norm_inv_lower(p);
    return -cdof_stats_norm_inv_lower(1.0 - p);
}

double cdof_stats_z(double confidence)
{
    if (!(confidence > 0.0 && confidence < 1.0))
        return NAN;
    /* The tail (1 - c)/2 is computed directly so that it keeps its precision. */
    return -cdof_stats_norm_inv_lower(0.5 * (1.0 - confidence));
}

/* x^a e^-x / Gamma(a), the common factor of the series and the continued fraction. */
static double cdof_stats_gamma_prefactor(double a, double x)
{
    return exp(a * log(x) - x - lgamma(a));
}

/* P(a, x) by its power series; converges quickly for x < a + 1. */
static double cdof_stats_gamma_series(double a, double x)
{
    double term = 1.0 / a, sum = term, ap = a;
    for (int i = 0; i < CDOF_STATS_GAMMA_MAX; i++) {
        ap += 1.0;
        term *= x / ap;
        sum += term;
        if (fabs(term) < fabs(sum) * DBL_EPSILON)
            break;
    }
    return sum * cdof_stats_gamma_prefactor(a, x);
}

/* Q(a, x) by its continued fraction, evaluated with the modified Lentz method; converges
 * quickly for x >= a + 1. */
static double cdof_stats_gamma_cf(double a, double x)
{
    double b = x + 1.0 - a;
    double c = 1.0 / CDOF_STATS_TINY;
    double d = 1.0 / b;
    double h = d;
    for (int i = 1; i <= CDOF_STATS_GAMMA_MAX; i++) {
        double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < CDOF_STATS_TINY)
            d = CDOF_STATS_TINY;
        c = b + an / c;
        if (fabs(c) < CDOF_STATS_TINY)
            c = CDOF_STATS_TINY;
        d = 1.0 / d;
        double delta = d * c;
        h *= delta;
        if (fabs(delta - 1.0) < DBL_EPSILON)
            break;
    }
    return h * cdof_stats_gamma_prefactor(a, x);
}

/* Both tails; the one computed directly is accurate, the other is its complement. */
static void cdof_stats_gamma_pq(double a, double x, double *p, double *q)
{
    if (x <= 0.0) {
        *p = 0.0;
        *q = 1.0;
    } else if (x < a + 1.0) {
        *p = cdof_stats_gamma_series(a, x);
        *q = 1.0 - *p;
    } else {
        *q = cdof_stats_gamma_cf(a, x);
        *p = 1.0 - *q;
    }
}

static bool cdof_stats_gamma_args_ok(double a, double x)
{
    return isfinite(a) && a > 0.0 && !isnan(x) && x >= 0.0;
}

double cdof_stats_gamma_p(double a, double x)
{
    if (!cdof_stats_gamma_args_ok(a, x))
        return NAN;
    if (isinf(x))
        return 1.0;
    double p, q;
    cdof_stats_gamma_pq(a, x, &p, &q);
    return p;
}

double cdof_stats_gamma_q(double a, double x)
{
    if (!cdof_stats_gamma_args_ok(a, x))
        return NAN;
    if (isinf(x))
        return 0.0;
    double p, q;
    cdof_stats_gamma_pq(a, x, &p, &q);
    return q;
}

/* The x with P(a, x) = target (upper false) or Q(a, x) = target (upper true), target in (0, 1).
 * Working on the named tail keeps precision for targets near 0 on either side. Safeguarded
 * Newton: every step keeps a bracket [lo, hi] and falls back to bisection when Newton would
 * leave it. f(x) = P - target or target - Q is increasing in x with derivative the gamma
 * density. */
static double cdof_stats_gamma_inv(double a, double target, bool upper)
{
    double p_lower = upper ? 1.0 - target : target;
    /* Start: Wilson-Hilferty, or the small-x limit P ~ x^a / Gamma(a + 1) where that fails. */
    double x;
    double z = upper ? -cdof_stats_normal_quantile(target) : cdof_stats_normal_quantile(target);
    double t = 1.0 - 1.0 / (9.0 * a) + z / (3.0 * sqrt(a));
    if (t > 0.0 && a >= 1.0) {
        x = a * t * t * t;
    } else {
        x = exp((log(p_lower) + lgamma(a + 1.0)) / a);
        if (!(x > 0.0) || !isfinite(x))
            x = a;
    }

    double lo = 0.0, hi = fmax(x, 1.0);
    for (int i = 0; i < 1100; i++) { /* doubling: bounded by the double range */
        double p, q;
        cdof_stats_gamma_pq(a, hi, &p, &q);
        double f = upper ? target - q : p - target;
        if (f > 0.0)
            break;
        lo = hi;
        hi *= 2.0;
        if (!isfinite(hi))
            return NAN;
    }
    if (!(x > lo && x < hi))
        x = 0.5 * (lo + hi);

    for (int i = 0; i < CDOF_STATS_INV_MAX; i++) {
        double p, q;
        cdof_stats_gamma_pq(a, x, &p, &q);
        double f = upper ? target - q : p - target;
        if (f == 0.0)
            return x;
        if (f < 0.0)
            lo = x;
        else
            hi = x;
        double dens = exp((a - 1.0) * log(x) - x - lgamma(a));
        double next = x - f / dens;
        if (!(dens > 0.0) || !isfinite(next) || next <= lo || next >= hi)
            next = 0.5 * (lo + hi);
        double step = fabs(next - x);
        x = next;
        if (step <= 2.0 * DBL_EPSILON * x || hi - lo <= 2.0 * DBL_EPSILON * hi)
            break;
    }
    return x;
}

double cdof_stats_chi2_quantile(double p, double k)
{
    if (!(p > 0.0 && p < 1.0) || !(k > 0.0) || !isfinite(k))
        return NAN;
    if (p <= 0.5)
        return 2.0 * cdof_stats_gamma_inv(0.5 * k, p, false);
    return 2.0 * cdof_stats_gamma_inv(0.5 * k, 1.0 - p, true);
}

int cdof_stats_wilson(double x, double n, double z, cdof_interval_t *out)
{
    if (!out)
        return -EINVAL;
    if (!isfinite(x) || !isfinite(n) || !isfinite(z) || !(n > 0.0) || x < 0.0 || x > n || z < 0.0)
        return -EDOM;
    double z2 = z * z;
    double centre = 2.0 * x + z2;
    double spread = z * sqrt(z2 + 4.0 * x * (1.0 - x / n));
    double denom = 2.0 * (n + z2);
    out->lower = fmax(0.0, (centre - spread) / denom);
    out->upper = fmin(1.0, (centre + spread) / denom);
    return 0;
}

int cdof_stats_byar(double x, double z, cdof_interval_t *out)
{
    if (!out)
        return -EINVAL;
    if (!isfinite(x) || !isfinite(z) || x < 0.0 || z < 0.0)
        return -EDOM;
    double lower = 0.0;
    if (x > 0.0) {
        double t = 1.0 - 1.0 / (9.0 * x) - z / (3.0 * sqrt(x));
        lower = fmax(0.0, x * t * t * t);
    }
    double x1 = x + 1.0;
    double u = 1.0 - 1.0 / (9.0 * x1) + z / (3.0 * sqrt(x1));
    out->lower = lower;
    out->upper = x1 * u * u * u;
    return 0;
}

int cdof_stats_poisson_exact(double x, double confidence, cdof_interval_t *out)
{
    if (!out)
        return -EINVAL;
    if (!isfinite(x) || x < 0.0 || !(confidence > 0.0 && confidence < 1.0))
        return -EDOM;
    double half_alpha = 0.5 * (1.0 - confidence);
    /* chi2(p; 2a)/2 is the gamma quantile with shape a, so the halving is exact. */
    double lower = x > 0.0 ? cdof_stats_gamma_inv(x, half_alpha, false) : 0.0;
    double upper = cdof_stats_gamma_inv(x + 1.0, half_alpha, true);
    if (isnan(lower) || isnan(upper))
        return -EDOM;
    out->lower = lower;
    out->upper = upper;
    return 0;
}

int cdof_stats_count_interval(double x, double confidence, cdof_interval_t *out)
{
    if (!out)
        return -EINVAL;
    if (!isfinite(x) || x < 0.0 || !(confidence > 0.0 && confidence < 1.0))
        return -EDOM;
    if (x < 10.0)
        return cdof_stats_poisson_exact(x, confidence, out);
    return cdof_stats_byar(x, cdof_stats_z(confidence), out);
}

static bool cdof_stats_interval_ok(const cdof_interval_t *ci)
{
    return ci && isfinite(ci->lower) && isfinite(ci->upper) && ci->lower <= ci->upper;
}

cdof_verdict_t cdof_stats_benchmark(double benchmark, const cdof_interval_t *ci95,
                                    const cdof_interval_t *ci998, cdof_stats_polarity_t polarity)
{
    if (!isfinite(benchmark) || !cdof_stats_interval_ok(ci95) || !cdof_stats_interval_ok(ci998))
        return CDOF_VERDICT_NOT_COMPARED;
    if (benchmark >= ci95->lower && benchmark <= ci95->upper)
        return CDOF_VERDICT_SIMILAR;
    bool area_higher = benchmark < ci95->lower;
    bool strong = area_higher ? benchmark < ci998->lower : benchmark > ci998->upper;
    switch (polarity) {
    case CDOF_STATS_POLARITY_HIGH_GOOD:
        if (area_higher)
            return strong ? CDOF_VERDICT_BEST : CDOF_VERDICT_BETTER;
        return strong ? CDOF_VERDICT_WORST : CDOF_VERDICT_WORSE;
    case CDOF_STATS_POLARITY_LOW_GOOD:
        if (area_higher)
            return strong ? CDOF_VERDICT_WORST : CDOF_VERDICT_WORSE;
        return strong ? CDOF_VERDICT_BEST : CDOF_VERDICT_BETTER;
    case CDOF_STATS_POLARITY_NONE:
    default:
        return area_higher ? CDOF_VERDICT_HIGHER : CDOF_VERDICT_LOWER;
    }
}

bool cdof_stats_verdict_is_worse(cdof_verdict_t v)
{
    return v == CDOF_VERDICT_WORSE || v == CDOF_VERDICT_WORST;
}

/* PERCENTILE.INC at rank h = lo + frac (0-based), lo < n. */
static double cdof_stats_interpolate(const double *sorted, size_t n, size_t lo, double frac)
{
    if (lo + 1 >= n || frac == 0.0)
        return sorted[lo < n ? lo : n - 1];
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

double cdof_stats_percentile_inc(const double *sorted, size_t n, double p)
{
    if (!sorted || n == 0 || !(p >= 0.0 && p <= 1.0))
        return NAN;
    double h = p * (double)(n - 1);
    /* p = 0.6 with n = 6 gives 3.0000000000000004: a rank that is an integer up to rounding
     * must pick the data point itself, or values on a bound would drift across it. */
    double r = nearbyint(h);
    if (fabs(h - r) <= 8.0 * DBL_EPSILON * fmax(1.0, h))
        h = r;
    size_t lo = (size_t)floor(h);
    return cdof_stats_interpolate(sorted, n, lo, h - (double)lo);
}

static int cdof_stats_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cdof_stats_quintiles(const double *values, size_t n, cdof_stats_polarity_t polarity,
                         double *scratch, int *out)
{
    if (!values || !scratch || !out)
        return -EINVAL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = 0;
        if (isfinite(values[i]))
            scratch[m++] = values[i];
    }
    if (m < 5)
        return -EDOM;
    qsort(scratch, m, sizeof *scratch, cdof_stats_cmp_double);
    /* Ranks (m - 1) k / 5 in exact integer arithmetic, so bounds that fall on a data point are
     * that point exactly. */
    double bound[4];
    for (size_t k = 1; k <= 4; k++) {
        size_t num = (m - 1) * k;
        bound[k - 1] = cdof_stats_interpolate(scratch, m, num / 5, (double)(num % 5) / 5.0);
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(values[i]))
            continue;
        int q = 1;
        while (q < 5 && values[i] > bound[q - 1])
            q++;
        out[i] = polarity == CDOF_STATS_POLARITY_HIGH_GOOD ? 6 - q : q;
    }
    return 0;
}

#define CDOF_STATS_TREND_POINTS 5

/* Weighted least-squares slope over the points whose bit is clear in skip (at most five), and
 * sum w (x - xbar_w)^2, which is 1/SE^2 of the slope. */
static double cdof_stats_wls_slope(const double *y, const double *w, unsigned skip, double *sxx)
{
    double sw = 0.0, swx = 0.0, swy = 0.0;
    for (int i = 0; i < CDOF_STATS_TREND_POINTS; i++) {
        if (skip & (1u << i))
            continue;
        sw += w[i];
        swx += w[i] * i;
        swy += w[i] * y[i];
    }
    double xbar = swx / sw, ybar = swy / sw;
    double sxy = 0.0;
    *sxx = 0.0;
    for (int i = 0; i < CDOF_STATS_TREND_POINTS; i++) {
        if (skip & (1u << i))
            continue;
        double dx = i - xbar;
        *sxx += w[i] * dx * dx;
        sxy += w[i] * dx * (y[i] - ybar);
    }
    return sxy / *sxx;
}

int cdof_stats_trend(const double *values, const cdof_interval_t *ci95, size_t n,
                     cdof_stats_polarity_t polarity, cdof_trend_result_t *out)
{
    if (!values || !ci95 || !out)
        return -EINVAL;
    *out =
        (cdof_trend_result_t){.direction = CDOF_TREND_NONE, .slope = NAN, .se = NAN, .chi2 = NAN};
    if (n < CDOF_STATS_TREND_POINTS)
        return 0;
    const double *v = values + (n - CDOF_STATS_TREND_POINTS);
    const cdof_interval_t *ci = ci95 + (n - CDOF_STATS_TREND_POINTS);
    double w[CDOF_STATS_TREND_POINTS];
    for (int i = 0; i < CDOF_STATS_TREND_POINTS; i++) {
        double se = (ci[i].upper - ci[i].lower) / 3.92;
        /* A zero-width interval would take infinite weight: no trend rather than a guess. */
        if (!isfinite(v[i]) || !isfinite(ci[i].lower) || !isfinite(ci[i].upper) || !(se > 0.0))
            return 0;
        w[i] = 1.0 / (se * se);
        if (!isfinite(w[i]))
            return 0;
    }

    double sxx;
    double slope = cdof_stats_wls_slope(v, w, 0, &sxx);
    double se = sqrt(1.0 / sxx);
    double chi2 = (slope / se) * (slope / se);
    if (!isfinite(slope) || !isfinite(se))
        return 0;
    out->slope = slope;
    out->se = se;
    out->chi2 = chi2;
    out->direction = CDOF_TREND_NO_SIGNIFICANT;
    if (!(chi2 > CDOF_TREND_CHI2))
        return 0;
    for (int j = 0; j < CDOF_STATS_TREND_POINTS; j++) {
        double sxx_j;
        double s = cdof_stats_wls_slope(v, w, 1u << j, &sxx_j);
        if (!((slope > 0.0 && s > 0.0) || (slope < 0.0 && s < 0.0)))
            return 0;
    }
    bool up = slope > 0.0;
    out->direction = up ? CDOF_TREND_INCREASING : CDOF_TREND_DECREASING;
    if (polarity == CDOF_STATS_POLARITY_HIGH_GOOD) {
        out->getting_better = up;
        out->getting_worse = !up;
    } else if (polarity == CDOF_STATS_POLARITY_LOW_GOOD) {
        out->getting_better = !up;
        out->getting_worse = up;
    }
    return 0;
}

/* Median of v[0..n), n >= 1, sorting v in place. */
static double cdof_stats_median_sorted(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cdof_stats_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double cdof_stats_robust_z(double x, const double *history, size_t n, double *scratch)
{
    return cdof_stats_robust_z_floor(x, history, n, scratch, 0);
}

double cdof_stats_robust_z_floor(double x, const double *history, size_t n, double *scratch,
                                 double floor_sd)
{
    if (!history || !scratch || n < 3 || !isfinite(x))
        return NAN;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(history[i]))
            return NAN;
        scratch[i] = history[i];
    }
    double med = cdof_stats_median_sorted(scratch, n);
    double mean_ad = 0;
    for (size_t i = 0; i < n; i++) {
        scratch[i] = fabs(history[i] - med);
        mean_ad += scratch[i] / (double)n;
    }
    double mad = cdof_stats_median_sorted(scratch, n);
    /* The spread as a standard deviation, never below the value's own sampling error: a history
     * that never moved is no reason to call a change within that error an outlier. */
    double sd = mad > 0 ? mad / 0.6745 : 1.253314 * mean_ad;
    if (isfinite(floor_sd) && floor_sd > sd)
        sd = floor_sd;
    if (sd > 0)
        return (x - med) / sd;
    return x == med ? 0 : x > med ? INFINITY : -INFINITY;
}
