/* The national store's key codecs: a milestone key and a period key read back as written, sort
 * by day and by first day, and a malformed milestone key is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "hub_db.h"

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

/* A rejection reads back as written; records sort by agent, then sequence; a record from before
 * the time was kept (the reason alone) still reads, and a key of another shape is refused. */
static void test_rejection_round_trip(void **state)
{
    (void)state;
    uint8_t k[HUB_REJECTION_KEY_MAX], k2[HUB_REJECTION_KEY_MAX], v[HUB_REJECTION_VALUE_MAX];
    size_t kn = hub_rejection_key("agent-blackpool", 300, k);
    assert_int_equal(kn, strlen("agent-blackpool") + 9);
    assert_int_equal(hub_rejection_key("agent-blackpool", 1000, k2), kn);
    assert_true(memcmp(k, k2, kn) < 0);
    size_t vn =
        hub_rejection_value("metric 'x' is not in the catalogue", 1700000000123, "blackpool", v);
    hub_rejection_t r;
    assert_int_equal(hub_rejection_from_record(&(cdof_bytes_t){k, kn}, &(cdof_bytes_t){v, vn}, &r),
                     0);
    assert_int_equal(r.agent_len, strlen("agent-blackpool"));
    assert_memory_equal(r.agent_id, "agent-blackpool", r.agent_len);
    assert_int_equal(r.sequence, 300);
    assert_int_equal(r.reason_len, strlen("metric 'x' is not in the catalogue"));
    assert_memory_equal(r.reason, "metric 'x' is not in the catalogue", r.reason_len);
    assert_int_equal(r.rejected_ms, 1700000000123);
    assert_int_equal(r.partnership_len, strlen("blackpool"));
    assert_memory_equal(r.partnership, "blackpool", r.partnership_len);

    assert_int_equal(
        hub_rejection_from_record(&(cdof_bytes_t){k, kn}, &(cdof_bytes_t){"old reason", 10}, &r),
        0);
    assert_int_equal(r.reason_len, 10);
    assert_int_equal(r.rejected_ms, 0);
    assert_int_equal(r.partnership_len, 0);

    assert_int_equal(
        hub_rejection_from_record(&(cdof_bytes_t){k, kn - 1}, &(cdof_bytes_t){v, vn}, &r),
        CDOF_ECORRUPT);
    char longname[HUB_DB_AGENT_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(hub_rejection_key(longname, 1, k), 0);
    longname[HUB_DB_AGENT_MAX] = '\0'; /* the longest an agent id may be */
    assert_int_equal(hub_rejection_key(longname, 1, k), HUB_DB_AGENT_MAX + 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milestone_round_trip),
        cmocka_unit_test(test_milestone_bad_keys),
        cmocka_unit_test(test_period_round_trip),
        cmocka_unit_test(test_rejection_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
