/* cdof-query: asks the hub's query endpoint for a table and prints it as an aligned table, CSV or
 * JSON. Exit codes: 0 answered, 1 the hub answered with an error (or the answer was unusable),
 * 2 bad usage, 3 no answer within --timeout-ms. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_config.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_period.h"
#include "cdof_wire.h"
#include "query_output.h"

#define PROGRAM "cdof-query"

enum { EXIT_OK = 0, EXIT_HUB_ERROR = 1, EXIT_USAGE = 2, EXIT_NO_ANSWER = 3 };

/* Bounds the pages followed for one query (each up to 10,000 rows). */
#define MAX_PAGES 10000

typedef struct {
    char *as_at;
    char *format;
    char *hub;
    bool insecure;
    long page_size;
    long since;
    long timeout_ms;
    char *topic;
    long width;
} query_cfg_t;

static const cdof_opt_t query_opts[] = {
    {"as-at", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, as_at), "DATE",
     "series: values as known at DATE (YYYY-MM-DD: end of that day, or an ISO time)"},
    {"format", CDOF_OPT_STRING, "table", 0, 0, offsetof(query_cfg_t, format), "table|csv|json",
     "output format"},
    {"hub", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, hub), "EP",
     "the hub's query endpoint, e.g. tcp://hub.example:7402 (required)"},
    {"insecure", CDOF_OPT_BOOL, "false", 0, 0, offsetof(query_cfg_t, insecure), NULL,
     "plain TCP without CURVE (required until CURVE keys are supported)"},
    {"page-size", CDOF_OPT_INT, "0", 0, 10000, offsetof(query_cfg_t, page_size), "N",
     "rows per page asked of the hub; 0: the hub's default"},
    {"since", CDOF_OPT_INT, "0", 0, LONG_MAX, offsetof(query_cfg_t, since), "N",
     "alerts: only those with a sequence greater than N"},
    {"timeout-ms", CDOF_OPT_INT, "5000", 1, 3600000, offsetof(query_cfg_t, timeout_ms), "N",
     "how long to wait for each answer"},
    {"topic", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, topic), "PREFIX",
     "alerts: only topics starting with PREFIX, e.g. alert/ohid/E12000002/"},
    {"width", CDOF_OPT_INT, "80", 20, 1000, offsetof(query_cfg_t, width), "N",
     "widest table to aim for, in columns"},
};

static const cdof_config_spec_t query_spec = {
    .program = PROGRAM,
    .usage = PROGRAM " --hub EP [--format table|csv|json] [--insecure] [--timeout-ms N] COMMAND\n"
                     "\n"
                     "commands:\n"
                     "  area CODE [PERIOD]         every metric for an area against England "
                     "and region\n"
                     "  league METRIC PERIOD       every area for a metric, best first\n"
                     "  series METRIC AREA [--as-at DATE]\n"
                     "                             one row per period, oldest first\n"
                     "  alerts [--since N] [--topic PREFIX]\n"
                     "                             stored alerts after sequence N\n"
                     "  agents                     the agents the hub has heard from\n"
                     "  health                     the hub's counters since it started\n"
                     "\n"
                     "exit status: 0 answered, 1 the hub answered with an error, 2 bad usage,\n"
                     "3 no answer within --timeout-ms",
    .summary = "ask the cdof hub for comparisons, alerts and agent status",
    .opts = query_opts,
    .nopts = sizeof query_opts / sizeof query_opts[0],
};

typedef struct {
    const char *name;
    size_t min_args, max_args;
    const char *args; /* for the usage message */
} command_t;

