/* Metric points over a real LMDB store in a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "cdof_error.h"
#include "hub_db.h"
#include "cdof_store.h"

typedef struct {
    char dir[64];
    cdof_store_t *store;
    hub_db_t *db;
} fixture_t;

static void rm_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    char sub[512];

    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

static cdof_store_opts_t hub_opts(void)
{
    cdof_store_opts_t o = {0};

    o.schema = "hub";
    o.schema_version = 1;
    o.no_sync = true;
    return o;
}

static void reopen(fixture_t *f, bool read_only)
{
    cdof_store_opts_t o = hub_opts();
    char err[256] = "";
    int rc;

    hub_db_close(&f->db);
    cdof_store_close(&f->store);
    o.read_only = read_only;
    rc = cdof_store_open(f->dir, &o, &f->store, err, sizeof err);
    if (rc)
        print_error("open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(hub_db_open(f->store, &f->db), 0);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/cdof-test-points-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    reopen(f, false);
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    hub_db_close(&f->db);
    cdof_store_close(&f->store);
    rm_dir(f->dir);
    free(f);
    return 0;
}

/* Days since 1970-01-01, proleptic Gregorian (the test's own, independent of cdof_period). */
static int32_t days(int y, int m, int d)
{
    int era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static cdof_period_t month(int y, int m)
{
    cdof_period_t p = {CDOF_PERIOD_MONTH, days(y, m, 1), 0};

    p.last_day = (m == 12 ? days(y + 1, 1, 1) : days(y, m + 1, 1)) - 1;
    return p;
}

static cdof_period_t quarter(int y, int q)
{
    int m = 3 * (q - 1) + 1;
    cdof_period_t p = {CDOF_PERIOD_QUARTER, days(y, m, 1), 0};

    p.last_day = (q == 4 ? days(y + 1, 1, 1) : days(y, m + 3, 1)) - 1;
    return p;
}

static cdof_period_t years(cdof_period_kind_t kind, int first, int last)
{
    cdof_period_t p = {kind, days(first, 1, 1), days(last + 1, 1, 1) - 1};

    return p;
}

static cdof_period_t fin_year(int y)
{
    cdof_period_t p = {CDOF_PERIOD_FINANCIAL_YEAR, days(y, 4, 1), days(y + 1, 4, 1) - 1};

    return p;
}

static hub_point_t point(double num, double den, int64_t received, uint64_t seq)
{
    hub_point_t pt;

    memset(&pt, 0, sizeof pt);
    pt.fig.has_numerator = pt.fig.has_denominator = pt.fig.has_value = true;
    pt.fig.numerator = num;
    pt.fig.denominator = den;
    pt.fig.value = den ? 100.0 * num / den : 0;
    pt.received_ms = received;
    pt.sequence = seq;
    snprintf(pt.agent_id, sizeof pt.agent_id, "cdp-leeds");
    snprintf(pt.note, sizeof pt.note, "revision %llu", (unsigned long long)seq);
    return pt;
}

static void put1(fixture_t *f, const char *metric, const char *area, const cdof_period_t *p,
                 const hub_point_t *pt)
{
    cdof_store_txn_t *t = NULL;

    assert_int_equal(cdof_store_begin(f->store, true, &t), 0);
    assert_int_equal(hub_db_point_put(f->db, t, metric, area, p, pt), 0);
    assert_int_equal(cdof_store_commit(&t), 0);
}

static void test_round_trip(void **state)
{
    fixture_t *f = *state;
    cdof_period_t p = month(2024, 3);
    hub_point_t in = point(12, 345, 1711929600123, 42), out;
    cdof_store_txn_t *t = NULL;

    in.fig.has_value = false;
    in.fig.value = -0.0;
    memset(in.note, 'n', HUB_DB_NOTE_MAX - 1);
    put1(f, "treatment_continuity", "E08000035", &p, &in);

    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    memset(&out, 0xaa, sizeof out);
    assert_int_equal(hub_db_point_get(f->db, t, "treatment_continuity", "E08000035", &p, &out), 0);
    assert_true(out.fig.has_numerator && out.fig.has_denominator && !out.fig.has_value);
    assert_true(out.fig.numerator == 12 && out.fig.denominator == 345);
    assert_true(out.received_ms == 1711929600123);
    assert_true(out.sequence == 42);
    assert_string_equal(out.agent_id, "cdp-leeds");
    assert_int_equal(strlen(out.note), HUB_DB_NOTE_MAX - 1);

    assert_int_equal(hub_db_point_get(f->db, t, "no_such_metric", "E08000035", &p, &out),
                     CDOF_ENOTFOUND);
    assert_int_equal(hub_db_point_get(f->db, t, "treatment_continuity", "E08000036", &p, &out),
                     CDOF_ENOTFOUND);
    p = month(2024, 4);
    assert_int_equal(hub_db_point_get(f->db, t, "treatment_continuity", "E08000035", &p, &out),
                     CDOF_ENOTFOUND);
    cdof_store_abort(&t);
}

static void test_invalid_input(void **state)
{
    fixture_t *f = *state;
    cdof_period_t p = month(2024, 3), bad;
    hub_point_t pt = point(1, 2, 1000, 1);
    cdof_store_txn_t *t = NULL;
    hub_agent_record_t rec;
    uint16_t code;
    char longid[HUB_DB_METRIC_MAX + 2];

    memset(longid, 'm', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(cdof_store_begin(f->store, true, &t), 0);
    assert_int_equal(hub_db_point_put(f->db, t, "m", "E0800003", &p, &pt), -EINVAL);
    assert_int_equal(hub_db_point_put(f->db, t, "m", "E080000351", &p, &pt), -EINVAL);
    assert_int_equal(hub_db_point_put(f->db, t, "m", "E08 00035", &p, &pt), -EINVAL);
    assert_int_equal(hub_db_point_put(f->db, t, "", "E08000035", &p, &pt), -EINVAL);
    assert_int_equal(hub_db_point_put(f->db, t, longid, "E08000035", &p, &pt), -EINVAL);
    bad = p;
    bad.kind = CDOF_PERIOD_NONE;
    assert_int_equal(hub_db_point_put(f->db, t, "m", "E08000035", &bad, &pt), -EINVAL);
    bad = years(CDOF_PERIOD_POOLED_YEARS, 2021, 2021); /* one year is not a pool */
    assert_int_equal(hub_db_point_put(f->db, t, "m", "E08000035", &bad, &pt), -EINVAL);
    bad = years(CDOF_PERIOD_POOLED_YEARS, 2011, 2021); /* eleven is too many */
    assert_int_equal(hub_db_point_put(f->db, t, "m", "E08000035", &bad, &pt), -EINVAL);
    bad = p;
    bad.last_day = bad.first_day - 1;
    assert_int_equal(hub_db_point_put(f->db, t, "m", "E08000035", &bad, &pt), -EINVAL);
    memset(pt.agent_id, 'a', sizeof pt.agent_id); /* not terminated */
    assert_int_equal(hub_db_point_put(f->db, t, "m", "E08000035", &p, &pt), -EINVAL);
    /* Nothing was interned by the refused rows. */
    assert_int_equal(hub_db_metric_code(f->db, t, "m", &code), CDOF_ENOTFOUND);

    memset(&rec, 0, sizeof rec);
    assert_int_equal(hub_db_agent_put(f->db, t, &rec), -EINVAL);
    memset(rec.agent_id, 'a', sizeof rec.agent_id);
    assert_int_equal(hub_db_agent_put(f->db, t, &rec), -EINVAL);
    assert_int_equal(cdof_store_commit(&t), 0);
}

static void test_revisions_as_at(void **state)
{
    fixture_t *f = *state;
    const char *m = "deaths_drug_misuse", *a = "E06000001";
    cdof_period_t p = years(CDOF_PERIOD_POOLED_YEARS, 2021, 2023);
    hub_point_t v1 = point(10, 1000, 1000, 1), v2 = point(11, 1000, 2000, 2),
                v3 = point(12, 1000, 3000, 3), v4 = point(13, 1000, 2500, 4), out;
    cdof_store_txn_t *t = NULL;
    static const struct {
        int64_t as_at;
        int want; /* numerator, or 0 for not found */
    } before_skew[] = {{999, 0},   {1000, 10}, {1999, 10},     {2000, 11},
                       {2999, 11}, {3000, 12}, {INT64_MAX, 12}},
      after_skew[] = {{999, 0},   {2000, 11}, {2499, 11},     {2500, 13},
                      {2999, 13}, {3000, 12}, {INT64_MAX, 12}};

    put1(f, m, a, &p, &v1);
    put1(f, m, a, &p, &v2);
    put1(f, m, a, &p, &v3);

    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    assert_int_equal(hub_db_point_get(f->db, t, m, a, &p, &out), 0);
    assert_true(out.fig.numerator == 12);
    for (size_t i = 0; i < sizeof before_skew / sizeof before_skew[0]; i++) {
        int rc = hub_db_point_get_as_at(f->db, t, m, a, &p, before_skew[i].as_at, &out);
        if (before_skew[i].want == 0) {
            assert_int_equal(rc, CDOF_ENOTFOUND);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal((int)out.fig.numerator, before_skew[i].want);
            assert_string_equal(out.agent_id, "cdp-leeds");
        }
    }
    cdof_store_abort(&t);

    /* A revision stamped earlier than the current one (a clock step back) is still the latest,
     * while "as at" goes by when each was received. */
    put1(f, m, a, &p, &v4);
    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    assert_int_equal(hub_db_point_get(f->db, t, m, a, &p, &out), 0);
    assert_true(out.fig.numerator == 13);
    for (size_t i = 0; i < sizeof after_skew / sizeof after_skew[0]; i++) {
        int rc = hub_db_point_get_as_at(f->db, t, m, a, &p, after_skew[i].as_at, &out);
        if (after_skew[i].want == 0) {
            assert_int_equal(rc, CDOF_ENOTFOUND);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal((int)out.fig.numerator, after_skew[i].want);
        }
    }
    /* Other points have no history to borrow from. */
    assert_int_equal(hub_db_point_get_as_at(f->db, t, m, "E06000002", &p, INT64_MAX, &out),
                     CDOF_ENOTFOUND);
    cdof_store_abort(&t);
}

typedef struct {
    char areas[32][HUB_DB_AREA_LEN + 1];
    double nums[32];
    int n;
    int stop_after; /* 0: never */
} collect_t;

/* Walks one metric and period's points with a cursor, keeping each in c, and leaves the walk
 * once c->stop_after are kept. Returns the last move's result: 0 when the points ran out, 1 when
 * left early, or a failure. */
static int collect(hub_db_t *db, cdof_store_txn_t *t, const char *metric_id,
                   const cdof_period_t *period, collect_t *c)
{
    hub_db_points_cursor_t *cur = NULL;
    hub_point_t pt;
    const char *area;
    int rc = hub_db_points_open(db, t, metric_id, period, &cur);

    for (rc = rc < 0 ? rc : hub_db_points_next(cur, &area, &pt); rc > 0;
         rc = hub_db_points_next(cur, &area, &pt)) {
        assert_true(c->n < 32);
        assert_int_equal(strlen(area), HUB_DB_AREA_LEN);
        strcpy(c->areas[c->n], area);
        c->nums[c->n++] = pt.fig.numerator;
        if (c->stop_after && c->n == c->stop_after)
            break;
    }
    hub_db_points_close(&cur);
    return rc;
}

/* One metric and period's points, in area order, bounded on every side; a walk may be left
 * part way; an unknown metric or an empty period has none. */
static void test_points_one_metric_period(void **state)
{
    fixture_t *f = *state;
    static const char *areas[] = {"E08000035", "E06000001", "E09000033",
                                  "E10000034", "E06000057", "E08000025"};
    static const char *sorted[] = {"E06000001", "E06000057", "E08000025",
                                   "E08000035", "E09000033", "E10000034"};
    cdof_period_t jan = month(2024, 1), feb = month(2024, 2), dec = month(2023, 12);
    cdof_store_txn_t *t = NULL;
    collect_t c;

    assert_int_equal(cdof_store_begin(f->store, true, &t), 0);
    /* Neighbours on every side: other metrics (interned before and after), other months. */
    for (int i = 0; i < 6; i++) {
        hub_point_t pt = point(100 + i, 1000, 5000, (uint64_t)i);
        hub_point_t other = point(999, 1000, 5000, 99);
        assert_int_equal(hub_db_point_put(f->db, t, "metric_a", areas[i], &jan, &other), 0);
        assert_int_equal(hub_db_point_put(f->db, t, "metric_b", areas[i], &jan, &pt), 0);
        assert_int_equal(hub_db_point_put(f->db, t, "metric_c", areas[i], &jan, &other), 0);
        assert_int_equal(hub_db_point_put(f->db, t, "metric_b", areas[i], &feb, &other), 0);
        assert_int_equal(hub_db_point_put(f->db, t, "metric_b", areas[i], &dec, &other), 0);
    }
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect(f->db, t, "metric_b", &jan, &c), 0);
    assert_int_equal(c.n, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(c.areas[i], sorted[i]);
        assert_true(c.nums[i] != 999);
    }
    assert_true(c.nums[0] == 101); /* E06000001 was written second */

    /* Left after two; the transaction is as it was, and a new walk finds all six. */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    assert_int_equal(collect(f->db, t, "metric_b", &jan, &c), 1);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.areas[1], sorted[1]);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect(f->db, t, "metric_b", &jan, &c), 0);
    assert_int_equal(c.n, 6);

    memset(&c, 0, sizeof c);
    assert_int_equal(collect(f->db, t, "metric_unknown", &jan, &c), 0);
    assert_int_equal(c.n, 0);
    cdof_period_t mar = month(2024, 3);
    assert_int_equal(collect(f->db, t, "metric_b", &mar, &c), 0);
    assert_int_equal(c.n, 0);

    /* Arguments that name no walk are refused. */
    assert_int_equal(collect(f->db, t, "", &jan, &c), -EINVAL);
    assert_int_equal(collect(NULL, t, "metric_b", &jan, &c), -EINVAL);
    assert_int_equal(collect(f->db, NULL, "metric_b", &jan, &c), -EINVAL);
    assert_int_equal(c.n, 0);

    /* The cursor walks the same points in the same order, and nothing for an unknown metric or
     * an empty period; a cursor left open is released with the transaction. */
    hub_db_points_cursor_t *cur = NULL;
    hub_point_t pt;
    const char *area;
    int n = 0, rc;
    assert_int_equal(hub_db_points_open(f->db, t, "metric_b", &jan, &cur), 0);
    for (rc = hub_db_points_next(cur, &area, &pt); rc > 0;
         rc = hub_db_points_next(cur, &area, &pt)) {
        assert_true(n < 6);
        assert_string_equal(area, sorted[n]);
        assert_true(pt.fig.numerator != 999);
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 6);
    assert_int_equal(hub_db_points_next(cur, &area, &pt), 0);
    hub_db_points_close(&cur);
    assert_null(cur);
    assert_int_equal(hub_db_points_open(f->db, t, "metric_unknown", &jan, &cur), 0);
    assert_int_equal(hub_db_points_next(cur, &area, &pt), 0);
    hub_db_points_close(&cur);
    assert_int_equal(hub_db_points_open(f->db, t, "metric_b", &mar, &cur), 0);
    assert_int_equal(hub_db_points_next(cur, NULL, &pt), 0);
    hub_db_points_close(&cur);
    assert_int_equal(hub_db_points_open(f->db, t, "metric_b", &feb, &cur), 0);
    assert_int_equal(hub_db_points_next(cur, NULL, &pt), 1);
    cdof_store_abort(&t);
    hub_db_points_close(&cur);
}

