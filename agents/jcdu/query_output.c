#include "query_output.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_period.h"
#include "cdof_text.h"
#include "cdof_wire.h"

#define EN_DASH  "\xe2\x80\x93"
#define EM_DASH  "\xe2\x80\x94"
#define ELLIPSIS "\xe2\x80\xa6"

/* Shrinkable columns never go below this (or their heading) when fitting a width. */
#define MIN_SHRINK_WIDTH 8

typedef struct {
    cdof_qo_kind_t kind;
    char *text; /* owned; NULL for a null cell */
} cell_t;

struct cdof_qo_table {
    cdof_qo_col_t *cols;
    size_t ncols;
    cell_t *cells; /* nrows * ncols, row-major */
    size_t nrows, cap;
};

int cdof_qo_format_parse(const char *s, cdof_qo_format_t *out)
{
    if (!s)
        return -EINVAL;
    if (!strcmp(s, "table"))
        *out = CDOF_QO_TABLE;
    else if (!strcmp(s, "csv"))
        *out = CDOF_QO_CSV;
    else if (!strcmp(s, "json"))
        *out = CDOF_QO_JSON;
    else
        return -EINVAL;
    return 0;
}

cdof_qo_table_t *cdof_qo_table_new(const cdof_qo_col_t *cols, size_t ncols)
{
    cdof_qo_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cols = calloc(ncols ? ncols : 1, sizeof *t->cols);
    if (!t->cols) {
        free(t);
        return NULL;
    }
    memcpy(t->cols, cols, ncols * sizeof *cols);
    t->ncols = ncols;
    return t;
}

void cdof_qo_table_destroy(cdof_qo_table_t **tp)
{
    if (!tp || !*tp)
        return;
    cdof_qo_table_t *t = *tp;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i].text);
    free(t->cells);
    free(t->cols);
    free(t);
    *tp = NULL;
}

int cdof_qo_table_add_row(cdof_qo_table_t *t)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        cell_t *cells = realloc(t->cells, cap * t->ncols * sizeof *cells);
        if (!cells)
            return -ENOMEM;
        t->cells = cells;
        t->cap = cap;
    }
    memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof *t->cells);
    t->nrows++;
    return 0;
}

int cdof_qo_table_set(cdof_qo_table_t *t, size_t col, cdof_qo_kind_t kind, const char *text)
{
    if (!t->nrows || col >= t->ncols)
        return -EINVAL;
    cell_t *c = &t->cells[(t->nrows - 1) * t->ncols + col];
    char *copy = NULL;
    if (text && kind != CDOF_QO_NULL) {
        copy = strdup(text);
        if (!copy)
            return -ENOMEM;
    }
    free(c->text);
    c->text = copy;
    c->kind = copy ? kind : CDOF_QO_NULL;
    return 0;
}

int cdof_qo_table_set_number(cdof_qo_table_t *t, size_t col, double v, int decimals)
{
    if (!isfinite(v))
        return cdof_qo_table_set(t, col, CDOF_QO_NULL, NULL);
    char buf[64];
    if (v == 0)
        v = 0; /* no "-0.0" */
    if (decimals >= 0) {
        snprintf(buf, sizeof buf, "%.*f", decimals, v);
        if (!strncmp(buf, "-0", 2) && strspn(buf + 2, ".0") == strlen(buf + 2))
            memmove(buf, buf + 1, strlen(buf)); /* -0.04 to one decimal is "0.0" */
    } else {
        cdof_qo_number_text(v, buf, sizeof buf);
    }
    return cdof_qo_table_set(t, col, CDOF_QO_NUMBER, buf);
}

size_t cdof_qo_table_rows(const cdof_qo_table_t *t)
{
    return t->nrows;
}

size_t cdof_qo_table_cols(const cdof_qo_table_t *t)
{
    return t->ncols;
}

static const cell_t *cell_at(const cdof_qo_table_t *t, size_t row, size_t col)
{
    return &t->cells[row * t->ncols + col];
}

const char *cdof_qo_table_cell(const cdof_qo_table_t *t, size_t row, size_t col)
{
    if (row >= t->nrows || col >= t->ncols)
        return "";
    const cell_t *c = cell_at(t, row, col);
    return c->text ? c->text : "";
}

/* --- pure helpers --- */

void cdof_qo_number_text(double v, char *buf, size_t len)
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

void cdof_qo_csv_field(const char *s, FILE *out)
{
    cdof_text_csv_file(out, s);
}

void cdof_qo_json_string(const char *s, FILE *out)
{
    cdof_text_json_file(out, s, s ? strlen(s) : 0);
}

size_t cdof_qo_text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xc0) != 0x80;
    return w;
}

void cdof_qo_truncate(const char *s, size_t width, char *buf, size_t len)
{
    if (!len)
        return;
    if (cdof_qo_text_width(s) <= width) {
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

const char *cdof_qo_state_name(Cdof__V1__AlertState s)
{
    switch (s) {
    case CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING:
        return "firing";
    case CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED:
        return "resolved";
    case CDOF__V1__ALERT_STATE__ALERT_STATE_ACKNOWLEDGED:
        return "acknowledged";
    default:
        return "unspecified";
    }
}

const char *cdof_qo_severity_name(Cdof__V1__Severity s)
{
    switch (s) {
    case CDOF__V1__SEVERITY__SEVERITY_INFO:
        return "info";
    case CDOF__V1__SEVERITY__SEVERITY_WARNING:
        return "warning";
    case CDOF__V1__SEVERITY__SEVERITY_CRITICAL:
        return "critical";
    default:
        return "unspecified";
    }
}

bool cdof_qo_period_text(const Cdof__V1__Period *p, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    if (!p || len < CDOF_PERIOD_TEXT_MAX)
        return false;
    cdof_period_t period = {
        .kind = (cdof_period_kind_t)p->kind, .first_day = p->first_day, .last_day = p->last_day};
    if (cdof_period_format(&period, buf, len) < 0) {
        buf[0] = '\0';
        return false;
    }
    return true;
}

/* --- writers --- */

int cdof_qo_write_csv(const cdof_qo_table_t *t, FILE *out)
{
    for (size_t c = 0; c < t->ncols; c++) {
        if (c)
            fputc(',', out);
        cdof_qo_csv_field(t->cols[c].name, out);
    }
    fputs("\r\n", out);
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            if (c)
                fputc(',', out);
            cdof_qo_csv_field(cell_at(t, r, c)->text, out);
        }
        fputs("\r\n", out);
    }
    return ferror(out) ? -EIO : 0;
}

