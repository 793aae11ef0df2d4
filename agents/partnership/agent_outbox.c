#include "agent_outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_error.h"
#include "cdof_store.h"
#include "cdof_wire.h"

#define OUTBOX_SCHEMA         "outbox"
#define OUTBOX_SCHEMA_VERSION 2
#define TS_LEN                8 /* the i64 time prefix of every stored value */
/* Room kept below the wire limit for the agent_id and sent_ms added when sending. */
#define ENVELOPE_MAX (CDOF_WIRE_MAX_MESSAGE - CDOF_WIRE_MAX_ID - 32)
#define VALUE_MAX    (2 * TS_LEN + ENVELOPE_MAX + 2 + CDOF_WIRE_MAX_TEXT)

enum { DB_OUTBOX, DB_SETTLED, DB_REJECTED, DB_FILES, DB_META, DB_LATEST, DB_PROGRESS, DB_COUNT };
static const char *const db_names[DB_COUNT] = {"outbox", "settled", "rejected", "files",
                                               "meta",   "latest",  "progress"};

struct agent_outbox {
    cdof_store_t *store;
    cdof_store_db_t db[DB_COUNT];
    bool have[DB_COUNT]; /* a read-only open of a young store may lack some */
    /* Accepted acks above an unsettled entry, sorted. Not durable: one lost with the process is
     * sent again and answered DUPLICATE. */
    uint64_t *pending;
    size_t n_pending, cap_pending;
    uint8_t scratch[VALUE_MAX];
};

struct agent_outbox_batch {
    agent_outbox_t *ob;
    cdof_store_txn_t *txn;
    agent_fingerprint_t fp;
    uint64_t next_seq, first_seq;
    bool changed_only;  /* a file taken before: only rows unlike the latest sent are added */
    uint64_t done_line; /* the file's rows up to this line are in the outbox (checkpoints) */
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

static uint64_t meta_u64(cdof_store_txn_t *txn, agent_outbox_t *ob, const char *key, uint64_t def);
static int put_meta_u64(cdof_store_txn_t *txn, agent_outbox_t *ob, const char *key, uint64_t v);

typedef struct {
    agent_outbox_t *ob;
    cdof_store_txn_t *txn;
    cdof_store_db_t acked;
    uint64_t high, retained, run_seq;
    int64_t run_ms;
} migrate_ctx_t;

/* Ends a run of entries settled at the same time with one mark. */
static int migrate_mark(migrate_ctx_t *m)
{
    if (!m->run_seq)
        return 0;
    uint8_t key[8], ms[8];
    be_seq(key, m->run_seq);
    cdof_store_be64(ms, (uint64_t)m->run_ms);
    m->run_seq = 0;
    return cdof_store_put(m->txn, m->ob->db[DB_SETTLED], key, sizeof key, ms, sizeof ms);
}

/* Moves every v1 entry of "acked" (value acked_ms | the outbox value) back to "outbox". */
static int migrate_entries(migrate_ctx_t *m)
{
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t key, val;
    int rc = cdof_store_cursor_open(m->txn, m->acked, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &key, &val); rc > 0;
         rc = cdof_store_cursor_next(c, &key, &val)) {
        if (key.len != 8 || val.len < 2 * TS_LEN) {
            rc = CDOF_ECORRUPT;
            break;
        }
        uint8_t k[8];
        memcpy(k, key.data, 8);
        uint64_t seq = cdof_store_rd64(k);
        int64_t ms = (int64_t)cdof_store_rd64(val.data);
        size_t n = val.len - TS_LEN;
        memcpy(m->ob->scratch, (const uint8_t *)val.data + TS_LEN, n); /* a put moves val */
        if ((rc = cdof_store_put(m->txn, m->ob->db[DB_OUTBOX], k, 8, m->ob->scratch, n)) < 0 ||
            (rc = cdof_store_cursor_del(c)) < 0)
            break;
        if (seq > m->high)
            continue; /* above an unsettled entry: unsettled again, the hub answers DUPLICATE */
        m->retained++;
        if (m->run_seq && ms != m->run_ms && (rc = migrate_mark(m)) < 0)
            break;
        m->run_seq = seq;
        m->run_ms = ms;
    }
    cdof_store_cursor_close(&c);
    return rc;
}

