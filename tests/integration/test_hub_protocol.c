/* The hub's ingest contract (proto/PROTOCOL.md) against a real cdof-hub process, spoken to
 * directly over ipc:// sockets in a temporary directory, with CURVE keys made here and a key
 * registry: acks after commit, duplicates, rejections that stay rejected, gaps answered with
 * resend_from, identities that must match, malformed input that leaves the hub serving. Every
 * wait is bounded. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "cdof_wire.h"

#define WAIT_MS 10000

static const char *hub_path, *ref_dir;
static char dir[256], ingest_ep[320], query_ep[320];
static pid_t hub_pid, frozen_pid; /* frozen_pid: test_silent_name_freed's old agent */
static void *zctx;
static void *sockets[32]; /* closed in teardown too, so a failed assertion cannot hang it */
static size_t nsockets;

/* CURVE key pairs (Z85): the hub's, and one per registered client. */
typedef struct {
    char pub[41], sec[41];
} keypair_t;
enum { K_HUB, K_LA1, K_LA2, K_LA3, K_JCDU, K_WATCH, K_HB, K_NAT, K_COUNT };
static keypair_t keys[K_COUNT];

/* A client socket of type with key k and, unless NULL, the routing id rid; closed in teardown. */
static void *client(int type, const keypair_t *k, const char *rid)
{
    void *s = zmq_socket(zctx, type);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, keys[K_HUB].pub, 40);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->pub, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, 40);
    if (rid)
        zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, strlen(rid));
    assert_true(nsockets < sizeof sockets / sizeof sockets[0]);
    sockets[nsockets++] = s;
    return s;
}

