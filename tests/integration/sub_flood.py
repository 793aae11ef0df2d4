"""Subscription attacks on the hub's alert endpoint over CURVE (a reader's key):

  1. two floods of large, bogus subscriptions, each from a connection that then ends: the
     second costs the hub no more memory (each is refused, nothing is kept);
  2. one connection's 65th subscription is refused: it gets no alerts for it, while a fresh
     connection subscribing the same topic does;
  3. a connection's subscriptions are freed when it ends: a new connection gets its full share.

    sub_flood.py HUB_PID ALERTS HUB_PUB READER_KEY FLOOD_COUNT TRIGGER_CMD
TRIGGER_CMD is run (sh -c) to make the hub publish an alert under "alert/".
"""
import subprocess
import sys
import time

import zmq

WAIT_S = 30.0


def fail(msg):
    print("sub_flood: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    fail("no VmRSS for %d" % pid)


def main():
    pid, alerts_ep, hub_pub_path, key_path, count, trigger = sys.argv[1:7]
    pid, count = int(pid), int(count)
    hub_pub = open(hub_pub_path).read().split()[0].encode()
    lines = open(key_path).read().split()
    secret = lines[0].encode()
    public = lines[1].encode() if len(lines) > 1 else zmq.curve_public(secret)
    ctx = zmq.Context()

    def sub():
        s = ctx.socket(zmq.SUB)
        s.linger = 0
        s.curve_serverkey, s.curve_publickey, s.curve_secretkey = hub_pub, public, secret
        s.connect(alerts_ep)
        return s

    def settle():
        """Lets the hub take what was sent: bounded, and ends once its memory stops moving."""
        last = -1
        for _ in range(60):
            time.sleep(0.5)
            now = rss_kib(pid)
            if now == last:
                return now
            last = now
        return last

    # Two rounds: what the first leaves (buffers the allocator keeps) may be reused by the
    # second, but subscriptions kept (the attack) would make each round cost as much again.
    before = settle()
    rounds = []
    for _ in range(2):
        flood = sub()
        for i in range(count):
            flood.setsockopt(zmq.SUBSCRIBE, b"%08d" % i + b"x" * 1016)
        during = settle()
        flood.close()
        rounds.append((during, settle()))
    print("sub_flood: hub RSS %d MiB before; %s" % (before // 1024, "; ".join(
        "%d MiB with %d subscriptions of 1 KiB, %d MiB after the connection ended"
        % (d // 1024, count, a // 1024) for d, a in rounds)))
    # The peaks: buffers in flight come and go, kept subscriptions (2-3 KiB each) would add up.
    first, second = (rounds[0][0] - before) // 1024, (rounds[1][0] - rounds[0][0]) // 1024
    if first > 150 or second > 24:
        fail("the hub grew by %d MiB under one subscription flood, and %d MiB more at the peak "
             "of a second" % (first, second))

    # 2. 64 subscriptions, then "alert/" is the 65th: refused.
    full = sub()
    for i in range(64):
        full.setsockopt(zmq.SUBSCRIBE, b"alert/none%02d/" % i)
    full.setsockopt(zmq.SUBSCRIBE, b"alert/")
    fresh = sub()
    fresh.setsockopt(zmq.SUBSCRIBE, b"alert/")
    # The hub applies a subscription when its serve loop reads it, after what the floods above
    # left waiting: an alert published before then does not reach the fresh subscriber. Each
    # trigger changes the alert's state (firing, resolved), so trigger again until one arrives.
    for _ in range(6):
        subprocess.run(["sh", "-c", trigger], check=True)
        if fresh.poll(int(WAIT_S * 1000 / 3)):
            break
    else:
        fail("a fresh subscriber to alert/ got no alert after 6 triggers in %d s" % (2 * WAIT_S))
    fresh.recv_multipart()
    if full.poll(1000):
        fail("a connection's 65th subscription was applied")

    # 3. Ended, a connection's subscriptions free their place.
    full.close()
    for _ in range(3):
        again = sub()
        for i in range(63):
            again.setsockopt(zmq.SUBSCRIBE, b"alert/none%02d/" % i)
        again.setsockopt(zmq.SUBSCRIBE, b"alert/")
        time.sleep(1.0)
        subprocess.run(["sh", "-c", trigger], check=True)
        if not again.poll(int(WAIT_S * 1000)):
            fail("a new connection's 64th subscription was refused")
        again.recv_multipart()
        again.close()
    fresh.close()
    ctx.term()
    print("sub_flood: ok")


if __name__ == "__main__":
    main()
