#include "hub_keys.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cdof_config.h"
#include "cdof_csv.h"
#include "cdof_error.h"
#include "cdof_grow.h"

#define Z85_LEN       40
#define ID_MAX        64
#define LINE_MAX_LEN  8192
#define MAX_FIELDS    16 /* read, to say "more than 5" rather than fail the CSV reader */
#define FILE_MAX_SIZE (4 * 1024 * 1024)

typedef struct {
    hub_party_t pub;
    char key[Z85_LEN + 1];
    char id[ID_MAX + 1];
    char partnership[ID_MAX + 1];
    char team[ID_MAX + 1], region[CDOF_AREA_CODE_LEN + 1];
    char **areas; /* owned; pub.scope.areas points here */
} party_t;

struct hub_keys {
    party_t *parties; /* sorted by key once loaded */
    size_t count, cap;
};

static const char *const ROLE_NAMES[] = {"partnership", "national", "oversight", "jcdu"};

const char *hub_role_name(hub_role_t role)
{
    return (unsigned)role < sizeof ROLE_NAMES / sizeof ROLE_NAMES[0] ? ROLE_NAMES[role] : "?";
}

bool hub_role_may_use(hub_role_t role, const char *domain)
{
    if (!domain)
        return false;
    if (role == HUB_ROLE_PARTNERSHIP || role == HUB_ROLE_NATIONAL)
        return strcmp(domain, "ingest") == 0;
    return strcmp(domain, "alerts") == 0 || strcmp(domain, "query") == 0;
}

static void party_free(party_t *p)
{
    for (size_t i = 0; i < p->pub.scope.nareas; i++)
        free(p->areas[i]);
    free(p->areas);
}

void hub_keys_destroy(hub_keys_t **keys)
{
    if (!keys || !*keys)
        return;
    for (size_t i = 0; i < (*keys)->count; i++)
        party_free(&(*keys)->parties[i]);
    free((*keys)->parties);
    free(*keys);
    *keys = NULL;
}

static bool id_ok(const char *s, bool spaces)
{
    size_t n = strlen(s);
    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < (spaces ? 0x20 : 0x21) || c == 0x7F || c == ',')
            return false;
    }
    return true;
}

static int add_area(party_t *p, const char *code)
{
    if (p->pub.scope.nareas == HUB_KEYS_MAX_AREAS)
        return -E2BIG;
    if (!p->areas && !(p->areas = calloc(HUB_KEYS_MAX_AREAS, sizeof *p->areas)))
        return -ENOMEM;
    if (!(p->areas[p->pub.scope.nareas] = strdup(code)))
        return -ENOMEM;
    p->pub.scope.nareas++;
    p->pub.scope.areas = (const char *const *)p->areas;
    return 0;
}

typedef struct {
    const cdof_partnership_t *list; /* the hub's --partnerships; borrowed */
    size_t n;
} parts_t;

/* The configured partnership named name, or NULL. */
static const cdof_partnership_t *part_named(const parts_t *ps, const char *name)
{
    for (size_t k = 0; k < ps->n; k++) {
        if (!strcmp(ps->list[k].area.code, name))
            return &ps->list[k];
    }
    return NULL;
}

/* The configured partnership holding area, or NULL. */
static const cdof_partnership_t *part_holding(const parts_t *ps, const cdof_area_t *area)
{
    for (size_t k = 0; k < ps->n; k++) {
        for (size_t j = 0; j < ps->list[k].nmembers; j++) {
            if (ps->list[k].members[j] == area)
                return &ps->list[k];
        }
    }
    return NULL;
}

/* A partnership line's areas: given, they must agree with the partnerships file (one definition
 * of partnerships); missing, they come from it, or are the partnership's own area code. */
