#include "cdof_text.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most avail bytes), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void cdof_text_json(const char *s, size_t len, cdof_text_put_fn put, void *ctx)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s ? s : ""), *end = p + (s ? len : 0);
    put(ctx, "\"", 1);
    while (p < end) {
        /* The longest run that needs no escaping goes out in one piece. */
        const unsigned char *run = p;
        size_t n;
        while (p < end && *p >= 0x20 && *p != '"' && *p != '\\' &&
               (n = utf8_seq(p, (size_t)(end - p))))
            p += n;
        if (p > run)
            put(ctx, (const char *)run, (size_t)(p - run));
        if (p == end)
            break;
        unsigned char c = *p++;
        if (c == '"')
            put(ctx, "\\\"", 2);
        else if (c == '\\')
            put(ctx, "\\\\", 2);
        else if (c == '\n')
            put(ctx, "\\n", 2);
        else if (c == '\r')
            put(ctx, "\\r", 2);
        else if (c == '\t')
            put(ctx, "\\t", 2);
        else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(ctx, u, sizeof u);
        } else {
            put(ctx, "\\ufffd", 6); /* not valid UTF-8: one replacement per bad byte */
        }
    }
    put(ctx, "\"", 1);
}

void cdof_text_csv(const char *s, cdof_text_put_fn put, void *ctx)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        put(ctx, s, strlen(s));
        return;
    }
    put(ctx, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        put(ctx, s, (size_t)(q - s + 1)); /* up to and with the quote, which is then doubled */
        put(ctx, "\"", 1);
    }
    put(ctx, s, strlen(s));
    put(ctx, "\"", 1);
}

static void put_file(void *ctx, const char *s, size_t n)
{
    fwrite(s, 1, n, ctx);
}

void cdof_text_json_file(FILE *out, const char *s, size_t len)
{
    cdof_text_json(s, len, put_file, out);
}

void cdof_text_csv_file(FILE *out, const char *s)
{
    cdof_text_csv(s, put_file, out);
}
