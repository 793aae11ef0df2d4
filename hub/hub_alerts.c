/* Alert rules and lifecycle (docs/DESIGN.md "Alerts"). An alert is keyed rule|subject|area
 * (subject: the metric, milestone or agent), fires once while its condition holds (after N
 * consecutive periods when the rule asks) and resolves with a notice when it clears. Every change
 * gets the next global sequence and is committed to the store before it is published. A change that
 * a silence or an inhibition mutes is stored and published all the same, marked muted_by, so the
 * history stays whole and watchers keep an unbroken sequence; watchers do not notify it, and the
 * alert is notified again when the silence or inhibition ends while it still fires. */
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
#include "hub_rules.h"

#define FAST_RULES_MS 1000 /* agent silent */
/* How long after its start the hub waits for an agent to reconnect before judging its silence. */
#define HUB_SILENT_GRACE_MS 30000
#define PRIOR_PERIODS       24 /* periods of history a trend or data-quality rule reads at most */
#define OVERDUE_PERIODS     36 /* periods scanned back for each area's latest */
#define MAX_AGENTS          4096

/* --- changes: alerts of the open transaction, published after it commits --- */

typedef struct hub_alert_change {
    Cdof__V1__Alert alert;
    Cdof__V1__Period period;
    char rule[HUB_RULE_NAME_MAX], metric[CDOF_WIRE_MAX_ID + 1], area[16], region[16], team[16];
    char subject[CDOF_WIRE_MAX_ID + 1], dedupe[192], summary[CDOF_WIRE_MAX_TEXT];
    char acked[CDOF_WIRE_MAX_ID + 1], acked_key[CDOF_WIRE_MAX_ID + 1], muted[CDOF_WIRE_MAX_TEXT];
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
    a->period = c->period.kind ? &c->period : NULL;
    a->summary = c->summary;
    a->dedupe_key = c->dedupe;
    a->acknowledged_by = c->acked;
    a->acknowledged_key = c->acked_key;
    a->muted_by = c->muted;
    a->subject = c->subject;
}

static change_t *new_change(hub_t *hub)
{
    change_t *p = cdof_grow(hub->pending, hub->npending, &hub->cap_pending, 64, sizeof *p);
    if (!p)
        return NULL;
    if (p != hub->pending) {
        hub->pending = p;
        for (size_t i = 0; i < hub->npending; i++)
            relink(&p[i]);
    }
    change_t *c = &hub->pending[hub->npending++];
    memset(c, 0, sizeof *c);
    cdof__v1__alert__init(&c->alert);
    cdof__v1__period__init(&c->period);
    return c;
}

/* Gives c (a pending change) its sequence and stores it in the open transaction. Sequences are
 * provisional until the commit: pending changes take the next ones in order. */
static int change_store(hub_t *hub, cdof_store_txn_t *txn, change_t *c)
{
    relink(c);
    cdof_wire_alert_topic(c->team, c->region, c->area, c->topic, sizeof c->topic);
    c->alert.sequence = hub->next_alert_seq + (uint64_t)(c - hub->pending);
    c->alert.raised_ms = cdof_clock_now_ms();
    uint8_t k[8], *buf;
    size_t len;
    cdof_store_be64(k, c->alert.sequence);
    int rc = cdof_wire_pack(&c->alert.base, &buf, &len);
    if (rc < 0)
        return rc;
    rc = cdof_store_put(txn, hub->db_alerts, k, sizeof k, buf, len);
    free(buf);
    hub->alert_writes++;
    return rc;
}

/* A new change copying a stored alert's figures and strings. */
static change_t *change_copy(hub_t *hub, const Cdof__V1__Alert *src)
{
    change_t *c = new_change(hub);
    if (!c)
        return NULL;
    Cdof__V1__Alert *a = &c->alert;
    a->state = src->state;
    a->severity = src->severity;
    a->value = src->value;
    a->lower = src->lower;
    a->upper = src->upper;
    a->benchmark = src->benchmark;
    a->verdict = src->verdict;
    a->confidence = src->confidence;
    a->fired_sequence = src->fired_sequence;
    a->consecutive = src->consecutive;
    a->reported = src->reported;
    a->expected = src->expected;
    if (src->period) {
        c->period.kind = src->period->kind;
        c->period.first_day = src->period->first_day;
        c->period.last_day = src->period->last_day;
    }
    snprintf(c->rule, sizeof c->rule, "%s", src->rule);
    snprintf(c->metric, sizeof c->metric, "%s", src->metric_id);
    snprintf(c->area, sizeof c->area, "%s", src->area_code);
    snprintf(c->region, sizeof c->region, "%s", src->region_code);
    snprintf(c->team, sizeof c->team, "%s", src->team);
    snprintf(c->subject, sizeof c->subject, "%s", src->subject ? src->subject : "");
    snprintf(c->dedupe, sizeof c->dedupe, "%s", src->dedupe_key);
    snprintf(c->summary, sizeof c->summary, "%s", src->summary);
    return c;
}

/* --- the state of a dedupe key --- */

typedef struct {
    uint8_t firing;
    uint8_t notified; /* the last firing was published unmuted */
    uint8_t pad[2];
    int32_t period_first_day; /* the period last judged; INT32_MIN for rules without periods */
    uint32_t streak_before;   /* bad periods in a row before that period */
    uint32_t streak;          /* ... including it */
    uint64_t fired_seq;       /* the sequence of the firing record */
} state_t;

/* Version 1 stores kept { firing, period } in 8 bytes. */
static int state_get(hub_t *hub, cdof_store_txn_t *txn, const char *key, state_t *st)
{
    memset(st, 0, sizeof *st);
    st->period_first_day = INT32_MIN;
    cdof_bytes_t val;
    int rc = cdof_store_get(txn, hub->db_alert_state, key, strlen(key), &val);
    if (rc == CDOF_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (val.len == sizeof *st) {
        memcpy(st, val.data, sizeof *st);
    } else if (val.len == 8) {
        const uint8_t *v = val.data;
        st->firing = st->notified = v[0];
        memcpy(&st->period_first_day, v + 4, 4);
        st->streak = st->streak_before = v[0];
    } else {
        return CDOF_ECORRUPT;
    }
    return 0;
}

static int state_put(hub_t *hub, cdof_store_txn_t *txn, const char *key, const state_t *st)
{
    state_t old;
    int rc = state_get(hub, txn, key, &old);
    if (rc == 0 && !memcmp(&old, st, sizeof old))
        return 0; /* unchanged: a tick that changes nothing commits nothing */
    hub->alert_writes++;
    return cdof_store_put(txn, hub->db_alert_state, key, strlen(key), st, sizeof *st);
}

/* --- what a rule found for one key --- */

typedef struct {
    const hub_rule_t *rule;
    const char *subject;         /* metric, milestone or agent id */
    const char *key_area;        /* the key's third part: area code or partnership */
    const cdof_area_t *area;     /* routing; NULL: England */
    const char *team;            /* routing */
    const char *metric_id;       /* "" without a metric */
    const cdof_period_t *period; /* shown in the alert; may be NULL */
    bool periodic;               /* judged per period: "consecutive" counts periods */
    bool bad;                    /* the condition holds for this judgement */
    bool underperformance;       /* muted while data is overdue for the area */
    double value, lower, upper, benchmark, confidence;
    cdof_verdict_t verdict;
    bool worst;
    uint32_t reported, expected; /* England's coverage of the period judged (comparisons) */
    char fire[CDOF_WIRE_MAX_TEXT / 2], clear[CDOF_WIRE_MAX_TEXT / 2];
} finding_t;

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

typedef struct {
    char *why;
    size_t len;
} inhibit_ctx_t;

static int inhibit_visit(void *ctx, const cdof_bytes_t *k, const cdof_bytes_t *v)
{
    (void)v;
    inhibit_ctx_t *ic = ctx;
    const char *key = memchr(k->data, '|', k->len);
    size_t off = key ? (size_t)(key - (const char *)k->data) + 1 : 0;
    snprintf(ic->why, ic->len, "inhibited while %.*s fires", (int)(k->len - off),
             (const char *)k->data + off);
    return 1;
}

/* Why an alert for key (of team and region) firing now is muted ("" when it is not). */
static int mute_reason(hub_t *hub, cdof_store_txn_t *txn, const char *key, const char *team,
                       const char *region, bool underperformance, const char *area, char *why,
                       size_t len)
{
    int rc = hub_silences_match(hub, txn, key, team, region, why, len);
    if (rc < 0 || why[0] || !underperformance || !area)
        return rc;
    /* Inhibition: "data overdue" for the area mutes its underperformance alerts. */
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "%s|", area);
    inhibit_ctx_t ic = {why, len};
    return cdof_store_scan_prefix(txn, hub->db_inhibit, prefix, (size_t)plen, inhibit_visit, &ic);
}

