/* bench_compare: the stored comparisons' costs on a national-sized store.
 *
 *   bench_compare [--areas N] [--years N] [--dir DIR] [--refdir DIR]
 *
 * Writes monthly points for N areas (default all 153) x every catalogue metric x N years
 * (default 10) into a fresh LMDB store (no fsync: the figures are about computing), then times
 *   - the baseline: one raw walk of every point (hub_db_points_all_*, decoding each);
 *   - a full rebuild of every stored comparison (hub_results_rebuild);
 *   - re-evaluating after one update, at the latest month and at a month a year earlier (which
 *     also revises later trends and twelve rolling windows), against the baseline of one raw
 *     scan of that metric and month;
 * and prints each with the data sizes, as a ratio to its baseline from the same run (medians of
 * 7 runs, the rebuild once). Prints figures only: it asserts nothing about speed. */
#define _XOPEN_SOURCE 700 /* nftw, to remove the scratch store */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cdof_error.h"
#include "hub.h"
#include "hub_db.h"
#include "hub_periods.h"
#include "hub_results.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define REPEAT 7 /* timed runs of each measurement; the median is printed */

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return v[n / 2];
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The baseline's raw reads: every point (metric_id NULL) or one metric and period's, each
 * decoded. Returns 0 or a negative code, with the count in *n. */
static int count_points(hub_t *hub, cdof_store_txn_t *txn, const char *metric_id,
                        const cdof_period_t *p, uint64_t *n)
{
    hub_point_t *pt = malloc(sizeof *pt);
    int rc = pt ? 0 : -ENOMEM;
    *n = 0;
    if (rc == 0 && metric_id) {
        hub_db_points_cursor_t *c = NULL;
        rc = hub_db_points_open(hub->db, txn, metric_id, p, &c);
        for (rc = rc < 0 ? rc : hub_db_points_next(c, NULL, pt); rc > 0;
             rc = hub_db_points_next(c, NULL, pt))
            (*n)++;
        hub_db_points_close(&c);
    } else if (rc == 0) {
        hub_db_points_all_cursor_t *c = NULL;
        cdof_period_t period;
        rc = hub_db_points_all_open(hub->db, txn, &c);
        for (rc = rc < 0 ? rc : hub_db_points_all_next(c, NULL, NULL, &period, pt); rc > 0;
             rc = hub_db_points_all_next(c, NULL, NULL, &period, pt))
            (*n)++;
        hub_db_points_all_close(&c);
    }
    free(pt);
    return rc;
}

static cdof_period_t month(int y, int mo)
{
    char text[16], err[128];
    cdof_period_t p = {0};
    snprintf(text, sizeof text, "%04d-%02d", y, mo);
    cdof_period_parse(text, &p, err, sizeof err);
    return p;
}

/* A plausible point for metric m, area a, month index t: counts about population / 2,500 a
 * month with a slow drift by area, so that verdicts and trends vary. */
static hub_point_t make_point(const cdof_metric_t *m, const cdof_area_t *a, int t)
{
    hub_point_t pt = {.received_ms = 1700000000000 + t, .sequence = (uint64_t)t + 1};
    snprintf(pt.agent_id, sizeof pt.agent_id, "bench");
    double den = floor(a->population / 2500) + 20;
    double rate = 0.3 + 0.02 * (a->index % 13) + 0.001 * (t % 24) * ((a->index % 3) - 1);
    if (m->unit == CDOF_UNIT_COUNT) {
        pt.fig.has_value = true;
        pt.fig.value = floor(den * rate) + t;
    } else {
        pt.fig.has_numerator = pt.fig.has_denominator = true;
        pt.fig.denominator = m->unit == CDOF_UNIT_RATE ? a->population : den;
        pt.fig.numerator = floor(den * rate * (m->unit == CDOF_UNIT_RATE ? 0.1 : 1));
    }
    return pt;
}

