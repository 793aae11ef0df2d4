/* The report's rendering library on its own: figures with their units, verdicts that do not
 * rest on colour, tables as accessible HTML, as CSV and as ODS XML with the same values. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report_render.h"

static void test_figures_with_units(void **state)
{
    (void)state;
    char s[64];
    cdof_rr_unit_t rate = {CDOF_RR_RATE, 100000}, pct = {CDOF_RR_PERCENT, 100},
                   count = {CDOF_RR_COUNT, 1};
    cdof_rr_figure(rate, 12.345, s, sizeof s);
    assert_string_equal(s, "12.3 per 100,000");
    cdof_rr_figure(pct, 45.66, s, sizeof s);
    assert_string_equal(s, "45.7%");
    cdof_rr_figure(count, 1234567, s, sizeof s);
    assert_string_equal(s, "1,234,567");
    cdof_rr_number(count, -1234, s, sizeof s);
    assert_string_equal(s, "-1,234");
    cdof_rr_number(rate, -0.01, s, sizeof s);
    assert_string_equal(s, "0.0");
    cdof_rr_figure(rate, NAN, s, sizeof s);
    assert_string_equal(s, "-");
    cdof_rr_unit_words(rate, s, sizeof s);
    assert_string_equal(s, "per 100,000");
}

/* Every verdict a reader must tell apart has its own words and, where the colours are close in
 * luminance, its own shape. */
static void test_verdicts_not_by_colour(void **state)
{
    (void)state;
    for (int a = CDOF_RR_V_NOT_COMPARED; a <= CDOF_RR_V_LOWER; a++) {
        assert_true(*cdof_rr_verdict_shape(a));
        for (int b = a + 1; b <= CDOF_RR_V_LOWER; b++) {
            assert_string_not_equal(cdof_rr_verdict_words(a), cdof_rr_verdict_words(b));
            assert_string_not_equal(cdof_rr_verdict_shape(a), cdof_rr_verdict_shape(b));
        }
    }
    assert_string_equal(cdof_rr_verdict_class(CDOF_RR_V_WORST), "worst");
}

static cdof_rr_table_t *sample(void)
{
    cdof_rr_unit_t rate = {CDOF_RR_RATE, 100000};
    cdof_rr_table_t *t = cdof_rr_table_new("sample", "Deaths <by area> & \"region\"");
    assert_non_null(t);
    assert_int_equal(cdof_rr_table_column(t, "Area", NULL), 0);
    assert_int_equal(cdof_rr_table_column(t, "Deaths", &rate), 0);
    assert_int_equal(cdof_rr_table_row(t, false), 0);
    assert_int_equal(cdof_rr_table_text(t, "Bournemouth, Christchurch and Poole"), 0);
    assert_int_equal(cdof_rr_table_cell(t, &(cdof_rr_cell_t){.value = 12.345678901234567,
                                                             .verdict = CDOF_RR_V_WORSE,
                                                             .provisional = true}),
                     0);
    assert_int_equal(cdof_rr_table_cell(t, &(cdof_rr_cell_t){.value = 1}), -EINVAL); /* full */
    cdof_rr_table_row(t, false);
    cdof_rr_table_text(t, "Rutland");
    cdof_rr_table_cell(t, &(cdof_rr_cell_t){.value = NAN, .withheld = true});
    cdof_rr_table_row(t, false);
    cdof_rr_table_text(t, "Isles of \"Scilly\"");
    cdof_rr_table_figure(t, NAN);
    cdof_rr_table_row(t, true);
    cdof_rr_table_text(t, "England");
    cdof_rr_table_cell(t, &(cdof_rr_cell_t){.value = 10, .note = "150 of 153 areas"});
    assert_int_equal(cdof_rr_table_rows(t), 4);
    assert_int_equal(cdof_rr_table_cols(t), 2);
    return t;
}

