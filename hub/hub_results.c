/* Stored comparisons: the "results" database, kept up to date as data arrives, rebuilt on
 * demand, read by queries. Statistics stay in cdof_compare (pure); this module feeds it points
 * and stored history and stores what it returns, through the results codec of hub_db.h (key
 * and value layouts are described there). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_compare.h"
#include "cdof_coverage.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "cdof_log.h"
#include "cdof_partnerships.h"
#include "hub.h"
#include "hub_db.h"
#include "hub_periods.h"
#include "hub_results.h"
#include "hub_settle.h"

#define TREND_SPAN  5   /* periods a trend reaches back over, this one included */
#define MONTH_SLOTS 512 /* month cache: direct-mapped (metric, month) slots, ~4 MiB at most */

/* One area's point in one month, as a rolling window sums it. */
typedef struct {
    const cdof_area_t *area;
    cdof_figure_t fig;
    int64_t received_ms;
} mpoint_t;

/* The points of one metric and month, in scan order (a rolling window reads each month of its
 * twelve; without this, 11 of its 12 scans re-read months that have not changed,
 * measured at a quarter of the hub's ingest CPU). */
typedef struct {
    bool valid;
    size_t metric; /* metric index */
    int month;     /* month_index() */
    mpoint_t *db;
    size_t n, cap;
} month_slot_t;

struct hub_results {
    cdof_store_db_t db;
    /* Committed months only: a month the batch being compared touched is read from the store
     * (its points may yet be rolled back) and its slot emptied (hub_results_update). */
    month_slot_t *months; /* MONTH_SLOTS; NULL: no cache */
    const hub_touch_t *batch;
    size_t nbatch;
    cdof_partnerships_t *parts; /* --partnerships; NULL: every area its own */
    double *trajectory;         /* per metric index: yearly change the commitment asks, NaN none */
};

/* ---- keys and decoding ---- */

/* Stored rows depend on the points and on the configuration: partnerships and commitments. A
 * fingerprint of the latter is kept under HUB_RESULT_FINGERPRINT_KEY, so that a hub started
 * with other partnerships rebuilds rather than serve rows computed for the old ones. */

/* The prefix of (m, basis, p); code appended when not NULL. Returns the key length or 0. */
static size_t result_key(uint8_t *k, const cdof_metric_t *m, hub_basis_t basis,
                         const cdof_period_t *p, const char *code)
{
    return hub_result_key(m->id, (uint8_t)basis, p, code, k);
}

/* The area or configured partnership with this code (len bytes), or NULL. */
static const cdof_area_t *find_area(const hub_t *hub, const char *code, size_t len)
{
    char c[HUB_RESULT_CODE_MAX];
    if (len >= sizeof c)
        return NULL;
    memcpy(c, code, len);
    c[len] = '\0';
    const cdof_area_t *a = cdof_ref_area(hub->ref, c);
    const cdof_partnership_t *pl = cdof_partnerships_list(hub->results->parts);
    for (size_t i = 0; !a && i < cdof_partnerships_count(hub->results->parts); i++) {
        if (strcmp(pl[i].area.code, c) == 0)
            a = &pl[i].area;
    }
    return a;
}

static int decode_row(const hub_t *hub, const char *code, size_t clen, const cdof_bytes_t *v,
                      cdof_compare_row_t *r)
{
    const char *part;
    size_t plen;
    int rc = hub_result_from_value(v, r, &part, &plen);
    if (rc < 0)
        return rc;
    if (!(r->area = find_area(hub, code, clen)))
        return CDOF_ENOTFOUND; /* an area since removed from the reference or configuration */
    const cdof_area_t *p = find_area(hub, part, plen);
    r->partnership = p ? p->code : r->area->code;
    return 0;
}

/* ---- reading stored rows ---- */

int hub_results_get(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                    const cdof_period_t *p, hub_basis_t basis, const char *code,
                    cdof_compare_row_t *out)
{
    uint8_t k[HUB_RESULT_KEY_MAX];
    size_t klen = result_key(k, m, basis, p, code);
    if (!klen)
        return -EINVAL;
    cdof_bytes_t v;
    int rc = cdof_store_get(txn, hub->results->db, k, klen, &v);
    if (rc == 0)
        rc = decode_row(hub, code, strlen(code), &v, out);
    return rc;
}

struct hub_results_rows {
    hub_t *hub;
    cdof_store_cursor_t *cur;
    bool started;
    size_t plen;
    uint8_t prefix[HUB_RESULT_KEY_MAX];
};

