/* cdof-watch's durable store on real LMDB: notices queued, found due, retried with back-off,
 * delivered or expired with counters; groups and members; everything still there after a
 * reopen; a second writer refused; the back-off's bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "watch_queue.h"

static char dir[64];

static watch_queue_t *open_q(bool ro)
{
    char err[256] = "";
    watch_queue_t *q = NULL;
    if (watch_queue_open(dir, ro, &q, err, sizeof err) < 0)
        fail_msg("%s", err);
    return q;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cdof-test-watchq.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint64_t add(watch_queue_t *q, const char *recv, const char *body, int64_t now)
{
    cdof_store_txn_t *txn;
    assert_int_equal(watch_queue_begin(q, true, &txn), 0);
    char key[64], peek[64];
    assert_int_equal(watch_queue_note_key(q, txn, peek, sizeof peek), 0);
    watch_note_t n = {.created_ms = now,
                      .next_ms = now,
                      .receiver = (char *)recv,
                      .subject = (char *)"s",
                      .body = (char *)body,
                      .body_len = strlen(body)};
    assert_int_equal(watch_queue_note_add(q, txn, &n, key, sizeof key), 0);
    assert_string_equal(key, peek); /* the key a body may quote before it is queued */
    assert_int_equal(cdof_store_commit(&txn), 0);
    return n.id;
}

static bool skip_mail(void *ctx, const char *receiver)
{
    (void)ctx;
    return !strcmp(receiver, "mail");
}

static int count_expired(void *ctx, int64_t expired_ms, const watch_note_t *n)
{
    assert_int_equal(expired_ms, 20000);
    assert_string_equal(n->receiver, "mail");
    assert_string_equal(n->body, "first");
    assert_int_equal(n->attempts, 3);
    (*(int *)ctx)++;
    return 0;
}

