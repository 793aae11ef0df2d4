#include "agent_outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_error.h"
#include "cdof_store.h"
#include "cdof_wire.h"

#define OUTBOX_SCHEMA         "outbox"
#define OUTBOX_SCHEMA_VERSION 1
#define TS_LEN                8 /* the i64 time prefix of every stored value */
/* Room kept below the wire limit for the agent_id and sent_ms added when sending. */
#define ENVELOPE_MAX (CDOF_WIRE_MAX_MESSAGE - CDOF_WIRE_MAX_ID - 32)
#define VALUE_MAX    (2 * TS_LEN + ENVELOPE_MAX + 2 + CDOF_WIRE_MAX_TEXT)

enum { DB_OUTBOX, DB_ACKED, DB_REJECTED, DB_FILES, DB_META, DB_COUNT };
static const char *const db_names[DB_COUNT] = {"outbox", "acked", "rejected", "files", "meta"};

struct agent_outbox {
    cdof_store_t *store;
    cdof_store_db_t db[DB_COUNT];
    bool have[DB_COUNT]; /* a read-only open of a young store may lack some */
    uint8_t scratch[VALUE_MAX];
};

struct agent_outbox_batch {
    agent_outbox_t *ob;
    cdof_store_txn_t *txn;
    agent_fingerprint_t fp;
    uint64_t next_seq, first_seq;
};

static void be_seq(uint8_t key[8], uint64_t seq)
{
    cdof_store_be64(key, seq);
}

static void fp_key(uint8_t key[16], const agent_fingerprint_t *fp)
{
    cdof_store_be64(key, fp->hash);
    cdof_store_be64(key + 8, fp->size);
}

int agent_outbox_open(const char *dir, bool read_only, agent_outbox_t **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    agent_outbox_t *ob = calloc(1, sizeof *ob);
    if (!ob) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    cdof_store_opts_t opts = {.schema = OUTBOX_SCHEMA,
                              .schema_version = OUTBOX_SCHEMA_VERSION,
                              .map_size = 16u << 20,
                              .max_map_size = (size_t)16 << 30,
                              .max_dbs = 8,
                              .read_only = read_only};
    int rc = cdof_store_open(dir, &opts, &ob->store, err, errlen);
    if (rc < 0)
        goto fail;
    for (int i = 0; i < DB_COUNT; i++) {
        rc = cdof_store_db(ob->store, db_names[i], &ob->db[i]);
        if (rc == CDOF_ENOTFOUND && read_only)
            continue;
        if (rc < 0) {
            snprintf(err, errlen, "%s: cannot open database '%s': %s", dir, db_names[i],
                     cdof_strerror(rc));
            goto fail;
        }
        ob->have[i] = true;
    }
    *out = ob;
    return 0;
fail:
    cdof_store_close(&ob->store);
    free(ob);
    return rc;
}

void agent_outbox_close(agent_outbox_t **ob)
{
    if (!ob || !*ob)
        return;
    cdof_store_close(&(*ob)->store);
    free(*ob);
    *ob = NULL;
}

int agent_fingerprint_stream(FILE *f, agent_fingerprint_t *fp)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 offset basis */
    uint64_t size = 0;
    unsigned char buf[64 * 1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= 1099511628211ull; /* FNV 64-bit prime */
        }
        size += n;
    }
    if (ferror(f))
        return -EIO;
    rewind(f);
    fp->hash = h;
    fp->size = size;
    return 0;
}

static uint64_t meta_u64(cdof_store_txn_t *txn, agent_outbox_t *ob, const char *key, uint64_t def)
{
    cdof_bytes_t v;
    if (!ob->have[DB_META] || cdof_store_get(txn, ob->db[DB_META], key, strlen(key), &v) < 0 ||
        v.len != 8)
        return def;
    return cdof_store_rd64(v.data);
}

static int put_meta_u64(cdof_store_txn_t *txn, agent_outbox_t *ob, const char *key, uint64_t v)
{
    uint8_t b[8];
    cdof_store_be64(b, v);
    return cdof_store_put(txn, ob->db[DB_META], key, strlen(key), b, sizeof b);
}

