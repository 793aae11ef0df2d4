/* Who may talk to the hub (docs/DESIGN.md "Security"): the ZAP handler that admits only
 * registered CURVE keys, each on the sockets its role allows, and the per-message check that a
 * sender's key is still registered. Part of the daemon: it touches sockets. */
#ifndef CDOF_HUB_AUTH_H
#define CDOF_HUB_AUTH_H

#include <stddef.h>
#include <zmq.h>

#include "hub.h"
#include "hub_keys.h"

/* With CURVE: loads --keys and binds the ZAP handler (before any hub
 * socket is bound); nothing with --insecure. Returns 0 or a negative code with a reason in err. */
int hub_auth_open(hub_t *hub, char *err, size_t errlen);
void hub_auth_close(hub_t *hub);

/* Reads --keys again (SIGHUP). On a bad file the registry in force stays, and the error is
 * logged. New connections and every later message are judged by the new registry. */
void hub_auth_reload(hub_t *hub);

/* Answers the ZAP requests waiting on hub->zap (bounded per call). */
void hub_auth_handle(hub_t *hub);

/* Reopens the alert endpoint once its old listener has closed (or hub->reopen_by_ms has passed).
 * Call each serve turn while hub->reopening: it reads the monitor's events itself. */
void hub_auth_reopen_step(hub_t *hub);

/* Who sent msg (any frame of a message received on the socket with ZAP domain `domain`): with
 * CURVE, *party is its registry entry (owned by the registry; valid until the next reload), or
 * -EACCES with a reason when its key is no longer registered or its role may not use domain.
 * With --insecure: 0 and *party NULL (nobody is authenticated). */
int hub_auth_sender(hub_t *hub, zmq_msg_t *msg, const char *domain, const hub_party_t **party,
                    char *err, size_t errlen);

#endif
