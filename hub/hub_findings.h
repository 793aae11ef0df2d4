/* Findings: what the alert rules see in the national store, as data (docs/DESIGN.md "Alerts").
 * A finding says, for one rule and one dedupe key (rule|subject|area), whether the rule's
 * condition holds now and the figures and wording of the alert it would raise or clear. It
 * decides nothing: hub_alerts settles findings into alerts (streaks, firing, resolving, muting).
 *
 *   hub_findings_comparisons       each upper-tier area of a judged metric-period, for every
 *                                  rule on comparisons (worse than England or region, worsening,
 *                                  data quality);
 *   hub_findings_agent_silent      each agent the hub has heard from;
 *   hub_findings_data_overdue      each area that has reported a metric;
 *   hub_findings_milestone_overdue each partnership that owes a milestone.
 *
 * They read the store (a transaction the caller owns) and append to a list the caller owns and
 * may reuse. */
#ifndef CDOF_HUB_FINDINGS_H
#define CDOF_HUB_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_stats.h"
#include "cdof_wire.h"
#include "hub_rules.h"

#define HUB_FINDING_TEXT (CDOF_WIRE_MAX_TEXT / 2)

typedef struct {
    const hub_rule_t *rule;
    char subject[CDOF_WIRE_MAX_ID + 1];  /* metric, milestone or agent id */
    char key_area[CDOF_WIRE_MAX_ID + 1]; /* the key's third part: area code or partnership */
    const cdof_area_t *area;             /* routing (long-lived: reference data); NULL: England */
    const char *team;                    /* routing (long-lived: the rule's or the metric's) */
    const char *metric_id;               /* "" without a metric (long-lived) */
    bool has_period;                     /* period is shown in the alert */
    cdof_period_t period;
    bool periodic;         /* judged per period: "consecutive" counts periods */
    bool bad;              /* the condition holds for this judgement */
    bool underperformance; /* muted while data is overdue for the area */
    double value, lower, upper, benchmark, confidence;
    cdof_verdict_t verdict;
    bool worst;
    uint32_t reported, expected; /* England's coverage of the period judged (comparisons) */
    char fire[HUB_FINDING_TEXT], clear[HUB_FINDING_TEXT];
} hub_finding_t;

/* A growable list of findings (zero-initialised; hub_findings_free). */
typedef struct {
    hub_finding_t *items;
    size_t n, cap;
} hub_findings_t;

/* Appends a cleared finding for rule: *out points at it (valid until the next append). Returns 0
 * or -ENOMEM. */
int hub_findings_add(hub_findings_t *list, const hub_rule_t *rule, hub_finding_t **out);
void hub_findings_free(hub_findings_t *list);

typedef struct hub hub_t; /* hub.h */
typedef struct cdof_store_txn cdof_store_txn_t;

/* The comparison rules' findings for metric m and period p (its stored comparisons, and as many
 * earlier periods as a data-quality rule needs): one per rule on comparisons and upper-tier
 * area. Returns 0 or a negative code. */
int hub_findings_comparisons(hub_t *hub, cdof_store_txn_t *txn, const hub_rules_t *rules,
                             const cdof_metric_t *m, const cdof_period_t *p, hub_findings_t *out);

/* agent_silent: one per agent heard from, silent when nothing came for rule->silent_s seconds
 * by now (ms). An agent not heard from since the hub started is left out during a grace period
 * after the start, so that a restart neither resolves nor fires its alert. */
int hub_findings_agent_silent(hub_t *hub, cdof_store_txn_t *txn, const hub_rule_t *rule,
                              int64_t now, hub_findings_t *out);

/* data_overdue for metric m: one per area that has reported it, bad when the period after its
 * latest has not come rule->days after that period's end (today: days since the epoch). */
int hub_findings_data_overdue(hub_t *hub, cdof_store_txn_t *txn, const hub_rule_t *rule,
                              const cdof_metric_t *m, int32_t today, hub_findings_t *out);

/* milestone_overdue: one per partnership the rule selects and milestone it owes, bad when the
 * current deadline has passed without a completion in its cycle. */
int hub_findings_milestone_overdue(hub_t *hub, cdof_store_txn_t *txn, const hub_rule_t *rule,
                                   int32_t today, hub_findings_t *out);

#endif
