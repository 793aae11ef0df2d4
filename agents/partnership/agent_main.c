/* cdof-agent: a partnership's (or a national source's) agent. Reads CSV drops, validates them,
 * keeps them in an LMDB outbox and sends them to the hub. Also `status` and `milestone`. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>
#include <zmq.h>

#include "agent_intake.h"
#include "agent_outbox.h"
#include "agent_sender.h"
#include "cdof_clock.h"
#include "cdof_config.h"
#include "cdof_csv.h"
#include "cdof_curve.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "cdof_link.h"
#include "cdof_log.h"
#include "cdof_metrics.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_signal.h"
#include "cdof_text.h"
#include "cdof_validate.h"
#include "cdof_wire.h"

#define DRAIN_MS   2000 /* on SIGTERM: how long to wait for in-flight acknowledgements */
#define EXIT_USAGE 2

typedef struct {
    long ack_timeout_ms;
    cdof_strlist_t areas;
    char *data, *date, *format, *hub, *id, *log_file, *log_level, *note, *partnership, *ref,
        *refdir, *spool;
    long heartbeat_ms;
    bool insecure, national;
    long rescan_ms, retain_hours, stable_ms, window, outbox_max_mb;
    char *key, *server_key; /* CURVE key files */
    char *metrics;          /* --metrics HOST:PORT: Prometheus endpoint; NULL: none */
} agent_config_t;

#define OPT(name, type, def, min, max, field, arg, help)                                           \
    {                                                                                              \
        name, type, def, min, max, offsetof(agent_config_t, field), arg, help                      \
    }

/* Sorted by name: parsing, --help and the INI file all come from here. */
static const cdof_opt_t agent_opts[] = {
    OPT("ack-timeout-ms", CDOF_OPT_INT, "5000", 100, 600000, ack_timeout_ms, "N",
        "resend an envelope not acknowledged within N ms (then back off, up to 30 s)"),
    OPT("areas", CDOF_OPT_LIST, NULL, 0, 0, areas, "CODE,...",
        "areas this agent reports for (default: the id, when it is an area code)"),
    OPT("data", CDOF_OPT_STRING, NULL, 0, 0, data, "DIR", "the agent's outbox directory"),
    OPT("date", CDOF_OPT_STRING, NULL, 0, 0, date, "YYYY-MM-DD",
        "milestone: the day it was completed"),
    OPT("format", CDOF_OPT_STRING, "text", 0, 0, format, "text|json", "status: output format"),
    OPT("heartbeat-ms", CDOF_OPT_INT, "1000", 50, 60000, heartbeat_ms, "N",
        "heartbeat interval; three silent intervals mean the hub is gone"),
    OPT("hub", CDOF_OPT_STRING, NULL, 0, 0, hub, "EP",
        "the hub's ingest endpoint, e.g. "
        "tcp://hub.example:7400"),
    OPT("id", CDOF_OPT_STRING, NULL, 0, 0, id, "ID",
        "this agent's id (an area code for a "
        "single-area partnership)"),
    OPT("insecure", CDOF_OPT_BOOL, NULL, 0, 0, insecure, NULL,
        "plain TCP without CURVE (logged as a warning at every start)"),
    OPT("key", CDOF_OPT_STRING, NULL, 0, 0, key, "FILE",
        "this agent's secret key (NAME.key from cdof-keygen, mode 0600)"),
    OPT("log-file", CDOF_OPT_STRING, NULL, 0, 0, log_file, "FILE",
        "log to FILE instead of stderr (reopened on SIGHUP)"),
    OPT("log-level", CDOF_OPT_STRING, "info", 0, 0, log_level, "L", "error, warn, info or debug"),
    OPT("metrics", CDOF_OPT_STRING, NULL, 0, 0, metrics, "HOST:PORT",
        "serve outbox depth and age to Prometheus at http://HOST:PORT/metrics (default: off)"),
    OPT("national", CDOF_OPT_BOOL, NULL, 0, 0, national, NULL,
        "a national source: any area, England and the regions"),
    OPT("note", CDOF_OPT_STRING, NULL, 0, 0, note, "TEXT", "milestone: a note"),
    OPT("outbox-max-mb", CDOF_OPT_INT, "2048", 16, 1048576, outbox_max_mb, "N",
        "the outbox grows to N MiB at most; a file that would need more is refused"),
    OPT("partnership", CDOF_OPT_STRING, NULL, 0, 0, partnership, "NAME",
        "the partnership whose milestones this agent reports (default: the id)"),
    OPT("ref", CDOF_OPT_STRING, NULL, 0, 0, ref, "URL", "milestone: the published document"),
    OPT("refdir", CDOF_OPT_STRING, NULL, 0, 0, refdir, "DIR",
        "reference data directory (default: $CDOF_REFDIR or the installed copy)"),
    OPT("rescan-ms", CDOF_OPT_INT, "2000", 100, 3600000, rescan_ms, "N",
        "look in SPOOL/in every N ms (changes are also watched)"),
    OPT("retain-hours", CDOF_OPT_INT, "720", 0, 87600, retain_hours, "N",
        "keep acknowledged entries N hours, for a hub restored from a backup"),
    OPT("server-key", CDOF_OPT_STRING, NULL, 0, 0, server_key, "FILE",
        "the hub's public key (hub.pub)"),
    OPT("spool", CDOF_OPT_STRING, NULL, 0, 0, spool, "DIR",
        "drop directory: CSV files go into DIR/in, then DIR/done or DIR/rejected"),
    OPT("stable-ms", CDOF_OPT_INT, "3000", 0, 3600000, stable_ms, "N",
        "take a file written in place once unchanged for N ms (at once when closed or renamed in)"),
    OPT("window", CDOF_OPT_INT, "256", 1, 512, window, "N",
        "unacknowledged envelopes in flight at most"),
};

