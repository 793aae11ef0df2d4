#include "cdof_csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_error.h"

#define CSV_DEFAULT_MAX_RECORD (64 * 1024)
#define CSV_DEFAULT_MAX_FIELDS 256
#define CSV_INPUT_BUF          (64 * 1024)

/* Where the grammar stands within a record. */
typedef enum {
    ST_FIELD_START, /* at the start of a field */
    ST_UNQUOTED,    /* inside an unquoted field */
    ST_QUOTED,      /* inside a quoted field */
    ST_QUOTE_SEEN,  /* a quote inside a quoted field: closing, or the first of a doubled pair */
} csv_state_t;

struct cdof_csv {
    FILE *f;
    size_t max_record, max_fields;

    uint8_t in[CSV_INPUT_BUF];
    size_t in_pos, in_len;
    bool eof, ioerr, started;
    unsigned long line; /* line of the next byte to read */

    /* The record being read. */
    char *raw; /* max_record + 1 */
    size_t raw_len;
    char *data; /* unquoted field text, each NUL-ended: max_record + max_fields + 1 */
    size_t data_len;
    size_t field_start;       /* offset in data of the open field */
    cdof_csv_field_t *fields; /* max_fields */
    size_t nfields;
    bool failed; /* the record is bad; keep scanning to its end */
    char reason[160];

    /* UTF-8 decoding across the record. */
    unsigned utf8_need; /* continuation bytes still expected */
    uint32_t utf8_cp, utf8_min;
};

cdof_csv_t *cdof_csv_new(FILE *f, const cdof_csv_limits_t *limits)
{
    cdof_csv_t *csv = calloc(1, sizeof *csv);
    if (!csv)
        return NULL;
    csv->f = f;
    csv->max_record = limits && limits->max_record ? limits->max_record : CSV_DEFAULT_MAX_RECORD;
    csv->max_fields = limits && limits->max_fields ? limits->max_fields : CSV_DEFAULT_MAX_FIELDS;
    csv->line = 1;
    csv->raw = malloc(csv->max_record + 1);
    csv->data = malloc(csv->max_record + csv->max_fields + 1);
    csv->fields = calloc(csv->max_fields, sizeof *csv->fields);
    if (!csv->raw || !csv->data || !csv->fields)
        cdof_csv_destroy(&csv);
    return csv;
}

void cdof_csv_destroy(cdof_csv_t **csv)
{
    if (!csv || !*csv)
        return;
    free((*csv)->raw);
    free((*csv)->data);
    free((*csv)->fields);
    free(*csv);
    *csv = NULL;
}

/* Refills the input buffer; false at end of file or on a read error (ioerr says which). */
static bool csv_fill(cdof_csv_t *csv)
{
    if (csv->eof || csv->ioerr)
        return false;
    size_t n = fread(csv->in, 1, sizeof csv->in, csv->f);
    csv->in_pos = 0;
    csv->in_len = n;
    if (n == 0) {
        if (ferror(csv->f))
            csv->ioerr = true;
        else
            csv->eof = true;
        return false;
    }
    return true;
}

/* Next byte, or -1 at end of file / on error. */
static inline int csv_getc(cdof_csv_t *csv)
{
    if (csv->in_pos == csv->in_len && !csv_fill(csv))
        return -1;
    return csv->in[csv->in_pos++];
}

/* Peeks at the next byte without consuming it. */
static inline int csv_peek(cdof_csv_t *csv)
{
    if (csv->in_pos == csv->in_len && !csv_fill(csv))
        return -1;
    return csv->in[csv->in_pos];
}

/* The byte-order mark counts only at the very start; a short read must not hide it. */
static void csv_skip_bom(cdof_csv_t *csv)
{
    static const uint8_t bom[3] = {0xEF, 0xBB, 0xBF};
    while (csv->in_len - csv->in_pos < 3 && !csv->eof && !csv->ioerr) {
        size_t have = csv->in_len - csv->in_pos;
        memmove(csv->in, csv->in + csv->in_pos, have);
        size_t n = fread(csv->in + have, 1, sizeof csv->in - have, csv->f);
        csv->in_pos = 0;
        csv->in_len = have + n;
        if (n == 0) {
            if (ferror(csv->f))
                csv->ioerr = true;
            else
                csv->eof = true;
        }
    }
    if (csv->in_len - csv->in_pos >= 3 && !memcmp(csv->in + csv->in_pos, bom, 3))
        csv->in_pos += 3;
}

