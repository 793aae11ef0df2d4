/* The table writer (common/cdof_table): CSV quoting and JSON escaping as the writers use them,
 * numbers, aligned text fitted to a width, CSV and JSON, column kinds, and failures remembered by
 * the table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_table.h"
#include "cdof_text.h"

#include "capture.h"

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
        cdof_text_csv_file(c.f, cases[i].in);
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
        cdof_text_json_file(c.f, cases[i].in, strlen(cases[i].in));
        assert_string_equal(cap_text(&c), cases[i].out);
        cap_free(&c);
    }
}

static void test_number_text(void **state)
{
    (void)state;
    char buf[64];
    cdof_table_number_text(41.3, buf, sizeof buf);
    assert_string_equal(buf, "41.3");
    cdof_table_number_text(0.1 + 0.2, buf, sizeof buf);
    assert_string_equal(buf, "0.30000000000000004");
    cdof_table_number_text(141285, buf, sizeof buf);
    assert_string_equal(buf, "141285");
    cdof_table_number_text(-0.0, buf, sizeof buf);
    assert_string_equal(buf, "0");
    cdof_table_number_text(1e20, buf, sizeof buf);
    assert_string_equal(buf, "1e+20");
    cdof_table_number_text(-2.5, buf, sizeof buf);
    assert_string_equal(buf, "-2.5");
}

static void test_width_and_truncate(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(cdof_table_text_width("8.1\xe2\x80\x93"
                                           "12.6"),
                     8);
    assert_int_equal(cdof_table_text_width(""), 0);
    cdof_table_truncate("Bath and North East Somerset", 10, buf, sizeof buf);
    assert_string_equal(buf, "Bath and \xe2\x80\xa6");
    assert_int_equal(cdof_table_text_width(buf), 10);
    cdof_table_truncate("short", 10, buf, sizeof buf);
    assert_string_equal(buf, "short");
    /* a cut never splits a code point */
    cdof_table_truncate("\xc3\xa9\xc3\xa9\xc3\xa9", 2, buf, sizeof buf);
    assert_string_equal(buf, "\xc3\xa9\xe2\x80\xa6");
}

static cdof_table_t *small_table(void)
{
    static const cdof_table_col_t cols[] = {CDOF_TABLE_COL_CUT("name"), CDOF_TABLE_COL_NUM("value"),
                                            CDOF_TABLE_COL_TEXT("note")};
    cdof_table_t *t = cdof_table_new(CDOF_TABLE_COLS(cols));
    assert_non_null(t);
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set(t, 0, "Blackpool"), 0);
    assert_int_equal(cdof_table_set_number(t, 1, 10.25, 1), 0);
    assert_int_equal(cdof_table_set(t, 2, "a, \"b\""), 0);
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set(t, 0, "Bath and North East Somerset"), 0);
    assert_int_equal(cdof_table_set_number(t, 1, 141285, -1), 0);
    /* note left null */
    return t;
}

static void test_table_aligned(void **state)
{
    (void)state;
    cdof_table_t *t = small_table();
    assert_writes("name                           value  note\n"
                  "----------------------------  ------  ------\n"
                  "Blackpool                       10.2  a, \"b\"\n"
                  "Bath and North East Somerset  141285\n",
                  cdof_table_write_aligned, t, 80);
    cdof_table_destroy(&t);
    assert_null(t);
}

static void test_table_fits_width(void **state)
{
    (void)state;
    cdof_table_t *t = small_table();
    capture_t c;
    cap_open(&c);
    assert_int_equal(cdof_table_write_aligned(t, 26, c.f), 0);
    const char *out = cap_text(&c);
    assert_string_equal(out, "name         value  note\n"
                             "----------  ------  ------\n"
                             "Blackpool     10.2  a, \"b\"\n"
                             "Bath and \xe2\x80\xa6  141285\n");
    cap_free(&c);
    /* numbers are never cut: a width too small for them overflows instead */
    cap_open(&c);
    assert_int_equal(cdof_table_write_aligned(t, 5, c.f), 0);
    assert_non_null(strstr(cap_text(&c), "141285"));
    cap_free(&c);
    cdof_table_destroy(&t);
}

static void test_csv_and_json(void **state)
{
    (void)state;
    cdof_table_t *t = small_table();
    assert_writes("name,value,note\r\n"
                  "Blackpool,10.2,\"a, \"\"b\"\"\"\r\n"
                  "Bath and North East Somerset,141285,\r\n",
                  cdof_table_write_csv, t);
    assert_writes("[\n"
                  "{\"name\":\"Blackpool\",\"value\":10.2,\"note\":\"a, \\\"b\\\"\"},\n"
                  "{\"name\":\"Bath and North East Somerset\",\"value\":141285,"
                  "\"note\":null}\n"
                  "]\n",
                  cdof_table_write_json, t);
    cdof_table_destroy(&t);

    static const cdof_table_col_t one[] = {CDOF_TABLE_COL_TEXT("x")};
    t = cdof_table_new(CDOF_TABLE_COLS(one));
    assert_writes("[]\n", cdof_table_write_json, t);
    cdof_table_destroy(&t);
}

