/* The ideal pipeline: the practical limit of this machine for what the hub must do at the very
 * least. N DEALERs send the benchmark's envelopes (packed before the clock starts) to a ROUTER
 * on loopback, at most W unacknowledged each; the ROUTER's thread decodes each envelope, writes
 * it under its period|metric|area key in one fsynced LMDB transaction per batch, then sends one
 * Ack per agent. No validation, no agent records, no comparisons, no alerts: cdof-hub's ingest
 * rate is reported as a ratio to this one, measured in the same run. With --curve, every
 * connection is encrypted with CURVE as the hub's are (keys made in memory, no ZAP handler: the
 * handshake's registry lookup is per connection, not per envelope). */
#define _GNU_SOURCE /* hcreate_r: the batch's agents by id, as the hub finds them */
#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "bench_data.h"
#include "cdof_error.h"
#include "cdof_store.h"
#include "cdof_wire.h"

#define BATCH_MAX  1000
#define PEERS_MAX  256 /* agents, at most */
#define TIMEOUT_S  900
#define SOCKET_HWM 100000
#define CONNECT_MS 10000 /* every DEALER's handshake, before the clock starts */

typedef struct {
    uint8_t *data;
    size_t len;
} packed_t;

typedef struct {
    void *sock;
    char id[32];
    packed_t *msgs;
    size_t n, sent, acked;
} source_t;

typedef struct {
    void *router;
    cdof_store_t *store;
    cdof_store_db_t db;
    cdof_wire_arena_t *arena;
    const cdof_ref_t *ref;
    atomic_bool stop;
    atomic_int rc;
    uint64_t batches, stored;
    double
        cpu_s; /* the sink thread's CPU time: the pipeline's work, senders and I/O thread aside */
} sink_t;

typedef struct {
    char agent_id[64]; /* the hash table's key */
    uint8_t rid[64];
    size_t rid_len;
    Cdof__V1__AckEntry entries[BATCH_MAX];
    Cdof__V1__AckEntry *ptrs[BATCH_MAX];
    size_t n;
} peer_t;

/* Writes one decoded envelope under its period|metric|area key; the value is the bytes received. */
static int store_one(sink_t *k, cdof_store_txn_t *txn, const Cdof__V1__Envelope *env,
                     zmq_msg_t *body)
{
    const Cdof__V1__MetricUpdate *u = env->metric_update;
    const cdof_metric_t *m = u ? cdof_ref_metric(k->ref, u->metric_id) : NULL;
    if (!m || !u->period || strlen(u->area_code) != 9)
        return CDOF_EPROTO;
    uint8_t key[16];
    cdof_store_be32(key, (uint32_t)((int64_t)u->period->first_day + 0x80000000LL));
    key[4] = (uint8_t)u->period->kind;
    cdof_store_be16(key + 5, m->index);
    memcpy(key + 7, u->area_code, 9);
    return cdof_store_put(txn, k->db, key, sizeof key, zmq_msg_data(body), zmq_msg_size(body));
}

static void send_acks(sink_t *k, peer_t *peers, size_t npeers)
{
    for (size_t p = 0; p < npeers; p++) {
        Cdof__V1__Ack ack = CDOF__V1__ACK__INIT;
        ack.entries = peers[p].ptrs;
        ack.n_entries = peers[p].n;
        ack.high_water = peers[p].n ? peers[p].ptrs[peers[p].n - 1]->sequence : 0;
        /* Packed straight into the message sent, as the hub does. */
        zmq_msg_t body;
        if (zmq_msg_init_size(&body, protobuf_c_message_get_packed_size(&ack.base)) != 0)
            continue;
        protobuf_c_message_pack(&ack.base, zmq_msg_data(&body));
        if (zmq_send(k->router, peers[p].rid, peers[p].rid_len, ZMQ_SNDMORE) < 0 ||
            zmq_msg_send(&body, k->router, 0) < 0)
            zmq_msg_close(&body);
    }
}

/* Reads what waits (up to BATCH_MAX), decodes each envelope once, commits, acknowledges. */
/* The peer (this batch's) that sent env, found by agent id in *by_id as the hub finds an agent's
 * slot; NULL when env is NULL or the table is full. */
