/* Fetching the annual report's figures from the hub (report.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_csv.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "report.h"
#include "report_suppress.h"

/* Bounds the pages followed for one query. */
#define REPORT_MAX_PAGES 1000

void cdof_report_free(cdof_report_t *r)
{
    for (size_t i = 0; r->metrics && i < r->nmetrics; i++) {
        free(r->metrics[i].trend);
        free(r->metrics[i].cells);
        free(r->metrics[i].pcells);
        free(r->metrics[i].missing);
    }
    free(r->partnerships);
    free(r->names);
    free(r->national_marks);
    free(r->rejected);
    free(r->revisions);
    free(r->metrics);
    free(r->national);
    free(r->milestones);
    free(r->alerts);
    for (size_t i = 0; i < 3; i++)
        cdof_client_pages_free(&r->pages[i]);
    memset(r, 0, sizeof *r);
}

/* Runs req to its last page into *pages; an answer other than OK is an error naming it. */
static int ask(cdof_client_t *client, Cdof__V1__QueryRequest *req, const char *what,
               cdof_client_pages_t *pages, char *err, size_t errlen)
{
    int rc = cdof_client_fetch(client, req, REPORT_MAX_PAGES, pages, err, errlen);
    if (rc < 0)
        return rc;
    const Cdof__V1__QueryResponse *last = pages->pages[pages->npages - 1];
    if (last->status != CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK) {
        snprintf(err, errlen, "%s: the hub answered %s: %s", what,
                 cdof_client_status_name(last->status), last->error ? last->error : "");
        return CDOF_EINVALID;
    }
    return 0;
}

/* Gathers one repeated field of every page into a new array (*out owned by the caller). */
#define GATHER(pg_, field_, count_, type_, out_, nout_)                                            \
    do {                                                                                           \
        size_t total_ = 0, k_ = 0;                                                                 \
        for (size_t i_ = 0; i_ < (pg_)->npages; i_++)                                              \
            total_ += (pg_)->pages[i_]->count_;                                                    \
        *(out_) = calloc(total_ ? total_ : 1, sizeof(type_));                                      \
        if (!*(out_))                                                                              \
            return -ENOMEM;                                                                        \
        for (size_t i_ = 0; i_ < (pg_)->npages; i_++)                                              \
            for (size_t j_ = 0; j_ < (pg_)->pages[i_]->count_; j_++)                               \
                (*(out_))[k_++] = (pg_)->pages[i_]->field_[j_];                                    \
        *(nout_) = total_;                                                                         \
    } while (0)

static bool wire_period(const Cdof__V1__Period *w, cdof_period_t *p)
{
    if (!w)
        return false;
    *p = (cdof_period_t){(cdof_period_kind_t)w->kind, w->first_day, w->last_day};
    return cdof_period_valid(p);
}

/* England's series for m: picks the latest period ending by the year's end, keeps the trend of
 * periods of its kind and length, and counts those inside the year. */
