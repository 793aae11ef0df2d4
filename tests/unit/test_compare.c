/* Comparisons for one metric and period: aggregation from numerators and denominators,
 * submitted benchmarks, verdicts against England and region, quintiles. Expected figures are
 * worked by hand from the formulas in docs/DESIGN.md "Comparisons" (Wilson for proportions, exact
 * Poisson below 10 and Byar from 10 for rates). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_compare.h"
#include "cdof_error.h"
#include "cdof_partnerships.h"
#include "cdof_stats.h"

static cdof_ref_t *ref;

/* cmocka 1.1's float assertion works in single precision; these figures need double. */
#define assert_double_equal(got, want, tol) assert_near((got), (want), (tol), #got)
static void assert_near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s = %.15g, expected %.15g (tolerance %g)", what, got, want, tol);
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err);
    return ref ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cdof_ref_destroy(&ref);
    return 0;
}

static cdof_compare_input_t prop(const char *code, double x, double n)
{
    cdof_compare_input_t in = {.area = cdof_ref_area(ref, code),
                               .fig.has_numerator = true,
                               .fig.numerator = x,
                               .fig.has_denominator = true,
                               .fig.denominator = n};
    assert_non_null(in.area);
    return in;
}

/* England is the sum of the areas' counts, never the mean of their percentages. */
static void test_england_from_sums(void **state)
{
    (void)state;
    const cdof_metric_t *m = cdof_ref_metric(ref, "continuity_of_care");
    cdof_compare_input_t in[] = {prop("E06000001", 10, 100), prop("E06000009", 90, 100),
                                 prop("E09000001", 0, 800)};
    cdof_compare_t *c = cdof_compare_run(ref, m, in, 3);
    assert_non_null(c);
    const cdof_compare_row_t *eng = cdof_compare_find(c, "E92000001");
    assert_non_null(eng);
    assert_false(eng->submitted);
    assert_double_equal(eng->fig.numerator, 100, 0);
    assert_double_equal(eng->fig.denominator, 1000, 0);
    assert_double_equal(eng->fig.value, 10.0, 1e-12); /* not (10 + 90 + 0) / 3 */
    const cdof_compare_row_t *ne = cdof_compare_find(c, "E12000001");
    assert_non_null(ne);
    assert_double_equal(ne->fig.value, 10.0, 1e-12);
    const cdof_compare_row_t *nw = cdof_compare_find(c, "E12000002");
    assert_double_equal(nw->fig.value, 90.0, 1e-12);
    /* No data in the East Midlands: no aggregate row. */
    assert_null(cdof_compare_find(c, "E12000004"));

    const cdof_compare_row_t *bp = cdof_compare_find(c, "E06000009");
    cdof_interval_t w95, w998;
    cdof_stats_wilson(90, 100, CDOF_Z_95, &w95);
    cdof_stats_wilson(90, 100, CDOF_Z_99_8, &w998);
    assert_true(bp->has_interval);
    assert_double_equal(bp->ci95.lower, w95.lower * 100, 1e-9);
    assert_double_equal(bp->ci998.upper, w998.upper * 100, 1e-9);
    /* 90% against England's 10% with polarity high_good: far better. */
    assert_int_equal(bp->vs_england, CDOF_VERDICT_BEST);
    assert_int_equal(bp->vs_region, CDOF_VERDICT_SIMILAR); /* its own region is itself */
    const cdof_compare_row_t *ha = cdof_compare_find(c, "E06000001");
    assert_int_equal(ha->vs_england, CDOF_VERDICT_SIMILAR); /* 10% is England's value */
    const cdof_compare_row_t *city = cdof_compare_find(c, "E09000001");
    assert_int_equal(city->vs_england, CDOF_VERDICT_WORST);
    assert_int_equal(ha->quintile, 0); /* fewer than five areas */
    cdof_compare_destroy(&c);
    assert_null(c);
}

/* A submitted England figure is the benchmark, whatever the areas sum to. */
static void test_submitted_england(void **state)
{
    (void)state;
    const cdof_metric_t *m = cdof_ref_metric(ref, "continuity_of_care");
    cdof_compare_input_t in[] = {prop("E06000001", 50, 100), prop("E92000001", 300, 1000)};
    in[0].received_ms = 1700000000123;
    cdof_compare_t *c = cdof_compare_run(ref, m, in, 2);
    const cdof_compare_row_t *eng = cdof_compare_find(c, "E92000001");
    assert_true(eng->submitted);
    assert_double_equal(eng->fig.value, 30.0, 1e-12);
    const cdof_compare_row_t *ha = cdof_compare_find(c, "E06000001");
    assert_double_equal(ha->england_value, 30.0, 1e-12);
    assert_int_equal(ha->received_ms, 1700000000123); /* provenance reaches the query row */
    /* 50/100: 95% Wilson 40.4-59.6, 99.8% 35.0-65.0: England's 30 lies outside both. */
    assert_int_equal(ha->vs_england, CDOF_VERDICT_BEST);
    cdof_compare_destroy(&c);
}