/* Version 1 moved each settled entry to "acked"; version 2 keeps it in "outbox" below the
 * boundary "acked_high". Moves them back, with marks for pruning, and records version 2, all in
 * one transaction. The boundary stops below the first unsettled entry, so that everything under
 * it is settled. */
static int migrate_v1(agent_outbox_t *ob)
{
    migrate_ctx_t m = {.ob = ob};
    int rc = cdof_store_db(ob->store, "acked", &m.acked);
    if (rc < 0)
        return rc;
    rc = cdof_store_begin(ob->store, true, &m.txn);
    if (rc < 0)
        return rc;
    uint64_t first_unsettled = 0, last_acked = 0;
    cdof_bytes_t k, v;
    rc = cdof_store_first(m.txn, ob->db[DB_OUTBOX], NULL, 0, &k, &v);
    if (rc == 0 && k.len == 8)
        first_unsettled = cdof_store_rd64(k.data);
    if ((rc == 0 || rc == CDOF_ENOTFOUND) && (rc = cdof_store_last(m.txn, m.acked, &k, &v)) == 0 &&
        k.len == 8)
        last_acked = cdof_store_rd64(k.data);
    if (rc == CDOF_ENOTFOUND)
        rc = 0;
    m.high = meta_u64(m.txn, ob, "acked_high", 0);
    if (last_acked > m.high)
        m.high = last_acked;
    if (first_unsettled && m.high >= first_unsettled)
        m.high = first_unsettled - 1;
    if (rc == 0)
        rc = migrate_entries(&m);
    if (rc == 0)
        rc = migrate_mark(&m);
    if (rc == 0)
        rc = put_meta_u64(m.txn, ob, "acked_high", m.high);
    if (rc == 0)
        rc = put_meta_u64(m.txn, ob, "retained", m.retained);
    if (rc == 0)
        rc = cdof_store_set_version(m.txn, OUTBOX_SCHEMA_VERSION);
    if (rc == 0)
        rc = cdof_store_commit(&m.txn);
    cdof_store_abort(&m.txn);
    return rc;
}

int agent_outbox_open(const char *dir, bool read_only, agent_outbox_t **out, char *err,
                      size_t errlen)
{
    return agent_outbox_open_bounded(dir, read_only, 0, out, err, errlen);
}

int agent_outbox_space(agent_outbox_t *ob, uint64_t *in_use, uint64_t *bound)
{
    cdof_store_map_info_t mi;
    int rc = cdof_store_map_info(ob->store, &mi);
    if (rc < 0)
        return rc;
    *in_use = mi.in_use;
    *bound = mi.max_map_size;
    return 0;
}

int agent_outbox_open_bounded(const char *dir, bool read_only, uint64_t max_bytes,
                              agent_outbox_t **out, char *err, size_t errlen)
{
    *out = NULL;
    agent_outbox_t *ob = calloc(1, sizeof *ob);
    if (!ob) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    cdof_store_opts_t opts = {.schema = OUTBOX_SCHEMA,
                              .schema_version = OUTBOX_SCHEMA_VERSION,
                              .min_schema_version = 1,
                              .map_size = 16u << 20,
                              .max_map_size = max_bytes ? (size_t)max_bytes : (size_t)16 << 30,
                              .max_dbs = 8,
                              .read_only = read_only};
    int rc = cdof_store_open(dir, &opts, &ob->store, err, errlen);
    if (rc < 0)
        goto fail;
    if (cdof_store_schema_version(ob->store) < OUTBOX_SCHEMA_VERSION && read_only) {
        snprintf(err, errlen,
                 "outbox in %s is version %u (settled entries in \"acked\"): start cdof-agent "
                 "once to upgrade it to version %u",
                 dir, (unsigned)cdof_store_schema_version(ob->store), OUTBOX_SCHEMA_VERSION);
        rc = CDOF_EVERSION;
        goto fail;
    }
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
    if (cdof_store_schema_version(ob->store) < OUTBOX_SCHEMA_VERSION && (rc = migrate_v1(ob)) < 0) {
        snprintf(err, errlen, "%s: cannot upgrade the outbox from version 1: %s", dir,
                 cdof_strerror(rc));
        goto fail;
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
    free((*ob)->pending);
    free(*ob);
    *ob = NULL;
}

void agent_fingerprint_init(agent_fingerprint_t *fp)
{
    fp->hash = 14695981039346656037ull; /* FNV-1a 64 offset basis */
    fp->size = 0;
}

int agent_fingerprint_step(FILE *f, agent_fingerprint_t *fp, size_t max_bytes)
{
    uint64_t h = fp->hash;
    unsigned char buf[64 * 1024];
    size_t n, done = 0;
    while (done < max_bytes && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= 1099511628211ull; /* FNV 64-bit prime */
        }
        fp->size += n;
        done += n;
    }
    fp->hash = h;
    if (ferror(f))
        return -EIO;
    if (!feof(f))
        return 1;
    rewind(f);
    return 0;
}

