/* cdof-watch: follows the hub's alerts, prints each once in sequence order, and notifies people
 * through receivers (email, webhooks, a command) grouped and routed by --receivers FILE.
 *
 * Every alert is taken durably (its group memberships and notices queued in the watcher's LMDB
 * store, with the last sequence, in one transaction) before the next is looked at; notices are
 * then attempted with back-off until delivered or expired (watch_notify.h).
 *
 * The zguide's Clone pattern: subscribe first, then ask the query endpoint for every stored alert
 * after the last sequence seen, deliver those, then follow the stream dropping what is already
 * delivered. A sequence that jumps past last + 1 may be a lost message or merely alerts for
 * other topics, so the hub is asked again; whatever it does not return is accepted as it comes. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include <dirent.h>

#include "cdof_clock.h"
#include "cdof_config.h"
#include "cdof_client.h"
#include "cdof_client_alert.h"
#include "cdof_curve.h"
#include "cdof_error.h"
#include "cdof_link.h"
#include "cdof_log.h"
#include "cdof_zmq.h"
#include "cdof_metrics.h"
#include "cdof_ref.h"
#include "cdof_signal.h"
#include "cdof_wire.h"
#include "watch_conf.h"
#include "watch_notify.h"
#include "watch_queue.h"
#include "watch_send.h"

#define PROGRAM "cdof-watch"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define DEFAULT_TOPIC    "alert/"
#define MAX_PAGES        10000 /* pages followed in one catch-up */
#define CATCH_UP_RESENDS 3     /* asks again when the link to the hub is made anew meanwhile */
#define POLL_MS          500   /* how often the main loop looks at the stop flag */
#define DELIVER_BATCH    16    /* notices attempted in one round of the delivery thread */
#define DELIVER_IDLE_MS  200   /* the delivery thread's pause after a round with nothing to try */
#define COUNTERS_MS      60000 /* the counters are logged at most this often, when they change */

typedef struct {
    char *data;
    char *exec;
    long exec_timeout_ms;
    char *format;
    char *hub_alerts;
    char *hub_query;
    bool insecure;
    char *state;
    long timeout_ms;
    cdof_strlist_t topics;
    bool show_muted;        /* also show and --exec alerts muted at the hub */
    long resync_ms;         /* quiet this long: ask the hub for anything missed */
    char *key, *server_key; /* CURVE key files */
    char *metrics;          /* HOST:PORT for Prometheus; NULL: off */
    char *receivers;
} watch_cfg_t;

static const cdof_opt_t watch_opts[] = {
    /* Sorted by name: one table drives parsing and --help (tests/unit/help_sorted.sh). */
    {"data", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, data), "DIR",
     "the durable store: last sequence, groups, notices (default FILE.d of --state)"},
    {"exec", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, exec), "CMD",
     "run 'sh -c CMD' per alert, the alert as JSON on its stdin, until it exits 0 (retried)"},
    {"exec-timeout-ms", CDOF_OPT_INT, "10000", 1, 3600000, offsetof(watch_cfg_t, exec_timeout_ms),
     "N", "kill an --exec command still running after N ms"},
    {"format", CDOF_OPT_STRING, "text", 0, 0, offsetof(watch_cfg_t, format), "text|json",
     "one line of text, or one JSON object, per alert"},
    {"hub-alerts", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, hub_alerts), "EP",
     "the hub's alert endpoint, e.g. tcp://hub.example:7401 (required)"},
    {"hub-query", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, hub_query), "EP",
     "the hub's query endpoint, e.g. tcp://hub.example:7402 (required)"},
    {"insecure", CDOF_OPT_BOOL, "false", 0, 0, offsetof(watch_cfg_t, insecure), NULL,
     "plain TCP without CURVE (logged as a warning)"},
    {"key", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, key), "FILE",
     "this watcher's secret key (NAME.key from cdof-keygen, mode 0600)"},
    {"metrics", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, metrics), "HOST:PORT",
     "serve the delivery counters to Prometheus at http://HOST:PORT/metrics (default: off)"},
    {"receivers", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, receivers), "FILE",
     "receivers, routes and delivery policy (INI; OPERATIONS.md, \"Alerts to people\")"},
    /* Alerts published before the subscription reached the hub (a CURVE handshake takes a
     * moment), while the hub made subscribers reconnect, or a lost last message, are otherwise
     * only noticed when a later alert shows the gap. */
    {"resync-ms", CDOF_OPT_INT, "5000", 100, 3600000, offsetof(watch_cfg_t, resync_ms), "N",
     "ask the hub for anything missed after N ms without an alert (a lost last message)"},
    {"server-key", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, server_key), "FILE",
     "the hub's public key (hub.pub)"},
    {"show-muted", CDOF_OPT_BOOL, "false", 0, 0, offsetof(watch_cfg_t, show_muted), NULL,
     "also print (and --exec) alerts a silence or an inhibition muted"},
    {"state", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, state), "FILE",
     "resume from the store FILE.d (FILE, an older watcher's last sequence, is read once)"},
    {"timeout-ms", CDOF_OPT_INT, "5000", 1, 3600000, offsetof(watch_cfg_t, timeout_ms), "N",
     "how long to wait for each answer from the query endpoint"},
    {"topic", CDOF_OPT_LIST, NULL, 0, 0, offsetof(watch_cfg_t, topics), "PREFIX",
     "follow alerts whose topic starts with PREFIX; repeatable (default alert/)"},
};

