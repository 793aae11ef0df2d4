/* Suppression and HTML rendering of the annual report (report.h). Everything is inline: the file
 * opens offline, prints, and attaches to an email as it is. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_client_alert.h"
#include "cdof_clock.h"
#include "cdof_grow.h"
#include "cdof_stats.h"
#include "cdof_wire.h"
#include "report.h"
#include "report_suppress.h"

#define DEATHS_METRIC    "drug_misuse_deaths"
#define PROGRESS_REPORT  "progress_report"
#define MAX_REGION_COLS  8 /* metrics per regional table, headline first */
#define MAX_ALERTS_LIST  100
#define SPINE_MIN_EVENTS 10 /* rates from fewer events are left out of a spine's range */
#define ENGLAND_INDEX    0  /* cdof_ref_area_at(ref, 0) is England */

/* --- suppression --- */

int cdof_report_suppress(cdof_report_t *r, const cdof_ref_t *ref)
{
    /* Cells: the reference areas, then the partnerships (index na + k). */
    size_t na = cdof_ref_area_count(ref), np = r->npartnerships, n_all = na + np;
    double *counts = calloc(n_all, sizeof *counts);
    double *dens = calloc(n_all, sizeof *dens);
    uint8_t *mask = calloc(n_all, 1);
    size_t *members = calloc(2 * na + np * (1 + CDOF_REPORT_MAX_MEMBERS), sizeof *members);
    cdof_sup_group_t *groups = calloc(na + np, sizeof *groups);
    int total = 0;
    if (!counts || !dens || !mask || !members || !groups) {
        total = -ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < r->nmetrics; k++) {
        cdof_report_metric_t *rm = &r->metrics[k];
        if (!rm->cells)
            continue;
        /* Counts of the areas; regions and England are the sums the report implies. */
        for (size_t i = 0; i < n_all; i++)
            counts[i] = dens[i] = NAN;
        bool proportion = rm->metric->unit == CDOF_UNIT_PERCENTAGE;
        for (size_t i = 0; i < na; i++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, i);
            const cdof_report_cell_t *c = &rm->cells[i];
            if (a->kind != CDOF_AREA_UTLA || !c->has || !c->has_count)
                continue;
            counts[i] = c->count;
            /* An area without a denominator leaves its region's and England's NaN. */
            dens[i] = proportion && c->has_denominator ? c->denominator : NAN;
            const cdof_area_t *reg = cdof_ref_area(ref, a->region_code);
            size_t sums[] = {reg ? reg->index : ENGLAND_INDEX, ENGLAND_INDEX};
            for (size_t s = 0; s < (reg ? 2u : 1u); s++) {
                bool first = isnan(counts[sums[s]]);
                counts[sums[s]] = first ? c->count : counts[sums[s]] + c->count;
                dens[sums[s]] = first ? dens[i] : dens[sums[s]] + dens[i];
            }
        }
        /* Groups: each region's areas with the region; the regions with England. */
        size_t ng = 0, used = 0;
        size_t eng_start = used;
        members[used++] = ENGLAND_INDEX;
        for (size_t i = 0; i < na; i++) {
            const cdof_area_t *reg = cdof_ref_area_at(ref, i);
            if (reg->kind != CDOF_AREA_REGION)
                continue;
            members[used++] = i;
        }
        groups[ng++] = (cdof_sup_group_t){members + eng_start, used - eng_start};
        for (size_t i = 0; i < na; i++) {
            const cdof_area_t *reg = cdof_ref_area_at(ref, i);
            if (reg->kind != CDOF_AREA_REGION)
                continue;
            size_t start = used;
            members[used++] = i;
            for (size_t j = 0; j < na; j++) {
                const cdof_area_t *a = cdof_ref_area_at(ref, j);
                if (a->kind == CDOF_AREA_UTLA && !strcmp(a->region_code, reg->code))
                    members[used++] = j;
            }
            groups[ng++] = (cdof_sup_group_t){members + start, used - start};
        }
        /* Each partnership with its areas: its count is their sum. */
        for (size_t p = 0; p < np; p++) {
            const cdof_report_cell_t *c = rm->pcells ? &rm->pcells[p] : NULL;
            if (c && c->has && c->has_count) {
                counts[na + p] = c->count;
                dens[na + p] = proportion && c->has_denominator ? c->denominator : NAN;
            }
            size_t start = used;
            members[used++] = na + p;
            for (size_t j = 0; j < r->partnerships[p].nmembers; j++)
                members[used++] = r->partnerships[p].members[j];
            groups[ng++] = (cdof_sup_group_t){members + start, used - start};
        }
        int n = cdof_suppress_proportions(counts, dens, n_all, groups, ng, mask);
        if (n < 0) {
            total = n;
            goto out;
        }
        total += n;
        for (size_t i = 0; i < na; i++)
            rm->cells[i].sup = mask[i];
        for (size_t p = 0; rm->pcells && p < np; p++)
            rm->pcells[p].sup = mask[na + p];
    }
out:
    free(counts);
    free(dens);
    free(mask);
    free(members);
    free(groups);
    return total;
}

/* --- words --- */

static cdof_rr_unit_t unit_of(const cdof_metric_t *m)
{
    switch (m->unit) {
    case CDOF_UNIT_PERCENTAGE:
        return (cdof_rr_unit_t){CDOF_RR_PERCENT, 100};
    case CDOF_UNIT_RATE:
        return (cdof_rr_unit_t){CDOF_RR_RATE, m->multiplier};
    default:
        return (cdof_rr_unit_t){CDOF_RR_COUNT, 1};
    }
}

static cdof_rr_verdict_t verdict_of(Cdof__V1__Verdict v)
{
    switch (v) {
    case CDOF__V1__VERDICT__VERDICT_BETTER:
        return CDOF_RR_V_BETTER;
    case CDOF__V1__VERDICT__VERDICT_BEST:
        return CDOF_RR_V_BEST;
    case CDOF__V1__VERDICT__VERDICT_SIMILAR:
        return CDOF_RR_V_SIMILAR;
    case CDOF__V1__VERDICT__VERDICT_WORSE:
        return CDOF_RR_V_WORSE;
    case CDOF__V1__VERDICT__VERDICT_WORST:
        return CDOF_RR_V_WORST;
    case CDOF__V1__VERDICT__VERDICT_HIGHER:
        return CDOF_RR_V_HIGHER;
    case CDOF__V1__VERDICT__VERDICT_LOWER:
        return CDOF_RR_V_LOWER;
    default:
        return CDOF_RR_V_NOT_COMPARED;
    }
}

static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};

/* "30 April 2024"; "-" for day 0. */
static void long_date(int32_t day, char *out, size_t len)
{
    if (!day) {
        snprintf(out, len, "-");
        return;
    }
    int y, m, d;
    cdof_civil_from_days(day, &y, &m, &d);
    snprintf(out, len, "%d %s %d", d, month_names[(m - 1) % 12], y);
}

/* A period in words: "March 2024", "January to March 2024", "2023/24", "2021 to 2023". */
static void period_words(const char *text, char *out, size_t len)
{
    cdof_period_t p;
    char why[128];
    if (!text || !*text || cdof_period_parse(text, &p, why, sizeof why) < 0) {
        snprintf(out, len, "%s", text && *text ? text : "no period");
        return;
    }
    int y1, m1, d1, y2, m2, d2;
    cdof_civil_from_days(p.first_day, &y1, &m1, &d1);
    cdof_civil_from_days(p.last_day, &y2, &m2, &d2);
    switch (p.kind) {
    case CDOF_PERIOD_MONTH:
        snprintf(out, len, "%s %d", month_names[m1 - 1], y1);
        break;
    case CDOF_PERIOD_QUARTER:
        snprintf(out, len, "%s to %s %d", month_names[m1 - 1], month_names[m2 - 1], y2);
        break;
    case CDOF_PERIOD_FINANCIAL_YEAR:
        snprintf(out, len, "%s (April %d to March %d)", text, y1, y2);
        break;
    case CDOF_PERIOD_POOLED_YEARS:
        snprintf(out, len, "%d to %d", y1, y2);
        break;
    default:
        snprintf(out, len, "%s", text);
    }
}

/* What a figure of metric m rests on, in words: "152 of 153 areas", "8 of 9 regions", "national
 * source reported"; "coverage not reported" when the hub did not say. */
static void coverage_words(const cdof_metric_t *m, const cdof_report_mark_t *mk, char *out,
                           size_t len)
{
    if (mk->expected <= 0)
        snprintf(out, len, "coverage not reported");
    else if (!strcmp(m->geography, "utla"))
        snprintf(out, len, "%d of %d areas", mk->covered, mk->expected);
    else if (!strcmp(m->geography, "region"))
        snprintf(out, len, "%d of %d regions", mk->covered, mk->expected);
    else if (mk->expected == 1)
        snprintf(out, len, "national source %s", mk->covered ? "reported" : "not yet reported");
    else
        snprintf(out, len, "%d of %d sources", mk->covered, mk->expected);
}

static bool shown(const cdof_report_t *r, const cdof_report_cell_t *c)
{
    return c->has && (r->internal || c->sup == CDOF_SUP_SHOWN);
}

static const cdof_report_metric_t *find_metric(const cdof_report_t *r, const char *id)
{
    for (size_t i = 0; i < r->nmetrics; i++) {
        if (!strcmp(r->metrics[i].metric->id, id))
            return &r->metrics[i];
    }
    return NULL;
}