static void test_kinds_with_same_first_day(void **state)
{
    fixture_t *f = *state;
    cdof_period_t ps[] = {month(2024, 1),
                          quarter(2024, 1),
                          years(CDOF_PERIOD_CALENDAR_YEAR, 2024, 2024),
                          years(CDOF_PERIOD_POOLED_YEARS, 2024, 2025),
                          years(CDOF_PERIOD_POOLED_YEARS, 2024, 2026),
                          years(CDOF_PERIOD_POOLED_YEARS, 2024, 2033),
                          fin_year(2024),
                          month(2024, 4)};
    const size_t n = sizeof ps / sizeof ps[0];
    cdof_store_txn_t *t = NULL;
    hub_point_t out;
    collect_t c;

    /* All of the first six start on 1 January 2024; the last two on 1 April. */
    for (size_t i = 1; i < 6; i++)
        assert_int_equal(ps[i].first_day, ps[0].first_day);
    assert_int_equal(ps[6].first_day, ps[7].first_day);

    assert_int_equal(cdof_store_begin(f->store, true, &t), 0);
    for (size_t i = 0; i < n; i++) {
        hub_point_t pt = point((double)i + 1, 10, 1000, i);
        assert_int_equal(hub_db_point_put(f->db, t, "m", "E92000001", &ps[i], &pt), 0);
    }
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(hub_db_point_get(f->db, t, "m", "E92000001", &ps[i], &out), 0);
        assert_true(out.fig.numerator == (double)i + 1);
        memset(&c, 0, sizeof c);
        assert_int_equal(collect(f->db, t, "m", &ps[i], &c), 0);
        assert_int_equal(c.n, 1);
        assert_true(c.nums[0] == (double)i + 1);
    }
    cdof_store_abort(&t);
}

