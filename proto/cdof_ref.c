#include "cdof_ref.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdof_csv.h"
#include "cdof_error.h"
#include "cdof_period.h"

#define REF_MAX_FILE   (4 * 1024 * 1024) /* the real files are a few kilobytes */
#define REF_MAX_FIELDS 32
#define REF_MAX_ROWS   4096 /* indexes are uint16_t */
#define REF_MAX_ID     63   /* metric and milestone ids; the wire allows 64 */

/* An open-addressing hash of string keys to row indexes: lookups are on the hub's hot path and
 * a probe or two beats a binary search's eight string compares. */
typedef struct {
    uint16_t *slots; /* row index + 1; 0 is empty */
    size_t mask;
} cdof_ref_index_t;

struct cdof_ref {
    char *bufs[4]; /* one arena per file; every string of the tables points into these */
    cdof_metric_t *metrics;
    size_t nmetrics;
    cdof_milestone_t *milestones;
    size_t nmilestones;
    cdof_area_t *areas; /* England, the regions, then the UTLAs in file order */
    size_t nareas;
    cdof_ref_index_t metric_index, milestone_index, area_index;
};

/* --- reading the files: cdof_csv, the fields a table keeps copied into one arena per file --- */

static const char *const REF_FILES[4] = {"metrics.csv", "milestones.csv", "regions.csv",
                                         "areas.csv"};

typedef struct {
    const char *file; /* name for reasons: "metrics.csv" */
    FILE *fp;
    cdof_csv_t *csv;
    unsigned long line; /* line of the record last returned */
    char *w, *end;      /* the arena's free part: kept fields are copied here */
} cdof_ref_csv_t;

/* Column positions of a file's required fields, found by name in its header. */
typedef struct {
    const char *const *names;
    size_t n;
    size_t pos[REF_MAX_FIELDS];
    size_t ncols;
} cdof_ref_header_t;

/* The next record, or 0 at the end; a bad one is CDOF_EREFDATA naming file and line. */
static int ref_csv_next(cdof_ref_csv_t *c, cdof_csv_record_t *r, char *err, size_t errlen)
{
    char why[256];
    int rc = cdof_csv_next(c->csv, r, why, sizeof why);
    if (rc < 0)
        return cdof_reason(CDOF_EREFDATA, err, errlen, "%s:%lu: %s", c->file, r->line, why);
    c->line = r->line;
    return rc;
}

/* Opens dir/file and reads its header into h. *arena becomes a buffer one byte larger than the
 * file (owned by the caller; the tables point into it): a field is never longer unquoted than it
 * stood, so every field kept fits. Call ref_csv_close whatever this returns. */
