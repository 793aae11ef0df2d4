/* The annual report to Parliament: one self-contained HTML file (inline CSS and SVG, nothing
 * fetched) built from the hub's query endpoint.
 *
 *   report_fetch.c  asks the hub (national summary, an England series and a league table per
 *                   metric, milestone compliance, alerts) and fills a cdof_report_t;
 *   cdof_report_suppress() (report_html.c) applies small-number suppression (report_suppress.h)
 *                   to every count the report publishes;
 *   cdof_report_render() (report_html.c) writes the HTML.
 * Publication mode withholds counts 1-4 and what would give them away; internal mode shows true
 * values and marks every section "OFFICIAL-SENSITIVE: internal". */
#ifndef CDOF_REPORT_H
#define CDOF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cdof.pb-c.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "query_output.h"

#define CDOF_REPORT_CODE_MAX         65 /* a partnership id and its NUL */
#define CDOF_REPORT_MAX_MEMBERS      64 /* areas of one partnership */
#define CDOF_REPORT_MAX_PARTNERSHIPS 64

/* One area's (or region's, or England's) figure for the report's period of a metric. */
typedef struct {
    bool has;
    double value, lower, upper; /* lower/upper: 95% interval, NaN without one */
    bool has_count;
    double count; /* numerator, or the value of a count metric */
    Cdof__V1__Verdict vs_england;
    int quintile;
    uint8_t sup; /* CDOF_SUP_*; always shown in internal mode */
    /* Percentages: the denominator, so that suppression protects the complement as well. */
    bool has_denominator;
    double denominator;
} cdof_report_cell_t;

typedef struct {
    char period[CDOF_PERIOD_TEXT_MAX];
    double value;
} cdof_report_point_t;

typedef struct {
    const cdof_metric_t *metric;
    char period[CDOF_PERIOD_TEXT_MAX]; /* the latest period ending by the year's end; "" none */
    cdof_report_point_t *trend;        /* England, oldest first, same kind as period (owned) */
    size_t ntrend;
    size_t periods_in_year;     /* periods of that kind within the year */
    cdof_report_cell_t *cells;  /* indexed like cdof_ref_area_at; NULL without area data (owned) */
    size_t areas_reporting;     /* UTLAs with a value */
    cdof_report_cell_t *pcells; /* indexed like cdof_report_t.partnerships; NULL none (owned) */
} cdof_report_metric_t;

/* A configured partnership of areas (named by the league rows' `partnership`), profiled from its
 * stored comparison rows. */
typedef struct {
    char code[CDOF_REPORT_CODE_MAX];         /* the hub's partnership id */
    size_t members[CDOF_REPORT_MAX_MEMBERS]; /* area indexes (cdof_ref_area_at) */
    size_t nmembers;
} cdof_report_partnership_t;

typedef struct {
    char year[CDOF_PERIOD_TEXT_MAX]; /* "2024/25" */
    int32_t year_first, year_last, as_of;
    bool internal;
    int64_t generated_ms;
    cdof_report_metric_t *metrics; /* catalogue order (owned) */
    size_t nmetrics;
    /* Borrowed from pages (owned here, freed by cdof_report_free). */
    Cdof__V1__NationalRow **national;
    size_t nnational;
    Cdof__V1__MilestoneRow **milestones;
    size_t nmilestones;
    Cdof__V1__Alert **alerts;
    size_t nalerts;
    cdof_qo_pages_t pages[3]; /* national, milestones, alerts */
    /* Partnerships of several areas the hub is configured with (owned; at most
     * CDOF_REPORT_MAX_PARTNERSHIPS, the first seen). */
    cdof_report_partnership_t *partnerships;
    size_t npartnerships;
} cdof_report_t;

/* Frees what r owns (not r itself). */
void cdof_report_free(cdof_report_t *r);

/* Asks the hub on a connected DEALER for everything the report for year (e.g. "2024/25") needs.
 * as_of 0: the earlier of today and the year's last day. Returns 0, -ETIMEDOUT, CDOF_EINVALID
 * (bad year, the hub refused a query: err says why) or another negative code. r is filled even
 * on failure, for cdof_report_free. */
int cdof_report_fetch(void *sock, uint64_t *next_id, int timeout_ms, const cdof_ref_t *ref,
                      const char *year, int32_t as_of, cdof_report_t *r, char *err, size_t errlen);

/* Applies suppression to every cell (groups: each region's areas with the region's total, the
 * regions with England's, each partnership with its areas; percentages also by their
 * complements). Returns the number of cells
 * withheld or a negative code. */
int cdof_report_suppress(cdof_report_t *r, const cdof_ref_t *ref);

/* Writes the HTML. Returns 0 or -EIO. */
int cdof_report_render(const cdof_report_t *r, const cdof_ref_t *ref, FILE *out);

#endif