static int fetch_trend(cdof_client_t *client, cdof_report_t *r, cdof_report_metric_t *rm,
                       cdof_period_t *chosen, char *err, size_t errlen)
{
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__SeriesQuery q = CDOF__V1__SERIES_QUERY__INIT;
    q.metric_id = (char *)rm->metric->id;
    q.area_code = (char *)CDOF_ENGLAND_CODE;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_SERIES;
    req.series = &q;
    cdof_client_pages_t pages = {0};
    int rc = ask(client, &req, rm->metric->id, &pages, err, errlen);
    /* A complete period before any incomplete one; the latest of each. England's row says
     * whether its figure is provisional (summed from an incomplete period). */
    bool have = false, have_complete = false;
    for (size_t i = 0; rc == 0 && i < pages.npages; i++) {
        for (size_t j = 0; j < pages.pages[i]->n_rows; j++) {
            const Cdof__V1__ComparisonRow *row = pages.pages[i]->rows[j];
            cdof_period_t p;
            if (!row->has_value || !wire_period(row->period, &p) || p.last_day > r->year_last)
                continue;
            bool complete = !row->provisional;
            bool later = p.last_day > chosen->last_day ||
                         (p.last_day == chosen->last_day && p.first_day > chosen->first_day);
            if (!have || (complete && !have_complete) || (complete == have_complete && later)) {
                *chosen = p;
                have = true;
                have_complete = complete;
                rm->mark = (cdof_report_mark_t){(int32_t)row->reported, (int32_t)row->expected,
                                                row->provisional};
            }
        }
    }
    rm->none_complete = have && !have_complete;
    if (rc == 0 && have) {
        size_t n = 0;
        for (size_t i = 0; i < pages.npages; i++)
            n += pages.pages[i]->n_rows;
        if (!(rm->trend = calloc(n ? n : 1, sizeof *rm->trend)))
            rc = -ENOMEM;
        for (size_t i = 0; rc == 0 && i < pages.npages; i++) {
            for (size_t j = 0; j < pages.pages[i]->n_rows; j++) {
                const Cdof__V1__ComparisonRow *row = pages.pages[i]->rows[j];
                cdof_period_t p;
                if (!row->has_value || !wire_period(row->period, &p) || p.kind != chosen->kind ||
                    p.last_day > r->year_last ||
                    (p.kind == CDOF_PERIOD_POOLED_YEARS &&
                     abs((p.last_day - p.first_day) - (chosen->last_day - chosen->first_day)) > 2))
                    continue; /* months differ in days; pooled spans by a leap day */
                cdof_report_point_t *pt = &rm->trend[rm->ntrend++];
                cdof_period_format(&p, pt->period, sizeof pt->period);
                pt->value = row->value;
                pt->provisional = row->provisional;
                if (p.first_day >= r->year_first)
                    rm->periods_in_year++;
            }
        }
        cdof_period_format(chosen, rm->period, sizeof rm->period);
    }
    cdof_client_pages_free(&pages);
    return rc;
}

/* Notes that area index ai belongs to the configured partnership code. Partnerships past the
 * bound are left out of the report (their areas are still in it). */
static int note_member(cdof_report_t *r, const char *code, size_t ai)
{
    size_t k = 0;
    while (k < r->npartnerships && strcmp(r->partnerships[k].code, code) != 0)
        k++;
    if (k == r->npartnerships) {
        if (k == CDOF_REPORT_MAX_PARTNERSHIPS || strlen(code) >= CDOF_REPORT_CODE_MAX)
            return 0;
        if (!r->partnerships &&
            !(r->partnerships = calloc(CDOF_REPORT_MAX_PARTNERSHIPS, sizeof *r->partnerships)))
            return -ENOMEM;
        snprintf(r->partnerships[k].code, sizeof r->partnerships[k].code, "%s", code);
        r->npartnerships++;
    }
    cdof_report_partnership_t *pt = &r->partnerships[k];
    for (size_t j = 0; j < pt->nmembers; j++) {
        if (pt->members[j] == ai)
            return 0;
    }
    if (pt->nmembers == CDOF_REPORT_MAX_MEMBERS)
        return 0;
    /* Kept in reference order (the league's order is by value). */
    size_t at = pt->nmembers++;
    for (; at > 0 && pt->members[at - 1] > ai; at--)
        pt->members[at] = pt->members[at - 1];
    pt->members[at] = ai;
    return 0;
}

/* A stored comparison row as a report cell. */
static void fill_cell(cdof_report_cell_t *c, const cdof_metric_t *m,
                      const Cdof__V1__ComparisonRow *row)
{
    c->has = true;
    c->value = row->value;
    c->lower = row->has_interval ? row->lower_95 : NAN;
    c->upper = row->has_interval ? row->upper_95 : NAN;
    c->has_count = row->has_numerator || m->unit == CDOF_UNIT_COUNT;
    c->count = row->has_numerator ? row->numerator : row->value;
    c->has_denominator = row->has_denominator;
    c->denominator = row->denominator;
    c->vs_england = row->vs_england;
    c->quintile = (int)row->quintile;
    /* Aggregates (partnerships) carry their coverage; any figure compared with a provisional
     * England figure is provisional as a comparison. */
    c->mark = (cdof_report_mark_t){(int32_t)row->reported, (int32_t)row->expected,
                                   row->provisional || row->england_provisional};
}