static peer_t *peer_of(struct hsearch_data *by_id, peer_t *peers, size_t *npeers,
                       const Cdof__V1__Envelope *env, zmq_msg_t *rid)
{
    if (!env || zmq_msg_size(rid) > sizeof peers->rid)
        return NULL;
    ENTRY e = {.key = env->agent_id}, *found = NULL;
    if (hsearch_r(e, FIND, &found, by_id) && found)
        return found->data;
    if (*npeers == PEERS_MAX)
        return NULL;
    peer_t *p = &peers[(*npeers)++];
    snprintf(p->agent_id, sizeof p->agent_id, "%s", env->agent_id);
    p->rid_len = zmq_msg_size(rid);
    memcpy(p->rid, zmq_msg_data(rid), p->rid_len);
    p->n = 0;
    e = (ENTRY){.key = p->agent_id, .data = p};
    return hsearch_r(e, ENTER, &found, by_id) ? p : NULL;
}

static void *sink_run(void *arg)
{
    sink_t *k = arg;
    static peer_t peers[PEERS_MAX];
    static zmq_msg_t bodies[BATCH_MAX];
    static Cdof__V1__Envelope *envs[BATCH_MAX];
    static peer_t *who[BATCH_MAX];
    zmq_pollitem_t item = {k->router, 0, ZMQ_POLLIN, 0};
    while (!atomic_load(&k->stop)) {
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        size_t n = 0, npeers = 0;
        struct hsearch_data by_id;
        memset(&by_id, 0, sizeof by_id);
        if (!hcreate_r(2 * BATCH_MAX, &by_id)) {
            atomic_store(&k->rc, -ENOMEM);
            break;
        }
        while (n < BATCH_MAX) {
            zmq_msg_t rid;
            zmq_msg_init(&rid);
            if (zmq_msg_recv(&rid, k->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&rid);
                break;
            }
            zmq_msg_init(&bodies[n]);
            zmq_msg_recv(&bodies[n], k->router, 0);
            envs[n] =
                cdof__v1__envelope__unpack(cdof_wire_arena_allocator(k->arena),
                                           zmq_msg_size(&bodies[n]), zmq_msg_data(&bodies[n]));
            who[n] = peer_of(&by_id, peers, &npeers, envs[n], &rid);
            zmq_msg_close(&rid);
            n++;
        }
        hdestroy_r(&by_id);
        cdof_store_txn_t *txn = NULL;
        int rc = cdof_store_begin(k->store, true, &txn);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = who[i] ? store_one(k, txn, envs[i], &bodies[i]) : CDOF_EPROTO;
        if (rc == 0)
            rc = cdof_store_commit(&txn);
        else
            cdof_store_abort(&txn);
        for (size_t i = 0; i < n; i++) {
            peer_t *pe = who[i];
            if (pe) {
                Cdof__V1__AckEntry *e = &pe->entries[pe->n];
                cdof__v1__ack_entry__init(e);
                e->sequence = envs[i]->sequence;
                e->status = CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED;
                pe->ptrs[pe->n++] = e;
            }
            zmq_msg_close(&bodies[i]);
        }
        cdof_wire_arena_reset(
            k->arena); /* the batch's envelopes, decoded into it as the hub does */
        if (rc < 0) {
            fprintf(stderr, "bench_baseline: commit failed: %s\n", cdof_strerror(rc));
            atomic_store(&k->rc, rc);
            break;
        }
        k->batches++;
        k->stored += n;
        send_acks(k, peers, npeers);
    }
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    k->cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return NULL;
}

static int prepare(const cdof_ref_t *ref, source_t *s, unsigned k, unsigned nagents, uint64_t total)
{
    uint64_t quota = bench_quota(total, k, nagents);
    bench_gen_t *g = bench_gen_new(ref, k, nagents, quota);
    if (!g || !(s->msgs = calloc(quota, sizeof *s->msgs))) {
        bench_gen_destroy(&g);
        return -ENOMEM;
    }
    bench_agent_id(k, s->id, sizeof s->id);
    cdof_update_t u;
    while (bench_gen_next(g, &u)) {
        Cdof__V1__MetricUpdate mu = CDOF__V1__METRIC_UPDATE__INIT;
        Cdof__V1__Period per = CDOF__V1__PERIOD__INIT;
        cdof_wire_update_to_msg(&u, &mu, &per);
        Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
        env.agent_id = s->id;
        env.sequence = s->n + 1;
        env.body_case = CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE;
        env.metric_update = &mu;
        if (cdof_wire_pack(&env.base, &s->msgs[s->n].data, &s->msgs[s->n].len) < 0)
            break;
        s->n++;
    }
    bench_gen_destroy(&g);
    return s->n == quota ? 0 : -ENOMEM;
}

/* Waits for n completed ZMTP handshakes on the ROUTER (mon: the PAIR connected to its monitor).
 * Connection set-up is not the pipeline's work, and a connection still in the accept queue
 * stalls its sender for a SYN retransmission (1 s): the clock starts once every one is up.
 * Returns 0, or -ETIMEDOUT after CONNECT_MS. */
