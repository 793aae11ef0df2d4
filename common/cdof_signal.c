#include "cdof_signal.h"

#include <pthread.h>
#include <signal.h>

static int signal_mask(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* pthread_sigmask returns the error number itself rather than setting errno. */
    return -pthread_sigmask(how, &set, NULL);
}

int cdof_signal_hold(void)
{
    return signal_mask(SIG_BLOCK);
}

int cdof_signal_release(void)
{
    return signal_mask(SIG_UNBLOCK);
}