int cdof_qo_write_json_row(const cdof_qo_table_t *t, size_t row, FILE *out)
{
    if (row >= t->nrows)
        return -EINVAL;
    fputc('{', out);
    for (size_t c = 0; c < t->ncols; c++) {
        const cell_t *cl = cell_at(t, row, c);
        if (c)
            fputc(',', out);
        cdof_qo_json_string(t->cols[c].name, out);
        fputc(':', out);
        if (cl->kind == CDOF_QO_NULL || !cl->text)
            fputs("null", out);
        else if (cl->kind == CDOF_QO_NUMBER)
            fputs(cl->text, out);
        else
            cdof_qo_json_string(cl->text, out);
    }
    fputc('}', out);
    return ferror(out) ? -EIO : 0;
}

int cdof_qo_write_json(const cdof_qo_table_t *t, FILE *out)
{
    if (!t->nrows) {
        fputs("[]\n", out);
        return ferror(out) ? -EIO : 0;
    }
    fputs("[\n", out);
    for (size_t r = 0; r < t->nrows; r++) {
        cdof_qo_write_json_row(t, r, out);
        fputs(r + 1 < t->nrows ? ",\n" : "\n", out);
    }
    fputs("]\n", out);
    return ferror(out) ? -EIO : 0;
}

/* Writes s in a field of width columns (cut with "…" if longer); the last field of a line is
 * not padded on the right. */
static void write_field(const char *s, size_t width, bool right, bool last, FILE *out)
{
    char buf[4096];
    cdof_qo_truncate(s, width, buf, sizeof buf);
    size_t w = cdof_qo_text_width(buf);
    size_t pad = w < width ? width - w : 0;
    if (right)
        fprintf(out, "%*s%s", (int)pad, "", buf);
    else
        fprintf(out, "%s%*s", buf, last ? 0 : (int)pad, "");
}

int cdof_qo_write_table(const cdof_qo_table_t *t, size_t width, FILE *out)
{
    int rc = 0;
    size_t *w = calloc(t->ncols ? t->ncols : 1, sizeof *w);
    if (!w)
        return -ENOMEM;
    size_t total = t->ncols ? 2 * (t->ncols - 1) : 0;
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = cdof_qo_text_width(t->cols[c].name);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = cdof_qo_text_width(cdof_qo_table_cell(t, r, c));
            if (cw > w[c])
                w[c] = cw;
        }
        total += w[c];
    }
    /* Narrow the widest shrinkable column one step at a time; each step removes one column of
     * total width, so this ends. */
    while (total > width) {
        size_t best = t->ncols;
        for (size_t c = 0; c < t->ncols; c++) {
            size_t floor_w = cdof_qo_text_width(t->cols[c].name);
            if (floor_w < MIN_SHRINK_WIDTH)
                floor_w = MIN_SHRINK_WIDTH;
            if (t->cols[c].shrink && w[c] > floor_w && (best == t->ncols || w[c] > w[best]))
                best = c;
        }
        if (best == t->ncols)
            break;
        w[best]--;
        total--;
    }
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
            const char *text = r == 0 ? t->cols[c].name : cdof_qo_table_cell(t, r - 2, c);
            write_field(text, w[c], t->cols[c].right, c + 1 == t->ncols, lf);
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
    if (!rc && ferror(out))
        rc = -EIO;
    free(w);
    return rc;
}

int cdof_qo_write(const cdof_qo_table_t *t, cdof_qo_format_t format, size_t width, FILE *out)
{
    switch (format) {
    case CDOF_QO_CSV:
        return cdof_qo_write_csv(t, out);
    case CDOF_QO_JSON:
        return cdof_qo_write_json(t, out);
    case CDOF_QO_TABLE:
    default:
        return cdof_qo_write_table(t, width, out);
    }
}

/* --- tables from wire rows --- */

/* Decimals a value is shown with: one for rates and percentages (they have a denominator or
 * an interval), none for whole counts. */
static int display_decimals(double v, bool measured)
{
    return measured || v != floor(v) ? 1 : 0;
}

static int set_text(cdof_qo_table_t *t, size_t col, const char *s)
{
    return cdof_qo_table_set(t, col, CDOF_QO_TEXT, s);
}

static int set_text_or_null(cdof_qo_table_t *t, size_t col, const char *s)
{
    return cdof_qo_table_set(t, col, s && *s ? CDOF_QO_TEXT : CDOF_QO_NULL, s);
}

static int set_u64(cdof_qo_table_t *t, size_t col, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cdof_qo_table_set(t, col, CDOF_QO_NUMBER, buf);
}

static int set_i64(cdof_qo_table_t *t, size_t col, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cdof_qo_table_set(t, col, CDOF_QO_NUMBER, buf);
}

static int set_interval(cdof_qo_table_t *t, size_t col, double lo, double hi, int decimals)
{
    char buf[96];
    if (!isfinite(lo) || !isfinite(hi))
        return 0;
    snprintf(buf, sizeof buf, "%.*f" EN_DASH "%.*f", decimals, lo == 0 ? 0 : lo, decimals,
             hi == 0 ? 0 : hi);
    return cdof_qo_table_set(t, col, CDOF_QO_NUMBER, buf);
}

static const char *verdict_display(Cdof__V1__Verdict v)
{
    return v == CDOF__V1__VERDICT__VERDICT_NOT_COMPARED ? "" : cdof_wire_verdict_name(v);
}

/* England's (or the region's) value is known when it is non-zero or was compared against. */
static bool benchmark_known(double v, Cdof__V1__Verdict verdict)
{
    return v != 0 || verdict != CDOF__V1__VERDICT__VERDICT_NOT_COMPARED;
}