static void test_format_parse(void **state)
{
    (void)state;
    cdof_table_format_t f;
    assert_int_equal(cdof_table_format_parse("csv", &f), 0);
    assert_int_equal(f, CDOF_TABLE_CSV);
    assert_int_equal(cdof_table_format_parse("json", &f), 0);
    assert_int_equal(f, CDOF_TABLE_JSON);
    assert_int_equal(cdof_table_format_parse("table", &f), 0);
    assert_int_equal(f, CDOF_TABLE_ALIGNED);
    assert_true(cdof_table_format_parse("xml", &f) < 0);
}

/* The column's kind decides how JSON writes a cell: strings quoted, numbers and booleans bare,
 * null cells null whatever the kind; CSV writes booleans as words and null as nothing. */
static void test_kinds(void **state)
{
    (void)state;
    static const cdof_table_col_t cols[] = {CDOF_TABLE_COL_TEXT("s"), CDOF_TABLE_COL_NUM("n"),
                                            CDOF_TABLE_COL_BOOL("b"), CDOF_TABLE_COL_TEXT("flag"),
                                            CDOF_TABLE_COL_NUM("missing")};
    cdof_table_t *t = cdof_table_new(CDOF_TABLE_COLS(cols));
    assert_non_null(t);
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set(t, 0, "12"), 0);
    assert_int_equal(cdof_table_set_u64(t, 1, UINT64_MAX), 0);
    assert_int_equal(cdof_table_set_bool(t, 2, true), 0);
    assert_int_equal(cdof_table_set_bool(t, 3, false), 0);
    assert_int_equal(cdof_table_set_number(t, 4, 0.0 / 0.0, -1), 0); /* not finite: null */
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set(t, 0, ""), 0); /* an empty string stays a string */
    assert_int_equal(cdof_table_set_i64(t, 1, -42), 0);
    assert_int_equal(cdof_table_set_opt(t, 3, ""), 0); /* ... unless asked to be null */
    capture_t c;
    assert_writes("[\n"
                  "{\"s\":\"12\",\"n\":18446744073709551615,\"b\":true,"
                  "\"flag\":\"false\",\"missing\":null},\n"
                  "{\"s\":\"\",\"n\":-42,\"b\":null,\"flag\":null,"
                  "\"missing\":null}\n"
                  "]\n",
                  cdof_table_write_json, t);
    assert_writes("s,n,b,flag,missing\r\n"
                  "12,18446744073709551615,true,false,\r\n"
                  ",-42,,,\r\n",
                  cdof_table_write_csv, t);
    cap_open(&c);
    assert_int_equal(cdof_table_write_json_row(t, 1, c.f), 0);
    assert_int_equal(cdof_table_write_json_row(t, 2, c.f), -EINVAL);
    assert_string_equal(cap_text(&c),
                        "{\"s\":\"\",\"n\":-42,\"b\":null,\"flag\":null,\"missing\":null}");
    cap_free(&c);
    cdof_table_destroy(&t);
}

/* Fixed decimals never give "-0"; setf formats into the cell; times are ISO 8601 UTC. */
static void test_numbers_in_cells(void **state)
{
    (void)state;
    static const cdof_table_col_t cols[] = {CDOF_TABLE_COL_NUM("a"), CDOF_TABLE_COL_NUM("b"),
                                            CDOF_TABLE_COL_NUM("c"), CDOF_TABLE_COL_TEXT("d")};
    cdof_table_t *t = cdof_table_new(CDOF_TABLE_COLS(cols));
    assert_non_null(t);
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set_number(t, 0, -0.04, 1), 0);
    assert_int_equal(cdof_table_set_number(t, 1, -0.0, 0), 0);
    assert_int_equal(cdof_table_set_number(t, 2, 2.25, -1), 0);
    assert_int_equal(cdof_table_setf(t, 3, "%u/%u%s", 42u, 153u, "*"), 0);
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set_time(t, 3, 1714557600000), 0);
    assert_int_equal(cdof_table_set_time(t, 2, 0), 0); /* no time: null */
    assert_string_equal(cdof_table_cell(t, 1, 3), "2024-05-01T10:00:00Z");
    assert_string_equal(cdof_table_cell(t, 1, 2), "");
    assert_string_equal(cdof_table_cell(t, 0, 0), "0.0");
    assert_string_equal(cdof_table_cell(t, 0, 1), "0");
    assert_string_equal(cdof_table_cell(t, 0, 2), "2.25");
    assert_string_equal(cdof_table_cell(t, 0, 3), "42/153*");
    /* out of range reads as empty */
    assert_string_equal(cdof_table_cell(t, 2, 0), "");
    assert_string_equal(cdof_table_cell(t, 0, 9), "");
    assert_int_equal(cdof_table_rows(t), 2);
    assert_int_equal(cdof_table_cols(t), 4);
    cdof_table_destroy(&t);
}

