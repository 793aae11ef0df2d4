/* Tables and charts of the annual report as text (report_render.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_grow.h"
#include "cdof_text.h"
#include "report_render.h"

/* --- text buffer --- */

void cdof_rr_buf_free(cdof_rr_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static bool reserve(cdof_rr_buf_t *b, size_t more)
{
    if (b->err)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->err = -ENOMEM;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void cdof_rr_putn(cdof_rr_buf_t *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cdof_rr_put(cdof_rr_buf_t *b, const char *s)
{
    cdof_rr_putn(b, s, strlen(s));
}

void cdof_rr_printf(cdof_rr_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = b->err ? b->err : -EINVAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        cdof_rr_putn(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void cdof_rr_text(cdof_rr_buf_t *b, const char *s)
{
    for (const char *p = s; p && *p;) {
        size_t run = strcspn(p, "&<>\"'");
        cdof_rr_putn(b, p, run);
        p += run;
        if (!*p)
            break;
        switch (*p++) {
        case '&':
            cdof_rr_put(b, "&amp;");
            break;
        case '<':
            cdof_rr_put(b, "&lt;");
            break;
        case '>':
            cdof_rr_put(b, "&gt;");
            break;
        case '"':
            cdof_rr_put(b, "&quot;");
            break;
        default:
            cdof_rr_put(b, "&#39;");
        }
    }
}

/* --- figures --- */

/* digits with a comma every three places before the point ("1234567.8" -> "1,234,567.8"). */
static void group_thousands(const char *in, char *out, size_t len)
{
    const char *p = in;
    size_t o = 0;
    if (*p == '-' && o + 1 < len)
        out[o++] = *p++;
    size_t digits = strspn(p, "0123456789");
    for (size_t i = 0; i < digits && o + 2 < len; i++) {
        out[o++] = p[i];
        size_t left = digits - i - 1;
        if (left && left % 3 == 0)
            out[o++] = ',';
    }
    snprintf(out + o, len - o, "%s", p + digits);
}

void cdof_rr_number(cdof_rr_unit_t u, double v, char *out, size_t len)
{
    char raw[64];
    if (!isfinite(v)) {
        snprintf(out, len, "-");
        return;
    }
    snprintf(raw, sizeof raw, u.kind == CDOF_RR_COUNT ? "%.0f" : "%.1f", v);
    if (!strcmp(raw, "-0") || !strcmp(raw, "-0.0"))
        memmove(raw, raw + 1, strlen(raw));
    char grouped[80];
    group_thousands(raw, grouped, sizeof grouped);
    snprintf(out, len, "%s%s", grouped, u.kind == CDOF_RR_PERCENT ? "%" : "");
}

void cdof_rr_unit_words(cdof_rr_unit_t u, char *out, size_t len)
{
    if (u.kind == CDOF_RR_RATE) {
        char m[64], raw[32];
        snprintf(raw, sizeof raw, "%.0f", u.multiplier);
        group_thousands(raw, m, sizeof m);
        snprintf(out, len, "per %s", m);
    } else {
        snprintf(out, len, "%s", u.kind == CDOF_RR_PERCENT ? "percent" : "number");
    }
}

void cdof_rr_figure(cdof_rr_unit_t u, double v, char *out, size_t len)
{
    char n[80], w[64];
    cdof_rr_number(u, v, n, sizeof n);
    if (u.kind != CDOF_RR_RATE || !isfinite(v)) {
        snprintf(out, len, "%s", n);
        return;
    }
    cdof_rr_unit_words(u, w, sizeof w);
    snprintf(out, len, "%s %s", n, w);
}

static const struct {
    const char *cls, *shrt, *words, *shape;
} verdicts[] = {
    [CDOF_RR_V_NONE] = {"agg", "", "", ""},
    [CDOF_RR_V_NOT_COMPARED] = {"not_compared", "Not compared", "not compared", "\u25cb"},
    [CDOF_RR_V_BETTER] = {"better", "Better", "better than England (95%)", "\u25cf"},
    [CDOF_RR_V_BEST] = {"best", "Better 99.8%", "better than England (99.8%)", "\u25cf\u25cf"},
    [CDOF_RR_V_SIMILAR] = {"similar", "Similar", "similar to England", "\u25c6"},
    [CDOF_RR_V_WORSE] = {"worse", "Worse", "worse than England (95%)", "\u25b2"},
    [CDOF_RR_V_WORST] = {"worst", "Worse 99.8%", "worse than England (99.8%)", "\u25b2\u25b2"},
    [CDOF_RR_V_HIGHER] = {"higher", "Higher", "higher than England", "\u25b3"},
    [CDOF_RR_V_LOWER] = {"lower", "Lower", "lower than England", "\u25bd"},
};

static cdof_rr_verdict_t valid_verdict(cdof_rr_verdict_t v)
{
    return v <= CDOF_RR_V_LOWER ? v : CDOF_RR_V_NOT_COMPARED;
}

const char *cdof_rr_verdict_class(cdof_rr_verdict_t v)
{
    return verdicts[valid_verdict(v)].cls;
}

const char *cdof_rr_verdict_short(cdof_rr_verdict_t v)
{
    return verdicts[valid_verdict(v)].shrt;
}

const char *cdof_rr_verdict_words(cdof_rr_verdict_t v)
{
    return verdicts[valid_verdict(v)].words;
}

const char *cdof_rr_verdict_shape(cdof_rr_verdict_t v)
{
    return verdicts[valid_verdict(v)].shape;
}

/* --- tables --- */

typedef struct {
    char *text, *note, *href, *attrs, *html;
    double value;
    cdof_rr_verdict_t verdict;
    bool withheld, provisional;
} cell_t;

typedef struct {
    char *heading;
    bool numeric;
    cdof_rr_unit_t unit;
} column_t;

typedef struct {
    cell_t *cells; /* ncols of them */
    size_t used;
    bool footer;
} row_t;

struct cdof_rr_table {
    char *id, *caption;
    column_t *cols;
    size_t ncols, colcap;
    row_t *rows;
    size_t nrows, rowcap;
};

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

cdof_rr_table_t *cdof_rr_table_new(const char *id, const char *caption)
{
    cdof_rr_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    bool fail = false;
    t->id = dup_or_null(id, &fail);
    t->caption = dup_or_null(caption ? caption : "", &fail);
    if (fail || !t->id)
        cdof_rr_table_free(&t);
    return t;
}

void cdof_rr_table_free(cdof_rr_table_t **tp)
{
    cdof_rr_table_t *t = *tp;
    if (!t)
        return;
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->rows[r].used; c++) {
            cell_t *x = &t->rows[r].cells[c];
            free(x->text);
            free(x->note);
            free(x->href);
            free(x->attrs);
            free(x->html);
        }
        free(t->rows[r].cells);
    }
    for (size_t c = 0; c < t->ncols; c++)
        free(t->cols[c].heading);
    free(t->rows);
    free(t->cols);
    free(t->id);
    free(t->caption);
    free(t);
    *tp = NULL;
}

int cdof_rr_table_column(cdof_rr_table_t *t, const char *heading, const cdof_rr_unit_t *unit)
{
    if (t->nrows)
        return -EINVAL;
    column_t *cols = cdof_grow(t->cols, t->ncols, &t->colcap, 8, sizeof *cols);
    if (!cols)
        return -ENOMEM;
    t->cols = cols;
    column_t *c = &cols[t->ncols];
    if (!(c->heading = strdup(heading)))
        return -ENOMEM;
    c->numeric = unit != NULL;
    c->unit = unit ? *unit : (cdof_rr_unit_t){CDOF_RR_COUNT, 1};
    t->ncols++;
    return 0;
}

int cdof_rr_table_row(cdof_rr_table_t *t, bool footer)
{
    if (!t->ncols)
        return -EINVAL;
    row_t *rows = cdof_grow(t->rows, t->nrows, &t->rowcap, 16, sizeof *rows);
    if (!rows)
        return -ENOMEM;
    t->rows = rows;
    row_t *r = &rows[t->nrows];
    if (!(r->cells = calloc(t->ncols, sizeof *r->cells)))
        return -ENOMEM;
    for (size_t c = 0; c < t->ncols; c++)
        r->cells[c].value = NAN;
    r->used = 0;
    r->footer = footer;
    t->nrows++;
    return 0;
}

int cdof_rr_table_cell(cdof_rr_table_t *t, const cdof_rr_cell_t *c)
{
    if (!t->nrows || t->rows[t->nrows - 1].used == t->ncols)
        return -EINVAL;
    row_t *r = &t->rows[t->nrows - 1];
    cell_t *x = &r->cells[r->used];
    bool fail = false;
    x->text = dup_or_null(c->text, &fail);
    x->note = dup_or_null(c->note, &fail);
    x->href = dup_or_null(c->href, &fail);
    x->attrs = dup_or_null(c->attrs, &fail);
    x->html = dup_or_null(c->html, &fail);
    x->value = c->value;
    x->verdict = c->verdict;
    x->withheld = c->withheld;
    x->provisional = c->provisional;
    r->used++; /* counted even on failure, so that the table frees what was copied */
    return fail ? -ENOMEM : 0;
}

int cdof_rr_table_text(cdof_rr_table_t *t, const char *text)
{
    return cdof_rr_table_cell(t, &(cdof_rr_cell_t){.text = text, .value = NAN});
}

int cdof_rr_table_figure(cdof_rr_table_t *t, double v)
{
    return cdof_rr_table_cell(t, &(cdof_rr_cell_t){.value = v});
}

const char *cdof_rr_table_id(const cdof_rr_table_t *t)
{
    return t->id;
}

size_t cdof_rr_table_rows(const cdof_rr_table_t *t)
{
    return t->nrows;
}

size_t cdof_rr_table_cols(const cdof_rr_table_t *t)
{
    return t->ncols;
}

/* The text a cell shows: its own, or its number in the column's unit. */
static void shown_text(const column_t *col, const cell_t *x, char *out, size_t len)
{
    if (x->withheld)
        snprintf(out, len, "*");
    else if (x->text)
        snprintf(out, len, "%s", x->text);
    else if (col->numeric && isfinite(x->value))
        cdof_rr_number(col->unit, x->value, out, len);
    else
        snprintf(out, len, "-");
}

static void heading_text(const column_t *col, char *out, size_t len)
{
    if (col->numeric && col->unit.kind == CDOF_RR_RATE) {
        char w[64];
        cdof_rr_unit_words(col->unit, w, sizeof w);
        snprintf(out, len, "%s (%s)", col->heading, w);
    } else if (col->numeric && col->unit.kind == CDOF_RR_PERCENT) {
        snprintf(out, len, "%s (%%)", col->heading);
    } else {
        snprintf(out, len, "%s", col->heading);
    }
}

static void html_cell(cdof_rr_buf_t *b, const column_t *col, const cell_t *x, bool row_header)
{
    char shown[512];
    shown_text(col, x, shown, sizeof shown);
    const char *tag = row_header ? "th" : "td";
    cdof_rr_printf(b, "<%s%s class=\"%s%s%s\">", tag, row_header ? " scope=\"row\"" : "",
                   col->numeric ? "num" : "txt", x->verdict ? " v " : "",
                   x->verdict ? cdof_rr_verdict_class(x->verdict) : "");
    if (x->href) {
        cdof_rr_put(b, "<a href=\"");
        cdof_rr_text(b, x->href);
        cdof_rr_put(b, "\">");
    }
    if (x->attrs || x->withheld) {
        cdof_rr_put(b, "<span");
        if (x->attrs)
            cdof_rr_printf(b, " %s", x->attrs);
        cdof_rr_put(b, x->withheld ? " title=\"withheld: small number\">" : ">");
    }
    cdof_rr_text(b, shown);
    if (x->attrs || x->withheld)
        cdof_rr_put(b, "</span>");
    if (x->withheld)
        cdof_rr_put(b, "<span class=\"vh\"> (withheld: small number)</span>");
    if (x->href)
        cdof_rr_put(b, "</a>");
    if (x->provisional)
        cdof_rr_put(b, " <span class=\"prov\"><span aria-hidden=\"true\">P</span>"
                       "<span class=\"vh\">(provisional)</span></span>");
    if (x->verdict && x->verdict != CDOF_RR_V_NONE)
        cdof_rr_printf(b, "<span class=\"vd\"><span aria-hidden=\"true\">%s</span> %s</span>",
                       cdof_rr_verdict_shape(x->verdict), cdof_rr_verdict_short(x->verdict));
    if (x->html)
        cdof_rr_put(b, x->html);
    if (x->note) {
        cdof_rr_put(b, "<small>");
        cdof_rr_text(b, x->note);
        cdof_rr_put(b, "</small>");
    }
    cdof_rr_printf(b, "</%s>", tag);
}

/* Bytes a data: URI may carry as they are (RFC 3986 unreserved). */
static void uri_encode(cdof_rr_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            cdof_rr_putn(b, (const char *)&s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            cdof_rr_putn(b, e, 3);
        }
    }
}

int cdof_rr_table_html(const cdof_rr_table_t *t, cdof_rr_buf_t *b)
{
    cdof_rr_printf(b,
                   "<div class=\"tbl\" role=\"region\" tabindex=\"0\" aria-labelledby=\"%s-cap\">"
                   "<table id=\"%s\"><caption id=\"%s-cap\">",
                   t->id, t->id, t->id);
    cdof_rr_text(b, t->caption);
    cdof_rr_put(b, "</caption><thead><tr>");
    for (size_t c = 0; c < t->ncols; c++) {
        char h[512];
        heading_text(&t->cols[c], h, sizeof h);
        cdof_rr_printf(b, "<th scope=\"col\"%s>", t->cols[c].numeric ? " class=\"num\"" : "");
        cdof_rr_text(b, h);
        cdof_rr_put(b, "</th>");
    }
    cdof_rr_put(b, "</tr></thead>\n<tbody>\n");
    for (int part = 0; part < 2; part++) {
        bool any = false;
        for (size_t r = 0; r < t->nrows; r++) {
            const row_t *row = &t->rows[r];
            if (row->footer != (part == 1))
                continue;
            if (part == 1 && !any)
                cdof_rr_put(b, "</tbody><tfoot>\n");
            any = true;
            cdof_rr_put(b, "<tr>");
            for (size_t c = 0; c < t->ncols; c++)
                html_cell(b, &t->cols[c], &row->cells[c], c == 0);
            cdof_rr_put(b, "</tr>\n");
        }
        if (part == 1)
            cdof_rr_put(b, any ? "</tfoot>" : "</tbody>");
    }
    cdof_rr_put(b, "</table></div>\n");
    return cdof_rr_table_csv_link(t, "Download this table as CSV", b);
}

int cdof_rr_table_csv_link(const cdof_rr_table_t *t, const char *words, cdof_rr_buf_t *b)
{
    cdof_rr_buf_t csv = {0};
    int rc = cdof_rr_table_csv(t, &csv);
    if (rc == 0) {
        cdof_rr_printf(b,
                       "<p class=\"dl\"><a download=\"%s.csv\" href=\"data:text/csv;"
                       "charset=utf-8,",
                       t->id);
        uri_encode(b, csv.data, csv.len);
        cdof_rr_put(b, "\">");
        cdof_rr_text(b, words);
        cdof_rr_put(b, "<span class=\"vh\">: ");
        cdof_rr_text(b, t->caption);
        cdof_rr_printf(b, "</span></a> (%zu row%s)</p>\n", t->nrows, t->nrows == 1 ? "" : "s");
    }
    cdof_rr_buf_free(&csv);
    return rc ? rc : b->err;
}

/* The buffer as a sink for cdof_text's writers. */
static void put_buf(void *b, const char *s, size_t n)
{
    cdof_rr_putn(b, s, n);
}

/* A cell as downloaded: numbers in full ("%.15g" keeps what was computed, unformatted), "[c]"
 * withheld, "[x]" missing; text as shown. */
static void download_text(const column_t *col, const cell_t *x, char *out, size_t len)
{
    if (x->withheld)
        snprintf(out, len, "[c]");
    else if (isfinite(x->value))
        snprintf(out, len, "%.15g", x->value);
    else if (col->numeric && !x->text)
        snprintf(out, len, "[x]");
    else
        shown_text(col, x, out, len);
}

/* The notes of a row: "Heading: provisional; note" for each cell that has them. */
static void row_notes(const cdof_rr_table_t *t, const row_t *row, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t c = 0; c < t->ncols && o + 1 < len; c++) {
        const cell_t *x = &row->cells[c];
        if (!x->provisional && !x->note)
            continue;
        int n =
            snprintf(out + o, len - o, "%s%s:%s%s%s%s", o ? "; " : "", t->cols[c].heading,
                     x->provisional ? " [p] provisional" : "", x->provisional && x->note ? "," : "",
                     x->note ? " " : "", x->note ? x->note : "");
        if (n < 0)
            break;
        o += (size_t)n < len - o ? (size_t)n : len - o - 1;
    }
}

static bool any_notes(const cdof_rr_table_t *t)
{
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            if (t->rows[r].cells[c].provisional || t->rows[r].cells[c].note)
                return true;
        }
    }
    return false;
}

