/* Hub ingest load: N agents, each with the agent's own LMDB outbox (agent_outbox) and sender
 * (agent_sender: window, heartbeats, acks, resends), all on one libuv loop in this process, send
 * the benchmark's updates to a running cdof-hub. The outboxes are filled before the clock starts
 * (the intake's cost is the agent's, not the hub's); the clock stops when every outbox is empty,
 * that is when the hub has acknowledged every update after its commit. With --hub-pid the hub's
 * resident memory is read while all agents are still connected. With --keys DIR, each agent
 * speaks CURVE as deployed, with DIR/ID.key (its id registered with the hub) and DIR/hub.pub. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "agent_outbox.h"
#include "agent_sender.h"
#include "bench_data.h"
#include "cdof_curve.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_wire.h"

#define TIMEOUT_S    900
#define CHECK_MS     10
#define HEARTBEAT_MS 1000
#define CONNECT_MS   10000 /* every agent's first heartbeat answered, before the clock starts */

typedef struct {
    char id[32];
    agent_outbox_t *ob;
    agent_sender_t *sender;
    cdof_curve_t *curve; /* NULL: plain TCP */
    uint64_t n;
    bool empty; /* its outbox was seen empty (see on_check) */
} agent_t;

typedef struct {
    agent_t *agents;
    unsigned nagents;
    double t0, t_done, t_connect;
    double t_acked;   /* when the hub had acknowledged every update (0: not yet) */
    uv_check_t *turn; /* runs on_turn */
    unsigned long hub_pid;
    long hub_rss_kib, hub_hwm_kib;
    double hub_cpu0, hub_cpu1;
    int rc;
} run_t;

/* CPU seconds (user + system) of pid's main thread, where the hub does all its work (ZeroMQ's
 * I/O thread aside); -1 when unreadable. */
static double main_thread_cpu(unsigned long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lu/task/%lu/stat", pid, pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which may hold spaces): state is field 3, utime 14. */
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Reads VmRSS and VmHWM (KiB) of pid from /proc. */
static int read_rss(unsigned long pid, long *rss, long *hwm)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%lu/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", rss);
        sscanf(line, "VmHWM: %ld", hwm);
    }
    fclose(f);
    return 0;
}

static int fill(const cdof_ref_t *ref, agent_t *a, unsigned k, unsigned nagents, uint64_t quota)
{
    bench_gen_t *g = bench_gen_new(ref, k, nagents, quota);
    agent_outbox_batch_t *b = NULL;
    agent_fingerprint_t fp = {.hash = 0xbe9c0000u + k, .size = quota};
    int rc = g ? agent_outbox_batch_begin(a->ob, &fp, &b) : -ENOMEM;
    cdof_update_t u;
    int64_t now = 0;
    while (rc == 0 && bench_gen_next(g, &u)) {
        Cdof__V1__MetricUpdate mu = CDOF__V1__METRIC_UPDATE__INIT;
        Cdof__V1__Period per = CDOF__V1__PERIOD__INIT;
        cdof_wire_update_to_msg(&u, &mu, &per);
        mu.source_file = "bench.csv";
        mu.source_line = (uint32_t)(a->n + 2);
        Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
        env.body_case = CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE;
        env.metric_update = &mu;
        if ((rc = agent_outbox_batch_add(b, &env, now)) == 0)
            a->n++;
    }
    if (rc == 0) {
        agent_file_info_t info = {.rows = (uint32_t)a->n, .good = (uint32_t)a->n};
        snprintf(info.name, sizeof info.name, "bench.csv");
        rc = agent_outbox_batch_commit(&b, &info);
    }
    agent_outbox_batch_abort(&b);
    bench_gen_destroy(&g);
    return rc;
}

/* Unsettled updates in agent k's outbox, from the store: 0 means every update was acknowledged
 * and the acknowledgement recorded. */
