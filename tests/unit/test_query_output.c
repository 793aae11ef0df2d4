/* Output formatting of cdof-query and cdof-watch: CSV quoting, JSON escaping, numbers, table
 * alignment and fitting, and the tables built from wire rows. */
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

/* Captures what a writer prints. */
typedef struct {
    char *buf;
    size_t len;
    FILE *f;
} capture_t;

static void cap_open(capture_t *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

/* Closes the stream; the text stays in c->buf until cap_free. */
static const char *cap_text(capture_t *c)
{
    assert_int_equal(fclose(c->f), 0);
    c->f = NULL;
    return c->buf;
}

static void cap_free(capture_t *c)
{
    if (c->f)
        fclose(c->f);
    free(c->buf);
}

static void test_csv_field(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"", ""},
        {"Bath, and NE", "\"Bath, and NE\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"two\nlines", "\"two\nlines\""},
        {"cr\r", "\"cr\r\""},
        {"8.1\xe2\x80\x93"
         "12.6",
         "8.1\xe2\x80\x93"
         "12.6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capture_t c;
        cap_open(&c);
        cdof_qo_csv_field(cases[i].in, c.f);
        assert_string_equal(cap_text(&c), cases[i].out);
        cap_free(&c);
    }
}

static void test_json_string(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "\"plain\""},
        {"q\"b\\", "\"q\\\"b\\\\\""},
        {"a\nb\tc\rd", "\"a\\nb\\tc\\rd\""},
        {"\x01", "\"\\u0001\""},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
        {"bad\xff", "\"bad\\ufffd\""},
        {"cut\xe2\x80", "\"cut\\ufffd\\ufffd\""},
        {"overlong\xc0\xaf", "\"overlong\\ufffd\\ufffd\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capture_t c;
        cap_open(&c);
        cdof_qo_json_string(cases[i].in, c.f);
        assert_string_equal(cap_text(&c), cases[i].out);
        cap_free(&c);
    }
}

static void test_number_text(void **state)
{
    (void)state;
    char buf[64];
    cdof_qo_number_text(41.3, buf, sizeof buf);
    assert_string_equal(buf, "41.3");
    cdof_qo_number_text(0.1 + 0.2, buf, sizeof buf);
    assert_string_equal(buf, "0.30000000000000004");
    cdof_qo_number_text(141285, buf, sizeof buf);
    assert_string_equal(buf, "141285");
    cdof_qo_number_text(-0.0, buf, sizeof buf);
    assert_string_equal(buf, "0");
    cdof_qo_number_text(1e20, buf, sizeof buf);
    assert_string_equal(buf, "1e+20");
    cdof_qo_number_text(-2.5, buf, sizeof buf);
    assert_string_equal(buf, "-2.5");
}

static void test_width_and_truncate(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(cdof_qo_text_width("8.1\xe2\x80\x93"
                                        "12.6"),
                     8);
    assert_int_equal(cdof_qo_text_width(""), 0);
    cdof_qo_truncate("Bath and North East Somerset", 10, buf, sizeof buf);
    assert_string_equal(buf, "Bath and \xe2\x80\xa6");
    assert_int_equal(cdof_qo_text_width(buf), 10);
    cdof_qo_truncate("short", 10, buf, sizeof buf);
    assert_string_equal(buf, "short");
    /* a cut never splits a code point */
    cdof_qo_truncate("\xc3\xa9\xc3\xa9\xc3\xa9", 2, buf, sizeof buf);
    assert_string_equal(buf, "\xc3\xa9\xe2\x80\xa6");
}

static cdof_qo_table_t *small_table(void)
{
    static const cdof_qo_col_t cols[] = {
        {"name", false, true}, {"value", true, false}, {"note", false, false}};
    cdof_qo_table_t *t = cdof_qo_table_new(cols, 3);
    assert_non_null(t);
    assert_int_equal(cdof_qo_table_add_row(t), 0);
    assert_int_equal(cdof_qo_table_set(t, 0, CDOF_QO_TEXT, "Blackpool"), 0);
    assert_int_equal(cdof_qo_table_set_number(t, 1, 10.25, 1), 0);
    assert_int_equal(cdof_qo_table_set(t, 2, CDOF_QO_TEXT, "a, \"b\""), 0);
    assert_int_equal(cdof_qo_table_add_row(t), 0);
    assert_int_equal(cdof_qo_table_set(t, 0, CDOF_QO_TEXT, "Bath and North East Somerset"), 0);
    assert_int_equal(cdof_qo_table_set_number(t, 1, 141285, -1), 0);
    /* note left null */
    return t;
}

