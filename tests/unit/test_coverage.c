/* Expected reporters, coverage per geography, period judgement and per-metric policies. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdof_coverage.h"
#include "cdof_error.h"
#include "cdof_partnerships.h"
#include "cdof_stats.h"
#include "ref_fixture.h"

static bool *flags(void)
{
    return calloc(cdof_ref_area_count(ref), sizeof(bool));
}

static void set(bool *r, const char *code)
{
    const cdof_area_t *a = cdof_ref_area(ref, code);
    assert_non_null(a);
    r[a->index] = true;
}

static void test_expected_by_geography(void **state)
{
    (void)state;
    const cdof_metric_t *utla = cdof_ref_metric(ref, "continuity_of_care");
    const cdof_metric_t *nat = cdof_ref_metric(ref, "drug_use_last_year");
    const cdof_metric_t *reg = cdof_ref_metric(ref, "hcv_prevalence_pwid");
    const cdof_metric_t *pfa = cdof_ref_metric(ref, "neighbourhood_crime");
    const cdof_area_t *eng = cdof_ref_area(ref, CDOF_ENGLAND_CODE);
    const cdof_area_t *nw = cdof_ref_area(ref, "E12000002");
    const cdof_area_t *bpool = cdof_ref_area(ref, "E06000009");
    assert_true(cdof_coverage_expects(utla, bpool));
    assert_false(cdof_coverage_expects(utla, eng));
    assert_false(cdof_coverage_expects(utla, nw));
    assert_true(cdof_coverage_expects(nat, eng));
    assert_false(cdof_coverage_expects(nat, bpool));
    assert_true(cdof_coverage_expects(reg, nw));
    assert_false(cdof_coverage_expects(reg, bpool));
    assert_true(cdof_coverage_expects(pfa, eng));
}

static void test_coverage_counts(void **state)
{
    (void)state;
    const cdof_metric_t *m = cdof_ref_metric(ref, "continuity_of_care");
    bool *r = flags();
    set(r, "E06000009"); /* Blackpool, North West */
    set(r, "E08000001"); /* Bolton, North West */
    set(r, "E06000001"); /* Hartlepool, North East */
    const cdof_area_t *members[] = {cdof_ref_area(ref, "E08000001"),
                                    cdof_ref_area(ref, "E08000002")};
    cdof_partnership_t part = {.area = {.code = "bolton-bury", .kind = CDOF_AREA_PARTNERSHIP},
                               .members = members,
                               .nmembers = 2};
    cdof_coverage_t c;
    assert_int_equal(cdof_coverage_compute(ref, m, &part, 1, r, &c), 0);
    assert_int_equal(c.ngroups, 1 + 9 + 1);
    const cdof_coverage_group_t *eng = cdof_coverage_find(&c, CDOF_ENGLAND_CODE);
    assert_ptr_equal(eng, &c.groups[0]);
    assert_int_equal(eng->reported, 3);
    assert_int_equal(eng->expected, 153);
    assert_false(cdof_coverage_full(eng));
    const cdof_coverage_group_t *ne = cdof_coverage_find(&c, "E12000001");
    assert_int_equal(ne->reported, 1);
    assert_int_equal(ne->expected, 12);
    const cdof_coverage_group_t *nw = cdof_coverage_find(&c, "E12000002");
    assert_int_equal(nw->reported, 2);
    assert_int_equal(nw->expected, 24);
    const cdof_coverage_group_t *pg = cdof_coverage_find(&c, "bolton-bury");
    assert_int_equal(pg->reported, 1);
    assert_int_equal(pg->expected, 2);
    set(r, "E08000002");
    cdof_coverage_free(&c);
    assert_int_equal(cdof_coverage_compute(ref, m, &part, 1, r, &c), 0);
    assert_true(cdof_coverage_full(cdof_coverage_find(&c, "bolton-bury")));
    /* Every region's expected areas add up to England's. */
    uint32_t sum = 0;
    for (size_t g = 1; g < 10; g++)
        sum += c.groups[g].expected;
    assert_int_equal(sum, 153);
    cdof_coverage_free(&c);

    /* A national metric expects England alone; no region is expected. */
    const cdof_metric_t *nat = cdof_ref_metric(ref, "drug_use_last_year");
    memset(r, 0, cdof_ref_area_count(ref) * sizeof *r);
    assert_int_equal(cdof_coverage_compute(ref, nat, NULL, 0, r, &c), 0);
    assert_int_equal(c.groups[0].expected, 1);
    assert_int_equal(c.groups[0].reported, 0);
    assert_int_equal(c.groups[1].expected, 0);
    set(r, CDOF_ENGLAND_CODE);
    cdof_coverage_free(&c);
    assert_int_equal(cdof_coverage_compute(ref, nat, NULL, 0, r, &c), 0);
    assert_true(cdof_coverage_full(&c.groups[0]));
    cdof_coverage_free(&c);
    free(r);
}

