/* Subscriptions to the alert endpoint: the XPUB socket's subscriptions, bounded per connection,
 * and the publishing of committed alert changes on it. Part of the daemon: it touches sockets. */
#ifndef CDOF_HUB_SUBS_H
#define CDOF_HUB_SUBS_H

#include <stdbool.h>
#include <stdint.h>

#include "hub.h"

#define HUB_SUBS_PER_CONNECTION 64 /* topics one subscriber connection may hold */
#define HUB_SUB_TOPIC_MAX       48 /* bytes of a topic: "alert/police/E12000002/E06000009" is 32 */

/* Makes xpub (an XPUB socket, before it binds) hand subscriptions to the hub, which applies
 * those that look like alert topics, up to HUB_SUBS_PER_CONNECTION per connection; sets
 * hub->pub. Returns 0 or a negative errno. */
int hub_subs_open(hub_t *hub, void *xpub);
void hub_subs_close(hub_t *hub);

/* Decides the subscriptions waiting on hub->pub and forgets those of ended connections (bounded
 * work per call); watches again once a reopening of the endpoint (hub->reopening) is over.
 * Call every serve-loop turn. Returns true when more subscriptions may wait. */
bool hub_subs_handle(hub_t *hub);

/* The socket carrying the alert endpoint's disconnections (may change after a reload; NULL if
 * none). */
void *hub_subs_monitor(const hub_t *hub);

/* Publishes on the alert endpoint the alert changes committed since the last hub_alerts_begin
 * (hub_alerts_publish), and counts them. Call after every commit that may have stored some. */
void hub_publish(hub_t *hub);

/* Subscriptions refused since the hub started. */
uint64_t hub_subs_refused(const hub_t *hub);

#endif
