"""Content-Encoding decoded layer by layer, streamed, each layer capped.

httpx decodes a chunk all at once: a 2 KB body of gzip inside gzip can stand for a
gigabyte, which it would hold in memory before any size check could refuse it. Here
every layer inflates at most ``limit`` bytes more than it was given room for, so one
response never costs more than a few times ``limit``, however it was compressed.
"""

from __future__ import annotations

import zlib

# The encodings docwatch asks for (Accept-Encoding: gzip) and the ones servers send
# anyway; anything else is refused, never stored as text.
GZIP_WBITS, ZLIB_WBITS, RAW_DEFLATE_WBITS = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS


class DecodingError(Exception):
    """The body cannot be decoded within the limit (``too_large``) or at all."""

    def __init__(self, message: str, too_large: bool = False):
        super().__init__(message)
        self.message = message
        self.too_large = too_large


class _Layer:
    """One ``Content-Encoding`` layer: gzip (several members too) or deflate."""

    def __init__(self, name: str, limit: int):
        if name not in ("gzip", "x-gzip", "deflate"):
            raise DecodingError(f"unsupported Content-Encoding {name!r}")
        self.name, self.limit, self.produced = name, limit, 0
        self._wbits = GZIP_WBITS if name != "deflate" else ZLIB_WBITS
        self._inflater = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            room = self.limit + 1 - self.produced
            try:
                piece = self._inflater.decompress(data, room)
            except zlib.error as exc:
                if self.name == "deflate" and not self._started:
                    # Servers send raw deflate for "deflate" as often as zlib-wrapped.
                    self._wbits = RAW_DEFLATE_WBITS
                    self._inflater = zlib.decompressobj(self._wbits)
                    self._started = True
                    continue
                raise DecodingError(f"{self.name} body does not decode: {exc}") from None
            self._started = True
            self.produced += len(piece)
            if self.produced > self.limit:
                raise DecodingError(f"over {self.limit} bytes after {self.name} decoding",
                                    too_large=True)
            out.append(piece)
            data = self._inflater.unconsumed_tail
            if self._inflater.eof:  # one gzip member ended: another may follow
                data = self._inflater.unused_data + data
                self._inflater = zlib.decompressobj(self._wbits)
                if not data.strip(b"\0"):
                    break
        return b"".join(out)


class Decoder:
    """Decodes a body whose ``Content-Encoding`` is ``encodings`` (the header's value),
    fed its raw bytes chunk by chunk; every layer's output is capped at ``limit``."""

    def __init__(self, encodings: str, limit: int):
        names = [e.strip().lower() for e in encodings.split(",")]
        # Listed in the order they were applied: undone in reverse.
        self._layers = [_Layer(name, limit) for name in reversed(names)
                        if name and name != "identity"]

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes ``data`` gives; raises :class:`DecodingError`."""
        for layer in self._layers:
            if not data:
                break
            data = layer.feed(data)
        return data