static void test_table_aligned(void **state)
{
    (void)state;
    cdof_qo_table_t *t = small_table();
    capture_t c;
    cap_open(&c);
    assert_int_equal(cdof_qo_write_table(t, 80, c.f), 0);
    assert_string_equal(cap_text(&c), "name                           value  note\n"
                                      "----------------------------  ------  ------\n"
                                      "Blackpool                       10.2  a, \"b\"\n"
                                      "Bath and North East Somerset  141285\n");
    cap_free(&c);
    cdof_qo_table_destroy(&t);
    assert_null(t);
}

static void test_table_fits_width(void **state)
{
    (void)state;
    cdof_qo_table_t *t = small_table();
    capture_t c;
    cap_open(&c);
    assert_int_equal(cdof_qo_write_table(t, 26, c.f), 0);
    const char *out = cap_text(&c);
    assert_string_equal(out, "name         value  note\n"
                             "----------  ------  ------\n"
                             "Blackpool     10.2  a, \"b\"\n"
                             "Bath and \xe2\x80\xa6  141285\n");
    cap_free(&c);
    /* numbers are never cut: a width too small for them overflows instead */
    cap_open(&c);
    assert_int_equal(cdof_qo_write_table(t, 5, c.f), 0);
    assert_non_null(strstr(cap_text(&c), "141285"));
    cap_free(&c);
    cdof_qo_table_destroy(&t);
}

static void test_csv_and_json(void **state)
{
    (void)state;
    cdof_qo_table_t *t = small_table();
    capture_t c;
    cap_open(&c);
    assert_int_equal(cdof_qo_write_csv(t, c.f), 0);
    assert_string_equal(cap_text(&c), "name,value,note\r\n"
                                      "Blackpool,10.2,\"a, \"\"b\"\"\"\r\n"
                                      "Bath and North East Somerset,141285,\r\n");
    cap_free(&c);
    cap_open(&c);
    assert_int_equal(cdof_qo_write_json(t, c.f), 0);
    assert_string_equal(cap_text(&c),
                        "[\n"
                        "{\"name\":\"Blackpool\",\"value\":10.2,\"note\":\"a, \\\"b\\\"\"},\n"
                        "{\"name\":\"Bath and North East Somerset\",\"value\":141285,"
                        "\"note\":null}\n"
                        "]\n");
    cap_free(&c);
    cdof_qo_table_destroy(&t);

    static const cdof_qo_col_t one[] = {{"x", false, false}};
    t = cdof_qo_table_new(one, 1);
    cap_open(&c);
    assert_int_equal(cdof_qo_write_json(t, c.f), 0);
    assert_string_equal(cap_text(&c), "[]\n");
    cap_free(&c);
    cdof_qo_table_destroy(&t);
}

