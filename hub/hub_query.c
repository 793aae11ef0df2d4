/* The query endpoint: one QueryRequest in, one QueryResponse out (PROTOCOL.md "Queries"). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cdof_compare.h"
#include "cdof_compliance.h"
#include "cdof_clock.h"
#include "cdof_curve.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "cdof_log.h"
#include "cdof_zmq.h"
#include "cdof_wire.h"
#include "hub.h"
#include "hub_alerts.h"
#include "hub_auth.h"
#include "hub_compare.h"
#include "hub_db.h"
#include "hub_health.h"
#include "hub_keys.h"
#include "hub_periods.h"
#include "hub_query.h"
#include "hub_results.h"
#include "hub_settle.h"
#include "hub_silences.h"
#include "hub_subs.h"

#define MAX_ROWS 10000

typedef struct {
    Cdof__V1__QueryResponse *resp;
    Cdof__V1__ComparisonRow *rows;
    Cdof__V1__ComparisonRow **row_ptrs;
    Cdof__V1__Period *periods;
    Cdof__V1__Alert **alerts;
    Cdof__V1__AgentStatus *agents;
    Cdof__V1__AgentStatus **agent_ptrs;
    char (*agent_ids)[HUB_DB_AGENT_MAX];
    size_t cap;
    Cdof__V1__Silence **silences; /* decoded, freed with the reply */
    size_t nsilences;
    char error[CDOF_WIRE_MAX_TEXT];
    size_t page_size; /* 0: no limit asked */
    uint64_t after;   /* from the page token */
    /* national summary and milestone compliance */
    Cdof__V1__NationalRow *nat;
    Cdof__V1__NationalRow **nat_ptrs;
    char (*nat_periods)[2][CDOF_PERIOD_TEXT_MAX];
    Cdof__V1__MilestoneRow *ms;
    Cdof__V1__MilestoneRow **ms_ptrs;
    char **ms_strings; /* partnership and ref of each row, owned */
    size_t ms_cap;
    char next_token[24];
    Cdof__V1__Health health;          /* the answer to `health` */
    Cdof__V1__PeriodStatus **pstates; /* `coverage` and `close`: hub_period_status_free each */
    size_t npstates, cap_pstates;
    Cdof__V1__Rejection **rejections; /* `rejections`: each and its strings owned */
    size_t nrejections, cap_rejections;
    bool oom; /* a row could not be added: the answer is INTERNAL, never short */
} reply_t;

static int reply_init(reply_t *r, Cdof__V1__QueryResponse *resp)
{
    memset(r, 0, sizeof *r);
    r->resp = resp;
    r->cap = MAX_ROWS;
    return 0;
}

/* The row arrays, made with the first row: most answers (refusals, acks, health, agents) have
 * none, and three arrays of MAX_ROWS cost the serve loop an mmap and munmap each. */
static int reply_rows(reply_t *r)
{
    if (r->rows)
        return 0;
    r->rows = calloc(r->cap, sizeof *r->rows);
    r->row_ptrs = calloc(r->cap, sizeof *r->row_ptrs);
    r->periods = calloc(r->cap, sizeof *r->periods);
    if (!r->rows || !r->row_ptrs || !r->periods) {
        free(r->rows);
        free(r->row_ptrs);
        free(r->periods);
        r->rows = NULL;
        r->row_ptrs = NULL;
        r->periods = NULL;
        r->oom = true;
        return -ENOMEM;
    }
    r->resp->rows = r->row_ptrs;
    return 0;
}

static void reply_free(reply_t *r)
{
    for (size_t i = 0; r->alerts && i < r->resp->n_alerts; i++)
        cdof__v1__alert__free_unpacked(r->alerts[i], NULL);
    free(r->alerts);
    free(r->rows);
    free(r->row_ptrs);
    free(r->periods);
    free(r->agents);
    free(r->agent_ptrs);
    free(r->agent_ids);
    free(r->nat);
    free(r->nat_ptrs);
    free(r->nat_periods);
    for (size_t i = 0; r->ms_strings && i < 2 * r->ms_cap; i++)
        free(r->ms_strings[i]);
    free(r->ms_strings);
    free(r->ms);
    free(r->ms_ptrs);
    for (size_t i = 0; i < r->nsilences; i++)
        cdof__v1__silence__free_unpacked(r->silences[i], NULL);
    for (size_t i = 0; i < r->npstates; i++)
        hub_period_status_free(r->pstates[i]);
    free(r->pstates);
    free(r->silences);
    for (size_t i = 0; i < r->nrejections; i++) {
        free(r->rejections[i]->agent_id);
        free(r->rejections[i]->partnership);
        free(r->rejections[i]->reason);
        free(r->rejections[i]);
    }
    free(r->rejections);
}

static void add_row(reply_t *rp, const cdof_metric_t *m, const cdof_period_t *p,
                    const cdof_compare_row_t *c)
{
    if (rp->resp->n_rows >= rp->cap || reply_rows(rp) < 0)
        return;
    size_t i = rp->resp->n_rows++;
    Cdof__V1__ComparisonRow *row = &rp->rows[i];
    cdof__v1__comparison_row__init(row);
    cdof__v1__period__init(&rp->periods[i]);
    cdof_wire_period_to_msg(p, &rp->periods[i]);
    rp->row_ptrs[i] = row;
    row->metric_id = (char *)m->id;
    row->area_code = (char *)c->area->code;
    row->area_name = (char *)c->area->name;
    row->period = &rp->periods[i];
    row->has_numerator = c->fig.has_numerator;
    row->numerator = c->fig.numerator;
    row->has_denominator = c->fig.has_denominator;
    row->denominator = c->fig.denominator;
    row->has_value = c->fig.has_value;
    row->value = c->fig.value;
    row->has_interval = c->has_interval;
    if (c->has_interval) {
        row->lower_95 = c->ci95.lower;
        row->upper_95 = c->ci95.upper;
        row->lower_99_8 = c->ci998.lower;
        row->upper_99_8 = c->ci998.upper;
    }
    row->vs_england = (Cdof__V1__Verdict)c->vs_england;
    row->vs_region = (Cdof__V1__Verdict)c->vs_region;
    row->quintile = (uint32_t)c->quintile;
    row->england_value = isnan(c->england_value) ? 0 : c->england_value;
    row->region_value = isnan(c->region_value) ? 0 : c->region_value;
    row->received_ms = c->received_ms;
    row->trend = (Cdof__V1__Trend)c->trend.direction;
    row->trend_getting_better = c->trend.getting_better;
    row->trend_getting_worse = c->trend.getting_worse;
    row->worse_and_getting_worse = c->worse_and_getting_worse;
    row->partnership = (char *)(c->partnership ? c->partnership : "");
    row->vs_baseline = (Cdof__V1__Verdict)c->vs_baseline;
    row->baseline_value = c->has_baseline ? c->baseline_value : 0;
    row->vs_trajectory = (Cdof__V1__Verdict)c->vs_trajectory;
    row->trajectory_value = c->has_trajectory ? c->trajectory_value : 0;
    row->reported = c->reported;
    row->expected = c->expected;
    row->provisional = c->provisional;
    row->england_provisional = c->england_provisional;
    row->region_provisional = c->region_provisional;
}

/* Among ps[0..n) (oldest first), the newest period with a stored row for the area (submitted,
 * or an aggregate of what its areas sent) that is not provisional: the latest complete period.
 * Without one, the newest, which the row marks provisional. 1 with *found, 0 when the area has
 * no row in any, or a negative code. */
static int find_latest(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, const char *area,
                       const cdof_period_t *ps, size_t n, cdof_period_t *found)
{
    int have = 0;
    for (size_t i = n; i-- > 0;) {
        cdof_compare_row_t row;
        int rc = hub_results_get(hub, txn, m, &ps[i], HUB_BASIS_REPORTED, area, &row);
        if (rc == CDOF_ENOTFOUND)
            continue;
        if (rc < 0)
            return rc;
        bool provisional =
            row.area->kind == CDOF_AREA_UTLA ? row.england_provisional : row.provisional;
        if (!have || !provisional)
            *found = ps[i];
        have = 1;
        if (!provisional)
            break;
    }
    return have;
}

/* The periods of m for an area or group query: the one asked for (want, when fixed), else every
 * recorded one, oldest first. *ps is want itself or an array the caller frees with free_periods. */
static int query_periods(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, bool fixed,
                         cdof_period_t *want, cdof_period_t **ps, size_t *n)
{
    if (fixed) {
        *ps = want;
        *n = 1;
        return 0;
    }
    return hub_periods_list(hub, txn, m, ps, n);
}

static void free_periods(cdof_period_t *ps, const cdof_period_t *want)
{
    if (ps != want)
        free(ps);
}

