/* The national store's key codecs: a milestone key and a period key read back as written, sort
 * by day and by first day, and a malformed milestone key is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "hub.h"

static void test_milestone_round_trip(void **state)
{
    (void)state;
    uint8_t k[HUB_MILESTONE_KEY_MAX], later[HUB_MILESTONE_KEY_MAX], prefix[HUB_MILESTONE_KEY_MAX];
    size_t n = hub_milestone_key("blackpool", "plan_published", -3, true, k);
    assert_int_equal(n, strlen("blackpool") + strlen("plan_published") + 6);
    hub_milestone_key_t mk;
    assert_int_equal(hub_milestone_from_key(k, n, &mk), 0);
    assert_string_equal(mk.partnership, "blackpool");
    assert_string_equal(mk.milestone, "plan_published");
    assert_int_equal(mk.day, -3);
    /* A later day sorts after, under the prefix both share. */
    size_t m = hub_milestone_key("blackpool", "plan_published", 20000, true, later);
    assert_true(memcmp(k, later, n) < 0);
    size_t p = hub_milestone_key("blackpool", "plan_published", 0, false, prefix);
    assert_int_equal(p, n - 4);
    assert_memory_equal(prefix, later, p);
    assert_int_equal(m, n);
}

static void test_milestone_bad_keys(void **state)
{
    (void)state;
    uint8_t k[HUB_MILESTONE_KEY_MAX];
    char longname[CDOF_WIRE_MAX_ID + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(hub_milestone_key(longname, "m", 0, true, k), 0);
    assert_int_equal(hub_milestone_key("p", longname, 0, true, k), 0);
    hub_milestone_key_t mk;
    size_t n = hub_milestone_key("p", "m", 7, true, k);
    assert_int_equal(hub_milestone_from_key(k, n - 1, &mk), CDOF_ECORRUPT); /* day cut */
    assert_int_equal(hub_milestone_from_key(k, n + 1, &mk), CDOF_ECORRUPT);
    assert_int_equal(hub_milestone_from_key("p", 1, &mk), CDOF_ECORRUPT); /* no NUL */
    assert_int_equal(hub_milestone_from_key("p\0m", 3, &mk), CDOF_ECORRUPT);
}

static void test_period_round_trip(void **state)
{
    (void)state;
    cdof_period_t q1 = {.kind = CDOF_PERIOD_QUARTER, .first_day = 19905, .last_day = 19995};
    cdof_period_t y = {.kind = CDOF_PERIOD_FINANCIAL_YEAR, .first_day = 19814, .last_day = 20178};
    uint8_t a[HUB_PERIOD_KEY_LEN], b[HUB_PERIOD_KEY_LEN];
    hub_period_put(a, &q1);
    hub_period_put(b, &y);
    assert_true(memcmp(b, a, HUB_PERIOD_KEY_LEN) < 0); /* by first day */
    cdof_period_t back = hub_period_from_key(a);
    assert_int_equal(back.kind, q1.kind);
    assert_int_equal(back.first_day, q1.first_day);
    assert_int_equal(back.last_day, q1.last_day);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milestone_round_trip),
        cmocka_unit_test(test_milestone_bad_keys),
        cmocka_unit_test(test_period_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
