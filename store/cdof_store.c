/* The LMDB store. See cdof_store.h for the contract; the notes here say how it is kept. */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np: a remap must not starve behind readers */

#include "cdof_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cdof_error.h"
#include "cdof_log.h"

#define CDOF_STORE_KEY_MAX       480
#define CDOF_STORE_LMDB_KEY_MAX  511 /* LMDB's compiled-in limit, for keys other tools wrote */
#define CDOF_STORE_META_DB       "meta"
#define CDOF_STORE_LOCK_FILE     "cdof.lock"
#define CDOF_STORE_FILE_MODE     0640
#define CDOF_STORE_REMAP_WAIT_MS 1000 /* how long a remap waits for read transactions to end */
#define CDOF_STORE_RESIZED_TRIES 4
#define CDOF_STORE_SCHEMA_MAX    64
#define CDOF_STORE_DATA_FILE     "data.mdb"
#define CDOF_STORE_ID_FILE       "store.id"
#define CDOF_STORE_FULL_SLACK                                                                      \
    ((size_t)1 << 20) /* below this free, a failed write is a full disk                            \
                       */
#define CDOF_STORE_ID_KEY    "store_id"
#define CDOF_STORE_ID_LEN    32 /* hex digits of 16 random bytes */
#define CDOF_STORE_PARTIAL   ".data.mdb.partial"
#define CDOF_STORE_CHECK_DBS 256
#define CDOF_STORE_MAIN_DBI  1 /* LMDB's main database: named databases are keys in it */

typedef struct {
    char *name;
    MDB_dbi dbi;
} cdof_store_name_t;

struct cdof_store {
    MDB_env *env;
    char *dir;
    int lock_fd;
    bool read_only;
    bool identity;    /* keeps DIR/store.id ... */
    bool identity_ok; /* ... and it has been checked: only then is it written */
    char id[CDOF_STORE_ID_LEN + 1];
    int broken; /* the map was lost (a failed remap): every transaction fails */
    size_t max_map_size;
    size_t psize;
    MDB_dbi meta;
    uint32_t schema_version; /* as found at open, or set by cdof_store_set_version */
    /* Every transaction holds map_lock shared; changing the map size holds it exclusively, as
     * LMDB leaves it to us to make sure no transaction of this process is open then. */
    pthread_rwlock_t map_lock;
    pthread_mutex_t dbi_mu; /* mdb_dbi_open must not run concurrently */
    pthread_mutex_t mu;     /* guards the fields below */
    bool need_grow;         /* a transaction found the map full */
    size_t max_txn_growth;  /* bytes the largest commit so far added */
    bool writing;           /* a write transaction is open, in thread writer */
    pthread_t writer;
    cdof_store_name_t *names;
    unsigned n_names, cap_names;
};

struct cdof_store_txn {
    cdof_store_t *store;
    MDB_txn *txn;
    bool write;
    int failed; /* the code that poisoned this write transaction, or 0 */
    size_t used_at_begin;
    struct cdof_store_cursor *cursors; /* open cursors: released when the transaction ends */
};

/* A cursor remembers the key it returned (write transactions: the caller may write between moves,
 * so each move finds its place again from that copy) and an exclusive upper bound. */
struct cdof_store_cursor {
    cdof_store_txn_t *txn; /* NULL once the transaction has ended */
    MDB_cursor *cur;
    struct cdof_store_cursor *prev, *next; /* in txn->cursors */
    bool on;                               /* on a key: saved holds it */
    bool bounded;
    size_t slen, ulen;
    uint8_t saved[CDOF_STORE_LMDB_KEY_MAX + 1]; /* write transactions only */
    uint8_t upper[CDOF_STORE_LMDB_KEY_MAX + 1];
};

/* Transactions this thread holds on any store: such a thread must not wait for a remap. */
static _Thread_local unsigned cdof_store_tls_txns;

/* LMDB codes to ours: errno values come back negated, LMDB's own block maps to CDOF_ codes. */
static int cdof_store_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return CDOF_ENOTFOUND;
    case MDB_KEYEXIST:
        return CDOF_EEXIST;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return CDOF_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return CDOF_EVERSION;
    case MDB_MAP_FULL:
        return CDOF_EMAPFULL;
    case MDB_DBS_FULL:
        return -ENOSPC;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:
        return -EAGAIN;
    case MDB_TXN_FULL:
        return -E2BIG;
    case MDB_BAD_VALSIZE:
    case MDB_BAD_TXN:
    case MDB_BAD_DBI:
    case MDB_BAD_RSLOT:
    case MDB_INCOMPATIBLE:
        return -EINVAL;
    default:
        break;
    }
    if (rc > 0)
        return -rc;
    return -EIO; /* MDB_PANIC and the rest: the environment is unusable */
}

static int cdof_store_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;

    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static bool cdof_store_key_ok(const void *key, size_t klen)
{
    return key && klen > 0 && klen <= CDOF_STORE_KEY_MAX;
}

static void cdof_store_usage(cdof_store_t *s, size_t *map, size_t *used)
{
    MDB_envinfo info;

    mdb_env_info(s->env, &info);
    *map = info.me_mapsize;
    *used = ((size_t)info.me_last_pgno + 1) * s->psize;
}

/* Takes map_lock exclusively, never waiting when this thread holds a transaction (it would wait
 * for itself) and otherwise not for long. */
