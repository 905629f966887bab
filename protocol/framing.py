"""Cut a TCP byte stream into whole Diameter messages (RFC 6733 §3).

What lives here: `ReceiveBuffer`, an incremental buffer with a size limit. What must
not: decoding beyond the first four bytes, or any I/O.

The version and the length are checked as soon as the first four bytes of a message
are in, before anything is buffered up to the announced length: a peer that lies
about the length cannot make us hold megabytes (h11 caps its incomplete event size
for the same reason). After such an error the stream has no trustworthy message
boundary left, so the errors are `fatal` and the connection must be closed.
"""

from __future__ import annotations

from .codes import ResultCode
from .errors import RemoteProtocolError

#: 64 KiB is far above any credit-control message (a CCR with PS-Information is under
#: 1 KiB) and keeps a hostile length from reserving much memory.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024


class ReceiveBuffer:
    """Splits a TCP byte stream into whole Diameter messages. No I/O."""

    __slots__ = ("_buf", "_max", "_start")

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_message_size < 20:
            raise ValueError("a Diameter message is at least 20 bytes")
        self._buf = bytearray()
        self._start = 0  # consumed prefix, dropped in one go (amortised O(n))
        self._max = max_message_size

    def __len__(self) -> int:
        return len(self._buf) - self._start

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data

    def next_message(self) -> bytes | None:
        """Return one complete message, or None if more bytes are needed.

        Raises:
            RemoteProtocolError: fatal; 5011 for a version other than 1, 5015 for a
                length below 20, not a multiple of 4, or above the size limit.
        """
        buf, start = self._buf, self._start
        if len(buf) - start < 4:
            self._compact()
            return None
        if buf[start] != 1:
            raise RemoteProtocolError(
                f"Diameter version {buf[start]}",
                result_code=ResultCode.DIAMETER_UNSUPPORTED_VERSION,
                fatal=True,
            )
        length = int.from_bytes(buf[start + 1 : start + 4], "big")
        if length < 20 or length & 3 or length > self._max:
            raise RemoteProtocolError(
                f"message length {length} (limit {self._max})",
                result_code=ResultCode.DIAMETER_INVALID_MESSAGE_LENGTH,
                fatal=True,
            )
        end = start + length
        if len(buf) < end:
            self._compact()
            return None
        self._start = end
        return bytes(buf[start:end])

    def peek(self, size: int) -> bytes:
        """Up to ``size`` buffered bytes without consuming them (e.g. a bad header)."""
        return bytes(self._buf[self._start : self._start + size])

    def messages(self) -> list[bytes]:
        """Every complete message buffered now (one receive often holds many)."""
        out: list[bytes] = []
        while (message := self.next_message()) is not None:
            out.append(message)
        return out

    def _compact(self) -> None:
        if self._start:
            del self._buf[: self._start]
            self._start = 0
