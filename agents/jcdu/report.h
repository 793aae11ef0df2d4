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
#include "cdof_client.h"
#include "report_render.h"

#define CDOF_REPORT_CODE_MAX         65 /* a partnership id and its NUL */
#define CDOF_REPORT_MAX_MEMBERS      64 /* areas of one partnership */
#define CDOF_REPORT_MAX_PARTNERSHIPS 64
#define CDOF_REPORT_NAME_MAX         129 /* a partnership's display name and its NUL */

/* A partnership's id and the name people know it by (the partnerships file's name column). */
typedef struct {
    char id[CDOF_REPORT_CODE_MAX];
    char name[CDOF_REPORT_NAME_MAX];
} cdof_report_name_t;

/* Envelopes the hub refused from one partnership for one reason (the hub's `rejections`). */
typedef struct {
    char partnership[CDOF_REPORT_CODE_MAX]; /* the sending key's partnership, else its agent id */
    uint64_t rows;
    char reason[256];
} cdof_report_rejected_t;

/* A metric-period of the year that changed after the hub judged it complete (the `revised`
 * records of its history). */
typedef struct {
    char metric_id[CDOF_REPORT_CODE_MAX];
    char period[CDOF_PERIOD_TEXT_MAX];
    int32_t completed_day, revised_day; /* revised_day: the latest revision */
    uint32_t batches;                   /* ingest batches that revised it */
    uint32_t rows;                      /* areas whose figure arrived after it completed */
} cdof_report_revision_t;

/* What a figure rests on: how many of the areas it should cover reported (England and regions
 * sum their areas; a partnership its members), and whether it may still change. Filled from the
 * hub's period model where it gives one; expected 0 means the hub did not say, and the report
 * says "coverage not reported" rather than guess. */
typedef struct {
    int32_t covered, expected;
    bool provisional; /* the period is not complete: returns are still due or open to revision */
} cdof_report_mark_t;

/* One area's (or region's, or England's) figure for the report's period of a metric. */
typedef struct {
    cdof_report_mark_t mark;
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
    bool provisional;
} cdof_report_point_t;

/* A period's state as the hub's period model keeps it; UNKNOWN: the hub did not say. */
typedef enum {
    CDOF_REPORT_PERIOD_UNKNOWN = 0,
    CDOF_REPORT_PERIOD_OPEN,
    CDOF_REPORT_PERIOD_COMPLETE,
    CDOF_REPORT_PERIOD_CLOSED
} cdof_report_pstate_t;

typedef struct {
    const cdof_metric_t *metric;
    /* The latest complete period ending by the year's end; without one, the newest (its
     * figures provisional, none_complete set); "" none. */
    char period[CDOF_PERIOD_TEXT_MAX];
    bool none_complete;
    cdof_report_point_t *trend; /* England, oldest first, same kind as period (owned) */
    size_t ntrend;
    size_t periods_in_year;     /* periods of that kind within the year */
    cdof_report_cell_t *cells;  /* indexed like cdof_ref_area_at; NULL without area data (owned) */
    size_t areas_reporting;     /* UTLAs with a value */
    cdof_report_cell_t *pcells; /* indexed like cdof_report_t.partnerships; NULL none (owned) */
    cdof_report_mark_t mark;    /* England's figure for period */
    /* The hub's coverage account of period (its `coverage` query): the state, and the expected
     * areas (regions, or England for a national source) that have not reported, as area indexes
     * in reference order (owned). coverage_known false: the hub gave none. */
    bool coverage_known;
    cdof_report_pstate_t state;
    size_t *missing;
    size_t nmissing;
} cdof_report_metric_t;

/* A configured partnership of areas (named by the league rows' `partnership`), profiled from its
 * stored comparison rows. */
typedef struct {
    char code[CDOF_REPORT_CODE_MAX];         /* the hub's partnership id */
    char name[CDOF_REPORT_NAME_MAX];         /* display name; "" none known */
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
    cdof_client_pages_t pages[3]; /* national, milestones, alerts */
    /* Partnerships of several areas the hub is configured with (owned; at most
     * CDOF_REPORT_MAX_PARTNERSHIPS, the first seen). */
    cdof_report_partnership_t *partnerships;
    size_t npartnerships;
    /* Display names of partnerships (owned; NULL: ids are shown). */
    cdof_report_name_t *names;
    size_t nnames;
    /* England's headline figures' coverage, parallel to national (owned; NULL: not reported). */
    cdof_report_mark_t *national_marks;
    /* Data quality. *_known false: the hub gave no account, and the report says so. */
    bool rejected_known, revisions_known;
    cdof_report_rejected_t *rejected; /* owned */
    size_t nrejected;
    cdof_report_revision_t *revisions; /* owned */
    size_t nrevisions;
    uint64_t hub_rejected; /* envelopes the hub refused since it started (its health counters) */
    bool has_hub_rejected;
} cdof_report_t;

/* Frees what r owns (not r itself). */
void cdof_report_free(cdof_report_t *r);

/* Asks the hub through client for everything the report for year (e.g. "2024/25") needs.
 * as_of 0: the earlier of today and the year's last day. Returns 0, -ETIMEDOUT, CDOF_EINVALID
 * (bad year, the hub refused a query: err says why) or another negative code. r is filled even
 * on failure, for cdof_report_free. */
int cdof_report_fetch(cdof_client_t *client, const cdof_ref_t *ref, const char *year, int32_t as_of,
                      cdof_report_t *r, char *err, size_t errlen);

/* Applies suppression to every cell (groups: each region's areas with the region's total, the
 * regions with England's, each partnership with its areas; percentages also by their
 * complements). Returns the number of cells
 * withheld or a negative code. */
int cdof_report_suppress(cdof_report_t *r, const cdof_ref_t *ref);

/* Reads the display names of a partnerships file (CSV partnership,area_code[,name]; one name per
 * partnership, on any of its rows) into r. Returns 0, or CDOF_EINVALID with err naming the file,
 * line and field, or another negative code. */
int cdof_report_load_names(cdof_report_t *r, const char *path, char *err, size_t errlen);
/* The name people know partnership id by: its display name, else id. */
const char *cdof_report_partnership_name(const cdof_report_t *r, const char *id);

/* Renders the report: the HTML page into html, and every table it shows (the area profiles as
 * one long table) into *tables (an array of n owned tables; free each with cdof_rr_table_free
 * and the array with free). tables NULL: none kept. Returns 0 or a negative code. */
int cdof_report_build(const cdof_report_t *r, const cdof_ref_t *ref, cdof_rr_buf_t *html,
                      cdof_rr_table_t ***tables, size_t *ntables);

/* Writes the HTML. Returns 0 or -EIO. */
int cdof_report_render(const cdof_report_t *r, const cdof_ref_t *ref, FILE *out);

/* Prints the HTML report at html_path to a PDF at pdf_path with headless Chromium (CDOF_CHROMIUM,
 * else chromium on PATH), waiting at most timeout_s. Returns 0; -ENOENT when no browser is
 * installed; another negative code. err says why. */
int cdof_report_pdf(const char *html_path, const char *pdf_path, int timeout_s, char *err,
                    size_t errlen);

/* Writes the tables as one ODS workbook at path (via a temporary file renamed into place).
 * Returns 0, or a negative code with err saying why. */
int cdof_report_write_ods(const cdof_rr_table_t *const *tables, size_t n, const char *title,
                          const char *notes, const char *path, char *err, size_t errlen);

#endif
