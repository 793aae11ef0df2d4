#include "cdof_error.h"

#include <stdio.h>
#include <string.h>

const char *cdof_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case CDOF_EPROTO:
        return "protocol error: message does not decode or breaks the contract";
    case CDOF_ECORRUPT:
        return "stored data is corrupt";
    case CDOF_ENOTFOUND:
        return "not found";
    case CDOF_EVERSION:
        return "unsupported version";
    case CDOF_EMAPFULL:
        return "store map is full";
    case CDOF_EREFDATA:
        return "reference data is malformed";
    case CDOF_EINVALID:
        return "invalid input";
    case CDOF_EEXIST:
        return "already exists";
    case CDOF_EFULL:
        return "queue or buffer is full";
    case CDOF_ELOCKED:
        return "data directory is in use by another process";
    default:
        break;
    }
    if (err < 0 && err > CDOF_EBASE)
        return strerror(-err);
    return "unknown error";
}

int cdof_vreason_at(int code, char *err, size_t errlen, const char *file, unsigned long line,
                    const char *field, const char *fmt, va_list ap)
{
    if (!err || errlen == 0)
        return code;
    size_t n = 0;
    int w = 0;
    if (file && line)
        w = snprintf(err, errlen, "%s:%lu: ", file, line);
    else if (file)
        w = snprintf(err, errlen, "%s: ", file);
    if (w > 0)
        n += (size_t)w;
    if (field && n < errlen && (w = snprintf(err + n, errlen - n, "field '%s': ", field)) > 0)
        n += (size_t)w;
    if (n < errlen) /* else snprintf has cut the message short and terminated it */
        vsnprintf(err + n, errlen - n, fmt, ap);
    return code;
}

int cdof_reason_at(int code, char *err, size_t errlen, const char *file, unsigned long line,
                   const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cdof_vreason_at(code, err, errlen, file, line, field, fmt, ap);
    va_end(ap);
    return code;
}

int cdof_reason(int code, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cdof_vreason_at(code, err, errlen, NULL, 0, NULL, fmt, ap);
    va_end(ap);
    return code;
}