static int comparison_record(cdof_qo_table_t *t, const Cdof__V1__ComparisonRow *row)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    int rc = 0;
    cdof_qo_period_text(row->period, period, sizeof period);
    rc |= set_text(t, 0, row->area_code);
    rc |= set_text_or_null(t, 1, row->area_name);
    rc |= set_text(t, 2, row->metric_id);
    rc |= set_text_or_null(t, 3, period);
    if (row->has_numerator)
        rc |= cdof_qo_table_set_number(t, 4, row->numerator, -1);
    if (row->has_denominator)
        rc |= cdof_qo_table_set_number(t, 5, row->denominator, -1);
    if (row->has_value)
        rc |= cdof_qo_table_set_number(t, 6, row->value, -1);
    if (row->has_interval) {
        rc |= cdof_qo_table_set_number(t, 7, row->lower_95, -1);
        rc |= cdof_qo_table_set_number(t, 8, row->upper_95, -1);
        rc |= cdof_qo_table_set_number(t, 9, row->lower_99_8, -1);
        rc |= cdof_qo_table_set_number(t, 10, row->upper_99_8, -1);
    }
    rc |= set_text(t, 11, cdof_wire_verdict_name(row->vs_england));
    rc |= set_text(t, 12, cdof_wire_verdict_name(row->vs_region));
    if (row->quintile)
        rc |= set_u64(t, 13, row->quintile);
    if (benchmark_known(row->england_value, row->vs_england))
        rc |= cdof_qo_table_set_number(t, 14, row->england_value, -1);
    if (benchmark_known(row->region_value, row->vs_region))
        rc |= cdof_qo_table_set_number(t, 15, row->region_value, -1);
    if (row->received_ms)
        rc |= set_i64(t, 16, row->received_ms);
    /* Stored comparisons: trend, partnership, count baselines. */
    static const char *const trends[] = {NULL, "no_significant_change", "increasing", "decreasing"};
    if (row->trend > 0 && (size_t)row->trend < sizeof trends / sizeof trends[0])
        rc |= set_text(t, 17, trends[row->trend]);
    /* A JSON boolean (CDOF_QO_NUMBER cells are written bare), "true"/"false" in CSV. */
    rc |= cdof_qo_table_set(t, 18, CDOF_QO_NUMBER, row->worse_and_getting_worse ? "true" : "false");
    rc |= set_text_or_null(t, 19, row->partnership);
    rc |= set_text(t, 20, cdof_wire_verdict_name(row->vs_baseline));
    rc |= set_text(t, 21, cdof_wire_verdict_name(row->vs_trajectory));
    /* Coverage: an aggregate's own, an area's England benchmark's. */
    if (row->expected) {
        rc |= set_u64(t, 22, row->reported);
        rc |= set_u64(t, 23, row->expected);
    }
    rc |= set_text(t, 24, row->provisional ? "true" : "false");
    rc |= set_text(t, 25, row->england_provisional ? "true" : "false");
    rc |= set_text(t, 26, row->region_provisional ? "true" : "false");
    return rc ? -ENOMEM : 0;
}

/* A verdict against a provisional benchmark (summed from an incomplete period) ends in '*'. */
static int set_verdict(cdof_qo_table_t *t, size_t col, Cdof__V1__Verdict v, bool provisional)
{
    char buf[32];
    const char *name = verdict_display(v);
    snprintf(buf, sizeof buf, "%s%s", name, provisional && *name ? "*" : "");
    return set_text(t, col, buf);
}

/* "152/153", with '*' when the figure itself is provisional; "" when not counted. */
static int set_cover(cdof_qo_table_t *t, size_t col, const Cdof__V1__ComparisonRow *row)
{
    if (!row->expected)
        return 0;
    char buf[32];
    snprintf(buf, sizeof buf, "%u/%u%s", row->reported, row->expected, row->provisional ? "*" : "");
    return set_text(t, col, buf);
}

static int comparison_display(cdof_qo_table_t *t, cdof_qo_view_t view,
                              const Cdof__V1__ComparisonRow *row)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    cdof_qo_period_text(row->period, period, sizeof period);
    int d = display_decimals(row->value, row->has_denominator || row->has_interval);
    size_t c = 0;
    int rc = 0;
    switch (view) {
    case CDOF_QO_VIEW_AREA:
        rc |= set_text(t, c++, row->metric_id);
        rc |= set_text(t, c++, period);
        break;
    case CDOF_QO_VIEW_LEAGUE:
        rc |= set_text(t, c++, row->area_code);
        rc |= set_text(t, c++, row->area_name);
        break;
    case CDOF_QO_VIEW_SERIES:
        rc |= set_text(t, c++, period);
        if (row->has_numerator)
            rc |= cdof_qo_table_set_number(t, c, row->numerator, -1);
        c++;
        if (row->has_denominator)
            rc |= cdof_qo_table_set_number(t, c, row->denominator, -1);
        c++;
        break;
    }
    if (row->has_value)
        rc |= cdof_qo_table_set_number(t, c, row->value, d);
    c++;
    if (row->has_interval)
        rc |= set_interval(t, c, row->lower_95, row->upper_95, d);
    c++;
    if (view != CDOF_QO_VIEW_LEAGUE) {
        if (benchmark_known(row->england_value, row->vs_england))
            rc |= cdof_qo_table_set_number(t, c, row->england_value, d);
        c++;
    }
    rc |= set_verdict(t, c++, row->vs_england, row->england_provisional);
    rc |= set_verdict(t, c++, row->vs_region, row->region_provisional);
    if (view != CDOF_QO_VIEW_SERIES && row->quintile)
        rc |= set_u64(t, c, row->quintile);
    if (view != CDOF_QO_VIEW_SERIES)
        c++;
    rc |= set_cover(t, c, row);
    return rc ? -ENOMEM : 0;
}

cdof_qo_table_t *cdof_qo_comparisons(Cdof__V1__ComparisonRow *const *rows, size_t n,
                                     cdof_qo_view_t view, bool display)
{
    static const cdof_qo_col_t record[] = {{"area_code", false, false},
                                           {"area_name", false, false},
                                           {"metric_id", false, false},
                                           {"period", false, false},
                                           {"numerator", true, false},
                                           {"denominator", true, false},
                                           {"value", true, false},
                                           {"lower_95", true, false},
                                           {"upper_95", true, false},
                                           {"lower_99_8", true, false},
                                           {"upper_99_8", true, false},
                                           {"vs_england", false, false},
                                           {"vs_region", false, false},
                                           {"quintile", true, false},
                                           {"england_value", true, false},
                                           {"region_value", true, false},
                                           {"received_ms", true, false},
                                           {"trend", false, false},
                                           {"worse_and_getting_worse", false, false},
                                           {"partnership", false, false},
                                           {"vs_baseline", false, false},
                                           {"vs_trajectory", false, false},
                                           {"reported", true, false},
                                           {"expected", true, false},
                                           {"provisional", false, false},
                                           {"england_provisional", false, false},
                                           {"region_provisional", false, false}};
    static const cdof_qo_col_t area[] = {
        {"metric", false, false}, {"period", false, false}, {"value", true, false},
        {"95% CI", true, false},  {"England", true, false}, {"vs Eng", false, false},
        {"vs reg", false, false}, {"Q", true, false},       {"cover", true, false}};
    static const cdof_qo_col_t league[] = {{"area", false, false},   {"name", false, true},
                                           {"value", true, false},   {"95% CI", true, false},
                                           {"vs Eng", false, false}, {"vs reg", false, false},
                                           {"Q", true, false},       {"cover", true, false}};
    static const cdof_qo_col_t series[] = {
        {"period", false, false}, {"numerator", true, false}, {"denominator", true, false},
        {"value", true, false},   {"95% CI", true, false},    {"England", true, false},
        {"vs Eng", false, false}, {"vs reg", false, false},   {"cover", true, false}};
    const cdof_qo_col_t *cols = record;
    size_t ncols = sizeof record / sizeof record[0];
    if (display) {
        switch (view) {
        case CDOF_QO_VIEW_AREA:
            cols = area;
            ncols = sizeof area / sizeof area[0];
            break;
        case CDOF_QO_VIEW_LEAGUE:
            cols = league;
            ncols = sizeof league / sizeof league[0];
            break;
        case CDOF_QO_VIEW_SERIES:
            cols = series;
            ncols = sizeof series / sizeof series[0];
            break;
        }
    }
    cdof_qo_table_t *t = cdof_qo_table_new(cols, ncols);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (cdof_qo_table_add_row(t) < 0)
            goto fail;
        int rc = display ? comparison_display(t, view, rows[i]) : comparison_record(t, rows[i]);
        if (rc < 0)
            goto fail;
    }
    return t;
