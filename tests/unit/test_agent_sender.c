/* The agent's sender recording acknowledgements in its real outbox (agent_outbox on LMDB), talking
 * to a scripted hub: a ROUTER on loopback that answers as proto/PROTOCOL.md says, so that each
 * test chooses how acks arrive (one per message, paced, rejected). Covers the grouped record of
 * acknowledgements: fewer commits than ack messages, recorded on close, on the end of a drain and
 * at once for a rejection (whose reason lives in the ack message). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>
#include <zmq.h>

#include "agent_outbox.h"
#include "agent_sender.h"
#include "cdof.pb-c.h"
#include "cdof_clock.h"

#define DEADLINE_MS 20000 /* a test that has not finished by then fails */
#define MAX_QUEUE   512

typedef struct {
    void *sock;
    uint64_t high;       /* committed high-water mark */
    uint64_t reject_seq; /* answered REJECTED (0: none) */
    bool paced;          /* one ack per timer tick rather than as each envelope arrives */
    bool hold;           /* keep the acks queued until cleared ... */
    size_t release;      /* ... but for this many */
    size_t received;     /* envelopes taken in sequence */
    uint64_t queue[MAX_QUEUE];
    size_t queued, acks_sent;
    uint8_t id[256];
    size_t id_len;
} hub_t;

typedef struct {
    char dir[64];
    void *zctx;
    uv_loop_t loop;
    uv_timer_t timer;
    hub_t hub;
    agent_outbox_t *ob;
    agent_sender_t *sender;
    uint64_t filled;
    uint64_t started_ms, elapsed_ms; /* loop time */
    bool (*done)(void *t);           /* checked on every tick; true stops the loop */
    bool finished, drained;
    uint64_t drained_depth, drained_retained; /* the outbox when the drain said done */
} fixture_t;