static const command_t commands[] = {
    {"area", 1, 2, "CODE [PERIOD]"},
    {"league", 2, 2, "METRIC PERIOD"},
    {"series", 2, 2, "METRIC AREA"},
    {"alerts", 0, 0, ""},
    {"agents", 0, 0, ""},
    {"health", 0, 0, ""},
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROGRAM ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* --as-at: a date means "as known at the end of that day"; a time or ms is taken as it is. */
static int parse_as_at(const char *s, int64_t *ms)
{
    int32_t day;
    if (cdof_date_parse(s, &day) == 0) {
        *ms = ((int64_t)day + 1) * 86400000 - 1;
        return 0;
    }
    return cdof_clock_parse(s, ms);
}

static int check_period(const char *text)
{
    cdof_period_t p;
    char why[256];
    if (cdof_period_parse(text, &p, why, sizeof why) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", why);
        return -1;
    }
    return 0;
}

/* The hub's health: one record (CSV, JSON) or one counter per line (the aligned table). NULL when
 * out of memory; the caller owns the table. */
static cdof_qo_table_t *health_table(const Cdof__V1__Health *h, bool display)
{
    struct {
        const char *name;
        double value;
        int decimals;
    } f[] = {
        {"ingested", (double)h->ingested, 0},
        {"duplicates", (double)h->duplicates, 0},
        {"rejected", (double)h->rejected, 0},
        {"commits", (double)h->commits, 0},
        {"batch_last", (double)h->batch_last, 0},
        {"batch_max", (double)h->batch_max, 0},
        {"batch_mean", h->batch_mean, 1},
        {"comparisons", (double)h->comparisons, 0},
        {"pending_comparisons", (double)h->pending_comparisons, 0},
        {"alerts", (double)h->alerts, 0},
        {"connected_agents", h->connected_agents, 0},
        {"known_agents", h->known_agents, 0},
        {"heartbeats", (double)h->heartbeats, 0},
        {"out_of_order", (double)h->out_of_order, 0},
        {"next_alert_sequence", (double)h->next_alert_sequence, 0},
        {"connected_window_ms", h->connected_window_ms, 0},
        {"started_ms", (double)h->started_ms, 0},
    };
    size_t n = sizeof f / sizeof f[0];
    char started[64];
    cdof_clock_format(h->started_ms, started, sizeof started);
    cdof_qo_table_t *t;
    if (display) {
        const cdof_qo_col_t cols[] = {{"counter", false, false}, {"value", true, false}};
        if (!(t = cdof_qo_table_new(cols, 2)))
            return NULL;
        for (size_t i = 0; i < n; i++) {
            bool when = !strcmp(f[i].name, "started_ms");
            if (cdof_qo_table_add_row(t) < 0 ||
                cdof_qo_table_set(t, 0, CDOF_QO_TEXT, when ? "started" : f[i].name) < 0 ||
                (when ? cdof_qo_table_set(t, 1, CDOF_QO_TEXT, started)
                      : cdof_qo_table_set_number(t, 1, f[i].value, f[i].decimals)) < 0)
                goto fail;
        }
        return t;
    }
    cdof_qo_col_t cols[sizeof f / sizeof f[0]];
    for (size_t i = 0; i < n; i++)
        cols[i] = (cdof_qo_col_t){f[i].name, true, false};
    if (!(t = cdof_qo_table_new(cols, n)) || cdof_qo_table_add_row(t) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (cdof_qo_table_set_number(t, i, f[i].value, f[i].decimals < 1 ? 0 : -1) < 0)
            goto fail;
    }
    return t;
fail:
    cdof_qo_table_destroy(&t);
    return NULL;
}

/* Builds the printable table from all pages. */
static cdof_qo_table_t *build_table(const char *command, const cdof_qo_pages_t *pages, bool display)
{
    size_t total = 0;
    bool alerts = !strcmp(command, "alerts"), agents = !strcmp(command, "agents");
    for (size_t i = 0; i < pages->npages; i++) {
        const Cdof__V1__QueryResponse *r = pages->pages[i];
        total += alerts ? r->n_alerts : agents ? r->n_agents : r->n_rows;
    }
    void **all = calloc(total ? total : 1, sizeof *all);
    if (!all)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < pages->npages; i++) {
        const Cdof__V1__QueryResponse *r = pages->pages[i];
        size_t n = alerts ? r->n_alerts : agents ? r->n_agents : r->n_rows;
        for (size_t j = 0; j < n; j++)
            all[k++] = alerts   ? (void *)r->alerts[j]
                       : agents ? (void *)r->agents[j]
                                : (void *)r->rows[j];
    }
    cdof_qo_table_t *t;
    if (alerts)
        t = cdof_qo_alerts((Cdof__V1__Alert *const *)all, total, display);
    else if (agents)
        t = cdof_qo_agents((Cdof__V1__AgentStatus *const *)all, total, display);
    else
        t = cdof_qo_comparisons((Cdof__V1__ComparisonRow *const *)all, total,
                                !strcmp(command, "area")     ? CDOF_QO_VIEW_AREA
                                : !strcmp(command, "league") ? CDOF_QO_VIEW_LEAGUE
                                                             : CDOF_QO_VIEW_SERIES,
                                display);
    free(all);
    return t;
}