/* Marks the record bad with the first reason only: later faults are usually consequences. */
static void csv_fail(cdof_csv_t *csv, const char *fmt, size_t field)
{
    if (csv->failed)
        return;
    csv->failed = true;
    snprintf(csv->reason, sizeof csv->reason, fmt, field + 1);
}

static void csv_raw_add(cdof_csv_t *csv, uint8_t c)
{
    if (csv->raw_len < csv->max_record)
        csv->raw[csv->raw_len] = (char)c;
    else if (!csv->failed) {
        csv->failed = true;
        snprintf(csv->reason, sizeof csv->reason, "record longer than %zu bytes", csv->max_record);
    }
    /* Counted past the limit too, so that blank-line detection stays right. */
    if (csv->raw_len <= csv->max_record)
        csv->raw_len++;
}

static void csv_data_add(cdof_csv_t *csv, uint8_t c)
{
    /* data never outgrows raw plus one NUL per field, both of which are bounded. */
    if (!csv->failed && csv->data_len < csv->max_record + csv->max_fields)
        csv->data[csv->data_len++] = (char)c;
}

static void csv_end_field(cdof_csv_t *csv)
{
    if (csv->failed)
        return;
    if (csv->nfields == csv->max_fields) {
        csv->failed = true;
        snprintf(csv->reason, sizeof csv->reason, "more than %zu fields", csv->max_fields);
        return;
    }
    csv->data[csv->data_len++] = '\0';
    csv->fields[csv->nfields].data = csv->data + csv->field_start;
    csv->fields[csv->nfields].len = csv->data_len - 1 - csv->field_start;
    csv->nfields++;
    csv->field_start = csv->data_len;
}

/* Feeds one byte to the UTF-8 check. ASCII bytes always pass through to the grammar. */
static void csv_utf8(cdof_csv_t *csv, uint8_t c)
{
    size_t field = csv->nfields;
    if (csv->utf8_need) {
        if ((c & 0xC0) == 0x80) {
            csv->utf8_cp = (csv->utf8_cp << 6) | (c & 0x3F);
            if (--csv->utf8_need == 0) {
                if (csv->utf8_cp < csv->utf8_min)
                    csv_fail(csv, "field %zu: invalid UTF-8 (overlong encoding)", field);
                else if (csv->utf8_cp >= 0xD800 && csv->utf8_cp <= 0xDFFF)
                    csv_fail(csv, "field %zu: invalid UTF-8 (UTF-16 surrogate)", field);
                else if (csv->utf8_cp > 0x10FFFF)
                    csv_fail(csv, "field %zu: invalid UTF-8 (code point above U+10FFFF)", field);
            }
            return;
        }
        csv->utf8_need = 0;
        csv_fail(csv, "field %zu: invalid UTF-8 (truncated sequence)", field);
    }
    if (c < 0x80)
        return;
    if (c < 0xC0) {
        csv_fail(csv, "field %zu: invalid UTF-8 (unexpected continuation byte)", field);
    } else if (c < 0xE0) {
        csv->utf8_need = 1;
        csv->utf8_cp = c & 0x1F;
        csv->utf8_min = 0x80;
    } else if (c < 0xF0) {
        csv->utf8_need = 2;
        csv->utf8_cp = c & 0x0F;
        csv->utf8_min = 0x800;
    } else if (c < 0xF8) {
        csv->utf8_need = 3;
        csv->utf8_cp = c & 0x07;
        csv->utf8_min = 0x10000;
    } else {
        csv_fail(csv, "field %zu: invalid UTF-8 (byte 0xF8-0xFF)", field);
    }
}

static void csv_reset_record(cdof_csv_t *csv)
{
    csv->raw_len = 0;
    csv->data_len = 0;
    csv->field_start = 0;
    csv->nfields = 0;
    csv->failed = false;
    csv->reason[0] = '\0';
    csv->utf8_need = 0;
}

