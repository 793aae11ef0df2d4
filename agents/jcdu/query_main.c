/* cdof-query: asks the hub's query endpoint for a table and prints it as an aligned table, CSV or
 * JSON. Exit codes: 0 answered, 1 the hub answered with an error (or the answer was unusable),
 * 2 bad usage, 3 no answer within --timeout-ms, 4 report written but no browser for --pdf, 5 the
 * hub refused this key or this action. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cdof_client.h"
#include "cdof_client_alert.h"
#include "cdof_clock.h"
#include "cdof_config.h"
#include "cdof_curve.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_wire.h"
#include "query_output.h"
#include "report.h"

#define PROGRAM "cdof-query"

/* 4: the HTML (and ODS) were written, but no browser was found to print the PDF. */
enum {
    EXIT_OK = 0,
    EXIT_HUB_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_NO_ANSWER = 3,
    EXIT_NO_BROWSER = 4,
    EXIT_REFUSED = 5
};

/* Bounds the pages followed for one query (each up to 10,000 rows). */
#define MAX_PAGES 10000
/* A read is asked again at most this often when the link to the hub is made anew meanwhile. */
#define RESENDS 3

typedef struct {
    char *as_at;
    char *format;
    char *hub;
    bool insecure;
    long page_size;
    char *since; /* alerts: a sequence; rejections: a date */
    long timeout_ms;
    char *topic;
    long width;
    /* national, milestones, partnership profiles and the annual report */
    char *as_of, *partnership, *team, *region, *state, *year, *out, *members;
    char *pdf, *ods, *partnerships; /* report: other forms, display names */
    bool internal;
    char *until, *reason, *by, *note; /* silence, unsilence, ack and close */
    char *key, *server_key;           /* CURVE key files */
} query_cfg_t;

static const cdof_opt_t query_opts[] = {
    /* Sorted by name: this one table drives parsing and --help (tests/unit/help_sorted.sh). */
    {"as-at", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, as_at), "DATE",
     "series: values as known at DATE (YYYY-MM-DD: end of that day, or an ISO time)"},
    {"as-of", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, as_of), "DATE",
     "milestones, report: standing as at DATE (YYYY-MM-DD; default today, report: year end)"},
    {"by", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, by), "NAME",
     "ack, silence, unsilence: the person acting (required; recorded beside this key's id)"},
    {"format", CDOF_OPT_STRING, "table", 0, 0, offsetof(query_cfg_t, format), "table|csv|json",
     "output format"},
    {"hub", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, hub), "EP",
     "the hub's query endpoint, e.g. tcp://hub.example:7402 (required)"},
    {"insecure", CDOF_OPT_BOOL, "false", 0, 0, offsetof(query_cfg_t, insecure), NULL,
     "plain TCP without CURVE (logged as a warning)"},
    {"internal", CDOF_OPT_BOOL, "false", 0, 0, offsetof(query_cfg_t, internal), NULL,
     "report: show true small counts, for official use only (every page is marked so)"},
    {"key", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, key), "FILE",
     "this client's secret key (NAME.key from cdof-keygen, mode 0600)"},
    {"members", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, members), "CODE,...",
     "area: profile a partnership of these areas as one, named by the area argument"},
    {"note", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, note), "TEXT",
     "ack: a note kept with the acknowledgement"},
    {"ods", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, ods), "FILE",
     "report: also write every table as one OpenDocument spreadsheet"},
    {"out", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, out), "FILE",
     "report: the HTML file to write (required)"},
    {"page-size", CDOF_OPT_INT, "0", 0, 10000, offsetof(query_cfg_t, page_size), "N",
     "rows per page asked of the hub; 0: the hub's default"},
    {"partnership", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, partnership), "ID",
     "milestones: only this partnership"},
    {"partnerships", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, partnerships), "FILE",
     "report, milestones: the hub's partnerships file, for the names in its name column"},
    {"pdf", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, pdf), "FILE",
     "report: also print it to an A4 PDF with headless Chromium"},
    {"reason", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, reason), "TEXT",
     "silence: why (required)"},
    {"region", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, region), "CODE",
     "alerts: only this region (E12000001..9)"},
    {"server-key", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, server_key), "FILE",
     "the hub's public key (hub.pub)"},
    {"since", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, since), "N|DATE",
     "alerts: only those with a sequence greater than N; rejections: refused on or after DATE"},
    {"state", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, state), "STATE",
     "alerts: only firing, resolved or acknowledged"},
    {"team", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, team), "TEAM",
     "alerts: only this oversight team (ohid, hmpps, police, jcdu)"},
    {"timeout-ms", CDOF_OPT_INT, "5000", 1, 3600000, offsetof(query_cfg_t, timeout_ms), "N",
     "how long to wait for each answer"},
    {"topic", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, topic), "PREFIX",
     "alerts: only topics starting with PREFIX, e.g. alert/ohid/E12000002/"},
    {"until", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, until), "DATE",
     "silence: until the start of DATE (YYYY-MM-DD) or an ISO time (required)"},
    {"width", CDOF_OPT_INT, "0", 0, 1000, offsetof(query_cfg_t, width), "N",
     "widest table to aim for, in columns (default: the terminal's width, else 80)"},
    {"year", CDOF_OPT_STRING, NULL, 0, 0, offsetof(query_cfg_t, year), "YYYY/YY",
     "report: the financial year reported on, e.g. 2024/25 (required)"},
};