static int cdof_store_lock_remap(cdof_store_t *s)
{
    struct timespec ts;
    int rc;

    if (cdof_store_tls_txns > 0)
        return -pthread_rwlock_trywrlock(&s->map_lock);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += CDOF_STORE_REMAP_WAIT_MS / 1000;
    ts.tv_nsec += (long)(CDOF_STORE_REMAP_WAIT_MS % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    rc = pthread_rwlock_timedwrlock(&s->map_lock, &ts);
    return -rc;
}

static int cdof_store_probe_map(cdof_store_t *s, size_t size)
{
    int fd = -1;
    if (mdb_env_get_fd(s->env, &fd) != 0)
        return EBADF;
    void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return errno;
    munmap(p, size);
    return 0;
}

static void cdof_store_maybe_grow(cdof_store_t *s)
{
    size_t map, used, free_bytes, slack, target;
    bool need;
    int rc;

    cdof_store_usage(s, &map, &used);
    pthread_mutex_lock(&s->mu);
    need = s->need_grow;
    slack = 2 * s->max_txn_growth;
    pthread_mutex_unlock(&s->mu);

    free_bytes = map > used ? map - used : 0;
    if (!need && free_bytes >= map / 5 && free_bytes >= slack)
        return;
    if (map >= s->max_map_size)
        return;
    target = map;
    do {
        target = target > s->max_map_size / 2 ? s->max_map_size : target * 2;
    } while (target < s->max_map_size && (target - used < target / 5 || target - used < slack));

    /* LMDB unmaps before it maps again and keeps no map when the new one fails: probe that
     * the address space has room first, so a refused growth leaves the old map in place. */
    if ((rc = cdof_store_probe_map(s, target)) != 0) {
        cdof_log_error("store %s: cannot grow map to %zu bytes: %s (writes fail with \"map "
                       "full\" until the hub gets more address space or memory)",
                       s->dir, target, strerror(rc));
        return;
    }
    rc = cdof_store_lock_remap(s);
    if (rc) {
        cdof_log_debug("store %s: map growth deferred, transactions are open", s->dir);
        return;
    }
    rc = mdb_env_set_mapsize(s->env, target);
    if (rc && mdb_env_set_mapsize(s->env, map) != 0)
        s->broken = -EIO;
    pthread_rwlock_unlock(&s->map_lock);
    if (rc) {
        cdof_log_error("store %s: cannot grow map to %zu bytes: %s%s", s->dir, target,
                       mdb_strerror(rc),
                       s->broken ? " (the store is unusable until the process restarts)" : "");
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->need_grow = false;
    pthread_mutex_unlock(&s->mu);
    cdof_log_info("store %s: map grown from %zu to %zu KiB", s->dir, map / 1024, target / 1024);
}

/* Another process grew the map past ours: adopt the size it recorded. */
static void cdof_store_adopt_map(cdof_store_t *s)
{
    int rc = cdof_store_lock_remap(s);

    if (rc)
        return;
    rc = mdb_env_set_mapsize(s->env, 0);
    pthread_rwlock_unlock(&s->map_lock);
    if (rc)
        cdof_log_warn("store %s: cannot follow map resize: %s", s->dir, mdb_strerror(rc));
}

static bool cdof_store_self_writing(cdof_store_t *s)
{
    bool self;

    pthread_mutex_lock(&s->mu);
    self = s->writing && pthread_equal(s->writer, pthread_self());
    pthread_mutex_unlock(&s->mu);
    return self;
}

/* Begins an LMDB transaction with map_lock held shared (kept until cdof_store_txn_release). */
static int cdof_store_mdb_begin(cdof_store_t *s, bool write, MDB_txn **out)
{
    int rc = 0;

    if (s->broken) {
        *out = NULL;
        return s->broken;
    }
    for (int tries = 0; tries < CDOF_STORE_RESIZED_TRIES; tries++) {
        pthread_rwlock_rdlock(&s->map_lock);
        rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, out);
        if (rc == 0) {
            cdof_store_tls_txns++;
            if (write) {
                pthread_mutex_lock(&s->mu);
                s->writing = true;
                s->writer = pthread_self();
                pthread_mutex_unlock(&s->mu);
            }
            return 0;
        }
        pthread_rwlock_unlock(&s->map_lock);
        if (rc == MDB_PANIC) {
            /* LMDB could not write a meta page: it refuses every transaction until the
             * environment is opened again, which only a new process does. */
            cdof_log_error("store %s: LMDB reports a fatal error (%s): the store is unusable "
                           "until the process restarts",
                           s->dir, mdb_strerror(rc));
            s->broken = -EIO;
            break;
        }
        if (rc != MDB_MAP_RESIZED)
            break;
        cdof_store_adopt_map(s);
    }
    *out = NULL;
    return cdof_store_err(rc);
}

static void cdof_store_mdb_release(cdof_store_t *s, bool write)
{
    if (write) {
        pthread_mutex_lock(&s->mu);
        s->writing = false;
        pthread_mutex_unlock(&s->mu);
    }
    cdof_store_tls_txns--;
    pthread_rwlock_unlock(&s->map_lock);
}

static int cdof_store_lock_dir(cdof_store_t *s, char *err, size_t errlen)
{
    char path[4096], pidbuf[32];
    int n, rc;
    ssize_t got;

    n = snprintf(path, sizeof path, "%s/%s", s->dir, CDOF_STORE_LOCK_FILE);
    if (n < 0 || (size_t)n >= sizeof path) {
        cdof_reason(0, err, errlen, "data directory path %s is too long", s->dir);
        return -ENAMETOOLONG;
    }
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, CDOF_STORE_FILE_MODE);
    if (s->lock_fd < 0) {
        rc = -errno;
        cdof_reason(0, err, errlen, "cannot open lock file %s: %s", path, strerror(-rc));
        return rc;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno;
        if (rc != EWOULDBLOCK) {
            cdof_reason(0, err, errlen, "cannot lock %s: %s", path, strerror(rc));
            return -rc;
        }
        got = pread(s->lock_fd, pidbuf, sizeof pidbuf - 1, 0);
        pidbuf[got > 0 ? got : 0] = '\0';
        pidbuf[strcspn(pidbuf, "\n")] = '\0';
        cdof_reason(0, err, errlen,
                    "data directory %s is in use by another process (pid %s holds %s)", s->dir,
                    pidbuf[0] ? pidbuf : "unknown", path);
        return CDOF_ELOCKED;
    }
    /* The holder's pid, for the refusal message of the next one. */
    n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pidbuf, (size_t)n, 0) != n)
        cdof_log_debug("store %s: cannot record pid in %s", s->dir, path);
    return 0;
}

static int cdof_store_check_schema(cdof_store_t *s, const cdof_store_opts_t *opts, char *err,
                                   size_t errlen)
{
    MDB_txn *txn = NULL;
    MDB_dbi main_dbi;
    MDB_stat st;
    MDB_val k, v, vv;
    uint8_t ver[4];
    uint32_t have_ver;
    int rc;

    rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc)
        goto lmdb_fail;
    rc = mdb_dbi_open(txn, CDOF_STORE_META_DB, 0, &s->meta);
    if (rc == MDB_NOTFOUND) {
        if (s->read_only) {
            cdof_reason(0, err, errlen, "store in %s has no schema record (never opened?)", s->dir);
            rc = CDOF_EVERSION;
            goto fail;
        }
        /* A fresh environment gets our schema; one holding data without it is not ours. */
        if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0 ||
            (rc = mdb_stat(txn, main_dbi, &st)) != 0)
            goto lmdb_fail;
        if (st.ms_entries != 0) {
            cdof_reason(0, err, errlen,
                        "store in %s holds data but no schema record, "
                        "expected '%s' version %u",
                        s->dir, opts->schema, (unsigned)opts->schema_version);
            rc = CDOF_EVERSION;
            goto fail;
        }
        if ((rc = mdb_dbi_open(txn, CDOF_STORE_META_DB, MDB_CREATE, &s->meta)) != 0)
            goto lmdb_fail;
        k = (MDB_val){strlen("schema"), "schema"};
        v = (MDB_val){strlen(opts->schema), (void *)opts->schema};
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
            goto lmdb_fail;
        cdof_store_be32(ver, opts->schema_version);
        k = (MDB_val){strlen("schema_version"), "schema_version"};
        v = (MDB_val){sizeof ver, ver};
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
            goto lmdb_fail;
        rc = mdb_txn_commit(txn);
        txn = NULL;
        if (rc)
            goto lmdb_fail;
        s->schema_version = opts->schema_version;
        return 0;
    }
    if (rc)
        goto lmdb_fail;

    k = (MDB_val){strlen("schema"), "schema"};
    if ((rc = mdb_get(txn, s->meta, &k, &v)) != 0)
        goto lmdb_fail;
    if (v.mv_size > CDOF_STORE_SCHEMA_MAX) {
        cdof_reason(0, err, errlen, "store in %s: schema name is %zu bytes", s->dir, v.mv_size);
        rc = CDOF_ECORRUPT;
        goto fail;
    }
    k = (MDB_val){strlen("schema_version"), "schema_version"};
    if ((rc = mdb_get(txn, s->meta, &k, &vv)) != 0)
        goto lmdb_fail;
    if (vv.mv_size != 4) {
        cdof_reason(0, err, errlen, "store in %s: schema version is %zu bytes", s->dir, vv.mv_size);
        rc = CDOF_ECORRUPT;
        goto fail;
    }
    have_ver = cdof_store_rd32(vv.mv_data);
    uint32_t min_ver = opts->min_schema_version ? opts->min_schema_version : opts->schema_version;
    if (cdof_store_keycmp(v.mv_data, v.mv_size, opts->schema, strlen(opts->schema)) != 0 ||
        have_ver < min_ver || have_ver > opts->schema_version) {
        cdof_reason(0, err, errlen,
                    "store in %s is schema '%.*s' version %u, expected '%s' "
                    "version %u",
                    s->dir, (int)v.mv_size, (const char *)v.mv_data, (unsigned)have_ver,
                    opts->schema, (unsigned)opts->schema_version);
        rc = CDOF_EVERSION;
        goto fail;
    }
    s->schema_version = have_ver;
    /* Committing (even a read transaction) publishes the meta handle to later transactions. */
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        goto lmdb_fail;
    return 0;