static void decode_file(const cdof_bytes_t *v, agent_file_info_t *info)
{
    const uint8_t *p = v->data;
    memset(info, 0, sizeof *info);
    if (v->len < 28)
        return;
    info->taken_ms = (int64_t)cdof_store_rd64(p);
    info->rows = cdof_store_rd32(p + 8);
    info->good = cdof_store_rd32(p + 12);
    info->bad = cdof_store_rd32(p + 16);
    info->first_seq = cdof_store_rd64(p + 20);
    size_t n = v->len - 28;
    if (n > AGENT_FILE_NAME_MAX)
        n = AGENT_FILE_NAME_MAX;
    memcpy(info->name, p + 28, n);
    info->name[n] = '\0';
}

int agent_outbox_file_lookup(agent_outbox_t *ob, const agent_fingerprint_t *fp,
                             agent_file_info_t *info)
{
    if (!ob->have[DB_FILES])
        return CDOF_ENOTFOUND;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, false, &txn);
    if (rc < 0)
        return rc;
    uint8_t key[16];
    fp_key(key, fp);
    cdof_bytes_t v;
    rc = cdof_store_get(txn, ob->db[DB_FILES], key, sizeof key, &v);
    if (rc == 0)
        decode_file(&v, info);
    cdof_store_abort(&txn);
    return rc;
}

int agent_outbox_batch_begin(agent_outbox_t *ob, const agent_fingerprint_t *fp,
                             agent_outbox_batch_t **out)
{
    *out = NULL;
    agent_outbox_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->ob = ob;
    b->fp = *fp;
    int rc = cdof_store_begin(ob->store, true, &b->txn);
    if (rc < 0)
        goto fail;
    uint8_t key[16];
    fp_key(key, fp);
    cdof_bytes_t v;
    rc = cdof_store_get(b->txn, ob->db[DB_FILES], key, sizeof key, &v);
    if (rc == 0) {
        rc = CDOF_EEXIST;
        goto fail;
    }
    if (rc != CDOF_ENOTFOUND)
        goto fail;
    b->next_seq = meta_u64(b->txn, ob, "next_seq", 1);
    *out = b;
    return 0;
fail:
    cdof_store_abort(&b->txn);
    free(b);
    return rc;
}

int agent_outbox_batch_add(agent_outbox_batch_t *b, Cdof__V1__Envelope *env, int64_t now_ms)
{
    env->sequence = b->next_seq;
    size_t n = cdof__v1__envelope__get_packed_size(env);
    if (n > ENVELOPE_MAX)
        return -EMSGSIZE;
    uint8_t *val = b->ob->scratch;
    cdof_store_be64(val, (uint64_t)now_ms);
    cdof__v1__envelope__pack(env, val + TS_LEN);
    uint8_t key[8];
    be_seq(key, b->next_seq);
    int rc = cdof_store_put(b->txn, b->ob->db[DB_OUTBOX], key, sizeof key, val, TS_LEN + n);
    if (rc < 0)
        return rc;
    if (!b->first_seq)
        b->first_seq = b->next_seq;
    b->next_seq++;
    return 0;
}

int agent_outbox_batch_commit(agent_outbox_batch_t **bp, agent_file_info_t *info)
{
    agent_outbox_batch_t *b = *bp;
    *bp = NULL;
    agent_outbox_t *ob = b->ob;
    info->first_seq = b->first_seq;
    size_t name_len = strnlen(info->name, AGENT_FILE_NAME_MAX);
    uint8_t val[28 + AGENT_FILE_NAME_MAX];
    cdof_store_be64(val, (uint64_t)info->taken_ms);
    cdof_store_be32(val + 8, info->rows);
    cdof_store_be32(val + 12, info->good);
    cdof_store_be32(val + 16, info->bad);
    cdof_store_be64(val + 20, info->first_seq);
    memcpy(val + 28, info->name, name_len);
    uint8_t key[16];
    fp_key(key, &b->fp);
    int rc = cdof_store_put(b->txn, ob->db[DB_FILES], key, sizeof key, val, 28 + name_len);
    if (rc == 0)
        rc = put_meta_u64(b->txn, ob, "next_seq", b->next_seq);
    if (rc == 0)
        rc = cdof_store_commit(&b->txn);
    cdof_store_abort(&b->txn);
    free(b);
    return rc;
}