static const char *metric_name(const cdof_report_t *r, const char *id)
{
    const cdof_report_metric_t *rm = find_metric(r, id);
    return rm ? rm->metric->name : id;
}

/* --- the page being built --- */

typedef struct {
    const cdof_report_t *r;
    const cdof_ref_t *ref;
    cdof_rr_buf_t *b;
    cdof_rr_table_t **tables; /* kept for the workbook (owned until handed over) */
    size_t ntables, cap;
    bool keep;
    int err;
} page_t;

/* Shows t in the page and keeps it for the workbook (or frees it). */
static void emit(page_t *pg, cdof_rr_table_t *t, bool show, bool keep)
{
    if (!t) {
        pg->err = pg->err ? pg->err : -ENOMEM;
        return;
    }
    int rc = show ? cdof_rr_table_html(t, pg->b) : 0;
    if (rc < 0 && !pg->err)
        pg->err = rc;
    if (keep && pg->keep) {
        cdof_rr_table_t **grown = cdof_grow(pg->tables, pg->ntables, &pg->cap, 32, sizeof *grown);
        if (grown) {
            pg->tables = grown;
            pg->tables[pg->ntables++] = t;
            return;
        }
        pg->err = pg->err ? pg->err : -ENOMEM;
    }
    cdof_rr_table_free(&t);
}

static void internal_mark(page_t *pg)
{
    if (pg->r->internal)
        cdof_rr_put(pg->b, "<p class=\"mark\">OFFICIAL-SENSITIVE: internal. Contains unsuppressed "
                           "small numbers; not for publication.</p>\n");
}

static void section_open(page_t *pg, const char *id, const char *title)
{
    cdof_rr_printf(pg->b, "<section id=\"%s\" aria-labelledby=\"%s-h\">\n", id, id);
    internal_mark(pg);
    cdof_rr_printf(pg->b, "<h2 id=\"%s-h\">", id);
    cdof_rr_text(pg->b, title);
    cdof_rr_put(pg->b, "</h2>\n");
}

/* A figure cell of metric rm for a place (code): its value, verdict, provisional mark and, for
 * aggregates, coverage; "*" when withheld. */
static cdof_rr_cell_t figure_cell(page_t *pg, const cdof_report_metric_t *rm, const char *code,
                                  const cdof_report_cell_t *c, bool aggregate, char *attrs,
                                  size_t attrlen, char *note, size_t notelen)
{
    cdof_rr_cell_t x = {.value = NAN};
    if (!c || !c->has)
        return x;
    snprintf(attrs, attrlen, "data-area=\"%s\" data-metric=\"%s\"", code, rm->metric->id);
    x.attrs = attrs;
    if (!shown(pg->r, c)) {
        x.withheld = true;
        return x;
    }
    x.value = c->value;
    x.provisional = c->mark.provisional;
    x.verdict = aggregate ? CDOF_RR_V_NONE : verdict_of(c->vs_england);
    if (aggregate) {
        coverage_words(rm->metric, &c->mark, note, notelen);
        x.note = note;
    }
    return x;
}

/* --- sections --- */

static size_t worse_areas(const cdof_report_metric_t *d, const cdof_ref_t *ref, size_t *order)
{
    size_t n = 0;
    for (size_t i = 0; d && d->cells && i < cdof_ref_area_count(ref); i++) {
        const cdof_report_cell_t *c = &d->cells[i];
        if (cdof_ref_area_at(ref, i)->kind == CDOF_AREA_UTLA && c->has &&
            (c->vs_england == CDOF__V1__VERDICT__VERDICT_WORSE ||
             c->vs_england == CDOF__V1__VERDICT__VERDICT_WORST))
            order[n++] = i;
    }
    /* Worst first, in the direction the polarity calls worse (insertion sort: at most 153). */
    bool low_good = d && d->metric->polarity == CDOF_POLARITY_LOW_GOOD;
    for (size_t i = 1; i < n; i++) {
        size_t x = order[i], j = i;
        double vx = d->cells[x].value;
        while (j > 0 &&
               (low_good ? d->cells[order[j - 1]].value < vx : d->cells[order[j - 1]].value > vx)) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
    return n;
}

static bool progress_late(const Cdof__V1__MilestoneRow *m)
{
    return !strcmp(m->milestone_id, PROGRESS_REPORT) &&
           (!strcmp(m->status, "overdue") || !strcmp(m->status, "done_late"));
}

static void findings_summary(page_t *pg, const cdof_report_metric_t *d)
{
    const cdof_report_t *r = pg->r;
    cdof_rr_buf_t *b = pg->b;
    size_t na = cdof_ref_area_count(pg->ref);
    size_t *order = calloc(na, sizeof *order);
    size_t n = order ? worse_areas(d, pg->ref, order) : 0;
    cdof_rr_put(b, "<ul class=\"summary\">\n<li><b>Drug deaths:</b> ");
    if (!d || !d->cells) {
        cdof_rr_put(b, "no figures for this year.");
    } else {
        char pw[64];
        period_words(d->period, pw, sizeof pw);
        cdof_rr_printf(b, "%zu area%s worse than England (%s%s)%s", n, n == 1 ? " is" : "s are", pw,
                       d->mark.provisional ? ", provisional" : "", n ? ": " : ".");
        for (size_t k = 0; k < n && k < 10; k++) {
            cdof_rr_text(b, cdof_ref_area_at(pg->ref, order[k])->name);
            cdof_rr_put(b, k + 1 < n && k < 9 ? ", " : n > 10 ? " and more" : ".");
        }
    }
    cdof_rr_put(b, " <a href=\"#deaths-worse\">The list of areas</a></li>\n"
                   "<li><b>Progress reports:</b> ");
    size_t late = 0;
    for (size_t i = 0; i < r->nmilestones; i++) {
        const Cdof__V1__MilestoneRow *m = r->milestones[i];
        if (!progress_late(m))
            continue;
        char d8[32];
        bool overdue = !strcmp(m->status, "overdue");
        long_date(overdue ? m->overdue_since : m->done_day, d8, sizeof d8);
        cdof_rr_put(b, late ? "; " : "");
        cdof_rr_text(b, cdof_report_partnership_name(r, m->partnership));
        cdof_rr_printf(b, overdue ? " is overdue (since %s)" : " reported late (on %s)", d8);
        late++;
    }
    cdof_rr_put(b, late ? ". " : "every partnership known to the hub is up to date. ");
    cdof_rr_put(b, "<a href=\"#progress-late\">The list of partnerships</a></li>\n</ul>\n");
    free(order);
}

static void key_findings(page_t *pg)
{
    const cdof_report_t *r = pg->r;
    const cdof_ref_t *ref = pg->ref;
    cdof_rr_buf_t *b = pg->b;
    section_open(pg, "key-findings", "Key findings");
    const cdof_report_metric_t *d = find_metric(r, DEATHS_METRIC);
    findings_summary(pg, d);
    cdof_rr_put(b, "<h3 id=\"deaths-worse\">Which areas are worse than England on drug deaths?"
                   "</h3>\n");
    if (!d || !d->cells) {
        cdof_rr_put(b, "<p>The hub holds no drug deaths figures for periods ending by the end of "
                       "this year.</p>\n");
    } else {
        char pw[64], uw[48];
        period_words(d->period, pw, sizeof pw);
        cdof_rr_unit_t u = unit_of(d->metric);
        cdof_rr_unit_words(u, uw, sizeof uw);
        cdof_rr_put(b, "<p>");
        cdof_rr_text(b, d->metric->name);
        cdof_rr_printf(b,
                       ", %s. Areas whose rate is significantly higher than England's (outside "
                       "the 95%% confidence interval), worst first.</p>\n",
                       pw);
        char cap[256];
        snprintf(cap, sizeof cap, "Areas worse than England on drug misuse deaths, %s", pw);
        cdof_rr_table_t *t = cdof_rr_table_new("deaths-worse-table", cap);
        if (t) {
            cdof_rr_table_column(t, "Area", NULL);
            cdof_rr_table_column(t, "Region", NULL);
            cdof_rr_table_column(t, "Deaths rate", &u);
            cdof_rr_table_column(t, "95% interval", NULL);
            cdof_rr_table_column(t, "England", &u);
        }
        size_t na = cdof_ref_area_count(ref);
        size_t *order = calloc(na, sizeof *order);
        size_t n = order ? worse_areas(d, ref, order) : 0;
        for (size_t k = 0; t && k < n; k++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, order[k]);
            const cdof_area_t *reg = cdof_ref_area(ref, a->region_code);
            const cdof_report_cell_t *c = &d->cells[order[k]];
            char attrs[160], note[64], lo[48] = "-", hi[48] = "-", iv[112];
            cdof_rr_table_row(t, false);
            cdof_rr_table_text(t, a->name);
            cdof_rr_table_text(t, reg ? reg->name : "");
            cdof_rr_cell_t x =
                figure_cell(pg, d, a->code, c, false, attrs, sizeof attrs, note, sizeof note);
            cdof_rr_table_cell(t, &x);
            if (shown(r, c) && isfinite(c->lower)) {
                cdof_rr_number(u, c->lower, lo, sizeof lo);
                cdof_rr_number(u, c->upper, hi, sizeof hi);
            }
            snprintf(iv, sizeof iv, "%s to %s", lo, hi);
            cdof_rr_table_text(t, iv);
            char engcov[64];
            coverage_words(d->metric, &d->mark, engcov, sizeof engcov);
            cdof_rr_table_cell(t, &(cdof_rr_cell_t){.value = d->cells[ENGLAND_INDEX].value,
                                                    .provisional = d->mark.provisional,
                                                    .note = engcov});
        }
        free(order);
        emit(pg, t, true, true);
        cdof_rr_printf(b,
                       "<p class=\"count\">%zu of %zu areas reporting are worse than England. "
                       "Rates are %s people.</p>\n",
                       n, d->areas_reporting, uw);
    }

    char asof[32];
    long_date(r->as_of, asof, sizeof asof);
    cdof_rr_printf(b,
                   "<h3 id=\"progress-late\">Which partnerships are late with their progress "
                   "report?</h3>\n<p>Standing on %s. The progress report to central government "
                   "was due by 30 April 2023 and every 12 months since.</p>\n",
                   asof);
    cdof_rr_table_t *t =
        cdof_rr_table_new("progress-late-table", "Partnerships late with their progress report");
    cdof_rr_unit_t days = {CDOF_RR_COUNT, 1};
    if (t) {
        cdof_rr_table_column(t, "Partnership", NULL);
        cdof_rr_table_column(t, "Standing", NULL);
        cdof_rr_table_column(t, "Deadline", NULL);
        cdof_rr_table_column(t, "Overdue since", NULL);
        cdof_rr_table_column(t, "Days overdue", &days);
        cdof_rr_table_column(t, "Reported", NULL);
    }
    size_t late = 0, total = 0;
    for (size_t i = 0; t && i < r->nmilestones; i++) {
        const Cdof__V1__MilestoneRow *m = r->milestones[i];
        total += !strcmp(m->milestone_id, PROGRESS_REPORT);
        if (!progress_late(m))
            continue;
        bool overdue = !strcmp(m->status, "overdue");
        late++;
        char due[32], since[32], done[32];
        long_date(m->due_day, due, sizeof due);
        long_date(m->overdue_since, since, sizeof since);
        long_date(m->done_day, done, sizeof done);
        cdof_rr_table_row(t, false);
        cdof_rr_table_text(t, cdof_report_partnership_name(r, m->partnership));
        cdof_rr_table_text(t, overdue ? "overdue: not reported" : "reported late");
        cdof_rr_table_text(t, due);
        cdof_rr_table_text(t, since);
        cdof_rr_table_figure(t, overdue ? (double)(r->as_of - m->overdue_since) : NAN);
        cdof_rr_table_text(t, done);
    }
    emit(pg, t, true, true);
    cdof_rr_printf(b,
                   "<p class=\"count\">%zu of %zu partnerships known to the hub are late or were "
                   "late with their latest progress report.</p>\n",
                   late, total);
    cdof_rr_put(b, "</section>\n");
}

