/* The LMDB store: one environment per data directory, named databases of ordered binary keys,
 * read and write transactions. Knows nothing of ZeroMQ or of protobuf. Only this module includes
 * lmdb.h.
 *
 * Threading: a store may be shared by threads; a transaction belongs to the thread that began it.
 * One write transaction at a time per environment (LMDB serialises writers). Readers in other
 * processes (cdof-agent status) see the last committed state. */
#ifndef CDOF_STORE_H
#define CDOF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cdof_store cdof_store_t;
typedef struct cdof_store_txn cdof_store_txn_t;
typedef unsigned cdof_store_db_t; /* a named database handle, valid for the store's life */

typedef struct {
    const char *schema;      /* "hub" or "outbox": recorded when created, checked at open */
    uint32_t schema_version; /* likewise: an older store is refused with CDOF_EVERSION */
    size_t map_size;         /* initial map size in bytes (default 64 MiB) */
    size_t max_map_size;     /* the map doubles on MDB_MAP_FULL up to this (default 64 GiB) */
    unsigned max_dbs;        /* named databases (default 32) */
    bool read_only;          /* open for reading only, e.g. `status` while the daemon runs */
    bool no_sync;            /* skip fsync: benchmarks and tests that say so only */
} cdof_store_opts_t;

typedef struct {
    const void *data; /* owned by the store: valid until the transaction ends */
    size_t len;
} cdof_bytes_t;

/* Opens (creating when absent, unless read_only) the environment in directory dir, which must
 * exist. Returns 0 and *out (owned by the caller: cdof_store_close), or a negative code with a
 * reason naming the directory in err (CDOF_EVERSION for a schema mismatch). */
int cdof_store_open(const char *dir, const cdof_store_opts_t *opts, cdof_store_t **out, char *err,
                    size_t errlen);

/* Closes the store; no transaction may be open. Accepts NULL and NULLs *store. */
void cdof_store_close(cdof_store_t **store);

/* Opens or creates the named database. Call before beginning transactions that use it (not while
 * a write transaction is open in this thread). Returns 0 or a negative code. */
int cdof_store_db(cdof_store_t *store, const char *name, cdof_store_db_t *out);

/* Begins a transaction. A write transaction that hits a full map grows the map on commit retry:
 * callers see CDOF_EMAPFULL only when max_map_size is reached. Returns 0 or a negative code. */
int cdof_store_begin(cdof_store_t *store, bool write, cdof_store_txn_t **out);

/* Commits (durably, unless no_sync) and frees *txn, NULLing it; on failure the transaction is
 * aborted and freed all the same. Returns 0 or a negative code. */
int cdof_store_commit(cdof_store_txn_t **txn);

/* Aborts and frees; accepts NULL. */
void cdof_store_abort(cdof_store_txn_t **txn);

/* Point operations. Keys are compared bytewise (memcmp, shorter first); at most 480 bytes. */
int cdof_store_put(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen,
                   const void *val, size_t vlen);
/* Returns 0 with *val pointing into the map, or CDOF_ENOTFOUND. */
int cdof_store_get(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen,
                   cdof_bytes_t *val);
/* Returns 0 or CDOF_ENOTFOUND. */
int cdof_store_del(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen);

/* Visits keys k with from <= k < to in order (from NULL: the first key; to NULL: to the end).
 * The visitor returns 0 to go on, a positive number to stop (scan returns 0), or a negative code
 * to stop (scan returns it). Key and value are valid only during the call. */
typedef int (*cdof_store_visit_fn)(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val);
int cdof_store_scan(cdof_store_txn_t *txn, cdof_store_db_t db, const void *from, size_t flen,
                    const void *to, size_t tlen, cdof_store_visit_fn visit, void *ctx);

/* Visits keys starting with prefix, in order. */
int cdof_store_scan_prefix(cdof_store_txn_t *txn, cdof_store_db_t db, const void *prefix,
                           size_t plen, cdof_store_visit_fn visit, void *ctx);

/* The last (greatest) key and its value, or CDOF_ENOTFOUND when the database is empty. */
int cdof_store_last(cdof_store_txn_t *txn, cdof_store_db_t db, cdof_bytes_t *key,
                    cdof_bytes_t *val);

/* Number of entries in the database. */
int cdof_store_count(cdof_store_txn_t *txn, cdof_store_db_t db, uint64_t *out);

/* Compacting copy of the whole environment into directory dest (which must exist and be empty),
 * consistent as of one moment, while other threads and processes keep writing. */
int cdof_store_backup(cdof_store_t *store, const char *dest, char *err, size_t errlen);

/* Big-endian encoders for building ordered keys. */
void cdof_store_be16(uint8_t *p, uint16_t v);
void cdof_store_be32(uint8_t *p, uint32_t v);
void cdof_store_be64(uint8_t *p, uint64_t v);
uint16_t cdof_store_rd16(const uint8_t *p);
uint32_t cdof_store_rd32(const uint8_t *p);
uint64_t cdof_store_rd64(const uint8_t *p);

#endif
