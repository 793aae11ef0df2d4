/* ZeroMQ sends and receives that a signal cannot cut short. libzmq looks at its socket's command
 * mailbox on most calls, and a signal that arrives meanwhile fails the call with EINTR, even a
 * non-blocking send or the receive of a frame that has already arrived. In a process that takes
 * signals while it works (the hub's SIGHUP reloads its key registry), a frame would then be lost
 * from the middle of a message: a ZAP reply short of a frame fails the client's handshake, and
 * on a ROUTER or PUB socket the next message's first frame joins the one left open.
 *
 * These make a call that a signal interrupted again. They are for calls that do not wait:
 * ZMQ_DONTWAIT, the later frames of a message already begun or arrived, and sends on sockets
 * that never block (a REP socket's reply, PUB, XPUB, a connected PAIR below its limit). A call
 * that waits for a peer should see EINTR, so that its loop can look at its stop flag; use
 * zmq's own there. Part of cdof_curve's library (the ZeroMQ part of common/). */
#ifndef CDOF_ZMQ_H
#define CDOF_ZMQ_H

#include <stddef.h>
#include <zmq.h>

/* As zmq_send, zmq_msg_send and zmq_msg_recv, retried while they fail with EINTR. Return 0 or
 * a negative errno (-EAGAIN: nothing to receive, or no room, with ZMQ_DONTWAIT). A message
 * sent is the socket's, as with zmq_msg_send; one that was not is still the caller's. */
int cdof_zmq_send(void *sock, const void *buf, size_t len, int flags);
int cdof_zmq_msg_send(zmq_msg_t *msg, void *sock, int flags);
int cdof_zmq_msg_recv(zmq_msg_t *msg, void *sock, int flags);

#endif