static const cdof_config_spec_t agent_spec = {
    .program = "cdof-agent",
    .usage = "cdof-agent --id ID --hub EP --spool DIR --data DIR [--areas CODE,...|--national]\n"
             "                  [--partnership NAME] (--key FILE --server-key FILE | --insecure)\n"
             "                  [--window N] [--heartbeat-ms N]\n"
             "                  [--ack-timeout-ms N] [--rescan-ms N] [--log-level L]\n"
             "       cdof-agent status --data DIR [--format text|json]\n"
             "       cdof-agent milestone KIND --date YYYY-MM-DD [--ref URL] [--note TEXT] "
             "--data DIR\n"
             "                  [--partnership NAME]",
    .summary = "a partnership's agent: CSV drops to the national hub, nothing lost, nothing "
               "twice",
    .opts = agent_opts,
    .nopts = sizeof agent_opts / sizeof agent_opts[0],
};

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "cdof-agent: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (see --help)\n");
    return EXIT_USAGE;
}

static int need(const char *value, const char *flag)
{
    return value && *value ? 0 : usage_error("%s is required", flag);
}

static cdof_ref_t *load_ref(const agent_config_t *cfg)
{
    char err[512];
    const char *dir = cfg->refdir ? cfg->refdir : cdof_ref_default_dir();
    cdof_ref_t *ref = cdof_ref_load(dir, err, sizeof err);
    if (!ref)
        fprintf(stderr, "cdof-agent: reference data: %s\n", err);
    return ref;
}

static void describe_age(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        ms = 0;
    int64_t s = ms / 1000;
    if (s < 60)
        snprintf(buf, len, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
    else
        snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, s / 3600 % 24);
}

/* --- status -------------------------------------------------------------------------------- */

/* A short description of a stored envelope: "metric M area P" or "milestone K date". */
static void describe_envelope(const uint8_t *env, size_t len, char *buf, size_t buflen)
{
    /* Stored envelopes lack agent_id and sent_ms, so the hub-side checks do not apply. */
    Cdof__V1__Envelope *e = cdof__v1__envelope__unpack(NULL, len, env);
    if (!e) {
        snprintf(buf, buflen, "(undecodable)");
        return;
    }
    if (e->body_case == CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE) {
        const Cdof__V1__MetricUpdate *m = e->metric_update;
        char period[CDOF_PERIOD_TEXT_MAX] = "?";
        cdof_period_t p;
        if (m->period && cdof_wire_period_from_msg(m->period, &p) == 0)
            cdof_period_format(&p, period, sizeof period);
        snprintf(buf, buflen, "%s %s %s (%s line %u)", m->metric_id, m->area_code, period,
                 m->source_file, m->source_line);
    } else if (e->body_case == CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT) {
        char date[16];
        cdof_date_format(e->milestone_event->date, date, sizeof date);
        snprintf(buf, buflen, "milestone %s %s %s", e->milestone_event->milestone_id,
                 e->milestone_event->partnership, date);
    } else {
        snprintf(buf, buflen, "(no body)");
    }
    cdof__v1__envelope__free_unpacked(e, NULL);
}

#define STATUS_TEXT_REJECTED 20 /* text output lists the most recent ones only */

typedef struct {
    FILE *out;
    bool json;
    size_t count, skip;
} list_ctx_t;

static int print_rejected(void *ctx, uint64_t seq, int64_t ms, const char *reason, size_t rlen,
                          const uint8_t *env, size_t env_len)
{
    list_ctx_t *l = ctx;
    if (l->skip) {
        l->skip--;
        return 0;
    }
    char what[512], when[32];
    describe_envelope(env, env_len, what, sizeof what);
    cdof_clock_format(ms, when, sizeof when);
    if (l->json) {
        fprintf(l->out, "%s\n    {\"sequence\": %" PRIu64 ", \"rejected_at\": \"%s\", \"reason\": ",
                l->count ? "," : "", seq, when);
        cdof_text_json_file(l->out, reason, rlen);
        fputs(", \"entry\": ", l->out);
        cdof_text_json_file(l->out, what, strlen(what));
        fputs("}", l->out);
    } else {
        fprintf(l->out, "  seq %" PRIu64 " (%s): %.*s\n    %s\n", seq, when, (int)rlen, reason,
                what);
    }
    l->count++;
    return 0;
}

typedef struct {
    agent_file_info_t *items;
    size_t count, cap;
    int64_t day;
} files_ctx_t;

static int collect_file(void *ctx, const agent_file_info_t *info)
{
    files_ctx_t *f = ctx;
    if (info->taken_ms / 86400000 != f->day)
        return 0;
    agent_file_info_t *items = cdof_grow(f->items, f->count, &f->cap, 16, sizeof *items);
    if (!items)
        return -ENOMEM;
    f->items = items;
    f->items[f->count++] = *info;
    return 0;
}