static int time_update(hub_t *hub, const cdof_metric_t *m, const cdof_area_t *a,
                       const cdof_period_t *p, int t, double *secs, double *base)
{
    cdof_store_txn_t *txn = NULL;
    uint64_t n = 0;
    double t0 = now_s();
    int rc = cdof_store_begin(hub->store, false, &txn);
    if (rc == 0)
        rc = count_points(hub, txn, m->id, p, &n);
    cdof_store_abort(&txn);
    *base = now_s() - t0;

    hub_point_t pt = make_point(m, a, t);
    pt.fig.numerator += 1;
    pt.fig.value += 1;
    hub_touch_t touch = {.metric = m, .period = *p};
    t0 = now_s();
    if (rc == 0)
        rc = cdof_store_begin(hub->store, true, &txn);
    if (rc == 0)
        rc = hub_db_point_put(hub->db, txn, m->id, a->code, p, &pt);
    if (rc == 0)
        rc = hub_results_update(hub, txn, &touch, 1);
    if (rc == 0)
        rc = cdof_store_commit(&txn);
    else
        cdof_store_abort(&txn);
    *secs = now_s() - t0;
    return rc;
}

int main(int argc, char **argv)
{
    int nareas_want = 153, years = 10;
    const char *dir = NULL, *refdir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--areas"))
            nareas_want = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--years"))
            years = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--refdir"))
            refdir = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_compare [--areas N] [--years N] [--dir DIR] "
                            "[--refdir DIR]\n");
            return 2;
        }
    }
    if (nareas_want < 1 || years < 2 || years > 50) {
        fprintf(stderr, "bench_compare: --areas at least 1, --years 2 to 50\n");
        return 2;
    }
    char tmpl[] = "/tmp/bench_compare.XXXXXX", err[512] = "";
    if (!dir && !(dir = mkdtemp(tmpl))) {
        perror("bench_compare: mkdtemp");
        return 1;
    }
    hub_t hub;
    memset(&hub, 0, sizeof hub);
    if (!refdir)
        refdir = cdof_ref_default_dir();
    /* A map large enough from the start: growing it would restart the timed rebuild. */
    cdof_store_opts_t so = {.schema = "hub",
                            .schema_version = HUB_SCHEMA_VERSION,
                            .no_sync = true,
                            .map_size = (size_t)4 << 30};
    int rc = (hub.ref = cdof_ref_load(refdir, err, sizeof err)) ? 0 : CDOF_EINVALID;
    if (rc == 0)
        rc = cdof_store_open(dir, &so, &hub.store, err, sizeof err);
    if (rc == 0)
        rc = hub_db_open(hub.store, &hub.db);
    if (rc == 0) {
        /* The shipped commitments give counts their trajectories, as in the hub. */
        char cpath[4096];
        snprintf(cpath, sizeof cpath, "%s/commitments.csv", refdir);
        rc = cdof_commitments_load(cpath, hub.ref, &hub.commitments, err, sizeof err);
    }
    if (rc == 0)
        rc = hub_results_open(&hub, NULL, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "bench_compare: %s\n", err[0] ? err : cdof_strerror(rc));
        goto out;
    }

    /* The data: every metric monthly, areas in reference order, oldest month first. */
    size_t nmetrics = cdof_ref_metric_count(hub.ref), nareas = 0;
    int first_year = 2015, months = years * 12;
    uint64_t npoints = 0;
    double t0 = now_s();
    for (int t = 0; rc == 0 && t < months; t++) {
        cdof_store_txn_t *txn = NULL;
        cdof_period_t p = month(first_year + t / 12, t % 12 + 1);
        rc = cdof_store_begin(hub.store, true, &txn);
        for (size_t mi = 0; rc == 0 && mi < nmetrics; mi++) {
            const cdof_metric_t *m = cdof_ref_metric_at(hub.ref, mi);
            nareas = 0;
            for (size_t ai = 0; rc == 0 && ai < cdof_ref_area_count(hub.ref); ai++) {
                const cdof_area_t *a = cdof_ref_area_at(hub.ref, ai);
                if (a->kind != CDOF_AREA_UTLA || (int)nareas >= nareas_want)
                    continue;
                hub_point_t pt = make_point(m, a, t);
                rc = hub_db_point_put(hub.db, txn, m->id, a->code, &p, &pt);
                nareas++;
                npoints++;
            }
            if (rc == 0)
                rc = hub_periods_note(&hub, txn, m, &p);
        }
        if (rc == 0)
            rc = cdof_store_commit(&txn);
        else
            cdof_store_abort(&txn);
    }
    double load_s = now_s() - t0;
    if (rc < 0) {
        fprintf(stderr, "bench_compare: loading points: %s\n", cdof_strerror(rc));
        goto out;
    }

    /* Baseline: every point read and decoded once (median of REPEAT scans). */
    uint64_t scanned = 0, rows = 0;
    double times[REPEAT];
    for (int r = 0; rc == 0 && r < REPEAT; r++) {
        cdof_store_txn_t *txn = NULL;
        scanned = 0;
        t0 = now_s();
        rc = cdof_store_begin(hub.store, false, &txn);
        if (rc == 0)
            rc = count_points(&hub, txn, NULL, NULL, &scanned);
        cdof_store_abort(&txn);
        times[r] = now_s() - t0;
    }
    double scan_s = median(times, REPEAT);

    t0 = now_s();
    if (rc == 0)
        rc = hub_results_rebuild_all(&hub, false, NULL, 0, &rows);
    double rebuild_s = now_s() - t0;
    if (rc < 0) {
        fprintf(stderr, "bench_compare: rebuild: %s\n", cdof_strerror(rc));
        goto out;
    }

    /* One update of continuity of care (a monthly proportion with rolling windows and trends)
     * at the latest month and at a year before it, for REPEAT different areas: medians. */
    const cdof_metric_t *m = cdof_ref_metric(hub.ref, "continuity_of_care");
    int t_last = months - 1, t_year = months - 13;
    cdof_period_t p_last = month(first_year + t_last / 12, t_last % 12 + 1);
    cdof_period_t p_year = month(first_year + t_year / 12, t_year % 12 + 1);
    double ul[REPEAT], bl[REPEAT], uy[REPEAT], by[REPEAT];
    for (int r = 0; rc == 0 && m && r < REPEAT; r++) {
        const cdof_area_t *a = cdof_ref_area_at(hub.ref, 10 + (size_t)r % nareas); /* UTLAs */
        rc = time_update(&hub, m, a, &p_last, t_last, &ul[r], &bl[r]);
        if (rc == 0)
            rc = time_update(&hub, m, a, &p_year, t_year, &uy[r], &by[r]);
    }
    double upd_last = median(ul, REPEAT), base_last = median(bl, REPEAT);
    double upd_year = median(uy, REPEAT), base_year = median(by, REPEAT);
    if (rc < 0) {
        fprintf(stderr, "bench_compare: update: %s\n", cdof_strerror(rc));
        goto out;
    }
    cdof_store_map_info_t mi;
    cdof_store_map_info(hub.store, &mi);

    printf("bench_compare: %zu areas x %zu metrics x %d months = %llu points (%llu scanned); "
           "store %.1f MiB; loaded in %.2f s\n",
           nareas, nmetrics, months, (unsigned long long)npoints, (unsigned long long)scanned,
           (double)mi.used / 1048576.0, load_s);
    printf("(medians of %d runs; the rebuild runs once)\n", REPEAT);
    printf("baseline  raw scan of every point            %9.3f s  1.0x\n", scan_s);
    printf("rebuild   %llu comparison rows               %9.3f s  %.1fx the raw scan\n",
           (unsigned long long)rows, rebuild_s, rebuild_s / scan_s);
    printf("baseline  raw scan of one metric and month   %9.6f s  1.0x\n", base_last);
    printf("update    latest month (%s)        %9.6f s  %.1fx that scan\n", m->id, upd_last,
           upd_last / base_last);
    printf("update    a year earlier (trends, 12 rolling) %9.6f s  %.1fx that scan (%.1fx the "
           "latest month)\n",
           upd_year, upd_year / base_year, upd_year / upd_last);
    printf("rebuild / one update at the latest month: %.0fx\n", rebuild_s / upd_last);
out:
    hub_results_close(&hub);
    hub_db_close(&hub.db);
    cdof_store_close(&hub.store);
    cdof_commitments_destroy(&hub.commitments);
    cdof_ref_destroy(&hub.ref);
    if (dir == tmpl && nftw(tmpl, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "bench_compare: could not remove %s\n", tmpl);
    return rc < 0 ? 1 : 0;
}
