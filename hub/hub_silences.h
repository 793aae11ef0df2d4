/* Silences (docs/DESIGN.md "Alerts", PROTOCOL.md "Queries"): records by id in the store's
 * `silence_records`, never deleted, each with the person who asked, the key that vouched for
 * them and that key's scope (team and region), which limits what the matcher's "*" parts reach.
 * Owned by the alert lifecycle (hub_alerts_silences), which asks them why a change is muted. */
#ifndef CDOF_HUB_SILENCES_H
#define CDOF_HUB_SILENCES_H

#include <stdbool.h>
#include <stddef.h>

#include "cdof.pb-c.h"
#include "cdof_ref.h"
#include "cdof_store.h"
#include "hub_keys.h"

typedef struct hub_silences hub_silences_t;

/* Opens the silence records (before any transaction), keeping as records the silences an older
 * hub stored by matcher. max_days: the longest a silence may last. *out is owned by the caller
 * (hub_silences_destroy). Returns 0 or a negative code. */
int hub_silences_open(cdof_store_t *store, const cdof_ref_t *ref, long max_days,
                      hub_silences_t **out);
void hub_silences_destroy(hub_silences_t **sl);

/* Records a new silence made by s->by through party (NULL: --insecure), durably, before
 * answering: its scope is the party's team and region, so "*" parts reach only those alerts.
 * *out is the record as stored (owned by the caller: cdof__v1__silence__free_unpacked). Returns
 * 0, CDOF_EINVALID or -EACCES with a reason in err, or a negative code. */
int hub_silences_add(hub_silences_t *sl, const hub_party_t *party, const Cdof__V1__Silence *s,
                     Cdof__V1__Silence **out, char *err, size_t errlen);

/* Ends silence u->id early, recording who and which key; only a key whose scope holds the
 * silence's may. *out as hub_silences_add. Returns 0, CDOF_ENOTFOUND, CDOF_EINVALID (already
 * ended or expired) or -EACCES with a reason in err, or a negative code. */
int hub_silences_end(hub_silences_t *sl, const hub_party_t *party, const Cdof__V1__Unsilence *u,
                     Cdof__V1__Silence **out, char *err, size_t errlen);

/* The silences in force, or with history every record, by id (read txn): *out is an array of *n
 * decoded silences, each owned by the caller (cdof__v1__silence__free_unpacked), the array too
 * (free). */
int hub_silences_list(hub_silences_t *sl, cdof_store_txn_t *txn, bool history,
                      Cdof__V1__Silence ***out, size_t *n);

/* Why an alert of dedupe key, team and region is silenced now, into why ("" when it is not). */
int hub_silences_match(hub_silences_t *sl, cdof_store_txn_t *txn, const char *key, const char *team,
                       const char *region, char *why, size_t len);

#endif
