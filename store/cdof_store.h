/* The LMDB store: one environment per data directory, named databases of ordered binary keys,
 * read and write transactions. Knows nothing of ZeroMQ or of protobuf. Only this module includes
 * lmdb.h.
 *
 * Threading: a store may be shared by threads; a transaction belongs to the thread that began it
 * and must end on that thread. One write transaction at a time per environment (LMDB serialises
 * writers); a thread that already holds a write transaction and begins another gets -EDEADLK
 * instead of hanging. Several read transactions may be open at once, in any threads.
 *
 * Processes: a writable open takes an exclusive flock on DIR/cdof.lock, so a second writer
 * process is refused with CDOF_ELOCKED. Read-only opens take no lock and see the last committed
 * state while another process writes (cdof-agent status, cdof-hub backup). Do not open the same
 * directory twice in one process (LMDB's POSIX locks are per process).
 *
 * Map growth: the map starts at map_size and doubles up to max_map_size. Growth happens when a
 * write transaction begins and finds the map more than 80% used, or with less free room than
 * twice the largest transaction committed so far, or after a transaction hit a full map.
 * LMDB cannot grow the map inside a transaction, so a put (or commit) that finds the map full
 * returns CDOF_EMAPFULL and poisons the transaction: every later call on it returns
 * CDOF_EMAPFULL and commit aborts it. Abort and run the transaction again: it will begin on a
 * larger map, unless max_map_size is reached (cdof_store_map_info tells) or read transactions
 * held the map for over a second (growth waits for them to end, as remapping would pull the map
 * from under them). In practice callers see CDOF_EMAPFULL only for a transaction larger than the
 * free fifth of the map, or at max_map_size. */
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
    /* Versions from this up to schema_version are opened too (0: schema_version only), so that
     * the owner can upgrade them: see cdof_store_schema_version and cdof_store_set_version. */
    uint32_t min_schema_version;
    size_t map_size;     /* initial map size in bytes (default 64 MiB) */
    size_t max_map_size; /* the map doubles as it fills, up to this (default 64 GiB) */
    unsigned max_dbs;    /* named databases (default 32) */
    bool read_only;      /* open for reading only, e.g. `status` while the daemon runs */
    bool no_sync;        /* skip fsync: benchmarks and tests that say so only */
    bool identity;       /* keep DIR/store.id and refuse a store that is not the one it names */
} cdof_store_opts_t;

typedef struct {
    const void *data; /* owned by the store: valid until the transaction ends */
    size_t len;
} cdof_bytes_t;

/* Opens (creating when absent, unless read_only) the environment in directory dir, which must
 * exist. A new environment records opts->schema and schema_version in its "meta" database; an
 * existing one must match both. Returns 0 and *out (owned by the caller: cdof_store_close), or a
 * negative code with a reason naming the directory in err: CDOF_EVERSION for a schema mismatch
 * ("store in DIR is schema 'outbox' version 1, expected 'hub' version 2"), CDOF_ELOCKED when
 * another process has it open for writing, -ENOENT for a read-only open of a missing store. */
int cdof_store_open(const char *dir, const cdof_store_opts_t *opts, cdof_store_t **out, char *err,
                    size_t errlen);

/* The schema version the store had when opened (or last set with cdof_store_set_version). */
uint32_t cdof_store_schema_version(const cdof_store_t *store);

/* Records version as the store's schema version in write transaction txn, for an owner that has
 * upgraded an older layout in the same transaction (durable with its commit; later opens check it
 * as usual). cdof_store_schema_version reports it from this call on: if the transaction is then
 * aborted, close the store. Returns 0, -EINVAL, or a put's codes. */
int cdof_store_set_version(cdof_store_txn_t *txn, uint32_t version);

/* Closes the store; no transaction may be open. Accepts NULL and NULLs *store. */
void cdof_store_close(cdof_store_t **store);

/* Opens or creates the named database (a read-only store only opens: CDOF_ENOTFOUND when it does
 * not exist). Handles are cached by name. Call before beginning transactions that use it; a new
 * name while this thread holds a write transaction gives -EDEADLK. Returns 0 or a negative code
 * (-ENOSPC when max_dbs are open). */
int cdof_store_db(cdof_store_t *store, const char *name, cdof_store_db_t *out);

/* Begins a transaction (*out owned by the caller: end it with cdof_store_commit or
 * cdof_store_abort on the same thread). A write transaction may first grow the map (see "Map
 * growth" above). Returns 0, -EROFS (write on a read-only store), -EDEADLK (this thread already
 * holds the write transaction) or a negative code. */
int cdof_store_begin(cdof_store_t *store, bool write, cdof_store_txn_t **out);

/* Commits (durably, unless no_sync) and frees *txn, NULLing it; on failure the transaction is
 * aborted and freed all the same. Returns 0 or a negative code. */
int cdof_store_commit(cdof_store_txn_t **txn);

/* Aborts and frees; accepts NULL. */
void cdof_store_abort(cdof_store_txn_t **txn);