/* Rates: exact Poisson below 10, Byar from 10, scaled by the multiplier over the population. */
static void test_rates(void **state)
{
    (void)state;
    const cdof_metric_t *m = cdof_ref_metric(ref, "drug_misuse_deaths");
    cdof_compare_input_t in[] = {prop("E06000009", 150, 3 * 138381.0),
                                 prop("E06000017", 3, 3 * 40476.0)};
    cdof_compare_t *c = cdof_compare_run(ref, m, in, 2);
    const cdof_compare_row_t *bp = cdof_compare_find(c, "E06000009");
    double k = 100000 / (3 * 138381.0);
    cdof_interval_t b95;
    cdof_stats_byar(150, CDOF_Z_95, &b95);
    assert_double_equal(bp->fig.value, 150 * k, 1e-9);
    assert_double_equal(bp->ci95.lower, b95.lower * k, 1e-9);
    assert_double_equal(bp->ci95.upper, b95.upper * k, 1e-9);
    const cdof_compare_row_t *ru = cdof_compare_find(c, "E06000017");
    cdof_interval_t e95;
    cdof_stats_poisson_exact(3, 0.95, &e95);
    double k2 = 100000 / (3 * 40476.0);
    assert_double_equal(ru->ci95.lower, e95.lower * k2, 1e-9);
    assert_double_equal(ru->ci95.upper, e95.upper * k2, 1e-9);
    /* Low is good. England here is 153 deaths over 536,571 person-years, 28.5 per 100,000:
     * outside Blackpool's 95% interval (30.6-42.4) but inside its 99.8% one (27.0-45.3). */
    const cdof_compare_row_t *eng = cdof_compare_find(c, "E92000001");
    assert_double_equal(eng->fig.value, 153 * 100000 / (3 * (138381.0 + 40476.0)), 1e-9);
    assert_int_equal(bp->vs_england, CDOF_VERDICT_WORSE);
    cdof_compare_destroy(&c);
}

/* Quintiles over the UTLAs, 1 at the best end; counts get none. */
static void test_quintiles_and_counts(void **state)
{
    (void)state;
    const cdof_metric_t *m = cdof_ref_metric(ref, "continuity_of_care");
    const char *codes[] = {"E06000001", "E06000002", "E06000003", "E06000004", "E06000005"};
    cdof_compare_input_t in[5];
    for (int i = 0; i < 5; i++)
        in[i] = prop(codes[i], 10 * (i + 1), 100);
    cdof_compare_t *c = cdof_compare_run(ref, m, in, 5);
    assert_int_equal(cdof_compare_find(c, "E06000005")->quintile, 1); /* highest, high_good */
    assert_int_equal(cdof_compare_find(c, "E06000001")->quintile, 5);
    cdof_compare_destroy(&c);

    const cdof_metric_t *n = cdof_ref_metric(ref, "numbers_in_treatment");
    cdof_compare_input_t cin[5];
    for (int i = 0; i < 5; i++)
        cin[i] = (cdof_compare_input_t){.area = cdof_ref_area(ref, codes[i]),
                                        .fig.has_value = true,
                                        .fig.value = 100 * (i + 1)};
    c = cdof_compare_run(ref, n, cin, 5);
    const cdof_compare_row_t *eng = cdof_compare_find(c, "E92000001");
    assert_double_equal(eng->fig.value, 1500, 0);
    const cdof_compare_row_t *r = cdof_compare_find(c, "E06000003");
    assert_false(r->has_interval);
    assert_int_equal(r->vs_england, CDOF_VERDICT_NOT_COMPARED);
    assert_int_equal(r->quintile, 0);
    cdof_compare_destroy(&c);
}

/* ---- partnerships, trends, baselines (cdof_compare_run_opts) ---- */

/* Two Greater Manchester boroughs joined into one partnership: its row sums their counts and is
 * judged like an area; each borough names it; an area outside any partnership names itself. */
