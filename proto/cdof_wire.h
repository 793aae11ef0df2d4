/* The wire contract's helpers: packing and bounded decoding of cdof.v1 messages, and
 * conversion between wire messages and the plain C types of the contract library.
 *
 * Every decoder checks what protobuf cannot: string lengths, repeated-field counts, that a oneof
 * is set, that periods are well-formed. A message that fails is rejected with a reason. */
#ifndef CDOF_WIRE_H
#define CDOF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "cdof.pb-c.h"
#include "cdof_period.h"
#include "cdof_validate.h"

#define CDOF_WIRE_MAX_MESSAGE (64 * 1024) /* bytes; also set as ZMQ_MAXMSGSIZE */
#define CDOF_WIRE_MAX_ID      64          /* agent ids, metric ids, milestone ids */
#define CDOF_WIRE_MAX_TEXT    1024        /* notes, refs, reasons, summaries */
#define CDOF_WIRE_MAX_MEMBERS 64          /* areas of a partnership in an area query */
#define CDOF_WIRE_MAX_ACKS    4096        /* entries in one Ack */
/* A query response carries up to a page of rows (10,000 by default), far more than 64 KiB: the
 * query client's socket needs this as its ZMQ_MAXMSGSIZE, not CDOF_WIRE_MAX_MESSAGE. An Ack must
 * still fit CDOF_WIRE_MAX_MESSAGE: a hub with many long rejection reasons splits it. */
#define CDOF_WIRE_MAX_RESPONSE (16 * 1024 * 1024)

/* Packs any message into a new heap buffer (*out, owned by the caller: free()). Returns 0 or
 * -ENOMEM. */
int cdof_wire_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len);

/* Decode with bounds. Return the unpacked message (caller frees with the matching
 * cdof__v1__*__free_unpacked(msg, NULL)) or NULL with a reason in err. Checked beyond protobuf:
 * len <= CDOF_WIRE_MAX_MESSAGE (CDOF_WIRE_MAX_RESPONSE for query responses); ids, codes and
 * metric, rule and team names <= CDOF_WIRE_MAX_ID bytes and other strings <= CDOF_WIRE_MAX_TEXT;
 * every Period present is well-formed. Envelope: agent_id not empty, a body set, a metric update
 * has a period, sequence > 0 except for heartbeats. Ack: <= CDOF_WIRE_MAX_ACKS entries, each
 * ACCEPTED, DUPLICATE or REJECTED. QueryRequest: a query set. */
Cdof__V1__Envelope *cdof_wire_envelope_decode(const void *buf, size_t len, char *err,
                                              size_t errlen);
/* The same with the message's memory from alloc (NULL: malloc), which the caller passes to
 * cdof__v1__envelope__free_unpacked too: the hub decodes a batch into one arena. */
Cdof__V1__Envelope *cdof_wire_envelope_decode_in(ProtobufCAllocator *alloc, const void *buf,
                                                 size_t len, char *err, size_t errlen);
/* Memory for decoded messages, freed all at once: one malloc per few hundred envelopes instead
 * of several per envelope, and no walk of each message to free it (1-2% of the hub's CPU). */
typedef struct cdof_wire_arena cdof_wire_arena_t;

/* *out is owned by the caller: cdof_wire_arena_destroy. Returns 0 or -ENOMEM. */
int cdof_wire_arena_new(cdof_wire_arena_t **out);
/* The allocator to decode into a (cdof_wire_envelope_decode_in, *__unpack); borrowed, valid while
 * a lives. Its free does nothing: messages go with cdof_wire_arena_reset. */
ProtobufCAllocator *cdof_wire_arena_allocator(cdof_wire_arena_t *a);
/* Frees every message decoded into a since the last reset (one chunk is kept for reuse). */
void cdof_wire_arena_reset(cdof_wire_arena_t *a);
void cdof_wire_arena_destroy(cdof_wire_arena_t **a);

Cdof__V1__Ack *cdof_wire_ack_decode(const void *buf, size_t len, char *err, size_t errlen);
Cdof__V1__Alert *cdof_wire_alert_decode(const void *buf, size_t len, char *err, size_t errlen);
Cdof__V1__QueryRequest *cdof_wire_query_request_decode(const void *buf, size_t len, char *err,
                                                       size_t errlen);
Cdof__V1__QueryResponse *cdof_wire_query_response_decode(const void *buf, size_t len, char *err,
                                                         size_t errlen);

/* Period conversions. from_msg checks the period is well-formed (CDOF_EINVALID otherwise). */
void cdof_wire_period_to_msg(const cdof_period_t *p, Cdof__V1__Period *msg);
int cdof_wire_period_from_msg(const Cdof__V1__Period *msg, cdof_period_t *p);

/* Fills *u from a decoded MetricUpdate. Strings are borrowed from msg. Returns 0 or
 * CDOF_EINVALID (no period, malformed period) with a reason. */
int cdof_wire_update_from_msg(const Cdof__V1__MetricUpdate *msg, cdof_update_t *u, char *err,
                              size_t errlen);

/* Fills msg (initialised by the caller) from u. Strings are borrowed from u; period points at
 * the caller's period_storage. */
void cdof_wire_update_to_msg(const cdof_update_t *u, Cdof__V1__MetricUpdate *msg,
                             Cdof__V1__Period *period_storage);

/* The text names of verdicts used in CSV and JSON: better, similar, worse, best, worst, higher,
 * lower, not_compared. */
/* An alert's PUB topic, "alert/<team>/<region>/<area>" (PROTOCOL.md), into buf (len bytes,
 * always terminated): the one spelling that publishing and the catch-up query's prefix filter
 * both use. Returns the topic's length, len or more when it was cut short. */
size_t cdof_wire_alert_topic(const char *team, const char *region, const char *area, char *buf,
                             size_t len);

const char *cdof_wire_verdict_name(Cdof__V1__Verdict v);

/* The verdict named name (one of the words above). Returns 0 or -EINVAL. */
int cdof_wire_verdict_from_name(const char *name, Cdof__V1__Verdict *out);

#endif