static const cdof_config_spec_t query_spec = {
    .program = PROGRAM,
    .usage = PROGRAM " --hub EP (--key FILE --server-key FILE | --insecure)\n"
                     "       [--format table|csv|json] [--timeout-ms N] COMMAND\n"
                     "\n"
                     "commands:\n"
                     "  area CODE [PERIOD]         every metric for an area against England "
                     "and region\n"
                     "  area NAME [PERIOD] --members CODE,...\n"
                     "                             the same for a partnership of those areas\n"
                     "  league METRIC PERIOD       every area for a metric, best first\n"
                     "  rolling METRIC MONTH [AREA]\n"
                     "                             rolling 12 months ending in MONTH, best "
                     "first\n"
                     "  series METRIC AREA [--as-at DATE]\n"
                     "                             one row per period, oldest first\n"
                     "  alerts [--since N] [--topic PREFIX]\n"
                     "                             stored alerts after sequence N\n"
                     "  alerts [--team T] [--region CODE] [--state S]\n"
                     "                             the same, filtered\n"
                     "  agents                     the agents the hub has heard from\n"
                     "  national                   England's figures against the strategy's "
                     "commitments\n"
                     "  milestones [--as-of DATE] [--partnership ID] [--partnerships FILE]\n"
                     "                             each partnership's deliverables: done, late, "
                     "overdue\n"
                     "  report --year 2024/25 --out FILE [--internal] [--pdf FILE] [--ods FILE]\n"
                     "         [--partnerships FILE]\n"
                     "                             the annual report as one self-contained HTML "
                     "file;\n"
                     "                             also an A4 PDF (headless Chromium) and every "
                     "table\n"
                     "                             as one OpenDocument spreadsheet\n"
                     "  ack ALERT_ID --by NAME [--note TEXT]\n"
                     "                             acknowledge a firing alert\n"
                     "  silence RULE|SUBJECT|AREA --until DATE --reason TEXT --by NAME\n"
                     "                             mute matching alerts (any part may be *:\n"
                     "                             within this key's team and region)\n"
                     "  unsilence SILENCE_ID --by NAME\n"
                     "                             end a silence early\n"
                     "  silences                   the silences in force\n"
                     "  silence-history            every silence, in force, ended or expired\n"
                     "  health                     the hub's counters since it started\n"
                     "  rejections [--since DATE]  envelopes the hub refused, with the reasons\n"
                     "  coverage METRIC [PERIOD]   each period's state and coverage; one "
                     "period's\n"
                     "                             regions, partnerships, missing areas, history\n"
                     "  close METRIC PERIOD --by NAME --reason TEXT\n"
                     "                             close a period as complete enough to judge\n"
                     "\n"
                     "exit status: 0 answered, 1 the hub answered with an error (or the answer\n"
                     "was unusable, or the report could not be written), 2 bad usage,\n"
                     "3 no answer within --timeout-ms, 4 report written but no browser to print "
                     "--pdf, 5 the hub refused this key (not registered, the wrong role, a wrong\n"
                     "--server-key, or an action outside the key's scope)",
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
    {"rolling", 2, 3, "METRIC MONTH [AREA]"},
    {"series", 2, 2, "METRIC AREA"},
    {"alerts", 0, 0, ""},
    {"agents", 0, 0, ""},
    {"national", 0, 0, ""},
    {"milestones", 0, 0, ""},
    {"report", 0, 0, ""},
    {"ack", 1, 1, "ALERT_ID --by NAME"},
    {"silence", 1, 1, "RULE|SUBJECT|AREA --until DATE --reason TEXT"},
    {"silences", 0, 0, ""},
    {"unsilence", 1, 1, "SILENCE_ID --by NAME"},
    {"silence-history", 0, 0, ""},
    {"health", 0, 0, ""},
    {"rejections", 0, 0, ""},
    {"coverage", 1, 2, "METRIC [PERIOD]"},
    {"close", 2, 2, "METRIC PERIOD --by NAME --reason TEXT"},
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

/* The requests of ack, silence, unsilence, silences and silence-history. Returns 0 or an exit
 * status. */
static int alert_op_request(const query_cfg_t *cfg, const command_t *cmd, char **a,
                            Cdof__V1__QueryRequest *req, Cdof__V1__AlertAck *ack,
                            Cdof__V1__Silence *silence, Cdof__V1__Unsilence *unsilence)
{
    bool is_ack = !strcmp(cmd->name, "ack"), is_silence = !strcmp(cmd->name, "silence");
    bool is_unsilence = !strcmp(cmd->name, "unsilence");
    if (!is_ack && cfg->note)
        return usage_error("--note applies to the ack command only");
    if (!is_silence && (cfg->until || cfg->reason))
        return usage_error("--until and --reason apply to the silence command only");
    if (!is_ack && !is_silence && !is_unsilence && cfg->by)
        return usage_error("--by applies to the ack, silence and unsilence commands only");
    if ((is_ack || is_silence || is_unsilence) && (!cfg->by || !*cfg->by))
        return usage_error("%s needs --by NAME, the person acting", cmd->name);
    if (is_ack || is_unsilence) {
        char *end;
        errno = 0;
        unsigned long long id = strtoull(a[0], &end, 10);
        if (errno || end == a[0] || *end || a[0][0] == '-' || id == 0)
            return usage_error("%s: '%s' is not %s number", cmd->name, a[0],
                               is_ack ? "an alert" : "a silence");
        if (is_unsilence) {
            unsilence->id = id;
            unsilence->by = cfg->by;
            req->query_case = CDOF__V1__QUERY_REQUEST__QUERY_UNSILENCE;
            req->unsilence = unsilence;
            return 0;
        }
        ack->sequence = id;
        ack->by = cfg->by;
        if (cfg->note)
            ack->note = cfg->note;
        req->query_case = CDOF__V1__QUERY_REQUEST__QUERY_ACK;
        req->ack = ack;
    } else if (is_silence) {
        if (!cfg->until || !cfg->reason || !*cfg->reason)
            return usage_error("silence needs --until DATE and --reason TEXT");
        int32_t day;
        int64_t ms;
        if (cdof_date_parse(cfg->until, &day) == 0)
            ms = (int64_t)day * 86400000;
        else if (cdof_clock_parse(cfg->until, &ms) < 0)
            return usage_error("--until: '%s' is not a date (YYYY-MM-DD) or time", cfg->until);
        silence->matcher = a[0];
        silence->until_ms = ms;
        silence->reason = cfg->reason;
        silence->by = cfg->by;
        req->query_case = CDOF__V1__QUERY_REQUEST__QUERY_SILENCE;
        req->silence = silence;
    } else if (!strcmp(cmd->name, "silence-history")) {
        req->query_case = CDOF__V1__QUERY_REQUEST__QUERY_SILENCE_HISTORY;
        req->silence_history = 1;
    } else {
        req->query_case = CDOF__V1__QUERY_REQUEST__QUERY_SILENCES;
        req->silences = 1;
    }
    return 0;
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

/* --width, else the terminal's width when the table goes to one, else 80 columns. */
static size_t table_width(const query_cfg_t *cfg)
{
    struct winsize ws;
    if (cfg->width > 0)
        return cfg->width < 20 ? 20 : (size_t)cfg->width;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
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

/* The repeated field of a response a command reads. */
typedef enum {
    ANS_ROWS,
    ANS_ALERTS,
    ANS_AGENTS,
    ANS_NATIONAL,
    ANS_MILESTONES,
    ANS_PERIODS,
    ANS_REJECTIONS
} answer_kind_t;

static answer_kind_t answer_kind(const char *command)
{
    return !strcmp(command, "alerts") || !strcmp(command, "ack")       ? ANS_ALERTS
           : !strcmp(command, "agents")                                ? ANS_AGENTS
           : !strcmp(command, "national")                              ? ANS_NATIONAL
           : !strcmp(command, "milestones")                            ? ANS_MILESTONES
           : !strcmp(command, "coverage") || !strcmp(command, "close") ? ANS_PERIODS
           : !strcmp(command, "rejections")                            ? ANS_REJECTIONS
                                                                       : ANS_ROWS;
}

static size_t answer_count(const Cdof__V1__QueryResponse *r, answer_kind_t k)
{
    switch (k) {
    case ANS_ALERTS:
        return r->n_alerts;
    case ANS_AGENTS:
        return r->n_agents;
    case ANS_NATIONAL:
        return r->n_national;
    case ANS_MILESTONES:
        return r->n_milestones;
    case ANS_PERIODS:
        return r->n_periods;
    case ANS_REJECTIONS:
        return r->n_rejections;
    case ANS_ROWS:
        break;
    }
    return r->n_rows;
}

static void *answer_item(const Cdof__V1__QueryResponse *r, answer_kind_t k, size_t j)
{
    switch (k) {
    case ANS_ALERTS:
        return r->alerts[j];
    case ANS_AGENTS:
        return r->agents[j];
    case ANS_NATIONAL:
        return r->national[j];
    case ANS_MILESTONES:
        return r->milestones[j];
    case ANS_PERIODS:
        return r->periods[j];
    case ANS_REJECTIONS:
        return r->rejections[j];
    case ANS_ROWS:
        break;
    }
    return r->rows[j];
}

/* alerts --team/--region/--state: filtered here, the hub filters by topic prefix only. */
static bool alert_wanted(const Cdof__V1__Alert *a, const query_cfg_t *cfg)
{
    return (!cfg->team || !strcmp(a->team, cfg->team)) &&
           (!cfg->region || !strcmp(a->region_code, cfg->region)) &&
           (!cfg->state || !strcmp(cdof_client_state_name(a->state), cfg->state));
}

/* The silences of all pages. */
static cdof_table_t *silences_table(const cdof_client_pages_t *pages, bool display)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < pages->npages; i++)
        total += pages->pages[i]->n_silences;
    Cdof__V1__Silence **all = calloc(total ? total : 1, sizeof *all);
    if (!all)
        return NULL;
    for (size_t i = 0; i < pages->npages; i++) {
        for (size_t j = 0; j < pages->pages[i]->n_silences; j++)
            all[k++] = pages->pages[i]->silences[j];
    }
    cdof_table_t *t = cdof_qo_silences(all, total, display);
    free(all);
    return t;
}

/* The hub's health: one record (CSV, JSON) or one counter per line (the aligned table). NULL when
 * out of memory; the caller owns the table. */
static cdof_table_t *health_table(const Cdof__V1__Health *h, bool display)
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
        {"queries_refused", (double)h->queries_refused, 0},
        {"subscriptions_refused", (double)h->subscriptions_refused, 0},
        {"queries_deferred", (double)h->queries_deferred, 0},
        {"query_cpu_ms", (double)h->query_cpu_ms, 0},
    };
    size_t n = sizeof f / sizeof f[0];
    char started[64];
    cdof_clock_format(h->started_ms, started, sizeof started);
    cdof_table_t *t;
    if (display) {
        static const cdof_table_col_t cols[] = {CDOF_TABLE_COL_TEXT("counter"),
                                                {"value", CDOF_TABLE_RIGHT, CDOF_TABLE_STRING}};
        t = cdof_table_new(CDOF_TABLE_COLS(cols));
        for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
            bool when = !strcmp(f[i].name, "started_ms");
            cdof_table_set(t, 0, when ? "started" : f[i].name);
            if (when)
                cdof_table_set(t, 1, started);
            else
                cdof_table_set_number(t, 1, f[i].value, f[i].decimals);
        }
        return cdof_table_finish(t);
    }
    cdof_table_col_t cols[sizeof f / sizeof f[0]];
    for (size_t i = 0; i < n; i++)
        cols[i] = (cdof_table_col_t)CDOF_TABLE_COL_NUM(f[i].name);
    if ((t = cdof_table_new(cols, n)) && cdof_table_add_row(t) == 0) {
        for (size_t i = 0; i < n; i++)
            cdof_table_set_number(t, i, f[i].value, f[i].decimals < 1 ? 0 : -1);
    }
    return cdof_table_finish(t);
}

