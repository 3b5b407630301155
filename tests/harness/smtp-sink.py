"""SMTP sink for the mail plugin tests (Debian python3-aiosmtpd; run with
/usr/bin/python3). Adapted from ../shared/recipes/smtp-start.sh: every
accepted message lands as a file in MAILDIR/new (aiosmtpd's Mailbox
handler, which adds X-Peer / X-MailFrom / X-RcptTo with the envelope).

  smtp-sink.py PORT MAILDIR [--tls CERT KEY] [--auth USER:PASSWORD]

--tls: offers STARTTLS and requires it before MAIL; --auth: requires AUTH
(PLAIN or LOGIN) with these credentials (after STARTTLS when --tls).
Recipients whose local part names a behaviour script the server's answer:
  reject550@...   RCPT gets 550 (permanent)
  later451@...    RCPT gets 451 (try later)
  data554@...     the message data gets 554 (refused after DATA)
  hangup@...      the connection is closed after the data, without a reply
"""
import asyncio
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@", 1)[0].lower()
        if local == "reject550":
            return "550 5.1.1 no such mailbox"
        if local == "later451":
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        locals_ = {a.split("@", 1)[0].lower() for a in envelope.rcpt_tos}
        if "data554" in locals_:
            return "554 5.6.0 message refused"
        if "hangup" in locals_:
            server.transport.close()
            return "250 never seen"
        return await super().handle_DATA(server, session, envelope)


def main():
    args = sys.argv[1:]
    port, maildir = int(args[0]), args[1]
    kw = {}
    i = 2
    creds = None
    while i < len(args):
        if args[i] == "--tls":
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(args[i + 1], args[i + 2])
            kw.update(tls_context=ctx, require_starttls=True)
            i += 3
        elif args[i] == "--auth":
            user, _, pw = args[i + 1].partition(":")
            creds = (user.encode(), pw.encode())
            i += 2
        else:
            raise SystemExit("unknown argument " + args[i])
    if creds:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and
                  (auth_data.login, auth_data.password) == creds)
            return AuthResult(success=ok, handled=False)
        kw.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls="tls_context" in kw)
    c = Controller(Sink(maildir), hostname="127.0.0.1", port=port,
                   ready_timeout=10, **kw)
    c.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        c.stop()


if __name__ == "__main__":
    main()
