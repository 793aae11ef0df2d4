/* libFuzzer target for the hub's alert rules file: any input either loads a rule set whose
 * fields are within their documented limits or fails with a reason naming the file and line.
 * Crashes and failed checks abort. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_ref.h"
#include "hub_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rules: check failed: %s (line %d)\n", #cond, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cdof_ref_t *ref;
    char err[512] = "";
    if (!ref && !(ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err))) {
        fprintf(stderr, "fuzz_rules: %s\n", err);
        abort();
    }
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    FILE *f = fmemopen((void *)data, size, "r");
    CHECK(f);
    hub_rules_t *r = NULL;
    int rc = hub_rules_parse(f, "fuzz.ini", ref, 0.998, &r, err, sizeof err);
    fclose(f);
    if (rc < 0) {
        CHECK(!r);
        CHECK(!strncmp(err, "fuzz.ini", 8) || rc == -ENOMEM);
        return 0;
    }
    CHECK(r && hub_rules_count(r) >= 1);
    for (size_t i = 0; i < hub_rules_count(r); i++) {
        const hub_rule_t *rule = hub_rules_at(r, i);
        CHECK(rule->name[0] && strlen(rule->name) < HUB_RULE_NAME_MAX);
        CHECK(rule->consecutive >= 1 && rule->consecutive <= 60);
        CHECK(rule->confidence == 0.95 || rule->confidence == 0.998);
        CHECK(rule->severity >= 0 && rule->severity <= 3);
        CHECK(rule->silent_s >= 1 && rule->days >= 0 && rule->history >= 3);
    }
    hub_rules_destroy(&r);
    return 0;
}
