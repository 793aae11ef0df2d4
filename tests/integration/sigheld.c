/* sigheld: runs a command with SIGTERM, SIGINT and SIGHUP blocked, for integration_start_signal.
 * Usage: sigheld CMD ARGS...
 * The mask survives exec, so a SIGTERM sent at once after the spawn stays pending through the
 * whole of the command's start-up, dynamic loader and sanitizer set-up included, and reaches it
 * only when the command itself unblocks it: the deterministic worst case of "stopped while still
 * starting". Exits 127 with a reason on stderr if CMD cannot be run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cdof_signal.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sigheld CMD ARGS...\n");
        return 2;
    }
    int rc = cdof_signal_hold();
    if (rc < 0) {
        fprintf(stderr, "sigheld: cannot block signals: %s\n", strerror(-rc));
        return 127;
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "sigheld: cannot run %s: %s\n", argv[1], strerror(errno));
    return 127;
}