fail:
    cdof_qo_table_destroy(&t);
    return NULL;
}

static int alert_record(cdof_qo_table_t *t, const Cdof__V1__Alert *a)
{
    char period[CDOF_PERIOD_TEXT_MAX], raised[32];
    int rc = 0;
    cdof_qo_period_text(a->period, period, sizeof period);
    rc |= set_u64(t, 0, a->sequence);
    if (a->raised_ms) {
        rc |= set_i64(t, 1, a->raised_ms);
        cdof_clock_format(a->raised_ms, raised, sizeof raised);
        rc |= set_text(t, 2, raised);
    }
    rc |= set_text(t, 3, cdof_qo_state_name(a->state));
    rc |= set_text(t, 4, cdof_qo_severity_name(a->severity));
    rc |= set_text(t, 5, a->rule);
    rc |= set_text(t, 6, a->team);
    rc |= set_text(t, 7, a->region_code);
    rc |= set_text(t, 8, a->area_code);
    rc |= set_text(t, 9, a->metric_id);
    rc |= set_text_or_null(t, 10, period);
    rc |= cdof_qo_table_set_number(t, 11, a->value, -1);
    rc |= cdof_qo_table_set_number(t, 12, a->lower, -1);
    rc |= cdof_qo_table_set_number(t, 13, a->upper, -1);
    rc |= cdof_qo_table_set_number(t, 14, a->confidence, -1);
    rc |= cdof_qo_table_set_number(t, 15, a->benchmark, -1);
    rc |= set_text(t, 16, cdof_wire_verdict_name(a->verdict));
    rc |= set_text(t, 17, a->dedupe_key);
    rc |= set_text(t, 18, a->acknowledged_by);
    rc |= set_text(t, 19, a->summary);
    /* Alert lifecycle columns, appended so that earlier columns keep their places. */
    rc |= set_text(t, 20, a->subject);
    if (a->fired_sequence)
        rc |= set_u64(t, 21, a->fired_sequence);
    rc |= set_text(t, 22, a->muted_by);
    /* England's coverage when a comparison alert was judged. */
    if (a->expected) {
        rc |= set_u64(t, 23, a->reported);
        rc |= set_u64(t, 24, a->expected);
    }
    return rc ? -ENOMEM : 0;
}

static int alert_display(cdof_qo_table_t *t, const Cdof__V1__Alert *a)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    int rc = 0;
    cdof_qo_period_text(a->period, period, sizeof period);
    rc |= set_u64(t, 0, a->sequence);
    rc |= set_text(t, 1, cdof_qo_state_name(a->state));
    rc |= set_text(t, 2, cdof_qo_severity_name(a->severity));
    rc |= set_text(t, 3, a->rule);
    rc |= set_text(t, 4, a->area_code);
    rc |= set_text(t, 5, a->metric_id);
    rc |= set_text(t, 6, period);
    rc |= set_text(t, 7, a->summary);
    return rc ? -ENOMEM : 0;
}

cdof_qo_table_t *cdof_qo_alerts(Cdof__V1__Alert *const *alerts, size_t n, bool display)
{
    static const cdof_qo_col_t record[] = {{"sequence", true, false},
                                           {"raised_ms", true, false},
                                           {"raised", false, false},
                                           {"state", false, false},
                                           {"severity", false, false},
                                           {"rule", false, false},
                                           {"team", false, false},
                                           {"region_code", false, false},
                                           {"area_code", false, false},
                                           {"metric_id", false, false},
                                           {"period", false, false},
                                           {"value", true, false},
                                           {"lower", true, false},
                                           {"upper", true, false},
                                           {"confidence", true, false},
                                           {"benchmark", true, false},
                                           {"verdict", false, false},
                                           {"dedupe_key", false, false},
                                           {"acknowledged_by", false, false},
                                           {"summary", false, false},
                                           {"subject", false, false},
                                           {"fired_sequence", true, false},
                                           {"muted_by", false, false},
                                           {"reported", true, false},
                                           {"expected", true, false}};
    static const cdof_qo_col_t shown[] = {{"#", true, false},         {"state", false, false},
                                          {"severity", false, false}, {"rule", false, false},
                                          {"area", false, false},     {"metric", false, false},
                                          {"period", false, false},   {"summary", false, true}};
    cdof_qo_table_t *t = display ? cdof_qo_table_new(shown, sizeof shown / sizeof shown[0])
                                 : cdof_qo_table_new(record, sizeof record / sizeof record[0]);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (cdof_qo_table_add_row(t) < 0)
            goto fail;
        if ((display ? alert_display(t, alerts[i]) : alert_record(t, alerts[i])) < 0)
            goto fail;
    }
    return t;
fail:
    cdof_qo_table_destroy(&t);
    return NULL;
}

