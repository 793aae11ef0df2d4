/* Settling (hub_settle) on a real LMDB store in a temporary directory, driven as ingest drives it
 * but without sockets: marks, stored comparisons first, then judgement. With --settle-ms 0 one
 * ingest transaction leaves no mark and has stored the rows and raised the alert; otherwise an
 * open period waits for the tick and is never judged, the rows that complete a period are judged
 * in their own transaction, and a revision of a complete period is judged again by the tick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cdof_compare.h"
#include "cdof_error.h"
#include "cdof_wire.h"
#include "hub.h"
#include "hub_alerts.h"
#include "hub_db.h"
#include "hub_fixture.h"
#include "hub_periods.h"
#include "hub_results.h"
#include "hub_settle.h"

#define BAD    "E06000009" /* Blackpool: 10 of 100 where every other area has 45 */
#define METRIC "continuity_of_care"
#define SENT   8

typedef struct {
    hub_fixture_t fx;
    Cdof__V1__Alert *sent[SENT];
    size_t nsent;
} fixture_t;

static int setup_with(void **state, long settle_ms)
{
    fixture_t *f = calloc(1, sizeof *f);
    *state = f;
    return f ? hub_fixture_open(&f->fx, settle_ms) : -1;
}

static int setup_settle0(void **state)
{
    return setup_with(state, 0);
}

static int setup_settle(void **state)
{
    return setup_with(state, 1); /* due a millisecond after the latest mark */
}

static void forget_sent(fixture_t *f)
{
    for (size_t i = 0; i < f->nsent; i++)
        cdof__v1__alert__free_unpacked(f->sent[i], NULL);
    f->nsent = 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    forget_sent(f);
    hub_fixture_close(&f->fx);
    free(f);
    return 0;
}

static void collect(void *ctx, const char *topic, const uint8_t *alert, size_t len)
{
    fixture_t *f = ctx;
    char err[128];
    (void)topic;
    assert_true(f->nsent < SENT);
    f->sent[f->nsent] = cdof_wire_alert_decode(alert, len, err, sizeof err);
    assert_non_null(f->sent[f->nsent++]);
}

static size_t publish(fixture_t *f)
{
    forget_sent(f);
    return hub_alerts_publish(f->fx.hub.alerts, collect, f);
}

static cdof_period_t month(const char *text)
{
    cdof_period_t p;
    char err[128];
    assert_int_equal(cdof_period_parse(text, &p, err, sizeof err), 0);
    return p;
}

/* As ingest commits a batch: the points of upper-tier areas [from, to) (by their order in the
 * reference data; BAD gets bad_num of 100, the others 45), the period index, then only marks and
 * what settling does at the end of the transaction. */
static void ingest(fixture_t *f, const char *period, size_t from, size_t to, double bad_num)
{
    hub_t *hub = &f->fx.hub;
    const cdof_metric_t *m = cdof_ref_metric(hub->ref, METRIC);
    cdof_period_t p = month(period);
    cdof_store_txn_t *txn = NULL;
    hub_touch_t t = {.metric = m, .period = p};
    size_t k = 0;
    assert_int_equal(cdof_store_begin(hub->store, true, &txn), 0);
    hub_settle_begin(hub);
    for (size_t i = 0; i < cdof_ref_area_count(hub->ref); i++) {
        const cdof_area_t *a = cdof_ref_area_at(hub->ref, i);
        if (a->kind != CDOF_AREA_UTLA || k++ < from || k > to)
            continue;
        bool bad = !strcmp(a->code, BAD);
        hub_point_t pt = {.fig.has_numerator = true,
                          .fig.numerator = bad ? bad_num : 45,
                          .fig.has_denominator = true,
                          .fig.denominator = 100,
                          .received_ms = 1};
        assert_int_equal(hub_db_point_put(hub->db, txn, m->id, a->code, &p, &pt), 0);
    }
    assert_int_equal(hub_periods_note(hub, txn, m, &p), 0);
    hub_results_forget(hub, &t, 1);
    assert_int_equal(hub_settle_touch(hub, txn, m, &p), 0);
    assert_int_equal(hub_settle_ingested(hub, txn), 0);
    assert_int_equal(cdof_store_commit(&txn), 0);
}

static uint64_t marks(fixture_t *f)
{
    return hub_fixture_marks(&f->fx);
}