static const hub_rule_t *rule_named(hub_t *hub, const char *key)
{
    size_t n = strcspn(key, "|");
    for (size_t i = 0; i < hub_rules_count(hub->rules); i++) {
        const hub_rule_t *r = hub_rules_at(hub->rules, i);
        if (strlen(r->name) == n && !memcmp(r->name, key, n))
            return r;
    }
    return NULL;
}

static bool is_underperformance(hub_rule_kind_t k)
{
    return k == HUB_RULE_WORSE_THAN_ENGLAND || k == HUB_RULE_WORSE_THAN_REGION ||
           k == HUB_RULE_WORSE_AND_WORSENING || k == HUB_RULE_WORSENING_TREND;
}

static int severity_of(const finding_t *f, bool firing)
{
    if (!firing)
        return CDOF__V1__SEVERITY__SEVERITY_INFO;
    if (f->rule->severity)
        return f->rule->severity;
    return f->worst ? CDOF__V1__SEVERITY__SEVERITY_CRITICAL : CDOF__V1__SEVERITY__SEVERITY_WARNING;
}

static int settle(hub_t *hub, cdof_store_txn_t *txn, const finding_t *f)
{
    char key[192];
    snprintf(key, sizeof key, "%s|%s|%s", f->rule->name, f->subject, f->key_area);
    state_t st;
    int rc = state_get(hub, txn, key, &st);
    if (rc < 0)
        return rc;
    if (f->periodic && f->period) {
        /* Data for an older period than the one last judged does not change today's state. */
        if (f->period->first_day < st.period_first_day)
            return 0;
        if (f->period->first_day > st.period_first_day) {
            st.streak_before = st.streak;
            st.period_first_day = f->period->first_day;
        }
        st.streak = f->bad ? st.streak_before + 1 : 0;
    } else {
        st.streak = f->bad ? (st.streak ? st.streak : 1) : 0;
    }
    bool firing = f->bad && st.streak >= f->rule->consecutive;
    if (firing == (st.firing != 0))
        return state_put(hub, txn, key, &st);

    change_t *c = new_change(hub);
    if (!c)
        return -ENOMEM;
    const cdof_area_t *region = NULL;
    if (f->area && f->area->region_code)
        region = cdof_ref_area(hub->ref, f->area->region_code);
    snprintf(c->rule, sizeof c->rule, "%s", f->rule->name);
    snprintf(c->metric, sizeof c->metric, "%s", f->metric_id);
    snprintf(c->subject, sizeof c->subject, "%s", f->subject);
    snprintf(c->area, sizeof c->area, "%s", f->area ? f->area->code : CDOF_ENGLAND_CODE);
    snprintf(c->region, sizeof c->region, "%s",
             region                                         ? region->code
             : f->area && f->area->kind == CDOF_AREA_REGION ? f->area->code
                                                            : CDOF_ENGLAND_CODE);
    snprintf(c->team, sizeof c->team, "%s", f->team);
    snprintf(c->dedupe, sizeof c->dedupe, "%s", key);
    snprintf(c->summary, sizeof c->summary, "%s", firing ? f->fire : f->clear);
    if (f->period)
        cdof_wire_period_to_msg(f->period, &c->period);
    Cdof__V1__Alert *a = &c->alert;
    a->state = firing ? CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING
                      : CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED;
    a->severity = (Cdof__V1__Severity)severity_of(f, firing);
    a->value = f->value;
    a->lower = f->lower;
    a->upper = f->upper;
    a->benchmark = f->benchmark;
    a->verdict = (Cdof__V1__Verdict)f->verdict;
    a->confidence = f->confidence;
    a->consecutive = st.streak;
    a->reported = f->reported;
    a->expected = f->expected;
    if (firing) {
        rc = mute_reason(hub, txn, key, c->team, c->region, f->underperformance,
                         f->area ? f->area->code : NULL, c->muted, sizeof c->muted);
    } else {
        a->fired_sequence = st.fired_seq;
        if (!st.notified) /* nobody was told it fired: nobody needs telling it ended */
            snprintf(c->muted, sizeof c->muted, "its firing #%llu was muted",
                     (unsigned long long)st.fired_seq);
    }
    if (rc == 0)
        rc = change_store(hub, txn, c);
    if (rc < 0)
        return rc;
    st.firing = firing;
    if (firing) {
        st.fired_seq = a->sequence;
        st.notified = !c->muted[0];
    }
    /* A firing "data overdue" inhibits the area's underperformance alerts. */
    if (f->rule->kind == HUB_RULE_DATA_OVERDUE && f->area) {
        char ik[224];
        int ilen = snprintf(ik, sizeof ik, "%s|%s", f->area->code, key);
        rc = firing ? cdof_store_put(txn, hub->db_inhibit, ik, (size_t)ilen, "", 0)
                    : cdof_store_del(txn, hub->db_inhibit, ik, (size_t)ilen);
        if (rc == CDOF_ENOTFOUND)
            rc = 0;
        if (rc < 0)
            return rc;
    }
    return state_put(hub, txn, key, &st);
}

/* --- rules on comparisons: run inside the ingest transaction --- */

/* Alerts judge each metric on its own reporting period (months for a monthly metric, pooled
 * years for deaths), so an aggregate of another kind cannot flap an alert judged on months. */
static bool native_kind(const cdof_metric_t *m, cdof_period_kind_t kind)
{
    return hub_period_native(m, kind);
}

static bool same_period(const cdof_period_t *a, const cdof_period_t *b)
{
    return a->kind == b->kind && a->first_day == b->first_day && a->last_day == b->last_day;
}

/* The comparisons of up to PRIOR_PERIODS periods of m's native kind before p, newest first;
 * unbroken counts how many of them run back from p without a gap. */
typedef struct {
    const cdof_metric_t *m;
    const cdof_period_t *p;
    cdof_period_t periods[PRIOR_PERIODS];
    size_t n;
} prior_ctx_t;

static int prior_visit(void *ctx, const cdof_period_t *q)
{
    prior_ctx_t *pc = ctx;
    if (q->kind != pc->p->kind || q->first_day >= pc->p->first_day)
        return 0;
    pc->periods[pc->n++] = *q;
    return pc->n == PRIOR_PERIODS;
}

typedef struct {
    cdof_compare_t *cmp[PRIOR_PERIODS];
    size_t n, unbroken;
} prior_t;

static void prior_free(prior_t *pr)
{
    for (size_t i = 0; i < pr->n; i++)
        cdof_compare_destroy(&pr->cmp[i]);
    pr->n = 0;
}