cdof_qo_table_t *cdof_qo_agents(Cdof__V1__AgentStatus *const *agents, size_t n, bool display)
{
    static const cdof_qo_col_t record[] = {
        {"agent_id", false, false},     {"high_water", true, false},
        {"last_heard_ms", true, false}, {"last_heard", false, false},
        {"outbox_depth", true, false},  {"oldest_unacked_ms", true, false}};
    static const cdof_qo_col_t shown[] = {{"agent", false, true},
                                          {"high water", true, false},
                                          {"last heard", false, false},
                                          {"outbox", true, false},
                                          {"oldest unacked", true, false}};
    cdof_qo_table_t *t = display ? cdof_qo_table_new(shown, sizeof shown / sizeof shown[0])
                                 : cdof_qo_table_new(record, sizeof record / sizeof record[0]);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const Cdof__V1__AgentStatus *a = agents[i];
        char heard[32] = "", age[48];
        int rc = cdof_qo_table_add_row(t);
        if (rc < 0)
            goto fail;
        if (a->last_heard_ms)
            cdof_clock_format(a->last_heard_ms, heard, sizeof heard);
        rc |= set_text(t, 0, a->agent_id);
        rc |= set_u64(t, 1, a->high_water);
        if (display) {
            rc |= set_text_or_null(t, 2, heard);
            rc |= set_u64(t, 3, a->outbox_depth);
            snprintf(age, sizeof age, "%.1f s", (double)a->oldest_unacked_ms / 1000.0);
            rc |= cdof_qo_table_set(t, 4, CDOF_QO_NUMBER, age);
        } else {
            if (a->last_heard_ms)
                rc |= set_i64(t, 2, a->last_heard_ms);
            rc |= set_text_or_null(t, 3, heard);
            rc |= set_u64(t, 4, a->outbox_depth);
            rc |= set_u64(t, 5, a->oldest_unacked_ms);
        }
        if (rc)
            goto fail;
    }
    return t;
fail:
    cdof_qo_table_destroy(&t);
    return NULL;
}

int cdof_qo_alert_json(const Cdof__V1__Alert *a, FILE *out)
{
    Cdof__V1__Alert *one = (Cdof__V1__Alert *)a;
    cdof_qo_table_t *t = cdof_qo_alerts(&one, 1, false);
    if (!t)
        return -ENOMEM;
    int rc = cdof_qo_write_json_row(t, 0, out);
    cdof_qo_table_destroy(&t);
    return rc;
}

/* Writes s with control characters as spaces; "-" for an empty string. */
static void text_word(const char *s, FILE *out)
{
    if (!s || !*s) {
        fputc('-', out);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? ' ' : *p, out);
}

static void text_number(double v, int decimals, bool percent, FILE *out)
{
    fprintf(out, "%.*f%s", decimals, v == 0 ? 0 : v, percent ? "%" : "");
}

void cdof_qo_alert_text(const Cdof__V1__Alert *a, const char *area_name, bool percent, FILE *out)
{
    char period[CDOF_PERIOD_TEXT_MAX], conf[32];
    fprintf(out, "#%" PRIu64 " ", a->sequence);
    for (const char *s = cdof_qo_state_name(a->state); *s; s++)
        fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s, out);
    fputc(' ', out);
    fputs(cdof_qo_severity_name(a->severity), out);
    const char *words[] = {a->rule, a->team, a->region_code, a->area_code};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        fputc(' ', out);
        text_word(words[i], out);
    }
    if (area_name && *area_name) {
        fputc(' ', out);
        text_word(area_name, out);
    }
    bool measured = a->confidence > 0;
    if (a->metric_id && *a->metric_id) {
        fputc(' ', out);
        text_word(a->metric_id, out);
        if (cdof_qo_period_text(a->period, period, sizeof period))
            fprintf(out, " %s", period);
        int d = display_decimals(a->value, measured) || display_decimals(a->benchmark, measured);
        if (measured || a->value != 0) {
            fputs(": ", out);
            text_number(a->value, d, percent, out);
        }
        if (measured && isfinite(a->lower) && isfinite(a->upper)) {
            cdof_qo_number_text(a->confidence, conf, sizeof conf);
            fprintf(out, " (%s%% ", conf);
            text_number(a->lower, d, false, out);
            fputs(EN_DASH, out);
            text_number(a->upper, d, false, out);
            fputc(')', out);
        }
        if (measured || a->benchmark != 0) {
            fputs(a->rule && strstr(a->rule, "region") ? " vs region " : " vs England ", out);
            text_number(a->benchmark, d, percent, out);
        }
    }
    if (a->acknowledged_by && *a->acknowledged_by) {
        fputs(" (acknowledged by ", out);
        text_word(a->acknowledged_by, out);
        fputc(')', out);
    }
    if (a->summary && *a->summary) {
        fputs(" " EM_DASH " ", out);
        text_word(a->summary, out);
    }
    if (a->muted_by && *a->muted_by) {
        fputs(" (muted: ", out);
        text_word(a->muted_by, out);
        fputc(')', out);
    }
}

/* Silence records: the table shows who (and through which key) made and ended each. */
cdof_qo_table_t *cdof_qo_silences(Cdof__V1__Silence *const *silences, size_t n, bool display)
{
    static const cdof_qo_col_t record[] = {
        {"id", true, false},         {"matcher", false, false},    {"until_ms", true, false},
        {"until", false, false},     {"by", false, false},         {"key_id", false, false},
        {"created_ms", true, false}, {"scope_team", false, false}, {"scope_region", false, false},
        {"ended_ms", true, false},   {"ended_by", false, false},   {"ended_key_id", false, false},
        {"reason", false, false}};
    static const cdof_qo_col_t shown[] = {{"id", true, false},     {"matcher", false, false},
                                          {"until", false, false}, {"by", false, false},
                                          {"ended", false, false}, {"reason", false, true}};
    cdof_qo_table_t *t = display ? cdof_qo_table_new(shown, sizeof shown / sizeof shown[0])
                                 : cdof_qo_table_new(record, sizeof record / sizeof record[0]);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const Cdof__V1__Silence *s = silences[i];
        char until[32] = "", by[2 * CDOF_WIRE_MAX_ID + 8], ended[3 * CDOF_WIRE_MAX_ID + 48] = "";
        int rc = cdof_qo_table_add_row(t);
        if (rc < 0)
            goto fail;
        cdof_clock_format(s->until_ms, until, sizeof until);
        rc |= set_i64(t, 0, (int64_t)s->id);
        rc |= set_text(t, 1, s->matcher);
        if (display) {
            snprintf(by, sizeof by, "%s%s%s", s->by, *s->key_id ? " via " : "", s->key_id);
            if (s->ended_ms) {
                char when[32];
                cdof_clock_format(s->ended_ms, when, sizeof when);
                snprintf(ended, sizeof ended, "%s by %s%s%s", when, s->ended_by,
                         *s->ended_key_id ? " via " : "", s->ended_key_id);
            }
            rc |= set_text(t, 2, until);
            rc |= set_text(t, 3, by);
            rc |= set_text(t, 4, ended);
            rc |= set_text(t, 5, s->reason);
        } else {
            rc |= set_i64(t, 2, s->until_ms);
            rc |= set_text(t, 3, until);
            rc |= set_text(t, 4, s->by);
            rc |= set_text(t, 5, s->key_id);
            rc |= set_i64(t, 6, s->created_ms);
            rc |= set_text(t, 7, s->scope_team);
            rc |= set_text(t, 8, s->scope_region);
            rc |= set_i64(t, 9, s->ended_ms);
            rc |= set_text(t, 10, s->ended_by);
            rc |= set_text(t, 11, s->ended_key_id);
            rc |= set_text(t, 12, s->reason);
        }
        if (rc)
            goto fail;
    }
    return t;