void agent_outbox_batch_abort(agent_outbox_batch_t **bp)
{
    if (!bp || !*bp)
        return;
    cdof_store_abort(&(*bp)->txn);
    free(*bp);
    *bp = NULL;
}

typedef struct {
    agent_outbox_entry_fn fn;
    void *ctx;
} each_ctx_t;

static int each_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    each_ctx_t *e = ctx;
    if (key->len != 8)
        return CDOF_ECORRUPT;
    return e->fn(e->ctx, cdof_store_rd64(key->data), val->data, val->len);
}

int agent_outbox_each_from(agent_outbox_t *ob, uint64_t from, agent_outbox_entry_fn fn, void *ctx)
{
    if (!ob->have[DB_OUTBOX])
        return 0;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, false, &txn);
    if (rc < 0)
        return rc;
    uint8_t key[8];
    be_seq(key, from);
    each_ctx_t e = {fn, ctx};
    rc = cdof_store_scan(txn, ob->db[DB_OUTBOX], key, sizeof key, NULL, 0, each_visit, &e);
    cdof_store_abort(&txn);
    return rc;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Protobuf parsers take fields in any order, so the two fields the stored envelope lacks can
 * simply follow it: agent_id (field 1, length-delimited) and sent_ms (field 3, varint). */
long agent_outbox_wire(const uint8_t *value, size_t len, const char *agent_id, int64_t sent_ms,
                       uint8_t *buf, size_t cap)
{
    if (len < TS_LEN)
        return CDOF_ECORRUPT;
    size_t env_len = len - TS_LEN, id_len = strlen(agent_id);
    if (id_len > CDOF_WIRE_MAX_ID || env_len + id_len + 24 > cap)
        return -EMSGSIZE;
    memcpy(buf, value + TS_LEN, env_len);
    size_t n = env_len;
    if (id_len) {
        buf[n++] = (1 << 3) | 2;
        n += put_varint(buf + n, id_len);
        memcpy(buf + n, agent_id, id_len);
        n += id_len;
    }
    buf[n++] = (3 << 3) | 0;
    n += put_varint(buf + n, (uint64_t)sent_ms);
    return (long)n;
}

/* Moves one outbox entry (value v, which a put would invalidate) to acked or rejected. */
static int settle_one(cdof_store_txn_t *txn, agent_outbox_t *ob, uint64_t seq,
                      const cdof_bytes_t *v, bool rejected, const char *reason, int64_t now_ms)
{
    uint8_t *s = ob->scratch;
    size_t n;
    uint8_t key[8];
    be_seq(key, seq);
    cdof_store_be64(s, (uint64_t)now_ms);
    int rc;
    if (rejected) {
        size_t rlen = reason ? strnlen(reason, CDOF_WIRE_MAX_TEXT) : 0;
        if (v->len < TS_LEN)
            return CDOF_ECORRUPT;
        cdof_store_be16(s + TS_LEN, (uint16_t)rlen);
        if (rlen)
            memcpy(s + TS_LEN + 2, reason, rlen);
        memcpy(s + TS_LEN + 2 + rlen, (const uint8_t *)v->data + TS_LEN, v->len - TS_LEN);
        n = TS_LEN + 2 + rlen + v->len - TS_LEN;
        rc = cdof_store_put(txn, ob->db[DB_REJECTED], key, sizeof key, s, n);
    } else {
        memcpy(s + TS_LEN, v->data, v->len);
        n = TS_LEN + v->len;
        rc = cdof_store_put(txn, ob->db[DB_ACKED], key, sizeof key, s, n);
    }
    if (rc == 0)
        rc = cdof_store_del(txn, ob->db[DB_OUTBOX], key, sizeof key);
    return rc;
}