static int prior_load(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                      const cdof_period_t *p, size_t want, prior_t *pr)
{
    memset(pr, 0, sizeof *pr);
    prior_ctx_t pc = {.m = m, .p = p};
    int rc = hub_periods_scan(hub, txn, m, true, prior_visit, &pc);
    cdof_period_t expect = *p;
    bool gap = false;
    for (size_t i = 0; rc == 0 && i < pc.n && i < want; i++) {
        cdof_period_t prev;
        if (!gap && cdof_period_prev(&expect, &prev) == 0 && same_period(&prev, &pc.periods[i]))
            pr->unbroken++, expect = prev;
        else
            gap = true;
        rc = hub_compare_load(hub, txn, m, &pc.periods[i], &pr->cmp[pr->n]);
        if (rc == 0)
            pr->n++;
    }
    if (rc < 0)
        prior_free(pr);
    return rc;
}

static void comparison_finding(hub_t *hub, finding_t *f, const hub_rule_t *rule,
                               const cdof_metric_t *m, const cdof_period_t *p,
                               const cdof_compare_row_t *r)
{
    memset(f, 0, sizeof *f);
    f->rule = rule;
    f->subject = f->metric_id = m->id;
    f->key_area = r->area->code;
    f->area = r->area;
    f->team = m->team;
    f->period = p;
    f->periodic = true;
    f->underperformance = is_underperformance(rule->kind);
    bool vs_region = rule->kind == HUB_RULE_WORSE_THAN_REGION;
    cdof_verdict_t v = vs_region ? r->vs_region : r->vs_england;
    bool at998 = rule->confidence > 0.99;
    bool worse = at998 ? v == CDOF_VERDICT_WORST : cdof_stats_verdict_is_worse(v);
    const cdof_interval_t *ci = at998 ? &r->ci998 : &r->ci95;
    f->value = r->value;
    f->lower = ci->lower;
    f->upper = ci->upper;
    f->benchmark = vs_region ? r->region_value : r->england_value;
    f->verdict = v;
    f->worst = v == CDOF_VERDICT_WORST;
    f->confidence = at998 ? 99.8 : 95;
    const cdof_area_t *region = cdof_ref_area(hub->ref, r->area->region_code);
    char period[CDOF_PERIOD_TEXT_MAX], val[48], bv[48], lo[48], hi[48];
    cdof_period_format(p, period, sizeof period);
    format_value(m, r->value, val, sizeof val);
    format_value(m, f->benchmark, bv, sizeof bv);
    format_value(m, ci->lower, lo, sizeof lo);
    format_value(m, ci->upper, hi, sizeof hi);
    const char *against = vs_region ? (region ? region->name : "its region") : "England";
    const char *lvl = at998 ? "99.8" : "95";
    cdof_trend_result_t tr;
    bool trend = false;
    switch (rule->kind) {
    case HUB_RULE_WORSE_THAN_ENGLAND:
    case HUB_RULE_WORSE_THAN_REGION:
        f->bad = worse;
        snprintf(f->fire, sizeof f->fire,
                 "%s: %s was %s in %s, worse than %s (%s); %s%% interval "
                 "%s to %s",
                 r->area->name, m->name, val, period, against, bv, lvl, lo, hi);
        snprintf(f->clear, sizeof f->clear, "%s: %s was %s in %s, no longer worse than %s (%s)",
                 r->area->name, m->name, val, period, against, bv);
        break;
    case HUB_RULE_WORSE_AND_WORSENING:
    case HUB_RULE_WORSENING_TREND:
        /* The stored comparison carries the recent trend (cdof_compare_run_opts). */
        tr = r->trend;
        trend = tr.direction != CDOF_TREND_NONE && tr.getting_worse;
        f->bad = trend && (rule->kind == HUB_RULE_WORSENING_TREND || worse);
        snprintf(f->fire, sizeof f->fire,
                 "%s: %s was %s in %s, %sgetting worse over five periods "
                 "(slope %.3g a period)",
                 r->area->name, m->name, val, period,
                 rule->kind == HUB_RULE_WORSE_AND_WORSENING ? "worse than England and " : "",
                 trend ? tr.slope : 0.0);
        snprintf(f->clear, sizeof f->clear, "%s: %s was %s in %s, no longer %sgetting worse",
                 r->area->name, m->name, val, period,
                 rule->kind == HUB_RULE_WORSE_AND_WORSENING ? "worse than England and " : "");
        break;
    default:
        break;
    }
}

/* Data quality: the area's value against its own history by a robust z-score. */
static void quality_finding(hub_t *hub, finding_t *f, const hub_rule_t *rule,
                            const cdof_metric_t *m, const cdof_period_t *p,
                            const cdof_compare_row_t *r, const prior_t *pr)
{
    (void)hub;
    memset(f, 0, sizeof *f);
    f->rule = rule;
    f->subject = f->metric_id = m->id;
    f->key_area = r->area->code;
    f->area = r->area;
    f->team = m->team;
    f->period = p;
    f->periodic = true;
    f->value = r->value;
    f->verdict = CDOF_VERDICT_NOT_COMPARED;
    double hist[PRIOR_PERIODS], scratch[PRIOR_PERIODS];
    size_t n = 0;
    for (size_t i = 0; i < pr->n; i++) {
        const cdof_compare_row_t *o = cdof_compare_find(pr->cmp[i], r->area->code);
        if (o && o->has_value && isfinite(o->value))
            hist[n++] = o->value;
    }
    /* The spread never below the value's own sampling error (its 95% interval's half width over
     * 1.96; for a count without one, Poisson's square root), so that a history that never moved
     * does not turn a change within that error into an outlier. */
    double floor_sd = 0;
    if (r->has_interval && isfinite(r->ci95.lower) && isfinite(r->ci95.upper))
        floor_sd = (r->ci95.upper - r->ci95.lower) / (2 * 1.959964);
    else if (m->unit == CDOF_UNIT_COUNT && r->has_value)
        floor_sd = sqrt(r->value > 1 ? r->value : 1);
    double z = n >= (size_t)rule->history && r->has_value
                   ? cdof_stats_robust_z_floor(r->value, hist, n, scratch, floor_sd)
                   : NAN;
    f->bad = isfinite(z) ? fabs(z) > rule->z : isinf(z);
    f->benchmark = n ? hist[0] : NAN;
    char period[CDOF_PERIOD_TEXT_MAX], val[48];
    cdof_period_format(p, period, sizeof period);
    format_value(m, r->value, val, sizeof val);
    snprintf(f->fire, sizeof f->fire,
             "check data: %s: %s was %s in %s, far from its own last %zu "
             "periods (robust z %.1f)",
             r->area->name, m->name, val, period, n, z);
    snprintf(f->clear, sizeof f->clear, "%s: %s was %s in %s, in line with its own history",
             r->area->name, m->name, val, period);
}

void hub_alerts_begin(hub_t *hub)
{
    hub->npending = 0;
    hub->ncompleted = 0;
}

void hub_alerts_discard(hub_t *hub)
{
    hub->npending = 0;
    hub->ncompleted = 0;
}

static bool rule_on_comparisons(const hub_rule_t *rule, const cdof_metric_t *m)
{
    if (!rule->metric_on[m->index])
        return false;
    switch (rule->kind) {
    case HUB_RULE_WORSE_THAN_ENGLAND:
    case HUB_RULE_WORSE_THAN_REGION:
    case HUB_RULE_WORSE_AND_WORSENING:
    case HUB_RULE_WORSENING_TREND:
        return m->polarity != CDOF_POLARITY_NONE;
    case HUB_RULE_DATA_QUALITY:
        return true;
    default:
        return false;
    }
}