static int fetch_league(cdof_client_t *client, const cdof_ref_t *ref, cdof_report_t *r,
                        cdof_report_metric_t *rm, char *err, size_t errlen)
{
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__LeagueQuery q = CDOF__V1__LEAGUE_QUERY__INIT;
    q.metric_id = (char *)rm->metric->id;
    q.period = rm->period;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_LEAGUE;
    req.league = &q;
    cdof_client_pages_t pages = {0};
    int rc = ask(client, &req, rm->metric->id, &pages, err, errlen);
    for (size_t i = 0; rc == 0 && i < pages.npages; i++) {
        for (size_t j = 0; j < pages.pages[i]->n_rows; j++) {
            const Cdof__V1__ComparisonRow *row = pages.pages[i]->rows[j];
            const cdof_area_t *a = cdof_ref_area(ref, row->area_code);
            if (!a || a->kind != CDOF_AREA_UTLA || !row->has_value)
                continue;
            if (!rm->cells && !(rm->cells = calloc(cdof_ref_area_count(ref), sizeof *rm->cells))) {
                rc = -ENOMEM;
                break;
            }
            fill_cell(&rm->cells[a->index], rm->metric, row);
            rm->areas_reporting++;
            /* A row naming a partnership other than itself: the hub has one configured. */
            if (row->partnership && *row->partnership &&
                strcmp(row->partnership, row->area_code) != 0 &&
                (rc = note_member(r, row->partnership, a->index)) < 0)
                break;
            /* Regions and England as the hub gave them (the benchmark values). */
            const cdof_area_t *reg = cdof_ref_area(ref, a->region_code);
            if (reg) {
                rm->cells[reg->index].has = true;
                rm->cells[reg->index].value = row->region_value;
                rm->cells[reg->index].mark.provisional |= row->region_provisional;
            }
            rm->cells[0].has = true;
            rm->cells[0].value = row->england_value;
        }
    }
    if (rm->cells)
        rm->cells[0].mark = rm->mark;
    cdof_client_pages_free(&pages);
    return rc;
}

static cdof_report_pstate_t pstate_of(Cdof__V1__PeriodState s)
{
    switch (s) {
    case CDOF__V1__PERIOD_STATE__PERIOD_STATE_OPEN:
        return CDOF_REPORT_PERIOD_OPEN;
    case CDOF__V1__PERIOD_STATE__PERIOD_STATE_COMPLETE:
        return CDOF_REPORT_PERIOD_COMPLETE;
    case CDOF__V1__PERIOD_STATE__PERIOD_STATE_CLOSED:
        return CDOF_REPORT_PERIOD_CLOSED;
    default:
        return CDOF_REPORT_PERIOD_UNKNOWN;
    }
}

/* The hub's coverage of rm's period (its `coverage` query): the state, England's, each region's
 * and each partnership's reported / expected, and the areas still missing. A hub that keeps no
 * state for the period (data stored before it judged periods, or one without the query) leaves
 * the marks as they are: the report then says "coverage not reported". Runs after the league and
 * partnership queries, whose cells it completes. */
