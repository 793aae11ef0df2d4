/* JSON string literals and CSV fields: what each byte becomes, written through a sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_text.h"

typedef struct {
    char data[256];
    size_t len;
} sink_t;

static void put(void *ctx, const char *s, size_t n)
{
    sink_t *k = ctx;
    assert_true(k->len + n < sizeof k->data);
    memcpy(k->data + k->len, s, n);
    k->len += n;
    k->data[k->len] = '\0';
}

static void expect_json(const char *s, size_t len, const char *want)
{
    sink_t k = {.len = 0};
    cdof_text_json(s, len, put, &k);
    assert_string_equal(k.data, want);
}

static void expect_csv(const char *s, const char *want)
{
    sink_t k = {.len = 0};
    cdof_text_csv(s, put, &k);
    assert_string_equal(k.data, want);
}

static void test_json(void **state)
{
    (void)state;
    expect_json("plain", 5, "\"plain\"");
    expect_json(NULL, 0, "\"\"");
    expect_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    expect_json("1\n2\r3\t4\x01", 8, "\"1\\n2\\r3\\t4\\u0001\"");
    expect_json("a\0b", 3, "\"a\\u0000b\""); /* the length rules, not the NUL */
    expect_json("abc", 2, "\"ab\"");
    expect_json("caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\"");
    /* Invalid UTF-8: a stray continuation, an overlong form, a sequence cut by the length. */
    expect_json("a\x80z", 3, "\"a\\ufffdz\"");
    expect_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
    expect_json("\xe2\x82\xac", 2, "\"\\ufffd\\ufffd\"");
    expect_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* a surrogate */
}

static void test_csv(void **state)
{
    (void)state;
    expect_csv("plain text", "plain text");
    expect_csv("", "");
    expect_csv(NULL, "");
    expect_csv("a,b", "\"a,b\"");
    expect_csv("say \"hi\"", "\"say \"\"hi\"\"\"");
    expect_csv("\"", "\"\"\"\"");
    expect_csv("two\nlines", "\"two\nlines\"");
    expect_csv("cr\r", "\"cr\r\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
