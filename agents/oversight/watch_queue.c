#include "watch_queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_error.h"
#include "cdof_wire.h"

#define SCHEMA         "watch"
#define SCHEMA_VERSION 1
#define NOTE_HEAD      (8 + 8 + 4 + 8)
#define KEY_MAX        480 /* the store's key limit */

enum { DB_META, DB_NOTES, DB_EXPIRED, DB_GROUPS, DB_MEMBERS, DB_COUNT };
static const char *const db_names[DB_COUNT] = {"queue", "notes", "expired", "groups", "members"};

struct watch_queue {
    cdof_store_t *store;
    cdof_store_db_t db[DB_COUNT];
    bool have[DB_COUNT]; /* a read-only open of a young store may lack some */
    bool is_new;
};

/* --- meta --- */

static uint64_t meta_u64(watch_queue_t *q, cdof_store_txn_t *txn, const char *key)
{
    cdof_bytes_t v;
    if (!q->have[DB_META] || cdof_store_get(txn, q->db[DB_META], key, strlen(key), &v) < 0 ||
        v.len != 8)
        return 0;
    return cdof_store_rd64(v.data);
}

static int put_meta_u64(watch_queue_t *q, cdof_store_txn_t *txn, const char *key, uint64_t v)
{
    uint8_t b[8];
    cdof_store_be64(b, v);
    return cdof_store_put(txn, q->db[DB_META], key, strlen(key), b, sizeof b);
}

static int bump(watch_queue_t *q, cdof_store_txn_t *txn, const char *key)
{
    return put_meta_u64(q, txn, key, meta_u64(q, txn, key) + 1);
}

int watch_queue_open(const char *dir, bool read_only, watch_queue_t **out, char *err, size_t errlen)
{
    *out = NULL;
    watch_queue_t *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    cdof_store_opts_t opts = {.schema = SCHEMA,
                              .schema_version = SCHEMA_VERSION,
                              .map_size = 8u << 20,
                              .max_map_size = 4ull << 30,
                              .max_dbs = 8,
                              .read_only = read_only};
    int rc = cdof_store_open(dir, &opts, &q->store, err, errlen);
    for (int i = 0; rc == 0 && i < DB_COUNT; i++) {
        int r = cdof_store_db(q->store, db_names[i], &q->db[i]);
        if (r == 0)
            q->have[i] = true;
        else if (!(read_only && r == CDOF_ENOTFOUND))
            rc = r;
    }
    cdof_store_txn_t *txn = NULL;
    if (rc == 0 && (rc = cdof_store_begin(q->store, !read_only, &txn)) == 0) {
        cdof_bytes_t v;
        if (!(q->have[DB_META] && cdof_store_get(txn, q->db[DB_META], "created", 7, &v) == 0) &&
            !read_only) {
            q->is_new = true;
            rc = cdof_store_put(txn, q->db[DB_META], "created", 7, "", 0);
            if (rc == 0)
                rc = cdof_store_commit(&txn);
        }
        cdof_store_abort(&txn);
    }
    if (rc < 0) {
        if (!*err)
            snprintf(err, errlen, "%s: %s", dir, cdof_strerror(rc));
        watch_queue_close(&q);
        return rc;
    }
    *out = q;
    return 0;
}

void watch_queue_close(watch_queue_t **q)
{
    if (!q || !*q)
        return;
    cdof_store_close(&(*q)->store);
    free(*q);
    *q = NULL;
}

bool watch_queue_is_new(const watch_queue_t *q)
{
    return q->is_new;
}

int watch_queue_begin(watch_queue_t *q, bool write, cdof_store_txn_t **txn)
{
    return cdof_store_begin(q->store, write, txn);
}

int watch_queue_last_seq(watch_queue_t *q, cdof_store_txn_t *txn, uint64_t *seq)
{
    *seq = meta_u64(q, txn, "last_seq");
    return 0;
}

int watch_queue_set_last_seq(watch_queue_t *q, cdof_store_txn_t *txn, uint64_t seq)
{
    return put_meta_u64(q, txn, "last_seq", seq);
}

/* --- notices --- */