static int fetch_coverage(cdof_client_t *client, const cdof_ref_t *ref, cdof_report_t *r,
                          cdof_report_metric_t *rm, char *err, size_t errlen)
{
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__CoverageQuery q = CDOF__V1__COVERAGE_QUERY__INIT;
    q.metric_id = (char *)rm->metric->id;
    q.period = rm->period;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_COVERAGE;
    req.coverage = &q;
    cdof_client_pages_t pages = {0};
    int rc = cdof_client_fetch(client, &req, REPORT_MAX_PAGES, &pages, err, errlen);
    if (rc < 0)
        return rc;
    const Cdof__V1__QueryResponse *first = pages.pages[0];
    if (first->status != CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK || first->n_periods == 0) {
        cdof_client_pages_free(&pages);
        return 0;
    }
    const Cdof__V1__PeriodStatus *st = first->periods[0]; /* then its history */
    rm->coverage_known = true;
    rm->state = pstate_of(st->state);
    for (size_t g = 0; rc == 0 && g < st->n_groups; g++) {
        const Cdof__V1__CoverageGroup *cg = st->groups[g];
        cdof_report_mark_t *mk = NULL;
        const cdof_area_t *a = cg->code ? cdof_ref_area(ref, cg->code) : NULL;
        if (a && a->index == 0) {
            mk = &rm->mark;
            free(rm->missing);
            rm->nmissing = 0;
            if (!(rm->missing = calloc(cg->n_missing ? cg->n_missing : 1, sizeof *rm->missing)))
                rc = -ENOMEM;
            for (size_t k = 0; rc == 0 && k < cg->n_missing; k++) {
                const cdof_area_t *ma = cdof_ref_area(ref, cg->missing[k]);
                if (ma)
                    rm->missing[rm->nmissing++] = ma->index;
            }
        } else if (a && rm->cells) {
            mk = &rm->cells[a->index].mark;
        } else if (!a && rm->pcells) {
            for (size_t k = 0; k < r->npartnerships; k++) {
                if (!strcmp(r->partnerships[k].code, cg->code))
                    mk = &rm->pcells[k].mark;
            }
        }
        if (mk) {
            mk->covered = (int32_t)cg->reported;
            mk->expected = (int32_t)cg->expected;
        }
    }
    if (rm->cells)
        rm->cells[0].mark = rm->mark;
    cdof_client_pages_free(&pages);
    return rc;
}

/* Each partnership's stored rows for the metrics' report periods: one area query per
 * partnership and distinct period. */
static int fetch_partnerships(cdof_client_t *client, cdof_report_t *r, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->nmetrics; i++) {
        const char *period = r->metrics[i].period;
        bool asked = !*period;
        for (size_t j = 0; !asked && j < i; j++)
            asked = !strcmp(r->metrics[j].period, period);
        for (size_t k = 0; !asked && rc == 0 && k < r->npartnerships; k++) {
            Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
            Cdof__V1__AreaQuery q = CDOF__V1__AREA_QUERY__INIT;
            q.area_code = r->partnerships[k].code;
            q.period = (char *)period;
            req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AREA;
            req.area = &q;
            cdof_client_pages_t pages = {0};
            rc = ask(client, &req, r->partnerships[k].code, &pages, err, errlen);
            for (size_t pg = 0; rc == 0 && pg < pages.npages; pg++) {
                for (size_t j = 0; rc == 0 && j < pages.pages[pg]->n_rows; j++) {
                    const Cdof__V1__ComparisonRow *row = pages.pages[pg]->rows[j];
                    for (size_t m = 0; m < r->nmetrics; m++) {
                        cdof_report_metric_t *rm = &r->metrics[m];
                        if (strcmp(rm->period, period) != 0 ||
                            strcmp(rm->metric->id, row->metric_id) != 0 || !row->has_value)
                            continue;
                        if (!rm->pcells && !(rm->pcells = calloc(CDOF_REPORT_MAX_PARTNERSHIPS,
                                                                 sizeof *rm->pcells))) {
                            rc = -ENOMEM;
                            break;
                        }
                        fill_cell(&rm->pcells[k], rm->metric, row);
                    }
                }
            }
            cdof_client_pages_free(&pages);
        }
    }
    return rc;
}

/* Envelopes the hub refused, counted by partnership and reason. A hub without the query (an
 * older one) leaves rejected_known false and the report says so. */
static int fetch_rejections(cdof_client_t *client, cdof_report_t *r, char *err, size_t errlen)
{
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__RejectionsQuery q = CDOF__V1__REJECTIONS_QUERY__INIT;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_REJECTIONS;
    req.rejections = &q;
    cdof_client_pages_t pages = {0};
    int rc = cdof_client_fetch(client, &req, REPORT_MAX_PAGES, &pages, err, errlen);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    r->rejected_known =
        pages.pages[pages.npages - 1]->status == CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK;
    for (size_t i = 0; r->rejected_known && rc == 0 && i < pages.npages; i++) {
        for (size_t j = 0; rc == 0 && j < pages.pages[i]->n_rejections; j++) {
            const Cdof__V1__Rejection *x = pages.pages[i]->rejections[j];
            const char *who = x->partnership && *x->partnership ? x->partnership : x->agent_id;
            size_t k = 0;
            while (k < r->nrejected && (strcmp(r->rejected[k].partnership, who) != 0 ||
                                        strncmp(r->rejected[k].reason, x->reason,
                                                sizeof r->rejected[k].reason - 1) != 0))
                k++;
            if (k == r->nrejected) {
                cdof_report_rejected_t *g =
                    cdof_grow(r->rejected, r->nrejected, &cap, 8, sizeof *r->rejected);
                if (!g) {
                    rc = -ENOMEM;
                    break;
                }
                r->rejected = g;
                memset(&g[k], 0, sizeof g[k]);
                snprintf(g[k].partnership, sizeof g[k].partnership, "%s", who);
                snprintf(g[k].reason, sizeof g[k].reason, "%s", x->reason);
                r->nrejected++;
            }
            r->rejected[k].rows++;
        }
    }
    cdof_client_pages_free(&pages);
    return rc;
}