/* Why a headline metric has no figure this year, in words; NULL when it has one. */
static const char *no_figure_reason(const cdof_report_metric_t *rm, const Cdof__V1__NationalRow *n)
{
    if (!rm || rm->ntrend == 0)
        return "No figure: none submitted for a period ending by the end of the year.";
    if (n && !n->has_latest)
        return "No figure: the hub could not total England's figure from what was submitted.";
    return NULL;
}

static void national(page_t *pg)
{
    const cdof_report_t *r = pg->r;
    cdof_rr_buf_t *b = pg->b;
    section_open(pg, "national", "England: headline metrics and the strategy's commitments");
    cdof_rr_put(b, "<p>England's figures (submitted by national sources, otherwise the sum of the "
                   "areas' numerators and denominators) against the commitments of <i>From harm "
                   "to hope</i> (December 2021). Progress is the share of the way from the "
                   "baseline to the commitment. Each figure says how many areas it covers and "
                   "<span class=\"prov\">P</span> marks a provisional one.</p>\n");
    cdof_rr_table_t *t =
        cdof_rr_table_new("national-table", "England's headline metrics against commitments");
    if (t) {
        cdof_rr_table_column(t, "Metric", NULL);
        cdof_rr_table_column(t, "Unit", NULL);
        cdof_rr_table_column(t, "Baseline", NULL);
        cdof_rr_table_column(t, "Latest", NULL);
        cdof_rr_table_column(t, "Change", NULL);
        cdof_rr_table_column(t, "Commitment", NULL);
        cdof_rr_table_column(t, "Target", NULL);
        cdof_rr_table_column(t, "Progress (% of the way)", NULL);
    }
    for (size_t i = 0; t && i < r->nnational; i++) {
        const Cdof__V1__NationalRow *n = r->national[i];
        const cdof_report_metric_t *rm = find_metric(r, n->metric_id);
        if (!rm)
            continue;
        cdof_rr_unit_t u = unit_of(rm->metric);
        char uw[48], base[96] = "-", latest[96] = "-", change[72] = "-", target[64] = "-",
                     prog[32] = "-", pw[64], note[256], bnote[96];
        cdof_rr_unit_words(u, uw, sizeof uw);
        cdof_rr_table_row(t, false);
        char name[256];
        snprintf(name, sizeof name, "%s%s", n->metric_name, n->headline ? " (headline)" : "");
        cdof_rr_table_text(t, name);
        cdof_rr_table_text(t, uw);
        if (n->has_baseline) {
            cdof_rr_figure(u, n->baseline, base, sizeof base);
            period_words(n->baseline_period, pw, sizeof pw);
            snprintf(bnote, sizeof bnote, "%s", pw);
        }
        cdof_rr_table_cell(t, &(cdof_rr_cell_t){.text = base,
                                                .value = n->has_baseline ? n->baseline : NAN,
                                                .note = n->has_baseline ? bnote : NULL});
        const cdof_report_mark_t none = {0};
        const cdof_report_mark_t *mk = r->national_marks ? &r->national_marks[i] : &none;
        const char *why = no_figure_reason(rm, n);
        if (n->has_latest) {
            char cw[64];
            cdof_rr_figure(u, n->latest, latest, sizeof latest);
            period_words(n->latest_period, pw, sizeof pw);
            coverage_words(rm->metric, mk, cw, sizeof cw);
            /* The hub gives the latest complete period; the newest one only when none is. */
            snprintf(note, sizeof note, "%s; %s%s", pw, cw,
                     mk->provisional ? "; no period is complete yet, so this is the newest" : "");
        } else {
            snprintf(note, sizeof note, "%s", why ? why : "No figure.");
        }
        cdof_rr_table_cell(t, &(cdof_rr_cell_t){.text = latest,
                                                .value = n->has_latest ? n->latest : NAN,
                                                .provisional = n->has_latest && mk->provisional,
                                                .note = note});
        double ch = NAN;
        if (n->has_baseline && n->has_latest && strcmp(n->kind, "cumulative") != 0) {
            ch = n->latest - n->baseline;
            char f[64];
            cdof_rr_figure(u, ch, f, sizeof f);
            snprintf(change, sizeof change, "%s%s", ch > 0 ? "+" : "", f);
        }
        cdof_rr_table_cell(t, &(cdof_rr_cell_t){.text = change, .value = ch});
        cdof_rr_table_text(t, n->commitment && *n->commitment ? n->commitment : "-");
        if (n->has_target)
            cdof_rr_figure(u, n->target, target, sizeof target);
        cdof_rr_table_cell(
            t, &(cdof_rr_cell_t){.text = target, .value = n->has_target ? n->target : NAN});
        if (n->has_progress)
            snprintf(prog, sizeof prog, "%.0f%%", n->progress);
        cdof_rr_table_cell(
            t, &(cdof_rr_cell_t){.text = prog, .value = n->has_progress ? n->progress : NAN});
    }
    emit(pg, t, true, true);

    cdof_rr_put(b, "<h3 id=\"national-trends\">England's trends</h3>\n<div class=\"charts\">\n");
    for (size_t i = 0; i < r->nmetrics; i++) {
        const cdof_report_metric_t *rm = &r->metrics[i];
        if (!rm->metric->headline)
            continue;
        const Cdof__V1__NationalRow *nr = NULL;
        for (size_t k = 0; k < r->nnational; k++) {
            if (!strcmp(r->national[k]->metric_id, rm->metric->id))
                nr = r->national[k];
        }
        cdof_rr_unit_t u = unit_of(rm->metric);
        char uw[48], label[768], cap[320], id[96];
        cdof_rr_unit_words(u, uw, sizeof uw);
        if (rm->ntrend == 0)
            continue; /* said once below the charts */
        cdof_rr_put(b, "<figure class=\"keep\">");
        cdof_rr_point_t *pts = calloc(rm->ntrend, sizeof *pts);
        if (!pts) {
            pg->err = -ENOMEM;
            break;
        }
        for (size_t k = 0; k < rm->ntrend; k++)
            pts[k] = (cdof_rr_point_t){rm->trend[k].period, rm->trend[k].value,
                                       rm->trend[k].provisional};
        char first[64], last[64], pf[64], pl[64];
        cdof_rr_figure(u, pts[0].value, first, sizeof first);
        cdof_rr_figure(u, pts[rm->ntrend - 1].value, last, sizeof last);
        period_words(pts[0].period, pf, sizeof pf);
        period_words(pts[rm->ntrend - 1].period, pl, sizeof pl);
        bool target = nr && nr->has_target && strcmp(nr->kind, "cumulative") != 0;
        char tw[160] = "";
        if (target) {
            char tv[64];
            cdof_rr_figure(u, nr->target, tv, sizeof tv);
            snprintf(tw, sizeof tw, " The dashed line is the commitment's target, %s.", tv);
        }
        snprintf(label, sizeof label,
                 "Line chart of %s for England, %zu period%s: %s in %s to %s in %s.%s The "
                 "figures are in the table that follows.",
                 rm->metric->name, rm->ntrend, rm->ntrend == 1 ? "" : "s", first, pf, last, pl, tw);
        cdof_rr_trend_svg(b, pts, rm->ntrend, target, target ? nr->target : 0, u, label);
        free(pts);
        cdof_rr_put(b, "<figcaption>");
        cdof_rr_text(b, rm->metric->name);
        cdof_rr_printf(b, " (England, %s)</figcaption>\n", uw);
        snprintf(cap, sizeof cap, "%s, England, by period", rm->metric->name);
        snprintf(id, sizeof id, "trend-%s", rm->metric->id);
        cdof_rr_table_t *tt = cdof_rr_table_new(id, cap);
        if (tt) {
            cdof_rr_table_column(tt, "Period", NULL);
            cdof_rr_table_column(tt, "England", &u);
            for (size_t k = 0; k < rm->ntrend; k++) {
                period_words(rm->trend[k].period, pf, sizeof pf);
                cdof_rr_table_row(tt, false);
                cdof_rr_table_text(tt, pf);
                cdof_rr_table_cell(tt, &(cdof_rr_cell_t){.value = rm->trend[k].value,
                                                         .provisional = rm->trend[k].provisional});
            }
        }
        emit(pg, tt, true, true);
        cdof_rr_put(b, "</figure>\n");
    }
    cdof_rr_put(b, "</div>\n");
    size_t missing = 0;
    for (size_t i = 0; i < r->nmetrics; i++) {
        const cdof_report_metric_t *rm = &r->metrics[i];
        if (!rm->metric->headline || rm->ntrend)
            continue;
        cdof_rr_put(b, missing++ ? "; "
                                 : "<p>No chart for these headline metrics, as no "
                                   "England figure was submitted for a period ending by "
                                   "the end of the year: ");
        cdof_rr_text(b, rm->metric->name);
    }
    cdof_rr_put(b, missing ? ".</p>\n</section>\n" : "</section>\n");
}

