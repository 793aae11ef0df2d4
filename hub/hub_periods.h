/* Periods (DESIGN.md "Period model"): the period index, which periods each metric has, and the
 * period states kept over it.
 *
 * Every metric-period of the metric's own reporting kind (hub_period_native) has a stored state:
 * open while expected areas are missing, complete once all have reported or the metric's
 * deadline has passed at or above its threshold, closed when a person closes it. States change
 * in the transaction of the data (or request) that changes them and each change is kept as a
 * history record. */
#ifndef CDOF_HUB_PERIODS_H
#define CDOF_HUB_PERIODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof.pb-c.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_store.h"
#include "hub.h"

/* ---- The period index (hub_db's `periods` database) ---- */

/* Records period p of metric m in the period index (write txn), so that "latest period" and
 * time series are point reads. */
int hub_periods_note(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p);

/* The periods recorded for metric m, oldest first: *out (caller frees; NULL when none) and *n. */
int hub_periods_list(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, cdof_period_t **out,
                     size_t *n);

/* ---- Period states ---- */

typedef enum {
    HUB_PERIOD_UNCHANGED = 0, /* still open, or not a period with a state */
    HUB_PERIOD_COMPLETED = 1, /* this transaction completed it: judge it now */
    HUB_PERIOD_REVISED = 2    /* new data for a complete or closed period: judge it again */
} hub_period_change_t;

/* Whether kind is metric m's own reporting period (months for a monthly metric, ...). */
bool hub_period_native(const cdof_metric_t *m, cdof_period_kind_t kind);

/* Opens the state and history databases and loads cfg.periods (NULL: defaults for every metric)
 * into hub->periods (owned by the hub until hub_periods_close; opening again reads the policies
 * anew). hub_results_open and hub_results_close call them, since stored rows read the states.
 * Returns 0 or a negative code with a reason naming file and line in err. */
int hub_periods_open(hub_t *hub, char *err, size_t errlen);
void hub_periods_close(hub_t *hub);

/* A store whose data predates period states gets one for every period it holds, judged on its
 * points as they stand (before its stored comparisons are rebuilt, which read the states; no
 * alert is judged). *made: how many. Returns 0 or a negative code. */
int hub_periods_adopt(hub_t *hub, uint64_t *made);

/* Flags reported[area index] for the areas with a point for (m, p) (read or write txn). */
int hub_period_reported(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p, bool *reported);

/* New data for (m, p) was written in txn: recounts its coverage and judges it (write txn). */
int hub_period_touch(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, hub_period_change_t *change);

/* Whether (m, p) is complete or closed (false for periods without a state). */
int hub_period_done(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                    const cdof_period_t *p, bool *done);

/* Closes (m, p) by a named person, vouched for by the key key_id ("" with --insecure) (write
 * txn). CDOF_ENOTFOUND when it has no data, CDOF_EINVALID when it is not m's reporting period or
 * already closed; reason in err. */
int hub_period_close(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, const char *by, const char *key_id, const char *reason,
                     char *err, size_t errlen);

/* Completes the open periods whose deadline has passed at or above their threshold (write txn):
 * *completed (caller frees; NULL when none) lists the *n periods completed. */
int hub_period_deadlines(hub_t *hub, cdof_store_txn_t *txn, hub_touch_t **completed, size_t *n);

/* The stored state of (m, p): *out (hub_period_status_free), with groups (England, regions,
 * partnerships) and their missing areas when asked. 0, CDOF_ENOTFOUND or a negative code. */
int hub_period_status(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                      const cdof_period_t *p, bool groups, Cdof__V1__PeriodStatus **out);
void hub_period_status_free(Cdof__V1__PeriodStatus *st);

/* The history records of (m, p), oldest first: *out (n records; caller frees each with
 * cdof__v1__period_status__free_unpacked, and the array). */
int hub_period_history(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                       const cdof_period_t *p, Cdof__V1__PeriodStatus ***out, size_t *n);

#endif
