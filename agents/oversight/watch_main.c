/* cdof-watch: follows the hub's alerts and prints each once, in sequence order.
 *
 * The zguide's Clone pattern: subscribe first, then ask the query endpoint for every stored alert
 * after the last sequence seen, deliver those, then follow the stream dropping what is already
 * delivered. A sequence that jumps past last + 1 may be a lost message or merely alerts for
 * other topics, so the hub is asked again; whatever it does not return is accepted as it comes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_config.h"
#include "cdof_curve.h"
#include "cdof_error.h"
#include "cdof_link.h"
#include "cdof_log.h"
#include "cdof_ref.h"
#include "cdof_signal.h"
#include "cdof_wire.h"
#include "query_output.h"

#define PROGRAM "cdof-watch"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define DEFAULT_TOPIC "alert/"
#define MAX_PAGES     10000 /* pages followed in one catch-up */
#define POLL_MS       500   /* how often the main loop looks at the stop flag */
#define EXEC_POLL_MS  20    /* how often a running --exec command is checked */

typedef struct {
    char *exec;
    long exec_timeout_ms;
    char *format;
    char *hub_alerts;
    char *hub_query;
    bool insecure;
    char *state;
    long timeout_ms;
    cdof_strlist_t topics;
    bool show_muted;        /* issue 6 */
    long resync_ms;         /* issue 6 */
    char *key, *server_key; /* CURVE key files */
} watch_cfg_t;

static const cdof_opt_t watch_opts[] = {
    /* Sorted by name: one table drives parsing and --help (tests/unit/help_sorted.sh). */
    {"exec", CDOF_OPT_STRING, NULL, 0, 0, offsetof(watch_cfg_t, exec), "CMD",
     "run 'sh -c CMD' per alert, the alert as JSON on its stdin, its stdout sent to stderr"},
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
     "keep the last sequence delivered in FILE, to resume from it"},
    {"timeout-ms", CDOF_OPT_INT, "5000", 1, 3600000, offsetof(watch_cfg_t, timeout_ms), "N",
     "how long to wait for each answer from the query endpoint"},
    {"topic", CDOF_OPT_LIST, NULL, 0, 0, offsetof(watch_cfg_t, topics), "PREFIX",
     "follow alerts whose topic starts with PREFIX; repeatable (default alert/)"},
};

