#include "cdof_table.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_text.h"

#define ELLIPSIS "\xe2\x80\xa6"

/* Cut columns never go below this (or their heading) when fitting a width. */
#define MIN_CUT_WIDTH 8

struct cdof_table {
    cdof_table_col_t *cols;
    size_t ncols;
    char **cells; /* nrows * ncols, row-major; owned; NULL for a null cell */
    size_t nrows, cap;
    int status; /* the first failure of an add or set */
};

cdof_table_t *cdof_table_new(const cdof_table_col_t *cols, size_t ncols)
{
    for (size_t i = 0; i < ncols; i++) {
        if (!cols[i].name)
            return NULL;
    }
    cdof_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cols = calloc(ncols ? ncols : 1, sizeof *t->cols);
    if (!t->cols) {
        free(t);
        return NULL;
    }
    if (ncols)
        memcpy(t->cols, cols, ncols * sizeof *cols);
    t->ncols = ncols;
    return t;
}

void cdof_table_destroy(cdof_table_t **tp)
{
    if (!tp || !*tp)
        return;
    cdof_table_t *t = *tp;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->cols);
    free(t);
    *tp = NULL;
}

static int fail(cdof_table_t *t, int rc)
{
    if (!t->status)
        t->status = rc;
    return rc;
}

int cdof_table_add_row(cdof_table_t *t)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **cells = realloc(t->cells, cap * (t->ncols ? t->ncols : 1) * sizeof *cells);
        if (!cells)
            return fail(t, -ENOMEM);
        t->cells = cells;
        t->cap = cap;
    }
    memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof *t->cells);
    t->nrows++;
    return 0;
}

int cdof_table_set(cdof_table_t *t, size_t col, const char *s)
{
    if (!t->nrows || col >= t->ncols)
        return fail(t, -EINVAL);
    char **cell = &t->cells[(t->nrows - 1) * t->ncols + col];
    char *copy = NULL;
    if (s && !(copy = strdup(s)))
        return fail(t, -ENOMEM);
    free(*cell);
    *cell = copy;
    return 0;
}

int cdof_table_set_opt(cdof_table_t *t, size_t col, const char *s)
{
    return cdof_table_set(t, col, s && *s ? s : NULL);
}

int cdof_table_setf(cdof_table_t *t, size_t col, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cdof_table_set(t, col, buf);
}

int cdof_table_set_number(cdof_table_t *t, size_t col, double v, int decimals)
{
    if (!isfinite(v))
        return cdof_table_set(t, col, NULL);
    char buf[64];
    if (v == 0)
        v = 0; /* no "-0.0" */
    if (decimals >= 0) {
        snprintf(buf, sizeof buf, "%.*f", decimals, v);
        if (!strncmp(buf, "-0", 2) && strspn(buf + 2, ".0") == strlen(buf + 2))
            memmove(buf, buf + 1, strlen(buf)); /* -0.04 to one decimal is "0.0" */
    } else {
        cdof_table_number_text(v, buf, sizeof buf);
    }
    return cdof_table_set(t, col, buf);
}

int cdof_table_set_u64(cdof_table_t *t, size_t col, uint64_t v)
{
    return cdof_table_setf(t, col, "%" PRIu64, v);
}

int cdof_table_set_i64(cdof_table_t *t, size_t col, int64_t v)
{
    return cdof_table_setf(t, col, "%" PRId64, v);
}

int cdof_table_set_time(cdof_table_t *t, size_t col, int64_t ms)
{
    char buf[64];
    if (!ms)
        return cdof_table_set(t, col, NULL);
    cdof_clock_format(ms, buf, sizeof buf);
    return cdof_table_set(t, col, buf);
}

int cdof_table_set_bool(cdof_table_t *t, size_t col, bool v)
{
    return cdof_table_set(t, col, v ? "true" : "false");
}

int cdof_table_status(const cdof_table_t *t)
{
    return t->status;
}

cdof_table_t *cdof_table_finish(cdof_table_t *t)
{
    if (t && t->status)
        cdof_table_destroy(&t);
    return t;
}

size_t cdof_table_rows(const cdof_table_t *t)
{
    return t->nrows;
}

size_t cdof_table_cols(const cdof_table_t *t)
{
    return t->ncols;
}

/* The cell's text, NULL when null. */
static const char *cell_at(const cdof_table_t *t, size_t row, size_t col)
{
    return t->cells[row * t->ncols + col];
}

const char *cdof_table_cell(const cdof_table_t *t, size_t row, size_t col)
{
    if (row >= t->nrows || col >= t->ncols)
        return "";
    const char *s = cell_at(t, row, col);
    return s ? s : "";
}

/* --- pure helpers --- */

void cdof_table_number_text(double v, char *buf, size_t len)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "%s", "");
        return;
    }
    if (v == 0) {
        snprintf(buf, len, "0");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, len, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

size_t cdof_table_text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xc0) != 0x80;
    return w;
}

void cdof_table_truncate(const char *s, size_t width, char *buf, size_t len)
{
    if (!len)
        return;
    if (cdof_table_text_width(s) <= width) {
        snprintf(buf, len, "%s", s);
        return;
    }
    /* keep width - 1 code points and the ellipsis */
    size_t keep = width ? width - 1 : 0, cps = 0, i = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (cps == keep)
                break;
            cps++;
        }
    }
    if (i + sizeof ELLIPSIS > len) /* buffer too small: cut harder, still on a boundary */
        i = 0;
    memcpy(buf, s, i);
    snprintf(buf + i, len - i, "%s", width ? ELLIPSIS : "");
}

