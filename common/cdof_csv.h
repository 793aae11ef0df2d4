/* A streaming RFC 4180 CSV reader with bounded memory, for files dropped by local analysts and the
 * reference files every program reads.
 *
 * Accepts quoted fields with embedded commas, doubled quotes and newlines; CRLF or LF line ends;
 * a UTF-8 byte-order mark at the start; blank lines (skipped). Every record reports the line it
 * started on and its raw text (for quarantining the original row).
 *
 * Hostile input never grows memory past the limits (memory is allocated once, by cdof_csv_new,
 * in proportion to them): a record longer than max_record bytes, more than max_fields fields,
 * invalid UTF-8 (overlong forms, surrogates, code points above U+10FFFF, truncated sequences), a
 * NUL byte, a quote in the middle of an unquoted field, text after a closing quote, or a carriage
 * return not followed by a line feed makes that record an error (cdof_csv_next returns
 * CDOF_EINVALID with a reason such as "field 3: NUL byte") and the reader skips to the next line
 * end outside quotes, so the good rows after it are still read. A quote left open runs to the end
 * of the file: one error. */
#ifndef CDOF_CSV_H
#define CDOF_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct cdof_csv cdof_csv_t;

typedef struct {
    size_t max_record; /* bytes in one record, raw (default 64 KiB) */
    size_t max_fields; /* fields in one record (default 256) */
} cdof_csv_limits_t;

typedef struct {
    const char *data; /* NUL-terminated, unquoted; valid until the next cdof_csv_next */
    size_t len;
} cdof_csv_field_t;

typedef struct {
    size_t nfields;
    const cdof_csv_field_t *fields;
    unsigned long line; /* 1-based line on which the record starts */
    const char *raw;    /* the record as it stood in the file, without its line end; NUL-ended.
                           For an over-long record, its first max_record bytes. */
    size_t raw_len;
} cdof_csv_record_t;

/* Reads from f (not owned: the caller closes it). limits NULL: defaults. Returns NULL on
 * allocation failure. Owned by the caller: cdof_csv_destroy. */
cdof_csv_t *cdof_csv_new(FILE *f, const cdof_csv_limits_t *limits);
void cdof_csv_destroy(cdof_csv_t **csv);

/* Reads the next record into *rec (owned by csv, valid until the next call).
 * Returns 1 with a record, 0 at end of file, CDOF_EINVALID for a bad record (rec->line and
 * rec->raw describe it, the reason is in err; call again for the next record), or -EIO when the
 * file cannot be read (stop). */
int cdof_csv_next(cdof_csv_t *csv, cdof_csv_record_t *rec, char *err, size_t errlen);

/* Writes one field quoted as RFC 4180 requires (only when it holds a comma, quote, CR or LF). */
int cdof_csv_write_field(FILE *out, const char *s, size_t len);

#endif