static int cmp_taken(const void *a, const void *b)
{
    const agent_file_info_t *x = a, *y = b;
    if (x->taken_ms != y->taken_ms)
        return x->taken_ms < y->taken_ms ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void print_files(FILE *out, bool json, const files_ctx_t *f)
{
    for (size_t i = 0; i < f->count; i++) {
        const agent_file_info_t *info = &f->items[i];
        char when[32];
        cdof_clock_format(info->taken_ms, when, sizeof when);
        if (json) {
            fprintf(out, "%s\n    {\"name\": ", i ? "," : "");
            cdof_text_json_file(out, info->name, strlen(info->name));
            fprintf(out,
                    ", \"taken_at\": \"%s\", \"rows\": %u, \"to_outbox\": %u, \"rejected\": %u, "
                    "\"first_sequence\": %" PRIu64 "}",
                    when, info->rows, info->good, info->bad, info->first_seq);
        } else {
            fprintf(out, "  %s at %s: %u row%s, %u to outbox, %u rejected\n", info->name, when,
                    info->rows, info->rows == 1 ? "" : "s", info->good, info->bad);
        }
    }
}

/* A time and its age, or "never". */
static void when_and_age(int64_t ms, int64_t now, char *when, char *age, size_t len)
{
    if (!ms) {
        snprintf(when, len, "never");
        age[0] = '\0';
        return;
    }
    cdof_clock_format(ms, when, len);
    describe_age(now - ms, age, len);
}

static void json_time(const char *name, int64_t ms, int64_t now)
{
    char when[32];
    if (!ms) {
        printf("  \"%s\": null,\n  \"%s_age_ms\": null,\n", name, name);
        return;
    }
    cdof_clock_format(ms, when, sizeof when);
    printf("  \"%s\": \"%s\",\n  \"%s_age_ms\": %" PRId64 ",\n", name, when, name, now - ms);
}

static int cmd_status(const agent_config_t *cfg)
{
    if (need(cfg->data, "--data"))
        return EXIT_USAGE;
    bool json = !strcmp(cfg->format, "json");
    if (!json && strcmp(cfg->format, "text"))
        return usage_error("--format must be text or json, not '%s'", cfg->format);
    char err[512];
    agent_outbox_t *ob = NULL;
    int rc = agent_outbox_open(cfg->data, true, &ob, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "cdof-agent: cannot read the outbox: %s\n", err);
        return 1;
    }
    int64_t now = cdof_clock_now_ms();
    files_ctx_t files = {.day = now / 86400000};
    agent_outbox_stats_t st;
    rc = agent_outbox_stats(ob, &st);
    if (rc == 0)
        rc = agent_outbox_each_file(ob, collect_file, &files);
    if (rc < 0) {
        fprintf(stderr, "cdof-agent: reading %s: %s\n", cfg->data, cdof_strerror(rc));
        goto done;
    }
    if (files.count)
        qsort(files.items, files.count, sizeof *files.items, cmp_taken);
    char id[128] = "", partnership[128] = "", contact_text[32] = "";
    (void)agent_outbox_meta_get(ob, "agent_id", id, sizeof id);
    (void)agent_outbox_meta_get(ob, "partnership", partnership, sizeof partnership);
    (void)agent_outbox_meta_get(ob, "last_contact_ms", contact_text, sizeof contact_text);
    int64_t contact_ms = strtoll(contact_text, NULL, 10);
    /* The handshake's verdict the running agent saved: "NAME MS" (cdof_link_name). */
    char link_text[64] = "", link_name[32] = "unknown";
    long long link_ms = 0;
    (void)agent_outbox_meta_get(ob, "hub_link", link_text, sizeof link_text);
    if (sscanf(link_text, "%31s %lld", link_name, &link_ms) != 2)
        snprintf(link_name, sizeof link_name, "unknown");
    const char *link_why = !strcmp(link_name, "refused") ? cdof_link_describe(CDOF_LINK_REFUSED)
                           : !strcmp(link_name, "wrong_hub_key")
                               ? cdof_link_describe(CDOF_LINK_WRONG_HUB_KEY)
                               : NULL;
    int64_t oldest_ms = st.depth ? st.oldest_written_ms : 0;
    list_ctx_t l = {stdout, json, 0, 0};
    if (json) {
        printf("{\n  \"agent_id\": ");
        cdof_text_json_file(stdout, id, strlen(id));
        printf(",\n  \"partnership\": ");
        cdof_text_json_file(stdout, partnership, strlen(partnership));
        printf(",\n  \"outbox_depth\": %" PRIu64 ",\n", st.depth);
        if (st.depth)
            printf("  \"oldest_unacked_sequence\": %" PRIu64 ",\n", st.oldest_seq);
        else
            printf("  \"oldest_unacked_sequence\": null,\n");
        json_time("oldest_unacked", oldest_ms, now);
        printf("  \"next_sequence\": %" PRIu64 ",\n  \"acknowledged_high\": %" PRIu64 ",\n",
               st.next_seq, st.acked_high);
        json_time("last_ack", st.last_ack_ms, now);
        json_time("last_contact", contact_ms, now);
        printf("  \"hub_link\": \"%s\",\n", link_name);
        json_time("hub_link_since", link_ms, now);
        printf("  \"retained\": %" PRIu64 ",\n  \"rejected_count\": %" PRIu64
               ",\n  \"rejected\": [",
               st.retained, st.rejected);
        rc = agent_outbox_each_rejected(ob, print_rejected, &l);
        printf("%s],\n  \"files_today\": [", l.count ? "\n  " : "");
        print_files(stdout, true, &files);
        printf("%s]\n}\n", files.count ? "\n  " : "");
    } else {
        char when[32], age[32];
        printf("agent %s (partnership %s)\n", *id ? id : "?", *partnership ? partnership : "?");
        if (st.depth) {
            when_and_age(oldest_ms, now, when, age, sizeof when);
            printf("outbox: %" PRIu64 " unacknowledged; oldest seq %" PRIu64
                   ", written %s (%s ago)\n",
                   st.depth, st.oldest_seq, when, age);
        } else {
            printf("outbox: empty\n");
        }
        printf("next sequence: %" PRIu64 "; acknowledged up to seq %" PRIu64 "\n", st.next_seq,
               st.acked_high);
        when_and_age(st.last_ack_ms, now, when, age, sizeof when);
        printf("last ack: %s%s%s%s\n", when, *age ? " (" : "", age, *age ? " ago)" : "");
        when_and_age(contact_ms, now, when, age, sizeof when);
        printf("hub last heard: %s%s%s%s\n", when, *age ? " (" : "", age,
               *age ? " ago, saved every 30 s)" : "");
        if (link_why) {
            when_and_age(link_ms, now, when, age, sizeof when);
            printf("HUB REFUSES THIS AGENT since %s (%s ago): %s\n", when, age, link_why);
        }
        printf("kept for resends: %" PRIu64 " acknowledged entries\n", st.retained);
        printf("rejected by the hub: %" PRIu64 "%s\n", st.rejected,
               st.rejected > STATUS_TEXT_REJECTED ? " (the latest shown)" : "");
        if (st.rejected > STATUS_TEXT_REJECTED)
            l.skip = st.rejected - STATUS_TEXT_REJECTED;
        rc = agent_outbox_each_rejected(ob, print_rejected, &l);
        printf("files taken today: %zu\n", files.count);
        print_files(stdout, false, &files);
    }
    if (rc < 0)
        fprintf(stderr, "cdof-agent: reading %s: %s\n", cfg->data, cdof_strerror(rc));
done:
    free(files.items);
    agent_outbox_close(&ob);
    return rc < 0 ? 1 : 0;
}

