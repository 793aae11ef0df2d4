/* Output of cdof-query (and the alert lines of cdof-watch): a small table of cells rendered as an
 * aligned text table, as CSV (RFC 4180) or as JSON (an array of objects), and the pure
 * formatting helpers behind them. "qo" stands for query output.
 *
 * Two shapes of table are built from the same wire rows: a "record" table (snake_case columns,
 * numbers at full precision, every field: CSV and JSON) and a "display" table (short headings,
 * values to one decimal, intervals as "8.1–12.6": the aligned text table). Nothing here does I/O
 * beyond writing to the FILE the caller passes. */
#ifndef CDOF_QUERY_OUTPUT_H
#define CDOF_QUERY_OUTPUT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cdof.pb-c.h"

typedef enum { CDOF_QO_TABLE, CDOF_QO_CSV, CDOF_QO_JSON } cdof_qo_format_t;

/* Parses "table", "csv" or "json". Returns 0 or -EINVAL. */
int cdof_qo_format_parse(const char *s, cdof_qo_format_t *out);

typedef enum {
    CDOF_QO_NULL,  /* absent: empty in a table and CSV, null in JSON */
    CDOF_QO_TEXT,  /* a JSON string */
    CDOF_QO_NUMBER /* text that is a valid JSON number */
} cdof_qo_kind_t;

typedef struct {
    const char *name; /* heading; not copied (string literals) */
    bool right;       /* right-aligned in a table (numbers) */
    bool shrink;      /* may be cut with "…" to fit the table's width (names, summaries) */
} cdof_qo_col_t;

typedef struct cdof_qo_table cdof_qo_table_t;

/* A table with ncols columns described by cols (the array is copied, the names are not). Returns
 * NULL when out of memory. */
cdof_qo_table_t *cdof_qo_table_new(const cdof_qo_col_t *cols, size_t ncols);
void cdof_qo_table_destroy(cdof_qo_table_t **t);

/* Appends a row whose cells are all CDOF_QO_NULL. Returns 0 or -ENOMEM. */
int cdof_qo_table_add_row(cdof_qo_table_t *t);
/* Sets a cell of the last row to a copy of text (NULL text: a null cell). Returns 0, -ENOMEM or
 * -EINVAL (no row, col out of range). */
int cdof_qo_table_set(cdof_qo_table_t *t, size_t col, cdof_qo_kind_t kind, const char *text);
/* Sets a numeric cell of the last row: decimals >= 0 gives fixed decimals, < 0 the shortest text
 * that reads back as v. A value that is not finite becomes a null cell. */
int cdof_qo_table_set_number(cdof_qo_table_t *t, size_t col, double v, int decimals);

size_t cdof_qo_table_rows(const cdof_qo_table_t *t);
size_t cdof_qo_table_cols(const cdof_qo_table_t *t);
/* The text of a cell, owned by the table; "" for a null cell. */
const char *cdof_qo_table_cell(const cdof_qo_table_t *t, size_t row, size_t col);

/* Writes t: as an aligned table no wider than width columns where the shrinkable columns allow
 * (a heading line, a line of dashes, one line per row), as CSV with a heading line and CRLF line
 * ends, or as a JSON array with one object per line. Returns 0 or -EIO when writing fails. */
int cdof_qo_write(const cdof_qo_table_t *t, cdof_qo_format_t format, size_t width, FILE *out);
int cdof_qo_write_table(const cdof_qo_table_t *t, size_t width, FILE *out);
int cdof_qo_write_csv(const cdof_qo_table_t *t, FILE *out);
int cdof_qo_write_json(const cdof_qo_table_t *t, FILE *out);
/* One row as a JSON object on one line, without a line end. */
int cdof_qo_write_json_row(const cdof_qo_table_t *t, size_t row, FILE *out);

/* Pure helpers, exposed for tests. */
/* One CSV field, quoted when it holds a comma, quote, CR or LF (quotes doubled). */
void cdof_qo_csv_field(const char *s, FILE *out);
/* A JSON string literal; control characters escaped, invalid UTF-8 replaced by U+FFFD. */
void cdof_qo_json_string(const char *s, FILE *out);
/* Shortest decimal text that reads back as v (integers without a point or exponent). */
void cdof_qo_number_text(double v, char *buf, size_t len);
/* Columns s takes on a terminal: UTF-8 code points. */
size_t cdof_qo_text_width(const char *s);
/* Copies s into buf cut to at most width columns, ending in "…" when cut, on a code point
 * boundary. */
void cdof_qo_truncate(const char *s, size_t width, char *buf, size_t len);

/* Text names used in CSV and JSON. */
const char *cdof_qo_state_name(Cdof__V1__AlertState s);  /* firing, resolved, ... */
const char *cdof_qo_severity_name(Cdof__V1__Severity s); /* info, warning, critical */
/* Writes a wire period's text form ("2024-03") into buf (CDOF_PERIOD_TEXT_MAX); returns false
 * (and "") when the period is absent or malformed. */
bool cdof_qo_period_text(const Cdof__V1__Period *p, char *buf, size_t len);

/* Tables built from wire rows; the caller owns the result (NULL when out of memory). The rows
 * are borrowed for the call only. */
typedef enum { CDOF_QO_VIEW_AREA, CDOF_QO_VIEW_LEAGUE, CDOF_QO_VIEW_SERIES } cdof_qo_view_t;