int hub_results_rows_open(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                          const cdof_period_t *p, hub_basis_t basis, hub_results_rows_t **out)
{
    *out = NULL;
    hub_results_rows_t *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (hub_results_rows_t){.hub = hub};
    c->plen = result_key(c->prefix, m, basis, p, NULL);
    int rc = c->plen ? cdof_store_cursor_open(txn, hub->results->db, &c->cur) : -EINVAL;
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int hub_results_rows_next(hub_results_rows_t *c, cdof_compare_row_t *row)
{
    for (;;) {
        cdof_bytes_t k, v;
        int rc = c->started ? cdof_store_cursor_next(c->cur, &k, &v)
                            : cdof_store_cursor_prefix(c->cur, c->prefix, c->plen, &k, &v);
        c->started = true;
        if (rc <= 0)
            return rc;
        rc = decode_row(c->hub, (const char *)k.data + c->plen, k.len - c->plen, &v, row);
        if (rc != CDOF_ENOTFOUND) /* an area since removed: kept, not shown */
            return rc < 0 ? rc : 1;
    }
}

void hub_results_rows_close(hub_results_rows_t **c)
{
    if (!c || !*c)
        return;
    cdof_store_cursor_close(&(*c)->cur);
    free(*c);
    *c = NULL;
}

int hub_results_count(hub_t *hub, cdof_store_txn_t *txn, uint64_t *out)
{
    cdof_bytes_t v;
    int rc = cdof_store_count(txn, hub->results->db, out);
    if (rc == 0 && cdof_store_get(txn, hub->results->db, HUB_RESULT_FINGERPRINT_KEY,
                                  HUB_RESULT_FINGERPRINT_KEY_LEN, &v) == 0)
        (*out)--; /* the fingerprint is not a row */
    return rc;
}

/* ---- computing: inputs from points ---- */

/* Sums of an area's points over the periods a comparison covers. */
typedef struct {
    int n;
    cdof_compare_input_t in;
} acc_t;

typedef struct {
    hub_t *hub;
    const cdof_metric_t *m;
    acc_t *acc;           /* per area index */
    bool *submitted;      /* per area index: a pooled figure was sent (not summed from years) */
    bool mark_submit;     /* this scan reads the submitted figures */
    month_slot_t *record; /* the month cache slot this scan fills, or NULL */
} gather_t;

/* Adds one area's point to its sums. */
static void accumulate(gather_t *g, const mpoint_t *pt)
{
    const cdof_area_t *area = pt->area;
    acc_t *x = &g->acc[area->index];
    if (g->submitted && g->submitted[area->index] && !g->mark_submit)
        return;
    if (g->mark_submit) {
        g->submitted[area->index] = true;
        memset(x, 0, sizeof *x);
    }
    cdof_compare_input_t *in = &x->in;
    cdof_figure_t *sum = &in->fig;
    const cdof_figure_t *f = &pt->fig;
    if (x->n == 0)
        *in = (cdof_compare_input_t){
            .area = area,
            .fig = {.has_numerator = true, .has_denominator = true, .has_value = true}};
    x->n++;
    /* A sum has a field only when every point summed had it. */
    sum->has_numerator = sum->has_numerator && f->has_numerator;
    sum->has_denominator = sum->has_denominator && f->has_denominator;
    sum->has_value = sum->has_value && f->has_value;
    sum->numerator += f->has_numerator ? f->numerator : 0;
    sum->denominator += f->has_denominator ? f->denominator : 0;
    sum->value += f->has_value ? f->value : 0;
    if (pt->received_ms > in->received_ms)
        in->received_ms = pt->received_ms;
}

static void gather_point(gather_t *g, const char *area_code, const hub_point_t *pt)
{
    const cdof_area_t *area = cdof_ref_area(g->hub->ref, area_code);
    if (!area)
        return; /* an area since removed from the reference data: kept, not compared */
    mpoint_t mp = {area, pt->fig, pt->received_ms};
    if (g->record) {
        month_slot_t *sl = g->record;
        mpoint_t *db = cdof_grow(sl->db, sl->n, &sl->cap, 64, sizeof *db);
        if (db) {
            sl->db = db;
            db[sl->n++] = mp;
        } else {
            g->record = NULL; /* not cached, still summed */
            sl->valid = false;
        }
    }
    accumulate(g, &mp);
}

/* Adds every area's point of m in p to g. */
static int gather_points(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                         const cdof_period_t *p, gather_t *g)
{
    hub_db_points_cursor_t *c;
    hub_point_t pt;
    const char *code;
    int rc = hub_db_points_open(hub->db, txn, m->id, p, &c);
    while (rc == 0 && (rc = hub_db_points_next(c, &code, &pt)) > 0) {
        gather_point(g, code, &pt);
        rc = 0;
    }
    hub_db_points_close(&c);
    return rc < 0 ? rc : 0;
}

static cdof_period_t month_period(int idx)
{
    int y = idx / 12, mo = idx % 12 + 1;
    int32_t first = cdof_days_from_civil(y, mo, 1);
    int32_t next =
        mo == 12 ? cdof_days_from_civil(y + 1, 1, 1) : cdof_days_from_civil(y, mo + 1, 1);
    return (cdof_period_t){CDOF_PERIOD_MONTH, first, next - 1};
}

static int month_index(const cdof_period_t *p)
{
    int y, mo, d;
    cdof_civil_from_days(p->first_day, &y, &mo, &d);
    return y * 12 + mo - 1;
}

static cdof_period_t year_period(cdof_period_kind_t kind, int y1, int y2)
{
    return (cdof_period_t){kind, cdof_days_from_civil(y1, 1, 1), cdof_days_from_civil(y2, 12, 31)};
}

/* The one cache slot that may hold month idx of metric m. */
static month_slot_t *month_slot(hub_results_t *res, const cdof_metric_t *m, int idx)
{
    return &res->months[(m->index * 131u + (unsigned)idx) % MONTH_SLOTS];
}

/* Adds month idx of metric m to g: from the month cache when it holds it, else from the store
 * (and into the cache unless the batch being compared touched that month). */
static int gather_month(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, int idx,
                        gather_t *g)
{
    hub_results_t *res = hub->results;
    month_slot_t *sl = res->months ? month_slot(res, m, idx) : NULL;
    for (size_t i = 0; sl && i < res->nbatch; i++) {
        const hub_touch_t *t = &res->batch[i];
        if (t->metric == m && t->period.kind == CDOF_PERIOD_MONTH && month_index(&t->period) == idx)
            sl = NULL;
    }
    if (sl && sl->valid && sl->metric == m->index && sl->month == idx) {
        for (size_t i = 0; i < sl->n; i++)
            accumulate(g, &sl->db[i]);
        return 0;
    }
    if (sl)
        *sl = (month_slot_t){.metric = m->index, .month = idx, .db = sl->db, .cap = sl->cap};
    cdof_period_t mp = month_period(idx);
    g->record = sl;
    int rc = gather_points(hub, txn, m, &mp, g);
    if (rc == CDOF_ENOTFOUND)
        rc = 0;
    if (sl && g->record && rc == 0)
        sl->valid = true;
    g->record = NULL;
    return rc;
}

static bool is_pooled3(const cdof_metric_t *m, const cdof_period_t *p)
{
    int y1, y2, mo, d;
    if (m->frequency != CDOF_FREQ_POOLED3 || p->kind != CDOF_PERIOD_POOLED_YEARS)
        return false;
    cdof_civil_from_days(p->first_day, &y1, &mo, &d);
    cdof_civil_from_days(p->last_day, &y2, &mo, &d);
    return y2 - y1 == 2;
}

static bool has_rolling(const cdof_metric_t *m)
{
    /* A monthly count such as numbers in treatment is a stock: summing months means nothing. */
    return m->frequency == CDOF_FREQ_MONTHLY && m->method != CDOF_METHOD_NONE;
}

typedef struct {
    hub_t *hub;
    cdof_store_txn_t *txn;
    const cdof_metric_t *m;
    hub_basis_t basis;
} past_ctx_t;

static int past_row(void *ctx, const cdof_area_t *area, const cdof_period_t *p,
                    cdof_compare_past_t *out)
{
    past_ctx_t *pc = ctx;
    cdof_compare_row_t r;
    int rc = hub_results_get(pc->hub, pc->txn, pc->m, p, pc->basis, area->code, &r);
    if (rc == 0)
        *out = (cdof_compare_past_t){r.fig.has_value, r.has_interval, r.fig.value, r.ci95};
    return rc;
}

/* Whether the period(s) a comparison sums are complete or closed: the period itself, or for a
 * rolling window each of its twelve months. */
static int period_done(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                       const cdof_period_t *p, hub_basis_t basis, bool *done)
{
    if (basis != HUB_BASIS_ROLLING_12M)
        return hub_period_done(hub, txn, m, p, done);
    int last = month_index(p), rc = 0;
    *done = true;
    for (int i = last - 11; rc == 0 && *done && i <= last; i++) {
        cdof_period_t mp = month_period(i);
        rc = hub_period_done(hub, txn, m, &mp, done);
    }
    return rc;
}

/* Gives every aggregate row (England, regions, partnerships) its coverage, areas that reported
 * of those expected, and marks it provisional when it sums an incomplete period; area rows are
 * marked when the England or region figure they are compared with is provisional. A figure a
 * national source submitted is never provisional. */
static int mark_coverage(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                         const cdof_period_t *p, hub_basis_t basis, const cdof_compare_input_t *in,
                         size_t n, cdof_compare_t *c)
{
    size_t na = cdof_ref_area_count(hub->ref);
    bool *seen = calloc(na ? na : 1, sizeof *seen), done = false;
    if (!seen)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        seen[in[i].area->index] = true;
    cdof_coverage_t cov = {0};
    int rc = period_done(hub, txn, m, p, basis, &done);
    if (rc == 0)
        rc = cdof_coverage_compute(hub->ref, m, cdof_partnerships_list(hub->results->parts),
                                   cdof_partnerships_count(hub->results->parts), seen, &cov);
    size_t nrows = cdof_compare_count(c);
    for (size_t i = 0; rc == 0 && i < nrows; i++) {
        cdof_compare_row_t *r = cdof_compare_row_mut(c, i);
        if (r->area->kind == CDOF_AREA_UTLA)
            continue;
        const cdof_coverage_group_t *g = cdof_coverage_find(&cov, r->area->code);
        if (!g)
            continue;
        r->reported = g->reported;
        r->expected = g->expected;
        r->provisional = !r->submitted && !done && !cdof_coverage_full(g);
    }
    for (size_t i = 0; rc == 0 && i < nrows; i++) {
        cdof_compare_row_t *r = cdof_compare_row_mut(c, i);
        if (r->area->kind != CDOF_AREA_UTLA)
            continue;
        const cdof_compare_row_t *e = cdof_compare_find(c, CDOF_ENGLAND_CODE);
        const cdof_compare_row_t *rg =
            r->area->region_code ? cdof_compare_find(c, r->area->region_code) : NULL;
        r->england_provisional = e && e->provisional;
        r->region_provisional = rg && rg->provisional;
        /* An area's own figure is whole; the coverage it carries is that of the England
         * figure it is compared with. */
        if (e) {
            r->reported = e->reported;
            r->expected = e->expected;
        }
    }
    cdof_coverage_free(&cov);
    free(seen);
    return rc;
}

int hub_results_compute(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p, hub_basis_t basis, cdof_compare_t **out)
{
    size_t nareas = cdof_ref_area_count(hub->ref);
    gather_t g = {.hub = hub, .m = m};
    cdof_compare_input_t *in = calloc(nareas, sizeof *in);
    g.acc = calloc(nareas, sizeof *g.acc);
    g.submitted = calloc(nareas, sizeof *g.submitted);
    int rc = in && g.acc && g.submitted ? 0 : -ENOMEM, want = 1;
    *out = NULL;
    if (rc == 0 && basis == HUB_BASIS_ROLLING_12M) {
        /* Sums over the twelve months ending in p; an area needs all twelve. */
        int last = month_index(p);
        want = 12;
        for (int i = last - 11; rc == 0 && i <= last; i++)
            rc = gather_month(hub, txn, m, i, &g);
    } else if (rc == 0 && is_pooled3(m, p)) {
        /* A pooled figure sent as such wins; otherwise the sum of its three single years. */
        int y1, mo, d;
        cdof_civil_from_days(p->first_day, &y1, &mo, &d);
        g.mark_submit = true;
        rc = gather_points(hub, txn, m, p, &g);
        g.mark_submit = false;
        for (int y = y1; rc == 0 && y < y1 + 3; y++) {
            cdof_period_t yp = year_period(CDOF_PERIOD_CALENDAR_YEAR, y, y);
            rc = gather_points(hub, txn, m, &yp, &g);
        }
        want = 3;
    } else if (rc == 0) {
        rc = gather_points(hub, txn, m, p, &g);
    }
    if (rc == CDOF_ENOTFOUND)
        rc = 0;
    size_t n = 0;
    for (size_t a = 0; rc == 0 && a < nareas; a++) {
        const acc_t *x = &g.acc[a];
        if (x->n == 0 || (x->n != want && !g.submitted[a]))
            continue;
        in[n++] = x->in;
    }
    past_ctx_t pc = {hub, txn, m, basis};
    cdof_compare_opts_t o = {.period = p,
                             .partnerships = cdof_partnerships_list(hub->results->parts),
                             .npartnerships = cdof_partnerships_count(hub->results->parts),
                             .past = past_row,
                             .past_ctx = &pc,
                             .trend = basis == HUB_BASIS_REPORTED,
                             .trajectory_change = hub->results->trajectory[m->index]};
    if (rc == 0)
        rc = cdof_compare_run_opts(hub->ref, m, in, n, &o, out);
    if (rc == 0)
        rc = mark_coverage(hub, txn, m, p, basis, in, n, *out);
    free(in);
    free(g.acc);
    free(g.submitted);
    return rc;
}

/* ---- storing ---- */

/* The stored rows of a (metric, basis, period) whose area is not among the fresh ones (codes,
 * sorted) are deleted; the others are overwritten in place by put_row. Deleting them all and
 * inserting them again made every recompute rebalance the b-tree (measured at ~12% of the
 * hub's ingest CPU); LMDB overwrites a value of the same size where it lies. */
static int code_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Compares the NUL-terminated code a with the len bytes b, as LMDB orders keys. */
static int code_vs(const char *a, const uint8_t *b, size_t len)
{
    size_t alen = strlen(a);
    int c = memcmp(a, b, alen < len ? alen : len);
    return c ? c : (alen > len) - (alen < len);
}

static int prune_rows(hub_t *hub, cdof_store_txn_t *txn, const uint8_t *prefix, size_t plen,
                      const cdof_compare_t *c)
{
    size_t n = cdof_compare_count(c), at = 0; /* codes[at]: the first not below the key's code */
    const char **codes = malloc((n ? n : 1) * sizeof(char *)); /* sorted by strcmp = key order */
    if (!codes)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        codes[i] = cdof_compare_row(c, i)->area->code;
    qsort(codes, n, sizeof *codes, code_cmp);
    cdof_store_cursor_t *cur;
    cdof_bytes_t key;
    int rc = cdof_store_cursor_open(txn, hub->results->db, &cur);
    for (rc = rc < 0 ? rc : cdof_store_cursor_prefix(cur, prefix, plen, &key, NULL); rc > 0;
         rc = cdof_store_cursor_next(cur, &key, NULL)) {
        const uint8_t *code = (const uint8_t *)key.data + plen;
        size_t clen = key.len - plen;
        while (at < n && code_vs(codes[at], code, clen) < 0)
            at++;
        if (at < n && code_vs(codes[at], code, clen) == 0)
            continue; /* overwritten by put_row */
        if ((rc = cdof_store_cursor_del(cur)) < 0)
            break;
    }
    cdof_store_cursor_close(&cur);
    free(codes);
    return rc < 0 ? rc : 0;
}

static int put_row(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, hub_basis_t basis,
                   const cdof_period_t *p, const cdof_compare_row_t *r)
{
    uint8_t k[HUB_RESULT_KEY_MAX], v[HUB_RESULT_VALUE_MAX];
    size_t klen = result_key(k, m, basis, p, r->area->code);
    if (!klen)
        return -EINVAL;
    return cdof_store_put(txn, hub->results->db, k, klen, v, hub_result_value(r, v));
}

/* Replaces the stored rows of (m, basis, p) with a fresh comparison; *nrows says how many. */
static int recompute(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, hub_basis_t basis, cdof_compare_t **keep,
                     size_t *nrows)
{
    cdof_compare_t *c = NULL;
    uint8_t prefix[HUB_RESULT_KEY_MAX];
    size_t plen = result_key(prefix, m, basis, p, NULL);
    int rc = plen ? hub_results_compute(hub, txn, m, p, basis, &c) : -EINVAL;
    if (rc == 0)
        rc = prune_rows(hub, txn, prefix, plen, c);
    for (size_t i = 0; rc == 0 && i < cdof_compare_count(c); i++)
        rc = put_row(hub, txn, m, basis, p, cdof_compare_row(c, i));
    if (nrows)
        *nrows = c ? cdof_compare_count(c) : 0;
    if (rc == 0 && keep)
        *keep = c;
    else
        cdof_compare_destroy(&c);
    return rc;
}

/* ---- what the rows were computed with ---- */

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static uint64_t fingerprint(const hub_t *hub)
{
    const hub_results_t *res = hub->results;
    uint64_t h = fnv(14695981039346656037ULL, &(uint8_t){HUB_RESULT_VERSION}, 1);
    const cdof_partnership_t *pl = cdof_partnerships_list(res->parts);
    for (size_t k = 0; k < cdof_partnerships_count(res->parts); k++) {
        h = fnv(h, pl[k].area.code, strlen(pl[k].area.code) + 1);
        for (size_t j = 0; j < pl[k].nmembers; j++)
            h = fnv(h, pl[k].members[j]->code, CDOF_AREA_CODE_LEN);
    }
    for (size_t i = 0; i < cdof_ref_metric_count(hub->ref); i++) {
        const cdof_metric_t *m = cdof_ref_metric_at(hub->ref, i);
        uint8_t b[8];
        uint64_t bits;
        if (!isfinite(res->trajectory[i]))
            continue;
        memcpy(&bits, &res->trajectory[i], sizeof bits);
        cdof_store_be64(b, bits); /* as the results codec stores an f64 */
        h = fnv(fnv(h, m->id, strlen(m->id) + 1), b, sizeof b);
    }
    return h;
}

static int put_fingerprint(hub_t *hub, cdof_store_txn_t *txn)
{
    uint8_t v[8];
    cdof_store_be64(v, fingerprint(hub));
    return cdof_store_put(txn, hub->results->db, HUB_RESULT_FINGERPRINT_KEY,
                          HUB_RESULT_FINGERPRINT_KEY_LEN, v, sizeof v);
}

int hub_results_stale(hub_t *hub, cdof_store_txn_t *txn, bool *stale, const char **why)
{
    uint64_t rows = 0, periods = 0;
    cdof_bytes_t v;
    int rc = hub_results_count(hub, txn, &rows);
    if (rc == 0)
        rc = cdof_store_count(txn, hub_db_periods(hub->db), &periods);
    if (rc < 0)
        return rc;
    rc = cdof_store_get(txn, hub->results->db, HUB_RESULT_FINGERPRINT_KEY,
                        HUB_RESULT_FINGERPRINT_KEY_LEN, &v);
    if (rc < 0 && rc != CDOF_ENOTFOUND)
        return rc;
    *stale = false;
    if (rows == 0 && periods > 0) {
        *stale = true;
        *why = "the store has data but no stored comparisons";
    } else if (rows > 0 && (rc == CDOF_ENOTFOUND || v.len != 8 ||
                            cdof_store_rd64(v.data) != fingerprint(hub))) {
        *stale = true;
        *why = "the stored comparisons were computed with other partnerships or commitments";
    }
    return 0;
}

/* ---- incremental ---- */

typedef struct {
    const cdof_area_t *area;
    bool has_value, has_interval;
    double value;
    cdof_interval_t ci95;
} fig_t;

typedef struct {
    fig_t *items;
    size_t n, cap;
} figs_t;

static int figs_add(figs_t *f, const cdof_compare_row_t *r)
{
    fig_t *items = cdof_grow(f->items, f->n, &f->cap, 64, sizeof *items);
    if (!items)
        return -ENOMEM;
    f->items = items;
    f->items[f->n++] = (fig_t){r->area, r->fig.has_value, r->has_interval, r->fig.value, r->ci95};
    return 0;
}

/* The figures of the rows stored for (m, q), as reported, appended to f. */
static int figs_load(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *q, figs_t *f)
{
    hub_results_rows_t *c;
    cdof_compare_row_t r;
    int rc = hub_results_rows_open(hub, txn, m, q, HUB_BASIS_REPORTED, &c);
    while (rc == 0 && (rc = hub_results_rows_next(c, &r)) > 0)
        rc = figs_add(f, &r);
    hub_results_rows_close(&c);
    return rc < 0 ? rc : 0;
}

static bool same_fig(const fig_t *a, const cdof_compare_row_t *r)
{
    return a->has_value == r->fig.has_value && a->has_interval == r->has_interval &&
           (!a->has_value || a->value == r->fig.value) &&
           (!a->has_interval || (a->ci95.lower == r->ci95.lower && a->ci95.upper == r->ci95.upper));
}

/* The areas whose figures (what later trends read) differ between old and the new rows. */
static int changed_areas(const figs_t *old, const cdof_compare_t *c, figs_t *out)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cdof_compare_count(c); i++) {
        const cdof_compare_row_t *r = cdof_compare_row(c, i);
        const fig_t *o = NULL;
        for (size_t k = 0; k < old->n && !o; k++)
            o = old->items[k].area == r->area ? &old->items[k] : NULL;
        bool listed = false; /* out gathers several periods' changes: each area once */
        for (size_t k = 0; k < out->n && !listed; k++)
            listed = out->items[k].area == r->area;
        if ((!o || !same_fig(o, r)) && !listed)
            rc = figs_add(out, r);
    }
    for (size_t k = 0; rc == 0 && k < old->n; k++) {
        if (!cdof_compare_find(c, old->items[k].area->code)) {
            cdof_compare_row_t gone = {.area = old->items[k].area};
            rc = figs_add(out, &gone);
        }
    }
    return rc;
}