/* Milestones, with each partnership's display name from --partnerships when given (a file that
 * cannot be read was refused before asking the hub). */
static cdof_table_t *milestones_table(Cdof__V1__MilestoneRow *const *rows, size_t n,
                                      const query_cfg_t *cfg, bool display)
{
    cdof_report_t names = {0};
    const char **shown = NULL;
    char err[256];
    if (cfg->partnerships &&
        cdof_report_load_names(&names, cfg->partnerships, err, sizeof err) == 0 &&
        (shown = calloc(n ? n : 1, sizeof *shown)) != NULL) {
        for (size_t i = 0; i < n; i++)
            shown[i] = cdof_report_partnership_name(&names, rows[i]->partnership);
    }
    cdof_table_t *t =
        cfg->partnerships && !shown ? NULL : cdof_qo_milestones(rows, n, shown, display);
    free(shown);
    cdof_report_free(&names);
    return t;
}

/* Builds the printable table from all pages. */
static cdof_table_t *build_table(const char *command, const cdof_client_pages_t *pages,
                                 const query_cfg_t *cfg, bool display)
{
    size_t total = 0;
    if (!strncmp(command, "silence", 7) || !strcmp(command, "unsilence"))
        return silences_table(pages, display);
    answer_kind_t kind = answer_kind(command);
    for (size_t i = 0; i < pages->npages; i++)
        total += answer_count(pages->pages[i], kind);
    void **all = calloc(total ? total : 1, sizeof *all);
    if (!all)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < pages->npages; i++) {
        const Cdof__V1__QueryResponse *r = pages->pages[i];
        for (size_t j = 0; j < answer_count(r, kind); j++) {
            void *item = answer_item(r, kind, j);
            if (kind != ANS_ALERTS || alert_wanted(item, cfg))
                all[k++] = item;
        }
    }
    cdof_table_t *t = NULL;
    switch (kind) {
    case ANS_ALERTS:
        t = cdof_client_alerts_table((Cdof__V1__Alert *const *)all, k, display);
        break;
    case ANS_AGENTS:
        t = cdof_qo_agents((Cdof__V1__AgentStatus *const *)all, k, display);
        break;
    case ANS_NATIONAL:
        t = cdof_qo_national((Cdof__V1__NationalRow *const *)all, k, display);
        break;
    case ANS_MILESTONES:
        t = milestones_table((Cdof__V1__MilestoneRow *const *)all, k, cfg, display);
        break;
    case ANS_PERIODS:
        t = cdof_qo_periods((Cdof__V1__PeriodStatus *const *)all, k, display);
        break;
    case ANS_REJECTIONS:
        t = cdof_qo_rejections((Cdof__V1__Rejection *const *)all, k, display);
        break;
    case ANS_ROWS:
        t = cdof_qo_comparisons((Cdof__V1__ComparisonRow *const *)all, k,
                                !strcmp(command, "area") ? CDOF_QO_VIEW_AREA
                                : !strcmp(command, "league") || !strcmp(command, "rolling")
                                    ? CDOF_QO_VIEW_LEAGUE
                                    : CDOF_QO_VIEW_SERIES,
                                display);
        break;
    }
    free(all);
    return t;
}