static int line_areas(const char *name, unsigned long lineno, char *list, const cdof_ref_t *ref,
                      const parts_t *ps, party_t *p, char *err, size_t errlen)
{
    const cdof_partnership_t *conf = part_named(ps, p->partnership);
    char *tok_save = NULL;
    for (char *a = list ? strtok_r(list, "; \t", &tok_save) : NULL; a;
         a = strtok_r(NULL, "; \t", &tok_save)) {
        const cdof_area_t *area = cdof_ref_area(ref, a);
        if (!area)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'areas': '%.40s' is not a known area code", name,
                               lineno, a);
        const cdof_partnership_t *holder = part_holding(ps, area);
        if (conf && holder != conf)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'areas': %s is not in partnership '%s' of the "
                               "partnerships file (leave the field empty to take its areas)",
                               name, lineno, a, p->partnership);
        if (!conf && holder)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'areas': %s belongs to partnership '%s' in the "
                               "partnerships file, not to '%.64s'",
                               name, lineno, a, holder->area.code, p->partnership);
        int rc = add_area(p, a);
        if (rc == -E2BIG)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'areas': more than %d areas", name, lineno,
                               HUB_KEYS_MAX_AREAS);
        if (rc < 0)
            return rc;
    }
    bool given = p->pub.scope.nareas > 0;
    for (size_t j = 0; conf && j < conf->nmembers; j++) {
        const char *code = conf->members[j]->code;
        size_t i = 0;
        while (i < p->pub.scope.nareas && strcmp(p->areas[i], code) != 0)
            i++;
        if (i < p->pub.scope.nareas)
            continue;
        if (given) /* every member must be (the given ones are all members, checked above) */
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'areas': misses %s, which partnership '%s' holds in "
                               "the partnerships file (leave the field empty to take its areas)",
                               name, lineno, code, p->partnership);
        int rc = add_area(p, code); /* missing: the members */
        if (rc == -E2BIG)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: partnership '%s' has more than %d areas", name, lineno,
                               p->partnership, HUB_KEYS_MAX_AREAS);
        if (rc < 0)
            return rc;
    }
    if (p->pub.scope.nareas == 0) {
        /* One area, one partnership: the partnership's own code, unless the file puts that
         * area in a partnership. */
        const cdof_area_t *own = cdof_ref_area(ref, p->partnership);
        if (!own)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'areas': missing, and partnership '%.64s' is neither "
                               "in the partnerships file nor an area code",
                               name, lineno, p->partnership);
        const cdof_partnership_t *holder = part_holding(ps, own);
        if (holder)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'partnership': area %s is in partnership '%s' in the "
                               "partnerships file: name that partnership",
                               name, lineno, own->code, holder->area.code);
        return add_area(p, p->partnership);
    }
    return 0;
}

/* An oversight line's team and region: what it may acknowledge and silence. */
static int oversight_scope(const char *name, unsigned long lineno, const char *team,
                           const char *region, const cdof_ref_t *ref, party_t *p, char *err,
                           size_t errlen)
{
    if (*team) {
        size_t i = 0, n = cdof_ref_metric_count(ref);
        while (i < n && strcmp(cdof_ref_metric_at(ref, i)->team, team) != 0)
            i++;
        if (i == n)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'team': '%.64s' is no team of the metric catalogue "
                               "(ohid, hmpps, police or jcdu)",
                               name, lineno, team);
        snprintf(p->team, sizeof p->team, "%s", team);
        p->pub.may_act = true;
    }
    if (*region) {
        const cdof_area_t *a = cdof_ref_area(ref, region);
        if (!a || a->kind != CDOF_AREA_REGION)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'region': '%.64s' is not a region code", name, lineno,
                               region);
        if (!*team)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'region': given without a team (an oversight key "
                               "that acts has both; one that only reads has neither)",
                               name, lineno);
        snprintf(p->region, sizeof p->region, "%s", region);
    }
    return 0;
}