static void test_judge(void **state)
{
    (void)state;
    cdof_period_t june;
    char err[128];
    assert_int_equal(cdof_period_parse("2024-06", &june, err, sizeof err), 0);
    cdof_period_policy_t pol = {0.9, 30};
    int32_t deadline = cdof_coverage_deadline(&pol, &june);
    assert_int_equal(deadline, june.last_day + 30);
    cdof_pdone_t why;
    /* All reported completes at once, whatever the day. */
    assert_int_equal(cdof_coverage_judge(153, 153, &pol, &june, june.first_day, &why),
                     CDOF_PSTATE_COMPLETE);
    assert_int_equal(why, CDOF_PDONE_ALL_REPORTED);
    /* 42 of 153 on the first drop: open, before and after the deadline. */
    assert_int_equal(cdof_coverage_judge(42, 153, &pol, &june, deadline - 1, &why),
                     CDOF_PSTATE_OPEN);
    assert_int_equal(cdof_coverage_judge(42, 153, &pol, &june, deadline + 1, &why),
                     CDOF_PSTATE_OPEN);
    assert_int_equal(why, CDOF_PDONE_NONE);
    /* 90% of 153 is 137.7: 138 areas are needed, and only after the deadline. */
    assert_int_equal(cdof_coverage_judge(138, 153, &pol, &june, deadline, &why), CDOF_PSTATE_OPEN);
    assert_int_equal(cdof_coverage_judge(137, 153, &pol, &june, deadline + 1, &why),
                     CDOF_PSTATE_OPEN);
    assert_int_equal(cdof_coverage_judge(138, 153, &pol, &june, deadline + 1, &why),
                     CDOF_PSTATE_COMPLETE);
    assert_int_equal(why, CDOF_PDONE_DEADLINE);
    /* 9 of 10 is exactly 90%. */
    assert_int_equal(cdof_coverage_judge(9, 10, &pol, &june, deadline + 1, &why),
                     CDOF_PSTATE_COMPLETE);
    /* Nothing expected never completes by itself. */
    assert_int_equal(cdof_coverage_judge(0, 0, &pol, &june, deadline + 1, &why), CDOF_PSTATE_OPEN);
    assert_string_equal(cdof_pstate_name(CDOF_PSTATE_CLOSED), "closed");
    assert_string_equal(cdof_pdone_name(CDOF_PDONE_DEADLINE), "deadline");
}

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_coverage_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_policies(void **state)
{
    (void)state;
    size_t nm = cdof_ref_metric_count(ref);
    cdof_period_policy_t *pol = calloc(nm, sizeof *pol);
    char err[256];
    assert_int_equal(cdof_coverage_policies_load(ref, NULL, pol, err, sizeof err), 0);
    assert_true(fabs(pol[0].threshold - CDOF_PERIOD_THRESHOLD_DEFAULT) < 1e-12);
    assert_int_equal(pol[0].deadline_days, CDOF_PERIOD_DEADLINE_DAYS_DEFAULT);

    char *path = write_tmp("metric_id,threshold_percent,deadline_days\n"
                           "*,,20\n"
                           "continuity_of_care,75,10\n"
                           "numbers_in_treatment,,60\n");
    assert_int_equal(cdof_coverage_policies_load(ref, path, pol, err, sizeof err), 0);
    const cdof_metric_t *coc = cdof_ref_metric(ref, "continuity_of_care");
    const cdof_metric_t *nit = cdof_ref_metric(ref, "numbers_in_treatment");
    assert_true(fabs(pol[coc->index].threshold - 0.75) < 1e-12);
    assert_int_equal(pol[coc->index].deadline_days, 10);
    assert_true(fabs(pol[nit->index].threshold - 0.9) < 1e-12);
    assert_int_equal(pol[nit->index].deadline_days, 60);
    assert_int_equal(pol[0].deadline_days, 20); /* "*" */
    assert_true(fabs(pol[0].threshold - 0.9) < 1e-12);
    unlink(path);

    /* A bad line names file, line and field, and nothing of the file applies. */
    path = write_tmp("metric_id,threshold_percent,deadline_days\n"
                     "continuity_of_care,50,5\n"
                     "no_such_metric,50,5\n");
    assert_int_equal(cdof_coverage_policies_load(ref, path, pol, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, ":3: field 'metric_id'"));
    assert_true(fabs(pol[coc->index].threshold - CDOF_PERIOD_THRESHOLD_DEFAULT) < 1e-12);
    unlink(path);
    path = write_tmp("metric_id,threshold_percent,deadline_days\ncontinuity_of_care,150,5\n");
    assert_int_equal(cdof_coverage_policies_load(ref, path, pol, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, ":2: field 'threshold_percent'"));
    unlink(path);
    path = write_tmp("metric,threshold\n");
    assert_int_equal(cdof_coverage_policies_load(ref, path, pol, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, "no 'metric_id' column"));
    unlink(path);
    free(pol);
}

/* A history with no spread at all: a tiny change is not an outlier once the value's own
 * sampling error floors the spread; a real jump still is. */
static void test_robust_z_floor(void **state)
{
    (void)state;
    double hist[9], scratch[9];
    for (int i = 0; i < 9; i++)
        hist[i] = 39.5;
    assert_true(isinf(cdof_stats_robust_z(40.0, hist, 9, scratch)));
    double se = 2.4; /* about a proportion near 40% of ~400 people */
    double z = cdof_stats_robust_z_floor(40.0, hist, 9, scratch, se);
    assert_true(isfinite(z));
    assert_true(fabs(z) < 1);
    assert_true(fabs(cdof_stats_robust_z_floor(60.0, hist, 9, scratch, se)) > 3.5);
    /* A floor below the history's own spread changes nothing. */
    double h2[5] = {10, 12, 14, 16, 18};
    assert_true(fabs(cdof_stats_robust_z_floor(30, h2, 5, scratch, 0.1) -
                     cdof_stats_robust_z(30, h2, 5, scratch)) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_by_geography),
        cmocka_unit_test(test_coverage_counts),
        cmocka_unit_test(test_judge),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_robust_z_floor),
    };
    return cmocka_run_group_tests(tests, ref_setup, ref_teardown);
}