int cdof_rr_table_csv(const cdof_rr_table_t *t, cdof_rr_buf_t *b)
{
    bool notes = any_notes(t);
    char s[2048];
    for (size_t c = 0; c < t->ncols; c++) {
        heading_text(&t->cols[c], s, sizeof s);
        cdof_rr_put(b, c ? "," : "");
        cdof_text_csv(s, put_buf, b);
    }
    cdof_rr_put(b, notes ? ",Notes\r\n" : "\r\n");
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            download_text(&t->cols[c], &t->rows[r].cells[c], s, sizeof s);
            cdof_rr_put(b, c ? "," : "");
            cdof_text_csv(s, put_buf, b);
        }
        if (notes) {
            row_notes(t, &t->rows[r], s, sizeof s);
            cdof_rr_put(b, ",");
            cdof_text_csv(s, put_buf, b);
        }
        cdof_rr_put(b, "\r\n");
    }
    return b->err;
}

/* --- ODS --- */

const char cdof_rr_ods_mimetype[] = "application/vnd.oasis.opendocument.spreadsheet";

const char cdof_rr_ods_manifest[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" "
    "manifest:version=\"1.2\">\n"
    " <manifest:file-entry manifest:full-path=\"/\" manifest:version=\"1.2\" "
    "manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\n"
    " <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>\n"
    "</manifest:manifest>\n";

static void ods_string(cdof_rr_buf_t *b, const char *s, bool bold)
{
    cdof_rr_printf(b, "<table:table-cell%s office:value-type=\"string\"><text:p>",
                   bold ? " table:style-name=\"head\"" : "");
    cdof_rr_text(b, s);
    cdof_rr_put(b, "</text:p></table:table-cell>");
}

static void ods_row_of(cdof_rr_buf_t *b, const char *s, bool bold)
{
    cdof_rr_put(b, "<table:table-row>");
    ods_string(b, s, bold);
    cdof_rr_put(b, "</table:table-row>\n");
}

int cdof_rr_ods_content(const cdof_rr_table_t *const *tables, size_t n, const char *title,
                        const char *notes, cdof_rr_buf_t *b)
{
    cdof_rr_put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<office:document-content "
                   "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
                   "xmlns:style=\"urn:oasis:names:tc:opendocument:xmlns:style:1.0\" "
                   "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" "
                   "xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" "
                   "xmlns:fo=\"urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0\" "
                   "office:version=\"1.2\">\n<office:automatic-styles><style:style "
                   "style:name=\"head\" style:family=\"table-cell\"><style:text-properties "
                   "fo:font-weight=\"bold\"/></style:style></office:automatic-styles>\n"
                   "<office:body><office:spreadsheet>\n");
    /* The cover sheet: what the workbook is, then its tables by sheet name and caption. */
    cdof_rr_put(b, "<table:table table:name=\"Cover\">\n");
    ods_row_of(b, title, true);
    if (notes && *notes)
        ods_row_of(b, notes, false);
    cdof_rr_put(b, "<table:table-row>");
    ods_string(b, "Sheet", true);
    ods_string(b, "Contents", true);
    cdof_rr_put(b, "</table:table-row>\n");
    for (size_t i = 0; i < n; i++) {
        cdof_rr_put(b, "<table:table-row>");
        ods_string(b, tables[i]->id, false);
        ods_string(b, tables[i]->caption, false);
        cdof_rr_put(b, "</table:table-row>\n");
    }
    cdof_rr_put(b, "</table:table>\n");
    char s[2048];
    for (size_t i = 0; i < n; i++) {
        const cdof_rr_table_t *t = tables[i];
        bool notes_col = any_notes(t);
        cdof_rr_put(b, "<table:table table:name=\"");
        cdof_rr_text(b, t->id);
        cdof_rr_put(b, "\">\n<table:table-row>");
        for (size_t c = 0; c < t->ncols; c++) {
            heading_text(&t->cols[c], s, sizeof s);
            ods_string(b, s, true);
        }
        if (notes_col)
            ods_string(b, "Notes", true);
        cdof_rr_put(b, "</table:table-row>\n");
        for (size_t r = 0; r < t->nrows; r++) {
            cdof_rr_put(b, "<table:table-row>");
            for (size_t c = 0; c < t->ncols; c++) {
                const cell_t *x = &t->rows[r].cells[c];
                download_text(&t->cols[c], x, s, sizeof s);
                if (!x->withheld && isfinite(x->value))
                    /* The value in full (17 digits give back the same double); the text as
                     * the CSV has it. */
                    cdof_rr_printf(b,
                                   "<table:table-cell office:value-type=\"float\" "
                                   "office:value=\"%.17g\"><text:p>%s</text:p></table:table-cell>",
                                   x->value, s);
                else
                    ods_string(b, s, false);
            }
            if (notes_col) {
                row_notes(t, &t->rows[r], s, sizeof s);
                ods_string(b, s, false);
            }
            cdof_rr_put(b, "</table:table-row>\n");
        }
        cdof_rr_put(b, "</table:table>\n");
    }
    cdof_rr_put(b, "</office:spreadsheet></office:body></office:document-content>\n");
    return b->err;
}

