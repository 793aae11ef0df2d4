/* A table of text cells written three ways: an aligned text table for a terminal, RFC 4180 CSV
 * and JSON (an array of objects, one a line). Columns are declared once, as data: each has a
 * name (the heading, the CSV header field and the JSON key), an alignment that also says whether
 * it may be cut to fit a width, and a kind that says how JSON writes its cells. Rows are then
 * filled cell by cell. Quoting is cdof_text's, so every CSV and JSON the project writes quotes
 * the same way. Nothing here knows the domain, and the only I/O is writing to the FILE the caller
 * passes.
 *
 * A failed add or set (out of memory, a column out of range) is also remembered by the table,
 * as a FILE remembers a write error, so that a builder can fill a whole row and check once
 * (cdof_table_finish). */
#ifndef CDOF_TABLE_H
#define CDOF_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CDOF_TABLE_LEFT,  /* left-aligned, never cut */
    CDOF_TABLE_RIGHT, /* right-aligned (numbers), never cut */
    CDOF_TABLE_CUT    /* left-aligned, may be cut with "…" so that the table fits its width */
} cdof_table_align_t;

typedef enum {
    CDOF_TABLE_STRING, /* a JSON string */
    CDOF_TABLE_NUMBER, /* written bare in JSON: cells must hold valid JSON numbers */
    CDOF_TABLE_BOOL    /* written bare in JSON: cells hold "true" or "false" */
} cdof_table_kind_t;

typedef struct {
    const char *name; /* not copied: a string literal, or one that outlives the table */
    cdof_table_align_t align;
    cdof_table_kind_t kind;
} cdof_table_col_t;

/* Column declarations for the common cases: text, text that may be cut, a number, a boolean. */
#define CDOF_TABLE_COL_TEXT(name)                                                                  \
    {                                                                                              \
        (name), CDOF_TABLE_LEFT, CDOF_TABLE_STRING                                                 \
    }
#define CDOF_TABLE_COL_CUT(name)                                                                   \
    {                                                                                              \
        (name), CDOF_TABLE_CUT, CDOF_TABLE_STRING                                                  \
    }
#define CDOF_TABLE_COL_NUM(name)                                                                   \
    {                                                                                              \
        (name), CDOF_TABLE_RIGHT, CDOF_TABLE_NUMBER                                                \
    }
#define CDOF_TABLE_COL_BOOL(name)                                                                  \
    {                                                                                              \
        (name), CDOF_TABLE_LEFT, CDOF_TABLE_BOOL                                                   \
    }

/* The array and count of a static column list, for cdof_table_new. */
#define CDOF_TABLE_COLS(arr) (arr), (sizeof(arr) / sizeof(arr)[0])

/* Columns named by an enum, so that the cells filling a row say which column they mean:
 *
 *   enum { PET_NAME, PET_AGE, PET_NCOLS };
 *   static const cdof_table_col_t pet_cols[] = {[PET_NAME] = CDOF_TABLE_COL_TEXT("name"),
 *                                               [PET_AGE] = CDOF_TABLE_COL_NUM("age")};
 *   CDOF_TABLE_COLS_CHECK(pet_cols, PET_NCOLS);
 *   ...
 *   cdof_table_set_u64(t, PET_AGE, pet->age);
 *
 * The check fails to compile unless arr has exactly n entries; an index left out inside the
 * array (a column without a name) makes cdof_table_new refuse the list. */
