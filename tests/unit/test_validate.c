/* Validation of metric updates and milestones against the shipped reference data: every reason
 * path, and the cases that must pass. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_validate.h"

static cdof_ref_t *ref;

static int setup(void **state)
{
    (void)state;
    char err[512];
    ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err);
    if (!ref)
        fprintf(stderr, "reference data: %s\n", err);
    return ref ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cdof_ref_destroy(&ref);
    return 0;
}

static cdof_period_t P(const char *text)
{
    cdof_period_t p;
    char err[256];
    if (cdof_period_parse(text, &p, err, sizeof err) != 0)
        fail_msg("%s", err);
    return p;
}

/* An update that passes for continuity_of_care (monthly, percentage, wilson). */
static cdof_update_t good_update(void)
{
    cdof_update_t u = {.metric_id = "continuity_of_care",
                       .area_code = "E06000001",
                       .period = P("2024-03"),
                       .fig.has_numerator = true,
                       .fig.numerator = 12,
                       .fig.has_denominator = true,
                       .fig.denominator = 40};
    return u;
}

static void expect_ok(const cdof_scope_t *scope, const cdof_update_t *u)
{
    char err[512] = "stale";
    const cdof_metric_t *m = NULL;
    int rc = cdof_validate_update_metric(ref, scope, u, &m, err, sizeof err);
    if (rc != 0)
        fail_msg("%s %s: rejected: %s", u->metric_id, u->area_code, err);
    assert_string_equal(err, "");
    assert_ptr_equal(m, cdof_ref_metric(ref, u->metric_id)); /* the hub stores with it */
}

static void expect_reason(const cdof_scope_t *scope, const cdof_update_t *u, const char *want)
{
    char err[512] = "";
    const cdof_metric_t *m = cdof_ref_metric_at(ref, 0);
    int rc = cdof_validate_update_metric(ref, scope, u, &m, err, sizeof err);
    if (rc != CDOF_EINVALID)
        fail_msg("accepted (rc %d), want '%s'", rc, want);
    assert_null(m);
    if (!strstr(err, want))
        fail_msg("reason '%s' lacks '%s'", err, want);
}

static void test_good_updates(void **state)
{
    (void)state;
    cdof_update_t u = good_update();
    expect_ok(NULL, &u);
    u.fig.numerator = u.fig.denominator; /* 100% is allowed */
    expect_ok(NULL, &u);
    u.fig.numerator = 0;
    expect_ok(NULL, &u);
    u.fig.has_value = true; /* a value alongside is tolerated: the hub recomputes */
    u.fig.value = 30;
    expect_ok(NULL, &u);
    /* a monthly metric takes months only: an aggregate would be a row of its own */
    u.period = P("2024-Q1");
    expect_reason(NULL, &u, "is a quarter: metric 'continuity_of_care' (monthly) takes months");
    u.period = P("2023/24");
    expect_reason(NULL, &u, "is a financial year");
    u = good_update();

    cdof_update_t c = {.metric_id = "numbers_in_treatment",
                       .area_code = "E08000003",
                       .period = P("2024-02"),
                       .fig.has_value = true,
                       .fig.value = 4321};
    expect_ok(NULL, &c);
    c.fig.has_value = false;
    c.fig.has_numerator = true;
    c.fig.numerator = 4321;
    expect_ok(NULL, &c);
    c.fig.has_value = true; /* both, agreeing */
    expect_ok(NULL, &c);
    c.fig.value = 0;
    c.fig.numerator = 0;
    expect_ok(NULL, &c);

    cdof_update_t r = {.metric_id = "ocu_prevalence",
                       .area_code = "E09000033",
                       .period = P("2022/23"),
                       .fig.has_value = true,
                       .fig.value = 9.87};
    expect_ok(NULL, &r);
    r.fig.has_value = false;
    r.fig.has_numerator = r.fig.has_denominator = true;
    r.fig.numerator = 2000;
    r.fig.denominator = 180000;
    expect_ok(NULL, &r);
    r.period = P("2022");
    expect_ok(NULL, &r);

    cdof_update_t d = {.metric_id = "drug_misuse_deaths",
                       .area_code = "E06000001",
                       .period = P("2021-2023"),
                       .fig.has_numerator = true,
                       .fig.numerator = 45,
                       .fig.has_denominator = true,
                       .fig.denominator = 280000};
    expect_ok(NULL, &d);
    d.period = P("2023");
    expect_ok(NULL, &d);
    d.fig.numerator =
        300000; /* a rate's numerator may exceed its denominator, but not this one's */
    expect_reason(NULL, &d, "is outside metric 'drug_misuse_deaths''s plausible range 0 to 300");

    cdof_update_t n = {.metric_id = "drug_use_last_year",
                       .area_code = CDOF_ENGLAND_CODE,
                       .period = P("2022/23"),
                       .fig.has_value = true,
                       .fig.value = 9.2};
    expect_ok(NULL, &n);
    n.fig.value = 100;
    expect_ok(NULL, &n);
    n.fig.has_value = false;
    n.fig.has_numerator = n.fig.has_denominator = true;
    n.fig.numerator = 920;
    n.fig.denominator = 10000;
    expect_ok(NULL, &n);
}