int agent_fingerprint_stream(FILE *f, agent_fingerprint_t *fp)
{
    agent_fingerprint_init(fp);
    return agent_fingerprint_step(f, fp, SIZE_MAX);
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

static int batch_begin(agent_outbox_t *ob, const agent_fingerprint_t *fp, bool again,
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
    if (rc == 0 && again) {
        b->changed_only = true;
        rc = CDOF_ENOTFOUND;
    }
    if (rc == 0) {
        rc = CDOF_EEXIST;
        goto fail;
    }
    if (rc != CDOF_ENOTFOUND)
        goto fail;
    b->next_seq = meta_u64(b->txn, ob, "next_seq", 1);
    rc = cdof_store_get(b->txn, ob->db[DB_PROGRESS], key, sizeof key, &v);
    if (rc == 0 && v.len == 16) {
        b->done_line = cdof_store_rd64(v.data);
        b->first_seq = cdof_store_rd64((const uint8_t *)v.data + 8);
    } else if (rc != CDOF_ENOTFOUND && rc != 0) {
        goto fail;
    }
    *out = b;
    return 0;
fail:
    cdof_store_abort(&b->txn);
    free(b);
    return rc;
}

int agent_outbox_batch_begin(agent_outbox_t *ob, const agent_fingerprint_t *fp,
                             agent_outbox_batch_t **out)
{
    return batch_begin(ob, fp, false, out);
}

int agent_outbox_batch_begin_again(agent_outbox_t *ob, const agent_fingerprint_t *fp,
                                   agent_outbox_batch_t **out)
{
    return batch_begin(ob, fp, true, out);
}

/* FNV-1a over len bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv(h, s ? s : "", s ? strlen(s) + 1 : 1); /* with the NUL: "ab","c" != "a","bc" */
}

/* What a row is about (its key in "latest") and what it says, leaving out where it came from
 * (file, line), so that the same value from another file compares equal. Returns false for a
 * body that is not a row. */
static bool row_identity(const Cdof__V1__Envelope *env, uint8_t key[9], uint64_t *content)
{
    uint64_t k = 14695981039346656037ull, c = k;
    if (env->body_case == CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE && env->metric_update) {
        const Cdof__V1__MetricUpdate *m = env->metric_update;
        int32_t per[3] = {m->period ? (int32_t)m->period->kind : 0,
                          m->period ? m->period->first_day : 0,
                          m->period ? m->period->last_day : 0};
        k = fnv(fnv_str(fnv_str(k, m->metric_id), m->area_code), per, sizeof per);
        double nums[3] = {m->has_numerator ? m->numerator : 0,
                          m->has_denominator ? m->denominator : 0, m->has_value ? m->value : 0};
        uint8_t has[3] = {m->has_numerator, m->has_denominator, m->has_value};
        c = fnv_str(fnv(fnv(c, has, sizeof has), nums, sizeof nums), m->note);
        key[0] = 'm';
    } else if (env->body_case == CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT && env->milestone_event) {
        const Cdof__V1__MilestoneEvent *e = env->milestone_event;
        k = fnv(fnv_str(fnv_str(k, e->milestone_id), e->partnership), &e->date, sizeof e->date);
        c = fnv_str(fnv_str(c, e->ref), e->note);
        key[0] = 'e';
    } else {
        return false;
    }
    cdof_store_be64(key + 1, k);
    *content = c;
    return true;
}