typedef struct {
    int n;
    char metrics[16][32];
    cdof_period_t periods[16];
    char areas[16][HUB_DB_AREA_LEN + 1];
    double nums[16];
} collect_all_t;

/* Walks every point with a cursor, keeping each in c. Returns the last move's result. */
static int collect_all(hub_db_t *db, cdof_store_txn_t *t, collect_all_t *c)
{
    hub_db_points_all_cursor_t *cur = NULL;
    const char *metric, *area;
    cdof_period_t p;
    hub_point_t pt;
    int rc = hub_db_points_all_open(db, t, &cur);

    for (rc = rc < 0 ? rc : hub_db_points_all_next(cur, &metric, &area, &p, &pt); rc > 0;
         rc = hub_db_points_all_next(cur, &metric, &area, &p, &pt)) {
        assert_true(c->n < 16);
        snprintf(c->metrics[c->n], sizeof c->metrics[0], "%s", metric);
        strcpy(c->areas[c->n], area);
        c->nums[c->n] = pt.fig.numerator;
        c->periods[c->n++] = p;
    }
    hub_db_points_all_close(&cur);
    return rc;
}

/* Every point of every metric and period, in key order, with its metric id and whole period. */
static void test_points_all(void **state)
{
    fixture_t *f = *state;
    cdof_period_t pool = years(CDOF_PERIOD_POOLED_YEARS, 2021, 2023), may = month(2024, 5),
                  y1969 = years(CDOF_PERIOD_CALENDAR_YEAR, 1969, 1969);
    hub_point_t pt = point(1, 2, 3, 4);
    cdof_store_txn_t *t = NULL;
    collect_all_t c;

    /* An empty store has none. */
    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_all(f->db, t, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(collect_all(NULL, t, &c), -EINVAL);
    assert_int_equal(collect_all(f->db, NULL, &c), -EINVAL);
    cdof_store_abort(&t);

    put1(f, "zeta", "E06000001", &may, &pt);
    put1(f, "alpha", "E06000002", &may, &pt);
    put1(f, "alpha", "E06000001", &pool, &pt);
    put1(f, "zeta", "E12000003", &y1969, &pt); /* before the epoch: negative days */

    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_all(f->db, t, &c), 0);
    cdof_store_abort(&t);
    assert_int_equal(c.n, 4);
    for (int i = 0; i < 4; i++)
        assert_true(c.nums[i] == 1);
    /* Period first; within May, metric code order (zeta was interned first). */
    assert_string_equal(c.metrics[0], "zeta");
    assert_memory_equal(&c.periods[0], &y1969, sizeof y1969);
    assert_string_equal(c.metrics[1], "alpha");
    assert_memory_equal(&c.periods[1], &pool, sizeof pool);
    assert_string_equal(c.metrics[2], "zeta");
    assert_string_equal(c.areas[2], "E06000001");
    assert_memory_equal(&c.periods[2], &may, sizeof may);
    assert_string_equal(c.metrics[3], "alpha");
    assert_string_equal(c.areas[3], "E06000002");
}

