/* cdof-hub: the national hub. Wires the store, the contract and ZeroMQ together: ingest ROUTER,
 * alerts PUB, query ROUTER, one thread, one zmq_poll loop. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_config.h"
#include "cdof_curve.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_metrics.h"
#include "cdof_signal.h"
#include "cdof_wire.h"
#include "hub.h"
#include "hub_alerts.h"
#include "hub_auth.h"
#include "hub_db.h"
#include "hub_health.h"
#include "hub_ingest.h"
#include "hub_periods.h"
#include "hub_query.h"
#include "hub_results.h"
#include "hub_rules.h"
#include "hub_settle.h"
#include "hub_subs.h"

/* Sorted by name: --help lists them in this order (tests/unit/help_sorted.sh). */
static const cdof_opt_t OPTS[] = {
    {"alert-level", CDOF_OPT_STRING, "99.8", 0, 0, offsetof(hub_config_t, alert_level), "PCT",
     "confidence level of underperformance alerts: 95 or 99.8"},
    {"alerts", CDOF_OPT_STRING, "tcp://*:7401", 0, 0, offsetof(hub_config_t, alerts), "EP",
     "endpoint alerts are published on (PUB)"},
    {"check", CDOF_OPT_BOOL, "false", 0, 0, offsetof(hub_config_t, check), NULL,
     "with rebuild: compare a rebuild with the stored results and change nothing"},
    {"data", CDOF_OPT_STRING, NULL, 0, 0, offsetof(hub_config_t, data), "DIR",
     "directory of the national store (created if missing)"},
    {"ingest", CDOF_OPT_STRING, "tcp://*:7400", 0, 0, offsetof(hub_config_t, ingest), "EP",
     "endpoint agents send to (ROUTER)"},
    {"insecure", CDOF_OPT_BOOL, "false", 0, 0, offsetof(hub_config_t, insecure), NULL,
     "plain TCP without CURVE (logged as a warning)"},
    {"key", CDOF_OPT_STRING, NULL, 0, 0, offsetof(hub_config_t, key), "FILE",
     "the hub's secret key (NAME.key from cdof-keygen, mode 0600)"},
    {"keys", CDOF_OPT_STRING, NULL, 0, 0, offsetof(hub_config_t, keys), "FILE",
     "key registry: public_key,id,role[,partnership|team[,areas|region]] (SIGHUP reloads)"},
    {"log-file", CDOF_OPT_STRING, NULL, 0, 0, offsetof(hub_config_t, log_file), "FILE",
     "append log lines here instead of stderr (reopened on SIGHUP)"},
    {"log-level", CDOF_OPT_STRING, "info", 0, 0, offsetof(hub_config_t, log_level), "LEVEL",
     "error, warn, info or debug"},
    {"metrics", CDOF_OPT_STRING, NULL, 0, 0, offsetof(hub_config_t, metrics), "HOST:PORT",
     "serve the health counters to Prometheus at http://HOST:PORT/metrics (default: off)"},
    {"no-sync", CDOF_OPT_BOOL, "false", 0, 0, offsetof(hub_config_t, no_sync), NULL,
     "do not fsync commits (benchmarks only: loses acknowledged data on power loss)"},
    {"partnerships", CDOF_OPT_STRING, NULL, 0, 0, offsetof(hub_config_t, partnerships), "FILE",
     "CSV partnership,area_code joining areas into partnerships (default: each its own)"},
    {"period-tolerance-days", CDOF_OPT_INT, "1", 0, 31,
     offsetof(hub_config_t, period_tolerance_days), "DAYS",
     "a period may arrive once it has begun, this many days of clock difference allowed"},
    {"periods", CDOF_OPT_STRING, NULL, 0, 0, offsetof(hub_config_t, periods), "FILE",
     "CSV metric_id,threshold_percent,deadline_days: when periods complete without every area "
     "(default 90% by 30 days after the period)"},
    {"query", CDOF_OPT_STRING, "tcp://*:7402", 0, 0, offsetof(hub_config_t, query), "EP",
     "endpoint for queries (ROUTER)"},
    {"query-cpu-ms", CDOF_OPT_INT, "250", 0, HUB_QUERY_CPU_MAX_MS,
     offsetof(hub_config_t, query_cpu_ms), "MS",
     "hub CPU time one key's queries may use per second; a key over it waits behind the others "
     "(0: no limit)"},
    {"refdir", CDOF_OPT_STRING, NULL, 0, 0, offsetof(hub_config_t, refdir), "DIR",
     "reference data directory (default: installed copy)"},
    {"rules", CDOF_OPT_STRING, NULL, 0, 0, offsetof(hub_config_t, rules), "FILE",
     "alert rules (INI, see deploy/rules.example.ini); default: worse than England and region"},
    {"settle-ms", CDOF_OPT_INT, "1500", 0, HUB_SETTLE_MAX_MS, offsetof(hub_config_t, settle_ms),
     "MS",
     "quiet time before a revision of a complete period is judged again (0: at once); a "
     "period is judged as the row completing it commits"},
    {"silence-max-days", CDOF_OPT_INT, "90", 1, 3660, offsetof(hub_config_t, silence_max_days),
     "DAYS", "the longest a silence may last"},
};