int agent_outbox_batch_add(agent_outbox_batch_t *b, Cdof__V1__Envelope *env, int64_t now_ms)
{
    uint8_t lkey[9], lval[8];
    uint64_t content;
    bool row = row_identity(env, lkey, &content);
    if (row) {
        cdof_bytes_t was;
        cdof_store_be64(lval, content);
        int grc = cdof_store_get(b->txn, b->ob->db[DB_LATEST], lkey, sizeof lkey, &was);
        if (grc < 0 && grc != CDOF_ENOTFOUND)
            return grc;
        if (b->changed_only && grc == 0 && was.len == sizeof lval &&
            memcmp(was.data, lval, sizeof lval) == 0)
            return 1;
    }
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
    if (rc == 0 && row)
        rc = cdof_store_put(b->txn, b->ob->db[DB_LATEST], lkey, sizeof lkey, lval, sizeof lval);
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
    if (rc == 0 && b->done_line) {
        rc = cdof_store_del(b->txn, ob->db[DB_PROGRESS], key, sizeof key);
        rc = rc == CDOF_ENOTFOUND ? 0 : rc;
    }
    if (rc == 0)
        rc = put_meta_u64(b->txn, ob, "next_seq", b->next_seq);
    if (rc == 0)
        rc = cdof_store_commit(&b->txn);
    cdof_store_abort(&b->txn);
    free(b);
    return rc;
}

uint64_t agent_outbox_batch_done_line(const agent_outbox_batch_t *b)
{
    return b->done_line;
}

int agent_outbox_batch_checkpoint(agent_outbox_batch_t *b, uint64_t done_line)
{
    uint8_t key[16], val[16];
    fp_key(key, &b->fp);
    cdof_store_be64(val, done_line);
    cdof_store_be64(val + 8, b->first_seq);
    int rc = cdof_store_put(b->txn, b->ob->db[DB_PROGRESS], key, sizeof key, val, sizeof val);
    if (rc == 0)
        rc = put_meta_u64(b->txn, b->ob, "next_seq", b->next_seq);
    if (rc == 0)
        rc = cdof_store_commit(&b->txn);
    cdof_store_abort(&b->txn);
    if (rc < 0)
        return rc;
    b->done_line = done_line;
    return cdof_store_begin(b->ob->store, true, &b->txn);
}

void agent_outbox_batch_abort(agent_outbox_batch_t **bp)
{
    if (!bp || !*bp)
        return;
    cdof_store_abort(&(*bp)->txn);
    free(*bp);
    *bp = NULL;
}

int agent_outbox_each_from(agent_outbox_t *ob, uint64_t from, agent_outbox_entry_fn fn, void *ctx)
{
    if (!ob->have[DB_OUTBOX])
        return 0;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, false, &txn);
    if (rc < 0)
        return rc;
    /* Settled entries stay in the outbox under the boundary: never send them. */
    uint64_t high = meta_u64(txn, ob, "acked_high", 0);
    uint8_t key[8];
    be_seq(key, from > high ? from : high + 1);
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t k, v;
    rc = cdof_store_cursor_open(txn, ob->db[DB_OUTBOX], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, key, sizeof key, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v))
        if ((rc = k.len != 8 ? CDOF_ECORRUPT : fn(ctx, cdof_store_rd64(k.data), v.data, v.len)))
            break;
    cdof_store_cursor_close(&c);
    cdof_store_abort(&txn);
    return rc < 0 ? rc : 0;
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

/* Moves one unsettled outbox entry (value v, which a put would invalidate) to "rejected". */
static int reject_one(cdof_store_txn_t *txn, agent_outbox_t *ob, uint64_t seq,
                      const cdof_bytes_t *v, const char *reason, int64_t now_ms)
{
    uint8_t *s = ob->scratch;
    uint8_t key[8];
    be_seq(key, seq);
    size_t rlen = reason ? strnlen(reason, CDOF_WIRE_MAX_TEXT) : 0;
    if (v->len < TS_LEN)
        return CDOF_ECORRUPT;
    cdof_store_be64(s, (uint64_t)now_ms);
    cdof_store_be16(s + TS_LEN, (uint16_t)rlen);
    if (rlen)
        memcpy(s + TS_LEN + 2, reason, rlen);
    memcpy(s + TS_LEN + 2 + rlen, (const uint8_t *)v->data + TS_LEN, v->len - TS_LEN);
    size_t n = TS_LEN + 2 + rlen + v->len - TS_LEN;
    int rc = cdof_store_put(txn, ob->db[DB_REJECTED], key, sizeof key, s, n);
    if (rc == 0)
        rc = cdof_store_del(txn, ob->db[DB_OUTBOX], key, sizeof key);
    return rc;
}

