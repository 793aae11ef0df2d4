/* Alert latency: from an agent sending the row that completes a period to cdof-watch printing the
 * alert. This program speaks the ingest contract as an agent (a DEALER, routing id left to ZeroMQ,
 * one Envelope per update), runs a real cdof-watch with its standard output on a pipe, and times
 * each probe from just before zmq_send to the moment the watcher's line is read.
 *
 * The hub judges a period when its data is complete. So before timing anything, every probe's
 * month (the months after --period) is filled with every area but the probe area, and the hub
 * is left to store their (provisional) comparisons (health: no pending comparisons). Each probe
 * then sends the probe area's row, which completes its month: a value far below England (the
 * alert fires) or a typical one (the next complete month no longer meets the condition: it
 * resolves), alternately, so that every probe changes the alert's state. The time measured is
 * the hub's as deployed: no settle window is involved. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "cdof_curve.h"
#include "bench_data.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_store.h"
#include "cdof_wire.h"

#define WAIT_MS   5000 /* default per probe; a missing line is reported, not waited for */
#define WARMUP    20   /* attempts at the first alert while the watcher subscribes */
#define PROBE_MAX 10000

typedef struct {
    int fd;
    char buf[1 << 16];
    size_t len;
} lines_t;

/* Waits up to ms for a line containing all of want[0..n) (other lines are skipped). Returns 1
 * when found, 0 on time-out, -1 when the watcher's output ended. */
static int wait_line(lines_t *l, const char *const *want, int n, int ms)
{
    double deadline = bench_now() + ms / 1000.0;
    for (;;) {
        char *nl;
        while ((nl = memchr(l->buf, '\n', l->len))) {
            *nl = 0;
            int ok = 1;
            for (int i = 0; i < n && ok; i++)
                ok = strstr(l->buf, want[i]) != NULL;
            size_t used = (size_t)(nl - l->buf) + 1;
            memmove(l->buf, nl + 1, l->len - used);
            l->len -= used;
            if (ok)
                return 1;
        }
        double left = deadline - bench_now();
        if (left <= 0)
            return 0;
        struct pollfd p = {l->fd, POLLIN, 0};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        if (l->len == sizeof l->buf)
            l->len = 0; /* an absurd line: drop it */
        ssize_t got = read(l->fd, l->buf + l->len, sizeof l->buf - l->len);
        if (got <= 0)
            return -1;
        l->len += (size_t)got;
    }
}

/* Packs env and sends it as one frame. Returns 0 or a negative errno. */
static int send_envelope(void *sock, const Cdof__V1__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    if (cdof_wire_pack(&env->base, &buf, &len) < 0)
        return -ENOMEM;
    int rc = zmq_send(sock, buf, len, 0) < 0 ? -errno : 0;
    free(buf);
    return rc;
}

static int send_update(void *sock, const char *agent, uint64_t seq, const char *metric,
                       const char *area, const cdof_period_t *p, double num, double den)
{
    cdof_update_t u = {.metric_id = metric,
                       .area_code = area,
                       .period = *p,
                       .fig.has_numerator = true,
                       .fig.numerator = num,
                       .fig.has_denominator = true,
                       .fig.denominator = den};
    Cdof__V1__MetricUpdate mu = CDOF__V1__METRIC_UPDATE__INIT;
    Cdof__V1__Period per = CDOF__V1__PERIOD__INIT;
    cdof_wire_update_to_msg(&u, &mu, &per);
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.agent_id = (char *)agent;
    env.sequence = seq;
    env.body_case = CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE;
    env.metric_update = &mu;
    return send_envelope(sock, &env);
}

/* Asks the hub for this agent's committed high-water mark with a heartbeat, as an agent does on
 * connecting: the probes' sequences go on from it. Returns 0 or -ETIMEDOUT. */
static int hub_high_water(void *sock, const char *agent, uint64_t *high)
{
    Cdof__V1__Heartbeat hb = CDOF__V1__HEARTBEAT__INIT;
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.agent_id = (char *)agent;
    env.body_case = CDOF__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    if (send_envelope(sock, &env) < 0)
        return -EIO;
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 5000) <= 0)
        return -ETIMEDOUT;
    static uint8_t in[CDOF_WIRE_MAX_MESSAGE];
    int n = zmq_recv(sock, in, sizeof in, 0);
    char err[256];
    Cdof__V1__Ack *ack = n > 0 ? cdof_wire_ack_decode(in, (size_t)n, err, sizeof err) : NULL;
    if (!ack)
        return -EPROTO;
    *high = ack->high_water;
    cdof__v1__ack__free_unpacked(ack, NULL);
    return 0;
}

