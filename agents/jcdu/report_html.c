/* Suppression and HTML rendering of the annual report (report.h). Everything is inline: the file
 * opens offline, prints, and attaches to an email as it is. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_stats.h"
#include "cdof_wire.h"
#include "report.h"
#include "report_suppress.h"

#define DEATHS_METRIC   "drug_misuse_deaths"
#define PROGRESS_REPORT "progress_report"
#define MAX_REGION_COLS 8 /* metrics per regional table, headline first */
#define MAX_ALERTS_LIST 100
#define ENGLAND_INDEX   0 /* cdof_ref_area_at(ref, 0) is England */

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

/* --- HTML helpers --- */

static void text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static void fmt_value(const cdof_metric_t *m, double v, char *buf, size_t len)
{
    if (!isfinite(v))
        snprintf(buf, len, "-");
    else if (m->unit == CDOF_UNIT_COUNT)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.1f%s", v, m->unit == CDOF_UNIT_PERCENTAGE ? "%" : "");
}

static const char *unit_words(const cdof_metric_t *m)
{
    static char buf[48];
    if (m->unit == CDOF_UNIT_RATE) {
        snprintf(buf, sizeof buf, "per %.0f", m->multiplier);
        return buf;
    }
    return m->unit == CDOF_UNIT_PERCENTAGE ? "percent" : "count";
}

static const char *verdict_words(Cdof__V1__Verdict v)
{
    switch (v) {
    case CDOF__V1__VERDICT__VERDICT_BETTER:
        return "better than England (95%)";
    case CDOF__V1__VERDICT__VERDICT_BEST:
        return "better than England (99.8%)";
    case CDOF__V1__VERDICT__VERDICT_SIMILAR:
        return "similar to England";
    case CDOF__V1__VERDICT__VERDICT_WORSE:
        return "worse than England (95%)";
    case CDOF__V1__VERDICT__VERDICT_WORST:
        return "worse than England (99.8%)";
    case CDOF__V1__VERDICT__VERDICT_HIGHER:
        return "higher than England";
    case CDOF__V1__VERDICT__VERDICT_LOWER:
        return "lower than England";
    default:
        return "not compared";
    }
}

static bool shown(const cdof_report_t *r, const cdof_report_cell_t *c)
{
    return c->has && (r->internal || c->sup == CDOF_SUP_SHOWN);
}

static void day_text(int32_t day, char *buf, size_t len)
{
    if (day)
        cdof_date_format(day, buf, len);
    else
        snprintf(buf, len, "-");
}

static void internal_mark(FILE *f, const cdof_report_t *r)
{
    if (r->internal)
        fputs("<p class=\"mark\">OFFICIAL-SENSITIVE: internal. Contains unsuppressed small "
              "numbers; not for publication.</p>\n",
              f);
}

static void section_open(FILE *f, const cdof_report_t *r, const char *id, const char *title)
{
    fprintf(f, "<section id=\"%s\">\n", id);
    internal_mark(f, r);
    fputs("<h2>", f);
    text(f, title);
    fputs("</h2>\n", f);
}

static const cdof_report_metric_t *find_metric(const cdof_report_t *r, const char *id)
{
    for (size_t i = 0; i < r->nmetrics; i++) {
        if (!strcmp(r->metrics[i].metric->id, id))
            return &r->metrics[i];
    }
    return NULL;
}

/* A value cell: the figure, coloured by its verdict, or "*" when withheld. */
static void value_cell(FILE *f, const cdof_report_t *r, const cdof_report_metric_t *rm,
                       const cdof_area_t *a, const cdof_report_cell_t *c)
{
    char v[48];
    if (!c || !c->has) {
        fputs("<td class=\"num none\">-</td>", f);
        return;
    }
    fprintf(f, "<td class=\"num v %s\" data-area=\"%s\" data-metric=\"%s\"",
            a->kind == CDOF_AREA_UTLA || a->kind == CDOF_AREA_PARTNERSHIP
                ? cdof_wire_verdict_name(c->vs_england)
                : "agg",
            a->code, rm->metric->id);
    if (!shown(r, c)) {
        fputs(" title=\"withheld: small number\">*</td>", f);
        return;
    }
    fmt_value(rm->metric, c->value, v, sizeof v);
    if (isfinite(c->lower) && isfinite(c->upper)) {
        char lo[48], hi[48];
        fmt_value(rm->metric, c->lower, lo, sizeof lo);
        fmt_value(rm->metric, c->upper, hi, sizeof hi);
        fprintf(f, " title=\"95%% interval %s to %s\"", lo, hi);
    }
    fprintf(f, ">%s</td>", v);
}

/* --- sections --- */

/* The areas worse than England on d, worst first, into order (room for every area): their
 * count. */
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
    /* Worst first: by value, in the direction the polarity calls worse (insertion sort: at
     * most 153). */
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