static void test_partnership_rows(void **state)
{
    (void)state;
    const cdof_metric_t *m = cdof_ref_metric(ref, "continuity_of_care");
    const cdof_area_t *members[] = {cdof_ref_area(ref, "E08000001"),
                                    cdof_ref_area(ref, "E08000002")};
    cdof_partnership_t gm = {.area = {.index = UINT16_MAX,
                                      .code = "gm",
                                      .name = "Greater Manchester",
                                      .kind = CDOF_AREA_PARTNERSHIP,
                                      .region_code = "E12000002"},
                             .members = members,
                             .nmembers = 2};
    cdof_compare_input_t in[] = {prop("E08000001", 100, 1000), prop("E08000002", 100, 1000),
                                 prop("E06000001", 1800, 3000)};
    cdof_compare_opts_t o = {.partnerships = &gm, .npartnerships = 1, .trajectory_change = NAN};
    cdof_compare_t *c = NULL;
    assert_int_equal(cdof_compare_run_opts(ref, m, in, 3, &o, &c), 0);
    const cdof_compare_row_t *p = cdof_compare_find(c, "gm");
    assert_non_null(p);
    assert_false(p->submitted);
    assert_double_equal(p->fig.numerator, 200, 0);
    assert_double_equal(p->fig.denominator, 2000, 0);
    assert_double_equal(p->fig.value, 10.0, 1e-12);
    /* England 2000/5000 = 40%: far above the partnership's 10% (99.8% Wilson 8.1%-12.3%). */
    assert_double_equal(p->england_value, 40.0, 1e-12);
    assert_int_equal(p->vs_england, CDOF_VERDICT_WORST);
    /* Its region (North West) is the two boroughs alone: the same 10%. */
    assert_int_equal(p->vs_region, CDOF_VERDICT_SIMILAR);
    assert_int_equal(p->quintile, 0);
    assert_string_equal(cdof_compare_find(c, "E08000001")->partnership, "gm");
    assert_string_equal(cdof_compare_find(c, "E06000001")->partnership, "E06000001");
    /* No partnership row when none of its areas has data. */
    cdof_compare_destroy(&c);
    assert_int_equal(cdof_compare_run_opts(ref, m, &in[2], 1, &o, &c), 0);
    assert_null(cdof_compare_find(c, "gm"));
    cdof_compare_destroy(&c);
}

/* History for the trend tests: per area, percentages at n = 1000 for the months before
 * 2024-06 (index 0 = 2024-05, 1 = 2024-04, ...); NaN is a missing month. */
typedef struct {
    const char *code;
    double pct[4];
} hist_t;

static const hist_t HISTORY[] = {
    {"E06000001", {32, 34, 36, 38}},  /* falling 2 points a month into 2024-06's 30% */
    {"E06000002", {50, 50, NAN, 50}}, /* a gap in 2024-03: a broken series */
    {"E06000003", {49, 51, 50, 49}},  /* flat */
    {"E06000005", {28, 26, 24, 22}},  /* rising into 30%: worse than England, getting better */
    {"E92000001", {50, 50, 50, 50}},
};

static int past_from_table(void *ctx, const cdof_area_t *area, const cdof_period_t *p,
                           cdof_compare_past_t *out)
{
    int *calls = ctx;
    (*calls)++;
    cdof_period_t june;
    char err[128];
    cdof_period_parse("2024-06", &june, err, sizeof err);
    int back = 0;
    for (cdof_period_t q = june; q.first_day > p->first_day && back < 10; back++)
        cdof_period_prev(&q, &q);
    for (size_t i = 0; i < sizeof HISTORY / sizeof HISTORY[0]; i++) {
        if (strcmp(HISTORY[i].code, area->code) != 0 || back < 1 || back > 4 ||
            isnan(HISTORY[i].pct[back - 1]))
            continue;
        cdof_interval_t w;
        cdof_stats_wilson(HISTORY[i].pct[back - 1] * 10, 1000, CDOF_Z_95, &w);
        *out = (cdof_compare_past_t){
            true, true, HISTORY[i].pct[back - 1], {w.lower * 100, w.upper * 100}};
        return 0;
    }
    return CDOF_ENOTFOUND;
}

static int past_fails(void *ctx, const cdof_area_t *area, const cdof_period_t *p,
                      cdof_compare_past_t *out)
{
    (void)ctx, (void)area, (void)p, (void)out;
    return -EIO;
}