int main(int argc, char **argv)
{
    query_cfg_t cfg = {0};
    cdof_strlist_t pos = {0};
    char err[512] = "";
    int status = EXIT_USAGE;
    void *ctx = NULL, *sock = NULL;
    cdof_qo_pages_t pages = {0};
    cdof_qo_table_t *table = NULL;
    cdof_qo_format_t format;
    const command_t *cmd = NULL;

    /* Query sub-messages live on the stack; the request only points at them. */
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__AreaQuery area = CDOF__V1__AREA_QUERY__INIT;
    Cdof__V1__LeagueQuery league = CDOF__V1__LEAGUE_QUERY__INIT;
    Cdof__V1__SeriesQuery series = CDOF__V1__SERIES_QUERY__INIT;
    Cdof__V1__AlertsQuery alerts = CDOF__V1__ALERTS_QUERY__INIT;

    cdof_log_init(PROGRAM, CDOF_LOG_INFO);
    int rc = cdof_config_parse(&query_spec, &cfg, argc, argv, &pos, err, sizeof err);
    if (rc == CDOF_CONFIG_EXIT) {
        status = EXIT_OK;
        goto done;
    }
    if (rc < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        goto done;
    }
    if (!cfg.hub || !*cfg.hub) {
        status = usage_error("--hub EP is required");
        goto done;
    }
    if (cdof_qo_format_parse(cfg.format, &format) < 0) {
        status = usage_error("--format: '%s' is not table, csv or json", cfg.format);
        goto done;
    }
    if (!pos.count) {
        status = usage_error("which command? area, league, series, alerts, agents or health");
        goto done;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(pos.items[0], commands[i].name))
            cmd = &commands[i];
    }
    if (!cmd) {
        status = usage_error("unknown command '%s'", pos.items[0]);
        goto done;
    }
    size_t nargs = pos.count - 1;
    if (nargs < cmd->min_args || nargs > cmd->max_args) {
        if (cmd->max_args == 0)
            status = usage_error("%s takes no arguments", cmd->name);
        else
            status = usage_error("usage: %s %s", cmd->name, cmd->args);
        goto done;
    }
    bool is_alerts = !strcmp(cmd->name, "alerts"), is_series = !strcmp(cmd->name, "series");
    if (!is_alerts && (cfg.since || cfg.topic)) {
        status = usage_error("--since and --topic apply to the alerts command only");
        goto done;
    }
    if (!is_series && cfg.as_at) {
        status = usage_error("--as-at applies to the series command only");
        goto done;
    }
    if (!cfg.insecure) {
        fprintf(stderr, PROGRAM ": CURVE keys are not supported yet: pass --insecure\n");
        goto done;
    }

    char **a = pos.items + 1;
    if (!strcmp(cmd->name, "area")) {
        if (nargs > 1 && check_period(a[1]) < 0)
            goto done;
        area.area_code = a[0];
        if (nargs > 1)
            area.period = a[1];
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AREA;
        req.area = &area;
    } else if (!strcmp(cmd->name, "league")) {
        if (check_period(a[1]) < 0)
            goto done;
        league.metric_id = a[0];
        league.period = a[1];
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_LEAGUE;
        req.league = &league;
    } else if (is_series) {
        series.metric_id = a[0];
        series.area_code = a[1];
        if (cfg.as_at && parse_as_at(cfg.as_at, &series.as_at_ms) < 0) {
            status = usage_error("--as-at: '%s' is not a date (YYYY-MM-DD) or time", cfg.as_at);
            goto done;
        }
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_SERIES;
        req.series = &series;
    } else if (is_alerts) {
        alerts.since_sequence = (uint64_t)cfg.since;
        if (cfg.topic)
            alerts.topic_prefix = cfg.topic;
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_ALERTS;
        req.alerts = &alerts;
    } else if (!strcmp(cmd->name, "health")) {
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_HEALTH;
        req.health = 1;
    } else {
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AGENTS;
        req.agents = 1;
    }
    req.page_size = (uint32_t)cfg.page_size;

    cdof_log_warn("--insecure: plain TCP, neither encrypted nor authenticated");
    status = EXIT_HUB_ERROR;
    int linger = 0;
    int64_t maxmsg = CDOF_WIRE_MAX_RESPONSE;
    if (!(ctx = zmq_ctx_new()) || !(sock = zmq_socket(ctx, ZMQ_DEALER)) ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0) {
        fprintf(stderr, PROGRAM ": cannot create a socket: %s\n", zmq_strerror(zmq_errno()));
        goto done;
    }
    if (zmq_connect(sock, cfg.hub) < 0) {
        status = usage_error("--hub: cannot use '%s': %s", cfg.hub, zmq_strerror(zmq_errno()));
        goto done;
    }
    /* Request ids only need to differ from earlier asks on this socket; make them unlikely to
     * repeat across runs too, which helps reading a hub's logs. */
    uint64_t next_id = ((uint64_t)time(NULL) << 20) ^ ((uint64_t)getpid() << 4);
    rc = cdof_qo_fetch(sock, &req, &next_id, (int)cfg.timeout_ms, NULL, MAX_PAGES, &pages, err,
                       sizeof err);
    if (rc == -ETIMEDOUT) {
        fprintf(stderr, PROGRAM ": no answer from %s within %ld ms\n", cfg.hub, cfg.timeout_ms);
        status = EXIT_NO_ANSWER;
        goto done;
    }
    if (rc < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        goto done;
    }
    const Cdof__V1__QueryResponse *last = pages.pages[pages.npages - 1];
    if (last->status != CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK) {
        fprintf(stderr, PROGRAM ": the hub answered %s: %s\n", cdof_qo_status_name(last->status),
                last->error && *last->error ? last->error : "(no reason given)");
        goto done;
    }
    if (!strcmp(cmd->name, "health") && !last->health) {
        fprintf(stderr, PROGRAM ": the hub's answer has no health counters (an older hub?)\n");
        goto done;
    }
    table = !strcmp(cmd->name, "health") ? health_table(last->health, format == CDOF_QO_TABLE)
                                         : build_table(cmd->name, &pages, format == CDOF_QO_TABLE);
    if (!table) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        goto done;
    }
    if (cdof_qo_write(table, format, (size_t)cfg.width, stdout) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, PROGRAM ": cannot write the output: %s\n", strerror(errno));
        goto done;
    }
    status = EXIT_OK;
done:
    cdof_qo_table_destroy(&table);
    cdof_qo_pages_free(&pages);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    cdof_strlist_free(&pos);
    cdof_config_free(&query_spec, &cfg);
    return status;
}