static void *dealer_with(const char *id, const char *ep, const keypair_t *k)
{
    void *s = client(ZMQ_DEALER, k, id);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

/* An ingest client with the registered key of agent id, under a routing id ZeroMQ picks (as
 * agents connect; test_named_connections covers clients that name their connection). */
static void *dealer(const char *id, const char *ep)
{
    int k = !id                        ? K_LA3
            : strcmp(id, "la-1") == 0  ? K_LA1
            : strcmp(id, "la-2") == 0  ? K_LA2
            : strcmp(id, "la-hb") == 0 ? K_HB
            : strcmp(id, "ons") == 0   ? K_NAT
                                       : K_LA3;
    return dealer_with(NULL, ep, &keys[k]);
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

static void send_update_area(void *s, const char *agent, uint64_t seq, const char *area, double num,
                             double den, const char *note)
{
    Cdof__V1__Period p = CDOF__V1__PERIOD__INIT;
    cdof_period_t period;
    char err[128];
    assert_int_equal(cdof_period_parse("2024-06", &period, err, sizeof err), 0);
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
    send_update_area(s, agent, seq, "E06000009", num, den, note);
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

/* Sends req from a new connection with key k; the response, or NULL after wait_ms. */
static Cdof__V1__QueryResponse *query_as(const keypair_t *k, Cdof__V1__QueryRequest *req,
                                         int wait_ms)
{
    void *q = dealer_with(NULL, query_ep, k);
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
    return query_as(&keys[K_JCDU], &req, wait_ms);
}

/* Stored comparison rows (series, league, area) follow committed data once it has
 * settled: waits, at most WAIT_MS, until `health` says no metric-period is pending. */
static void wait_settled(void)
{
    for (int i = 0; i < WAIT_MS / 50; i++) {
        Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
        req.request_id = 8;
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_HEALTH;
        req.health = true;
        Cdof__V1__QueryResponse *r = query_as(&keys[K_JCDU], &req, WAIT_MS);
        bool settled = r && r->health && r->health->pending_comparisons == 0;
        if (r)
            cdof__v1__query_response__free_unpacked(r, NULL);
        if (settled)
            return;
        usleep(50000);
    }
    fail_msg("the hub's comparisons did not settle within %d ms", WAIT_MS);
}

static char reg_path[300], log_path[300];

/* Writes the key registry (renamed in whole, as an operator's tool should); la-3 and the
 * oversight watcher only while not revoked. la-2 reports E06000008, the others E06000009.
 * Returns 0 or -1. */
static bool with_la3 = true, with_watch = true;
static int write_registry(void)
{
    char tmp[310];
    snprintf(tmp, sizeof tmp, "%s.tmp", reg_path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "public_key,id,role,partnership,areas\n");
    fprintf(f, "%s,la-1,partnership,,E06000009\n", keys[K_LA1].pub);
    fprintf(f, "%s,la-2,partnership,,E06000008\n", keys[K_LA2].pub);
    if (with_la3)
        fprintf(f, "%s,la-3,partnership,,E06000009\n", keys[K_LA3].pub);
    fprintf(f, "%s,la-hb,partnership,,E06000001\n", keys[K_HB].pub);
    fprintf(f, "%s,jcdu,jcdu\n", keys[K_JCDU].pub);
    fprintf(f, "%s,ons,national\n", keys[K_NAT].pub);
    if (with_watch)
        fprintf(f, "%s,watch,oversight\n", keys[K_WATCH].pub);
    return fclose(f) == 0 && rename(tmp, reg_path) == 0 ? 0 : -1;
}

/* Makes every key pair and writes the hub's secret key file (mode 0600) and the registry. */
static int write_keys(const char *key_path)
{
    for (int i = 0; i < K_COUNT; i++)
        if (zmq_curve_keypair(keys[i].pub, keys[i].sec) != 0)
            return -1;
    FILE *f = fopen(key_path, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n%s\n", keys[K_HUB].sec, keys[K_HUB].pub);
    if (fclose(f) != 0 || chmod(key_path, 0600) != 0)
        return -1;
    return write_registry();
}

/* Lines of the hub's log that contain needle. */
static int log_count(const char *needle)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* Waits (WAIT_MS at most) for more than `before` lines with needle in the hub's log. */
static void wait_log(const char *needle, int before)
{
    for (int i = 0; i < WAIT_MS / 50; i++) {
        if (log_count(needle) > before)
            return;
        usleep(50000);
    }
    fail_msg("the hub did not log '%s' within %d ms", needle, WAIT_MS);
}

static int start_hub(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cdof-hubproto-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char key_path[300];
    snprintf(key_path, sizeof key_path, "%s/hub.key", dir);
    snprintf(reg_path, sizeof reg_path, "%s/registry.csv", dir);
    snprintf(log_path, sizeof log_path, "%s/hub.log", dir);
    if (write_keys(key_path) < 0)
        return -1;
    snprintf(ingest_ep, sizeof ingest_ep, "ipc://%s/ingest", dir);
    snprintf(query_ep, sizeof query_ep, "ipc://%s/query", dir);
    char data[300], alerts[320];
    snprintf(data, sizeof data, "%s/hub", dir);
    snprintf(alerts, sizeof alerts, "ipc://%s/alerts", dir);
    hub_pid = fork();
    if (hub_pid == 0) {
        execl(hub_path, hub_path, "--data", data, "--ingest", ingest_ep, "--alerts", alerts,
              "--query", query_ep, "--refdir", ref_dir, "--keys", reg_path, "--key", key_path,
              "--log-file", log_path, (char *)NULL);
        _exit(127);
    }
    zctx = zmq_ctx_new();
    /* Ready when the query endpoint answers; each try is bounded, and so is their number. */
    for (int i = 0; i < 50; i++) {
        Cdof__V1__QueryResponse *r = query_agents(200);
        if (r) {
            cdof__v1__query_response__free_unpacked(r, NULL);
            return 0;
        }
    }
    return -1;
}

static int stop_hub(void **state)
{
    (void)state;
    int status = -1;
    if (frozen_pid > 0) {
        kill(frozen_pid, SIGKILL);
        waitpid(frozen_pid, NULL, 0);
    }
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

    /* Another key claiming la-1's identity cannot move la-1's mark: its envelope belongs to its
     * own key's stream (la-2's), where sequence 3 is a gap. */
    void *b = dealer("la-2", ingest_ep);
    send_update(b, "la-1", 3, 6, 50, "");
    ack = recv_ack(b);
    assert_int_equal(ack->n_entries, 0);
    assert_int_equal(ack->resend_from, 1);
    assert_int_equal(ack->high_water, 0);
    cdof__v1__ack__free_unpacked(ack, NULL);
    expect(a, "la-1", 3, 7, 50, "", OK, NULL);

    /* A wrong agent_id from la-1's own key is settled in la-1's stream: the same sequence sent
     * again with the right id gets the same rejection, never a second verdict. */
    expect(a, "la-9", 4, 6, 50, "", REJ, "does not match this key's identity");
    expect(a, "la-1", 4, 6, 50, "", REJ, "does not match this key's identity");

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
    expect(a, "la-1", 5, 6, 50, note, REJ, NULL);
    expect(a, "la-1", 6, 8, 50, "", OK, NULL);

    Cdof__V1__QueryResponse *r = query_agents(WAIT_MS);
    assert_non_null(r);
    int found = 0;
    for (size_t i = 0; i < r->n_agents; i++) {
        if (strcmp(r->agents[i]->agent_id, "la-1") == 0) {
            assert_int_equal(r->agents[i]->high_water, 6);
            found = 1;
        }
    }
    assert_true(found);
    cdof__v1__query_response__free_unpacked(r, NULL);
}

/* One ack (WAIT_MS at most) with one entry of the given status. Returns the reason (static). */
static const char *expect_one(void *s, uint64_t seq, Cdof__V1__AckStatus status)
{
    static char reason[1100];
    Cdof__V1__Ack *ack = recv_ack(s);
    assert_int_equal(ack->n_entries, 1);
    assert_int_equal(ack->entries[0]->sequence, seq);
    assert_int_equal(ack->entries[0]->status, status);
    snprintf(reason, sizeof reason, "%s", ack->entries[0]->reason);
    cdof__v1__ack__free_unpacked(ack, NULL);
    return reason;
}

/* True when s gets any message within ms. */
static bool answered_within(void *s, int ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&it, 1, ms) == 1;
}

static void send_heartbeat(void *s, const char *agent, uint64_t depth, uint64_t oldest_ms,
                           uint64_t written)
{
    Cdof__V1__Heartbeat hb = CDOF__V1__HEARTBEAT__INIT;
    hb.outbox_depth = depth;
    hb.oldest_unacked_ms = oldest_ms;
    hb.high_water = written;
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.agent_id = (char *)agent;
    env.body_case = CDOF__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_msg(s, &env.base);
}

/* The hub records what each heartbeat reports (when, outbox depth, oldest age), and an
 * idle agent that has written more than the hub holds (a hub restored from an older backup) is
 * asked to resend from the hub's mark. */
static void test_heartbeats_recorded(void **state)
{
    (void)state;
    void *a = dealer("la-hb", ingest_ep);
    send_heartbeat(a, "la-hb", 42, 1500, 42);
    Cdof__V1__Ack *ack = recv_ack(a);
    assert_true(ack->heartbeat);
    assert_int_equal(ack->high_water, 0);
    assert_int_equal(ack->resend_from, 0); /* busy: it is sending already */
    cdof__v1__ack__free_unpacked(ack, NULL);

    Cdof__V1__QueryResponse *r = query_agents(WAIT_MS);
    assert_non_null(r);
    const Cdof__V1__AgentStatus *st = NULL;
    for (size_t i = 0; i < r->n_agents; i++) {
        if (strcmp(r->agents[i]->agent_id, "la-hb") == 0)
            st = r->agents[i];
    }
    assert_non_null(st);
    assert_int_equal(st->outbox_depth, 42);
    assert_int_equal(st->oldest_unacked_ms, 1500);
    assert_int_equal(st->high_water, 0);
    assert_true(st->last_heard_ms > 0);
    cdof__v1__query_response__free_unpacked(r, NULL);

    /* Idle, having written 9 entries the hub never stored: resend from 1. */
    send_heartbeat(a, "la-hb", 0, 0, 9);
    ack = recv_ack(a);
    assert_true(ack->heartbeat);
    assert_int_equal(ack->resend_from, 1);
    cdof__v1__ack__free_unpacked(ack, NULL);
}

/* `health` counts what the hub did. After the sequence and heartbeat tests: envelopes
 * were accepted, refused and duplicated, every agent the store knows is counted, and the one
 * that just sent a heartbeat is connected. */
static void test_health_counts(void **state)
{
    (void)state;
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    req.request_id = 8;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_HEALTH;
    req.health = true;
    Cdof__V1__QueryResponse *r = query_as(&keys[K_JCDU], &req, WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK);
    const Cdof__V1__Health *h = r->health;
    assert_non_null(h);
    assert_true(h->ingested >= 1);
    assert_true(h->duplicates >= 1);
    assert_true(h->rejected >= 1);
    assert_true(h->heartbeats >= 2);
    assert_true(h->commits >= 1);
    assert_true(h->batch_max >= 1 && h->batch_last >= 1 && h->batch_last <= h->batch_max);
    assert_true(h->batch_mean >= 1.0 && h->batch_mean <= (double)h->batch_max);
    assert_true(h->connected_agents >= 1 && h->connected_agents <= h->known_agents);
    assert_true(h->started_ms > 0 && h->connected_window_ms > 0);
    assert_true(h->next_alert_sequence >= 1);
    uint32_t known = h->known_agents;
    cdof__v1__query_response__free_unpacked(r, NULL);
    r = query_agents(WAIT_MS);
    assert_non_null(r);
    assert_int_equal(known, r->n_agents);
    cdof__v1__query_response__free_unpacked(r, NULL);

    /* Each query answers only itself: `silences` once ran on into `health`. */
    Cdof__V1__QueryRequest sreq = CDOF__V1__QUERY_REQUEST__INIT;
    sreq.request_id = 9;
    sreq.query_case = CDOF__V1__QUERY_REQUEST__QUERY_SILENCES;
    sreq.silences = true;
    r = query_as(&keys[K_JCDU], &sreq, WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->status, CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK);
    assert_int_equal(r->n_silences, 0);
    assert_null(r->health);
    cdof__v1__query_response__free_unpacked(r, NULL);
}

/* The registry decides what a key may write: la-2 holds E06000008 only. */
static void test_authorisation(void **state)
{
    (void)state;
    const Cdof__V1__AckStatus OK = CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED,
                              REJ = CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED;
    void *b = dealer("la-2", ingest_ep);
    send_update_area(b, "la-2", 1, "E06000009", 33, 50, "");
    const char *why = expect_one(b, 1, REJ);
    if (!strstr(why, "not one of this agent's areas"))
        fail_msg("reason '%s' does not name the area as outside the partnership", why);
    /* Recorded: sent again, the same rejection. */
    send_update_area(b, "la-2", 1, "E06000009", 33, 50, "");
    assert_non_null(strstr(expect_one(b, 1, REJ), "not one of this agent's areas"));
    send_update_area(b, "la-2", 2, "E06000008", 20, 50, "");
    expect_one(b, 2, OK);

    /* A milestone for another partnership. */
    Cdof__V1__MilestoneEvent ev = CDOF__V1__MILESTONE_EVENT__INIT;
    ev.milestone_id = (char *)"delivery_plan";
    ev.partnership = (char *)"la-1";
    ev.date = 19358; /* 2023-01-01 */
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.agent_id = (char *)"la-2";
    env.sequence = 3;
    env.body_case = CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT;
    env.milestone_event = &ev;
    send_msg(b, &env.base);
    why = expect_one(b, 3, REJ);
    if (!strstr(why, "is not this agent's"))
        fail_msg("reason '%s' does not say the partnership is another's", why);
    /* Nor does a national key file a partnership's milestones. */
    void *n = dealer("ons", ingest_ep);
    env.agent_id = (char *)"ons";
    env.sequence = 1;
    send_msg(n, &env.base);
    why = expect_one(n, 1, REJ);
    if (!strstr(why, "a national key does not file milestones"))
        fail_msg("reason '%s' does not refuse a national key's milestone", why);

    /* Nothing of la-2's was stored for E06000009: the series holds la-1's latest value. */
    wait_settled();
    Cdof__V1__SeriesQuery sq = CDOF__V1__SERIES_QUERY__INIT;
    sq.metric_id = (char *)"continuity_of_care";
    sq.area_code = (char *)"E06000009";
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    req.request_id = 9;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_SERIES;
    req.series = &sq;
    Cdof__V1__QueryResponse *r = query_as(&keys[K_JCDU], &req, WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->n_rows, 1);
    assert_true(r->rows[0]->numerator == 8.0);
    cdof__v1__query_response__free_unpacked(r, NULL);
}

/* Garbage, wrong field types, truncated and oversized messages, an absurd sequence and a flood
 * from one client: the hub keeps serving the others. */
static void test_hostile_input(void **state)
{
    (void)state;
    void *g = dealer(NULL, ingest_ep); /* la-3's key, a routing id ZeroMQ picks */
    static const uint8_t wrong_type[] = {0x08, 0x05, 0x10, 0x01}; /* agent_id as a varint */
    static const uint8_t bad_length[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(zmq_send(g, wrong_type, sizeof wrong_type, 0), (int)sizeof wrong_type);
    assert_int_equal(zmq_send(g, bad_length, sizeof bad_length, 0), (int)sizeof bad_length);
    assert_int_equal(zmq_send(g, "", 0, 0), 0);
    /* A valid envelope cut short. */
    Cdof__V1__Heartbeat hb = CDOF__V1__HEARTBEAT__INIT;
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.agent_id = (char *)"la-3";
    env.body_case = CDOF__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    uint8_t *buf;
    size_t len;
    assert_int_equal(cdof_wire_pack(&env.base, &buf, &len), 0);
    assert_int_equal(zmq_send(g, buf, len / 2, 0), (int)(len / 2));
    free(buf);
    /* Larger than ZMQ_MAXMSGSIZE: the hub drops the connection (ZeroMQ reconnects it). */
    static uint8_t big[CDOF_WIRE_MAX_MESSAGE + 4096];
    memset(big, 0x0a, sizeof big);
    assert_int_equal(zmq_send(g, big, sizeof big, 0), (int)sizeof big);

    /* A flood from la-3: thousands of envelopes, acknowledgements never read. */
    void *f = dealer("la-3", ingest_ep);
    for (uint64_t seq = 1; seq <= 3000; seq++) {
        send_update(f, "la-3", seq, 1, 50, "");
        if (seq % 500 == 0)
            assert_int_equal(zmq_send(f, "\xff\xfe garbage", 10, 0), 10);
    }

    /* la-1 is served meanwhile. */
    void *a = dealer("la-1", ingest_ep);
    send_heartbeat(a, "la-1", 0, 0, 0);
    Cdof__V1__Ack *ack = recv_ack(a);
    assert_true(ack->heartbeat);
    assert_int_equal(ack->high_water, 6);
    cdof__v1__ack__free_unpacked(ack, NULL);
    /* A sequence absurdly far ahead is rejected, and the mark stays. */
    send_update(a, "la-1", 6 + 200000000ULL, 9, 50, "");
    assert_non_null(strstr(
        expect_one(a, 6 + 200000000ULL, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED), "jumps"));
    expect(a, "la-1", 7, 9, 50, "", CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED, NULL);
}

/* Only registered keys connect; a key revoked by a reload (SIGHUP) is refused, on new
 * connections and on the one it already had. */
static void test_unknown_and_revoked(void **state)
{
    (void)state;
    keypair_t stranger;
    assert_int_equal(zmq_curve_keypair(stranger.pub, stranger.sec), 0);
    int refused = log_count("refused an unknown key");
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    req.request_id = 11;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AGENTS;
    req.agents = true;
    assert_null(query_as(&stranger, &req, 1000));
    wait_log("refused an unknown key", refused);
    /* A reader's key may not send, and an agent's key may not query. */
    void *x = dealer_with(NULL, ingest_ep, &keys[K_JCDU]);
    send_heartbeat(x, "jcdu", 0, 0, 0);
    assert_false(answered_within(x, 1000));
    assert_null(query_as(&keys[K_LA1], &req, 1000));

    /* la-3 is served on its connection; then its key is revoked. */
    void *c = dealer_with(NULL, ingest_ep, &keys[K_LA3]);
    send_heartbeat(c, "la-3", 0, 0, 0);
    Cdof__V1__Ack *ack = recv_ack(c);
    cdof__v1__ack__free_unpacked(ack, NULL);
    int reloads = log_count("key registry:");
    with_la3 = false;
    assert_int_equal(write_registry(), 0);
    assert_int_equal(kill(hub_pid, SIGHUP), 0);
    wait_log("key registry:", reloads);
    send_heartbeat(c, "la-3", 0, 0, 0);
    assert_false(answered_within(c, 1000));
    void *d = dealer_with(NULL, ingest_ep, &keys[K_LA3]);
    send_heartbeat(d, "la-3", 0, 0, 0);
    assert_false(answered_within(d, 1000));
    /* The others still are. */
    Cdof__V1__QueryResponse *r = query_agents(WAIT_MS);
    assert_non_null(r);
    cdof__v1__query_response__free_unpacked(r, NULL);
}

/* The next monitor event of one of the kinds in mask (WAIT_MS at most), or 0. */
static int next_event(void *mon, int mask)
{
    for (int i = 0; i < 10; i++) { /* WAIT_MS in all */
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, WAIT_MS / 10) != 1)
            continue;
        zmq_msg_t ev, ep;
        zmq_msg_init(&ev);
        zmq_msg_init(&ep);
        int kind = 0;
        if (zmq_msg_recv(&ev, mon, 0) >= 0 && zmq_msg_size(&ev) >= 2 &&
            zmq_msg_recv(&ep, mon, 0) >= 0) {
            uint16_t k;
            memcpy(&k, zmq_msg_data(&ev), sizeof k);
            kind = k;
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
        if (kind & mask)
            return kind;
    }
    return 0;
}

/* A client socket of type with key k (and routing id rid unless NULL), not yet connected, whose
 * monitor (events) is *mon. Both are closed in teardown. */
static void *watched(int type, const keypair_t *k, const char *rid, int events, void **mon)
{
    static int n;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://mon-%d", n++);
    void *s = client(type, k, rid);
    int linger = 0;
    assert_int_equal(zmq_socket_monitor(s, ep, events), 0);
    assert_true(nsockets < sizeof sockets / sizeof sockets[0]);
    *mon = zmq_socket(zctx, ZMQ_PAIR);
    zmq_setsockopt(*mon, ZMQ_LINGER, &linger, sizeof linger);
    sockets[nsockets++] = *mon;
    assert_int_equal(zmq_connect(*mon, ep), 0);
    return s;
}

/* Older agents name their ingest connection by their agent id. Such a connection is served, and
 * another registered key that claims the name while it is connected (a squatter) takes none of
 * its answers: the hub has no ZMQ_ROUTER_HANDOVER. A name that is not the key's own is refused. */
static void test_named_connections(void **state)
{
    (void)state;
    void *a = dealer_with("la-1", ingest_ep, &keys[K_LA1]);
    send_heartbeat(a, "la-1", 0, 0, 0);
    Cdof__V1__Ack *ack = recv_ack(a);
    assert_true(ack->heartbeat);
    cdof__v1__ack__free_unpacked(ack, NULL);

    /* The squatter: la-2's key under the name la-1, watched until its handshake is through. */
    void *mon, *sq = watched(ZMQ_DEALER, &keys[K_LA2], "la-1", ZMQ_EVENT_HANDSHAKE_SUCCEEDED, &mon);
    assert_int_equal(zmq_connect(sq, ingest_ep), 0);
    assert_int_equal(next_event(mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    for (int i = 0; i < 3; i++) {
        send_heartbeat(a, "la-1", 0, 0, 0);
        ack = recv_ack(a);
        assert_true(ack->heartbeat);
        cdof__v1__ack__free_unpacked(ack, NULL);
    }
    assert_false(answered_within(sq, 500));

    /* la-2's key under the name la-3 (free): its own envelopes are refused, naming both, and
     * settled in la-2's stream (test_authorisation left its mark at 3). */
    void *b = dealer_with("la-3", ingest_ep, &keys[K_LA2]);
    send_update_area(b, "la-2", 4, "E06000008", 1, 50, "");
    assert_non_null(strstr(expect_one(b, 4, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED),
                           "does not match this connection's identity"));
}

/* An older agent's named connection that goes silent (its host frozen, a cut link) is ended by
 * the hub's ZMTP heartbeats, so the agent, reconnecting under its name as it does after three
 * silent intervals, is served again: without ZMQ_ROUTER_HANDOVER nothing else frees the name. */
static void test_silent_name_freed(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    frozen_pid = fork();
    assert_true(frozen_pid >= 0);
    if (frozen_pid == 0) {
        /* The old agent, on a context of its own (none crosses a fork): served once, then
         * SIGSTOPped by the parent. Should it fail here, the parent reads nothing. */
        zctx = zmq_ctx_new();
        void *old = dealer_with("la-hb", ingest_ep, &keys[K_HB]);
        send_heartbeat(old, "la-hb", 0, 0, 0);
        char served = answered_within(old, WAIT_MS);
        if (write(ready[1], &served, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char served = 0;
    assert_int_equal(read(ready[0], &served, 1), 1);
    close(ready[0]);
    assert_true(served);
    assert_int_equal(kill(frozen_pid, SIGSTOP), 0);
    /* Reconnect under the name, a fresh socket each second, for up to 15 s (ZMTP: 2 s + 6 s). */
    bool again = false;
    for (int i = 0; i < 15 && !again; i++) {
        void *a = dealer_with("la-hb", ingest_ep, &keys[K_HB]);
        send_heartbeat(a, "la-hb", 0, 0, 0);
        again = answered_within(a, 1000);
        nsockets--;
        zmq_close(a);
    }
    assert_true(again);
    kill(frozen_pid, SIGKILL);
    waitpid(frozen_pid, NULL, 0);
    frozen_pid = 0;
}

/* A revoked reader loses the alert stream it is subscribed to: PUB cannot refuse it per
 * message, so the hub ends every subscription and the reconnect meets the new registry. */
static void test_revoked_subscriber(void **state)
{
    (void)state;
    char alerts_ep[320];
    snprintf(alerts_ep, sizeof alerts_ep, "ipc://%s/alerts", dir);
    void *mon, *sub = watched(ZMQ_SUB, &keys[K_WATCH], NULL,
                              ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
                              &mon);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_connect(sub, alerts_ep), 0);
    assert_int_equal(next_event(mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);

    int reloads = log_count("key registry:");
    with_watch = false;
    assert_int_equal(write_registry(), 0);
    assert_int_equal(kill(hub_pid, SIGHUP), 0);
    wait_log("key registry:", reloads);
    assert_int_equal(next_event(mon, ZMQ_EVENT_DISCONNECTED), ZMQ_EVENT_DISCONNECTED);
    assert_int_equal(
        next_event(mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
}

/* Envelopes sent back to back from two agents share batches. Each is answered once,
 * on its own agent's connection, in order, rejected ones with their reason, in Acks of at most
 * 48 entries whose high_water never claims more than they carry before the last. */
static void test_batch_answers(void **state)
{
    (void)state;
    enum { N = 150 };
    const char *ids[2] = {"la-1", "la-2"}, *areas[2] = {"E06000009", "E06000008"};
    /* Routing ids ZeroMQ picks: the first connections named la-1 and la-2 are still open. */
    void *socks[2] = {dealer_with(NULL, ingest_ep, &keys[K_LA1]),
                      dealer_with(NULL, ingest_ep, &keys[K_LA2])};
    uint64_t base[2];
    for (int k = 0; k < 2; k++) {
        send_heartbeat(socks[k], ids[k], 0, 0, 0);
        Cdof__V1__Ack *ack = recv_ack(socks[k]);
        base[k] = ack->high_water;
        cdof__v1__ack__free_unpacked(ack, NULL);
    }
    for (uint64_t i = 1; i <= N; i++) {
        for (int k = 0; k < 2; k++) /* every third numerator above its denominator */
            send_update_area(socks[k], ids[k], base[k] + i, areas[k], i % 3 ? 6 : 60, 50, "");
    }
    for (int k = 0; k < 2; k++) {
        uint64_t next = base[k] + 1;
        for (int acks = 0; next <= base[k] + N; acks++) {
            assert_true(acks < N); /* each Ack carries at least one entry */
            Cdof__V1__Ack *ack = recv_ack(socks[k]);
            assert_true(ack->n_entries >= 1 && ack->n_entries <= 48);
            for (size_t e = 0; e < ack->n_entries; e++, next++) {
                const Cdof__V1__AckEntry *en = ack->entries[e];
                assert_int_equal(en->sequence, next);
                bool bad = (next - base[k]) % 3 == 0;
                assert_int_equal(en->status, bad ? CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED
                                                 : CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED);
                if (bad != (strstr(en->reason, "greater than denominator") != NULL))
                    fail_msg("seq %llu: reason '%s'", (unsigned long long)next, en->reason);
            }
            assert_int_equal(ack->high_water, next - 1);
            cdof__v1__ack__free_unpacked(ack, NULL);
        }
    }
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
        cmocka_unit_test(test_sequence_rules),     cmocka_unit_test(test_heartbeats_recorded),
        cmocka_unit_test(test_health_counts),      cmocka_unit_test(test_authorisation),
        cmocka_unit_test(test_hostile_input),      cmocka_unit_test(test_unknown_and_revoked),
        cmocka_unit_test(test_named_connections),  cmocka_unit_test(test_silent_name_freed),
        cmocka_unit_test(test_revoked_subscriber), cmocka_unit_test(test_batch_answers)};
    return cmocka_run_group_tests(tests, start_hub, stop_hub);
}