typedef struct {
    int n;
    char ids[8][HUB_DB_AGENT_MAX];
    uint64_t hw[8];
} agents_t;

/* Walks the agent records with a cursor, keeping each in a. Returns the last move's result. */
static int collect_agents(hub_db_t *db, cdof_store_txn_t *t, agents_t *a)
{
    hub_db_agents_cursor_t *cur = NULL;
    hub_agent_record_t rec;
    int rc = hub_db_agents_open(db, t, &cur);

    for (rc = rc < 0 ? rc : hub_db_agents_next(cur, &rec); rc > 0;
         rc = hub_db_agents_next(cur, &rec)) {
        assert_true(a->n < 8);
        strcpy(a->ids[a->n], rec.agent_id);
        a->hw[a->n++] = rec.high_water;
    }
    hub_db_agents_close(&cur);
    return rc;
}

static void test_agents(void **state)
{
    fixture_t *f = *state;
    hub_agent_record_t r1 = {"cdp-leeds", 17, 1700000000000, 3, 1699999999000},
                       r2 = {"national-ndtms", UINT64_MAX, -5, 0, 0}, out;
    cdof_store_txn_t *t = NULL;
    agents_t a;

    /* None before the first. */
    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    memset(&a, 0, sizeof a);
    assert_int_equal(collect_agents(f->db, t, &a), 0);
    assert_int_equal(a.n, 0);
    cdof_store_abort(&t);

    assert_int_equal(cdof_store_begin(f->store, true, &t), 0);
    assert_int_equal(hub_db_agent_put(f->db, t, &r2), 0);
    assert_int_equal(hub_db_agent_put(f->db, t, &r1), 0);
    assert_int_equal(cdof_store_commit(&t), 0);
    reopen(f, false);

    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    memset(&out, 0, sizeof out);
    assert_int_equal(hub_db_agent_get(f->db, t, "cdp-leeds", &out), 0);
    assert_memory_equal(&out, &r1, sizeof out);
    assert_int_equal(hub_db_agent_get(f->db, t, "national-ndtms", &out), 0);
    assert_true(out.high_water == UINT64_MAX && out.last_heard_ms == -5);
    assert_int_equal(hub_db_agent_get(f->db, t, "cdp-york", &out), CDOF_ENOTFOUND);
    memset(&a, 0, sizeof a);
    assert_int_equal(collect_agents(f->db, t, &a), 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.ids[0], "cdp-leeds");
    assert_true(a.hw[0] == 17);
    assert_string_equal(a.ids[1], "national-ndtms");
    cdof_store_abort(&t);

    /* Moving the high-water mark is an overwrite, not a new record. */
    r1.high_water = 18;
    assert_int_equal(cdof_store_begin(f->store, true, &t), 0);
    assert_int_equal(hub_db_agent_put(f->db, t, &r1), 0);
    memset(&a, 0, sizeof a);
    assert_int_equal(collect_agents(f->db, t, &a), 0);
    assert_int_equal(a.n, 2);
    assert_true(a.hw[0] == 18);
    assert_int_equal(cdof_store_commit(&t), 0);
}

