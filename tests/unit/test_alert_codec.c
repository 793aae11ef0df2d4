/* The alert databases' value codecs: fixed little-endian layouts that read back what they wrote,
 * byte for byte what x86-64 hubs stored as raw structs before the codec (so their stores open
 * unchanged), and the shorter values of version 1. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "hub_alert_codec.h"

/* The structs earlier hubs copied into the store as they were in memory. */
typedef struct {
    uint8_t firing, notified, pad[2];
    int32_t period_first_day;
    uint32_t streak_before, streak;
    uint64_t fired_seq;
} legacy_state_t;

typedef struct {
    int64_t first_ms, last_ms, flags;
} legacy_marks_t;

static bool little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static const hub_alert_state_t STATE = {.firing = true,
                                        .notified = false,
                                        .period_first_day = -19000,
                                        .streak_before = 2,
                                        .streak = 0x01020304,
                                        .fired_seq = 0x0102030405060708ULL};

static void test_state_layout(void **state)
{
    (void)state;
    uint8_t v[HUB_ALERT_STATE_LEN];
    hub_alert_state_encode(&STATE, v);
    static const uint8_t want[HUB_ALERT_STATE_LEN] = {
        1,    0,    0,    0,               /* firing, notified, two zero bytes */
        0xC8, 0xB5, 0xFF, 0xFF,            /* period_first_day -19000 */
        2,    0,    0,    0,               /* streak_before */
        4,    3,    2,    1,               /* streak */
        8,    7,    6,    5,    4, 3, 2, 1 /* fired_seq */
    };
    assert_memory_equal(v, want, sizeof want);
    hub_alert_state_t back;
    assert_int_equal(hub_alert_state_decode(v, sizeof v, &back), 0);
    assert_true(back.firing);
    assert_false(back.notified);
    assert_int_equal(back.period_first_day, -19000);
    assert_int_equal(back.streak_before, 2);
    assert_int_equal(back.streak, 0x01020304);
    assert_true(back.fired_seq == 0x0102030405060708ULL);
}

/* What an x86-64 hub wrote before the codec is what the codec writes, and reads back the same. */
static void test_state_reads_raw_struct(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    assert_int_equal(sizeof(legacy_state_t), HUB_ALERT_STATE_LEN);
    legacy_state_t old;
    memset(&old, 0, sizeof old);
    old.firing = 1;
    old.notified = 1;
    old.period_first_day = 19875;
    old.streak_before = 1;
    old.streak = 2;
    old.fired_seq = 77;
    hub_alert_state_t st;
    assert_int_equal(hub_alert_state_decode(&old, sizeof old, &st), 0);
    assert_true(st.firing && st.notified);
    assert_int_equal(st.period_first_day, 19875);
    assert_int_equal(st.streak_before, 1);
    assert_int_equal(st.streak, 2);
    assert_int_equal(st.fired_seq, 77);
    uint8_t v[HUB_ALERT_STATE_LEN];
    hub_alert_state_encode(&st, v);
    assert_memory_equal(v, &old, sizeof v);
}

static void test_state_version1_and_bad(void **state)
{
    (void)state;
    /* Version 1: firing, three bytes, the period's first day (little-endian). */
    const uint8_t v1[HUB_ALERT_STATE_V1_LEN] = {1, 0, 0, 0, 0x10, 0x27, 0, 0};
    hub_alert_state_t st;
    assert_int_equal(hub_alert_state_decode(v1, sizeof v1, &st), 0);
    assert_true(st.firing && st.notified);
    assert_int_equal(st.period_first_day, 10000);
    assert_int_equal(st.streak, 1);
    assert_int_equal(st.streak_before, 1);
    assert_int_equal(st.fired_seq, 0);
    uint8_t bad[HUB_ALERT_STATE_LEN + 1] = {0};
    assert_int_equal(hub_alert_state_decode(bad, sizeof bad, &st), CDOF_ECORRUPT);
    assert_int_equal(hub_alert_state_decode(bad, 16, &st), CDOF_ECORRUPT);
    /* A key never judged: no period yet. */
    hub_alert_state_init(&st);
    assert_false(st.firing);
    assert_int_equal(st.period_first_day, INT32_MIN);
}

static void test_marks(void **state)
{
    (void)state;
    hub_settle_mark_t mk = {.first_ms = 1765000000000LL, .last_ms = -2, .flags = HUB_MARK_REJUDGE};
    uint8_t v[HUB_SETTLE_MARK_LEN];
    hub_settle_mark_encode(&mk, v);
    static const uint8_t want[HUB_SETTLE_MARK_LEN] = {
        0x00, 0xb2, 0x32, 0xf2, 0x9a, 0x01, 0x00, 0x00, /* first_ms */
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* last_ms -2 */
        2,    0,    0,    0,    0,    0,    0,    0     /* flags */
    };
    assert_memory_equal(v, want, sizeof want);
    hub_settle_mark_t back;
    assert_int_equal(hub_settle_mark_decode(v, sizeof v, &back), 0);
    assert_true(back.first_ms == mk.first_ms && back.last_ms == -2);
    assert_int_equal(back.flags, HUB_MARK_REJUDGE);
    if (little_endian()) {
        legacy_marks_t old = {mk.first_ms, mk.last_ms, HUB_MARK_REFRESH};
        assert_int_equal(hub_settle_mark_decode(&old, sizeof old, &back), 0);
        assert_int_equal(back.flags, HUB_MARK_REFRESH);
        hub_settle_mark_encode(&back, v);
        assert_memory_equal(v, &old, sizeof v);
    }
    /* Version 1 marks (no flags) are judged again when they settle. */
    assert_int_equal(hub_settle_mark_decode(v, HUB_SETTLE_MARK_V1_LEN, &back), 0);
    assert_int_equal(back.flags, HUB_MARK_REJUDGE);
    assert_int_equal(hub_settle_mark_decode(v, 8, &back), CDOF_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_layout),
        cmocka_unit_test(test_state_reads_raw_struct),
        cmocka_unit_test(test_state_version1_and_bad),
        cmocka_unit_test(test_marks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
