/* Periods and civil dates: parsing, formatting, boundaries, shifting, and the day arithmetic
 * checked against a plain day-by-day counter. */
#include <errno.h>
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

static int dim_plain(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static void test_epoch_and_known_days(void **state)
{
    (void)state;
    assert_int_equal(cdof_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(cdof_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(cdof_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(cdof_days_from_civil(2021, 12, 1), 18962);
    assert_int_equal(cdof_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(cdof_days_from_civil(1600, 1, 1), -135140);
    int y, m, d;
    cdof_civil_from_days(19782, &y, &m, &d);
    assert_int_equal(y, 2024);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    cdof_civil_from_days(-1, &y, &m, &d);
    assert_int_equal(y, 1969);
    assert_int_equal(m, 12);
    assert_int_equal(d, 31);
}

/* Walk every day from 1 Jan 1200 to 31 Dec 2800 with a counter that knows nothing but month
 * lengths, and check both directions of the conversion at each step. */
static void test_days_civil_brute_force(void **state)
{
    (void)state;
    int32_t n = cdof_days_from_civil(1200, 1, 1);
    /* Count from the epoch backwards independently, to anchor the walk. */
    int32_t anchor = 0;
    for (int y = 1969; y >= 1200; y--)
        for (int m = 1; m <= 12; m++)
            anchor -= dim_plain(y, m);
    assert_int_equal(n, anchor);
    long checked = 0;
    for (int y = 1200; y <= 2800; y++) {
        for (int m = 1; m <= 12; m++) {
            for (int d = 1; d <= dim_plain(y, m); d++, n++, checked++) {
                if (cdof_days_from_civil(y, m, d) != n)
                    fail_msg("days_from_civil(%d-%02d-%02d) = %d, want %d", y, m, d,
                             (int)cdof_days_from_civil(y, m, d), (int)n);
                int yy, mm, dd;
                cdof_civil_from_days(n, &yy, &mm, &dd);
                if (yy != y || mm != m || dd != d)
                    fail_msg("civil_from_days(%d) = %d-%02d-%02d, want %d-%02d-%02d", (int)n, yy,
                             mm, dd, y, m, d);
            }
        }
    }
    assert_true(checked > 580000);
}

/* Far ends of the int32 range round-trip, including negative years. */
static void test_days_civil_extremes(void **state)
{
    (void)state;
    const int32_t samples[] = {
        INT32_MIN + 1000000, -1000000000,        -719468, -719469, -146097, 0, 146097,
        1000000000,          INT32_MAX - 1000000};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        for (int32_t k = 0; k < 800; k++) {
            int32_t days = samples[i] + k;
            int y, m, d;
            cdof_civil_from_days(days, &y, &m, &d);
            assert_true(m >= 1 && m <= 12);
            assert_true(d >= 1 && d <= 31);
            assert_int_equal(cdof_days_from_civil(y, m, d), days);
        }
    }
    int y, m, d;
    cdof_civil_from_days(-719468, &y, &m, &d); /* 0000-03-01 */
    assert_int_equal(y, 0);
    assert_int_equal(m, 3);
    assert_int_equal(d, 1);
    cdof_civil_from_days(-719469, &y, &m, &d); /* year 0 is a leap year */
    assert_int_equal(y, 0);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
}

static void test_date_parse_strict(void **state)
{
    (void)state;
    int32_t days;
    assert_int_equal(cdof_date_parse("2024-02-29", &days), 0);
    assert_int_equal(days, cdof_days_from_civil(2024, 2, 29));
    assert_int_equal(cdof_date_parse("2000-02-29", &days), 0);
    assert_int_equal(cdof_date_parse("1970-01-01", &days), 0);
    assert_int_equal(days, 0);
    const char *bad[] = {"2023-02-29", "1900-02-29",  "2100-02-29",  "2024-04-31",  "2024-13-01",
                         "2024-00-10", "2024-01-00",  "2024-01-32",  "2024-1-01",   "24-01-01",
                         "2024/01/01", "2024-01-01T", " 2024-01-01", "2024-01-01 ", "",
                         "2024-0a-01", "+024-01-01",  "2024-01--1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        days = 12345;
        if (cdof_date_parse(bad[i], &days) != -EINVAL)
            fail_msg("'%s' parsed", bad[i]);
        assert_int_equal(days, 12345);
    }
    assert_int_equal(cdof_date_parse(NULL, &days), -EINVAL);
}

static void test_date_format(void **state)
{
    (void)state;
    char buf[11];
    cdof_date_format(cdof_days_from_civil(2024, 2, 29), buf, sizeof buf);
    assert_string_equal(buf, "2024-02-29");
    cdof_date_format(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01");
    char small[5];
    cdof_date_format(0, small, sizeof small); /* truncates, stays terminated */
    assert_string_equal(small, "1970");
    /* Every day of four years formats and parses back. */
    for (int32_t d = cdof_days_from_civil(2023, 1, 1); d < cdof_days_from_civil(2027, 1, 1); d++) {
        int32_t back;
        cdof_date_format(d, buf, sizeof buf);
        assert_int_equal(cdof_date_parse(buf, &back), 0);
        assert_int_equal(back, d);
    }
}

static void expect_period(const char *text, cdof_period_kind_t kind, int y1, int m1, int d1, int y2,
                          int m2, int d2)
{
    cdof_period_t p;
    char err[256] = "";
    if (cdof_period_parse(text, &p, err, sizeof err) != 0)
        fail_msg("'%s': %s", text, err);
    assert_int_equal(p.kind, kind);
    assert_int_equal(p.first_day, cdof_days_from_civil(y1, m1, d1));
    assert_int_equal(p.last_day, cdof_days_from_civil(y2, m2, d2));
    assert_true(cdof_period_valid(&p));
    char back[CDOF_PERIOD_TEXT_MAX];
    assert_int_equal(cdof_period_format(&p, back, sizeof back), 0);
    assert_string_equal(back, text);
}

static void test_parse_kinds(void **state)
{
    (void)state;
    expect_period("2024-03", CDOF_PERIOD_MONTH, 2024, 3, 1, 2024, 3, 31);
    expect_period("2024-02", CDOF_PERIOD_MONTH, 2024, 2, 1, 2024, 2, 29);
    expect_period("2023-02", CDOF_PERIOD_MONTH, 2023, 2, 1, 2023, 2, 28);
    expect_period("1900-02", CDOF_PERIOD_MONTH, 1900, 2, 1, 1900, 2, 28);
    expect_period("2000-02", CDOF_PERIOD_MONTH, 2000, 2, 1, 2000, 2, 29);
    expect_period("2024-04", CDOF_PERIOD_MONTH, 2024, 4, 1, 2024, 4, 30);
    expect_period("2024-12", CDOF_PERIOD_MONTH, 2024, 12, 1, 2024, 12, 31);
    expect_period("2024-Q1", CDOF_PERIOD_QUARTER, 2024, 1, 1, 2024, 3, 31);
    expect_period("2024-Q2", CDOF_PERIOD_QUARTER, 2024, 4, 1, 2024, 6, 30);
    expect_period("2024-Q3", CDOF_PERIOD_QUARTER, 2024, 7, 1, 2024, 9, 30);
    expect_period("2024-Q4", CDOF_PERIOD_QUARTER, 2024, 10, 1, 2024, 12, 31);
    expect_period("2023/24", CDOF_PERIOD_FINANCIAL_YEAR, 2023, 4, 1, 2024, 3, 31);
    expect_period("1999/00", CDOF_PERIOD_FINANCIAL_YEAR, 1999, 4, 1, 2000, 3, 31);
    expect_period("2023", CDOF_PERIOD_CALENDAR_YEAR, 2023, 1, 1, 2023, 12, 31);
    expect_period("2021-2023", CDOF_PERIOD_POOLED_YEARS, 2021, 1, 1, 2023, 12, 31);
    expect_period("2022-2023", CDOF_PERIOD_POOLED_YEARS, 2022, 1, 1, 2023, 12, 31);
    expect_period("2014-2023", CDOF_PERIOD_POOLED_YEARS, 2014, 1, 1, 2023, 12, 31);
    expect_period("1900", CDOF_PERIOD_CALENDAR_YEAR, 1900, 1, 1, 1900, 12, 31);
    expect_period("2999", CDOF_PERIOD_CALENDAR_YEAR, 2999, 1, 1, 2999, 12, 31);
    expect_period("2998/99", CDOF_PERIOD_FINANCIAL_YEAR, 2998, 4, 1, 2999, 3, 31);
}

static void expect_reason(const char *text, const char *want)
{
    cdof_period_t p = {CDOF_PERIOD_MONTH, 7, 7};
    char err[256] = "";
    assert_int_equal(cdof_period_parse(text, &p, err, sizeof err), CDOF_EINVALID);
    if (!strstr(err, want))
        fail_msg("'%s': reason '%s' lacks '%s'", text ? text : "(null)", err, want);
    assert_int_equal(p.first_day, 7); /* untouched on failure */
}

static void test_parse_reasons(void **state)
{
    (void)state;
    expect_reason("2024-13", "'2024-13' is not a month");
    expect_reason("2024-13", "expected 2024-03, 2024-Q1, 2023/24, 2023 or 2021-2023");
    expect_reason("2024-00", "is not a month");
    expect_reason("2024-1a", "is not a month");
    expect_reason("2024-Q5", "'2024-Q5' is not a quarter");
    expect_reason("2024-Q0", "is not a quarter");
    expect_reason("2024-Qx", "is not a quarter");
    expect_reason("2023/25", "financial year must be consecutive years");
    expect_reason("2023/25", "(2023/24)");
    expect_reason("2023/23", "financial year must be consecutive years");
    expect_reason("2023/2x", "is not a financial year");
    expect_reason("2023-2023", "pooled must span 2..10 years");
    expect_reason("2023-2021", "pooled must span 2..10 years");
    expect_reason("2010-2020", "pooled must span 2..10 years");
    expect_reason("1800", "outside the supported years 1900 to 2999");
    expect_reason("3000-01", "outside the supported years");
    expect_reason("2999/00", "outside the supported years");
    expect_reason("1899-1901", "outside the supported years");
    expect_reason("", "period is empty");
    expect_reason(NULL, "period is empty");
    expect_reason("March 2024", "is not a period");
    expect_reason("2024-03-01", "is not a period");
    expect_reason("2024 ", "is not a period");
    expect_reason("24-03", "is not a period");
    expect_reason("2024-q1", "is not a month");
    expect_reason("2024-3", "is not a period");
    expect_reason("20x4", "is not a period");
    expect_reason("2021_2023", "is not a period");
    /* A long input is cut short in the reason. */
    char longtext[300];
    memset(longtext, '9', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    expect_reason(longtext, "...' is not a period");
}

/* Every period of every kind over a range of years formats, parses back to itself and is valid. */
static void test_round_trip_all_kinds(void **state)
{
    (void)state;
    char text[64], err[256]; /* roomy: the compiler cannot see y's range */
    int count = 0;
    for (int y = 1900; y <= 2100; y++) {
        for (int kind = CDOF_PERIOD_MONTH; kind <= CDOF_PERIOD_POOLED_YEARS; kind++) {
            int nsub = kind == CDOF_PERIOD_MONTH          ? 12
                       : kind == CDOF_PERIOD_QUARTER      ? 4
                       : kind == CDOF_PERIOD_POOLED_YEARS ? 9
                                                          : 1;
            for (int s = 1; s <= nsub; s++) {
                cdof_period_t p = {kind, 0, 0}, q;
                switch (kind) {
                case CDOF_PERIOD_MONTH:
                    snprintf(text, sizeof text, "%04d-%02d", y, s);
                    break;
                case CDOF_PERIOD_QUARTER:
                    snprintf(text, sizeof text, "%04d-Q%d", y, s);
                    break;
                case CDOF_PERIOD_FINANCIAL_YEAR:
                    snprintf(text, sizeof text, "%04d/%02d", y, (y + 1) % 100);
                    break;
                case CDOF_PERIOD_CALENDAR_YEAR:
                    snprintf(text, sizeof text, "%04d", y);
                    break;
                default:
                    snprintf(text, sizeof text, "%04d-%04d", y, y + s);
                    break;
                }
                if (cdof_period_parse(text, &p, err, sizeof err) != 0)
                    fail_msg("'%s': %s", text, err);
                assert_true(cdof_period_valid(&p));
                char back[CDOF_PERIOD_TEXT_MAX];
                assert_int_equal(cdof_period_format(&p, back, sizeof back), 0);
                assert_string_equal(back, text);
                assert_int_equal(cdof_period_parse(back, &q, err, sizeof err), 0);
                assert_memory_equal(&p, &q, sizeof p);
                count++;
            }
        }
    }
    assert_int_equal(count, 201 * (12 + 4 + 1 + 1 + 9));
}

static void test_valid_boundaries(void **state)
{
    (void)state;
    cdof_period_t p;
    char err[128];
    assert_int_equal(cdof_period_parse("2024-02", &p, err, sizeof err), 0);
    cdof_period_t q = p;
    q.last_day--; /* 28 Feb in a leap year: not the end of the month */
    assert_false(cdof_period_valid(&q));
    q = p;
    q.first_day++;
    assert_false(cdof_period_valid(&q));
    q = p;
    q.kind = CDOF_PERIOD_QUARTER;
    assert_false(cdof_period_valid(&q));
    q.kind = CDOF_PERIOD_NONE;
    assert_false(cdof_period_valid(&q));
    q.kind = (cdof_period_kind_t)9;
    assert_false(cdof_period_valid(&q));
    assert_false(cdof_period_valid(NULL));
    /* A month spanning two months, a quarter not starting on a quarter. */
    cdof_period_t two = {CDOF_PERIOD_MONTH, cdof_days_from_civil(2024, 1, 1),
                         cdof_days_from_civil(2024, 2, 29)};
    assert_false(cdof_period_valid(&two));
    cdof_period_t offq = {CDOF_PERIOD_QUARTER, cdof_days_from_civil(2024, 2, 1),
                          cdof_days_from_civil(2024, 4, 30)};
    assert_false(cdof_period_valid(&offq));
    /* A financial year on calendar boundaries, and the reverse. */
    cdof_period_t fy = {CDOF_PERIOD_FINANCIAL_YEAR, cdof_days_from_civil(2023, 1, 1),
                        cdof_days_from_civil(2023, 12, 31)};
    assert_false(cdof_period_valid(&fy));
    cdof_period_t cy = {CDOF_PERIOD_CALENDAR_YEAR, cdof_days_from_civil(2023, 4, 1),
                        cdof_days_from_civil(2024, 3, 31)};
    assert_false(cdof_period_valid(&cy));
    /* Pooled: one year, eleven years, reversed. */
    cdof_period_t one = {CDOF_PERIOD_POOLED_YEARS, cdof_days_from_civil(2023, 1, 1),
                         cdof_days_from_civil(2023, 12, 31)};
    assert_false(cdof_period_valid(&one));
    cdof_period_t eleven = {CDOF_PERIOD_POOLED_YEARS, cdof_days_from_civil(2013, 1, 1),
                            cdof_days_from_civil(2023, 12, 31)};
    assert_false(cdof_period_valid(&eleven));
    cdof_period_t rev = {CDOF_PERIOD_POOLED_YEARS, cdof_days_from_civil(2023, 1, 1),
                         cdof_days_from_civil(2021, 12, 31)};
    assert_false(cdof_period_valid(&rev));
    cdof_period_t far = {CDOF_PERIOD_CALENDAR_YEAR, cdof_days_from_civil(3000, 1, 1),
                         cdof_days_from_civil(3000, 12, 31)};
    assert_false(cdof_period_valid(&far));
    cdof_period_t extreme = {CDOF_PERIOD_MONTH, INT32_MIN, INT32_MAX};
    assert_false(cdof_period_valid(&extreme));
    char buf[CDOF_PERIOD_TEXT_MAX];
    assert_int_equal(cdof_period_format(&two, buf, sizeof buf), -EINVAL);
    assert_int_equal(cdof_period_format(&extreme, buf, sizeof buf), -EINVAL);
    /* Too small a buffer is an error, not a truncation. */
    cdof_period_t pooled;
    assert_int_equal(cdof_period_parse("2021-2023", &pooled, err, sizeof err), 0);
    char small[9];
    assert_int_equal(cdof_period_format(&pooled, small, sizeof small), -EINVAL);
}

static void expect_shift(const char *from, const char *prev, const char *year_earlier)
{
    cdof_period_t p, q;
    char err[128], text[CDOF_PERIOD_TEXT_MAX];
    assert_int_equal(cdof_period_parse(from, &p, err, sizeof err), 0);
    assert_int_equal(cdof_period_prev(&p, &q), 0);
    assert_int_equal(cdof_period_format(&q, text, sizeof text), 0);
    assert_string_equal(text, prev);
    assert_int_equal(cdof_period_year_earlier(&p, &q), 0);
    assert_int_equal(cdof_period_format(&q, text, sizeof text), 0);
    assert_string_equal(text, year_earlier);
}

static void test_prev_and_year_earlier(void **state)
{
    (void)state;
    expect_shift("2024-03", "2024-02", "2023-03");
    expect_shift("2024-01", "2023-12", "2023-01");
    expect_shift("2024-Q1", "2023-Q4", "2023-Q1");
    expect_shift("2024-Q3", "2024-Q2", "2023-Q3");
    expect_shift("2023/24", "2022/23", "2022/23");
    expect_shift("2000/01", "1999/00", "1999/00");
    expect_shift("2023", "2022", "2022");
    expect_shift("2021-2023", "2020-2022", "2020-2022");
    expect_shift("2014-2023", "2013-2022", "2013-2022");
    /* Walking back month by month for 100 years lands where it should. */
    cdof_period_t p, q;
    char err[128], text[CDOF_PERIOD_TEXT_MAX];
    assert_int_equal(cdof_period_parse("2024-03", &p, err, sizeof err), 0);
    for (int i = 0; i < 1200; i++) {
        assert_int_equal(cdof_period_prev(&p, &q), 0);
        assert_int_equal(q.last_day + 1, p.first_day); /* adjacent */
        p = q;
    }
    assert_int_equal(cdof_period_format(&p, text, sizeof text), 0);
    assert_string_equal(text, "1924-03");
    /* The earliest supported period has no predecessor. */
    assert_int_equal(cdof_period_parse("1900-01", &p, err, sizeof err), 0);
    assert_int_equal(cdof_period_prev(&p, &q), -EINVAL);
    assert_int_equal(cdof_period_year_earlier(&p, &q), -EINVAL);
    assert_int_equal(cdof_period_parse("1900-1902", &p, err, sizeof err), 0);
    assert_int_equal(cdof_period_prev(&p, &q), -EINVAL);
    cdof_period_t bad = {CDOF_PERIOD_MONTH, 1, 5};
    assert_int_equal(cdof_period_prev(&bad, &q), -EINVAL);
    assert_int_equal(cdof_period_year_earlier(&bad, &q), -EINVAL);
    assert_int_equal(cdof_period_prev(NULL, &q), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_and_known_days), cmocka_unit_test(test_days_civil_brute_force),
        cmocka_unit_test(test_days_civil_extremes),  cmocka_unit_test(test_date_parse_strict),
        cmocka_unit_test(test_date_format),          cmocka_unit_test(test_parse_kinds),
        cmocka_unit_test(test_parse_reasons),        cmocka_unit_test(test_round_trip_all_kinds),
        cmocka_unit_test(test_valid_boundaries),     cmocka_unit_test(test_prev_and_year_earlier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