static void test_interning_stable(void **state)
{
    fixture_t *f = *state;
    const char *ids[] = {"m_one", "m_two", "m_three"};
    cdof_period_t p = quarter(2023, 4);
    hub_point_t pt = point(5, 6, 7, 8), out;
    cdof_store_txn_t *t = NULL;
    uint16_t code;

    for (int i = 0; i < 3; i++)
        put1(f, ids[i], "E06000001", &p, &pt);
    put1(f, "m_two", "E06000002", &p, &pt); /* a known id keeps its code */

    reopen(f, false);
    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(hub_db_metric_code(f->db, t, ids[i], &code), 0);
        assert_int_equal(code, i + 1);
    }
    assert_int_equal(hub_db_metric_code(f->db, t, "m_four", &code), CDOF_ENOTFOUND);
    cdof_store_abort(&t);

    put1(f, "m_four", "E06000001", &p, &pt);
    reopen(f, true); /* a read-only reader sees the same codes */
    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    assert_int_equal(hub_db_metric_code(f->db, t, "m_four", &code), 0);
    assert_int_equal(code, 4);
    assert_int_equal(hub_db_metric_code(f->db, t, "m_two", &code), 0);
    assert_int_equal(code, 2);
    assert_int_equal(hub_db_point_get(f->db, t, "m_two", "E06000002", &p, &out), 0);
    assert_true(out.fig.numerator == 5);
    cdof_store_abort(&t);
}

