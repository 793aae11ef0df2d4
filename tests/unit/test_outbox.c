/* The agent's outbox on a real LMDB store: settlement moves a boundary (schema version 2), acks
 * above an unsettled entry wait for it, rejections still move, restore lowers the boundary,
 * pruning follows the settlement marks, and a version-1 outbox (written here in its old layout
 * with cdof_store) is upgraded on a writable open and refused with a clear reason read-only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_outbox.h"
#include "cdof.pb-c.h"
#include "cdof_error.h"
#include "cdof_store.h"

typedef struct {
    char dir[64];
    agent_outbox_t *ob;
} fixture_t;

static void make_dir(fixture_t *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/cdof-test-outbox.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
}

static void open_outbox(fixture_t *f)
{
    char err[256];
    int rc = agent_outbox_open(f->dir, false, &f->ob, err, sizeof err);
    if (rc < 0)
        fail_msg("%s", err);
}

/* An outbox with n entries, 1..n. */
static void start(fixture_t *f, uint64_t n)
{
    make_dir(f);
    open_outbox(f);
    agent_fingerprint_t fp = {.hash = 42, .size = n};
    agent_outbox_batch_t *b = NULL;
    assert_int_equal(agent_outbox_batch_begin(f->ob, &fp, &b), 0);
    for (uint64_t i = 0; i < n; i++) {
        Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
        assert_int_equal(agent_outbox_batch_add(b, &env, 1000), 0);
    }
    agent_file_info_t info = {.rows = (uint32_t)n, .good = (uint32_t)n};
    assert_int_equal(agent_outbox_batch_commit(&b, &info), 0);
}

static void finish(fixture_t *f)
{
    agent_outbox_close(&f->ob);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static agent_outbox_stats_t stats(fixture_t *f)
{
    agent_outbox_stats_t st;
    assert_int_equal(agent_outbox_stats(f->ob, &st), 0);
    return st;
}

static void settle(fixture_t *f, uint64_t lo, uint64_t hi, int64_t now_ms)
{
    agent_settle_t s[64];
    assert_true(hi - lo + 1 <= 64);
    for (uint64_t i = lo; i <= hi; i++)
        s[i - lo] = (agent_settle_t){.seq = i};
    assert_int_equal(agent_outbox_settle(f->ob, s, hi - lo + 1, now_ms), 0);
}

typedef struct {
    uint64_t seqs[64];
    size_t n;
} seen_t;

static int seen_visit(void *ctx, uint64_t seq, const uint8_t *value, size_t len)
{
    seen_t *s = ctx;
    (void)value;
    assert_true(len >= 8);
    assert_true(s->n < 64);
    s->seqs[s->n++] = seq;
    return 0;
}

/* What a sender scanning from `from` would send. */
static seen_t unsent_from(fixture_t *f, uint64_t from)
{
    seen_t s = {0};
    assert_int_equal(agent_outbox_each_from(f->ob, from, seen_visit, &s), 0);
    return s;
}

static void expect(fixture_t *f, uint64_t depth, uint64_t retained, uint64_t high, uint64_t oldest)
{
    agent_outbox_stats_t st = stats(f);
    assert_int_equal(st.depth, depth);
    assert_int_equal(st.retained, retained);
    assert_int_equal(st.acked_high, high);
    assert_int_equal(st.oldest_seq, oldest);
}

/* Accepted entries stay where they are, below the boundary; sending starts above it. */
static void test_settle_moves_boundary(void **state)
{
    (void)state;
    fixture_t f = {0};
    start(&f, 10);
    settle(&f, 1, 5, 2000);
    expect(&f, 5, 5, 5, 6);
    seen_t s = unsent_from(&f, 1);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.seqs[0], 6);
    /* Duplicate settles change nothing. */
    settle(&f, 2, 4, 2100);
    expect(&f, 5, 5, 5, 6);
    uint64_t n = 0;
    assert_int_equal(agent_outbox_settle_upto(f.ob, 8, 2200, &n), 0);
    assert_int_equal(n, 3);
    expect(&f, 2, 8, 8, 9);
    assert_int_equal(agent_outbox_settle_upto(f.ob, 8, 2300, &n), 0);
    assert_int_equal(n, 0);
    finish(&f);
}

static int count_rejected(void *ctx, uint64_t seq, int64_t rejected_ms, const char *reason,
                          size_t reason_len, const uint8_t *env, size_t env_len)
{
    (void)rejected_ms;
    (void)env;
    (void)env_len;
    assert_int_equal(seq, 9);
    assert_memory_equal(reason, "bad", reason_len);
    (*(int *)ctx)++;
    return 0;
}