int cdof_table_format_parse(const char *s, cdof_table_format_t *out)
{
    if (!s)
        return -EINVAL;
    if (!strcmp(s, "table"))
        *out = CDOF_TABLE_ALIGNED;
    else if (!strcmp(s, "csv"))
        *out = CDOF_TABLE_CSV;
    else if (!strcmp(s, "json"))
        *out = CDOF_TABLE_JSON;
    else
        return -EINVAL;
    return 0;
}

/* --- writers --- */

static int out_status(FILE *out)
{
    return ferror(out) ? -EIO : 0;
}

/* One CSV line: the headings (row SIZE_MAX) or a row. */
static void csv_line(const cdof_table_t *t, size_t row, FILE *out)
{
    for (size_t c = 0; c < t->ncols; c++) {
        if (c)
            fputc(',', out);
        cdof_text_csv_file(out, row == SIZE_MAX ? t->cols[c].name : cell_at(t, row, c));
    }
    fputs("\r\n", out);
}

int cdof_table_write_csv(const cdof_table_t *t, FILE *out)
{
    csv_line(t, SIZE_MAX, out);
    for (size_t r = 0; r < t->nrows; r++)
        csv_line(t, r, out);
    return out_status(out);
}

static void json_string(const char *s, FILE *out)
{
    cdof_text_json_file(out, s, s ? strlen(s) : 0);
}

int cdof_table_write_json_row(const cdof_table_t *t, size_t row, FILE *out)
{
    if (row >= t->nrows)
        return -EINVAL;
    fputc('{', out);
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = cell_at(t, row, c);
        if (c)
            fputc(',', out);
        json_string(t->cols[c].name, out);
        fputc(':', out);
        if (!s)
            fputs("null", out);
        else if (t->cols[c].kind == CDOF_TABLE_STRING)
            json_string(s, out);
        else
            fputs(s, out);
    }
    fputc('}', out);
    return out_status(out);
}

int cdof_table_write_json(const cdof_table_t *t, FILE *out)
{
    if (!t->nrows) {
        fputs("[]\n", out);
        return out_status(out);
    }
    fputs("[\n", out);
    for (size_t r = 0; r < t->nrows; r++) {
        cdof_table_write_json_row(t, r, out);
        fputs(r + 1 < t->nrows ? ",\n" : "\n", out);
    }
    fputs("]\n", out);
    return out_status(out);
}

/* Writes s in a field of width columns (cut with "…" if longer); the last field of a line is
 * not padded on the right. */
static void write_field(const char *s, size_t width, bool right, bool last, FILE *out)
{
    char buf[4096];
    cdof_table_truncate(s, width, buf, sizeof buf);
    size_t w = cdof_table_text_width(buf);
    size_t pad = w < width ? width - w : 0;
    if (right)
        fprintf(out, "%*s%s", (int)pad, "", buf);
    else
        fprintf(out, "%s%*s", buf, last ? 0 : (int)pad, "");
}

/* The width of each column: its widest cell or heading, then the CUT columns narrowed one step
 * at a time, widest first, until the total fits width or none can give more. */
static void fit_widths(const cdof_table_t *t, size_t width, size_t *w)
{
    size_t total = t->ncols ? 2 * (t->ncols - 1) : 0;
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = cdof_table_text_width(t->cols[c].name);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = cdof_table_text_width(cdof_table_cell(t, r, c));
            if (cw > w[c])
                w[c] = cw;
        }
        total += w[c];
    }
    /* Each step removes one column of total width, so this ends. */
    while (total > width) {
        size_t best = t->ncols;
        for (size_t c = 0; c < t->ncols; c++) {
            size_t floor_w = cdof_table_text_width(t->cols[c].name);
            if (floor_w < MIN_CUT_WIDTH)
                floor_w = MIN_CUT_WIDTH;
            if (t->cols[c].align == CDOF_TABLE_CUT && w[c] > floor_w &&
                (best == t->ncols || w[c] > w[best]))
                best = c;
        }
        if (best == t->ncols)
            break;
        w[best]--;
        total--;
    }
}

int cdof_table_write_aligned(const cdof_table_t *t, size_t width, FILE *out)
{
    int rc = 0;
    size_t *w = calloc(t->ncols ? t->ncols : 1, sizeof *w);
    if (!w)
        return -ENOMEM;
    fit_widths(t, width, w);
    /* Line by line, so that trailing blanks (empty last cells) can be cut. */
    char *line = NULL;
    size_t len = 0;
    for (size_t r = 0; r < t->nrows + 2 && rc == 0; r++) {
        FILE *lf = open_memstream(&line, &len);
        if (!lf) {
            rc = -ENOMEM;
            break;
        }
        for (size_t c = 0; c < t->ncols; c++) {
            if (c)
                fputs("  ", lf);
            if (r == 1) {
                for (size_t i = 0; i < w[c]; i++)
                    fputc('-', lf);
                continue;
            }
            const char *text = r == 0 ? t->cols[c].name : cdof_table_cell(t, r - 2, c);
            write_field(text, w[c], t->cols[c].align == CDOF_TABLE_RIGHT, c + 1 == t->ncols, lf);
        }
        if (fclose(lf) != 0) {
            rc = -ENOMEM;
        } else {
            while (len && line[len - 1] == ' ')
                line[--len] = '\0';
            fputs(line, out);
            fputc('\n', out);
        }
        free(line);
        line = NULL;
    }
    if (!rc)
        rc = out_status(out);
    free(w);
    return rc;
}

int cdof_table_write(const cdof_table_t *t, cdof_table_format_t format, size_t width, FILE *out)
{
    switch (format) {
    case CDOF_TABLE_CSV:
        return cdof_table_write_csv(t, out);
    case CDOF_TABLE_JSON:
        return cdof_table_write_json(t, out);
    case CDOF_TABLE_ALIGNED:
    default:
        return cdof_table_write_aligned(t, width, out);
    }
}
