/* libFuzzer target for the hub's first look at an ingest message: bounded envelope decoding,
 * then what the hub does with a decoded update (conversion and validation against the reference
 * data, with and without a partnership's scope). A decoded envelope must honour every bound the
 * decoder promises, and must survive a pack/decode round trip. Crashes and failed checks abort. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_validate.h"
#include "cdof_wire.h"
#include "fuzz_pb.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cdof_ref_t *ref;

static void load_ref(void)
{
    char err[512];
    const char *dir = getenv("CDOF_REFDIR") ? getenv("CDOF_REFDIR") : FUZZ_REFDIR;
    ref = cdof_ref_load(dir, err, sizeof err);
    if (!ref) {
        fprintf(stderr, "fuzz_envelope: reference data: %s\n", err);
        abort();
    }
}

static void check_bounds(const Cdof__V1__Envelope *env)
{
    CHECK(env->agent_id && env->agent_id[0] && strlen(env->agent_id) <= CDOF_WIRE_MAX_ID);
    CHECK(env->body_case != CDOF__V1__ENVELOPE__BODY__NOT_SET);
    CHECK(env->sequence > 0 || env->body_case == CDOF__V1__ENVELOPE__BODY_HEARTBEAT);
    if (env->body_case == CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE) {
        const Cdof__V1__MetricUpdate *u = env->metric_update;
        CHECK(u->period);
        CHECK(strlen(u->metric_id) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(u->area_code) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(u->note) <= CDOF_WIRE_MAX_TEXT);
        CHECK(strlen(u->source_file) <= CDOF_WIRE_MAX_TEXT);
    } else if (env->body_case == CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT) {
        const Cdof__V1__MilestoneEvent *m = env->milestone_event;
        CHECK(strlen(m->milestone_id) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(m->partnership) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(m->ref) <= CDOF_WIRE_MAX_TEXT && strlen(m->note) <= CDOF_WIRE_MAX_TEXT);
    }
}

/* What the hub does next: convert and validate, for a national source and for a partnership. */
static void validate(const Cdof__V1__Envelope *env)
{
    char err[CDOF_WIRE_MAX_TEXT];
    if (env->body_case == CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE) {
        cdof_update_t u;
        if (cdof_wire_update_from_msg(env->metric_update, &u, err, sizeof err) < 0) {
            CHECK(err[0]);
            return;
        }
        static const char *const areas[] = {"E06000009", "E06000008"};
        cdof_scope_t national = {.national = true}, partnership = {.areas = areas, .nareas = 2};
        int any = cdof_validate_update(ref, &national, &u, err, sizeof err);
        CHECK(any == 0 || (any == CDOF_EINVALID && err[0]));
        int own = cdof_validate_update(ref, &partnership, &u, err, sizeof err);
        CHECK(own == 0 || (own == CDOF_EINVALID && err[0]));
        /* A partnership may never write what a national source may not. */
        CHECK(own != 0 || any == 0);
    } else if (env->body_case == CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT) {
        const Cdof__V1__MilestoneEvent *m = env->milestone_event;
        int rc = cdof_validate_milestone(ref, m->milestone_id, m->partnership, m->date,
                                         cdof_clock_today(), "la-1", err, sizeof err);
        CHECK(rc == 0 || (rc == CDOF_EINVALID && err[0]));
        CHECK(rc != 0 || strcmp(m->partnership, "la-1") == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ref)
        load_ref();
    char err[CDOF_WIRE_MAX_TEXT] = "";
    Cdof__V1__Envelope *env = cdof_wire_envelope_decode(data, size, err, sizeof err);
    if (!env) {
        CHECK(err[0]);
        return 0;
    }
    check_bounds(env);
    validate(env);
    if (fuzz_pb_has_unknown(&env->base)) {
        cdof__v1__envelope__free_unpacked(env, NULL);
        return 0;
    }
    uint8_t *buf;
    size_t len;
    CHECK(cdof_wire_pack(&env->base, &buf, &len) == 0);
    CHECK(len <= CDOF_WIRE_MAX_MESSAGE);
    Cdof__V1__Envelope *again = cdof_wire_envelope_decode(buf, len, err, sizeof err);
    CHECK(again);
    CHECK(again->sequence == env->sequence && again->body_case == env->body_case);
    CHECK(strcmp(again->agent_id, env->agent_id) == 0);
    cdof__v1__envelope__free_unpacked(again, NULL);
    free(buf);
    cdof__v1__envelope__free_unpacked(env, NULL);
    return 0;
}