/* An ack above an unsettled entry waits for it; a rejection moves its entry out of the way. */
static void test_ack_above_gap_waits(void **state)
{
    (void)state;
    fixture_t f = {0};
    start(&f, 10);
    settle(&f, 1, 5, 2000);
    settle(&f, 7, 8, 2000);
    expect(&f, 5, 5, 5, 6);
    seen_t s = unsent_from(&f, 6);
    assert_int_equal(s.n, 5); /* 7 and 8 are not recorded yet */
    settle(&f, 6, 6, 2000);
    expect(&f, 2, 8, 8, 9);
    agent_settle_t r = {.seq = 9, .rejected = true, .reason = "bad"};
    assert_int_equal(agent_outbox_settle(f.ob, &r, 1, 2000), 0);
    expect(&f, 1, 8, 8, 10);
    settle(&f, 10, 10, 2000);
    expect(&f, 0, 9, 10, 0);
    int rejected = 0;
    assert_int_equal(agent_outbox_each_rejected(f.ob, count_rejected, &rejected), 0);
    assert_int_equal(rejected, 1);
    assert_int_equal(stats(&f).rejected, 1);
    /* Kept across a reopen. */
    agent_outbox_close(&f.ob);
    open_outbox(&f);
    expect(&f, 0, 9, 10, 0);
    finish(&f);
}

/* Resent entries' acks come out of order within one record; the hub's high-water mark settles a
 * gap and takes the waiting acks above it along. */
static void test_acks_out_of_order(void **state)
{
    (void)state;
    fixture_t f = {0};
    start(&f, 2000);
    agent_settle_t s[1500];
    for (size_t i = 0; i < 1500; i++) /* 1500..1, more than any fixed window */
        s[i] = (agent_settle_t){.seq = 1500 - i};
    assert_int_equal(agent_outbox_settle(f.ob, s, 1500, 2000), 0);
    expect(&f, 500, 1500, 1500, 1501);
    settle(&f, 1600, 1650, 2000);
    expect(&f, 500, 1500, 1500, 1501);
    uint64_t n = 0;
    assert_int_equal(agent_outbox_settle_upto(f.ob, 1599, 2100, &n), 0);
    assert_int_equal(n, 150);
    expect(&f, 350, 1650, 1650, 1651);
    finish(&f);
}

/* A hub restored from a backup asks again: the boundary comes down, entries are sent again. */
static void test_restore_lowers_boundary(void **state)
{
    (void)state;
    fixture_t f = {0};
    start(&f, 10);
    settle(&f, 1, 3, 1000);
    settle(&f, 4, 8, 2000);
    uint64_t n = 0;
    assert_int_equal(agent_outbox_restore_from(f.ob, 5, &n), 0);
    assert_int_equal(n, 4);
    expect(&f, 6, 4, 4, 5);
    assert_int_equal(unsent_from(&f, 1).seqs[0], 5);
    assert_int_equal(agent_outbox_restore_from(f.ob, 5, &n), 0);
    assert_int_equal(n, 0);
    /* 4 keeps the time it was settled at: pruned with a cut-off after 2000, not 1000. */
    assert_int_equal(agent_outbox_prune(f.ob, 1500, &n), 0);
    assert_int_equal(n, 3);
    expect(&f, 6, 1, 4, 5);
    assert_int_equal(agent_outbox_prune(f.ob, 2500, &n), 0);
    assert_int_equal(n, 1);
    expect(&f, 6, 0, 4, 5);
    finish(&f);
}