static const cdof_config_spec_t watch_spec = {
    .program = PROGRAM,
    .usage = PROGRAM " --hub-alerts EP --hub-query EP [--topic PREFIX]... [--data DIR]\n"
                     "       [--format text|json] [--exec CMD] [--receivers FILE]\n"
                     "       [--metrics HOST:PORT] (--key FILE --server-key FILE | --insecure)\n"
                     "       " PROGRAM " status --data DIR [--format text|json]\n"
                     "       " PROGRAM " check --receivers FILE",
    .summary = "follow the cdof hub's alerts, each printed once and in order, and notify people",
    .opts = watch_opts,
    .nopts = sizeof watch_opts / sizeof watch_opts[0],
};

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct {
    watch_cfg_t cfg;
    bool json;
    cdof_ref_t *ref; /* for area names and units; NULL when the reference data did not load */
    void *ctx, *sub;
    cdof_client_t *query;      /* the query endpoint, for catch-up */
    cdof_link_t *sub_link;     /* the socket monitor of sub: handshake refusals */
    cdof_link_state_t said[2]; /* the refusal last logged for sub and query */
    uint64_t last;             /* the last sequence taken */
    cdof_curve_t *curve;       /* keys for both sockets; plain TCP with --insecure */
    watch_conf_t *conf;        /* --receivers; NULL without */
    watch_queue_t *queue;
    watch_notify_t *notify;
    char *data_dir; /* the store's directory (heap) */
    bool data_temp; /* made for this run only: removed at exit */
    watch_counters_t logged;
    int64_t logged_ms;
    /* --metrics: served from the main loop, so last and the times below need no lock (the
     * counters are read from the store, watch_queue_counters). */
    cdof_metrics_t *metrics;
    char *name;            /* the "watcher" label (heap) */
    int64_t started_ms;    /* wall clock */
    int64_t last_alert_ms; /* wall clock: the last alert taken in this run; 0: none */
    int64_t heard_mono_ms; /* the hub last heard from: an alert, or an answer to a catch-up */
} watch_t;

/* --- the state file --- */