/* --- charts --- */

/* A marker at (x, y) whose shape tells the verdict without its colour. */
static void marker(cdof_rr_buf_t *b, double x, double y, cdof_rr_verdict_t v)
{
    const char *cls = cdof_rr_verdict_class(v);
    switch (v) {
    case CDOF_RR_V_WORSE:
    case CDOF_RR_V_WORST:
    case CDOF_RR_V_HIGHER:
        cdof_rr_printf(b, "<path class=\"mk %s\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"/>", cls, x,
                       y - 6, x + 6, y + 5, x - 6, y + 5);
        break;
    case CDOF_RR_V_LOWER:
        cdof_rr_printf(b, "<path class=\"mk %s\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"/>", cls, x,
                       y + 6, x + 6, y - 5, x - 6, y - 5);
        break;
    case CDOF_RR_V_SIMILAR:
        cdof_rr_printf(b, "<path class=\"mk %s\" d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"/>",
                       cls, x, y - 6, x + 6, y, x, y + 6, x - 6, y);
        break;
    case CDOF_RR_V_BETTER:
    case CDOF_RR_V_BEST:
        cdof_rr_printf(b, "<circle class=\"mk %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>", cls, x, y);
        break;
    default:
        cdof_rr_printf(b, "<rect class=\"mk %s\" x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\"/>",
                       cls, x - 4.5, y - 4.5);
    }
}