static uint64_t outbox_depth(run_t *r, unsigned k)
{
    agent_outbox_stats_t st;
    return agent_outbox_stats(r->agents[k].ob, &st) == 0 ? st.depth : UINT64_MAX;
}

/* After every turn of the loop, from memory: the moment the last acknowledgement arrives, not
 * the next CHECK_MS tick nor the sender's settle delay (recording acks is the agents' work). */
static void on_turn(uv_check_t *h)
{
    run_t *r = h->data;
    for (unsigned k = 0; k < r->nagents; k++) {
        agent_sender_stats_t ss;
        agent_sender_stats(r->agents[k].sender, &ss);
        if (ss.in_flight > 0 || ss.acks_recorded + ss.unrecorded < r->agents[k].n)
            return;
    }
    r->t_acked = bench_now();
    uv_check_stop(h);
}

/* The stop condition is the outboxes' depth, but reading 150 stores every CHECK_MS competes with
 * the hub: an agent's store is read only once its sender holds nothing in flight or unrecorded,
 * and an agent found empty is not read again until the final pass over all of them. */
static void on_check(uv_timer_t *t)
{
    run_t *r = t->data;
    uint64_t depth = 0;
    unsigned busy = 0;
    for (unsigned k = 0; k < r->nagents; k++) {
        agent_t *a = &r->agents[k];
        agent_sender_stats_t ss;
        agent_sender_stats(a->sender, &ss);
        if (!a->empty && ss.in_flight == 0 && ss.unrecorded == 0)
            a->empty = outbox_depth(r, k) == 0;
        busy += !a->empty;
    }
    double now = bench_now();
    bool timed_out = now - r->t0 >= TIMEOUT_S;
    if (busy > 0 && !timed_out)
        return;
    for (unsigned k = 0; k < r->nagents; k++) {
        uint64_t d = outbox_depth(r, k);
        r->agents[k].empty = d == 0;
        depth += d;
    }
    if (depth > 0 && !timed_out)
        return;
    r->t_done = now;
    if (depth > 0) {
        fprintf(stderr, "bench_ingest: %llu updates still unacknowledged after %d s\n",
                (unsigned long long)depth, TIMEOUT_S);
        r->rc = -ETIMEDOUT;
    }
    if (r->hub_pid) {
        read_rss(r->hub_pid, &r->hub_rss_kib, &r->hub_hwm_kib);
        r->hub_cpu1 = main_thread_cpu(r->hub_pid);
    }
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
    uv_close((uv_handle_t *)r->turn, NULL);
    for (unsigned k = 0; k < r->nagents; k++)
        agent_sender_close(r->agents[k].sender);
}

/* Until every sender has had the hub's answer to its first heartbeat (the protocol's connection
 * set-up, which the baseline's clock leaves out too), or CONNECT_MS passed. */
static void on_connect_check(uv_timer_t *t)
{
    run_t *r = t->data;
    unsigned up = 0;
    for (unsigned k = 0; k < r->nagents; k++) {
        agent_sender_stats_t ss;
        agent_sender_stats(r->agents[k].sender, &ss);
        up += ss.connected;
    }
    if (up < r->nagents && bench_now() - r->t_connect < CONNECT_MS / 1000.0)
        return;
    if (up < r->nagents) {
        fprintf(stderr, "bench_ingest: only %u of %u agents connected within %d ms\n", up,
                r->nagents, CONNECT_MS);
        r->rc = -ETIMEDOUT;
    }
    uv_timer_stop(t);
    uv_stop(t->loop);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_ingest --hub EP --dir DIR [--refdir DIR] [--agents N] "
                    "[--updates N] [--window W] [--ack-timeout-ms MS] [--settle-delay-ms MS] "
                    "[--hub-pid PID] [--keys DIR]\n");
}

