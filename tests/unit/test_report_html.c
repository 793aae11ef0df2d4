/* The annual report's HTML from a report built by hand (no hub): small counts withheld with a
 * second figure in the same region, both key findings answered, the internal edition marked and
 * showing true values; and a CSV round trip of the milestone table through the CSV reader. */
#define _GNU_SOURCE /* open_memstream */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_csv.h"
#include "query_output.h"
#include "report.h"
#include "report_suppress.h"

#include "ref_fixture.h"

static Cdof__V1__MilestoneRow ms[2];

/* East Midlands' deaths: 20 in every area but Rutland (3, a small count) and Derby (60, worse
 * than England). */
static void build(cdof_report_t *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->year, sizeof r->year, "2024/25");
    cdof_date_parse("2024-04-01", &r->year_first);
    cdof_date_parse("2025-03-31", &r->year_last);
    r->as_of = r->year_last;
    r->nmetrics = 1;
    r->metrics = calloc(1, sizeof *r->metrics);
    assert_non_null(r->metrics);
    cdof_report_metric_t *rm = &r->metrics[0];
    rm->metric = cdof_ref_metric(ref, "drug_misuse_deaths");
    snprintf(rm->period, sizeof rm->period, "2021-2023");
    rm->cells = calloc(cdof_ref_area_count(ref), sizeof *rm->cells);
    assert_non_null(rm->cells);
    for (size_t i = 0; i < cdof_ref_area_count(ref); i++) {
        const cdof_area_t *a = cdof_ref_area_at(ref, i);
        cdof_report_cell_t *c = &rm->cells[i];
        c->lower = c->upper = NAN;
        if (a->kind != CDOF_AREA_UTLA) {
            c->has = true;
            c->value = 10;
            continue;
        }
        if (strcmp(a->region_code, "E12000004") != 0)
            continue;
        c->has = c->has_count = true;
        c->count = !strcmp(a->code, "E06000017") ? 3 : !strcmp(a->code, "E06000015") ? 60 : 20;
        c->value = c->count / (3 * a->population) * 100000;
        c->vs_england = !strcmp(a->code, "E06000015") ? CDOF__V1__VERDICT__VERDICT_WORST
                                                      : CDOF__V1__VERDICT__VERDICT_SIMILAR;
        rm->areas_reporting++;
    }
    static const char *names[] = {"kent", "leeds"};
    r->milestones = calloc(2, sizeof *r->milestones);
    assert_non_null(r->milestones);
    for (int i = 0; i < 2; i++) {
        cdof__v1__milestone_row__init(&ms[i]);
        ms[i].partnership = (char *)names[i];
        ms[i].milestone_id = (char *)"progress_report";
        ms[i].deliverable = (char *)"Progress report, \"annual\"";
        ms[i].status = (char *)(i == 0 ? "overdue" : "done");
        cdof_date_parse("2024-04-30", &ms[i].due_day);
        if (i == 0)
            ms[i].overdue_since = ms[i].due_day;
        else
            cdof_date_parse("2024-04-10", &ms[i].done_day);
        r->milestones[i] = &ms[i];
    }
    r->nmilestones = 2;
}

static char *render(cdof_report_t *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(cdof_report_render(r, ref, f), 0);
    fclose(f);
    return buf;
}

/* The text of the deaths cell of one area (first occurrence). */
static void cell_text(const char *html, const char *code, char *out, size_t len)
{
    char key[64];
    snprintf(key, sizeof key, "data-area=\"%s\" data-metric=\"drug_misuse_deaths\"", code);
    const char *p = strstr(html, key);
    assert_non_null(p);
    p = strchr(p, '>');
    assert_non_null(p);
    size_t n = strcspn(p + 1, "<");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p + 1);
}

static size_t count(const char *html, const char *s)
{
    size_t n = 0;
    for (const char *p = html; (p = strstr(p, s)); p += strlen(s))
        n++;
    return n;
}