lmdb_fail:
    cdof_reason(0, err, errlen, "store in %s: cannot read schema: %s", s->dir, mdb_strerror(rc));
    rc = cdof_store_err(rc);
fail:
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

/* --- integrity: the file against its meta pages, the store's identity ------------------------ */

/* Refuses a data file LMDB would fault on: present but too short for its two meta pages, or
 * shorter than the pages its last commit uses. Meta pages are read with pread by LMDB, but every
 * other page through the map, where a page past the end of the file is SIGBUS. */
static int cdof_store_check_size(MDB_env *env, const char *what, uint64_t file_size, uint64_t *used,
                                 char *err, size_t errlen)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(env, &info);
    if (rc == 0)
        rc = mdb_env_stat(env, &st);
    if (rc) {
        cdof_reason(0, err, errlen, "%s: cannot read its meta pages: %s", what, mdb_strerror(rc));
        return CDOF_ECORRUPT;
    }
    *used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if (*used > file_size) {
        cdof_reason(0, err, errlen,
                    "%s is truncated: its last commit (transaction %zu) needs %llu bytes, "
                    "the file has %llu",
                    what, (size_t)info.me_last_txnid, (unsigned long long)*used,
                    (unsigned long long)file_size);
        return CDOF_ECORRUPT;
    }
    return 0;
}

/* A data file that cannot hold a store: empty (0 bytes) or shorter than two meta pages. */
static int cdof_store_check_short(const char *what, uint64_t size, char *err, size_t errlen)
{
    long page = sysconf(_SC_PAGESIZE);
    if (size >= 2 * (uint64_t)(page > 0 ? page : 4096))
        return 0;
    cdof_reason(0, err, errlen, "%s is %s (%llu bytes): it holds no store", what,
                size == 0 ? "empty" : "truncated", (unsigned long long)size);
    return CDOF_ECORRUPT;
}

static void cdof_store_new_id(char *out)
{
    uint8_t raw[CDOF_STORE_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n <= 0) {
            /* Uniqueness, not secrecy, is what the id needs: time and pid will do. */
            uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
            for (size_t i = got; i < sizeof raw; i++)
                raw[i] = (uint8_t)(t >> (8 * (i % 8)));
            break;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Reads the store's id from the meta database into s->id, giving a writable store without one
 * a new id. */
static int cdof_store_load_id(cdof_store_t *s)
{
    MDB_txn *txn = NULL;
    MDB_val k = {strlen(CDOF_STORE_ID_KEY), CDOF_STORE_ID_KEY}, v;
    int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc)
        return cdof_store_err(rc);
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == CDOF_STORE_ID_LEN) {
        memcpy(s->id, v.mv_data, CDOF_STORE_ID_LEN);
        s->id[CDOF_STORE_ID_LEN] = '\0';
        mdb_txn_abort(txn);
        return 0;
    }
    if (s->read_only) {
        mdb_txn_abort(txn);
        return 0;
    }
    cdof_store_new_id(s->id);
    v = (MDB_val){CDOF_STORE_ID_LEN, s->id};
    rc = mdb_put(txn, s->meta, &k, &v, 0);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    return cdof_store_err(rc);
}

typedef struct {
    char id[CDOF_STORE_ID_LEN + 1];
    uint64_t txn;
    bool present;
    bool running; /* written by a process that had not closed the store */
} cdof_store_ident_t;

/* Reads DIR/store.id ("store_id=HEX\nlast_txn=N\nrunning=0|1\n"). A file that does not parse counts
 * as absent: it is only written whole, by rename, so that means someone edited it. */
static void cdof_store_ident_read(const char *dir, cdof_store_ident_t *out)
{
    char path[4096], line[128];
    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "%s/%s", dir, CDOF_STORE_ID_FILE);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    unsigned long long txn = 0;
    bool have_id = false, have_txn = false;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "store_id=%32[0-9a-f]", out->id) == 1 &&
            strlen(out->id) == CDOF_STORE_ID_LEN)
            have_id = true;
        else if (sscanf(line, "last_txn=%llu", &txn) == 1)
            have_txn = true;
        else if (strcmp(line, "running=1\n") == 0)
            out->running = true;
    }
    fclose(f);
    out->txn = txn;
    out->present = have_id && have_txn;
    if (!out->present)
        cdof_log_warn("store %s: ignoring %s: it does not read as store_id=... last_txn=...", dir,
                      path);
}

static int cdof_store_ident_write(const char *dir, const char *id, uint64_t txn, bool running)
{
    char path[4096], tmp[4096], buf[128];
    snprintf(path, sizeof path, "%s/%s", dir, CDOF_STORE_ID_FILE);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, CDOF_STORE_ID_FILE);
    int n = snprintf(buf, sizeof buf, "store_id=%s\nlast_txn=%llu\nrunning=%d\n", id,
                     (unsigned long long)txn, running ? 1 : 0);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, CDOF_STORE_FILE_MODE);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (write(fd, buf, (size_t)n) != n || fsync(fd) != 0)
        rc = errno ? -errno : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

const char *cdof_store_id(const cdof_store_t *store)
{
    return store->id;
}

int cdof_store_identity_save(cdof_store_t *store)
{
    MDB_envinfo info;
    if (!store || store->read_only || !store->identity || !store->identity_ok)
        return -EINVAL;
    if (store->broken)
        return store->broken;
    mdb_env_info(store->env, &info);
    return cdof_store_ident_write(store->dir, store->id, (uint64_t)info.me_last_txnid, true);
}

static const char CDOF_STORE_WHAT_TO_DO[] =
    "restore the latest backup into it (deploy/OPERATIONS.md, \"Restoring\"), start the hub, "
    "and the agents resend what the backup lacks";

/* Before LMDB opens dir: a store that the identity file says existed must still be there. */
static int cdof_store_ident_before(cdof_store_t *s, const cdof_store_ident_t *id, char *err,
                                   size_t errlen)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", s->dir, CDOF_STORE_DATA_FILE);
    bool missing = stat(path, &st) != 0;
    if (!missing && st.st_size > 0)
        return 0;
    if (id->present) {
        cdof_reason(0, err, errlen,
                    "%s is %s, but %s/%s says store %s held transaction %llu there: "
                    "refusing to start an empty store in its place: %s (to start a new, "
                    "empty store on purpose, remove %s/%s)",
                    path, missing ? "missing" : "empty (0 bytes)", s->dir, CDOF_STORE_ID_FILE,
                    id->id, (unsigned long long)id->txn, CDOF_STORE_WHAT_TO_DO, s->dir,
                    CDOF_STORE_ID_FILE);
        return CDOF_ECORRUPT;
    }
    if (!missing) {
        cdof_reason(0, err, errlen,
                    "%s is empty (0 bytes): refusing to start an empty store in its place. "
                    "If a store existed here, %s; if this is a new installation, remove "
                    "the empty file",
                    path, CDOF_STORE_WHAT_TO_DO);
        return CDOF_ECORRUPT;
    }
    return 0;
}

