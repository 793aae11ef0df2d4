/* The national store's key codecs: a milestone key and a period key read back as written, sort
 * by day and by first day, and a malformed milestone key is refused; a stored comparison's key
 * and value read back as written, in the layout existing stores hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "cdof_compare.h"
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

/* A stored comparison's key splits back into metric, basis, period and code, under the prefix
 * its metric-period's rows share; the fingerprint key and over-long codes are refused. */
static void test_result_key_round_trip(void **state)
{
    (void)state;
    cdof_period_t q1 = {.kind = CDOF_PERIOD_QUARTER, .first_day = 19905, .last_day = 19995};
    uint8_t k[HUB_RESULT_KEY_MAX], prefix[HUB_RESULT_KEY_MAX];
    size_t kn = hub_result_key("drug_deaths", 1, &q1, "E06000009", k);
    size_t pn = hub_result_key("drug_deaths", 1, &q1, NULL, prefix);
    assert_int_equal(kn, strlen("drug_deaths") + 2 + HUB_PERIOD_KEY_LEN + 9);
    assert_int_equal(pn, kn - 9);
    assert_memory_equal(prefix, k, pn);
    hub_result_key_t rk;
    assert_int_equal(hub_result_from_key(k, kn, &rk), 0);
    assert_int_equal(rk.metric_len, strlen("drug_deaths"));
    assert_memory_equal(rk.metric_id, "drug_deaths", rk.metric_len);
    assert_int_equal(rk.basis, 1);
    assert_int_equal(rk.period.kind, q1.kind);
    assert_int_equal(rk.period.first_day, q1.first_day);
    assert_int_equal(rk.period.last_day, q1.last_day);
    assert_int_equal(rk.code_len, 9);
    assert_memory_equal(rk.code, "E06000009", 9);
    assert_int_equal(
        hub_result_from_key(HUB_RESULT_FINGERPRINT_KEY, HUB_RESULT_FINGERPRINT_KEY_LEN, &rk),
        CDOF_ECORRUPT);
    assert_int_equal(hub_result_from_key(k, pn - 1, &rk), CDOF_ECORRUPT);
    char longcode[HUB_RESULT_CODE_MAX + 1];
    memset(longcode, 'c', sizeof longcode - 1);
    longcode[HUB_RESULT_CODE_MAX] = '\0';
    assert_int_equal(hub_result_key("drug_deaths", 0, &q1, longcode, k), 0);
}

/* Every field of a stored comparison's row reads back as written; the bytes keep the layout
 * stores already hold (version 2 first, flags and numerator at fixed offsets), and a value of
 * another version, cut short or with a partnership past its end is refused. */