static void test_notes(void **state)
{
    (void)state;
    watch_queue_t *q = open_q(false);
    assert_true(watch_queue_is_new(q));
    uint64_t a = add(q, "mail", "first", 1000), b = add(q, "hook", "second", 1000);
    uint64_t ids[8];
    size_t n;
    assert_int_equal(watch_queue_due(q, 999, NULL, NULL, ids, 8, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(watch_queue_due(q, 1000, NULL, NULL, ids, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], a);
    assert_int_equal(ids[1], b);
    /* A failing receiver's notices are passed over, the others' still found. */
    assert_int_equal(watch_queue_due(q, 1000, skip_mail, NULL, ids, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], b);

    watch_note_t got;
    assert_int_equal(watch_queue_note_get(q, a, &got), 0);
    assert_string_equal(got.receiver, "mail");
    assert_string_equal(got.body, "first");
    assert_int_equal(got.body_len, 5);
    assert_int_equal(got.attempts, 0);
    char key[64];
    snprintf(key, sizeof key, "%s", got.key);
    watch_queue_note_clear(&got);

    assert_int_equal(watch_queue_note_retry(q, a, 5000), 0);
    assert_int_equal(watch_queue_note_retry(q, a, 9000), 0);
    assert_int_equal(watch_queue_due(q, 6000, NULL, NULL, ids, 8, &n), 0);
    assert_int_equal(n, 1); /* only b: a waits until 9000 */
    assert_int_equal(ids[0], b);
    assert_int_equal(watch_queue_note_done(q, b), 0);
    assert_int_equal(watch_queue_note_get(q, b, &got), CDOF_ENOTFOUND);

    watch_counters_t c;
    assert_int_equal(watch_queue_counters(q, &c), 0);
    assert_int_equal(c.delivered, 1);
    assert_int_equal(c.failed, 2);
    assert_int_equal(c.retrying, 1);
    assert_int_equal(c.queued, 1);
    assert_int_equal(c.expired, 0);
    watch_queue_close(&q);

    /* After a reopen: a is still there, with its key and attempts; a reader sees the counters
     * while a writer holds the store, and a second writer is refused. */
    q = open_q(false);
    assert_false(watch_queue_is_new(q));
    assert_int_equal(watch_queue_note_get(q, a, &got), 0);
    assert_string_equal(got.key, key);
    assert_int_equal(got.attempts, 2);
    assert_int_equal(got.next_ms, 9000);
    watch_queue_note_clear(&got);
    watch_queue_t *ro = open_q(true), *w2 = NULL;
    char err[256] = "";
    assert_int_equal(watch_queue_open(dir, false, &w2, err, sizeof err), CDOF_ELOCKED);
    assert_int_equal(watch_queue_note_expire(q, a, 20000), 0);
    assert_int_equal(watch_queue_counters(ro, &c), 0);
    assert_int_equal(c.expired, 1);
    assert_int_equal(c.failed, 3);
    assert_int_equal(c.queued, 0);
    assert_int_equal(c.retrying, 0);
    int seen = 0;
    assert_int_equal(watch_queue_each_expired(ro, count_expired, &seen), 0);
    assert_int_equal(seen, 1);
    watch_queue_close(&ro);
    watch_queue_close(&q);
}

static void test_groups(void **state)
{
    (void)state;
    watch_queue_t *q = open_q(false);
    cdof_store_txn_t *txn;
    assert_int_equal(watch_queue_begin(q, true, &txn), 0);
    watch_group_t g = {.created_ms = 7, .changed = true}, got;
    assert_int_equal(watch_queue_group_get(q, txn, "", "team=ohid", &got), CDOF_ENOTFOUND);
    assert_int_equal(watch_queue_group_put(q, txn, "", "team=ohid", &g), 0);
    assert_int_equal(watch_queue_group_put(q, txn, "", "team=hmpps", &g), 0);
    Cdof__V1__Alert a = CDOF__V1__ALERT__INIT;
    a.sequence = 42;
    a.area_code = (char *)"E06000009";
    assert_int_equal(watch_queue_member_put(q, txn, "", "team=ohid", "k1", 1, &a), 0);
    a.sequence = 43;
    assert_int_equal(watch_queue_member_put(q, txn, "", "team=ohid", "k2", 0, &a), 0);
    assert_int_equal(watch_queue_member_put(q, txn, "", "team=hmpps", "k1", 0, &a), 0);
    assert_int_equal(watch_queue_set_last_seq(q, txn, 43), 0);
    assert_int_equal(cdof_store_commit(&txn), 0);
    watch_queue_close(&q);

    q = open_q(false);
    assert_int_equal(watch_queue_begin(q, true, &txn), 0);
    uint64_t last;
    assert_int_equal(watch_queue_last_seq(q, txn, &last), 0);
    assert_int_equal(last, 43);
    assert_int_equal(watch_queue_group_get(q, txn, "", "team=ohid", &got), 0);
    assert_int_equal(got.created_ms, 7);
    assert_true(got.changed);
    uint8_t flags;
    Cdof__V1__Alert *m;
    assert_int_equal(watch_queue_member_get(q, txn, "", "team=ohid", "k1", &flags, &m), 0);
    assert_int_equal(flags, 1);
    assert_int_equal(m->sequence, 42);
    cdof__v1__alert__free_unpacked(m, NULL);
    /* Deleting one group takes its members only. */
    assert_int_equal(watch_queue_group_del(q, txn, "", "team=ohid"), 0);
    assert_int_equal(watch_queue_member_get(q, txn, "", "team=ohid", "k2", &flags, &m),
                     CDOF_ENOTFOUND);
    assert_int_equal(watch_queue_member_get(q, txn, "", "team=hmpps", "k1", &flags, &m), 0);
    cdof__v1__alert__free_unpacked(m, NULL);
    cdof_store_abort(&txn);
    watch_queue_close(&q);
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(watch_queue_backoff_ms(1, 1000, 60000, 0), 500);
    assert_int_equal(watch_queue_backoff_ms(1, 1000, 60000, 0.999999), 999);
    assert_int_equal(watch_queue_backoff_ms(3, 1000, 60000, 0), 2000);
    assert_int_equal(watch_queue_backoff_ms(40, 1000, 60000, 0), 30000);
    for (uint32_t f = 1; f < 100; f++) {
        int64_t d = watch_queue_backoff_ms(f, 1000, 60000, 0.5);
        assert_true(d >= 500 && d <= 60000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