static bool period_eq(const cdof_period_t *a, const cdof_period_t *b)
{
    return a->kind == b->kind && a->first_day == b->first_day && a->last_day == b->last_day;
}

/* Is q within the TREND_SPAN - 1 periods after p (same kind)? */
static bool trend_reaches(const cdof_period_t *p, const cdof_period_t *q)
{
    cdof_period_t x = *q;
    if (q->kind != p->kind || q->first_day <= p->first_day)
        return false;
    for (int i = 1; i < TREND_SPAN; i++) {
        if (cdof_period_prev(&x, &x) < 0)
            return false;
        if (period_eq(&x, p))
            return true;
    }
    return false;
}

static int refresh_trends(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                          const cdof_period_t *q, const figs_t *changed)
{
    past_ctx_t pc = {hub, txn, m, HUB_BASIS_REPORTED};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < changed->n; i++) {
        cdof_compare_row_t r;
        rc = hub_results_get(hub, txn, m, q, HUB_BASIS_REPORTED, changed->items[i].area->code, &r);
        if (rc == CDOF_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = cdof_compare_row_trend(m, q, &r, past_row, &pc);
        if (rc == 0)
            rc = put_row(hub, txn, m, HUB_BASIS_REPORTED, q, &r);
    }
    return rc;
}