int cdof_csv_next(cdof_csv_t *csv, cdof_csv_record_t *rec, char *err, size_t errlen)
{
    if (!csv->started) {
        csv->started = true;
        csv_skip_bom(csv);
    }
    for (;;) {
        csv_reset_record(csv);
        unsigned long start_line = csv->line;
        csv_state_t st = ST_FIELD_START;
        bool ended = false; /* a line end closed the record (as opposed to end of file) */
        int c;
        while ((c = csv_getc(csv)) >= 0) {
            uint8_t b = (uint8_t)c;
            csv_utf8(csv, b);
            if (b == '\n' && st != ST_QUOTED) {
                ended = true;
                csv->line++;
                break;
            }
            if (b == '\r' && st != ST_QUOTED) {
                if (csv_peek(csv) == '\n') {
                    csv_getc(csv);
                    ended = true;
                    csv->line++;
                    break;
                }
                /* A lone CR is neither a line end we accept nor data we keep. */
                csv_fail(csv, "field %zu: carriage return without line feed", csv->nfields);
                csv_raw_add(csv, b);
                st = ST_UNQUOTED;
                continue;
            }
            if (b == '\n')
                csv->line++;
            if (b == '\0')
                csv_fail(csv, "field %zu: NUL byte", csv->nfields);
            csv_raw_add(csv, b);
            switch (st) {
            case ST_FIELD_START:
                if (b == '"') {
                    st = ST_QUOTED;
                } else if (b == ',') {
                    csv_end_field(csv);
                } else {
                    csv_data_add(csv, b);
                    st = ST_UNQUOTED;
                }
                break;
            case ST_UNQUOTED:
                if (b == ',') {
                    csv_end_field(csv);
                    st = ST_FIELD_START;
                } else {
                    /* A stray quote stays literal so that resync finds this line's end. */
                    if (b == '"')
                        csv_fail(csv,
                                 "field %zu: quote inside an unquoted field (quote the "
                                 "whole field and double the quote)",
                                 csv->nfields);
                    csv_data_add(csv, b);
                }
                break;
            case ST_QUOTED:
                if (b == '"')
                    st = ST_QUOTE_SEEN;
                else
                    csv_data_add(csv, b);
                break;
            case ST_QUOTE_SEEN:
                if (b == '"') {
                    csv_data_add(csv, b);
                    st = ST_QUOTED;
                } else if (b == ',') {
                    csv_end_field(csv);
                    st = ST_FIELD_START;
                } else {
                    csv_fail(csv, "field %zu: text after the closing quote", csv->nfields);
                    csv_data_add(csv, b);
                    st = ST_UNQUOTED;
                }
                break;
            }
        }
        if (c < 0 && csv->ioerr) {
            snprintf(err, errlen, "read error on line %lu", csv->line);
            return -EIO;
        }
        if (!ended && csv->raw_len == 0 && st == ST_FIELD_START)
            return 0; /* end of file */
        if (ended && csv->raw_len == 0)
            continue; /* blank line */
        if (csv->utf8_need)
            csv_fail(csv, "field %zu: invalid UTF-8 (truncated sequence)", csv->nfields);
        if (st == ST_QUOTED)
            csv_fail(csv, "field %zu: quoted field not closed before the end of the file",
                     csv->nfields);
        csv_end_field(csv);

        size_t shown = csv->raw_len < csv->max_record ? csv->raw_len : csv->max_record;
        csv->raw[shown] = '\0';
        rec->line = start_line;
        rec->raw = csv->raw;
        rec->raw_len = shown;
        if (csv->failed) {
            rec->nfields = 0;
            rec->fields = NULL;
            snprintf(err, errlen, "%s", csv->reason);
            return CDOF_EINVALID;
        }
        rec->nfields = csv->nfields;
        rec->fields = csv->fields;
        return 1;
    }
}

int cdof_csv_write_field(FILE *out, const char *s, size_t len)
{
    bool quote = false;
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote)
        return len && fwrite(s, 1, len, out) != len ? -EIO : 0;
    if (putc('"', out) == EOF)
        return -EIO;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' && putc('"', out) == EOF)
            return -EIO;
        if (putc((unsigned char)s[i], out) == EOF)
            return -EIO;
    }
    return putc('"', out) == EOF ? -EIO : 0;
}