/* The metrics with area figures, headline first, at most max. */
static size_t area_metrics(const cdof_report_t *r, const cdof_report_metric_t **out, size_t max)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < r->nmetrics && n < max; i++) {
            const cdof_report_metric_t *rm = &r->metrics[i];
            if (rm->cells && rm->metric->headline == (pass == 0))
                out[n++] = rm;
        }
    }
    return n;
}

/* Columns of area metrics: "Name, period". */
static void metric_columns(cdof_rr_table_t *t, const cdof_report_metric_t *const *cols, size_t nc)
{
    for (size_t c = 0; c < nc; c++) {
        char h[320], pw[64];
        period_words(cols[c]->period, pw, sizeof pw);
        snprintf(h, sizeof h, "%s, %s", cols[c]->metric->name, pw);
        cdof_rr_unit_t u = unit_of(cols[c]->metric);
        cdof_rr_table_column(t, h, &u);
    }
}

static void figure_row(page_t *pg, cdof_rr_table_t *t, const cdof_report_metric_t *const *cols,
                       size_t nc, const char *code, size_t index, bool aggregate)
{
    for (size_t c = 0; c < nc; c++) {
        char attrs[160], note[64];
        const cdof_report_cell_t *cell = cols[c]->cells ? &cols[c]->cells[index] : NULL;
        cdof_rr_cell_t x =
            figure_cell(pg, cols[c], code, cell, aggregate, attrs, sizeof attrs, note, sizeof note);
        cdof_rr_table_cell(t, &x);
    }
}

static void regions(page_t *pg)
{
    const cdof_report_t *r = pg->r;
    const cdof_ref_t *ref = pg->ref;
    section_open(pg, "regions", "Regions");
    const cdof_report_metric_t *cols[MAX_REGION_COLS];
    size_t nc = area_metrics(r, cols, MAX_REGION_COLS);
    if (!nc) {
        cdof_rr_put(pg->b, "<p>No area figures for this year.</p>\n</section>\n");
        return;
    }
    cdof_rr_put(pg->b, "<p>Each area's latest figure in the year with its comparison with "
                       "England in words, by shape and by colour (see the key). <b>*</b> marks "
                       "a figure withheld to protect small numbers. Region and England rows "
                       "say how many areas their figure covers.</p>\n");
    size_t na = cdof_ref_area_count(ref);
    for (size_t g = 0; g < na; g++) {
        const cdof_area_t *reg = cdof_ref_area_at(ref, g);
        if (reg->kind != CDOF_AREA_REGION)
            continue;
        cdof_rr_printf(pg->b, "<h3 id=\"region-%s\">", reg->code);
        cdof_rr_text(pg->b, reg->name);
        cdof_rr_put(pg->b, "</h3>\n");
        char id[64], cap[256];
        snprintf(id, sizeof id, "region-%s-table", reg->code);
        snprintf(cap, sizeof cap, "%s: each area's figures against England", reg->name);
        cdof_rr_table_t *t = cdof_rr_table_new(id, cap);
        if (t) {
            cdof_rr_table_column(t, "Area", NULL);
            metric_columns(t, cols, nc);
        }
        for (size_t i = 0; t && i < na; i++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, i);
            if (a->kind != CDOF_AREA_UTLA || strcmp(a->region_code, reg->code) != 0)
                continue;
            bool any = false;
            for (size_t c = 0; c < nc; c++)
                any |= cols[c]->cells[i].has;
            if (!any)
                continue;
            char href[64];
            snprintf(href, sizeof href, "#area-%s", a->code);
            cdof_rr_table_row(t, false);
            cdof_rr_table_cell(t, &(cdof_rr_cell_t){.text = a->name, .value = NAN, .href = href});
            figure_row(pg, t, cols, nc, a->code, i, false);
        }
        if (t) {
            cdof_rr_table_row(t, true);
            cdof_rr_table_text(t, reg->name);
            figure_row(pg, t, cols, nc, reg->code, reg->index, true);
            cdof_rr_table_row(t, true);
            cdof_rr_table_text(t, "England");
            figure_row(pg, t, cols, nc, CDOF_ENGLAND_CODE, ENGLAND_INDEX, true);
        }
        emit(pg, t, true, true);
    }
    cdof_rr_put(pg->b, "</section>\n");
}