/* The pooled periods the calendar years among periods[0..n) contribute to, each rebuilt once
 * and noted in the period index when it has rows. */
static int derive_pooled(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                         const cdof_period_t *periods, size_t n)
{
    int first = 0, last = -1, rc = 0; /* start years of the pooled periods to build */
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        int y, mo, d;
        if (periods[i].kind != CDOF_PERIOD_CALENDAR_YEAR)
            continue;
        cdof_civil_from_days(periods[i].first_day, &y, &mo, &d);
        first = !any || y - 2 < first ? y - 2 : first;
        last = !any || y > last ? y : last;
        any = true;
    }
    for (int s = first; rc == 0 && s <= last; s++) {
        cdof_period_t pp = year_period(CDOF_PERIOD_POOLED_YEARS, s, s + 2);
        size_t nrows = 0;
        if (s < CDOF_PERIOD_YEAR_MIN || s + 2 > CDOF_PERIOD_YEAR_MAX)
            continue;
        rc = recompute(hub, txn, m, &pp, HUB_BASIS_REPORTED, NULL, &nrows);
        if (rc == 0 && nrows > 0)
            rc = hub_periods_note(hub, txn, m, &pp);
    }
    return rc;
}

static int touch_order(const void *a, const void *b)
{
    const hub_touch_t *x = a, *y = b;
    if (x->metric->index != y->metric->index)
        return x->metric->index < y->metric->index ? -1 : 1;
    if (x->period.first_day != y->period.first_day)
        return x->period.first_day < y->period.first_day ? -1 : 1;
    if (x->period.kind != y->period.kind)
        return x->period.kind < y->period.kind ? -1 : 1;
    return (x->period.last_day > y->period.last_day) - (x->period.last_day < y->period.last_day);
}