static void test_published_withholds_small_counts(void **state)
{
    (void)state;
    cdof_report_t r;
    build(&r);
    assert_true(cdof_report_suppress(&r, ref) >= 2);
    char *html = render(&r);
    char text[64];
    cell_text(html, "E06000017", text, sizeof text);
    assert_string_equal(text, "*");
    /* Rutland's rate is nowhere; a second East Midlands area is withheld with it. */
    char rate[32];
    snprintf(rate, sizeof rate, ">%.1f<",
             r.metrics[0].cells[cdof_ref_area(ref, "E06000017")->index].value);
    assert_null(strstr(html, rate));
    assert_true(count(html, "title=\"withheld: small number\">*<") >= 2 * 2); /* table + profile */
    assert_null(strstr(html, "OFFICIAL-SENSITIVE"));
    /* The findings: Derby is worse on deaths; Kent is late with its progress report, not Leeds. */
    const char *deaths = strstr(html, "id=\"deaths-worse\"");
    const char *late = strstr(html, "id=\"progress-late\"");
    assert_non_null(deaths);
    assert_non_null(late);
    const char *derby = strstr(deaths, "<th scope=\"row\" class=\"txt\">Derby</th>");
    assert_true(derby && derby < late);
    const char *end = strstr(late, "</table>");
    const char *kent = strstr(late, ">kent</th>"), *leeds = strstr(late, ">leeds</th>");
    assert_true(kent && kent < end);
    assert_true(!leeds || leeds > end);
    free(html);
    cdof_report_free(&r);
}

static void test_internal_marks_and_true_values(void **state)
{
    (void)state;
    cdof_report_t r;
    build(&r);
    cdof_report_suppress(&r, ref);
    r.internal = true;
    char *html = render(&r);
    char text[64], want[32];
    cell_text(html, "E06000017", text, sizeof text);
    snprintf(want, sizeof want, "%.1f",
             r.metrics[0].cells[cdof_ref_area(ref, "E06000017")->index].value);
    assert_string_equal(text, want);
    size_t sections = count(html, "<section"), marks = count(html, "class=\"mark\">OFFICIAL");
    assert_true(sections >= 8);
    assert_true(marks >= sections);
    free(html);
    cdof_report_free(&r);
}