static int state_load(const char *path, uint64_t *last, char *err, size_t errlen)
{
    *last = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    char line[64] = "";
    int rc = 0;
    if (!fgets(line, sizeof line, f) && ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -EIO;
    } else {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(line, &end, 10);
        while (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')
            end++;
        if (line[0] && (errno || end == line || *end || line[0] == '-')) {
            snprintf(err, errlen, "%s: not a sequence number (delete it to start afresh)", path);
            rc = CDOF_EINVALID;
        } else {
            *last = line[0] ? (uint64_t)v : 0;
        }
    }
    fclose(f);
    return rc;
}

/* --- delivering one alert --- */

/* Prints a, then takes it into the store (its notices queued, the sequence advanced). Returns 0,
 * -EIO when standard output is gone (nothing more can be delivered), or the store's error
 * (nothing taken: the watcher stops rather than skip it). */
static int deliver(watch_t *w, const Cdof__V1__Alert *a)
{
    if (a->muted_by && *a->muted_by && !w->cfg.show_muted) {
        /* Muted at the hub (silence, inhibition): taken, not shown nor notified. */
        cdof_log_debug("#%" PRIu64 " muted: %s", a->sequence, a->muted_by);
        goto take;
    }
    if (w->json) {
        if (cdof_client_alert_json(a, stdout) < 0) {
            cdof_log_error("out of memory formatting alert #%" PRIu64, a->sequence);
            return -ENOMEM;
        }
    } else {
        const char *name = NULL;
        bool percent = false;
        if (w->ref) {
            const cdof_area_t *area = a->area_code ? cdof_ref_area(w->ref, a->area_code) : NULL;
            const cdof_metric_t *m = a->metric_id ? cdof_ref_metric(w->ref, a->metric_id) : NULL;
            name = area ? area->name : NULL;
            percent = m && m->unit == CDOF_UNIT_PERCENTAGE;
        }
        cdof_client_alert_line(a, name, percent, stdout);
    }
    fputc('\n', stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cdof_log_error("cannot write to standard output: %s", strerror(errno));
        return -EIO;
    }
take:;
    int rc = watch_notify_take(w->notify, a, cdof_clock_now_ms());
    if (rc < 0) {
        cdof_log_error("cannot take alert #%" PRIu64 " into the store in %s: %s", a->sequence,
                       w->data_dir, cdof_strerror(rc));
        return -EIO;
    }
    w->last = a->sequence;
    w->last_alert_ms = cdof_clock_now_ms();
    return 0;
}

/* --- catch-up from the query endpoint --- */

static int by_sequence(const void *pa, const void *pb)
{
    const Cdof__V1__Alert *a = *(Cdof__V1__Alert *const *)pa, *b = *(Cdof__V1__Alert *const *)pb;
    return a->sequence < b->sequence ? -1 : a->sequence > b->sequence;
}

/* Asks the hub for every alert after w->last under each topic and delivers them in order.
 * trigger is the sequence that prompted the ask (0 at start): getting it back is no news.
 * A failure to ask is logged, not fatal: the stream is followed regardless. Returns 0, or
 * -EIO when output failed, or -EINTR when asked to stop. */
static int catch_up(watch_t *w, uint64_t trigger)
{
    cdof_client_pages_t pages = {0};
    Cdof__V1__Alert **all = NULL;
    size_t nall = 0;
    int rc = 0;
    uint64_t since = w->last;
    for (size_t t = 0; t < w->cfg.topics.count; t++) {
        Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
        Cdof__V1__AlertsQuery q = CDOF__V1__ALERTS_QUERY__INIT;
        q.since_sequence = since;
        q.topic_prefix = w->cfg.topics.items[t];
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_ALERTS;
        req.alerts = &q;
        char err[512] = "";
        size_t before = pages.npages;
        rc = cdof_client_fetch(w->query, &req, MAX_PAGES, &pages, err, sizeof err);
        if (rc == -EINTR)
            goto done;
        if (rc < 0) {
            cdof_log_warn("cannot catch up on %s after #%" PRIu64 ": %s; following the stream",
                          q.topic_prefix, since, err);
            rc = 0;
            goto done;
        }
        const Cdof__V1__QueryResponse *last = pages.pages[pages.npages - 1];
        if (pages.npages > before && last->status != CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK) {
            cdof_log_warn("cannot catch up on %s after #%" PRIu64 ": the hub answered %s: %s",
                          q.topic_prefix, since, cdof_client_status_name(last->status),
                          last->error ? last->error : "");
            goto done;
        }
    }
    w->heard_mono_ms = cdof_clock_mono_ms(); /* every topic answered */
    for (size_t i = 0; i < pages.npages; i++)
        nall += pages.pages[i]->n_alerts;
    if (!nall)
        goto done;
    if (!(all = calloc(nall, sizeof *all))) {
        rc = -ENOMEM;
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < pages.npages; i++) {
        for (size_t j = 0; j < pages.pages[i]->n_alerts; j++)
            all[k++] = pages.pages[i]->alerts[j];
    }
    qsort(all, nall, sizeof *all, by_sequence);
    size_t delivered = 0;
    /* Overlapping topics return the same alert twice: the "> last" test drops the copy. */
    for (size_t i = 0; i < nall && !stop_flag; i++) {
        if (all[i]->sequence <= w->last)
            continue;
        if ((rc = deliver(w, all[i])) < 0)
            goto done;
        delivered += all[i]->sequence != trigger;
    }
    if (delivered)
        cdof_log_info("caught up: %zu missed alert%s after #%" PRIu64 " from the hub", delivered,
                      delivered == 1 ? "" : "s", since);
done:
    free(all);
    cdof_client_pages_free(&pages);
    return rc;
}

/* --- the stream --- */

/* Reads one message from the SUB socket and handles it. Returns 0 or -EIO / -EINTR. */
static int on_message(watch_t *w)
{
    zmq_msg_t topic, body;
    int parts = 0, rc = 0;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    if (cdof_zmq_msg_recv(&topic, w->sub, ZMQ_DONTWAIT) < 0)
        goto done;
    parts = 1;
    if (zmq_msg_more(&topic) && cdof_zmq_msg_recv(&body, w->sub, ZMQ_DONTWAIT) == 0)
        parts = 2;
    /* Two frames: topic, Alert. Anything longer is drained and ignored. */
    bool extra = parts == 2 && zmq_msg_more(&body);
    for (int more = extra; more;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        more = cdof_zmq_msg_recv(&m, w->sub, ZMQ_DONTWAIT) == 0 && zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    if (parts != 2 || extra) {
        cdof_log_warn("ignored a message of the wrong shape on the alert stream");
        goto done;
    }
    char err[256] = "";
    Cdof__V1__Alert *a =
        cdof_wire_alert_decode(zmq_msg_data(&body), zmq_msg_size(&body), err, sizeof err);
    if (!a) {
        cdof_log_warn("ignored an alert that does not decode: %s", err);
        goto done;
    }
    if (a->sequence > w->last + 1) {
        cdof_log_debug("#%" PRIu64 " after #%" PRIu64 ": asking the hub what lies between",
                       a->sequence, w->last);
        rc = catch_up(w, a->sequence);
    }
    if (rc == 0 && a->sequence > w->last)
        rc = deliver(w, a);
    cdof__v1__alert__free_unpacked(a, NULL);
done:
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return rc;
}

static int open_sockets(watch_t *w)
{
    int linger = 0;
    int64_t alert_max = CDOF_WIRE_MAX_MESSAGE;
    if (!(w->ctx = zmq_ctx_new()) || !(w->sub = zmq_socket(w->ctx, ZMQ_SUB)) ||
        zmq_setsockopt(w->sub, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(w->sub, ZMQ_MAXMSGSIZE, &alert_max, sizeof alert_max) < 0 ||
        cdof_curve_apply(w->curve, w->sub, NULL) < 0) {
        fprintf(stderr, PROGRAM ": cannot create sockets: %s\n", zmq_strerror(zmq_errno()));
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < w->cfg.topics.count; i++) {
        const char *t = w->cfg.topics.items[i];
        if (zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, t, strlen(t)) < 0) {
            fprintf(stderr, PROGRAM ": cannot subscribe to '%s': %s\n", t,
                    zmq_strerror(zmq_errno()));
            return EXIT_FAIL;
        }
    }
    /* Without a monitor only the refusals' wording is lost. */
    if (cdof_link_open(w->ctx, w->sub, &w->sub_link) < 0)
        cdof_log_debug("cannot monitor the hub's alert socket: %s", zmq_strerror(zmq_errno()));
    if (zmq_connect(w->sub, w->cfg.hub_alerts) < 0) {
        fprintf(stderr, PROGRAM ": --hub-alerts: cannot use '%s': %s\n", w->cfg.hub_alerts,
                zmq_strerror(zmq_errno()));
        return EXIT_USAGE;
    }
    char err[512];
    cdof_client_opts_t copts = {.endpoint = w->cfg.hub_query,
                                .curve = w->curve,
                                .zctx = w->ctx,
                                .timeout_ms = (int)w->cfg.timeout_ms,
                                .resends = CATCH_UP_RESENDS,
                                .stop = &stop_flag};
    int rc = cdof_client_open(&copts, &w->query, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, PROGRAM ": %s%s\n", rc == CDOF_EINVALID ? "--hub-query: " : "", err);
        return rc == CDOF_EINVALID ? EXIT_USAGE : EXIT_FAIL;
    }
    return EXIT_OK;
}

/* Says once, for each endpoint, that the hub refused this watcher's key or is not the hub its
 * --server-key names, and again when it is admitted: otherwise a refused watcher just prints
 * nothing. */
static void links_check(watch_t *w)
{
    const char *eps[2] = {w->cfg.hub_alerts, w->cfg.hub_query};
    for (int i = 0; i < 2; i++) {
        cdof_link_state_t ls = i ? cdof_client_link(w->query) : cdof_link_poll(w->sub_link);
        bool refused = ls == CDOF_LINK_REFUSED || ls == CDOF_LINK_WRONG_HUB_KEY;
        if (refused && ls != w->said[i])
            cdof_log_error("hub %s: %s", eps[i], cdof_link_describe(ls));
        else if (ls == CDOF_LINK_UP && w->said[i] != CDOF_LINK_UP &&
                 w->said[i] != CDOF_LINK_UNKNOWN)
            cdof_log_info("hub %s admits this key again", eps[i]);
        if (refused || ls == CDOF_LINK_UP)
            w->said[i] = ls;
    }
}

/* --- the delivery thread --- */

/* Digests and deliveries run in a thread of their own, so that a receiver that is slow or down
 * (each attempt bounded by its timeout) never holds up reading the alert stream. The main thread
 * only takes alerts into the store; the two meet in LMDB, whose write lock orders their
 * transactions. Everything of watch_notify but take belongs to this thread. */
typedef struct {
    watch_t *w;
    pthread_t tid;
    bool started;
    atomic_int failed; /* a store error that stopped the thread; 0 while fine */
} deliverer_t;

static void log_counters(watch_t *w, bool force);

static void *deliver_loop(void *arg)
{
    deliverer_t *d = arg;
    while (!stop_flag) {
        int64_t now = cdof_clock_now_ms();
        int rc = watch_notify_flush(d->w->notify, now);
        if (rc >= 0)
            rc = watch_notify_deliver(d->w->notify, now, DELIVER_BATCH, &stop_flag);
        if (rc < 0) {
            cdof_log_error("the store in %s failed: %s", d->w->data_dir, cdof_strerror(rc));
            atomic_store(&d->failed, rc);
            break;
        }
        log_counters(d->w, false);
        if (rc == 0) {
            struct timespec ts = {0, DELIVER_IDLE_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Starts the thread with every signal blocked in it: stops are the main thread's to see. */
static int deliverer_start(deliverer_t *d)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&d->tid, NULL, deliver_loop, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    d->started = rc == 0;
    return -rc;
}

/* Stops the thread (an attempt in flight is cut short) and waits for it. */
static void deliverer_stop(deliverer_t *d)
{
    if (!d->started)
        return;
    stop_flag = 1;
    pthread_join(d->tid, NULL);
    d->started = false;
}

/* --- the store --- */

/* Removes a store directory made for this run only (its LMDB files, then itself). */
static void remove_temp_store(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                unlinkat(dirfd(d), e->d_name, 0) < 0)
                cdof_log_warn("cannot remove %s/%s: %s", dir, e->d_name, strerror(errno));
        }
        closedir(d);
    }
    if (rmdir(dir) < 0)
        cdof_log_warn("cannot remove %s: %s", dir, strerror(errno));
}

/* Picks and opens the store: --data DIR; else FILE.d beside --state FILE, importing FILE's
 * sequence when the store is new; else a directory for this run only (a watcher without state
 * starts from the beginning each time, as before). Returns 0 or an exit status. */
static int open_store(watch_t *w)
{
    char err[512] = "";
    if (w->cfg.data) {
        w->data_dir = strdup(w->cfg.data);
    } else if (w->cfg.state) {
        size_t n = strlen(w->cfg.state) + 3;
        if ((w->data_dir = malloc(n)))
            snprintf(w->data_dir, n, "%s.d", w->cfg.state);
    } else {
        const char *tmp = getenv("TMPDIR");
        size_t n = strlen(tmp && *tmp ? tmp : "/tmp") + 32;
        if ((w->data_dir = malloc(n))) {
            snprintf(w->data_dir, n, "%s/cdof-watch.XXXXXX", tmp && *tmp ? tmp : "/tmp");
            if (!mkdtemp(w->data_dir)) {
                fprintf(stderr, PROGRAM ": cannot make a directory %s: %s\n", w->data_dir,
                        strerror(errno));
                return EXIT_FAIL;
            }
            w->data_temp = true;
        }
    }
    if (!w->data_dir) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return EXIT_FAIL;
    }
    if (mkdir(w->data_dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, PROGRAM ": --data: cannot make %s: %s\n", w->data_dir, strerror(errno));
        return EXIT_FAIL;
    }
    int rc = watch_queue_open(w->data_dir, false, &w->queue, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, PROGRAM ": --data: %s\n", err);
        return EXIT_FAIL;
    }
    cdof_store_txn_t *txn = NULL;
    if (watch_queue_is_new(w->queue) && w->cfg.state) {
        uint64_t last = 0;
        if (state_load(w->cfg.state, &last, err, sizeof err) < 0) {
            fprintf(stderr, PROGRAM ": --state %s\n", err);
            return EXIT_FAIL;
        }
        if (last && ((rc = watch_queue_begin(w->queue, true, &txn)) < 0 ||
                     (rc = watch_queue_set_last_seq(w->queue, txn, last)) < 0 ||
                     (rc = cdof_store_commit(&txn)) < 0)) {
            cdof_store_abort(&txn);
            fprintf(stderr, PROGRAM ": cannot record the sequence of %s in %s: %s\n", w->cfg.state,
                    w->data_dir, cdof_strerror(rc));
            return EXIT_FAIL;
        }
        if (last)
            cdof_log_info("took the last sequence #%" PRIu64 " from %s into %s", last, w->cfg.state,
                          w->data_dir);
    }
    if ((rc = watch_queue_begin(w->queue, false, &txn)) == 0)
        rc = watch_queue_last_seq(w->queue, txn, &w->last);
    cdof_store_abort(&txn);
    if (rc < 0) {
        fprintf(stderr, PROGRAM ": %s: %s\n", w->data_dir, cdof_strerror(rc));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* One line with the delivery counters, when they changed (or when forced). */
static void log_counters(watch_t *w, bool force)
{
    watch_counters_t c;
    if (watch_queue_counters(w->queue, &c) < 0)
        return;
    if (!force &&
        (cdof_clock_mono_ms() - w->logged_ms < COUNTERS_MS || !memcmp(&c, &w->logged, sizeof c)))
        return;
    if (force || memcmp(&c, &w->logged, sizeof c))
        cdof_log_info("notices: delivered %" PRIu64 ", failed attempts %" PRIu64
                      ", retrying %" PRIu64 ", expired %" PRIu64 ", queued %" PRIu64,
                      c.delivered, c.failed, c.retrying, c.expired, c.queued);
    w->logged = c;
    w->logged_ms = cdof_clock_mono_ms();
}

/* --- metrics --- */

/* The delivery counters in Prometheus text format, with what shows the link to the hub works:
 * an operator alerts on expired notices growing, on a queue that does not drain, and on a hub
 * not heard from for several --resync-ms. */
static int watch_metrics(void *ctx, cdof_prom_t *out)
{
    watch_t *w = ctx;
    watch_counters_t c;
    int rc = watch_queue_counters(w->queue, &c);
    if (rc < 0)
        return rc;
    int64_t quiet = cdof_clock_mono_ms() - w->heard_mono_ms;
    const cdof_prom_label_t label[] = {{"watcher", w->name}};
    const struct {
        const char *name;
        cdof_prom_type_t type;
        const char *help;
        double value;
    } m[] = {
        {"cdof_watch_notices_delivered_total", CDOF_PROM_COUNTER,
         "notices delivered, since the watcher's store was made", (double)c.delivered},
        {"cdof_watch_notice_attempts_failed_total", CDOF_PROM_COUNTER,
         "delivery attempts that failed (each retried until the notice expires)", (double)c.failed},
        {"cdof_watch_notices_expired_total", CDOF_PROM_COUNTER,
         "notices given up on (kept in the store: cdof-watch status lists them)",
         (double)c.expired},
        {"cdof_watch_notices_queued", CDOF_PROM_GAUGE, "notices waiting for delivery",
         (double)c.queued},
        {"cdof_watch_notices_retrying", CDOF_PROM_GAUGE,
         "notices waiting that failed at least once", (double)c.retrying},
        {"cdof_watch_last_sequence", CDOF_PROM_GAUGE, "the sequence of the last alert taken",
         (double)w->last},
        {"cdof_watch_last_alert_time_seconds", CDOF_PROM_GAUGE,
         "when this run last took an alert, in seconds since the Unix epoch (0: none yet)",
         (double)w->last_alert_ms / 1000.0},
        {"cdof_watch_hub_heard_age_seconds", CDOF_PROM_GAUGE,
         "seconds since the hub was last heard from: an alert, or an answer to a catch-up",
         quiet > 0 ? (double)quiet / 1000.0 : 0},
        {"cdof_watch_start_time_seconds", CDOF_PROM_GAUGE,
         "when the watcher started, in seconds since the Unix epoch",
         (double)w->started_ms / 1000.0},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        cdof_prom_family(out, m[i].name, m[i].type, m[i].help);
        cdof_prom_sample(out, label, 1, m[i].value);
    }
    return cdof_prom_error(out);
}

/* The "watcher" label: the name its key was made under (cdof-keygen NAME gives NAME.key, and
 * the hub's registry knows it by that key), else, without a key, the store id, which stays the
 * same across restarts. Returns 0 or -ENOMEM. */
static int watch_name(watch_t *w)
{
    const char *base = w->cfg.key ? strrchr(w->cfg.key, '/') : NULL;
    base = base ? base + 1 : w->cfg.key;
    size_t n = base ? strlen(base) : 0;
    if (n > 4 && !strcmp(base + n - 4, ".key"))
        n -= 4;
    if (!n) {
        base = watch_queue_store_id(w->queue);
        n = strlen(base);
    }
    w->name = strndup(base, n);
    return w->name ? 0 : -ENOMEM;
}

/* Opens --metrics. Returns 0 or an exit status. */
static int open_metrics(watch_t *w)
{
    char err[512] = "";
    if (!w->cfg.metrics)
        return EXIT_OK;
    if (watch_name(w) < 0) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return EXIT_FAIL;
    }
    int rc = cdof_metrics_open(w->cfg.metrics, watch_metrics, w, &w->metrics, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return rc == CDOF_EINVALID ? EXIT_USAGE : EXIT_FAIL;
    }
    cdof_log_info("metrics: http://%s/metrics (Prometheus text format), watcher=\"%s\"",
                  w->cfg.metrics, w->name);
    return EXIT_OK;
}