static int note_encode(const watch_note_t *n, uint8_t **out, size_t *len)
{
    size_t lr = strlen(n->receiver) + 1, lk = strlen(n->key) + 1;
    size_t ls = strlen(n->subject ? n->subject : "") + 1;
    size_t total = NOTE_HEAD + lr + lk + ls + n->body_len;
    uint8_t *b = malloc(total);
    if (!b)
        return -ENOMEM;
    cdof_store_be64(b, (uint64_t)n->created_ms);
    cdof_store_be64(b + 8, (uint64_t)n->next_ms);
    cdof_store_be32(b + 16, n->attempts);
    cdof_store_be64(b + 20, n->alert_seq);
    uint8_t *p = b + NOTE_HEAD;
    memcpy(p, n->receiver, lr);
    memcpy(p += lr, n->key, lk);
    memcpy(p += lk, n->subject ? n->subject : "", ls);
    if (n->body_len)
        memcpy(p + ls, n->body, n->body_len);
    *out = b;
    *len = total;
    return 0;
}

static char *dup_part(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *z = memchr(*p, '\0', (size_t)(end - *p));
    if (!z)
        return NULL;
    char *s = strdup((const char *)*p);
    *p = z + 1;
    return s;
}

static int note_decode(uint64_t id, const cdof_bytes_t *v, watch_note_t *n)
{
    memset(n, 0, sizeof *n);
    if (v->len < NOTE_HEAD + 3)
        return CDOF_ECORRUPT;
    const uint8_t *b = v->data, *end = b + v->len, *p = b + NOTE_HEAD;
    n->id = id;
    n->created_ms = (int64_t)cdof_store_rd64(b);
    n->next_ms = (int64_t)cdof_store_rd64(b + 8);
    n->attempts = cdof_store_rd32(b + 16);
    n->alert_seq = cdof_store_rd64(b + 20);
    n->receiver = dup_part(&p, end);
    n->key = n->receiver ? dup_part(&p, end) : NULL;
    n->subject = n->key ? dup_part(&p, end) : NULL;
    if (!n->subject) {
        watch_queue_note_clear(n);
        return CDOF_ECORRUPT;
    }
    n->body_len = (size_t)(end - p);
    if (!(n->body = malloc(n->body_len + 1))) {
        watch_queue_note_clear(n);
        return -ENOMEM;
    }
    memcpy(n->body, p, n->body_len);
    n->body[n->body_len] = '\0';
    return 0;
}

void watch_queue_note_clear(watch_note_t *n)
{
    free(n->receiver);
    free(n->key);
    free(n->subject);
    free(n->body);
    memset(n, 0, sizeof *n);
}

int watch_queue_note_key(watch_queue_t *q, cdof_store_txn_t *txn, char *buf, size_t len)
{
    uint64_t id = meta_u64(q, txn, "next_id") + 1;
    if ((size_t)snprintf(buf, len, "%s-%llu", cdof_store_id(q->store), (unsigned long long)id) >=
        len)
        return -ENAMETOOLONG;
    return 0;
}

int watch_queue_note_add(watch_queue_t *q, cdof_store_txn_t *txn, watch_note_t *note, char *keybuf,
                         size_t keylen)
{
    uint64_t id = meta_u64(q, txn, "next_id") + 1;
    note->id = id;
    if (!note->key) {
        int rc = watch_queue_note_key(q, txn, keybuf, keylen);
        if (rc < 0)
            return rc;
        note->key = keybuf;
    }
    uint8_t *v;
    size_t len;
    int rc = note_encode(note, &v, &len);
    if (rc < 0)
        return rc;
    uint8_t k[8];
    cdof_store_be64(k, id);
    rc = cdof_store_put(txn, q->db[DB_NOTES], k, sizeof k, v, len);
    free(v);
    if (rc == 0)
        rc = put_meta_u64(q, txn, "next_id", id);
    return rc;
}

int watch_queue_due(watch_queue_t *q, int64_t now_ms, watch_queue_skip_fn skip, void *ctx,
                    uint64_t *ids, size_t cap, size_t *n)
{
    *n = 0;
    if (!q->have[DB_NOTES] || !cap)
        return 0;
    cdof_store_txn_t *txn;
    int rc = cdof_store_begin(q->store, false, &txn);
    if (rc < 0)
        return rc;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t k, v;
    rc = cdof_store_cursor_open(txn, q->db[DB_NOTES], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &k, &v); rc > 0 && *n < cap;
         rc = cdof_store_cursor_next(c, &k, &v)) {
        const uint8_t *b = v.data;
        if (k.len != 8 || v.len < NOTE_HEAD + 1 || !memchr(b + NOTE_HEAD, '\0', v.len - NOTE_HEAD))
            continue;
        if ((int64_t)cdof_store_rd64(b + 8) > now_ms ||
            (skip && skip(ctx, (const char *)b + NOTE_HEAD)))
            continue;
        ids[(*n)++] = cdof_store_rd64(k.data);
    }
    cdof_store_cursor_close(&c);
    cdof_store_abort(&txn);
    return rc < 0 ? rc : 0;
}

