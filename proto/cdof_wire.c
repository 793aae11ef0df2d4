#include "cdof_wire.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_error.h"

int cdof_wire_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    if (!msg || !out || !len)
        return -EINVAL;
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1); /* an all-default message packs to nothing */
    if (!buf)
        return -ENOMEM;
    size_t packed = protobuf_c_message_pack(msg, buf);
    if (packed != n) {
        free(buf);
        return -EIO;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Checks the size of an incoming buffer before protobuf sees it. */
static int wire_check_size(const void *buf, size_t len, size_t max, const char *what, char *err,
                           size_t errlen)
{
    if (!buf && len)
        return cdof_reason(CDOF_EPROTO, err, errlen, "%s: no buffer", what);
    if (len > max)
        return cdof_reason(CDOF_EPROTO, err, errlen,
                           "%s of %zu bytes is larger than the limit of %zu bytes", what, len, max);
    return 0;
}

/* A string field within its bound; protobuf-c gives "" for absent strings, never NULL, but a
 * message built by hand may have NULL. */
static int wire_str(const char *s, size_t max, const char *field, char *err, size_t errlen)
{
    if (s && strnlen(s, max + 1) > max)
        return cdof_reason(CDOF_EPROTO, err, errlen, "%s is longer than %zu bytes", field, max);
    return 0;
}

static int wire_period_ok(const Cdof__V1__Period *p, const char *field, bool required, char *err,
                          size_t errlen)
{
    if (!p) {
        if (required)
            return cdof_reason(CDOF_EPROTO, err, errlen, "%s is missing", field);
        return 0;
    }
    cdof_period_t cp;
    if (cdof_wire_period_from_msg(p, &cp) < 0)
        return cdof_reason(CDOF_EPROTO, err, errlen,
                           "%s (kind %d, days %d to %d) is not a well-formed period", field,
                           (int)p->kind, (int)p->first_day, (int)p->last_day);
    return 0;
}

void cdof_wire_period_to_msg(const cdof_period_t *p, Cdof__V1__Period *msg)
{
    cdof__v1__period__init(msg);
    msg->kind = (Cdof__V1__PeriodKind)p->kind;
    msg->first_day = p->first_day;
    msg->last_day = p->last_day;
}

int cdof_wire_period_from_msg(const Cdof__V1__Period *msg, cdof_period_t *p)
{
    if (!msg || !p)
        return CDOF_EINVALID;
    cdof_period_t cp = {(cdof_period_kind_t)msg->kind, msg->first_day, msg->last_day};
    /* Check the raw enum value before it lands in our enum type. */
    if ((int)msg->kind < CDOF_PERIOD_MONTH || (int)msg->kind > CDOF_PERIOD_POOLED_YEARS ||
        !cdof_period_valid(&cp))
        return CDOF_EINVALID;
    *p = cp;
    return 0;
}

int cdof_wire_update_from_msg(const Cdof__V1__MetricUpdate *msg, cdof_update_t *u, char *err,
                              size_t errlen)
{
    if (!msg || !u) {
        cdof_reason(CDOF_EPROTO, err, errlen, "no metric update");
        return CDOF_EINVALID;
    }
    if (!msg->period) {
        cdof_reason(CDOF_EPROTO, err, errlen, "period is missing");
        return CDOF_EINVALID;
    }
    cdof_period_t p;
    if (cdof_wire_period_from_msg(msg->period, &p) < 0) {
        cdof_reason(
            CDOF_EPROTO, err, errlen, "period (kind %d, days %d to %d) is not a well-formed period",
            (int)msg->period->kind, (int)msg->period->first_day, (int)msg->period->last_day);
        return CDOF_EINVALID;
    }
    memset(u, 0, sizeof *u);
    u->metric_id = msg->metric_id;
    u->area_code = msg->area_code;
    u->period = p;
    u->fig = (cdof_figure_t){.has_numerator = msg->has_numerator,
                             .numerator = msg->numerator,
                             .has_denominator = msg->has_denominator,
                             .denominator = msg->denominator,
                             .has_value = msg->has_value,
                             .value = msg->value};
    return 0;
}

void cdof_wire_update_to_msg(const cdof_update_t *u, Cdof__V1__MetricUpdate *msg,
                             Cdof__V1__Period *period_storage)
{
    /* protobuf-c's struct fields are not const; the packer only reads them. */
    msg->metric_id = (char *)(u->metric_id ? u->metric_id : "");
    msg->area_code = (char *)(u->area_code ? u->area_code : "");
    cdof_wire_period_to_msg(&u->period, period_storage);
    msg->period = period_storage;
    const cdof_figure_t *f = &u->fig;
    msg->has_numerator = f->has_numerator;
    msg->numerator = f->has_numerator ? f->numerator : 0;
    msg->has_denominator = f->has_denominator;
    msg->denominator = f->has_denominator ? f->denominator : 0;
    msg->has_value = f->has_value;
    msg->value = f->has_value ? f->value : 0;
}

static int wire_check_update(const Cdof__V1__MetricUpdate *m, char *err, size_t errlen)
{
    int rc;
    if ((rc = wire_str(m->metric_id, CDOF_WIRE_MAX_ID, "metric_id", err, errlen)) < 0 ||
        (rc = wire_str(m->area_code, CDOF_WIRE_MAX_ID, "area_code", err, errlen)) < 0 ||
        (rc = wire_str(m->note, CDOF_WIRE_MAX_TEXT, "note", err, errlen)) < 0 ||
        (rc = wire_str(m->source_file, CDOF_WIRE_MAX_TEXT, "source_file", err, errlen)) < 0 ||
        (rc = wire_period_ok(m->period, "period", true, err, errlen)) < 0)
        return rc;
    return 0;
}

static int wire_check_milestone(const Cdof__V1__MilestoneEvent *m, char *err, size_t errlen)
{
    int rc;
    if ((rc = wire_str(m->milestone_id, CDOF_WIRE_MAX_ID, "milestone_id", err, errlen)) < 0 ||
        (rc = wire_str(m->partnership, CDOF_WIRE_MAX_ID, "partnership", err, errlen)) < 0 ||
        (rc = wire_str(m->ref, CDOF_WIRE_MAX_TEXT, "ref", err, errlen)) < 0 ||
        (rc = wire_str(m->note, CDOF_WIRE_MAX_TEXT, "note", err, errlen)) < 0)
        return rc;
    return 0;
}

Cdof__V1__Envelope *cdof_wire_envelope_decode(const void *buf, size_t len, char *err, size_t errlen)
{
    return cdof_wire_envelope_decode_in(NULL, buf, len, err, errlen);
}

Cdof__V1__Envelope *cdof_wire_envelope_decode_in(ProtobufCAllocator *alloc, const void *buf,
                                                 size_t len, char *err, size_t errlen)
{
    if (wire_check_size(buf, len, CDOF_WIRE_MAX_MESSAGE, "envelope", err, errlen) < 0)
        return NULL;
    Cdof__V1__Envelope *e = cdof__v1__envelope__unpack(alloc, len, buf);
    if (!e) {
        cdof_reason(CDOF_EPROTO, err, errlen, "envelope does not decode as cdof.v1.Envelope");
        return NULL;
    }
    if (wire_str(e->agent_id, CDOF_WIRE_MAX_ID, "agent_id", err, errlen) < 0)
        goto fail;
    if (!e->agent_id || !*e->agent_id) {
        cdof_reason(CDOF_EPROTO, err, errlen, "agent_id is missing");
        goto fail;
    }
    switch (e->body_case) {
    case CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE:
        if (wire_check_update(e->metric_update, err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT:
        if (wire_check_milestone(e->milestone_event, err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__ENVELOPE__BODY_HEARTBEAT:
        break;
    default:
        cdof_reason(CDOF_EPROTO, err, errlen,
                    "envelope has no body (metric_update, milestone_event or "
                    "heartbeat)");
        goto fail;
    }
    /* Sequences number updates and milestones from 1; only heartbeats carry 0. */
    if (e->body_case != CDOF__V1__ENVELOPE__BODY_HEARTBEAT && e->sequence == 0) {
        cdof_reason(CDOF_EPROTO, err, errlen, "sequence is 0 (only heartbeats carry 0)");
        goto fail;
    }
    return e;
fail:
    cdof__v1__envelope__free_unpacked(e, alloc);
    return NULL;
}

Cdof__V1__Ack *cdof_wire_ack_decode(const void *buf, size_t len, char *err, size_t errlen)
{
    if (wire_check_size(buf, len, CDOF_WIRE_MAX_MESSAGE, "ack", err, errlen) < 0)
        return NULL;
    Cdof__V1__Ack *a = cdof__v1__ack__unpack(NULL, len, buf);
    if (!a) {
        cdof_reason(CDOF_EPROTO, err, errlen, "ack does not decode as cdof.v1.Ack");
        return NULL;
    }
    if (a->n_entries > CDOF_WIRE_MAX_ACKS) {
        cdof_reason(CDOF_EPROTO, err, errlen, "ack has %zu entries, more than the limit of %d",
                    a->n_entries, CDOF_WIRE_MAX_ACKS);
        goto fail;
    }
    for (size_t i = 0; i < a->n_entries; i++) {
        const Cdof__V1__AckEntry *e = a->entries[i];
        if (wire_str(e->reason, CDOF_WIRE_MAX_TEXT, "ack entry reason", err, errlen) < 0)
            goto fail;
        if (e->status < CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED ||
            e->status > CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED) {
            cdof_reason(CDOF_EPROTO, err, errlen, "ack entry for sequence %llu has status %d",
                        (unsigned long long)e->sequence, (int)e->status);
            goto fail;
        }
    }
    return a;
fail:
    cdof__v1__ack__free_unpacked(a, NULL);
    return NULL;
}

static int wire_check_alert(const Cdof__V1__Alert *a, char *err, size_t errlen)
{
    int rc;
    if ((rc = wire_str(a->rule, CDOF_WIRE_MAX_ID, "rule", err, errlen)) < 0 ||
        (rc = wire_str(a->metric_id, CDOF_WIRE_MAX_ID, "metric_id", err, errlen)) < 0 ||
        (rc = wire_str(a->area_code, CDOF_WIRE_MAX_ID, "area_code", err, errlen)) < 0 ||
        (rc = wire_str(a->region_code, CDOF_WIRE_MAX_ID, "region_code", err, errlen)) < 0 ||
        (rc = wire_str(a->team, CDOF_WIRE_MAX_ID, "team", err, errlen)) < 0 ||
        (rc = wire_str(a->summary, CDOF_WIRE_MAX_TEXT, "summary", err, errlen)) < 0 ||
        (rc = wire_str(a->dedupe_key, CDOF_WIRE_MAX_TEXT, "dedupe_key", err, errlen)) < 0 ||
        (rc = wire_str(a->acknowledged_by, CDOF_WIRE_MAX_TEXT, "acknowledged_by", err, errlen)) <
            0 ||
        (rc = wire_period_ok(a->period, "period", false, err, errlen)) < 0)
        return rc;
    /* The lifecycle's fields: muted, fired sequence, acknowledgement. */
    if ((rc = wire_str(a->muted_by, CDOF_WIRE_MAX_TEXT, "muted_by", err, errlen)) < 0 ||
        (rc = wire_str(a->subject, CDOF_WIRE_MAX_ID, "subject", err, errlen)) < 0)
        return rc;
    return 0;
}

Cdof__V1__Alert *cdof_wire_alert_decode(const void *buf, size_t len, char *err, size_t errlen)
{
    if (wire_check_size(buf, len, CDOF_WIRE_MAX_MESSAGE, "alert", err, errlen) < 0)
        return NULL;
    Cdof__V1__Alert *a = cdof__v1__alert__unpack(NULL, len, buf);
    if (!a) {
        cdof_reason(CDOF_EPROTO, err, errlen, "alert does not decode as cdof.v1.Alert");
        return NULL;
    }
    if (wire_check_alert(a, err, errlen) < 0) {
        cdof__v1__alert__free_unpacked(a, NULL);
        return NULL;
    }
    return a;
}

Cdof__V1__QueryRequest *cdof_wire_query_request_decode(const void *buf, size_t len, char *err,
                                                       size_t errlen)
{
    if (wire_check_size(buf, len, CDOF_WIRE_MAX_MESSAGE, "query request", err, errlen) < 0)
        return NULL;
    Cdof__V1__QueryRequest *q = cdof__v1__query_request__unpack(NULL, len, buf);
    if (!q) {
        cdof_reason(CDOF_EPROTO, err, errlen,
                    "query request does not decode as cdof.v1.QueryRequest");
        return NULL;
    }
    if (wire_str(q->page_token, CDOF_WIRE_MAX_TEXT, "page_token", err, errlen) < 0)
        goto fail;
    switch (q->query_case) {
    case CDOF__V1__QUERY_REQUEST__QUERY_AREA:
        if (wire_str(q->area->area_code, CDOF_WIRE_MAX_ID, "area_code", err, errlen) < 0 ||
            wire_str(q->area->period, CDOF_WIRE_MAX_ID, "period", err, errlen) < 0)
            goto fail;
        if (q->area->n_members > CDOF_WIRE_MAX_MEMBERS) { /* a partnership profiled as one */
            cdof_reason(CDOF_EPROTO, err, errlen, "a partnership has more than %d members",
                        CDOF_WIRE_MAX_MEMBERS);
            goto fail;
        }
        for (size_t i = 0; i < q->area->n_members; i++) {
            if (wire_str(q->area->members[i], CDOF_WIRE_MAX_ID, "members", err, errlen) < 0)
                goto fail;
        }
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_LEAGUE:
        if (wire_str(q->league->metric_id, CDOF_WIRE_MAX_ID, "metric_id", err, errlen) < 0 ||
            wire_str(q->league->period, CDOF_WIRE_MAX_ID, "period", err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_SERIES:
        if (wire_str(q->series->metric_id, CDOF_WIRE_MAX_ID, "metric_id", err, errlen) < 0 ||
            wire_str(q->series->area_code, CDOF_WIRE_MAX_ID, "area_code", err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_ALERTS:
        if (wire_str(q->alerts->topic_prefix, CDOF_WIRE_MAX_TEXT, "topic_prefix", err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_ROLLING:
        if (wire_str(q->rolling->metric_id, CDOF_WIRE_MAX_ID, "metric_id", err, errlen) < 0 ||
            wire_str(q->rolling->period, CDOF_WIRE_MAX_ID, "period", err, errlen) < 0 ||
            wire_str(q->rolling->area_code, CDOF_WIRE_MAX_ID, "area_code", err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_MILESTONES_AT: /* compliance as at a day */
        if (wire_str(q->milestones_at->partnership, CDOF_WIRE_MAX_ID, "partnership", err, errlen) <
            0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_SILENCE: /* record a silence */
        if (wire_str(q->silence->matcher, CDOF_WIRE_MAX_TEXT, "matcher", err, errlen) < 0 ||
            wire_str(q->silence->reason, CDOF_WIRE_MAX_TEXT, "reason", err, errlen) < 0 ||
            wire_str(q->silence->by, CDOF_WIRE_MAX_ID, "by", err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_ACK: /* acknowledge an alert */
        if (wire_str(q->ack->by, CDOF_WIRE_MAX_ID, "by", err, errlen) < 0 ||
            wire_str(q->ack->note, CDOF_WIRE_MAX_TEXT, "note", err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_COVERAGE:
        if (wire_str(q->coverage->metric_id, CDOF_WIRE_MAX_ID, "metric_id", err, errlen) < 0 ||
            wire_str(q->coverage->period, CDOF_WIRE_MAX_ID, "period", err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_CLOSE:
        if (wire_str(q->close->metric_id, CDOF_WIRE_MAX_ID, "metric_id", err, errlen) < 0 ||
            wire_str(q->close->period, CDOF_WIRE_MAX_ID, "period", err, errlen) < 0 ||
            wire_str(q->close->by, CDOF_WIRE_MAX_ID, "by", err, errlen) < 0 ||
            wire_str(q->close->reason, CDOF_WIRE_MAX_TEXT, "reason", err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_UNSILENCE:
        if (wire_str(q->unsilence->by, CDOF_WIRE_MAX_ID, "by", err, errlen) < 0)
            goto fail;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_SILENCES:
    case CDOF__V1__QUERY_REQUEST__QUERY_SILENCE_HISTORY:
    case CDOF__V1__QUERY_REQUEST__QUERY_AGENTS:
    case CDOF__V1__QUERY_REQUEST__QUERY_NATIONAL:
    case CDOF__V1__QUERY_REQUEST__QUERY_MILESTONES:
    case CDOF__V1__QUERY_REQUEST__QUERY_HEALTH:
    case CDOF__V1__QUERY_REQUEST__QUERY_REJECTIONS:
        break;
    default:
        cdof_reason(CDOF_EPROTO, err, errlen, "query request has no query");
        goto fail;
    }
    return q;
fail:
    cdof__v1__query_request__free_unpacked(q, NULL);
    return NULL;
}

Cdof__V1__QueryResponse *cdof_wire_query_response_decode(const void *buf, size_t len, char *err,
                                                         size_t errlen)
{
    if (wire_check_size(buf, len, CDOF_WIRE_MAX_RESPONSE, "query response", err, errlen) < 0)
        return NULL;
    Cdof__V1__QueryResponse *r = cdof__v1__query_response__unpack(NULL, len, buf);
    if (!r) {
        cdof_reason(CDOF_EPROTO, err, errlen,
                    "query response does not decode as cdof.v1.QueryResponse");
        return NULL;
    }
    if (wire_str(r->error, CDOF_WIRE_MAX_TEXT, "error", err, errlen) < 0 ||
        wire_str(r->next_page_token, CDOF_WIRE_MAX_TEXT, "next_page_token", err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < r->n_rows; i++) {
        const Cdof__V1__ComparisonRow *row = r->rows[i];
        if (wire_str(row->metric_id, CDOF_WIRE_MAX_ID, "row metric_id", err, errlen) < 0 ||
            wire_str(row->area_code, CDOF_WIRE_MAX_ID, "row area_code", err, errlen) < 0 ||
            wire_str(row->area_name, CDOF_WIRE_MAX_TEXT, "row area_name", err, errlen) < 0 ||
            wire_period_ok(row->period, "row period", false, err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; i < r->n_alerts; i++) {
        if (wire_check_alert(r->alerts[i], err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; i < r->n_agents; i++) {
        if (wire_str(r->agents[i]->agent_id, CDOF_WIRE_MAX_ID, "agent_id", err, errlen) < 0)
            goto fail;
    }
    /* national summary and milestone rows */
    for (size_t i = 0; i < r->n_national; i++) {
        const Cdof__V1__NationalRow *n = r->national[i];
        if (wire_str(n->metric_id, CDOF_WIRE_MAX_ID, "national metric_id", err, errlen) < 0 ||
            wire_str(n->metric_name, CDOF_WIRE_MAX_TEXT, "metric_name", err, errlen) < 0 ||
            wire_str(n->baseline_period, CDOF_WIRE_MAX_ID, "baseline_period", err, errlen) < 0 ||
            wire_str(n->latest_period, CDOF_WIRE_MAX_ID, "latest_period", err, errlen) < 0 ||
            wire_str(n->commitment, CDOF_WIRE_MAX_TEXT, "commitment", err, errlen) < 0 ||
            wire_str(n->source, CDOF_WIRE_MAX_TEXT, "source", err, errlen) < 0 ||
            wire_str(n->kind, CDOF_WIRE_MAX_ID, "kind", err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; i < r->n_milestones; i++) {
        const Cdof__V1__MilestoneRow *m = r->milestones[i];
        if (wire_str(m->partnership, CDOF_WIRE_MAX_ID, "partnership", err, errlen) < 0 ||
            wire_str(m->milestone_id, CDOF_WIRE_MAX_ID, "milestone_id", err, errlen) < 0 ||
            wire_str(m->deliverable, CDOF_WIRE_MAX_TEXT, "deliverable", err, errlen) < 0 ||
            wire_str(m->status, CDOF_WIRE_MAX_ID, "status", err, errlen) < 0 ||
            wire_str(m->ref, CDOF_WIRE_MAX_TEXT, "ref", err, errlen) < 0)
            goto fail;
    }
    return r;
fail:
    cdof__v1__query_response__free_unpacked(r, NULL);
    return NULL;
}

static const char *const verdict_names[] = {"not_compared", "better", "similar", "worse",
                                            "best",         "worst",  "higher",  "lower"};

const char *cdof_wire_verdict_name(Cdof__V1__Verdict v)
{
    if ((int)v < 0 || (int)v >= (int)(sizeof verdict_names / sizeof *verdict_names))
        return "not_compared";
    return verdict_names[v];
}

int cdof_wire_verdict_from_name(const char *name, Cdof__V1__Verdict *out)
{
    for (size_t i = 0; name && i < sizeof verdict_names / sizeof *verdict_names; i++) {
        if (strcmp(name, verdict_names[i]) == 0) {
            *out = (Cdof__V1__Verdict)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* --- arena --------------------------------------------------------------------------------- */

#define ARENA_CHUNK (256 * 1024) /* bytes: a few hundred decoded envelopes */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
} arena_chunk_t;

struct cdof_wire_arena {
    arena_chunk_t *chunks; /* newest first */
    ProtobufCAllocator alloc;
};

static void *arena_alloc(void *ctx, size_t size)
{
    cdof_wire_arena_t *a = ctx;
    const size_t align = alignof(max_align_t);
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + align - 1) & ~(align - 1);
    arena_chunk_t *c = a->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        if (!(c = malloc(sizeof *c + cap)))
            return NULL;
        *c = (arena_chunk_t){.next = a->chunks, .cap = cap};
        a->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

static void arena_free(void *ctx, void *p)
{
    (void)ctx;
    (void)p; /* all at once, in cdof_wire_arena_reset; protobuf-c calls this when an unpack fails */
}

int cdof_wire_arena_new(cdof_wire_arena_t **out)
{
    cdof_wire_arena_t *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->alloc = (ProtobufCAllocator){arena_alloc, arena_free, a};
    *out = a;
    return 0;
}

ProtobufCAllocator *cdof_wire_arena_allocator(cdof_wire_arena_t *a)
{
    return &a->alloc;
}

void cdof_wire_arena_reset(cdof_wire_arena_t *a)
{
    /* The oldest chunk stays: the next batch usually fits in it. */
    while (a->chunks && a->chunks->next) {
        arena_chunk_t *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
    if (a->chunks)
        a->chunks->used = 0;
}

void cdof_wire_arena_destroy(cdof_wire_arena_t **ap)
{
    if (!ap || !*ap)
        return;
    cdof_wire_arena_reset(*ap);
    free((*ap)->chunks);
    free(*ap);
    *ap = NULL;
}

size_t cdof_wire_alert_topic(const char *team, const char *region, const char *area, char *buf,
                             size_t len)
{
    int n = snprintf(buf, len, "alert/%s/%s/%s", team, region, area);
    return n < 0 ? len : (size_t)n;
}
