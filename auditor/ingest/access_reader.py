"""Reading access_log.csv for ingest: its chunks checked, typed and hashed, ready for the gateway,
in this process or (for a big file) in a child process while this one appends the previous chunk.

Reading, checking and hashing a row and appending it to the log do not depend on each other until
the row is appended, so on a machine with two cores a big file is read by a child process one chunk
ahead; the child starts with the ingest, so its start-up and first chunk overlap the loading of the
files before access_log.csv. The child sees only the file: it opens no database and
holds no key (a new interpreter, not a fork of a process with open connections). What it sends
back is what the gateway needs (the good rows as EHR_EVENT_COLUMNS, their lines and fields as read)
and the rejected rows as quarantine entries; either way the same chunks arrive in the same order.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from auditor.errors import AuditorError, InputError
from auditor.ingest import interchange_records as records
from auditor.ingest.csv_tables import CsvTable, kept_row
from auditor.ingest.interchange_files import ACCESS_LOG, checked_chunks
from auditor.vault.gateway import QuarantineEntry

PARALLEL_FROM_BYTES = 16 * 1024 * 1024  # about 150,000 rows: below this a child costs more than it saves


@dataclass
class ReadChunk:
    """One chunk of access_log.csv: `rows` records read, `events` the good ones (EHR_EVENT_COLUMNS),
    `lines` the line each starts on, `fields` their values as read (the file's header columns) for
    quarantining a row the gateway refuses later, `rejected` the lines the checks refused; `spans`
    the lines each good row covers and `texts` the text of those over several lines; `line_count`
    the physical lines the chunk accounts for, `blank` how many of them are blank."""

    rows: int
    events: pa.Table
    lines: np.ndarray
    fields: pa.Table
    rejected: list[QuarantineEntry]
    spans: np.ndarray
    texts: dict[int, str]
    line_count: int
    blank: int

    def raw_row(self, position: int, header: list[str]) -> str:
        """Good row `position` as read, as quarantine keeps it (CsvChunk.raw_row)."""
        return kept_row(header, [self.fields.column(h)[position].as_py() for h in header])  # only refused rows


def read_chunks(table: CsvTable, zone: ZoneInfo) -> Iterator[ReadChunk]:
    """The file's chunks, read in this process."""
    for checked, good, rejected in checked_chunks(table, ACCESS_LOG, zone, records.check_access):
        chunk = checked.chunk
        as_read = chunk.table if len(good) == len(chunk) else chunk.table.take(good)  # most chunks: every row good
        at = {int(i): p for p, i in enumerate(good.tolist())} if chunk.texts else {}
        yield ReadChunk(len(chunk.lines), records.access_events(checked, good, as_read), chunk.lines[good],
                        as_read, rejected, chunk.covered[good], {at[i]: t for i, t in chunk.texts.items() if i in at},
                        chunk.line_count, chunk.blank)


class AccessChunks:
    """The chunks of access_log.csv in file order, from this process or from a reading child started
    when this object is made (so it can read ahead while the files before it load). Close it when
    done, whether it was read or not."""

    def __init__(self, table: CsvTable, zone: ZoneInfo, parallel: bool | None = None) -> None:
        if parallel is None:
            parallel = table.path.stat().st_size >= PARALLEL_FROM_BYTES and (os.cpu_count() or 1) > 1
        self.table, self.zone = table, zone
        self.child = _start_child(table, zone) if parallel else None

    def __iter__(self) -> Iterator[ReadChunk]:
        return _from_child(self.table, self.child) if self.child else read_chunks(self.table, self.zone)

    def close(self) -> None:
        if self.child is not None:
            self.child.kill()
            self.child.stdout.close()
            self.child.wait()

    def __enter__(self) -> "AccessChunks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- the child ---------------------------------------------------------------------------------------------
def _packed(chunk: ReadChunk) -> tuple:
    """A chunk as plain values and Arrow tables (pickled as buffers: no copy per value). Not the
    ReadChunk itself: in the child this module is __main__, a name the parent cannot unpickle."""
    return (chunk.rows, chunk.events, chunk.lines, chunk.fields, chunk.rejected, chunk.spans, chunk.texts,
            chunk.line_count, chunk.blank)


def _child_main(path: str, zone: str) -> None:
    """`python -m auditor.ingest.access_reader PATH ZONE`: the chunks, pickled one after another on
    standard output (the pipe's buffer holds the child at most about a chunk ahead)."""
    out = sys.stdout.buffer
    try:
        # the parent has checked the whole file is UTF-8 (CsvTable) before it started this process
        for chunk in read_chunks(CsvTable(Path(path), ACCESS_LOG.names, text_checked=True), ZoneInfo(zone)):
            pickle.dump(("chunk", _packed(chunk)), out, protocol=5)
        pickle.dump(("done", None), out, protocol=5)
    except AuditorError as exc:
        pickle.dump(("error", str(exc)), out, protocol=5)
    except Exception as exc:  # pragma: no cover - a bug, reported in the parent without the row's values
        pickle.dump(("error", f"{ACCESS_LOG.name}: reading failed ({type(exc).__name__})"), out, protocol=5)
    out.flush()


def _start_child(table: CsvTable, zone: ZoneInfo) -> subprocess.Popen:
    # A new interpreter running this module (not multiprocessing's fork, which would copy open
    # database connections, nor its spawn, which re-runs the caller's main script).
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-m", "auditor.ingest.access_reader", str(table.path), zone.key],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)


def _from_child(table: CsvTable, child: subprocess.Popen) -> Iterator[ReadChunk]:
    while True:
        try:
            kind, payload = pickle.load(child.stdout)
        except EOFError:
            raise InputError(f"{table.name}: the reading process stopped (exit code {child.wait()})") from None
        if kind == "done":
            break
        if kind == "error":
            raise InputError(payload)
        yield ReadChunk(*payload)


if __name__ == "__main__":
    _child_main(sys.argv[1], sys.argv[2])