/* Parses one record's fields f[0..nf) (trimmed, writable) into p. */
static int parse_line(const char *name, unsigned long lineno, char **f, size_t nf,
                      const cdof_ref_t *ref, const parts_t *ps, party_t *p, char *err,
                      size_t errlen)
{
    if (nf < 3)
        return cdof_reason(
            CDOF_EINVALID, err, errlen,
            "%s:%lu: %zu field(s): expected public_key,id,role[,partnership[,areas]]", name, lineno,
            nf);
    if (strlen(f[0]) != Z85_LEN) {
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "%s:%lu: field 'public_key': %zu characters, a Z85 key has 40 (the "
                           "NAME.pub from cdof-keygen)",
                           name, lineno, strlen(f[0]));
    }
    uint8_t bin[32];
    if (!zmq_z85_decode(bin, f[0]))
        return cdof_reason(CDOF_EINVALID, err, errlen, "%s:%lu: field 'public_key': not valid Z85",
                           name, lineno);
    memcpy(p->key, f[0], Z85_LEN + 1);
    if (!id_ok(f[1], false))
        return cdof_reason(
            CDOF_EINVALID, err, errlen,
            "%s:%lu: field 'id': '%.80s' is not 1 to 64 printable characters without "
            "spaces",
            name, lineno, f[1]);
    snprintf(p->id, sizeof p->id, "%s", f[1]);
    size_t r = 0;
    while (r < 4 && strcmp(f[2], ROLE_NAMES[r]) != 0)
        r++;
    if (r == 4)
        return cdof_reason(
            CDOF_EINVALID, err, errlen,
            "%s:%lu: field 'role': '%.80s' is not partnership, national, oversight or "
            "jcdu",
            name, lineno, f[2]);
    p->pub.role = (hub_role_t)r;
    const char *partnership = nf > 3 && *f[3] ? f[3] : p->id;
    if (!id_ok(partnership, true))
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "%s:%lu: field 'partnership': '%.80s' is not 1 to 64 printable "
                           "characters",
                           name, lineno, partnership);
    snprintf(p->partnership, sizeof p->partnership, "%s", partnership);
    p->pub.scope.national = p->pub.role == HUB_ROLE_NATIONAL;
    p->pub.may_act = p->pub.role == HUB_ROLE_JCDU;
    if (p->pub.role == HUB_ROLE_OVERSIGHT)
        return oversight_scope(name, lineno, nf > 3 ? f[3] : "", nf > 4 ? f[4] : "", ref, p, err,
                               errlen);
    if (p->pub.role != HUB_ROLE_PARTNERSHIP) {
        if (nf > 4 && *f[4])
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s:%lu: field 'areas': only a partnership has areas", name, lineno);
        return 0;
    }
    return line_areas(name, lineno, nf > 4 ? f[4] : NULL, ref, ps, p, err, errlen);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const party_t *)a)->key, ((const party_t *)b)->key);
}

/* Copies rec's fields, trimmed, into buf (at least raw_len + MAX_FIELDS bytes: a field is never
 * longer unquoted than it stood) and points f at them. Returns the count. */
static size_t fields_of(const cdof_csv_record_t *rec, char *buf, char **f)
{
    for (size_t i = 0; i < rec->nfields; i++) {
        memcpy(buf, rec->fields[i].data, rec->fields[i].len + 1);
        f[i] = cdof_config_trim(buf);
        buf += rec->fields[i].len + 1;
    }
    return rec->nfields;
}

/* A comment: its first non-blank character is '#'. */
static bool is_comment(const cdof_csv_record_t *rec)
{
    const char *s = rec->raw;
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '#';
}

