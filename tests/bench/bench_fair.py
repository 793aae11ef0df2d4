"""Fair service under attack: one agent's acknowledgement latency (ping-pong, one envelope at a
time) on a quiet hub, then beside a flood of 64-member `area` queries from one reader key, then
beside a flood of subscriptions from one subscriber; prints p50 and p99 of each and the ratio of
each p99 to the quiet one. Driven by bench_fair.sh (which starts the hub).

    bench_fair.py GEN_DIR INGEST ALERTS QUERY MODE KEYDIR ACKS
MODE is curve or plain; with curve, KEYDIR holds hub.pub, national-bench.key and jcdu-flood.key.
"""
import datetime
import sys
import multiprocessing
import time

import zmq

WAIT_S = 30.0
ROUNDS = 3


def main():
    gen, ingest_ep, alerts_ep, query_ep, mode, keydir, acks = sys.argv[1:8]
    acks = int(acks)
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

    areas = [l.split(",")[0] for l in open(sys.argv[8]).read().splitlines()[1:]
             if l.split(",")[2].startswith("E12")][:150]
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
        ctx = zmq.Context()  # a process of its own: no context crosses a fork
        q = sock(zmq.DEALER, "jcdu-flood", ctx)
        q.connect(query_ep)
        rid = 0
        members = [a for a in areas if a.startswith("E0")][:64]
        while not stop.is_set():
            for _ in range(32):
                rid += 1
                req = pb.QueryRequest(request_id=rid, area=pb.AreaQuery(
                    area_code="flood", members=members))
                q.send(req.SerializeToString())
            while q.poll(5):
                r = pb.QueryResponse.FromString(q.recv())
                cost[r.status] = cost.get(r.status, 0) + 1
        q.close()

    def sub_flood():
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

    # Rounds interleaved (quiet, query flood, subscription flood, and again), samples pooled
    # per condition: the machine's own load drifts, and would otherwise land on one condition.
    floods = {"quiet": None, "query flood": query_flood, "subscription flood": sub_flood}
    samples = {name: [] for name in floods}
    for _ in range(ROUNDS):
        for name, fn in floods.items():
            if fn is None:
                samples[name] += victim(acks)
                continue
            stop.clear()
            th = multiprocessing.Process(target=fn)
            th.start()
            time.sleep(1.0)
            samples[name] += victim(acks)
            stop.set()
            th.join()
    results = [(name, pcts(samples[name])) for name in floods]
    quiet99 = results[0][1][1]
    print("%s: %d rounds of %d acks per condition; query flood answers by status: %s" % (
        mode, ROUNDS, acks, ", ".join(
        "%s %d" % (pb.QueryStatus.Name(k), v) for k, v in sorted(cost.items()))))
    for name, (p50, p99) in results:
        print("%-6s %-19s ack p50 %8.2f ms  p99 %8.2f ms  p99/quiet %6.1fx"
              % (mode, name, p50, p99, p99 / quiet99))
    agent.close()
    ctx.term()


if __name__ == "__main__":
    main()