/* The two answers in one short list at the top, so that neither is below the fold. */
static void findings_summary(FILE *f, const cdof_report_t *r, const cdof_ref_t *ref,
                             const cdof_report_metric_t *d)
{
    size_t na = cdof_ref_area_count(ref);
    size_t *order = calloc(na, sizeof *order);
    size_t n = order ? worse_areas(d, ref, order) : 0;
    fputs("<ul class=\"summary\">\n<li><b>Drug deaths:</b> ", f);
    if (!d || !d->cells) {
        fputs("no figures for this year.", f);
    } else {
        fprintf(f, "%zu area%s worse than England (%s)%s", n, n == 1 ? " is" : "s are", d->period,
                n ? ": " : ".");
        for (size_t k = 0; k < n && k < 10; k++) {
            text(f, cdof_ref_area_at(ref, order[k])->name);
            fputs(k + 1 < n && k < 9 ? ", " : n > 10 ? " and more" : ".", f);
        }
    }
    fputs(" <a href=\"#deaths-worse\">The list</a></li>\n<li><b>Progress reports:</b> ", f);
    size_t late = 0;
    for (size_t i = 0; i < r->nmilestones; i++) {
        const Cdof__V1__MilestoneRow *m = r->milestones[i];
        if (!progress_late(m))
            continue;
        char d8[16];
        bool overdue = !strcmp(m->status, "overdue");
        cdof_date_format(overdue ? m->overdue_since : m->done_day, d8, sizeof d8);
        fputs(late ? "; " : "", f);
        text(f, m->partnership);
        fprintf(f, overdue ? " is overdue (since %s)" : " reported late (on %s)", d8);
        late++;
    }
    fputs(late ? ". " : "every partnership known to the hub is up to date. ", f);
    fputs("<a href=\"#progress-late\">Details</a></li>\n</ul>\n", f);
    free(order);
}

static void key_findings(FILE *f, const cdof_report_t *r, const cdof_ref_t *ref)
{
    section_open(f, r, "key-findings", "Key findings");
    const cdof_report_metric_t *d = find_metric(r, DEATHS_METRIC);
    findings_summary(f, r, ref, d);
    fputs("<h3 id=\"deaths-worse\">Which areas are worse than England on drug deaths?</h3>\n", f);
    if (!d || !d->cells) {
        fputs("<p>The hub holds no drug deaths figures for periods ending by the end of this "
              "year.</p>\n",
              f);
    } else {
        fputs("<p>", f);
        text(f, d->metric->name);
        fprintf(f,
                ", %s. Areas whose rate is significantly higher than England's (outside the "
                "95%% confidence interval), worst first.</p>\n",
                d->period);
        fputs("<table class=\"findings\"><thead><tr><th>Area</th><th>Region</th><th>Rate "
              "per 100,000</th><th>95% interval</th><th>England</th><th>Verdict</th></tr>"
              "</thead><tbody>\n",
              f);
        size_t na = cdof_ref_area_count(ref), listed = 0;
        size_t *order = calloc(na, sizeof *order);
        size_t n = order ? worse_areas(d, ref, order) : 0;
        for (size_t k = 0; k < n; k++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, order[k]);
            const cdof_area_t *reg = cdof_ref_area(ref, a->region_code);
            const cdof_report_cell_t *c = &d->cells[order[k]];
            char lo[48] = "-", hi[48] = "-", eng[48];
            fputs("<tr><td>", f);
            text(f, a->name);
            fputs("</td><td>", f);
            text(f, reg ? reg->name : "");
            fputs("</td>", f);
            value_cell(f, r, d, a, c);
            if (shown(r, c) && isfinite(c->lower)) {
                fmt_value(d->metric, c->lower, lo, sizeof lo);
                fmt_value(d->metric, c->upper, hi, sizeof hi);
            }
            fmt_value(d->metric, d->cells[ENGLAND_INDEX].value, eng, sizeof eng);
            fprintf(f,
                    "<td class=\"num\">%s&ndash;%s</td><td class=\"num\">%s</td>"
                    "<td class=\"%s\">%s</td></tr>\n",
                    lo, hi, eng, cdof_wire_verdict_name(c->vs_england),
                    verdict_words(c->vs_england));
            listed++;
        }
        free(order);
        fputs("</tbody></table>\n", f);
        fprintf(f, "<p class=\"count\">%zu of %zu areas reporting are worse than England.</p>\n",
                listed, d->areas_reporting);
    }

    char asof[16];
    cdof_date_format(r->as_of, asof, sizeof asof);
    fprintf(f,
            "<h3 id=\"progress-late\">Which partnerships are late with their progress "
            "report?</h3>\n<p>Standing on %s. The progress report to central government was "
            "due by 30 April 2023 and every 12 months since.</p>\n",
            asof);
    fputs("<table class=\"findings\"><thead><tr><th>Partnership</th><th>Standing</th>"
          "<th>Deadline</th><th>Overdue since</th><th>Days overdue</th><th>Reported</th></tr>"
          "</thead><tbody>\n",
          f);
    size_t late = 0, total = 0;
    for (size_t i = 0; i < r->nmilestones; i++) {
        const Cdof__V1__MilestoneRow *m = r->milestones[i];
        total += !strcmp(m->milestone_id, PROGRESS_REPORT);
        if (!progress_late(m))
            continue;
        bool overdue = !strcmp(m->status, "overdue");
        late++;
        char due[16], since[16], done[16];
        day_text(m->due_day, due, sizeof due);
        day_text(m->overdue_since, since, sizeof since);
        day_text(m->done_day, done, sizeof done);
        fputs("<tr><td>", f);
        text(f, m->partnership);
        fprintf(f, "</td><td class=\"%s\">%s</td><td>%s</td><td>%s</td><td class=\"num\">",
                overdue ? "worst" : "worse", overdue ? "overdue: not reported" : "reported late",
                due, since);
        if (overdue)
            fprintf(f, "%d", r->as_of - m->overdue_since);
        else
            fputs("-", f);
        fprintf(f, "</td><td>%s</td></tr>\n", done);
    }
    fputs("</tbody></table>\n", f);
    fprintf(f,
            "<p class=\"count\">%zu of %zu partnerships known to the hub are late or were late "
            "with their latest progress report.</p>\n",
            late, total);
    fputs("</section>\n", f);
}

