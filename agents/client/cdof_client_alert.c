#include "cdof_client_alert.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "cdof_period.h"
#include "cdof_wire.h"

#define EN_DASH "\xe2\x80\x93"
#define EM_DASH "\xe2\x80\x94"

const char *cdof_client_state_name(Cdof__V1__AlertState s)
{
    switch (s) {
    case CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING:
        return "firing";
    case CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED:
        return "resolved";
    case CDOF__V1__ALERT_STATE__ALERT_STATE_ACKNOWLEDGED:
        return "acknowledged";
    default:
        return "unspecified";
    }
}

const char *cdof_client_severity_name(Cdof__V1__Severity s)
{
    switch (s) {
    case CDOF__V1__SEVERITY__SEVERITY_INFO:
        return "info";
    case CDOF__V1__SEVERITY__SEVERITY_WARNING:
        return "warning";
    case CDOF__V1__SEVERITY__SEVERITY_CRITICAL:
        return "critical";
    default:
        return "unspecified";
    }
}

bool cdof_client_period_text(const Cdof__V1__Period *p, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    if (!p || len < CDOF_PERIOD_TEXT_MAX)
        return false;
    cdof_period_t period = {
        .kind = (cdof_period_kind_t)p->kind, .first_day = p->first_day, .last_day = p->last_day};
    if (cdof_period_format(&period, buf, len) < 0) {
        buf[0] = '\0';
        return false;
    }
    return true;
}

/* The record (CSV and JSON): every field. Lifecycle columns (subject onwards) come after the
 * first twenty so that those keep their places for readers of older output. */
enum {
    ALERT_SEQUENCE,
    ALERT_RAISED_MS,
    ALERT_RAISED,
    ALERT_STATE,
    ALERT_SEVERITY,
    ALERT_RULE,
    ALERT_TEAM,
    ALERT_REGION_CODE,
    ALERT_AREA_CODE,
    ALERT_METRIC_ID,
    ALERT_PERIOD,
    ALERT_VALUE,
    ALERT_LOWER,
    ALERT_UPPER,
    ALERT_CONFIDENCE,
    ALERT_BENCHMARK,
    ALERT_VERDICT,
    ALERT_DEDUPE_KEY,
    ALERT_ACKNOWLEDGED_BY,
    ALERT_SUMMARY,
    ALERT_SUBJECT,
    ALERT_FIRED_SEQUENCE,
    ALERT_MUTED_BY,
    ALERT_REPORTED,
    ALERT_EXPECTED,
    ALERT_NCOLS
};
static const cdof_table_col_t record_cols[] = {
    [ALERT_SEQUENCE] = CDOF_TABLE_COL_NUM("sequence"),
    [ALERT_RAISED_MS] = CDOF_TABLE_COL_NUM("raised_ms"),
    [ALERT_RAISED] = CDOF_TABLE_COL_TEXT("raised"),
    [ALERT_STATE] = CDOF_TABLE_COL_TEXT("state"),
    [ALERT_SEVERITY] = CDOF_TABLE_COL_TEXT("severity"),
    [ALERT_RULE] = CDOF_TABLE_COL_TEXT("rule"),
    [ALERT_TEAM] = CDOF_TABLE_COL_TEXT("team"),
    [ALERT_REGION_CODE] = CDOF_TABLE_COL_TEXT("region_code"),
    [ALERT_AREA_CODE] = CDOF_TABLE_COL_TEXT("area_code"),
    [ALERT_METRIC_ID] = CDOF_TABLE_COL_TEXT("metric_id"),
    [ALERT_PERIOD] = CDOF_TABLE_COL_TEXT("period"),
    [ALERT_VALUE] = CDOF_TABLE_COL_NUM("value"),
    [ALERT_LOWER] = CDOF_TABLE_COL_NUM("lower"),
    [ALERT_UPPER] = CDOF_TABLE_COL_NUM("upper"),
    [ALERT_CONFIDENCE] = CDOF_TABLE_COL_NUM("confidence"),
    [ALERT_BENCHMARK] = CDOF_TABLE_COL_NUM("benchmark"),
    [ALERT_VERDICT] = CDOF_TABLE_COL_TEXT("verdict"),
    [ALERT_DEDUPE_KEY] = CDOF_TABLE_COL_TEXT("dedupe_key"),
    [ALERT_ACKNOWLEDGED_BY] = CDOF_TABLE_COL_TEXT("acknowledged_by"),
    [ALERT_SUMMARY] = CDOF_TABLE_COL_TEXT("summary"),
    [ALERT_SUBJECT] = CDOF_TABLE_COL_TEXT("subject"),
    [ALERT_FIRED_SEQUENCE] = CDOF_TABLE_COL_NUM("fired_sequence"),
    [ALERT_MUTED_BY] = CDOF_TABLE_COL_TEXT("muted_by"),
    [ALERT_REPORTED] = CDOF_TABLE_COL_NUM("reported"),
    [ALERT_EXPECTED] = CDOF_TABLE_COL_NUM("expected")};