int watch_queue_note_get(watch_queue_t *q, uint64_t id, watch_note_t *out)
{
    memset(out, 0, sizeof *out);
    if (!q->have[DB_NOTES])
        return CDOF_ENOTFOUND;
    cdof_store_txn_t *txn;
    int rc = cdof_store_begin(q->store, false, &txn);
    if (rc < 0)
        return rc;
    uint8_t k[8];
    cdof_store_be64(k, id);
    cdof_bytes_t v;
    rc = cdof_store_get(txn, q->db[DB_NOTES], k, sizeof k, &v);
    if (rc == 0)
        rc = note_decode(id, &v, out);
    cdof_store_abort(&txn);
    return rc;
}

/* One write transaction on notice id: what = 'd' done, 'r' retry, 'x' expire. */
static int note_settle(watch_queue_t *q, uint64_t id, char what, int64_t when_ms)
{
    cdof_store_txn_t *txn;
    int rc = cdof_store_begin(q->store, true, &txn);
    if (rc < 0)
        return rc;
    uint8_t k[8];
    cdof_store_be64(k, id);
    cdof_bytes_t v;
    uint8_t *copy = NULL;
    rc = cdof_store_get(txn, q->db[DB_NOTES], k, sizeof k, &v);
    if (rc == 0 && v.len < NOTE_HEAD)
        rc = CDOF_ECORRUPT;
    if (rc == 0 && !(copy = malloc(v.len + 8)))
        rc = -ENOMEM;
    if (rc == 0) {
        size_t len = v.len;
        memcpy(copy + 8, v.data, len); /* the put below invalidates v */
        if (what == 'd') {
            rc = cdof_store_del(txn, q->db[DB_NOTES], k, sizeof k);
            if (rc == 0)
                rc = bump(q, txn, "delivered");
        } else if (what == 'r') {
            uint8_t *h = copy + 8;
            cdof_store_be64(h + 8, (uint64_t)when_ms);
            cdof_store_be32(h + 16, cdof_store_rd32(h + 16) + 1);
            rc = cdof_store_put(txn, q->db[DB_NOTES], k, sizeof k, h, len);
            if (rc == 0)
                rc = bump(q, txn, "failed");
        } else {
            cdof_store_be64(copy, (uint64_t)when_ms);
            uint8_t *h = copy + 8;
            cdof_store_be32(h + 16, cdof_store_rd32(h + 16) + 1); /* its last attempt failed */
            rc = cdof_store_put(txn, q->db[DB_EXPIRED], k, sizeof k, copy, len + 8);
            if (rc == 0)
                rc = cdof_store_del(txn, q->db[DB_NOTES], k, sizeof k);
            if (rc == 0)
                rc = bump(q, txn, "failed");
            if (rc == 0)
                rc = bump(q, txn, "expired");
        }
    }
    free(copy);
    if (rc == 0)
        rc = cdof_store_commit(&txn);
    cdof_store_abort(&txn);
    return rc;
}

int watch_queue_note_done(watch_queue_t *q, uint64_t id)
{
    return note_settle(q, id, 'd', 0);
}

int watch_queue_note_retry(watch_queue_t *q, uint64_t id, int64_t next_ms)
{
    return note_settle(q, id, 'r', next_ms);
}

int watch_queue_note_expire(watch_queue_t *q, uint64_t id, int64_t now_ms)
{
    return note_settle(q, id, 'x', now_ms);
}