/* After the schema check: the store must be the one the identity file names. */
static int cdof_store_ident_after(cdof_store_t *s, const cdof_store_ident_t *id, char *err,
                                  size_t errlen)
{
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    if (id->present && strcmp(id->id, s->id) != 0) {
        cdof_reason(0, err, errlen,
                    "%s holds store %s, but %s/%s says store %s was here: refusing a "
                    "store that is not the one this hub kept. Put that store (or its "
                    "latest backup) back; to adopt this one on purpose, remove %s/%s",
                    s->dir, s->id, s->dir, CDOF_STORE_ID_FILE, id->id, s->dir, CDOF_STORE_ID_FILE);
        return CDOF_ECORRUPT;
    }
    if (id->present && (uint64_t)info.me_last_txnid < id->txn)
        cdof_log_warn("store %s is at transaction %zu, older than the %llu last seen: restored "
                      "from a backup? Agents resend what it lacks from their outboxes",
                      s->dir, (size_t)info.me_last_txnid, (unsigned long long)id->txn);
    int rc = cdof_store_ident_write(s->dir, s->id, (uint64_t)info.me_last_txnid, true);
    if (rc) {
        cdof_reason(0, err, errlen, "cannot write %s/%s: %s", s->dir, CDOF_STORE_ID_FILE,
                    strerror(-rc));
        return rc;
    }
    return 0;
}

static int cdof_store_check_path(const char *path, bool subdir, cdof_store_check_t *out, char *err,
                                 size_t errlen);

/* The last process on this store did not close it (killed, crashed, power lost): every record
 * is read before it is used again, so that damage is found at start rather than by a crash in
 * the middle of serving. */
static int cdof_store_check_unclean(cdof_store_t *s, char *err, size_t errlen)
{
    char why[1024];
    cdof_store_check_t chk;
    int rc = cdof_store_check_path(s->dir, true, &chk, why, sizeof why);
    if (rc == -ENOENT)
        return 0; /* no data file: cdof_store_ident_before has judged that */
    if (rc) {
        cdof_reason(0, err, errlen,
                    "the store in %s was not closed cleanly and fails its consistency "
                    "check: %s: %s",
                    s->dir, why, CDOF_STORE_WHAT_TO_DO);
        return rc;
    }
    cdof_log_info("store %s was not closed cleanly: checked %llu records in %u databases, "
                  "transaction %llu: ok",
                  s->dir, (unsigned long long)chk.entries, chk.dbs, (unsigned long long)chk.txn);
    return 0;
}

int cdof_store_open(const char *dir, const cdof_store_opts_t *opts, cdof_store_t **out, char *err,
                    size_t errlen)
{
    cdof_store_t *s = NULL;
    cdof_store_opts_t o;
    pthread_rwlockattr_t rwa;
    struct stat st;
    MDB_stat mst;
    cdof_store_ident_t ident;
    unsigned flags;
    int rc, dead;

    if (err && errlen)
        err[0] = '\0';
    if (out)
        *out = NULL;
    if (!dir || !opts || !opts->schema || !out || strlen(opts->schema) > CDOF_STORE_SCHEMA_MAX) {
        cdof_reason(0, err, errlen, "cdof_store_open: invalid arguments");
        return -EINVAL;
    }
    o = *opts;
    if (o.map_size == 0)
        o.map_size = (size_t)64 << 20;
    if (o.max_map_size == 0)
        o.max_map_size = (size_t)64 << 30;
    if (o.max_map_size < o.map_size)
        o.max_map_size = o.map_size;
    if (o.max_dbs == 0)
        o.max_dbs = 32;

    if (stat(dir, &st) != 0) {
        rc = -errno;
        cdof_reason(0, err, errlen, "data directory %s: %s", dir, strerror(-rc));
        return rc;
    }
    if (!S_ISDIR(st.st_mode)) {
        cdof_reason(0, err, errlen, "data directory %s is not a directory", dir);
        return -ENOTDIR;
    }

    s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        cdof_reason(0, err, errlen, "store in %s: out of memory", dir);
        return -ENOMEM;
    }
    s->lock_fd = -1;
    s->read_only = o.read_only;
    s->max_map_size = o.max_map_size;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->dbi_mu, NULL);
    pthread_rwlockattr_init(&rwa);
    pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->map_lock, &rwa);
    pthread_rwlockattr_destroy(&rwa);

    if (!s->read_only && (rc = cdof_store_lock_dir(s, err, errlen)) != 0)
        goto fail;
    s->identity = o.identity && !s->read_only;
    if (s->identity) {
        cdof_store_ident_read(dir, &ident);
        if ((rc = cdof_store_ident_before(s, &ident, err, errlen)) != 0)
            goto fail;
        if (ident.running && (rc = cdof_store_check_unclean(s, err, errlen)) != 0)
            goto fail;
    }
    {
        char dpath[4096];
        snprintf(dpath, sizeof dpath, "%s/%s", dir, CDOF_STORE_DATA_FILE);
        if (stat(dpath, &st) == 0 &&
            (rc = cdof_store_check_short(dpath, (uint64_t)st.st_size, err, errlen)) != 0)
            goto fail;
    }

    if ((rc = mdb_env_create(&s->env)) != 0) {
        s->env = NULL;
        goto lmdb_fail;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, o.max_dbs + 1)) != 0)
        goto lmdb_fail;
    /* A reader takes whatever size the writer recorded (mapsize 0); LMDB rounds a writer's
     * smaller request up to the data already there. */
    if (!s->read_only && (rc = mdb_env_set_mapsize(s->env, o.map_size)) != 0)
        goto lmdb_fail;
    flags = MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0) | (o.no_sync ? MDB_NOSYNC : 0);
    rc = mdb_env_open(s->env, dir, flags, CDOF_STORE_FILE_MODE);
    if (rc == ENOENT && s->read_only) {
        cdof_reason(0, err, errlen, "no store in %s", dir);
        rc = -ENOENT;
        goto fail;
    }
    if (rc)
        goto lmdb_fail;
    {
        char dpath[4096];
        uint64_t used;
        snprintf(dpath, sizeof dpath, "%s/%s", dir, CDOF_STORE_DATA_FILE);
        if (stat(dpath, &st) == 0 &&
            (rc = cdof_store_check_size(s->env, dpath, (uint64_t)st.st_size, &used, err, errlen)) !=
                0) {
            size_t n = err ? strlen(err) : 0;
            if (err && n + 1 < errlen)
                snprintf(err + n, errlen - n, ": %s", CDOF_STORE_WHAT_TO_DO);
            goto fail;
        }
    }
    if (!s->read_only)
        mdb_reader_check(s->env, &dead); /* free slots of killed readers: they pin pages */
    if ((rc = mdb_env_stat(s->env, &mst)) != 0)
        goto lmdb_fail;
    s->psize = mst.ms_psize;

    if ((rc = cdof_store_check_schema(s, &o, err, errlen)) != 0)
        goto fail;
    if ((rc = cdof_store_load_id(s)) != 0) {
        cdof_reason(0, err, errlen, "store in %s: cannot read its id: %s", dir, cdof_strerror(rc));
        goto fail;
    }
    if (s->identity && (rc = cdof_store_ident_after(s, &ident, err, errlen)) != 0)
        goto fail;
    s->identity_ok = s->identity;
    *out = s;
    return 0;

lmdb_fail:
    cdof_reason(0, err, errlen, "cannot open store in %s: %s", dir, mdb_strerror(rc));
    rc = cdof_store_err(rc);
fail:
    cdof_store_close(&s);
    return rc;
}

