/* Alert rules and lifecycle (DESIGN.md "Alerts"). An alert is keyed rule|metric|area, fires
 * once while its condition holds and resolves with a notice when it clears. Every change gets
 * the next global sequence and is committed to the store before it is published. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_compare.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_wire.h"
#include "hub.h"

typedef struct {
    const char *name;
    bool vs_region; /* false: against England */
} rule_t;

static const rule_t RULES[] = {{"worse_than_england", false}, {"worse_than_region", true}};

int hub_alerts_init(hub_t *hub)
{
    cdof_store_txn_t *txn;
    int rc = cdof_store_begin(hub->store, false, &txn);
    if (rc < 0)
        return rc;
    cdof_bytes_t k, v;
    rc = cdof_store_last(txn, hub->db_alerts, &k, &v);
    if (rc == 0 && k.len == 8)
        hub->next_alert_seq = cdof_store_rd64(k.data) + 1;
    else if (rc == CDOF_ENOTFOUND || rc == 0)
        hub->next_alert_seq = 1, rc = 0;
    cdof_store_abort(&txn);
    return rc;
}

static void format_value(const cdof_metric_t *m, double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (m->unit == CDOF_UNIT_PERCENTAGE)
        snprintf(buf, len, "%.1f%%", v);
    else if (m->unit == CDOF_UNIT_RATE)
        snprintf(buf, len, "%.1f per %.0f", v, m->multiplier);
    else
        snprintf(buf, len, "%.0f", v);
}

typedef struct hub_alert_change {
    Cdof__V1__Alert alert;
    Cdof__V1__Period period;
    char rule[32], metric[CDOF_WIRE_MAX_ID + 1], area[16], region[16], team[16];
    char dedupe[128], summary[CDOF_WIRE_MAX_TEXT];
    char topic[96];
} change_t;

/* Pointers inside a change point into the change itself, so a grown array is re-linked. */
static void relink(change_t *c)
{
    Cdof__V1__Alert *a = &c->alert;
    a->rule = c->rule;
    a->metric_id = c->metric;
    a->area_code = c->area;
    a->region_code = c->region;
    a->team = c->team;
    a->period = &c->period;
    a->summary = c->summary;
    a->dedupe_key = c->dedupe;
}

static change_t *new_change(hub_t *hub)
{
    if (hub->npending == hub->cap_pending) {
        size_t cap = hub->cap_pending ? hub->cap_pending * 2 : 64;
        change_t *p = realloc(hub->pending, cap * sizeof *p);
        if (!p)
            return NULL;
        hub->pending = p;
        hub->cap_pending = cap;
        for (size_t i = 0; i < hub->npending; i++)
            relink(&p[i]);
    }
    return &hub->pending[hub->npending++];
}

static void build(hub_t *hub, change_t *c, const rule_t *rule, const cdof_metric_t *m,
                  const cdof_period_t *p, const cdof_compare_row_t *r, bool firing)
{
    memset(c, 0, sizeof *c);
    cdof__v1__alert__init(&c->alert);
    cdof__v1__period__init(&c->period);
    cdof_wire_period_to_msg(p, &c->period);
    const cdof_area_t *region = cdof_ref_area(hub->ref, r->area->region_code);
    snprintf(c->rule, sizeof c->rule, "%s", rule->name);
    snprintf(c->metric, sizeof c->metric, "%s", m->id);
    snprintf(c->area, sizeof c->area, "%s", r->area->code);
    snprintf(c->region, sizeof c->region, "%s", region ? region->code : CDOF_ENGLAND_CODE);
    snprintf(c->team, sizeof c->team, "%s", m->team);
    snprintf(c->dedupe, sizeof c->dedupe, "%s|%s|%s", rule->name, m->id, r->area->code);
    snprintf(c->topic, sizeof c->topic, "alert/%s/%s/%s", c->team, c->region, c->area);

    double bench = rule->vs_region ? r->region_value : r->england_value;
    cdof_verdict_t verdict = rule->vs_region ? r->vs_region : r->vs_england;
    bool at998 = hub->alert_confidence > 0.99;
    const cdof_interval_t *ci = at998 ? &r->ci998 : &r->ci95;
    char period[CDOF_PERIOD_TEXT_MAX], val[48], bv[48], lo[48], hi[48];
    cdof_period_format(p, period, sizeof period);
    format_value(m, r->value, val, sizeof val);
    format_value(m, bench, bv, sizeof bv);
    format_value(m, ci->lower, lo, sizeof lo);
    format_value(m, ci->upper, hi, sizeof hi);
    const char *against = rule->vs_region ? (region ? region->name : "its region") : "England";
    if (firing)
        snprintf(c->summary, sizeof c->summary,
                 "%s: %s was %s in %s, worse than %s (%s); %s%% interval %s to %s", r->area->name,
                 m->name, val, period, against, bv, at998 ? "99.8" : "95", lo, hi);
    else
        snprintf(c->summary, sizeof c->summary, "%s: %s was %s in %s, no longer worse than %s (%s)",
                 r->area->name, m->name, val, period, against, bv);

    Cdof__V1__Alert *a = &c->alert;
    a->rule = c->rule;
    a->metric_id = c->metric;
    a->area_code = c->area;
    a->region_code = c->region;
    a->team = c->team;
    a->state = firing ? CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING
                      : CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED;
    a->severity = verdict == CDOF_VERDICT_WORST ? CDOF__V1__SEVERITY__SEVERITY_CRITICAL
                  : firing                      ? CDOF__V1__SEVERITY__SEVERITY_WARNING
                                                : CDOF__V1__SEVERITY__SEVERITY_INFO;
    a->period = &c->period;
    a->value = r->value;
    a->lower = ci->lower;
    a->upper = ci->upper;
    a->benchmark = bench;
    a->verdict = (Cdof__V1__Verdict)verdict;
    a->summary = c->summary;
    a->raised_ms = cdof_clock_now_ms();
    a->dedupe_key = c->dedupe;
    a->acknowledged_by = (char *)"";
    a->confidence = at998 ? 99.8 : 95;
}