static void partnerships(page_t *pg)
{
    const cdof_report_t *r = pg->r;
    if (!r->npartnerships)
        return; /* the hub has none configured: every area is its own */
    section_open(pg, "partnerships", "Partnerships");
    const cdof_report_metric_t *cols[MAX_REGION_COLS];
    size_t nc = area_metrics(r, cols, MAX_REGION_COLS);
    cdof_rr_put(pg->b, "<p>Each partnership's figure sums its areas' numerators and "
                       "denominators, compared with England like an area's; <b>*</b> marks a "
                       "figure withheld to protect small numbers.</p>\n");
    cdof_rr_table_t *t =
        cdof_rr_table_new("partnerships-table", "Partnerships of several areas against England");
    if (t) {
        cdof_rr_table_column(t, "Partnership", NULL);
        cdof_rr_table_column(t, "Areas", NULL);
        metric_columns(t, cols, nc);
    }
    for (size_t k = 0; t && k < r->npartnerships; k++) {
        const cdof_report_partnership_t *pt = &r->partnerships[k];
        char members[1024] = "";
        size_t o = 0;
        for (size_t j = 0; j < pt->nmembers && o < sizeof members; j++) {
            int w = snprintf(members + o, sizeof members - o, "%s%s", j ? ", " : "",
                             cdof_ref_area_at(pg->ref, pt->members[j])->name);
            o += w > 0 ? (size_t)w : 0;
        }
        cdof_rr_table_row(t, false);
        cdof_rr_table_text(t, pt->name[0] ? pt->name : cdof_report_partnership_name(r, pt->code));
        cdof_rr_table_text(t, members);
        for (size_t c = 0; c < nc; c++) {
            char attrs[160], note[64];
            const cdof_report_cell_t *cell = cols[c]->pcells ? &cols[c]->pcells[k] : NULL;
            cdof_rr_cell_t x = figure_cell(pg, cols[c], pt->code, cell, false, attrs, sizeof attrs,
                                           note, sizeof note);
            cdof_rr_table_cell(t, &x);
        }
    }
    emit(pg, t, true, true);
    cdof_rr_put(pg->b, "</section>\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    bool ok;
    cdof_rr_spine_t s;
    const char *worst_area, *best_area;
} spine_t;

typedef struct {
    double v;
    size_t i;
} ranked_t;

static int cmp_ranked(const void *a, const void *b)
{
    return cmp_double(&((const ranked_t *)a)->v, &((const ranked_t *)b)->v);
}

static spine_t spine_of(const cdof_report_t *r, const cdof_report_metric_t *rm,
                        const cdof_ref_t *ref, ranked_t *scratch, double *vals)
{
    spine_t s = {0};
    size_t n = 0;
    bool rate = rm->metric->unit == CDOF_UNIT_RATE;
    for (size_t i = 0; i < cdof_ref_area_count(ref); i++) {
        const cdof_report_cell_t *c = &rm->cells[i];
        /* A rate from fewer than 10 events is too unreliable to mark the range (ONS does not
         * publish one): with it, the Isles of Scilly's 0 deaths were "best" on every chart. */
        if (cdof_ref_area_at(ref, i)->kind == CDOF_AREA_UTLA && shown(r, c) &&
            !(rate && c->has_count && c->count < SPINE_MIN_EVENTS))
            scratch[n++] = (ranked_t){c->value, i};
    }
    if (n < 2 || !rm->cells[ENGLAND_INDEX].has)
        return s;
    qsort(scratch, n, sizeof *scratch, cmp_ranked);
    for (size_t k = 0; k < n; k++)
        vals[k] = scratch[k].v;
    s.s.flip = rm->metric->polarity == CDOF_POLARITY_LOW_GOOD;
    double lo = vals[0], hi = vals[n - 1];
    const char *lo_a = cdof_ref_area_at(ref, scratch[0].i)->name;
    const char *hi_a = cdof_ref_area_at(ref, scratch[n - 1].i)->name;
    s.s.worst = s.s.flip ? hi : lo;
    s.s.best = s.s.flip ? lo : hi;
    s.worst_area = s.s.flip ? hi_a : lo_a;
    s.best_area = s.s.flip ? lo_a : hi_a;
    s.s.q_worse = cdof_stats_percentile_inc(vals, n, s.s.flip ? 0.75 : 0.25);
    s.s.q_better = cdof_stats_percentile_inc(vals, n, s.s.flip ? 0.25 : 0.75);
    s.s.england = rm->cells[ENGLAND_INDEX].value;
    s.s.half = fmax(fabs(hi - s.s.england), fabs(s.s.england - lo));
    if (s.s.half == 0)
        s.s.half = 1;
    s.ok = true;
    return s;
}

/* The long table of every area's figures (the profiles' data in one download). */
static cdof_rr_table_t *profiles_table(void)
{
    cdof_rr_table_t *t = cdof_rr_table_new(
        "area-profiles", "Area profiles: every area's figures against England, one row each");
    if (t) {
        const char *h[] = {"Area",
                           "Area code",
                           "Region",
                           "Metric",
                           "Period",
                           "Unit",
                           "Value",
                           "Verdict against England",
                           "England",
                           "Lowest area value",
                           "Highest area value"};
        for (size_t i = 0; i < sizeof h / sizeof *h; i++)
            cdof_rr_table_column(t, h[i], NULL);
    }
    return t;
}

static void areas(page_t *pg)
{
    const cdof_report_t *r = pg->r;
    const cdof_ref_t *ref = pg->ref;
    cdof_rr_buf_t *b = pg->b;
    section_open(pg, "areas", "Area profiles");
    cdof_rr_put(b, "<p>For each area, every metric with a figure in the year, in the manner of "
                   "OHID's Fingertips spine charts: the bar runs from the worst area in England "
                   "(left) to the best (right) among areas whose rate rests on at least 10 events, "
                   "its darker middle is the middle half of those areas, "
                   "the black line is England, and the marker is the area: a circle when better "
                   "than England, a diamond when similar, a triangle when worse. Each chart's "
                   "figures are in its row of the table. Areas are grouped by region.</p>\n");
    size_t na = cdof_ref_area_count(ref);
    const cdof_report_metric_t *cols[64];
    size_t nc = area_metrics(r, cols, sizeof cols / sizeof cols[0]);
    spine_t spines[64];
    ranked_t *scratch = calloc(na, sizeof *scratch);
    double *vals = calloc(na, sizeof *vals);
    for (size_t c = 0; c < nc; c++)
        spines[c] = scratch && vals && cols[c]->metric->unit != CDOF_UNIT_COUNT
                        ? spine_of(r, cols[c], ref, scratch, vals)
                        : (spine_t){0}; /* England's count is a total: no spine for counts */
    free(scratch);
    free(vals);
    cdof_rr_table_t *all = profiles_table();
    /* The long table first as a download, then the profiles region by region. */
    for (size_t g = 0; g < na; g++) {
        const cdof_area_t *reg = cdof_ref_area_at(ref, g);
        if (reg->kind != CDOF_AREA_REGION)
            continue;
        bool opened = false;
        for (size_t i = 0; i < na; i++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, i);
            if (a->kind != CDOF_AREA_UTLA || strcmp(a->region_code, reg->code) != 0)
                continue;
            bool any = false;
            for (size_t c = 0; c < nc; c++)
                any |= cols[c]->cells[i].has;
            if (!any)
                continue;
            if (!opened) {
                cdof_rr_printf(b, "<h3 id=\"profiles-%s\">", reg->code);
                cdof_rr_text(b, reg->name);
                cdof_rr_put(b, "</h3>\n");
                opened = true;
            }
            cdof_rr_printf(b, "<div class=\"profile\"><h4 id=\"area-%s\">", a->code);
            cdof_rr_text(b, a->name);
            cdof_rr_put(b, "</h4>\n");
            char id[64], cap[256];
            snprintf(id, sizeof id, "profile-%s", a->code);
            snprintf(cap, sizeof cap, "%s (%s, %s): figures against England", a->name, a->code,
                     reg->name);
            cdof_rr_table_t *t = cdof_rr_table_new(id, cap);
            if (t) {
                const char *h[] = {"Metric",     "Period",        "Value",    "England",
                                   "Worst area", "Range (chart)", "Best area"};
                for (size_t k = 0; k < sizeof h / sizeof *h; k++)
                    cdof_rr_table_column(t, h[k], NULL);
            }
            for (size_t c = 0; t && c < nc; c++) {
                const cdof_report_metric_t *rm = cols[c];
                const cdof_report_cell_t *cell = &rm->cells[i];
                if (!cell->has)
                    continue;
                cdof_rr_unit_t u = unit_of(rm->metric);
                char pw[64], val[64], eng[64], worst[192] = "-", best[192] = "-", uw[48];
                period_words(rm->period, pw, sizeof pw);
                cdof_rr_unit_words(u, uw, sizeof uw);
                cdof_rr_figure(u, cell->value, val, sizeof val);
                cdof_rr_figure(u, rm->cells[ENGLAND_INDEX].value, eng, sizeof eng);
                const spine_t *sp = &spines[c];
                if (sp->ok) {
                    char f[64];
                    cdof_rr_figure(u, sp->s.worst, f, sizeof f);
                    snprintf(worst, sizeof worst, "%s (%s)", f, sp->worst_area);
                    cdof_rr_figure(u, sp->s.best, f, sizeof f);
                    snprintf(best, sizeof best, "%s (%s)", f, sp->best_area);
                }
                bool show = shown(r, cell);
                cdof_rr_table_row(t, false);
                cdof_rr_table_text(t, rm->metric->name);
                cdof_rr_table_text(t, pw);
                char attrs[160];
                snprintf(attrs, sizeof attrs, "data-area=\"%s\" data-metric=\"%s\"", a->code,
                         rm->metric->id);
                cdof_rr_table_cell(
                    t, &(cdof_rr_cell_t){.text = show ? val : NULL,
                                         .value = show ? cell->value : NAN,
                                         .withheld = !show,
                                         .provisional = show && cell->mark.provisional,
                                         .verdict = show ? verdict_of(cell->vs_england) : 0,
                                         .attrs = attrs});
                char engcov[64];
                coverage_words(rm->metric, &rm->cells[ENGLAND_INDEX].mark, engcov, sizeof engcov);
                cdof_rr_table_cell(
                    t, &(cdof_rr_cell_t){.text = eng,
                                         .value = NAN,
                                         .provisional = rm->cells[ENGLAND_INDEX].mark.provisional,
                                         .note = engcov});
                cdof_rr_table_text(t, worst);
                cdof_rr_buf_t svg = {0};
                char label[1024];
                if (sp->ok) {
                    snprintf(label, sizeof label,
                             "%s: %s, %s; England %s; areas range from %s to %s", rm->metric->name,
                             show ? val : "withheld",
                             show ? cdof_rr_verdict_words(verdict_of(cell->vs_england)) : "", eng,
                             worst, best);
                    cdof_rr_spine_svg(&svg, &sp->s, show, cell->value, verdict_of(cell->vs_england),
                                      label);
                }
                cdof_rr_table_cell(t, &(cdof_rr_cell_t){.text = sp->ok ? "" : "no chart",
                                                        .value = NAN,
                                                        .html = svg.data});
                cdof_rr_buf_free(&svg);
                cdof_rr_table_text(t, best);
                if (all) {
                    cdof_rr_table_row(all, false);
                    cdof_rr_table_text(all, a->name);
                    cdof_rr_table_text(all, a->code);
                    cdof_rr_table_text(all, reg->name);
                    cdof_rr_table_text(all, rm->metric->name);
                    cdof_rr_table_text(all, pw);
                    cdof_rr_table_text(all, uw);
                    cdof_rr_table_cell(
                        all, &(cdof_rr_cell_t){.value = show ? cell->value : NAN,
                                               .withheld = !show,
                                               .provisional = show && cell->mark.provisional});
                    cdof_rr_table_text(
                        all, show ? cdof_rr_verdict_words(verdict_of(cell->vs_england)) : "");
                    cdof_rr_table_cell(
                        all,
                        &(cdof_rr_cell_t){.value = rm->cells[ENGLAND_INDEX].value,
                                          .provisional = rm->cells[ENGLAND_INDEX].mark.provisional,
                                          .note = engcov});
                    cdof_rr_table_figure(all, sp->ok ? fmin(sp->s.worst, sp->s.best) : NAN);
                    cdof_rr_table_figure(all, sp->ok ? fmax(sp->s.worst, sp->s.best) : NAN);
                }
            }
            emit(pg, t, true, false);
            cdof_rr_put(b, "</div>\n");
        }
    }
    if (all)
        cdof_rr_table_csv_link(all, "Download every area's profile as one CSV table", b);
    emit(pg, all, false, true);
    cdof_rr_put(b, "</section>\n");
}