/* Checks the flags that belong to one command only. Returns EXIT_OK or EXIT_USAGE (said). */
static int check_command_flags(const char *name, const query_cfg_t *cfg)
{
    bool alerts = !strcmp(name, "alerts"), report = !strcmp(name, "report"),
         milestones = !strcmp(name, "milestones");
    if (!alerts && (cfg->topic || cfg->team || cfg->region || cfg->state))
        return usage_error("--topic, --team, --region and --state apply to alerts only");
    if (!alerts && strcmp(name, "rejections") != 0 && cfg->since)
        return usage_error("--since applies to alerts and rejections only");
    if (cfg->state && strcmp(cfg->state, "firing") && strcmp(cfg->state, "resolved") &&
        strcmp(cfg->state, "acknowledged"))
        return usage_error("--state: '%s' is not firing, resolved or acknowledged", cfg->state);
    if (strcmp(name, "series") != 0 && cfg->as_at)
        return usage_error("--as-at applies to the series command only");
    if (!milestones && !report && cfg->as_of)
        return usage_error("--as-of applies to milestones and report only");
    if (!milestones && cfg->partnership)
        return usage_error("--partnership applies to milestones only");
    if (strcmp(name, "area") != 0 && cfg->members)
        return usage_error("--members applies to area only");
    if (!report && (cfg->year || cfg->out || cfg->internal || cfg->pdf || cfg->ods))
        return usage_error("--year, --out, --internal, --pdf and --ods apply to report only");
    if (!report && !milestones && cfg->partnerships)
        return usage_error("--partnerships applies to report and milestones only");
    if (report && (!cfg->year || !cfg->out))
        return usage_error("report needs --year YYYY/YY and --out FILE");
    int32_t day;
    if (cfg->as_of && cdof_date_parse(cfg->as_of, &day) < 0)
        return usage_error("--as-of: '%s' is not a date (YYYY-MM-DD)", cfg->as_of);
    return EXIT_OK;
}

