/* Silences as records (PROTOCOL.md "Queries"): each silence is stored under its own id with the
 * person who asked, the key that vouched for them, when, why, until when, and the scope (team and
 * region) of that key. Silencing a matcher again makes a new record; ending one early marks it
 * ended, and nothing is ever deleted, so the history of who muted what stays queryable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_wire.h"
#include "hub_silences.h"
#include "hub_rules.h"

#define DAY_MS       (24LL * 3600 * 1000)
#define LIST_MAX     10000            /* records in one answer: the page cap of every other list */
#define LEGACY_DB    "alert_silences" /* silences keyed by matcher, before records */
#define RECORDS_DB   "silence_records"
#define NEXT_ID_META "silence_next_id"

struct hub_silences {
    cdof_store_t *store;
    const cdof_ref_t *ref;
    cdof_store_db_t db;
    long max_days;
};

static int record_put(cdof_store_txn_t *txn, hub_silences_t *sl, const Cdof__V1__Silence *s)
{
    uint8_t *buf, key[8];
    size_t len;
    int rc = cdof_wire_pack(&s->base, &buf, &len);
    if (rc < 0)
        return rc;
    cdof_store_be64(key, s->id);
    rc = cdof_store_put(txn, sl->db, key, sizeof key, buf, len);
    free(buf);
    return rc;
}

/* The next free record id (from 1): one past the last stored. */
static int next_id(hub_silences_t *sl, cdof_store_txn_t *txn, uint64_t *out)
{
    cdof_bytes_t k, v;
    int rc = cdof_store_last(txn, sl->db, &k, &v);
    if (rc == CDOF_ENOTFOUND) {
        *out = 1;
        return 0;
    }
    if (rc < 0)
        return rc;
    if (k.len != 8)
        return CDOF_ECORRUPT;
    *out = cdof_store_rd64(k.data) + 1;
    return 0;
}

/* Moves c to the first (first) or next entry and decodes it into *s (owned by the caller:
 * cdof__v1__silence__free_unpacked). Returns 1, 0 at the end, CDOF_ECORRUPT or a store failure. */
static int silence_next(cdof_store_cursor_t *c, bool first, Cdof__V1__Silence **s)
{
    cdof_bytes_t v;
    int rc =
        first ? cdof_store_cursor_seek(c, NULL, 0, NULL, &v) : cdof_store_cursor_next(c, NULL, &v);
    if (rc <= 0)
        return rc;
    *s = cdof__v1__silence__unpack(NULL, v.len, v.data);
    return *s ? 1 : CDOF_ECORRUPT;
}