static void hub_send_ack(hub_t *h, const uint64_t *seqs, size_t n, bool heartbeat)
{
    Cdof__V1__AckEntry entries[MAX_QUEUE], *ptrs[MAX_QUEUE];
    for (size_t i = 0; i < n; i++) {
        cdof__v1__ack_entry__init(&entries[i]);
        entries[i].sequence = seqs[i];
        entries[i].status = CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED;
        if (seqs[i] == h->reject_seq) {
            entries[i].status = CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED;
            entries[i].reason = "field value: not a number";
        }
        ptrs[i] = &entries[i];
    }
    Cdof__V1__Ack ack = CDOF__V1__ACK__INIT;
    ack.entries = ptrs;
    ack.n_entries = n;
    ack.high_water = h->high;
    ack.heartbeat = heartbeat;
    uint8_t buf[65536];
    size_t len = cdof__v1__ack__pack(&ack, buf);
    assert_true(zmq_send(h->sock, h->id, h->id_len, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(h->sock, buf, len, 0) >= 0);
    if (n)
        h->acks_sent++;
}

/* Reads what the sender sent: heartbeats are answered at once, envelopes in sequence queued. */
static void hub_poll(hub_t *h)
{
    for (;;) {
        int rc = zmq_recv(h->sock, h->id, sizeof h->id, ZMQ_DONTWAIT);
        if (rc < 0)
            break;
        h->id_len = (size_t)rc;
        uint8_t buf[65536];
        rc = zmq_recv(h->sock, buf, sizeof buf, 0);
        assert_true(rc > 0);
        Cdof__V1__Envelope *env = cdof__v1__envelope__unpack(NULL, (size_t)rc, buf);
        assert_non_null(env);
        if (env->body_case == CDOF__V1__ENVELOPE__BODY_HEARTBEAT) {
            hub_send_ack(h, NULL, 0, true);
        } else if (env->sequence == h->high + 1 && h->queued < MAX_QUEUE) {
            h->high = env->sequence;
            h->queue[h->queued++] = env->sequence;
            h->received++;
        }
        cdof__v1__envelope__free_unpacked(env, NULL);
    }
    /* One ack message per envelope, as a hub whose batches each hold one of this agent's. */
    size_t n = h->paced && h->queued ? 1 : h->queued;
    if (h->hold) {
        n = h->release < h->queued ? h->release : h->queued;
        h->release -= n;
    }
    for (size_t i = 0; i < n; i++)
        hub_send_ack(h, &h->queue[i], 1, false);
    memmove(h->queue, h->queue + n, (h->queued - n) * sizeof h->queue[0]);
    h->queued -= n;
}

static void on_timer(uv_timer_t *t)
{
    fixture_t *f = t->data;
    f->elapsed_ms = uv_now(&f->loop) - f->started_ms;
    hub_poll(&f->hub);
    if (f->finished)
        return;
    if (f->done(f) || f->elapsed_ms > DEADLINE_MS) {
        f->finished = true;
        uv_timer_stop(t);
        uv_stop(&f->loop);
    }
}

static void fill(fixture_t *f, uint64_t n)
{
    agent_outbox_batch_t *b = NULL;
    agent_fingerprint_t fp = {.hash = 42, .size = n};
    assert_int_equal(agent_outbox_batch_begin(f->ob, &fp, &b), 0);
    for (uint64_t i = 0; i < n; i++) {
        Cdof__V1__MetricUpdate mu = CDOF__V1__METRIC_UPDATE__INIT;
        mu.metric_id = "drug_deaths";
        mu.source_file = "test.csv";
        mu.source_line = (uint32_t)(i + 2);
        Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
        env.body_case = CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE;
        env.metric_update = &mu;
        assert_int_equal(agent_outbox_batch_add(b, &env, cdof_clock_now_ms()), 0);
    }
    agent_file_info_t info = {.rows = (uint32_t)n, .good = (uint32_t)n};
    snprintf(info.name, sizeof info.name, "test.csv");
    assert_int_equal(agent_outbox_batch_commit(&b, &info), 0);
    f->filled = n;
}

/* A fixture with n entries in the outbox and a sender started against the scripted hub. */
static void start(fixture_t *f, uint64_t n, long window, long settle_delay_ms)
{
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/cdof-test-sender.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(agent_outbox_open(f->dir, false, &f->ob, err, sizeof err), 0);
    fill(f, n);
    f->zctx = zmq_ctx_new();
    assert_non_null(f->zctx);
    f->hub.sock = zmq_socket(f->zctx, ZMQ_ROUTER);
    assert_int_equal(zmq_bind(f->hub.sock, "tcp://127.0.0.1:*"), 0);
    char ep[256];
    size_t eplen = sizeof ep;
    assert_int_equal(zmq_getsockopt(f->hub.sock, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    agent_sender_opts_t so = {.endpoint = ep,
                              .agent_id = "test-agent",
                              .window = window,
                              .heartbeat_ms = 60000, /* no heartbeat records acks by the way */
                              .ack_timeout_ms = 30000,
                              .retain_ms = 3600 * 1000,
                              .settle_delay_ms = settle_delay_ms};
    assert_int_equal(agent_sender_new(&f->loop, f->zctx, f->ob, &so, &f->sender, err, sizeof err),
                     0);
    assert_int_equal(agent_sender_start(f->sender, err, sizeof err), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->timer), 0);
    f->timer.data = f;
    assert_int_equal(uv_timer_start(&f->timer, on_timer, 1, 1), 0);
}

static void run_until(fixture_t *f, bool (*done)(void *))
{
    f->done = done;
    f->finished = false;
    uv_update_time(&f->loop);
    f->started_ms = uv_now(&f->loop);
    f->elapsed_ms = 0;
    uv_timer_again(&f->timer);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(f->elapsed_ms <= DEADLINE_MS);
}

static void finish(fixture_t *f)
{
    agent_sender_close(f->sender);
    uv_close((uv_handle_t *)&f->timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    agent_sender_destroy(&f->sender);
    zmq_close(f->hub.sock);
    zmq_ctx_term(f->zctx);
    agent_outbox_close(&f->ob);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static agent_sender_stats_t sender_stats(fixture_t *f)
{
    agent_sender_stats_t ss;
    agent_sender_stats(f->sender, &ss);
    return ss;
}

static agent_outbox_stats_t outbox_stats(fixture_t *f)
{
    agent_outbox_stats_t st;
    assert_int_equal(agent_outbox_stats(f->ob, &st), 0);
    return st;
}

static bool all_recorded(void *t)
{
    fixture_t *f = t;
    return sender_stats(f).acks_recorded == f->filled;
}

/* 200 acks, one per message and one per millisecond: recorded in a handful of commits (one per
 * settle delay), where recording each ack message as it came took one commit each. */
static void test_acks_grouped_into_fewer_commits(void **state)
{
    fixture_t f = {0};
    f.hub.paced = true;
    start(&f, 200, 16, 0);
    run_until(&f, all_recorded);
    agent_sender_stats_t ss = sender_stats(&f);
    agent_outbox_stats_t st = outbox_stats(&f);
    assert_int_equal(f.hub.acks_sent, 200);
    assert_int_equal(ss.acks_recorded, 200);
    assert_true(ss.connected); /* the hub answered the first heartbeat */
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.retained, 200);
    assert_int_equal(st.acked_high, 200);
    assert_true(ss.settle_commits * 4 <= f.hub.acks_sent);
    finish(&f);
}

static bool some_unrecorded(void *t)
{
    fixture_t *f = t;
    agent_sender_stats_t ss = sender_stats(f);
    return ss.unrecorded >= 3 && ss.in_flight == 0;
}

/* Acks waiting for the (long) settle delay are recorded when the sender closes. */
static void test_close_records_waiting_acks(void **state)
{
    fixture_t f = {0};
    start(&f, 3, 8, 3600 * 1000);
    run_until(&f, some_unrecorded);
    assert_int_equal(outbox_stats(&f).depth, 3); /* waiting: nothing recorded yet */
    assert_int_equal(sender_stats(&f).settle_commits, 0);
    agent_sender_close(f.sender);
    agent_sender_stats_t ss = sender_stats(&f);
    assert_int_equal(ss.unrecorded, 0);
    assert_int_equal(ss.acks_recorded, 3);
    agent_outbox_stats_t st = outbox_stats(&f);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.retained, 3);
    finish(&f);
}

static bool all_in_flight(void *t)
{
    fixture_t *f = t;
    return sender_stats(f).in_flight == f->filled;
}

static bool sixteen_at_hub(void *t)
{
    fixture_t *f = t;
    return f->hub.received == 16;
}

static void on_drained(void *arg)
{
    fixture_t *f = arg;
    f->drained = true;
    /* Told it is drained, the caller may exit: everything acked must be in the outbox by now. */
    agent_outbox_stats_t st;
    if (agent_outbox_stats(f->ob, &st) == 0) {
        f->drained_depth = st.depth;
        f->drained_retained = st.retained;
    }
}

static bool drained(void *t)
{
    return ((fixture_t *)t)->drained;
}

/* A drain ends with the acknowledgements recorded, not a settle delay later. */
static void test_drain_records_acks(void **state)
{
    fixture_t f = {0};
    f.hub.hold = true;
    start(&f, 20, 32, 3600 * 1000);
    run_until(&f, all_in_flight);
    agent_sender_drain(f.sender, 10000, on_drained, &f);
    assert_false(f.drained);
    f.hub.hold = false;
    run_until(&f, drained);
    assert_true(f.drained);
    assert_int_equal(f.drained_depth, 0);
    assert_int_equal(f.drained_retained, 20);
    assert_int_equal(sender_stats(&f).acks_recorded, 20);
    finish(&f);
}

static bool rejection_seen(void *t)
{
    fixture_t *f = t;
    return f->hub.acks_sent == 3 && sender_stats(f).in_flight == 0;
}

typedef struct {
    uint64_t seq;
    char reason[128];
    size_t count;
} rejected_t;

static int rejected_visit(void *ctx, uint64_t seq, int64_t rejected_ms, const char *reason,
                          size_t reason_len, const uint8_t *env, size_t env_len)
{
    rejected_t *r = ctx;
    r->seq = seq;
    snprintf(r->reason, sizeof r->reason, "%.*s", (int)reason_len, reason);
    r->count++;
    return 0;
}

/* A rejection is recorded as soon as it arrives, with its reason (which the ack message owns),
 * and takes the waiting acceptances with it. */
static void test_rejection_recorded_with_reason(void **state)
{
    fixture_t f = {0};
    f.hub.paced = true;
    f.hub.reject_seq = 3;
    start(&f, 3, 8, 3600 * 1000);
    run_until(&f, rejection_seen);
    agent_sender_stats_t ss = sender_stats(&f);
    assert_int_equal(ss.unrecorded, 0);
    assert_int_equal(ss.acks_recorded, 3);
    assert_int_equal(ss.settle_commits, 1);
    rejected_t r = {0};
    assert_int_equal(agent_outbox_each_rejected(f.ob, rejected_visit, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.seq, 3);
    assert_string_equal(r.reason, "field value: not a number");
    agent_outbox_stats_t st = outbox_stats(&f);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.retained, 2);
    assert_int_equal(st.rejected, 1);
    finish(&f);
}

static bool three_acks_in(void *t)
{
    return sender_stats((fixture_t *)t).unrecorded == 3;
}

static bool four_acks_in(void *t)
{
    return sender_stats((fixture_t *)t).unrecorded == 4;
}

/* With a backlog, the window is refilled once a quarter of it is free, not an entry at a time
 * (each refill reads the outbox): 3 acks of a window of 16 send nothing, the 4th sends 4. */
static void test_backlog_refills_by_quarters(void **state)
{
    fixture_t f = {0};
    f.hub.hold = true;
    start(&f, 100, 16, 3600 * 1000);
    run_until(&f, sixteen_at_hub);
    assert_int_equal(sender_stats(&f).in_flight, 16);
    f.hub.release = 3;
    run_until(&f, three_acks_in);
    assert_int_equal(sender_stats(&f).in_flight, 13);
    f.hub.release = 1;
    run_until(&f, four_acks_in);
    assert_int_equal(sender_stats(&f).in_flight, 16);
    finish(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acks_grouped_into_fewer_commits),
        cmocka_unit_test(test_close_records_waiting_acks),
        cmocka_unit_test(test_drain_records_acks),
        cmocka_unit_test(test_rejection_recorded_with_reason),
        cmocka_unit_test(test_backlog_refills_by_quarters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
