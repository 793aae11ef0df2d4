/* Findings of the alert rules (hub_findings.h): what each rule sees in the stored comparisons,
 * the agents' records, the period index and the milestones, with the wording of the alert it
 * would raise or clear. Nothing here writes. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_compare.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "cdof_partnerships.h"
#include "hub.h"
#include "hub_compare.h"
#include "hub_db.h"
#include "hub_findings.h"
#include "hub_periods.h"
#include "hub_results.h"

/* How long after its start the hub waits for an agent to reconnect before judging its silence. */
#define HUB_SILENT_GRACE_MS 30000
#define PRIOR_PERIODS       24 /* periods of history a trend or data-quality rule reads at most */
#define OVERDUE_PERIODS     36 /* periods scanned back for each area's latest */
#define MAX_AGENTS          4096

int hub_findings_add(hub_findings_t *list, const hub_rule_t *rule, hub_finding_t **out)
{
    hub_finding_t *p = cdof_grow(list->items, list->n, &list->cap, 64, sizeof *p);
    if (!p)
        return -ENOMEM;
    list->items = p;
    hub_finding_t *f = &list->items[list->n++];
    /* The texts are written whole by every rule: clearing them too would write a kilobyte more
     * per finding, hundreds per judged period. */
    memset(f, 0, offsetof(hub_finding_t, fire));
    f->fire[0] = f->clear[0] = '\0';
    f->rule = rule;
    f->metric_id = "";
    f->verdict = CDOF_VERDICT_NOT_COMPARED;
    *out = f;
    return 0;
}

