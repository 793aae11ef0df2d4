/* The hub's ingest contract (proto/PROTOCOL.md) against a real cdof-hub process, spoken to
 * directly over ipc:// sockets in a temporary directory: acks after commit, duplicates,
 * rejections that stay rejected, gaps answered with resend_from, identities that must match,
 * malformed input that leaves the hub serving. Every wait is bounded. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "cdof_clock.h"
#include "cdof_ref.h"
#include "cdof_wire.h"

#define WAIT_MS 10000

static const char *hub_path, *ref_dir;
static char dir[256], ingest_ep[320], query_ep[320];
static pid_t hub_pid;
static void *zctx;
static void *sockets[16]; /* closed in teardown too, so a failed assertion cannot hang it */
static size_t nsockets;

static void *dealer(const char *id, const char *ep)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (id)
        zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
    assert_int_equal(zmq_connect(s, ep), 0);
    if (nsockets < sizeof sockets / sizeof sockets[0])
        sockets[nsockets++] = s;
    return s;
}

static void send_msg(void *s, const ProtobufCMessage *m)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(cdof_wire_pack(m, &buf, &len), 0);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
    free(buf);
}

/* Receives one Ack, or fails the test after WAIT_MS. Caller frees. */
static Cdof__V1__Ack *recv_ack(void *s)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, WAIT_MS) != 1)
        fail_msg("no ack from the hub within %d ms", WAIT_MS);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    assert_true(zmq_msg_recv(&msg, s, 0) >= 0);
    char err[256];
    Cdof__V1__Ack *ack =
        cdof_wire_ack_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), err, sizeof err);
    zmq_msg_close(&msg);
    if (!ack)
        fail_msg("ack does not decode: %s", err);
    return ack;
}

static void send_update_for(void *s, const char *agent, uint64_t seq, const char *area,
                            const char *period_text, double num, double den, const char *note)
{
    Cdof__V1__Period p = CDOF__V1__PERIOD__INIT;
    cdof_period_t period;
    char err[128];
    assert_int_equal(cdof_period_parse(period_text, &period, err, sizeof err), 0);
    cdof_wire_period_to_msg(&period, &p);
    Cdof__V1__MetricUpdate u = CDOF__V1__METRIC_UPDATE__INIT;
    u.metric_id = (char *)"continuity_of_care";
    u.area_code = (char *)area;
    u.period = &p;
    u.has_numerator = u.has_denominator = true;
    u.numerator = num;
    u.denominator = den;
    u.note = (char *)note;
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.agent_id = (char *)agent;
    env.sequence = seq;
    env.body_case = CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE;
    env.metric_update = &u;
    send_msg(s, &env.base);
}

static void send_update(void *s, const char *agent, uint64_t seq, double num, double den,
                        const char *note)
{
    send_update_for(s, agent, seq, "E06000009", "2024-06", num, den, note);
}

/* Sends one update and expects one entry back with the given status. */
static void expect(void *s, const char *agent, uint64_t seq, double num, double den,
                   const char *note, Cdof__V1__AckStatus status, const char *reason_part)
{
    send_update(s, agent, seq, num, den, note);
    Cdof__V1__Ack *ack = recv_ack(s);
    assert_int_equal(ack->n_entries, 1);
    assert_int_equal(ack->entries[0]->sequence, seq);
    assert_int_equal(ack->entries[0]->status, status);
    if (reason_part && !strstr(ack->entries[0]->reason, reason_part))
        fail_msg("reason '%s' does not mention '%s'", ack->entries[0]->reason, reason_part);
    cdof__v1__ack__free_unpacked(ack, NULL);
}

/* Sends req on a new connection to the query endpoint; NULL when no answer comes within
 * wait_ms. */
static Cdof__V1__QueryResponse *ask(Cdof__V1__QueryRequest *req, int wait_ms)
{
    void *q = dealer(NULL, query_ep);
    send_msg(q, &req->base);
    zmq_pollitem_t it = {q, 0, ZMQ_POLLIN, 0};
    Cdof__V1__QueryResponse *resp = NULL;
    if (zmq_poll(&it, 1, wait_ms) == 1) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, q, 0) >= 0) {
            char err[128];
            resp = cdof_wire_query_response_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), err,
                                                   sizeof err);
        }
        zmq_msg_close(&msg);
    }
    nsockets--;
    zmq_close(q);
    return resp;
}