static int finish_settle(cdof_store_txn_t **txn, agent_outbox_t *ob, uint64_t high, int64_t now_ms)
{
    int rc = 0;
    if (high > meta_u64(*txn, ob, "acked_high", 0))
        rc = put_meta_u64(*txn, ob, "acked_high", high);
    if (rc == 0)
        rc = put_meta_u64(*txn, ob, "last_ack_ms", (uint64_t)now_ms);
    if (rc == 0)
        rc = cdof_store_commit(txn);
    cdof_store_abort(txn);
    return rc;
}

int agent_outbox_settle(agent_outbox_t *ob, const agent_settle_t *s, size_t n, int64_t now_ms)
{
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, true, &txn);
    if (rc < 0)
        return rc;
    uint64_t high = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t key[8];
        be_seq(key, s[i].seq);
        cdof_bytes_t v;
        rc = cdof_store_get(txn, ob->db[DB_OUTBOX], key, sizeof key, &v);
        if (rc == CDOF_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = settle_one(txn, ob, s[i].seq, &v, s[i].rejected, s[i].reason, now_ms);
        if (rc < 0)
            goto fail;
        if (s[i].seq > high)
            high = s[i].seq;
    }
    return finish_settle(&txn, ob, high, now_ms);
fail:
    cdof_store_abort(&txn);
    return rc;
}

typedef struct {
    agent_outbox_t *ob;
    cdof_store_txn_t *txn;
    int64_t now_ms;
    uint64_t count, high;
} upto_ctx_t;

static int upto_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    upto_ctx_t *u = ctx;
    if (key->len != 8)
        return CDOF_ECORRUPT;
    uint64_t seq = cdof_store_rd64(key->data);
    int rc = settle_one(u->txn, u->ob, seq, val, false, NULL, u->now_ms);
    if (rc < 0)
        return rc;
    u->count++;
    u->high = seq;
    return 0;
}

int agent_outbox_settle_upto(agent_outbox_t *ob, uint64_t high, int64_t now_ms, uint64_t *count)
{
    *count = 0;
    if (high == 0)
        return 0;
    upto_ctx_t u = {ob, NULL, now_ms, 0, 0};
    int rc = cdof_store_begin(ob->store, true, &u.txn);
    if (rc < 0)
        return rc;
    uint8_t to[8];
    be_seq(to, high == UINT64_MAX ? high : high + 1);
    rc = cdof_store_scan(u.txn, ob->db[DB_OUTBOX], NULL, 0, to, sizeof to, upto_visit, &u);
    if (rc < 0 || u.count == 0) {
        cdof_store_abort(&u.txn);
        return rc;
    }
    *count = u.count;
    return finish_settle(&u.txn, ob, u.high, now_ms);
}

typedef struct {
    agent_outbox_t *ob;
    cdof_store_txn_t *txn;
    uint64_t count;
    int64_t cutoff_ms;
} move_ctx_t;

static int restore_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    move_ctx_t *m = ctx;
    if (key->len != 8 || val->len < 2 * TS_LEN)
        return CDOF_ECORRUPT;
    /* Copy first: the put below invalidates val. */
    size_t n = val->len - TS_LEN;
    memcpy(m->ob->scratch, (const uint8_t *)val->data + TS_LEN, n);
    cdof_bytes_t cur;
    int rc = cdof_store_get(m->txn, m->ob->db[DB_OUTBOX], key->data, key->len, &cur);
    if (rc == CDOF_ENOTFOUND)
        rc = cdof_store_put(m->txn, m->ob->db[DB_OUTBOX], key->data, key->len, m->ob->scratch, n);
    if (rc == 0)
        rc = cdof_store_del(m->txn, m->ob->db[DB_ACKED], key->data, key->len);
    if (rc == 0)
        m->count++;
    return rc;
}

/* Runs visit over the acknowledged entries from key `from` (NULL: all) in one write
 * transaction, committed only when it moved or removed something. */
static int sweep_acked(move_ctx_t *m, const uint8_t *from, size_t flen, cdof_store_visit_fn visit,
                       uint64_t *count)
{
    *count = 0;
    int rc = cdof_store_begin(m->ob->store, true, &m->txn);
    if (rc < 0)
        return rc;
    rc = cdof_store_scan(m->txn, m->ob->db[DB_ACKED], from, flen, NULL, 0, visit, m);
    if (rc < 0 || m->count == 0) {
        cdof_store_abort(&m->txn);
        return rc;
    }
    rc = cdof_store_commit(&m->txn);
    if (rc == 0)
        *count = m->count;
    return rc;
}