CDOF_TABLE_COLS_CHECK(record_cols, ALERT_NCOLS);

/* The terminal table: each column named after the record field it shows. */
enum {
    ALERT_SHOWN_SEQUENCE,
    ALERT_SHOWN_STATE,
    ALERT_SHOWN_SEVERITY,
    ALERT_SHOWN_RULE,
    ALERT_SHOWN_AREA_CODE,
    ALERT_SHOWN_METRIC_ID,
    ALERT_SHOWN_PERIOD,
    ALERT_SHOWN_SUMMARY,
    ALERT_SHOWN_NCOLS
};
static const cdof_table_col_t display_cols[] = {
    [ALERT_SHOWN_SEQUENCE] = CDOF_TABLE_COL_NUM("#"),
    [ALERT_SHOWN_STATE] = CDOF_TABLE_COL_TEXT("state"),
    [ALERT_SHOWN_SEVERITY] = CDOF_TABLE_COL_TEXT("severity"),
    [ALERT_SHOWN_RULE] = CDOF_TABLE_COL_TEXT("rule"),
    [ALERT_SHOWN_AREA_CODE] = CDOF_TABLE_COL_TEXT("area"),
    [ALERT_SHOWN_METRIC_ID] = CDOF_TABLE_COL_TEXT("metric"),
    [ALERT_SHOWN_PERIOD] = CDOF_TABLE_COL_TEXT("period"),
    [ALERT_SHOWN_SUMMARY] = CDOF_TABLE_COL_CUT("summary")};
CDOF_TABLE_COLS_CHECK(display_cols, ALERT_SHOWN_NCOLS);

static void alert_record(cdof_table_t *t, const Cdof__V1__Alert *a)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    cdof_client_period_text(a->period, period, sizeof period);
    cdof_table_set_u64(t, ALERT_SEQUENCE, a->sequence);
    if (a->raised_ms)
        cdof_table_set_i64(t, ALERT_RAISED_MS, a->raised_ms);
    cdof_table_set_time(t, ALERT_RAISED, a->raised_ms);
    cdof_table_set(t, ALERT_STATE, cdof_client_state_name(a->state));
    cdof_table_set(t, ALERT_SEVERITY, cdof_client_severity_name(a->severity));
    cdof_table_set(t, ALERT_RULE, a->rule);
    cdof_table_set(t, ALERT_TEAM, a->team);
    cdof_table_set(t, ALERT_REGION_CODE, a->region_code);
    cdof_table_set(t, ALERT_AREA_CODE, a->area_code);
    cdof_table_set(t, ALERT_METRIC_ID, a->metric_id);
    cdof_table_set_opt(t, ALERT_PERIOD, period);
    cdof_table_set_number(t, ALERT_VALUE, a->value, -1);
    cdof_table_set_number(t, ALERT_LOWER, a->lower, -1);
    cdof_table_set_number(t, ALERT_UPPER, a->upper, -1);
    cdof_table_set_number(t, ALERT_CONFIDENCE, a->confidence, -1);
    cdof_table_set_number(t, ALERT_BENCHMARK, a->benchmark, -1);
    cdof_table_set(t, ALERT_VERDICT, cdof_wire_verdict_name(a->verdict));
    cdof_table_set(t, ALERT_DEDUPE_KEY, a->dedupe_key);
    cdof_table_set(t, ALERT_ACKNOWLEDGED_BY, a->acknowledged_by);
    cdof_table_set(t, ALERT_SUMMARY, a->summary);
    cdof_table_set(t, ALERT_SUBJECT, a->subject);
    if (a->fired_sequence)
        cdof_table_set_u64(t, ALERT_FIRED_SEQUENCE, a->fired_sequence);
    cdof_table_set(t, ALERT_MUTED_BY, a->muted_by);
    /* England's coverage when a comparison alert was judged. */
    if (a->expected) {
        cdof_table_set_u64(t, ALERT_REPORTED, a->reported);
        cdof_table_set_u64(t, ALERT_EXPECTED, a->expected);
    }
}