/* Areas of m's period p whose figure arrived after ms (its league's received times). */
static int count_late_rows(cdof_client_t *client, const char *metric_id, const char *period,
                           int64_t ms, uint32_t *rows, char *err, size_t errlen)
{
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__LeagueQuery q = CDOF__V1__LEAGUE_QUERY__INIT;
    q.metric_id = (char *)metric_id;
    q.period = (char *)period;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_LEAGUE;
    req.league = &q;
    cdof_client_pages_t pages = {0};
    int rc = ask(client, &req, "league", &pages, err, errlen);
    *rows = 0;
    for (size_t i = 0; rc == 0 && i < pages.npages; i++) {
        for (size_t j = 0; j < pages.pages[i]->n_rows; j++)
            *rows += pages.pages[i]->rows[j]->received_ms > ms;
    }
    cdof_client_pages_free(&pages);
    return rc;
}

/* m's periods inside the year that were revised after they completed: every period's state
 * (`coverage METRIC`), then the history of those with revisions. A hub without period states
 * leaves revisions_known false. */
static int fetch_revisions(cdof_client_t *client, cdof_report_t *r, const cdof_metric_t *m,
                           size_t *cap, char *err, size_t errlen)
{
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__CoverageQuery q = CDOF__V1__COVERAGE_QUERY__INIT;
    q.metric_id = (char *)m->id;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_COVERAGE;
    req.coverage = &q;
    cdof_client_pages_t all = {0};
    int rc = cdof_client_fetch(client, &req, REPORT_MAX_PAGES, &all, err, errlen);
    if (rc < 0)
        return rc;
    if (all.pages[all.npages - 1]->status == CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK)
        r->revisions_known = true;
    for (size_t i = 0; rc == 0 && r->revisions_known && i < all.npages; i++) {
        for (size_t j = 0; rc == 0 && j < all.pages[i]->n_periods; j++) {
            const Cdof__V1__PeriodStatus *st = all.pages[i]->periods[j];
            cdof_period_t p;
            if (!st->revisions || !wire_period(st->period, &p) || p.first_day < r->year_first ||
                p.last_day > r->year_last)
                continue;
            cdof_report_revision_t v = {0};
            snprintf(v.metric_id, sizeof v.metric_id, "%s", m->id);
            cdof_period_format(&p, v.period, sizeof v.period);
            Cdof__V1__CoverageQuery one = CDOF__V1__COVERAGE_QUERY__INIT;
            one.metric_id = (char *)m->id;
            one.period = v.period;
            req.coverage = &one;
            cdof_client_pages_t h = {0};
            int64_t completed_ms = 0;
            if ((rc = ask(client, &req, "coverage", &h, err, errlen)) == 0) {
                /* The first record is the state now; history records follow, oldest first. */
                for (size_t k = 1; k < h.pages[0]->n_periods; k++) {
                    const Cdof__V1__PeriodStatus *e = h.pages[0]->periods[k];
                    int32_t day = (int32_t)(e->changed_ms / 86400000);
                    /* Complete by coverage or closed by a person: the first of them is
                     * when the period was published. */
                    if (e->event && !completed_ms &&
                        (!strcmp(e->event, "completed") || !strcmp(e->event, "closed"))) {
                        completed_ms = e->changed_ms;
                        v.completed_day = day;
                    } else if (e->event && !strcmp(e->event, "revised")) {
                        v.batches++;
                        v.revised_day = day;
                    }
                }
            }
            cdof_client_pages_free(&h);
            if (rc == 0 && v.batches)
                rc = count_late_rows(client, m->id, v.period, completed_ms, &v.rows, err, errlen);
            if (rc == 0 && v.batches) {
                cdof_report_revision_t *g =
                    cdof_grow(r->revisions, r->nrevisions, cap, 8, sizeof *r->revisions);
                if (!g)
                    rc = -ENOMEM;
                else
                    (r->revisions = g)[r->nrevisions++] = v;
            }
        }
    }
    cdof_client_pages_free(&all);
    return rc;
}