#define CDOF_TABLE_COLS_CHECK(arr, n)                                                              \
    _Static_assert(sizeof(arr) / sizeof(arr)[0] == (n), #arr " must have one entry per column")

typedef struct cdof_table cdof_table_t;

/* A table with ncols columns described by cols (the array is copied, the names are not). Returns
 * NULL when out of memory, or when a column has no name (NULL: an entry left out of a list with
 * designated initialisers); the caller destroys the table. */
cdof_table_t *cdof_table_new(const cdof_table_col_t *cols, size_t ncols);
/* Frees *t and sets it to NULL; accepts NULL. */
void cdof_table_destroy(cdof_table_t **t);

/* Appends a row whose cells are all null (empty in text and CSV, null in JSON). Returns 0 or
 * -ENOMEM. */
int cdof_table_add_row(cdof_table_t *t);

/* Setters write a cell of the last row and return 0, -ENOMEM, or -EINVAL (no row yet, or col
 * out of range); a failure is also kept for cdof_table_status. */
/* A copy of s; NULL makes the cell null, "" an empty string. */
int cdof_table_set(cdof_table_t *t, size_t col, const char *s);
/* Like cdof_table_set, but "" also makes the cell null. */
int cdof_table_set_opt(cdof_table_t *t, size_t col, const char *s);
/* printf into the cell (at most 4 KiB). */
int cdof_table_setf(cdof_table_t *t, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* v with decimals >= 0 fixed decimals, or with decimals < 0 the shortest text that reads back as
 * v; never "-0". A value that is not finite makes the cell null. */
int cdof_table_set_number(cdof_table_t *t, size_t col, double v, int decimals);
int cdof_table_set_u64(cdof_table_t *t, size_t col, uint64_t v);
int cdof_table_set_i64(cdof_table_t *t, size_t col, int64_t v);
/* The UTC time ms (since 1970) in ISO 8601, "2024-05-01T10:00:00Z"; 0 makes the cell null. */
int cdof_table_set_time(cdof_table_t *t, size_t col, int64_t ms);
/* "true" or "false". */
int cdof_table_set_bool(cdof_table_t *t, size_t col, bool v);

/* 0 while every add and set has succeeded, else the first failure's code. */
int cdof_table_status(const cdof_table_t *t);
/* Returns t when its status is 0; otherwise destroys it and returns NULL. Accepts NULL. Lets a
 * builder end with `return cdof_table_finish(t);`. */
cdof_table_t *cdof_table_finish(cdof_table_t *t);

size_t cdof_table_rows(const cdof_table_t *t);
size_t cdof_table_cols(const cdof_table_t *t);
/* The text of a cell, owned by the table; "" for a null cell or one out of range. */
const char *cdof_table_cell(const cdof_table_t *t, size_t row, size_t col);

typedef enum { CDOF_TABLE_ALIGNED, CDOF_TABLE_CSV, CDOF_TABLE_JSON } cdof_table_format_t;

/* Parses "table" (aligned), "csv" or "json". Returns 0 or -EINVAL. */
int cdof_table_format_parse(const char *s, cdof_table_format_t *out);

/* Writes t in format; width bounds the aligned table only. Returns 0, -ENOMEM, or -EIO when
 * writing to out fails. */
int cdof_table_write(const cdof_table_t *t, cdof_table_format_t format, size_t width, FILE *out);
/* A heading line, a line of dashes and one line per row, columns two spaces apart and no wider
 * than width in all where the CDOF_TABLE_CUT columns allow (they are cut one column at a time,
 * widest first, never below their heading or 8); trailing blanks are cut from every line. */
int cdof_table_write_aligned(const cdof_table_t *t, size_t width, FILE *out);
/* A header line of column names, then one line per row; CRLF line ends. */
int cdof_table_write_csv(const cdof_table_t *t, FILE *out);
/* "[]" when empty, else "[", one object a line separated by ",", "]"; a line end after each. */
int cdof_table_write_json(const cdof_table_t *t, FILE *out);
/* One row as a JSON object on one line, without a line end. Returns -EINVAL for no such row. */
int cdof_table_write_json_row(const cdof_table_t *t, size_t row, FILE *out);

/* Pure helpers, exposed for tests and for text built beside a table. */
/* Shortest decimal text that reads back as v (integers without a point or exponent); "" when v
 * is not finite. */
void cdof_table_number_text(double v, char *buf, size_t len);
/* Columns s takes on a terminal: UTF-8 code points. */
size_t cdof_table_text_width(const char *s);
/* Copies s into buf cut to at most width columns, ending in "…" when cut, on a code point
 * boundary. */
void cdof_table_truncate(const char *s, size_t width, char *buf, size_t len);

#endif