/* --- accepted acks above a gap (kept in memory, sorted) --------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Room for n more pending acks. */
static int pending_reserve(agent_outbox_t *ob, size_t n)
{
    if (ob->n_pending + n <= ob->cap_pending)
        return 0;
    size_t cap = ob->cap_pending ? ob->cap_pending : 256;
    while (cap < ob->n_pending + n)
        cap *= 2;
    uint64_t *p = realloc(ob->pending, cap * sizeof *p);
    if (!p)
        return -ENOMEM;
    ob->pending = p;
    ob->cap_pending = cap;
    return 0;
}

/* Sorts the pending acks and drops repeats: a batch's acks need not come in order (resends). */
static void pending_sort(agent_outbox_t *ob)
{
    if (ob->n_pending < 2)
        return;
    qsort(ob->pending, ob->n_pending, sizeof *ob->pending, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < ob->n_pending; i++)
        if (k == 0 || ob->pending[k - 1] != ob->pending[i])
            ob->pending[k++] = ob->pending[i];
    ob->n_pending = k;
}

/* Forgets pending acks with lo <= seq <= hi. */
static void pending_drop(agent_outbox_t *ob, uint64_t lo, uint64_t hi)
{
    size_t k = 0;
    for (size_t i = 0; i < ob->n_pending; i++)
        if (ob->pending[i] < lo || ob->pending[i] > hi)
            ob->pending[k++] = ob->pending[i];
    ob->n_pending = k;
}

/* --- the boundary ---------------------------------------------------------------------------- */

/* Moves the boundary to high (the settled entries now number retained) and, with mark_ms, marks
 * when (for pruning). */
static int put_boundary(cdof_store_txn_t *txn, agent_outbox_t *ob, uint64_t high, uint64_t retained,
                        const int64_t *mark_ms)
{
    uint8_t key[8], ms[8];
    be_seq(key, high);
    int rc = put_meta_u64(txn, ob, "acked_high", high);
    if (rc == 0)
        rc = put_meta_u64(txn, ob, "retained", retained);
    if (rc == 0 && high > 0 && mark_ms) {
        cdof_store_be64(ms, (uint64_t)*mark_ms);
        rc = cdof_store_put(txn, ob->db[DB_SETTLED], key, sizeof key, ms, sizeof ms);
    }
    return rc;
}

/* Counts outbox entries with lo <= seq <= hi. */
static int count_range(cdof_store_txn_t *txn, agent_outbox_t *ob, uint64_t lo, uint64_t hi,
                       uint64_t *count)
{
    *count = 0;
    uint8_t from[8], to[8];
    be_seq(from, lo);
    be_seq(to, hi == UINT64_MAX ? hi : hi + 1);
    cdof_store_cursor_t *c = NULL;
    int rc = cdof_store_cursor_open(txn, ob->db[DB_OUTBOX], &c);
    for (rc = rc < 0 ? rc
                     : cdof_store_cursor_range(c, from, sizeof from, to, sizeof to, NULL, NULL);
         rc > 0; rc = cdof_store_cursor_next(c, NULL, NULL))
        (*count)++;
    cdof_store_cursor_close(&c);
    return rc;
}

/* Moves *high up over the entries whose acks are pending (sorted), walking the outbox above the
 * boundary while each entry is a pending ack; *count gets how many. Pending acks passed are
 * forgotten even if the caller's commit fails: those entries then stay unsettled and are sent
 * again. */