int agent_outbox_restore_from(agent_outbox_t *ob, uint64_t from, uint64_t *count)
{
    move_ctx_t m = {ob, NULL, 0, 0};
    uint8_t key[8];
    be_seq(key, from);
    return sweep_acked(&m, key, sizeof key, restore_visit, count);
}

static int prune_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    move_ctx_t *m = ctx;
    if (val->len < TS_LEN)
        return CDOF_ECORRUPT;
    /* Sequence order is acknowledgement order, near enough: stop at the first young entry. */
    if ((int64_t)cdof_store_rd64(val->data) >= m->cutoff_ms)
        return 1;
    int rc = cdof_store_del(m->txn, m->ob->db[DB_ACKED], key->data, key->len);
    if (rc == 0)
        m->count++;
    return rc;
}

int agent_outbox_prune(agent_outbox_t *ob, int64_t cutoff_ms, uint64_t *count)
{
    move_ctx_t m = {ob, NULL, 0, cutoff_ms};
    return sweep_acked(&m, NULL, 0, prune_visit, count);
}

static int first_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    agent_outbox_stats_t *st = ctx;
    if (key->len != 8 || val->len < TS_LEN)
        return CDOF_ECORRUPT;
    st->oldest_seq = cdof_store_rd64(key->data);
    st->oldest_written_ms = (int64_t)cdof_store_rd64(val->data);
    return 1;
}

int agent_outbox_stats(agent_outbox_t *ob, agent_outbox_stats_t *st)
{
    memset(st, 0, sizeof *st);
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, false, &txn);
    if (rc < 0)
        return rc;
    if (ob->have[DB_OUTBOX]) {
        rc = cdof_store_count(txn, ob->db[DB_OUTBOX], &st->depth);
        if (rc == 0)
            rc = cdof_store_scan(txn, ob->db[DB_OUTBOX], NULL, 0, NULL, 0, first_visit, st);
    }
    if (rc == 0 && ob->have[DB_REJECTED])
        rc = cdof_store_count(txn, ob->db[DB_REJECTED], &st->rejected);
    if (rc == 0 && ob->have[DB_ACKED])
        rc = cdof_store_count(txn, ob->db[DB_ACKED], &st->retained);
    st->next_seq = meta_u64(txn, ob, "next_seq", 1);
    st->acked_high = meta_u64(txn, ob, "acked_high", 0);
    st->last_ack_ms = (int64_t)meta_u64(txn, ob, "last_ack_ms", 0);
    cdof_store_abort(&txn);
    return rc;
}

int agent_outbox_meta_set(agent_outbox_t *ob, const char *key, const char *value)
{
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, true, &txn);
    if (rc < 0)
        return rc;
    rc = cdof_store_put(txn, ob->db[DB_META], key, strlen(key), value, strlen(value));
    if (rc == 0)
        rc = cdof_store_commit(&txn);
    cdof_store_abort(&txn);
    return rc;
}

int agent_outbox_meta_get(agent_outbox_t *ob, const char *key, char *buf, size_t len)
{
    if (!ob->have[DB_META])
        return CDOF_ENOTFOUND;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, false, &txn);
    if (rc < 0)
        return rc;
    cdof_bytes_t v;
    rc = cdof_store_get(txn, ob->db[DB_META], key, strlen(key), &v);
    if (rc == 0) {
        size_t n = v.len < len - 1 ? v.len : len - 1;
        memcpy(buf, v.data, n);
        buf[n] = '\0';
    }
    cdof_store_abort(&txn);
    return rc;
}

typedef struct {
    agent_outbox_rejected_fn fn;
    void *ctx;
} rejected_ctx_t;

static int rejected_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    rejected_ctx_t *r = ctx;
    const uint8_t *p = val->data;
    if (key->len != 8 || val->len < TS_LEN + 2)
        return CDOF_ECORRUPT;
    size_t rlen = cdof_store_rd16(p + TS_LEN);
    if (val->len < TS_LEN + 2 + rlen)
        return CDOF_ECORRUPT;
    return r->fn(r->ctx, cdof_store_rd64(key->data), (int64_t)cdof_store_rd64(p),
                 (const char *)p + TS_LEN + 2, rlen, p + TS_LEN + 2 + rlen,
                 val->len - TS_LEN - 2 - rlen);
}