static void test_trend_and_worse_getting_worse(void **state)
{
    (void)state;
    const cdof_metric_t *m = cdof_ref_metric(ref, "continuity_of_care");
    cdof_period_t june;
    char err[128];
    assert_int_equal(cdof_period_parse("2024-06", &june, err, sizeof err), 0);
    cdof_compare_input_t in[] = {prop("E06000001", 300, 1000), prop("E06000002", 500, 1000),
                                 prop("E06000003", 500, 1000), prop("E06000004", 500, 1000),
                                 prop("E06000005", 300, 1000), prop("E92000001", 5000, 10000)};
    int calls = 0;
    cdof_compare_opts_t o = {.period = &june,
                             .past = past_from_table,
                             .past_ctx = &calls,
                             .trend = true,
                             .trajectory_change = NAN};
    cdof_compare_t *c = NULL;
    assert_int_equal(cdof_compare_run_opts(ref, m, in, 6, &o, &c), 0);

    /* 38, 36, 34, 32, 30% with SEs about 1.5 points: slope -2 a month, chi2 about 17 > 9.5495,
     * and every leave-one-out slope is -2 too. High is good, so getting worse; 30% is worst
     * against England's 50%: "worse and getting worse". */
    const cdof_compare_row_t *a = cdof_compare_find(c, "E06000001");
    assert_int_equal(a->trend.direction, CDOF_TREND_DECREASING);
    assert_true(a->trend.getting_worse && !a->trend.getting_better);
    assert_double_equal(a->trend.slope, -2.0, 0.05);
    assert_true(a->trend.chi2 > CDOF_TREND_CHI2);
    assert_int_equal(a->vs_england, CDOF_VERDICT_WORST);
    assert_true(a->worse_and_getting_worse);
    /* The mirror image: as far below England, but climbing, so not "getting worse". */
    const cdof_compare_row_t *up = cdof_compare_find(c, "E06000005");
    assert_int_equal(up->trend.direction, CDOF_TREND_INCREASING);
    assert_true(up->trend.getting_better && !up->trend.getting_worse);
    assert_int_equal(up->vs_england, CDOF_VERDICT_WORST);
    assert_false(up->worse_and_getting_worse);

    /* A missing month among the five: no trend at all. */
    const cdof_compare_row_t *b = cdof_compare_find(c, "E06000002");
    assert_int_equal(b->trend.direction, CDOF_TREND_NONE);
    assert_true(isnan(b->trend.slope));
    assert_false(b->worse_and_getting_worse);
    /* Flat: computed, not significant. */
    assert_int_equal(cdof_compare_find(c, "E06000003")->trend.direction, CDOF_TREND_NO_SIGNIFICANT);
    /* No history at all (too few points). */
    assert_int_equal(cdof_compare_find(c, "E06000004")->trend.direction, CDOF_TREND_NONE);
    /* England's submitted figure gets a trend of its own: flat at 50%. */
    assert_int_equal(cdof_compare_find(c, "E92000001")->trend.direction, CDOF_TREND_NO_SIGNIFICANT);
    cdof_compare_destroy(&c);

    /* Pooled periods get no trend, and past() is not even asked. */
    const cdof_metric_t *deaths = cdof_ref_metric(ref, "drug_misuse_deaths");
    cdof_period_t pooled;
    assert_int_equal(cdof_period_parse("2018-2020", &pooled, err, sizeof err), 0);
    cdof_compare_input_t din = prop("E06000001", 30, 3 * 93836.0);
    o.period = &pooled;
    calls = 0;
    assert_int_equal(cdof_compare_run_opts(ref, deaths, &din, 1, &o, &c), 0);
    assert_int_equal(cdof_compare_find(c, "E06000001")->trend.direction, CDOF_TREND_NONE);
    assert_int_equal(calls, 0);
    cdof_compare_destroy(&c);

    /* A failing past() fails the run and leaves nothing behind. */
    o.period = &june;
    o.past = past_fails;
    c = (cdof_compare_t *)&o; /* overwritten with NULL */
    assert_int_equal(cdof_compare_run_opts(ref, m, in, 6, &o, &c), -EIO);
    assert_null(c);
}

static int past_count(void *ctx, const cdof_area_t *area, const cdof_period_t *p,
                      cdof_compare_past_t *out)
{
    (void)p;
    const double *base = ctx; /* [0] for E06000001, [1] for E06000002 */
    int i = strcmp(area->code, "E06000001") == 0   ? 0
            : strcmp(area->code, "E06000002") == 0 ? 1
                                                   : -1;
    if (i < 0)
        return CDOF_ENOTFOUND;
    *out = (cdof_compare_past_t){.has_value = true, .value = base[i]};
    return 0;
}

