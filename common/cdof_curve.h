/* CURVE security for every cdof program: key files written by cdof-keygen, the --key,
 * --server-key and --insecure flags, and the socket options that put CURVE on a socket.
 *
 * A secret key file (NAME.key) holds the Z85 secret key on its first line and, optionally, the
 * public key on the second; it must not be readable by group or others. A public key file
 * (NAME.pub) holds the Z85 public key on its first line. Only libzmq's own CURVE is used. */
#ifndef CDOF_CURVE_H
#define CDOF_CURVE_H

#include <stdbool.h>
#include <stddef.h>

#define CDOF_CURVE_Z85_LEN 40 /* characters of a Z85 key, without the NUL */

typedef struct cdof_curve cdof_curve_t;

/* Decides how one party talks to the hub from its flags, and loads its keys:
 *   insecure:         plain TCP; key_path and server_key_path must be NULL (a warning is logged
 *                     here, at every start, as the design asks);
 *   otherwise:        key_path is required; server_key_path too for a client (is_server false),
 *                     and must be NULL for the hub itself.
 * Refuses a secret key file readable by group or others, with "chmod 600 FILE" in the reason.
 * On success *out is a new handle (caller destroys; it holds the secret key in memory). Returns
 * 0, -ENOENT/-EACCES/... (file), -EPERM (file mode), CDOF_EINVALID (bad flags or key text), with
 * a one-line reason naming the flag or the file in err. */
int cdof_curve_open(bool insecure, bool is_server, const char *key_path,
                    const char *server_key_path, cdof_curve_t **out, char *err, size_t errlen);

/* Wipes the secret key and frees c; accepts NULL and sets *c to NULL. */
void cdof_curve_destroy(cdof_curve_t **c);

/* True when c carries keys (false for --insecure). */
bool cdof_curve_enabled(const cdof_curve_t *c);

/* The party's own Z85 public key (owned by c), or "" for --insecure. */
const char *cdof_curve_public(const cdof_curve_t *c);

/* Puts CURVE on a ZeroMQ socket before it connects or binds. A client gets the server's public
 * key and its own pair; a server gets ZMQ_CURVE_SERVER, its secret key and zap_domain (which the
 * hub's ZAP handler uses to tell its sockets apart; NULL for a client). Bind a server socket
 * only once a ZAP handler listens: without one libzmq lets every CURVE client in. Does nothing
 * for --insecure. Returns 0 or a negative errno from zmq_setsockopt. */
int cdof_curve_apply(const cdof_curve_t *c, void *socket, const char *zap_domain);

/* Reads a Z85 public key from the first line of path into out (CDOF_CURVE_Z85_LEN + 1 bytes).
 * Returns 0, a negative errno, or CDOF_EINVALID, with a reason naming the file in err. */
int cdof_curve_read_public(const char *path, char *out, char *err, size_t errlen);

/* True when s is a 40-character Z85 text that decodes to a 32-byte key. */
bool cdof_curve_z85_ok(const char *s);

#endif