static void free_tables(cdof_rr_table_t **tables, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cdof_rr_table_free(&tables[i]);
    free(tables);
}

/* report: fetches the year's figures, applies suppression, writes the HTML next to --out and
 * renames it into place, so a reader never opens half a report. */
static int run_report(cdof_client_t *client, const query_cfg_t *cfg)
{
    char err[512] = "", tmp[4096];
    int status = EXIT_HUB_ERROR;
    cdof_report_t r;
    memset(&r, 0, sizeof r);
    cdof_ref_t *ref = cdof_ref_load(cdof_ref_default_dir(), err, sizeof err);
    if (!ref) {
        fprintf(stderr, PROGRAM ": reference data: %s\n", err);
        return EXIT_HUB_ERROR;
    }
    int32_t as_of = 0;
    if (cfg->as_of)
        cdof_date_parse(cfg->as_of, &as_of);
    int rc = cdof_report_fetch(client, ref, cfg->year, as_of, &r, err, sizeof err);
    if (rc == -ETIMEDOUT) {
        fprintf(stderr, PROGRAM ": no answer from %s within %ld ms\n", cfg->hub, cfg->timeout_ms);
        status = EXIT_NO_ANSWER;
        goto out;
    }
    if (rc < 0) {
        fprintf(stderr, PROGRAM ": report: %s\n", err[0] ? err : cdof_strerror(rc));
        status = rc == CDOF_EINVALID && !strncmp(err, "--year", 6) ? EXIT_USAGE : EXIT_HUB_ERROR;
        goto out;
    }
    r.internal = cfg->internal;
    if (cfg->partnerships &&
        (rc = cdof_report_load_names(&r, cfg->partnerships, err, sizeof err)) < 0) {
        fprintf(stderr, PROGRAM ": report: %s\n", err);
        status = EXIT_USAGE;
        goto out;
    }
    for (size_t k = 0; k < r.npartnerships; k++)
        snprintf(r.partnerships[k].name, sizeof r.partnerships[k].name, "%s",
                 cdof_report_partnership_name(&r, r.partnerships[k].code));
    int withheld = cdof_report_suppress(&r, ref);
    if (withheld < 0) {
        fprintf(stderr, PROGRAM ": report: %s\n", cdof_strerror(withheld));
        goto out;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", cfg->out);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, PROGRAM ": cannot write %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    cdof_rr_buf_t html = {0};
    cdof_rr_table_t **tables = NULL;
    size_t ntables = 0;
    rc = cdof_report_build(&r, ref, &html, cfg->ods ? &tables : NULL, &ntables);
    if (rc == 0 && fwrite(html.data, 1, html.len, f) != html.len)
        rc = -EIO;
    cdof_rr_buf_free(&html);
    if (fclose(f) != 0 || rc < 0 || rename(tmp, cfg->out) < 0) {
        fprintf(stderr, PROGRAM ": cannot write %s: %s\n", cfg->out,
                rc < 0 ? cdof_strerror(rc) : strerror(errno));
        unlink(tmp);
        free_tables(tables, ntables);
        goto out;
    }
    printf("wrote %s: annual report %s, %s edition (%d figures withheld in publication)\n",
           cfg->out, r.year, cfg->internal ? "internal, true values" : "published", withheld);
    status = EXIT_OK;
    if (cfg->ods) {
        char title[160];
        snprintf(title, sizeof title,
                 "Combating Drugs Outcomes Framework: annual report %s, tables (%s edition)",
                 r.year, cfg->internal ? "internal" : "published");
        rc = cdof_report_write_ods((const cdof_rr_table_t *const *)tables, ntables, title,
                                   "Numbers unrounded; [c] withheld to protect small numbers, "
                                   "[x] not available, [p] provisional (in each sheet's Notes).",
                                   cfg->ods, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, PROGRAM ": report: %s\n", err);
            status = EXIT_HUB_ERROR;
        } else {
            printf("wrote %s: %zu tables as an OpenDocument spreadsheet\n", cfg->ods, ntables);
        }
    }
    free_tables(tables, ntables);
    if (cfg->pdf) {
        rc = cdof_report_pdf(cfg->out, cfg->pdf, 300, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, PROGRAM ": report: %s\n", err);
            status = rc == -ENOENT ? EXIT_NO_BROWSER : EXIT_HUB_ERROR;
        } else {
            printf("wrote %s: the report as an A4 PDF\n", cfg->pdf);
        }
    }
