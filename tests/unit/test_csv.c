/* The CSV reader: every rule of cdof_csv.h, hostile input, and resync after bad records. */
#define _GNU_SOURCE /* fopencookie */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "cdof_csv.h"
#include "cdof_error.h"

/* A FILE over a copy of len bytes of s (fmemopen refuses empty buffers on some libcs, so an
 * empty input goes through a temporary file). */
static FILE *open_bytes(const char *s, size_t len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(s, 1, len, f), len);
    rewind(f);
    return f;
}

#define OPEN_LIT(lit) open_bytes((lit), sizeof(lit) - 1)

/* One reader over a FILE, with the result of the last call. */
typedef struct {
    FILE *f;
    cdof_csv_t *csv;
    cdof_csv_record_t rec;
    char err[256];
} reader_t;

static void reader_open(reader_t *r, FILE *f, const cdof_csv_limits_t *limits)
{
    memset(r, 0, sizeof *r);
    r->f = f;
    r->csv = cdof_csv_new(f, limits);
    assert_non_null(r->csv);
}

static void reader_close(reader_t *r)
{
    cdof_csv_destroy(&r->csv);
    assert_null(r->csv);
    fclose(r->f);
}

static int next(reader_t *r)
{
    r->err[0] = '\0';
    memset(&r->rec, 0, sizeof r->rec);
    return cdof_csv_next(r->csv, &r->rec, r->err, sizeof r->err);
}

/* Expects a good record with exactly the given fields (NULL-terminated list) on line. */
static void expect_record(reader_t *r, unsigned long line, ...)
{
    int rc = next(r);
    if (rc != 1)
        fail_msg("expected a record on line %lu, got %d (%s)", line, rc, r->err);
    assert_int_equal(r->rec.line, line);
    va_list ap;
    va_start(ap, line);
    size_t i = 0;
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL) {
        assert_true(i < r->rec.nfields);
        assert_int_equal(r->rec.fields[i].len, strlen(want));
        assert_memory_equal(r->rec.fields[i].data, want, strlen(want) + 1);
        i++;
    }
    va_end(ap);
    assert_int_equal(r->rec.nfields, i);
}

/* Expects a bad record starting on line whose reason contains what. */
static void expect_error(reader_t *r, unsigned long line, const char *what)
{
    int rc = next(r);
    if (rc != CDOF_EINVALID)
        fail_msg("expected an error on line %lu, got %d", line, rc);
    assert_int_equal(r->rec.line, line);
    if (!strstr(r->err, what))
        fail_msg("reason '%s' lacks '%s'", r->err, what);
    assert_non_null(r->rec.raw);
    assert_int_equal(strlen(r->rec.raw) <= r->rec.raw_len, 1);
}

static void expect_eof(reader_t *r)
{
    assert_int_equal(next(r), 0);
    assert_int_equal(next(r), 0); /* and it stays there */
}