void cdof_store_close(cdof_store_t **store)
{
    cdof_store_t *s;

    if (!store || !*store)
        return;
    s = *store;
    *store = NULL;
    if (s->env && s->identity_ok && !s->broken) {
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        cdof_store_ident_write(s->dir, s->id, (uint64_t)info.me_last_txnid, false);
    }
    if (s->env)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    for (unsigned i = 0; i < s->n_names; i++)
        free(s->names[i].name);
    free(s->names);
    pthread_rwlock_destroy(&s->map_lock);
    pthread_mutex_destroy(&s->dbi_mu);
    pthread_mutex_destroy(&s->mu);
    free(s->dir);
    free(s);
}

static bool cdof_store_db_cached(cdof_store_t *s, const char *name, MDB_dbi *out)
{
    bool hit = false;

    pthread_mutex_lock(&s->mu);
    for (unsigned i = 0; i < s->n_names; i++) {
        if (strcmp(s->names[i].name, name) == 0) {
            *out = s->names[i].dbi;
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return hit;
}

int cdof_store_db(cdof_store_t *store, const char *name, cdof_store_db_t *out)
{
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    char *copy = NULL;
    int rc;

    if (!store || !name || !*name || !out)
        return -EINVAL;
    if (cdof_store_db_cached(store, name, &dbi)) {
        *out = dbi;
        return 0;
    }
    /* Opening needs a transaction of our own, and the write lock this thread already holds. */
    if (cdof_store_self_writing(store))
        return -EDEADLK;

    pthread_mutex_lock(&store->dbi_mu);
    if (cdof_store_db_cached(store, name, &dbi)) {
        rc = 0;
        goto done;
    }
    if (!(copy = strdup(name))) {
        rc = -ENOMEM;
        goto done;
    }
    if (!store->read_only)
        cdof_store_maybe_grow(store);
    if ((rc = cdof_store_mdb_begin(store, !store->read_only, &txn)) != 0)
        goto done;
    rc = mdb_dbi_open(txn, name, store->read_only ? 0 : MDB_CREATE, &dbi);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc == MDB_MAP_FULL) {
        pthread_mutex_lock(&store->mu);
        store->need_grow = true;
        pthread_mutex_unlock(&store->mu);
    }
    cdof_store_mdb_release(store, !store->read_only);
    if (rc) {
        rc = cdof_store_err(rc);
        goto done;
    }

    pthread_mutex_lock(&store->mu);
    if (store->n_names == store->cap_names) {
        unsigned cap = store->cap_names ? 2 * store->cap_names : 8;
        cdof_store_name_t *grown = realloc(store->names, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&store->mu);
            rc = 0; /* the handle is valid; it is just not cached */
            goto done;
        }
        store->names = grown;
        store->cap_names = cap;
    }
    store->names[store->n_names].name = copy;
    store->names[store->n_names].dbi = dbi;
    store->n_names++;
    copy = NULL;
    pthread_mutex_unlock(&store->mu);

done:
    pthread_mutex_unlock(&store->dbi_mu);
    free(copy);
    if (rc == 0)
        *out = dbi;
    return rc;
}

int cdof_store_begin(cdof_store_t *store, bool write, cdof_store_txn_t **out)
{
    cdof_store_txn_t *t = NULL;
    size_t map;
    int rc;

    if (out)
        *out = NULL;
    if (!store || !out)
        return -EINVAL;
    if (write && store->read_only)
        return -EROFS;
    if (write && cdof_store_self_writing(store))
        return -EDEADLK;
    t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->store = store;
    t->write = write;
    if (write)
        cdof_store_maybe_grow(store);
    if ((rc = cdof_store_mdb_begin(store, write, &t->txn)) != 0)
        goto fail;
    if (write)
        cdof_store_usage(store, &map, &t->used_at_begin);
    *out = t;
    return 0;

fail:
    free(t);
    return rc;
}

/* LMDB frees a write transaction's cursors with it and wants a read transaction's closed first:
 * either way the handle must not be used afterwards. */
static void cdof_store_cursors_release(cdof_store_txn_t *t)
{
    for (struct cdof_store_cursor *c = t->cursors; c; c = c->next) {
        mdb_cursor_close(c->cur);
        c->cur = NULL;
        c->txn = NULL;
        c->on = false;
    }
    t->cursors = NULL;
}

static void cdof_store_txn_free(cdof_store_txn_t *t)
{
    cdof_store_mdb_release(t->store, t->write);
    free(t);
}

/* Records the first failure of a write transaction: LMDB refuses to commit it anyway. */
static int cdof_store_poison(cdof_store_txn_t *t, int mdb_rc)
{
    if (mdb_rc == MDB_MAP_FULL) {
        pthread_mutex_lock(&t->store->mu);
        t->store->need_grow = true;
        pthread_mutex_unlock(&t->store->mu);
    }
    if (!t->failed)
        t->failed = cdof_store_err(mdb_rc);
    return t->failed;
}

/* LMDB reports a short write as EIO, and a disk that fills during a commit writes short: a commit
 * that fails so while the filesystem has less room than a commit may need reads as "no space",
 * which tells the operator what to do. A full disk leaves LMDB's environment usable: the
 * transaction is aborted and the committed meta pages, already on disk, are not touched. */
bool cdof_store_disk_full(cdof_store_t *s)
{
    struct statvfs fs;
    size_t room;

    if (statvfs(s->dir, &fs) != 0)
        return false;
    pthread_mutex_lock(&s->mu);
    room = 2 * s->max_txn_growth + CDOF_STORE_FULL_SLACK;
    pthread_mutex_unlock(&s->mu);
    return (uint64_t)fs.f_bavail * fs.f_frsize < room;
}

int cdof_store_commit(cdof_store_txn_t **txn)
{
    cdof_store_txn_t *t;
    size_t map, used;
    int rc;

    if (!txn || !*txn)
        return -EINVAL;
    t = *txn;
    *txn = NULL;
    cdof_store_cursors_release(t);
    if (t->failed) {
        mdb_txn_abort(t->txn);
        rc = t->failed;
    } else {
        rc = mdb_txn_commit(t->txn);
        if (rc == MDB_MAP_FULL)
            cdof_store_poison(t, rc);
        if (rc == EIO && cdof_store_disk_full(t->store))
            rc = ENOSPC;
        rc = cdof_store_err(rc);
    }
    if (t->write && rc == 0) {
        cdof_store_usage(t->store, &map, &used);
        pthread_mutex_lock(&t->store->mu);
        if (used > t->used_at_begin && used - t->used_at_begin > t->store->max_txn_growth)
            t->store->max_txn_growth = used - t->used_at_begin;
        pthread_mutex_unlock(&t->store->mu);
    }
    cdof_store_txn_free(t);
    return rc;
}

void cdof_store_abort(cdof_store_txn_t **txn)
{
    if (!txn || !*txn)
        return;
    cdof_store_cursors_release(*txn);
    mdb_txn_abort((*txn)->txn);
    cdof_store_txn_free(*txn);
    *txn = NULL;
}

uint32_t cdof_store_schema_version(const cdof_store_t *store)
{
    return store->schema_version;
}

int cdof_store_set_version(cdof_store_txn_t *txn, uint32_t version)
{
    uint8_t ver[4];
    if (!txn)
        return -EINVAL;
    cdof_store_be32(ver, version);
    int rc = cdof_store_put(txn, txn->store->meta, "schema_version", strlen("schema_version"), ver,
                            sizeof ver);
    /* Seen by this handle at once: the caller commits or drops the store on failure. */
    if (rc == 0)
        txn->store->schema_version = version;
    return rc;
}

