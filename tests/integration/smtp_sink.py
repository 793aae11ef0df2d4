#!/usr/bin/python3
"""A real SMTP server for tests (Debian's python3-aiosmtpd): STARTTLS required, AUTH required
(after STARTTLS), each accepted message saved as DIR/NNNN.eml and logged as one line
"accepted MESSAGE-ID" in DIR/log. Runs until SIGTERM; DIR/ready appears once it listens.

  smtp_sink.py --port P --dir DIR --cert PEM --key PEM --user U --password W
"""
import argparse
import email
import os
import signal
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    ap = argparse.ArgumentParser()
    for name in ("port", "dir", "cert", "key", "user", "password"):
        ap.add_argument("--" + name, required=True)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    lock = threading.Lock()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == args.user.encode()
              and auth_data.password == args.password.encode())
        return AuthResult(success=ok)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            msg = email.message_from_bytes(envelope.content)
            with lock:
                n = len([f for f in os.listdir(args.dir) if f.endswith(".eml")]) + 1
                path = os.path.join(args.dir, "%04d.eml" % n)
                with open(path + ".tmp", "wb") as f:
                    f.write(envelope.content)
                os.rename(path + ".tmp", path)
                with open(os.path.join(args.dir, "log"), "a") as f:
                    f.write("accepted %s rcpt=%s\n" % (msg.get("Message-ID", "-"),
                                                       ",".join(envelope.rcpt_tos)))
            return "250 Message accepted for delivery"

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    ctl = Controller(Handler(), hostname="127.0.0.1", port=int(args.port),
                     tls_context=tls, require_starttls=True, authenticator=authenticate,
                     auth_required=True, auth_require_tls=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ctl.start()
    open(os.path.join(args.dir, "ready"), "w").close()
    stop.wait()
    ctl.stop()
    os.unlink(os.path.join(args.dir, "ready"))


if __name__ == "__main__":
    main()