static void test_table_html(void **state)
{
    (void)state;
    cdof_rr_table_t *t = sample();
    cdof_rr_buf_t b = {0};
    assert_int_equal(cdof_rr_table_html(t, &b), 0);
    const char *h = b.data;
    assert_non_null(strstr(h, "<div class=\"tbl\" role=\"region\" tabindex=\"0\" "
                              "aria-labelledby=\"sample-cap\">"));
    assert_non_null(strstr(h, "<caption id=\"sample-cap\">Deaths &lt;by area&gt; &amp; "
                              "&quot;region&quot;</caption>"));
    assert_non_null(strstr(h, "<th scope=\"col\" class=\"num\">Deaths (per 100,000)</th>"));
    assert_non_null(strstr(h, "<th scope=\"row\" class=\"txt\">Rutland</th>"));
    /* The verdict in words and by shape; the provisional mark read out as a word. */
    assert_non_null(strstr(h, "12.3 <span class=\"prov\"><span aria-hidden=\"true\">P</span>"
                              "<span class=\"vh\">(provisional)</span></span><span class=\"vd\">"
                              "<span aria-hidden=\"true\">\u25b2</span> Worse</span>"));
    assert_non_null(strstr(h, "title=\"withheld: small number\">*</span><span class=\"vh\"> "
                              "(withheld: small number)</span>"));
    const char *foot = strstr(h, "<tfoot>");
    assert_non_null(foot);
    assert_non_null(strstr(foot, "10.0<small>150 of 153 areas</small>"));
    assert_non_null(strstr(h, "<a download=\"sample.csv\" href=\"data:text/csv;charset=utf-8,"
                              "Area%2C%22Deaths%20%28per%20100%2C000%29%22%2CNotes%0D%0A"));
    cdof_rr_buf_free(&b);
    cdof_rr_table_free(&t);
    assert_null(t);
}

static void test_table_csv(void **state)
{
    (void)state;
    cdof_rr_table_t *t = sample();
    cdof_rr_buf_t b = {0};
    assert_int_equal(cdof_rr_table_csv(t, &b), 0);
    assert_string_equal(b.data, "Area,\"Deaths (per 100,000)\",Notes\r\n"
                                "\"Bournemouth, Christchurch and Poole\",12.3456789012346,"
                                "Deaths: [p] provisional\r\n"
                                "Rutland,[c],\r\n"
                                "\"Isles of \"\"Scilly\"\"\",[x],\r\n"
                                "England,10,Deaths: 150 of 153 areas\r\n");
    cdof_rr_buf_free(&b);
    cdof_rr_table_free(&t);
}

static void test_ods_content(void **state)
{
    (void)state;
    cdof_rr_table_t *t = sample();
    const cdof_rr_table_t *tables[] = {t};
    cdof_rr_buf_t b = {0};
    assert_int_equal(cdof_rr_ods_content(tables, 1, "Report & tables", "notes", &b), 0);
    const char *x = b.data;
    assert_non_null(strstr(x, "<table:table table:name=\"Cover\">"));
    assert_non_null(strstr(x, "<text:p>Report &amp; tables</text:p>"));
    assert_non_null(strstr(x, "<table:table table:name=\"sample\">"));
    /* The value in full, the text as downloaded. */
    assert_non_null(strstr(x, "office:value-type=\"float\" office:value=\"12.345678901234567\">"
                              "<text:p>12.3456789012346</text:p>"));
    assert_non_null(strstr(x, "<text:p>[c]</text:p>"));
    assert_non_null(strstr(x, "<text:p>Isles of &quot;Scilly&quot;</text:p>"));
    size_t open = 0, close = 0;
    for (const char *p = x; (p = strstr(p, "<table:table ")); p++)
        open++;
    for (const char *p = x; (p = strstr(p, "</table:table>")); p++)
        close++;
    assert_int_equal(open, 2);
    assert_int_equal(close, 2);
    assert_non_null(strstr(cdof_rr_ods_manifest, "application/vnd.oasis.opendocument."
                                                 "spreadsheet"));
    cdof_rr_buf_free(&b);
    cdof_rr_table_free(&t);
}

static void test_charts_have_text(void **state)
{
    (void)state;
    cdof_rr_buf_t b = {0};
    cdof_rr_spine_t s = {.worst = 30,
                         .q_worse = 15,
                         .q_better = 8,
                         .best = 1,
                         .england = 10,
                         .half = 20,
                         .flip = true};
    cdof_rr_spine_svg(&b, &s, true, 29, CDOF_RR_V_WORST, "Deaths: 29.0, worse <99.8%>");
    assert_non_null(strstr(b.data, "role=\"img\" aria-label=\"Deaths: 29.0, worse "
                                   "&lt;99.8%&gt;\""));
    assert_non_null(strstr(b.data, "<path class=\"mk worst\"")); /* a triangle */
    cdof_rr_buf_free(&b);
    cdof_rr_point_t pts[] = {{"2021", 1, false}, {"2022", 2, true}};
    cdof_rr_trend_svg(&b, pts, 2, true, 3, (cdof_rr_unit_t){CDOF_RR_COUNT, 1}, "Trend");
    assert_non_null(strstr(b.data, "aria-label=\"Trend\""));
    assert_non_null(strstr(b.data, "class=\"dot prov\""));
    assert_non_null(strstr(b.data, "class=\"target\""));
    cdof_rr_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures_with_units), cmocka_unit_test(test_verdicts_not_by_colour),
        cmocka_unit_test(test_table_html),         cmocka_unit_test(test_table_csv),
        cmocka_unit_test(test_ods_content),        cmocka_unit_test(test_charts_have_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