/* --- milestone ----------------------------------------------------------------------------- */

/* The milestone as a one-row milestone CSV, the form intake takes. */
static char *milestone_csv(const char *kind, const char *partnership, const char *date,
                           const char *ref, const char *note, size_t *len)
{
    char *buf = NULL;
    FILE *m = open_memstream(&buf, len);
    if (!m)
        return NULL;
    fputs("milestone,partnership,date,ref,note\n", m);
    const char *fields[] = {kind, partnership, date, ref ? ref : "", note ? note : ""};
    for (size_t i = 0; i < 5; i++) {
        if (i)
            putc(',', m);
        cdof_csv_write_field(m, fields[i], strlen(fields[i]));
    }
    putc('\n', m);
    if (fclose(m) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The daemon holds the outbox: leave the file where its rescan finds it. */
static int queue_milestone(const char *data, const char *csv, size_t len, const char *name)
{
    char dir[4096], tmp[4096 + 160], path[4096 + 160];
    snprintf(dir, sizeof dir, "%s/queue", data);
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        fprintf(stderr, "cdof-agent: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fwrite(csv, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) < 0) {
        fprintf(stderr, "cdof-agent: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    printf("queued for the running agent: %s\n", path);
    return 0;
}

static int cmd_milestone(const agent_config_t *cfg, const cdof_strlist_t *pos)
{
    if (pos->count != 2)
        return usage_error("%s", "usage: cdof-agent milestone KIND --date YYYY-MM-DD --data DIR");
    const char *kind = pos->items[1];
    if (need(cfg->date, "--date") || need(cfg->data, "--data"))
        return EXIT_USAGE;
    int32_t date;
    if (cdof_date_parse(cfg->date, &date) < 0)
        return usage_error("--date '%s' is not a date (expected YYYY-MM-DD)", cfg->date);

    int status = 1;
    char err[512], partnership[128] = "";
    cdof_ref_t *ref = load_ref(cfg);
    agent_outbox_t *ob = NULL;
    char *csv = NULL;
    if (!ref)
        goto done;
    if (!cdof_ref_milestone(ref, kind)) {
        fprintf(stderr, "cdof-agent: unknown milestone kind '%s'; the kinds are:", kind);
        for (size_t i = 0; i < cdof_ref_milestone_count(ref); i++)
            fprintf(stderr, "%s %s", i ? "," : "", cdof_ref_milestone_at(ref, i)->id);
        fputc('\n', stderr);
        status = EXIT_USAGE;
        goto done;
    }
    int rc = agent_outbox_open(cfg->data, false, &ob, err, sizeof err);
    bool locked = rc == CDOF_ELOCKED;
    if (locked)
        rc = agent_outbox_open(cfg->data, true, &ob, err, sizeof err);
    if (cfg->partnership)
        snprintf(partnership, sizeof partnership, "%s", cfg->partnership);
    else if (rc == 0)
        (void)agent_outbox_meta_get(ob, "partnership", partnership, sizeof partnership);
    if (rc < 0 && !(locked && *partnership)) {
        fprintf(stderr, "cdof-agent: cannot open the outbox: %s\n", err);
        goto done;
    }
    if (!*partnership) {
        status = usage_error("%s", "--partnership is required (the agent has not run here yet)");
        goto done;
    }
    if (cdof_validate_milestone(ref, kind, partnership, date, cdof_clock_today(), partnership, err,
                                sizeof err) < 0) {
        fprintf(stderr, "cdof-agent: %s\n", err);
        goto done;
    }
    if ((cfg->ref && strlen(cfg->ref) > CDOF_WIRE_MAX_TEXT) ||
        (cfg->note && strlen(cfg->note) > CDOF_WIRE_MAX_TEXT)) {
        fprintf(stderr, "cdof-agent: --ref and --note hold at most %d bytes\n", CDOF_WIRE_MAX_TEXT);
        goto done;
    }
    size_t len = 0;
    csv = milestone_csv(kind, partnership, cfg->date, cfg->ref, cfg->note, &len);
    if (!csv) {
        fprintf(stderr, "cdof-agent: out of memory\n");
        goto done;
    }
    char name[128];
    snprintf(name, sizeof name, "milestone-%.64s-%" PRId64 "-%ld.csv", kind, cdof_clock_now_ms(),
             (long)getpid());
    if (locked) {
        agent_outbox_close(&ob);
        status = queue_milestone(cfg->data, csv, len, name);
        goto done;
    }
    FILE *f = fmemopen(csv, len, "r");
    if (!f) {
        fprintf(stderr, "cdof-agent: %s\n", strerror(errno));
        goto done;
    }
    cdof_scope_t scope = {.national = false};
    agent_take_ctx_t take = {.ref = ref, .scope = &scope, .partnership = partnership, .ob = ob};
    agent_take_result_t res;
    rc = agent_take_stream(&take, f, name, NULL, &res, err, sizeof err);
    fclose(f);
    if (rc < 0) {
        fprintf(stderr, "cdof-agent: %s\n", err);
    } else if (res.duplicate) {
        printf("already recorded: the same milestone was taken as %s\n", res.previous.name);
        status = 0;
    } else if (res.good != 1) {
        fprintf(stderr, "cdof-agent: the milestone was not accepted%s%s\n",
                res.file_rejected ? ": " : "", res.file_rejected ? res.reason : "");
    } else {
        printf("milestone %s recorded as outbox entry seq %" PRIu64 "; the agent sends it\n", kind,
               res.first_seq);
        status = 0;
    }
done:
    free(csv);
    agent_outbox_close(&ob);
    cdof_ref_destroy(&ref);
    return status;
}

/* --- the daemon ---------------------------------------------------------------------------- */

typedef struct {
    agent_config_t *cfg;
    int argc;
    char **argv;
    uv_loop_t loop;
    uv_signal_t sig_term, sig_int, sig_hup;
    agent_intake_t *intake;
    agent_sender_t *sender;
    bool stopping, closed;
    /* --metrics: served from this loop (cdof_metrics.h), so the outbox is read in its thread. */
    agent_outbox_t *ob;
    const char *id;
    cdof_metrics_t *metrics;
    uv_poll_t metrics_poll;
    uv_timer_t metrics_tick;
} daemon_t;

/* The outbox in Prometheus text format: what an operator watches to see that the link to the
 * hub works (depth and age of what waits) without reading the journal. */
static int agent_metrics(void *ctx, cdof_prom_t *out)
{
    daemon_t *d = ctx;
    agent_outbox_stats_t st;
    int rc = agent_outbox_stats(d->ob, &st);
    if (rc < 0)
        return rc;
    int64_t now = cdof_clock_now_ms();
    const cdof_prom_label_t agent[] = {{"agent", d->id}};
    const struct {
        const char *name, *help;
        double value;
    } m[] = {
        {"cdof_agent_outbox_depth", "entries in the outbox not yet acknowledged by the hub",
         (double)st.depth},
        {"cdof_agent_outbox_oldest_age_seconds",
         "age of the oldest entry not yet acknowledged (0 when the outbox is empty)",
         st.depth && now > st.oldest_written_ms ? (double)(now - st.oldest_written_ms) / 1000.0
                                                : 0},
        {"cdof_agent_last_ack_time_seconds",
         "when the hub last acknowledged an entry, in seconds since the Unix epoch (0: never)",
         (double)st.last_ack_ms / 1000.0},
        {"cdof_agent_rejected_entries", "entries the hub refused, kept with the reason",
         (double)st.rejected},
        {"cdof_agent_retained_entries",
         "acknowledged entries kept for a hub restored from a backup", (double)st.retained},
        {"cdof_agent_next_sequence", "the sequence the next entry will get", (double)st.next_seq},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        cdof_prom_family(out, m[i].name, CDOF_PROM_GAUGE, m[i].help);
        cdof_prom_sample(out, agent, 1, m[i].value);
    }
    return cdof_prom_error(out);
}

static void on_metrics_ready(uv_poll_t *h, int status, int events)
{
    daemon_t *d = h->data;
    cdof_metrics_run(d->metrics);
}

static void on_metrics_tick(uv_timer_t *h)
{
    daemon_t *d = h->data;
    cdof_metrics_run(d->metrics); /* idle scrape connections time out */
}

static void on_taken(void *arg)
{
    daemon_t *d = arg;
    agent_sender_kick(d->sender);
}

static void close_all(daemon_t *d)
{
    if (d->closed)
        return;
    d->closed = true;
    agent_sender_close(d->sender);
    agent_intake_close(d->intake);
    uv_close((uv_handle_t *)&d->sig_term, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
    uv_close((uv_handle_t *)&d->sig_hup, NULL);
    if (d->metrics) {
        uv_close((uv_handle_t *)&d->metrics_poll, NULL);
        uv_close((uv_handle_t *)&d->metrics_tick, NULL);
    }
}

static void on_drained(void *arg)
{
    daemon_t *d = arg;
    cdof_log_info("stopped");
    close_all(d);
}

static void on_stop(uv_signal_t *h, int signum)
{
    daemon_t *d = h->data;
    if (d->stopping) {
        cdof_log_warn("%s again: stopping now", signum == SIGINT ? "SIGINT" : "SIGTERM");
        agent_sender_drain(d->sender, 0, NULL, NULL);
        close_all(d);
        return;
    }
    d->stopping = true;
    cdof_log_info("%s: stopping (waiting up to %d ms for acknowledgements)",
                  signum == SIGINT ? "SIGINT" : "SIGTERM", DRAIN_MS);
    agent_intake_close(d->intake);
    agent_sender_drain(d->sender, DRAIN_MS, on_drained, d);
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b));
}

static bool list_differs(const cdof_strlist_t *a, const cdof_strlist_t *b)
{
    if (a->count != b->count)
        return true;
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->items[i], b->items[i]))
            return true;
    }
    return false;
}

