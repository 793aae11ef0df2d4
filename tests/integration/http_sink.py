#!/usr/bin/python3
"""A real local HTTP receiver for webhook tests. Each POST is saved as DIR/NNNN.json (body) and
logged as one line "STATUS PATH IDEMPOTENCY-KEY FILE" in DIR/log (FILE "-" when not saved). The mode is read from DIR/mode at
each request:
  ok    answer 200 (the default)
  fail  answer 503 (an outage the sender must ride out)
  hold  log "held PATH KEY", keep the request unanswered until the mode changes (60 s at most),
        then answer 503: a sender killed meanwhile never saw success.
With --cert and --key it speaks HTTPS. Runs until SIGTERM; DIR/ready appears once it listens.

  http_sink.py --port P --dir DIR [--cert PEM --key PEM]
"""
import argparse
import os
import signal
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    lock = threading.Lock()

    def mode():
        try:
            with open(os.path.join(args.dir, "mode")) as f:
                return f.read().strip() or "ok"
        except FileNotFoundError:
            return "ok"

    def log(line):
        with lock:
            with open(os.path.join(args.dir, "log"), "a") as f:
                f.write(line + "\n")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            key = self.headers.get("Idempotency-Key", "-")
            m = mode()
            if m == "hold":
                log("held %s %s" % (self.path, key))
                deadline = time.monotonic() + 60
                while mode() == "hold" and time.monotonic() < deadline:
                    time.sleep(0.05)
                m = "fail"
            status = 200 if m == "ok" else 503
            name = "-"
            if status == 200:
                with lock:
                    n = len([f for f in os.listdir(args.dir) if f.endswith(".json")]) + 1
                    path = os.path.join(args.dir, "%04d.json" % n)
                    with open(path + ".tmp", "wb") as f:
                        f.write(body)
                    os.rename(path + ".tmp", path)
                    name = os.path.basename(path)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                status = -1  # the sender is gone: it never saw an answer
            log("%d %s %s %s" % (status, self.path, key, name))

    srv = ThreadingHTTPServer(("127.0.0.1", int(args.port)), Handler)
    srv.daemon_threads = True
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
        srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    open(os.path.join(args.dir, "ready"), "w").close()
    srv.serve_forever()
    os.unlink(os.path.join(args.dir, "ready"))


if __name__ == "__main__":
    main()