static int wait_connected(void *mon, unsigned n)
{
    double deadline = bench_now() + CONNECT_MS / 1000.0;
    unsigned up = 0;
    while (up < n) {
        int left = (int)((deadline - bench_now()) * 1000);
        zmq_pollitem_t item = {mon, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&item, 1, left) <= 0)
            return -ETIMEDOUT;
        /* Two frames: event number (16 bits) and value (32 bits), then the peer's address. */
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        zmq_msg_init(&addr);
        if (zmq_msg_recv(&ev, mon, 0) >= 6 && zmq_msg_more(&ev) &&
            zmq_msg_recv(&addr, mon, 0) >= 0) {
            uint16_t id;
            memcpy(&id, zmq_msg_data(&ev), sizeof id);
            up += id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_baseline --dir DIR [--refdir DIR] [--agents N] [--updates N] "
                    "[--window W] [--curve]\n");
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *refdir = NULL;
    unsigned nagents = 150;
    unsigned long long total = 1000000;
    size_t window = 256;
    bool curve = false;
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--curve")) {
            curve = true;
            i--;
            continue;
        }
        if (i + 1 >= argc)
            return usage(), 2;
        if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--refdir"))
            refdir = argv[i + 1];
        else if (!strcmp(argv[i], "--agents"))
            nagents = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--updates"))
            total = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--window"))
            window = strtoul(argv[i + 1], NULL, 10);
        else
            return usage(), 2;
    }
    if (!dir || nagents == 0 || nagents > PEERS_MAX || total < nagents || window == 0)
        return usage(), 2;
    char err[512];
    cdof_ref_t *ref = cdof_ref_load(refdir ? refdir : cdof_ref_default_dir(), err, sizeof err);
    if (!ref) {
        fprintf(stderr, "bench_baseline: %s\n", err);
        return 1;
    }
    int status = 1;
    source_t *src = calloc(nagents, sizeof *src);
    sink_t sink = {.ref = ref};
    void *zctx = zmq_ctx_new();
    pthread_t thread;
    bool started = false;
    zmq_pollitem_t *items = NULL;
    void *mon = NULL;
    for (unsigned k = 0; src && k < nagents; k++) {
        if (prepare(ref, &src[k], k, nagents, total) < 0) {
            fprintf(stderr, "bench_baseline: cannot prepare agent %u's envelopes\n", k);
            goto out;
        }
    }
    cdof_store_opts_t so = {.schema = "bench", .schema_version = 1};
    if (!src || cdof_wire_arena_new(&sink.arena) < 0) {
        fprintf(stderr, "bench_baseline: out of memory\n");
        goto out;
    }
    if (cdof_store_open(dir, &so, &sink.store, err, sizeof err) < 0 ||
        cdof_store_db(sink.store, "points", &sink.db) < 0) {
        fprintf(stderr, "bench_baseline: %s\n", err);
        goto out;
    }
    /* All agents connect at once: a listen queue shorter than that (ZeroMQ's default is 100)
     * drops the excess handshakes, and each waits a second for the SYN to be sent again. */
    int hwm = SOCKET_HWM, zero = 0, backlog = (int)nagents;
    char ep[256];
    size_t eplen = sizeof ep;
    /* CURVE: one pair for the sink, one shared by the senders (Z85, 40 characters each). */
    char server_pub[41], server_sec[41], client_pub[41], client_sec[41];
    if (curve && (zmq_curve_keypair(server_pub, server_sec) < 0 ||
                  zmq_curve_keypair(client_pub, client_sec) < 0)) {
        fprintf(stderr, "bench_baseline: --curve: %s\n", zmq_strerror(errno));
        goto out;
    }
    int one = 1;
    sink.router = zmq_socket(zctx, ZMQ_ROUTER);
    if (curve) {
        zmq_setsockopt(sink.router, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(sink.router, ZMQ_CURVE_SECRETKEY, server_sec, 40);
    }
    zmq_setsockopt(sink.router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sink.router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sink.router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sink.router, ZMQ_BACKLOG, &backlog, sizeof backlog);
    if (zmq_bind(sink.router, "tcp://127.0.0.1:*") < 0 ||
        zmq_getsockopt(sink.router, ZMQ_LAST_ENDPOINT, ep, &eplen) < 0 ||
        zmq_socket_monitor(sink.router, "inproc://bench-baseline-monitor",
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED) < 0 ||
        !(mon = zmq_socket(zctx, ZMQ_PAIR)) ||
        zmq_connect(mon, "inproc://bench-baseline-monitor") < 0) {
        fprintf(stderr, "bench_baseline: cannot bind: %s\n", zmq_strerror(errno));
        goto out;
    }
    if (!(items = calloc(nagents, sizeof *items)))
        goto out;
    for (unsigned k = 0; k < nagents; k++) {
        src[k].sock = zmq_socket(zctx, ZMQ_DEALER);
        zmq_setsockopt(src[k].sock, ZMQ_ROUTING_ID, src[k].id, strlen(src[k].id));
        zmq_setsockopt(src[k].sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(src[k].sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        if (curve) {
            zmq_setsockopt(src[k].sock, ZMQ_CURVE_SERVERKEY, server_pub, 40);
            zmq_setsockopt(src[k].sock, ZMQ_CURVE_PUBLICKEY, client_pub, 40);
            zmq_setsockopt(src[k].sock, ZMQ_CURVE_SECRETKEY, client_sec, 40);
        }
        zmq_connect(src[k].sock, ep);
        items[k] = (zmq_pollitem_t){src[k].sock, 0, ZMQ_POLLIN, 0};
    }
    double t_connect = bench_now();
    if (wait_connected(mon, nagents) < 0) {
        fprintf(stderr, "bench_baseline: not every agent connected within %d ms\n", CONNECT_MS);
        goto out;
    }
    printf("connections: %u agents connected in %.3f s (not part of the figure)\n", nagents,
           bench_now() - t_connect);
    if (pthread_create(&thread, NULL, sink_run, &sink) != 0)
        goto out;
    started = true;

    double t0 = bench_now(), deadline = t0 + TIMEOUT_S;
    unsigned done = 0;
    while (done < nagents && atomic_load(&sink.rc) == 0 && bench_now() < deadline) {
        for (unsigned k = 0; k < nagents; k++) {
            source_t *s = &src[k];
            while (s->sent < s->n && s->sent - s->acked < window) {
                if (zmq_send(s->sock, s->msgs[s->sent].data, s->msgs[s->sent].len, ZMQ_DONTWAIT) <
                    0)
                    break;
                s->sent++;
            }
        }
        if (zmq_poll(items, (int)nagents, 100) <= 0)
            continue;
        for (unsigned k = 0; k < nagents; k++) {
            if (!(items[k].revents & ZMQ_POLLIN))
                continue;
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            while (zmq_msg_recv(&msg, src[k].sock, ZMQ_DONTWAIT) >= 0) {
                Cdof__V1__Ack *ack =
                    cdof__v1__ack__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
                if (ack) {
                    bool was_done = src[k].acked == src[k].n;
                    src[k].acked += ack->n_entries;
                    done += !was_done && src[k].acked >= src[k].n;
                    cdof__v1__ack__free_unpacked(ack, NULL);
                }
            }
            zmq_msg_close(&msg);
        }
    }
    double secs = bench_now() - t0;
    if (done < nagents) {
        fprintf(stderr, "bench_baseline: only %u of %u agents finished within %d s\n", done,
                nagents, TIMEOUT_S);
        goto out;
    }
    printf("baseline: %llu updates from %u agents in %.2f s: %.0f updates/s (%llu commits, "
           "%.0f per commit)\n",
           total, nagents, secs, (double)total / secs, (unsigned long long)sink.batches,
           sink.batches ? (double)sink.stored / (double)sink.batches : 0.0);
    status = 0;
out:
    atomic_store(&sink.stop, true);
    if (started)
        pthread_join(thread, NULL);
    if (status == 0) {
        printf("  the pipeline's thread used %.1f s of CPU: %.1f us per update\n", sink.cpu_s,
               sink.cpu_s * 1e6 / (double)total);
        printf("RESULT baseline_ups %.0f\nRESULT baseline_cpu_us %.2f\n", (double)total / secs,
               sink.cpu_s * 1e6 / (double)total);
    }
    for (unsigned k = 0; src && k < nagents; k++) {
        if (src[k].sock)
            zmq_close(src[k].sock);
        for (size_t i = 0; i < src[k].n; i++)
            free(src[k].msgs[i].data);
        free(src[k].msgs);
    }
    if (mon)
        zmq_close(mon);
    if (sink.router)
        zmq_close(sink.router);
    zmq_ctx_term(zctx);
    cdof_store_close(&sink.store);
    cdof_wire_arena_destroy(&sink.arena);
    free(src);
    free(items);
    cdof_ref_destroy(&ref);
    return status;
}
