#include "watch_msg.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdof_period.h"
#include "cdof_text.h"
#include "cdof_client_alert.h"

/* Teams and Slack refuse long messages (Slack: 50 blocks): the chat formats list this many
 * alerts and count the rest; email and the generic JSON list every one. */
#define CHAT_MAX_ITEMS 20
#define MAX_FIELDS     16

static const char *const item_names[] = {"new", "firing", "resolved"};

/* The unit written after a figure: "%", " per 100,000" or nothing. */
static const char *unit_of(const Cdof__V1__Alert *a, const cdof_ref_t *ref)
{
    const cdof_metric_t *m = ref && a->metric_id ? cdof_ref_metric(ref, a->metric_id) : NULL;
    if (!m)
        return "";
    if (m->unit == CDOF_UNIT_PERCENTAGE)
        return "%";
    if (m->unit == CDOF_UNIT_RATE && m->multiplier == 100000)
        return " per 100,000";
    return "";
}

static void number(double v, const char *unit, char *buf, size_t len)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "-");
        return;
    }
    double r = round(v * 10) / 10;
    if (r == floor(r) && fabs(r) < 1e15)
        snprintf(buf, len, "%.0f%s", r, unit);
    else
        snprintf(buf, len, "%.1f%s", r, unit);
}

static watch_msg_field_t *add(watch_msg_field_t *out, size_t cap, size_t *n, const char *name)
{
    if (*n >= cap)
        return NULL;
    watch_msg_field_t *f = &out[(*n)++];
    f->name = name;
    f->value[0] = '\0';
    return f;
}