fail:
    cdof_qo_table_destroy(&t);
    return NULL;
}

/* --- the client side of the query protocol --- */

const char *cdof_qo_status_name(Cdof__V1__QueryStatus s)
{
    switch (s) {
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK:
        return "ok";
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_NOT_FOUND:
        return "not_found";
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_BAD_REQUEST:
        return "bad_request";
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_FORBIDDEN:
        return "forbidden";
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_INTERNAL:
        return "internal";
    default:
        return "unspecified";
    }
}

int cdof_qo_exchange(void *sock, Cdof__V1__QueryRequest *req, uint64_t *next_id, int timeout_ms,
                     volatile sig_atomic_t *stop, Cdof__V1__QueryResponse **out, char *err,
                     size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;
    *out = NULL;
    req->request_id = (*next_id)++;
    if ((rc = cdof_wire_pack(&req->base, &buf, &len)) < 0) {
        snprintf(err, errlen, "cannot encode the request: %s", cdof_strerror(rc));
        return rc;
    }
    int64_t deadline = cdof_clock_mono_ms() + timeout_ms;
    /* A DEALER queues for a connecting peer, so this waits only when its queue is full. */
    zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLOUT};
    for (;;) {
        if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) >= 0)
            break;
        rc = -zmq_errno();
        int64_t left = deadline - cdof_clock_mono_ms();
        if (rc != -EAGAIN && rc != -EINTR) {
            snprintf(err, errlen, "cannot send the request: %s", zmq_strerror(-rc));
            goto done;
        }
        if (rc == -EINTR && stop && *stop)
            goto interrupted;
        if (left <= 0) {
            rc = -ETIMEDOUT;
            snprintf(err, errlen, "no answer within %d ms", timeout_ms);
            goto done;
        }
        (void)zmq_poll(&item, 1, (long)left);
    }
    item.events = ZMQ_POLLIN;
    for (;;) {
        int64_t left = deadline - cdof_clock_mono_ms();
        if (left < 0)
            left = 0;
        int n = zmq_poll(&item, 1, (long)left);
        if (n < 0) {
            rc = -zmq_errno();
            if (rc == -EINTR) {
                if (stop && *stop)
                    goto interrupted;
                continue;
            }
            snprintf(err, errlen, "cannot wait for the answer: %s", zmq_strerror(-rc));
            goto done;
        }
        if (n == 0) {
            if (left > 0)
                continue;
            rc = -ETIMEDOUT;
            snprintf(err, errlen, "no answer within %d ms", timeout_ms);
            goto done;
        }
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
            rc = -zmq_errno();
            zmq_msg_close(&msg);
            if (rc == -EAGAIN || rc == -EINTR)
                continue;
            snprintf(err, errlen, "cannot receive the answer: %s", zmq_strerror(-rc));
            goto done;
        }
        bool more = zmq_msg_more(&msg);
        char why[256] = "";
        Cdof__V1__QueryResponse *resp =
            more ? NULL
                 : cdof_wire_query_response_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), why,
                                                   sizeof why);
        zmq_msg_close(&msg);
        if (more) {
            /* The contract is one frame: drain and reject the rest of the message. */
            int m = 1;
            size_t ml = sizeof m;
            while (zmq_getsockopt(sock, ZMQ_RCVMORE, &m, &ml) == 0 && m) {
                zmq_msg_init(&msg);
                int r = zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT);
                zmq_msg_close(&msg);
                if (r < 0)
                    break;
            }
            rc = CDOF_EPROTO;
            snprintf(err, errlen, "the hub's answer has more than one frame");
            goto done;
        }
        if (!resp) {
            rc = CDOF_EPROTO;
            snprintf(err, errlen, "the hub's answer does not decode: %s", why);
            goto done;
        }
        if (resp->request_id != req->request_id) {
            cdof__v1__query_response__free_unpacked(resp, NULL); /* late answer to an old ask */
            continue;
        }
        *out = resp;
        rc = 0;
        goto done;
    }
interrupted:
    rc = -EINTR;
    snprintf(err, errlen, "interrupted");
done:
    free(buf);
    return rc;
}

static int pages_add(cdof_qo_pages_t *p, Cdof__V1__QueryResponse *resp)
{
    Cdof__V1__QueryResponse **pages = realloc(p->pages, (p->npages + 1) * sizeof *pages);
    if (!pages)
        return -ENOMEM;
    pages[p->npages++] = resp;
    p->pages = pages;
    return 0;
}

int cdof_qo_fetch(void *sock, Cdof__V1__QueryRequest *req, uint64_t *next_id, int timeout_ms,
                  volatile sig_atomic_t *stop, size_t max_pages, cdof_qo_pages_t *out, char *err,
                  size_t errlen)
{
    char *saved_token = req->page_token;
    char *token = NULL;
    int rc = 0;
    for (size_t page = 0;; page++) {
        if (page == max_pages) {
            rc = CDOF_EPROTO;
            snprintf(err, errlen, "the hub sent more than %zu pages", max_pages);
            break;
        }
        req->page_token = token ? token : (char *)"";
        Cdof__V1__QueryResponse *resp = NULL;
        rc = cdof_qo_exchange(sock, req, next_id, timeout_ms, stop, &resp, err, errlen);
        if (rc < 0)
            break;
        if ((rc = pages_add(out, resp)) < 0) {
            cdof__v1__query_response__free_unpacked(resp, NULL);
            snprintf(err, errlen, "out of memory");
            break;
        }
        const char *next = resp->next_page_token;
        if (resp->status != CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK || !next || !*next)
            break;
        if (token && !strcmp(token, next)) {
            rc = CDOF_EPROTO;
            snprintf(err, errlen, "the hub sent the same page token twice");
            break;
        }
        free(token);
        if (!(token = strdup(next))) {
            rc = -ENOMEM;
            snprintf(err, errlen, "out of memory");
            break;
        }
    }
    free(token);
    req->page_token = saved_token;
    return rc;
}

void cdof_qo_pages_free(cdof_qo_pages_t *p)
{
    for (size_t i = 0; i < p->npages; i++)
        cdof__v1__query_response__free_unpacked(p->pages[i], NULL);
    free(p->pages);
    p->pages = NULL;
    p->npages = 0;
}