static const char *status_words(const char *status)
{
    return !strcmp(status, "done")        ? "done"
           : !strcmp(status, "done_late") ? "done late"
           : !strcmp(status, "overdue")   ? "overdue"
           : !strcmp(status, "not_due")   ? "not yet due"
                                          : status;
}

static void milestones(page_t *pg)
{
    const cdof_report_t *r = pg->r;
    const cdof_ref_t *ref = pg->ref;
    section_open(pg, "milestones", "Milestone compliance");
    char asof[32];
    long_date(r->as_of, asof, sizeof asof);
    cdof_rr_printf(pg->b,
                   "<p>Each partnership's deliverables as at %s: done, done late, overdue or not "
                   "yet due. Dates are when it was done or since when it is overdue. A "
                   "partnership is listed once it has reported a milestone to the hub or is "
                   "configured at the hub.</p>\n",
                   asof);
    size_t nm = cdof_ref_milestone_count(ref);
    cdof_rr_table_t *t = cdof_rr_table_new("milestones-table", "Milestones by partnership");
    if (t) {
        cdof_rr_table_column(t, "Partnership", NULL);
        for (size_t k = 0; k < nm; k++)
            cdof_rr_table_column(t, cdof_ref_milestone_at(ref, k)->deliverable, NULL);
    }
    for (size_t i = 0; t && i < r->nmilestones;) {
        const char *p = r->milestones[i]->partnership;
        cdof_rr_table_row(t, false);
        cdof_rr_table_text(t, cdof_report_partnership_name(r, p));
        for (size_t k = 0; k < nm; k++) {
            const cdof_milestone_t *m = cdof_ref_milestone_at(ref, k);
            const Cdof__V1__MilestoneRow *row = NULL;
            for (size_t j = i; j < r->nmilestones && !strcmp(r->milestones[j]->partnership, p);
                 j++) {
                if (!strcmp(r->milestones[j]->milestone_id, m->id))
                    row = r->milestones[j];
            }
            if (!row) {
                cdof_rr_table_text(t, "-");
                continue;
            }
            char d[32];
            bool overdue = !strcmp(row->status, "overdue");
            long_date(overdue ? row->overdue_since : row->done_day, d, sizeof d);
            char note[64];
            snprintf(note, sizeof note, "%s %s", overdue ? "since" : "on", d);
            cdof_rr_table_cell(t, &(cdof_rr_cell_t){.text = status_words(row->status),
                                                    .value = NAN,
                                                    .note = strcmp(d, "-") ? note : NULL});
        }
        while (i < r->nmilestones && !strcmp(r->milestones[i]->partnership, p))
            i++;
    }
    emit(pg, t, true, true);
    cdof_rr_put(pg->b, "</section>\n");
}

static bool alert_in_year(const cdof_report_t *r, const Cdof__V1__Alert *a, cdof_period_t *p,
                          char *text, size_t len)
{
    if (!a->period)
        return false;
    *p = (cdof_period_t){(cdof_period_kind_t)a->period->kind, a->period->first_day,
                         a->period->last_day};
    if (!cdof_period_valid(p) || cdof_period_format(p, text, len) < 0)
        return false;
    /* The periods the year's figures rest on: those ending in the year, and the period the
     * report shows for the alert's metric (three pooled years ending before the year starts). */
    const cdof_report_metric_t *rm = find_metric(r, a->metric_id);
    return (p->last_day >= r->year_first && p->last_day <= r->year_last) ||
           (rm && !strcmp(rm->period, text));
}

typedef struct {
    const Cdof__V1__Alert *a;
    int32_t last_day;
    char period[CDOF_PERIOD_TEXT_MAX];
} alert_ref_t;

static int cmp_alert(const void *x, const void *y)
{
    const alert_ref_t *a = x, *b = y;
    if (a->last_day != b->last_day)
        return a->last_day < b->last_day ? -1 : 1;
    int c = strcmp(a->period, b->period);
    if (c)
        return c;
    return a->a->sequence < b->a->sequence ? -1 : a->a->sequence > b->a->sequence;
}

static void alerts(page_t *pg)
{
    const cdof_report_t *r = pg->r;
    const cdof_ref_t *ref = pg->ref;
    section_open(pg, "alerts", "Alerts on the year's figures");
    alert_ref_t *list = calloc(r->nalerts ? r->nalerts : 1, sizeof *list);
    size_t n = 0, raised = 0, resolved = 0;
    for (size_t i = 0; list && i < r->nalerts; i++) {
        cdof_period_t p;
        char text[CDOF_PERIOD_TEXT_MAX];
        if (!alert_in_year(r, r->alerts[i], &p, text, sizeof text))
            continue;
        list[n].a = r->alerts[i];
        list[n].last_day = p.last_day;
        snprintf(list[n].period, sizeof list[n].period, "%s", text);
        raised += r->alerts[i]->state == CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING;
        resolved += r->alerts[i]->state == CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED;
        n++;
    }
    if (list)
        qsort(list, n, sizeof *list, cmp_alert);
    char first[32], last[32];
    long_date(r->year_first, first, sizeof first);
    long_date(r->year_last, last, sizeof last);
    cdof_rr_printf(pg->b,
                   "<p>Alerts are listed by the data period they judged, not by when the hub "
                   "raised them: those on periods ending between %s and %s, and on the period "
                   "each metric is reported at here. %zu raised and %zu resolved on those "
                   "periods (an alert is raised once while its condition holds); %zu more in "
                   "the hub's record judged other periods.</p>\n",
                   first, last, raised, resolved, r->nalerts - n);
    cdof_rr_table_t *t = cdof_rr_table_new("alerts-table", "Alerts by the data period judged");
    cdof_rr_unit_t num = {CDOF_RR_COUNT, 1};
    if (t) {
        cdof_rr_table_column(t, "Data period", NULL);
        cdof_rr_table_column(t, "Alert number", &num);
        cdof_rr_table_column(t, "Raised on", NULL);
        cdof_rr_table_column(t, "State", NULL);
        cdof_rr_table_column(t, "Area", NULL);
        cdof_rr_table_column(t, "Metric", NULL);
        cdof_rr_table_column(t, "Summary", NULL);
    }
    for (size_t k = 0; t && k < n && k < MAX_ALERTS_LIST; k++) {
        const Cdof__V1__Alert *a = list[k].a;
        char pw[64], when[32];
        period_words(list[k].period, pw, sizeof pw);
        long_date((int32_t)(a->raised_ms / 86400000), when, sizeof when);
        const cdof_area_t *area = cdof_ref_area(ref, a->area_code);
        cdof_rr_table_row(t, false);
        cdof_rr_table_text(t, pw);
        cdof_rr_table_figure(t, (double)a->sequence);
        cdof_rr_table_text(t, when);
        cdof_rr_table_text(t, cdof_client_state_name(a->state));
        cdof_rr_table_text(t, area ? area->name : cdof_report_partnership_name(r, a->area_code));
        cdof_rr_table_text(t, metric_name(r, a->metric_id));
        /* Summaries quote figures; in publication mode they are left out for areas with a
         * withheld figure (the summary could hold the small number). */
        const cdof_report_metric_t *rm = find_metric(r, a->metric_id);
        bool hide = !r->internal && rm && rm->cells && area && rm->cells[area->index].has &&
                    rm->cells[area->index].sup != CDOF_SUP_SHOWN;
        cdof_rr_table_text(t, hide ? "(withheld: small numbers)" : a->summary);
    }
    emit(pg, t, true, true);
    if (n > MAX_ALERTS_LIST)
        cdof_rr_printf(pg->b,
                       "<p>The first %d are listed; <code>cdof-query alerts</code> gives them all."
                       "</p>\n",
                       MAX_ALERTS_LIST);
    free(list);
    cdof_rr_put(pg->b, "</section>\n");
}