/* One line per expired notice, under the counters of `status`. */
static int print_expired(void *ctx, int64_t expired_ms, const watch_note_t *n)
{
    (void)ctx;
    char when[64];
    cdof_clock_format(expired_ms, when, sizeof when);
    printf("  %s  %-16s %s after %" PRIu32 " attempts: %s\n", when, n->receiver, n->key,
           n->attempts, n->subject);
    return 0;
}

/* cdof-watch status --data DIR: the store's counters, read while the watcher runs. */
static int run_status(watch_t *w)
{
    char err[512] = "";
    const char *dir = w->cfg.data;
    char buf[4096];
    if (!dir && w->cfg.state) {
        snprintf(buf, sizeof buf, "%s.d", w->cfg.state);
        dir = buf;
    }
    if (!dir) {
        fprintf(stderr, PROGRAM ": status needs --data DIR (or --state FILE)\n");
        return EXIT_USAGE;
    }
    int rc = watch_queue_open(dir, true, &w->queue, err, sizeof err);
    watch_counters_t c;
    uint64_t last = 0;
    cdof_store_txn_t *txn = NULL;
    if (rc == 0 && (rc = watch_queue_counters(w->queue, &c)) == 0 &&
        (rc = watch_queue_begin(w->queue, false, &txn)) == 0)
        rc = watch_queue_last_seq(w->queue, txn, &last);
    cdof_store_abort(&txn);
    if (rc < 0) {
        fprintf(stderr, PROGRAM ": status: %s\n", *err ? err : cdof_strerror(rc));
        return EXIT_FAIL;
    }
    if (!strcmp(w->cfg.format, "json"))
        printf("{\"last_sequence\": %" PRIu64 ", \"delivered\": %" PRIu64 ", \"failed\": %" PRIu64
               ", \"retrying\": %" PRIu64 ", \"expired\": %" PRIu64 ", \"queued\": %" PRIu64 "}\n",
               last, c.delivered, c.failed, c.retrying, c.expired, c.queued);
    else
        printf("last sequence  %" PRIu64 "\ndelivered      %" PRIu64 "\nfailed         %" PRIu64
               " (attempts)\nretrying       %" PRIu64 "\nexpired        %" PRIu64
               "\nqueued         %" PRIu64 "\n",
               last, c.delivered, c.failed, c.retrying, c.expired, c.queued);
    if (strcmp(w->cfg.format, "json") && c.expired) {
        printf("expired notices (kept in the store):\n");
        rc = watch_queue_each_expired(w->queue, print_expired, NULL);
        if (rc < 0)
            fprintf(stderr, PROGRAM ": status: cannot list the expired notices: %s\n",
                    cdof_strerror(rc));
    }
    return fflush(stdout) == 0 && rc >= 0 ? EXIT_OK : EXIT_FAIL;
}

