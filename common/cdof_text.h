/* Text for other formats: a JSON string literal and a CSV field, each written in pieces to a
 * sink the caller chooses (a FILE, a growable buffer), so that every program that writes JSON or
 * CSV quotes it the same way. Pure: no allocation, no state. */
#ifndef CDOF_TEXT_H
#define CDOF_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Receives n bytes of output (not NUL-terminated). */
typedef void (*cdof_text_put_fn)(void *ctx, const char *s, size_t n);

/* The len bytes at s as a JSON string literal, quotes included: '"' and '\' escaped, \n \r \t
 * by name, other control bytes (NUL among them) as \u00XX, and any byte that does not start a
 * valid UTF-8 sequence as \ufffd, so that the output is always valid JSON. s may be NULL when
 * len is 0. */
void cdof_text_json(const char *s, size_t len, cdof_text_put_fn put, void *ctx);
void cdof_text_json_file(FILE *out, const char *s, size_t len);

/* s as one RFC 4180 field: as it is unless it holds a comma, a quote, CR or LF, else in quotes
 * with each quote doubled. NULL writes nothing (an empty field). */
void cdof_text_csv(const char *s, cdof_text_put_fn put, void *ctx);
void cdof_text_csv_file(FILE *out, const char *s);

#endif