int main(int argc, char **argv)
{
    const char *hub = NULL, *dir = NULL, *refdir = NULL, *keys = NULL;
    run_t r = {.nagents = 150};
    unsigned long long total = 1000000;
    long window = 256;
    /* Every outbox starts full: 150 windows of 256 queue ~38k envelopes at the hub, more than
     * it commits in the agent's default 5 s under load, and a timed-out sender resends its whole
     * window (seen: 665k duplicates for 1M updates). Real agents rarely all have a backlog at
     * once; the figure is the hub's, so give acknowledgements the time the queue needs. */
    long ack_timeout_ms = 30000;
    long settle_delay_ms = 0; /* the sender's default */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--hub"))
            hub = argv[i + 1];
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--refdir"))
            refdir = argv[i + 1];
        else if (!strcmp(argv[i], "--agents"))
            r.nagents = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--updates"))
            total = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--ack-timeout-ms"))
            ack_timeout_ms = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--settle-delay-ms"))
            settle_delay_ms = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--window"))
            window = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--hub-pid"))
            r.hub_pid = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--keys"))
            keys = argv[i + 1];
        else
            return usage(), 2;
    }
    if (!hub || !dir || r.nagents == 0 || total < r.nagents || window <= 0 ||
        ack_timeout_ms < 100 || settle_delay_ms < 0)
        return usage(), 2;
    /* Errors only: every outbox is full before the clock starts, so the senders' backlog warnings
     * (the hub is behind) are expected here. */
    cdof_log_init("bench_ingest", CDOF_LOG_ERROR);
    char err[512];
    cdof_ref_t *ref = cdof_ref_load(refdir ? refdir : cdof_ref_default_dir(), err, sizeof err);
    if (!ref) {
        fprintf(stderr, "bench_ingest: %s\n", err);
        return 1;
    }
    int status = 1;
    void *zctx = zmq_ctx_new();
    uv_loop_t loop;
    uv_timer_t check;
    uv_check_t turn;
    bool loop_ok = uv_loop_init(&loop) == 0;
    r.agents = calloc(r.nagents, sizeof *r.agents);
    if (!r.agents || !zctx || !loop_ok)
        goto out;

    double t_fill = bench_now();
    for (unsigned k = 0; k < r.nagents; k++) {
        agent_t *a = &r.agents[k];
        char path[4096];
        bench_agent_id(k, a->id, sizeof a->id);
        snprintf(path, sizeof path, "%s/%s", dir, a->id);
        if ((mkdir(path, 0700) < 0 && errno != EEXIST) ||
            agent_outbox_open(path, false, &a->ob, err, sizeof err) < 0) {
            fprintf(stderr, "bench_ingest: %s: %s\n", path, err);
            goto out;
        }
        int rc = fill(ref, a, k, r.nagents, bench_quota(total, k, r.nagents));
        if (rc < 0) {
            fprintf(stderr, "bench_ingest: filling %s: %s\n", path, cdof_strerror(rc));
            goto out;
        }
    }
    t_fill = bench_now() - t_fill;
    printf("outboxes: %llu updates written into %u agents' outboxes in %.2f s "
           "(not part of the figure)\n",
           total, r.nagents, t_fill);
    fflush(stdout);

    /* The senders start with an empty window: they connect and exchange the first heartbeat,
     * and send nothing until the clock starts. */
    for (unsigned k = 0; k < r.nagents; k++) {
        agent_t *a = &r.agents[k];
        if (keys) {
            char key[1024], pub[1024];
            snprintf(key, sizeof key, "%s/%s.key", keys, a->id);
            snprintf(pub, sizeof pub, "%s/hub.pub", keys);
            if (cdof_curve_open(false, false, key, pub, &a->curve, err, sizeof err) < 0) {
                fprintf(stderr, "bench_ingest: %s\n", err);
                goto out;
            }
        }
        agent_sender_opts_t so = {.endpoint = hub,
                                  .curve = a->curve,
                                  .agent_id = a->id,
                                  .window = 0,
                                  .heartbeat_ms = HEARTBEAT_MS,
                                  .ack_timeout_ms = ack_timeout_ms,
                                  .retain_ms = 3600 * 1000,
                                  .settle_delay_ms = settle_delay_ms};
        if (agent_sender_new(&loop, zctx, a->ob, &so, &a->sender, err, sizeof err) < 0) {
            fprintf(stderr, "bench_ingest: %s\n", err);
            goto out;
        }
    }
    r.t_connect = bench_now();
    for (unsigned k = 0; k < r.nagents; k++) {
        if (agent_sender_start(r.agents[k].sender, err, sizeof err) < 0) {
            fprintf(stderr, "bench_ingest: %s\n", err);
            goto out;
        }
    }
    uv_timer_init(&loop, &check);
    check.data = &r;
    uv_timer_start(&check, on_connect_check, 1, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (r.rc < 0) {
        uv_close((uv_handle_t *)&check, NULL);
        goto out;
    }
    printf("connections: %u agents connected in %.3f s (not part of the figure)\n", r.nagents,
           bench_now() - r.t_connect);
    fflush(stdout);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    r.t0 = bench_now();
    if (r.hub_pid)
        r.hub_cpu0 = main_thread_cpu(r.hub_pid);
    for (unsigned k = 0; k < r.nagents; k++)
        agent_sender_tune(r.agents[k].sender, window, HEARTBEAT_MS, ack_timeout_ms);
    uv_check_init(&loop, &turn);
    turn.data = &r;
    r.turn = &turn;
    uv_check_start(&turn, on_turn);
    uv_timer_start(&check, on_check, CHECK_MS, CHECK_MS);
    uv_run(&loop, UV_RUN_DEFAULT);
    getrusage(RUSAGE_SELF, &ru1);
    if (r.rc < 0)
        goto out;
    /* The outboxes confirmed it (depth 0); the figure is the hub's: up to its last ack. */
    double secs = (r.t_acked > 0 ? r.t_acked : r.t_done) - r.t0;
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    printf("hub ingest: %llu updates from %u agents in %.2f s: %.0f updates/s "
           "(the agents used %.1f s of CPU)\n",
           total, r.nagents, secs, (double)total / secs, cpu);
    printf("RESULT ingest_ups %.0f\n", (double)total / secs);
    uint64_t acks = 0, commits = 0;
    for (unsigned k = 0; k < r.nagents; k++) {
        agent_sender_stats_t ss;
        agent_sender_stats(r.agents[k].sender, &ss);
        acks += ss.acks_recorded;
        commits += ss.settle_commits;
    }
    printf("  the agents recorded %llu acknowledgements in %llu commits; %.1f us of agents' CPU "
           "per update\n",
           (unsigned long long)acks, (unsigned long long)commits, cpu * 1e6 / (double)total);
    printf("RESULT agent_cpu_us %.2f\n", cpu * 1e6 / (double)total);
    if (r.hub_pid && r.hub_cpu0 >= 0 && r.hub_cpu1 >= 0) {
        double us = (r.hub_cpu1 - r.hub_cpu0) * 1e6 / (double)total;
        printf("  the hub's thread used %.1f s of CPU: %.1f us per update\n",
               r.hub_cpu1 - r.hub_cpu0, us);
        printf("RESULT hub_cpu_us %.2f\n", us);
    }
    if (r.hub_pid)
        printf("RESULT hub_rss_kib %ld\nRESULT hub_hwm_kib %ld\n", r.hub_rss_kib, r.hub_hwm_kib);
    status = 0;
out:
    for (unsigned k = 0; r.agents && k < r.nagents; k++) {
        if (r.agents[k].sender && status != 0)
            agent_sender_close(r.agents[k].sender);
    }
    if (loop_ok) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    for (unsigned k = 0; r.agents && k < r.nagents; k++) {
        agent_sender_destroy(&r.agents[k].sender);
        agent_outbox_close(&r.agents[k].ob);
        cdof_curve_destroy(&r.agents[k].curve);
    }
    free(r.agents);
    if (zctx)
        zmq_ctx_term(zctx);
    cdof_ref_destroy(&ref);
    return status;
}