/* Runs the comparison rules for metric m and period p (write txn). */
static int judge_comparisons(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                             const cdof_period_t *p)
{
    size_t want = 0;
    bool any = false;
    for (size_t k = 0; k < hub_rules_count(hub->rules); k++) {
        const hub_rule_t *rule = hub_rules_at(hub->rules, k);
        if (!rule_on_comparisons(rule, m))
            continue;
        any = true;
        if (rule->kind == HUB_RULE_DATA_QUALITY && (size_t)rule->history > want)
            want = (size_t)rule->history;
    }
    if (!any)
        return 0;
    cdof_compare_t *cmp = NULL;
    prior_t pr = {0};
    int rc = hub_compare_load(hub, txn, m, p, &cmp);
    if (rc == 0 && want)
        rc = prior_load(hub, txn, m, p, want < PRIOR_PERIODS ? want : PRIOR_PERIODS, &pr);
    static finding_t f; /* large; the hub is single-threaded */
    const cdof_compare_row_t *eng = cmp ? cdof_compare_find(cmp, CDOF_ENGLAND_CODE) : NULL;
    for (size_t i = 0; rc == 0 && i < cdof_compare_count(cmp); i++) {
        const cdof_compare_row_t *r = cdof_compare_row(cmp, i);
        if (r->area->kind != CDOF_AREA_UTLA)
            continue;
        for (size_t k = 0; rc == 0 && k < hub_rules_count(hub->rules); k++) {
            const hub_rule_t *rule = hub_rules_at(hub->rules, k);
            if (!rule_on_comparisons(rule, m))
                continue;
            if (rule->kind == HUB_RULE_DATA_QUALITY)
                quality_finding(hub, &f, rule, m, p, r, &pr);
            else
                comparison_finding(hub, &f, rule, m, p, r);
            /* Every alert on a comparison says how much of England's data it was judged on. */
            if (eng && eng->expected) {
                f.reported = eng->reported;
                f.expected = eng->expected;
                size_t len = strlen(f.fire);
                snprintf(f.fire + len, sizeof f.fire - len, " [%s: %u of %u areas]",
                         eng->submitted ? "England submitted; areas" : "England from",
                         eng->reported, eng->expected);
                len = strlen(f.clear);
                snprintf(f.clear + len, sizeof f.clear - len, " [%u of %u areas]", eng->reported,
                         eng->expected);
            }
            rc = settle(hub, txn, &f);
        }
    }
    prior_free(&pr);
    cdof_compare_destroy(&cmp);
    return rc;
}

/* --- settling: comparisons wait until a period's data has stopped arriving --- */

/* A period's rows come in several batches (agents send at their own pace; one drop spans group
 * commits). Judged at each batch, a benchmark built from part of the areas flaps alerts on and
 * off. So ingest only marks the metric and period, in the same transaction as the data (a crash
 * loses no evaluation), and the tick judges it once nothing new has come for cfg.settle_ms, or
 * HUB_SETTLE_MAX_MS after the first mark while data keeps trickling in. Keys order periods
 * chronologically within a metric so that they are judged oldest first. */
#define SETTLE_KEY_MAX (CDOF_WIRE_MAX_ID + 1 + HUB_PERIOD_KEY_LEN)

typedef struct {
    int64_t first_ms, last_ms; /* first and latest mark */
    int64_t flags;             /* MARK_*; marks of 16 bytes (older hubs) have none: MARK_REJUDGE */
} marks_t;
/* The period's own rows were stored at its completion (and judged): what depends on them is
 * refreshed for every area. */
#define MARK_REFRESH 1
/* New data for a complete or closed period: it is judged again. */
#define MARK_REJUDGE 2
#define MARKS_V1_LEN 16

/* Removes the mark of (m, p), if any: its comparisons and alerts were just brought up to date. */
static int unmark(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, const cdof_period_t *p)
{
    if (strlen(m->id) > CDOF_WIRE_MAX_ID)
        return CDOF_EINVALID;
    uint8_t key[SETTLE_KEY_MAX];
    size_t klen = hub_period_key(m, p, key);
    int rc = cdof_store_del(txn, hub->db_settle, key, klen);
    return rc == CDOF_ENOTFOUND ? 0 : rc;
}

/* Marks (m, p): its stored comparisons, and what depends on them, are brought up to date by the
 * tick once its rows have stopped coming for cfg.settle_ms, and a complete period is judged
 * again then. */
static int mark(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, const cdof_period_t *p,
                int64_t flags)
{
    if (strlen(m->id) > CDOF_WIRE_MAX_ID)
        return CDOF_EINVALID; /* the catalogue keeps ids within it; never silently skipped */
    uint8_t key[SETTLE_KEY_MAX];
    size_t klen = hub_period_key(m, p, key);
    marks_t mk = {0, 0, 0};
    cdof_bytes_t v;
    int rc = cdof_store_get(txn, hub->db_settle, key, klen, &v);
    if (rc == 0 && (v.len == sizeof mk || v.len == MARKS_V1_LEN)) {
        memcpy(&mk, v.data, v.len);
        if (v.len == MARKS_V1_LEN)
            mk.flags = MARK_REJUDGE;
    } else if (rc < 0 && rc != CDOF_ENOTFOUND) {
        return rc;
    }
    mk.flags |= flags;
    mk.last_ms = cdof_clock_now_ms();
    if (!mk.first_ms)
        mk.first_ms = mk.last_ms;
    /* Wake the serve loop when this mark is due (an aborted batch only wakes it early). */
    int64_t due = cdof_clock_mono_ms() + hub->cfg.settle_ms;
    if (due < hub->settle_next_ms)
        hub->settle_next_ms = due;
    return cdof_store_put(txn, hub->db_settle, key, klen, &mk, sizeof mk);
}

/* The periods completed in the open transaction are judged now. full: their stored comparisons,
 * and all that depends on them, are updated first (a tick, a person closing a period). Else
 * (ingest, where every millisecond delays the alert) only their own rows are, and a mark leaves
 * what depends on them (later trends, rolling windows, ...) to the tick. */
static int judge_completed(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *done, size_t n,
                           bool full)
{
    int rc = full && n ? hub_results_update(hub, txn, done, n) : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool own = !full;
        if (own)
            rc = hub_results_update_period(hub, txn, done[i].metric, &done[i].period);
        if (rc == 0)
            rc = judge_comparisons(hub, txn, done[i].metric, &done[i].period);
        if (rc == 0)
            rc = own ? mark(hub, txn, done[i].metric, &done[i].period, MARK_REFRESH)
                     : unmark(hub, txn, done[i].metric, &done[i].period);
    }
    return rc;
}

int hub_alerts_evaluate(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p)
{
    hub_period_change_t ch;
    int rc = hub_period_touch(hub, txn, m, p, &ch);
    if (rc < 0)
        return rc;
    if (ch == HUB_PERIOD_COMPLETED) {
        /* The rows that complete a period trigger its judgement, once, in their transaction
         * (hub_alerts_judge_completed, after the batch's touches are all counted). */
        hub_touch_t *d =
            cdof_grow(hub->completed, hub->ncompleted, &hub->cap_completed, 16, sizeof *d);
        if (!d)
            return -ENOMEM;
        hub->completed = d;
        hub->completed[hub->ncompleted++] = (hub_touch_t){.metric = m, .period = *p};
        return 0;
    }
    /* --settle-ms 0: the comparisons were updated with the batch; a revision is judged now. */
    if (hub->cfg.settle_ms <= 0)
        return ch == HUB_PERIOD_REVISED ? judge_comparisons(hub, txn, m, p) : 0;
    /* Every other touched period is marked, native or not: its stored comparisons (provisional
     * while open) are brought up to date by the tick, and a revision of a complete period is
     * judged again there once its rows have stopped coming for cfg.settle_ms. */
    return mark(hub, txn, m, p, ch == HUB_PERIOD_REVISED ? MARK_REJUDGE : 0);
}