/* Stored comparisons: a point read, nothing recomputed. */
static int add_compared(reply_t *rp, hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p, const char *area)
{
    cdof_compare_row_t row;
    int rc = hub_results_get(hub, txn, m, p, HUB_BASIS_REPORTED, area, &row);
    if (rc == 0)
        add_row(rp, m, p, &row);
    return rc == CDOF_ENOTFOUND ? 0 : rc;
}

/* The stored rows of (m, p, basis) into rp: area's (NULL or empty: every UTLA's). */
static int add_stored(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                      const cdof_period_t *p, hub_basis_t basis, const char *area, reply_t *rp)
{
    hub_results_rows_t *c;
    cdof_compare_row_t r;
    int rc = hub_results_rows_open(hub, txn, m, p, basis, &c);
    while (rc == 0 && (rc = hub_results_rows_next(c, &r)) > 0) {
        rc = 0;
        if (area && *area ? strcmp(r.area->code, area) != 0 : r.area->kind != CDOF_AREA_UTLA)
            continue;
        size_t i = rp->resp->n_rows;
        add_row(rp, m, p, &r);
        if (i < rp->resp->n_rows)
            rp->rows[i].rolling_12_months = basis == HUB_BASIS_ROLLING_12M;
    }
    hub_results_rows_close(&c);
    return rc < 0 ? rc : 0;
}

/* --- a partnership of several areas profiled as one --- */

/* Adds the group's row for period p when every member has a figure there: 1 when added, 0 when
 * a member has none, or a negative code. */
static int group_period(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const Cdof__V1__AreaQuery *q, const cdof_period_t *p, reply_t *rp)
{
    cdof_compare_t *cmp = NULL;
    int rc = hub_compare_load(hub, txn, m, p, &cmp);
    if (rc < 0)
        return rc;
    cdof_compare_row_t row;
    rc = cdof_compare_group(cmp, hub->ref, m, (const char *const *)q->members, q->n_members, &row);
    size_t before = rp->resp->n_rows;
    if (rc == 0 && before < rp->cap)
        add_row(rp, m, p, &row);
    if (rc == 0 && rp->resp->n_rows > before) {
        Cdof__V1__ComparisonRow *out = rp->row_ptrs[rp->resp->n_rows - 1];
        out->area_code = out->area_name = q->area_code; /* the partnership's name */
        out->received_ms = 0;
    }
    cdof_compare_destroy(&cmp);
    return rc == 0 ? 1 : rc == CDOF_ENOTFOUND ? 0 : rc;
}