static Cdof__V1__QueryResponse *query_agents(int wait_ms)
{
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    req.request_id = 7;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AGENTS;
    req.agents = true;
    return ask(&req, wait_ms);
}

/* Starts the hub on dir's store and endpoints; ready when the query endpoint answers (each try
 * bounded, and so is their number). Returns 0 or -1. */
static int spawn_hub(void)
{
    char data[300], alerts[320], log[300];
    snprintf(data, sizeof data, "%s/hub", dir);
    snprintf(alerts, sizeof alerts, "ipc://%s/alerts", dir);
    snprintf(log, sizeof log, "%s/hub.log", dir);
    hub_pid = fork();
    if (hub_pid == 0) {
        execl(hub_path, hub_path, "--data", data, "--ingest", ingest_ep, "--alerts", alerts,
              "--query", query_ep, "--refdir", ref_dir, "--insecure", "--log-file", log,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 50; i++) {
        Cdof__V1__QueryResponse *r = query_agents(200);
        if (r) {
            cdof__v1__query_response__free_unpacked(r, NULL);
            return 0;
        }
    }
    return -1;
}

static int start_hub(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cdof-hubproto-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(ingest_ep, sizeof ingest_ep, "ipc://%s/ingest", dir);
    snprintf(query_ep, sizeof query_ep, "ipc://%s/query", dir);
    zctx = zmq_ctx_new();
    return spawn_hub();
}

static int stop_hub(void **state)
{
    (void)state;
    int status = -1;
    if (hub_pid > 0) {
        kill(hub_pid, SIGTERM);
        for (int i = 0; i < 100 && waitpid(hub_pid, &status, WNOHANG) == 0; i++)
            usleep(50000);
        if (waitpid(hub_pid, &status, WNOHANG) == 0) {
            kill(hub_pid, SIGKILL);
            waitpid(hub_pid, &status, 0);
        }
    }
    for (size_t i = 0; i < nsockets; i++)
        zmq_close(sockets[i]);
    zmq_ctx_term(zctx);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return -1;
    /* A hub that does not exit cleanly on SIGTERM (or that ASan stopped) fails the suite. */
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void test_sequence_rules(void **state)
{
    (void)state;
    void *a = dealer("la-1", ingest_ep);
    Cdof__V1__Heartbeat hb = CDOF__V1__HEARTBEAT__INIT;
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.agent_id = (char *)"la-1";
    env.body_case = CDOF__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_msg(a, &env.base);
    Cdof__V1__Ack *ack = recv_ack(a);
    assert_true(ack->heartbeat);
    assert_int_equal(ack->high_water, 0);
    cdof__v1__ack__free_unpacked(ack, NULL);

    const Cdof__V1__AckStatus OK = CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED,
                              DUP = CDOF__V1__ACK_STATUS__ACK_STATUS_DUPLICATE,
                              REJ = CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED;
    expect(a, "la-1", 1, 6, 50, "", OK, NULL);
    expect(a, "la-1", 2, 60, 50, "", REJ, "greater than denominator");
    /* The same rejected envelope again: still rejected, never "already stored". */
    expect(a, "la-1", 2, 60, 50, "", REJ, "greater than denominator");
    expect(a, "la-1", 1, 6, 50, "", DUP, NULL);

    /* A gap: nothing stored, the hub asks for what comes after its mark. */
    send_update(a, "la-1", 5, 6, 50, "");
    ack = recv_ack(a);
    assert_int_equal(ack->n_entries, 0);
    assert_int_equal(ack->resend_from, 3);
    assert_int_equal(ack->high_water, 2);
    cdof__v1__ack__free_unpacked(ack, NULL);

    /* Another connection claiming la-1's identity cannot move its mark. */
    void *b = dealer("la-2", ingest_ep);
    expect(b, "la-1", 3, 6, 50, "", REJ, "does not match");
    expect(a, "la-1", 3, 7, 50, "", OK, NULL);

    /* Garbage and a multi-frame message are dropped; the hub keeps serving. */
    void *g = dealer(NULL, ingest_ep);
    assert_int_equal(zmq_send(g, "\xff\xfe garbage", 10, 0), 10);
    assert_int_equal(zmq_send(g, "x", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(g, "y", 1, 0), 1);

    /* Out of bounds (a note over 1 KiB) but naming its sequence: rejected, and the stream
     * goes on after it instead of stalling. */
    char note[2000];
    memset(note, 'n', sizeof note - 1);
    note[sizeof note - 1] = '\0';
    expect(a, "la-1", 4, 6, 50, note, REJ, NULL);
    expect(a, "la-1", 5, 8, 50, "", OK, NULL);

    Cdof__V1__QueryResponse *r = query_agents(WAIT_MS);
    assert_non_null(r);
    int found = 0;
    for (size_t i = 0; i < r->n_agents; i++) {
        if (strcmp(r->agents[i]->agent_id, "la-1") == 0) {
            assert_int_equal(r->agents[i]->high_water, 5);
            found = 1;
        }
    }
    assert_true(found);
    cdof__v1__query_response__free_unpacked(r, NULL);
}

static Cdof__V1__QueryResponse *query_health(int wait_ms)
{
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    req.request_id = 9;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_HEALTH;
    req.health = true;
    return ask(&req, wait_ms);
}

/* After test_sequence_rules (same hub): every envelope it sent is counted where it belongs.
 * Accepted 1, 3, 5; rejected: seq 2 (numerator), the impostor, the garbage, the multi-frame
 * message and the oversized note (a resent rejection answers from the store and counts once);
 * one duplicate, one gap, one heartbeat; one agent on record, just heard from. */
static void test_health_counts(void **state)
{
    (void)state;
    Cdof__V1__Health *h = NULL;
    Cdof__V1__QueryResponse *r = NULL;
    /* The dropped messages came on other connections: give them a bounded moment to land. */
    for (int i = 0; i < 20; i++) {
        if (r)
            cdof__v1__query_response__free_unpacked(r, NULL);
        r = query_health(WAIT_MS);
        assert_non_null(r);
        assert_int_equal(r->status, CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK);
        h = r->health;
        assert_non_null(h);
        if (h->rejected >= 5)
            break;
        usleep(50000);
    }
    assert_int_equal(h->ingested, 3);
    assert_int_equal(h->rejected, 5);
    assert_int_equal(h->duplicates, 1);
    assert_int_equal(h->out_of_order, 1);
    assert_int_equal(h->heartbeats, 1);
    assert_true(h->commits >= 1 && h->commits <= 10);
    assert_true(h->batch_max >= 1 && h->batch_last >= 1 && h->batch_last <= h->batch_max);
    assert_true(h->batch_mean >= 1.0);
    assert_int_equal(h->known_agents, 1);
    assert_int_equal(h->connected_agents, 1);
    assert_int_equal(h->alerts, 0); /* one area alone is its own England: nothing to alert */
    assert_int_equal(h->next_alert_sequence, 1);
    assert_true(h->started_ms > 0 && h->started_ms <= cdof_clock_now_ms());
    assert_true(h->connected_window_ms > 0);
    cdof__v1__query_response__free_unpacked(r, NULL);
}

/* Sends every upper-tier area's continuity of care for period from agent (sequences from
 * *seq + 1), three times over (revisions: more envelopes than one batch), without waiting, so
 * that the hub reads them in large batches, which defer their comparisons (hub.h). Blackpool is
 * at 5%, far below England, when bad; the rest (and Blackpool otherwise) near 45%. Then waits for
 * every envelope's ACCEPTED. */
static void send_burst(void *a, const char *agent, const char *period, bool blackpool_bad,
                       uint64_t *seq)
{
    char err[256];
    cdof_ref_t *ref = cdof_ref_load(ref_dir, err, sizeof err);
    assert_non_null(ref);
    uint64_t first = *seq + 1;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < cdof_ref_area_count(ref); i++) {
            const cdof_area_t *area = cdof_ref_area_at(ref, i);
            if (area->kind != CDOF_AREA_UTLA)
                continue;
            bool bad = blackpool_bad && strcmp(area->code, "E06000009") == 0;
            send_update_for(a, agent, ++*seq, area->code, period, bad ? 5 : 45 + round, 100, "");
        }
    }
    cdof_ref_destroy(&ref);
    for (uint64_t accepted = 0; accepted < *seq - first + 1;) {
        Cdof__V1__Ack *ack = recv_ack(a);
        for (size_t i = 0; i < ack->n_entries; i++) {
            assert_int_equal(ack->entries[i]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED);
            accepted++;
        }
        cdof__v1__ack__free_unpacked(ack, NULL);
    }
}

/* Waits (bounded) until no comparison is pending; fails otherwise. */
static void expect_nothing_pending(void)
{
    Cdof__V1__QueryResponse *r = NULL;
    for (int i = 0; i < 100; i++) {
        if (r)
            cdof__v1__query_response__free_unpacked(r, NULL);
        r = query_health(WAIT_MS);
        assert_non_null(r);
        assert_non_null(r->health);
        if (r->health->pending_comparisons == 0)
            break;
        usleep(50000);
    }
    assert_int_equal(r->health->pending_comparisons, 0);
    print_message("%llu envelopes in %llu commits (largest %llu), %llu comparisons\n",
                  (unsigned long long)r->health->ingested, (unsigned long long)r->health->commits,
                  (unsigned long long)r->health->batch_max,
                  (unsigned long long)r->health->comparisons);
    cdof__v1__query_response__free_unpacked(r, NULL);
}

/* The worse_than_england alerts stored for period: exactly one, Blackpool's, in that state. */
static void expect_blackpool_alone(const char *period_text, Cdof__V1__AlertState state)
{
    cdof_period_t p;
    char err[128];
    assert_int_equal(cdof_period_parse(period_text, &p, err, sizeof err), 0);
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__AlertsQuery aq = CDOF__V1__ALERTS_QUERY__INIT;
    req.request_id = 11;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_ALERTS;
    req.alerts = &aq;
    Cdof__V1__QueryResponse *r = ask(&req, WAIT_MS);
    assert_non_null(r);
    int found = 0;
    for (size_t i = 0; i < r->n_alerts; i++) {
        const Cdof__V1__Alert *al = r->alerts[i];
        if (strcmp(al->rule, "worse_than_england") || !al->period ||
            al->period->first_day != p.first_day)
            continue;
        assert_string_equal(al->area_code, "E06000009");
        assert_int_equal(al->state, state);
        found++;
    }
    assert_int_equal(found, 1);
    cdof__v1__query_response__free_unpacked(r, NULL);
}

/* A burst (after test_sequence_rules' 2024-06: alerts judge the latest period) still alerts
 * Blackpool, and leaves nothing pending. */
static void test_burst_compares(void **state)
{
    (void)state;
    uint64_t seq = 0;
    send_burst(dealer("burst", ingest_ep), "burst", "2024-07", true, &seq);
    expect_nothing_pending();
    expect_blackpool_alone("2024-07", CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING);
}

/* Deferred comparisons survive a crash: a burst is acknowledged, the hub is killed (SIGKILL)
 * while its comparisons are still pending, and the restarted hub compares them: Blackpool's
 * alert, firing since 2024-07, resolves (or, on the next try, fires again). The pending
 * window is short (HUB_DEFER_MS): if the burst's comparisons were all done before the kill
 * could land, it tries a later month, and skips after five tries. */
static void test_pending_survive_crash(void **state)
{
    (void)state;
    void *a = dealer("crash", ingest_ep);
    uint64_t seq = 0;
    const char *months[] = {"2024-08", "2024-09", "2024-10", "2024-11", "2024-12"};
    for (size_t m = 0; m < sizeof months / sizeof months[0]; m++) {
        bool bad = m % 2 == 1; /* each month changes Blackpool's state */
        send_burst(a, "crash", months[m], bad, &seq);
        Cdof__V1__QueryResponse *r = query_health(WAIT_MS);
        assert_non_null(r);
        assert_non_null(r->health);
        bool pending = r->health->pending_comparisons > 0;
        cdof__v1__query_response__free_unpacked(r, NULL);
        if (!pending) {
            expect_nothing_pending();
            continue;
        }
        int status;
        assert_int_equal(kill(hub_pid, SIGKILL), 0);
        assert_int_equal(waitpid(hub_pid, &status, 0), hub_pid);
        assert_int_equal(spawn_hub(), 0);
        expect_nothing_pending();
        expect_blackpool_alone(months[m], bad ? CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING
                                              : CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED);
        return;
    }
    skip(); /* this machine compared every burst within the window: nothing to crash */
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_hub_protocol CDOF_HUB REFDIR\n");
        return 2;
    }
    hub_path = argv[1];
    ref_dir = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_rules), cmocka_unit_test(test_health_counts),
        cmocka_unit_test(test_burst_compares), cmocka_unit_test(test_pending_survive_crash)};
    return cmocka_run_group_tests(tests, start_hub, stop_hub);
}
