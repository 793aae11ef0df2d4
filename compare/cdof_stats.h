/* Statistics for comparisons, as OHID's Fingertips computes them (docs/DESIGN.md "Comparisons").
 * Pure functions of numbers: no I/O, no allocation beyond what a caller passes in, no store. */
#ifndef CDOF_STATS_H
#define CDOF_STATS_H

#include <stdbool.h>
#include <stddef.h>

#define CDOF_Z_95       1.959963984540054
#define CDOF_Z_99_8     3.090232306167813
#define CDOF_TREND_CHI2 9.5495 /* chi-squared threshold for a significant recent trend */

typedef struct {
    double lower, upper;
} cdof_interval_t;

/* Verdict values equal cdof.v1.Verdict. */
typedef enum {
    CDOF_VERDICT_NOT_COMPARED = 0,
    CDOF_VERDICT_BETTER = 1,
    CDOF_VERDICT_SIMILAR = 2,
    CDOF_VERDICT_WORSE = 3,
    CDOF_VERDICT_BEST = 4,
    CDOF_VERDICT_WORST = 5,
    CDOF_VERDICT_HIGHER = 6,
    CDOF_VERDICT_LOWER = 7
} cdof_verdict_t;

typedef enum {
    CDOF_STATS_POLARITY_NONE = 0,
    CDOF_STATS_POLARITY_HIGH_GOOD = 1,
    CDOF_STATS_POLARITY_LOW_GOOD = 2
} cdof_stats_polarity_t; /* same values as cdof_polarity_t */

/* z for a two-sided confidence level given as a fraction (0.95 -> 1.959963984540054).
 * Returns NaN outside (0, 1). */
double cdof_stats_z(double confidence);

/* Inverse of the standard normal CDF, 0 < p < 1 (NaN otherwise); about 1e-15 relative. */
double cdof_stats_normal_quantile(double p);

/* Regularized incomplete gamma functions P(a, x) (lower) and Q(a, x) = 1 - P(a, x) (upper),
 * a > 0, x >= 0; NaN otherwise. For integer a, P(a, x) = Pr(Poisson(x) >= a). */
double cdof_stats_gamma_p(double a, double x);
double cdof_stats_gamma_q(double a, double x);

/* Wilson score interval for x successes out of n (0 <= x <= n, n > 0, x may be fractional), as
 * a proportion in [0,1]; z >= 0. Returns 0 or -EDOM for invalid input (out untouched); -EINVAL
 * when out is NULL. The same return convention holds for the interval functions below. */
int cdof_stats_wilson(double x, double n, double z, cdof_interval_t *out);

/* Byar's approximation for a Poisson count x >= 0: the interval for the count itself. The lower
 * limit is 0 for x = 0 and is clamped at 0 where the formula goes negative (small x, large z). */
int cdof_stats_byar(double x, double z, cdof_interval_t *out);

/* Exact Poisson interval for an integer count x >= 0 at two-sided confidence (0.95, 0.998):
 * lower chi2(alpha/2; 2x)/2 (0 when x = 0), upper chi2(1 - alpha/2; 2x + 2)/2. A fractional x
 * is accepted and uses the same formula (the gamma functions are defined for real x). */
int cdof_stats_poisson_exact(double x, double confidence, cdof_interval_t *out);

/* The interval Fingertips uses for a count: exact below 10, Byar's method from 10. */
int cdof_stats_count_interval(double x, double confidence, cdof_interval_t *out);

/* Quantile of the chi-squared distribution with k degrees of freedom (k > 0), 0 < p < 1; NaN
 * otherwise. Near full double precision (the upper tail is inverted through Q, not 1 - P). */
double cdof_stats_chi2_quantile(double p, double k);

/* The benchmark test: the benchmark's point value against the area's 95% and 99.8% intervals.
 * Inside the 95% interval: similar; outside 95% but inside 99.8%: better/worse by polarity
 * (higher/lower without polarity); outside 99.8%: best/worst (still higher/lower without
 * polarity). Intervals are closed: a benchmark exactly on a bound is inside it. Non-finite
 * inputs, NULL intervals or lower > upper: not compared. */
cdof_verdict_t cdof_stats_benchmark(double benchmark, const cdof_interval_t *ci95,
                                    const cdof_interval_t *ci998, cdof_stats_polarity_t polarity);

/* True for worse and worst. */
bool cdof_stats_verdict_is_worse(cdof_verdict_t v);

/* Percentile by linear interpolation between sorted values, as Excel's PERCENTILE.INC:
 * sorted[0..n) ascending, 0 <= p <= 1. NaN for NULL, n = 0 or p outside [0, 1]. */
double cdof_stats_percentile_inc(const double *sorted, size_t n, double p);

/* Quintiles: for each of n values writes 1..5 into out (1 = best end by polarity: the highest
 * values for high_good, the lowest for low_good and for no polarity). Bounds at the 20/40/60/80th
 * PERCENTILE.INC of the valid values; a value on a bound belongs to the quintile of lower values
 * (ascending quintiles are (b[k-1], b[k]]), before orientation. NaN and infinite values get 0.
 * Fewer than five valid values: every out is 0 and the return is -EDOM. scratch holds n doubles
 * (caller-owned, overwritten). Returns 0, -EDOM, or -EINVAL for NULL pointers. */
int cdof_stats_quintiles(const double *values, size_t n, cdof_stats_polarity_t polarity,
                         double *scratch, int *out);

typedef enum {
    CDOF_TREND_NONE = 0,           /* not computed: too few points, broken series */
    CDOF_TREND_NO_SIGNIFICANT = 1, /* no significant change */
    CDOF_TREND_INCREASING = 2,
    CDOF_TREND_DECREASING = 3
} cdof_trend_t;

typedef struct {
    cdof_trend_t direction;
    bool getting_better, getting_worse; /* by polarity; both false with no polarity */
    double slope, se, chi2;
} cdof_trend_result_t;

/* Recent trend over the last five points of an unbroken series: values and their 95% intervals
 * (SE = interval width / 3.92), inverse-variance weighted least squares on x = 0..4. Significant
 * when (slope/SE)^2 > CDOF_TREND_CHI2 and the slope keeps its sign when any single point is
 * dropped (every leave-one-out slope of four points is non-zero with the same sign). n < 5, a
 * non-finite value or bound among the last five, or an interval of zero or negative width:
 * CDOF_TREND_NONE. Uses the last five of n. Returns 0 whenever out is filled (CDOF_TREND_NONE
 * included; slope, se and chi2 are NaN then), -EINVAL for NULL pointers. */
int cdof_stats_trend(const double *values, const cdof_interval_t *ci95, size_t n,
                     cdof_stats_polarity_t polarity, cdof_trend_result_t *out);

/* For data-quality alerts: a robust (median-based) z-score of x against history[0..n):
 * 0.6745 * (x - median) / MAD; when the MAD is 0, (x - median) / (1.2533 * mean absolute
 * deviation); when that is 0 too, 0 if x equals the median, else +/-INFINITY. scratch holds n
 * doubles (caller-owned, overwritten). NaN for n < 3, NULL pointers or non-finite input. */
double cdof_stats_robust_z(double x, const double *history, size_t n, double *scratch);

/* The same with the spread (as a standard deviation: MAD / 0.6745, or 1.2533 * the mean absolute
 * deviation) never below floor_sd, e.g. the value's own standard error. With floor_sd > 0 the
 * score is finite whatever the history; floor_sd 0 or NaN: cdof_stats_robust_z. */
double cdof_stats_robust_z_floor(double x, const double *history, size_t n, double *scratch,
                                 double floor_sd);

#endif
