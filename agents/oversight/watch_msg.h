/* The messages cdof-watch sends: one digest per group, rendered as plain text (email), the
 * generic JSON body (webhook, exec), a Microsoft Teams MessageCard or a Slack Block Kit message.
 *
 * Every rendering takes each alert's figures from one list (watch_msg_fields), so a field the
 * wire gains (coverage, provisional) is added there once and reaches every receiver. Each
 * message says how to acknowledge and silence each alert, and carries the idempotency key it is
 * delivered under. No I/O beyond building strings. */
#ifndef WATCH_MSG_H
#define WATCH_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof.pb-c.h"
#include "cdof_ref.h"
#include "watch_conf.h"

/* One alert of a digest and what the digest says of it. */
typedef enum {
    WATCH_ITEM_NEW,      /* fired since the last digest of the group */
    WATCH_ITEM_FIRING,   /* still firing, told before (a repeat) */
    WATCH_ITEM_RESOLVED, /* resolved since the last digest */
} watch_item_state_t;

typedef struct {
    const Cdof__V1__Alert *alert; /* borrowed */
    watch_item_state_t state;
} watch_item_t;

typedef struct {
    const char *key;           /* the idempotency key */
    const char *receiver;      /* receiver name */
    const char *route;         /* route name, "" for the root */
    const char *group;         /* group key, e.g. "team=ohid,region=E12000002" */
    const char *query_command; /* how a reader runs cdof-query, e.g. "cdof-query" */
    const watch_item_t *items;
    size_t n;
    const cdof_ref_t *ref; /* names and units; may be NULL */
} watch_digest_t;

#define WATCH_MSG_FIELD_MAX 1040 /* a summary: CDOF_WIRE_MAX_TEXT and some */

/* One figure of an alert, as a person reads it ("Value", "10.2%"). */
typedef struct {
    const char *name;
    char value[WATCH_MSG_FIELD_MAX];
} watch_msg_field_t;

/* The figures of a: alert id, state, severity, rule, area, metric, period, value, interval,
 * benchmark, raised time, acknowledgement, summary (those present), into out (at most cap).
 * Returns how many. */
size_t watch_msg_fields(const Cdof__V1__Alert *a, const cdof_ref_t *ref, watch_msg_field_t *out,
                        size_t cap);

/* The commands that acknowledge and silence a, into buffers of len bytes. */
void watch_msg_actions(const Cdof__V1__Alert *a, const char *query_command, char *ack,
                       char *silence, size_t len);

/* One line for a subject or a title, ASCII only: "[cdof] 3 firing, 1 resolved: team=ohid,...".
 * Returns a heap string (caller frees) or NULL when out of memory. */
char *watch_msg_subject(const watch_digest_t *d);

/* The body for a receiver of kind k: text (CRLF lines) for email, JSON for the others. Returns a
 * heap string (caller frees) with its length in *len, or NULL when out of memory. */
char *watch_msg_body(const watch_digest_t *d, watch_recv_kind_t k, size_t *len);

/* The generic JSON of one alert for --exec (the record columns of cdof-query's alerts), as a
 * heap string, or NULL. */
char *watch_msg_alert_json(const Cdof__V1__Alert *a, size_t *len);

#endif