static void test_metric_and_area_reasons(void **state)
{
    (void)state;
    cdof_update_t u = good_update();
    u.metric_id = NULL;
    expect_reason(NULL, &u, "metric_id is missing");
    u.metric_id = "";
    expect_reason(NULL, &u, "metric_id is missing");
    u.metric_id = "crime_rate";
    expect_reason(NULL, &u, "metric_id 'crime_rate' is not in the metric catalogue");
    u = good_update();
    u.area_code = NULL;
    expect_reason(NULL, &u, "area_code is missing");
    u.area_code = "";
    expect_reason(NULL, &u, "area_code is missing");
    u.area_code = "E06999999";
    expect_reason(NULL, &u, "area_code 'E06999999' is not a known area");
    u.area_code = "e06000001";
    expect_reason(NULL, &u, "area_code 'e06000001' is not a known area");
    /* A reason quotes at most 64 bytes of a hostile string. */
    char huge[400];
    memset(huge, 'A', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    u.area_code = huge;
    char err[512];
    assert_int_equal(cdof_validate_update(ref, NULL, &u, err, sizeof err), CDOF_EINVALID);
    assert_true(strlen(err) < 120);
    u.area_code = "E06000001";
    u.metric_id = huge;
    assert_int_equal(cdof_validate_update(ref, NULL, &u, err, sizeof err), CDOF_EINVALID);
    assert_true(strlen(err) < 120);
    assert_int_equal(cdof_validate_update(ref, NULL, NULL, err, sizeof err), CDOF_EINVALID);
    assert_int_equal(cdof_validate_update(NULL, NULL, &u, err, sizeof err), CDOF_EINVALID);
    /* A small buffer is filled safely, and a NULL one is allowed. */
    char tiny[8];
    assert_int_equal(cdof_validate_update(ref, NULL, &u, tiny, sizeof tiny), CDOF_EINVALID);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(cdof_validate_update(ref, NULL, &u, NULL, 0), CDOF_EINVALID);
}

static void test_scope(void **state)
{
    (void)state;
    const char *const mine[] = {"E08000001", "E08000002", "E08000003"};
    cdof_scope_t local = {false, mine, 3};
    cdof_scope_t national = {true, NULL, 0};
    cdof_update_t u = good_update();
    u.area_code = "E08000003";
    expect_ok(&local, &u);
    expect_ok(&national, &u);
    u.area_code = "E06000001";
    expect_reason(&local, &u,
                  "area_code 'E06000001' (Hartlepool) is not one of this agent's areas");
    expect_ok(&national, &u);
    u.area_code = CDOF_ENGLAND_CODE;
    expect_reason(&local, &u,
                  "area_code 'E92000001' is England (England): only a national source may report "
                  "England and the regions");
    expect_ok(&national, &u);
    expect_ok(NULL, &u);
    u.area_code = "E12000002";
    expect_reason(&local, &u, "area_code 'E12000002' is a region (North West): only a national");
    expect_ok(&national, &u);
    /* Listing a region in a local scope does not make it reportable. */
    const char *const with_region[] = {"E12000002"};
    cdof_scope_t odd = {false, with_region, 1};
    expect_reason(&odd, &u, "only a national source may report");
    /* An empty local scope admits nothing. */
    cdof_scope_t none = {false, NULL, 0};
    u.area_code = "E08000003";
    expect_reason(&none, &u, "is not one of this agent's areas");
}

static void test_national_geography(void **state)
{
    (void)state;
    const char *national_metrics[] = {"drug_use_last_year", "drug_related_homicides",
                                      "drug_purity"};
    cdof_scope_t national = {true, NULL, 0};
    for (size_t i = 0; i < 3; i++) {
        cdof_update_t u = {.metric_id = national_metrics[i],
                           .area_code = CDOF_ENGLAND_CODE,
                           .period = P("2023/24"),
                           .fig.has_value = true,
                           .fig.value = 7};
        expect_ok(&national, &u);
        u.area_code = "E12000007";
        char want[256];
        snprintf(want, sizeof want,
                 "area_code 'E12000007': metric '%s' is published for England only (E92000001)",
                 national_metrics[i]);
        expect_reason(&national, &u, want);
        u.area_code = "E06000001";
        expect_reason(NULL, &u, "is published for England only");
    }
}

static void test_period_reasons(void **state)
{
    (void)state;
    cdof_update_t u = good_update();
    u.period = (cdof_period_t){CDOF_PERIOD_NONE, 0, 0};
    expect_reason(NULL, &u, "period is missing");
    u.period = P("2024-03");
    u.period.last_day--;
    expect_reason(NULL, &u, "is not a well-formed period");
    u.period = (cdof_period_t){(cdof_period_kind_t)42, 0, 30};
    expect_reason(NULL, &u, "period (kind 42, days 0 to 30) is not a well-formed period");
    u.period = P("2024");
    expect_reason(NULL, &u,
                  "period '2024' is a calendar year: metric 'continuity_of_care' (monthly) takes "
                  "months");
    u.period = P("2021-2023");
    expect_reason(NULL, &u, "period '2021-2023' is a pooled period");

    cdof_update_t q = {.metric_id = "proven_reoffending",
                       .area_code = "E06000001",
                       .period = P("2024-03"),
                       .fig.has_numerator = true,
                       .fig.numerator = 3,
                       .fig.has_denominator = true,
                       .fig.denominator = 10};
    expect_reason(NULL, &q,
                  "period '2024-03' is a month: metric 'proven_reoffending' (quarterly) takes "
                  "quarters");
    q.period = P("2024-Q1");
    expect_ok(NULL, &q);

    cdof_update_t a = {.metric_id = "hospital_admissions_drug_poisoning",
                       .area_code = "E06000001",
                       .period = P("2023-Q4"),
                       .fig.has_numerator = true,
                       .fig.numerator = 30,
                       .fig.has_denominator = true,
                       .fig.denominator = 93836};
    expect_reason(NULL, &a, "(annual) takes financial or calendar years");
    a.period = P("2023/24");
    expect_ok(NULL, &a);

    cdof_update_t d = {.metric_id = "drug_misuse_deaths",
                       .area_code = "E06000001",
                       .period = P("2022-2023"),
                       .fig.has_numerator = true,
                       .fig.numerator = 3,
                       .fig.has_denominator = true,
                       .fig.denominator = 93836};
    expect_reason(NULL, &d,
                  "period '2022-2023' spans 2 years: metric 'drug_misuse_deaths' takes 3-year "
                  "pooled periods");
    d.period = P("2014-2023");
    expect_reason(NULL, &d, "spans 10 years");
    d.period = P("2023/24");
    expect_reason(NULL, &d, "(pooled3) takes calendar years or 3-year pooled periods");
}

static void test_period_fits_table(void **state)
{
    (void)state;
    /* rows: monthly, quarterly, annual, pooled3; columns: kinds 0..5 */
    static const bool want[4][6] = {
        {false, true, false, false, false, false},
        {false, false, true, false, false, false},
        {false, false, false, true, true, false},
        {false, false, false, false, true, true},
    };
    cdof_metric_t m = {0};
    for (int f = 0; f < 4; f++) {
        m.frequency = (cdof_frequency_t)f;
        for (int k = 0; k < 6; k++) {
            if (cdof_validate_period_fits(&m, (cdof_period_kind_t)k) != want[f][k])
                fail_msg("frequency %d kind %d", f, k);
        }
    }
    assert_false(cdof_validate_period_fits(NULL, CDOF_PERIOD_MONTH));
}

static void test_number_reasons(void **state)
{
    (void)state;
    const char *fields[] = {"numerator", "denominator", "value"};
    for (int f = 0; f < 3; f++) {
        const double bad[] = {NAN, INFINITY, -INFINITY};
        for (int b = 0; b < 3; b++) {
            cdof_update_t u = good_update();
            u.fig.has_value = true;
            u.fig.value = 5;
            double *slot = f == 0 ? &u.fig.numerator : f == 1 ? &u.fig.denominator : &u.fig.value;
            *slot = bad[b];
            char want[64];
            snprintf(want, sizeof want, "%s is not a finite number", fields[f]);
            expect_reason(NULL, &u, want);
        }
        cdof_update_t u = good_update();
        u.fig.has_value = true;
        u.fig.value = 5;
        double *slot = f == 0 ? &u.fig.numerator : f == 1 ? &u.fig.denominator : &u.fig.value;
        *slot = -1.5;
        char want[64];
        snprintf(want, sizeof want, "%s -1.5 is negative", fields[f]);
        expect_reason(NULL, &u, want);
    }
    /* A number that is absent is not checked. */
    cdof_update_t u = good_update();
    u.fig.has_value = false;
    u.fig.value = NAN;
    expect_ok(NULL, &u);
}

static void test_count_reasons(void **state)
{
    (void)state;
    cdof_update_t c = {
        .metric_id = "county_lines_closed", .area_code = "E06000001", .period = P("2024-Q1")};
    expect_reason(NULL, &c, "value is missing: metric 'county_lines_closed' is a count");
    c.fig.has_denominator = true;
    c.fig.denominator = 10;
    c.fig.has_value = true;
    c.fig.value = 3;
    expect_reason(NULL, &c,
                  "denominator is not used: metric 'county_lines_closed' is a count (give value)");
    c.fig.has_denominator = false;
    c.fig.value = 2.5;
    expect_reason(NULL, &c,
                  "value 2.5 is not a whole number: metric 'county_lines_closed' is a count");
    c.fig.has_value = false;
    c.fig.has_numerator = true;
    c.fig.numerator = 7.25;
    expect_reason(NULL, &c, "numerator 7.25 is not a whole number");
    c.fig.numerator = 7;
    expect_ok(NULL, &c);
    c.fig.has_value = true;
    c.fig.value = 8;
    expect_reason(NULL, &c, "value 8 and numerator 7 disagree");
    c.fig.value = 1e300; /* whole, but more than the area's population */
    c.fig.has_numerator = false;
    expect_reason(NULL, &c, "value 1e+300 is implausible");
    c.fig.value = 140000;
    expect_ok(NULL, &c);
}

static void test_ratio_reasons(void **state)
{
    (void)state;
    cdof_update_t u = good_update();
    u.fig.has_numerator = false;
    expect_reason(NULL, &u,
                  "numerator is missing: metric 'continuity_of_care' (wilson) needs numerator "
                  "and denominator");
    u.fig.has_value = true; /* a value alone does not do for an interval method */
    u.fig.value = 30;
    expect_reason(NULL, &u, "numerator is missing");
    u = good_update();
    u.fig.has_denominator = false;
    expect_reason(NULL, &u, "denominator is missing: metric 'continuity_of_care' (wilson)");
    u = good_update();
    u.fig.denominator = 0;
    u.fig.numerator = 0;
    expect_reason(NULL, &u, "denominator 0 must be greater than 0");
    u = good_update();
    u.fig.numerator = 12;
    u.fig.denominator = 10;
    expect_reason(NULL, &u, "numerator 12 is greater than denominator 10");

    cdof_update_t b = {.metric_id = "deaths_in_treatment",
                       .area_code = "E06000001",
                       .period = P("2023"),
                       .fig.has_value = true,
                       .fig.value = 5};
    expect_reason(NULL, &b,
                  "numerator is missing: metric 'deaths_in_treatment' (byar) needs numerator and "
                  "denominator");
    b.fig.has_numerator = true;
    b.fig.numerator = 5;
    expect_reason(NULL, &b, "denominator is missing: metric 'deaths_in_treatment' (byar)");
    b.fig.has_denominator = true;
    b.fig.denominator = 0;
    expect_reason(NULL, &b, "denominator 0 must be greater than 0");
    b.fig.denominator = 1200;
    expect_ok(NULL, &b);

    /* Method none: a value, or numerator and denominator. */
    cdof_update_t r = {
        .metric_id = "ocu_prevalence", .area_code = "E06000001", .period = P("2023/24")};
    expect_reason(NULL, &r,
                  "value is missing: metric 'ocu_prevalence' needs a value, or numerator and "
                  "denominator");
    r.fig.has_numerator = true;
    r.fig.numerator = 4;
    expect_reason(NULL, &r, "needs a value, or numerator and denominator");
    r.fig.has_numerator = false;
    r.fig.has_denominator = true;
    r.fig.denominator = 4;
    expect_reason(NULL, &r, "needs a value, or numerator and denominator");
    r.fig.has_numerator = true;
    r.fig.denominator = 0;
    expect_reason(NULL, &r, "denominator 0 must be greater than 0");

    cdof_update_t p = {.metric_id = "drug_use_last_year",
                       .area_code = CDOF_ENGLAND_CODE,
                       .period = P("2023/24"),
                       .fig.has_numerator = true,
                       .fig.numerator = 11,
                       .fig.has_denominator = true,
                       .fig.denominator = 10};
    expect_reason(NULL, &p, "numerator 11 is greater than denominator 10");
    p.fig.has_numerator = p.fig.has_denominator = false;
    p.fig.has_value = true;
    p.fig.value = 100.5;
    expect_reason(NULL, &p,
                  "value 100.5 is more than 100 (metric 'drug_use_last_year' is a percentage)");
}

static void expect_milestone(const char *id, const char *partnership, int32_t date, int32_t today,
                             const char *own, const char *want)
{
    char err[512] = "stale";
    int rc = cdof_validate_milestone(ref, id, partnership, date, today, own, err, sizeof err);
    if (!want) {
        if (rc != 0)
            fail_msg("rejected: %s", err);
        assert_string_equal(err, "");
        return;
    }
    if (rc != CDOF_EINVALID)
        fail_msg("accepted, want '%s'", want);
    if (!strstr(err, want))
        fail_msg("reason '%s' lacks '%s'", err, want);
}

/* Plausibility: what one partnership could send to corrupt England's and its region's figures.
 * Hartlepool (E06000001) had 93,836 people in mid-2020. */
static void test_plausibility(void **state)
{
    (void)state;
    cdof_update_t u = good_update();
    u.fig.numerator = u.fig.denominator = 1e12;
    expect_reason(NULL, &u,
                  "numerator 1000000000000 is implausible: more than 1.5 times the population of "
                  "Hartlepool (93836");
    u.fig.numerator = 10;
    u.fig.denominator = 140755; /* 1.5 x 93836 = 140754 */
    expect_reason(NULL, &u, "denominator 140755 is implausible");
    u.fig.denominator = 140754;
    expect_ok(NULL, &u);
    cdof_update_t c = {.metric_id = "numbers_in_treatment",
                       .area_code = "E06000001",
                       .period = P("2024-02"),
                       .fig.has_value = true,
                       .fig.value = 1e9};
    expect_reason(NULL, &c, "value 1000000000 is implausible");
    /* Pooled deaths: the denominator is three years of population. */
    cdof_update_t d = {.metric_id = "drug_misuse_deaths",
                       .area_code = "E06000001",
                       .period = P("2021-2023"),
                       .fig.has_numerator = true,
                       .fig.numerator = 30,
                       .fig.has_denominator = true,
                       .fig.denominator = 3 * 93836};
    expect_ok(NULL, &d);
    /* A rate outside the metric's plausible range: 3 deaths per 100 people. */
    d.fig.numerator = 9000;
    expect_reason(NULL, &d,
                  "the rate from numerator and denominator 3197.07 is outside metric "
                  "'drug_misuse_deaths''s plausible range 0 to 300");
    cdof_update_t r = {.metric_id = "ocu_prevalence",
                       .area_code = "E06000001",
                       .period = P("2023/24"),
                       .fig.has_value = true,
                       .fig.value = 150};
    expect_reason(NULL, &r, "value 150 is outside metric 'ocu_prevalence''s plausible range");
    r.fig.value = 12.5;
    expect_ok(NULL, &r);
    /* The reporting range. */
    u = good_update();
    u.period = P("1900-01");
    expect_reason(NULL, &u,
                  "period '1900-01' is outside the strategy's reporting range (1990-01-01 to "
                  "2032-03-31)");
    u.period = P("2999-12");
    expect_reason(NULL, &u, "period '2999-12' is outside the strategy's reporting range");
    /* Arrival: a period may come once it has begun, give or take the tolerance. */
    char err[256];
    cdof_period_t may = P("2026-05"), jun = P("2026-06");
    int32_t may_20 = cdof_days_from_civil(2026, 5, 20);
    assert_int_equal(cdof_validate_period_arrival(&may, may_20, 1, err, sizeof err), 0);
    assert_int_equal(cdof_validate_period_arrival(&jun, may_20, 1, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, "period '2026-06' has not begun (today is 2026-05-20"));
    int32_t may_31 = cdof_days_from_civil(2026, 5, 31);
    assert_int_equal(cdof_validate_period_arrival(&jun, may_31, 1, err, sizeof err), 0);
    assert_int_equal(cdof_validate_period_arrival(&jun, may_31, 0, err, sizeof err), CDOF_EINVALID);
}

static void test_milestones(void **state)
{
    (void)state;
    int32_t today = cdof_days_from_civil(2024, 5, 1);
    int32_t d = cdof_days_from_civil(2023, 1, 15);
    expect_milestone("delivery_plan", "E08000003", d, today, "E08000003", NULL);
    expect_milestone("delivery_plan", "anything", d, today, NULL, NULL);
    expect_milestone("delivery_plan", "E08000003", cdof_days_from_civil(2021, 12, 1), today, NULL,
                     NULL);
    expect_milestone("delivery_plan", "E08000003", today, today, NULL, NULL);
    expect_milestone(NULL, "E08000003", d, today, NULL, "milestone_id is missing");
    expect_milestone("", "E08000003", d, today, NULL, "milestone_id is missing");
    expect_milestone("party", "E08000003", d, today, NULL,
                     "milestone_id 'party' is not a known milestone");
    expect_milestone("delivery_plan", NULL, d, today, NULL, "partnership is missing");
    expect_milestone("delivery_plan", "", d, today, NULL, "partnership is missing");
    expect_milestone("delivery_plan", "E08000003", cdof_days_from_civil(2021, 11, 30), today, NULL,
                     "date 2021-11-30 is before the strategy was published (December 2021)");
    expect_milestone("delivery_plan", "E08000003", -100000, today, NULL,
                     "is before the strategy was published");
    expect_milestone("delivery_plan", "E08000003", today + 1, today, NULL,
                     "date 2024-05-02 is in the future (today is 2024-05-01)");
    expect_milestone("delivery_plan", "E06000001", d, today, "E08000003",
                     "partnership 'E06000001' is not this agent's ('E08000003')");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_updates),   cmocka_unit_test(test_metric_and_area_reasons),
        cmocka_unit_test(test_scope),          cmocka_unit_test(test_national_geography),
        cmocka_unit_test(test_period_reasons), cmocka_unit_test(test_period_fits_table),
        cmocka_unit_test(test_number_reasons), cmocka_unit_test(test_count_reasons),
        cmocka_unit_test(test_ratio_reasons),  cmocka_unit_test(test_milestones),
        cmocka_unit_test(test_plausibility),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