/* SIGHUP: read the configuration again (file, then flags) and apply what can change live. */
static void on_hup(uv_signal_t *h, int signum)
{
    daemon_t *d = h->data;
    agent_config_t *cur = d->cfg, fresh;
    memset(&fresh, 0, sizeof fresh);
    char err[512];
    cdof_log_info("SIGHUP: reading the configuration again");
    if (cur->log_file && cdof_log_open(cur->log_file) < 0)
        cdof_log_error("cannot reopen the log file %s", cur->log_file);
    int rc = cdof_config_parse(&agent_spec, &fresh, d->argc, d->argv, NULL, err, sizeof err);
    if (rc != CDOF_CONFIG_OK) {
        cdof_log_error("configuration not reloaded: %s", rc < 0 ? err : "unexpected --help");
        cdof_config_free(&agent_spec, &fresh);
        return;
    }
    cdof_log_level_t level;
    if (cdof_log_level_parse(fresh.log_level, &level) == 0) {
        cdof_log_init("cdof-agent", level);
        char *t = cur->log_level;
        cur->log_level = fresh.log_level;
        fresh.log_level = t;
    } else {
        cdof_log_error("--log-level '%s' is not error, warn, info or debug", fresh.log_level);
    }
    if (fresh.window != cur->window || fresh.heartbeat_ms != cur->heartbeat_ms ||
        fresh.ack_timeout_ms != cur->ack_timeout_ms) {
        cur->window = fresh.window;
        cur->heartbeat_ms = fresh.heartbeat_ms;
        cur->ack_timeout_ms = fresh.ack_timeout_ms;
        agent_sender_tune(d->sender, cur->window, cur->heartbeat_ms, cur->ack_timeout_ms);
        cdof_log_info("window %ld, heartbeat %ld ms, ack time-out %ld ms", cur->window,
                      cur->heartbeat_ms, cur->ack_timeout_ms);
    }
    if (fresh.rescan_ms != cur->rescan_ms) {
        cur->rescan_ms = fresh.rescan_ms;
        agent_intake_set_rescan(d->intake, cur->rescan_ms);
        cdof_log_info("rescan every %ld ms", cur->rescan_ms);
    }
    static const struct {
        const char *name;
        size_t off;
    } fixed[] = {{"id", offsetof(agent_config_t, id)},
                 {"hub", offsetof(agent_config_t, hub)},
                 {"spool", offsetof(agent_config_t, spool)},
                 {"data", offsetof(agent_config_t, data)},
                 {"partnership", offsetof(agent_config_t, partnership)},
                 {"refdir", offsetof(agent_config_t, refdir)},
                 {"log-file", offsetof(agent_config_t, log_file)},
                 {"key", offsetof(agent_config_t, key)},
                 {"server-key", offsetof(agent_config_t, server_key)}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        const char *a = *(char **)(void *)((char *)cur + fixed[i].off);
        const char *b = *(char **)(void *)((char *)&fresh + fixed[i].off);
        if (str_differs(a, b))
            cdof_log_warn("--%s changed: restart cdof-agent to apply it", fixed[i].name);
    }
    if (list_differs(&cur->areas, &fresh.areas) || cur->national != fresh.national ||
        cur->insecure != fresh.insecure || cur->retain_hours != fresh.retain_hours)
        cdof_log_warn("areas, national, insecure or retain-hours changed: restart cdof-agent to "
                      "apply");
    cdof_config_free(&agent_spec, &fresh);
}

