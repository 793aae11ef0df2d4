/* Settling (docs/DESIGN.md "Comparisons", "Period model"): the period marks and the tick. Ingest
 * only marks what it wrote; settling brings stored comparisons up to date first (hub_results),
 * then has the alert rules judge them (hub_findings, settled into alerts by hub_alerts), in the
 * same write transaction, so data, comparisons and judgement never part.
 *
 * A metric-period is marked (`alert_settle`, hub_alert_codec.h) in the transaction of the data
 * that touches it, so a crash loses no pending work. Its comparisons and, for a complete period
 * revised, its judgement run once the marks have been quiet for --settle-ms, or HUB_SETTLE_MAX_MS
 * after the first while data keeps coming, in the tick, under a CPU budget. The rows that complete
 * a period are the exception: the period is compared and judged in their own transaction, since
 * every millisecond delays the alert. With --settle-ms 0 everything marked is settled at the end
 * of the ingest transaction itself.
 *
 * Per ingest transaction:
 *   hub_settle_begin(hub)              before it (and each retry);
 *   hub_settle_touch(hub, txn, m, p)   for each metric-period it wrote: counts its coverage
 *                                      (hub_period_touch), and marks it or notes it completed;
 *   hub_settle_ingested(hub, txn)      after the touches: judges what completed (and with
 *                                      --settle-ms 0 settles every mark);
 *   hub_publish(hub)                   after the commit returns (hub_subs.h);
 *   hub_settle_discard(hub)            when it is aborted. */
#ifndef CDOF_HUB_SETTLE_H
#define CDOF_HUB_SETTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "hub.h"
#include "hub_keys.h"

#define HUB_SETTLE_MAX_MS    30000 /* judged by then even while data keeps coming; --settle-ms max */
#define HUB_SLOW_RULES_MS    5000  /* data and milestones overdue, deadlines, notices again */
#define HUB_SETTLE_BUDGET_MS 30    /* per tick: the rest stays marked, so ingest is never starved */
#define HUB_SETTLE_BUSY_MS   5     /* the same while batches keep coming: ingest goes first */
#define HUB_SETTLE_SHARE     4     /* ...and leftovers wait 3x the tick's time: 1/4 of the loop */

/* Opens the marks (before any transaction); hub->alerts must be open. Returns 0 or a negative
 * code. */
int hub_settle_open(hub_t *hub);
void hub_settle_close(hub_t *hub);

void hub_settle_begin(hub_t *hub);
int hub_settle_touch(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p);
int hub_settle_ingested(hub_t *hub, cdof_store_txn_t *txn);
void hub_settle_discard(hub_t *hub);

/* Called from the serve loop about once a second, and as soon as marks are due: settles the
 * marks due (comparisons, then judgement, within HUB_SETTLE_BUDGET_MS, or HUB_SETTLE_BUSY_MS when
 * ingest_busy), and runs the rules that depend on time (agent silent every second; data overdue,
 * milestone overdue, period deadlines and the notices of alerts whose muting ended every
 * HUB_SLOW_RULES_MS), in one transaction committed before anything is published (hub_publish).
 * Returns 0 or a negative code. */
int hub_settle_tick(hub_t *hub, bool ingest_busy);

/* How long the serve loop may wait before hub_settle_tick has work (0..1000 ms): 0 while marks
 * are left over from a tick's budget. */
int hub_settle_wait_ms(const hub_t *hub);

/* Closes (m, p) by close->by for close->reason, vouched for by party (NULL with --insecure),
 * whose key must act for the metric's team nationally (closing judges every area): stores the
 * state with the key's id, brings its comparisons up to date, judges it and commits; publish
 * with hub_publish. *out (hub_period_status_free) is the new state. Returns 0, CDOF_ENOTFOUND,
 * -EACCES or CDOF_EINVALID with a reason in err, or a negative code. */
int hub_settle_close_period(hub_t *hub, const hub_party_t *party,
                            const Cdof__V1__PeriodClose *close, Cdof__V1__PeriodStatus **out,
                            char *err, size_t errlen);

/* The metric-periods marked (read or write txn): *items (caller frees; NULL when none) and *n,
 * in key order; metrics since removed from the catalogue are left out. */
int hub_settle_marks(hub_t *hub, cdof_store_txn_t *txn, hub_touch_t **items, size_t *n);

/* How many metric-periods are marked (read txn). */
int hub_settle_count(hub_t *hub, cdof_store_txn_t *txn, uint64_t *n);

#endif