/* cdof-watch check --receivers FILE: reads the file as a start would, and shows the tree. */
static int run_check(watch_t *w)
{
    char err[512] = "";
    if (!w->cfg.receivers) {
        fprintf(stderr, PROGRAM ": check needs --receivers FILE\n");
        return EXIT_USAGE;
    }
    if (watch_conf_load(w->cfg.receivers, &w->conf, err, sizeof err) < 0) {
        fprintf(stderr, PROGRAM ": --receivers %s\n", err);
        return EXIT_USAGE;
    }
    const watch_conf_t *c = w->conf;
    printf("%s: %zu receivers, %zu routes\n", w->cfg.receivers, c->nreceivers, c->nroutes);
    for (size_t i = 0; i < c->nreceivers; i++)
        printf("  receiver %-20s %-7s %s\n", c->receivers[i].name,
               watch_recv_kind_name(c->receivers[i].kind),
               c->receivers[i].url ? c->receivers[i].url : c->receivers[i].command);
    for (size_t i = 0; i < c->nroutes; i++) {
        const watch_route_t *r = &c->routes[i];
        printf("  route %-23s -> %s%s, wait %lds, interval %lds, repeat %lds, group by",
               *r->name ? r->name : "(root)", c->receivers[r->receiver].name,
               r->cont ? " (continue)" : "", r->group_wait_ms / 1000, r->group_interval_ms / 1000,
               r->repeat_interval_ms / 1000);
        for (int l = 0; l < WATCH_LABEL_COUNT; l++) {
            if (r->group_by & (1u << l))
                printf(" %s", watch_label_name((watch_label_t)l));
        }
        printf("%s\n", r->group_by ? "" : " nothing (one group)");
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

static int check_usage(watch_t *w, int argc, char **argv, int *status)
{
    char err[512] = "";
    cdof_strlist_t pos = {0};
    int rc = cdof_config_parse(&watch_spec, &w->cfg, argc, argv, &pos, err, sizeof err);
    bool go = false;
    *status = EXIT_USAGE;
    if (rc == CDOF_CONFIG_EXIT) {
        *status = EXIT_OK;
    } else if (rc < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
    } else if (pos.count == 1 && !strcmp(pos.items[0], "status")) {
        *status = run_status(w);
    } else if (pos.count == 1 && !strcmp(pos.items[0], "check")) {
        *status = run_check(w);
    } else if (pos.count) {
        fprintf(stderr, PROGRAM ": unexpected argument '%s' (see --help)\n", pos.items[0]);
    } else if (!w->cfg.hub_alerts || !*w->cfg.hub_alerts) {
        fprintf(stderr, PROGRAM ": --hub-alerts EP is required (see --help)\n");
    } else if (!w->cfg.hub_query || !*w->cfg.hub_query) {
        fprintf(stderr, PROGRAM ": --hub-query EP is required (see --help)\n");
    } else if (strcmp(w->cfg.format, "text") && strcmp(w->cfg.format, "json")) {
        fprintf(stderr, PROGRAM ": --format: '%s' is not text or json (see --help)\n",
                w->cfg.format);
    } else if (w->cfg.exec && !*w->cfg.exec) {
        fprintf(stderr, PROGRAM ": --exec needs a command\n");
    } else if (!w->cfg.topics.count && cdof_strlist_add(&w->cfg.topics, DEFAULT_TOPIC) < 0) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        *status = EXIT_FAIL;
    } else {
        go = true;
    }
    cdof_strlist_free(&pos);
    return go ? 0 : -1;
}

int main(int argc, char **argv)
{
    watch_t w = {0};
    int status = EXIT_USAGE;
    char err[512] = "";
    bool curl_ready = false;
    deliverer_t deliverer = {.w = &w};

    /* Held until the handlers are in place (cdof_signal.h). */
    cdof_signal_hold();
    cdof_log_init(PROGRAM, CDOF_LOG_INFO);
    if (check_usage(&w, argc, argv, &status) < 0)
        goto done;
    w.json = !strcmp(w.cfg.format, "json");
    if (w.cfg.receivers && watch_conf_load(w.cfg.receivers, &w.conf, err, sizeof err) < 0) {
        fprintf(stderr, PROGRAM ": --receivers %s\n", err);
        goto done;
    }
    if (watch_send_init() < 0) {
        fprintf(stderr, PROGRAM ": cannot initialise libcurl\n");
        status = EXIT_FAIL;
        goto done;
    }
    curl_ready = true;
    if ((status = open_store(&w)) != EXIT_OK)
        goto done;
    status = EXIT_USAGE;

    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed pipe shows up as a write error instead */
    int src = cdof_signal_release();
    if (src < 0)
        cdof_log_warn("cannot unblock the stop signals: %s", strerror(-src));

    int crc = cdof_curve_open(w.cfg.insecure, false, w.cfg.key, w.cfg.server_key, &w.curve, err,
                              sizeof err);
    if (crc < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        status = crc == CDOF_EINVALID ? EXIT_USAGE : EXIT_FAIL;
        goto done;
    }
    if (!w.json || w.conf) {
        w.ref = cdof_ref_load(cdof_ref_default_dir(), err, sizeof err);
        if (!w.ref)
            cdof_log_warn("reference data not loaded (%s): alerts are shown without area names "
                          "or units",
                          err);
    }
    watch_notify_opts_t nopts = {.conf = w.conf,
                                 .exec = w.cfg.exec,
                                 .exec_timeout_ms = w.cfg.exec_timeout_ms,
                                 .exec_muted = w.cfg.show_muted,
                                 .ref = w.ref};
    if (watch_notify_new(w.queue, &nopts, &w.notify) < 0) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        status = EXIT_FAIL;
        goto done;
    }
    if ((status = open_sockets(&w)) != EXIT_OK || (status = open_metrics(&w)) != EXIT_OK)
        goto done;
    status = EXIT_FAIL;
    for (size_t i = 0; w.conf && i < w.conf->nreceivers; i++) {
        const watch_receiver_t *r = &w.conf->receivers[i];
        if (r->url &&
            (!strncmp(r->url, "http://", 7) || (!strncmp(r->url, "smtp://", 7) && !r->starttls)))
            cdof_log_warn("receiver %s sends alerts in clear text (%s%s): closed networks only",
                          r->name, r->url, r->starttls ? "" : ", starttls = false");
    }
    if (w.conf)
        cdof_log_info("%zu receiver%s, %zu route%s from %s", w.conf->nreceivers,
                      w.conf->nreceivers == 1 ? "" : "s", w.conf->nroutes,
                      w.conf->nroutes == 1 ? "" : "s", w.cfg.receivers);
    log_counters(&w, true);
    for (size_t i = 0; i < w.cfg.topics.count; i++)
        cdof_log_info("following %s from %s after #%" PRIu64, w.cfg.topics.items[i],
                      w.cfg.hub_alerts, w.last);

    int trc = deliverer_start(&deliverer);
    if (trc < 0) {
        cdof_log_error("cannot start the delivery thread: %s", strerror(-trc));
        goto done;
    }
    w.started_ms = cdof_clock_now_ms();
    w.heard_mono_ms = cdof_clock_mono_ms();
    int rc = catch_up(&w, 0);
    /* The metrics endpoint is one more descriptor in the same poll (POLL_MS is short enough for
     * idle scrape connections to time out): scrapes are answered between alerts, in this thread. */
    zmq_pollitem_t items[2] = {
        {.socket = w.sub, .events = ZMQ_POLLIN},
        {.fd = w.metrics ? cdof_metrics_fd(w.metrics) : -1, .events = ZMQ_POLLIN}};
    int nitems = w.metrics ? 2 : 1;
    int64_t quiet_since = cdof_clock_mono_ms();
    while (rc == 0 && !stop_flag) {
        /* A lost message is noticed at the next alert's gap; a lost last one only by asking. */
        if (cdof_clock_mono_ms() - quiet_since >= w.cfg.resync_ms) {
            rc = catch_up(&w, 0);
            quiet_since = cdof_clock_mono_ms();
            continue;
        }
        if (atomic_load(&deliverer.failed) < 0)
            goto done; /* logged by the thread */
        int n = zmq_poll(items, nitems, POLL_MS);
        if (w.metrics)
            cdof_metrics_run(w.metrics);
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            quiet_since = w.heard_mono_ms = cdof_clock_mono_ms();
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            cdof_log_error("cannot wait for alerts: %s", zmq_strerror(zmq_errno()));
            goto done;
        }
        links_check(&w); /* after the poll's errno is read: this reads the monitors */
        /* Drain what is waiting, a bounded number at a time, so that a stop is seen. */
        for (int i = 0; (items[0].revents & ZMQ_POLLIN) && i < 1000 && rc == 0 && !stop_flag; i++) {
            int events = 0;
            size_t len = sizeof events;
            if (zmq_getsockopt(w.sub, ZMQ_EVENTS, &events, &len) < 0 || !(events & ZMQ_POLLIN))
                break;
            rc = on_message(&w);
        }
    }
    if (rc < 0 && rc != -EINTR)
        goto done;
    cdof_log_info("stopping after #%" PRIu64, w.last);
    deliverer_stop(&deliverer);
    log_counters(&w, true);
    status = EXIT_OK;
done:
    deliverer_stop(&deliverer);
    cdof_metrics_close(&w.metrics);
    free(w.name);
    watch_notify_free(&w.notify);
    watch_queue_close(&w.queue);
    if (w.data_temp)
        remove_temp_store(w.data_dir);
    free(w.data_dir);
    watch_conf_free(&w.conf);
    if (curl_ready)
        watch_send_cleanup();
    cdof_link_close(&w.sub_link);
    if (w.sub)
        zmq_close(w.sub);
    cdof_client_close(&w.query);
    if (w.ctx)
        zmq_ctx_term(w.ctx);
    cdof_ref_destroy(&w.ref);
    cdof_curve_destroy(&w.curve);
    cdof_config_free(&watch_spec, &w.cfg);
    return status;
}