static void test_format_parse(void **state)
{
    (void)state;
    cdof_qo_format_t f;
    assert_int_equal(cdof_qo_format_parse("csv", &f), 0);
    assert_int_equal(f, CDOF_QO_CSV);
    assert_int_equal(cdof_qo_format_parse("json", &f), 0);
    assert_int_equal(f, CDOF_QO_JSON);
    assert_int_equal(cdof_qo_format_parse("table", &f), 0);
    assert_int_equal(f, CDOF_QO_TABLE);
    assert_true(cdof_qo_format_parse("xml", &f) < 0);
}

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

    cdof_qo_table_t *t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_LEAGUE, false);
    assert_non_null(t);
    capture_t c;
    cap_open(&c);
    assert_int_equal(cdof_qo_write_csv(t, c.f), 0);
    assert_string_equal(cap_text(&c),
                        "area_code,area_name,metric_id,period,numerator,denominator,value,"
                        "lower_95,upper_95,lower_99_8,upper_99_8,vs_england,vs_region,quintile,"
                        "england_value,region_value,received_ms,trend,worse_and_getting_worse,"
                        "partnership,vs_baseline,vs_trajectory,reported,expected,provisional,"
                        "england_provisional,region_provisional\r\n"
                        "E06000009,Blackpool,continuity_of_care,2024-03,51,500,10.2,8.1,12.6,7.2,"
                        "14,worst,not_compared,5,41.3,,,,false,,not_compared,not_compared,42,153,"
                        "false,true,false\r\n");
    cap_free(&c);
    cdof_qo_table_destroy(&t);

    t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_LEAGUE, true);
    assert_non_null(t);
    cap_open(&c);
    assert_int_equal(cdof_qo_write_table(t, 80, c.f), 0);
    /* A verdict against an incomplete England figure ends in '*'; the coverage follows. */
    assert_string_equal(cap_text(&c),
                        "area       name       value    95% CI  vs Eng  vs reg  Q   cover\n"
                        "---------  ---------  -----  --------  ------  ------  -  ------\n"
                        "E06000009  Blackpool   10.2  8.1\xe2\x80\x93"
                        "12.6  worst*          5  42/153\n");
    cap_free(&c);
    cdof_qo_table_destroy(&t);

    t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_AREA, true);
    assert_non_null(t);
    assert_string_equal(cdof_qo_table_cell(t, 0, 0), "continuity_of_care");
    assert_string_equal(cdof_qo_table_cell(t, 0, 1), "2024-03");
    assert_string_equal(cdof_qo_table_cell(t, 0, 4), "41.3");
    cdof_qo_table_destroy(&t);

    /* a count without denominator or interval is shown whole, and has no interval */
    row.has_denominator = 0;
    row.has_interval = 0;
    row.has_numerator = 0;
    row.value = 17;
    t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_SERIES, true);
    assert_non_null(t);
    assert_string_equal(cdof_qo_table_cell(t, 0, 3), "17");
    assert_string_equal(cdof_qo_table_cell(t, 0, 4), "");
    cdof_qo_table_destroy(&t);
    t = cdof_qo_comparisons(rows, 1, CDOF_QO_VIEW_SERIES, false);
    cap_open(&c);
    assert_int_equal(cdof_qo_write_json(t, c.f), 0);
    assert_non_null(strstr(cap_text(&c), "\"value\":17,\"lower_95\":null"));
    cap_free(&c);
    cdof_qo_table_destroy(&t);
}