int hub_alerts_judge_completed(hub_t *hub, cdof_store_txn_t *txn)
{
    /* With --settle-ms 0 the batch's comparisons were computed before its periods completed:
     * those of the periods completed are computed again, no longer provisional. */
    int rc = judge_completed(hub, txn, hub->completed, hub->ncompleted, hub->cfg.settle_ms <= 0);
    if (rc == 0)
        hub->counters.comparisons += hub->cfg.settle_ms > 0 ? hub->ncompleted : 0;
    hub->ncompleted = 0;
    return rc;
}

typedef struct {
    hub_t *hub;
    int64_t now;
    int64_t next_due; /* wall clock: the earliest mark not yet settled (INT64_MAX: none) */
    struct settled {
        const cdof_metric_t *m;
        cdof_period_t p;
        int64_t flags;
        uint8_t key[SETTLE_KEY_MAX];
        size_t klen;
    } * items;
    size_t n, cap;
} settled_t;

static int settled_visit(void *ctx, const cdof_bytes_t *k, const cdof_bytes_t *v)
{
    settled_t *st = ctx;
    marks_t mk = {0, 0, 0};
    const uint8_t *key = k->data;
    const uint8_t *nul = memchr(key, 0, k->len);
    if ((v->len != sizeof mk && v->len != MARKS_V1_LEN) || !nul ||
        k->len != (size_t)(nul - key) + 10 || k->len > SETTLE_KEY_MAX)
        return CDOF_ECORRUPT;
    memcpy(&mk, v->data, v->len);
    if (v->len == MARKS_V1_LEN)
        mk.flags = MARK_REJUDGE;
    if (st->now - mk.last_ms < st->hub->cfg.settle_ms &&
        st->now - mk.first_ms < HUB_SETTLE_MAX_MS) {
        int64_t due = mk.last_ms + st->hub->cfg.settle_ms;
        if (mk.first_ms + HUB_SETTLE_MAX_MS < due)
            due = mk.first_ms + HUB_SETTLE_MAX_MS;
        if (due < st->next_due)
            st->next_due = due;
        return 0;
    }
    struct settled *items = cdof_grow(st->items, st->n, &st->cap, 16, sizeof *items);
    if (!items)
        return -ENOMEM;
    st->items = items;
    struct settled *it = &st->items[st->n];
    it->m = cdof_ref_metric(st->hub->ref, (const char *)key);
    it->p = hub_period_from_key(nul + 1);
    it->flags = mk.flags;
    memcpy(it->key, key, k->len);
    it->klen = k->len;
    st->n++;
    return 0;
}

/* Settled marks handled in one hub_results_update call: one metric's, oldest first, sharing the
 * rolling windows and trends they revise; small enough that a tick stays near its budget. */
#define SETTLE_CHUNK 8

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

/* For the settled metrics and periods, updates the stored comparisons, then judges
 * them, and clears their marks (write txn), a chunk at a time until HUB_SETTLE_BUDGET_MS of this
 * tick is spent. The rest stay marked for the next tick, which goes on after the last one done
 * (round robin: a busy metric cannot hold back the others). *done counts the metric-periods. */
static int judge_settled(hub_t *hub, cdof_store_txn_t *txn, uint64_t *done)
{
    int64_t start = cdof_clock_mono_ms();
    settled_t st = {.hub = hub, .now = cdof_clock_now_ms(), .next_due = INT64_MAX};
    hub_touch_t chunk[SETTLE_CHUNK];
    int rc = cdof_store_scan(txn, hub->db_settle, NULL, 0, NULL, 0, settled_visit, &st);
    size_t first = 0; /* the first mark after the cursor */
    while (first < st.n && key_cmp(st.items[first].key, st.items[first].klen, hub->settle_cursor,
                                   hub->settle_cursor_len) <= 0)
        first++;
    size_t left = st.n;
    for (size_t i = first % (st.n ? st.n : 1); rc == 0 && left > 0;) {
        int64_t budget = hub->ingest_busy ? HUB_SETTLE_BUSY_MS : HUB_SETTLE_BUDGET_MS;
        if (cdof_clock_mono_ms() - start >= budget && left < st.n)
            break;
        /* A chunk: one metric's marks, in key order (oldest first), not across the wrap. */
        size_t n = 0, k = i;
        const cdof_metric_t *m = st.items[i].m;
        while (n < SETTLE_CHUNK && n < left && st.items[k].m == m) {
            if (m)
                chunk[n] = (hub_touch_t){.metric = m,
                                         .period = st.items[k].p,
                                         .refresh = (st.items[k].flags & MARK_REFRESH) != 0};
            n++;
            k = (k + 1) % st.n;
            if (k == 0)
                break;
        }
        /* A metric since removed from the catalogue is dropped. */
        if (m)
            rc = hub_results_update(hub, txn, chunk, n);
        for (size_t c = 0; rc == 0 && c < n; c++) {
            const struct settled *it = &st.items[(i + c) % st.n];
            /* Alerts judge only complete periods, here those revised since they were judged.
             * An open period's comparisons are stored (provisional) and wait for the rows that
             * complete it, which judge it. */
            bool complete = false;
            if (m && native_kind(m, it->p.kind) && (it->flags & MARK_REJUDGE))
                rc = hub_period_done(hub, txn, m, &it->p, &complete);
            if (rc == 0 && complete)
                rc = judge_comparisons(hub, txn, m, &it->p);
            if (rc == 0)
                rc = cdof_store_del(txn, hub->db_settle, it->key, it->klen);
            hub->alert_writes++;
        }
        if (rc == 0) {
            const struct settled *last = &st.items[(i + n - 1) % st.n];
            memcpy(hub->settle_cursor, last->key, last->klen);
            hub->settle_cursor_len = last->klen;
            *done += m ? n : 0;
        }
        left -= n;
        i = k;
    }
    /* Leftovers: the next turn of the serve loop comes straight back, or, while batches keep
     * coming, after (HUB_SETTLE_SHARE - 1) times this tick's time, so that comparisons take at
     * most a share of the hub's one thread under load; else when a mark is due. */
    int64_t mono = cdof_clock_mono_ms();
    if (left > 0)
        hub->settle_next_ms =
            mono + (hub->ingest_busy ? (HUB_SETTLE_SHARE - 1) * (mono - start) : 0);
    else if (st.next_due == INT64_MAX)
        hub->settle_next_ms = INT64_MAX;
    else
        hub->settle_next_ms = mono + (st.next_due > st.now ? st.next_due - st.now : 0);
    free(st.items);
    return rc;
}

/* --- publishing --- */

