/* cdof-watch's pipeline on a real store with the clock passed in: alerts taken within group_wait
 * make one digest, due only when the window closes; a change waits group_interval; alerts still
 * firing repeat after repeat_interval; an acknowledged one leaves the repeats and comes back
 * resolved; the routing tree sends each group to its receiver; --exec gets one notice per alert;
 * the last sequence moves with each alert taken. Nothing is sent here: the notices are read back
 * from the queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "watch_notify.h"

static const char conf_text[] = "[receiver mail]\ntype = email\nurl = smtp://h\nfrom = f\nto = t\n"
                                "[receiver hook]\ntype = webhook\nurl = https://h/x\n"
                                "[route]\nreceiver = mail\ngroup_by = team, region\n"
                                "group_wait = 30s\ngroup_interval = 5m\nrepeat_interval = 1h\n"
                                "[route sw]\nregion = E12000009\nreceiver = hook\n";

typedef struct {
    char dir[64];
    watch_conf_t *conf;
    watch_queue_t *q;
    watch_notify_t *n;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    char err[256] = "";
    snprintf(f->dir, sizeof f->dir, "/tmp/cdof-test-notify.XXXXXX");
    if (!f || !mkdtemp(f->dir) || watch_conf_parse(conf_text, "c.ini", &f->conf, err, sizeof err) ||
        watch_queue_open(f->dir, false, &f->q, err, sizeof err))
        return -1;
    watch_notify_opts_t o = {.conf = f->conf, .exec = "true", .exec_timeout_ms = 1000};
    if (watch_notify_new(f->q, &o, &f->n) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    watch_notify_free(&f->n);
    watch_queue_close(&f->q);
    watch_conf_free(&f->conf);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void take(fx_t *f, uint64_t seq, const char *area, const char *region,
                 Cdof__V1__AlertState st, uint64_t fired, int64_t now)
{
    char key[64];
    snprintf(key, sizeof key, "worse_than_england|m|%s", area);
    Cdof__V1__Alert a = CDOF__V1__ALERT__INIT;
    a.sequence = seq;
    a.fired_sequence = fired;
    a.rule = (char *)"worse_than_england";
    a.team = (char *)"ohid";
    a.region_code = (char *)region;
    a.area_code = (char *)area;
    a.dedupe_key = key;
    a.state = st;
    a.severity = CDOF__V1__SEVERITY__SEVERITY_CRITICAL;
    assert_int_equal(watch_notify_take(f->n, &a, now), 0);
}

/* Notices queued for receiver (all due at far future), moved out of the queue as delivered so
 * that the next look sees only new ones. Returns how many; the last one's body in body. */
static int drain(fx_t *f, const char *receiver, char *body, size_t len)
{
    uint64_t ids[64];
    size_t n;
    int count = 0;
    assert_int_equal(watch_queue_due(f->q, INT64_MAX, NULL, NULL, ids, 64, &n), 0);
    for (size_t i = 0; i < n; i++) {
        watch_note_t note;
        assert_int_equal(watch_queue_note_get(f->q, ids[i], &note), 0);
        if (!strcmp(note.receiver, receiver)) {
            count++;
            if (body)
                snprintf(body, len, "%s", note.body);
            assert_int_equal(watch_queue_note_done(f->q, ids[i]), 0);
        }
        watch_queue_note_clear(&note);
    }
    return count;
}

#define FIRING   CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING
#define RESOLVED CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED
#define ACKED    CDOF__V1__ALERT_STATE__ALERT_STATE_ACKNOWLEDGED
#define T0       1000000

