#include "cdof_curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cdof_error.h"
#include "cdof_log.h"

#define KEY_FILE_MAX 512 /* a key file is two lines of 40 characters; anything longer is wrong */

struct cdof_curve {
    bool enabled, is_server;
    char public_key[CDOF_CURVE_Z85_LEN + 1];
    char secret_key[CDOF_CURVE_Z85_LEN + 1];
    char server_key[CDOF_CURVE_Z85_LEN + 1];
};

bool cdof_curve_z85_ok(const char *s)
{
    uint8_t bin[32];
    return s && strlen(s) == CDOF_CURVE_Z85_LEN && zmq_z85_decode(bin, s) != NULL;
}

/* Reads the whole of a small file into buf (NUL-terminated). When secret, refuses a file that
 * group or others may read: the check is on the open descriptor, so the file checked is the file
 * read. */
static int read_small(const char *path, bool secret, char *buf, size_t buflen, char *err,
                      size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = CDOF_EINVALID;
        snprintf(err, errlen, "%s: not a regular file", path);
        goto out;
    }
    size_t plen = strlen(path);
    if (secret && plen >= 4 && strcmp(path + plen - 4, ".pub") == 0) {
        rc = CDOF_EINVALID;
        snprintf(err, errlen,
                 "%s is the public half of a key pair: give the secret half (%.*s.key, mode "
                 "0600) here, and the .pub file to whoever must know this party",
                 path, (int)(plen - 4), path);
        goto out;
    }
    if (secret && (st.st_mode & 077)) {
        rc = -EPERM;
        snprintf(err, errlen,
                 "%s: secret key file is readable by group or others (mode %04o): "
                 "run chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    ssize_t n = read(fd, buf, buflen - 1);
    if (n < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        goto out;
    }
    if ((size_t)n == buflen - 1) {
        rc = CDOF_EINVALID;
        snprintf(err, errlen, "%s: longer than a key file can be (%zu bytes or more)", path,
                 buflen - 1);
        goto out;
    }
    buf[n] = '\0';
out:
    close(fd);
    return rc;
}

/* Copies line number `which` (0 or 1) of text into out when it is a Z85 key. Returns 1 when
 * found and valid, 0 when the line is absent or empty, -1 when present but not a key. */
static int key_line(const char *text, int which, char *out)
{
    const char *p = text;
    for (int i = 0; i < which && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p || !*p)
        return 0;
    size_t n = strcspn(p, "\r\n");
    if (n == 0)
        return 0;
    if (n != CDOF_CURVE_Z85_LEN)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return cdof_curve_z85_ok(out) ? 1 : -1;
}

int cdof_curve_read_public(const char *path, char *out, char *err, size_t errlen)
{
    char text[KEY_FILE_MAX];
    int rc = read_small(path, false, text, sizeof text, err, errlen);
    if (rc < 0)
        return rc;
    if (key_line(text, 0, out) != 1) {
        snprintf(err, errlen, "%s: line 1: not a Z85 public key (40 characters, see cdof-keygen)",
                 path);
        return CDOF_EINVALID;
    }
    return 0;
}

/* Loads NAME.key: the secret key, and the public key derived from it (checked against the
 * second line when there is one, so a mixed-up pair is caught at start rather than as a refused
 * handshake). */
static int read_secret(cdof_curve_t *c, const char *path, char *err, size_t errlen)
{
    char text[KEY_FILE_MAX], given[CDOF_CURVE_Z85_LEN + 1];
    int rc = read_small(path, true, text, sizeof text, err, errlen);
    if (rc < 0)
        goto out;
    rc = CDOF_EINVALID;
    if (key_line(text, 0, c->secret_key) != 1) {
        snprintf(err, errlen, "%s: line 1: not a Z85 secret key (40 characters, see cdof-keygen)",
                 path);
        goto out;
    }
    if (zmq_curve_public(c->public_key, c->secret_key) != 0) {
        snprintf(err, errlen, "%s: cannot derive the public key: %s", path,
                 zmq_strerror(zmq_errno()));
        goto out;
    }
    int second = key_line(text, 1, given);
    if (second < 0 || (second == 1 && strcmp(given, c->public_key) != 0)) {
        snprintf(err, errlen, "%s: line 2: not the public key of the secret key on line 1", path);
        goto out;
    }
    rc = 0;
out:
    explicit_bzero(text, sizeof text);
    return rc;
}

int cdof_curve_open(bool insecure, bool is_server, const char *key_path,
                    const char *server_key_path, cdof_curve_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (insecure && (key_path || server_key_path)) {
        snprintf(err, errlen, "--insecure excludes --key and --server-key");
        return CDOF_EINVALID;
    }
    if (!insecure && (!key_path || !*key_path)) {
        snprintf(err, errlen,
                 "--key FILE is required (make one with cdof-keygen), or --insecure for plain "
                 "TCP");
        return CDOF_EINVALID;
    }
    if (!insecure && !is_server && (!server_key_path || !*server_key_path)) {
        snprintf(err, errlen, "--server-key FILE (the hub's .pub) is required with --key");
        return CDOF_EINVALID;
    }
    if (is_server && server_key_path) {
        snprintf(err, errlen, "--server-key is for clients, not for the hub");
        return CDOF_EINVALID;
    }
    cdof_curve_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c->is_server = is_server;
    int rc = 0;
    if (insecure) {
        /* Said at every start: the operator must see it in every log. */
        cdof_log_warn("--insecure: plain TCP, traffic is neither encrypted nor authenticated");
    } else {
        c->enabled = true;
        if ((rc = read_secret(c, key_path, err, errlen)) < 0)
            goto fail;
        if (!is_server &&
            (rc = cdof_curve_read_public(server_key_path, c->server_key, err, errlen)) < 0)
            goto fail;
    }
    *out = c;
    return 0;
fail:
    cdof_curve_destroy(&c);
    return rc;
}

void cdof_curve_destroy(cdof_curve_t **c)
{
    if (!c || !*c)
        return;
    explicit_bzero(*c, sizeof **c);
    free(*c);
    *c = NULL;
}

bool cdof_curve_enabled(const cdof_curve_t *c)
{
    return c && c->enabled;
}

const char *cdof_curve_public(const cdof_curve_t *c)
{
    return c && c->enabled ? c->public_key : "";
}

int cdof_curve_apply(const cdof_curve_t *c, void *socket, const char *zap_domain)
{
    if (!cdof_curve_enabled(c))
        return 0;
    int one = 1;
    int rc;
    if (c->is_server) {
        rc = zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one);
        if (rc == 0)
            rc = zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, c->secret_key, CDOF_CURVE_Z85_LEN);
        if (rc == 0 && zap_domain)
            rc = zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, zap_domain, strlen(zap_domain));
    } else {
        rc = zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, c->server_key, CDOF_CURVE_Z85_LEN);
        if (rc == 0)
            rc = zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, c->public_key, CDOF_CURVE_Z85_LEN);
        if (rc == 0)
            rc = zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, c->secret_key, CDOF_CURVE_Z85_LEN);
    }
    return rc == 0 ? 0 : -zmq_errno();
}
