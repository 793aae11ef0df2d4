/* The agent's durable outbox on the LMDB store (schema "outbox", version 2).
 *
 * Databases:
 *   outbox    seq (u64 BE) -> written_ms (i64 BE) | packed Envelope   every entry not pruned:
 *             those at or below meta "acked_high" (the boundary) are settled and kept for a
 *             retention period, so that a hub restored from a backup can ask for them again;
 *             those above it are unsettled. The hub stores in sequence, so settling moves the
 *             boundary and no entry.
 *   settled   boundary seq (u64 BE) -> settled_ms (i64 BE)   one mark per settling commit:
 *             entries up to a mark were settled by its time (pruning follows them)
 *   rejected  seq (u64 BE) -> rejected_ms (i64 BE) | reason length (u16 BE) | reason | Envelope
 *   files     fingerprint (16 bytes) -> taken_ms | rows | good | bad (u32 BE) | first seq | name
 *   latest    'm' | row key (u64 BE) -> content (u64 BE)   the last value added for each
 *             (metric, area, period), 'e' likewise for each milestone: FNV-1a hashes of what the
 *             row is about and what it says, leaving out its file and line
 *   progress  fingerprint (16 bytes) -> done line (u64 BE) | first seq (u64 BE)   a file taken
 *             in chunks: its rows up to the done line are in the outbox; removed with the file
 *             record that ends the take
 *   meta      "next_seq", "last_ack_ms", "acked_high", "retained" (entries at or below the
 *             boundary) (u64 BE); "agent_id", "partnership" (text)
 *
 * Version 1 moved each settled entry to a database "acked" (seq -> acked_ms | outbox value). A
 * writable open upgrades it in one transaction; a read-only open of it is refused (CDOF_EVERSION,
 * saying to start the agent once).
 *
 * Stored envelopes carry their sequence and body but no agent_id and no sent_ms: the sender adds
 * both when it sends (agent_outbox_wire), so the id may change between runs.
 *
 * Every call is for the loop thread; each runs its own transaction unless it takes a batch. */
#ifndef AGENT_OUTBOX_H
#define AGENT_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cdof.pb-c.h"

typedef struct agent_outbox agent_outbox_t;
typedef struct agent_outbox_batch agent_outbox_batch_t;

/* A file's identity: 64-bit FNV-1a of its bytes and its size. */
typedef struct {
    uint64_t hash;
    uint64_t size;
} agent_fingerprint_t;

#define AGENT_FILE_NAME_MAX 255

typedef struct {
    int64_t taken_ms;
    uint32_t rows, good, bad;
    uint64_t first_seq; /* 0 when no row was good */
    char name[AGENT_FILE_NAME_MAX + 1];
} agent_file_info_t;

typedef struct {
    uint64_t depth;            /* entries in the outbox (unsettled) */
    uint64_t oldest_seq;       /* 0 when empty */
    int64_t oldest_written_ms; /* when the oldest was written */
    uint64_t next_seq;         /* the sequence the next entry will get */
    uint64_t acked_high;       /* the boundary: every entry at or below it is settled */
    int64_t last_ack_ms;       /* 0: never */
    uint64_t rejected;         /* entries in the rejected list */
    uint64_t retained;         /* settled entries kept for resends */
} agent_outbox_stats_t;

/* Settlement of one entry by the hub. */
typedef struct {
    uint64_t seq;
    bool rejected;      /* false: accepted or duplicate */
    const char *reason; /* for rejected entries (borrowed) */
} agent_settle_t;

/* Opens (creating dir's store when writable) the outbox in dir. A writable open is refused with
 * CDOF_ELOCKED while another process holds it. *out is owned by the caller. */
int agent_outbox_open(const char *dir, bool read_only, agent_outbox_t **out, char *err,
                      size_t errlen);
/* Likewise, with the store's map (and so the outbox) bounded to max_bytes (0: 16 GiB). */
int agent_outbox_open_bounded(const char *dir, bool read_only, uint64_t max_bytes,
                              agent_outbox_t **out, char *err, size_t errlen);
void agent_outbox_close(agent_outbox_t **ob);
/* Bytes the outbox's pages hold now, and the bound it may not grow past. Returns 0 or a code. */
int agent_outbox_space(agent_outbox_t *ob, uint64_t *in_use, uint64_t *bound);

/* Fingerprint of a whole stream (read to its end, then rewound). Returns 0 or -EIO. */
int agent_fingerprint_stream(FILE *f, agent_fingerprint_t *fp);
/* The same in steps of max_bytes at most, for a big file read between other work: init, then
 * step until it returns 0 (done, the stream rewound) or -EIO; 1 means more to read. */
void agent_fingerprint_init(agent_fingerprint_t *fp);
int agent_fingerprint_step(FILE *f, agent_fingerprint_t *fp, size_t max_bytes);

/* Looks up a file record: 0 with *info, or CDOF_ENOTFOUND. */
int agent_outbox_file_lookup(agent_outbox_t *ob, const agent_fingerprint_t *fp,
                             agent_file_info_t *info);