out:
    cdof_report_free(&r);
    cdof_ref_destroy(&ref);
    return status;
}

int main(int argc, char **argv)
{
    query_cfg_t cfg = {0};
    cdof_strlist_t pos = {0};
    char err[512] = "";
    int status = EXIT_USAGE;
    cdof_client_t *client = NULL;
    cdof_curve_t *curve = NULL;
    cdof_client_pages_t pages = {0};
    cdof_table_t *table = NULL;
    cdof_table_format_t format;
    const command_t *cmd = NULL;

    /* Query sub-messages live on the stack; the request only points at them. */
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__AreaQuery area = CDOF__V1__AREA_QUERY__INIT;
    Cdof__V1__LeagueQuery league = CDOF__V1__LEAGUE_QUERY__INIT;
    Cdof__V1__SeriesQuery series = CDOF__V1__SERIES_QUERY__INIT;
    Cdof__V1__AlertsQuery alerts = CDOF__V1__ALERTS_QUERY__INIT;
    Cdof__V1__RollingQuery rolling = CDOF__V1__ROLLING_QUERY__INIT;
    Cdof__V1__MilestonesQuery milestones = CDOF__V1__MILESTONES_QUERY__INIT;
    char *members[CDOF_WIRE_MAX_MEMBERS];
    size_t nmembers = 0;
    Cdof__V1__AlertAck ack = CDOF__V1__ALERT_ACK__INIT;
    Cdof__V1__CoverageQuery coverage = CDOF__V1__COVERAGE_QUERY__INIT;
    Cdof__V1__RejectionsQuery rejections = CDOF__V1__REJECTIONS_QUERY__INIT;
    Cdof__V1__PeriodClose pclose = CDOF__V1__PERIOD_CLOSE__INIT;
    Cdof__V1__Silence silence = CDOF__V1__SILENCE__INIT;
    Cdof__V1__Unsilence unsilence = CDOF__V1__UNSILENCE__INIT;

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
    if (cdof_table_format_parse(cfg.format, &format) < 0) {
        status = usage_error("--format: '%s' is not table, csv or json", cfg.format);
        goto done;
    }
    if (!pos.count) {
        status = usage_error("which command? area, league, rolling, series, national, milestones, "
                             "alerts, agents, health, coverage, report, ack, silence, unsilence, "
                             "silences, silence-history or close");
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
    if ((status = check_command_flags(cmd->name, &cfg)) == EXIT_OK &&
        !strcmp(cmd->name, "milestones") && cfg.partnerships) {
        cdof_report_t names = {0};
        if (cdof_report_load_names(&names, cfg.partnerships, err, sizeof err) < 0) {
            fprintf(stderr, PROGRAM ": milestones: %s\n", err);
            status = EXIT_USAGE;
        }
        cdof_report_free(&names);
    }
    if (status != EXIT_OK)
        goto done;
    if ((rc = cdof_curve_open(cfg.insecure, false, cfg.key, cfg.server_key, &curve, err,
                              sizeof err)) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        status = rc == CDOF_EINVALID ? EXIT_USAGE : EXIT_HUB_ERROR;
        goto done;
    }

    char **a = pos.items + 1;
    if (!strcmp(cmd->name, "area")) {
        if (nargs > 1 && check_period(a[1]) < 0) {
            status = EXIT_USAGE;
            goto done;
        }
        area.area_code = a[0];
        if (nargs > 1)
            area.period = a[1];
        if (cfg.members) {
            /* Split in place: the option's string is ours until cdof_config_free. */
            for (char *p = cfg.members, *tok; (tok = strsep(&p, ",")) != NULL;) {
                if (!*tok)
                    continue;
                if (nmembers == sizeof members / sizeof members[0]) {
                    status = usage_error("--members: at most %zu areas",
                                         sizeof members / sizeof members[0]);
                    goto done;
                }
                members[nmembers++] = tok;
            }
            area.members = members;
            area.n_members = nmembers;
        }
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AREA;
        req.area = &area;
    } else if (!strcmp(cmd->name, "league")) {
        if (check_period(a[1]) < 0) {
            status = EXIT_USAGE;
            goto done;
        }
        league.metric_id = a[0];
        league.period = a[1];
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_LEAGUE;
        req.league = &league;
    } else if (!strcmp(cmd->name, "rolling")) {
        if (check_period(a[1]) < 0) {
            status = EXIT_USAGE;
            goto done;
        }
        rolling.metric_id = a[0];
        rolling.period = a[1];
        if (nargs > 2)
            rolling.area_code = a[2];
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_ROLLING;
        req.rolling = &rolling;
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
        if (cfg.since) {
            char *end;
            errno = 0;
            alerts.since_sequence = strtoull(cfg.since, &end, 10);
            if (!*cfg.since || *end || errno || *cfg.since == '-') {
                status = usage_error("--since: '%s' is not an alert sequence number", cfg.since);
                goto done;
            }
        }
        if (cfg.topic)
            alerts.topic_prefix = cfg.topic;
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_ALERTS;
        req.alerts = &alerts;
    } else if (!strcmp(cmd->name, "national")) {
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_NATIONAL;
        req.national = 1;
    } else if (!strcmp(cmd->name, "milestones")) {
        if (cfg.as_of)
            cdof_date_parse(cfg.as_of, &milestones.as_of_day);
        milestones.partnership = cfg.partnership;
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_MILESTONES_AT;
        req.milestones_at = &milestones;
    } else if (!strcmp(cmd->name, "rejections")) {
        int32_t day = 0;
        if (cfg.since && cdof_date_parse(cfg.since, &day) < 0) {
            status = usage_error("--since: '%s' is not a date (YYYY-MM-DD)", cfg.since);
            goto done;
        }
        rejections.since_ms = cfg.since ? (int64_t)day * 86400000 : 0;
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_REJECTIONS;
        req.rejections = &rejections;
    } else if (!strcmp(cmd->name, "health")) {
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_HEALTH;
        req.health = 1;
    } else if (!strcmp(cmd->name, "coverage")) {
        if (nargs > 1 && check_period(a[1]) < 0)
            goto done;
        coverage.metric_id = a[0];
        if (nargs > 1)
            coverage.period = a[1];
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_COVERAGE;
        req.coverage = &coverage;
    } else if (!strcmp(cmd->name, "close")) {
        if (check_period(a[1]) < 0)
            goto done;
        if (!cfg.by || !*cfg.by || !cfg.reason || !*cfg.reason) {
            status = usage_error("close needs --by NAME (who closes it) and --reason TEXT");
            goto done;
        }
        pclose.metric_id = a[0];
        pclose.period = a[1];
        pclose.by = cfg.by;
        pclose.reason = cfg.reason;
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_CLOSE;
        req.close = &pclose;
    } else if (!strcmp(cmd->name, "agents") || !strcmp(cmd->name, "report")) {
        req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AGENTS;
        req.agents = 1;
    } else if ((status = alert_op_request(&cfg, cmd, a, &req, &ack, &silence, &unsilence)) != 0) {
        goto done;
    }
    req.page_size = (uint32_t)cfg.page_size;

    status = EXIT_HUB_ERROR;
    cdof_client_opts_t copts = {
        .endpoint = cfg.hub, .curve = curve, .timeout_ms = (int)cfg.timeout_ms, .resends = RESENDS};
    if ((rc = cdof_client_open(&copts, &client, err, sizeof err)) < 0) {
        if (rc == CDOF_EINVALID)
            status = usage_error("--hub: %s", err);
        else
            fprintf(stderr, PROGRAM ": %s\n", err);
        goto done;
    }
    /* Wait for the handshake's verdict first: a refused key or a wrong hub key is said at once,
     * with its own exit status, instead of "no answer" after the time-out. */
    cdof_link_state_t ls = cdof_client_wait_link(client, (int)cfg.timeout_ms);
    if (ls == CDOF_LINK_REFUSED || ls == CDOF_LINK_WRONG_HUB_KEY) {
        fprintf(stderr, PROGRAM ": %s: %s\n", cfg.hub, cdof_link_describe(ls));
        status = EXIT_REFUSED;
        goto done;
    }
    if (ls != CDOF_LINK_UP) {
        fprintf(stderr, PROGRAM ": no answer from %s within %ld ms: %s\n", cfg.hub, cfg.timeout_ms,
                cdof_link_describe(ls));
        status = EXIT_NO_ANSWER;
        goto done;
    }

    if (!strcmp(cmd->name, "report")) {
        status = run_report(client, &cfg);
        goto done;
    }
    rc = cdof_client_fetch(client, &req, MAX_PAGES, &pages, err, sizeof err);
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
        fprintf(stderr, PROGRAM ": the hub answered %s: %s\n",
                cdof_client_status_name(last->status),
                last->error && *last->error ? last->error : "(no reason given)");
        if (last->status == CDOF__V1__QUERY_STATUS__QUERY_STATUS_FORBIDDEN)
            status = EXIT_REFUSED;
        goto done;
    }
    if (!strcmp(cmd->name, "health") && !last->health) {
        fprintf(stderr, PROGRAM ": the hub's answer has no health counters (an older hub?)\n");
        goto done;
    }
    table = !strcmp(cmd->name, "health")
                ? health_table(last->health, format == CDOF_TABLE_ALIGNED)
                : build_table(cmd->name, &pages, &cfg, format == CDOF_TABLE_ALIGNED);
    if (!table) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        goto done;
    }
    if (!strcmp(cmd->name, "rolling") && cdof_table_rows(table) == 0)
        fprintf(stderr,
                PROGRAM ": no rolling 12-month figures end in %s%s%s: an area has them once it "
                        "has data for all 12 months up to that month (see `series`)\n",
                rolling.period, *rolling.area_code ? " for " : "", rolling.area_code);
    if (cdof_table_write(table, format, table_width(&cfg), stdout) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, PROGRAM ": cannot write the output: %s\n", strerror(errno));
        goto done;
    }
    status = EXIT_OK;
done:
    cdof_table_destroy(&table);
    cdof_client_pages_free(&pages);
    cdof_client_close(&client);
    cdof_curve_destroy(&curve);
    cdof_strlist_free(&pos);
    cdof_config_free(&query_spec, &cfg);
    return status;
}
