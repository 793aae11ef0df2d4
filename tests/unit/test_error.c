/* Reasons into a caller's buffer: the code comes back, each part of the place is written only
 * when given, and a short buffer is cut and terminated, never overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_error.h"

static void test_reason(void **state)
{
    (void)state;
    char err[64];
    assert_int_equal(cdof_reason(CDOF_EINVALID, err, sizeof err, "bad %s %d", "row", 3),
                     CDOF_EINVALID);
    assert_string_equal(err, "bad row 3");
    assert_int_equal(cdof_reason(-5, NULL, 10, "ignored"), -5);
    err[0] = 'x';
    assert_int_equal(cdof_reason(0, err, 0, "ignored"), 0);
    assert_int_equal(err[0], 'x');
}

static void test_reason_at_parts(void **state)
{
    (void)state;
    char err[128];
    cdof_reason_at(CDOF_EREFDATA, err, sizeof err, "a.csv", 7, "area_code", "'%s' unknown", "X");
    assert_string_equal(err, "a.csv:7: field 'area_code': 'X' unknown");
    cdof_reason_at(CDOF_EREFDATA, err, sizeof err, "a.csv", 0, NULL, "empty");
    assert_string_equal(err, "a.csv: empty");
    cdof_reason_at(CDOF_EREFDATA, err, sizeof err, NULL, 0, "kind", "missing");
    assert_string_equal(err, "field 'kind': missing");
}

static void test_short_buffer(void **state)
{
    (void)state;
    char buf[12];
    memset(buf, '#', sizeof buf);
    /* Cut inside the place: the message is not written past the end. */
    cdof_reason_at(CDOF_EINVALID, buf, 8, "long-file-name.csv", 12, "f", "message");
    assert_string_equal(buf, "long-fi");
    assert_int_equal(buf[8], '#');
    /* Cut inside the message. */
    memset(buf, '#', sizeof buf);
    cdof_reason(CDOF_EINVALID, buf, 6, "%s", "abcdefgh");
    assert_string_equal(buf, "abcde");
    assert_int_equal(buf[6], '#');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_reason_at_parts),
        cmocka_unit_test(test_short_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