/* A memo is filled by the first put of its metric in a transaction and used by the rest; an
 * aborted transaction hands its new code out again, to another metric, which is why a memo
 * lives no longer than its transaction. */
static void test_put_memo(void **state)
{
    fixture_t *f = *state;
    cdof_period_t p = month(2024, 2);
    hub_point_t pt = point(3, 4, 5, 6), out;
    cdof_store_txn_t *t = NULL;
    uint16_t memo = 0, code;

    put1(f, "m_one", "E06000001", &p, &pt);
    assert_int_equal(cdof_store_begin(f->store, true, &t), 0);
    assert_int_equal(hub_db_point_put_memo(f->db, t, "m_new", &memo, "E06", &p, &pt), -EINVAL);
    assert_int_equal(memo, 0); /* a bad row is refused before the metric is interned */
    assert_int_equal(hub_db_point_put_memo(f->db, t, "m_new", &memo, "E06000001", &p, &pt), 0);
    assert_int_equal(memo, 2);
    assert_int_equal(hub_db_point_put_memo(f->db, t, "m_new", &memo, "E06000002", &p, &pt), 0);
    assert_int_equal(hub_db_point_get(f->db, t, "m_new", "E06000002", &p, &out), 0);
    cdof_store_abort(&t);

    memo = 0;
    assert_int_equal(cdof_store_begin(f->store, true, &t), 0);
    assert_int_equal(hub_db_point_put_memo(f->db, t, "m_other", &memo, "E06000001", &p, &pt), 0);
    assert_int_equal(memo, 2);
    assert_int_equal(hub_db_point_put_memo(f->db, t, "m_other", &memo, "E06000002", &p, &pt), 0);
    memo = 0;
    assert_int_equal(hub_db_point_put_memo(f->db, t, "m_one", &memo, "E06000002", &p, &pt), 0);
    assert_int_equal(memo, 1);
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_begin(f->store, false, &t), 0);
    assert_int_equal(hub_db_metric_code(f->db, t, "m_new", &code), CDOF_ENOTFOUND);
    assert_int_equal(hub_db_point_get(f->db, t, "m_other", "E06000002", &p, &out), 0);
    assert_true(out.fig.numerator == 3);
    assert_int_equal(hub_db_point_get(f->db, t, "m_one", "E06000002", &p, &out), 0);
    cdof_store_abort(&t);
}

