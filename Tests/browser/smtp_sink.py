"""A tiny SMTP server for the browser tests (asyncio, in a thread of its own): it speaks just
enough (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for the archiver to hand it a mail,
and keeps every mail it accepts: {"from": str, "to": [str], "data": bytes}."""

import asyncio
import threading


class SMTPSink:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(self._session, "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()
        threading.Thread(target=run, daemon=True).start()
        if not started.wait(10):
            raise RuntimeError("the SMTP sink did not start")

    async def _session(self, reader, writer):
        async def reply(*lines):
            writer.write(b"".join(line.encode() + b"\r\n" for line in lines))
            await writer.drain()
        sender, recipients = None, []
        try:
            await reply("220 sink ESMTP ready")
            while line := await reader.readline():
                command = line.decode(errors="replace").rstrip("\r\n")
                verb, _, argument = command.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    await reply("250-sink", "250 8BITMIME")
                elif verb == "HELO":
                    await reply("250 sink")
                elif verb == "MAIL":
                    sender, recipients = argument.split(":", 1)[1].strip().strip("<>"), []
                    await reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(argument.split(":", 1)[1].strip().strip("<>"))
                    await reply("250 OK")
                elif verb == "DATA":
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while (body := await reader.readline()) not in (b".\r\n", b".\n", b""):
                        lines.append(body[1:] if body.startswith(b".") else body)  # dot-stuffing
                    with self.lock:
                        self.messages.append({"from": sender, "to": recipients, "data": b"".join(lines)})
                    await reply("250 OK: queued")
                elif verb in ("RSET", "NOOP"):
                    if verb == "RSET":
                        sender, recipients = None, []
                    await reply("250 OK")
                elif verb == "QUIT":
                    await reply("221 Bye")
                    break
                else:
                    await reply("502 Command not implemented")
        except (ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    def mails(self):
        with self.lock:
            return list(self.messages)

    def close(self):
        def stop():
            self.server.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(stop)
