/* Comparisons for one metric and period: aggregation from numerators and denominators,
 * submitted benchmarks, verdicts against England and region, quintiles. Expected figures are
 * worked by hand from the formulas in DESIGN.md (Wilson for proportions, exact Poisson below 10
 * and Byar from 10 for rates). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_compare.h"
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
                               .has_numerator = true,
                               .numerator = x,
                               .has_denominator = true,
                               .denominator = n};
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
    assert_double_equal(eng->numerator, 100, 0);
    assert_double_equal(eng->denominator, 1000, 0);
    assert_double_equal(eng->value, 10.0, 1e-12); /* not (10 + 90 + 0) / 3 */
    const cdof_compare_row_t *ne = cdof_compare_find(c, "E12000001");
    assert_non_null(ne);
    assert_double_equal(ne->value, 10.0, 1e-12);
    const cdof_compare_row_t *nw = cdof_compare_find(c, "E12000002");
    assert_double_equal(nw->value, 90.0, 1e-12);
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
    assert_double_equal(eng->value, 30.0, 1e-12);
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
    assert_double_equal(bp->value, 150 * k, 1e-9);
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
    assert_double_equal(eng->value, 153 * 100000 / (3 * (138381.0 + 40476.0)), 1e-9);
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
        cin[i] = (cdof_compare_input_t){
            .area = cdof_ref_area(ref, codes[i]), .has_value = true, .value = 100 * (i + 1)};
    c = cdof_compare_run(ref, n, cin, 5);
    const cdof_compare_row_t *eng = cdof_compare_find(c, "E92000001");
    assert_double_equal(eng->value, 1500, 0);
    const cdof_compare_row_t *r = cdof_compare_find(c, "E06000003");
    assert_false(r->has_interval);
    assert_int_equal(r->vs_england, CDOF_VERDICT_NOT_COMPARED);
    assert_int_equal(r->quintile, 0);
    cdof_compare_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_england_from_sums),
        cmocka_unit_test(test_submitted_england),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_quintiles_and_counts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
