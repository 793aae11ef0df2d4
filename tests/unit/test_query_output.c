/* cdof-query's tables built from wire rows (the table writer itself: test_table; the alert
 * table and line: test_client). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_period.h"
#include "query_output.h"

#include "capture.h"

/* Blackpool, continuity of care, March 2024. */
static void blackpool_row(Cdof__V1__ComparisonRow *row, Cdof__V1__Period *p)
{
    cdof__v1__period__init(p);
    p->kind = CDOF__V1__PERIOD_KIND__PERIOD_KIND_MONTH;
    p->first_day = cdof_days_from_civil(2024, 3, 1);
    p->last_day = cdof_days_from_civil(2024, 3, 31);
    cdof__v1__comparison_row__init(row);
    row->metric_id = "continuity_of_care";
    row->area_code = "E06000009";
    row->area_name = "Blackpool";
    row->period = p;
    row->has_numerator = 1;
    row->numerator = 51;
    row->has_denominator = 1;
    row->denominator = 500;
    row->has_value = 1;
    row->value = 10.2;
    row->has_interval = 1;
    row->lower_95 = 8.1;
    row->upper_95 = 12.6;
    row->lower_99_8 = 7.2;
    row->upper_99_8 = 14.0;
    row->vs_england = CDOF__V1__VERDICT__VERDICT_WORST;
    row->vs_region = CDOF__V1__VERDICT__VERDICT_NOT_COMPARED;
    row->quintile = 5;
    row->england_value = 41.3;
    row->reported = 42; /* England summed from 42 of 153 areas: provisional */
    row->expected = 153;
    row->england_provisional = 1;
}

static void test_comparison_tables(void **state)
{
    (void)state;
    Cdof__V1__ComparisonRow row;
    Cdof__V1__Period p;
    blackpool_row(&row, &p);
    Cdof__V1__ComparisonRow *rows[] = {&row};

    cdof_table_t *t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_LEAGUE, false);
    assert_non_null(t);
    capture_t c;
    assert_writes("area_code,area_name,metric_id,period,numerator,denominator,value,"
                  "lower_95,upper_95,lower_99_8,upper_99_8,vs_england,vs_region,quintile,"
                  "england_value,region_value,received_ms,trend,worse_and_getting_worse,"
                  "partnership,vs_baseline,vs_trajectory,reported,expected,provisional,"
                  "england_provisional,region_provisional\r\n"
                  "E06000009,Blackpool,continuity_of_care,2024-03,51,500,10.2,8.1,12.6,7.2,"
                  "14,worst,not_compared,5,41.3,,,,false,,not_compared,not_compared,42,153,"
                  "false,true,false\r\n",
                  cdof_table_write_csv, t);
    cdof_table_destroy(&t);

    t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_LEAGUE, true);
    assert_non_null(t);
    cap_open(&c);
    assert_int_equal(cdof_table_write_aligned(t, 80, c.f), 0);
    /* A verdict against an incomplete England figure ends in '*'; the coverage follows. */
    assert_string_equal(cap_text(&c),
                        "area       name       value    95% CI  vs Eng  vs reg  Q   cover\n"
                        "---------  ---------  -----  --------  ------  ------  -  ------\n"
                        "E06000009  Blackpool   10.2  8.1\xe2\x80\x93"
                        "12.6  worst*          5  42/153\n");
    cap_free(&c);
    cdof_table_destroy(&t);

    t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_AREA, true);
    assert_non_null(t);
    assert_string_equal(cdof_table_cell(t, 0, 0), "continuity_of_care");
    assert_string_equal(cdof_table_cell(t, 0, 1), "2024-03");
    assert_string_equal(cdof_table_cell(t, 0, 4), "41.3");
    cdof_table_destroy(&t);

    /* a count without denominator or interval is shown whole, and has no interval */
    row.has_denominator = 0;
    row.has_interval = 0;
    row.has_numerator = 0;
    row.value = 17;
    t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_SERIES, true);
    assert_non_null(t);
    assert_string_equal(cdof_table_cell(t, 0, 3), "17");
    assert_string_equal(cdof_table_cell(t, 0, 4), "");
    cdof_table_destroy(&t);
    t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_SERIES, false);
    cap_open(&c);
    assert_int_equal(cdof_table_write_json(t, c.f), 0);
    assert_non_null(strstr(cap_text(&c), "\"value\":17,\"lower_95\":null"));
    cap_free(&c);
    cdof_table_destroy(&t);
}

