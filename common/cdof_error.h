/* Error codes shared by every cdof module.
 *
 * Functions that can fail return int: 0 on success, a negative errno value (-ENOMEM, -EINVAL,
 * -EIO, ...) or one of the project codes below. cdof_strerror() names both kinds. */
#ifndef CDOF_ERROR_H
#define CDOF_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum {
    CDOF_EBASE = -31000,
    CDOF_EPROTO = CDOF_EBASE, /* a message does not decode or breaks the contract */
    CDOF_ECORRUPT = -31001,   /* stored data does not decode */
    CDOF_ENOTFOUND = -31002,  /* no such key, area, metric, ... */
    CDOF_EVERSION = -31003,   /* store schema or protocol version not supported */
    CDOF_EMAPFULL = -31004,   /* the store's map is full and may not grow further */
    CDOF_EREFDATA = -31005,   /* reference data file malformed */
    CDOF_EINVALID = -31006,   /* input failed validation; the reason buffer says why */
    CDOF_EEXIST = -31007,     /* already present (duplicate) */
    CDOF_EFULL = -31008,      /* a bounded queue or buffer is full */
    CDOF_ELOCKED = -31009,    /* another process holds the data directory */
    CDOF_ELAST = -31009
};

/* Returns a static string naming err (a negative errno or a CDOF_ code). Never NULL. */
const char *cdof_strerror(int err);

/* Reasons into a caller's buffer: the printf-style message goes into err (errlen bytes, always
 * NUL-terminated, cut short when longer); nothing is written when err is NULL or errlen is 0.
 * Each returns code unchanged, so that a failure path reads
 * `return cdof_reason(CDOF_EINVALID, err, errlen, ...)`; a caller returning a code of its own
 * passes 0 and ignores the result. */
int cdof_reason(int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As cdof_reason, the message placed where the bad input is: "file:line: field 'f': message".
 * Each part is left out when absent: file NULL, line 0, field NULL. */
int cdof_reason_at(int code, char *err, size_t errlen, const char *file, unsigned long line,
                   const char *field, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* cdof_reason_at for functions that take their own variable arguments. */
int cdof_vreason_at(int code, char *err, size_t errlen, const char *file, unsigned long line,
                    const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));

#endif
