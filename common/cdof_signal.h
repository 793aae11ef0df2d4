/* Stop signals held during a daemon's start-up. A daemon calls cdof_signal_hold() first thing in
 * main() and cdof_signal_release() once its handlers are in place: a SIGTERM, SIGINT or SIGHUP
 * that arrives in between (an operator's `systemctl stop` right after start, a test harness that
 * saw the port listening) waits, pending, and then goes to the handler, instead of killing the
 * process by the default action half-way through opening its store or outbox. Threads started
 * while the signals are held (ZeroMQ's, libuv's) keep them blocked, so they reach the main
 * thread. The mask is per thread: call both from the main thread. */
#ifndef CDOF_SIGNAL_H
#define CDOF_SIGNAL_H

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread. Returns 0 or a negative errno. */
int cdof_signal_hold(void);

/* Unblocks them (also when they were blocked by whoever started the process: the mask is
 * inherited across exec); one that arrived meanwhile is delivered now. Returns 0 or a negative
 * errno. */
int cdof_signal_release(void);

#endif
