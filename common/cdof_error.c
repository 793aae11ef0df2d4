#include "cdof_error.h"

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