/* A small line chart of England's trend, with the commitment's target as a dashed line. */
static void trend_svg(FILE *f, const cdof_report_metric_t *rm, const Cdof__V1__NationalRow *nr)
{
    const double w = 320, h = 120, pad = 28;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < rm->ntrend; i++) {
        lo = fmin(lo, rm->trend[i].value);
        hi = fmax(hi, rm->trend[i].value);
    }
    bool target = nr && nr->has_target && strcmp(nr->kind, "cumulative") != 0;
    if (target) {
        lo = fmin(lo, nr->target);
        hi = fmax(hi, nr->target);
    }
    if (lo > 0 && lo < hi * 0.5)
        lo = 0;
    if (hi == lo)
        hi = lo + 1;
    fprintf(f,
            "<svg class=\"trend\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" "
            "role=\"img\" aria-label=\"England trend\">",
            w, h, w, h);
    fprintf(f, "<rect x=\"%.0f\" y=\"4\" width=\"%.0f\" height=\"%.0f\" fill=\"#f4f6f8\"/>", pad,
            w - pad - 4, h - pad - 4);
    char a[48], b[48];
    fmt_value(rm->metric, hi, a, sizeof a);
    fmt_value(rm->metric, lo, b, sizeof b);
    fprintf(f, "<text x=\"2\" y=\"12\" class=\"axis\">%s</text>", a);
    fprintf(f, "<text x=\"2\" y=\"%.0f\" class=\"axis\">%s</text>", h - pad, b);
#define TX(i)                                                                                      \
    (pad +                                                                                         \
     (rm->ntrend > 1 ? (double)(i) * (w - pad - 10) / (double)(rm->ntrend - 1) : 0.5 * (w - pad)))
#define TY(v) (4 + (h - pad - 4) * (1 - ((v)-lo) / (hi - lo)))
    if (target)
        fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"target\"/>", pad,
                w - 4, TY(nr->target), TY(nr->target));
    fputs("<polyline class=\"line\" points=\"", f);
    for (size_t i = 0; i < rm->ntrend; i++)
        fprintf(f, "%.1f,%.1f ", TX(i), TY(rm->trend[i].value));
    fputs("\"/>", f);
    for (size_t i = 0; i < rm->ntrend; i++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" class=\"dot\"/>", TX(i),
                TY(rm->trend[i].value));
    if (rm->ntrend) {
        fputs("<text x=\"", f);
        fprintf(f, "%.0f\" y=\"%.0f\" class=\"axis\">", pad, h - 8);
        text(f, rm->trend[0].period);
        fprintf(f, "</text><text x=\"%.0f\" y=\"%.0f\" class=\"axis\" text-anchor=\"end\">", w - 4,
                h - 8);
        text(f, rm->trend[rm->ntrend - 1].period);
        fputs("</text>", f);
    }
#undef TX
#undef TY
    fputs("</svg>", f);
}