/* Point operations. Keys are compared bytewise (memcmp, shorter first); 1 to 480 bytes, else
 * -EINVAL. put and del need a write transaction (-EACCES otherwise). A put or del failure other
 * than -EINVAL/-EACCES/CDOF_ENOTFOUND poisons the transaction (see above). Values returned by
 * get, first, last and cursors are owned by the store and valid until the transaction ends or, in a
 * write transaction, until the next put or del. */
int cdof_store_put(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen,
                   const void *val, size_t vlen);
/* Puts val under key; when the key held a value, first copies it into old (oldcap bytes) and
 * sets *oldlen: one search where a get and a put make two. Returns 1 (replaced), 0 (the key was
 * new), -ENOBUFS with nothing written when the old value is longer than oldcap, or a failure as
 * put's. */
int cdof_store_swap(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen,
                    const void *val, size_t vlen, void *old, size_t oldcap, size_t *oldlen);
/* Returns 0 with *val pointing into the map, or CDOF_ENOTFOUND. */
int cdof_store_get(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen,
                   cdof_bytes_t *val);
/* Returns 0 or CDOF_ENOTFOUND. */
int cdof_store_del(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen);

/* Cursors, in LMDB's shape: open one on a transaction and a database, seek, step, read, close.
 *
 *   cdof_store_cursor_t *c;
 *   cdof_bytes_t k, v;
 *   int rc = cdof_store_cursor_open(txn, db, &c);
 *   for (rc = rc < 0 ? rc : cdof_store_cursor_prefix(c, p, plen, &k, &v); rc > 0;
 *        rc = cdof_store_cursor_next(c, &k, &v))
 *       ... use k and v ...
 *   cdof_store_cursor_close(&c);
 *   if (rc < 0) ... failed (rc is 0 once the keys ran out) ...
 *
 * Moves return 1 with *key and *val set (either may be NULL when not wanted), 0 when there is no
 * such key (the database or the range is exhausted: the cursor is then on nothing), or a
 * negative code. Key and value point into the map, owned by the store: valid until the
 * transaction ends or, in a write transaction, until the next put, swap or del (the cursor's
 * own included); copy what must live longer. In a write transaction the caller may put and
 * delete in the same database between moves: next carries on after the last key returned (the
 * cursor keeps a copy of that key). A cursor belongs to its transaction's thread;
 * close it before or after the transaction ends (its LMDB cursor is released with the
 * transaction either way). */
typedef struct cdof_store_cursor cdof_store_cursor_t;

/* Opens a cursor on db in txn, on no key yet. *out owned by the caller: cdof_store_cursor_close.
 * Returns 0, -EINVAL, -ENOMEM, the transaction's poisoning code or an LMDB failure. */
int cdof_store_cursor_open(cdof_store_txn_t *txn, cdof_store_db_t db, cdof_store_cursor_t **out);

/* Moves to the first key >= key (key NULL, klen 0: the first key of the database), with no upper
 * bound: later moves run to the end of the database. */
int cdof_store_cursor_seek(cdof_store_cursor_t *cur, const void *key, size_t klen, cdof_bytes_t *k,
                           cdof_bytes_t *v);

/* Moves to the first key k with from <= k < to (from NULL: the first key; to NULL: no bound) and
 * keeps the cursor below to: next returns 0 at the first key >= to. */
int cdof_store_cursor_range(cdof_store_cursor_t *cur, const void *from, size_t flen, const void *to,
                            size_t tlen, cdof_bytes_t *k, cdof_bytes_t *v);

/* Moves to the first key starting with prefix and keeps the cursor within the prefix: next
 * returns 0 at the first key without it. plen 0: the whole database. */
int cdof_store_cursor_prefix(cdof_store_cursor_t *cur, const void *prefix, size_t plen,
                             cdof_bytes_t *k, cdof_bytes_t *v);

/* Moves to the key after the current one, within the bound. 0 once past it, or when the cursor
 * is on nothing. */
int cdof_store_cursor_next(cdof_store_cursor_t *cur, cdof_bytes_t *k, cdof_bytes_t *v);

/* The key the cursor is on and its value now (a write since the move shows): 1, or 0 when the
 * cursor is on nothing or its key was deleted. */
int cdof_store_cursor_current(cdof_store_cursor_t *cur, cdof_bytes_t *k, cdof_bytes_t *v);

/* Deletes the key the cursor is on (write transaction: -EACCES otherwise); next then moves to
 * the key after it. Returns 0, CDOF_ENOTFOUND when on nothing, or a failure as del's. */
int cdof_store_cursor_del(cdof_store_cursor_t *cur);

/* Releases the cursor; accepts NULL and NULLs *cur. */
void cdof_store_cursor_close(cdof_store_cursor_t **cur);

/* Whether key starts with the plen bytes of prefix. */
bool cdof_store_has_prefix(const cdof_bytes_t *key, const void *prefix, size_t plen);