void cdof_rr_spine_svg(cdof_rr_buf_t *b, const cdof_rr_spine_t *s, bool show, double value,
                       cdof_rr_verdict_t v, const char *label)
{
    const double w = 200;
#define SX(x_) (w * (0.5 + (s->flip ? -1 : 1) * ((x_)-s->england) / (2 * s->half)))
    double a = SX(s->worst), z = SX(s->best), qa = SX(s->q_worse), qb = SX(s->q_better);
    cdof_rr_printf(b,
                   "<svg class=\"spine\" width=\"%.0f\" height=\"18\" viewBox=\"0 0 %.0f 18\" "
                   "role=\"img\" aria-label=\"",
                   w, w);
    cdof_rr_text(b, label);
    cdof_rr_put(b, "\">");
    cdof_rr_printf(b, "<rect x=\"%.1f\" y=\"4\" width=\"%.1f\" height=\"10\" class=\"range\"/>",
                   fmin(a, z), fabs(z - a));
    cdof_rr_printf(b, "<rect x=\"%.1f\" y=\"4\" width=\"%.1f\" height=\"10\" class=\"mid\"/>",
                   fmin(qa, qb), fabs(qb - qa));
    cdof_rr_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"0\" y2=\"18\" class=\"eng\"/>", w / 2,
                   w / 2);
    if (show && isfinite(value))
        marker(b, fmax(6, fmin(w - 6, SX(value))), 9, v);