int cdof_store_put(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen,
                   const void *val, size_t vlen)
{
    static const uint8_t empty;
    MDB_val k, v;
    int rc;

    if (!txn || !cdof_store_key_ok(key, klen) || (!val && vlen))
        return -EINVAL;
    if (!txn->write)
        return -EACCES;
    if (txn->failed)
        return txn->failed;
    k = (MDB_val){klen, (void *)key};
    v = (MDB_val){vlen, (void *)(val ? val : &empty)};
    rc = mdb_put(txn->txn, db, &k, &v, 0);
    return rc ? cdof_store_poison(txn, rc) : 0;
}

int cdof_store_swap(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen,
                    const void *val, size_t vlen, void *old, size_t oldcap, size_t *oldlen)
{
    static const uint8_t empty;
    MDB_cursor *cur = NULL;
    MDB_val k, found, v, was;
    int rc, replaced = 0;

    if (!txn || !cdof_store_key_ok(key, klen) || (!val && vlen) || (!old && oldcap) || !oldlen)
        return -EINVAL;
    if (!txn->write)
        return -EACCES;
    if (txn->failed)
        return txn->failed;
    if ((rc = mdb_cursor_open(txn->txn, db, &cur)) != 0)
        return cdof_store_poison(txn, rc);
    k = (MDB_val){klen, (void *)key};
    v = (MDB_val){vlen, (void *)(val ? val : &empty)};
    found = k; /* MDB_SET_KEY points it into the page: the put needs the caller's copy */
    rc = mdb_cursor_get(cur, &found, &was, MDB_SET_KEY);
    if (rc == 0) {
        if (was.mv_size > oldcap) {
            mdb_cursor_close(cur);
            return -ENOBUFS;
        }
        memcpy(old, was.mv_data, was.mv_size);
        *oldlen = was.mv_size;
        replaced = 1;
        /* In place, without the second search a put would make. */
        rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT);
    } else if (rc == MDB_NOTFOUND) {
        rc = mdb_cursor_put(cur, &k, &v, 0);
    }
    mdb_cursor_close(cur);
    return rc ? cdof_store_poison(txn, rc) : replaced;
}

int cdof_store_get(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen,
                   cdof_bytes_t *val)
{
    MDB_val k, v;
    int rc;

    if (!txn || !cdof_store_key_ok(key, klen) || !val)
        return -EINVAL;
    if (txn->failed)
        return txn->failed;
    k = (MDB_val){klen, (void *)key};
    rc = mdb_get(txn->txn, db, &k, &v);
    if (rc)
        return cdof_store_err(rc);
    val->data = v.mv_data;
    val->len = v.mv_size;
    return 0;
}