int64_t watch_queue_backoff_ms(uint32_t failures, long initial_ms, long max_ms, double r)
{
    int64_t d = initial_ms;
    for (uint32_t i = 1; i < failures && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    if (r < 0 || r >= 1)
        r = 0;
    return d / 2 + (int64_t)((double)(d - d / 2) * r);
}

int watch_queue_counters(watch_queue_t *q, watch_counters_t *out)
{
    memset(out, 0, sizeof *out);
    cdof_store_txn_t *txn;
    int rc = cdof_store_begin(q->store, false, &txn);
    if (rc < 0)
        return rc;
    out->delivered = meta_u64(q, txn, "delivered");
    out->failed = meta_u64(q, txn, "failed");
    out->expired = meta_u64(q, txn, "expired");
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t v;
    if (q->have[DB_NOTES] && (rc = cdof_store_cursor_open(txn, q->db[DB_NOTES], &c)) == 0)
        for (rc = cdof_store_cursor_seek(c, NULL, 0, NULL, &v); rc > 0;
             rc = cdof_store_cursor_next(c, NULL, &v)) {
            out->queued++;
            if (v.len >= NOTE_HEAD && cdof_store_rd32((const uint8_t *)v.data + 16) > 0)
                out->retrying++;
        }
    cdof_store_cursor_close(&c);
    cdof_store_abort(&txn);
    return rc < 0 ? rc : 0;
}

const char *watch_queue_store_id(const watch_queue_t *q)
{
    return cdof_store_id(q->store);
}

/* Hands one "expired" record (expired_ms | note) to fn. */
static int expired_one(const cdof_bytes_t *k, const cdof_bytes_t *v, watch_queue_expired_fn fn,
                       void *ctx)
{
    if (k->len != 8 || v->len < 8)
        return CDOF_ECORRUPT;
    cdof_bytes_t note = {(const uint8_t *)v->data + 8, v->len - 8};
    watch_note_t n;
    int rc = note_decode(cdof_store_rd64(k->data), &note, &n);
    if (rc < 0)
        return rc;
    rc = fn(ctx, (int64_t)cdof_store_rd64(v->data), &n);
    watch_queue_note_clear(&n);
    return rc;
}

int watch_queue_each_expired(watch_queue_t *q, watch_queue_expired_fn fn, void *ctx)
{
    if (!q->have[DB_EXPIRED])
        return 0;
    cdof_store_txn_t *txn;
    int rc = cdof_store_begin(q->store, false, &txn);
    if (rc < 0)
        return rc;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t k, v;
    rc = cdof_store_cursor_open(txn, q->db[DB_EXPIRED], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v))
        if ((rc = expired_one(&k, &v, fn, ctx)) != 0)
            break;
    cdof_store_cursor_close(&c);
    cdof_store_abort(&txn);
    return rc < 0 ? rc : 0;
}

/* --- groups and members --- */

/* Builds "a NUL b [NUL c]" into k. Returns its length or -ENAMETOOLONG. */
static long join_key(uint8_t *k, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    size_t total = la + 1 + lb + (c ? 1 + lc : 0);
    if (total > KEY_MAX)
        return -ENAMETOOLONG;
    memcpy(k, a, la);
    k[la] = '\0';
    memcpy(k + la + 1, b, lb);
    if (c) {
        k[la + 1 + lb] = '\0';
        memcpy(k + la + 2 + lb, c, lc);
    }
    return (long)total;
}

static void group_decode(const cdof_bytes_t *v, watch_group_t *g)
{
    const uint8_t *b = v->data;
    memset(g, 0, sizeof *g);
    if (v->len < 18)
        return;
    g->created_ms = (int64_t)cdof_store_rd64(b);
    g->flushed_ms = (int64_t)cdof_store_rd64(b + 8);
    g->changed = b[16];
    g->repeatable = b[17];
}

int watch_queue_group_get(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                          const char *group, watch_group_t *g)
{
    uint8_t k[KEY_MAX];
    long kl = join_key(k, route, group, NULL);
    if (kl < 0)
        return (int)kl;
    cdof_bytes_t v;
    int rc = cdof_store_get(txn, q->db[DB_GROUPS], k, (size_t)kl, &v);
    if (rc == 0)
        group_decode(&v, g);
    return rc;
}

int watch_queue_group_put(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                          const char *group, const watch_group_t *g)
{
    uint8_t k[KEY_MAX], v[18];
    long kl = join_key(k, route, group, NULL);
    if (kl < 0)
        return (int)kl;
    cdof_store_be64(v, (uint64_t)g->created_ms);
    cdof_store_be64(v + 8, (uint64_t)g->flushed_ms);
    v[16] = g->changed;
    v[17] = g->repeatable;
    return cdof_store_put(txn, q->db[DB_GROUPS], k, (size_t)kl, v, sizeof v);
}