#undef SX
    cdof_rr_put(b, "</svg>");
}

void cdof_rr_trend_svg(cdof_rr_buf_t *b, const cdof_rr_point_t *pts, size_t n, bool has_target,
                       double target, cdof_rr_unit_t u, const char *label)
{
    const double w = 320, h = 130, left = 64, bottom = 24;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, pts[i].value);
        hi = fmax(hi, pts[i].value);
    }
    if (has_target) {
        lo = fmin(lo, target);
        hi = fmax(hi, target);
    }
    if (!isfinite(lo) || !isfinite(hi))
        lo = 0, hi = 1;
    if (lo > 0 && lo < hi * 0.5)
        lo = 0;
    if (hi == lo)
        hi = lo + 1;
    cdof_rr_printf(b,
                   "<svg class=\"trend\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" "
                   "role=\"img\" aria-label=\"",
                   w, h, w, h);
    cdof_rr_text(b, label);
    cdof_rr_put(b, "\">");
    cdof_rr_printf(b, "<rect x=\"%.0f\" y=\"4\" width=\"%.0f\" height=\"%.0f\" class=\"plot\"/>",
                   left, w - left - 4, h - bottom - 4);
    char a[64], z[64];
    cdof_rr_number(u, hi, a, sizeof a);
    cdof_rr_number(u, lo, z, sizeof z);
    cdof_rr_printf(b, "<text x=\"%.0f\" y=\"12\" class=\"axis\" text-anchor=\"end\">%s</text>",
                   left - 4, a);
    cdof_rr_printf(b, "<text x=\"%.0f\" y=\"%.0f\" class=\"axis\" text-anchor=\"end\">%s</text>",
                   left - 4, h - bottom, z);