int cdof_report_fetch(cdof_client_t *client, const cdof_ref_t *ref, const char *year, int32_t as_of,
                      cdof_report_t *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    cdof_period_t fy;
    char why[256];
    if (cdof_period_parse(year, &fy, why, sizeof why) < 0 ||
        fy.kind != CDOF_PERIOD_FINANCIAL_YEAR) {
        snprintf(err, errlen, "--year: '%s' is not a financial year such as 2024/25", year);
        return CDOF_EINVALID;
    }
    snprintf(r->year, sizeof r->year, "%s", year);
    r->year_first = fy.first_day;
    r->year_last = fy.last_day;
    int32_t today = cdof_clock_today();
    r->as_of = as_of ? as_of : today < fy.last_day ? today : fy.last_day;
    r->generated_ms = cdof_clock_now_ms();

    size_t nm = cdof_ref_metric_count(ref);
    if (!(r->metrics = calloc(nm, sizeof *r->metrics)))
        return -ENOMEM;
    r->nmetrics = nm;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nm; i++) {
        cdof_report_metric_t *rm = &r->metrics[i];
        rm->metric = cdof_ref_metric_at(ref, i);
        cdof_period_t chosen;
        rc = fetch_trend(client, r, rm, &chosen, err, errlen);
        if (rc == 0 && rm->period[0])
            rc = fetch_league(client, ref, r, rm, err, errlen);
    }
    if (rc == 0)
        rc = fetch_partnerships(client, r, err, errlen);
    for (size_t i = 0; rc == 0 && i < nm; i++) {
        if (r->metrics[i].period[0])
            rc = fetch_coverage(client, ref, r, &r->metrics[i], err, errlen);
    }
    if (rc < 0)
        return rc;

    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_NATIONAL;
    req.national = 1;
    if ((rc = ask(client, &req, "national", &r->pages[0], err, errlen)) < 0)
        return rc;
    GATHER(&r->pages[0], national, n_national, Cdof__V1__NationalRow *, &r->national,
           &r->nnational);
    /* Each headline figure's coverage, as the hub gave it with the figure. */
    if (!(r->national_marks = calloc(r->nnational ? r->nnational : 1, sizeof *r->national_marks)))
        return -ENOMEM;
    for (size_t i = 0; i < r->nnational; i++)
        r->national_marks[i] = (cdof_report_mark_t){(int32_t)r->national[i]->latest_reported,
                                                    (int32_t)r->national[i]->latest_expected,
                                                    r->national[i]->latest_provisional};

    Cdof__V1__QueryRequest mreq = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__MilestonesQuery mq = CDOF__V1__MILESTONES_QUERY__INIT;
    mq.as_of_day = r->as_of;
    mreq.query_case = CDOF__V1__QUERY_REQUEST__QUERY_MILESTONES_AT;
    mreq.milestones_at = &mq;
    if ((rc = ask(client, &mreq, "milestones", &r->pages[1], err, errlen)) < 0)
        return rc;
    GATHER(&r->pages[1], milestones, n_milestones, Cdof__V1__MilestoneRow *, &r->milestones,
           &r->nmilestones);

    Cdof__V1__QueryRequest areq = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__AlertsQuery aq = CDOF__V1__ALERTS_QUERY__INIT;
    areq.query_case = CDOF__V1__QUERY_REQUEST__QUERY_ALERTS;
    areq.alerts = &aq;
    if ((rc = ask(client, &areq, "alerts", &r->pages[2], err, errlen)) < 0)
        return rc;
    GATHER(&r->pages[2], alerts, n_alerts, Cdof__V1__Alert *, &r->alerts, &r->nalerts);

    /* The hub's count of refused envelopes: the one data quality figure it keeps. */
    Cdof__V1__QueryRequest hreq = CDOF__V1__QUERY_REQUEST__INIT;
    hreq.query_case = CDOF__V1__QUERY_REQUEST__QUERY_HEALTH;
    hreq.health = 1;
    cdof_client_pages_t hp = {0};
    if ((rc = ask(client, &hreq, "health", &hp, err, errlen)) == 0 && hp.pages[0]->health) {
        r->hub_rejected = hp.pages[0]->health->rejected;
        r->has_hub_rejected = true;
    }
    cdof_client_pages_free(&hp);
    if (rc == 0)
        rc = fetch_rejections(client, r, err, errlen);
    size_t vcap = 0;
    for (size_t i = 0; rc == 0 && i < nm; i++)
        rc = fetch_revisions(client, r, r->metrics[i].metric, &vcap, err, errlen);
    return rc;
}

