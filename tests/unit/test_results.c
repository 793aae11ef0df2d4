/* Stored comparisons (hub_results): incremental updates against a full rebuild, over a real LMDB
 * store in a temporary directory and the shipped reference data. */
#define _XOPEN_SOURCE 700 /* nftw, to remove the scratch store */
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <setjmp.h>
#include <cmocka.h>

#include "cdof_compare.h"
#include "cdof_error.h"
#include "hub.h"
#include "hub_db.h"
#include "hub_periods.h"
#include "hub_results.h"

#define NAREAS 4 /* upper-tier areas given data: enough for a region and England row */

typedef struct {
    char dir[64];
    hub_t hub;
} fixture_t;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    cdof_store_opts_t so = {.schema = "hub", .schema_version = HUB_SCHEMA_VERSION, .no_sync = true};
    char err[512] = "", cpath[512];
    int rc;

    if (!f)
        return -1;
    *state = f;
    strcpy(f->dir, "/tmp/cdof-test-results-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    hub_t *hub = &f->hub;
    /* The shipped commitments give counts their trajectories, as in the hub. */
    snprintf(cpath, sizeof cpath, "%s/commitments.csv", CDOF_REF_DIR);
    rc = (hub->ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err)) ? 0 : CDOF_EINVALID;
    if (rc == 0)
        rc = cdof_store_open(f->dir, &so, &hub->store, err, sizeof err);
    if (rc == 0)
        rc = hub_db_open(hub->store, &hub->db);
    if (rc == 0)
        rc = cdof_commitments_load(cpath, hub->ref, &hub->commitments, err, sizeof err);
    if (rc == 0)
        rc = hub_results_open(hub, NULL, err, sizeof err);
    if (rc < 0)
        print_error("setup: %s\n", err[0] ? err : cdof_strerror(rc));
    return rc < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    hub_t *hub = &f->hub;

    hub_results_close(hub);
    hub_db_close(&hub->db);
    cdof_store_close(&hub->store);
    cdof_commitments_destroy(&hub->commitments);
    cdof_ref_destroy(&hub->ref);
    nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static cdof_period_t period(const char *text)
{
    cdof_period_t p;
    char err[128];

    assert_int_equal(cdof_period_parse(text, &p, err, sizeof err), 0);
    return p;
}

/* Stores a count for the first NAREAS upper-tier areas in p, as ingest does (points and the
 * period index), without computing anything. */
static void put_counts(hub_t *hub, const cdof_metric_t *m, const cdof_period_t *p, double base)
{
    cdof_store_txn_t *txn = NULL;
    size_t n = 0;

    assert_int_equal(cdof_store_begin(hub->store, true, &txn), 0);
    for (size_t i = 0; n < NAREAS && i < cdof_ref_area_count(hub->ref); i++) {
        const cdof_area_t *a = cdof_ref_area_at(hub->ref, i);
        if (a->kind != CDOF_AREA_UTLA)
            continue;
        hub_point_t pt = {.fig.has_value = true, .fig.value = base + (double)n, .received_ms = 1};
        assert_int_equal(hub_db_point_put(hub->db, txn, m->id, a->code, p, &pt), 0);
        n++;
    }
    assert_int_equal(hub_periods_note(hub, txn, m, p), 0);
    assert_int_equal(cdof_store_commit(&txn), 0);
}

static void update(hub_t *hub, const hub_touch_t *t, size_t n)
{
    cdof_store_txn_t *txn = NULL;

    assert_int_equal(cdof_store_begin(hub->store, true, &txn), 0);
    assert_int_equal(hub_results_update(hub, txn, t, n), 0);
    assert_int_equal(cdof_store_commit(&txn), 0);
}

/* The settle tick hands hub_results_update a year and the year after next (their marks settled)
 * while the year between has points but no rows yet (its mark still waits). The year between is
 * computed as the first year's dependent only after the last one was: the last one's baseline
 * must still come out as a rebuild computes it. */
static void test_baseline_of_touched_period_recomputed_between(void **state)
{
    fixture_t *f = *state;
    hub_t *hub = &f->hub;
    const cdof_metric_t *m = cdof_ref_metric(hub->ref, "community_sentence_treatment");
    assert_non_null(m); /* a quarterly count: rows have a baseline a year earlier */
    cdof_period_t q21 = period("2021-Q1"), q22 = period("2022-Q1"), q23 = period("2023-Q1");

    put_counts(hub, m, &q21, 10);
    put_counts(hub, m, &q22, 20);
    put_counts(hub, m, &q23, 30);
    hub_touch_t t[] = {{.metric = m, .period = q21}, {.metric = m, .period = q23}};
    update(hub, t, 2);

    char diff[512] = "";
    int rc = hub_results_rebuild_all(hub, true, diff, sizeof diff, NULL);
    if (rc != 0)
        print_error("rebuild --check: %s\n", diff);
    assert_int_equal(rc, 0);
    /* (The check aborts its rebuild: the rows read below are the incremental ones.) */
    cdof_store_txn_t *txn = NULL;
    cdof_compare_row_t r;
    const cdof_area_t *a = NULL;
    for (size_t i = 0; !a; i++)
        a = cdof_ref_area_at(hub->ref, i)->kind == CDOF_AREA_UTLA ? cdof_ref_area_at(hub->ref, i)
                                                                  : NULL;
    assert_int_equal(cdof_store_begin(hub->store, false, &txn), 0);
    assert_int_equal(hub_results_get(hub, txn, m, &q23, HUB_BASIS_REPORTED, a->code, &r), 0);
    cdof_store_abort(&txn);
    assert_true(r.has_baseline);
    assert_true(r.baseline_value == 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_baseline_of_touched_period_recomputed_between, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