static int advance(cdof_store_txn_t *txn, agent_outbox_t *ob, uint64_t *high, uint64_t *count)
{
    size_t used = 0; /* pending[0..used) are settled now or not in the outbox */
    uint8_t from[8];
    be_seq(from, *high + 1);
    *count = 0;
    if (!ob->n_pending)
        return 0;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t key;
    int rc = cdof_store_cursor_open(txn, ob->db[DB_OUTBOX], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, from, sizeof from, &key, NULL);
         rc > 0 && used < ob->n_pending; rc = cdof_store_cursor_next(c, &key, NULL)) {
        if (key.len != 8) {
            rc = CDOF_ECORRUPT;
            break;
        }
        uint64_t seq = cdof_store_rd64(key.data);
        while (used < ob->n_pending && ob->pending[used] < seq)
            used++; /* acks for entries no longer kept */
        if (used == ob->n_pending || ob->pending[used] != seq)
            break; /* unsettled: the boundary stops below it */
        used++;
        *high = seq;
        (*count)++;
    }
    cdof_store_cursor_close(&c);
    if (used) {
        ob->n_pending -= used;
        memmove(ob->pending, ob->pending + used, ob->n_pending * sizeof *ob->pending);
    }
    return rc < 0 ? rc : 0;
}

/* Records the boundary high, with added more entries settled below it (if any), and commits. */
static int finish_settle(cdof_store_txn_t **txn, agent_outbox_t *ob, uint64_t high, uint64_t added,
                         int64_t now_ms)
{
    int rc = 0;
    if (added)
        rc = put_boundary(*txn, ob, high, meta_u64(*txn, ob, "retained", 0) + added, &now_ms);
    if (rc == 0)
        rc = put_meta_u64(*txn, ob, "last_ack_ms", (uint64_t)now_ms);
    if (rc == 0)
        rc = cdof_store_commit(txn);
    return rc;
}

int agent_outbox_settle(agent_outbox_t *ob, const agent_settle_t *s, size_t n, int64_t now_ms)
{
    int rc = pending_reserve(ob, n);
    if (rc < 0)
        return rc;
    cdof_store_txn_t *txn = NULL;
    rc = cdof_store_begin(ob->store, true, &txn);
    if (rc < 0)
        return rc;
    uint64_t high = meta_u64(txn, ob, "acked_high", 0), moved = 0;
    bool rejected = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i].seq <= high)
            continue; /* settled already */
        if (!s[i].rejected) {
            ob->pending[ob->n_pending++] = s[i].seq;
            continue;
        }
        rejected = true;
        uint8_t key[8];
        be_seq(key, s[i].seq);
        cdof_bytes_t v;
        rc = cdof_store_get(txn, ob->db[DB_OUTBOX], key, sizeof key, &v);
        if (rc == CDOF_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = reject_one(txn, ob, s[i].seq, &v, s[i].reason, now_ms);
        if (rc < 0)
            break;
    }
    pending_sort(ob);
    if (rc < 0)
        goto fail;
    if (rejected) /* an acceptance of a rejected entry (a late duplicate) must not stay pending */
        for (size_t i = 0; i < n; i++)
            if (s[i].rejected)
                pending_drop(ob, s[i].seq, s[i].seq);
    /* The hub stores in sequence, so acceptances normally extend the settled prefix: no entry
     * moves, the boundary does. An ack above a still unsettled entry waits in memory for it. */
    rc = advance(txn, ob, &high, &moved);
    if (rc == 0)
        rc = finish_settle(&txn, ob, high, moved, now_ms);
fail:
    cdof_store_abort(&txn);
    return rc;
}

int agent_outbox_settle_upto(agent_outbox_t *ob, uint64_t high, int64_t now_ms, uint64_t *count)
{
    *count = 0;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, true, &txn);
    if (rc < 0)
        return rc;
    uint64_t was = meta_u64(txn, ob, "acked_high", 0), n = 0, more = 0;
    if (high > was) {
        rc = count_range(txn, ob, was + 1, high, &n);
        pending_drop(ob, 0, high);
    } else {
        high = was;
    }
    /* Acks waiting above what the hub has now settled may join it. */
    if (rc == 0)
        rc = advance(txn, ob, &high, &more);
    /* Nothing to settle: no commit, as this runs on every heartbeat. */
    if (rc < 0 || n + more == 0)
        goto done;
    rc = finish_settle(&txn, ob, high, n + more, now_ms);
    if (rc == 0)
        *count = n + more;
done:
    cdof_store_abort(&txn);
    return rc;
}

/* Restore: deletes the marks at and above from, keeping the first one's time in *first_ms
 * (*seen: whether there was one). */
