/* Error codes shared by every cdof module.
 *
 * Functions that can fail return int: 0 on success, a negative errno value (-ENOMEM, -EINVAL,
 * -EIO, ...) or one of the project codes below. cdof_strerror() names both kinds. */
#ifndef CDOF_ERROR_H
#define CDOF_ERROR_H

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

#endif