/* What depends on the touched periods t[0..n) of metric m, beyond themselves. */
typedef struct {
    bool trend, baseline, rolling, touched;
} deps_t;

static deps_t depends(const cdof_metric_t *m, const cdof_period_t *q, const hub_touch_t *t,
                      size_t n)
{
    deps_t d = {0};
    cdof_period_t ye;
    bool has_ye = m->unit == CDOF_UNIT_COUNT && cdof_period_year_earlier(q, &ye) == 0;
    for (size_t i = 0; i < n; i++) {
        const cdof_period_t *p = &t[i].period;
        d.touched = d.touched || period_eq(p, q);
        d.trend = d.trend || (m->method != CDOF_METHOD_NONE && trend_reaches(p, q));
        d.baseline = d.baseline || (has_ye && period_eq(&ye, p));
        /* Rolling windows holding p: those ending in p and in the eleven months after. */
        d.rolling =
            d.rolling ||
            (has_rolling(m) && p->kind == CDOF_PERIOD_MONTH && q->kind == CDOF_PERIOD_MONTH &&
             month_index(q) >= month_index(p) && month_index(q) < month_index(p) + 12);
    }
    return d;
}

/* Recomputes q for a revised baseline (or, touched, for periods recomputed after it: see
 * update_metric). Its figures may change too, when q's own data has not been compared yet
 * (its settle mark still waits, or waited behind a later period's): then q counts as
 * touched for the periods after it (appended to ext[*next]), whose trends and baselines read q, and
 * its areas join changed; without this a later count kept a baseline "not compared" that a rebuild
 * finds. */