#define TX(i)                                                                                      \
    (left + 6 + (n > 1 ? (double)(i) * (w - left - 16) / (double)(n - 1) : 0.5 * (w - left - 16)))
#define TY(v) (4 + (h - bottom - 4) * (1 - ((v)-lo) / (hi - lo)))
    if (has_target)
        cdof_rr_printf(b,
                       "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"target\"/>",
                       left, w - 4, TY(target), TY(target));
    cdof_rr_put(b, "<polyline class=\"line\" points=\"");
    for (size_t i = 0; i < n; i++)
        cdof_rr_printf(b, "%.1f,%.1f ", TX(i), TY(pts[i].value));
    cdof_rr_put(b, "\"/>");
    for (size_t i = 0; i < n; i++)
        cdof_rr_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" class=\"dot%s\"/>", TX(i),
                       TY(pts[i].value), pts[i].provisional ? " prov" : "");
    if (n) {
        cdof_rr_printf(b, "<text x=\"%.0f\" y=\"%.0f\" class=\"axis\">", left, h - 8);
        cdof_rr_text(b, pts[0].period);
        cdof_rr_printf(b,
                       "</text><text x=\"%.0f\" y=\"%.0f\" class=\"axis\" "
                       "text-anchor=\"end\">",
                       w - 4, h - 8);
        cdof_rr_text(b, pts[n - 1].period);
        cdof_rr_put(b, "</text>");
    }
