/* The strategy's commitments: the shipped file loads, a bad file names its line and field, and
 * progress is worked the way SOURCES.md describes for each kind. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdof_commitments.h"
#include "cdof_error.h"

#include "ref_fixture.h"

static void test_shipped_file(void **state)
{
    (void)state;
    cdof_commitments_t *set = NULL;
    char err[256] = "";
    assert_int_equal(
        cdof_commitments_load(CDOF_REF_DIR "/commitments.csv", ref, &set, err, sizeof err), 0);
    const cdof_commitment_t *c = cdof_commitments_find(set, "county_lines_closed");
    assert_non_null(c);
    assert_int_equal(c->kind, CDOF_COMMIT_CUMULATIVE);
    assert_true(c->has_target);
    assert_true(c->target == 2000);
    c = cdof_commitments_find(set, "numbers_in_treatment");
    assert_non_null(c);
    assert_int_equal(c->kind, CDOF_COMMIT_CHANGE);
    assert_non_null(strstr(c->source, "From harm to hope"));
    assert_null(cdof_commitments_find(set, "drug_seizures"));
    cdof_commitments_destroy(&set);
    assert_null(set);
}

static void test_missing_file_is_empty(void **state)
{
    (void)state;
    cdof_commitments_t *set = NULL;
    char err[256];
    assert_int_equal(
        cdof_commitments_load("/nonexistent/commitments.csv", ref, &set, err, sizeof err),
        CDOF_ENOTFOUND);
    assert_int_equal(cdof_commitments_count(set), 0);
    cdof_commitments_destroy(&set);
}

static void expect_error(const char *text, const char *want)
{
    char path[] = "/tmp/cdof-commitments-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    if (strncmp(text, "metric_id,", 10) != 0) /* else the text brings its own header */
        fputs("metric_id,kind,baseline_period,baseline,target,since,by,commitment,source\n", f);
    fputs(text, f);
    fclose(f);
    cdof_commitments_t *set = NULL;
    char err[256] = "";
    assert_int_equal(cdof_commitments_load(path, ref, &set, err, sizeof err), CDOF_EREFDATA);
    unlink(path);
    assert_null(set);
    if (!strstr(err, want))
        fail_msg("error '%s' does not say '%s'", err, want);
}

/* Joins a header and a row for expect_error (static buffer: one use at a time). */
static const char *cat(const char *a, const char *b)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s%s", a, b);
    return buf;
}

static void test_bad_rows_named(void **state)
{
    (void)state;
    expect_error("continuity_of_care,level,,,lots,,,x,y\n",
                 "commitments.csv:2: field 'target': 'lots' is not a number");
    expect_error("continuity_of_care,level,,,75,,,x,y\nnope,level,,,1,,,x,y\n",
                 "commitments.csv:3: field 'metric_id': 'nope' is not in the catalogue");
    expect_error("county_lines_closed,cumulative,,,2000,,,x,y\n", "field 'since'");
    expect_error("continuity_of_care,sideways,,,75,,,x,y\n", "field 'kind'");
    static const char hdr[] =
        "metric_id,kind,baseline_period,baseline,target,since,by,commitment,source,"
        "change_percent\n";
    expect_error(cat(hdr, "numbers_in_treatment,change,,,1,2022-04-01,2025-03-31,x,y,lots\n"),
                 "commitments.csv:2: field 'change_percent': 'lots' is not a number");
    expect_error(cat(hdr, "numbers_in_treatment,change,,,1,2022-04-01,2025-03-31,x,y,-100\n"),
                 "field 'change_percent'");
    expect_error(cat(hdr, "numbers_in_treatment,change,,,1,,2025-03-31,x,y,20\n"),
                 "commitments.csv:2: field 'change_percent': needs 'since' and a later 'by'");
    expect_error(cat(hdr, "numbers_in_treatment,change,,,1,2025-03-31,2022-04-01,x,y,20\n"),
                 "field 'change_percent'");
}

static void test_progress(void **state)
{
    (void)state;
    cdof_commitment_t level = {.kind = CDOF_COMMIT_LEVEL, .has_target = true, .target = 75};
    double target = 0, pct = 0;
    assert_true(cdof_commitment_progress(&level, 37, 56, &target, &pct));
    assert_true(target == 75);
    assert_true(fabs(pct - 50) < 1e-9); /* 19 of the 38 points from 37% to 75% */

    cdof_commitment_t change = {.kind = CDOF_COMMIT_CHANGE, .has_target = true, .target = 54500};
    assert_true(cdof_commitment_progress(&change, 280000, 307250, &target, &pct));
    assert_true(target == 334500);
    assert_true(fabs(pct - 50) < 1e-9);

    cdof_commitment_t cum = {.kind = CDOF_COMMIT_CUMULATIVE, .has_target = true, .target = 2000};
    assert_true(cdof_commitment_progress(&cum, NAN, 1300, &target, &pct));
    assert_true(fabs(pct - 65) < 1e-9);

    cdof_commitment_t dir = {.kind = CDOF_COMMIT_DIRECTION};
    assert_false(cdof_commitment_progress(&dir, 1, 2, &target, &pct));
    assert_false(cdof_commitment_progress(&level, NAN, 50, &target, &pct));
}

/* The per-area count trajectory comes from the commitment's relative change over its span. */
static void test_yearly_change(void **state)
{
    (void)state;
    cdof_commitments_t *set = NULL;
    char err[256] = "";
    assert_int_equal(
        cdof_commitments_load(CDOF_REF_DIR "/commitments.csv", ref, &set, err, sizeof err), 0);
    double y = 0;
    /* From harm to hope: +20% over 2022/23 to 2024/25, 1.2^(1/3) - 1 = 6.2658...% a year. */
    assert_true(
        cdof_commitment_yearly_change(cdof_commitments_find(set, "numbers_in_treatment"), &y));
    assert_true(fabs(y - 0.0626585691826111) < 1e-12);
    assert_true(cdof_commitment_yearly_change(cdof_commitments_find(set, "ocg_disruptions"), &y));
    assert_true(fabs(y - 0.0626585691826111) < 1e-12);
    y = -1;
    assert_false(
        cdof_commitment_yearly_change(cdof_commitments_find(set, "continuity_of_care"), &y));
    assert_true(y == -1);
    cdof_commitments_destroy(&set);

    /* By hand: +21% over two whole years is +10% a year; -19% over two is -10%; a span shorter
     * than a year counts as one. */
    cdof_commitment_t c = {.has_change_percent = true, .change_percent = 21};
    cdof_date_parse("2023-04-01", &c.since_day);
    cdof_date_parse("2025-03-31", &c.by_day);
    assert_true(cdof_commitment_yearly_change(&c, &y));
    assert_true(fabs(y - 0.10) < 1e-12);
    c.change_percent = -19;
    assert_true(cdof_commitment_yearly_change(&c, &y));
    assert_true(fabs(y + 0.10) < 1e-12);
    c.change_percent = 7;
    cdof_date_parse("2025-01-01", &c.since_day);
    assert_true(cdof_commitment_yearly_change(&c, &y));
    assert_true(fabs(y - 0.07) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_file),   cmocka_unit_test(test_missing_file_is_empty),
        cmocka_unit_test(test_bad_rows_named), cmocka_unit_test(test_progress),
        cmocka_unit_test(test_yearly_change),
    };
    return cmocka_run_group_tests(tests, ref_setup, ref_teardown);
}
