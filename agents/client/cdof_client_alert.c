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

/* Lifecycle columns (subject onwards) come after the first twenty so that those keep their
 * places for readers of older output. */
static const cdof_table_col_t record_cols[] = {
    {"sequence", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
    {"raised_ms", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
    {"raised", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"state", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"severity", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"rule", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"team", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"region_code", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"area_code", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"metric_id", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"period", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"value", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
    {"lower", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
    {"upper", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
    {"confidence", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
    {"benchmark", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
    {"verdict", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"dedupe_key", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"acknowledged_by", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"summary", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"subject", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"fired_sequence", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
    {"muted_by", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
    {"reported", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
    {"expected", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER}};

static const cdof_table_col_t display_cols[] = {{"#", CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER},
                                                {"state", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
                                                {"severity", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
                                                {"rule", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
                                                {"area", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
                                                {"metric", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
                                                {"period", CDOF_TABLE_LEFT, CDOF_TABLE_STRING},
                                                {"summary", CDOF_TABLE_CUT, CDOF_TABLE_STRING}};

static void alert_record(cdof_table_t *t, const Cdof__V1__Alert *a)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    cdof_client_period_text(a->period, period, sizeof period);
    cdof_table_set_u64(t, 0, a->sequence);
    if (a->raised_ms)
        cdof_table_set_i64(t, 1, a->raised_ms);
    cdof_table_set_time(t, 2, a->raised_ms);
    cdof_table_set(t, 3, cdof_client_state_name(a->state));
    cdof_table_set(t, 4, cdof_client_severity_name(a->severity));
    cdof_table_set(t, 5, a->rule);
    cdof_table_set(t, 6, a->team);
    cdof_table_set(t, 7, a->region_code);
    cdof_table_set(t, 8, a->area_code);
    cdof_table_set(t, 9, a->metric_id);
    cdof_table_set_opt(t, 10, period);
    cdof_table_set_number(t, 11, a->value, -1);
    cdof_table_set_number(t, 12, a->lower, -1);
    cdof_table_set_number(t, 13, a->upper, -1);
    cdof_table_set_number(t, 14, a->confidence, -1);
    cdof_table_set_number(t, 15, a->benchmark, -1);
    cdof_table_set(t, 16, cdof_wire_verdict_name(a->verdict));
    cdof_table_set(t, 17, a->dedupe_key);
    cdof_table_set(t, 18, a->acknowledged_by);
    cdof_table_set(t, 19, a->summary);
    cdof_table_set(t, 20, a->subject);
    if (a->fired_sequence)
        cdof_table_set_u64(t, 21, a->fired_sequence);
    cdof_table_set(t, 22, a->muted_by);
    /* England's coverage when a comparison alert was judged. */
    if (a->expected) {
        cdof_table_set_u64(t, 23, a->reported);
        cdof_table_set_u64(t, 24, a->expected);
    }
}

static void alert_display(cdof_table_t *t, const Cdof__V1__Alert *a)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    cdof_client_period_text(a->period, period, sizeof period);
    cdof_table_set_u64(t, 0, a->sequence);
    cdof_table_set(t, 1, cdof_client_state_name(a->state));
    cdof_table_set(t, 2, cdof_client_severity_name(a->severity));
    cdof_table_set(t, 3, a->rule);
    cdof_table_set(t, 4, a->area_code);
    cdof_table_set(t, 5, a->metric_id);
    cdof_table_set(t, 6, period);
    cdof_table_set(t, 7, a->summary);
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