/* Moves every entry of legacy into records numbered from id on; *moved says how many. */
static int move_legacy(hub_silences_t *sl, cdof_store_txn_t *txn, cdof_store_db_t legacy,
                       uint64_t id, uint64_t *moved)
{
    cdof_store_cursor_t *c;
    Cdof__V1__Silence *s;
    int rc = cdof_store_cursor_open(txn, legacy, &c);
    for (rc = rc < 0 ? rc : silence_next(c, true, &s); rc > 0; rc = silence_next(c, false, &s)) {
        s->id = id++;
        rc = record_put(txn, sl, s);
        cdof__v1__silence__free_unpacked(s, NULL);
        if (rc < 0 || (rc = cdof_store_cursor_del(c)) < 0)
            break;
        (*moved)++;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

/* Silences stored before records (one per matcher, no id) become records, with no key: nobody
 * was authenticated for them. The old entries are then removed, so this runs once. */
static int migrate(hub_silences_t *sl)
{
    cdof_store_db_t legacy;
    int rc = cdof_store_db(sl->store, LEGACY_DB, &legacy);
    if (rc < 0)
        return rc;
    cdof_store_txn_t *txn = NULL;
    if ((rc = cdof_store_begin(sl->store, true, &txn)) < 0)
        return rc;
    uint64_t n = 0, id = 0, moved = 0;
    if ((rc = cdof_store_count(txn, legacy, &n)) == 0 && n > 0 && (rc = next_id(sl, txn, &id)) == 0)
        rc = move_legacy(sl, txn, legacy, id, &moved);
    if (rc == 0 && n > 0)
        rc = cdof_store_commit(&txn);
    cdof_store_abort(&txn);
    if (rc == 0 && moved)
        cdof_log_info("silences: %llu silence(s) from before silence records kept as records",
                      (unsigned long long)moved);
    return rc;
}

int hub_silences_open(cdof_store_t *store, const cdof_ref_t *ref, long max_days,
                      hub_silences_t **out)
{
    *out = NULL;
    hub_silences_t *sl = calloc(1, sizeof *sl);
    if (!sl)
        return -ENOMEM;
    sl->store = store;
    sl->ref = ref;
    sl->max_days = max_days;
    int rc = cdof_store_db(store, RECORDS_DB, &sl->db);
    if (rc == 0)
        rc = migrate(sl);
    if (rc < 0)
        free(sl);
    else
        *out = sl;
    return rc;
}

void hub_silences_destroy(hub_silences_t **sl)
{
    free(*sl);
    *sl = NULL;
}

/* The region an alert for area has: its own for a region, England's for England (and anything
 * unknown), its region's for an upper-tier area. */
static const char *region_of(const hub_silences_t *sl, const char *area)
{
    const cdof_area_t *a = area ? cdof_ref_area(sl->ref, area) : NULL;
    if (!a || a->kind == CDOF_AREA_ENGLAND)
        return CDOF_ENGLAND_CODE;
    return a->kind == CDOF_AREA_REGION ? a->code : a->region_code ? a->region_code : "";
}

/* A matcher's part (0 rule, 1 subject, 2 area) into buf. */
static void matcher_part(const char *matcher, int part, char *buf, size_t len)
{
    const char *p = matcher;
    for (int i = 0; i < part && p; i++)
        if ((p = strchr(p, '|')))
            p++;
    size_t n = p ? strcspn(p, "|") : 0;
    snprintf(buf, len, "%.*s", (int)n, p ? p : "");
}

/* Whether party may silence matcher: an area it names must be in the party's region, a metric
 * it names of the party's team. A "*" is read as "within my scope" (the record keeps the scope). */
static int scope_check(hub_silences_t *sl, const hub_party_t *party, const char *matcher, char *err,
                       size_t errlen)
{
    if (!party)
        return 0;
    if (!party->may_act) {
        snprintf(err, errlen,
                 "key '%s' (%s) may only read: it has no team to act for in the hub's key "
                 "registry",
                 party->id, hub_role_name(party->role));
        return -EACCES;
    }
    char subject[CDOF_WIRE_MAX_TEXT], area[CDOF_WIRE_MAX_TEXT];
    matcher_part(matcher, 1, subject, sizeof subject);
    matcher_part(matcher, 2, area, sizeof area);
    const cdof_metric_t *m = strcmp(subject, "*") ? cdof_ref_metric(sl->ref, subject) : NULL;
    if (m && !hub_party_covers(party, m->team, party->region)) {
        snprintf(err, errlen, "key '%s' acts for team %s, and %s is team %s's metric", party->id,
                 party->team, m->id, m->team);
        return -EACCES;
    }
    if (strcmp(area, "*") != 0 && !hub_party_covers(party, party->team, region_of(sl, area))) {
        snprintf(err, errlen, "key '%s' acts for region %s, and %.16s is not in it", party->id,
                 party->region, area);
        return -EACCES;
    }
    return 0;
}

int hub_silences_add(hub_silences_t *sl, const hub_party_t *party, const Cdof__V1__Silence *s,
                     Cdof__V1__Silence **out, char *err, size_t errlen)
{
    *out = NULL;
    int64_t now = cdof_clock_now_ms();
    int64_t max_ms = (int64_t)sl->max_days * DAY_MS;
    if (!s->matcher || hub_rules_matcher_check(s->matcher, err, errlen) < 0)
        return CDOF_EINVALID;
    if (!s->by || !*s->by) {
        snprintf(err, errlen, "a silence needs the name of the person (--by NAME)");
        return CDOF_EINVALID;
    }
    if (s->until_ms <= now) {
        snprintf(err, errlen, "a silence must end in the future (--until)");
        return CDOF_EINVALID;
    }
    if (s->until_ms - now > max_ms) {
        snprintf(err, errlen, "a silence may last at most %ld days (the hub's --silence-max-days)",
                 sl->max_days);
        return CDOF_EINVALID;
    }
    if (!s->reason || !*s->reason) {
        snprintf(err, errlen, "a silence needs a reason (--reason TEXT)");
        return CDOF_EINVALID;
    }
    int rc = scope_check(sl, party, s->matcher, err, errlen);
    if (rc < 0)
        return rc;
    Cdof__V1__Silence rec = CDOF__V1__SILENCE__INIT;
    rec.matcher = s->matcher;
    rec.until_ms = s->until_ms;
    rec.reason = s->reason;
    rec.by = s->by;
    rec.created_ms = now;
    rec.key_id = party ? (char *)party->id : "";
    rec.scope_team = party ? (char *)party->team : "";
    rec.scope_region = party ? (char *)party->region : "";
    cdof_store_txn_t *txn = NULL;
    if ((rc = cdof_store_begin(sl->store, true, &txn)) == 0 &&
        (rc = next_id(sl, txn, &rec.id)) == 0 && (rc = record_put(txn, sl, &rec)) == 0)
        rc = cdof_store_commit(&txn);
    cdof_store_abort(&txn);
    if (rc < 0)
        return rc;
    uint8_t *buf;
    size_t len;
    if ((rc = cdof_wire_pack(&rec.base, &buf, &len)) < 0)
        return rc;
    *out = cdof__v1__silence__unpack(NULL, len, buf);
    free(buf);
    cdof_log_info("silence #%llu %s until %lld by %s (key %s): %s", (unsigned long long)rec.id,
                  rec.matcher, (long long)rec.until_ms, rec.by, *rec.key_id ? rec.key_id : "-",
                  rec.reason);
    return *out ? 0 : -ENOMEM;
}

int hub_silences_end(hub_silences_t *sl, const hub_party_t *party, const Cdof__V1__Unsilence *u,
                     Cdof__V1__Silence **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!u->by || !*u->by) {
        snprintf(err, errlen, "ending a silence needs the name of the person (--by NAME)");
        return CDOF_EINVALID;
    }
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(sl->store, true, &txn);
    if (rc < 0)
        return rc;
    uint8_t key[8];
    cdof_store_be64(key, u->id);
    cdof_bytes_t v;
    Cdof__V1__Silence *s = NULL;
    int64_t now = cdof_clock_now_ms();
    if ((rc = cdof_store_get(txn, sl->db, key, sizeof key, &v)) < 0) {
        if (rc == CDOF_ENOTFOUND)
            snprintf(err, errlen, "there is no silence #%llu", (unsigned long long)u->id);
        goto out;
    }
    if (!(s = cdof__v1__silence__unpack(NULL, v.len, v.data))) {
        rc = CDOF_ECORRUPT;
        goto out;
    }
    if (s->ended_ms || s->until_ms <= now) {
        snprintf(err, errlen, "silence #%llu has already %s", (unsigned long long)u->id,
                 s->ended_ms ? "been ended" : "expired");
        rc = CDOF_EINVALID;
        goto out;
    }
    /* Only a key whose scope holds the silence's may end it: a regional key cannot lift what
     * JCDU or another region put in place. */
    if (party && (!party->may_act || !hub_party_covers(party, s->scope_team, s->scope_region) ||
                  (*party->team && !*s->scope_team) || (*party->region && !*s->scope_region))) {
        snprintf(err, errlen, "key '%s' may not end silence #%llu, made for %s%s%s", party->id,
                 (unsigned long long)u->id, *s->scope_team ? s->scope_team : "every team",
                 *s->scope_region ? " in " : "", s->scope_region);
        rc = -EACCES;
        goto out;
    }
    s->ended_ms = now;
    s->ended_by = u->by;
    s->ended_key_id = party ? (char *)party->id : "";
    if ((rc = record_put(txn, sl, s)) == 0)
        rc = cdof_store_commit(&txn);
    if (rc == 0) {
        uint8_t *buf;
        size_t len;
        if ((rc = cdof_wire_pack(&s->base, &buf, &len)) == 0) {
            *out = cdof__v1__silence__unpack(NULL, len, buf);
            free(buf);
            rc = *out ? 0 : -ENOMEM;
        }
        cdof_log_info("silence #%llu %s ended by %s (key %s)", (unsigned long long)u->id,
                      s->matcher, u->by, party ? party->id : "-");
    }
    /* Fields set above point into u and the registry: not to be freed with s. */
    s->ended_by = NULL;
    s->ended_key_id = NULL;
out:
    cdof_store_abort(&txn);
    if (s)
        cdof__v1__silence__free_unpacked(s, NULL);
    return rc;
}

/* In force at now: not ended, not expired. */
static bool in_force(const Cdof__V1__Silence *s, int64_t now)
{
    return !s->ended_ms && s->until_ms > now;
}

int hub_silences_list(hub_silences_t *sl, cdof_store_txn_t *txn, bool history,
                      Cdof__V1__Silence ***out, size_t *n)
{
    Cdof__V1__Silence **items = calloc(LIST_MAX, sizeof *items);
    size_t count = 0;
    int64_t now = cdof_clock_now_ms();
    if (!items)
        return -ENOMEM;
    cdof_store_cursor_t *c;
    Cdof__V1__Silence *s;
    int rc = cdof_store_cursor_open(txn, sl->db, &c);
    for (rc = rc < 0 ? rc : silence_next(c, true, &s); rc > 0 && count < LIST_MAX;
         rc = silence_next(c, false, &s)) {
        if (history || in_force(s, now))
            items[count++] = s;
        else
            cdof__v1__silence__free_unpacked(s, NULL);
    }
    cdof_store_cursor_close(&c);
    *out = items;
    *n = count;
    return rc < 0 ? rc : 0;
}

/* Whether silence s, in force at now, mutes key (of team and region); if so its reason into why. */
static bool silence_mutes(const Cdof__V1__Silence *s, int64_t now, const char *key,
                          const char *team, const char *region, char *why, size_t len)
{
    /* The record's scope limits what its "*" parts reach. */
    bool scoped = (!s->scope_team || !*s->scope_team || !strcmp(s->scope_team, team)) &&
                  (!s->scope_region || !*s->scope_region || !strcmp(s->scope_region, region));
    if (!in_force(s, now) || !scoped || !s->matcher || !hub_rules_key_matches(s->matcher, key))
        return false;
    char until[32];
    cdof_clock_format(s->until_ms, until, sizeof until);
    snprintf(why, len, "silenced until %s by %s%s%s: %s (silence #%llu)", until,
             s->by && *s->by ? s->by : "-", s->key_id && *s->key_id ? " via " : "",
             s->key_id ? s->key_id : "", s->reason ? s->reason : "", (unsigned long long)s->id);
    return true;
}

int hub_silences_match(hub_silences_t *sl, cdof_store_txn_t *txn, const char *key, const char *team,
                       const char *region, char *why, size_t len)
{
    why[0] = '\0';
    int64_t now = cdof_clock_now_ms();
    cdof_store_cursor_t *c;
    Cdof__V1__Silence *s;
    int rc = cdof_store_cursor_open(txn, sl->db, &c);
    for (rc = rc < 0 ? rc : silence_next(c, true, &s); rc > 0; rc = silence_next(c, false, &s)) {
        bool mutes = silence_mutes(s, now, key, team ? team : "", region ? region : "", why, len);
        cdof__v1__silence__free_unpacked(s, NULL);
        if (mutes)
            break;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}