static const cdof_config_spec_t SPEC = {
    "cdof-hub",
    "cdof-hub --data DIR [--ingest EP] [--alerts EP] [--query EP]\n"
    "         (--keys FILE --key FILE | --insecure)\n"
    "       cdof-hub backup --data DIR DEST\n"
    "       cdof-hub verify --data DIR        (check a store or a backup; changes nothing)\n"
    "       cdof-hub rebuild --data DIR [--check]   (recompute every stored comparison)",
    "the national hub: stores what agents send, compares areas, publishes alerts", OPTS,
    sizeof OPTS / sizeof OPTS[0]};

static volatile sig_atomic_t stop_requested, reopen_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reopen_requested = 1;
    else
        stop_requested = 1;
}

/* ZMTP PING on the hub's ROUTER sockets, and how long a connection may stay silent after one. */
#define HUB_LISTEN_BACKLOG    1024 /* connections awaiting accept: every agent at once, with room */
#define HUB_ZMTP_HEARTBEAT_MS 2000
#define HUB_ZMTP_TIMEOUT_MS   6000

/* domain: the ZAP domain, which tells the handler which socket a client is connecting to. */
static void *open_socket(hub_t *hub, int type, const char *ep, const char *what, const char *domain)
{
    void *s = zmq_socket(hub->zctx, type);
    if (!s)
        return NULL;
    if (cdof_curve_apply(hub->curve, s, domain) < 0) {
        cdof_log_error("cannot set CURVE on the %s socket: %s", what, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    int64_t maxmsg = CDOF_WIRE_MAX_MESSAGE;
    uint64_t affinity = type == ZMQ_XPUB ? 4 : !strcmp(domain, "query") ? 2 : 1;
    zmq_setsockopt(s, ZMQ_AFFINITY, &affinity, sizeof affinity);
    /* Every partnership reconnects at once after a hub restart: with ZeroMQ's default listen
     * queue (100) the excess handshakes are dropped and each waits a second or more for its SYN
     * to be sent again. The kernel caps this at net.core.somaxconn. */
    int linger = 1000, hwm = 100000, backlog = HUB_LISTEN_BACKLOG;
    zmq_setsockopt(s, ZMQ_BACKLOG, &backlog, sizeof backlog);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (type == ZMQ_ROUTER) {
        /* Replies go to the connection a message came from, under the routing id ZeroMQ gave it.
         * No ZMQ_ROUTER_HANDOVER: with it, any client could claim a connection's routing id (an
         * agent's own id, as agents before 0.9 chose, or a guessed generated one) and take its
         * replies; without it a claim on a live connection's id is ignored. ZMTP heartbeats end
         * connections that went silent (a cut link), so an agent that still names its connection
         * gets its name back within HUB_ZMTP_TIMEOUT_MS of reconnecting. */
        int ivl = HUB_ZMTP_HEARTBEAT_MS, timeout = HUB_ZMTP_TIMEOUT_MS;
        zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    }
    int rc;
    if (type == ZMQ_XPUB && (rc = hub_subs_open(hub, s)) < 0) {
        cdof_log_error("cannot watch the %s socket's subscriptions: %s", what, zmq_strerror(-rc));
        zmq_close(s);
        hub->pub = NULL;
        return NULL;
    }
    if (zmq_bind(s, ep) < 0) {
        cdof_log_error("cannot bind %s endpoint %s: %s", what, ep, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    cdof_log_info("%s on %s", what, ep);
    return s;
}

static int open_store(hub_t *hub, bool read_only, char *err, size_t errlen)
{
    cdof_store_opts_t so = {.schema = "hub",
                            .schema_version = HUB_SCHEMA_VERSION,
                            .read_only = read_only,
                            .no_sync = hub->cfg.no_sync,
                            .identity = !read_only};
    int rc = cdof_store_open(hub->cfg.data, &so, &hub->store, err, errlen);
    if (rc < 0 || read_only)
        return rc;
    if ((rc = hub_db_open(hub->store, &hub->db)) < 0) {
        snprintf(err, errlen, "%s: cannot open databases: %s", hub->cfg.data, cdof_strerror(rc));
        return rc;
    }
    return 0;
}

static int run_backup(hub_t *hub, const char *dest)
{
    char err[512];
    /* The copy holds every area's figures: readable by the hub's account only (LMDB creates
     * data.mdb with mode 0666 less the umask). */
    umask(077);
    if (mkdir(dest, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "cdof-hub: cannot create %s: %s\n", dest, strerror(errno));
        return 1;
    }
    int rc = open_store(hub, true, err, sizeof err);
    if (rc == 0)
        rc = cdof_store_backup(hub->store, dest, err, sizeof err);
    cdof_store_close(&hub->store);
    if (rc < 0) {
        fprintf(stderr, "cdof-hub: backup failed: %s\n", err[0] ? err : cdof_strerror(rc));
        return 1;
    }
    printf("backup of %s written to %s\n", hub->cfg.data, dest);
    return 0;
}

/* Checks a store or a backup (cdof_store_check) and says what it found. Exit status 0 when it
 * checks, 1 when it does not. */
static int run_verify(const char *dir)
{
    char err[1024] = "";
    cdof_store_check_t chk;
    int rc = cdof_store_check(dir, &chk, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "cdof-hub: verify: %s\n", err[0] ? err : cdof_strerror(rc));
        if (rc == CDOF_ECORRUPT)
            fprintf(stderr, "cdof-hub: do not start a hub on it: restore the latest backup that "
                            "verifies, then let the agents resend (deploy/OPERATIONS.md)\n");
        return 1;
    }
    printf("%s: ok: store %s, transaction %llu, %u databases, %llu records, %llu of %llu bytes "
           "used\n",
           dir, chk.store_id[0] ? chk.store_id : "(no id)", (unsigned long long)chk.txn, chk.dbs,
           (unsigned long long)chk.entries, (unsigned long long)chk.used,
           (unsigned long long)chk.file_size);
    return 0;
}

/* The strategy's commitments (refdir/commitments.csv) into hub->commitments. Optional: without
 * the file the national summary shows no commitment column and no count has a trajectory. A
 * malformed file is an error, named by line and field in err. */
static int load_commitments(hub_t *hub, const char *refdir, char *err, size_t errlen)
{
    char cpath[4096];
    snprintf(cpath, sizeof cpath, "%s/commitments.csv", refdir);
    int rc = cdof_commitments_load(cpath, hub->ref, &hub->commitments, err, errlen);
    if (rc == CDOF_ENOTFOUND) {
        cdof_log_info("no %s: national summary and counts without commitments", cpath);
        rc = 0;
    }
    return rc;
}

/* Recomputes every stored comparison in one transaction; with --check compares instead. The
 * store's lock refuses this while a hub runs on the same directory. */
static int run_rebuild(hub_t *hub)
{
    char diff[512] = "", err[512] = "";
    const char *refdir = hub->cfg.refdir ? hub->cfg.refdir : cdof_ref_default_dir();
    if (!(hub->ref = cdof_ref_load(refdir, err, sizeof err))) {
        fprintf(stderr, "cdof-hub: reference data: %s\n", err);
        return 1;
    }
    int rc = load_commitments(hub, refdir, err, sizeof err);
    if (rc == 0)
        rc = open_store(hub, false, err, sizeof err);
    if (rc == 0)
        rc = hub_results_open(hub, hub->cfg.partnerships, err, sizeof err);
    /* A check first settles the marks still pending, as a running hub would. */
    if (rc == 0 && hub->cfg.check)
        rc = hub_settle_open(hub);
    if (rc < 0) {
        fprintf(stderr, "cdof-hub: %s\n", err[0] ? err : cdof_strerror(rc));
        return 1;
    }
    uint64_t rows = 0, made = 0;
    /* Rows read the period states: a store from before them gets them first. */
    if (!hub->cfg.check && (rc = hub_periods_adopt(hub, &made)) < 0) {
        fprintf(stderr, "cdof-hub: period states: %s\n", cdof_strerror(rc));
        return 1;
    }
    rc = hub_results_rebuild_all(hub, hub->cfg.check, diff, sizeof diff, &rows);
    if (rc < 0) {
        cdof_log_error("rebuild failed: %s", cdof_strerror(rc));
        return 1;
    }
    if (hub->cfg.check)
        printf("%s: %s\n", rc == 0 ? "equal" : "different", diff);
    else
        printf("rebuilt %llu comparison rows in %s\n", (unsigned long long)rows, hub->cfg.data);
    return rc == 0 ? 0 : 1;
}

/* Stored rows from before stored comparisons existed, or computed with other partnerships or
 * commitments, are rebuilt before anything is served. */
static int refresh_results(hub_t *hub)
{
    cdof_store_txn_t *txn = NULL;
    bool stale = false;
    const char *why = "";
    uint64_t rows = 0, made = 0;
    int rc = hub_periods_adopt(hub, &made);
    if (rc < 0)
        return rc;
    if (made)
        cdof_log_info("made period states for the %llu metric-periods of a store from before them",
                      (unsigned long long)made);
    rc = cdof_store_begin(hub->store, false, &txn);
    if (rc == 0)
        rc = hub_results_stale(hub, txn, &stale, &why);
    cdof_store_abort(&txn);
    if (rc < 0 || !stale)
        return rc;
    cdof_log_info("%s: rebuilding them", why);
    rc = hub_results_rebuild_all(hub, false, NULL, 0, &rows);
    if (rc == 0)
        cdof_log_info("rebuilt %llu comparison rows", (unsigned long long)rows);
    return rc;
}

/* How often the hub frees reader slots of killed processes and records its identity. */
#define HUB_HYGIENE_MS 10000

/* A failing store is logged when its state changes, not at every attempt: a full disk fails each
 * batch the agents resend and each alert tick until room is made. Only a committed batch says
 * writes succeed again (a tick or a quiet turn may have written nothing), and after a full disk
 * only once there is room. */
static void store_state(hub_t *hub, int rc, const char *what)
{
    if (rc == hub->store_fault)
        return;
    /* A batch that wrote nothing (resent entries already stored) commits on a full disk too. */
    if (rc == 0 && hub->store_fault == -ENOSPC && cdof_store_disk_full(hub->store))
        return;
    if (rc == 0) {
        cdof_log_info("store %s: writes succeed again; agents' resent rows are being committed",
                      hub->cfg.data);
    } else if (rc == -ENOSPC) {
        cdof_log_error("store %s: the disk is full (%s: %s): nothing more is acknowledged and "
                       "agents keep their rows; free space on the filesystem holding %s and the "
                       "hub resumes by itself (said once until the state changes)",
                       hub->cfg.data, what, cdof_strerror(rc), hub->cfg.data);
    } else {
        cdof_log_error("%s: %s (nothing unwritten is acknowledged; said once until the state "
                       "changes)",
                       what, cdof_strerror(rc));
    }
    hub->store_fault = rc;
}

/* A reader killed while it held a read transaction (cdof-hub backup under a timer's timeout or
 * the OOM killer) pins every page freed after it began: the store grows with each commit until
 * its slot is freed. LMDB frees such slots only when asked. */
static int store_hygiene(hub_t *hub)
{
    int n = cdof_store_reader_check(hub->store);
    if (n == -EIO) {
        cdof_log_error("store %s cannot be used any more (its map was lost or LMDB reported a "
                       "fatal error): stopping (nothing unwritten was acknowledged; start the hub "
                       "again)",
                       hub->cfg.data);
        return n;
    }
    if (n > 0)
        cdof_log_warn("store %s: cleared %d reader slot%s left by killed processes (their "
                      "pages are reused again)",
                      hub->cfg.data, n, n == 1 ? "" : "s");
    else if (n < 0)
        cdof_log_error("store %s: reader check failed: %s", hub->cfg.data, cdof_strerror(n));
    int rc = cdof_store_identity_save(hub->store);
    if (rc < 0)
        store_state(hub, rc, "store identity");
    return 0;
}

static int serve(hub_t *hub, cdof_metrics_t *metrics)
{
    bool subs_waiting = false;
    int queries_wait_ms = -1; /* hub_query_serve(): -1 none waiting, else when to serve again */
    /* The metrics endpoint is one more descriptor in the same poll: scrapes are answered in
     * this thread, between batches, so they read the counters without locks. */
    int metrics_fd = metrics ? cdof_metrics_fd(metrics) : -1;
    int64_t next_hygiene = cdof_clock_mono_ms() + HUB_HYGIENE_MS;
    enum { I_INGEST, I_QUERY, I_PUB, I_METRICS, I_ZAP, I_REOPEN, I_SUBS, I_WORKER, I_COUNT };
    while (!stop_requested) {
        if (reopen_requested) {
            reopen_requested = 0;
            if (hub->cfg.log_file)
                cdof_log_open(hub->cfg.log_file);
            cdof_log_info("SIGHUP: log reopened");
            hub_auth_reload(hub);
        }
        /* The sockets polled, without the absent ones (a NULL socket would be fd 0). The alert
         * socket (XPUB) is polled as a socket: zmq_poll processes its commands (pipe
         * terminations while the endpoint is reopened, a subscriber gone), and it is readable
         * when subscriptions wait. */
        void *const socks[I_COUNT] = {[I_INGEST] = hub->ingest,
                                      [I_QUERY] = hub->query,
                                      [I_PUB] = hub->pub,
                                      [I_ZAP] = hub->zap,
                                      [I_REOPEN] = hub->reopen_mon,
                                      [I_SUBS] = hub_subs_monitor(hub),
                                      [I_WORKER] = hub_query_worker_socket(hub)};
        zmq_pollitem_t items[I_COUNT];
        int at[I_COUNT], nitems = 0;
        for (int i = 0; i < I_COUNT; i++) {
            at[i] = socks[i] || (i == I_METRICS && metrics) ? nitems : -1;
            if (socks[i])
                items[nitems++] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
            else if (at[i] >= 0)
                items[nitems++] = (zmq_pollitem_t){NULL, metrics_fd, ZMQ_POLLIN, 0};
        }
        /* Not longer than the tick's next work: settled comparisons are due on time, and
         * those left over from a tick's budget go on at the next turn. */
        int wait_ms = subs_waiting ? 0 : hub_settle_wait_ms(hub);
        if (queries_wait_ms >= 0 && (wait_ms < 0 || queries_wait_ms < wait_ms))
            wait_ms = queries_wait_ms;
        if (metrics && (wait_ms < 0 || wait_ms > 1000))
            wait_ms = 1000; /* idle scrape connections time out */
        if (hub->reopening) {
            int64_t left = hub->reopen_by_ms - cdof_clock_mono_ms();
            if (left < wait_ms)
                wait_ms = left > 0 ? (long)left : 0;
        }
        int n = zmq_poll(items, nitems, wait_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            cdof_log_error("poll failed: %s", zmq_strerror(errno));
            return -errno;
        }
#define READY(i) (at[i] >= 0 && (items[at[i]].revents & ZMQ_POLLIN))
        if (hub->reopening)
            hub_auth_reopen_step(hub);
        if (cdof_clock_mono_ms() >= next_hygiene) {
            if (store_hygiene(hub) < 0)
                return -EIO;
            next_hygiene = cdof_clock_mono_ms() + HUB_HYGIENE_MS;
        }
        /* Subscriptions every turn: cheap when none wait, and their monitor is watched again
         * here once a reopening of the endpoint is over. */
        subs_waiting = hub_subs_handle(hub);
        /* Handshakes first: a client waits on them, and they are cheap. */
        if (READY(I_ZAP))
            hub_auth_handle(hub);
        if (READY(I_WORKER))
            hub_query_worker_done(hub);
        bool ingest_busy = READY(I_INGEST);
        if (ingest_busy) {
            int rc = hub_ingest_batch(hub);
            if (rc > 0)
                store_state(hub, 0, "ingest");
            else if (rc < 0 && rc != CDOF_EMAPFULL)
                store_state(hub, rc, "ingest");
        }
        /* Rules that depend on time (agent silent, overdue data and milestones). */
        int trc = hub_settle_tick(hub, ingest_busy);
        if (trc == 0)
            hub_publish(hub);
        else if (trc != CDOF_EMAPFULL)
            store_state(hub, trc, "alert rules");
        /* Queries in turn, a key at a time, read queries on the worker thread, the others
         * within a budget per turn: a flood of queries cannot starve ingest, nor one key the
         * others. */
        if (READY(I_QUERY)) {
            int qrc = hub_query_take(hub);
            if (qrc < 0)
                cdof_log_error("query: %s", zmq_strerror(-qrc));
        }
        queries_wait_ms = hub_query_serve(hub, HUB_QUERY_TURN_MS);
        if (metrics)
            cdof_metrics_run(metrics);
#undef READY
    }
    return 0;
}

int main(int argc, char **argv)
{
    hub_t hub;
    memset(&hub, 0, sizeof hub);
    cdof_strlist_t pos = {0};
    cdof_metrics_t *metrics = NULL;
    hub_rules_t *rules = NULL;
    char err[512] = "";
    int status = 1;
    /* Held until the handlers are in place (cdof_signal.h): the hub listens well before then. */
    cdof_signal_hold();
    cdof_log_init("cdof-hub", CDOF_LOG_INFO);
    int rc = cdof_config_parse(&SPEC, &hub.cfg, argc, argv, &pos, err, sizeof err);
    if (rc == CDOF_CONFIG_EXIT) {
        status = 0;
        goto out;
    }
    if (rc < 0) {
        fprintf(stderr, "cdof-hub: %s\n", err);
        status = 2;
        goto out;
    }
    cdof_log_level_t level;
    if (cdof_log_level_parse(hub.cfg.log_level, &level) < 0) {
        fprintf(stderr, "cdof-hub: --log-level: '%s' is not error, warn, info or debug\n",
                hub.cfg.log_level);
        status = 2;
        goto out;
    }
    cdof_log_init("cdof-hub", level);
    if (hub.cfg.log_file && cdof_log_open(hub.cfg.log_file) < 0) {
        fprintf(stderr, "cdof-hub: cannot open log file %s\n", hub.cfg.log_file);
        goto out;
    }
    if (!hub.cfg.data) {
        fprintf(stderr, "cdof-hub: --data DIR is required (see --help)\n");
        status = 2;
        goto out;
    }
    if (pos.count)
        cdof_signal_release(); /* backup, rebuild: a stop signal acts at once, as before */
    if (pos.count >= 1 && strcmp(pos.items[0], "backup") == 0) {
        if (pos.count != 2) {
            fprintf(stderr, "cdof-hub: usage: cdof-hub backup --data DIR DEST\n");
            status = 2;
            goto out;
        }
        status = run_backup(&hub, pos.items[1]);
        goto out;
    }
    if (pos.count == 1 && strcmp(pos.items[0], "verify") == 0) {
        status = run_verify(hub.cfg.data);
        goto out;
    }
    if (pos.count == 1 && strcmp(pos.items[0], "rebuild") == 0) {
        status = run_rebuild(&hub);
        goto out;
    }
    if (pos.count) {
        fprintf(stderr, "cdof-hub: unexpected argument '%s' (see --help)\n", pos.items[0]);
        status = 2;
        goto out;
    }
    if (strcmp(hub.cfg.alert_level, "95") == 0) {
        hub.alert_confidence = 0.95;
    } else if (strcmp(hub.cfg.alert_level, "99.8") == 0) {
        hub.alert_confidence = 0.998;
    } else {
        fprintf(stderr, "cdof-hub: --alert-level: '%s' is not 95 or 99.8\n", hub.cfg.alert_level);
        status = 2;
        goto out;
    }
    if (hub.cfg.insecure ? hub.cfg.keys != NULL : !hub.cfg.keys) {
        fprintf(stderr, "cdof-hub: %s\n",
                hub.cfg.insecure ? "--insecure excludes --keys"
                                 : "--keys FILE (the key registry) is required, or --insecure "
                                   "for plain TCP");
        status = 2;
        goto out;
    }
    if ((rc = cdof_curve_open(hub.cfg.insecure, true, hub.cfg.key, NULL, &hub.curve, err,
                              sizeof err)) < 0) {
        fprintf(stderr, "cdof-hub: %s\n", err);
        status = rc == CDOF_EINVALID ? 2 : 1;
        goto out;
    }

    const char *refdir = hub.cfg.refdir ? hub.cfg.refdir : cdof_ref_default_dir();
    if (!(hub.ref = cdof_ref_load(refdir, err, sizeof err))) {
        cdof_log_error("reference data: %s", err);
        goto out;
    }
    if (load_commitments(&hub, refdir, err, sizeof err) < 0) {
        cdof_log_error("reference data: %s", err);
        goto out;
    }
    if (hub.cfg.rules) {
        if (hub_rules_load(hub.cfg.rules, hub.ref, hub.alert_confidence, &rules, err, sizeof err) <
            0) {
            fprintf(stderr, "cdof-hub: --rules: %s\n", err);
            status = 2;
            goto out;
        }
    } else if (!(rules = hub_rules_default(hub.ref, hub.alert_confidence))) {
        cdof_log_error("out of memory");
        goto out;
    }
    cdof_log_info("%zu alert rule(s)%s%s", hub_rules_count(rules), hub.cfg.rules ? " from " : "",
                  hub.cfg.rules ? hub.cfg.rules : "");
    if (mkdir(hub.cfg.data, 0700) < 0 && errno != EEXIST) {
        cdof_log_error("cannot create %s: %s", hub.cfg.data, strerror(errno));
        goto out;
    }
    if ((rc = open_store(&hub, false, err, sizeof err)) < 0) {
        cdof_log_error("%s", err[0] ? err : cdof_strerror(rc));
        goto out;
    }
    if ((rc = hub_results_open(&hub, hub.cfg.partnerships, err, sizeof err)) < 0) {
        cdof_log_error("%s", err[0] ? err : cdof_strerror(rc));
        goto out;
    }
    if ((rc = refresh_results(&hub)) < 0) {
        cdof_log_error("cannot build stored comparisons: %s", cdof_strerror(rc));
        goto out;
    }
    hub.started_ms = cdof_clock_now_ms();
    rc = hub_alerts_open(hub.store, hub.ref, rules, hub.cfg.silence_max_days, &hub.alerts);
    rules = NULL; /* the alerts own them now */
    if (rc == 0)
        rc = hub_settle_open(&hub);
    if (rc < 0) {
        cdof_log_error("cannot read alerts: %s", cdof_strerror(rc));
        goto out;
    }
    hub.zctx = zmq_ctx_new();
    if (!hub.zctx)
        goto out;
    /* One ZeroMQ I/O thread per endpoint (ZMQ_AFFINITY in open_socket): a flood of
     * subscriptions or queries is decrypted and framed on its own thread, not on ingest's. */
    zmq_ctx_set(hub.zctx, ZMQ_IO_THREADS, 3);
    if ((rc = hub_auth_open(&hub, err, sizeof err)) < 0) {
        cdof_log_error("%s", err);
        goto out;
    }
    if (!(hub.ingest = open_socket(&hub, ZMQ_ROUTER, hub.cfg.ingest, "ingest", "ingest")) ||
        !(hub.pub = open_socket(&hub, ZMQ_XPUB, hub.cfg.alerts, "alerts", "alerts")) ||
        !(hub.query = open_socket(&hub, ZMQ_ROUTER, hub.cfg.query, "queries", "query")))
        goto out;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if ((rc = cdof_signal_release()) < 0)
        cdof_log_warn("cannot unblock the stop signals: %s", strerror(-rc));
    cdof_log_info("ready: store %s, %zu metrics, %zu areas, next alert #%llu", hub.cfg.data,
                  cdof_ref_metric_count(hub.ref), cdof_ref_area_count(hub.ref),
                  (unsigned long long)hub_alerts_next_sequence(hub.alerts));
    if (hub.cfg.metrics) {
        if ((rc = cdof_metrics_open(hub.cfg.metrics, hub_health_metrics, &hub, &metrics, err,
                                    sizeof err)) < 0) {
            cdof_log_error("%s", err);
            status = rc == CDOF_EINVALID ? 2 : 1;
            goto out;
        }
        cdof_log_info("metrics: http://%s/metrics (Prometheus text format)", hub.cfg.metrics);
    }
    if (serve(&hub, metrics) == 0)
        status = 0;
    cdof_log_info(
        "stopping: %llu ingested, %llu duplicates, %llu rejected, %llu commits, "
        "%llu alerts",
        (unsigned long long)hub.counters.ingested, (unsigned long long)hub.counters.duplicates,
        (unsigned long long)hub.counters.rejected, (unsigned long long)hub.counters.commits,
        (unsigned long long)hub.counters.alerts);
out:
    cdof_metrics_close(&metrics);
    if (hub.ingest)
        zmq_close(hub.ingest);
    hub_subs_close(&hub);
    hub_query_close(&hub);
    if (hub.pub)
        zmq_close(hub.pub);
    if (hub.query)
        zmq_close(hub.query);
    hub_auth_close(&hub);
    cdof_curve_destroy(&hub.curve);
    if (hub.zctx)
        zmq_ctx_term(hub.zctx);
    hub_batch_destroy(&hub.batch);
    hub_settle_close(&hub);
    hub_alerts_destroy(&hub.alerts);
    hub_results_close(&hub);
    hub_db_close(&hub.db);
    cdof_store_close(&hub.store);
    cdof_commitments_destroy(&hub.commitments);
    hub_rules_destroy(&rules);
    cdof_ref_destroy(&hub.ref);
    cdof_config_free(&SPEC, &hub.cfg);
    cdof_strlist_free(&pos);
    cdof_log_open(NULL);
    return status;
}
