/* Shared by the protobuf fuzz targets. */
#ifndef CDOF_FUZZ_PB_H
#define CDOF_FUZZ_PB_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* True when m or any message inside it kept unknown fields. protobuf-c keeps them as they came,
 * even ones it would refuse when parsing again (field number 0 under an overlong tag), so a
 * pack/decode round trip is only promised for messages without them. */
static inline bool fuzz_pb_has_unknown(const ProtobufCMessage *m)
{
    if (!m)
        return false;
    if (m->n_unknown_fields)
        return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
            continue;
        if (fuzz_pb_has_unknown(*(ProtobufCMessage *const *)((const char *)m + f->offset)))
            return true;
    }
    return false;
}

#endif