static void publish(hub_t *hub, const change_t *c)
{
    uint8_t *buf;
    size_t len;
    if (cdof_wire_pack(&c->alert.base, &buf, &len) < 0)
        return;
    zmq_send(hub->pub, c->topic, strlen(c->topic), ZMQ_SNDMORE);
    zmq_send(hub->pub, buf, len, 0);
    free(buf);
    const char *state = c->alert.state == CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING ? "firing"
                        : c->alert.state == CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED
                            ? "resolved"
                            : "acknowledged";
    cdof_log_info("alert #%llu %s %s%s%s", (unsigned long long)c->alert.sequence, state, c->summary,
                  c->muted[0] ? "; muted: " : "", c->muted);
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

int hub_alerts_init(hub_t *hub)
{
    int rc;
    if ((rc = hub_silences_open(hub)) < 0 ||
        (rc = cdof_store_db(hub->store, "alert_inhibit", &hub->db_inhibit)) < 0 ||
        (rc = cdof_store_db(hub->store, "alert_settle", &hub->db_settle)) < 0)
        return rc;
    hub->started_ms = cdof_clock_now_ms();
    cdof_store_txn_t *txn;
    if ((rc = cdof_store_begin(hub->store, false, &txn)) < 0)
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

/* --- rules on time: run from the serve loop --- */

typedef struct {
    char id[CDOF_POINTS_AGENT_MAX];
    int64_t last_heard_ms;
} heard_t;

typedef struct {
    heard_t *items;
    size_t n;
} heard_list_t;

static int heard_visit(void *ctx, const cdof_agent_record_t *rec)
{
    heard_list_t *l = ctx;
    if (l->n == MAX_AGENTS)
        return 1;
    snprintf(l->items[l->n].id, sizeof l->items[l->n].id, "%s", rec->agent_id);
    l->items[l->n++].last_heard_ms = rec->last_heard_ms;
    return 0;
}

static int agent_silent(hub_t *hub, cdof_store_txn_t *txn, const hub_rule_t *rule, int64_t now)
{
    static heard_t items[MAX_AGENTS];
    heard_list_t l = {items, 0};
    int rc = cdof_points_agent_scan(hub->pts, txn, heard_visit, &l);
    static finding_t f;
    /* After a restart the agents reconnect within a few heartbeats: until then an agent not yet
     * heard from by this hub is not judged at all, so that a restart neither resolves an alert
     * still true nor fires one for an agent that was merely waiting for the hub. */
    int64_t grace =
        rule->silent_s * 1000 < HUB_SILENT_GRACE_MS ? rule->silent_s * 1000 : HUB_SILENT_GRACE_MS;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        if (items[i].last_heard_ms < hub->started_ms && now - hub->started_ms < grace)
            continue;
        /* Silence counts from the last time any hub on this store heard the agent, as stored. */
        int64_t since = items[i].last_heard_ms;
        const cdof_area_t *area = cdof_ref_area(hub->ref, items[i].id);
        char heard[32];
        cdof_clock_format(items[i].last_heard_ms, heard, sizeof heard);
        memset(&f, 0, sizeof f);
        f.rule = rule;
        f.subject = items[i].id;
        f.key_area = area ? area->code : CDOF_ENGLAND_CODE;
        f.area = area;
        f.team = rule->team;
        f.metric_id = "";
        f.bad = now - since > rule->silent_s * 1000;
        f.value = (double)(now - items[i].last_heard_ms) / 1000.0;
        f.benchmark = (double)rule->silent_s;
        snprintf(f.fire, sizeof f.fire,
                 "agent %.64s silent: nothing heard since %s (more than %ld s)", items[i].id, heard,
                 rule->silent_s);
        snprintf(f.clear, sizeof f.clear, "agent %.64s heard from again", items[i].id);
        rc = settle(hub, txn, &f);
    }
    return rc;
}

/* The period after p, of the same kind. */
static void period_next(const cdof_period_t *p, cdof_period_t *out)
{
    *out = *p;
    int months = p->kind == CDOF_PERIOD_MONTH ? 1 : p->kind == CDOF_PERIOD_QUARTER ? 3 : 12;
    if (p->kind == CDOF_PERIOD_POOLED_YEARS) {
        out->first_day = hub_rules_add_months(p->first_day, 12);
        out->last_day = hub_rules_add_months(p->last_day + 1, 12) - 1;
    } else {
        out->first_day = p->last_day + 1;
        out->last_day = hub_rules_add_months(out->first_day, months) - 1;
    }
}

typedef struct {
    hub_t *hub;
    const cdof_period_t *p;
    cdof_period_t *latest; /* by area index; kind 0: none yet */
    size_t left;
} latest_ctx_t;

static int latest_visit(void *ctx, const char *area_code, const cdof_point_t *pt)
{
    (void)pt;
    latest_ctx_t *lc = ctx;
    const cdof_area_t *a = cdof_ref_area(lc->hub->ref, area_code);
    if (a && a->kind == CDOF_AREA_UTLA && !lc->latest[a->index].kind) {
        lc->latest[a->index] = *lc->p;
        lc->left--;
    }
    return 0;
}

typedef struct {
    cdof_period_t periods[OVERDUE_PERIODS];
    size_t n;
    const cdof_metric_t *m;
} recent_t;

static int recent_visit(void *ctx, const cdof_period_t *p)
{
    recent_t *r = ctx;
    if (!native_kind(r->m, p->kind))
        return 0;
    r->periods[r->n++] = *p;
    return r->n == OVERDUE_PERIODS;
}

/* Data overdue: for every area that has reported m, the period after its latest is expected
 * within rule->days of that period's end. */
static int data_overdue(hub_t *hub, cdof_store_txn_t *txn, const hub_rule_t *rule,
                        const cdof_metric_t *m, int32_t today)
{
    size_t na = cdof_ref_area_count(hub->ref);
    cdof_period_t *latest = calloc(na, sizeof *latest);
    if (!latest)
        return -ENOMEM;
    recent_t rp = {.m = m};
    int rc = hub_periods_scan(hub, txn, m, true, recent_visit, &rp);
    latest_ctx_t lc = {hub, NULL, latest, na};
    for (size_t i = 0; rc == 0 && i < rp.n && lc.left; i++) {
        lc.p = &rp.periods[i];
        rc = cdof_points_scan(hub->pts, txn, m->id, lc.p, latest_visit, &lc);
        if (rc == CDOF_ENOTFOUND)
            rc = 0;
    }
    static finding_t f;
    for (size_t i = 0; rc == 0 && i < na; i++) {
        if (!latest[i].kind)
            continue;
        const cdof_area_t *a = cdof_ref_area_at(hub->ref, i);
        cdof_period_t next;
        period_next(&latest[i], &next);
        int32_t due = next.last_day + (int32_t)rule->days;
        char ptext[CDOF_PERIOD_TEXT_MAX], dtext[16];
        cdof_period_format(&next, ptext, sizeof ptext);
        cdof_date_format(due, dtext, sizeof dtext);
        memset(&f, 0, sizeof f);
        f.rule = rule;
        f.subject = f.metric_id = m->id;
        f.key_area = a->code;
        f.area = a;
        f.team = m->team;
        f.period = &next;
        f.bad = today > due;
        f.value = today - due;
        snprintf(f.fire, sizeof f.fire, "%s: %s for %s not received; it was due by %s", a->name,
                 m->name, ptext, dtext);
        snprintf(f.clear, sizeof f.clear, "%s: %s received up to %s", a->name, m->name, ptext);
        if (!f.bad) {
            /* The clear notice names the latest period received. */
            cdof_period_format(&latest[i], ptext, sizeof ptext);
            snprintf(f.clear, sizeof f.clear, "%s: %s received up to %s", a->name, m->name, ptext);
            f.period = &latest[i];
        }
        rc = settle(hub, txn, &f);
    }
    free(latest);
    return rc;
}

typedef struct {
    int32_t latest;
} done_ctx_t;

static int done_visit(void *ctx, const cdof_bytes_t *k, const cdof_bytes_t *v)
{
    (void)v;
    done_ctx_t *dc = ctx;
    hub_milestone_key_t mk;
    int rc = hub_milestone_from_key(k->data, k->len, &mk);
    if (rc == 0 && mk.day > dc->latest)
        dc->latest = mk.day;
    return rc;
}

/* Whether a rule's area list selects the partnership `area` (a configured partnership: any of
 * its members; an area on its own: itself). A name that is neither has no areas: only a rule
 * without an area list selects it. */
static bool owner_selected(hub_t *hub, const hub_rule_t *rule, const char *name,
                           const cdof_area_t **area)
{
    const cdof_area_t *a = hub_results_area(hub, name);
    *area = a;
    if (!rule->area_on)
        return true;
    if (a && a->kind == CDOF_AREA_PARTNERSHIP) {
        for (size_t k = 0; k < hub_results_partnership_count(hub); k++) {
            const cdof_partnership_t *pt = hub_results_partnership_at(hub, k);
            if (strcmp(pt->area.code, name) != 0)
                continue;
            for (size_t j = 0; j < pt->nmembers; j++) {
                if (rule->area_on[pt->members[j]->index])
                    return true;
            }
        }
        return false;
    }
    return a && a->kind == CDOF_AREA_UTLA && rule->area_on[a->index];
}

/* Milestones are stored as partnership\0milestone\0date (hub_ingest.c). The partnerships are
 * those compliance lists (hub_milestone_owers). */
static int milestone_overdue(hub_t *hub, cdof_store_txn_t *txn, const hub_rule_t *rule,
                             int32_t today)
{
    static finding_t f;
    char **names = NULL;
    size_t nnames = 0;
    int rc = hub_milestone_owers(hub, txn, &names, &nnames);
    for (size_t pi = 0; rc == 0 && pi < nnames; pi++) {
        const char *name = names[pi];
        const cdof_area_t *area;
        if (!owner_selected(hub, rule, name, &area))
            continue;
        /* "partnership NAME (Area name)" when the partnership is an area on its own. */
        char who[2 * CDOF_WIRE_MAX_ID + 32];
        if (area && area->kind != CDOF_AREA_PARTNERSHIP)
            snprintf(who, sizeof who, "partnership %s (%s)", name, area->name);
        else
            snprintf(who, sizeof who, "partnership %s", name);
        for (size_t mi = 0; rc == 0 && mi < cdof_ref_milestone_count(hub->ref); mi++) {
            const cdof_milestone_t *ms = cdof_ref_milestone_at(hub->ref, mi);
            if (!rule->milestone_on[mi])
                continue;
            int32_t due = 0, cycle_start = 0;
            bool passed = hub_rules_milestone_due(ms, today, &due, &cycle_start);
            done_ctx_t dc = {INT32_MIN};
            uint8_t prefix[HUB_MILESTONE_KEY_MAX];
            size_t plen = hub_milestone_key(name, ms->id, 0, false, prefix);
            if (!plen)
                continue;
            rc = cdof_store_scan_prefix(txn, hub->db_milestones, prefix, plen, done_visit, &dc);
            if (rc < 0)
                break;
            char dtext[16];
            cdof_date_format(passed ? due : ms->deadline, dtext, sizeof dtext);
            memset(&f, 0, sizeof f);
            f.rule = rule;
            f.subject = ms->id;
            f.key_area = name;
            f.area = area; /* routed to its region; NULL (England) when it has none */
            f.team = rule->team;
            f.metric_id = "";
            f.bad = passed && dc.latest <= cycle_start;
            f.value = passed ? today - due : 0;
            snprintf(f.fire, sizeof f.fire, "%s: %s was due by %s and is not recorded as done", who,
                     ms->deliverable, dtext);
            snprintf(f.clear, sizeof f.clear, "%s: %s recorded as done", who, ms->deliverable);
            rc = settle(hub, txn, &f);
        }
    }
    hub_milestone_owers_free(names, nnames);
    return rc;
}

typedef struct {
    char (*keys)[192];
    size_t n, cap;
} keys_t;

static int muted_visit(void *ctx, const cdof_bytes_t *k, const cdof_bytes_t *v)
{
    keys_t *ks = ctx;
    state_t st;
    if (v->len != sizeof st || k->len >= sizeof ks->keys[0])
        return 0;
    memcpy(&st, v->data, sizeof st);
    if (!st.firing || st.notified)
        return 0;
    void *p = cdof_grow(ks->keys, ks->n, &ks->cap, 64, sizeof ks->keys[0]);
    if (!p)
        return -ENOMEM;
    ks->keys = p;
    memcpy(ks->keys[ks->n], k->data, k->len);
    ks->keys[ks->n++][k->len] = '\0';
    return 0;
}

/* Alerts that fired muted and still fire are notified once their silence or inhibition ends. */
static int renotify(hub_t *hub, cdof_store_txn_t *txn)
{
    keys_t ks = {0};
    int rc = cdof_store_scan(txn, hub->db_alert_state, NULL, 0, NULL, 0, muted_visit, &ks);
    for (size_t i = 0; rc == 0 && i < ks.n; i++) {
        const char *key = ks.keys[i];
        const hub_rule_t *rule = rule_named(hub, key);
        const char *area = strrchr(key, '|') + 1;
        state_t st;
        if ((rc = state_get(hub, txn, key, &st)) < 0)
            break;
        uint8_t sk[8];
        cdof_store_be64(sk, st.fired_seq);
        cdof_bytes_t v;
        if ((rc = cdof_store_get(txn, hub->db_alerts, sk, sizeof sk, &v)) < 0)
            break;
        char err[128];
        Cdof__V1__Alert *old = cdof_wire_alert_decode(v.data, v.len, err, sizeof err);
        if (!old) {
            rc = CDOF_ECORRUPT;
            break;
        }
        /* A silence's scope is the alert's team and region, which the firing record holds. */
        char why[CDOF_WIRE_MAX_TEXT];
        rc = mute_reason(hub, txn, key, old->team, old->region_code,
                         rule && is_underperformance(rule->kind), area, why, sizeof why);
        if (rc < 0 || why[0]) {
            cdof__v1__alert__free_unpacked(old, NULL);
            continue;
        }
        change_t *c = change_copy(hub, old);
        cdof__v1__alert__free_unpacked(old, NULL);
        if (!c) {
            rc = -ENOMEM;
            break;
        }
        c->alert.fired_sequence = st.fired_seq;
        if ((rc = change_store(hub, txn, c)) < 0)
            break;
        st.fired_seq = c->alert.sequence;
        st.notified = 1;
        rc = state_put(hub, txn, key, &st);
    }
    free(ks.keys);
    return rc;
}

int hub_alerts_tick(hub_t *hub)
{
    int64_t now = cdof_clock_now_ms(), mono = cdof_clock_mono_ms();
    bool fast = mono >= hub->next_fast_ms, slow = mono >= hub->next_slow_ms;
    bool settle = mono >= hub->settle_next_ms;
    if (!fast && !slow && !settle)
        return 0;
    if (fast)
        hub->next_fast_ms = mono + FAST_RULES_MS;
    if (slow)
        hub->next_slow_ms = mono + HUB_SLOW_RULES_MS;
    int rc = 0;
    uint64_t done = 0;
    /* The cursor moves only with a commit: an aborted tick does the same marks again. */
    uint8_t cursor[sizeof hub->settle_cursor];
    size_t cursor_len = hub->settle_cursor_len;
    memcpy(cursor, hub->settle_cursor, cursor_len);
    for (int attempt = 0; attempt < 3; attempt++) {
        cdof_store_txn_t *txn = NULL;
        hub_alerts_begin(hub);
        hub->alert_writes = 0;
        done = 0;
        memcpy(hub->settle_cursor, cursor, cursor_len);
        hub->settle_cursor_len = cursor_len;
        int32_t today = cdof_clock_today();
        rc = cdof_store_begin(hub->store, true, &txn);
        /* Marks are also scanned every second: the wall clock may move apart from mono. */
        if (rc == 0 && (settle || fast))
            rc = judge_settled(hub, txn, &done);
        /* A turn only for settled marks runs no timed rule. */
        for (size_t k = 0; rc == 0 && (fast || slow) && k < hub_rules_count(hub->rules); k++) {
            const hub_rule_t *rule = hub_rules_at(hub->rules, k);
            if (rule->kind == HUB_RULE_AGENT_SILENT) {
                rc = agent_silent(hub, txn, rule, now);
            } else if (slow && rule->kind == HUB_RULE_MILESTONE_OVERDUE) {
                rc = milestone_overdue(hub, txn, rule, today);
            } else if (slow && rule->kind == HUB_RULE_DATA_OVERDUE) {
                for (size_t i = 0; rc == 0 && i < cdof_ref_metric_count(hub->ref); i++) {
                    const cdof_metric_t *m = cdof_ref_metric_at(hub->ref, i);
                    if (rule->metric_on[i])
                        rc = data_overdue(hub, txn, rule, m, today);
                }
            }
        }
        if (rc == 0 && slow) {
            /* Open periods past their deadline at or above their threshold complete now. */
            hub_touch_t *due = NULL;
            size_t ndue = 0;
            rc = hub_period_deadlines(hub, txn, &due, &ndue);
            if (rc == 0 && ndue) {
                rc = judge_completed(hub, txn, due, ndue, true);
                hub->alert_writes++;
                done += ndue;
            }
            free(due);
        }
        if (rc == 0 && slow)
            rc = renotify(hub, txn);
        if (rc == 0 && hub->alert_writes)
            rc = cdof_store_commit(&txn);
        else
            cdof_store_abort(&txn);
        if (rc < 0)
            hub_alerts_discard(hub);
        if (rc != CDOF_EMAPFULL)
            break;
    }
    if (rc == 0) {
        hub->counters.comparisons += done;
        hub_alerts_publish(hub);
    } else {
        memcpy(hub->settle_cursor, cursor, cursor_len);
        hub->settle_cursor_len = cursor_len;
        hub->settle_next_ms = mono + FAST_RULES_MS; /* a failing store: not in a tight loop */
    }
    return rc;
}

int hub_alerts_wait_ms(const hub_t *hub)
{
    int64_t mono = cdof_clock_mono_ms();
    int64_t next =
        hub->next_fast_ms < hub->settle_next_ms ? hub->next_fast_ms : hub->settle_next_ms;
    if (next <= mono)
        return 0;
    return next - mono > FAST_RULES_MS ? FAST_RULES_MS : (int)(next - mono);
}

/* --- acknowledgements, silences and closing periods, from the query endpoint --- */

int hub_alerts_close(hub_t *hub, const hub_party_t *party, const Cdof__V1__PeriodClose *close,
                     Cdof__V1__PeriodStatus **out, char *err, size_t errlen)
{
    *out = NULL;
    const cdof_metric_t *m = close->metric_id ? cdof_ref_metric(hub->ref, close->metric_id) : NULL;
    cdof_period_t p;
    if (!m) {
        snprintf(err, errlen, "metric_id '%.64s' is not in the catalogue",
                 close->metric_id ? close->metric_id : "");
        return CDOF_EINVALID;
    }
    if (!close->period || cdof_period_parse(close->period, &p, err, errlen) < 0)
        return CDOF_EINVALID;
    if (!close->by || !*close->by) {
        snprintf(err, errlen, "closing a period needs the name of the person (--by NAME)");
        return CDOF_EINVALID;
    }
    if (!close->reason || !*close->reason) {
        snprintf(err, errlen, "closing a period needs a reason (--reason TEXT)");
        return CDOF_EINVALID;
    }
    /* Closing judges every area's alerts: a key acting for the metric's team in one region may
     * not (hub_party_covers with no region holds only for a key without one). */
    if (!hub_party_covers(party, m->team, NULL)) {
        snprintf(err, errlen,
                 "key '%s' may not close %s's periods: that takes a key acting for team %s in "
                 "every region (or jcdu)",
                 party->id, m->id, m->team);
        return -EACCES;
    }
    int rc = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        cdof_store_txn_t *txn = NULL;
        hub_alerts_begin(hub);
        hub_touch_t t = {.metric = m, .period = p};
        rc = cdof_store_begin(hub->store, true, &txn);
        if (rc == 0)
            rc = hub_period_close(hub, txn, m, &p, close->by, party ? party->id : "", close->reason,
                                  err, errlen);
        if (rc == 0)
            rc = judge_completed(hub, txn, &t, 1, true);
        if (rc == 0)
            rc = cdof_store_commit(&txn);
        cdof_store_abort(&txn);
        if (rc < 0)
            hub_alerts_discard(hub);
        if (rc != CDOF_EMAPFULL)
            break;
    }
    if (rc < 0)
        return rc;
    hub->counters.comparisons++;
    hub_alerts_publish(hub);
    cdof_store_txn_t *txn = NULL;
    if ((rc = cdof_store_begin(hub->store, false, &txn)) == 0)
        rc = hub_period_status(hub, txn, m, &p, true, out);
    cdof_store_abort(&txn);
    return rc;
}