static void data_quality(page_t *pg)
{
    const cdof_report_t *r = pg->r;
    cdof_rr_buf_t *b = pg->b;
    section_open(pg, "quality", "Data quality");
    cdof_rr_put(b, "<h3 id=\"quality-rejected\">Rows rejected</h3>\n");
    /* Said in every case: the hub cannot count what it was never sent. */
    cdof_rr_put(b, "<p>Rows refused by a partnership's own agent (a malformed row, an unknown "
                   "metric or area) are never sent to the hub and are not counted here; each "
                   "partnership keeps them in its agent's <code>rejected/</code> folder.</p>\n");
    if (!r->rejected_known) {
        cdof_rr_put(b, "<p>The hub did not list the submissions it refused.");
        if (r->has_hub_rejected)
            cdof_rr_printf(b, " The hub refused %llu submission%s since it last started.",
                           (unsigned long long)r->hub_rejected, r->hub_rejected == 1 ? "" : "s");
        cdof_rr_put(b, "</p>\n");
    } else {
        cdof_rr_table_t *t =
            cdof_rr_table_new("rejected-table", "Submissions the hub refused, by partnership, "
                                                "with reasons");
        cdof_rr_unit_t num = {CDOF_RR_COUNT, 1};
        if (t) {
            cdof_rr_table_column(t, "Partnership", NULL);
            cdof_rr_table_column(t, "Rows rejected", &num);
            cdof_rr_table_column(t, "Reason", NULL);
        }
        for (size_t i = 0; t && i < r->nrejected; i++) {
            cdof_rr_table_row(t, false);
            cdof_rr_table_text(t, cdof_report_partnership_name(r, r->rejected[i].partnership));
            cdof_rr_table_figure(t, (double)r->rejected[i].rows);
            cdof_rr_table_text(t, r->rejected[i].reason);
        }
        if (!r->nrejected)
            cdof_rr_put(b, "<p>The hub refused no submission.</p>\n");
        emit(pg, t, r->nrejected > 0, r->nrejected > 0);
    }
    cdof_rr_put(b, "<h3 id=\"quality-revisions\">Revisions after publication</h3>\n");
    if (!r->revisions_known) {
        cdof_rr_put(b, "<p>The hub did not say which periods were revised after they were "
                       "complete (it keeps no period states), so revisions are not listed.</p>\n");
    } else if (!r->nrevisions) {
        cdof_rr_put(b, "<p>No period of the year was revised after it was complete.</p>\n");
    } else {
        cdof_rr_put(b, "<p>A period is published once it is complete; returns that arrive "
                       "after that revise it. These periods of the year were revised:</p>\n");
        cdof_rr_table_t *t =
            cdof_rr_table_new("revisions-table", "Periods revised after they were complete");
        cdof_rr_unit_t num = {CDOF_RR_COUNT, 1};
        if (t) {
            cdof_rr_table_column(t, "Metric", NULL);
            cdof_rr_table_column(t, "Period", NULL);
            cdof_rr_table_column(t, "Complete on", NULL);
            cdof_rr_table_column(t, "Last revised on", NULL);
            cdof_rr_table_column(t, "Revisions", &num);
            cdof_rr_table_column(t, "Areas revised", &num);
        }
        for (size_t i = 0; t && i < r->nrevisions; i++) {
            const cdof_report_revision_t *v = &r->revisions[i];
            char pw[64], d1[32], d2[32];
            period_words(v->period, pw, sizeof pw);
            long_date(v->completed_day, d1, sizeof d1);
            long_date(v->revised_day, d2, sizeof d2);
            cdof_rr_table_row(t, false);
            cdof_rr_table_text(t, metric_name(r, v->metric_id));
            cdof_rr_table_text(t, pw);
            cdof_rr_table_text(t, v->completed_day ? d1 : "not recorded");
            cdof_rr_table_text(t, d2);
            cdof_rr_table_figure(t, (double)v->batches);
            cdof_rr_table_figure(t, (double)v->rows);
        }
        emit(pg, t, true, true);
    }
    cdof_rr_put(b, "<h3 id=\"quality-late\">Late and overdue returns</h3>\n");
    cdof_rr_table_t *t =
        cdof_rr_table_new("late-table", "Deliverables returned late or overdue, by partnership");
    if (t) {
        cdof_rr_table_column(t, "Partnership", NULL);
        cdof_rr_table_column(t, "Deliverable", NULL);
        cdof_rr_table_column(t, "Standing", NULL);
        cdof_rr_table_column(t, "Deadline", NULL);
        cdof_rr_table_column(t, "Returned on", NULL);
    }
    size_t late = 0;
    for (size_t i = 0; t && i < r->nmilestones; i++) {
        const Cdof__V1__MilestoneRow *m = r->milestones[i];
        bool overdue = !strcmp(m->status, "overdue");
        if (!overdue && strcmp(m->status, "done_late") != 0)
            continue;
        char due[32], done[32];
        long_date(m->due_day, due, sizeof due);
        long_date(m->done_day, done, sizeof done);
        cdof_rr_table_row(t, false);
        cdof_rr_table_text(t, cdof_report_partnership_name(r, m->partnership));
        cdof_rr_table_text(t, m->deliverable && *m->deliverable ? m->deliverable : m->milestone_id);
        cdof_rr_table_text(t, overdue ? "overdue" : "returned late");
        cdof_rr_table_text(t, due);
        cdof_rr_table_text(t, overdue ? "not yet returned" : done);
        late++;
    }
    if (!late)
        cdof_rr_put(b, "<p>No deliverable is late or overdue.</p>\n");
    emit(pg, t, late > 0, late > 0);
    cdof_rr_put(b, "</section>\n");
}

static size_t expected_periods(const cdof_metric_t *m)
{
    switch (m->frequency) {
    case CDOF_FREQ_MONTHLY:
        return 12;
    case CDOF_FREQ_QUARTERLY:
        return 4;
    default:
        return 1;
    }
}

static const char *pstate_words(cdof_report_pstate_t s)
{
    switch (s) {
    case CDOF_REPORT_PERIOD_OPEN:
        return "open: returns still due";
    case CDOF_REPORT_PERIOD_COMPLETE:
        return "complete";
    case CDOF_REPORT_PERIOD_CLOSED:
        return "closed";
    default:
        return "not reported";
    }
}

/* The expected areas missing from rm's period, by name and compactly: upper-tier areas grouped
 * by region ("North East: Hartlepool, Darlington; London: all 33 areas"), other geographies
 * (regions, the national source) by name first. */
static void missing_words(const cdof_report_metric_t *rm, const cdof_ref_t *ref, cdof_rr_buf_t *out)
{
    if (!rm->period[0]) {
        cdof_rr_put(out, "-");
        return;
    }
    if (!rm->coverage_known) {
        cdof_rr_put(out, "not reported");
        return;
    }
    if (!rm->nmissing) {
        cdof_rr_put(out, "none");
        return;
    }
    size_t groups = 0;
    for (size_t k = 0; k < rm->nmissing; k++) {
        const cdof_area_t *a = cdof_ref_area_at(ref, rm->missing[k]);
        if (a->kind != CDOF_AREA_UTLA)
            cdof_rr_printf(out, "%s%s", groups++ ? "; " : "", a->name);
    }
    size_t na = cdof_ref_area_count(ref);
    for (size_t g = 0; g < na; g++) {
        const cdof_area_t *reg = cdof_ref_area_at(ref, g);
        if (reg->kind != CDOF_AREA_REGION)
            continue;
        size_t in_region = 0, missing = 0;
        for (size_t i = 0; i < na; i++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, i);
            in_region += a->kind == CDOF_AREA_UTLA && !strcmp(a->region_code, reg->code);
        }
        for (size_t k = 0; k < rm->nmissing; k++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, rm->missing[k]);
            missing += a->kind == CDOF_AREA_UTLA && !strcmp(a->region_code, reg->code);
        }
        if (!missing)
            continue;
        cdof_rr_printf(out, "%s%s: ", groups++ ? "; " : "", reg->name);
        if (missing == in_region) {
            cdof_rr_printf(out, "all %zu areas", in_region);
            continue;
        }
        size_t shown_n = 0;
        for (size_t k = 0; k < rm->nmissing; k++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, rm->missing[k]);
            if (a->kind == CDOF_AREA_UTLA && !strcmp(a->region_code, reg->code))
                cdof_rr_printf(out, "%s%s", shown_n++ ? ", " : "", a->name);
        }
    }
}

static void completeness(page_t *pg)
{
    const cdof_report_t *r = pg->r;
    section_open(pg, "completeness", "Data completeness");
    cdof_rr_put(pg->b, "<p>For each metric: the period shown (the latest complete one ending in "
                       "or before the year, or the newest when none is complete), its state, "
                       "how many of the expected areas reported it and which have not (by "
                       "region), how many of the year's periods the hub holds for England, and "
                       "whether England's figure is provisional.</p>\n");
    cdof_rr_table_t *t = cdof_rr_table_new("completeness-table", "Data completeness by metric");
    if (t) {
        cdof_rr_table_column(t, "Metric", NULL);
        cdof_rr_table_column(t, "Period shown", NULL);
        cdof_rr_table_column(t, "State", NULL);
        cdof_rr_table_column(t, "England's coverage", NULL);
        cdof_rr_table_column(t, "Missing", NULL);
        cdof_rr_table_column(t, "Periods in the year", NULL);
    }
    for (size_t i = 0; t && i < r->nmetrics; i++) {
        const cdof_report_metric_t *rm = &r->metrics[i];
        char pw[64], periods[48], cov[64], state[128];
        period_words(rm->period[0] ? rm->period : NULL, pw, sizeof pw);
        size_t want = rm->metric->frequency == CDOF_FREQ_POOLED3 ? 0 : expected_periods(rm->metric);
        if (want)
            snprintf(periods, sizeof periods, "%zu of %zu", rm->periods_in_year, want);
        else
            snprintf(periods, sizeof periods, "pooled over three years");
        coverage_words(rm->metric, &rm->mark, cov, sizeof cov);
        snprintf(state, sizeof state, "%s%s", rm->period[0] ? pstate_words(rm->state) : "-",
                 rm->none_complete ? " (no period ending by the year's end is complete)" : "");
        cdof_rr_buf_t miss = {0};
        missing_words(rm, pg->ref, &miss);
        cdof_rr_table_row(t, false);
        cdof_rr_table_text(t, rm->metric->name);
        cdof_rr_table_text(t, pw);
        cdof_rr_table_text(t, state);
        cdof_rr_table_cell(t,
                           &(cdof_rr_cell_t){.text = rm->period[0] ? cov : "-",
                                             .value = NAN,
                                             .provisional = rm->period[0] && rm->mark.provisional});
        cdof_rr_table_text(t, miss.err ? "-" : miss.data);
        if (miss.err && !pg->err)
            pg->err = miss.err;
        cdof_rr_buf_free(&miss);
        cdof_rr_table_text(t, periods);
    }
    emit(pg, t, true, true);
    cdof_rr_put(pg->b, "</section>\n");
}

