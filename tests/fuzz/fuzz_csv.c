/* libFuzzer target for the CSV reader: any input must end in a bounded number of calls, respect
 * the limits, yield only valid UTF-8 fields, and good records must survive a write/read round
 * trip through cdof_csv_write_field. Crashes and failed checks abort. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_csv.h"
#include "cdof_error.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An independent strict UTF-8 check (RFC 3629). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Writes rec's fields as one CSV line and reads them back. */
static void roundtrip(const cdof_csv_record_t *rec)
{
    char *out = NULL;
    size_t outlen = 0;
    FILE *m = open_memstream(&out, &outlen);
    CHECK(m);
    /* A first line, so that a field starting with U+FEFF is not taken for a byte-order mark. */
    fputs("x\n", m);
    for (size_t i = 0; i < rec->nfields; i++) {
        if (i)
            fputc(',', m);
        CHECK(cdof_csv_write_field(m, rec->fields[i].data, rec->fields[i].len) == 0);
    }
    fputc('\n', m);
    fclose(m);
    FILE *f = fmemopen(out, outlen, "r");
    CHECK(f);
    cdof_csv_limits_t lim = {.max_record = outlen + 1, .max_fields = rec->nfields + 1};
    cdof_csv_t *csv = cdof_csv_new(f, &lim);
    CHECK(csv);
    cdof_csv_record_t back;
    char err[256];
    CHECK(cdof_csv_next(csv, &back, err, sizeof err) == 1);
    int rc = cdof_csv_next(csv, &back, err, sizeof err);
    /* A record of one empty field writes as a blank line, which reads back as nothing. */
    if (rec->nfields == 1 && rec->fields[0].len == 0) {
        CHECK(rc == 0);
    } else {
        CHECK(rc == 1);
        CHECK(back.nfields == rec->nfields);
        for (size_t i = 0; i < rec->nfields; i++) {
            CHECK(back.fields[i].len == rec->fields[i].len);
            CHECK(!memcmp(back.fields[i].data, rec->fields[i].data, rec->fields[i].len));
        }
        CHECK(cdof_csv_next(csv, &back, err, sizeof err) == 0);
    }
    cdof_csv_destroy(&csv);
    fclose(f);
    free(out);
}

static void run(const uint8_t *data, size_t size, const cdof_csv_limits_t *lim)
{
    FILE *f = fmemopen((void *)data, size, "r");
    CHECK(f);
    cdof_csv_t *csv = cdof_csv_new(f, lim);
    CHECK(csv);
    size_t max_record = lim ? lim->max_record : 64 * 1024;
    size_t max_fields = lim ? lim->max_fields : 256;
    unsigned long last_line = 0;
    size_t calls = 0;
    for (;;) {
        cdof_csv_record_t rec;
        char err[256] = "";
        int rc = cdof_csv_next(csv, &rec, err, sizeof err);
        CHECK(++calls <= size + 2); /* every record consumes at least one byte */
        if (rc == 0)
            break;
        CHECK(rc == 1 || rc == CDOF_EINVALID);
        CHECK(rec.line > last_line);
        last_line = rec.line;
        CHECK(rec.raw_len <= max_record);
        CHECK(rec.raw[rec.raw_len] == '\0');
        if (rc == CDOF_EINVALID) {
            CHECK(err[0] != '\0');
            continue;
        }
        CHECK(rec.nfields >= 1 && rec.nfields <= max_fields);
        CHECK(utf8_ok((const unsigned char *)rec.raw, rec.raw_len));
        for (size_t i = 0; i < rec.nfields; i++) {
            CHECK(rec.fields[i].data[rec.fields[i].len] == '\0');
            CHECK(memchr(rec.fields[i].data, '\0', rec.fields[i].len) == NULL);
            CHECK(utf8_ok((const unsigned char *)rec.fields[i].data, rec.fields[i].len));
        }
        roundtrip(&rec);
    }
    cdof_csv_destroy(&csv);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen may refuse an empty buffer */
    run(data, size, NULL);
    cdof_csv_limits_t tight = {.max_record = 16, .max_fields = 3};
    run(data, size, &tight);
    return 0;
}