static void test_corrupt_value(void **state)
{
    fixture_t *f = *state;
    cdof_period_t p = month(2024, 6);
    hub_point_t pt = point(1, 2, 3, 4), out;
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t raw;
    uint8_t key[HUB_DB_POINT_KEY_LEN], junk[60];
    uint16_t code;
    collect_t c;

    put1(f, "m", "E06000009", &p, &pt);
    assert_int_equal(cdof_store_db(f->store, "points", &raw), 0);

    /* The documented key layout, built by hand. */
    cdof_store_be32(key, (uint32_t)((int64_t)p.first_day + ((int64_t)1 << 31)));
    key[4] = CDOF_PERIOD_MONTH;
    assert_int_equal(cdof_store_begin(f->store, true, &t), 0);
    assert_int_equal(hub_db_metric_code(f->db, t, "m", &code), 0);
    cdof_store_be16(key + 5, code);
    memcpy(key + 7, "E06000009", 9);
    assert_int_equal(hub_db_point_get(f->db, t, "m", "E06000009", &p, &out), 0);

    memset(junk, 0, sizeof junk);
    junk[0] = 1;
    assert_int_equal(cdof_store_put(t, raw, key, sizeof key, junk, 10), 0); /* short */
    assert_int_equal(hub_db_point_get(f->db, t, "m", "E06000009", &p, &out), CDOF_ECORRUPT);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect(f->db, t, "m", &p, &c), CDOF_ECORRUPT);
    collect_all_t all;
    memset(&all, 0, sizeof all);
    assert_int_equal(collect_all(f->db, t, &all), CDOF_ECORRUPT);
    assert_int_equal(cdof_store_put(t, raw, key, sizeof key, junk, sizeof junk), 0); /* long */
    assert_int_equal(hub_db_point_get(f->db, t, "m", "E06000009", &p, &out), CDOF_ECORRUPT);
    junk[0] = 9;
    assert_int_equal(cdof_store_put(t, raw, key, sizeof key, junk, sizeof junk), 0);
    assert_int_equal(hub_db_point_get(f->db, t, "m", "E06000009", &p, &out), CDOF_EVERSION);
    /* A revision over an undecodable value refuses rather than losing it. */
    assert_int_equal(hub_db_point_put(f->db, t, "m", "E06000009", &p, &pt), CDOF_EVERSION);
    cdof_store_abort(&t);
}

static void test_read_only_without_points(void **state)
{
    fixture_t *f = *state;
    char dir[64];
    cdof_store_opts_t o = hub_opts();
    cdof_store_t *s = NULL;
    hub_db_t *db = NULL;

    (void)f;
    strcpy(dir, "/tmp/cdof-test-points-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(cdof_store_open(dir, &o, &s, NULL, 0), 0);
    cdof_store_close(&s);
    o.read_only = true;
    assert_int_equal(cdof_store_open(dir, &o, &s, NULL, 0), 0);
    assert_int_equal(hub_db_open(s, &db), CDOF_ENOTFOUND);
    assert_null(db);
    cdof_store_close(&s);
    rm_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revisions_as_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_points_one_metric_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_with_same_first_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_points_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interning_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_memo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_without_points, setup, teardown),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