int watch_queue_group_del(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                          const char *group)
{
    uint8_t k[KEY_MAX];
    long kl = join_key(k, route, group, NULL);
    if (kl < 0)
        return (int)kl;
    int rc = cdof_store_del(txn, q->db[DB_GROUPS], k, (size_t)kl);
    if (rc == CDOF_ENOTFOUND)
        rc = 0;
    k[kl] = '\0'; /* members are "route NUL group NUL ..." */
    cdof_store_cursor_t *c = NULL;
    if (rc == 0 && (rc = cdof_store_cursor_open(txn, q->db[DB_MEMBERS], &c)) == 0)
        for (rc = cdof_store_cursor_prefix(c, k, (size_t)kl + 1, NULL, NULL); rc > 0;
             rc = cdof_store_cursor_next(c, NULL, NULL))
            if ((rc = cdof_store_cursor_del(c)) < 0)
                break;
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

int watch_queue_each_group(watch_queue_t *q, cdof_store_txn_t *txn, watch_queue_group_fn fn,
                           void *ctx)
{
    if (!q->have[DB_GROUPS])
        return 0;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t k, v;
    int rc = cdof_store_cursor_open(txn, q->db[DB_GROUPS], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v)) {
        char key[KEY_MAX + 1];
        if (k.len > KEY_MAX)
            continue; /* not a key this queue wrote */
        memcpy(key, k.data, k.len);
        key[k.len] = '\0';
        size_t lr = strlen(key);
        if (lr >= k.len)
            continue; /* not route NUL group */
        watch_group_t g;
        group_decode(&v, &g);
        if ((rc = fn(ctx, key, key + lr + 1, &g)) != 0)
            break;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

int watch_queue_member_get(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                           const char *group, const char *dedupe, uint8_t *flags,
                           Cdof__V1__Alert **alert)
{
    *alert = NULL;
    uint8_t k[KEY_MAX];
    long kl = join_key(k, route, group, dedupe);
    if (kl < 0)
        return (int)kl;
    cdof_bytes_t v;
    int rc = cdof_store_get(txn, q->db[DB_MEMBERS], k, (size_t)kl, &v);
    if (rc < 0)
        return rc;
    if (v.len < 1)
        return CDOF_ECORRUPT;
    *flags = ((const uint8_t *)v.data)[0];
    *alert = cdof__v1__alert__unpack(NULL, v.len - 1, (const uint8_t *)v.data + 1);
    return *alert ? 0 : CDOF_ECORRUPT;
}

int watch_queue_member_put(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                           const char *group, const char *dedupe, uint8_t flags,
                           const Cdof__V1__Alert *alert)
{
    uint8_t k[KEY_MAX];
    long kl = join_key(k, route, group, dedupe);
    if (kl < 0)
        return (int)kl;
    size_t n = cdof__v1__alert__get_packed_size(alert);
    uint8_t *v = malloc(n + 1);
    if (!v)
        return -ENOMEM;
    v[0] = flags;
    cdof__v1__alert__pack(alert, v + 1);
    int rc = cdof_store_put(txn, q->db[DB_MEMBERS], k, (size_t)kl, v, n + 1);
    free(v);
    return rc;
}

int watch_queue_member_del(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                           const char *group, const char *dedupe)
{
    uint8_t k[KEY_MAX];
    long kl = join_key(k, route, group, dedupe);
    if (kl < 0)
        return (int)kl;
    return cdof_store_del(txn, q->db[DB_MEMBERS], k, (size_t)kl);
}

int watch_queue_each_member(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                            const char *group, watch_queue_member_fn fn, void *ctx)
{
    if (!q->have[DB_MEMBERS])
        return 0;
    uint8_t k[KEY_MAX];
    long kl = join_key(k, route, group, NULL);
    if (kl < 0 || (size_t)kl + 1 > KEY_MAX)
        return -ENAMETOOLONG;
    k[kl] = '\0';
    size_t plen = (size_t)kl + 1;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t mk, v;
    int rc = cdof_store_cursor_open(txn, q->db[DB_MEMBERS], &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_prefix(c, k, plen, &mk, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &mk, &v)) {
        Cdof__V1__Alert *a = NULL;
        if (v.len < 1 || mk.len - plen > KEY_MAX ||
            !(a = cdof__v1__alert__unpack(NULL, v.len - 1, (const uint8_t *)v.data + 1))) {
            rc = CDOF_ECORRUPT;
            break;
        }
        char dedupe[KEY_MAX + 1];
        memcpy(dedupe, (const uint8_t *)mk.data + plen, mk.len - plen);
        dedupe[mk.len - plen] = '\0';
        if ((rc = fn(ctx, dedupe, ((const uint8_t *)v.data)[0], a)) != 0)
            break;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}