/* --- national summary and milestone compliance tables --- */

/* The display or the record shape of a table. */
#define QO_TABLE(display, shown, record)                                                           \
    ((display) ? cdof_qo_table_new((shown), sizeof(shown) / sizeof(shown)[0])                      \
               : cdof_qo_table_new((record), sizeof(record) / sizeof(record)[0]))

static int set_day(cdof_qo_table_t *t, size_t col, int32_t day)
{
    char buf[16];
    if (!day)
        return 0;
    cdof_date_format(day, buf, sizeof buf);
    return set_text(t, col, buf);
}

cdof_qo_table_t *cdof_qo_national(Cdof__V1__NationalRow *const *rows, size_t n, bool display)
{
    static const cdof_qo_col_t record[] = {
        {"metric_id", false, false},       {"metric_name", false, false},
        {"headline", false, false},        {"kind", false, false},
        {"baseline_period", false, false}, {"baseline", true, false},
        {"latest_period", false, false},   {"latest", true, false},
        {"change", true, false},           {"commitment", false, false},
        {"target", true, false},           {"progress", true, false},
        {"source", false, false},          {"latest_reported", true, false},
        {"latest_expected", true, false},  {"latest_provisional", false, false}};
    static const cdof_qo_col_t shown[] = {
        {"metric", false, true},  {"baseline", false, false}, {"", true, false},
        {"latest", false, false}, {"", true, false},          {"change", true, false},
        {"target", true, false},  {"progress", true, false},  {"cover", true, false}};
    cdof_qo_table_t *t = QO_TABLE(display, shown, record);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const Cdof__V1__NationalRow *r = rows[i];
        int rc = cdof_qo_table_add_row(t);
        if (rc < 0)
            goto fail;
        double change = r->has_baseline && r->has_latest && strcmp(r->kind, "cumulative") != 0
                            ? r->latest - r->baseline
                            : NAN;
        /* Whole numbers (counts, most targets) without decimals keep the table in 80 columns. */
        bool whole = (!r->has_latest || r->latest == floor(r->latest)) &&
                     (!r->has_baseline || r->baseline == floor(r->baseline));
        int dec = display ? (whole ? 0 : 1) : -1;
        char pct[32] = "", cover[32] = "", latest[CDOF_PERIOD_TEXT_MAX + 2];
        if (r->has_progress)
            snprintf(pct, sizeof pct, "%.0f%%", r->progress);
        if (r->latest_expected)
            snprintf(cover, sizeof cover, "%u/%u", r->latest_reported, r->latest_expected);
        /* A headline from an incomplete period (there is no complete one yet) ends in '*'. */
        snprintf(latest, sizeof latest, "%s%s", r->latest_period ? r->latest_period : "",
                 r->latest_provisional ? "*" : "");
        if (display) {
            rc |= set_text(t, 0, r->metric_id);
            rc |= set_text_or_null(t, 1, r->baseline_period);
            if (r->has_baseline)
                rc |= cdof_qo_table_set_number(t, 2, r->baseline, dec);
            rc |= set_text_or_null(t, 3, latest);
            rc |= set_text_or_null(t, 8, cover);
            if (r->has_latest)
                rc |= cdof_qo_table_set_number(t, 4, r->latest, dec);
            rc |= cdof_qo_table_set_number(t, 5, change, dec);
            if (r->has_target)
                rc |= cdof_qo_table_set_number(t, 6, r->target,
                                               r->target == floor(r->target) ? 0 : 1);
            if (r->has_progress)
                rc |= cdof_qo_table_set(t, 7, CDOF_QO_NUMBER, pct);
        } else {
            rc |= set_text(t, 0, r->metric_id);
            rc |= set_text(t, 1, r->metric_name);
            rc |= cdof_qo_table_set(t, 2, CDOF_QO_NUMBER, r->headline ? "true" : "false");
            rc |= set_text_or_null(t, 3, r->kind);
            rc |= set_text_or_null(t, 4, r->baseline_period);
            if (r->has_baseline)
                rc |= cdof_qo_table_set_number(t, 5, r->baseline, dec);
            rc |= set_text_or_null(t, 6, r->latest_period);
            if (r->has_latest)
                rc |= cdof_qo_table_set_number(t, 7, r->latest, dec);
            rc |= cdof_qo_table_set_number(t, 8, change, dec);
            rc |= set_text_or_null(t, 9, r->commitment);
            if (r->has_target)
                rc |= cdof_qo_table_set_number(t, 10, r->target, dec);
            if (r->has_progress)
                rc |= cdof_qo_table_set_number(t, 11, r->progress, dec);
            rc |= set_text_or_null(t, 12, r->source);
            if (r->latest_expected) {
                rc |= set_u64(t, 13, r->latest_reported);
                rc |= set_u64(t, 14, r->latest_expected);
            }
            rc |= set_text(t, 15, r->latest_provisional ? "true" : "false");
        }
        if (rc < 0)
            goto fail;
    }
    return t;
fail:
    cdof_qo_table_destroy(&t);
    return NULL;
}

static const char *pstate_name(Cdof__V1__PeriodState s)
{
    switch (s) {
    case CDOF__V1__PERIOD_STATE__PERIOD_STATE_OPEN:
        return "open";
    case CDOF__V1__PERIOD_STATE__PERIOD_STATE_COMPLETE:
        return "complete";
    case CDOF__V1__PERIOD_STATE__PERIOD_STATE_CLOSED:
        return "closed";
    default:
        return "";
    }
}