int cdof_store_del(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen)
{
    MDB_val k;
    int rc;

    if (!txn || !cdof_store_key_ok(key, klen))
        return -EINVAL;
    if (!txn->write)
        return -EACCES;
    if (txn->failed)
        return txn->failed;
    k = (MDB_val){klen, (void *)key};
    rc = mdb_del(txn->txn, db, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return CDOF_ENOTFOUND;
    return rc ? cdof_store_poison(txn, rc) : 0;
}

int cdof_store_cursor_open(cdof_store_txn_t *txn, cdof_store_db_t db, cdof_store_cursor_t **out)
{
    cdof_store_cursor_t *c;
    int rc;

    if (out)
        *out = NULL;
    if (!txn || !out)
        return -EINVAL;
    if (txn->failed)
        return txn->failed;
    /* Not calloc: the key buffers need no zeroing, and every walk opens a cursor. */
    if (!(c = malloc(sizeof *c)))
        return -ENOMEM;
    if ((rc = mdb_cursor_open(txn->txn, db, &c->cur)) != 0) {
        free(c);
        return cdof_store_err(rc);
    }
    c->txn = txn;
    c->on = c->bounded = false;
    c->slen = c->ulen = 0;
    c->prev = NULL;
    c->next = txn->cursors;
    if (txn->cursors)
        txn->cursors->prev = c;
    txn->cursors = c;
    *out = c;
    return 0;
}

void cdof_store_cursor_close(cdof_store_cursor_t **cur)
{
    cdof_store_cursor_t *c;

    if (!cur || !*cur)
        return;
    c = *cur;
    *cur = NULL;
    if (c->txn) {
        if (c->prev)
            c->prev->next = c->next;
        else
            c->txn->cursors = c->next;
        if (c->next)
            c->next->prev = c->prev;
        mdb_cursor_close(c->cur);
    }
    free(c);
}

/* Lands the cursor on LMDB's answer rc (k, v): within the bound, remembered, handed out. */
static int cdof_store_cursor_land(cdof_store_cursor_t *c, int rc, MDB_val *k, MDB_val *v,
                                  cdof_bytes_t *kb, cdof_bytes_t *vb)
{
    c->on = false;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return cdof_store_err(rc);
    if (c->bounded && cdof_store_keycmp(k->mv_data, k->mv_size, c->upper, c->ulen) >= 0)
        return 0;
    if (c->txn->write) {
        if (k->mv_size > sizeof c->saved)
            return CDOF_ECORRUPT;
        memcpy(c->saved, k->mv_data, k->mv_size);
        c->slen = k->mv_size;
    }
    c->on = true;
    if (kb)
        *kb = (cdof_bytes_t){k->mv_data, k->mv_size};
    if (vb)
        *vb = (cdof_bytes_t){v->mv_data, v->mv_size};
    return 1;
}

static int cdof_store_cursor_usable(const cdof_store_cursor_t *c)
{
    if (!c)
        return -EINVAL;
    if (!c->txn)
        return -EBADF; /* its transaction has ended */
    return c->txn->failed;
}

/* 1 when the cursor is usable and on a key, 0 when on nothing, or a negative code. */
static int cdof_store_cursor_on(const cdof_store_cursor_t *c)
{
    int rc = cdof_store_cursor_usable(c);
    return rc ? rc : c->on;
}

int cdof_store_cursor_range(cdof_store_cursor_t *cur, const void *from, size_t flen, const void *to,
                            size_t tlen, cdof_bytes_t *k, cdof_bytes_t *v)
{
    MDB_val mk = {0}, mv = {0};
    int rc;

    if ((rc = cdof_store_cursor_usable(cur)) != 0)
        return rc;
    if ((!from && flen) || flen > CDOF_STORE_KEY_MAX || (!to && tlen) || tlen > sizeof cur->upper)
        return -EINVAL;
    cur->bounded = to != NULL;
    cur->ulen = tlen;
    if (tlen)
        memcpy(cur->upper, to, tlen);
    if (from && flen) {
        mk = (MDB_val){flen, (void *)from};
        rc = mdb_cursor_get(cur->cur, &mk, &mv, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(cur->cur, &mk, &mv, MDB_FIRST);
    }
    return cdof_store_cursor_land(cur, rc, &mk, &mv, k, v);
}

int cdof_store_cursor_seek(cdof_store_cursor_t *cur, const void *key, size_t klen, cdof_bytes_t *k,
                           cdof_bytes_t *v)
{
    return cdof_store_cursor_range(cur, key, klen, NULL, 0, k, v);
}

/* The first key past every key starting with prefix, into upper (plen bytes): drop trailing 0xff
 * bytes and increment the last one. False when there is none (plen 0, or all 0xff). */
static bool cdof_store_prefix_end(const void *prefix, size_t plen, uint8_t *upper, size_t *ulen)
{
    if (plen)
        memcpy(upper, prefix, plen);
    *ulen = plen;
    while (*ulen > 0 && upper[*ulen - 1] == 0xff)
        (*ulen)--;
    if (*ulen == 0)
        return false;
    upper[*ulen - 1]++;
    return true;
}

int cdof_store_cursor_prefix(cdof_store_cursor_t *cur, const void *prefix, size_t plen,
                             cdof_bytes_t *k, cdof_bytes_t *v)
{
    uint8_t upper[CDOF_STORE_KEY_MAX];
    size_t ulen;

    if ((!prefix && plen) || plen > CDOF_STORE_KEY_MAX)
        return -EINVAL;
    bool bounded = cdof_store_prefix_end(prefix, plen, upper, &ulen);
    return cdof_store_cursor_range(cur, prefix, plen, bounded ? upper : NULL, ulen, k, v);
}

/* Finds the cursor's key again, in a write transaction where the caller may have written since
 * the move: op MDB_SET_KEY for that key exactly, MDB_SET_RANGE for the first at or after it. */
static int cdof_store_cursor_refind(cdof_store_cursor_t *c, MDB_cursor_op op, MDB_val *k,
                                    MDB_val *v)
{
    *k = (MDB_val){c->slen, c->saved};
    return mdb_cursor_get(c->cur, k, v, op);
}

int cdof_store_cursor_next(cdof_store_cursor_t *cur, cdof_bytes_t *k, cdof_bytes_t *v)
{
    MDB_val mk, mv;
    int rc = cdof_store_cursor_on(cur);

    if (rc <= 0)
        return rc;
    if (!cur->txn->write)
        rc = mdb_cursor_get(cur->cur, &mk, &mv, MDB_NEXT);
    else if ((rc = cdof_store_cursor_refind(cur, MDB_SET_RANGE, &mk, &mv)) == 0 &&
             cdof_store_keycmp(mk.mv_data, mk.mv_size, cur->saved, cur->slen) == 0)
        rc = mdb_cursor_get(cur->cur, &mk, &mv, MDB_NEXT); /* it is still there: step past it */
    return cdof_store_cursor_land(cur, rc, &mk, &mv, k, v);
}

int cdof_store_cursor_current(cdof_store_cursor_t *cur, cdof_bytes_t *k, cdof_bytes_t *v)
{
    MDB_val mk, mv;
    int rc = cdof_store_cursor_on(cur);

    if (rc <= 0)
        return rc;
    rc = cur->txn->write ? cdof_store_cursor_refind(cur, MDB_SET_KEY, &mk, &mv)
                         : mdb_cursor_get(cur->cur, &mk, &mv, MDB_GET_CURRENT);
    if (rc == MDB_NOTFOUND)
        return 0; /* deleted since the move; next still goes on after it */
    if (rc != 0)
        return cdof_store_err(rc);
    if (k)
        *k = (cdof_bytes_t){mk.mv_data, mk.mv_size};
    if (v)
        *v = (cdof_bytes_t){mv.mv_data, mv.mv_size};
    return 1;
}

int cdof_store_cursor_del(cdof_store_cursor_t *cur)
{
    MDB_val mk;
    int rc;

    if ((rc = cdof_store_cursor_usable(cur)) != 0)
        return rc;
    if (!cur->txn->write)
        return -EACCES;
    if (!cur->on)
        return CDOF_ENOTFOUND;
    /* By the copy: the caller may have moved LMDB's cursor's page with a write since. */
    mk = (MDB_val){cur->slen, cur->saved};
    rc = mdb_del(cur->txn->txn, mdb_cursor_dbi(cur->cur), &mk, NULL);
    if (rc == MDB_NOTFOUND)
        return CDOF_ENOTFOUND;
    return rc ? cdof_store_poison(cur->txn, rc) : 0;
}

bool cdof_store_has_prefix(const cdof_bytes_t *key, const void *prefix, size_t plen)
{
    return key && key->len >= plen && (plen == 0 || memcmp(key->data, prefix, plen) == 0);
}

int cdof_store_first(cdof_store_txn_t *txn, cdof_store_db_t db, const void *from, size_t flen,
                     cdof_bytes_t *key, cdof_bytes_t *val)
{
    cdof_store_cursor_t *c = NULL;
    int rc = cdof_store_cursor_open(txn, db, &c);

    if (rc == 0)
        rc = cdof_store_cursor_seek(c, from, flen, key, val);
    cdof_store_cursor_close(&c);
    return rc > 0 ? 0 : rc == 0 ? CDOF_ENOTFOUND : rc;
}

int cdof_store_last(cdof_store_txn_t *txn, cdof_store_db_t db, cdof_bytes_t *key, cdof_bytes_t *val)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;

    if (!txn || !key || !val)
        return -EINVAL;
    if (txn->failed)
        return txn->failed;
    if ((rc = mdb_cursor_open(txn->txn, db, &cur)) != 0)
        return cdof_store_err(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc)
        return cdof_store_err(rc);
    *key = (cdof_bytes_t){k.mv_data, k.mv_size};
    *val = (cdof_bytes_t){v.mv_data, v.mv_size};
    return 0;
}

int cdof_store_count(cdof_store_txn_t *txn, cdof_store_db_t db, uint64_t *out)
{
    MDB_stat st;
    int rc;

    if (!txn || !out)
        return -EINVAL;
    if (txn->failed)
        return txn->failed;
    if ((rc = mdb_stat(txn->txn, db, &st)) != 0)
        return cdof_store_err(rc);
    *out = st.ms_entries;
    return 0;
}

int cdof_store_reader_check(cdof_store_t *store)
{
    int dead = 0;
    if (!store)
        return -EINVAL;
    if (store->broken)
        return store->broken;
    int rc = mdb_reader_check(store->env, &dead);
    return rc ? cdof_store_err(rc) : dead;
}

/* Reads every record of named database dbi, touching each value's first and last byte so that
 * overflow pages are read too, and holds the count against the database's own. */
static int cdof_store_check_db(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *entries,
                               char *err, size_t errlen)
{
    MDB_cursor *cur = NULL;
    MDB_stat st;
    MDB_val k, v;
    uint64_t n = 0;
    volatile uint8_t sink = 0;
    int rc = mdb_stat(txn, dbi, &st);
    if (rc == 0)
        rc = mdb_cursor_open(txn, dbi, &cur);
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (v.mv_size)
            sink ^= ((const uint8_t *)v.mv_data)[0] ^ ((const uint8_t *)v.mv_data)[v.mv_size - 1];
        n++;
    }
    (void)sink;
    if (cur)
        mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        cdof_reason(0, err, errlen, "database '%s': %s after %llu records", name, mdb_strerror(rc),
                    (unsigned long long)n);
        return CDOF_ECORRUPT;
    }
    if (n != st.ms_entries) {
        cdof_reason(0, err, errlen, "database '%s' says it holds %llu records, %llu were read",
                    name, (unsigned long long)st.ms_entries, (unsigned long long)n);
        return CDOF_ECORRUPT;
    }
    *entries += n;
    return 0;
}

/* The check of the data file at path (a directory's data.mdb, or with subdir false the file
 * itself), opened without a lock file so that nothing is written beside it. */