static int recompute_dependent(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                               const cdof_period_t *q, figs_t *old, figs_t *changed,
                               hub_touch_t *ext, size_t *next)
{
    cdof_compare_t *c = NULL;
    figs_t mine = {0};
    old->n = 0;
    int rc = figs_load(hub, txn, m, q, old);
    if (rc == 0)
        rc = recompute(hub, txn, m, q, HUB_BASIS_REPORTED, &c, NULL);
    if (rc == 0)
        rc = changed_areas(old, c, &mine);
    if (rc == 0 && mine.n > 0) {
        ext[(*next)++] = (hub_touch_t){.metric = m, .period = *q};
        rc = changed_areas(old, c, changed);
    }
    cdof_compare_destroy(&c);
    free(mine.items);
    return rc;
}

/* One metric's touched periods, oldest first, so that each trend reads fresh earlier rows. */
static int update_metric(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *t, size_t n)
{
    const cdof_metric_t *m = t[0].metric;
    figs_t old = {0}, changed = {0};
    cdof_period_t *periods = NULL;
    size_t nperiods = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cdof_compare_t *c = NULL;
        old.n = 0;
        /* Rows stored ahead (refresh) count as changed for every area: nothing is "old". */
        if (!t[i].refresh)
            rc = figs_load(hub, txn, m, &t[i].period, &old);
        if (rc == 0)
            rc = recompute(hub, txn, m, &t[i].period, HUB_BASIS_REPORTED, &c, NULL);
        if (rc == 0)
            rc = changed_areas(&old, c, &changed);
        cdof_compare_destroy(&c);
    }
    if (rc == 0 && changed.n > 0)
        rc = hub_periods_list(hub, txn, m, &periods, &nperiods);
    /* t, then the periods whose figures a baseline recompute below changed. */
    hub_touch_t *ext = nperiods ? malloc((n + nperiods) * sizeof *ext) : NULL;
    size_t next = n;
    if (nperiods && !ext)
        rc = -ENOMEM;
    else if (ext)
        memcpy(ext, t, n * sizeof *t);
    for (size_t i = 0; rc == 0 && i < nperiods; i++) {
        const cdof_period_t *q = &periods[i];
        deps_t d = depends(m, q, ext, next);
        /* A touched period was recomputed after every earlier touched one, but before the
         * earlier untouched ones this loop recomputed for a baseline (ext[n..next)): when one
         * of those changed under its trend or baseline, it read them stale and is recomputed
         * again. Without this, t = {2021-Q1, 2023-Q1} left 2023-Q1 without the baseline that
         * 2022-Q1, recomputed here only after it, gives it, and a rebuild disagreed. */
        deps_t late = depends(m, q, ext + n, next - n);
        bool stale = d.touched && (late.trend || late.baseline);
        if (d.trend && !d.touched)
            rc = refresh_trends(hub, txn, m, q, &changed);
        if (rc == 0 && ((d.baseline && !d.touched) || stale))
            rc = recompute_dependent(hub, txn, m, q, &old, &changed, ext, &next);
        if (rc == 0 && d.rolling)
            rc = recompute(hub, txn, m, q, HUB_BASIS_ROLLING_12M, NULL, NULL);
    }
    if (rc == 0 && changed.n > 0 && m->frequency == CDOF_FREQ_POOLED3) {
        cdof_period_t *years = malloc(n * sizeof *years);
        for (size_t i = 0; years && i < n; i++)
            years[i] = t[i].period;
        rc = years ? derive_pooled(hub, txn, m, years, n) : -ENOMEM;
        free(years);
    }
    free(old.items);
    free(changed.items);
    free(periods);
    free(ext);
    return rc;
}

void hub_results_forget(hub_t *hub, const hub_touch_t *touched, size_t n)
{
    hub_results_t *res = hub->results;
    for (size_t i = 0; res && res->months && i < n; i++) {
        if (touched[i].period.kind != CDOF_PERIOD_MONTH)
            continue;
        int idx = month_index(&touched[i].period);
        month_slot_t *sl = month_slot(res, touched[i].metric, idx);
        if (sl->metric == touched[i].metric->index && sl->month == idx)
            sl->valid = false;
    }
}

int hub_results_update(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *touched, size_t n)
{
    hub_touch_t *t = malloc((n ? n : 1) * sizeof *t);
    if (!t)
        return -ENOMEM;
    memcpy(t, touched, n * sizeof *t);
    qsort(t, n, sizeof *t, touch_order);
    /* The months this batch touched leave the month cache: they are read from the store. */
    hub_results_forget(hub, t, n);
    hub_results_t *res = hub->results;
    res->batch = t;
    res->nbatch = n;
    /* The rows written now are computed with this configuration. */
    int rc = n ? put_fingerprint(hub, txn) : 0;
    for (size_t i = 0, j; rc == 0 && i < n; i = j) {
        for (j = i + 1; j < n && t[j].metric == t[i].metric; j++)
            ;
        rc = update_metric(hub, txn, t + i, j - i);
    }
    res->batch = NULL;
    res->nbatch = 0;
    free(t);
    return rc;
}

int hub_results_update_period(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                              const cdof_period_t *p)
{
    hub_touch_t t = {.metric = m, .period = *p};
    hub_results_t *res = hub->results;
    hub_results_forget(hub, &t, 1);
    res->batch = &t;
    res->nbatch = 1;
    int rc = put_fingerprint(hub, txn);
    if (rc == 0)
        rc = recompute(hub, txn, m, p, HUB_BASIS_REPORTED, NULL, NULL);
    res->batch = NULL;
    res->nbatch = 0;
    return rc;
}

/* ---- rebuild ---- */