static int q_group(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__AreaQuery *q, reply_t *rp)
{
    for (size_t i = 0; i < q->n_members; i++) {
        const cdof_area_t *a = cdof_ref_area(hub->ref, q->members[i]);
        if (!a || a->kind != CDOF_AREA_UTLA) {
            snprintf(rp->error, sizeof rp->error,
                     "member '%.64s' of '%.64s' is not an upper-tier area code", q->members[i],
                     q->area_code);
            return CDOF_ENOTFOUND;
        }
    }
    cdof_period_t want;
    bool fixed = q->period && *q->period;
    if (fixed && cdof_period_parse(q->period, &want, rp->error, sizeof rp->error) < 0)
        return CDOF_EINVALID;
    for (size_t i = 0; i < cdof_ref_metric_count(hub->ref); i++) {
        const cdof_metric_t *m = cdof_ref_metric_at(hub->ref, i);
        cdof_period_t *ps;
        size_t n;
        int rc = query_periods(hub, txn, m, fixed, &want, &ps, &n);
        /* Newest first: the latest period where every member has a figure. */
        for (size_t j = n; rc == 0 && j-- > 0;)
            rc = group_period(hub, txn, m, q, &ps[j], rp);
        free_periods(ps, &want);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int q_area(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__AreaQuery *q, reply_t *rp)
{
    if (q->n_members)
        return q_group(hub, txn, q, rp);
    if (!hub_results_area(hub, q->area_code)) {
        snprintf(rp->error, sizeof rp->error, "'%s' is not a known area or partnership code",
                 q->area_code);
        return CDOF_ENOTFOUND;
    }
    cdof_period_t want;
    bool fixed = q->period && *q->period;
    if (fixed && cdof_period_parse(q->period, &want, rp->error, sizeof rp->error) < 0)
        return CDOF_EINVALID;
    for (size_t i = 0; i < cdof_ref_metric_count(hub->ref); i++) {
        const cdof_metric_t *m = cdof_ref_metric_at(hub->ref, i);
        cdof_period_t *ps, found;
        size_t n;
        int rc = query_periods(hub, txn, m, fixed, &want, &ps, &n);
        if (rc == 0)
            rc = find_latest(hub, txn, m, q->area_code, ps, n, &found);
        free_periods(ps, &want);
        if (rc > 0)
            rc = add_compared(rp, hub, txn, m, &found, q->area_code);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static const cdof_metric_t *league_metric;
static int league_order(const void *a, const void *b)
{
    const Cdof__V1__ComparisonRow *x = *(Cdof__V1__ComparisonRow *const *)a;
    const Cdof__V1__ComparisonRow *y = *(Cdof__V1__ComparisonRow *const *)b;
    if (x->has_value != y->has_value)
        return x->has_value ? -1 : 1;
    double d = x->value - y->value;
    if (league_metric->polarity == CDOF_POLARITY_HIGH_GOOD)
        d = -d;
    return d < 0 ? -1 : d > 0 ? 1 : strcmp(x->area_code, y->area_code);
}

/* Stored rows of a metric and period, one area's or every UTLA's, sorted best first. */
static int q_table(hub_t *hub, cdof_store_txn_t *txn, const char *metric_id, const char *period,
                   const char *area, hub_basis_t basis, reply_t *rp)
{
    const cdof_metric_t *m = cdof_ref_metric(hub->ref, metric_id);
    if (!m) {
        snprintf(rp->error, sizeof rp->error, "'%s' is not a metric in the catalogue", metric_id);
        return CDOF_ENOTFOUND;
    }
    cdof_period_t p;
    if (cdof_period_parse(period, &p, rp->error, sizeof rp->error) < 0)
        return CDOF_EINVALID;
    if (basis == HUB_BASIS_ROLLING_12M && p.kind != CDOF_PERIOD_MONTH) {
        snprintf(rp->error, sizeof rp->error,
                 "a rolling window is named by its last month (e.g. 2024-06), not '%s'", period);
        return CDOF_EINVALID;
    }
    int rc = add_stored(hub, txn, m, &p, basis, area, rp);
    if (rc < 0)
        return rc;
    league_metric = m;
    if (rp->resp->n_rows)
        qsort(rp->row_ptrs, rp->resp->n_rows, sizeof *rp->row_ptrs, league_order);
    return 0;
}

/* One period of a series: the stored row, or as at a date the value then, without comparisons
 * (those need every area as at then). */
static int series_period(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                         const Cdof__V1__SeriesQuery *q, const cdof_period_t *p, reply_t *rp)
{
    if (!q->as_at_ms)
        return add_compared(rp, hub, txn, m, p, q->area_code);
    hub_point_t pt;
    int rc = hub_db_point_get_as_at(hub->db, txn, m->id, q->area_code, p, q->as_at_ms, &pt);
    if (rc == CDOF_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    cdof_compare_input_t in = hub_compare_input(cdof_ref_area(hub->ref, q->area_code), &pt);
    cdof_compare_t *cmp = cdof_compare_run(hub->ref, m, &in, 1);
    if (!cmp)
        return -ENOMEM;
    const cdof_compare_row_t *row = cdof_compare_find(cmp, q->area_code);
    if (row) {
        cdof_compare_row_t copy = *row;
        copy.vs_england = copy.vs_region = CDOF_VERDICT_NOT_COMPARED;
        copy.england_value = copy.region_value = NAN;
        copy.quintile = 0;
        add_row(rp, m, p, &copy);
    }
    cdof_compare_destroy(&cmp);
    return 0;
}

static int q_series(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__SeriesQuery *q, reply_t *rp)
{
    const cdof_metric_t *m = cdof_ref_metric(hub->ref, q->metric_id);
    if (!m || !hub_results_area(hub, q->area_code)) {
        snprintf(rp->error, sizeof rp->error, "'%s' is not %s", m ? q->area_code : q->metric_id,
                 m ? "a known area code" : "a metric in the catalogue");
        return CDOF_ENOTFOUND;
    }
    cdof_period_t *ps;
    size_t n;
    int rc = hub_periods_list(hub, txn, m, &ps, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = series_period(hub, txn, m, q, &ps[i], rp);
    free(ps);
    return rc;
}

static int q_alerts(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__AlertsQuery *q, reply_t *rp)
{
    size_t limit = q->limit && q->limit < MAX_ROWS ? q->limit : MAX_ROWS;
    if (rp->page_size && rp->page_size < limit)
        limit = rp->page_size;
    rp->alerts = calloc(limit, sizeof *rp->alerts);
    if (!rp->alerts)
        return -ENOMEM;
    rp->resp->alerts = rp->alerts;
    /* A page token carries on after the last alert of the previous page. */
    uint64_t since = rp->after > q->since_sequence ? rp->after : q->since_sequence;
    if (since == UINT64_MAX)
        return 0;
    const char *prefix = q->topic_prefix && *q->topic_prefix ? q->topic_prefix : NULL;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t val;
    int rc;
    for (rc = hub_alerts_seek(hub->alerts, txn, since + 1, &c, NULL, &val);
         rc > 0 && rp->resp->n_alerts < limit; rc = cdof_store_cursor_next(c, NULL, &val)) {
        char err[128], topic[128];
        Cdof__V1__Alert *a = cdof_wire_alert_decode(val.data, val.len, err, sizeof err);
        if (!a) {
            rc = CDOF_ECORRUPT;
            break;
        }
        cdof_wire_alert_topic(a->team, a->region_code, a->area_code, topic, sizeof topic);
        if (prefix && strncmp(topic, prefix, strlen(prefix)) != 0)
            cdof__v1__alert__free_unpacked(a, NULL);
        else
            rp->alerts[rp->resp->n_alerts++] = a;
    }
    cdof_store_cursor_close(&c);
    rc = rc < 0 ? rc : 0;
    size_t n = rp->resp->n_alerts;
    /* Maybe more: the client asks again after the last; but a client's own limit is all it
     * wants, so it gets no further pages. */
    if (rc == 0 && n == limit && n > 0 && !(q->limit && q->limit <= limit))
        snprintf(rp->next_token, sizeof rp->next_token, "%llu",
                 (unsigned long long)rp->alerts[n - 1]->sequence);
    return rc;
}

static int q_agents(hub_t *hub, cdof_store_txn_t *txn, reply_t *rp)
{
    rp->agents = calloc(rp->cap, sizeof *rp->agents);
    rp->agent_ptrs = calloc(rp->cap, sizeof *rp->agent_ptrs);
    rp->agent_ids = calloc(rp->cap, sizeof *rp->agent_ids);
    if (!rp->agents || !rp->agent_ptrs || !rp->agent_ids)
        return -ENOMEM;
    rp->resp->agents = rp->agent_ptrs;
    hub_db_agents_cursor_t *c = NULL;
    hub_agent_record_t rec;
    int rc = hub_db_agents_open(hub->db, txn, &c);
    for (rc = rc < 0 ? rc : hub_db_agents_next(c, &rec); rc > 0 && rp->resp->n_agents < rp->cap;
         rc = hub_db_agents_next(c, &rec)) {
        size_t i = rp->resp->n_agents++;
        Cdof__V1__AgentStatus *s = &rp->agents[i];
        cdof__v1__agent_status__init(s);
        snprintf(rp->agent_ids[i], sizeof rp->agent_ids[i], "%s", rec.agent_id);
        s->agent_id = rp->agent_ids[i];
        s->high_water = rec.high_water;
        s->last_heard_ms = rec.last_heard_ms;
        s->outbox_depth = rec.outbox_depth;
        s->oldest_unacked_ms = rec.oldest_unacked_ms;
        rp->agent_ptrs[i] = s;
    }
    hub_db_agents_close(&c);
    return rc < 0 ? rc : 0;
}

/* --- national summary against the strategy's commitments --- */

typedef struct {
    cdof_period_t latest;
    bool have_latest;
    bool provisional; /* no complete period: latest is the newest incomplete one */
    uint32_t reported, expected;
} nat_latest_t;

/* England's figure for m at p: submitted, else the aggregate of the areas, with its coverage
 * and whether it is provisional (summed from an incomplete period). */
typedef struct {
    bool has, provisional;
    double v;
    uint32_t reported, expected;
} eng_fig_t;

static int england_value(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                         const cdof_period_t *p, eng_fig_t *f)
{
    cdof_compare_t *cmp = NULL;
    int rc = hub_compare_load(hub, txn, m, p, &cmp);
    if (rc < 0)
        return rc;
    const cdof_compare_row_t *row = cdof_compare_find(cmp, CDOF_ENGLAND_CODE);
    f->has = row && row->fig.has_value && isfinite(row->fig.value);
    f->v = f->has ? row->fig.value : 0;
    f->provisional = row && row->provisional;
    f->reported = row ? row->reported : 0;
    f->expected = row ? row->expected : 0;
    cdof_compare_destroy(&cmp);
    return 0;
}

/* Among ps[0..n) (oldest first), newest first: the headline is the latest complete period's;
 * without one, the incomplete one with the most areas (the newest of those), marked provisional:
 * a month that one area has started must not stand for England when an earlier one has
 * fifteen. */
static int nat_find_latest(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                           const cdof_period_t *ps, size_t n, nat_latest_t *nl)
{
    for (size_t i = n; i-- > 0;) {
        eng_fig_t f;
        int rc = england_value(hub, txn, m, &ps[i], &f);
        if (rc < 0)
            return rc;
        if (!f.has || (nl->have_latest && f.provisional && f.reported <= nl->reported))
            continue; /* keep the better incomplete one as the fallback */
        nl->latest = ps[i];
        nl->have_latest = true;
        nl->provisional = f.provisional;
        nl->reported = f.reported;
        nl->expected = f.expected;
        if (!f.provisional)
            break;
    }
    return 0;
}

typedef struct {
    bool have_first;
    cdof_period_t first;
    double first_value, latest_value, total;
} nat_scan_t;

/* Periods of one series: the same kind and, for pooled years, the same number of years (months
 * differ in days; a leap day makes pooled spans differ by one). */
static bool same_shape(const cdof_period_t *a, const cdof_period_t *b)
{
    int32_t la = a->last_day - a->first_day, lb = b->last_day - b->first_day;
    return a->kind == b->kind && (a->kind != CDOF_PERIOD_POOLED_YEARS || abs(la - lb) <= 2);
}

/* The series up to the headline period, oldest first, periods of its kind only (a month and a
 * quarter overlap): the first figure, the latest, and the total since commitment c began. */
static int nat_walk_series(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                           const cdof_commitment_t *c, const cdof_period_t *ps, size_t n,
                           const nat_latest_t *nl, nat_scan_t *ns)
{
    for (size_t i = 0; i < n; i++) {
        const cdof_period_t *p = &ps[i];
        if (!same_shape(p, &nl->latest) || p->first_day > nl->latest.first_day)
            continue;
        eng_fig_t f;
        int rc = england_value(hub, txn, m, p, &f);
        if (rc < 0)
            return rc;
        /* Complete periods only, unless there is none (the headline is provisional then). */
        if (!f.has || (f.provisional && !nl->provisional))
            continue;
        if (!ns->have_first) {
            ns->have_first = true;
            ns->first = *p;
            ns->first_value = f.v;
        }
        if (c && c->kind == CDOF_COMMIT_CUMULATIVE && p->first_day >= c->since_day)
            ns->total += f.v;
        ns->latest_value = f.v;
    }
    return 0;
}

static int q_national(hub_t *hub, cdof_store_txn_t *txn, reply_t *rp)
{
    size_t nm = cdof_ref_metric_count(hub->ref);
    rp->nat = calloc(nm, sizeof *rp->nat);
    rp->nat_ptrs = calloc(nm, sizeof *rp->nat_ptrs);
    rp->nat_periods = calloc(nm, sizeof *rp->nat_periods);
    if (!rp->nat || !rp->nat_ptrs || !rp->nat_periods)
        return -ENOMEM;
    rp->resp->national = rp->nat_ptrs;
    for (size_t i = 0; i < nm; i++) {
        const cdof_metric_t *m = cdof_ref_metric_at(hub->ref, i);
        const cdof_commitment_t *c = cdof_commitments_find(hub->commitments, m->id);
        nat_latest_t nl = {0};
        nat_scan_t ns = {0};
        cdof_period_t *ps;
        size_t n;
        int rc = hub_periods_list(hub, txn, m, &ps, &n);
        if (rc == 0)
            rc = nat_find_latest(hub, txn, m, ps, n, &nl);
        if (rc == 0 && nl.have_latest)
            rc = nat_walk_series(hub, txn, m, c, ps, n, &nl, &ns);
        free(ps);
        if (rc < 0)
            return rc;
        if (!nl.have_latest && !c)
            continue; /* nothing to say about this metric */
        size_t k = rp->resp->n_national++;
        Cdof__V1__NationalRow *row = &rp->nat[k];
        cdof__v1__national_row__init(row);
        rp->nat_ptrs[k] = row;
        row->metric_id = (char *)m->id;
        row->metric_name = (char *)m->name;
        row->headline = m->headline;
        char *base_text = rp->nat_periods[k][0], *latest_text = rp->nat_periods[k][1];
        row->baseline_period = base_text;
        row->latest_period = latest_text;
        if (c && c->has_baseline) {
            row->has_baseline = true;
            row->baseline = c->baseline;
            snprintf(base_text, CDOF_PERIOD_TEXT_MAX, "%s", c->baseline_period);
        } else if (ns.have_first && (!c || c->kind != CDOF_COMMIT_CUMULATIVE)) {
            row->has_baseline = true;
            row->baseline = ns.first_value;
            cdof_period_format(&ns.first, base_text, CDOF_PERIOD_TEXT_MAX);
        }
        if (nl.have_latest) {
            row->latest_reported = nl.reported;
            row->latest_expected = nl.expected;
            row->latest_provisional = nl.provisional;
            row->has_latest = true;
            row->latest = c && c->kind == CDOF_COMMIT_CUMULATIVE ? ns.total : ns.latest_value;
            cdof_period_format(&nl.latest, latest_text, CDOF_PERIOD_TEXT_MAX);
        }
        if (c) {
            row->commitment = (char *)c->commitment;
            row->source = (char *)c->source;
            row->kind = (char *)cdof_commitment_kind_name(c->kind);
            /* The level asked for is known without data, except for a change from a baseline
             * the hub does not hold yet. */
            if (c->has_target && (c->kind != CDOF_COMMIT_CHANGE || row->has_baseline)) {
                row->has_target = true;
                row->target = c->kind == CDOF_COMMIT_CHANGE ? row->baseline + c->target : c->target;
            }
            double target, progress;
            if (row->has_latest &&
                cdof_commitment_progress(c, row->has_baseline ? row->baseline : NAN, row->latest,
                                         &target, &progress)) {
                row->has_progress = true;
                row->progress = progress;
            }
        }
    }
    return 0;
}

/* --- milestone compliance --- */

typedef struct {
    char partnership[CDOF_WIRE_MAX_ID + 1];
    char milestone[CDOF_WIRE_MAX_ID + 1];
    int32_t day;
    char *ref; /* owned */
} ms_event_t;

typedef struct {
    ms_event_t *ev;
    size_t n, cap;
} ms_list_t;

/* Appends the stored event key -> val to l. */
static int ms_add_event(ms_list_t *l, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    hub_milestone_key_t mk;
    if (hub_milestone_from_key(key->data, key->len, &mk) < 0)
        return CDOF_ECORRUPT;
    ms_event_t *ev = cdof_grow(l->ev, l->n, &l->cap, 64, sizeof *ev);
    if (!ev)
        return -ENOMEM;
    l->ev = ev;
    ms_event_t *e = &l->ev[l->n];
    snprintf(e->partnership, sizeof e->partnership, "%s", mk.partnership);
    snprintf(e->milestone, sizeof e->milestone, "%s", mk.milestone);
    e->day = mk.day;
    e->ref = NULL;
    Cdof__V1__MilestoneEvent *me =
        cdof__v1__milestone_event__unpack(NULL, val->len, (const uint8_t *)val->data);
    if (me && me->ref && *me->ref && !(e->ref = strdup(me->ref))) {
        cdof__v1__milestone_event__free_unpacked(me, NULL);
        return -ENOMEM;
    }
    if (me)
        cdof__v1__milestone_event__free_unpacked(me, NULL);
    l->n++;
    return 0;
}

static int ms_add_row(reply_t *rp, const char *partnership, const cdof_milestone_t *m,
                      const cdof_ms_standing_t *st, const char *ref)
{
    if (rp->resp->n_milestones == rp->ms_cap) {
        size_t cap = rp->ms_cap ? 2 * rp->ms_cap : 64;
        if (cap > MAX_ROWS)
            return CDOF_EFULL;
        Cdof__V1__MilestoneRow *ms = realloc(rp->ms, cap * sizeof *ms);
        if (!ms)
            return -ENOMEM;
        rp->ms = ms;
        Cdof__V1__MilestoneRow **ptrs = realloc(rp->ms_ptrs, cap * sizeof *ptrs);
        if (!ptrs)
            return -ENOMEM;
        rp->ms_ptrs = ptrs;
        char **strs = realloc(rp->ms_strings, 2 * cap * sizeof *strs);
        if (!strs)
            return -ENOMEM;
        memset(strs + 2 * rp->ms_cap, 0, 2 * (cap - rp->ms_cap) * sizeof *strs);
        rp->ms_strings = strs;
        rp->ms_cap = cap;
    }
    size_t k = rp->resp->n_milestones;
    char *p = strdup(partnership), *r = strdup(ref ? ref : "");
    rp->ms_strings[2 * k] = p;
    rp->ms_strings[2 * k + 1] = r;
    if (!p || !r)
        return -ENOMEM;
    Cdof__V1__MilestoneRow *row = &rp->ms[k];
    cdof__v1__milestone_row__init(row);
    row->partnership = p;
    row->milestone_id = (char *)m->id;
    row->deliverable = (char *)m->deliverable;
    row->status = (char *)cdof_compliance_status_name(st->status);
    row->due_day = st->due_day;
    row->done_day = st->done_day;
    row->overdue_since = st->overdue_since;
    row->next_due = st->next_due;
    row->ref = r;
    rp->resp->n_milestones++;
    return 0;
}

/* One partnership's events are ev[0..n), sorted by milestone then day (store key order). */
static int ms_assess_partnership(hub_t *hub, reply_t *rp, const char *partnership,
                                 const ms_event_t *ev, size_t n, int32_t as_of)
{
    int32_t days[256];
    for (size_t i = 0; i < cdof_ref_milestone_count(hub->ref); i++) {
        const cdof_milestone_t *m = cdof_ref_milestone_at(hub->ref, i);
        size_t nd = 0;
        const char *ref = NULL;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(ev[j].milestone, m->id) != 0)
                continue;
            if (nd < sizeof days / sizeof days[0])
                days[nd++] = ev[j].day;
            if (ev[j].day <= as_of && ev[j].ref)
                ref = ev[j].ref; /* the latest document published by then */
        }
        cdof_ms_standing_t st = cdof_compliance_assess(m, days, nd, as_of);
        int rc = ms_add_row(rp, partnership, m, &st, ref);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Every partnership hub_milestone_owers lists (configured ones owe everything due even if they
 * never reported), by name; or the one asked for. */
static int q_milestones(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__MilestonesQuery *q,
                        reply_t *rp)
{
    int32_t as_of = q && q->as_of_day ? q->as_of_day : cdof_clock_today();
    const char *only = q && q->partnership && *q->partnership ? q->partnership : NULL;
    ms_list_t l = {0};
    char **owers = NULL;
    size_t nowers = 0;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t key, val;
    int rc = cdof_store_cursor_open(txn, hub_db_milestones(hub->db), &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &key, &val); rc > 0;
         rc = cdof_store_cursor_next(c, &key, &val))
        if ((rc = ms_add_event(&l, &key, &val)) < 0)
            break;
    cdof_store_cursor_close(&c);
    if (rc == 0 && !only)
        rc = hub_milestone_owers(hub, txn, &owers, &nowers);
    /* asked for by name: answered even if it never reported */
    const char *const *names = only ? &only : (const char *const *)owers;
    size_t nnames = only ? 1 : nowers;
    for (size_t k = 0; rc == 0 && k < nnames; k++) {
        /* Its events: one run of the store's key order (partnership first). */
        size_t i = 0, j;
        while (i < l.n && strcmp(l.ev[i].partnership, names[k]) != 0)
            i++;
        for (j = i; j < l.n && !strcmp(l.ev[j].partnership, names[k]);)
            j++;
        rc = ms_assess_partnership(hub, rp, names[k], j > i ? l.ev + i : NULL, j - i, as_of);
    }
    rp->resp->milestones = rp->ms_ptrs;
    for (size_t i = 0; i < rp->resp->n_milestones; i++)
        rp->ms_ptrs[i] = &rp->ms[i];
    for (size_t i = 0; i < l.n; i++)
        free(l.ev[i].ref);
    free(l.ev);
    hub_milestone_owers_free(owers, nowers);
    return rc;
}

/* Paging of row answers: the token is the offset of the page's first row (PROTOCOL.md). */
static void page_slice(reply_t *rp, size_t offset)
{
    Cdof__V1__QueryResponse *r = rp->resp;
    size_t size = rp->page_size ? rp->page_size : MAX_ROWS;
    size_t *counts[] = {&r->n_rows, &r->n_national, &r->n_milestones, &r->n_agents,
                        &r->n_rejections};
    void ***arrays[] = {(void ***)&r->rows, (void ***)&r->national, (void ***)&r->milestones,
                        (void ***)&r->agents, (void ***)&r->rejections};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        size_t n = *counts[i];
        if (!n)
            continue; /* the array may be NULL */
        size_t from = offset < n ? offset : n;
        *arrays[i] += from;
        *counts[i] = n - from < size ? n - from : size;
        if (from + *counts[i] < n)
            snprintf(rp->next_token, sizeof rp->next_token, "%zu", from + *counts[i]);
    }
}

/* --- periods: coverage and state --- */

static int add_period(reply_t *rp, Cdof__V1__PeriodStatus *st)
{
    if (rp->npstates == rp->cap_pstates) {
        size_t cap = rp->cap_pstates ? 2 * rp->cap_pstates : 16;
        Cdof__V1__PeriodStatus **p = realloc(rp->pstates, cap * sizeof *p);
        if (!p) {
            hub_period_status_free(st);
            return -ENOMEM;
        }
        rp->pstates = p;
        rp->cap_pstates = cap;
    }
    rp->pstates[rp->npstates++] = st;
    rp->resp->periods = rp->pstates;
    rp->resp->n_periods = rp->npstates;
    return 0;
}

/* Every native period's state of m, newest first. */
static int coverage_all(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, reply_t *rp)
{
    cdof_period_t *ps;
    size_t n;
    int rc = hub_periods_list(hub, txn, m, &ps, &n);
    for (size_t i = n; rc == 0 && i-- > 0;) {
        if (!hub_period_native(m, ps[i].kind))
            continue;
        Cdof__V1__PeriodStatus *st = NULL;
        rc = hub_period_status(hub, txn, m, &ps[i], false, &st);
        if (rc == 0)
            rc = add_period(rp, st);
        else if (rc == CDOF_ENOTFOUND)
            rc = 0; /* data stored before period states existed: not judged */
    }
    free(ps);
    return rc;
}

/* `coverage METRIC [PERIOD]`: every period's state and England's coverage, newest first; or one
 * period's, with each region and partnership, their missing areas, and its history. */
static int q_coverage(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__CoverageQuery *q,
                      reply_t *rp)
{
    const cdof_metric_t *m = q->metric_id ? cdof_ref_metric(hub->ref, q->metric_id) : NULL;
    if (!m) {
        snprintf(rp->error, sizeof rp->error, "metric_id '%.64s' is not in the catalogue",
                 q->metric_id ? q->metric_id : "");
        return CDOF_EINVALID;
    }
    if (!q->period || !*q->period)
        return coverage_all(hub, txn, m, rp);
    cdof_period_t p;
    if (cdof_period_parse(q->period, &p, rp->error, sizeof rp->error) < 0)
        return CDOF_EINVALID;
    Cdof__V1__PeriodStatus *st = NULL;
    int rc = hub_period_status(hub, txn, m, &p, true, &st);
    if (rc == CDOF_ENOTFOUND) {
        snprintf(rp->error, sizeof rp->error, "%s has no %s period %.16s with data", m->id,
                 hub_period_native(m, p.kind) ? "reporting" : "such", q->period);
        return rc;
    }
    if (rc < 0 || (rc = add_period(rp, st)) < 0)
        return rc;
    Cdof__V1__PeriodStatus **hist = NULL;
    size_t nh = 0;
    rc = hub_period_history(hub, txn, m, &p, &hist, &nh);
    for (size_t i = 0; i < nh; i++) {
        if (rc == 0)
            rc = add_period(rp, hist[i]);
        else
            hub_period_status_free(hist[i]);
    }
    free(hist);
    return rc;
}

/* --- envelopes the hub refused --- */

/* Adds one stored rejection when it is not older than since_ms. Returns 0, 1 when the reply is
 * full, or a negative code. */
static int add_rejection(reply_t *rp, const cdof_bytes_t *key, const cdof_bytes_t *val,
                         int64_t since_ms)
{
    hub_rejection_t rec;
    if (hub_rejection_from_record(key, val, &rec) < 0)
        return 0; /* not a record this hub writes */
    if (since_ms && rec.rejected_ms < since_ms)
        return 0;
    if (rp->nrejections >= MAX_ROWS)
        return 1;
    if (rp->nrejections == rp->cap_rejections) {
        size_t cap = rp->cap_rejections ? 2 * rp->cap_rejections : 64;
        Cdof__V1__Rejection **a = realloc(rp->rejections, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        rp->rejections = a;
        rp->cap_rejections = cap;
    }
    Cdof__V1__Rejection *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    cdof__v1__rejection__init(r);
    r->agent_id = strndup(rec.agent_id, rec.agent_len);
    r->partnership = strndup(rec.partnership, rec.partnership_len);
    r->reason = strndup(rec.reason, rec.reason_len);
    r->sequence = rec.sequence;
    r->rejected_ms = rec.rejected_ms;
    rp->rejections[rp->nrejections++] = r;
    rp->resp->rejections = rp->rejections;
    rp->resp->n_rejections = rp->nrejections;
    return r->agent_id && r->partnership && r->reason ? 0 : -ENOMEM;
}

/* `rejections [--since DATE]`: every envelope the hub refused, by agent and sequence. */
static int q_rejections(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__RejectionsQuery *q,
                        reply_t *rp)
{
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t key, val;
    int rc = cdof_store_cursor_open(txn, hub_db_rejections(hub->db), &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &key, &val); rc > 0;
         rc = cdof_store_cursor_next(c, &key, &val))
        if ((rc = add_rejection(rp, &key, &val, q->since_ms)) != 0)
            break;
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

/* Acknowledgements and silences write (and commit) before the answer, recording the key that
 * vouched for the person named beside the name. */
static int alert_ops(hub_t *hub, const hub_party_t *party, const Cdof__V1__QueryRequest *req,
                     reply_t *rp)
{
    int rc;
    if (req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_ACK) {
        Cdof__V1__Alert *a = NULL;
        rc = hub_alerts_ack(hub->alerts, party, req->ack, &a, rp->error, sizeof rp->error);
        hub_publish(hub);
        if (rc == 0 && !(rp->alerts = calloc(1, sizeof *rp->alerts))) {
            cdof__v1__alert__free_unpacked(a, NULL);
            rc = -ENOMEM;
        }
        if (rc == 0) {
            rp->alerts[0] = a;
            rp->resp->alerts = rp->alerts;
            rp->resp->n_alerts = 1;
        }
        return rc;
    }
    Cdof__V1__Silence *s = NULL;
    if (req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_UNSILENCE)
        rc = hub_silences_end(hub_alerts_silences(hub->alerts), party, req->unsilence, &s,
                              rp->error, sizeof rp->error);
    else
        rc = hub_silences_add(hub_alerts_silences(hub->alerts), party, req->silence, &s, rp->error,
                              sizeof rp->error);
    if (rc == 0 && !(rp->silences = calloc(1, sizeof *rp->silences))) {
        cdof__v1__silence__free_unpacked(s, NULL);
        rc = -ENOMEM;
    }
    if (rc == 0) {
        rp->silences[0] = s;
        rp->nsilences = 1;
        rp->resp->silences = rp->silences;
        rp->resp->n_silences = 1;
    }
    if (rc == -EACCES || rc == CDOF_EINVALID)
        cdof_log_info("refused a %s by %s: %s",
                      req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_UNSILENCE ? "unsilence"
                      : req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_SILENCE ? "silence"
                                                                                  : "ack",
                      party ? party->id : "-", rp->error);
    return rc;
}

static int answer(hub_t *hub, const hub_party_t *party, const Cdof__V1__QueryRequest *req,
                  reply_t *rp)
{
    if (req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_CLOSE) {
        Cdof__V1__PeriodStatus *st = NULL;
        int rc = hub_settle_close_period(hub, party, req->close, &st, rp->error, sizeof rp->error);
        hub_publish(hub);
        return rc == 0 ? add_period(rp, st) : rc;
    }
    if (req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_ACK ||
        req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_SILENCE ||
        req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_UNSILENCE)
        return alert_ops(hub, party, req, rp);
    /* Page tokens are decimal numbers this hub gave: an offset into the rows, or for alerts the
     * last sequence sent. */
    uint64_t token = 0;
    if (req->page_token && *req->page_token) {
        char *end;
        errno = 0;
        token = strtoull(req->page_token, &end, 10);
        if (*end || errno || *req->page_token == '-' || token > UINT32_MAX * 1024ULL) {
            snprintf(rp->error, sizeof rp->error,
                     "page_token '%.32s' is not one this hub gave (send next_page_token back)",
                     req->page_token);
            return CDOF_EINVALID;
        }
    }
    /* An answer is at most MAX_ROWS rows: a larger page is refused rather than cut short
     * without a word. */
    if (req->page_size > MAX_ROWS) {
        snprintf(rp->error, sizeof rp->error,
                 "page_size %u is over this hub's largest page of %d rows (ask for %d or fewer "
                 "and follow next_page_token)",
                 req->page_size, MAX_ROWS, MAX_ROWS);
        return CDOF_EINVALID;
    }
    rp->page_size = req->page_size && req->page_size < MAX_ROWS ? req->page_size : 0;
    bool by_sequence = req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_ALERTS;
    if (by_sequence)
        rp->after = token;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(hub->store, false, &txn);
    if (rc < 0)
        return rc;
    switch (req->query_case) {
    case CDOF__V1__QUERY_REQUEST__QUERY_AREA:
        rc = q_area(hub, txn, req->area, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_LEAGUE:
        rc = q_table(hub, txn, req->league->metric_id, req->league->period, NULL,
                     HUB_BASIS_REPORTED, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_SERIES:
        rc = q_series(hub, txn, req->series, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_ALERTS:
        rc = q_alerts(hub, txn, req->alerts, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_AGENTS:
        rc = q_agents(hub, txn, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_ROLLING:
        rc = q_table(hub, txn, req->rolling->metric_id, req->rolling->period,
                     req->rolling->area_code, HUB_BASIS_ROLLING_12M, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_NATIONAL:
        rc = q_national(hub, txn, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_COVERAGE:
        rc = q_coverage(hub, txn, req->coverage, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_MILESTONES:
        rc = q_milestones(hub, txn, NULL, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_MILESTONES_AT:
        rc = q_milestones(hub, txn, req->milestones_at, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_SILENCES:
    case CDOF__V1__QUERY_REQUEST__QUERY_SILENCE_HISTORY:
        rc = hub_silences_list(hub_alerts_silences(hub->alerts), txn,
                               req->query_case == CDOF__V1__QUERY_REQUEST__QUERY_SILENCE_HISTORY,
                               &rp->silences, &rp->nsilences);
        rp->resp->silences = rp->silences;
        rp->resp->n_silences = rp->nsilences;
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_REJECTIONS:
        rc = q_rejections(hub, txn, req->rejections, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_HEALTH:
        cdof__v1__health__init(&rp->health);
        rc = hub_health_fill(hub, txn, &rp->health);
        rp->resp->health = rc == 0 ? &rp->health : NULL;
        break;
    default:
        snprintf(rp->error, sizeof rp->error, "this hub does not answer that query yet");
        rc = CDOF_EINVALID;
    }
    cdof_store_abort(&txn);
    if (rc == 0 && !by_sequence)
        page_slice(rp, (size_t)token);
    return rc;
}

/* Answers one request (rid and body as received; frames: frames after the routing id) on out
 * (the query socket, or the worker's pair). With refusal, answers BAD_REQUEST with that reason
 * under the request's own id instead. authed: the sender was judged already (the worker).
 * Returns 0 when a message went on out (the answer, or an empty one after the id should the
 * answer fail once the id had gone, which only a closing socket does), or a negative errno when
 * nothing was sent. */
static int respond(hub_t *hub, void *out, zmq_msg_t *rid, zmq_msg_t *body, int frames,
                   const char *refusal, bool authed)
{
    Cdof__V1__QueryResponse resp = CDOF__V1__QUERY_RESPONSE__INIT;
    reply_t rp;
    int rc = reply_init(&rp, &resp);
    Cdof__V1__QueryRequest *req = NULL;
    /* A key revoked since it connected is not served (ZAP admitted it; the registry changed).
     * The worker thread answers only requests the serve loop has judged (authed): the registry
     * is the serve loop's. */
    const hub_party_t *party = NULL;
    bool allowed = rc == 0 && (authed || hub_auth_sender(hub, frames ? body : rid, "query", &party,
                                                         rp.error, sizeof rp.error) == 0);
    if (allowed && refusal) {
        snprintf(rp.error, sizeof rp.error, "%s", refusal);
    } else if (allowed && frames == 1)
        req = cdof_wire_query_request_decode(zmq_msg_data(body), zmq_msg_size(body), rp.error,
                                             sizeof rp.error);
    if (rc == 0 && !allowed) {
        resp.status = CDOF__V1__QUERY_STATUS__QUERY_STATUS_FORBIDDEN;
        cdof_log_warn("query refused: %s", rp.error);
    } else if (rc == 0 && !req) {
        resp.status = CDOF__V1__QUERY_STATUS__QUERY_STATUS_BAD_REQUEST;
        if (frames != 1)
            snprintf(rp.error, sizeof rp.error, "expected one frame, a QueryRequest");
        /* A request that decodes but fails the checks (a query this hub does not know, a field
         * too long) is answered under its own id, so the client reports the reason instead of
         * waiting for an answer that never matches. */
        Cdof__V1__QueryRequest *raw =
            frames == 1 && zmq_msg_size(body) <= CDOF_WIRE_MAX_MESSAGE
                ? cdof__v1__query_request__unpack(NULL, zmq_msg_size(body), zmq_msg_data(body))
                : NULL;
        if (raw) {
            resp.request_id = raw->request_id;
            cdof__v1__query_request__free_unpacked(raw, NULL);
        }
    } else if (rc == 0) {
        resp.request_id = req->request_id;
        rc = answer(hub, party, req, &rp);
        if (rc == 0 && rp.oom)
            rc = -ENOMEM;
        resp.status = rc == 0                ? CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK
                      : rc == -EACCES        ? CDOF__V1__QUERY_STATUS__QUERY_STATUS_FORBIDDEN
                      : rc == CDOF_ENOTFOUND ? CDOF__V1__QUERY_STATUS__QUERY_STATUS_NOT_FOUND
                      : rc == CDOF_EINVALID  ? CDOF__V1__QUERY_STATUS__QUERY_STATUS_BAD_REQUEST
                                             : CDOF__V1__QUERY_STATUS__QUERY_STATUS_INTERNAL;
        if (rc < 0 && !rp.error[0])
            snprintf(rp.error, sizeof rp.error, "%s", cdof_strerror(rc));
    } else {
        resp.status = CDOF__V1__QUERY_STATUS__QUERY_STATUS_INTERNAL;
        snprintf(rp.error, sizeof rp.error, "%s", cdof_strerror(rc));
    }
    resp.error = rp.error;
    resp.next_page_token = rp.next_token;
    size_t decoded_alerts = resp.n_alerts;
    if (resp.status != CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK) {
        resp.n_rows = resp.n_alerts = resp.n_agents = resp.n_national = resp.n_milestones =
            resp.n_silences = resp.n_periods = 0;
        rp.next_token[0] = '\0';
    }
    uint8_t *buf;
    size_t len;
    int sent = cdof_wire_pack(&resp.base, &buf, &len);
    if (sent == 0) {
        sent = cdof_zmq_send(out, zmq_msg_data(rid), zmq_msg_size(rid), ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (sent == 0 && cdof_zmq_send(out, buf, len, ZMQ_DONTWAIT) < 0)
            /* The id is queued and the message open: close it empty, which the serve loop
             * reads as "no answer" from the worker (only a socket closing gets here). */
            cdof_zmq_send(out, "", 0, ZMQ_DONTWAIT);
        free(buf);
    }
    if (req)
        cdof__v1__query_request__free_unpacked(req, NULL);
    resp.n_alerts = decoded_alerts;
    reply_free(&rp);
    return sent;
}

/* Answers in the serve loop, on the query socket. */
static void answer_msg(hub_t *hub, zmq_msg_t *rid, zmq_msg_t *body, int frames, const char *refusal)
{
    (void)respond(hub, hub->query, rid, body, frames, refusal, false); /* the client asks again */
}

/* Reads one request: its routing id and body (frames after the id into *frames). Returns 1, 0
 * when none waits, or a negative errno. */
static int take_msg(hub_t *hub, zmq_msg_t *rid, zmq_msg_t *body, int *frames)
{
    *frames = 0;
    zmq_msg_init(rid);
    zmq_msg_init(body);
    int rc = cdof_zmq_msg_recv(rid, hub->query, ZMQ_DONTWAIT);
    if (rc < 0) {
        zmq_msg_close(rid);
        zmq_msg_close(body);
        return rc == -EAGAIN ? 0 : rc;
    }
    *frames = 0;
    while (zmq_msg_more(*frames ? body : rid)) {
        zmq_msg_close(body);
        zmq_msg_init(body);
        if (cdof_zmq_msg_recv(body, hub->query, 0) < 0)
            break;
        (*frames)++;
    }
    return 1;
}

/* --- fair service: requests wait in one queue per key and are answered in turn --- */

typedef struct {
    zmq_msg_t rid, body;
    int frames;
    bool read;     /* a read query (decoded once, when it arrived): the worker may answer it */
    bool deferred; /* counted as waiting for its key's budget */
} pending_t;

typedef struct {
    char who[CDOF_CURVE_Z85_LEN + 1]; /* the key (Z85), or the connection with --insecure */
    pending_t q[HUB_QUERY_QUEUE_PER_KEY];
    size_t head, n;
    /* The key's CPU budget: microseconds of answering it may still use (negative: owed, after a
     * request that cost more than was left), earned back at --query-cpu-ms a second up to one
     * second's worth, so an idle key may spend a burst at once. */
    int64_t credit_us, earned_ms;
    bool busy; /* its request is with the worker: the slot is not given to another key */
} key_queue_t;

struct hub_queries {
    key_queue_t keys[HUB_QUERY_KEYS];
    size_t nkeys, next, pending;
    uint64_t refused, deferred, cpu_us;
    /* The worker thread answering read queries on its own read transactions, so that ingest
     * never waits behind them: one request at a time over an inproc pair. */
    void *pair;
    pthread_t worker;
    bool started, busy;
    size_t busy_key;               /* whose request the worker is answering */
    _Atomic int64_t worker_cpu_us; /* what its last answer cost, read once it is received */
    atomic_bool stop;
};

#define WORKER_EP "inproc://cdof-hub-query-worker"
/* How often the worker looks up from a quiet socket to see whether it should stop. */
#define WORKER_POLL_MS 100

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct {
    hub_t *hub;
    void *pair; /* the worker's end, connected before the thread starts */
} worker_arg_t;

/* The worker: answers each [routing id, request] it is given with [routing id, response], or
 * [routing id, empty] when no answer could be made (the serve loop then knows it is free
 * again). Only read queries come here; they read the store and state fixed at start (reference
 * data, partnerships, commitments), never what the serve loop changes. An empty message, or the
 * stop flag (seen within WORKER_POLL_MS), ends it. Signals never reach this thread
 * (worker_start): each is for the serve loop, and a receive it interrupted is simply tried
 * again. */
static void *worker_main(void *arg)
{
    worker_arg_t *wa = arg;
    hub_t *hub = wa->hub;
    void *pair = wa->pair;
    free(wa);
    struct hub_queries *qs = hub->queries;
    /* At the serve loop's own priority. A lower one starved queries whenever anything else kept
     * the CPUs busy (each retry of a timed-out client then queued behind its abandoned
     * requests); ingest is kept ahead by running on its own thread, and queries by taking one
     * request at a time, so they use one core at most, and one key no more than its budget. */
    prctl(PR_SET_NAME, "cdof-hub-query"); /* as top -H and /proc name it */
    while (!atomic_load(&qs->stop)) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&rid, pair, 0) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            if (e == EAGAIN || e == EINTR)
                continue;
            break;
        }
        int rc = 0;
        if (zmq_msg_more(&rid)) /* the second frame, of a message already here */
            rc = cdof_zmq_msg_recv(&body, pair, 0);
        if (!zmq_msg_more(&rid) || rc < 0) { /* the empty message: stop */
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            break;
        }
        int64_t t0 = thread_cpu_us();
        rc = respond(hub, pair, &rid, &body, 1, NULL, true);
        atomic_store(&qs->worker_cpu_us, thread_cpu_us() - t0);
        if (rc < 0) {
            /* Out of memory, most likely: the client times out and asks again, but the serve
             * loop must hear that this request is over, or it waits for it for good. */
            cdof_log_error("query worker: no answer sent: %s", cdof_strerror(rc));
            if (cdof_zmq_send(pair, zmq_msg_data(&rid), zmq_msg_size(&rid), ZMQ_SNDMORE) < 0 ||
                cdof_zmq_send(pair, "", 0, 0) < 0)
                break; /* the pair is closed: the hub is stopping */
        }
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
    zmq_close(pair);
    return NULL;
}

/* Starts the worker (once). Without it every query is answered in the serve loop. Both ends of
 * the pair are made and connected here, before the thread runs: a request handed over is then
 * queued at once, and never waits for the worker to come up (a send that waited could be cut
 * short by a signal, and the request lost with the serve loop thinking the worker busy). */
static void worker_start(hub_t *hub, struct hub_queries *qs)
{
    if (qs->started)
        return;
    qs->started = true;
    int linger = 0, timeout = WORKER_POLL_MS;
    void *theirs = NULL;
    worker_arg_t *wa = malloc(sizeof *wa);
    /* The thread starts with every signal blocked (it inherits the mask): a SIGTERM or SIGHUP
     * is for the serve loop, and one taken by the worker would be lost to it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = !wa ? ENOMEM : 0;
    if (!rc && (!(qs->pair = zmq_socket(hub->zctx, ZMQ_PAIR)) ||
                zmq_setsockopt(qs->pair, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
                zmq_bind(qs->pair, WORKER_EP) < 0 || !(theirs = zmq_socket(hub->zctx, ZMQ_PAIR)) ||
                zmq_setsockopt(theirs, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
                zmq_setsockopt(theirs, ZMQ_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
                zmq_connect(theirs, WORKER_EP) < 0))
        rc = zmq_errno();
    if (!rc) {
        /* The worker's socket moves to its thread, which pthread_create's barrier allows. */
        *wa = (worker_arg_t){hub, theirs};
        rc = pthread_create(&qs->worker, NULL, worker_main, wa);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        cdof_log_warn("queries are answered in the serve loop: no worker (%s)", zmq_strerror(rc));
        free(wa);
        if (theirs)
            zmq_close(theirs);
        if (qs->pair)
            zmq_close(qs->pair);
        qs->pair = NULL;
    }
}

/* Hands the request to the worker. Returns false, with nothing sent, when it cannot take it:
 * the caller answers it in the serve loop instead. */
static bool worker_give(struct hub_queries *qs, pending_t *p)
{
    /* Never blocks: the pair is connected and holds one request at a time. Once the first
     * frame is queued, libzmq takes the rest of the message whatever the pipe holds, and a
     * signal cannot stop it (cdof_zmq.h). */
    if (cdof_zmq_msg_send(&p->rid, qs->pair, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return false;
    cdof_zmq_msg_send(&p->body, qs->pair, ZMQ_DONTWAIT);
    return true;
}

/* True when the request may go to the worker: a read query from a sender still registered.
 * Acks, silences and period closes (writes), health (the serve loop's counters), refusals and
 * bad requests are answered in the serve loop. */
static bool for_worker(hub_t *hub, pending_t *p)
{
    if (!p->read)
        return false;
    const hub_party_t *party;
    char err[CDOF_WIRE_MAX_TEXT];
    return hub_auth_sender(hub, &p->body, "query", &party, err, sizeof err) == 0;
}

/* Whether the request in body is a read query (see for_worker). */
static bool is_read(zmq_msg_t *body, int frames)
{
    if (frames != 1)
        return false;
    Cdof__V1__QueryRequest *req =
        cdof__v1__query_request__unpack(NULL, zmq_msg_size(body), zmq_msg_data(body));
    if (!req)
        return false;
    Cdof__V1__QueryRequest__QueryCase c = req->query_case;
    cdof__v1__query_request__free_unpacked(req, NULL);
    return c != CDOF__V1__QUERY_REQUEST__QUERY_ACK && c != CDOF__V1__QUERY_REQUEST__QUERY_SILENCE &&
           c != CDOF__V1__QUERY_REQUEST__QUERY_CLOSE &&
           c != CDOF__V1__QUERY_REQUEST__QUERY_UNSILENCE &&
           c != CDOF__V1__QUERY_REQUEST__QUERY_HEALTH &&
           c != CDOF__V1__QUERY_REQUEST__QUERY__NOT_SET;
}

/* Brings a key's CPU credit up to date at now_ms (--query-cpu-ms µs earned per ms). */
static void credit_earn(const hub_t *hub, key_queue_t *k, int64_t now_ms)
{
    int64_t rate = hub->cfg.query_cpu_ms, full = rate * 1000;
    if (rate > 0 && k->credit_us < full && now_ms > k->earned_ms)
        k->credit_us = k->credit_us + (now_ms - k->earned_ms) * rate < full
                           ? k->credit_us + (now_ms - k->earned_ms) * rate
                           : full;
    k->earned_ms = now_ms;
}

/* Milliseconds until the key may be answered again (0: now). */
static int64_t credit_wait_ms(const hub_t *hub, const key_queue_t *k)
{
    int64_t rate = hub->cfg.query_cpu_ms;
    return rate <= 0 || k->credit_us > 0 ? 0 : -k->credit_us / rate + 1;
}

static void credit_charge(struct hub_queries *qs, key_queue_t *k, int64_t cpu_us)
{
    if (cpu_us < 0)
        cpu_us = 0;
    k->credit_us -= cpu_us;
    qs->cpu_us += (uint64_t)cpu_us;
}

void hub_query_stats(const hub_t *hub, hub_query_stats_t *out)
{
    const struct hub_queries *qs = hub->queries;
    out->refused = qs ? qs->refused : 0;
    out->deferred = qs ? qs->deferred : 0;
    out->cpu_ms = qs ? qs->cpu_us / 1000 : 0;
}

void *hub_query_worker_socket(const hub_t *hub)
{
    return hub->queries ? hub->queries->pair : NULL;
}

void hub_query_worker_done(hub_t *hub)
{
    struct hub_queries *qs = hub->queries;
    for (int i = 0; qs && qs->pair && i < 16; i++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        if (cdof_zmq_msg_recv(&rid, qs->pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            return;
        }
        int rc = 0;
        if (zmq_msg_more(&rid)) /* the second frame, of a message already here */
            rc = cdof_zmq_msg_recv(&body, qs->pair, 0);
        /* An empty answer is the worker's word that it could make none. */
        if (zmq_msg_more(&rid) && rc >= 0 && zmq_msg_size(&body) > 0) {
            if (cdof_zmq_send(hub->query, zmq_msg_data(&rid), zmq_msg_size(&rid),
                              ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
                cdof_zmq_send(hub->query, zmq_msg_data(&body), zmq_msg_size(&body), ZMQ_DONTWAIT);
        }
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
        if (qs->busy) {
            key_queue_t *k = &qs->keys[qs->busy_key];
            k->busy = false;
            credit_charge(qs, k, atomic_load(&qs->worker_cpu_us));
        }
        qs->busy = false;
    }
}

/* The queue of the sender of body, or NULL when every slot is taken by another sender. A slot
 * is given to another key only once its own has nothing waiting, nothing with the worker and
 * its whole budget back: a key cannot shed what it owes by going quiet for a moment. */
static key_queue_t *queue_of(hub_t *hub, struct hub_queries *qs, zmq_msg_t *rid, zmq_msg_t *body,
                             int64_t now_ms)
{
    char who[CDOF_CURVE_Z85_LEN + 1];
    const char *key = zmq_msg_gets(body, "User-Id");
    if (key && *key) {
        snprintf(who, sizeof who, "%s", key);
    } else { /* --insecure: nobody is authenticated; each connection is its own sender */
        static const char hex[] = "0123456789abcdef";
        const uint8_t *r = zmq_msg_data(rid);
        size_t n = zmq_msg_size(rid), o = 0;
        for (size_t i = 0; i < n && o + 2 < sizeof who; i++) {
            who[o++] = hex[r[i] >> 4];
            who[o++] = hex[r[i] & 15];
        }
        who[o] = '\0';
    }
    key_queue_t *free_slot = NULL;
    for (size_t i = 0; i < qs->nkeys; i++) {
        key_queue_t *k = &qs->keys[i];
        if (!strcmp(k->who, who))
            return k;
        if (!free_slot && k->n == 0 && !k->busy) {
            credit_earn(hub, k, now_ms);
            if (k->credit_us >= hub->cfg.query_cpu_ms * 1000)
                free_slot = k;
        }
    }
    if (!free_slot && qs->nkeys < HUB_QUERY_KEYS)
        free_slot = &qs->keys[qs->nkeys++];
    if (free_slot) {
        snprintf(free_slot->who, sizeof free_slot->who, "%s", who);
        free_slot->head = free_slot->n = 0;
        free_slot->credit_us = hub->cfg.query_cpu_ms * 1000;
        free_slot->earned_ms = now_ms;
    }
    return free_slot;
}

int hub_query_take(hub_t *hub)
{
    if (!hub->queries && !(hub->queries = calloc(1, sizeof *hub->queries)))
        return -ENOMEM;
    struct hub_queries *qs = hub->queries;
    int64_t now = cdof_clock_mono_ms();
    int taken = 0;
    for (; taken < HUB_QUERY_TAKE_PER_TURN; taken++) {
        zmq_msg_t rid, body;
        int frames, rc = take_msg(hub, &rid, &body, &frames);
        if (rc <= 0)
            return rc < 0 ? rc : taken;
        key_queue_t *k = queue_of(hub, qs, &rid, frames ? &body : &rid, now);
        if (k)
            credit_earn(hub, k, now);
        bool owes = k && credit_wait_ms(hub, k) > 0;
        if (!k || k->n == HUB_QUERY_QUEUE_PER_KEY) {
            /* A client waits for each answer before it asks again; one with this many
             * questions outstanding is flooding, and its excess costs it, not the others. */
            qs->refused++;
            cdof_log_warn("query: refused a request from %s: %s", k ? k->who : "a sender",
                          !k     ? "too many senders wait"
                          : owes ? "it has used its CPU budget and too many of its requests wait"
                                 : "too many of its requests wait");
            char why[256];
            if (owes)
                snprintf(why, sizeof why,
                         "refused: this key has used its query budget (%ld ms of hub CPU a "
                         "second) and more than %d requests from this key wait for answers (send "
                         "the next when one is answered)",
                         hub->cfg.query_cpu_ms, HUB_QUERY_QUEUE_PER_KEY);
            else
                snprintf(why, sizeof why,
                         "refused: more than %d requests from this key wait for answers (send "
                         "the next when one is answered)",
                         HUB_QUERY_QUEUE_PER_KEY);
            answer_msg(hub, &rid, &body, frames, why);
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            continue;
        }
        pending_t *p = &k->q[(k->head + k->n++) % HUB_QUERY_QUEUE_PER_KEY];
        zmq_msg_init(&p->rid);
        zmq_msg_init(&p->body);
        zmq_msg_move(&p->rid, &rid);
        zmq_msg_move(&p->body, &body);
        p->frames = frames;
        p->read = is_read(&p->body, frames);
        p->deferred = false;
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
        qs->pending++;
    }
    return taken;
}

int hub_query_serve(hub_t *hub, int budget_ms)
{
    struct hub_queries *qs = hub->queries;
    if (!qs || !qs->pending)
        return -1;
    worker_start(hub, qs);
    int64_t now = cdof_clock_mono_ms(), until = now + budget_ms, wait = -1;
    /* One request of each waiting key in turn: a key with many waiting gets no more turns than
     * one with a single request. Read queries go to the worker, one at a time; the rest are
     * answered here, at least one per call, then while the budget lasts. A key whose next
     * request is a read waits while the worker is busy; a key that has used its CPU budget
     * waits until it has earned some back; the others go on. */
    bool answered = false;
    size_t idle = 0; /* keys looked at in a row without progress */
    while (qs->pending && idle < qs->nkeys && (!answered || now < until)) {
        size_t i = qs->next % qs->nkeys;
        qs->next = i + 1;
        key_queue_t *k = &qs->keys[i];
        idle++;
        if (!k->n)
            continue;
        credit_earn(hub, k, now);
        int64_t owed = credit_wait_ms(hub, k);
        pending_t *p = &k->q[k->head];
        if (owed > 0) {
            wait = wait < 0 || owed < wait ? owed : wait;
            if (!p->deferred)
                qs->deferred++;
            p->deferred = true;
            continue;
        }
        bool worker = qs->pair && for_worker(hub, p);
        if (worker && qs->busy)
            continue;
        k->head = (k->head + 1) % HUB_QUERY_QUEUE_PER_KEY;
        k->n--;
        qs->pending--;
        idle = 0;
        if (worker && worker_give(qs, p)) {
            qs->busy = k->busy = true;
            qs->busy_key = i;
        } else {
            int64_t t0 = thread_cpu_us();
            answer_msg(hub, &p->rid, &p->body, p->frames, NULL);
            credit_charge(qs, k, thread_cpu_us() - t0);
            answered = true;
        }
        zmq_msg_close(&p->rid);
        zmq_msg_close(&p->body);
        now = cdof_clock_mono_ms();
    }
    if (!qs->pending)
        return -1;
    /* Stopped by the turn's time: more go on at the next turn. Otherwise nothing can go on
     * until the worker answers (which wakes the poll) or a key earns its budget back. */
    return idle < qs->nkeys ? 0 : (int)wait;
}

void hub_query_close(hub_t *hub)
{
    struct hub_queries *qs = hub->queries;
    if (qs && qs->pair) {
        /* Never blocks: the worker sees the flag within WORKER_POLL_MS of finishing the request
         * it is answering, whether or not the message reaches it. */
        atomic_store(&qs->stop, true);
        cdof_zmq_send(qs->pair, "", 0, ZMQ_DONTWAIT);
        pthread_join(qs->worker, NULL);
        zmq_close(qs->pair);
    }
    for (size_t i = 0; qs && i < qs->nkeys; i++) {
        for (; qs->keys[i].n; qs->keys[i].n--) {
            pending_t *p = &qs->keys[i].q[qs->keys[i].head];
            qs->keys[i].head = (qs->keys[i].head + 1) % HUB_QUERY_QUEUE_PER_KEY;
            zmq_msg_close(&p->rid);
            zmq_msg_close(&p->body);
        }
    }
    free(qs);
    hub->queries = NULL;
}
