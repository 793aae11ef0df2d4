/* A hub on a real LMDB store in a temporary directory, for the unit tests of the hub's modules:
 * the shipped reference data, the databases ingest and settling write, period states with the
 * default policies, stored comparisons, the alert lifecycle with the default rules (95%) and
 * settling. No sockets. */
#ifndef CDOF_TEST_HUB_FIXTURE_H
#define CDOF_TEST_HUB_FIXTURE_H

#include <stdint.h>

#include "hub.h"

typedef struct {
    char dir[64];
    hub_t hub;
} hub_fixture_t;

/* Opens a hub in a fresh temporary directory, settling marks settle_ms after the latest (0: in
 * the ingest transaction). Returns 0, or -1 with the reason printed. */
int hub_fixture_open(hub_fixture_t *f, long settle_ms);

/* Closes everything and removes the directory. */
void hub_fixture_close(hub_fixture_t *f);

/* Metric-periods marked for settling now. */
uint64_t hub_fixture_marks(hub_fixture_t *f);

#endif