void hub_findings_free(hub_findings_t *list)
{
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* src into dst[size], cut to fit. */
static void put_text(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
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

static bool same_period(const cdof_period_t *a, const cdof_period_t *b)
{
    return a->kind == b->kind && a->first_day == b->first_day && a->last_day == b->last_day;
}

/* --- rules on comparisons --- */

/* The comparisons of up to PRIOR_PERIODS periods of m's kind before p, newest first; unbroken
 * counts how many of them run back from p without a gap. */
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
    cdof_period_t *all = NULL, periods[PRIOR_PERIODS];
    size_t nall = 0, np = 0;
    int rc = hub_periods_list(hub, txn, m, &all, &nall);
    for (size_t i = nall; i-- > 0 && np < PRIOR_PERIODS;) { /* newest first */
        if (all[i].kind == p->kind && all[i].first_day < p->first_day)
            periods[np++] = all[i];
    }
    free(all);
    cdof_period_t expect = *p;
    bool gap = false;
    for (size_t i = 0; rc == 0 && i < np && i < want; i++) {
        cdof_period_t prev;
        if (!gap && cdof_period_prev(&expect, &prev) == 0 && same_period(&prev, &periods[i]))
            pr->unbroken++, expect = prev;
        else
            gap = true;
        rc = hub_compare_load(hub, txn, m, &periods[i], &pr->cmp[pr->n]);
        if (rc == 0)
            pr->n++;
    }
    if (rc < 0)
        prior_free(pr);
    return rc;
}

/* Fills the parts every finding on a comparison row shares. */
static void row_finding(hub_finding_t *f, const cdof_metric_t *m, const cdof_period_t *p,
                        const cdof_compare_row_t *r)
{
    snprintf(f->subject, sizeof f->subject, "%s", m->id);
    snprintf(f->key_area, sizeof f->key_area, "%s", r->area->code);
    f->metric_id = m->id;
    f->area = r->area;
    f->team = m->team;
    f->has_period = true;
    f->period = *p;
    f->periodic = true;
    f->value = r->fig.value;
}

static void comparison_finding(hub_t *hub, hub_finding_t *f, const cdof_metric_t *m,
                               const cdof_period_t *p, const cdof_compare_row_t *r)
{
    const hub_rule_t *rule = f->rule;
    row_finding(f, m, p, r);
    f->underperformance = hub_rules_underperformance(rule->kind);
    bool vs_region = rule->kind == HUB_RULE_WORSE_THAN_REGION;
    cdof_verdict_t v = vs_region ? r->vs_region : r->vs_england;
    bool at998 = rule->confidence > 0.99;
    bool worse = at998 ? v == CDOF_VERDICT_WORST : cdof_stats_verdict_is_worse(v);
    const cdof_interval_t *ci = at998 ? &r->ci998 : &r->ci95;
    f->lower = ci->lower;
    f->upper = ci->upper;
    f->benchmark = vs_region ? r->region_value : r->england_value;
    f->verdict = v;
    f->worst = v == CDOF_VERDICT_WORST;
    f->confidence = at998 ? 99.8 : 95;
    const cdof_area_t *region = cdof_ref_area(hub->ref, r->area->region_code);
    char period[CDOF_PERIOD_TEXT_MAX], val[48], bv[48], lo[48], hi[48];
    cdof_period_format(p, period, sizeof period);
    format_value(m, r->fig.value, val, sizeof val);
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
static void quality_finding(hub_finding_t *f, const cdof_metric_t *m, const cdof_period_t *p,
                            const cdof_compare_row_t *r, const prior_t *pr)
{
    const hub_rule_t *rule = f->rule;
    row_finding(f, m, p, r);
    double hist[PRIOR_PERIODS], scratch[PRIOR_PERIODS];
    size_t n = 0;
    for (size_t i = 0; i < pr->n; i++) {
        const cdof_compare_row_t *o = cdof_compare_find(pr->cmp[i], r->area->code);
        if (o && o->fig.has_value && isfinite(o->fig.value))
            hist[n++] = o->fig.value;
    }
    /* The spread never below the value's own sampling error (its 95% interval's half width over
     * 1.96; for a count without one, Poisson's square root), so that a history that never moved
     * does not turn a change within that error into an outlier. */
    double floor_sd = 0;
    if (r->has_interval && isfinite(r->ci95.lower) && isfinite(r->ci95.upper))
        floor_sd = (r->ci95.upper - r->ci95.lower) / (2 * 1.959964);
    else if (m->unit == CDOF_UNIT_COUNT && r->fig.has_value)
        floor_sd = sqrt(r->fig.value > 1 ? r->fig.value : 1);
    double z = n >= (size_t)rule->history && r->fig.has_value
                   ? cdof_stats_robust_z_floor(r->fig.value, hist, n, scratch, floor_sd)
                   : NAN;
    f->bad = isfinite(z) ? fabs(z) > rule->z : isinf(z);
    f->benchmark = n ? hist[0] : NAN;
    char period[CDOF_PERIOD_TEXT_MAX], val[48];
    cdof_period_format(p, period, sizeof period);
    format_value(m, r->fig.value, val, sizeof val);
    snprintf(f->fire, sizeof f->fire,
             "check data: %s: %s was %s in %s, far from its own last %zu "
             "periods (robust z %.1f)",
             r->area->name, m->name, val, period, n, z);
    snprintf(f->clear, sizeof f->clear, "%s: %s was %s in %s, in line with its own history",
             r->area->name, m->name, val, period);
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

int hub_findings_comparisons(hub_t *hub, cdof_store_txn_t *txn, const hub_rules_t *rules,
                             const cdof_metric_t *m, const cdof_period_t *p, hub_findings_t *out)
{
    size_t want = 0;
    bool any = false;
    for (size_t k = 0; k < hub_rules_count(rules); k++) {
        const hub_rule_t *rule = hub_rules_at(rules, k);
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
    const cdof_compare_row_t *eng = cmp ? cdof_compare_find(cmp, CDOF_ENGLAND_CODE) : NULL;
    for (size_t i = 0; rc == 0 && i < cdof_compare_count(cmp); i++) {
        const cdof_compare_row_t *r = cdof_compare_row(cmp, i);
        if (r->area->kind != CDOF_AREA_UTLA)
            continue;
        for (size_t k = 0; rc == 0 && k < hub_rules_count(rules); k++) {
            const hub_rule_t *rule = hub_rules_at(rules, k);
            hub_finding_t *f;
            if (!rule_on_comparisons(rule, m) || (rc = hub_findings_add(out, rule, &f)) < 0)
                continue;
            if (rule->kind == HUB_RULE_DATA_QUALITY)
                quality_finding(f, m, p, r, &pr);
            else
                comparison_finding(hub, f, m, p, r);
            /* Every alert on a comparison says how much of England's data it was judged on. */
            if (eng && eng->expected) {
                f->reported = eng->reported;
                f->expected = eng->expected;
                size_t len = strlen(f->fire);
                snprintf(f->fire + len, sizeof f->fire - len, " [%s: %u of %u areas]",
                         eng->submitted ? "England submitted; areas" : "England from",
                         eng->reported, eng->expected);
                len = strlen(f->clear);
                snprintf(f->clear + len, sizeof f->clear - len, " [%u of %u areas]", eng->reported,
                         eng->expected);
            }
        }
    }
    prior_free(&pr);
    cdof_compare_destroy(&cmp);
    return rc;
}

/* --- rules on time --- */

typedef struct {
    char id[HUB_DB_AGENT_MAX];
    int64_t last_heard_ms;
} heard_t;

/* The first MAX_AGENTS agent records' ids and last-heard times into items; *n says how many. */
static int heard_list(hub_t *hub, cdof_store_txn_t *txn, heard_t *items, size_t *n)
{
    hub_db_agents_cursor_t *c;
    hub_agent_record_t rec;
    *n = 0;
    int rc = hub_db_agents_open(hub->db, txn, &c);
    while (rc == 0 && *n < MAX_AGENTS && (rc = hub_db_agents_next(c, &rec)) > 0) {
        snprintf(items[*n].id, sizeof items[*n].id, "%s", rec.agent_id);
        items[(*n)++].last_heard_ms = rec.last_heard_ms;
        rc = 0;
    }
    hub_db_agents_close(&c);
    return rc < 0 ? rc : 0;
}

int hub_findings_agent_silent(hub_t *hub, cdof_store_txn_t *txn, const hub_rule_t *rule,
                              int64_t now, hub_findings_t *out)
{
    static heard_t items[MAX_AGENTS]; /* large; the hub's rules run on its one thread */
    size_t nitems = 0;
    int rc = heard_list(hub, txn, items, &nitems);
    /* After a restart the agents reconnect within a few heartbeats: until then an agent not yet
     * heard from by this hub is not judged at all, so that a restart neither resolves an alert
     * still true nor fires one for an agent that was merely waiting for the hub. */
    int64_t grace =
        rule->silent_s * 1000 < HUB_SILENT_GRACE_MS ? rule->silent_s * 1000 : HUB_SILENT_GRACE_MS;
    for (size_t i = 0; rc == 0 && i < nitems; i++) {
        if (items[i].last_heard_ms < hub->started_ms && now - hub->started_ms < grace)
            continue;
        /* Silence counts from the last time any hub on this store heard the agent, as stored. */
        int64_t since = items[i].last_heard_ms;
        const cdof_area_t *area = cdof_ref_area(hub->ref, items[i].id);
        char heard[32];
        cdof_clock_format(items[i].last_heard_ms, heard, sizeof heard);
        hub_finding_t *f;
        if ((rc = hub_findings_add(out, rule, &f)) < 0)
            break;
        put_text(f->subject, sizeof f->subject, items[i].id);
        put_text(f->key_area, sizeof f->key_area, area ? area->code : CDOF_ENGLAND_CODE);
        f->area = area;
        f->team = rule->team;
        f->bad = now - since > rule->silent_s * 1000;
        f->value = (double)(now - items[i].last_heard_ms) / 1000.0;
        f->benchmark = (double)rule->silent_s;
        snprintf(f->fire, sizeof f->fire,
                 "agent %.64s silent: nothing heard since %s (more than %ld s)", items[i].id, heard,
                 rule->silent_s);
        snprintf(f->clear, sizeof f->clear, "agent %.64s heard from again", items[i].id);
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

/* Sets latest[area index] to p for every UTLA with a point in p that has no latest period yet
 * (kind 0), counting *left down for each. */
static int latest_mark(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                       const cdof_period_t *p, cdof_period_t *latest, size_t *left)
{
    hub_db_points_cursor_t *c;
    hub_point_t pt;
    const char *code;
    int rc = hub_db_points_open(hub->db, txn, m->id, p, &c);
    while (rc == 0 && (rc = hub_db_points_next(c, &code, &pt)) > 0) {
        const cdof_area_t *a = cdof_ref_area(hub->ref, code);
        if (a && a->kind == CDOF_AREA_UTLA && !latest[a->index].kind) {
            latest[a->index] = *p;
            (*left)--;
        }
        rc = 0;
    }
    hub_db_points_close(&c);
    return rc < 0 ? rc : 0;
}

int hub_findings_data_overdue(hub_t *hub, cdof_store_txn_t *txn, const hub_rule_t *rule,
                              const cdof_metric_t *m, int32_t today, hub_findings_t *out)
{
    size_t na = cdof_ref_area_count(hub->ref);
    cdof_period_t *latest = calloc(na, sizeof *latest);
    if (!latest)
        return -ENOMEM;
    /* The OVERDUE_PERIODS newest periods of the metric's own kinds. */
    cdof_period_t *all = NULL, recent[OVERDUE_PERIODS];
    size_t nall = 0, nrecent = 0, left = na;
    int rc = hub_periods_list(hub, txn, m, &all, &nall);
    for (size_t i = nall; i-- > 0 && nrecent < OVERDUE_PERIODS;) {
        if (hub_period_native(m, all[i].kind))
            recent[nrecent++] = all[i];
    }
    free(all);
    for (size_t i = 0; rc == 0 && i < nrecent && left; i++) {
        rc = latest_mark(hub, txn, m, &recent[i], latest, &left);
        if (rc == CDOF_ENOTFOUND)
            rc = 0;
    }
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
        hub_finding_t *f;
        if ((rc = hub_findings_add(out, rule, &f)) < 0)
            break;
        snprintf(f->subject, sizeof f->subject, "%s", m->id);
        snprintf(f->key_area, sizeof f->key_area, "%s", a->code);
        f->metric_id = m->id;
        f->area = a;
        f->team = m->team;
        f->has_period = true;
        f->period = next;
        f->bad = today > due;
        f->value = today - due;
        snprintf(f->fire, sizeof f->fire, "%s: %s for %s not received; it was due by %s", a->name,
                 m->name, ptext, dtext);
        if (!f->bad) {
            /* The clear notice names the latest period received. */
            cdof_period_format(&latest[i], ptext, sizeof ptext);
            f->period = latest[i];
        }
        snprintf(f->clear, sizeof f->clear, "%s: %s received up to %s", a->name, m->name, ptext);
    }
    free(latest);
    return rc;
}

/* The latest completion day among the milestone events under prefix (one partnership and
 * milestone), INT32_MIN when there is none. */
static int latest_done(cdof_store_txn_t *txn, cdof_store_db_t db, const uint8_t *prefix,
                       size_t plen, int32_t *latest)
{
    cdof_store_cursor_t *c;
    cdof_bytes_t k;
    *latest = INT32_MIN;
    int rc = cdof_store_cursor_open(txn, db, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_prefix(c, prefix, plen, &k, NULL); rc > 0;
         rc = cdof_store_cursor_next(c, &k, NULL)) {
        hub_milestone_key_t mk;
        if ((rc = hub_milestone_from_key(k.data, k.len, &mk)) < 0)
            break;
        if (mk.day > *latest)
            *latest = mk.day;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
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

/* The partnerships are those compliance lists (hub_milestone_owers). */
int hub_findings_milestone_overdue(hub_t *hub, cdof_store_txn_t *txn, const hub_rule_t *rule,
                                   int32_t today, hub_findings_t *out)
{
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
            int32_t done = INT32_MIN;
            uint8_t prefix[HUB_MILESTONE_KEY_MAX];
            size_t plen = hub_milestone_key(name, ms->id, 0, false, prefix);
            if (!plen)
                continue;
            rc = latest_done(txn, hub_db_milestones(hub->db), prefix, plen, &done);
            if (rc < 0)
                break;
            char dtext[16];
            cdof_date_format(passed ? due : ms->deadline, dtext, sizeof dtext);
            hub_finding_t *f;
            if ((rc = hub_findings_add(out, rule, &f)) < 0)
                break;
            snprintf(f->subject, sizeof f->subject, "%s", ms->id);
            snprintf(f->key_area, sizeof f->key_area, "%s", name);
            f->area = area; /* routed to its region; NULL (England) when it has none */
            f->team = rule->team;
            f->bad = passed && done <= cycle_start;
            f->value = passed ? today - due : 0;
            snprintf(f->fire, sizeof f->fire, "%s: %s was due by %s and is not recorded as done",
                     who, ms->deliverable, dtext);
            snprintf(f->clear, sizeof f->clear, "%s: %s recorded as done", who, ms->deliverable);
        }
    }
    hub_milestone_owers_free(names, nnames);
    return rc;
}
