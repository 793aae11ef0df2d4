/* One delivery attempt of a queued notice to one receiver: SMTP and HTTP(S) through libcurl, or
 * a command (sh -c) with the body on its standard input. Success means the receiver said so: an
 * SMTP server accepted the message (250 after DATA), a webhook answered 2xx, a command exited 0.
 * Anything else is a failure with a one-line reason; retrying is the caller's business. */
#ifndef WATCH_SEND_H
#define WATCH_SEND_H

#include <signal.h>
#include <stddef.h>

#include "watch_conf.h"
#include "watch_queue.h"

/* Once per process, before any thread starts (curl_global_init). Returns 0 or -EIO. */
int watch_send_init(void);
void watch_send_cleanup(void);

/* Delivers n through r, waiting at most r->timeout_ms; gives up early once *stop is set (may be
 * NULL). Email headers (From, To, Date, Subject, Message-ID from the key) are made here from r
 * and n, so a retry sends the same message. Returns 0, or a negative code with the reason in
 * err. */
int watch_send(const watch_receiver_t *r, const watch_note_t *n, volatile sig_atomic_t *stop,
               char *err, size_t errlen);

#endif
