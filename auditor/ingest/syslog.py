"""Syslog as IHE ATNA sends audit messages: RFC 5425 (TLS) frames them by octet counting, "MSG-LEN SP
SYSLOG-MSG"; RFC 5426 (UDP) sends one message a datagram; each message is RFC 5424's "<PRI>1
TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [SP MSG]", and ATNA's MSGID is IHE+RFC-3881
with the AuditMessage XML as MSG (after an optional UTF-8 byte order mark)."""

from __future__ import annotations

ATNA_MSGID = "IHE+RFC-3881"
MAX_FRAME = 1 << 20  # bytes: an audit message is a few kilobytes
_BOM = b"\xef\xbb\xbf"


class FrameError(Exception):
    """A stream that is not octet-counted frames: the connection cannot be read further."""


class SyslogError(Exception):
    """A frame that is not an RFC 5424 message: the reason quotes nothing of it."""


def take_frames(buffer: bytearray, max_frame: int = MAX_FRAME) -> list[bytes]:
    """The complete frames at the start of `buffer`, removed from it (a partial frame stays for the
    next read). FrameError when the stream does not start with a frame length."""
    frames, at = [], 0
    while at < len(buffer):
        space = buffer.find(b" ", at, at + 9)  # MSG-LEN: at most 8 digits here
        if space < 0:
            rest = bytes(buffer[at:])
            if len(rest) >= 9 or not rest.isdigit():
                raise FrameError("a syslog frame that does not start with its length (RFC 5425 octet counting)")
            break  # the length is still arriving
        digits = bytes(buffer[at:space])
        if not digits.isdigit() or digits.startswith(b"0"):
            raise FrameError("a syslog frame that does not start with its length (RFC 5425 octet counting)")
        length = int(digits)
        if length > max_frame:
            raise FrameError(f"a syslog frame longer than {max_frame:,} bytes")
        end = space + 1 + length
        if end > len(buffer):
            break
        frames.append(bytes(buffer[space + 1 : end]))
        at = end
    del buffer[:at]
    return frames


def _token(data: bytes, at: int) -> tuple[bytes, int]:
    """The header field at `at` (up to the next space) and the position after that space."""
    space = data.find(b" ", at)
    if space < 0:
        raise SyslogError("a syslog message whose header ends early (RFC 5424)")
    return data[at:space], space + 1


def _structured_data_end(data: bytes, at: int) -> int:
    """The position after RFC 5424's STRUCTURED-DATA starting at `at` ('-' or [..][..])."""
    if data[at : at + 1] == b"-":
        return at + 1
    while data[at : at + 1] == b"[":
        at += 1
        quoted = False
        while True:
            if at >= len(data):
                raise SyslogError("a syslog message whose structured data does not end (RFC 5424)")
            byte = data[at : at + 1]
            if quoted and byte == b"\\":
                at += 2
                continue
            if byte == b'"':
                quoted = not quoted
            elif byte == b"]" and not quoted:
                at += 1
                break
            at += 1
    if at == 0 or data[at - 1 : at] not in (b"]", b"-"):
        raise SyslogError("a syslog message without its structured data (RFC 5424)")
    return at


def parse_message(data: bytes) -> tuple[str, bytes]:
    """(MSGID, MSG) of an RFC 5424 message; SyslogError when it is not one."""
    if not data.startswith(b"<"):
        raise SyslogError("not an RFC 5424 syslog message (no <PRI>)")
    close = data.find(b">", 1, 6)
    if close < 0 or not data[1:close].isdigit() or int(data[1:close]) > 191:
        raise SyslogError("not an RFC 5424 syslog message (no <PRI>)")
    version, at = _token(data, close + 1)
    if version != b"1":
        raise SyslogError("a syslog message of another version than RFC 5424's")
    for _ in range(4):  # TIMESTAMP HOSTNAME APP-NAME PROCID
        _, at = _token(data, at)
    msgid, at = _token(data, at)
    at = _structured_data_end(data, at)
    body = data[at + 1 :] if data[at : at + 1] == b" " else b""
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    return msgid.decode("ascii", "replace"), body


def frame(message: bytes) -> bytes:
    """One message framed for RFC 5425."""
    return str(len(message)).encode("ascii") + b" " + message


def atna_syslog(xml: bytes, host: str = "localhost", app: str = "auditor", at: str = "-") -> bytes:
    """An AuditMessage as an RFC 5424 message with ATNA's MSGID (facility authpriv, severity notice)."""
    return f"<85>1 {at} {host} {app} - {ATNA_MSGID} - ".encode("ascii") + _BOM + xml