static const cdof_config_spec_t watch_spec = {
    .program = PROGRAM,
    .usage = PROGRAM " --hub-alerts EP --hub-query EP [--topic PREFIX]... [--state FILE]\n"
                     "       [--format text|json] [--exec CMD]\n"
                     "       (--key FILE --server-key FILE | --insecure)",
    .summary = "follow the cdof hub's alerts, each printed once and in order",
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
    void *ctx, *sub, *query;
    cdof_link_t *links[2];     /* the socket monitors of sub and query: handshake refusals */
    cdof_link_state_t said[2]; /* the refusal last logged for each */
    uint64_t last;             /* the last sequence delivered */
    uint64_t next_id;
    cdof_curve_t *curve; /* keys for both sockets; plain TCP with --insecure */
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

/* Write a temporary file and rename it over the state, so that a crash leaves the old or the new
 * sequence, never a torn one. */
static int state_save(const char *path, uint64_t last)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", last);
    int rc = 0;
    if (write(fd, buf, (size_t)n) != n)
        rc = errno ? -errno : -EIO;
    else if (fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

/* --- delivering one alert --- */

/* The alert as one JSON object in a new heap string (caller frees), or NULL. */
static char *alert_json(const Cdof__V1__Alert *a)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = cdof_qo_alert_json(a, f);
    if (fclose(f) != 0 || rc < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Runs sh -c CMD with the JSON on its standard input; waits up to the time-out, then kills the
 * command's whole process group. */
static void run_exec(watch_t *w, const Cdof__V1__Alert *a, const char *json)
{
    int fds[2];
    if (pipe(fds) < 0) {
        cdof_log_error("--exec: cannot make a pipe: %s", strerror(errno));
        return;
    }
    /* Set before fork: the child of a threaded process should only exec. */
    char seq[32];
    snprintf(seq, sizeof seq, "%" PRIu64, a->sequence);
    setenv("CDOF_ALERT_SEQUENCE", seq, 1);
    pid_t pid = fork();
    if (pid < 0) {
        cdof_log_error("--exec: cannot fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        close(fds[1]);
        if (dup2(fds[0], STDIN_FILENO) < 0)
            _exit(127);
        if (fds[0] != STDIN_FILENO)
            close(fds[0]);
        /* Standard output is the alert stream: the command's output goes to stderr instead. */
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", w->cfg.exec, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* also in the parent, so that the kill below cannot miss */
    close(fds[0]);
    /* An alert is a few KiB at most, well inside a pipe's buffer: this does not block even when
     * the command never reads. SIGPIPE is ignored, so a command that exits early is fine. */
    size_t len = strlen(json), off = 0;
    while (off < len) {
        ssize_t n = write(fds[1], json + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (off == len)
        (void)!write(fds[1], "\n", 1);
    close(fds[1]);

    int64_t deadline = cdof_clock_mono_ms() + w->cfg.exec_timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            cdof_log_error("--exec: cannot wait for the command: %s", strerror(errno));
            return;
        }
        if (stop_flag || cdof_clock_mono_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            if (stop_flag)
                cdof_log_warn("--exec: killed the command for alert #%" PRIu64 " on the way out",
                              a->sequence);
            else
                cdof_log_error("--exec: the command for alert #%" PRIu64
                               " timed out after %ld ms and was killed",
                               a->sequence, w->cfg.exec_timeout_ms);
            return;
        }
        struct timespec ts = {0, EXEC_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        cdof_log_error("--exec: the command for alert #%" PRIu64 " exited with status %d",
                       a->sequence, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        cdof_log_error("--exec: the command for alert #%" PRIu64 " was killed by signal %d",
                       a->sequence, WTERMSIG(status));
}

/* Prints a, runs --exec and records the sequence. Returns 0, or -EIO when standard output is
 * gone (nothing more can be delivered). */
static int deliver(watch_t *w, const Cdof__V1__Alert *a)
{
    char *json = NULL;
    if (a->muted_by && *a->muted_by && !w->cfg.show_muted) {
        /* Muted at the hub (silence, inhibition): counted as delivered, not notified. */
        cdof_log_debug("#%" PRIu64 " muted: %s", a->sequence, a->muted_by);
        goto delivered;
    }
    if (w->json || w->cfg.exec) {
        if (!(json = alert_json(a))) {
            cdof_log_error("out of memory formatting alert #%" PRIu64, a->sequence);
            return -ENOMEM;
        }
    }
    if (w->json) {
        fputs(json, stdout);
    } else {
        const char *name = NULL;
        bool percent = false;
        if (w->ref) {
            const cdof_area_t *area = a->area_code ? cdof_ref_area(w->ref, a->area_code) : NULL;
            const cdof_metric_t *m = a->metric_id ? cdof_ref_metric(w->ref, a->metric_id) : NULL;
            name = area ? area->name : NULL;
            percent = m && m->unit == CDOF_UNIT_PERCENTAGE;
        }
        cdof_qo_alert_text(a, name, percent, stdout);
    }
    fputc('\n', stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cdof_log_error("cannot write to standard output: %s", strerror(errno));
        free(json);
        return -EIO;
    }
    if (w->cfg.exec)
        run_exec(w, a, json);
    free(json);
delivered:
    w->last = a->sequence;
    if (w->cfg.state) {
        int rc = state_save(w->cfg.state, w->last);
        if (rc < 0)
            cdof_log_error("cannot save the last sequence to %s: %s", w->cfg.state,
                           cdof_strerror(rc));
    }
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
    cdof_qo_pages_t pages = {0};
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
        rc = cdof_qo_fetch(w->query, &req, &w->next_id, (int)w->cfg.timeout_ms, &stop_flag,
                           MAX_PAGES, &pages, err, sizeof err);
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
                          q.topic_prefix, since, cdof_qo_status_name(last->status),
                          last->error ? last->error : "");
            goto done;
        }
    }
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
    cdof_qo_pages_free(&pages);
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
    if (zmq_msg_recv(&topic, w->sub, ZMQ_DONTWAIT) < 0)
        goto done;
    parts = 1;
    if (zmq_msg_more(&topic) && zmq_msg_recv(&body, w->sub, ZMQ_DONTWAIT) >= 0)
        parts = 2;
    /* Two frames: topic, Alert. Anything longer is drained and ignored. */
    bool extra = parts == 2 && zmq_msg_more(&body);
    for (int more = extra; more;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        more = zmq_msg_recv(&m, w->sub, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&m);
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
    int64_t alert_max = CDOF_WIRE_MAX_MESSAGE, reply_max = CDOF_WIRE_MAX_RESPONSE;
    if (!(w->ctx = zmq_ctx_new()) || !(w->sub = zmq_socket(w->ctx, ZMQ_SUB)) ||
        !(w->query = zmq_socket(w->ctx, ZMQ_DEALER)) ||
        zmq_setsockopt(w->sub, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(w->sub, ZMQ_MAXMSGSIZE, &alert_max, sizeof alert_max) < 0 ||
        zmq_setsockopt(w->query, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(w->query, ZMQ_MAXMSGSIZE, &reply_max, sizeof reply_max) < 0 ||
        cdof_curve_apply(w->curve, w->sub, NULL) < 0 ||
        cdof_curve_apply(w->curve, w->query, NULL) < 0) {
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
    if (cdof_link_open(w->ctx, w->sub, &w->links[0]) < 0 ||
        cdof_link_open(w->ctx, w->query, &w->links[1]) < 0)
        cdof_log_debug("cannot monitor the hub sockets: %s", zmq_strerror(zmq_errno()));
    if (zmq_connect(w->sub, w->cfg.hub_alerts) < 0) {
        fprintf(stderr, PROGRAM ": --hub-alerts: cannot use '%s': %s\n", w->cfg.hub_alerts,
                zmq_strerror(zmq_errno()));
        return EXIT_USAGE;
    }
    if (zmq_connect(w->query, w->cfg.hub_query) < 0) {
        fprintf(stderr, PROGRAM ": --hub-query: cannot use '%s': %s\n", w->cfg.hub_query,
                zmq_strerror(zmq_errno()));
        return EXIT_USAGE;
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
        cdof_link_state_t ls = cdof_link_poll(w->links[i]);
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

    /* Held until the handlers are in place (cdof_signal.h). */
    cdof_signal_hold();
    cdof_log_init(PROGRAM, CDOF_LOG_INFO);
    if (check_usage(&w, argc, argv, &status) < 0)
        goto done;
    w.json = !strcmp(w.cfg.format, "json");
    if (w.cfg.state && state_load(w.cfg.state, &w.last, err, sizeof err) < 0) {
        fprintf(stderr, PROGRAM ": --state %s\n", err);
        status = EXIT_FAIL;
        goto done;
    }

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
    if (!w.json) {
        w.ref = cdof_ref_load(cdof_ref_default_dir(), err, sizeof err);
        if (!w.ref)
            cdof_log_warn("reference data not loaded (%s): alerts are shown without area names "
                          "or units",
                          err);
    }
    if ((status = open_sockets(&w)) != EXIT_OK)
        goto done;
    status = EXIT_FAIL;
    w.next_id = ((uint64_t)time(NULL) << 20) ^ ((uint64_t)getpid() << 4);
    for (size_t i = 0; i < w.cfg.topics.count; i++)
        cdof_log_info("following %s from %s after #%" PRIu64, w.cfg.topics.items[i],
                      w.cfg.hub_alerts, w.last);

    int rc = catch_up(&w, 0);
    zmq_pollitem_t item = {.socket = w.sub, .events = ZMQ_POLLIN};
    int64_t quiet_since = cdof_clock_mono_ms();
    while (rc == 0 && !stop_flag) {
        /* A lost message is noticed at the next alert's gap; a lost last one only by asking. */
        if (cdof_clock_mono_ms() - quiet_since >= w.cfg.resync_ms) {
            rc = catch_up(&w, 0);
            quiet_since = cdof_clock_mono_ms();
            continue;
        }
        int n = zmq_poll(&item, 1, POLL_MS);
        if (n > 0)
            quiet_since = cdof_clock_mono_ms();
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            cdof_log_error("cannot wait for alerts: %s", zmq_strerror(zmq_errno()));
            goto done;
        }
        links_check(&w); /* after the poll's errno is read: this reads the monitors */
        /* Drain what is waiting, a bounded number at a time, so that a stop is seen. */
        for (int i = 0; n > 0 && i < 1000 && rc == 0 && !stop_flag; i++) {
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
    status = EXIT_OK;
done:
    cdof_link_close(&w.links[0]);
    cdof_link_close(&w.links[1]);
    if (w.sub)
        zmq_close(w.sub);
    if (w.query)
        zmq_close(w.query);
    if (w.ctx)
        zmq_ctx_term(w.ctx);
    cdof_ref_destroy(&w.ref);
    cdof_curve_destroy(&w.curve);
    cdof_config_free(&watch_spec, &w.cfg);
    return status;
}