/* The stored row of BAD for the period: 0 or CDOF_ENOTFOUND; its numerator in *num. */
static int stored_row(fixture_t *f, const char *period, double *num)
{
    hub_t *hub = &f->fx.hub;
    cdof_period_t p = month(period);
    cdof_store_txn_t *txn = NULL;
    cdof_compare_row_t row;
    assert_int_equal(cdof_store_begin(hub->store, false, &txn), 0);
    int rc = hub_results_get(hub, txn, cdof_ref_metric(hub->ref, METRIC), &p, HUB_BASIS_REPORTED,
                             BAD, &row);
    cdof_store_abort(&txn);
    if (rc == 0)
        *num = row.fig.numerator;
    return rc;
}

static size_t utla_count(fixture_t *f)
{
    size_t n = 0;
    for (size_t i = 0; i < cdof_ref_area_count(f->fx.hub.ref); i++)
        n += cdof_ref_area_at(f->fx.hub.ref, i)->kind == CDOF_AREA_UTLA;
    return n;
}

/* Runs the tick once the marks are due (bounded: a second at most). */
static void tick(fixture_t *f)
{
    struct timespec ms = {0, 5 * 1000 * 1000};
    nanosleep(&ms, NULL);
    for (int i = 0; i < 200 && marks(f) > 0; i++) {
        assert_int_equal(hub_settle_tick(&f->fx.hub, false), 0);
        if (marks(f) > 0)
            nanosleep(&ms, NULL);
    }
}

static size_t firing_for_bad(fixture_t *f, Cdof__V1__AlertState state)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nsent; i++)
        n += f->sent[i]->state == state && !strcmp(f->sent[i]->area_code, BAD) &&
             !strcmp(f->sent[i]->rule, "worse_than_england");
    return n;
}

static void test_settle0_in_ingest(void **state)
{
    fixture_t *f = *state;
    double num = 0;
    ingest(f, "2024-05", 0, utla_count(f), 10);
    /* One transaction: no mark left, the rows stored, the alert raised with them. */
    assert_int_equal(marks(f), 0);
    assert_int_equal(stored_row(f, "2024-05", &num), 0);
    assert_true(num == 10);
    assert_true(publish(f) >= 1);
    assert_int_equal(firing_for_bad(f, CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING), 1);
    assert_true(f->fx.hub.counters.comparisons >= 1);
    /* A revision is judged in its own transaction too. */
    ingest(f, "2024-05", 0, utla_count(f), 45);
    assert_int_equal(marks(f), 0);
    assert_int_equal(stored_row(f, "2024-05", &num), 0);
    assert_true(num == 45);
    assert_true(publish(f) >= 1);
    assert_int_equal(firing_for_bad(f, CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED), 1);
}

static void test_open_then_complete_then_revised(void **state)
{
    fixture_t *f = *state;
    size_t all = utla_count(f);
    double num = 0;
    /* An open period: marked; nothing stored or judged until the tick, which stores its
     * (provisional) rows and judges nothing. */
    ingest(f, "2024-05", 0, all / 2, 10);
    assert_int_equal(marks(f), 1);
    assert_int_equal(stored_row(f, "2024-05", &num), CDOF_ENOTFOUND);
    assert_int_equal(publish(f), 0);
    tick(f);
    assert_int_equal(marks(f), 0);
    assert_int_equal(stored_row(f, "2024-05", &num), 0);
    assert_int_equal(publish(f), 0);

    /* The rows that complete it are judged in their own transaction; what depends on the period
     * stays marked for the tick. */
    ingest(f, "2024-05", all / 2, all, 10);
    assert_int_equal(publish(f) >= 1, 1);
    assert_int_equal(firing_for_bad(f, CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING), 1);
    assert_int_equal(marks(f), 1);
    tick(f);
    assert_int_equal(marks(f), 0);
    assert_int_equal(publish(f), 0); /* settling it again raises nothing new */

    /* A revision of the complete period waits for the tick, which judges it again. */
    ingest(f, "2024-05", 0, all, 45);
    assert_int_equal(marks(f), 1);
    assert_int_equal(publish(f), 0);
    tick(f);
    assert_int_equal(stored_row(f, "2024-05", &num), 0);
    assert_true(num == 45);
    assert_true(publish(f) >= 1);
    assert_int_equal(firing_for_bad(f, CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settle0_in_ingest, setup_settle0, teardown),
        cmocka_unit_test_setup_teardown(test_open_then_complete_then_revised, setup_settle,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