/* Ids go on the wire and into the socket identity: printable, no spaces (names may have them). */
static bool valid_id(const char *id, bool spaces)
{
    size_t n = strlen(id);
    if (n == 0 || n > CDOF_WIRE_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c < (spaces ? 0x20 : 0x21) || c == 0x7F)
            return false;
    }
    return true;
}

static int cmd_run(agent_config_t *cfg, int argc, char **argv)
{
    if (need(cfg->id, "--id") || need(cfg->hub, "--hub") || need(cfg->spool, "--spool") ||
        need(cfg->data, "--data"))
        return EXIT_USAGE;
    if (!valid_id(cfg->id, false))
        return usage_error("--id '%s' must be 1 to 64 printable characters without spaces",
                           cfg->id);
    if (cfg->national && cfg->areas.count)
        return usage_error("%s", "--areas and --national exclude each other");
    const char *partnership = cfg->partnership ? cfg->partnership : cfg->id;
    if (!valid_id(partnership, true))
        return usage_error("--partnership '%s' must be 1 to 64 printable characters", partnership);

    int status = 1;
    char err[512];
    daemon_t d = {.cfg = cfg, .argc = argc, .argv = argv};
    cdof_ref_t *ref = NULL;
    agent_outbox_t *ob = NULL;
    void *zctx = NULL;
    bool loop_init = false;
    char *queue = NULL;
    cdof_curve_t *curve = NULL;
    cdof_scope_t scope = {.national = cfg->national};
    const char *own_area[1] = {cfg->id};

    if (!(ref = load_ref(cfg)))
        goto done;
    if (!cfg->national) {
        if (cfg->areas.count) {
            for (size_t i = 0; i < cfg->areas.count; i++) {
                if (!cdof_ref_area(ref, cfg->areas.items[i])) {
                    status =
                        usage_error("--areas: '%s' is not a known area code", cfg->areas.items[i]);
                    goto done;
                }
            }
            scope.areas = (const char *const *)cfg->areas.items;
            scope.nareas = cfg->areas.count;
        } else if (cdof_ref_area(ref, cfg->id)) {
            scope.areas = own_area;
            scope.nareas = 1;
        } else {
            status = usage_error("--id '%s' is not an area code: give --areas CODE,... or "
                                 "--national",
                                 cfg->id);
            goto done;
        }
    }
    int rc =
        cdof_curve_open(cfg->insecure, false, cfg->key, cfg->server_key, &curve, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "cdof-agent: %s\n", err);
        status = rc == CDOF_EINVALID ? EXIT_USAGE : 1;
        goto done;
    }
    if (mkdir(cfg->data, 0750) < 0 && errno != EEXIST) {
        fprintf(stderr, "cdof-agent: cannot create %s: %s\n", cfg->data, strerror(errno));
        goto done;
    }
    rc = agent_outbox_open_bounded(cfg->data, false, (uint64_t)cfg->outbox_max_mb << 20, &ob, err,
                                   sizeof err);
    if (rc == CDOF_ELOCKED) {
        fprintf(stderr, "cdof-agent: another cdof-agent is already running with --data %s\n",
                cfg->data);
        goto done;
    }
    if (rc < 0) {
        fprintf(stderr, "cdof-agent: cannot open the outbox: %s\n", err);
        goto done;
    }
    if ((rc = agent_outbox_meta_set(ob, "agent_id", cfg->id)) < 0 ||
        (rc = agent_outbox_meta_set(ob, "partnership", partnership)) < 0) {
        fprintf(stderr, "cdof-agent: cannot write the outbox: %s\n", cdof_strerror(rc));
        goto done;
    }
    if (!(zctx = zmq_ctx_new())) {
        fprintf(stderr, "cdof-agent: cannot create a ZeroMQ context\n");
        goto done;
    }
    if ((rc = uv_loop_init(&d.loop)) < 0) {
        fprintf(stderr, "cdof-agent: %s\n", uv_strerror(rc));
        goto done;
    }
    loop_init = true;
    size_t qlen = strlen(cfg->data) + sizeof "/queue";
    if (!(queue = malloc(qlen)))
        goto done;
    snprintf(queue, qlen, "%s/queue", cfg->data);

    agent_sender_opts_t so = {.endpoint = cfg->hub,
                              .agent_id = cfg->id,
                              .window = cfg->window,
                              .heartbeat_ms = cfg->heartbeat_ms,
                              .ack_timeout_ms = cfg->ack_timeout_ms,
                              .retain_ms = cfg->retain_hours * 3600 * 1000,
                              .curve = curve};
    if (agent_sender_new(&d.loop, zctx, ob, &so, &d.sender, err, sizeof err) < 0) {
        fprintf(stderr, "cdof-agent: %s\n", err);
        goto done;
    }
    agent_intake_opts_t io = {
        .spool = cfg->spool,
        .queue_dir = queue,
        .rescan_ms = cfg->rescan_ms,
        .stable_ms = cfg->stable_ms,
        .take = {.ref = ref, .scope = &scope, .partnership = partnership, .ob = ob},
        .on_taken = on_taken,
        .arg = &d};
    if (agent_intake_new(&d.loop, &io, &d.intake, err, sizeof err) < 0) {
        fprintf(stderr, "cdof-agent: %s\n", err);
        goto done;
    }
    uv_signal_init(&d.loop, &d.sig_term);
    uv_signal_init(&d.loop, &d.sig_int);
    uv_signal_init(&d.loop, &d.sig_hup);
    d.sig_term.data = d.sig_int.data = d.sig_hup.data = &d;
    uv_signal_start(&d.sig_term, on_stop, SIGTERM);
    uv_signal_start(&d.sig_int, on_stop, SIGINT);
    uv_signal_start(&d.sig_hup, on_hup, SIGHUP);
    /* A stop signal held since main() is taken now, by on_stop, once the loop runs. */
    if ((rc = cdof_signal_release()) < 0)
        cdof_log_warn("cannot unblock the stop signals: %s", strerror(-rc));

    if (cfg->metrics) {
        d.ob = ob;
        d.id = cfg->id;
        if ((rc = cdof_metrics_open(cfg->metrics, agent_metrics, &d, &d.metrics, err, sizeof err)) <
            0) {
            cdof_log_error("%s", err);
            status = rc == CDOF_EINVALID ? EXIT_USAGE : 1;
            close_all(&d);
            uv_run(&d.loop, UV_RUN_DEFAULT);
            goto done;
        }
        uv_poll_init(&d.loop, &d.metrics_poll, cdof_metrics_fd(d.metrics));
        uv_timer_init(&d.loop, &d.metrics_tick);
        d.metrics_poll.data = d.metrics_tick.data = &d;
        uv_poll_start(&d.metrics_poll, UV_READABLE, on_metrics_ready);
        uv_timer_start(&d.metrics_tick, on_metrics_tick, 1000, 1000);
        cdof_log_info("metrics: http://%s/metrics (Prometheus text format)", cfg->metrics);
    }
    if (scope.national)
        cdof_log_info("agent %s (national source) sending to %s", cfg->id, cfg->hub);
    else
        cdof_log_info("agent %s (partnership %s, %zu area%s) sending to %s", cfg->id, partnership,
                      scope.nareas, scope.nareas == 1 ? "" : "s", cfg->hub);
    if (agent_sender_start(d.sender, err, sizeof err) < 0) {
        cdof_log_error("%s", err);
        close_all(&d);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        goto done;
    }
    if ((rc = agent_intake_start(d.intake)) < 0)
        cdof_log_error("rescan timer: %s (files are still taken when in/ changes)",
                       uv_strerror(rc));
    uv_run(&d.loop, UV_RUN_DEFAULT);
    status = 0;