static void test_milestones_csv_round_trip(void **state)
{
    (void)state;
    cdof_report_t r;
    build(&r);
    cdof_table_t *t = cdof_qo_milestones(r.milestones, r.nmilestones, NULL, false);
    assert_non_null(t);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(cdof_table_write_csv(t, f), 0);
    fclose(f);
    f = fmemopen(buf, len, "r");
    cdof_csv_t *csv = cdof_csv_new(f, NULL);
    cdof_csv_record_t rec;
    char err[128];
    size_t row = 0;
    int rc;
    while ((rc = cdof_csv_next(csv, &rec, err, sizeof err)) == 1) {
        assert_int_equal(rec.nfields, cdof_table_cols(t));
        for (size_t c = 0; row > 0 && c < rec.nfields; c++)
            assert_string_equal(rec.fields[c].data, cdof_table_cell(t, row - 1, c));
        row++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(row, 1 + r.nmilestones);
    cdof_csv_destroy(&csv);
    fclose(f);
    free(buf);
    cdof_table_destroy(&t);
    cdof_report_free(&r);
}

/* A proportion whose complement is small (97 of 100 engaging reveals 3) is withheld in the
 * published report, with a second area of its region so that the region's total cannot give it
 * back; areas with ordinary complements stay. */
static void test_complement_withheld(void **state)
{
    (void)state;
    cdof_report_t r;
    build(&r);
    cdof_report_metric_t *rm = &r.metrics[0];
    rm->metric = cdof_ref_metric(ref, "continuity_of_care");
    for (size_t i = 0; i < cdof_ref_area_count(ref); i++) {
        cdof_report_cell_t *c = &rm->cells[i];
        if (!c->has_count)
            continue;
        const char *code = cdof_ref_area_at(ref, i)->code;
        c->count = !strcmp(code, "E06000017") ? 97 : 50 + (double)i;
        c->has_denominator = true;
        c->denominator = !strcmp(code, "E06000017") ? 100 : 200;
        c->value = c->count / c->denominator * 100;
    }
    assert_int_equal(cdof_report_suppress(&r, ref), 2);
    size_t rutland = cdof_ref_area(ref, "E06000017")->index;
    assert_int_equal(rm->cells[rutland].sup, CDOF_SUP_PRIMARY);
    size_t secondary = 0;
    for (size_t i = 0; i < cdof_ref_area_count(ref); i++)
        secondary += rm->cells[i].sup == CDOF_SUP_SECONDARY;
    assert_int_equal(secondary, 1);
    cdof_report_free(&r);
}

/* Partnerships: a row each in their own section; a partnership is a group with its areas, so
 * Rutland's 3 withheld inside "pair" (Rutland and Derby) takes Derby with it, and "solo"
 * (Rutland alone) is small itself. */
static void test_partnership_rows(void **state)
{
    (void)state;
    cdof_report_t r;
    build(&r);
    cdof_report_metric_t *rm = &r.metrics[0];
    size_t rutland = cdof_ref_area(ref, "E06000017")->index;
    size_t derby = cdof_ref_area(ref, "E06000015")->index;
    r.partnerships = calloc(CDOF_REPORT_MAX_PARTNERSHIPS, sizeof *r.partnerships);
    rm->pcells = calloc(CDOF_REPORT_MAX_PARTNERSHIPS, sizeof *rm->pcells);
    assert_non_null(r.partnerships);
    assert_non_null(rm->pcells);
    r.npartnerships = 2;
    snprintf(r.partnerships[0].code, sizeof r.partnerships[0].code, "pair");
    r.partnerships[0].members[0] = rutland;
    r.partnerships[0].members[1] = derby;
    r.partnerships[0].nmembers = 2;
    snprintf(r.partnerships[1].code, sizeof r.partnerships[1].code, "solo");
    r.partnerships[1].members[0] = rutland;
    r.partnerships[1].nmembers = 1;
    double counts[] = {63, 3}, values[] = {12.3, 45.6};
    for (size_t k = 0; k < 2; k++) {
        cdof_report_cell_t *c = &rm->pcells[k];
        c->has = c->has_count = true;
        c->count = counts[k];
        c->value = values[k];
        c->lower = c->upper = NAN;
        c->vs_england = CDOF__V1__VERDICT__VERDICT_WORSE;
    }
    cdof_report_suppress(&r, ref);
    assert_int_equal(rm->cells[rutland].sup, CDOF_SUP_PRIMARY);
    assert_int_equal(rm->cells[derby].sup, CDOF_SUP_SECONDARY);
    assert_int_equal(rm->pcells[0].sup, CDOF_SUP_SHOWN);
    assert_int_equal(rm->pcells[1].sup, CDOF_SUP_PRIMARY);
    char *html = render(&r);
    const char *sec = strstr(html, "<section id=\"partnerships\"");
    assert_non_null(sec);
    assert_non_null(strstr(html, "href=\"#partnerships\""));
    const char *pair = strstr(sec, ">pair</th>");
    const char *solo = strstr(sec, ">solo</th>");
    assert_true(pair && solo && pair < solo);
    assert_non_null(strstr(pair, "<td class=\"txt\">Rutland, Derby</td>"));
    assert_non_null(strstr(pair, "<td class=\"num v worse\"><span data-area=\"pair\" "
                                 "data-metric=\"drug_misuse_deaths\">12.3</span>"));
    assert_non_null(strstr(solo, "data-area=\"solo\" data-metric=\"drug_misuse_deaths\" "
                                 "title=\"withheld: small number\">*<"));
    assert_null(strstr(html, ">45.6<"));
    free(html);
    cdof_report_free(&r);

    /* Without partnerships, no section. */
    build(&r);
    cdof_report_suppress(&r, ref);
    html = render(&r);
    assert_null(strstr(html, "id=\"partnerships\""));
    free(html);
    cdof_report_free(&r);
}

/* A year of partial data: figures carry their coverage and provisional marks, a total whose
 * coverage the hub did not give says so, a headline without data says why, and partnerships
 * appear by name. */
static void test_partial_data_marks(void **state)
{
    (void)state;
    cdof_report_t r;
    build(&r);
    cdof_report_metric_t *rm = &r.metrics[0];
    size_t derby = cdof_ref_area(ref, "E06000015")->index;
    size_t region = cdof_ref_area(ref, "E12000004")->index;
    rm->cells[derby].mark.provisional = true;
    rm->cells[region].mark = (cdof_report_mark_t){8, 9, true};
    r.names = calloc(1, sizeof *r.names);
    assert_non_null(r.names);
    snprintf(r.names[0].id, sizeof r.names[0].id, "kent");
    snprintf(r.names[0].name, sizeof r.names[0].name, "Kent & Medway");
    r.nnames = 1;
    static Cdof__V1__NationalRow nat;
    cdof__v1__national_row__init(&nat);
    nat.metric_id = (char *)"drug_misuse_deaths";
    nat.metric_name = (char *)"Deaths";
    nat.kind = (char *)"direction";
    r.national = calloc(1, sizeof *r.national);
    assert_non_null(r.national);
    r.national[0] = &nat;
    r.nnational = 1;
    cdof_report_suppress(&r, ref);
    char *html = render(&r);
    /* Derby's figure is marked provisional in its region's table and its profile. */
    const char *d = strstr(html, "data-area=\"E06000015\" data-metric=\"drug_misuse_deaths\"");
    assert_non_null(d);
    const char *end = strstr(d, "</td>");
    const char *p = strstr(d, "<span class=\"vh\">(provisional)</span>");
    assert_true(p && p < end);
    assert_true(count(html, "(provisional)</span>") >= 3); /* region table, region row, profile */
    assert_non_null(strstr(html, "<small>8 of 9 areas</small>"));
    assert_non_null(strstr(html, "<small>coverage not reported</small>")); /* England */
    assert_non_null(strstr(html, "No figure: none submitted"));
    assert_non_null(strstr(html, "Kent &amp; Medway is overdue (since 30 April 2024)"));
    assert_null(strstr(html, ">kent<"));
    /* Without marks, nothing says provisional (other than the key and the methods). */
    free(html);
    rm->cells[derby].mark.provisional = false;
    rm->cells[region].mark = (cdof_report_mark_t){0};
    html = render(&r);
    assert_int_equal(count(html, "(provisional)</span>"), 0);
    free(html);
    cdof_report_free(&r);
}

/* Data completeness from the hub's coverage account: the state, England's coverage, and the
 * missing areas by name grouped by region, a region missing whole said in one phrase; a metric
 * with no complete period says so; one the hub gave no account of says "not reported". */
static void test_completeness_lists_missing_areas(void **state)
{
    (void)state;
    cdof_report_t r;
    build(&r);
    cdof_report_metric_t *rm = &r.metrics[0];
    rm->coverage_known = true;
    rm->state = CDOF_REPORT_PERIOD_OPEN;
    rm->none_complete = true;
    rm->mark = (cdof_report_mark_t){0, 153, true};
    size_t na = cdof_ref_area_count(ref), ne = 0;
    rm->missing = calloc(na, sizeof *rm->missing);
    assert_non_null(rm->missing);
    for (size_t i = 0; i < na; i++) {
        const cdof_area_t *a = cdof_ref_area_at(ref, i);
        bool north_east = a->kind == CDOF_AREA_UTLA && !strcmp(a->region_code, "E12000001");
        ne += north_east;
        if (north_east || !strcmp(a->code, "E06000015") || !strcmp(a->code, "E06000016"))
            rm->missing[rm->nmissing++] = i;
    }
    rm->mark.covered = (int32_t)(153 - rm->nmissing);
    cdof_report_suppress(&r, ref);
    char *html = render(&r);
    const char *sec = strstr(html, "<section id=\"completeness\"");
    assert_non_null(sec);
    char want[160];
    snprintf(want, sizeof want, "North East: all %zu areas; East Midlands: Derby, Leicester", ne);
    assert_non_null(strstr(sec, want));
    snprintf(want, sizeof want, "%zu of 153 areas", 153 - rm->nmissing);
    assert_non_null(strstr(sec, want));
    assert_non_null(strstr(sec, "open: returns still due (no period ending by the year"));
    free(html);
    /* A complete period: no mark, nothing missing. */
    rm->state = CDOF_REPORT_PERIOD_COMPLETE;
    rm->none_complete = false;
    rm->nmissing = 0;
    rm->mark = (cdof_report_mark_t){153, 153, false};
    html = render(&r);
    sec = strstr(html, "<section id=\"completeness\"");
    assert_non_null(strstr(sec, "153 of 153 areas"));
    assert_non_null(strstr(sec, ">none<"));
    assert_int_equal(count(html, "(provisional)</span>"), 0);
    free(html);
    rm->coverage_known = false;
    rm->mark = (cdof_report_mark_t){0};
    html = render(&r);
    sec = strstr(html, "<section id=\"completeness\"");
    assert_non_null(strstr(sec, "coverage not reported"));
    assert_non_null(strstr(sec, ">not reported<"));
    free(html);
    cdof_report_free(&r);
}

/* Data quality: refused submissions by partnership name with the reason, the periods revised
 * after they were complete, and a plain sentence when the hub gave no account. */
static void test_data_quality(void **state)
{
    (void)state;
    cdof_report_t r;
    build(&r);
    r.names = calloc(1, sizeof *r.names);
    assert_non_null(r.names);
    snprintf(r.names[0].id, sizeof r.names[0].id, "bristol");
    snprintf(r.names[0].name, sizeof r.names[0].name, "Bristol Drugs Partnership");
    r.nnames = 1;
    r.rejected_known = r.revisions_known = true;
    r.rejected = calloc(1, sizeof *r.rejected);
    r.revisions = calloc(1, sizeof *r.revisions);
    assert_non_null(r.rejected);
    assert_non_null(r.revisions);
    snprintf(r.rejected[0].partnership, sizeof r.rejected[0].partnership, "bristol");
    snprintf(r.rejected[0].reason, sizeof r.rejected[0].reason, "value is not a number");
    r.rejected[0].rows = 3;
    r.nrejected = 1;
    snprintf(r.revisions[0].metric_id, sizeof r.revisions[0].metric_id, "drug_misuse_deaths");
    snprintf(r.revisions[0].period, sizeof r.revisions[0].period, "2024/25");
    cdof_date_parse("2025-05-01", &r.revisions[0].completed_day);
    cdof_date_parse("2025-06-02", &r.revisions[0].revised_day);
    r.revisions[0].batches = 1;
    r.revisions[0].rows = 4;
    r.nrevisions = 1;
    char *html = render(&r);
    const char *sec = strstr(html, "<section id=\"quality\"");
    assert_non_null(sec);
    assert_non_null(strstr(sec, "<code>rejected/</code> folder"));
    const char *rej = strstr(sec, "id=\"rejected-table\"");
    assert_non_null(rej);
    assert_non_null(strstr(rej, "Bristol Drugs Partnership"));
    assert_non_null(strstr(rej, "value is not a number"));
    const char *rev = strstr(sec, "id=\"revisions-table\"");
    assert_non_null(rev);
    assert_non_null(strstr(rev, "2024/25 (April 2024 to March 2025)"));
    assert_non_null(strstr(rev, "1 May 2025"));
    assert_non_null(strstr(rev, "2 June 2025"));
    free(html);
    r.rejected_known = r.revisions_known = false;
    html = render(&r);
    sec = strstr(html, "<section id=\"quality\"");
    assert_null(strstr(sec, "id=\"rejected-table\""));
    assert_non_null(strstr(sec, "did not list the submissions it refused"));
    assert_non_null(strstr(sec, "revisions are not listed"));
    free(html);
    cdof_report_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_quality),
        cmocka_unit_test(test_published_withholds_small_counts),
        cmocka_unit_test(test_internal_marks_and_true_values),
        cmocka_unit_test(test_complement_withheld),
        cmocka_unit_test(test_partnership_rows),
        cmocka_unit_test(test_milestones_csv_round_trip),
        cmocka_unit_test(test_partial_data_marks),
        cmocka_unit_test(test_completeness_lists_missing_areas),
    };
    return cmocka_run_group_tests(tests, ref_setup, ref_teardown);
}