/* One row of a period's table: the state (and event) with one group's coverage. */
static int period_row(cdof_qo_table_t *t, const Cdof__V1__PeriodStatus *st,
                      const Cdof__V1__CoverageGroup *g, bool display)
{
    char period[CDOF_PERIOD_TEXT_MAX], cover[32], missing[4096] = "", how[96];
    cdof_qo_period_text(st->period, period, sizeof period);
    uint32_t rep = g ? g->reported : st->reported, exp = g ? g->expected : st->expected;
    const char *code = g ? g->code : CDOF_ENGLAND_CODE, *name = g ? g->name : "England";
    size_t len = 0;
    for (size_t i = 0; g && i < g->n_missing && len < sizeof missing - 16; i++)
        len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%s", i ? " " : "",
                                g->missing[i]);
    snprintf(cover, sizeof cover, "%u/%u", rep, exp);
    const char *state = pstate_name(st->state);
    int rc = cdof_qo_table_add_row(t);
    if (rc < 0)
        return rc;
    if (display) {
        snprintf(how, sizeof how, "%s%s%s", st->event && *st->event ? st->event : state,
                 st->completed_by && *st->completed_by ? ": " : "",
                 st->completed_by ? st->completed_by : "");
        if (st->closed_by && *st->closed_by && (!st->event || !strcmp(st->event, "closed")))
            snprintf(how, sizeof how, "closed by %s: %s", st->closed_by,
                     st->reason ? st->reason : "");
        rc |= set_text(t, 0, period);
        rc |= set_text(t, 1, how);
        rc |= set_text(t, 2, name);
        rc |= set_text(t, 3, cover);
        rc |= set_text_or_null(t, 4, missing);
        return rc ? -ENOMEM : 0;
    }
    rc |= set_text(t, 0, st->metric_id);
    rc |= set_text_or_null(t, 1, period);
    rc |= set_text(t, 2, state);
    rc |= set_text_or_null(t, 3, st->completed_by);
    rc |= set_text_or_null(t, 4, st->event);
    rc |= set_text(t, 5, code);
    rc |= set_text_or_null(t, 6, name);
    rc |= set_u64(t, 7, rep);
    rc |= set_u64(t, 8, exp);
    rc |= set_text_or_null(t, 9, missing);
    rc |= cdof_qo_table_set_number(t, 10, st->threshold * 100, -1);
    rc |= set_day(t, 11, st->deadline_day);
    rc |= set_text_or_null(t, 12, st->closed_by);
    rc |= set_text_or_null(t, 13, st->reason);
    rc |= set_u64(t, 14, st->revisions);
    rc |= set_i64(t, 15, st->changed_ms);
    return rc ? -ENOMEM : 0;
}

cdof_qo_table_t *cdof_qo_periods(Cdof__V1__PeriodStatus *const *periods, size_t n, bool display)
{
    static const cdof_qo_col_t record[] = {{"metric_id", false, false},
                                           {"period", false, false},
                                           {"state", false, false},
                                           {"completed_by", false, false},
                                           {"event", false, false},
                                           {"area_code", false, false},
                                           {"area_name", false, false},
                                           {"reported", true, false},
                                           {"expected", true, false},
                                           {"missing", false, false},
                                           {"threshold_percent", true, false},
                                           {"deadline", false, false},
                                           {"closed_by", false, false},
                                           {"reason", false, false},
                                           {"revisions", true, false},
                                           {"changed_ms", true, false}};
    static const cdof_qo_col_t shown[] = {{"period", false, false},
                                          {"state", false, true},
                                          {"coverage of", false, true},
                                          {"reported", true, false},
                                          {"missing", false, true}};
    cdof_qo_table_t *t = QO_TABLE(display, shown, record);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const Cdof__V1__PeriodStatus *st = periods[i];
        int rc = 0;
        if (st->n_groups == 0)
            rc = period_row(t, st, NULL, display);
        for (size_t g = 0; rc == 0 && g < st->n_groups; g++)
            rc = period_row(t, st, st->groups[g], display);
        if (rc < 0) {
            cdof_qo_table_destroy(&t);
            return NULL;
        }
    }
    return t;
}

cdof_qo_table_t *cdof_qo_milestones(Cdof__V1__MilestoneRow *const *rows, size_t n,
                                    const char *const *names, bool display)
{
    static const cdof_qo_col_t record[] = {
        {"partnership", false, false},  {"partnership_name", false, false},
        {"milestone_id", false, false}, {"deliverable", false, false},
        {"status", false, false},       {"due", false, false},
        {"done_on", false, false},      {"overdue_since", false, false},
        {"next_due", false, false},     {"ref", false, false}};
    static const cdof_qo_col_t shown[] = {
        {"partnership", false, true}, {"milestone", false, true}, {"status", false, false},
        {"due", false, false},        {"done", false, false},     {"overdue since", false, false}};
    cdof_qo_table_t *t = QO_TABLE(display, shown, record);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const Cdof__V1__MilestoneRow *r = rows[i];
        int rc = cdof_qo_table_add_row(t);
        if (rc < 0)
            goto fail;
        /* The table shows the name people know; records keep the id and add the name. */
        const char *name = names && names[i] ? names[i] : r->partnership;
        if (display) {
            rc |= set_text(t, 0, name);
            rc |= set_text(t, 1, r->milestone_id);
            rc |= set_text(t, 2, r->status);
            rc |= set_day(t, 3, r->due_day);
            rc |= set_day(t, 4, r->done_day);
            rc |= set_day(t, 5, r->overdue_since);
        } else {
            rc |= set_text(t, 0, r->partnership);
            rc |= set_text_or_null(t, 1, names ? name : NULL);
            rc |= set_text(t, 2, r->milestone_id);
            rc |= set_text(t, 3, r->deliverable);
            rc |= set_text(t, 4, r->status);
            rc |= set_day(t, 5, r->due_day);
            rc |= set_day(t, 6, r->done_day);
            rc |= set_day(t, 7, r->overdue_since);
            rc |= set_day(t, 8, r->next_due);
            rc |= set_text_or_null(t, 9, r->ref);
        }
        if (rc < 0)
            goto fail;
    }
    return t;
fail:
    cdof_qo_table_destroy(&t);
    return NULL;
}

cdof_qo_table_t *cdof_qo_rejections(Cdof__V1__Rejection *const *rows, size_t n, bool display)
{
    static const cdof_qo_col_t record[] = {
        {"agent_id", false, false},   {"partnership", false, false}, {"sequence", true, false},
        {"rejected_ms", true, false}, {"rejected", false, false},    {"reason", false, false}};
    static const cdof_qo_col_t shown[] = {{"agent", false, true},
                                          {"partnership", false, true},
                                          {"sequence", true, false},
                                          {"refused", false, false},
                                          {"reason", false, true}};
    cdof_qo_table_t *t = QO_TABLE(display, shown, record);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const Cdof__V1__Rejection *r = rows[i];
        char when[32] = "";
        if (r->rejected_ms)
            cdof_clock_format(r->rejected_ms, when, sizeof when);
        int rc = cdof_qo_table_add_row(t);
        if (rc < 0)
            goto fail;
        rc |= set_text(t, 0, r->agent_id);
        rc |= set_text_or_null(t, 1, r->partnership);
        rc |= set_u64(t, 2, r->sequence);
        if (display) {
            rc |= set_text_or_null(t, 3, when);
            rc |= set_text(t, 4, r->reason);
        } else {
            if (r->rejected_ms)
                rc |= set_i64(t, 3, r->rejected_ms);
            rc |= set_text_or_null(t, 4, when);
            rc |= set_text(t, 5, r->reason);
        }
        if (rc)
            goto fail;
    }
    return t;
fail:
    cdof_qo_table_destroy(&t);
    return NULL;
}
