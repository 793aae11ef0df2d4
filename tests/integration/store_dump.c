/* store_dump: prints what a hub's national store holds, for integration tests that must check
 * "exactly the set sent" without one query process per metric and period.
 *
 *   store_dump [--agents] DIR
 *
 * Opens DIR read-only (the hub may be running: LMDB readers see the last commit) and prints, one
 * line each, '|'-separated:
 *   P|metric|area|period|agent|sequence|numerator|denominator|value   every current point
 *   H|count                                                           entries in "history"
 *   A|agent|high_water                                                every agent record
 * Numbers print with %.17g, empty when absent. --agents prints the A lines only (cheap enough to
 * poll while the hub runs). Exits 0, or 1 with a reason on stderr. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cdof_error.h"
#include "cdof_period.h"
#include "hub_db.h" /* HUB_SCHEMA_VERSION: another version is refused, as by the hub */
#include "cdof_store.h"

static void num(bool has, double v)
{
    if (has)
        printf("|%.17g", v);
    else
        printf("|");
}

static int print_point(const char *metric_id, const char *area_code, const cdof_period_t *period,
                       const hub_point_t *pt)
{
    char text[CDOF_PERIOD_TEXT_MAX];
    if (cdof_period_format(period, text, sizeof text) < 0)
        return -EINVAL;
    printf("P|%s|%s|%s|%s|%llu", metric_id, area_code, text, pt->agent_id,
           (unsigned long long)pt->sequence);
    num(pt->fig.has_numerator, pt->fig.numerator);
    num(pt->fig.has_denominator, pt->fig.denominator);
    num(pt->fig.has_value, pt->fig.value);
    putchar('\n');
    return 0;
}

/* Every current point, in key order. */
static int print_points(hub_db_t *db, cdof_store_txn_t *txn)
{
    hub_db_points_all_cursor_t *c = NULL;
    const char *metric_id, *area;
    cdof_period_t period;
    hub_point_t pt;
    int rc = hub_db_points_all_open(db, txn, &c);
    for (rc = rc < 0 ? rc : hub_db_points_all_next(c, &metric_id, &area, &period, &pt); rc > 0;
         rc = hub_db_points_all_next(c, &metric_id, &area, &period, &pt))
        if ((rc = print_point(metric_id, area, &period, &pt)) < 0)
            break;
    hub_db_points_all_close(&c);
    return rc;
}

/* Every agent record, in agent-id order. */
static int print_agents(hub_db_t *db, cdof_store_txn_t *txn)
{
    hub_db_agents_cursor_t *c = NULL;
    hub_agent_record_t rec;
    int rc = hub_db_agents_open(db, txn, &c);
    for (rc = rc < 0 ? rc : hub_db_agents_next(c, &rec); rc > 0; rc = hub_db_agents_next(c, &rec))
        printf("A|%s|%llu\n", rec.agent_id, (unsigned long long)rec.high_water);
    hub_db_agents_close(&c);
    return rc;
}

int main(int argc, char **argv)
{
    bool agents_only = argc == 3 && strcmp(argv[1], "--agents") == 0;
    if (argc != 2 && !agents_only) {
        fprintf(stderr, "usage: store_dump [--agents] DIR\n");
        return 2;
    }
    const char *dir = argv[argc - 1];
    char err[512] = "";
    cdof_store_opts_t so = {
        .schema = "hub", .schema_version = HUB_SCHEMA_VERSION, .read_only = true};
    cdof_store_t *store = NULL;
    hub_db_t *pts = NULL;
    cdof_store_txn_t *txn = NULL;
    cdof_store_db_t history;
    uint64_t nhist = 0;
    const char *what = "opening";
    int rc = cdof_store_open(dir, &so, &store, err, sizeof err);
    if (rc < 0)
        goto fail;
    what = "opening points";
    if ((rc = hub_db_open(store, &pts)) < 0)
        goto fail;
    what = "opening history";
    rc = cdof_store_db(store, "history", &history);
    if (rc < 0 && rc != CDOF_ENOTFOUND)
        goto fail;
    bool has_history = rc == 0;
    what = "reading";
    if ((rc = cdof_store_begin(store, false, &txn)) < 0 ||
        (!agents_only && (rc = print_points(pts, txn)) < 0) ||
        (!agents_only && has_history && (rc = cdof_store_count(txn, history, &nhist)) < 0) ||
        (rc = print_agents(pts, txn)) < 0)
        goto fail;
    if (!agents_only)
        printf("H|%llu\n", (unsigned long long)nhist);
    cdof_store_abort(&txn);
    hub_db_close(&pts);
    cdof_store_close(&store);
    return fflush(stdout) == 0 ? 0 : 1;
fail:
    fprintf(stderr, "store_dump: %s %s: %s\n", what, dir, err[0] ? err : cdof_strerror(rc));
    cdof_store_abort(&txn);
    hub_db_close(&pts);
    cdof_store_close(&store);
    return 1;
}