static void alert_display(cdof_table_t *t, const Cdof__V1__Alert *a)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    cdof_client_period_text(a->period, period, sizeof period);
    cdof_table_set_u64(t, ALERT_SHOWN_SEQUENCE, a->sequence);
    cdof_table_set(t, ALERT_SHOWN_STATE, cdof_client_state_name(a->state));
    cdof_table_set(t, ALERT_SHOWN_SEVERITY, cdof_client_severity_name(a->severity));
    cdof_table_set(t, ALERT_SHOWN_RULE, a->rule);
    cdof_table_set(t, ALERT_SHOWN_AREA_CODE, a->area_code);
    cdof_table_set(t, ALERT_SHOWN_METRIC_ID, a->metric_id);
    cdof_table_set(t, ALERT_SHOWN_PERIOD, period);
    cdof_table_set(t, ALERT_SHOWN_SUMMARY, a->summary);
}

cdof_table_t *cdof_client_alerts_table(Cdof__V1__Alert *const *alerts, size_t n, bool display)
{
    cdof_table_t *t = display ? cdof_table_new(CDOF_TABLE_COLS(display_cols))
                              : cdof_table_new(CDOF_TABLE_COLS(record_cols));
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++)
        (display ? alert_display : alert_record)(t, alerts[i]);
    return cdof_table_finish(t);
}

int cdof_client_alert_json(const Cdof__V1__Alert *a, FILE *out)
{
    Cdof__V1__Alert *one = (Cdof__V1__Alert *)a;
    cdof_table_t *t = cdof_client_alerts_table(&one, 1, false);
    if (!t)
        return -ENOMEM;
    int rc = cdof_table_write_json_row(t, 0, out);
    cdof_table_destroy(&t);
    return rc;
}

/* Writes s with control characters as spaces; "-" for an empty string. */
static void text_word(const char *s, FILE *out)
{
    if (!s || !*s) {
        fputc('-', out);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? ' ' : *p, out);
}

static void text_number(double v, int decimals, bool percent, FILE *out)
{
    fprintf(out, "%.*f%s", decimals, v == 0 ? 0 : v, percent ? "%" : "");
}

/* One decimal for a measured figure (it has an interval) or a fraction, none for a count. */
static int line_decimals(double v, bool measured)
{
    return measured || v != floor(v) ? 1 : 0;
}

void cdof_client_alert_line(const Cdof__V1__Alert *a, const char *area_name, bool percent,
                            FILE *out)
{
    char period[CDOF_PERIOD_TEXT_MAX], conf[32];
    fprintf(out, "#%" PRIu64 " ", a->sequence);
    for (const char *s = cdof_client_state_name(a->state); *s; s++)
        fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s, out);
    fputc(' ', out);
    fputs(cdof_client_severity_name(a->severity), out);
    const char *words[] = {a->rule, a->team, a->region_code, a->area_code};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        fputc(' ', out);
        text_word(words[i], out);
    }
    if (area_name && *area_name) {
        fputc(' ', out);
        text_word(area_name, out);
    }
    bool measured = a->confidence > 0;
    if (a->metric_id && *a->metric_id) {
        fputc(' ', out);
        text_word(a->metric_id, out);
        if (cdof_client_period_text(a->period, period, sizeof period))
            fprintf(out, " %s", period);
        int d = line_decimals(a->value, measured) || line_decimals(a->benchmark, measured);
        if (measured || a->value != 0) {
            fputs(": ", out);
            text_number(a->value, d, percent, out);
        }
        if (measured && isfinite(a->lower) && isfinite(a->upper)) {
            cdof_table_number_text(a->confidence, conf, sizeof conf);
            fprintf(out, " (%s%% ", conf);
            text_number(a->lower, d, false, out);
            fputs(EN_DASH, out);
            text_number(a->upper, d, false, out);
            fputc(')', out);
        }
        if (measured || a->benchmark != 0) {
            fputs(a->rule && strstr(a->rule, "region") ? " vs region " : " vs England ", out);
            text_number(a->benchmark, d, percent, out);
        }
    }
    if (a->acknowledged_by && *a->acknowledged_by) {
        fputs(" (acknowledged by ", out);
        text_word(a->acknowledged_by, out);
        fputc(')', out);
    }
    if (a->summary && *a->summary) {
        fputs(" " EM_DASH " ", out);
        text_word(a->summary, out);
    }
    if (a->muted_by && *a->muted_by) {
        fputs(" (muted: ", out);
        text_word(a->muted_by, out);
        fputc(')', out);
    }
}
