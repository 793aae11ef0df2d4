/* The alert lifecycle (docs/DESIGN.md "Alerts"): settles findings (hub_findings.h) into alerts.
 * An alert is keyed rule|subject|area; it fires once while its condition holds (after N
 * consecutive periods when the rule asks) and resolves with a notice when it clears. Every
 * change gets the next global sequence and is stored in the caller's transaction; it is handed
 * out for publishing only after that commits. A change a silence or an inhibition mutes is stored
 * and published all the same, marked muted_by, so the history stays whole and watchers keep an
 * unbroken sequence; the alert is notified again when the silence or inhibition ends while it
 * still fires.
 *
 * It owns the databases `alerts`, `alert_state`, `alert_inhibit` and the silences, and the
 * rules; it knows no sockets. Per write transaction:
 *   hub_alerts_begin                before it (and each retry);
 *   hub_alerts_settle, _renotify    inside it;
 *   hub_alerts_publish              after the commit returns (hands out what was stored);
 *   hub_alerts_discard              when it is aborted. */
#ifndef CDOF_HUB_ALERTS_H
#define CDOF_HUB_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "cdof.pb-c.h"
#include "cdof_ref.h"
#include "cdof_store.h"
#include "hub_findings.h"
#include "hub_keys.h"
#include "hub_rules.h"
#include "hub_silences.h"

typedef struct hub_alerts hub_alerts_t;

/* Opens the lifecycle's databases and the silences, and reads the next sequence (before any
 * transaction). Takes rules (freed with the module, also on failure). silence_max_days: the
 * longest a silence may last. *out owned by the caller (hub_alerts_destroy). */
int hub_alerts_open(cdof_store_t *store, const cdof_ref_t *ref, hub_rules_t *rules,
                    long silence_max_days, hub_alerts_t **out);
void hub_alerts_destroy(hub_alerts_t **a);

const hub_rules_t *hub_alerts_rules(const hub_alerts_t *a);
hub_silences_t *hub_alerts_silences(hub_alerts_t *a);

/* The sequence the next stored change will get. */
uint64_t hub_alerts_next_sequence(const hub_alerts_t *a);

void hub_alerts_begin(hub_alerts_t *a);
void hub_alerts_discard(hub_alerts_t *a);

/* Store writes since hub_alerts_begin: a transaction that made none need not be committed. */
uint64_t hub_alerts_writes(const hub_alerts_t *a);

/* Settles one finding (write txn): updates its key's streak and state and, when the key starts
 * or stops firing, stores a change (muted when a silence or an inhibition says so). A finding
 * for an older period than the key last judged changes nothing. A firing data_overdue finding
 * inhibits its area's underperformance alerts until it resolves. Returns 0 or a negative code. */
int hub_alerts_settle(hub_alerts_t *a, cdof_store_txn_t *txn, const hub_finding_t *f);

/* The same for n findings in order. */
int hub_alerts_settle_all(hub_alerts_t *a, cdof_store_txn_t *txn, const hub_finding_t *f, size_t n);

/* Alerts that fired muted and still fire are notified (a FIRING copy, unmuted) once their silence
 * or inhibition has ended (write txn). */
int hub_alerts_renotify(hub_alerts_t *a, cdof_store_txn_t *txn);

/* Acknowledges the firing alert of sequence ack->sequence by ack->by, vouched for by party (the
 * key's registry entry; NULL with --insecure): stores an ACKNOWLEDGED record naming both, in a
 * transaction of its own; publish it with hub_alerts_publish. *out is that record (owned by the
 * caller: cdof__v1__alert__free_unpacked). Returns 0, CDOF_ENOTFOUND, -EACCES (the alert is
 * outside the key's scope) or CDOF_EINVALID with a reason in err, or a negative code. */
int hub_alerts_ack(hub_alerts_t *a, const hub_party_t *party, const Cdof__V1__AlertAck *ack,
                   Cdof__V1__Alert **out, char *err, size_t errlen);

/* Hands each change committed since hub_alerts_begin, in sequence order, to send (topic: the
 * routing topic, cdof_wire_alert_topic; alert: the packed Alert), logs it, and forgets them.
 * Returns how many. */
typedef void (*hub_alerts_send_fn)(void *ctx, const char *topic, const uint8_t *alert, size_t len);
size_t hub_alerts_publish(hub_alerts_t *a, hub_alerts_send_fn send, void *ctx);

/* Opens a cursor on the stored alerts at the first sequence >= from (keys: sequence u64
 * big-endian; values: packed Alert), so a reader walks them in order with
 * cdof_store_cursor_next. *out is the caller's to close with cdof_store_cursor_close, whatever
 * the result. Returns 1 on an alert (*key and *val set; key may be NULL), 0 when none is that late,
 * or a negative code. */
int hub_alerts_seek(const hub_alerts_t *a, cdof_store_txn_t *txn, uint64_t from,
                    cdof_store_cursor_t **out, cdof_bytes_t *key, cdof_bytes_t *val);

#endif