/* Waits until the hub has acknowledged up to seq (acks carry its committed high-water mark).
 * Returns 0 or -ETIMEDOUT. */
static int wait_acked(void *sock, uint64_t seq)
{
    static uint8_t in[CDOF_WIRE_MAX_MESSAGE];
    double deadline = bench_now() + 30;
    while (bench_now() < deadline) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 1000) <= 0)
            continue;
        int n = zmq_recv(sock, in, sizeof in, 0);
        char err[256];
        Cdof__V1__Ack *ack = n > 0 ? cdof_wire_ack_decode(in, (size_t)n, err, sizeof err) : NULL;
        uint64_t hw = ack ? ack->high_water : 0;
        if (ack)
            cdof__v1__ack__free_unpacked(ack, NULL);
        if (hw >= seq)
            return 0;
    }
    return -ETIMEDOUT;
}

/* The hub's pending comparisons (health), or -1 when it does not answer. */
static long long hub_pending(void *zctx, const char *query, const cdof_curve_t *curve)
{
    void *q = zmq_socket(zctx, ZMQ_DEALER);
    cdof_curve_apply(curve, q, NULL);
    int zero = 0;
    zmq_setsockopt(q, ZMQ_LINGER, &zero, sizeof zero);
    long long pending = -1;
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    req.request_id = 1;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_HEALTH;
    req.health = 1;
    uint8_t *buf;
    size_t len;
    if (zmq_connect(q, query) == 0 && cdof_wire_pack(&req.base, &buf, &len) == 0) {
        if (zmq_send(q, buf, len, 0) >= 0) {
            zmq_pollitem_t item = {q, 0, ZMQ_POLLIN, 0};
            static uint8_t in[1 << 16];
            int n = zmq_poll(&item, 1, 5000) > 0 ? zmq_recv(q, in, sizeof in, 0) : -1;
            Cdof__V1__QueryResponse *r = n > 0 && (size_t)n <= sizeof in
                                             ? cdof__v1__query_response__unpack(NULL, (size_t)n, in)
                                             : NULL;
            if (r && r->health)
                pending = (long long)r->health->pending_comparisons;
            if (r)
                cdof__v1__query_response__free_unpacked(r, NULL);
        }
        free(buf);
    }
    zmq_close(q);
    return pending;
}

/* The month k months after p. */
static cdof_period_t month_after(const cdof_period_t *p, int k)
{
    int y, m, d;
    cdof_civil_from_days(p->first_day, &y, &m, &d);
    int idx = y * 12 + (m - 1) + k, ny = idx / 12, nm = idx % 12 + 1;
    int32_t first = cdof_days_from_civil(ny, nm, 1);
    int32_t next =
        nm == 12 ? cdof_days_from_civil(ny + 1, 1, 1) : cdof_days_from_civil(ny, nm + 1, 1);
    return (cdof_period_t){CDOF_PERIOD_MONTH, first, next - 1};
}

