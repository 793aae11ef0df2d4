/* The notification pipeline of cdof-watch, over its durable store: taking each alert (group
 * memberships, per-alert notices for --exec, and the last sequence, in one transaction), queueing
 * each group's digest when its window closes, and attempting due notices with back-off until
 * they are delivered or expire. Wires watch_route, watch_msg, watch_queue and watch_send; knows
 * nothing of ZeroMQ or of the hub. */
#ifndef WATCH_NOTIFY_H
#define WATCH_NOTIFY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof.pb-c.h"
#include "cdof_ref.h"
#include "watch_conf.h"
#include "watch_queue.h"

typedef struct watch_notify watch_notify_t;

/* The receiver name --exec notices are queued under. */
#define WATCH_EXEC_RECEIVER "--exec"

typedef struct {
    const watch_conf_t *conf; /* routes and receivers; NULL: none */
    const char *exec;         /* --exec COMMAND, or NULL */
    long exec_timeout_ms;
    bool exec_muted;       /* also run --exec for muted alerts (--show-muted) */
    const cdof_ref_t *ref; /* names and units in messages; may be NULL */
} watch_notify_opts_t;

/* Everything borrowed must outlive the pipeline. *out is owned by the caller. */
int watch_notify_new(watch_queue_t *q, const watch_notify_opts_t *opts, watch_notify_t **out);
void watch_notify_free(watch_notify_t **n);

/* Takes alert a (the next in sequence) at now_ms: its notices and memberships are queued and the
 * last sequence set to a->sequence, all in one committed transaction. Returns 0 or a store
 * error (nothing taken). */
int watch_notify_take(watch_notify_t *n, const Cdof__V1__Alert *a, int64_t now_ms);

/* Queues the digest of every group whose window closed by now_ms. Returns how many digests, or
 * a negative code. */
int watch_notify_flush(watch_notify_t *n, int64_t now_ms);

/* Attempts up to max due notices, oldest first; a receiver that fails is left alone until its
 * failed notice's next attempt. Returns how many were due (0: nothing to do now), or a store
 * error. flush and deliver belong to one thread; take may run in another (the store orders
 * their transactions). */
int watch_notify_deliver(watch_notify_t *n, int64_t now_ms, size_t max,
                         volatile sig_atomic_t *stop);

#endif