/* The first key >= from (from NULL, flen 0: the first of the database) and its value, or
 * CDOF_ENOTFOUND when there is none: a one-move cursor. */
int cdof_store_first(cdof_store_txn_t *txn, cdof_store_db_t db, const void *from, size_t flen,
                     cdof_bytes_t *key, cdof_bytes_t *val);

/* The last (greatest) key and its value, or CDOF_ENOTFOUND when the database is empty. */
int cdof_store_last(cdof_store_txn_t *txn, cdof_store_db_t db, cdof_bytes_t *key,
                    cdof_bytes_t *val);

/* Number of entries in the database. */
int cdof_store_count(cdof_store_txn_t *txn, cdof_store_db_t db, uint64_t *out);

/* Compacting copy of the whole environment into directory dest (which must exist and hold no
 * store, else -ENOTEMPTY), consistent as of one moment, while other threads and processes keep
 * writing. Works on a read-only store, so a separate process can back up a running daemon's
 * store. The copy is written to dest/.data.mdb.partial, synced, checked as cdof_store_check does,
 * and only then renamed to dest/data.mdb (and the directory synced): a backup killed on the way
 * leaves no data.mdb, only the partial file, which the next backup into dest removes. The copy
 * opens with cdof_store_open like the original. Returns 0 or a negative code with a reason. */
int cdof_store_backup(cdof_store_t *store, const char *dest, char *err, size_t errlen);

/* The store's identity: 32 lowercase hex digits made when it was created, kept in the store and
 * in its backups. "" for a read-only open of a store made before stores had one. Owned by the
 * store. The store keeps it in its own "meta" database, with the schema: callers keep their
 * own keys in databases of their own. */
const char *cdof_store_id(const cdof_store_t *store);

/* Frees the reader slots of processes that died holding a read transaction (a killed backup,
 * `cdof-agent status` under the OOM killer): until freed, no page released after such a reader
 * began is reused, and the file grows with every commit. Open does it once; a long-running writer
 * calls this periodically. Returns the number of slots cleared (0 or more) or a negative code. */
int cdof_store_reader_check(cdof_store_t *store);

/* True when the filesystem holding the store has less room than a commit may need: a commit that
 * fails then fails with -ENOSPC. A commit that wrote nothing succeeds even so, which is why a
 * caller waiting for room asks this rather than trusting one success. */
bool cdof_store_disk_full(cdof_store_t *store);

typedef struct {
    uint64_t txn;       /* the last committed transaction */
    uint64_t entries;   /* records read in every named database */
    unsigned dbs;       /* named databases */
    uint64_t file_size; /* bytes in data.mdb */
    uint64_t used;      /* bytes the last commit needs of it */
    char store_id[33];  /* the identity recorded in the store, "" when it has none */
} cdof_store_check_t;

/* Checks the store (or backup) in directory dir without writing anything there, not even a lock
 * file: data.mdb present and longer than the two meta pages, the last commit's pages all within
 * the file, and every record of every named database readable, with as many as the database
 * says it holds. Safe on a running daemon's store. Returns 0 and fills *out, or CDOF_ECORRUPT
 * (damaged: restore a backup), -ENOENT (no store) or another negative code, with a reason in
 * err. */
int cdof_store_check(const char *dir, cdof_store_check_t *out, char *err, size_t errlen);

/* The identity file beside a store, DIR/store.id: its store id and the last transaction seen.
 * A writable open with opts->identity set checks it before anything else: a store that is empty
 * or missing where the file says one existed, or one with another id, is refused (CDOF_ECORRUPT
 * with a reason saying what to do); one older than the file says (restored from a backup) is
 * accepted with a warning. The file is written at open and by cdof_store_identity_save. */
int cdof_store_identity_save(cdof_store_t *store);

typedef struct {
    size_t map_size;     /* current map size in bytes */
    size_t used;         /* bytes up to the last used page of the last commit */
    size_t max_map_size; /* the limit growth stops at */
    size_t in_use;       /* bytes of the pages the databases hold now (used less free pages) */
} cdof_store_map_info_t;

/* Fills *out from the last committed state. Returns 0 or -EINVAL. */
int cdof_store_map_info(cdof_store_t *store, cdof_store_map_info_t *out);

/* Big-endian encoders for building ordered keys. */
void cdof_store_be16(uint8_t *p, uint16_t v);
void cdof_store_be32(uint8_t *p, uint32_t v);
void cdof_store_be64(uint8_t *p, uint64_t v);
uint16_t cdof_store_rd16(const uint8_t *p);
uint32_t cdof_store_rd32(const uint8_t *p);
uint64_t cdof_store_rd64(const uint8_t *p);

/* A day number (days since 1970-01-01, negative before) as 4 big-endian bytes with the sign bit
 * flipped, so that keys holding days sort by day; and back. */
void cdof_store_be_day(uint8_t *p, int32_t day);
int32_t cdof_store_rd_day(const uint8_t *p);

#endif