#undef TX
#undef TY
    cdof_rr_put(b, "</svg>");
}

/* Colours: text on every background has a contrast of at least 4.5:1 (dark text on light
 * tints, white on the darkest), and chart marks at least 3:1 against what is behind them (a
 * black outline on every marker). Verdicts also carry words and a shape. */
const char cdof_rr_css[] =
    "html{-webkit-text-size-adjust:100%}"
    "body{font-family:Arial,Helvetica,sans-serif;margin:0 auto;max-width:1100px;padding:0 16px;"
    "color:#0b0c0c;background:#fff;line-height:1.4;overflow-wrap:break-word}"
    "a{color:#1d4f91}a:focus,.tbl:focus{outline:3px solid #ffdd00;outline-offset:0;"
    "box-shadow:0 0 0 5px #0b0c0c}"
    ".skip{position:absolute;left:-9999px;top:0;background:#ffdd00;color:#0b0c0c;padding:8px}"
    ".skip:focus{left:8px;z-index:10}"
    ".vh{position:absolute!important;width:1px;height:1px;margin:0;padding:0;overflow:hidden;"
    "clip:rect(0 0 0 0);white-space:nowrap;border:0}"
    "h1{font-size:28px;margin:16px 0 4px}h2{border-bottom:3px solid #1d70b8;padding-bottom:4px;"
    "margin-top:32px}h3{margin:20px 0 6px}h4{margin:14px 0 4px}"
    ".tbl{overflow-x:auto;max-width:100%;margin:8px 0 2px;position:relative}"
    "nav li{margin:6px 0}"
    "table{border-collapse:collapse;font-size:13px}"
    "caption{text-align:left;font-weight:bold;padding:4px 0;caption-side:top}"
    "th,td{border:1px solid #6f777b;padding:3px 6px;vertical-align:top;text-align:left}"
    "thead th{background:#f3f2f1}tfoot th,tfoot td{background:#f3f2f1}"
    ".num{text-align:right;white-space:nowrap}td small,th small{display:block;color:#383f43;"
    "font-weight:normal}"
    ".vd{display:block;font-size:11px;white-space:nowrap}"
    ".prov{font-weight:bold;border:1px solid #0b0c0c;padding:0 2px;margin-left:2px;"
    "font-size:10px}"
    ".dl{font-size:13px;margin:0 0 12px}"
    ".better,.best{background:#cce2d8}.best .vd{font-weight:bold}.similar{background:#fff7bf}"
    ".worse{background:#f4cdc6}.worst{background:#942514;color:#fff}.worst a{color:#fff}"
    ".higher{background:#d2e2f1}.lower{background:#e8dff0}.not_compared{background:#fff}"
    "svg .range{fill:#dee0e2}svg .mid{fill:#8d959a}svg .eng{stroke:#0b0c0c;stroke-width:2}"
    "svg .mk{stroke:#0b0c0c;stroke-width:1.5}"
    "svg .mk.better,svg .mk.best{fill:#00703c}svg .mk.similar{fill:#ffdd00}"
    "svg .mk.worse,svg .mk.worst{fill:#d4351c}svg .mk.higher{fill:#5694ca}"
    "svg .mk.lower{fill:#4c2c92}svg .mk.not_compared{fill:#fff}"
    ".trend .plot{fill:#f8f8f8;stroke:#6f777b}.trend .line{fill:none;stroke:#1d70b8;"
    "stroke-width:2}.trend .dot{fill:#1d70b8;stroke:#0b0c0c}.trend .dot.prov{fill:#fff}"
    ".trend .target{stroke:#942514;stroke-width:2;stroke-dasharray:5 3}"
    ".axis{font-size:10px;fill:#383f43}svg{max-width:100%;height:auto}"
    ".summary{font-size:17px}#key-findings{background:#f8f8f8;border-left:8px solid #1d70b8;"
    "padding:4px 16px 12px}"
    ".mark{background:#942514;color:#fff;font-weight:bold;padding:6px;margin:8px 0}"
    ".banner{text-align:center}"
    ".charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0;max-width:340px}"
    "figcaption{font-size:13px}"
    ".key span.k{display:inline-block;padding:2px 6px;margin:2px 4px 2px 0;border:1px solid "
    "#6f777b}.profiles{display:block}.profile{margin-bottom:8px}"
    "@media (max-width:640px){body{padding:0 8px}h1{font-size:22px}.summary{font-size:15px}"
    "#key-findings{padding:4px 8px 8px;border-left-width:4px}}"
    "@page{size:A4;margin:14mm 12mm 16mm;@bottom-center{content:\"Page \" counter(page) \" of \" "
    "counter(pages);font-family:Arial,Helvetica,sans-serif;font-size:9pt;color:#0b0c0c}}"
    "@media print{body{max-width:none;padding:0;font-size:10pt}.skip,.dl,nav{display:none}"
    ".tbl{overflow:visible}table{font-size:8.5pt;width:100%}h1,h2,h3,h4,caption{"
    "break-after:avoid;page-break-after:avoid}tr,figure,.profile,.keep{break-inside:avoid;"
    "page-break-inside:avoid}section{break-before:page}section#key-findings{break-before:"
    "auto}#key-findings{border-left-width:4px}"
    "a{color:#0b0c0c;text-decoration:none}.charts{gap:8px}}";