/* Pruning drops settled entries up to the newest mark before the cut-off, never unsettled ones. */
static void test_prune_by_marks(void **state)
{
    (void)state;
    fixture_t f = {0};
    start(&f, 10);
    settle(&f, 1, 3, 1000);
    settle(&f, 4, 6, 2000);
    uint64_t n = 0;
    assert_int_equal(agent_outbox_prune(f.ob, 500, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(agent_outbox_prune(f.ob, 1500, &n), 0);
    assert_int_equal(n, 3);
    expect(&f, 4, 3, 6, 7);
    assert_int_equal(agent_outbox_prune(f.ob, 99999, &n), 0);
    assert_int_equal(n, 3);
    expect(&f, 4, 0, 6, 7);
    /* Asked for pruned entries, nothing comes back. */
    assert_int_equal(agent_outbox_restore_from(f.ob, 1, &n), 0);
    assert_int_equal(n, 0);
    expect(&f, 4, 0, 0, 7);
    finish(&f);
}

/* Renumbering moves unsettled entries only. */
static void test_renumber_above_boundary(void **state)
{
    (void)state;
    fixture_t f = {0};
    start(&f, 6);
    settle(&f, 1, 2, 1000);
    uint64_t n = 0;
    assert_int_equal(agent_outbox_renumber(f.ob, 4, &n), 0);
    assert_int_equal(n, 2); /* 3 and 4 become 7 and 8 */
    agent_outbox_stats_t st = stats(&f);
    assert_int_equal(st.depth, 4);
    assert_int_equal(st.retained, 2);
    assert_int_equal(st.oldest_seq, 5);
    assert_int_equal(st.next_seq, 9);
    seen_t s = unsent_from(&f, 1);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.seqs[3], 8);
    finish(&f);
}

/* --- version 1 ------------------------------------------------------------------------------- */

static void put_u64(cdof_store_txn_t *txn, cdof_store_db_t db, const char *key, uint64_t v)
{
    uint8_t b[8];
    cdof_store_be64(b, v);
    assert_int_equal(cdof_store_put(txn, db, key, strlen(key), b, sizeof b), 0);
}

/* The v1 outbox value: written_ms | Envelope, and in "acked" acked_ms before it. */
static void put_v1_entry(cdof_store_txn_t *txn, cdof_store_db_t db, uint64_t seq, int64_t acked_ms)
{
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.sequence = seq;
    uint8_t val[256], key[8];
    size_t off = 0;
    if (acked_ms) {
        cdof_store_be64(val, (uint64_t)acked_ms);
        off = 8;
    }
    cdof_store_be64(val + off, 500);
    size_t n = cdof__v1__envelope__pack(&env, val + off + 8);
    cdof_store_be64(key, seq);
    assert_int_equal(cdof_store_put(txn, db, key, sizeof key, val, off + 8 + n), 0);
}

/* Writes the version-1 layout: acked 1..4 (2 at 100 ms, 2 at 200 ms) and 6 (acked above the
 * unsettled 5, as v1 allowed), outbox 5 and 7. */
static void write_v1(const char *dir)
{
    char err[256];
    cdof_store_t *st = NULL;
    cdof_store_opts_t o = {.schema = "outbox", .schema_version = 1, .max_dbs = 8};
    assert_int_equal(cdof_store_open(dir, &o, &st, err, sizeof err), 0);
    cdof_store_db_t outbox, acked, meta, rejected, files;
    assert_int_equal(cdof_store_db(st, "outbox", &outbox), 0);
    assert_int_equal(cdof_store_db(st, "acked", &acked), 0);
    assert_int_equal(cdof_store_db(st, "rejected", &rejected), 0);
    assert_int_equal(cdof_store_db(st, "files", &files), 0);
    assert_int_equal(cdof_store_db(st, "meta", &meta), 0);
    cdof_store_txn_t *txn = NULL;
    assert_int_equal(cdof_store_begin(st, true, &txn), 0);
    for (uint64_t i = 1; i <= 4; i++)
        put_v1_entry(txn, acked, i, i <= 2 ? 100 : 200);
    put_v1_entry(txn, acked, 6, 300);
    put_v1_entry(txn, outbox, 5, 0);
    put_v1_entry(txn, outbox, 7, 0);
    put_u64(txn, meta, "next_seq", 8);
    put_u64(txn, meta, "acked_high", 6);
    assert_int_equal(cdof_store_commit(&txn), 0);
    cdof_store_close(&st);
}

static void test_v1_upgraded(void **state)
{
    (void)state;
    fixture_t f = {0};
    make_dir(&f);
    write_v1(f.dir);
    char err[256];
    assert_int_equal(agent_outbox_open(f.dir, true, &f.ob, err, sizeof err), CDOF_EVERSION);
    assert_non_null(strstr(err, "start cdof-agent once"));
    assert_null(f.ob);
    open_outbox(&f);
    /* 1..4 settled below the boundary; 6 comes back unsettled behind 5. */
    expect(&f, 3, 4, 4, 5);
    seen_t s = unsent_from(&f, 1);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seqs[0], 5);
    assert_int_equal(s.seqs[1], 6);
    /* Marks carry the v1 acknowledgement times. */
    uint64_t n = 0;
    assert_int_equal(agent_outbox_prune(f.ob, 150, &n), 0);
    assert_int_equal(n, 2);
    expect(&f, 3, 2, 4, 5);
    settle(&f, 5, 7, 1000);
    expect(&f, 0, 5, 7, 0);
    /* Upgraded once: a read-only open now works. */
    agent_outbox_close(&f.ob);
    assert_int_equal(agent_outbox_open(f.dir, true, &f.ob, err, sizeof err), 0);
    expect(&f, 0, 5, 7, 0);
    finish(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settle_moves_boundary),
        cmocka_unit_test(test_ack_above_gap_waits),
        cmocka_unit_test(test_acks_out_of_order),
        cmocka_unit_test(test_restore_lowers_boundary),
        cmocka_unit_test(test_prune_by_marks),
        cmocka_unit_test(test_renumber_above_boundary),
        cmocka_unit_test(test_v1_upgraded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
