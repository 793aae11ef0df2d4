/* The ideal pipeline: the practical limit of this machine for what the hub must do at the very
 * least. N DEALERs send the benchmark's envelopes (packed before the clock starts) to a ROUTER
 * on loopback, at most W unacknowledged each; the ROUTER's thread decodes each envelope, writes
 * it under its period|metric|area key in one fsynced LMDB transaction per batch, then sends one
 * Ack per agent. No validation, no agent records, no comparisons, no alerts: cdof-hub's ingest
 * rate is reported as a ratio to this one, measured in the same run. */
#include <errno.h>
#include <pthread.h>
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
#define TIMEOUT_S  900
#define SOCKET_HWM 100000

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
    const cdof_ref_t *ref;
    atomic_bool stop;
    atomic_int rc;
    uint64_t batches, stored;
    double
        cpu_s; /* the sink thread's CPU time: the pipeline's work, senders and I/O thread aside */
} sink_t;

typedef struct {
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
        uint8_t *buf;
        size_t len;
        if (cdof_wire_pack(&ack.base, &buf, &len) < 0)
            continue;
        zmq_send(k->router, peers[p].rid, peers[p].rid_len, ZMQ_SNDMORE);
        zmq_send(k->router, buf, len, 0);
        free(buf);
    }
}

/* Reads what waits (up to BATCH_MAX), decodes each envelope once, commits, acknowledges. */
static void *sink_run(void *arg)
{
    sink_t *k = arg;
    static peer_t peers[256];
    static zmq_msg_t bodies[BATCH_MAX];
    static Cdof__V1__Envelope *envs[BATCH_MAX];
    static size_t who[BATCH_MAX];
    zmq_pollitem_t item = {k->router, 0, ZMQ_POLLIN, 0};
    while (!atomic_load(&k->stop)) {
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        size_t n = 0, npeers = 0;
        while (n < BATCH_MAX) {
            zmq_msg_t rid;
            zmq_msg_init(&rid);
            if (zmq_msg_recv(&rid, k->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&rid);
                break;
            }
            zmq_msg_init(&bodies[n]);
            zmq_msg_recv(&bodies[n], k->router, 0);
            size_t p = 0;
            while (p < npeers && (peers[p].rid_len != zmq_msg_size(&rid) ||
                                  memcmp(peers[p].rid, zmq_msg_data(&rid), peers[p].rid_len)))
                p++;
            if (p == npeers && npeers < 256 && zmq_msg_size(&rid) <= sizeof peers[p].rid) {
                peers[p].rid_len = zmq_msg_size(&rid);
                memcpy(peers[p].rid, zmq_msg_data(&rid), peers[p].rid_len);
                peers[p].n = 0;
                npeers++;
            }
            zmq_msg_close(&rid);
            envs[n] = cdof__v1__envelope__unpack(NULL, zmq_msg_size(&bodies[n]),
                                                 zmq_msg_data(&bodies[n]));
            who[n++] = p;
        }
        cdof_store_txn_t *txn = NULL;
        int rc = cdof_store_begin(k->store, true, &txn);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = envs[i] ? store_one(k, txn, envs[i], &bodies[i]) : CDOF_EPROTO;
        if (rc == 0)
            rc = cdof_store_commit(&txn);
        else
            cdof_store_abort(&txn);
        for (size_t i = 0; i < n; i++) {
            peer_t *pe = &peers[who[i]];
            Cdof__V1__AckEntry *e = &pe->entries[pe->n];
            cdof__v1__ack_entry__init(e);
            e->sequence = envs[i] ? envs[i]->sequence : 0;
            e->status = CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED;
            pe->ptrs[pe->n++] = e;
            if (envs[i])
                cdof__v1__envelope__free_unpacked(envs[i], NULL);
            zmq_msg_close(&bodies[i]);
        }
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

static void usage(void)
{
    fprintf(stderr, "usage: bench_baseline --dir DIR [--refdir DIR] [--agents N] [--updates N] "
                    "[--window W]\n");
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *refdir = NULL;
    unsigned nagents = 150;
    unsigned long long total = 1000000;
    size_t window = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
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
    if (!dir || nagents == 0 || nagents > 256 || total < nagents || window == 0)
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
    for (unsigned k = 0; src && k < nagents; k++) {
        if (prepare(ref, &src[k], k, nagents, total) < 0) {
            fprintf(stderr, "bench_baseline: cannot prepare agent %u's envelopes\n", k);
            goto out;
        }
    }
    cdof_store_opts_t so = {.schema = "bench", .schema_version = 1};
    if (!src || cdof_store_open(dir, &so, &sink.store, err, sizeof err) < 0 ||
        cdof_store_db(sink.store, "points", &sink.db) < 0) {
        fprintf(stderr, "bench_baseline: %s\n", src ? err : "out of memory");
        goto out;
    }
    int hwm = SOCKET_HWM, zero = 0;
    char ep[256];
    size_t eplen = sizeof ep;
    sink.router = zmq_socket(zctx, ZMQ_ROUTER);
    zmq_setsockopt(sink.router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sink.router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sink.router, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(sink.router, "tcp://127.0.0.1:*") < 0 ||
        zmq_getsockopt(sink.router, ZMQ_LAST_ENDPOINT, ep, &eplen) < 0) {
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
        zmq_connect(src[k].sock, ep);
        items[k] = (zmq_pollitem_t){src[k].sock, 0, ZMQ_POLLIN, 0};
    }
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
    if (sink.router)
        zmq_close(sink.router);
    zmq_ctx_term(zctx);
    cdof_store_close(&sink.store);
    free(src);
    free(items);
    cdof_ref_destroy(&ref);
    return status;
}