static int cdof_store_check_path(const char *path, bool subdir, cdof_store_check_t *out, char *err,
                                 size_t errlen)
{
    char data[4096], what[4200];
    struct stat st;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_envinfo info;
    MDB_dbi main_dbi;
    MDB_val k, v;
    int rc;

    memset(out, 0, sizeof *out);
    snprintf(data, sizeof data, subdir ? "%s/" CDOF_STORE_DATA_FILE : "%s", path);
    snprintf(what, sizeof what, "%s", data);
    if (stat(data, &st) != 0) {
        rc = -errno;
        cdof_reason(0, err, errlen, "no store in %s: %s: %s", path, data, strerror(-rc));
        return rc;
    }
    out->file_size = (uint64_t)st.st_size;
    if ((rc = cdof_store_check_short(what, out->file_size, err, errlen)) != 0)
        return rc;
    if ((rc = mdb_env_create(&env)) != 0)
        goto lmdb_fail;
    if ((rc = mdb_env_set_maxdbs(env, CDOF_STORE_CHECK_DBS)) != 0)
        goto lmdb_fail;
    rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS | (subdir ? 0 : MDB_NOSUBDIR),
                      0);
    if (rc)
        goto lmdb_fail;
    if ((rc = cdof_store_check_size(env, what, out->file_size, &out->used, err, errlen)) != 0)
        goto fail;
    mdb_env_info(env, &info);
    out->txn = (uint64_t)info.me_last_txnid;
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0 ||
        (rc = mdb_cursor_open(txn, main_dbi, &cur)) != 0)
        goto lmdb_fail;
    /* The main database names the others; a key that is not a database is a plain record. */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char name[CDOF_STORE_LMDB_KEY_MAX + 1];
        MDB_dbi dbi;
        if (k.mv_size >= sizeof name || memchr(k.mv_data, '\0', k.mv_size)) {
            out->entries++;
            continue;
        }
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        int orc = mdb_dbi_open(txn, name, 0, &dbi);
        if (orc == MDB_INCOMPATIBLE) {
            out->entries++;
            continue;
        }
        if (orc) {
            rc = orc;
            goto lmdb_fail;
        }
        if ((rc = cdof_store_check_db(txn, dbi, name, &out->entries, err, errlen)) != 0) {
            char inner[512];
            snprintf(inner, sizeof inner, "%s", err ? err : "");
            cdof_reason(0, err, errlen, "%s: %s", what, inner);
            goto fail;
        }
        out->dbs++;
        if (strcmp(name, CDOF_STORE_META_DB) == 0) {
            MDB_val ik = {strlen(CDOF_STORE_ID_KEY), CDOF_STORE_ID_KEY}, iv;
            if (mdb_get(txn, dbi, &ik, &iv) == 0 && iv.mv_size == CDOF_STORE_ID_LEN) {
                memcpy(out->store_id, iv.mv_data, CDOF_STORE_ID_LEN);
                out->store_id[CDOF_STORE_ID_LEN] = '\0';
            }
        }
    }
    if (rc != MDB_NOTFOUND)
        goto lmdb_fail;
    rc = 0;
    goto fail;

lmdb_fail:
    cdof_reason(0, err, errlen, "%s: %s", what, mdb_strerror(rc));
    rc = rc == ENOMEM ? -ENOMEM : CDOF_ECORRUPT;
fail:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return rc;
}

int cdof_store_check(const char *dir, cdof_store_check_t *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!dir || !out)
        return -EINVAL;
    return cdof_store_check_path(dir, true, out, err, errlen);
}

static int cdof_store_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int cdof_store_backup(cdof_store_t *store, const char *dest, char *err, size_t errlen)
{
    char partial[4096], final[4096], why[512];
    cdof_store_check_t chk;
    DIR *d;
    struct dirent *de;
    bool empty = true;
    int rc, fd;

    if (err && errlen)
        err[0] = '\0';
    if (!store || !dest)
        return -EINVAL;
    d = opendir(dest);
    if (!d) {
        rc = -errno;
        cdof_reason(0, err, errlen, "backup directory %s: %s", dest, strerror(-rc));
        return rc;
    }
    /* What a killed backup left is not a backup: it goes. */
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            strcmp(de->d_name, CDOF_STORE_PARTIAL) != 0) {
            empty = false;
            break;
        }
    }
    closedir(d);
    if (!empty) {
        cdof_reason(0, err, errlen, "backup directory %s is not empty", dest);
        return -ENOTEMPTY;
    }
    snprintf(partial, sizeof partial, "%s/%s", dest, CDOF_STORE_PARTIAL);
    snprintf(final, sizeof final, "%s/%s", dest, CDOF_STORE_DATA_FILE);
    if (unlink(partial) == 0)
        cdof_log_info("removed %s, left by a backup that did not finish", partial);
    fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        cdof_reason(0, err, errlen, "cannot create %s: %s", partial, strerror(-rc));
        return rc;
    }
    /* The copy runs its own read transaction: the map must stay put meanwhile. */
    pthread_rwlock_rdlock(&store->map_lock);
    cdof_store_tls_txns++;
    rc = mdb_env_copyfd2(store->env, fd, MDB_CP_COMPACT);
    cdof_store_tls_txns--;
    pthread_rwlock_unlock(&store->map_lock);
    if (rc) {
        cdof_reason(0, err, errlen, "cannot back up store in %s to %s: %s", store->dir, dest,
                    mdb_strerror(rc));
        rc = cdof_store_err(rc);
    } else if (fsync(fd) != 0) {
        rc = -errno;
        cdof_reason(0, err, errlen, "cannot sync %s: %s", partial, strerror(-rc));
    }
    close(fd);
    if (rc == 0 && (rc = cdof_store_check_path(partial, false, &chk, why, sizeof why)) != 0)
        cdof_reason(0, err, errlen, "the copy does not check: %s", why);
    if (rc == 0 && rename(partial, final) != 0) {
        rc = -errno;
        cdof_reason(0, err, errlen, "cannot rename %s to %s: %s", partial, final, strerror(-rc));
    }
    if (rc) {
        unlink(partial);
        return rc;
    }
    if ((rc = cdof_store_fsync_dir(dest)) != 0) {
        cdof_reason(0, err, errlen, "cannot sync directory %s: %s", dest, strerror(-rc));
        return rc;
    }
    return 0;
}

int cdof_store_map_info(cdof_store_t *store, cdof_store_map_info_t *out)
{
    if (!store || !out)
        return -EINVAL;
    cdof_store_usage(store, &out->map_size, &out->used);
    out->max_map_size = store->max_map_size;
    out->in_use = out->used;
    /* The pages of every database opened by name (and the main one): what is held, where used
     * also counts pages freed and waiting for reuse. */
    MDB_txn *txn = NULL;
    MDB_stat st;
    if (cdof_store_mdb_begin(store, false, &txn) != 0)
        return 0;
    size_t pages = 0;
    if (mdb_stat(txn, CDOF_STORE_MAIN_DBI, &st) == 0)
        pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    pthread_mutex_lock(&store->mu);
    for (unsigned i = 0; i < store->n_names; i++) {
        if (mdb_stat(txn, store->names[i].dbi, &st) == 0)
            pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
    pthread_mutex_unlock(&store->mu);
    mdb_txn_abort(txn);
    cdof_store_mdb_release(store, false);
    out->in_use = (pages + 2) * store->psize; /* and the two meta pages */
    return 0;
}

void cdof_store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void cdof_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void cdof_store_be64(uint8_t *p, uint64_t v)
{
    cdof_store_be32(p, (uint32_t)(v >> 32));
    cdof_store_be32(p + 4, (uint32_t)v);
}

uint16_t cdof_store_rd16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

uint32_t cdof_store_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t cdof_store_rd64(const uint8_t *p)
{
    return (uint64_t)cdof_store_rd32(p) << 32 | cdof_store_rd32(p + 4);
}

void cdof_store_be_day(uint8_t *p, int32_t day)
{
    cdof_store_be32(p, (uint32_t)((int64_t)day + 0x80000000LL));
}

int32_t cdof_store_rd_day(const uint8_t *p)
{
    return (int32_t)((int64_t)cdof_store_rd32(p) - 0x80000000LL);
}
