/* cdof-watch's messages: the figures of an alert (absent ones left out), the ack and silence
 * commands, subjects that stay one ASCII header line, and each receiver's body carrying the
 * idempotency key and every alert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "watch_msg.h"

static Cdof__V1__Period period = CDOF__V1__PERIOD__INIT;

static Cdof__V1__Alert alert(uint64_t seq, const char *area)
{
    Cdof__V1__Alert a = CDOF__V1__ALERT__INIT;
    a.sequence = seq;
    a.rule = (char *)"worse_than_england";
    a.metric_id = (char *)"continuity_of_care";
    a.area_code = (char *)area;
    a.region_code = (char *)"E12000002";
    a.team = (char *)"hmpps";
    a.state = CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING;
    a.severity = CDOF__V1__SEVERITY__SEVERITY_CRITICAL;
    a.value = 10;
    a.lower = 4;
    a.upper = 23;
    a.benchmark = 38.25;
    a.confidence = 99.8;
    a.dedupe_key = (char *)"worse_than_england|continuity_of_care|E06000009";
    a.summary = (char *)"Blackpool \"worse\"\nthan England";
    period.kind = CDOF__V1__PERIOD_KIND__PERIOD_KIND_MONTH;
    period.first_day = 19814; /* 2024-04-01 */
    period.last_day = 19843;
    a.period = &period;
    return a;
}

static const char *field(const watch_msg_field_t *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(f[i].name, name))
            return f[i].value;
    }
    return NULL;
}

static void test_fields(void **state)
{
    (void)state;
    Cdof__V1__Alert a = alert(12, "E06000009");
    watch_msg_field_t f[16];
    size_t n = watch_msg_fields(&a, NULL, f, 16);
    assert_string_equal(field(f, n, "Alert"), "#12");
    assert_string_equal(field(f, n, "Value"), "10");
    assert_string_equal(field(f, n, "Interval"), "4 to 23 (99.8% confidence)");
    assert_string_equal(field(f, n, "Benchmark"), "England 38.3");
    assert_string_equal(field(f, n, "Period"), "2024-04");
    assert_string_equal(field(f, n, "Area"), "E06000009");
    assert_null(field(f, n, "Acknowledged by"));
    /* An alert without a measurement (agent silent) has no figures to show. */
    Cdof__V1__Alert s = CDOF__V1__ALERT__INIT;
    s.sequence = 3;
    s.rule = (char *)"agent_silent";
    s.subject = (char *)"ons-test";
    n = watch_msg_fields(&s, NULL, f, 16);
    assert_null(field(f, n, "Value"));
    assert_null(field(f, n, "Interval"));
    assert_string_equal(field(f, n, "Subject"), "ons-test");
    /* A short array takes what fits. */
    assert_int_equal(watch_msg_fields(&a, NULL, f, 2), 2);
}

static void test_actions(void **state)
{
    (void)state;
    Cdof__V1__Alert a = alert(12, "E06000009");
    char ack[256], sil[256];
    watch_msg_actions(&a, "cdof-query --config q.conf", ack, sil, sizeof ack);
    assert_string_equal(ack, "cdof-query --config q.conf ack 12 --by \"YOUR NAME\"");
    assert_non_null(strstr(sil, "silence 'worse_than_england|continuity_of_care|E06000009'"));
    a.fired_sequence = 7; /* a resolution or ack record: the firing is what gets acknowledged */
    watch_msg_actions(&a, NULL, ack, sil, sizeof ack);
    assert_string_equal(ack, "cdof-query ack 7 --by \"YOUR NAME\"");
}

static void test_bodies(void **state)
{
    (void)state;
    Cdof__V1__Alert a = alert(12, "E06000009"), b = alert(13, "E08000001");
    b.state = CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED;
    watch_item_t items[] = {{&a, WATCH_ITEM_NEW}, {&b, WATCH_ITEM_RESOLVED}};
    watch_digest_t d = {.key = "abc-7",
                        .receiver = "r",
                        .route = "nw",
                        .group = "team=hmpps,region=E12000002\r\nBcc: x",
                        .items = items,
                        .n = 2};
    char *subject = watch_msg_subject(&d);
    assert_non_null(subject);
    assert_null(strpbrk(subject, "\r\n"));
    assert_non_null(strstr(subject, "[cdof] 1 new, 1 resolved alerts: team=hmpps"));
    free(subject);
    for (int k = WATCH_RECV_EMAIL; k <= WATCH_RECV_EXEC; k++) {
        size_t len = 0;
        char *body = watch_msg_body(&d, (watch_recv_kind_t)k, &len);
        assert_non_null(body);
        assert_int_equal(strlen(body), len);
        assert_non_null(strstr(body, "abc-7"));
        assert_non_null(strstr(body, "E06000009"));
        assert_non_null(strstr(body, "E08000001"));
        if (k != WATCH_RECV_EMAIL) {
            /* JSON: the summary's quote and line end escaped, no raw control characters. */
            assert_non_null(strstr(body, "Blackpool \\\"worse\\\"\\nthan England"));
            for (const char *p = body; *p; p++)
                assert_true((unsigned char)*p >= 0x20);
            assert_int_equal(body[0], '{');
            assert_int_equal(body[len - 1], '}');
        } else {
            assert_non_null(strstr(body, "To acknowledge:  cdof-query ack 12"));
            assert_non_null(strstr(body, "== resolved =="));
        }
        free(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