size_t watch_msg_fields(const Cdof__V1__Alert *a, const cdof_ref_t *ref, watch_msg_field_t *out,
                        size_t cap)
{
    size_t n = 0;
    watch_msg_field_t *f;
    const char *unit = unit_of(a, ref);
    bool measured = a->confidence > 0;
    if ((f = add(out, cap, &n, "Alert")))
        snprintf(f->value, sizeof f->value, "#%" PRIu64, a->sequence);
    if ((f = add(out, cap, &n, "State")))
        snprintf(f->value, sizeof f->value, "%s, %s", cdof_client_state_name(a->state),
                 cdof_client_severity_name(a->severity));
    if (a->rule && *a->rule && (f = add(out, cap, &n, "Rule")))
        snprintf(f->value, sizeof f->value, "%s", a->rule);
    if (a->area_code && *a->area_code && (f = add(out, cap, &n, "Area"))) {
        const cdof_area_t *ar = ref ? cdof_ref_area(ref, a->area_code) : NULL;
        snprintf(f->value, sizeof f->value, "%s%s%s%s", ar ? ar->name : "", ar ? " (" : "",
                 a->area_code, ar ? ")" : "");
    }
    if (a->metric_id && *a->metric_id && (f = add(out, cap, &n, "Metric"))) {
        const cdof_metric_t *m = ref ? cdof_ref_metric(ref, a->metric_id) : NULL;
        snprintf(f->value, sizeof f->value, "%s", m && m->name ? m->name : a->metric_id);
    } else if (a->subject && *a->subject && (f = add(out, cap, &n, "Subject"))) {
        snprintf(f->value, sizeof f->value, "%s", a->subject);
    }
    char period[CDOF_PERIOD_TEXT_MAX];
    if (cdof_client_period_text(a->period, period, sizeof period) &&
        (f = add(out, cap, &n, "Period")))
        snprintf(f->value, sizeof f->value, "%s", period);
    if ((measured || a->value != 0) && (f = add(out, cap, &n, "Value")))
        number(a->value, unit, f->value, sizeof f->value);
    if (measured && isfinite(a->lower) && isfinite(a->upper) &&
        (f = add(out, cap, &n, "Interval"))) {
        char lo[32], hi[32];
        number(a->lower, unit, lo, sizeof lo);
        number(a->upper, unit, hi, sizeof hi);
        snprintf(f->value, sizeof f->value, "%s to %s (%g%% confidence)", lo, hi, a->confidence);
    }
    if ((measured || a->benchmark != 0) && (f = add(out, cap, &n, "Benchmark"))) {
        char b[32];
        number(a->benchmark, unit, b, sizeof b);
        snprintf(f->value, sizeof f->value, "%s %s",
                 a->rule && strstr(a->rule, "region") ? "region" : "England", b);
    }
    /* Coverage and provisional status go here once the Alert carries them, so that every
     * receiver shows them next to the value. */
    if (a->raised_ms > 0 && (f = add(out, cap, &n, "Raised"))) {
        time_t t = (time_t)(a->raised_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(f->value, sizeof f->value, "%Y-%m-%d %H:%M UTC", &tm);
    }
    if (a->acknowledged_by && *a->acknowledged_by && (f = add(out, cap, &n, "Acknowledged by")))
        snprintf(f->value, sizeof f->value, "%s", a->acknowledged_by);
    if (a->summary && *a->summary && (f = add(out, cap, &n, "Summary")))
        snprintf(f->value, sizeof f->value, "%s", a->summary);
    return n;
}

void watch_msg_actions(const Cdof__V1__Alert *a, const char *query_command, char *ack,
                       char *silence, size_t len)
{
    const char *q = query_command && *query_command ? query_command : "cdof-query";
    snprintf(ack, len, "%s ack %" PRIu64 " --by \"YOUR NAME\"", q,
             a->fired_sequence ? a->fired_sequence : a->sequence);
    snprintf(silence, len, "%s silence '%s' --until YYYY-MM-DD --reason \"WHY\" --by \"YOUR NAME\"",
             q, a->dedupe_key ? a->dedupe_key : "");
}

static void counts(const watch_digest_t *d, size_t c[3])
{
    c[0] = c[1] = c[2] = 0;
    for (size_t i = 0; i < d->n; i++)
        c[d->items[i].state]++;
}

/* Copies s keeping printable ASCII only (a subject line stays one safe header). */
static void ascii(const char *s, FILE *out)
{
    for (; s && *s; s++)
        fputc(*s >= 0x20 && *s < 0x7f ? *s : ' ', out);
}

char *watch_msg_subject(const watch_digest_t *d)
{
    char *buf = NULL;
    size_t len = 0, c[3];
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    counts(d, c);
    fputs("[cdof] ", f);
    const char *sep = "";
    if (c[WATCH_ITEM_NEW]) {
        fprintf(f, "%zu new", c[WATCH_ITEM_NEW]);
        sep = ", ";
    }
    if (c[WATCH_ITEM_FIRING]) {
        fprintf(f, "%s%zu still firing", sep, c[WATCH_ITEM_FIRING]);
        sep = ", ";
    }
    if (c[WATCH_ITEM_RESOLVED])
        fprintf(f, "%s%zu resolved", sep, c[WATCH_ITEM_RESOLVED]);
    fputs(" alert", f);
    if (d->n != 1)
        fputc('s', f);
    if (d->group && *d->group) {
        fputs(": ", f);
        ascii(d->group, f);
    } else if (d->n == 1 && d->items[0].alert->rule) {
        fputs(": ", f);
        ascii(d->items[0].alert->rule, f);
        fputc(' ', f);
        ascii(d->items[0].alert->area_code, f);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Closes a memory stream opened on *buf (which fclose sets) and hands the text over. */
static char *finish(FILE *f, char **buf, size_t *len)
{
    if (fclose(f) != 0) {
        free(*buf);
        return NULL;
    }
    if (len)
        *len = strlen(*buf);
    return *buf;
}

static void text_body(const watch_digest_t *d, FILE *f)
{
    size_t c[3];
    counts(d, c);
    fprintf(f, "cdof alerts for %s%s (route %s, receiver %s)\r\n\r\n",
            d->group && *d->group ? "" : "every team", d->group ? d->group : "",
            d->route && *d->route ? d->route : "(root)", d->receiver);
    watch_msg_field_t fields[MAX_FIELDS];
    char ack[512], sil[512];
    for (size_t i = 0; i < d->n; i++) {
        const Cdof__V1__Alert *a = d->items[i].alert;
        fprintf(f, "== %s ==\r\n", item_names[d->items[i].state]);
        size_t nf = watch_msg_fields(a, d->ref, fields, MAX_FIELDS);
        for (size_t j = 0; j < nf; j++)
            fprintf(f, "  %-16s %s\r\n", fields[j].name, fields[j].value);
        if (d->items[i].state != WATCH_ITEM_RESOLVED) {
            watch_msg_actions(a, d->query_command, ack, sil, sizeof ack);
            fprintf(f, "  To acknowledge:  %s\r\n  To silence:      %s\r\n", ack, sil);
        }
        fputs("\r\n", f);
    }
    fprintf(f,
            "An acknowledged alert is not repeated until it resolves or fires again.\r\n"
            "Idempotency key: %s\r\n",
            d->key);
}

static void jstr(const char *s, FILE *f)
{
    cdof_text_json_file(f, s, s ? strlen(s) : 0);
}

static void json_fields_object(const Cdof__V1__Alert *a, const cdof_ref_t *ref, FILE *f)
{
    watch_msg_field_t fields[MAX_FIELDS];
    size_t nf = watch_msg_fields(a, ref, fields, MAX_FIELDS);
    fputc('{', f);
    for (size_t j = 0; j < nf; j++) {
        if (j)
            fputc(',', f);
        jstr(fields[j].name, f);
        fputc(':', f);
        jstr(fields[j].value, f);
    }
    fputc('}', f);
}

static void generic_body(const watch_digest_t *d, FILE *f)
{
    char ack[512], sil[512];
    size_t c[3];
    counts(d, c);
    char *subject = watch_msg_subject(d);
    fputs("{\"version\":1,\"key\":", f);
    jstr(d->key, f);
    fputs(",\"receiver\":", f);
    jstr(d->receiver, f);
    fputs(",\"route\":", f);
    jstr(d->route, f);
    fputs(",\"group\":", f);
    jstr(d->group, f);
    fputs(",\"title\":", f);
    jstr(subject, f);
    free(subject);
    fprintf(f, ",\"counts\":{\"new\":%zu,\"firing\":%zu,\"resolved\":%zu},\"alerts\":[", c[0], c[1],
            c[2]);
    for (size_t i = 0; i < d->n; i++) {
        const Cdof__V1__Alert *a = d->items[i].alert;
        fprintf(f, "%s{\"status\":\"%s\",\"record\":", i ? "," : "", item_names[d->items[i].state]);
        cdof_client_alert_json(a, f);
        fputs(",\"figures\":", f);
        json_fields_object(a, d->ref, f);
        watch_msg_actions(a, d->query_command, ack, sil, sizeof ack);
        fputs(",\"ack_command\":", f);
        jstr(ack, f);
        fputs(",\"silence_command\":", f);
        jstr(sil, f);
        fputc('}', f);
    }
    fputs("]}", f);
}

static const char *theme(const watch_digest_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->items[i].state != WATCH_ITEM_RESOLVED &&
            d->items[i].alert->severity == CDOF__V1__SEVERITY__SEVERITY_CRITICAL)
            return "C50F1F";
    }
    for (size_t i = 0; i < d->n; i++) {
        if (d->items[i].state != WATCH_ITEM_RESOLVED)
            return "F7630C";
    }
    return "107C10";
}

/* One line naming an alert for a chat heading. */
static void heading(const watch_item_t *it, const cdof_ref_t *ref, char *buf, size_t len)
{
    const Cdof__V1__Alert *a = it->alert;
    const cdof_area_t *ar = ref && a->area_code ? cdof_ref_area(ref, a->area_code) : NULL;
    snprintf(buf, len, "#%" PRIu64 " %s: %s %s", a->sequence, item_names[it->state],
             a->rule ? a->rule : "",
             ar             ? ar->name
             : a->area_code ? a->area_code
                            : "");
}

static void teams_body(const watch_digest_t *d, FILE *f)
{
    char *subject = watch_msg_subject(d);
    char ack[512], sil[512], head[256], text[1200];
    fputs("{\"@type\":\"MessageCard\",\"@context\":\"https://schema.org/extensions\","
          "\"summary\":",
          f);
    jstr(subject, f);
    fprintf(f, ",\"themeColor\":\"%s\",\"title\":", theme(d));
    jstr(subject, f);
    free(subject);
    fputs(",\"sections\":[", f);
    size_t shown = d->n < CHAT_MAX_ITEMS ? d->n : CHAT_MAX_ITEMS;
    watch_msg_field_t fields[MAX_FIELDS];
    for (size_t i = 0; i < shown; i++) {
        const Cdof__V1__Alert *a = d->items[i].alert;
        heading(&d->items[i], d->ref, head, sizeof head);
        fputs(i ? ",{\"activityTitle\":" : "{\"activityTitle\":", f);
        jstr(head, f);
        fputs(",\"facts\":[", f);
        size_t nf = watch_msg_fields(a, d->ref, fields, MAX_FIELDS);
        for (size_t j = 0; j < nf; j++) {
            fputs(j ? ",{\"name\":" : "{\"name\":", f);
            jstr(fields[j].name, f);
            fputs(",\"value\":", f);
            jstr(fields[j].value, f);
            fputc('}', f);
        }
        fputc(']', f);
        if (d->items[i].state != WATCH_ITEM_RESOLVED) {
            watch_msg_actions(a, d->query_command, ack, sil, sizeof ack);
            snprintf(text, sizeof text, "Acknowledge: `%s`  \nSilence: `%s`", ack, sil);
            fputs(",\"text\":", f);
            jstr(text, f);
        }
        fputc('}', f);
    }
    snprintf(text, sizeof text, "%zu more in this group. Idempotency key: %s", d->n - shown,
             d->key);
    fputs(shown ? ",{\"text\":" : "{\"text\":", f);
    jstr(text, f);
    fputs("}]}", f);
}

static void slack_body(const watch_digest_t *d, FILE *f)
{
    char *subject = watch_msg_subject(d);
    char ack[512], sil[512], head[256], text[2600];
    fputs("{\"text\":", f);
    jstr(subject, f);
    fputs(",\"blocks\":[{\"type\":\"header\",\"text\":{\"type\":\"plain_text\",\"text\":", f);
    jstr(subject, f);
    free(subject);
    fputs("}}", f);
    size_t shown = d->n < CHAT_MAX_ITEMS ? d->n : CHAT_MAX_ITEMS;
    watch_msg_field_t fields[MAX_FIELDS];
    for (size_t i = 0; i < shown; i++) {
        const Cdof__V1__Alert *a = d->items[i].alert;
        heading(&d->items[i], d->ref, head, sizeof head);
        size_t nf = watch_msg_fields(a, d->ref, fields, MAX_FIELDS);
        size_t off = (size_t)snprintf(text, sizeof text, "*%s*", head);
        for (size_t j = 0; j < nf && off < sizeof text; j++)
            off += (size_t)snprintf(text + off, sizeof text - off, "\n%s: %s", fields[j].name,
                                    fields[j].value);
        if (d->items[i].state != WATCH_ITEM_RESOLVED && off < sizeof text) {
            watch_msg_actions(a, d->query_command, ack, sil, sizeof ack);
            snprintf(text + off, sizeof text - off, "\nAcknowledge: `%s`\nSilence: `%s`", ack, sil);
        }
        fputs(",{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":", f);
        jstr(text, f);
        fputs("}}", f);
    }
    snprintf(text, sizeof text, "%zu more in this group. Idempotency key: %s", d->n - shown,
             d->key);
    fputs(",{\"type\":\"context\",\"elements\":[{\"type\":\"mrkdwn\",\"text\":", f);
    jstr(text, f);
    fputs("}]}]}", f);
}

char *watch_msg_body(const watch_digest_t *d, watch_recv_kind_t k, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    switch (k) {
    case WATCH_RECV_EMAIL:
        text_body(d, f);
        break;
    case WATCH_RECV_TEAMS:
        teams_body(d, f);
        break;
    case WATCH_RECV_SLACK:
        slack_body(d, f);
        break;
    case WATCH_RECV_WEBHOOK:
    case WATCH_RECV_EXEC:
        generic_body(d, f);
        break;
    }
    return finish(f, &buf, len);
}

char *watch_msg_alert_json(const Cdof__V1__Alert *a, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    if (cdof_client_alert_json(a, f) < 0) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fputc('\n', f);
    return finish(f, &buf, len);
}