/* Deletes every key of db. */
static int delete_all(cdof_store_txn_t *txn, cdof_store_db_t db)
{
    cdof_store_cursor_t *c;
    int rc = cdof_store_cursor_open(txn, db, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, NULL, NULL); rc > 0;
         rc = cdof_store_cursor_next(c, NULL, NULL)) {
        if ((rc = cdof_store_cursor_del(c)) < 0)
            break;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

int hub_results_rebuild(hub_t *hub, cdof_store_txn_t *txn)
{
    int rc = delete_all(txn, hub->results->db);
    for (size_t mi = 0; rc == 0 && mi < cdof_ref_metric_count(hub->ref); mi++) {
        const cdof_metric_t *m = cdof_ref_metric_at(hub->ref, mi);
        cdof_period_t *periods = NULL;
        size_t n = 0;
        rc = hub_periods_list(hub, txn, m, &periods, &n);
        /* Pooled periods built from single years first, so that they are in the index. */
        if (rc == 0 && m->frequency == CDOF_FREQ_POOLED3) {
            rc = derive_pooled(hub, txn, m, periods, n);
            free(periods);
            periods = NULL;
            if (rc == 0)
                rc = hub_periods_list(hub, txn, m, &periods, &n);
        }
        /* Oldest first: a trend or a baseline reads the rows of earlier periods. */
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = recompute(hub, txn, m, &periods[i], HUB_BASIS_REPORTED, NULL, NULL);
            if (rc == 0 && has_rolling(m) && periods[i].kind == CDOF_PERIOD_MONTH)
                rc = recompute(hub, txn, m, &periods[i], HUB_BASIS_ROLLING_12M, NULL, NULL);
        }
        free(periods);
    }
    if (rc == 0)
        rc = put_fingerprint(hub, txn);
    return rc;
}

/* ---- configuration: partnerships and commitments ---- */

/* Count trajectories from the commitments (hub->commitments, loaded from commitments.csv): a
 * count metric whose commitment states a relative change grows by its yearly rate. Trajectories
 * are for counts only (rates and percentages have England and region to compare with). */
static void set_trajectories(hub_t *hub)
{
    for (size_t i = 0; i < cdof_commitments_count(hub->commitments); i++) {
        const cdof_commitment_t *c = cdof_commitments_at(hub->commitments, i);
        double yearly;
        if (c->metric->unit == CDOF_UNIT_COUNT && cdof_commitment_yearly_change(c, &yearly))
            hub->results->trajectory[c->metric->index] = yearly;
    }
}

int hub_results_open(hub_t *hub, const char *partnerships, char *err, size_t errlen)
{
    size_t nm = cdof_ref_metric_count(hub->ref);
    hub_results_t *res = calloc(1, sizeof *res);
    if (!res)
        return -ENOMEM;
    hub->results = res;
    res->months = calloc(MONTH_SLOTS, sizeof *res->months); /* NULL: works without it */
    res->trajectory = malloc((nm ? nm : 1) * sizeof *res->trajectory);
    if (!res->trajectory)
        return -ENOMEM;
    for (size_t i = 0; i < nm; i++)
        res->trajectory[i] = NAN;
    int rc = cdof_store_db(hub->store, "results", &res->db);
    if (rc < 0) {
        snprintf(err, errlen, "results database: %s", cdof_strerror(rc));
        return rc;
    }
    if (partnerships &&
        (rc = cdof_partnerships_load(partnerships, hub->ref, &res->parts, err, errlen)) < 0)
        return rc;
    set_trajectories(hub);
    return hub_periods_open(hub, err, errlen);
}

void hub_results_close(hub_t *hub)
{
    hub_periods_close(hub);
    hub_results_t *res = hub->results;
    if (!res)
        return;
    cdof_partnerships_destroy(&res->parts);
    free(res->trajectory);
    for (size_t i = 0; res->months && i < MONTH_SLOTS; i++)
        free(res->months[i].db);
    free(res->months);
    free(res);
    hub->results = NULL;
}

/* ---- check: rebuild and compare with what is stored ---- */

typedef struct {
    uint8_t *buf; /* key length u16 | key | value length u32 | value, repeated */
    size_t len, cap;
} snap_t;

static int snap_add(snap_t *s, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    size_t need = s->len + 6 + key->len + val->len;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1 << 20;
        while (cap < need)
            cap *= 2;
        uint8_t *b = realloc(s->buf, cap);
        if (!b)
            return -ENOMEM;
        s->buf = b;
        s->cap = cap;
    }
    cdof_store_be16(s->buf + s->len, (uint16_t)key->len);
    memcpy(s->buf + s->len + 2, key->data, key->len);
    cdof_store_be32(s->buf + s->len + 2 + key->len, (uint32_t)val->len);
    memcpy(s->buf + s->len + 6 + key->len, val->data, val->len);
    s->len = need;
    return 0;
}