static void test_windows_and_acks(void **state)
{
    fx_t *f = *state;
    char body[8192];
    take(f, 1, "E06000009", "E12000002", FIRING, 0, T0);
    take(f, 2, "E08000001", "E12000002", FIRING, 0, T0 + 1000);
    take(f, 3, "E06000023", "E12000009", FIRING, 0, T0 + 2000);
    assert_int_equal(drain(f, WATCH_EXEC_RECEIVER, NULL, 0), 3); /* one per alert */
    assert_int_equal(drain(f, "hook", NULL, 0), 0);
    /* Inside group_wait: nothing. */
    assert_int_equal(watch_notify_flush(f->n, T0 + 29999), 0);
    assert_int_equal(drain(f, "mail", NULL, 0), 0);
    /* Both groups close: one digest of two for mail, one of one for the South West's hook. */
    assert_int_equal(watch_notify_flush(f->n, T0 + 32000), 2);
    assert_int_equal(drain(f, "mail", body, sizeof body), 1);
    assert_non_null(strstr(body, "E06000009"));
    assert_non_null(strstr(body, "E08000001"));
    assert_null(strstr(body, "E06000023"));
    assert_int_equal(drain(f, "hook", body, sizeof body), 1);
    assert_non_null(strstr(body, "E06000023"));
    assert_int_equal(watch_notify_flush(f->n, T0 + 33000), 0);

    /* A new alert in the group waits group_interval after the last digest. */
    take(f, 4, "E08000002", "E12000002", FIRING, 0, T0 + 40000);
    assert_int_equal(watch_notify_flush(f->n, T0 + 32000 + 299999), 0);
    assert_int_equal(watch_notify_flush(f->n, T0 + 32000 + 300000), 1);
    assert_int_equal(drain(f, "mail", body, sizeof body), 1);
    assert_non_null(strstr(body, "== new ==\r\n  Alert            #4"));
    assert_non_null(strstr(body, "== firing ==")); /* the two told before, listed again */

    /* #3 (South West) and #1 acknowledged: the repeat an hour later lists #2 and #4 only, and
     * the South West group has nothing to repeat. */
    take(f, 5, "E06000023", "E12000009", ACKED, 3, T0 + 400000);
    take(f, 6, "E06000009", "E12000002", ACKED, 1, T0 + 400000);
    int64_t last = T0 + 332000;
    assert_int_equal(watch_notify_flush(f->n, last + 3600000 - 1), 0);
    assert_int_equal(watch_notify_flush(f->n, last + 3600000), 1);
    assert_int_equal(drain(f, "mail", body, sizeof body), 1);
    assert_null(strstr(body, "E06000009"));
    assert_non_null(strstr(body, "E08000001"));
    /* #1 resolves: told as resolved at the next interval, then gone. */
    last += 3600000;
    take(f, 7, "E06000009", "E12000002", RESOLVED, 1, last + 10);
    assert_int_equal(watch_notify_flush(f->n, last + 300000), 1);
    assert_int_equal(drain(f, "mail", body, sizeof body), 1);
    assert_non_null(strstr(body, "== resolved ==\r\n  Alert            #7"));
    /* #2 and #4 acknowledged too: nothing repeats any more. */
    take(f, 8, "E08000001", "E12000002", ACKED, 2, last + 300001);
    take(f, 9, "E08000002", "E12000002", ACKED, 4, last + 300002);
    assert_int_equal(watch_notify_flush(f->n, last + 10 * 3600000LL), 0);
    assert_int_equal(drain(f, "mail", NULL, 0), 0);
    /* #2 fires again (a new firing record): told afresh. */
    take(f, 10, "E08000001", "E12000002", FIRING, 0, last + 10 * 3600000LL);
    assert_int_equal(watch_notify_flush(f->n, last + 11 * 3600000LL), 1);
    assert_int_equal(drain(f, "mail", body, sizeof body), 1);
    assert_non_null(strstr(body, "== new ==\r\n  Alert            #10"));

    cdof_store_txn_t *txn;
    uint64_t seq;
    assert_int_equal(watch_queue_begin(f->q, false, &txn), 0);
    assert_int_equal(watch_queue_last_seq(f->q, txn, &seq), 0);
    cdof_store_abort(&txn);
    assert_int_equal(seq, 10);
    assert_int_equal(drain(f, "hook", NULL, 0), 0);
}

static void test_muted_and_unseen(void **state)
{
    fx_t *f = *state;
    /* A resolution of an alert never taken says nothing; a muted alert reaches no receiver. */
    take(f, 1, "E06000009", "E12000002", RESOLVED, 0, T0);
    Cdof__V1__Alert a = CDOF__V1__ALERT__INIT;
    a.sequence = 2;
    a.state = CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING;
    a.region_code = (char *)"E12000002";
    a.dedupe_key = (char *)"k";
    a.muted_by = (char *)"silenced by Sam";
    assert_int_equal(watch_notify_take(f->n, &a, T0), 0);
    assert_int_equal(watch_notify_flush(f->n, T0 + 86400000), 0);
    assert_int_equal(drain(f, "mail", NULL, 0), 0);
    assert_int_equal(drain(f, WATCH_EXEC_RECEIVER, NULL, 0), 1); /* the resolution, not muted */
    /* Fired and resolved inside group_wait: nobody was told, nobody is. */
    take(f, 3, "E08000001", "E12000002", FIRING, 0, T0);
    take(f, 4, "E08000001", "E12000002", RESOLVED, 3, T0 + 1);
    assert_int_equal(watch_notify_flush(f->n, T0 + 86400000), 0);
    assert_int_equal(drain(f, "mail", NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_windows_and_acks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_muted_and_unseen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
