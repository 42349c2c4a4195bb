"""Content-Encoding (gzip, deflate) decoded under a cap, in small steps.

A gzip bomb must stop at the cap instead of inflating first: ``zlib``'s ``max_length`` bounds
every step, and what it could not decode within the budget is drained under the same cap.

``pipeline.net`` decodes feeds with it as they arrive. Pages arrive still encoded and are
decoded here in the extraction worker (``decode_body``), under the same cap and the worker's
memory limit: inflating a page is CPU work, and the main process, which runs the event loop for
every download, is the one process that cannot be spread over the cores. A compressed page is
also a fifth of the bytes to hand to the worker.
"""

from __future__ import annotations

import zlib

from pipeline.errors import DecodeFailed, TooLarge

CHUNK = 16 * 1024  # raw bytes decoded per step: each step's output stays small as well


class Decoder:
    """Decodes a Content-Encoding incrementally without ever producing more than asked."""

    def __init__(self, encoding: str) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise DecodeFailed(f"unsupported stacked content-encoding {encoding!r}")
        self.coding = codings[0] if codings else ""
        self._raw_deflate_tried = False
        self._fed = False  # an empty body is empty, not a truncated stream
        if self.coding in ("gzip", "x-gzip"):
            self._z: zlib._Decompress | None = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._z = zlib.decompressobj(wbits=zlib.MAX_WBITS)
        elif self.coding == "":
            self._z = None
        else:
            # We only advertise gzip and deflate; anything else cannot be decoded safely.
            raise DecodeFailed(f"unsupported content-encoding {encoding!r}")

    def feed(self, data: bytes, budget: int) -> bytes:
        """Decode ``data``, returning at most ``budget + 1`` bytes (one more means "over the cap")."""
        if self._z is None:
            return data[: budget + 1]
        self._fed = self._fed or bool(data)
        try:
            out = self._z.decompress(data, budget + 1)
        except zlib.error as exc:
            if self.coding == "deflate" and not self._raw_deflate_tried:
                # Some servers send raw deflate (no zlib header) as "deflate".
                self._raw_deflate_tried = True
                self._z = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
                return self.feed(data, budget)
            raise DecodeFailed(f"corrupt {self.coding} body: {exc}") from exc
        return out

    def finish(self) -> None:
        """Raise DecodeFailed when the compressed stream stopped before its end (a truncated body)."""
        if self._z is not None and self._fed and not self._z.eof:
            raise DecodeFailed(f"truncated {self.coding} body: the compressed stream does not end")

    @property
    def pending(self) -> bytes:
        """Input zlib kept back because decoding it would have passed the budget."""
        return self._z.unconsumed_tail if self._z is not None else b""


class CappedBody:
    """Raw chunks in, a decoded body of at most ``max_bytes`` out (TooLarge beyond)."""

    def __init__(self, encoding: str, max_bytes: int, status_code: int | None = None) -> None:
        self._decoder = Decoder(encoding)
        self._max = max_bytes
        self._status = status_code
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, raw: bytes) -> None:
        self._take(self._decoder.feed(raw, self._max - self._size))
        while self._decoder.pending:
            self._take(self._decoder.feed(self._decoder.pending, self._max - self._size))

    def _take(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max:
            raise TooLarge(f"decoded body passed the {self._max}-byte cap", status_code=self._status)
        self._parts.append(chunk)

    def body(self) -> bytes:
        self._decoder.finish()
        return b"".join(self._parts)


def decode_body(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """A whole encoded body, decoded under the cap (raises TooLarge or DecodeFailed)."""
    if not encoding:
        if len(raw) > max_bytes:
            raise TooLarge(f"body passed the {max_bytes}-byte cap")
        return raw
    capped = CappedBody(encoding, max_bytes)
    for start in range(0, len(raw), CHUNK):
        capped.add(raw[start : start + CHUNK])
    return capped.body()