static int ref_csv_open(cdof_ref_csv_t *c, const char *dir, const char *file, char **arena,
                        cdof_ref_header_t *h, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->file = file;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return cdof_reason(CDOF_EREFDATA, err, errlen, "%s/%s: path too long", dir, file);
    if (!(c->fp = fopen(path, "rb"))) {
        int rc = -errno;
        cdof_reason(CDOF_EREFDATA, err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    struct stat st;
    if (fstat(fileno(c->fp), &st) < 0)
        return cdof_reason(CDOF_EREFDATA, err, errlen, "%s: cannot find its size", path);
    if (st.st_size > REF_MAX_FILE)
        return cdof_reason(CDOF_EREFDATA, err, errlen, "%s: larger than %d bytes", path,
                           REF_MAX_FILE);
    const cdof_csv_limits_t limits = {0, REF_MAX_FIELDS};
    if (!(*arena = malloc((size_t)st.st_size + 1)) || !(c->csv = cdof_csv_new(c->fp, &limits)))
        return -ENOMEM;
    c->w = *arena;
    c->end = *arena + st.st_size + 1;
    cdof_csv_record_t r;
    int rc = ref_csv_next(c, &r, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return cdof_reason(CDOF_EREFDATA, err, errlen, "%s: empty file (a header row is required)",
                           file);
    h->ncols = r.nfields;
    for (size_t i = 0; i < h->n; i++) {
        size_t j = 0;
        while (j < r.nfields && strcmp(r.fields[j].data, h->names[i]) != 0)
            j++;
        if (j == r.nfields)
            return cdof_reason(CDOF_EREFDATA, err, errlen, "%s:%lu: header has no column '%s'",
                               file, r.line, h->names[i]);
        h->pos[i] = j;
    }
    return 0;
}

static void ref_csv_close(cdof_ref_csv_t *c)
{
    cdof_csv_destroy(&c->csv);
    if (c->fp)
        fclose(c->fp);
    c->fp = NULL;
}

/* Next data row; fields[i] of the result is the i-th required column, in the arena. */
static int ref_csv_row(cdof_ref_csv_t *c, const cdof_ref_header_t *h, const char **fields,
                       char *err, size_t errlen)
{
    cdof_csv_record_t r;
    int rc = ref_csv_next(c, &r, err, errlen);
    if (rc <= 0)
        return rc;
    if (r.nfields != h->ncols)
        return cdof_reason(CDOF_EREFDATA, err, errlen, "%s:%lu: expected %zu fields, found %zu",
                           c->file, r.line, h->ncols, r.nfields);
    for (size_t i = 0; i < h->n; i++) {
        const cdof_csv_field_t *src = &r.fields[h->pos[i]];
        if ((size_t)(c->end - c->w) <= src->len) /* only if the file grew while being read */
            return cdof_reason(CDOF_EREFDATA, err, errlen,
                               "%s:%lu: the file changed while being read", c->file, r.line);
        memcpy(c->w, src->data, src->len + 1);
        fields[i] = c->w;
        c->w += src->len + 1;
    }
    return 1;
}

/* --- field checks --- */

static int ref_bad(const cdof_ref_csv_t *c, const char *field, const char *value, const char *why,
                   char *err, size_t errlen)
{
    return cdof_reason(CDOF_EREFDATA, err, errlen, "%s:%lu: field '%s': '%.80s' %s", c->file,
                       c->line, field, value, why);
}

/* Matches value against a NULL-terminated list of words; returns the position or -1. */
static int ref_word(const char *value, const char *const *words)
{
    for (int i = 0; words[i]; i++) {
        if (strcmp(value, words[i]) == 0)
            return i;
    }
    return -1;
}

static bool ref_is_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > REF_MAX_ID || !islower((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
            return false;
    }
    return true;
}

/* ONS codes: a capital letter and eight digits. */
static bool ref_is_code(const char *s)
{
    if (strlen(s) != CDOF_AREA_CODE_LEN || !isupper((unsigned char)s[0]))
        return false;
    for (int i = 1; i < CDOF_AREA_CODE_LEN; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool ref_parse_long(const char *s, long min, long max, long *out)
{
    if (!isdigit((unsigned char)s[0]))
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* --- the index --- */

static uint32_t ref_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Adds row i under its key; the caller has checked that the key is new. Grows to keep the table
 * at most half full. */
static int ref_index_add(cdof_ref_index_t *ix, size_t i, const char *(*key)(const void *, size_t),
                         const void *rows)
{
    size_t cap = ix->slots ? ix->mask + 1 : 0;
    if (2 * (i + 1) > cap) {
        size_t ncap = cap ? 2 * cap : 16;
        uint16_t *slots = calloc(ncap, sizeof *slots);
        if (!slots)
            return -ENOMEM;
        free(ix->slots);
        ix->slots = slots;
        ix->mask = ncap - 1;
        for (size_t j = 0; j < i; j++) {
            size_t s = ref_hash(key(rows, j)) & ix->mask;
            while (ix->slots[s])
                s = (s + 1) & ix->mask;
            ix->slots[s] = (uint16_t)(j + 1);
        }
    }
    size_t s = ref_hash(key(rows, i)) & ix->mask;
    while (ix->slots[s])
        s = (s + 1) & ix->mask;
    ix->slots[s] = (uint16_t)(i + 1);
    return 0;
}

/* Returns the row index or -1. The table is at most half full, so probing ends. */
static long ref_index_find(const cdof_ref_index_t *ix, const char *k,
                           const char *(*key)(const void *, size_t), const void *rows)
{
    if (!k || !ix->slots)
        return -1;
    for (size_t s = ref_hash(k) & ix->mask; ix->slots[s]; s = (s + 1) & ix->mask) {
        size_t i = ix->slots[s] - 1u;
        if (strcmp(key(rows, i), k) == 0)
            return (long)i;
    }
    return -1;
}

static const char *ref_metric_key(const void *rows, size_t i)
{
    return ((const cdof_metric_t *)rows)[i].id;
}

static const char *ref_milestone_key(const void *rows, size_t i)
{
    return ((const cdof_milestone_t *)rows)[i].id;
}

static const char *ref_area_key(const void *rows, size_t i)
{
    return ((const cdof_area_t *)rows)[i].code;
}

/* --- the four files --- */

static int ref_grow(void **arr, size_t n, size_t size)
{
    if (n >= REF_MAX_ROWS)
        return -EFBIG;
    if ((n & (n - 1)) == 0) { /* at 0, 1, 2, 4, ...: double */
        void *p = realloc(*arr, (n ? 2 * n : 1) * size);
        if (!p)
            return -ENOMEM;
        *arr = p;
    }
    return 0;
}

static const char *const METRIC_COLS[] = {"id",
                                          "name",
                                          "outcome",
                                          "tier",
                                          "unit",
                                          "multiplier",
                                          "polarity",
                                          "team",
                                          "geography",
                                          "frequency",
                                          "method",
                                          "max_per_population",
                                          "plausible_min",
                                          "plausible_max"};

static const char *const MILESTONE_COLS[] = {"id", "deliverable", "deadline", "recurrence_months"};

static const char *const REGION_COLS[] = {"code", "name"};

static const char *const AREA_COLS[] = {"code", "name", "region", "population_2020"};

static int ref_metric_row(cdof_ref_t *ref, const cdof_ref_csv_t *c, const char **f, char *err,
                          size_t errlen)
{
    static const char *const tiers[] = {"headline", "supporting", NULL};
    static const char *const units[] = {"count", "rate", "percentage", NULL};
    static const cdof_unit_t unit_v[] = {CDOF_UNIT_COUNT, CDOF_UNIT_RATE, CDOF_UNIT_PERCENTAGE};
    static const char *const polarities[] = {"high_good", "low_good", "none", NULL};
    static const cdof_polarity_t polarity_v[] = {CDOF_POLARITY_HIGH_GOOD, CDOF_POLARITY_LOW_GOOD,
                                                 CDOF_POLARITY_NONE};
    static const char *const teams[] = {"ohid", "hmpps", "police", "jcdu", NULL};
    static const char *const geographies[] = {"national", "region", "utla", "pfa", "prison", NULL};
    static const char *const freqs[] = {"monthly", "quarterly", "annual", "pooled3", NULL};
    static const cdof_frequency_t freq_v[] = {CDOF_FREQ_MONTHLY, CDOF_FREQ_QUARTERLY,
                                              CDOF_FREQ_ANNUAL, CDOF_FREQ_POOLED3};
    static const char *const methods[] = {"wilson", "byar", "none", NULL};
    static const cdof_method_t method_v[] = {CDOF_METHOD_WILSON, CDOF_METHOD_BYAR,
                                             CDOF_METHOD_NONE};
    int rc = ref_grow((void **)&ref->metrics, ref->nmetrics, sizeof *ref->metrics);
    if (rc < 0)
        return rc == -EFBIG ? cdof_reason(CDOF_EREFDATA, err, errlen, "metrics.csv: too many rows")
                            : rc;
    cdof_metric_t *m = &ref->metrics[ref->nmetrics];
    int k;
    if (!ref_is_id(f[0]))
        return ref_bad(c, "id", f[0], "is not an id (lower case letters, digits and _)", err,
                       errlen);
    if (ref_index_find(&ref->metric_index, f[0], ref_metric_key, ref->metrics) >= 0)
        return ref_bad(c, "id", f[0], "appears twice", err, errlen);
    for (size_t i = 1; i <= 2; i++) {
        if (!*f[i])
            return ref_bad(c, METRIC_COLS[i], f[i], "is empty", err, errlen);
    }
    m->index = (uint16_t)ref->nmetrics;
    m->id = f[0];
    m->name = f[1];
    m->outcome = f[2];
    if ((k = ref_word(f[3], tiers)) < 0)
        return ref_bad(c, "tier", f[3], "is not headline or supporting", err, errlen);
    m->headline = k == 0;
    if ((k = ref_word(f[4], units)) < 0)
        return ref_bad(c, "unit", f[4], "is not count, rate or percentage", err, errlen);
    m->unit = unit_v[k];
    char *end;
    errno = 0;
    double mult = strtod(f[5], &end);
    if (!*f[5] || *end || errno || !isfinite(mult) || mult <= 0)
        return ref_bad(c, "multiplier", f[5], "is not a positive number", err, errlen);
    /* Percentages and counts have a fixed multiplier; a different one in the file is a
     * mistake that would silently scale every value. */
    if (m->unit == CDOF_UNIT_PERCENTAGE && mult != 100)
        return ref_bad(c, "multiplier", f[5], "is not 100 (the unit is percentage)", err, errlen);
    if (m->unit == CDOF_UNIT_COUNT && mult != 1)
        return ref_bad(c, "multiplier", f[5], "is not 1 (the unit is count)", err, errlen);
    m->multiplier = mult;
    if ((k = ref_word(f[6], polarities)) < 0)
        return ref_bad(c, "polarity", f[6], "is not high_good, low_good or none", err, errlen);
    m->polarity = polarity_v[k];
    if ((k = ref_word(f[7], teams)) < 0)
        return ref_bad(c, "team", f[7], "is not ohid, hmpps, police or jcdu", err, errlen);
    m->team = f[7];
    if ((k = ref_word(f[8], geographies)) < 0)
        return ref_bad(c, "geography", f[8], "is not national, region, utla, pfa or prison", err,
                       errlen);
    m->geography = f[8];
    if ((k = ref_word(f[9], freqs)) < 0)
        return ref_bad(c, "frequency", f[9], "is not monthly, quarterly, annual or pooled3", err,
                       errlen);
    m->frequency = freq_v[k];
    if ((k = ref_word(f[10], methods)) < 0)
        return ref_bad(c, "method", f[10], "is not wilson, byar or none", err, errlen);
    m->method = method_v[k];
    /* Wilson's interval is for proportions, Byar's for rates of counts. */
    if (m->method == CDOF_METHOD_WILSON && m->unit != CDOF_UNIT_PERCENTAGE)
        return ref_bad(c, "method", f[10], "needs unit percentage", err, errlen);
    if (m->method == CDOF_METHOD_BYAR && m->unit != CDOF_UNIT_RATE)
        return ref_bad(c, "method", f[10], "needs unit rate", err, errlen);
    /* Plausibility: the largest count, numerator or denominator as a multiple of the area's
     * population, and the range of a rate's or percentage's value (empty: no bound). */
    const char *pname[] = {"max_per_population", "plausible_min", "plausible_max"};
    double pv[3];
    for (int i = 0; i < 3; i++) {
        const char *t = f[11 + i];
        pv[i] = NAN;
        if (!*t && i > 0)
            continue;
        errno = 0;
        pv[i] = strtod(t, &end);
        if (!*t || *end || errno || !isfinite(pv[i]) || pv[i] < 0 || (i == 0 && pv[i] == 0))
            return ref_bad(c, pname[i], t,
                           i ? "is not a number of at least 0 (or empty: no bound)"
                             : "is not a positive number",
                           err, errlen);
    }
    if (!isnan(pv[1]) && !isnan(pv[2]) && pv[1] > pv[2])
        return ref_bad(c, "plausible_max", f[13], "is below plausible_min", err, errlen);
    m->max_per_population = pv[0];
    m->plausible_min = pv[1];
    m->plausible_max = pv[2];
    if (ref_index_add(&ref->metric_index, ref->nmetrics, ref_metric_key, ref->metrics) < 0)
        return -ENOMEM;
    ref->nmetrics++;
    return 0;
}

static int ref_milestone_row(cdof_ref_t *ref, const cdof_ref_csv_t *c, const char **f, char *err,
                             size_t errlen)
{
    int rc = ref_grow((void **)&ref->milestones, ref->nmilestones, sizeof *ref->milestones);
    if (rc < 0)
        return rc == -EFBIG
                   ? cdof_reason(CDOF_EREFDATA, err, errlen, "milestones.csv: too many rows")
                   : rc;
    cdof_milestone_t *m = &ref->milestones[ref->nmilestones];
    if (!ref_is_id(f[0]))
        return ref_bad(c, "id", f[0], "is not an id (lower case letters, digits and _)", err,
                       errlen);
    if (ref_index_find(&ref->milestone_index, f[0], ref_milestone_key, ref->milestones) >= 0)
        return ref_bad(c, "id", f[0], "appears twice", err, errlen);
    if (!*f[1])
        return ref_bad(c, "deliverable", f[1], "is empty", err, errlen);
    m->id = f[0];
    m->deliverable = f[1];
    if (cdof_date_parse(f[2], &m->deadline) < 0)
        return ref_bad(c, "deadline", f[2], "is not a date (YYYY-MM-DD)", err, errlen);
    long months;
    if (!ref_parse_long(f[3], 0, 120, &months))
        return ref_bad(c, "recurrence_months", f[3], "is not a whole number from 0 to 120", err,
                       errlen);
    m->recurrence_months = (int)months;
    if (ref_index_add(&ref->milestone_index, ref->nmilestones, ref_milestone_key, ref->milestones) <
        0)
        return -ENOMEM;
    ref->nmilestones++;
    return 0;
}

/* Regions go in after England; their populations are summed from areas.csv afterwards. */
static int ref_region_row(cdof_ref_t *ref, const cdof_ref_csv_t *c, const char **f, char *err,
                          size_t errlen)
{
    int rc = ref_grow((void **)&ref->areas, ref->nareas, sizeof *ref->areas);
    if (rc < 0)
        return rc == -EFBIG ? cdof_reason(CDOF_EREFDATA, err, errlen, "regions.csv: too many rows")
                            : rc;
    if (!ref_is_code(f[0]) || strncmp(f[0], "E12", 3) != 0)
        return ref_bad(c, "code", f[0], "is not a region code (E12 and six digits)", err, errlen);
    if (ref_index_find(&ref->area_index, f[0], ref_area_key, ref->areas) >= 0)
        return ref_bad(c, "code", f[0], "appears twice", err, errlen);
    if (!*f[1])
        return ref_bad(c, "name", f[1], "is empty", err, errlen);
    ref->areas[ref->nareas] =
        (cdof_area_t){(uint16_t)ref->nareas, f[0], f[1], CDOF_AREA_REGION, NULL, 0};
    if (ref_index_add(&ref->area_index, ref->nareas, ref_area_key, ref->areas) < 0)
        return -ENOMEM;
    ref->nareas++;
    return 0;
}

static int ref_area_row(cdof_ref_t *ref, const cdof_ref_csv_t *c, const char **f, char *err,
                        size_t errlen)
{
    int rc = ref_grow((void **)&ref->areas, ref->nareas, sizeof *ref->areas);
    if (rc < 0)
        return rc == -EFBIG ? cdof_reason(CDOF_EREFDATA, err, errlen, "areas.csv: too many rows")
                            : rc;
    if (!ref_is_code(f[0]) || f[0][0] != 'E' || strncmp(f[0], "E12", 3) == 0 ||
        strncmp(f[0], "E92", 3) == 0)
        return ref_bad(c, "code", f[0], "is not an upper-tier local authority code", err, errlen);
    if (ref_index_find(&ref->area_index, f[0], ref_area_key, ref->areas) >= 0)
        return ref_bad(c, "code", f[0], "appears twice", err, errlen);
    if (!*f[1])
        return ref_bad(c, "name", f[1], "is empty", err, errlen);
    size_t r = 1; /* the regions follow England, before any area */
    while (r < ref->nareas && ref->areas[r].kind == CDOF_AREA_REGION &&
           strcmp(ref->areas[r].code, f[2]) != 0)
        r++;
    if (r == ref->nareas || ref->areas[r].kind != CDOF_AREA_REGION)
        return ref_bad(c, "region", f[2], "is not a region in regions.csv", err, errlen);
    long pop;
    if (!ref_parse_long(f[3], 1, 100000000, &pop))
        return ref_bad(c, "population_2020", f[3], "is not a positive whole number", err, errlen);
    ref->areas[ref->nareas] = (cdof_area_t){(uint16_t)ref->nareas, f[0],       f[1], CDOF_AREA_UTLA,
                                            ref->areas[r].code,    (double)pop};
    ref->areas[r].population += (double)pop;
    ref->areas[0].population += (double)pop;
    if (ref_index_add(&ref->area_index, ref->nareas, ref_area_key, ref->areas) < 0)
        return -ENOMEM;
    ref->nareas++;
    return 0;
}

typedef int (*ref_row_fn)(cdof_ref_t *ref, const cdof_ref_csv_t *c, const char **f, char *err,
                          size_t errlen);

#define REF_NCOLS(cols) (sizeof cols / sizeof *cols)

/* The files in load order (regions before the areas that name them), with their columns. */
static const struct {
    const char *const *cols;
    size_t ncols;
    ref_row_fn row;
} REF_TABLES[4] = {{METRIC_COLS, REF_NCOLS(METRIC_COLS), ref_metric_row},
                   {MILESTONE_COLS, REF_NCOLS(MILESTONE_COLS), ref_milestone_row},
                   {REGION_COLS, REF_NCOLS(REGION_COLS), ref_region_row},
                   {AREA_COLS, REF_NCOLS(AREA_COLS), ref_area_row}};

/* Reads REF_FILES[which] in dir into the tables, a row at a time; the strings the tables keep
 * live in ref->bufs[which]. */
static int ref_load_file(cdof_ref_t *ref, const char *dir, int which, char *err, size_t errlen)
{
    cdof_ref_header_t h = {REF_TABLES[which].cols, REF_TABLES[which].ncols, {0}, 0};
    cdof_ref_csv_t c;
    const char *f[REF_MAX_FIELDS];
    int rc = ref_csv_open(&c, dir, REF_FILES[which], &ref->bufs[which], &h, err, errlen);
    while (rc == 0 && (rc = ref_csv_row(&c, &h, f, err, errlen)) == 1)
        rc = REF_TABLES[which].row(ref, &c, f, err, errlen);
    ref_csv_close(&c);
    return rc;
}

/* What must hold once REF_FILES[which] is read: rows, and areas in every region. */
static int ref_check_loaded(const cdof_ref_t *ref, int which, char *err, size_t errlen)
{
    if (which == 0 && ref->nmetrics == 0)
        return cdof_reason(CDOF_EREFDATA, err, errlen, "metrics.csv: no metrics");
    if (which == 1 && ref->nmilestones == 0)
        return cdof_reason(CDOF_EREFDATA, err, errlen, "milestones.csv: no milestones");
    if (which == 2 && ref->nareas == 1)
        return cdof_reason(CDOF_EREFDATA, err, errlen, "regions.csv: no regions");
    for (size_t r = 1; which == 3 && r < ref->nareas && ref->areas[r].kind == CDOF_AREA_REGION;
         r++) {
        if (ref->areas[r].population == 0) /* a region's population is its areas' sum */
            return cdof_reason(CDOF_EREFDATA, err, errlen, "areas.csv: region %s (%s) has no areas",
                               ref->areas[r].code, ref->areas[r].name);
    }
    return 0;
}

cdof_ref_t *cdof_ref_load(const char *dir, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!dir) {
        cdof_reason(CDOF_EREFDATA, err, errlen, "no reference directory");
        return NULL;
    }
    int rc = -ENOMEM;
    cdof_ref_t *ref = calloc(1, sizeof *ref);
    if (!ref || !(ref->areas = malloc(sizeof *ref->areas)))
        goto fail;
    ref->areas[0] = (cdof_area_t){0, CDOF_ENGLAND_CODE, "England", CDOF_AREA_ENGLAND, NULL, 0};
    ref->nareas = 1;
    if (ref_index_add(&ref->area_index, 0, ref_area_key, ref->areas) < 0)
        goto fail;
    rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++) {
        if ((rc = ref_load_file(ref, dir, i, err, errlen)) == 0)
            rc = ref_check_loaded(ref, i, err, errlen);
    }
    if (rc < 0)
        goto fail;
    return ref;
fail:
    if (rc == -ENOMEM)
        cdof_reason(CDOF_EREFDATA, err, errlen, "out of memory loading reference data");
    cdof_ref_destroy(&ref);
    return NULL;
}

const char *cdof_ref_default_dir(void)
{
    const char *env = getenv("CDOF_REFDIR");
    if (env && *env)
        return env;
    if (access(CDOF_REFDIR_INSTALLED "/metrics.csv", R_OK) == 0)
        return CDOF_REFDIR_INSTALLED;
    return CDOF_REFDIR_SOURCE;
}

void cdof_ref_destroy(cdof_ref_t **ref)
{
    if (!ref || !*ref)
        return;
    cdof_ref_t *r = *ref;
    free(r->metric_index.slots);
    free(r->milestone_index.slots);
    free(r->area_index.slots);
    free(r->metrics);
    free(r->milestones);
    free(r->areas);
    for (int i = 0; i < 4; i++)
        free(r->bufs[i]);
    free(r);
    *ref = NULL;
}

const cdof_metric_t *cdof_ref_metric(const cdof_ref_t *ref, const char *id)
{
    if (!ref)
        return NULL;
    long i = ref_index_find(&ref->metric_index, id, ref_metric_key, ref->metrics);
    return i < 0 ? NULL : &ref->metrics[i];
}

const cdof_metric_t *cdof_ref_metric_at(const cdof_ref_t *ref, size_t index)
{
    return ref && index < ref->nmetrics ? &ref->metrics[index] : NULL;
}

size_t cdof_ref_metric_count(const cdof_ref_t *ref)
{
    return ref ? ref->nmetrics : 0;
}

const cdof_milestone_t *cdof_ref_milestone(const cdof_ref_t *ref, const char *id)
{
    if (!ref)
        return NULL;
    long i = ref_index_find(&ref->milestone_index, id, ref_milestone_key, ref->milestones);
    return i < 0 ? NULL : &ref->milestones[i];
}

const cdof_milestone_t *cdof_ref_milestone_at(const cdof_ref_t *ref, size_t index)
{
    return ref && index < ref->nmilestones ? &ref->milestones[index] : NULL;
}

size_t cdof_ref_milestone_count(const cdof_ref_t *ref)
{
    return ref ? ref->nmilestones : 0;
}

const cdof_area_t *cdof_ref_area(const cdof_ref_t *ref, const char *code)
{
    if (!ref)
        return NULL;
    long i = ref_index_find(&ref->area_index, code, ref_area_key, ref->areas);
    return i < 0 ? NULL : &ref->areas[i];
}

const cdof_area_t *cdof_ref_area_at(const cdof_ref_t *ref, size_t index)
{
    return ref && index < ref->nareas ? &ref->areas[index] : NULL;
}

size_t cdof_ref_area_count(const cdof_ref_t *ref)
{
    return ref ? ref->nareas : 0;
}