/* Every key and value of db, in key order. */
static int snapshot(cdof_store_txn_t *txn, cdof_store_db_t db, snap_t *s)
{
    cdof_store_cursor_t *c;
    cdof_bytes_t k, v;
    int rc = cdof_store_cursor_open(txn, db, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v)) {
        if ((rc = snap_add(s, &k, &v)) < 0)
            break;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

/* "metric/basis/first_day-last_day/code" for a message. */
static void describe_key(const uint8_t *k, size_t len, char *out, size_t outlen)
{
    if (len == HUB_RESULT_FINGERPRINT_KEY_LEN && memcmp(k, HUB_RESULT_FINGERPRINT_KEY, len) == 0) {
        snprintf(out, outlen, "the partnerships and commitments the rows were computed with");
        return;
    }
    hub_result_key_t rk;
    if (hub_result_from_key(k, len, &rk) < 0) {
        snprintf(out, outlen, "a malformed key");
        return;
    }
    char pt[CDOF_PERIOD_TEXT_MAX] = "?";
    cdof_period_format(&rk.period, pt, sizeof pt);
    snprintf(out, outlen, "%.*s %s %s%s %.*s", (int)rk.metric_len, rk.metric_id, pt,
             rk.basis == HUB_BASIS_ROLLING_12M ? "rolling 12 months" : "as reported", "",
             (int)rk.code_len, rk.code);
}

/* The comparisons still marked as pending (a hub stopped before its tick did them) are brought
 * up to date in txn first, as a running hub would: the stored rows plus that pending work are
 * what a rebuild must equal. *n says how many metric-periods that was. Without the marks open
 * (hub_settle_open) there are none. */
static int apply_pending(hub_t *hub, cdof_store_txn_t *txn, size_t *n)
{
    hub_touch_t *items = NULL;
    *n = 0;
    if (!hub->settle)
        return 0;
    int rc = hub_settle_marks(hub, txn, &items, n);
    if (rc == 0 && *n)
        rc = hub_results_update(hub, txn, items, *n);
    free(items);
    return rc;
}

int hub_results_check(hub_t *hub, cdof_store_txn_t *txn, char *diff, size_t difflen)
{
    snap_t before = {0}, after = {0};
    size_t pending = 0;
    int rc = apply_pending(hub, txn, &pending);
    if (rc == 0)
        rc = snapshot(txn, hub->results->db, &before);
    if (rc == 0)
        rc = hub_results_rebuild(hub, txn);
    if (rc == 0)
        rc = snapshot(txn, hub->results->db, &after);
    size_t i = 0, j = 0, rows = 0;
    while (rc == 0 && (i < before.len || j < after.len)) {
        const uint8_t *a = before.buf + i, *b = after.buf + j;
        size_t ak = i < before.len ? cdof_store_rd16(a) : 0,
               bk = j < after.len ? cdof_store_rd16(b) : 0;
        size_t av = ak ? cdof_store_rd32(a + 2 + ak) : 0, bv = bk ? cdof_store_rd32(b + 2 + bk) : 0;
        char what[256];
        if (!ak || !bk || ak != bk || memcmp(a + 2, b + 2, ak) != 0) {
            bool stored_only =
                bk == 0 || (ak && (memcmp(a + 2, b + 2, ak < bk ? ak : bk) < 0 ||
                                   (memcmp(a + 2, b + 2, ak < bk ? ak : bk) == 0 && ak < bk)));
            describe_key(stored_only ? a + 2 : b + 2, stored_only ? ak : bk, what, sizeof what);
            snprintf(diff, difflen, "%s: %s", what,
                     stored_only ? "stored but not rebuilt" : "rebuilt but not stored");
            rc = 1;
        } else if (av != bv || memcmp(a + 6 + ak, b + 6 + bk, av) != 0) {
            describe_key(a + 2, ak, what, sizeof what);
            snprintf(diff, difflen, "%s: stored row differs from the rebuilt one", what);
            rc = 1;
        }
        i += 6 + ak + av;
        j += 6 + bk + bv;
        rows++;
    }
    if (rc == 0 && pending)
        snprintf(diff, difflen,
                 "%zu rows equal, once the %zu metric-period(s) still pending comparison were "
                 "brought up to date",
                 rows, pending);
    else if (rc == 0)
        snprintf(diff, difflen, "%zu rows equal", rows);
    else if (pending) {
        size_t len = strlen(diff);
        snprintf(diff + len, difflen - len, " (after %zu pending metric-period(s))", pending);
    }
    free(before.buf);
    free(after.buf);
    return rc;
}

int hub_results_rebuild_all(hub_t *hub, bool check, char *diff, size_t difflen, uint64_t *rows)
{
    int rc = 0;
    /* A rebuild is one transaction, so that a crash leaves the old rows, never half the new;
     * a full map spoils it, and the store grows the map at the next begin. */
    for (int attempt = 0; attempt < 12; attempt++) {
        cdof_store_txn_t *txn = NULL;
        rc = cdof_store_begin(hub->store, true, &txn);
        if (rc == 0 && check) {
            rc = hub_results_check(hub, txn, diff, difflen);
            cdof_store_abort(&txn);
        } else if (rc == 0) {
            rc = hub_results_rebuild(hub, txn);
            if (rc == 0 && rows)
                rc = hub_results_count(hub, txn, rows);
            if (rc == 0)
                rc = cdof_store_commit(&txn);
            else
                cdof_store_abort(&txn);
        }
        if (rc != CDOF_EMAPFULL)
            break;
        cdof_log_info("rebuild: store map full, growing it and starting again");
    }
    return rc;
}

const cdof_area_t *hub_results_area(const hub_t *hub, const char *code)
{
    return find_area(hub, code, strlen(code));
}

size_t hub_results_partnership_count(const hub_t *hub)
{
    return hub->results ? cdof_partnerships_count(hub->results->parts) : 0;
}

const cdof_partnership_t *hub_results_partnership_at(const hub_t *hub, size_t k)
{
    return k < hub_results_partnership_count(hub) ? &cdof_partnerships_list(hub->results->parts)[k]
                                                  : NULL;
}

/* --- who owes milestones --- */

typedef struct {
    char **names;
    size_t n, cap;
} owers_t;

static int owers_add(owers_t *o, const char *name, size_t len)
{
    char **p = cdof_grow(o->names, o->n, &o->cap, 32, sizeof *p);
    if (!p)
        return -ENOMEM;
    o->names = p;
    if (!(o->names[o->n] = strndup(name, len)))
        return -ENOMEM;
    o->n++;
    return 0;
}

/* Every partnership with a milestone event, once each. Milestone keys (hub_milestone_key) start
 * with the partnership: a reporter's keys are one run, so comparing with the last name added is
 * enough. */
static int owers_reported(cdof_store_txn_t *txn, cdof_store_db_t db, owers_t *o)
{
    cdof_store_cursor_t *c;
    cdof_bytes_t k;
    int rc = cdof_store_cursor_open(txn, db, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &k, NULL); rc > 0;
         rc = cdof_store_cursor_next(c, &k, NULL)) {
        hub_milestone_key_t mk;
        if (hub_milestone_from_key(k.data, k.len, &mk) < 0) {
            rc = CDOF_ECORRUPT;
            break;
        }
        if ((!o->n || strcmp(o->names[o->n - 1], mk.partnership)) &&
            (rc = owers_add(o, mk.partnership, strlen(mk.partnership))) < 0)
            break;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int hub_milestone_owers(hub_t *hub, cdof_store_txn_t *txn, char ***names, size_t *n)
{
    owers_t o = {0};
    *names = NULL;
    *n = 0;
    int rc = owers_reported(txn, hub_db_milestones(hub->db), &o);
    for (size_t k = 0; rc == 0 && k < hub_results_partnership_count(hub); k++) {
        const char *code = hub_results_partnership_at(hub, k)->area.code;
        rc = owers_add(&o, code, strlen(code));
    }
    if (rc < 0) {
        hub_milestone_owers_free(o.names, o.n);
        return rc;
    }
    if (o.n)
        qsort(o.names, o.n, sizeof *o.names, cmp_name);
    size_t w = 0; /* configured and reported: once */
    for (size_t r = 0; r < o.n; r++) {
        if (w && !strcmp(o.names[w - 1], o.names[r]))
            free(o.names[r]);
        else
            o.names[w++] = o.names[r];
    }
    *names = o.names;
    *n = w;
    return 0;
}

void hub_milestone_owers_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}