static void test_alert_text_and_json(void **state)
{
    (void)state;
    Cdof__V1__Period p;
    cdof__v1__period__init(&p);
    p.kind = CDOF__V1__PERIOD_KIND__PERIOD_KIND_MONTH;
    p.first_day = cdof_days_from_civil(2024, 3, 1);
    p.last_day = cdof_days_from_civil(2024, 3, 31);
    Cdof__V1__Alert a;
    cdof__v1__alert__init(&a);
    a.sequence = 12;
    a.rule = "worse_than_england";
    a.metric_id = "continuity_of_care";
    a.area_code = "E06000009";
    a.region_code = "E12000002";
    a.team = "ohid";
    a.state = CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING;
    a.severity = CDOF__V1__SEVERITY__SEVERITY_CRITICAL;
    a.period = &p;
    a.value = 10.2;
    a.lower = 8.1;
    a.upper = 12.6;
    a.benchmark = 41.3;
    a.confidence = 95;
    a.verdict = CDOF__V1__VERDICT__VERDICT_WORST;
    a.summary = "Blackpool continuity of care\nfar below England";
    a.dedupe_key = "worse_than_england|continuity_of_care|E06000009";
    a.raised_ms = 1714557600000; /* 2024-05-01T10:00:00Z */
    a.reported = 152;            /* England's coverage when judged */
    a.expected = 153;

    capture_t c;
    cap_open(&c);
    cdof_qo_alert_text(&a, "Blackpool", true, c.f);
    assert_string_equal(cap_text(&c),
                        "#12 FIRING critical worse_than_england ohid E12000002 E06000009 "
                        "Blackpool continuity_of_care 2024-03: 10.2% (95% 8.1\xe2\x80\x93"
                        "12.6) vs England 41.3% \xe2\x80\x94 Blackpool continuity of care far "
                        "below England");
    cap_free(&c);

    cap_open(&c);
    assert_int_equal(cdof_qo_alert_json(&a, c.f), 0);
    assert_string_equal(
        cap_text(&c),
        "{\"sequence\":12,\"raised_ms\":1714557600000,\"raised\":\"2024-05-01T10:00:00Z\","
        "\"state\":\"firing\",\"severity\":\"critical\",\"rule\":\"worse_than_england\","
        "\"team\":\"ohid\",\"region_code\":\"E12000002\",\"area_code\":\"E06000009\","
        "\"metric_id\":\"continuity_of_care\",\"period\":\"2024-03\",\"value\":10.2,"
        "\"lower\":8.1,\"upper\":12.6,\"confidence\":95,\"benchmark\":41.3,"
        "\"verdict\":\"worst\","
        "\"dedupe_key\":\"worse_than_england|continuity_of_care|E06000009\","
        "\"acknowledged_by\":\"\",\"summary\":\"Blackpool continuity of care\\nfar below "
        "England\",\"subject\":\"\",\"fired_sequence\":null,\"muted_by\":\"\","
        "\"reported\":152,\"expected\":153}");
    cap_free(&c);

    /* an alert without figures (agent silent) keeps to the fixed words and the summary */
    Cdof__V1__Alert s;
    cdof__v1__alert__init(&s);
    s.sequence = 3;
    s.rule = "agent_silent";
    s.team = "jcdu";
    s.state = CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED;
    s.severity = CDOF__V1__SEVERITY__SEVERITY_WARNING;
    s.summary = "blackpool heard again";
    cap_open(&c);
    cdof_qo_alert_text(&s, NULL, false, c.f);
    assert_string_equal(cap_text(&c), "#3 RESOLVED warning agent_silent jcdu - - \xe2\x80\x94 "
                                      "blackpool heard again");
    cap_free(&c);
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
    cdof_qo_table_t *t = cdof_qo_agents(list, 1, true);
    assert_non_null(t);
    assert_string_equal(cdof_qo_table_cell(t, 0, 2), "2024-05-01T10:00:00Z");
    assert_string_equal(cdof_qo_table_cell(t, 0, 4), "1.5 s");
    cdof_qo_table_destroy(&t);
    t = cdof_qo_agents(list, 1, false);
    capture_t c;
    cap_open(&c);
    assert_int_equal(cdof_qo_write_csv(t, c.f), 0);
    assert_string_equal(cap_text(&c), "agent_id,high_water,last_heard_ms,last_heard,outbox_depth,"
                                      "oldest_unacked_ms\r\n"
                                      "E06000009,42,1714557600000,2024-05-01T10:00:00Z,3,1500\r\n");
    cap_free(&c);
    cdof_qo_table_destroy(&t);
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
    cdof_qo_table_t *t = cdof_qo_rejections(list, 2, false);
    assert_non_null(t);
    capture_t c;
    cap_open(&c);
    assert_int_equal(cdof_qo_write_csv(t, c.f), 0);
    assert_string_equal(cap_text(&c),
                        "agent_id,partnership,sequence,rejected_ms,rejected,reason\r\n"
                        "bristol,bristol,7,1714557600000,2024-05-01T10:00:00Z,area_code "
                        "'E06000024' is not one of this agent's areas\r\n"
                        "bristol,,8,,,old\r\n");
    cap_free(&c);
    cdof_qo_table_destroy(&t);

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
    assert_string_equal(cdof_qo_table_cell(t, 0, 0), names[0]);
    cdof_qo_table_destroy(&t);
    t = cdof_qo_milestones(ms, 1, names, false);
    assert_string_equal(cdof_qo_table_cell(t, 0, 0), "kent");
    assert_string_equal(cdof_qo_table_cell(t, 0, 1), names[0]);
    cdof_qo_table_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_field),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_number_text),
        cmocka_unit_test(test_width_and_truncate),
        cmocka_unit_test(test_table_aligned),
        cmocka_unit_test(test_table_fits_width),
        cmocka_unit_test(test_csv_and_json),
        cmocka_unit_test(test_format_parse),
        cmocka_unit_test(test_comparison_tables),
        cmocka_unit_test(test_alert_text_and_json),
        cmocka_unit_test(test_agents_table),
        cmocka_unit_test(test_rejections_and_milestone_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
