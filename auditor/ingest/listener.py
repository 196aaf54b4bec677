"""`auditor listen`: IHE ATNA audit messages received live, over TLS syslog (RFC 5425: octet-counted
frames) and UDP syslog (RFC 5426: a message a datagram), into the vault's log.

What arrives goes to the spool first (auditor.ingest.spool: appended and fsynced in batches, before
anything parses it); the spool is ingested in batches through the one ingest path, as svc:import under
`--source`, each message mapped as `auditor ingest --format atna` maps a file (auditor.ingest.formats.
atna). A message that is not RFC 5424 syslog, has another MSGID than IHE+RFC-3881, or is not an
AuditMessage the contract can take is quarantined with its place ("listener:SOURCE", the byte of the
spool it starts at) and reason. A listener killed at any point loses nothing it had counted as
received, and the next one ingests the spool without duplicates before it listens again. Stopped,
it takes no new connection, reads the open ones until their senders close them (for `drain` seconds
at most), then syncs and ingests everything received. A TLS stream that stops being octet-counted
frames is closed (the rest of it cannot be told apart)."""

from __future__ import annotations

import asyncio
import ssl
import sys
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from auditor.ingest.ehr_import import IngestSummary
from auditor.ingest.event_import import append_chunks, quarantine
from auditor.ingest.formats import ChunkBuilder, Unmappable
from auditor.ingest.formats.atna import map_message
from auditor.ingest.spool import RECORD_OVERHEAD, Spool
from auditor.ingest.syslog import ATNA_MSGID, FrameError, SyslogError, parse_message, take_frames
from auditor.vault.gateway import AccessGateway
from auditor.vault.gateway.lookups import IngestLookups

FLUSH_SECONDS = 0.02  # received messages are synced to the spool at least this often
READ_LIMIT = 1 << 16  # a connection's read buffer (asyncio.start_server's)
# While it listens, a thread that holds the GIL (the ingest's, parsing and appending a batch) hands it
# over after this long when the receiving loop asks for it. At Python's 5 ms the loop waited up to
# 5 ms at each wake-up behind the ingest thread, and on a slower 2-core machine (2026-12-05) it read
# 4,741 messages/s from a sender sending 5,000 (the rest waited in the sender); at 0.5 ms it read all
# 5,000/s for the minute (bench/interop.py). Set for the listening process, and put back after.
SWITCH_SECONDS = 0.0005


@dataclass
class ListenerCounts:
    received: int = 0  # messages synced to the spool
    connections: int = 0
    closed_streams: int = 0  # TLS streams closed because they stopped being frames
    cut_short: int = 0  # frames a sender closed its connection in the middle of (never received whole)
    endpoints: list[str] = field(default_factory=list)