static int drop_marks_from(cdof_store_txn_t *txn, agent_outbox_t *ob, uint64_t from, bool *seen,
                           int64_t *first_ms)
{
    uint8_t key[8];
    be_seq(key, from);
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t val;
    *seen = false;
    int rc = cdof_store_cursor_open(txn, ob->db[DB_SETTLED], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, key, sizeof key, NULL, &val); rc > 0;
         rc = cdof_store_cursor_next(c, NULL, &val)) {
        if (val.len != 8) {
            rc = CDOF_ECORRUPT;
            break;
        }
        if (!*seen)
            *first_ms = (int64_t)cdof_store_rd64(val.data);
        *seen = true;
        if ((rc = cdof_store_cursor_del(c)) < 0)
            break;
    }
    cdof_store_cursor_close(&c);
    return rc;
}

int agent_outbox_restore_from(agent_outbox_t *ob, uint64_t from, uint64_t *count)
{
    *count = 0;
    if (from == 0)
        from = 1;
    pending_drop(ob, from, UINT64_MAX);
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, true, &txn);
    if (rc < 0)
        return rc;
    uint64_t high = meta_u64(txn, ob, "acked_high", 0), n = 0;
    if (from > high)
        goto done; /* nothing settled from there */
    rc = count_range(txn, ob, from, high, &n);
    bool marked = false;
    int64_t mark_ms = 0;
    if (rc == 0)
        rc = drop_marks_from(txn, ob, from, &marked, &mark_ms);
    /* The entries kept below the new boundary were settled by the time of the first mark above
     * it, so they keep that time for pruning. */
    uint64_t retained = meta_u64(txn, ob, "retained", 0);
    if (rc == 0)
        rc = put_boundary(txn, ob, from - 1, retained > n ? retained - n : 0,
                          marked ? &mark_ms : NULL);
    if (rc == 0)
        rc = cdof_store_commit(&txn);
    if (rc == 0)
        *count = n;
done:
    cdof_store_abort(&txn);
    return rc;
}

/* Deletes db's keys below to; *n counts them. */
static int drop_below(cdof_store_txn_t *txn, cdof_store_db_t db, const uint8_t to[8], uint64_t *n)
{
    cdof_store_cursor_t *c = NULL;
    int rc = cdof_store_cursor_open(txn, db, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_range(c, NULL, 0, to, 8, NULL, NULL); rc > 0;
         rc = cdof_store_cursor_next(c, NULL, NULL)) {
        if ((rc = cdof_store_cursor_del(c)) < 0)
            break;
        (*n)++;
    }
    cdof_store_cursor_close(&c);
    return rc;
}

/* The newest mark settled before the cut-off (0: none). Marks go up with time, near enough: the
 * walk stops at the first young one. */
static int prune_mark(cdof_store_txn_t *txn, agent_outbox_t *ob, int64_t cutoff_ms, uint64_t *mark)
{
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t key, val;
    *mark = 0;
    int rc = cdof_store_cursor_open(txn, ob->db[DB_SETTLED], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &key, &val); rc > 0;
         rc = cdof_store_cursor_next(c, &key, &val)) {
        if (key.len != 8 || val.len != 8) {
            rc = CDOF_ECORRUPT;
            break;
        }
        if ((int64_t)cdof_store_rd64(val.data) >= cutoff_ms)
            break;
        *mark = cdof_store_rd64(key.data);
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

int agent_outbox_prune(agent_outbox_t *ob, int64_t cutoff_ms, uint64_t *count)
{
    *count = 0;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, true, &txn);
    if (rc < 0)
        return rc;
    uint64_t mark = 0, marks = 0, pruned = 0;
    rc = prune_mark(txn, ob, cutoff_ms, &mark);
    if (rc < 0 || mark == 0)
        goto done;
    uint8_t to[8];
    be_seq(to, mark + 1);
    rc = drop_below(txn, ob->db[DB_SETTLED], to, &marks);
    if (rc == 0)
        rc = drop_below(txn, ob->db[DB_OUTBOX], to, &pruned);
    uint64_t retained = meta_u64(txn, ob, "retained", 0);
    if (rc == 0)
        rc = put_meta_u64(txn, ob, "retained", retained > pruned ? retained - pruned : 0);
    if (rc == 0)
        rc = cdof_store_commit(&txn);
    if (rc == 0)
        *count = pruned;
done:
    cdof_store_abort(&txn);
    return rc;
}

