/* A hub on a real store for unit tests (hub_fixture.h). */
#define _XOPEN_SOURCE 700 /* nftw, to remove the scratch store */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "hub_alerts.h"
#include "hub_db.h"
#include "hub_fixture.h"
#include "hub_results.h"
#include "hub_rules.h"
#include "hub_settle.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int hub_fixture_open(hub_fixture_t *f, long settle_ms)
{
    cdof_store_opts_t so = {.schema = "hub", .schema_version = HUB_SCHEMA_VERSION, .no_sync = true};
    char err[512] = "";
    memset(f, 0, sizeof *f);
    strcpy(f->dir, "/tmp/cdof-test-hub-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    hub_t *hub = &f->hub;
    hub->cfg.settle_ms = settle_ms;
    hub->cfg.period_tolerance_days = 1;
    hub->cfg.data = f->dir;
    int rc = (hub->ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err)) ? 0 : CDOF_EINVALID;
    hub_rules_t *rules = rc == 0 ? hub_rules_default(hub->ref, 0.95) : NULL;
    if (rc == 0)
        rc = cdof_store_open(f->dir, &so, &hub->store, err, sizeof err);
    if (rc == 0)
        rc = hub_db_open(hub->store, &hub->db);
    if (rc == 0)
        rc = hub_results_open(hub, NULL, err, sizeof err); /* and the period states */
    if (rc == 0) {
        rc = hub_alerts_open(hub->store, hub->ref, rules, 30, &hub->alerts);
        rules = NULL; /* the alerts own them, even on failure */
    }
    if (rc == 0)
        rc = hub_settle_open(hub);
    hub_rules_destroy(&rules);
    if (rc < 0)
        print_error("hub fixture: %s\n", err[0] ? err : cdof_strerror(rc));
    return rc < 0 ? -1 : 0;
}

void hub_fixture_close(hub_fixture_t *f)
{
    hub_t *hub = &f->hub;
    hub_settle_close(hub);
    hub_alerts_destroy(&hub->alerts);
    hub_results_close(hub);
    hub_db_close(&hub->db);
    cdof_store_close(&hub->store);
    cdof_ref_destroy(&hub->ref);
    if (f->dir[0])
        nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

uint64_t hub_fixture_marks(hub_fixture_t *f)
{
    cdof_store_txn_t *txn = NULL;
    uint64_t n = 0;
    assert_int_equal(cdof_store_begin(f->hub.store, false, &txn), 0);
    assert_int_equal(hub_settle_count(&f->hub, txn, &n), 0);
    cdof_store_abort(&txn);
    return n;
}