/* A failed set is returned and remembered: a builder fills its rows and checks once. */
static void test_status_and_finish(void **state)
{
    (void)state;
    static const cdof_table_col_t cols[] = {CDOF_TABLE_COL_TEXT("x")};
    cdof_table_t *t = cdof_table_new(CDOF_TABLE_COLS(cols));
    assert_non_null(t);
    assert_int_equal(cdof_table_set(t, 0, "no row yet"), -EINVAL);
    assert_int_equal(cdof_table_status(t), -EINVAL);
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set(t, 0, "fine"), 0);
    assert_int_equal(cdof_table_status(t), -EINVAL); /* the first failure stays */
    assert_null(cdof_table_finish(t));               /* and the table is freed */

    t = cdof_table_new(CDOF_TABLE_COLS(cols));
    assert_non_null(t);
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set(t, 1, "past the last column"), -EINVAL);
    assert_null(cdof_table_finish(t));

    t = cdof_table_new(CDOF_TABLE_COLS(cols));
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set(t, 0, "ok"), 0);
    assert_ptr_equal(cdof_table_finish(t), t);
    assert_int_equal(cdof_table_status(t), 0);
    cdof_table_destroy(&t);
    assert_null(cdof_table_finish(NULL));
}

/* Many rows (the row array grows), written through cdof_table_write in each format. */
static void test_many_rows_and_write(void **state)
{
    (void)state;
    static const cdof_table_col_t cols[] = {CDOF_TABLE_COL_NUM("i"), CDOF_TABLE_COL_CUT("name")};
    cdof_table_t *t = cdof_table_new(CDOF_TABLE_COLS(cols));
    assert_non_null(t);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(cdof_table_add_row(t), 0);
        cdof_table_set_i64(t, 0, i);
        cdof_table_setf(t, 1, "row %d", i);
    }
    assert_ptr_equal(cdof_table_finish(t), t);
    assert_string_equal(cdof_table_cell(t, 999, 1), "row 999");
    static const cdof_table_format_t formats[] = {CDOF_TABLE_ALIGNED, CDOF_TABLE_CSV,
                                                  CDOF_TABLE_JSON};
    static const char *const tails[] = {"999  row 999\n", "999,row 999\r\n",
                                        "{\"i\":999,\"name\":\"row 999\"}\n]\n"};
    for (size_t f = 0; f < 3; f++) {
        capture_t c;
        cap_open(&c);
        assert_int_equal(cdof_table_write(t, formats[f], 80, c.f), 0);
        const char *out = cap_text(&c);
        size_t n = strlen(out), k = strlen(tails[f]);
        assert_true(n > k);
        assert_string_equal(out + n - k, tails[f]);
        cap_free(&c);
    }
    cdof_table_destroy(&t);
}

/* A write error on the stream is reported. */
/* Columns named by an enum: the list may be written in any order, cells land under the column
 * their name says, and a column left out of the list is refused rather than written unnamed. */
enum { PET_NAME, PET_AGE, PET_NOTE, PET_NCOLS };
static const cdof_table_col_t pet_cols[] = {[PET_AGE] = CDOF_TABLE_COL_NUM("age"),
                                            [PET_NAME] = CDOF_TABLE_COL_TEXT("name"),
                                            [PET_NOTE] = CDOF_TABLE_COL_TEXT("note")};
CDOF_TABLE_COLS_CHECK(pet_cols, PET_NCOLS);
static const cdof_table_col_t pet_gap_cols[] = {
    [PET_NAME] = CDOF_TABLE_COL_TEXT("name"), [PET_NOTE] = CDOF_TABLE_COL_TEXT("note")};
CDOF_TABLE_COLS_CHECK(pet_gap_cols, PET_NCOLS);

static void test_enum_columns(void **state)
{
    (void)state;
    cdof_table_t *t = cdof_table_new(CDOF_TABLE_COLS(pet_cols));
    assert_non_null(t);
    assert_int_equal(cdof_table_cols(t), PET_NCOLS);
    assert_int_equal(cdof_table_add_row(t), 0);
    assert_int_equal(cdof_table_set(t, PET_NOTE, "calm"), 0);
    assert_int_equal(cdof_table_set_u64(t, PET_AGE, 7), 0);
    assert_int_equal(cdof_table_set(t, PET_NAME, "Rex"), 0);
    assert_writes("name,age,note\r\nRex,7,calm\r\n", cdof_table_write_csv, t);
    cdof_table_destroy(&t);
    assert_null(cdof_table_new(CDOF_TABLE_COLS(pet_gap_cols)));
}

static void test_write_error(void **state)
{
    (void)state;
    static const cdof_table_col_t cols[] = {CDOF_TABLE_COL_TEXT("x")};
    cdof_table_t *t = cdof_table_new(CDOF_TABLE_COLS(cols));
    assert_int_equal(cdof_table_add_row(t), 0);
    cdof_table_set(t, 0, "x");
    FILE *f = fopen("/dev/full", "w");
    if (f) {
        setvbuf(f, NULL, _IONBF, 0);
        assert_int_equal(cdof_table_write_csv(t, f), -EIO);
        fclose(f);
    }
    cdof_table_destroy(&t);
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
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_numbers_in_cells),
        cmocka_unit_test(test_status_and_finish),
        cmocka_unit_test(test_many_rows_and_write),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_enum_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