/* Record columns (CSV, JSON): area_code, area_name, metric_id, period, numerator, denominator,
 * value, lower_95, upper_95, lower_99_8, upper_99_8, vs_england, vs_region, quintile,
 * england_value, region_value, received_ms. Display columns depend on the view. */
cdof_qo_table_t *cdof_qo_comparisons(Cdof__V1__ComparisonRow *const *rows, size_t n,
                                     cdof_qo_view_t view, bool display);
/* Record columns: sequence, raised_ms, raised, state, severity, rule, team, region_code,
 * area_code, metric_id, period, value, lower, upper, confidence, benchmark, verdict, dedupe_key,
 * acknowledged_by, summary, subject, fired_sequence, muted_by. */
cdof_qo_table_t *cdof_qo_alerts(Cdof__V1__Alert *const *alerts, size_t n, bool display);
/* Silences in force. Record columns: matcher, until_ms, until, by, created_ms, reason. */
cdof_qo_table_t *cdof_qo_silences(Cdof__V1__Silence *const *silences, size_t n, bool display);
/* Record columns: agent_id, high_water, last_heard_ms, last_heard, outbox_depth,
 * oldest_unacked_ms. */
cdof_qo_table_t *cdof_qo_agents(Cdof__V1__AgentStatus *const *agents, size_t n, bool display);

/* The national summary. Record columns: metric_id, metric_name, headline, kind, baseline_period,
 * baseline, latest_period, latest, change, commitment, target, progress, source. */
cdof_qo_table_t *cdof_qo_national(Cdof__V1__NationalRow *const *rows, size_t n, bool display);

/* `coverage` and `close`: a period's state with England's coverage, or one row per geography
 * (England, regions, partnerships) with its missing areas; history records name their event.
 * NULL when out of memory; owned by the caller. */
cdof_qo_table_t *cdof_qo_periods(Cdof__V1__PeriodStatus *const *periods, size_t n, bool display);
/* `rejections`: one row per envelope the hub refused. Record columns: agent_id, partnership,
 * sequence, rejected_ms, rejected (ISO time, empty when not kept), reason. NULL when out of
 * memory; owned by the caller. */
cdof_qo_table_t *cdof_qo_rejections(Cdof__V1__Rejection *const *rows, size_t n, bool display);
/* Milestone compliance. Record columns: partnership, partnership_name, milestone_id, deliverable,
 * status, due, done_on, overdue_since, next_due, ref (dates YYYY-MM-DD, empty when none). names
 * (parallel to rows, borrowed; NULL: none known) are display names: the table shows them instead of
 * the ids. */
cdof_qo_table_t *cdof_qo_milestones(Cdof__V1__MilestoneRow *const *rows, size_t n,
                                    const char *const *names, bool display);

/* One alert as one JSON object (the record columns of cdof_qo_alerts) on one line, no line end.
 * Returns 0, -ENOMEM or -EIO. */
int cdof_qo_alert_json(const Cdof__V1__Alert *a, FILE *out);

/* One alert as one line of text, no line end, e.g.
 *   #12 FIRING critical worse_than_england ohid E12000002 E06000009 Blackpool continuity_of_care
 *   2024-03: 10.2% (95% 8.1–12.6) vs England 41.3% — summary
 * area_name may be NULL; percent appends "%" to the figures. Control characters in strings are
 * written as spaces so that the line stays one line. */
void cdof_qo_alert_text(const Cdof__V1__Alert *a, const char *area_name, bool percent, FILE *out);

/* --- the client side of the query protocol (cdof-query and cdof-watch's catch-up) --- */

/* Every page of one query, in order. Owned by the caller: cdof_qo_pages_free(). */
typedef struct {
    Cdof__V1__QueryResponse **pages;
    size_t npages;
} cdof_qo_pages_t;

/* Clients set ZMQ_MAXMSGSIZE on their DEALER to CDOF_WIRE_MAX_RESPONSE: a page of up to 10,000
 * rows is far beyond the 64 KiB of an ingest envelope. */

/* Sends req (request_id is set here from *next_id, which is incremented) on a connected DEALER
 * and waits up to timeout_ms for the QueryResponse with the same request_id; replies to other
 * requests (late answers to an earlier time-out) are dropped. *out is owned by the caller
 * (cdof__v1__query_response__free_unpacked). Returns 0, -ETIMEDOUT, -EINTR when a signal arrived
 * and *stop (may be NULL) is set, CDOF_EPROTO when the reply does not decode, or a negative errno
 * from ZeroMQ; err says why. */
int cdof_qo_exchange(void *sock, Cdof__V1__QueryRequest *req, uint64_t *next_id, int timeout_ms,
                     volatile sig_atomic_t *stop, Cdof__V1__QueryResponse **out, char *err,
                     size_t errlen);

/* Runs req and follows next_page_token until the last page (at most max_pages). Stops at the
 * first reply whose status is not OK: that reply is the last page in out, for the caller to
 * report. Returns 0 or the first failure of cdof_qo_exchange (out keeps the pages received). */
int cdof_qo_fetch(void *sock, Cdof__V1__QueryRequest *req, uint64_t *next_id, int timeout_ms,
                  volatile sig_atomic_t *stop, size_t max_pages, cdof_qo_pages_t *out, char *err,
                  size_t errlen);
void cdof_qo_pages_free(cdof_qo_pages_t *p);

/* Lower-case name of a status: ok, not_found, bad_request, forbidden, internal, unspecified. */
const char *cdof_qo_status_name(Cdof__V1__QueryStatus s);

#endif
