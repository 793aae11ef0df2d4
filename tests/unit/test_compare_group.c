/* A partnership of areas compared as one (cdof_compare_group): counts summed, never rates
 * averaged; region only when the members share one; missing members refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_compare.h"
#include "cdof_error.h"

#include "ref_fixture.h"

/* Continuity of care: four North East areas at 40 of 100, Hartlepool at 10 of 100, and
 * Blackpool (North West) at 10 of 50. */
static cdof_compare_t *run(void)
{
    static const char *codes[] = {"E06000001", "E06000002", "E06000003",
                                  "E06000004", "E06000005", "E06000009"};
    static const double num[] = {10, 40, 40, 40, 40, 10}, den[] = {100, 100, 100, 100, 100, 50};
    cdof_compare_input_t in[6];
    for (size_t i = 0; i < 6; i++)
        in[i] = (cdof_compare_input_t){.area = cdof_ref_area(ref, codes[i]),
                                       .fig.has_numerator = true,
                                       .fig.numerator = num[i],
                                       .fig.has_denominator = true,
                                       .fig.denominator = den[i]};
    cdof_compare_t *c = cdof_compare_run(ref, cdof_ref_metric(ref, "continuity_of_care"), in, 6);
    assert_non_null(c);
    return c;
}

static void test_sums_counts_and_compares(void **state)
{
    (void)state;
    cdof_compare_t *c = run();
    const cdof_metric_t *m = cdof_ref_metric(ref, "continuity_of_care");
    const char *tees[] = {"E06000002", "E06000003"};
    cdof_compare_row_t row;
    assert_int_equal(cdof_compare_group(c, ref, m, tees, 2, &row), 0);
    assert_true(row.fig.numerator == 80 && row.fig.denominator == 200);
    assert_true(fabs(row.fig.value - 40) < 1e-9);
    assert_true(row.has_interval);
    /* England is 180 / 550 = 32.7%: below 80/200's 95% interval (33.5-47.0) but inside its
     * 99.8% one, so the pair is better than England (high is good). */
    assert_true(fabs(row.england_value - 100.0 * 180 / 550) < 1e-9);
    assert_int_equal(row.vs_england, CDOF_VERDICT_BETTER);
    assert_true(row.vs_region != CDOF_VERDICT_NOT_COMPARED); /* both North East */
    assert_int_equal(row.quintile, 0);

    /* Hartlepool and Blackpool: 20 of 150, not the mean of 10% and 20%; two regions. */
    const char *pair[] = {"E06000001", "E06000009"};
    assert_int_equal(cdof_compare_group(c, ref, m, pair, 2, &row), 0);
    assert_true(fabs(row.fig.value - 100.0 * 20 / 150) < 1e-9);
    assert_int_equal(row.vs_england, CDOF_VERDICT_WORST);
    assert_int_equal(row.vs_region, CDOF_VERDICT_NOT_COMPARED);
    cdof_compare_destroy(&c);
}

static void test_refuses_missing_members(void **state)
{
    (void)state;
    cdof_compare_t *c = run();
    const cdof_metric_t *m = cdof_ref_metric(ref, "continuity_of_care");
    const char *missing[] = {"E06000002", "E08000001"}; /* Bolton sent nothing */
    const char *region[] = {"E12000001"};
    cdof_compare_row_t row;
    assert_int_equal(cdof_compare_group(c, ref, m, missing, 2, &row), CDOF_ENOTFOUND);
    assert_int_equal(cdof_compare_group(c, ref, m, region, 1, &row), CDOF_ENOTFOUND);
    assert_int_equal(cdof_compare_group(c, ref, m, NULL, 0, &row), -22);
    cdof_compare_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums_counts_and_compares),
        cmocka_unit_test(test_refuses_missing_members),
    };
    return cmocka_run_group_tests(tests, ref_setup, ref_teardown);
}
