/* A cmocka group fixture for tests that need the reference data: ref_setup loads proto/data into
 * `ref`, ref_teardown frees it. Include once, after cmocka.h, in a test's .c file. */
#ifndef CDOF_TEST_REF_FIXTURE_H
#define CDOF_TEST_REF_FIXTURE_H

#include "cdof_ref.h"

static cdof_ref_t *ref;

static int ref_setup(void **state)
{
    (void)state;
    char err[256];
    ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err);
    if (!ref)
        print_error("reference data: %s\n", err);
    return ref ? 0 : -1;
}

static int ref_teardown(void **state)
{
    (void)state;
    cdof_ref_destroy(&ref);
    return 0;
}

#endif