int hub_alerts_ack(hub_t *hub, const hub_party_t *party, const Cdof__V1__AlertAck *ack,
                   Cdof__V1__Alert **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!ack->by || !*ack->by) {
        snprintf(err, errlen, "an acknowledgement needs the name of the person (--by NAME)");
        return CDOF_EINVALID;
    }
    cdof_store_txn_t *txn = NULL;
    Cdof__V1__Alert *old = NULL;
    hub_alerts_begin(hub);
    int rc = cdof_store_begin(hub->store, true, &txn);
    if (rc < 0)
        return rc;
    uint8_t sk[8];
    cdof_store_be64(sk, ack->sequence);
    cdof_bytes_t v;
    if ((rc = cdof_store_get(txn, hub->db_alerts, sk, sizeof sk, &v)) < 0) {
        if (rc == CDOF_ENOTFOUND)
            snprintf(err, errlen, "there is no alert #%llu", (unsigned long long)ack->sequence);
        goto fail;
    }
    if (!(old = cdof_wire_alert_decode(v.data, v.len, err, errlen))) {
        rc = CDOF_ECORRUPT;
        goto fail;
    }
    if (!hub_party_covers(party, old->team, old->region_code)) {
        snprintf(err, errlen, "key '%s' may not acknowledge alert #%llu (team %s, region %s): %s",
                 party->id, (unsigned long long)ack->sequence, old->team, old->region_code,
                 party->may_act ? "outside its team and region" : "it may only read");
        rc = -EACCES;
        goto fail;
    }
    state_t st;
    if ((rc = state_get(hub, txn, old->dedupe_key, &st)) < 0)
        goto fail;
    if (!st.firing) {
        snprintf(err, errlen, "alert #%llu (%s) is not firing now",
                 (unsigned long long)ack->sequence, old->dedupe_key);
        rc = CDOF_EINVALID;
        goto fail;
    }
    change_t *c = change_copy(hub, old);
    if (!c) {
        rc = -ENOMEM;
        goto fail;
    }
    c->alert.state = CDOF__V1__ALERT_STATE__ALERT_STATE_ACKNOWLEDGED;
    c->alert.fired_sequence = st.fired_seq;
    if (!st.notified) /* acknowledging what nobody was told of tells nobody either */
        snprintf(c->muted, sizeof c->muted, "its firing #%llu is muted",
                 (unsigned long long)st.fired_seq);
    snprintf(c->acked, sizeof c->acked, "%s", ack->by);
    snprintf(c->acked_key, sizeof c->acked_key, "%s", party ? party->id : "");
    char summary[CDOF_WIRE_MAX_TEXT];
    snprintf(summary, sizeof summary, "acknowledged by %s%s%s%s%s: %s", ack->by,
             party ? " via " : "", party ? party->id : "", ack->note && *ack->note ? " - " : "",
             ack->note ? ack->note : "", old->summary);
    snprintf(c->summary, sizeof c->summary, "%s", summary);
    if ((rc = change_store(hub, txn, c)) < 0 || (rc = cdof_store_commit(&txn)) < 0)
        goto fail;
    uint8_t *buf;
    size_t len;
    if (cdof_wire_pack(&c->alert.base, &buf, &len) == 0) {
        *out = cdof__v1__alert__unpack(NULL, len, buf);
        free(buf);
    }
    hub_alerts_publish(hub);
    cdof__v1__alert__free_unpacked(old, NULL);
    return *out ? 0 : -ENOMEM;
fail:
    hub_alerts_discard(hub);
    cdof_store_abort(&txn);
    if (old)
        cdof__v1__alert__free_unpacked(old, NULL);
    return rc;
}
