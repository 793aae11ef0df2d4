"""Fair service under attack: one agent's acknowledgement latency (ping-pong, one envelope at a
time) on a quiet hub, then beside a flood of 64-member `area` queries from one reader key (its
queue of 16 kept full, and bursts beyond it every 100 ms), then beside a flood of subscriptions
from one subscriber. Rounds of the three are interleaved; each
flooded round's p99 is divided by the same round's quiet p99, and the median and range of those
ratios are printed with the pooled p50 and p99, and where the hub's CPU went (its threads, by
name) and the flooding client's own. Driven by bench_fair.sh (which starts the hub).

    bench_fair.py GEN_DIR INGEST ALERTS QUERY MODE KEYDIR ACKS AREAS_CSV HUB_PID [ROUNDS [NICE]]
MODE is curve or plain; with curve, KEYDIR holds hub.pub, national-bench.key and jcdu-flood.key.
NICE (default 0; a comma list runs each in turn): the flooding clients' niceness. The machine is shared by hub, victim and
flooders; at 19 a flooder's own CPU stands in for another machine's (an attacker is remote), while
all the hub's work for it stays at normal priority.
"""
import os
import datetime
import sys
import multiprocessing
import time

import zmq

WAIT_S = 30.0

def thread_cpu(pid):
    """CPU seconds of each of pid's threads, summed by thread name."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            stat = open("/proc/%d/task/%s/stat" % (pid, tid)).read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        f = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(f[11]) + int(f[12])) / tick
    return out


def main():
    gen, ingest_ep, alerts_ep, query_ep, mode, keydir, acks = sys.argv[1:8]
    acks = int(acks)
    hub_pid = int(sys.argv[9])
    rounds = int(sys.argv[10]) if len(sys.argv) > 10 else 3
    nices = [int(n) for n in (sys.argv[11] if len(sys.argv) > 11 else "0").split(",")]
    nonlocal_nice = [0]  # the flooders' niceness in the current rounds
    sys.path.insert(0, gen)
    import cdof_pb2 as pb

    ctx = zmq.Context()

    def sock(kind, key, c=None):
        s = (c or ctx).socket(kind)
        s.linger = 0
        if mode == "curve":
            lines = open("%s/%s.key" % (keydir, key)).read().split()
            secret = lines[0].encode()
            s.curve_serverkey = open(keydir + "/hub.pub").read().split()[0].encode()
            s.curve_secretkey = secret
            s.curve_publickey = lines[1].encode() if len(lines) > 1 else zmq.curve_public(secret)
        return s

    every = [l.split(",")[0] for l in open(sys.argv[8]).read().splitlines()[1:]
             if l.split(",")[2].startswith("E12")]
    areas, silent = every[:150], every[150:]  # silent: areas that never report
    agent = sock(zmq.DEALER, "national-bench")
    agent.connect(ingest_ep)
    seq = [0]

    def days(y, m, d):
        return (datetime.date(y, m, d) - datetime.date(1970, 1, 1)).days

    def send(area, y, m, metric="continuity_of_care"):
        seq[0] += 1
        nxt = (y + (m == 12), m % 12 + 1)
        env = pb.Envelope(agent_id="bench", sequence=seq[0])
        env.metric_update.CopyFrom(pb.MetricUpdate(
            metric_id=metric, area_code=area,
            period=pb.Period(kind=pb.PERIOD_KIND_MONTH, first_day=days(y, m, 1),
                             last_day=days(*nxt, 1) - 1),
            has_numerator=True, numerator=20 + seq[0] % 50, has_denominator=True,
            denominator=100))
        agent.send(env.SerializeToString())
        return seq[0]

    def wait_ack(want):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if not agent.poll(int(WAIT_S * 1000)):
                break
            ack = pb.Ack.FromString(agent.recv())
            if any(e.sequence == want for e in ack.entries):
                return
        sys.exit("bench_fair: no ack for %d" % want)

    # Data for the area queries to chew on: the monthly percentages, every area, 24 months.
    window = []
    metrics = ["continuity_of_care", "recovery_outcomes", "treatment_effectiveness",
               "in_treatment_stable_accommodation", "meaningful_activity"]
    for y in (2022, 2023):
        for m in range(1, 13):
            for a in areas:
                for metric in metrics:
                    window.append(send(a, y, m, metric))
                if len(window) >= 200:
                    wait_ack(window[-1])
                    window = []
    if window:
        wait_ack(window[-1])

    month = [0]

    def victim(n):
        lat = []
        for i in range(n):
            month[0] += 1
            y, m = 2024 + (month[0] // 12) % 2, month[0] % 12 + 1
            t = time.perf_counter()
            wait_ack(send(areas[month[0] % len(areas)], y, m))
            lat.append((time.perf_counter() - t) * 1000)
        return lat

    def pcts(lat):
        lat = sorted(lat)
        return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]

    stop = multiprocessing.Event()
    cost = multiprocessing.Manager().dict()

    def query_flood():
        # The most one key may keep waiting (16 requests) kept waiting: each answer is followed
        # by the next request at once, so the hub always has this key's work to do; and every
        # 100 ms a burst beyond the queue, which the hub refuses.
        os.nice(nonlocal_nice[0])
        ctx = zmq.Context()  # a process of its own: no context crosses a fork
        q = sock(zmq.DEALER, "jcdu-flood", ctx)
        q.connect(query_ep)
        rid = [0]
        got = {}
        # One member that never reports: no period has a figure for every member, so the hub
        # profiles the group at every period of every metric before it answers: the dearest
        # area query a reader can send.
        members = [a for a in areas if a.startswith("E0")][:63] + silent[:1]

        def ask():
            rid[0] += 1
            q.send(pb.QueryRequest(request_id=rid[0], area=pb.AreaQuery(
                area_code="flood", members=members)).SerializeToString())
        for _ in range(16):
            ask()
        burst = time.monotonic()
        while not stop.is_set():
            if time.monotonic() - burst > 0.1:
                burst = time.monotonic()
                for _ in range(16):
                    ask()
            if q.poll(10):
                r = pb.QueryResponse.FromString(q.recv())
                got[r.status] = got.get(r.status, 0) + 1
                if r.status == pb.QUERY_STATUS_OK:
                    ask()
        for k, v in got.items():  # once: a shared dict per answer would cost the machine more
            cost[k] = cost.get(k, 0) + v
        q.close()

    def sub_flood():
        os.nice(nonlocal_nice[0])
        ctx = zmq.Context()
        s = sock(zmq.SUB, "jcdu-flood", ctx)
        s.connect(alerts_ep)
        i = 0
        while not stop.is_set():
            for _ in range(1000):
                i += 1
                s.setsockopt(zmq.SUBSCRIBE, b"%08d" % i + b"x" * 1016)
            time.sleep(0.001)
        s.close()

    # Rounds interleaved (quiet, query flood, subscription flood, and again): the machine's own
    # load drifts, and would otherwise land on one condition.
    def run_rounds(nice_level):
        nonlocal_nice[0] = nice_level
        floods = {"quiet": None, "query flood": query_flood, "subscription flood": sub_flood}
        samples = {name: [] for name in floods}
        p99s = {name: [] for name in floods}
        cpu = {name: {} for name in floods}  # hub thread name -> CPU s; "flooder": the client's
        secs = {name: 0.0 for name in floods}
        for _ in range(rounds):
            for name, fn in floods.items():
                th = None
                if fn is not None:
                    stop.clear()
                    th = multiprocessing.Process(target=fn)
                    th.start()
                    time.sleep(1.0)
                before, t0 = thread_cpu(hub_pid), time.monotonic()
                flood0 = os.times()
                lat = victim(acks)
                secs[name] += time.monotonic() - t0
                for k, v in thread_cpu(hub_pid).items():
                    cpu[name][k] = cpu[name].get(k, 0) + v - before.get(k, 0)
                samples[name] += lat
                p99s[name].append(pcts(lat)[1])
                if th is not None:
                    stop.set()
                    th.join()
                    t = os.times()  # the flooder, reaped: its CPU over the whole round
                    cpu[name]["flooder"] = cpu[name].get("flooder", 0) + (
                        t.children_user + t.children_system - flood0.children_user -
                        flood0.children_system)
        print("%s: %d rounds of %d acks per condition, flooders at nice %d; query flood answers "
              "by status: %s" % (mode, rounds, acks, nice_level, ", ".join(
                  "%s %d" % (pb.QueryStatus.Name(k), v) for k, v in sorted(cost.items()))))
        for name in floods:
            p50, p99 = pcts(samples[name])
            ratios = sorted(a / b for a, b in zip(p99s[name], p99s["quiet"]))
            busy = sorted(cpu[name].items(), key=lambda kv: -kv[1])
            print("%-6s %-19s ack p50 %6.2f ms  p99 %6.2f ms  round p99/quiet median %4.1fx "
                  "(%.1f-%.1fx)  cpu %% of a core: %s"
                  % (mode, name, p50, p99, ratios[len(ratios) // 2], ratios[0], ratios[-1],
                     ", ".join("%s %.0f" % (k, 100 * v / secs[name]) for k, v in busy[:5]
                               if k != "flooder") +
                     ("; flooder %.0f (whole round)" % (100 * cpu[name]["flooder"] /
                                                         (secs[name] + rounds))
                      if "flooder" in cpu[name] else "")))
            print("RESULT fair_%s_%s_nice%d_ratio %.2f"
                  % (mode, name.split()[0], nice_level, ratios[len(ratios) // 2]))

    for nice in nices:
        cost.clear()
        run_rounds(nice)

    agent.close()
    ctx.term()


if __name__ == "__main__":
    main()