int agent_outbox_each_rejected(agent_outbox_t *ob, agent_outbox_rejected_fn fn, void *ctx)
{
    if (!ob->have[DB_REJECTED])
        return 0;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, false, &txn);
    if (rc < 0)
        return rc;
    rejected_ctx_t r = {fn, ctx};
    rc = cdof_store_scan(txn, ob->db[DB_REJECTED], NULL, 0, NULL, 0, rejected_visit, &r);
    cdof_store_abort(&txn);
    return rc;
}

typedef struct {
    agent_outbox_file_fn fn;
    void *ctx;
} file_ctx_t;

static int file_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    file_ctx_t *f = ctx;
    agent_file_info_t info;
    decode_file(val, &info);
    return f->fn(f->ctx, &info);
}

int agent_outbox_each_file(agent_outbox_t *ob, agent_outbox_file_fn fn, void *ctx)
{
    if (!ob->have[DB_FILES])
        return 0;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, false, &txn);
    if (rc < 0)
        return rc;
    file_ctx_t f = {fn, ctx};
    rc = cdof_store_scan(txn, ob->db[DB_FILES], NULL, 0, NULL, 0, file_visit, &f);
    cdof_store_abort(&txn);
    return rc;
}

static int first_any(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    cdof_bytes_t *out = ctx;
    *out = *key;
    return 1;
}

int agent_outbox_renumber(agent_outbox_t *ob, uint64_t high, uint64_t *count)
{
    *count = 0;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, true, &txn);
    if (rc < 0)
        return rc;
    uint64_t next = meta_u64(txn, ob, "next_seq", 1);
    if (next <= high)
        next = high + 1;
    uint64_t n = 0;
    /* Bounded by the outbox: each pass moves its first entry above high. */
    for (;;) {
        cdof_bytes_t key = {NULL, 0}, val;
        rc = cdof_store_scan(txn, ob->db[DB_OUTBOX], NULL, 0, NULL, 0, first_any, &key);
        if (rc < 0)
            goto fail;
        if (key.len != 8 || cdof_store_rd64(key.data) > high)
            break;
        uint8_t old_key[8], new_key[8];
        memcpy(old_key, key.data, 8);
        rc = cdof_store_get(txn, ob->db[DB_OUTBOX], old_key, 8, &val);
        if (rc < 0)
            goto fail;
        if (val.len < TS_LEN) {
            rc = CDOF_ECORRUPT;
            goto fail;
        }
        Cdof__V1__Envelope *env =
            cdof__v1__envelope__unpack(NULL, val.len - TS_LEN, (const uint8_t *)val.data + TS_LEN);
        if (!env) {
            rc = CDOF_ECORRUPT;
            goto fail;
        }
        env->sequence = next;
        size_t len = cdof__v1__envelope__get_packed_size(env);
        if (len > ENVELOPE_MAX) {
            cdof__v1__envelope__free_unpacked(env, NULL);
            rc = -EMSGSIZE;
            goto fail;
        }
        memcpy(ob->scratch, val.data, TS_LEN);
        cdof__v1__envelope__pack(env, ob->scratch + TS_LEN);
        cdof__v1__envelope__free_unpacked(env, NULL);
        be_seq(new_key, next);
        rc = cdof_store_del(txn, ob->db[DB_OUTBOX], old_key, 8);
        if (rc == 0)
            rc = cdof_store_put(txn, ob->db[DB_OUTBOX], new_key, 8, ob->scratch, TS_LEN + len);
        if (rc < 0)
            goto fail;
        next++;
        n++;
    }
    rc = put_meta_u64(txn, ob, "next_seq", next);
    if (rc == 0)
        rc = cdof_store_commit(&txn);
    if (rc < 0)
        goto fail;
    *count = n;
    return 0;
fail:
    cdof_store_abort(&txn);
    return rc;
}