static void national(FILE *f, const cdof_report_t *r)
{
    section_open(f, r, "national", "England: headline metrics and the strategy's commitments");
    fputs("<p>England's figures (submitted by national sources, otherwise the sum of the areas' "
          "numerators and denominators) against the commitments of <i>From harm to hope</i> "
          "(December 2021). Progress is the share of the way from the baseline to the "
          "commitment.</p>\n<table><thead><tr><th>Metric</th><th>Baseline</th><th>Latest</th>"
          "<th>Change</th><th>Commitment</th><th>Target</th><th>Progress</th></tr></thead>"
          "<tbody>\n",
          f);
    for (size_t i = 0; i < r->nnational; i++) {
        const Cdof__V1__NationalRow *n = r->national[i];
        const cdof_report_metric_t *rm = find_metric(r, n->metric_id);
        if (!rm)
            continue;
        char base[48] = "-", latest[48] = "-", change[48] = "-";
        if (n->has_baseline)
            fmt_value(rm->metric, n->baseline, base, sizeof base);
        if (n->has_latest)
            fmt_value(rm->metric, n->latest, latest, sizeof latest);
        if (n->has_baseline && n->has_latest && strcmp(n->kind, "cumulative") != 0) {
            fmt_value(rm->metric, n->latest - n->baseline, change, sizeof change);
            if (n->latest > n->baseline)
                memmove(change + 1, change, strlen(change) + 1), change[0] = '+';
        }
        fputs("<tr><td>", f);
        text(f, n->metric_name);
        fprintf(f, "%s</td><td class=\"num\">%s <small>", n->headline ? " <b>(headline)</b>" : "",
                base);
        text(f, n->baseline_period);
        fprintf(f, "</small></td><td class=\"num\">%s <small>", latest);
        text(f, n->latest_period);
        fprintf(f, "</small></td><td class=\"num\">%s</td><td>", change);
        text(f, n->commitment && *n->commitment ? n->commitment : "-");
        char target[48] = "-";
        if (n->has_target)
            fmt_value(rm->metric, n->target, target, sizeof target);
        fprintf(f, "</td><td class=\"num\">%s</td><td>", target);
        if (n->has_progress) {
            double p = fmax(0, fmin(100, n->progress));
            fprintf(f,
                    "<svg width=\"80\" height=\"10\" role=\"img\" aria-label=\"%.0f%%\">"
                    "<rect width=\"80\" height=\"10\" fill=\"#dde3ea\"/><rect width=\"%.1f\" "
                    "height=\"10\" fill=\"#1d70b8\"/></svg> %.0f%%",
                    n->progress, 0.8 * p, n->progress);
        } else {
            fputs("-", f);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n<div class=\"charts\">\n", f);
    for (size_t i = 0; i < r->nmetrics; i++) {
        const cdof_report_metric_t *rm = &r->metrics[i];
        if (!rm->metric->headline || rm->ntrend == 0)
            continue;
        const Cdof__V1__NationalRow *nr = NULL;
        for (size_t k = 0; k < r->nnational; k++) {
            if (!strcmp(r->national[k]->metric_id, rm->metric->id))
                nr = r->national[k];
        }
        fputs("<figure>", f);
        trend_svg(f, rm, nr);
        fputs("<figcaption>", f);
        text(f, rm->metric->name);
        fprintf(f, " (England, %s)</figcaption></figure>\n", unit_words(rm->metric));
    }
    fputs("</div>\n</section>\n", f);
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

/* The column headings of a table of area metrics (name, id, period, unit); ends the head. */
static void metric_headers(FILE *f, const cdof_report_metric_t *const *cols, size_t nc)
{
    for (size_t c = 0; c < nc; c++) {
        fputs("<th title=\"", f);
        text(f, cols[c]->metric->name);
        fputs("\">", f);
        text(f, cols[c]->metric->id);
        fprintf(f, "<br><small>%s, ", cols[c]->period);
        text(f, unit_words(cols[c]->metric));
        fputs("</small></th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
}

static void regions(FILE *f, const cdof_report_t *r, const cdof_ref_t *ref)
{
    section_open(f, r, "regions", "Regions");
    const cdof_report_metric_t *cols[MAX_REGION_COLS];
    size_t nc = area_metrics(r, cols, MAX_REGION_COLS);
    if (!nc) {
        fputs("<p>No area figures for this year.</p>\n</section>\n", f);
        return;
    }
    fputs("<p>Each area's latest figure in the year, coloured by its comparison with England "
          "(see the key). <b>*</b> marks a figure withheld to protect small numbers.</p>\n",
          f);
    size_t na = cdof_ref_area_count(ref);
    for (size_t g = 0; g < na; g++) {
        const cdof_area_t *reg = cdof_ref_area_at(ref, g);
        if (reg->kind != CDOF_AREA_REGION)
            continue;
        fprintf(f, "<h3 id=\"region-%s\">", reg->code);
        text(f, reg->name);
        fputs("</h3>\n<table class=\"region\"><thead><tr><th>Area</th>", f);
        metric_headers(f, cols, nc);
        for (size_t i = 0; i < na; i++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, i);
            if (a->kind != CDOF_AREA_UTLA || strcmp(a->region_code, reg->code) != 0)
                continue;
            bool any = false;
            for (size_t c = 0; c < nc; c++)
                any |= cols[c]->cells[i].has;
            if (!any)
                continue;
            fprintf(f, "<tr><td><a href=\"#area-%s\">", a->code);
            text(f, a->name);
            fputs("</a></td>", f);
            for (size_t c = 0; c < nc; c++)
                value_cell(f, r, cols[c], a, &cols[c]->cells[i]);
            fputs("</tr>\n", f);
        }
        fputs("</tbody><tfoot><tr><th>", f);
        text(f, reg->name);
        fputs("</th>", f);
        for (size_t c = 0; c < nc; c++)
            value_cell(f, r, cols[c], reg, &cols[c]->cells[reg->index]);
        fputs("</tr><tr><th>England</th>", f);
        for (size_t c = 0; c < nc; c++)
            value_cell(f, r, cols[c], cdof_ref_area_at(ref, ENGLAND_INDEX),
                       &cols[c]->cells[ENGLAND_INDEX]);
        fputs("</tr></tfoot></table>\n", f);
    }
    fputs("</section>\n", f);
}

/* The configured partnerships of areas, one row each, in the regional tables' columns: their
 * stored rows (counts summed over the member areas) against England. */
static void partnerships(FILE *f, const cdof_report_t *r, const cdof_ref_t *ref)
{
    if (!r->npartnerships)
        return; /* the hub has none configured: every area is its own */
    section_open(f, r, "partnerships", "Partnerships");
    const cdof_report_metric_t *cols[MAX_REGION_COLS];
    size_t nc = area_metrics(r, cols, MAX_REGION_COLS);
    fputs("<p>Each partnership's figure sums its areas' numerators and denominators, compared "
          "with England like an area's; <b>*</b> marks a figure withheld to protect small "
          "numbers.</p>\n<table class=\"region\"><thead><tr><th>Partnership</th><th>Areas</th>",
          f);
    metric_headers(f, cols, nc);
    for (size_t k = 0; k < r->npartnerships; k++) {
        const cdof_report_partnership_t *pt = &r->partnerships[k];
        /* value_cell needs an area: the partnership as one. */
        cdof_area_t as_area = {.code = pt->code, .name = pt->code, .kind = CDOF_AREA_PARTNERSHIP};
        fprintf(f, "<tr id=\"partnership-%s\"><td>", pt->code);
        text(f, pt->code);
        fputs("</td><td>", f);
        for (size_t j = 0; j < pt->nmembers; j++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, pt->members[j]);
            fprintf(f, "%s<a href=\"#area-%s\">", j ? ", " : "", a->code);
            text(f, a->name);
            fputs("</a>", f);
        }
        fputs("</td>", f);
        for (size_t c = 0; c < nc; c++)
            value_cell(f, r, cols[c], &as_area, cols[c]->pcells ? &cols[c]->pcells[k] : NULL);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n</section>\n", f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    bool ok;
    double worst, q_worse, q_better, best, england, half;
    bool flip; /* low is good: higher values are drawn to the left */
} spine_t;

static spine_t spine_of(const cdof_report_t *r, const cdof_report_metric_t *rm,
                        const cdof_ref_t *ref, double *scratch)
{
    spine_t s = {0};
    size_t n = 0;
    for (size_t i = 0; i < cdof_ref_area_count(ref); i++) {
        if (cdof_ref_area_at(ref, i)->kind == CDOF_AREA_UTLA && shown(r, &rm->cells[i]))
            scratch[n++] = rm->cells[i].value;
    }
    if (n < 2 || !rm->cells[ENGLAND_INDEX].has)
        return s;
    qsort(scratch, n, sizeof *scratch, cmp_double);
    s.flip = rm->metric->polarity == CDOF_POLARITY_LOW_GOOD;
    double lo = scratch[0], hi = scratch[n - 1];
    s.worst = s.flip ? hi : lo;
    s.best = s.flip ? lo : hi;
    s.q_worse = cdof_stats_percentile_inc(scratch, n, s.flip ? 0.75 : 0.25);
    s.q_better = cdof_stats_percentile_inc(scratch, n, s.flip ? 0.25 : 0.75);
    s.england = rm->cells[ENGLAND_INDEX].value;
    s.half = fmax(fabs(hi - s.england), fabs(s.england - lo));
    if (s.half == 0)
        s.half = 1;
    s.ok = true;
    return s;
}

/* Fingertips' spine: England in the middle, the range of areas worst (left) to best (right),
 * the middle half darker, the area as a dot coloured by its verdict. */
static void spine_svg(FILE *f, const spine_t *s, const cdof_report_cell_t *c, bool show)
{
    const double w = 200;
#define SX(v) (w * (0.5 + (s->flip ? -1 : 1) * ((v)-s->england) / (2 * s->half)))
    double a = SX(s->worst), b = SX(s->best), qa = SX(s->q_worse), qb = SX(s->q_better);
    fprintf(f, "<svg class=\"spine\" width=\"%.0f\" height=\"16\" viewBox=\"0 0 %.0f 16\">", w, w);
    fprintf(f, "<rect x=\"%.1f\" y=\"3\" width=\"%.1f\" height=\"10\" fill=\"#c9d3dd\"/>",
            fmin(a, b), fabs(b - a));
    fprintf(f, "<rect x=\"%.1f\" y=\"3\" width=\"%.1f\" height=\"10\" fill=\"#7f8fa0\"/>",
            fmin(qa, qb), fabs(qb - qa));
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"0\" y2=\"16\" stroke=\"#000\"/>", w / 2, w / 2);
    if (show)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"8\" r=\"5\" class=\"%s\" stroke=\"#000\"/>",
                SX(c->value), cdof_wire_verdict_name(c->vs_england));
#undef SX
    fputs("</svg>", f);
}

static void areas(FILE *f, const cdof_report_t *r, const cdof_ref_t *ref)
{
    section_open(f, r, "areas", "Area profiles");
    fputs("<p>For each area, every metric with a figure in the year, in the manner of OHID's "
          "Fingertips spine charts: the bar runs from the worst area in England (left) to the "
          "best (right), its darker middle is the middle half of areas, the black line is "
          "England and the dot is the area, coloured by its comparison with England.</p>\n",
          f);
    size_t na = cdof_ref_area_count(ref);
    const cdof_report_metric_t *cols[64];
    size_t nc = area_metrics(r, cols, sizeof cols / sizeof cols[0]);
    spine_t spines[64];
    double *scratch = calloc(na, sizeof *scratch);
    for (size_t c = 0; c < nc; c++)
        spines[c] = scratch && cols[c]->metric->unit != CDOF_UNIT_COUNT
                        ? spine_of(r, cols[c], ref, scratch)
                        : (spine_t){0}; /* England's count is a total: no spine for counts */
    free(scratch);
    for (size_t i = 0; i < na; i++) {
        const cdof_area_t *a = cdof_ref_area_at(ref, i);
        if (a->kind != CDOF_AREA_UTLA)
            continue;
        bool any = false;
        for (size_t c = 0; c < nc; c++)
            any |= cols[c]->cells[i].has;
        if (!any)
            continue;
        const cdof_area_t *reg = cdof_ref_area(ref, a->region_code);
        fprintf(f, "<h3 id=\"area-%s\">", a->code);
        text(f, a->name);
        fprintf(f, " <small>%s, ", a->code);
        text(f, reg ? reg->name : "");
        fputs("</small></h3>\n<table class=\"spine\"><thead><tr><th>Metric</th><th>Period</th>"
              "<th>Value</th><th>England</th><th>Worst</th><th>Range</th><th>Best</th></tr>"
              "</thead><tbody>\n",
              f);
        for (size_t c = 0; c < nc; c++) {
            const cdof_report_cell_t *cell = &cols[c]->cells[i];
            if (!cell->has)
                continue;
            char eng[48], worst[48] = "-", best[48] = "-";
            fmt_value(cols[c]->metric, cols[c]->cells[ENGLAND_INDEX].value, eng, sizeof eng);
            if (spines[c].ok) {
                fmt_value(cols[c]->metric, spines[c].worst, worst, sizeof worst);
                fmt_value(cols[c]->metric, spines[c].best, best, sizeof best);
            }
            fputs("<tr><td>", f);
            text(f, cols[c]->metric->name);
            fprintf(f, "</td><td>%s</td>", cols[c]->period);
            value_cell(f, r, cols[c], a, cell);
            fprintf(f, "<td class=\"num\">%s</td><td class=\"num\">%s</td><td>", eng, worst);
            if (spines[c].ok)
                spine_svg(f, &spines[c], cell, shown(r, cell));
            fprintf(f, "</td><td class=\"num\">%s</td></tr>\n", best);
        }
        fputs("</tbody></table>\n", f);
    }
    fputs("</section>\n", f);
}

static void milestones(FILE *f, const cdof_report_t *r, const cdof_ref_t *ref)
{
    section_open(f, r, "milestones", "Milestone compliance");
    char asof[16];
    cdof_date_format(r->as_of, asof, sizeof asof);
    fprintf(f,
            "<p>Each partnership's deliverables as at %s: <span class=\"better\">done</span>, "
            "<span class=\"worse\">done late</span>, <span class=\"worst\">overdue</span> or "
            "not yet due. Dates are when it was done or since when it is overdue. A "
            "partnership is listed once it has reported a milestone to the hub.</p>\n",
            asof);
    size_t nm = cdof_ref_milestone_count(ref);
    fputs("<table class=\"milestones\"><thead><tr><th>Partnership</th>", f);
    for (size_t k = 0; k < nm; k++) {
        const cdof_milestone_t *m = cdof_ref_milestone_at(ref, k);
        fputs("<th title=\"", f);
        text(f, m->deliverable);
        fputs("\">", f);
        for (const char *c = m->id; *c; c++) /* "progress report": headings may wrap */
            fputc(*c == '_' ? ' ' : *c, f);
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
    for (size_t i = 0; i < r->nmilestones;) {
        const char *p = r->milestones[i]->partnership;
        fputs("<tr><td>", f);
        text(f, p);
        fputs("</td>", f);
        for (size_t k = 0; k < nm; k++) {
            const cdof_milestone_t *m = cdof_ref_milestone_at(ref, k);
            const Cdof__V1__MilestoneRow *row = NULL;
            for (size_t j = i; j < r->nmilestones && !strcmp(r->milestones[j]->partnership, p);
                 j++) {
                if (!strcmp(r->milestones[j]->milestone_id, m->id))
                    row = r->milestones[j];
            }
            if (!row) {
                fputs("<td>-</td>", f);
                continue;
            }
            char d[16];
            bool overdue = !strcmp(row->status, "overdue");
            day_text(overdue ? row->overdue_since : row->done_day, d, sizeof d);
            const char *cls = overdue                             ? "worst"
                              : !strcmp(row->status, "done_late") ? "worse"
                              : !strcmp(row->status, "done")      ? "better"
                                                                  : "not_compared";
            fprintf(f, "<td class=\"%s\">%s<br><small>%s</small></td>", cls,
                    overdue ? "overdue since" : row->status, d);
        }
        fputs("</tr>\n", f);
        while (i < r->nmilestones && !strcmp(r->milestones[i]->partnership, p))
            i++;
    }
    fputs("</tbody></table>\n</section>\n", f);
}

static void alerts(FILE *f, const cdof_report_t *r, const cdof_ref_t *ref)
{
    section_open(f, r, "alerts", "Alerts raised and resolved in the year");
    int64_t from = (int64_t)r->year_first * 86400000, to = ((int64_t)r->year_last + 1) * 86400000;
    size_t raised = 0, resolved = 0;
    for (size_t i = 0; i < r->nalerts; i++) {
        const Cdof__V1__Alert *a = r->alerts[i];
        if (a->raised_ms < from || a->raised_ms >= to)
            continue;
        raised += a->state == CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING;
        resolved += a->state == CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED;
    }
    size_t outside = 0;
    for (size_t i = 0; i < r->nalerts; i++)
        outside += r->alerts[i]->raised_ms < from || r->alerts[i]->raised_ms >= to;
    fprintf(f,
            "<p>%zu alerts raised and %zu resolved between 1 April and 31 March (the hub's "
            "record; an alert is raised once while its condition holds). %zu more in the "
            "hub's record were raised outside the year.</p>\n",
            raised, resolved, outside);
    fputs("<table><thead><tr><th>#</th><th>Raised</th><th>State</th><th>Rule</th><th>Area</th>"
          "<th>Metric</th><th>Summary</th></tr></thead><tbody>\n",
          f);
    size_t listed = 0;
    for (size_t i = 0; i < r->nalerts && listed < MAX_ALERTS_LIST; i++) {
        const Cdof__V1__Alert *a = r->alerts[i];
        if (a->raised_ms < from || a->raised_ms >= to)
            continue;
        char when[32];
        cdof_clock_format(a->raised_ms, when, sizeof when);
        when[10] = '\0';
        const cdof_area_t *area = cdof_ref_area(ref, a->area_code);
        fprintf(f, "<tr><td class=\"num\">%llu</td><td>%s</td><td>%s</td><td>",
                (unsigned long long)a->sequence, when, cdof_qo_state_name(a->state));
        text(f, a->rule);
        fputs("</td><td>", f);
        text(f, area ? area->name : a->area_code);
        fputs("</td><td>", f);
        text(f, a->metric_id);
        fputs("</td><td>", f);
        /* Summaries quote figures; in publication mode they are left out for areas with a
         * withheld figure (the summary could hold the small number). */
        const cdof_report_metric_t *rm = find_metric(r, a->metric_id);
        bool hide = !r->internal && rm && rm->cells && area && rm->cells[area->index].has &&
                    rm->cells[area->index].sup != CDOF_SUP_SHOWN;
        text(f, hide ? "(withheld: small numbers)" : a->summary);
        fputs("</td></tr>\n", f);
        listed++;
    }
    fputs("</tbody></table>\n", f);
    if (listed == MAX_ALERTS_LIST)
        fprintf(f,
                "<p>The first %d are listed; <code>cdof-query alerts</code> gives them all."
                "</p>\n",
                MAX_ALERTS_LIST);
    fputs("</section>\n", f);
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

static void completeness(FILE *f, const cdof_report_t *r, const cdof_ref_t *ref)
{
    section_open(f, r, "completeness", "Data completeness");
    size_t utlas = 0;
    for (size_t i = 0; i < cdof_ref_area_count(ref); i++)
        utlas += cdof_ref_area_at(ref, i)->kind == CDOF_AREA_UTLA;
    fputs("<p>For each metric: the latest period ending in or before the year, how many areas "
          "reported it, and how many of the year's periods the hub holds for England.</p>\n"
          "<table><thead><tr><th>Metric</th><th>Latest period</th><th>Areas reporting</th>"
          "<th>Periods in the year</th></tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < r->nmetrics; i++) {
        const cdof_report_metric_t *rm = &r->metrics[i];
        fputs("<tr><td>", f);
        text(f, rm->metric->name);
        fprintf(f, "</td><td>%s</td>", rm->period[0] ? rm->period : "none");
        if (!strcmp(rm->metric->geography, "utla"))
            fprintf(f, "<td class=\"num\">%zu of %zu</td>", rm->areas_reporting, utlas);
        else
            fputs("<td class=\"num\">national</td>", f);
        size_t want = rm->metric->frequency == CDOF_FREQ_POOLED3 ? 0 : expected_periods(rm->metric);
        if (want)
            fprintf(f, "<td class=\"num\">%zu of %zu</td></tr>\n", rm->periods_in_year, want);
        else
            fputs("<td class=\"num\">pooled</td></tr>\n", f);
    }
    fputs("</tbody></table>\n</section>\n", f);
}

static void methods(FILE *f, const cdof_report_t *r)
{
    section_open(f, r, "methods", "Methods");
    fputs("<p><b>Sources.</b> Figures are those held by the national cdof hub, submitted by "
          "local Combating Drugs Partnerships and national sources (NDTMS, ONS, Home Office). "
          "Commitments are from <i>From harm to hope: a 10-year drugs plan to cut crime and save "
          "lives</i> (HM Government, December 2021). Populations are ONS mid-2020 estimates.</p>\n"
          "<p><b>Comparisons.</b> As OHID's Fingertips: proportions have Wilson score intervals; "
          "rates have Byar's method (exact Poisson below 10 events). England's and regions' "
          "figures sum the areas' numerators and denominators (never averages of rates) unless "
          "a national source submitted them. An area is similar to England when England's value "
          "lies inside its 95% interval, better or worse when it lies outside (by the metric's "
          "polarity), and best or worst when outside the 99.8% interval. Quintiles rank areas "
          "with quintile 1 at the better end.</p>\n"
          "<p><b>Periods.</b> Each metric is shown at its latest period ending by 31 March of the "
          "year reported; deaths are pooled over three calendar years.</p>\n"
          "<p><b>Coverage and provisional figures.</b> For each metric the hub knows who is "
          "expected to report each period: every upper-tier area (153), every region, or the "
          "national source, by the metric's geography. Coverage is the expected areas that have "
          "reported, of those expected, for England, each region and each partnership. A period "
          "is complete when every expected area has reported, or when its reporting deadline has "
          "passed with at least the metric's threshold (by default 90% of the areas, 30 days "
          "after the period ends), or when a named person has closed it. England's and a "
          "region's figure summed from an incomplete period is provisional, and so is any "
          "comparison with it; alerts judge complete periods only.</p>\n"
          "<p><b>Milestones.</b> Deadlines are those of the guidance for local delivery partners "
          "(June 2022); recurring ones (the progress report every 12 months, the needs assessment "
          "every 36) fall on the same day each cycle. A deliverable reported after its deadline "
          "is \"done late\"; one not reported is \"overdue\" from the first deadline missed in a "
          "row.</p>\n"
          "<p><b>Small numbers.</b> In this published edition counts from 1 to 4 are withheld, "
          "and so is any rate or percentage computed from them, as well as any percentage whose "
          "complement (its denominator less its numerator: 97 of 100 leaves 3) is from 1 to 4. "
          "So that a withheld count cannot "
          "be worked out from a total, each region's areas and the region's total, the regions "
          "and England, and each partnership and its areas, are checked in turn: where exactly "
          "one member of such a group is withheld, the smallest other count in the group is "
          "withheld too, until no group has exactly one. Withheld figures show as <b>*</b>.",
          f);
    if (r->internal)
        fputs(" <b>This internal edition shows true values.</b>", f);
    fputs("</p>\n</section>\n", f);
}

static const char *css =
    "body{font-family:Arial,Helvetica,sans-serif;margin:0 auto;max-width:1100px;padding:0 16px;"
    "color:#0b0c0c}h1{font-size:28px;margin:16px 0 4px}h2{border-bottom:3px solid #1d70b8;"
    "padding-bottom:4px;margin-top:32px}h3{margin:20px 0 6px}table{border-collapse:collapse;"
    "margin:8px 0;font-size:13px}th,td{border:1px solid #b1b4b6;padding:3px 6px;vertical-align:"
    "top}thead th{background:#f3f2f1;text-align:left}td.num{text-align:right;white-space:nowrap}"
    ".better,.best{background:#92d050}.best{font-weight:bold}.similar{background:#ffc000}"
    ".worse{background:#e57373}.worst{background:#c00000;color:#fff}.higher{background:#bed2ff}"
    ".lower{background:#5555e6;color:#fff}.not_compared,.agg{background:#fff}"
    "svg .better,svg .best{fill:#92d050}svg .similar{fill:#ffc000}svg .worse,svg .worst{fill:"
    "#c00000}svg .higher{fill:#bed2ff}svg .lower{fill:#5555e6}svg .not_compared{fill:#fff}"
    ".findings{font-size:15px}.summary{font-size:17px;line-height:1.5}#key-findings{background:#"
    "f8f8f8;border-left:8px solid #1d70b8;"
    "padding:4px 16px 12px}.mark{background:#d4351c;color:#fff;font-weight:bold;padding:6px;"
    "margin:8px 0}.banner{position:fixed;top:0;left:0;right:0;text-align:center;z-index:9}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;width:330px;font-size:12px}"
    ".trend .line{fill:none;stroke:#1d70b8;stroke-width:2}.trend .dot{fill:#1d70b8}"
    ".trend .target{stroke:#d4351c;stroke-dasharray:4 3}.axis{font-size:9px;fill:#505a5f}"
    "nav li{margin:2px 0}.key span{padding:2px 6px;margin-right:4px;border:1px solid #b1b4b6}"
    ".internal{padding-top:44px}@media print{section{break-before:page}.banner{position:fixed}}";

int cdof_report_render(const cdof_report_t *r, const cdof_ref_t *ref, FILE *f)
{
    char when[32], asof[16];
    cdof_clock_format(r->generated_ms, when, sizeof when);
    cdof_date_format(r->as_of, asof, sizeof asof);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    fprintf(f,
            "Combating Drugs Outcomes Framework: annual report %s%s</title>\n<style>%s</style>\n"
            "</head>\n<body%s>\n",
            r->year, r->internal ? " (internal)" : "", css,
            r->internal ? " class=\"internal\"" : "");
    if (r->internal)
        fputs("<div class=\"banner mark\">OFFICIAL-SENSITIVE: internal edition with unsuppressed "
              "small numbers</div>\n",
              f);
    fprintf(f,
            "<header>\n<h1>Combating Drugs Outcomes Framework: annual report %s</h1>\n"
            "<p>Report to Parliament on the year 1 April to 31 March. Generated %s from the "
            "national cdof hub; milestones as at %s. %s</p>\n",
            r->year, when, asof,
            r->internal ? "<b>Internal edition: true values, for official use only.</b>"
                        : "Published edition: small numbers withheld (see Methods).");
    fputs("<p class=\"key\">Key: <span class=\"better\">better than England</span><span "
          "class=\"similar\">similar</span><span class=\"worse\">worse (95%)</span><span "
          "class=\"worst\">worse (99.8%)</span><span class=\"not_compared\">not compared</span>"
          "</p>\n<nav><ol><li><a href=\"#key-findings\">Key findings: areas worse than England on "
          "drug deaths; partnerships late with their progress report</a></li><li><a "
          "href=\"#national\">England: headline metrics and commitments</a></li><li><a "
          "href=\"#regions\">Regions</a></li>",
          f);
    if (r->npartnerships)
        fputs("<li><a href=\"#partnerships\">Partnerships</a></li>", f);
    fputs("<li><a href=\"#areas\">Area profiles</a></li><li><a "
          "href=\"#milestones\">Milestone compliance</a></li><li><a href=\"#alerts\">Alerts</a>"
          "</li><li><a href=\"#completeness\">Data completeness</a></li><li><a "
          "href=\"#methods\">Methods</a></li></ol></nav>\n</header>\n<main>\n",
          f);
    key_findings(f, r, ref);
    national(f, r);
    regions(f, r, ref);
    partnerships(f, r, ref);
    areas(f, r, ref);
    milestones(f, r, ref);
    alerts(f, r, ref);
    completeness(f, r, ref);
    methods(f, r);
    fputs("</main>\n</body>\n</html>\n", f);
    return ferror(f) ? -EIO : 0;
}