done:
    if (loop_init) {
        /* Anything still open (a start-up failure) is closed and the loop run dry. */
        if (uv_loop_close(&d.loop) == UV_EBUSY) {
            cdof_log_error("event loop still busy at exit");
            status = 1;
        }
    }
    cdof_metrics_close(&d.metrics);
    agent_intake_destroy(&d.intake);
    agent_sender_destroy(&d.sender);
    if (zctx)
        zmq_ctx_term(zctx);
    agent_outbox_close(&ob);
    cdof_ref_destroy(&ref);
    cdof_curve_destroy(&curve);
    free(queue);
    return status;
}

int main(int argc, char **argv)
{
    agent_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cdof_strlist_t pos = {0};
    char err[512];
    /* Held until the daemon's handlers are in place (cdof_signal.h). */
    cdof_signal_hold();
    cdof_log_init("cdof-agent", CDOF_LOG_INFO);
    int status;
    int rc = cdof_config_parse(&agent_spec, &cfg, argc, argv, &pos, err, sizeof err);
    if (rc == CDOF_CONFIG_EXIT) {
        status = 0;
        goto done;
    }
    if (rc < 0) {
        fprintf(stderr, "cdof-agent: %s\n", err);
        status = EXIT_USAGE;
        goto done;
    }
    cdof_log_level_t level;
    if (cdof_log_level_parse(cfg.log_level, &level) < 0) {
        status = usage_error("--log-level '%s' is not error, warn, info or debug", cfg.log_level);
        goto done;
    }
    cdof_log_init("cdof-agent", level);
    if (cfg.log_file && (rc = cdof_log_open(cfg.log_file)) < 0) {
        fprintf(stderr, "cdof-agent: cannot open --log-file %s: %s\n", cfg.log_file, strerror(-rc));
        status = 1;
        goto done;
    }
    if (pos.count)
        cdof_signal_release(); /* status, milestone: a stop signal acts at once, as before */
    if (pos.count == 0) {
        status = cmd_run(&cfg, argc, argv);
    } else if (!strcmp(pos.items[0], "status")) {
        status = pos.count == 1 ? cmd_status(&cfg) : usage_error("%s", "status takes no arguments");
    } else if (!strcmp(pos.items[0], "milestone")) {
        status = cmd_milestone(&cfg, &pos);
    } else {
        status = usage_error("unknown command '%s' (status or milestone)", pos.items[0]);
    }
done:
    cdof_log_open(NULL);
    cdof_strlist_free(&pos);
    cdof_config_free(&agent_spec, &cfg);
    return status;
}
