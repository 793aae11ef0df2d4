/* Captures what a writer prints to a FILE, for tests of formatters: cap_open gives c->f (an
 * open_memstream), cap_text closes it and returns the text, cap_free frees it. Include once,
 * after cmocka.h, in a test's .c file. */
#ifndef CDOF_TEST_CAPTURE_H
#define CDOF_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>

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

/* Runs a writer that takes the stream last and returns 0, e.g.
 * assert_writes("a,b\r\n", cdof_table_write_csv, t), and checks what it printed. */
#define assert_writes(expected, writer, ...)                                                       \
    do {                                                                                           \
        capture_t cap_;                                                                            \
        cap_open(&cap_);                                                                           \
        assert_int_equal(writer(__VA_ARGS__, cap_.f), 0);                                          \
        assert_string_equal(cap_text(&cap_), (expected));                                          \
        cap_free(&cap_);                                                                           \
    } while (0)

#endif