/* The state of a dedupe key: firing or not, and the period it was last judged on. */
typedef struct {
    uint8_t firing;
    int32_t period_first_day;
} state_t;

static int judge(hub_t *hub, cdof_store_txn_t *txn, const rule_t *rule, const cdof_metric_t *m,
                 const cdof_period_t *p, const cdof_compare_row_t *r)
{
    cdof_verdict_t v = rule->vs_region ? r->vs_region : r->vs_england;
    bool bad =
        hub->alert_confidence > 0.99 ? v == CDOF_VERDICT_WORST : cdof_stats_verdict_is_worse(v);
    char key[128];
    int klen = snprintf(key, sizeof key, "%s|%s|%s", rule->name, m->id, r->area->code);
    state_t st;
    memset(&st, 0, sizeof st);
    st.period_first_day = INT32_MIN;
    cdof_bytes_t val;
    int rc = cdof_store_get(txn, hub->db_alert_state, key, (size_t)klen, &val);
    if (rc == 0 && val.len == sizeof st)
        memcpy(&st, val.data, sizeof st);
    else if (rc < 0 && rc != CDOF_ENOTFOUND)
        return rc;
    /* Data for an older period than the one last judged does not change today's state. A value
     * that can no longer be compared resolves a firing alert but raises nothing. */
    if (p->first_day < st.period_first_day || (v == CDOF_VERDICT_NOT_COMPARED && !st.firing))
        return 0;
    bool change = bad != (st.firing != 0);
    /* Most judgements change nothing: writing the same state back would still dirty its page
     * for the commit to write out (a third of ingest under load, issue 9's benchmark). */
    if (!change && st.period_first_day == p->first_day)
        return 0;
    st.firing = bad;
    st.period_first_day = p->first_day;
    if ((rc = cdof_store_put(txn, hub->db_alert_state, key, (size_t)klen, &st, sizeof st)) < 0)
        return rc;
    if (!change)
        return 0;
    change_t *c = new_change(hub);
    if (!c)
        return -ENOMEM;
    build(hub, c, rule, m, p, r, bad);
    c->alert.sequence = hub->next_alert_seq + hub->npending - 1;
    uint8_t k[8], *buf;
    size_t len;
    cdof_store_be64(k, c->alert.sequence);
    if ((rc = cdof_wire_pack(&c->alert.base, &buf, &len)) < 0)
        return rc;
    rc = cdof_store_put(txn, hub->db_alerts, k, sizeof k, buf, len);
    free(buf);
    return rc;
}

static void publish(hub_t *hub, const change_t *c)
{
    uint8_t *buf;
    size_t len;
    if (cdof_wire_pack(&c->alert.base, &buf, &len) < 0)
        return;
    zmq_send(hub->pub, c->topic, strlen(c->topic), ZMQ_SNDMORE);
    zmq_send(hub->pub, buf, len, 0);
    free(buf);
    cdof_log_info("alert #%llu %s %s", (unsigned long long)c->alert.sequence,
                  c->alert.state == CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING ? "firing"
                                                                              : "resolved",
                  c->summary);
}

/* Alerts judge each metric on its own reporting period (months for a monthly metric, pooled
 * years for deaths), so an aggregate of another kind cannot flap an alert judged on months. */
static bool native_kind(const cdof_metric_t *m, cdof_period_kind_t kind)
{
    switch (m->frequency) {
    case CDOF_FREQ_MONTHLY:
        return kind == CDOF_PERIOD_MONTH;
    case CDOF_FREQ_QUARTERLY:
        return kind == CDOF_PERIOD_QUARTER;
    case CDOF_FREQ_ANNUAL:
        return kind == CDOF_PERIOD_FINANCIAL_YEAR || kind == CDOF_PERIOD_CALENDAR_YEAR;
    case CDOF_FREQ_POOLED3:
        return kind == CDOF_PERIOD_POOLED_YEARS;
    }
    return false;
}

void hub_alerts_begin(hub_t *hub)
{
    hub->npending = 0;
}

void hub_alerts_discard(hub_t *hub)
{
    hub->npending = 0;
}

int hub_alerts_evaluate(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p)
{
    if (!m->headline || m->polarity == CDOF_POLARITY_NONE || !native_kind(m, p->kind))
        return 0;
    cdof_compare_t *cmp = NULL;
    int rc = hub_compare_load(hub, txn, m, p, &cmp);
    for (size_t i = 0; rc == 0 && i < cdof_compare_count(cmp); i++) {
        const cdof_compare_row_t *r = cdof_compare_row(cmp, i);
        if (r->area->kind != CDOF_AREA_UTLA)
            continue;
        for (size_t k = 0; rc == 0 && k < sizeof RULES / sizeof RULES[0]; k++)
            rc = judge(hub, txn, &RULES[k], m, p, r);
    }
    cdof_compare_destroy(&cmp);
    return rc;
}

void hub_alerts_publish(hub_t *hub)
{
    /* Committed, so now published: a subscriber that misses one asks the query endpoint. */
    for (size_t i = 0; i < hub->npending; i++)
        publish(hub, &hub->pending[i]);
    hub->next_alert_seq += hub->npending;
    hub->counters.alerts += hub->npending;
    hub->npending = 0;
}
