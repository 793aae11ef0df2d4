/* The annual report's tables and charts as text: HTML, CSV and the XML of an ODS workbook, all
 * written into memory buffers. No files, sockets or clocks, and nothing of the hub's wire
 * format, so that any front end (the report, a web console) can share one rendering.
 *
 * A table is built row by row: its first cell is the row's header. Each cell has the text a
 * person reads and, for figures, the number an analyst downloads; a verdict (shown in words and
 * by a shape as well as by colour), a provisional mark and a note (its coverage, say) go with it
 * into every form. */
#ifndef CDOF_REPORT_RENDER_H
#define CDOF_REPORT_RENDER_H

#include <stdbool.h>
#include <stddef.h>

/* --- text buffer --- */

typedef struct {
    char *data; /* NUL-terminated (owned; NULL until the first write) */
    size_t len, cap;
    int err; /* 0, or -ENOMEM once a write failed (later writes are ignored) */
} cdof_rr_buf_t;

void cdof_rr_buf_free(cdof_rr_buf_t *b);
void cdof_rr_put(cdof_rr_buf_t *b, const char *s);
void cdof_rr_putn(cdof_rr_buf_t *b, const char *s, size_t n);
void cdof_rr_printf(cdof_rr_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s escaped for HTML text and attribute values (and XML). */
void cdof_rr_text(cdof_rr_buf_t *b, const char *s);

/* --- figures --- */

typedef enum { CDOF_RR_COUNT, CDOF_RR_PERCENT, CDOF_RR_RATE } cdof_rr_unit_kind_t;

typedef struct {
    cdof_rr_unit_kind_t kind;
    double multiplier; /* rates: per this many people */
} cdof_rr_unit_t;

/* The figure alone ("12.3", "45.6%", "1,234"); "-" when not finite. */
void cdof_rr_number(cdof_rr_unit_t u, double v, char *out, size_t len);
/* The figure with its unit in words ("12.3 per 100,000", "45.6%", "1,234"). */
void cdof_rr_figure(cdof_rr_unit_t u, double v, char *out, size_t len);
/* The unit in words: "per 100,000", "percent", "number". */
void cdof_rr_unit_words(cdof_rr_unit_t u, char *out, size_t len);

typedef enum {
    CDOF_RR_V_NONE = 0, /* not a comparison (a total, England) */
    CDOF_RR_V_NOT_COMPARED,
    CDOF_RR_V_BETTER,
    CDOF_RR_V_BEST,
    CDOF_RR_V_SIMILAR,
    CDOF_RR_V_WORSE,
    CDOF_RR_V_WORST,
    CDOF_RR_V_HIGHER,
    CDOF_RR_V_LOWER,
} cdof_rr_verdict_t;

/* Class name (CSS), short words and a shape character for a verdict; "" for NONE. */
const char *cdof_rr_verdict_class(cdof_rr_verdict_t v);
const char *cdof_rr_verdict_short(cdof_rr_verdict_t v);
const char *cdof_rr_verdict_words(cdof_rr_verdict_t v);
const char *cdof_rr_verdict_shape(cdof_rr_verdict_t v);

/* --- tables --- */

typedef struct {
    const char *text;          /* what a reader sees; NULL: the number formatted in the unit */
    double value;              /* NaN: no number (text only, or nothing) */
    cdof_rr_verdict_t verdict; /* shown beside the figure */
    bool withheld;             /* a suppressed figure: "*" in HTML, "[c]" downloaded */
    bool provisional;          /* marked "P" in HTML and "[p]" in the notes downloaded */
    const char *note;          /* small text under the figure (coverage, a date); NULL none */
    const char *href;          /* the first cell of a row: a link within the page */
    const char *attrs;         /* extra HTML attributes on the figure, already escaped */
    const char *html;          /* HTML shown after the text (a chart); not downloaded */
} cdof_rr_cell_t;

typedef struct cdof_rr_table cdof_rr_table_t;

/* A table named id (HTML id, CSV file name, ODS sheet: letters, digits and '-'), with a caption
 * saying what it shows. NULL when out of memory. Free with cdof_rr_table_free. */
cdof_rr_table_t *cdof_rr_table_new(const char *id, const char *caption);
void cdof_rr_table_free(cdof_rr_table_t **t);
/* A column: heading, unit of its figures (NULL for text columns). Columns come before rows. */
int cdof_rr_table_column(cdof_rr_table_t *t, const char *heading, const cdof_rr_unit_t *unit);
/* Starts a row (footer: a total below the body). */
int cdof_rr_table_row(cdof_rr_table_t *t, bool footer);
/* The current row's next cell (copied). Returns 0, -EINVAL past the last column or before a
 * row, -ENOMEM. */
int cdof_rr_table_cell(cdof_rr_table_t *t, const cdof_rr_cell_t *c);
/* Shorthands: a text cell; a figure in the column's unit. */
int cdof_rr_table_text(cdof_rr_table_t *t, const char *text);
int cdof_rr_table_figure(cdof_rr_table_t *t, double v);

const char *cdof_rr_table_id(const cdof_rr_table_t *t);
size_t cdof_rr_table_rows(const cdof_rr_table_t *t);
size_t cdof_rr_table_cols(const cdof_rr_table_t *t);

/* The table as HTML: a captioned table with scoped headers inside a box that scrolls on its
 * own, a link downloading it as CSV (a data: URI, so the page stays one file). */
int cdof_rr_table_html(const cdof_rr_table_t *t, cdof_rr_buf_t *b);
/* Only the link downloading the table as CSV (a table too long to show whole). */
int cdof_rr_table_csv_link(const cdof_rr_table_t *t, const char *words, cdof_rr_buf_t *b);
/* The table as CSV (RFC 4180, CRLF): the headings with their units, numbers unformatted,
 * "[c]" for a withheld figure and "[x]" for none; a last column "Notes" gathers the provisional
 * marks and notes of the row. */
int cdof_rr_table_csv(const cdof_rr_table_t *t, cdof_rr_buf_t *b);

/* --- ODS workbook --- */

/* content.xml of an OpenDocument spreadsheet with a cover sheet (title, notes) and one sheet per
 * table, numbers as float cells and the rest as strings, laid out as the CSV form. */
int cdof_rr_ods_content(const cdof_rr_table_t *const *tables, size_t n, const char *title,
                        const char *notes, cdof_rr_buf_t *b);
/* The fixed parts of the package: the mimetype and META-INF/manifest.xml. */
extern const char cdof_rr_ods_mimetype[];
extern const char cdof_rr_ods_manifest[];

/* --- charts --- */

/* A Fingertips spine: the range of areas from the worst (left) to the best (right), the middle
 * half darker, England as the centre line and the area as a marker whose shape and colour show
 * its verdict. label is the chart's text alternative. */
typedef struct {
    double worst, q_worse, q_better, best, england, half;
    bool flip; /* low is good: higher values are drawn to the left */
} cdof_rr_spine_t;

void cdof_rr_spine_svg(cdof_rr_buf_t *b, const cdof_rr_spine_t *s, bool show, double value,
                       cdof_rr_verdict_t v, const char *label);

/* A small line chart of a series with an optional dashed target; provisional points hollow.
 * label is its text alternative (the data goes in a table beside it). */
typedef struct {
    const char *period;
    double value;
    bool provisional;
} cdof_rr_point_t;

void cdof_rr_trend_svg(cdof_rr_buf_t *b, const cdof_rr_point_t *pts, size_t n, bool has_target,
                       double target, cdof_rr_unit_t u, const char *label);

/* The style sheet every rendering shares: screen, narrow screens and A4 print. */
extern const char cdof_rr_css[];

#endif
