/* cdof-keygen NAME: makes a CURVE key pair. NAME.key holds the secret key and, on a second line,
 * the public key (mode 0600); NAME.pub holds the public key (mode 0644). Both are Z85 text, one
 * key per line. Existing files are never overwritten. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "cdof_config.h"

#define PROGRAM "cdof-keygen"
#define Z85_KEY 41 /* 40 characters and a NUL */

typedef struct {
    bool unused; /* the program has no options of its own beyond --help and --version */
} keygen_cfg_t;

static const cdof_config_spec_t keygen_spec = {
    .program = PROGRAM,
    .usage =
        PROGRAM " NAME\n\n"
                "writes NAME.key (secret and public key, mode 0600) and NAME.pub (public key,\n"
                "mode 0644); refuses to overwrite either",
    .summary = "make a CURVE key pair for a cdof hub, agent or client",
    .opts = NULL,
    .nopts = 0,
};

/* Creates path exclusively with mode and writes text. Returns 0 or -errno; on failure nothing
 * is left behind except when the file already existed (-EEXIST: it is not touched). */
static int write_new(const char *path, mode_t mode, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    int rc = 0;
    size_t len = strlen(text);
    /* The umask may have taken bits away; the modes are part of the contract. */
    if (fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
        rc = errno ? -errno : -EIO;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (rc)
        unlink(path);
    return rc;
}

int main(int argc, char **argv)
{
    keygen_cfg_t cfg = {0};
    cdof_strlist_t pos = {0};
    char err[512] = "";
    char pub[Z85_KEY], sec[Z85_KEY];
    char key_path[4096], pub_path[4096];
    char text[2 * Z85_KEY + 2];
    int status = 2;

    int rc = cdof_config_parse(&keygen_spec, &cfg, argc, argv, &pos, err, sizeof err);
    if (rc == CDOF_CONFIG_EXIT) {
        status = 0;
        goto done;
    }
    if (rc < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        goto done;
    }
    if (pos.count != 1 || !*pos.items[0]) {
        fprintf(stderr, PROGRAM ": %s (see --help)\n",
                pos.count ? "give exactly one NAME" : "which NAME?");
        goto done;
    }
    const char *name = pos.items[0];
    if ((size_t)snprintf(key_path, sizeof key_path, "%s.key", name) >= sizeof key_path ||
        (size_t)snprintf(pub_path, sizeof pub_path, "%s.pub", name) >= sizeof pub_path) {
        fprintf(stderr, PROGRAM ": NAME is too long\n");
        goto done;
    }
    status = 1;
    if (zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, PROGRAM ": cannot make a key pair: %s\n", zmq_strerror(zmq_errno()));
        goto done;
    }
    /* Check both first so that a refusal leaves no half-made pair. */
    const char *paths[] = {key_path, pub_path};
    for (size_t i = 0; i < 2; i++) {
        if (access(paths[i], F_OK) == 0) {
            fprintf(stderr, PROGRAM ": %s already exists: refusing to overwrite it\n", paths[i]);
            goto done;
        }
    }
    snprintf(text, sizeof text, "%s\n%s\n", sec, pub);
    if ((rc = write_new(key_path, 0600, text)) < 0) {
        fprintf(stderr, PROGRAM ": %s: %s%s\n", key_path, strerror(-rc),
                rc == -EEXIST ? ": refusing to overwrite it" : "");
        goto done;
    }
    snprintf(text, sizeof text, "%s\n", pub);
    if ((rc = write_new(pub_path, 0644, text)) < 0) {
        fprintf(stderr, PROGRAM ": %s: %s%s\n", pub_path, strerror(-rc),
                rc == -EEXIST ? ": refusing to overwrite it" : "");
        unlink(key_path);
        goto done;
    }
    printf("wrote %s (secret, mode 0600) and %s\npublic key: %s\n", key_path, pub_path, pub);
    status = 0;
done:
    explicit_bzero(sec, sizeof sec);
    explicit_bzero(text, sizeof text);
    cdof_strlist_free(&pos);
    return status;
}