static void test_agents_table(void **state)
{
    (void)state;
    Cdof__V1__AgentStatus s;
    cdof__v1__agent_status__init(&s);
    s.agent_id = "E06000009";
    s.high_water = 42;
    s.last_heard_ms = 1714557600000;
    s.outbox_depth = 3;
    s.oldest_unacked_ms = 1500;
    Cdof__V1__AgentStatus *list[] = {&s};
    cdof_table_t *t = cdof_qo_agents(list, 1, true);
    assert_non_null(t);
    assert_string_equal(cdof_table_cell(t, 0, 2), "2024-05-01T10:00:00Z");
    assert_string_equal(cdof_table_cell(t, 0, 4), "1.5 s");
    cdof_table_destroy(&t);
    t = cdof_qo_agents(list, 1, false);
    assert_writes("agent_id,high_water,last_heard_ms,last_heard,outbox_depth,"
                  "oldest_unacked_ms\r\n"
                  "E06000009,42,1714557600000,2024-05-01T10:00:00Z,3,1500\r\n",
                  cdof_table_write_csv, t);
    cdof_table_destroy(&t);
}

/* Refused envelopes: when kept, and empty (not 1970) when the hub did not keep the time;
 * milestones show a partnership's display name in the table and keep its id in records. */
static void test_rejections_and_milestone_names(void **state)
{
    (void)state;
    Cdof__V1__Rejection a, b;
    cdof__v1__rejection__init(&a);
    cdof__v1__rejection__init(&b);
    a.agent_id = b.agent_id = "bristol";
    a.partnership = "bristol";
    a.sequence = 7;
    a.rejected_ms = 1714557600000;
    a.reason = "area_code 'E06000024' is not one of this agent's areas";
    b.sequence = 8;
    b.reason = "old";
    Cdof__V1__Rejection *list[] = {&a, &b};
    cdof_table_t *t = cdof_qo_rejections(list, 2, false);
    assert_non_null(t);
    assert_writes("agent_id,partnership,sequence,rejected_ms,rejected,reason\r\n"
                  "bristol,bristol,7,1714557600000,2024-05-01T10:00:00Z,area_code "
                  "'E06000024' is not one of this agent's areas\r\n"
                  "bristol,,8,,,old\r\n",
                  cdof_table_write_csv, t);
    cdof_table_destroy(&t);

    Cdof__V1__MilestoneRow m;
    cdof__v1__milestone_row__init(&m);
    m.partnership = "kent";
    m.milestone_id = "progress_report";
    m.deliverable = "Progress report";
    m.status = "overdue";
    Cdof__V1__MilestoneRow *ms[] = {&m};
    const char *names[] = {"Kent and Medway Combating Drugs Partnership"};
    t = cdof_qo_milestones(ms, 1, names, true);
    assert_non_null(t);
    assert_string_equal(cdof_table_cell(t, 0, 0), names[0]);
    cdof_table_destroy(&t);
    t = cdof_qo_milestones(ms, 1, names, false);
    assert_string_equal(cdof_table_cell(t, 0, 0), "kent");
    assert_string_equal(cdof_table_cell(t, 0, 1), names[0]);
    cdof_table_destroy(&t);
}

/* Every table builds in both shapes: a column list with an entry left out would make
 * cdof_table_new refuse it. One row each, so that every cell is set by the column's name. */
static void test_every_table_builds(void **state)
{
    (void)state;
    Cdof__V1__ComparisonRow row;
    Cdof__V1__Period p;
    blackpool_row(&row, &p);
    Cdof__V1__ComparisonRow *rows[] = {&row};
    Cdof__V1__AgentStatus a;
    cdof__v1__agent_status__init(&a);
    Cdof__V1__AgentStatus *agents[] = {&a};
    Cdof__V1__Silence s;
    cdof__v1__silence__init(&s);
    Cdof__V1__Silence *silences[] = {&s};
    Cdof__V1__NationalRow nr;
    cdof__v1__national_row__init(&nr);
    Cdof__V1__NationalRow *national[] = {&nr};
    Cdof__V1__PeriodStatus ps;
    cdof__v1__period_status__init(&ps);
    ps.period = &p;
    Cdof__V1__PeriodStatus *periods[] = {&ps};
    Cdof__V1__MilestoneRow m;
    cdof__v1__milestone_row__init(&m);
    Cdof__V1__MilestoneRow *ms[] = {&m};
    Cdof__V1__Rejection r;
    cdof__v1__rejection__init(&r);
    Cdof__V1__Rejection *rejections[] = {&r};
    for (int display = 0; display <= 1; display++) {
        cdof_table_t *t[] = {
            cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_AREA, display),
            cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_LEAGUE, display),
            cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_SERIES, display),
            cdof_qo_agents(agents, 1, display),
            cdof_qo_silences(silences, 1, display),
            cdof_qo_national(national, 1, display),
            cdof_qo_periods(periods, 1, display),
            cdof_qo_milestones(ms, 1, NULL, display),
            cdof_qo_rejections(rejections, 1, display),
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            assert_non_null(t[i]);
            assert_int_equal(cdof_table_rows(t[i]), 1);
            cdof_table_destroy(&t[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comparison_tables),
        cmocka_unit_test(test_agents_table),
        cmocka_unit_test(test_rejections_and_milestone_names),
        cmocka_unit_test(test_every_table_builds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
