#include "cdof_zmq.h"

#include <errno.h>

int cdof_zmq_send(void *sock, const void *buf, size_t len, int flags)
{
    while (zmq_send(sock, buf, len, flags) < 0)
        if (zmq_errno() != EINTR)
            return -zmq_errno();
    return 0;
}

int cdof_zmq_msg_send(zmq_msg_t *msg, void *sock, int flags)
{
    while (zmq_msg_send(msg, sock, flags) < 0)
        if (zmq_errno() != EINTR)
            return -zmq_errno();
    return 0;
}

int cdof_zmq_msg_recv(zmq_msg_t *msg, void *sock, int flags)
{
    while (zmq_msg_recv(msg, sock, flags) < 0)
        if (zmq_errno() != EINTR)
            return -zmq_errno();
    return 0;
}