static void drain_acks(void *sock)
{
    char buf[CDOF_WIRE_MAX_MESSAGE];
    while (zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
        ;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int n, double q)
{
    int i = (int)(q * (n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

/* The floor under every alert: one small fsynced LMDB commit on the hub's disk, timed n times
 * (milliseconds, sorted into lat). Returns how many were timed. */
static int commit_latency(const char *dir, double *lat, int n)
{
    char err[256];
    cdof_store_opts_t so = {.schema = "bench-commit", .schema_version = 1};
    cdof_store_t *store = NULL;
    cdof_store_db_t db;
    if (cdof_store_open(dir, &so, &store, err, sizeof err) < 0 ||
        cdof_store_db(store, "probe", &db) < 0) {
        fprintf(stderr, "bench_alert: %s\n", err);
        cdof_store_close(&store);
        return 0;
    }
    int got = 0;
    for (int i = 0; i < n; i++) {
        uint8_t key[8];
        cdof_store_be64(key, (uint64_t)i);
        cdof_store_txn_t *txn = NULL;
        double t0 = bench_now();
        if (cdof_store_begin(store, true, &txn) < 0 ||
            cdof_store_put(txn, db, key, sizeof key, "x", 1) < 0 || cdof_store_commit(&txn) < 0) {
            cdof_store_abort(&txn);
            break;
        }
        lat[got++] = (bench_now() - t0) * 1000;
    }
    cdof_store_close(&store);
    qsort(lat, (size_t)got, sizeof *lat, cmp_double);
    return got;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_alert --ingest EP --alerts EP --query EP --watch PATH "
                    "[--probes N] [--wait-ms MS] [--area CODE] [--period P] [--watch-log FILE] "
                    "[--commit-dir DIR] [--keys DIR] [-- WATCH-SECURITY-FLAGS...]\n"
                    "  --keys DIR: CURVE with DIR/hub.pub, DIR/bench-probe.key (a national key "
                    "registered as bench-probe) and DIR/bench-query.key (a reader's)\n");
}

int main(int argc, char **argv)
{
    const char *ingest = NULL, *alerts = NULL, *query = NULL, *watch = NULL, *log = "/dev/null";
    const char *area = "E06000009", *period_text = "2024-12", *metric = "continuity_of_care";
    const char *commit_dir = NULL, *keys = NULL;
    int probes = 200, wait_ms = WAIT_MS, i = 1;
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--ingest"))
            ingest = v;
        else if (!strcmp(k, "--alerts"))
            alerts = v;
        else if (!strcmp(k, "--query"))
            query = v;
        else if (!strcmp(k, "--watch"))
            watch = v;
        else if (!strcmp(k, "--watch-log"))
            log = v;
        else if (!strcmp(k, "--commit-dir"))
            commit_dir = v;
        else if (!strcmp(k, "--probes"))
            probes = atoi(v);
        else if (!strcmp(k, "--wait-ms"))
            wait_ms = atoi(v);
        else if (!strcmp(k, "--area"))
            area = v;
        else if (!strcmp(k, "--period"))
            period_text = v;
        else if (!strcmp(k, "--keys"))
            keys = v;
        else
            return usage(), 2;
    }
    int extra = i < argc && !strcmp(argv[i], "--") ? i + 1 : argc;
    cdof_period_t period;
    char err[256];
    if (!ingest || !alerts || !query || !watch || probes < 2 || probes > PROBE_MAX ||
        wait_ms < 100 || cdof_period_parse(period_text, &period, err, sizeof err) < 0)
        return usage(), 2;

    /* The watcher, its standard output on our pipe. */
    int fds[2];
    if (pipe(fds) < 0)
        return perror("pipe"), 1;
    char *wargv[64];
    int wn = 0;
    const char *fixed[] = {watch,     "--hub-alerts", alerts,     "--hub-query", query,
                           "--topic", "alert/",       "--format", "json"};
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
        wargv[wn++] = (char *)fixed[k];
    for (int k = extra; k < argc && wn < 62; k++)
        wargv[wn++] = argv[k];
    wargv[wn] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return perror("fork"), 1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        FILE *e = freopen(log, "a", stderr);
        (void)e;
        close(fds[0]);
        close(fds[1]);
        execv(watch, wargv);
        _exit(127);
    }
    close(fds[1]);
    static lines_t lines;
    lines.fd = fds[0];

    int status = 1;
    void *zctx = zmq_ctx_new(), *sock = zmq_socket(zctx, ZMQ_DEALER);
    const char *agent = "bench-probe";
    cdof_curve_t *pcurve = NULL, *qcurve = NULL;
    double *lat = calloc((size_t)probes, sizeof *lat);
    if (keys) {
        char key[1024], pub[1024];
        snprintf(pub, sizeof pub, "%s/hub.pub", keys);
        snprintf(key, sizeof key, "%s/bench-probe.key", keys);
        int rc = cdof_curve_open(false, false, key, pub, &pcurve, err, sizeof err);
        snprintf(key, sizeof key, "%s/bench-query.key", keys);
        if (rc < 0 || cdof_curve_open(false, false, key, pub, &qcurve, err, sizeof err) < 0) {
            fprintf(stderr, "bench_alert: %s\n", err);
            goto out;
        }
    }
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    cdof_curve_apply(pcurve, sock, NULL);
    if (!lat || zmq_connect(sock, ingest) < 0) {
        fprintf(stderr, "bench_alert: cannot connect to %s\n", ingest);
        goto out;
    }
    uint64_t seq = 0;
    if (hub_high_water(sock, agent, &seq) < 0) {
        fprintf(stderr, "bench_alert: the hub at %s does not answer\n", ingest);
        goto out;
    }
    const double den = 1000, bad = 5, good = 500, typical = 450;
    const char *firing[] = {"worse_than_england", area, "firing"};
    const char *resolved[] = {"worse_than_england", area, "resolved"};
    char err2[256];
    cdof_ref_t *ref = cdof_ref_load(cdof_ref_default_dir(), err2, sizeof err2);
    if (!ref) {
        fprintf(stderr, "bench_alert: reference data: %s\n", err2);
        goto out;
    }
    /* Every month a probe (or a warm-up attempt) completes, filled but for the probe area. */
    int months = probes + 2 * WARMUP;
    double t_fill = bench_now();
    for (int k = 1; k <= months; k++) {
        cdof_period_t mp = month_after(&period, k);
        for (size_t a = 0; a < cdof_ref_area_count(ref); a++) {
            const cdof_area_t *ar = cdof_ref_area_at(ref, a);
            if (ar->kind != CDOF_AREA_UTLA || !strcmp(ar->code, area))
                continue;
            if (send_update(sock, agent, ++seq, metric, ar->code, &mp, typical, den) < 0)
                goto out;
            /* Within the hub's limit of unacknowledged envelopes per agent. */
            if (seq % 256 == 0 && wait_acked(sock, seq) < 0) {
                fprintf(stderr, "bench_alert: the hub stopped acknowledging the fill\n");
                goto out;
            }
        }
    }
    if (wait_acked(sock, seq) < 0)
        goto out;
    double t_acked = bench_now();
    long long pending = -1;
    for (int w = 0; w < 600 && (pending = hub_pending(zctx, query, qcurve)) != 0; w++)
        usleep(100000);
    printf("filled %d months of %s but for %s: acknowledged in %.1f s, compared (provisional) "
           "%.1f s later%s\n",
           months, metric, area, t_acked - t_fill, bench_now() - t_acked,
           pending ? " (comparisons still pending)" : "");

    /* Warm-up: the watcher subscribes asynchronously; complete months until an alert gets
     * through, then resolve it so that the timed probes start from a quiet state. */
    int ok = 0, k = 0;
    for (int w = 0; w < WARMUP && ok != 1; w++) {
        cdof_period_t mp = month_after(&period, ++k);
        send_update(sock, agent, ++seq, metric, area, &mp, bad, den);
        ok = wait_line(&lines, firing, 3, wait_ms);
        if (ok < 0)
            break;
        mp = month_after(&period, ++k);
        send_update(sock, agent, ++seq, metric, area, &mp, good, den);
        if (ok == 1)
            ok = wait_line(&lines, resolved, 3, wait_ms);
    }
    if (ok != 1) {
        fprintf(stderr, "bench_alert: no alert for %s %s reached cdof-watch (log: %s)\n", metric,
                area, log);
        cdof_ref_destroy(&ref);
        goto out;
    }
    cdof_ref_destroy(&ref);
    int got = 0, missed = 0;
    for (int p = 0; p < probes; p++) {
        drain_acks(sock);
        bool fire = p % 2 == 0;
        cdof_period_t mp = month_after(&period, ++k);
        double t0 = bench_now();
        if (send_update(sock, agent, ++seq, metric, area, &mp, fire ? bad : good, den) < 0)
            break;
        int r = wait_line(&lines, fire ? firing : resolved, 3, wait_ms);
        if (r < 0)
            break;
        if (r == 0) {
            missed++;
            continue;
        }
        lat[got++] = (bench_now() - t0) * 1000;
    }
    if (got < 2) {
        fprintf(stderr, "bench_alert: only %d of %d probes produced an alert\n", got, probes);
        goto out;
    }
    qsort(lat, (size_t)got, sizeof *lat, cmp_double);
    printf("alert latency from the row completing its month: %d probes (%s %s, months after %s, "
           "alternately firing and resolving), %d missed: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           got, metric, area, period_text, missed, percentile(lat, got, 0.5),
           percentile(lat, got, 0.99), lat[got - 1]);
    printf("RESULT alert_p50_ms %.2f\nRESULT alert_p99_ms %.2f\n", percentile(lat, got, 0.5),
           percentile(lat, got, 0.99));
    /* The same-run floor: what one fsynced commit on this disk costs now. */
    int nc = commit_dir ? commit_latency(commit_dir, lat, probes) : 0;
    if (nc >= 2) {
        printf("one fsynced LMDB commit on the same disk, %d times: p50 %.2f ms, p99 %.2f ms\n", nc,
               percentile(lat, nc, 0.5), percentile(lat, nc, 0.99));
        printf("RESULT commit_p50_ms %.2f\nRESULT commit_p99_ms %.2f\n", percentile(lat, nc, 0.5),
               percentile(lat, nc, 0.99));
    }
    status = missed ? 1 : 0;
out:
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    free(lat);
    zmq_close(sock);
    zmq_ctx_term(zctx);
    cdof_curve_destroy(&pcurve);
    cdof_curve_destroy(&qcurve);
    return status;
}