static void test_plain(void **state)
{
    reader_t r;
    reader_open(&r, OPEN_LIT("a,b,c\n1,2,3\n,,\nx\n"), NULL);
    expect_record(&r, 1, "a", "b", "c", NULL);
    assert_string_equal(r.rec.raw, "a,b,c");
    assert_int_equal(r.rec.raw_len, 5);
    expect_record(&r, 2, "1", "2", "3", NULL);
    expect_record(&r, 3, "", "", "", NULL);
    expect_record(&r, 4, "x", NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_quotes(void **state)
{
    reader_t r;
    reader_open(&r,
                OPEN_LIT("\"a,b\",\"he said \"\"hi\"\"\",\"two\nlines\",\"\"\n"
                         "\"\"\"\",plain\n"
                         "\"x\"\n"),
                NULL);
    expect_record(&r, 1, "a,b", "he said \"hi\"", "two\nlines", "", NULL);
    assert_string_equal(r.rec.raw, "\"a,b\",\"he said \"\"hi\"\"\",\"two\nlines\",\"\"");
    expect_record(&r, 3, "\"", "plain", NULL); /* the embedded newline moved us a line on */
    expect_record(&r, 4, "x", NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_crlf(void **state)
{
    reader_t r;
    reader_open(&r, OPEN_LIT("a,b\r\nc,\"d\r\ne\"\r\nf\r\n"), NULL);
    expect_record(&r, 1, "a", "b", NULL);
    assert_string_equal(r.rec.raw, "a,b");
    expect_record(&r, 2, "c", "d\r\ne", NULL); /* CRLF inside quotes is data */
    expect_record(&r, 4, "f", NULL);
    assert_string_equal(r.rec.raw, "f");
    expect_eof(&r);
    reader_close(&r);
}

static void test_bom(void **state)
{
    reader_t r;
    reader_open(&r, OPEN_LIT("\xEF\xBB\xBFmetric_id,x\n\xEF\xBB\xBFy\n"), NULL);
    expect_record(&r, 1, "metric_id", "x", NULL);
    /* Only the first three bytes of the file are a byte-order mark; later it is text. */
    expect_record(&r, 2, "\xEF\xBB\xBFy", NULL);
    expect_eof(&r);
    reader_close(&r);

    reader_open(&r, OPEN_LIT("\xEF\xBB\xBF"), NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_empty_and_blank(void **state)
{
    reader_t r;
    reader_open(&r, open_bytes("", 0), NULL);
    expect_eof(&r);
    reader_close(&r);

    reader_open(&r, OPEN_LIT("\n\na\n\r\n\n\"\"\nb\n\n"), NULL);
    expect_record(&r, 3, "a", NULL);
    expect_record(&r, 6, "", NULL); /* a quoted empty field is a record, not a blank line */
    expect_record(&r, 7, "b", NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_no_final_newline(void **state)
{
    reader_t r;
    reader_open(&r, OPEN_LIT("a,b\nc,d"), NULL);
    expect_record(&r, 1, "a", "b", NULL);
    expect_record(&r, 2, "c", "d", NULL);
    expect_eof(&r);
    reader_close(&r);

    reader_open(&r, OPEN_LIT("a,\"q\""), NULL);
    expect_record(&r, 1, "a", "q", NULL);
    expect_eof(&r);
    reader_close(&r);

    reader_open(&r, OPEN_LIT("a,"), NULL);
    expect_record(&r, 1, "a", "", NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_utf8_valid(void **state)
{
    reader_t r;
    /* One of each length, and the edges: U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF. */
    reader_open(&r,
                OPEN_LIT("Caf\xC3\xA9,\xE6\x97\xA5,\xF0\x9F\x98\x80\n"
                         "\xC2\x80\xDF\xBF,\xE0\xA0\x80\xEF\xBF\xBF,\xF0\x90\x80\x80\xF4\x8F\xBF"
                         "\xBF\n"),
                NULL);
    expect_record(&r, 1, "Caf\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80", NULL);
    expect_record(&r, 2, "\xC2\x80\xDF\xBF", "\xE0\xA0\x80\xEF\xBF\xBF",
                  "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_utf8_invalid(void **state)
{
    static const struct {
        const char *bytes;
        const char *reason;
    } cases[] = {
        {"\xC0\xAF", "overlong"},
        {"\xC1\xBF", "overlong"},
        {"\xE0\x80\xAF", "overlong"},
        {"\xF0\x80\x80\xAF", "overlong"},
        {"\xED\xA0\x80", "surrogate"},
        {"\xED\xBF\xBF", "surrogate"},
        {"\xF4\x90\x80\x80", "above U+10FFFF"},
        {"\xF5\x80\x80\x80", "above U+10FFFF"},
        {"\xF8\x88\x80\x80\x80", "0xF8"},
        {"\xFF", "0xF8"},
        {"\x80", "continuation"},
        {"a\xBF", "continuation"},
        {"\xE6\x97", "truncated"},
        {"\xE6\x97x", "truncated"},
        {"\xC3", "truncated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "ok,1\nx,\"%s\"\nok,2\n", cases[i].bytes);
        reader_t r;
        reader_open(&r, open_bytes(buf, (size_t)n), NULL);
        expect_record(&r, 1, "ok", "1", NULL);
        expect_error(&r, 2, cases[i].reason);
        assert_non_null(strstr(r.err, "field 2"));
        expect_record(&r, 3, "ok", "2", NULL);
        expect_eof(&r);
        reader_close(&r);
    }
    /* A sequence cut short by the end of the file. */
    reader_t r;
    reader_open(&r, OPEN_LIT("ok\n\xF0\x9F\x98"), NULL);
    expect_record(&r, 1, "ok", NULL);
    expect_error(&r, 2, "truncated");
    expect_eof(&r);
    reader_close(&r);
}

static void test_nul(void **state)
{
    reader_t r;
    static const char in[] = "a,b\0c\nd\n\"q\0\"\ne\n";
    reader_open(&r, open_bytes(in, sizeof in - 1), NULL);
    expect_error(&r, 1, "NUL");
    assert_int_equal(r.rec.raw_len, 5);
    assert_memory_equal(r.rec.raw, "a,b\0c", 6);
    expect_record(&r, 2, "d", NULL);
    expect_error(&r, 3, "NUL"); /* inside quotes too */
    expect_record(&r, 4, "e", NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_bare_quote(void **state)
{
    reader_t r;
    reader_open(&r, OPEN_LIT("a,b\"c,d\nok,1\nx,\"q\"z,y\nok,2\n"), NULL);
    expect_error(&r, 1, "field 2: quote inside an unquoted field");
    assert_string_equal(r.rec.raw, "a,b\"c,d");
    expect_record(&r, 2, "ok", "1", NULL);
    expect_error(&r, 3, "field 2: text after the closing quote");
    expect_record(&r, 4, "ok", "2", NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_lone_cr(void **state)
{
    reader_t r;
    reader_open(&r, OPEN_LIT("a\rb\nok\n"), NULL);
    expect_error(&r, 1, "carriage return");
    expect_record(&r, 2, "ok", NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_unterminated_quote(void **state)
{
    reader_t r;
    reader_open(&r, OPEN_LIT("ok,1\nx,\"open\nok,2\nok,3\n"), NULL);
    expect_record(&r, 1, "ok", "1", NULL);
    expect_error(&r, 2, "not closed");
    assert_string_equal(r.rec.raw, "x,\"open\nok,2\nok,3\n");
    expect_eof(&r); /* one error, not one per line */
    reader_close(&r);
}

static void test_too_many_fields(void **state)
{
    cdof_csv_limits_t lim = {.max_record = 1024, .max_fields = 3};
    reader_t r;
    reader_open(&r, OPEN_LIT("a,b,c\na,b,c,d\n\"x,y\",z\n"), &lim);
    expect_record(&r, 1, "a", "b", "c", NULL);
    expect_error(&r, 2, "more than 3 fields");
    expect_record(&r, 3, "x,y", "z", NULL);
    expect_eof(&r);
    reader_close(&r);
}

static void test_record_too_long(void **state)
{
    cdof_csv_limits_t lim = {.max_record = 8, .max_fields = 4};
    reader_t r;
    reader_open(&r, OPEN_LIT("12345678\n123456789\n\"a\nb,c\",\"1234\"\nok\n"), &lim);
    expect_record(&r, 1, "12345678", NULL);
    expect_error(&r, 2, "longer than 8 bytes");
    assert_int_equal(r.rec.raw_len, 8);
    assert_string_equal(r.rec.raw, "12345678");
    expect_error(&r, 3, "longer than 8 bytes"); /* the line end inside quotes is no resync */
    expect_record(&r, 5, "ok", NULL);
    expect_eof(&r);
    reader_close(&r);
}

/* A stream of `left` bytes of 'x' and then "\nok\n", generated as it is read. */
typedef struct {
    size_t left;
    size_t tail_pos;
} endless_t;

static ssize_t endless_read(void *cookie, char *buf, size_t size)
{
    endless_t *e = cookie;
    static const char tail[] = "\nok\n";
    size_t n = 0;
    if (e->left) {
        n = size < e->left ? size : e->left;
        memset(buf, 'x', n);
        e->left -= n;
        return (ssize_t)n;
    }
    while (n < size && e->tail_pos < sizeof tail - 1)
        buf[n++] = tail[e->tail_pos++];
    return (ssize_t)n;
}

static long max_rss_kib(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* A 64 MiB line arriving from a stream: the reader's memory stays at its limits. Runs first so
 * that the process's peak resident size is still small. */
static void test_bounded_memory(void **state)
{
    endless_t e = {64u * 1024 * 1024, 0};
    cookie_io_functions_t io = {.read = endless_read};
    FILE *f = fopencookie(&e, "r", io);
    assert_non_null(f);
    long before = max_rss_kib();
    reader_t r;
    reader_open(&r, f, NULL);
    expect_error(&r, 1, "longer than 65536 bytes");
    assert_int_equal(r.rec.raw_len, 65536);
    expect_record(&r, 2, "ok", NULL);
    expect_eof(&r);
    long grown = max_rss_kib() - before;
    if (grown > 16 * 1024)
        fail_msg("resident size grew by %ld KiB reading one long line", grown);
    reader_close(&r);
}

/* A 2 MB line: with the default limits it is one error holding its first 64 KiB and the next
 * row is read; with a 4 MiB limit it is read whole. Memory stays at the limits either way. */
static void test_two_megabyte_line(void **state)
{
    const size_t big = 2 * 1024 * 1024;
    char *buf = malloc(big + 64);
    assert_non_null(buf);
    memset(buf, 'x', big);
    buf[1000] = ',';
    size_t n = big;
    n += (size_t)sprintf(buf + n, "\nok,1\n");

    reader_t r;
    reader_open(&r, fmemopen(buf, n, "r"), NULL);
    expect_error(&r, 1, "longer than 65536 bytes");
    assert_int_equal(r.rec.raw_len, 65536);
    assert_int_equal(strlen(r.rec.raw), 65536);
    expect_record(&r, 2, "ok", "1", NULL);
    expect_eof(&r);
    reader_close(&r);

    cdof_csv_limits_t lim = {.max_record = 4 * 1024 * 1024, .max_fields = 4};
    reader_open(&r, fmemopen(buf, n, "r"), &lim);
    assert_int_equal(next(&r), 1);
    assert_int_equal(r.rec.nfields, 2);
    assert_int_equal(r.rec.fields[0].len, 1000);
    assert_int_equal(r.rec.fields[1].len, big - 1001);
    assert_int_equal(r.rec.raw_len, big);
    expect_record(&r, 2, "ok", "1", NULL);
    expect_eof(&r);
    reader_close(&r);
    free(buf);
}

/* A million columns: an error under the default limits, read whole under generous ones. */
static void test_million_columns(void **state)
{
    const size_t cols = 1000000;
    char *buf = malloc(cols + 16);
    assert_non_null(buf);
    memset(buf, ',', cols - 1);
    size_t n = cols - 1;
    n += (size_t)sprintf(buf + n, "\nok\n");

    reader_t r;
    reader_open(&r, fmemopen(buf, n, "r"), NULL);
    expect_error(&r, 1, "more than 256 fields");
    expect_record(&r, 2, "ok", NULL);
    expect_eof(&r);
    reader_close(&r);

    cdof_csv_limits_t lim = {.max_record = 2 * 1024 * 1024, .max_fields = 1 << 20};
    reader_open(&r, fmemopen(buf, n, "r"), &lim);
    assert_int_equal(next(&r), 1);
    assert_int_equal(r.rec.nfields, cols);
    assert_int_equal(r.rec.fields[cols - 1].len, 0);
    expect_record(&r, 2, "ok", NULL);
    expect_eof(&r);
    reader_close(&r);
    free(buf);
}

/* Records longer than the input buffer and fields that straddle its edge. */
static void test_across_buffer_edges(void **state)
{
    const size_t rows = 20000;
    FILE *f = tmpfile();
    assert_non_null(f);
    for (size_t i = 0; i < rows; i++)
        fprintf(f, "%zu,\"quoted \"\" %zu\nsecond line\",\xC3\xA9%zu\r\n", i, i, i);
    rewind(f);
    reader_t r;
    reader_open(&r, f, NULL);
    for (size_t i = 0; i < rows; i++) {
        char a[32], b[64], c[32];
        snprintf(a, sizeof a, "%zu", i);
        snprintf(b, sizeof b, "quoted \" %zu\nsecond line", i);
        snprintf(c, sizeof c, "\xC3\xA9%zu", i);
        expect_record(&r, 2 * i + 1, a, b, c, NULL);
    }
    expect_eof(&r);
    reader_close(&r);
}

static void test_read_error(void **state)
{
    FILE *f = fopen("/dev/null", "w"); /* reading a write-only stream fails */
    assert_non_null(f);
    reader_t r;
    reader_open(&r, f, NULL);
    assert_int_equal(next(&r), -EIO);
    reader_close(&r);
}

static void check_roundtrip(const char *s, size_t len, const char *want)
{
    char *out = NULL;
    size_t outlen = 0;
    FILE *m = open_memstream(&out, &outlen);
    assert_non_null(m);
    assert_int_equal(cdof_csv_write_field(m, s, len), 0);
    assert_int_equal(fputs(",end\n", m) >= 0, 1);
    fclose(m);
    if (want)
        assert_memory_equal(out, want, strlen(want));
    reader_t r;
    reader_open(&r, open_bytes(out, outlen), NULL);
    assert_int_equal(next(&r), 1);
    assert_int_equal(r.rec.nfields, 2);
    assert_int_equal(r.rec.fields[0].len, len);
    assert_memory_equal(r.rec.fields[0].data, s, len);
    assert_string_equal(r.rec.fields[1].data, "end");
    expect_eof(&r);
    reader_close(&r);
    free(out);
}

static void test_write_field(void **state)
{
    check_roundtrip("plain", 5, "plain,end");
    check_roundtrip("", 0, NULL);
    check_roundtrip("a,b", 3, "\"a,b\",end");
    check_roundtrip("say \"hi\"", 8, "\"say \"\"hi\"\"\",end");
    check_roundtrip("two\nlines", 9, "\"two\nlines\",end");
    check_roundtrip("cr\r\nlf", 6, "\"cr\r\nlf\",end");
    check_roundtrip("\"", 1, "\"\"\"\",end");
    /* Raw text of a bad row, quoted into errors.csv, reads back as one field. */
    check_roundtrip("a,b\"c,\"d", 8, NULL);
}

/* The corpus: good_* files read without error, bad_* have an error and (but for an unclosed
 * quote) are followed by a good row; every file ends. */
static void test_corpus(void **state)
{
    const char *dir = CDOF_TEST_DATA "/csv";
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    size_t files = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".csv") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        reader_t r;
        reader_open(&r, f, NULL);
        size_t good = 0, bad = 0;
        int rc;
        unsigned long last_line = 0;
        bool good_after_bad = false;
        for (int guard = 0; guard < 10000 && (rc = next(&r)) != 0; guard++) {
            assert_true(rc == 1 || rc == CDOF_EINVALID);
            assert_true(r.rec.line > last_line);
            last_line = r.rec.line;
            if (rc == 1) {
                good++;
                good_after_bad |= bad > 0;
            } else {
                bad++;
            }
        }
        bool expect_bad = strncmp(e->d_name, "bad_", 4) == 0;
        if (expect_bad) {
            if (bad != 1)
                fail_msg("%s: %zu errors, expected 1", e->d_name, bad);
            if (!good_after_bad && strcmp(e->d_name, "bad_unterminated_quote.csv") != 0)
                fail_msg("%s: no good row after the bad one", e->d_name);
        } else if (bad) {
            fail_msg("%s: unexpected error: %s", e->d_name, r.err);
        }
        assert_true(good >= 1);
        reader_close(&r);
        files++;
    }
    closedir(d);
    assert_true(files >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_memory),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_empty_and_blank),
        cmocka_unit_test(test_no_final_newline),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_bare_quote),
        cmocka_unit_test(test_lone_cr),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_record_too_long),
        cmocka_unit_test(test_two_megabyte_line),
        cmocka_unit_test(test_million_columns),
        cmocka_unit_test(test_across_buffer_edges),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_write_field),
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
