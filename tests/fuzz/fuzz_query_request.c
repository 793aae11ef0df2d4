/* libFuzzer target for the query endpoint's decoder: any bytes either decode to a request with
 * one query set and every string within its bound, or fail with a reason; a decoded request
 * survives a pack/decode round trip. Crashes and failed checks abort. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_wire.h"
#include "fuzz_pb.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bounds(const Cdof__V1__QueryRequest *q)
{
    CHECK(strlen(q->page_token) <= CDOF_WIRE_MAX_TEXT);
    switch (q->query_case) {
    case CDOF__V1__QUERY_REQUEST__QUERY_AREA:
        CHECK(strlen(q->area->area_code) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->area->period) <= CDOF_WIRE_MAX_ID);
        CHECK(q->area->n_members <= CDOF_WIRE_MAX_MEMBERS);
        for (size_t i = 0; i < q->area->n_members; i++)
            CHECK(strlen(q->area->members[i]) <= CDOF_WIRE_MAX_ID);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_LEAGUE:
        CHECK(strlen(q->league->metric_id) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->league->period) <= CDOF_WIRE_MAX_ID);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_SERIES:
        CHECK(strlen(q->series->metric_id) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->series->area_code) <= CDOF_WIRE_MAX_ID);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_ALERTS:
        CHECK(strlen(q->alerts->topic_prefix) <= CDOF_WIRE_MAX_TEXT);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_ROLLING:
        CHECK(strlen(q->rolling->metric_id) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->rolling->period) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->rolling->area_code) <= CDOF_WIRE_MAX_ID);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_MILESTONES_AT:
        CHECK(strlen(q->milestones_at->partnership) <= CDOF_WIRE_MAX_ID);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_SILENCE:
        CHECK(strlen(q->silence->matcher) <= CDOF_WIRE_MAX_TEXT);
        CHECK(strlen(q->silence->reason) <= CDOF_WIRE_MAX_TEXT);
        CHECK(strlen(q->silence->by) <= CDOF_WIRE_MAX_ID);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_ACK:
        CHECK(strlen(q->ack->by) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->ack->note) <= CDOF_WIRE_MAX_TEXT);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_COVERAGE:
        CHECK(strlen(q->coverage->metric_id) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->coverage->period) <= CDOF_WIRE_MAX_ID);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_CLOSE:
        CHECK(strlen(q->close->metric_id) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->close->period) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->close->by) <= CDOF_WIRE_MAX_ID);
        CHECK(strlen(q->close->reason) <= CDOF_WIRE_MAX_TEXT);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_UNSILENCE:
        CHECK(strlen(q->unsilence->by) <= CDOF_WIRE_MAX_ID);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_SILENCES:
    case CDOF__V1__QUERY_REQUEST__QUERY_SILENCE_HISTORY:
    case CDOF__V1__QUERY_REQUEST__QUERY_AGENTS:
    case CDOF__V1__QUERY_REQUEST__QUERY_NATIONAL:
    case CDOF__V1__QUERY_REQUEST__QUERY_MILESTONES:
    case CDOF__V1__QUERY_REQUEST__QUERY_HEALTH:
    case CDOF__V1__QUERY_REQUEST__QUERY_REJECTIONS:
        break;
    default:
        CHECK(!"a decoded request has no query");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[CDOF_WIRE_MAX_TEXT] = "";
    Cdof__V1__QueryRequest *q = cdof_wire_query_request_decode(data, size, err, sizeof err);
    if (!q) {
        CHECK(err[0]);
        return 0;
    }
    check_bounds(q);
    if (fuzz_pb_has_unknown(&q->base)) {
        cdof__v1__query_request__free_unpacked(q, NULL);
        return 0;
    }
    uint8_t *buf;
    size_t len;
    CHECK(cdof_wire_pack(&q->base, &buf, &len) == 0);
    Cdof__V1__QueryRequest *again = cdof_wire_query_request_decode(buf, len, err, sizeof err);
    CHECK(again);
    CHECK(again->query_case == q->query_case && again->request_id == q->request_id);
    cdof__v1__query_request__free_unpacked(again, NULL);
    free(buf);
    cdof__v1__query_request__free_unpacked(q, NULL);
    return 0;
}