/* A write transaction that appends entries and records one file. begin returns CDOF_EEXIST when
 * the fingerprint is already recorded (see begin_again). add assigns env->sequence and packs env
 * (borrowed) into the outbox and records its content as the row's latest; returns 0, or
 * CDOF_EMAPFULL: abort the batch and run it again. commit
 * writes the file record (info->first_seq is filled in) and frees the batch either way. */
int agent_outbox_batch_begin(agent_outbox_t *ob, const agent_fingerprint_t *fp,
                             agent_outbox_batch_t **out);
/* Like begin, for a file whose fingerprint is recorded: content taken before may revert a later
 * correction (values 8, 9, then 8 again), so the batch adds only the rows whose content differs
 * from the latest added for the same row, and add returns 1 (nothing written) for the others. */
int agent_outbox_batch_begin_again(agent_outbox_t *ob, const agent_fingerprint_t *fp,
                                   agent_outbox_batch_t **out);
int agent_outbox_batch_add(agent_outbox_batch_t *b, Cdof__V1__Envelope *env, int64_t now_ms);
int agent_outbox_batch_commit(agent_outbox_batch_t **b, agent_file_info_t *info);
void agent_outbox_batch_abort(agent_outbox_batch_t **b);
/* Commits what the batch has added so far with a progress record (the file's rows up to line
 * done_line are in), and goes on in a new transaction: a big file is taken in bounded
 * transactions, and a take begun again after a crash resumes after done_line (see
 * agent_outbox_batch_done_line) instead of adding those rows twice. Returns 0 or a code; on
 * failure abort the batch (what was committed stays). */
int agent_outbox_batch_checkpoint(agent_outbox_batch_t *b, uint64_t done_line);
/* The line up to which a begun batch's file is already in the outbox (0: none). */
uint64_t agent_outbox_batch_done_line(const agent_outbox_batch_t *b);

/* Visits unsettled outbox entries (above the boundary) with seq >= from in order. value/len is the
 * stored value (see agent_outbox_wire), valid only during the call. fn returns 0 to go on, > 0 to
 * stop, < 0 to stop with that error. */
typedef int (*agent_outbox_entry_fn)(void *ctx, uint64_t seq, const uint8_t *value, size_t len);
int agent_outbox_each_from(agent_outbox_t *ob, uint64_t from, agent_outbox_entry_fn fn, void *ctx);

/* Builds the bytes to send for a stored value: the envelope with agent_id and sent_ms added.
 * Writes at most cap bytes into buf; returns the length, or -EMSGSIZE / CDOF_ECORRUPT. */
long agent_outbox_wire(const uint8_t *value, size_t len, const char *agent_id, int64_t sent_ms,
                       uint8_t *buf, size_t cap);

/* Settles entries in one write transaction: rejected ones move to "rejected" with their reason;
 * accepted/duplicate ones move the boundary up as far as they reach without an unsettled entry.
 * One above an unsettled entry waits in memory until that one is settled (or, if the outbox is
 * closed first, is sent again and answered DUPLICATE). Entries no longer kept are ignored. */
int agent_outbox_settle(agent_outbox_t *ob, const agent_settle_t *s, size_t n, int64_t now_ms);

/* Settles (as accepted) every entry with seq <= high: the boundary moves to high. *count gets
 * how many entries that settled; nothing is written when none. */
int agent_outbox_settle_upto(agent_outbox_t *ob, uint64_t high, int64_t now_ms, uint64_t *count);

/* Lowers the boundary below from: retained entries with seq >= from are unsettled again.
 * *count gets how many. */
int agent_outbox_restore_from(agent_outbox_t *ob, uint64_t from, uint64_t *count);

/* Drops retained entries up to the newest settlement mark older than cutoff_ms. */
int agent_outbox_prune(agent_outbox_t *ob, int64_t cutoff_ms, uint64_t *count);

/* Gives every unsettled entry numbered at or below high a new sequence above it (in order) and
 * moves the next sequence past them: for when the hub has committed more from this agent than this
 * outbox ever wrote. *count gets how many were renumbered. */
int agent_outbox_renumber(agent_outbox_t *ob, uint64_t high, uint64_t *count);

int agent_outbox_stats(agent_outbox_t *ob, agent_outbox_stats_t *st);

/* Text settings in meta (agent_id, partnership). get copies into buf; CDOF_ENOTFOUND if unset. */
int agent_outbox_meta_set(agent_outbox_t *ob, const char *key, const char *value);
int agent_outbox_meta_get(agent_outbox_t *ob, const char *key, char *buf, size_t len);

/* Visits the rejected list in order. envelope bytes valid only during the call. */
typedef int (*agent_outbox_rejected_fn)(void *ctx, uint64_t seq, int64_t rejected_ms,
                                        const char *reason, size_t reason_len, const uint8_t *env,
                                        size_t env_len);
int agent_outbox_each_rejected(agent_outbox_t *ob, agent_outbox_rejected_fn fn, void *ctx);

/* Visits the file records (in fingerprint order). */
typedef int (*agent_outbox_file_fn)(void *ctx, const agent_file_info_t *info);
int agent_outbox_each_file(agent_outbox_t *ob, agent_outbox_file_fn fn, void *ctx);

#endif