int hub_keys_parse(const char *name, const char *text, size_t len, const cdof_ref_t *ref,
                   const cdof_partnership_t *parts, size_t nparts, hub_keys_t **out, char *err,
                   size_t errlen)
{
    const parts_t ps = {parts, parts ? nparts : 0};
    *out = NULL;
    hub_keys_t *k = calloc(1, sizeof *k);
    char *buf = malloc(LINE_MAX_LEN + MAX_FIELDS);
    FILE *fp = fmemopen((void *)(len ? text : ""), len, "r"); /* read-only: text stays const */
    const cdof_csv_limits_t limits = {LINE_MAX_LEN, MAX_FIELDS};
    cdof_csv_t *csv = fp ? cdof_csv_new(fp, &limits) : NULL;
    int rc = -ENOMEM;
    if (!k || !buf || !csv)
        goto fail;
    cdof_csv_record_t r;
    char why[256];
    while ((rc = cdof_csv_next(csv, &r, why, sizeof why)) != 0) {
        /* A comment is free text of one line: a stray quote in it is no error, but one that
         * would carry the next lines (keys) into the comment is. */
        bool one_line = !memchr(r.raw, '\n', r.raw_len) && strlen(r.raw) == r.raw_len;
        if (is_comment(&r) && one_line)
            continue;
        if (rc > 0 && is_comment(&r))
            snprintf(why, sizeof why, "a quote in this comment runs on past its line");
        if (rc < 0 || is_comment(&r)) {
            rc = cdof_reason(CDOF_EINVALID, err, errlen, "%s:%lu: %s", name, r.line, why);
            goto fail;
        }
        /* The reader caps a record at MAX_FIELDS fields; a record of none (which it does not
         * produce today) is skipped like a blank line rather than read past. */
        char *f[MAX_FIELDS] = {0};
        size_t nf = fields_of(&r, buf, f);
        if (nf == 0 || (nf == 1 && !*f[0]) || (r.line == 1 && strncmp(f[0], "public_key", 10) == 0))
            continue;
        rc = CDOF_EINVALID;
        if (nf > 5) {
            cdof_reason(CDOF_EINVALID, err, errlen,
                        "%s:%lu: more than 5 fields (public_key,id,role,partnership,areas)", name,
                        r.line);
            goto fail;
        }
        if (k->count == HUB_KEYS_MAX_PARTIES) {
            cdof_reason(CDOF_EINVALID, err, errlen, "%s:%lu: more than %d keys", name, r.line,
                        HUB_KEYS_MAX_PARTIES);
            goto fail;
        }
        party_t *np = cdof_grow(k->parties, k->count, &k->cap, 16, sizeof *np);
        rc = -ENOMEM;
        if (!np)
            goto fail;
        k->parties = np;
        party_t *p = &k->parties[k->count];
        memset(p, 0, sizeof *p);
        rc = parse_line(name, r.line, f, nf, ref, &ps, p, err, errlen);
        k->count++; /* counted even on failure, so that destroy frees what it holds */
        if (rc < 0)
            goto fail;
    }
    if (k->count)
        qsort(k->parties, k->count, sizeof *k->parties, by_key);
    for (size_t i = 0; i < k->count; i++) {
        party_t *p = &k->parties[i];
        if (i && strcmp(p->key, k->parties[i - 1].key) == 0) {
            rc = cdof_reason(CDOF_EINVALID, err, errlen,
                             "%s: public key %s is listed twice (ids '%s' and '%s')", name, p->key,
                             k->parties[i - 1].id, p->id);
            goto fail;
        }
        /* Pointers into the party are set after sorting moved it. */
        p->pub.public_key = p->key;
        p->pub.id = p->id;
        p->pub.partnership = p->partnership;
        p->pub.team = p->team;
        p->pub.region = p->region;
        p->pub.scope.areas = (const char *const *)p->areas;
    }
    cdof_csv_destroy(&csv);
    fclose(fp);
    free(buf);
    *out = k;
    return 0;
fail:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", name);
    else if (rc == -EIO)
        snprintf(err, errlen, "%s: read error", name);
    cdof_csv_destroy(&csv);
    if (fp)
        fclose(fp);
    free(buf);
    hub_keys_destroy(&k);
    return rc;
}

int hub_keys_load(const char *path, const cdof_ref_t *ref, const cdof_partnership_t *parts,
                  size_t nparts, hub_keys_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    char *buf = malloc(FILE_MAX_SIZE + 1);
    int rc = -ENOMEM;
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    size_t n = fread(buf, 1, FILE_MAX_SIZE + 1, f);
    if (ferror(f)) {
        rc = -EIO;
        snprintf(err, errlen, "%s: read error", path);
    } else if (n > FILE_MAX_SIZE) {
        rc = CDOF_EINVALID;
        snprintf(err, errlen, "%s: larger than %d bytes", path, FILE_MAX_SIZE);
    } else {
        rc = hub_keys_parse(path, buf, n, ref, parts, nparts, out, err, errlen);
    }
out:
    free(buf);
    fclose(f);
    return rc;
}

const hub_party_t *hub_keys_find(const hub_keys_t *keys, const char *public_key)
{
    if (!keys || !keys->count || !public_key || strlen(public_key) != Z85_LEN)
        return NULL;
    party_t probe;
    memcpy(probe.key, public_key, Z85_LEN + 1);
    const party_t *p = bsearch(&probe, keys->parties, keys->count, sizeof *keys->parties, by_key);
    return p ? &p->pub : NULL;
}

size_t hub_keys_count(const hub_keys_t *keys)
{
    return keys ? keys->count : 0;
}

const hub_party_t *hub_keys_at(const hub_keys_t *keys, size_t i)
{
    return keys && i < keys->count ? &keys->parties[i].pub : NULL;
}

bool hub_party_covers(const hub_party_t *party, const char *team, const char *region)
{
    if (!party)
        return true;
    if (!party->may_act)
        return false;
    return (!*party->team || (team && !strcmp(party->team, team))) &&
           (!*party->region || (region && !strcmp(party->region, region)));
}