static void test_result_value_round_trip(void **state)
{
    (void)state;
    cdof_compare_row_t r = {
        .submitted = true,
        .fig = {.has_numerator = true,
                .has_denominator = true,
                .has_value = true,
                .numerator = 12,
                .denominator = 345,
                .value = 3.4782608695652173},
        .has_interval = true,
        .ci95 = {1.5, 6.2},
        .ci998 = {0.9, 8.1},
        .vs_england = CDOF_VERDICT_WORSE,
        .vs_region = CDOF_VERDICT_SIMILAR,
        .quintile = 5,
        .england_value = 2.5,
        .region_value = NAN,
        .received_ms = 1700000000123,
        .partnership = "blackpool",
        .trend = {CDOF_TREND_INCREASING, false, true, 0.25, 0.05, 25},
        .worse_and_getting_worse = true,
        .has_baseline = true,
        .baseline_value = 10,
        .vs_baseline = CDOF_VERDICT_HIGHER,
        .has_trajectory = true,
        .trajectory_value = 12,
        .vs_trajectory = CDOF_VERDICT_LOWER,
        .reported = 152,
        .expected = 153,
        .provisional = true,
        .region_provisional = true,
    };
    uint8_t v[HUB_RESULT_VALUE_MAX];
    size_t vn = hub_result_value(&r, v);
    assert_int_equal(vn, HUB_RESULT_VALUE_MAX - HUB_RESULT_CODE_MAX + strlen("blackpool"));
    assert_int_equal(v[0], 2);
    /* submitted 1, num 2, den 4, value 8, interval 16, worse and getting worse 32, worse 128,
     * baseline 256, trajectory 512, provisional 1024, region provisional 4096 */
    assert_int_equal(v[1] << 8 | v[2], 0x17bf);
    assert_int_equal(v[3], CDOF_VERDICT_WORSE);
    const uint8_t twelve[8] = {0x40, 0x28, 0, 0, 0, 0, 0, 0}; /* 12.0, big-endian */
    assert_memory_equal(v + 9, twelve, 8);
    assert_memory_equal(v + vn - 9, "blackpool", 9);

    cdof_compare_row_t back;
    const char *part = NULL;
    size_t plen = 0;
    assert_int_equal(hub_result_from_value(&(cdof_bytes_t){v, vn}, &back, &part, &plen), 0);
    assert_null(back.area);
    assert_null(back.partnership);
    assert_int_equal(plen, 9);
    assert_memory_equal(part, "blackpool", 9);
    assert_true(back.submitted && back.fig.has_numerator && back.fig.has_denominator &&
                back.fig.has_value && back.has_interval && back.worse_and_getting_worse);
    assert_true(back.has_baseline && back.has_trajectory && back.provisional &&
                back.region_provisional && !back.england_provisional);
    assert_true(back.fig.numerator == 12 && back.fig.denominator == 345 &&
                back.fig.value == r.fig.value);
    assert_true(back.ci95.lower == 1.5 && back.ci95.upper == 6.2 && back.ci998.lower == 0.9 &&
                back.ci998.upper == 8.1);
    assert_int_equal(back.vs_england, CDOF_VERDICT_WORSE);
    assert_int_equal(back.vs_region, CDOF_VERDICT_SIMILAR);
    assert_int_equal(back.quintile, 5);
    assert_true(back.england_value == 2.5 && isnan(back.region_value));
    assert_int_equal(back.received_ms, 1700000000123);
    assert_int_equal(back.trend.direction, CDOF_TREND_INCREASING);
    assert_true(!back.trend.getting_better && back.trend.getting_worse);
    assert_true(back.trend.slope == 0.25 && back.trend.se == 0.05 && back.trend.chi2 == 25);
    assert_true(back.baseline_value == 10 && back.trajectory_value == 12);
    assert_int_equal(back.vs_baseline, CDOF_VERDICT_HIGHER);
    assert_int_equal(back.vs_trajectory, CDOF_VERDICT_LOWER);
    assert_int_equal(back.reported, 152);
    assert_int_equal(back.expected, 153);

    /* Encoding what was decoded gives the same bytes. */
    uint8_t again[HUB_RESULT_VALUE_MAX];
    back.partnership = "blackpool";
    assert_int_equal(hub_result_value(&back, again), vn);
    assert_memory_equal(again, v, vn);

    v[0] = 1;
    assert_int_equal(hub_result_from_value(&(cdof_bytes_t){v, vn}, &back, &part, &plen),
                     CDOF_EVERSION);
    v[0] = 2;
    assert_int_equal(hub_result_from_value(&(cdof_bytes_t){v, vn - 10}, &back, &part, &plen),
                     CDOF_ECORRUPT);
    assert_int_equal(hub_result_from_value(&(cdof_bytes_t){v, vn - 1}, &back, &part, &plen),
                     CDOF_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_milestone_round_trip),
        cmocka_unit_test(test_milestone_bad_keys),
        cmocka_unit_test(test_period_round_trip),
        cmocka_unit_test(test_rejection_round_trip),
        cmocka_unit_test(test_result_key_round_trip),
        cmocka_unit_test(test_result_value_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