def tls_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """The server's TLS: 1.2 at least; with `client_ca`, a client certificate it signed is required
    (mutual TLS, as IHE ATNA's secure node requires)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    # No TLS 1.3 session tickets: a syslog sender never reads, so tickets would sit unread in its socket
    # and its close would be a reset, which throws away what this side had not read yet
    context.num_tickets = 0
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


class AtnaListener:
    def __init__(self, gateway: AccessGateway, spool: Spool, source: str, zone: ZoneInfo, *,
                 tls: tuple[str, int, ssl.SSLContext] | None = None, udp: tuple[str, int] | None = None,
                 batch: int = 5000, interval: float = 1.0, drain: float = 5.0) -> None:
        if tls is None and udp is None:
            raise ValueError("a listener listens on TLS, UDP or both")
        self.gateway, self.spool, self.source, self.zone = gateway, spool, source, zone
        self.tls, self.udp, self.batch, self.interval, self.drain = tls, udp, batch, interval, drain
        self._connections: set[asyncio.Task] = set()
        # accepted, still in their TLS handshake: a stop waits for them too (weak: a failed handshake
        # never reaches _connection, and its reader goes with its transport)
        self._handshaking: weakref.WeakSet = weakref.WeakSet()
        self.counts = ListenerCounts()
        self.summary: IngestSummary | None = None
        self._received: list[bytes] = []
        self._lookups = IngestLookups()
        self._unmapped: Counter = Counter()

    # -- the spool into the log ------------------------------------------------------------------------
    def ingest_pending(self) -> int:
        """Every message after the spool's cursor into the log, a batch at a time; how many."""
        assert self.summary is not None
        done = 0
        while True:
            records = list(self.spool.pending(self.batch))
            if not records:
                self.spool.compact()
                return done
            builder = ChunkBuilder(f"listener:{self.source}")
            for end, message in records:
                place = end - len(message) - RECORD_OVERHEAD  # the byte its record starts at
                try:
                    msgid, body = parse_message(message)
                    if msgid != ATNA_MSGID:
                        raise SyslogError(f"a syslog message whose MSGID is not {ATNA_MSGID}")
                    builder.add(map_message(body, self.zone, builder.unmapped), place, body.decode("utf-8", "replace"))
                except (SyslogError, Unmappable) as refused:
                    builder.reject(place, str(refused), message.decode("utf-8", "replace"))
            before = len(self.summary.rejected)
            append_chunks(self.gateway, self.summary, [builder.take()], self._lookups, self._unmapped)
            quarantine(self.gateway, self.summary, self.summary.rejected[before:])
            self.spool.advance(records[-1][0])  # after the commit: a kill before it ingests them again
            done += len(records)

    # -- receiving -------------------------------------------------------------------------------------
    async def _flush(self) -> None:
        if self._received:
            batch, self._received = self._received, []
            await asyncio.to_thread(self.spool.append, batch)
            self.counts.received += len(batch)

    def _accepted(self) -> asyncio.StreamReaderProtocol:
        """A new connection's protocol, made when it is accepted (before its TLS handshake)."""
        reader = asyncio.StreamReader(limit=READ_LIMIT)
        self._handshaking.add(reader)
        return asyncio.StreamReaderProtocol(reader, self._connection)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handshaking.discard(reader)
        self.counts.connections += 1
        task = asyncio.current_task()
        self._connections.add(task)
        buffer = bytearray()
        try:
            while data := await reader.read(1 << 16):
                buffer += data
                self._received.extend(take_frames(buffer))
            if buffer:
                self.counts.cut_short += 1
        except FrameError:
            self.counts.closed_streams += 1
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        except asyncio.CancelledError:  # still open when the listener stopped and its drain ran out
            if buffer:
                self.counts.cut_short += 1
        finally:
            self._connections.discard(task)
            writer.close()

    def _datagram(self) -> asyncio.DatagramProtocol:
        listener = self

        class Datagrams(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr) -> None:
                listener._received.append(data)

        return Datagrams()

    async def run(self, stop: asyncio.Event, ready: Callable[[ListenerCounts], None] = lambda _: None) -> IngestSummary:
        """Ingest what the spool holds, listen until `stop` is set (`ready` is called once listening,
        with the endpoints bound), then sync and ingest what arrived."""
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, SWITCH_SECONDS))
        try:
            return await self._run(stop, ready)
        finally:
            sys.setswitchinterval(switch)

    async def _run(self, stop: asyncio.Event, ready: Callable[[ListenerCounts], None]) -> IngestSummary:
        self.summary = IngestSummary(self.gateway.start_ingest_run(self.source, self.zone.key), self.source,
                                     format="atna")
        await asyncio.to_thread(self.ingest_pending)
        loop = asyncio.get_running_loop()
        closers = []
        if self.tls is not None:
            host, port, context = self.tls
            server = await loop.create_server(self._accepted, host, port, ssl=context)
            closers.append(server)
            bound = server.sockets[0].getsockname()
            self.counts.endpoints.append(f"tls {bound[0]}:{bound[1]}")
        if self.udp is not None:
            transport, _ = await loop.create_datagram_endpoint(self._datagram, local_addr=self.udp)
            closers.append(transport)
            bound = transport.get_extra_info("sockname")
            self.counts.endpoints.append(f"udp {bound[0]}:{bound[1]}")
        ready(self.counts)

        async def flushing() -> None:
            while not stop.is_set():
                await self._flush()
                await asyncio.sleep(FLUSH_SECONDS)

        async def ingesting() -> None:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), self.interval)
                except asyncio.TimeoutError:
                    pass
                try:
                    await asyncio.to_thread(self.ingest_pending)
                except BaseException:  # a refused cursor, a failed ingest: stop and say why, never go on deaf
                    stop.set()
                    raise

        tasks = [asyncio.create_task(flushing()), asyncio.create_task(ingesting())]
        try:
            await stop.wait()
        finally:
            for closer in closers:
                closer.close()
            deadline = loop.time() + self.drain
            while self._handshaking and loop.time() < deadline:  # a sender that connected just before the stop
                await asyncio.sleep(0.01)
            if self._connections:  # senders still connected: what they send for `drain` seconds is received
                await asyncio.wait(set(self._connections), timeout=max(0.0, deadline - loop.time()))
                for connection in list(self._connections):
                    connection.cancel()
                await asyncio.sleep(0.1)  # their transports close on this loop, not after it
            failed = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if isinstance(r, BaseException)]
            await self._flush()  # what was received is on disk, whatever failed
            if failed:
                raise failed[0]
            await asyncio.to_thread(self.ingest_pending)
            self.summary.warnings += [f"{n} message{'s' * (n != 1)}: {what}" for what, n in sorted(self._unmapped.items())]
            self.gateway.finish_ingest_run(self.summary.run_id,
                                           {name: vars(count) for name, count in self.summary.files.items()})
        return self.summary