int agent_outbox_stats(agent_outbox_t *ob, agent_outbox_stats_t *st)
{
    memset(st, 0, sizeof *st);
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, false, &txn);
    if (rc < 0)
        return rc;
    st->next_seq = meta_u64(txn, ob, "next_seq", 1);
    st->acked_high = meta_u64(txn, ob, "acked_high", 0);
    st->last_ack_ms = (int64_t)meta_u64(txn, ob, "last_ack_ms", 0);
    st->retained = meta_u64(txn, ob, "retained", 0);
    if (ob->have[DB_OUTBOX]) {
        uint64_t all = 0;
        rc = cdof_store_count(txn, ob->db[DB_OUTBOX], &all);
        st->depth = all > st->retained ? all - st->retained : 0;
        uint8_t key[8];
        be_seq(key, st->acked_high + 1);
        cdof_bytes_t k, v;
        if (rc == 0 &&
            (rc = cdof_store_first(txn, ob->db[DB_OUTBOX], key, sizeof key, &k, &v)) == 0) {
            if (k.len != 8 || v.len < TS_LEN) {
                rc = CDOF_ECORRUPT;
            } else {
                st->oldest_seq = cdof_store_rd64(k.data);
                st->oldest_written_ms = (int64_t)cdof_store_rd64(v.data);
            }
        }
        if (rc == CDOF_ENOTFOUND)
            rc = 0;
    }
    if (rc == 0 && ob->have[DB_REJECTED])
        rc = cdof_store_count(txn, ob->db[DB_REJECTED], &st->rejected);
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

/* Hands one "rejected" record to fn. */
static int rejected_one(const cdof_bytes_t *key, const cdof_bytes_t *val,
                        agent_outbox_rejected_fn fn, void *ctx)
{
    const uint8_t *p = val->data;
    if (key->len != 8 || val->len < TS_LEN + 2)
        return CDOF_ECORRUPT;
    size_t rlen = cdof_store_rd16(p + TS_LEN);
    if (val->len < TS_LEN + 2 + rlen)
        return CDOF_ECORRUPT;
    return fn(ctx, cdof_store_rd64(key->data), (int64_t)cdof_store_rd64(p),
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
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t k, v;
    rc = cdof_store_cursor_open(txn, ob->db[DB_REJECTED], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v))
        if ((rc = rejected_one(&k, &v, fn, ctx)) != 0)
            break;
    cdof_store_cursor_close(&c);
    cdof_store_abort(&txn);
    return rc < 0 ? rc : 0;
}

int agent_outbox_each_file(agent_outbox_t *ob, agent_outbox_file_fn fn, void *ctx)
{
    if (!ob->have[DB_FILES])
        return 0;
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(ob->store, false, &txn);
    if (rc < 0)
        return rc;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t v;
    rc = cdof_store_cursor_open(txn, ob->db[DB_FILES], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, NULL, &v); rc > 0;
         rc = cdof_store_cursor_next(c, NULL, &v)) {
        agent_file_info_t info;
        decode_file(&v, &info);
        if ((rc = fn(ctx, &info)) != 0)
            break;
    }
    cdof_store_cursor_close(&c);
    cdof_store_abort(&txn);
    return rc < 0 ? rc : 0;
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
    uint8_t above[8]; /* settled entries stay where they are */
    be_seq(above, meta_u64(txn, ob, "acked_high", 0) + 1);
    ob->n_pending = 0; /* their numbers change */
    /* Bounded by the outbox: each pass moves its first unsettled entry above high. */
    for (;;) {
        cdof_bytes_t key = {NULL, 0}, val;
        rc = cdof_store_first(txn, ob->db[DB_OUTBOX], above, sizeof above, &key, &val);
        if (rc == CDOF_ENOTFOUND)
            break;
        if (rc < 0)
            goto fail;
        if (key.len != 8 || cdof_store_rd64(key.data) > high)
            break;
        uint8_t old_key[8], new_key[8];
        memcpy(old_key, key.data, 8);
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