const char *cdof_report_partnership_name(const cdof_report_t *r, const char *id)
{
    for (size_t i = 0; i < r->nnames; i++) {
        if (!strcmp(r->names[i].id, id))
            return r->names[i].name;
    }
    return id;
}

int cdof_report_load_names(cdof_report_t *r, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    cdof_csv_t *csv = cdof_csv_new(fp, NULL);
    cdof_csv_record_t rec;
    char why[256];
    size_t cap = r->nnames;
    int rc = csv ? 0 : -ENOMEM, got = 0;
    if (rc == 0 && (got = cdof_csv_next(csv, &rec, why, sizeof why)) < 0) {
        snprintf(err, errlen, "%s:%lu: %s", path, rec.line, why);
        rc = got;
    } else if (rc == 0 &&
               (got == 0 || rec.nfields < 2 || strcmp(rec.fields[0].data, "partnership") != 0 ||
                strcmp(rec.fields[1].data, "area_code") != 0 ||
                (rec.nfields > 2 && strcmp(rec.fields[2].data, "name") != 0))) {
        snprintf(err, errlen, "%s:%lu: expected the header partnership,area_code[,name]", path,
                 got ? rec.line : 1);
        rc = CDOF_EINVALID;
    }
    while (rc == 0 && (got = cdof_csv_next(csv, &rec, why, sizeof why)) != 0) {
        if (got < 0) {
            snprintf(err, errlen, "%s:%lu: %s", path, rec.line, why);
            rc = got;
            break;
        }
        const char *id = rec.fields[0].data, *name = rec.nfields > 2 ? rec.fields[2].data : "";
        if (!*name)
            continue; /* the name is optional; one row of the partnership may carry it */
        if (strlen(id) >= CDOF_REPORT_CODE_MAX || strlen(name) >= CDOF_REPORT_NAME_MAX) {
            snprintf(err, errlen, "%s:%lu: field 'name': '%.64s' is longer than %d characters",
                     path, rec.line, name, CDOF_REPORT_NAME_MAX - 1);
            rc = CDOF_EINVALID;
            break;
        }
        size_t k = 0;
        while (k < r->nnames && strcmp(r->names[k].id, id) != 0)
            k++;
        if (k < r->nnames) {
            if (strcmp(r->names[k].name, name) != 0) {
                snprintf(err, errlen, "%s:%lu: field 'name': partnership %s is already named '%s'",
                         path, rec.line, id, r->names[k].name);
                rc = CDOF_EINVALID;
            }
            continue;
        }
        cdof_report_name_t *grown = cdof_grow(r->names, r->nnames, &cap, 16, sizeof *grown);
        if (!grown) {
            rc = -ENOMEM;
            break;
        }
        r->names = grown;
        snprintf(grown[k].id, sizeof grown[k].id, "%s", id);
        snprintf(grown[k].name, sizeof grown[k].name, "%s", name);
        r->nnames++;
    }
    cdof_csv_destroy(&csv);
    fclose(fp);
    return rc;
}