static void methods(page_t *pg)
{
    section_open(pg, "methods", "Methods");
    cdof_rr_put(
        pg->b,
        "<p><b>Sources.</b> Figures are those held by the national cdof hub, submitted by local "
        "Combating Drugs Partnerships and national sources (NDTMS, ONS, Home Office). "
        "Commitments are from <i>From harm to hope: a 10-year drugs plan to cut crime and save "
        "lives</i> (HM Government, December 2021). Populations are ONS mid-2020 estimates.</p>\n"
        "<p><b>Comparisons.</b> As OHID's Fingertips: proportions have Wilson score intervals; "
        "rates have Byar's method (exact Poisson below 10 events). England's and regions' "
        "figures sum the areas' numerators and denominators (never averages of rates) unless a "
        "national source submitted them. An area is similar to England when England's value "
        "lies inside its 95% interval, better or worse when it lies outside (by the metric's "
        "polarity), and better or worse at 99.8% when outside the 99.8% interval. Quintiles "
        "rank areas with quintile 1 at the better end.</p>\n"
        "<p><b>Coverage and provisional figures.</b> For each metric the hub knows who is "
        "expected to report each period: every upper-tier area (153), every region, or the "
        "national source, by the metric's geography. Coverage is the expected areas that have "
        "reported, of those expected, for England, each region and each partnership. A period "
        "is complete when every expected area has reported, or when its reporting deadline has "
        "passed with at least the metric's threshold (by default 90% of the areas, 30 days "
        "after the period ends), or when a named person has closed it. England's and a "
        "region's figure summed from an incomplete period is provisional, and so is any "
        "comparison with it; alerts judge complete periods only. Where the hub has not said "
        "what a total rests on, the report says \"coverage not reported\" rather than guess. A "
        "figure marked <span class=\"prov\">P</span> is provisional and may change. Downloaded "
        "tables mark them [p] in their Notes column; a withheld figure is [c] and a missing one "
        "[x].</p>\n"
        "<p><b>Periods.</b> Each metric is shown at its latest complete period ending by 31 "
        "March of the year reported, or, when none is complete, at its newest, marked "
        "provisional; deaths are pooled over three calendar years. Data completeness lists each "
        "period's state and the areas still missing. Alerts are listed by the data period they "
        "judged.</p>\n"
        "<p><b>Milestones.</b> Deadlines are those of the guidance for local delivery partners "
        "(June 2022); recurring ones (the progress report every 12 months, the needs assessment "
        "every 36) fall on the same day each cycle. A deliverable reported after its deadline is "
        "\"done late\"; one not reported is \"overdue\" from the first deadline missed in a "
        "row.</p>\n"
        "<p><b>Small numbers.</b> In this published edition counts from 1 to 4 are withheld, and "
        "so is any rate or percentage computed from them, as well as any percentage whose "
        "complement (its denominator less its numerator: 97 of 100 leaves 3) is from 1 to 4. So "
        "that a withheld count cannot be worked out from a total, each region's areas and the "
        "region's total, the regions and England, and each partnership and its areas, are "
        "checked in turn: where exactly one member of such a group is withheld, the smallest "
        "other count in the group is withheld too, until no group has exactly one. Withheld "
        "figures show as <b>*</b>.");
    if (pg->r->internal)
        cdof_rr_put(pg->b, " <b>This internal edition shows true values.</b>");
    cdof_rr_put(pg->b, "</p>\n<p><b>Downloads.</b> Every table can be downloaded as CSV below "
                       "it; <code>cdof-query report --ods</code> writes them all as one "
                       "OpenDocument spreadsheet.</p>\n</section>\n");
}

static void key(cdof_rr_buf_t *b)
{
    static const cdof_rr_verdict_t shown_v[] = {
        CDOF_RR_V_BETTER, CDOF_RR_V_SIMILAR, CDOF_RR_V_WORSE,       CDOF_RR_V_WORST,
        CDOF_RR_V_HIGHER, CDOF_RR_V_LOWER,   CDOF_RR_V_NOT_COMPARED};
    cdof_rr_put(b, "<p class=\"key\">Key to comparisons with England: ");
    for (size_t i = 0; i < sizeof shown_v / sizeof *shown_v; i++)
        cdof_rr_printf(b, "<span class=\"k %s\"><span aria-hidden=\"true\">%s</span> %s</span>",
                       cdof_rr_verdict_class(shown_v[i]), cdof_rr_verdict_shape(shown_v[i]),
                       cdof_rr_verdict_words(shown_v[i]));
    cdof_rr_put(b, " <span class=\"k\"><span class=\"prov\">P</span> provisional</span> <span "
                   "class=\"k\">* withheld: small number</span></p>\n");
}

int cdof_report_build(const cdof_report_t *r, const cdof_ref_t *ref, cdof_rr_buf_t *b,
                      cdof_rr_table_t ***tables, size_t *ntables)
{
    page_t pg = {.r = r, .ref = ref, .b = b, .keep = tables != NULL};
    char first[32], last[32], asof[32];
    long_date(r->year_first, first, sizeof first);
    long_date(r->year_last, last, sizeof last);
    long_date(r->as_of, asof, sizeof asof);
    int64_t gen_day = r->generated_ms / 86400000;
    char gen[32];
    long_date((int32_t)gen_day, gen, sizeof gen);
    cdof_rr_printf(b,
                   "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<title>Combating Drugs Outcomes Framework: annual report %s%s</title>\n"
                   "<style>%s%s</style>\n</head>\n<body%s>\n"
                   "<a class=\"skip\" href=\"#main\">Skip to the report</a>\n",
                   r->year, r->internal ? " (internal)" : "", cdof_rr_css,
                   /* Every printed page marked; on screen the banner stays in the flow (a fixed
                    * one would hide what has the keyboard focus) and every section says it. */
                   r->internal ? "@page{@top-center{content:\"OFFICIAL-SENSITIVE: internal "
                                 "edition\";font-family:Arial,sans-serif;font-size:9pt;"
                                 "font-weight:bold;color:#942514}}"
                               : "",
                   r->internal ? " class=\"internal\"" : "");
    if (r->internal)
        cdof_rr_put(b, "<div class=\"banner mark\" role=\"note\">OFFICIAL-SENSITIVE: internal "
                       "edition with unsuppressed small numbers</div>\n");
    cdof_rr_printf(b,
                   "<header>\n<h1>Combating Drugs Outcomes Framework: annual report %s</h1>\n"
                   "<p>Report to Parliament on the year %s to %s. Generated on %s from the "
                   "national cdof hub; milestones as at %s. %s</p>\n",
                   r->year, first, last, gen, asof,
                   r->internal ? "<b>Internal edition: true values, for official use only.</b>"
                               : "Published edition: small numbers withheld (see Methods).");
    key(b);
    cdof_rr_put(b, "<nav aria-label=\"Contents\"><h2 id=\"contents\">Contents</h2><ol><li><a "
                   "href=\"#key-findings\">Key findings: areas worse than England on drug "
                   "deaths; partnerships late with their progress report</a></li><li><a "
                   "href=\"#national\">England: headline metrics and commitments</a></li><li><a "
                   "href=\"#regions\">Regions</a></li>");
    if (r->npartnerships)
        cdof_rr_put(b, "<li><a href=\"#partnerships\">Partnerships</a></li>");
    cdof_rr_put(b, "<li><a href=\"#areas\">Area profiles</a></li><li><a "
                   "href=\"#milestones\">Milestone compliance</a></li><li><a "
                   "href=\"#alerts\">Alerts</a></li><li><a href=\"#quality\">Data quality</a>"
                   "</li><li><a href=\"#completeness\">Data completeness</a></li><li><a "
                   "href=\"#methods\">Methods</a></li></ol></nav>\n</header>\n"
                   "<main id=\"main\" tabindex=\"-1\">\n");
    key_findings(&pg);
    national(&pg);
    regions(&pg);
    partnerships(&pg);
    areas(&pg);
    milestones(&pg);
    alerts(&pg);
    data_quality(&pg);
    completeness(&pg);
    methods(&pg);
    cdof_rr_put(b, "</main>\n</body>\n</html>\n");
    int rc = pg.err ? pg.err : b->err;
    if (rc < 0 || !tables) {
        for (size_t i = 0; i < pg.ntables; i++)
            cdof_rr_table_free(&pg.tables[i]);
        free(pg.tables);
        pg.tables = NULL;
        pg.ntables = 0;
    }
    if (tables) {
        *tables = pg.tables;
        *ntables = pg.ntables;
    }
    return rc;
}

int cdof_report_render(const cdof_report_t *r, const cdof_ref_t *ref, FILE *f)
{
    cdof_rr_buf_t b = {0};
    int rc = cdof_report_build(r, ref, &b, NULL, NULL);
    if (rc == 0 && fwrite(b.data, 1, b.len, f) != b.len)
        rc = -EIO;
    cdof_rr_buf_free(&b);
    return rc == 0 && ferror(f) ? -EIO : rc;
}