/* Counts without a denominator: against the same period a year earlier and the commitment. */
static void test_count_baseline_and_trajectory(void **state)
{
    (void)state;
    const cdof_metric_t *m = cdof_ref_metric(ref, "numbers_in_treatment"); /* high_good */
    cdof_period_t june;
    char err[128];
    assert_int_equal(cdof_period_parse("2024-06", &june, err, sizeof err), 0);
    cdof_compare_input_t in[] = {
        {.area = cdof_ref_area(ref, "E06000001"), .fig.has_value = true, .fig.value = 1200},
        {.area = cdof_ref_area(ref, "E06000002"), .fig.has_value = true, .fig.value = 5},
        {.area = cdof_ref_area(ref, "E06000003"), .fig.has_value = true, .fig.value = 40}};
    double base[2] = {1000, 4};
    cdof_compare_opts_t o = {
        .period = &june, .past = past_count, .past_ctx = base, .trajectory_change = 0.2};
    cdof_compare_t *c = NULL;
    assert_int_equal(cdof_compare_run_opts(ref, m, in, 3, &o, &c), 0);
    /* 1200: Byar 99.8% lower limit 1200 (1 - 1/10800 - 3.0902/(3 sqrt 1200))^3 = 1095.8, above
     * last year's 1000: best. The commitment's 1000 x 1.2 = 1200 is the value itself: similar. */
    const cdof_compare_row_t *a = cdof_compare_find(c, "E06000001");
    cdof_interval_t b998;
    cdof_stats_byar(1200, CDOF_Z_99_8, &b998);
    assert_double_equal(b998.lower, 1095.8, 0.05);
    assert_true(a->has_baseline);
    assert_double_equal(a->baseline_value, 1000, 0);
    assert_int_equal(a->vs_baseline, CDOF_VERDICT_BEST);
    assert_true(a->has_trajectory);
    assert_double_equal(a->trajectory_value, 1200, 1e-9);
    assert_int_equal(a->vs_trajectory, CDOF_VERDICT_SIMILAR);
    /* 5 against 4: the exact interval for 5 (1.62-11.67 at 95%) holds 4, and 4.8: similar. */
    const cdof_compare_row_t *b = cdof_compare_find(c, "E06000002");
    assert_int_equal(b->vs_baseline, CDOF_VERDICT_SIMILAR);
    assert_int_equal(b->vs_trajectory, CDOF_VERDICT_SIMILAR);
    /* No count a year earlier: no baseline, no trajectory. */
    const cdof_compare_row_t *n = cdof_compare_find(c, "E06000003");
    assert_false(n->has_baseline);
    assert_false(n->has_trajectory);
    assert_int_equal(n->vs_baseline, CDOF_VERDICT_NOT_COMPARED);
    cdof_compare_destroy(&c);

    /* Without a commitment: a baseline but no trajectory; a proportion gets neither. */
    o.trajectory_change = NAN;
    assert_int_equal(cdof_compare_run_opts(ref, m, in, 1, &o, &c), 0);
    assert_true(cdof_compare_find(c, "E06000001")->has_baseline);
    assert_false(cdof_compare_find(c, "E06000001")->has_trajectory);
    cdof_compare_destroy(&c);
    const cdof_metric_t *cc = cdof_ref_metric(ref, "continuity_of_care");
    cdof_compare_input_t pin = prop("E06000001", 10, 100);
    assert_int_equal(cdof_compare_run_opts(ref, cc, &pin, 1, &o, &c), 0);
    assert_false(cdof_compare_find(c, "E06000001")->has_baseline);
    cdof_compare_destroy(&c);
}

/* A period still settling has no stored rows: the empty comparison is built from none. */
static void test_from_no_rows(void **state)
{
    (void)state;
    cdof_compare_t *c = NULL;
    assert_int_equal(cdof_compare_from_rows(NULL, 0, &c), 0);
    assert_non_null(c);
    cdof_compare_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_england_from_sums),
        cmocka_unit_test(test_submitted_england),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_quintiles_and_counts),
        cmocka_unit_test(test_partnership_rows),
        cmocka_unit_test(test_trend_and_worse_getting_worse),
        cmocka_unit_test(test_count_baseline_and_trajectory),
        cmocka_unit_test(test_from_no_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
