"""From a landing file's bytes to UTF-8: gzip, byte-order marks, UTF-16 and UTF-32.

The contracts say UTF-8.  What is delivered is stated, not guessed wrong:

- a UTF-8 byte-order mark is removed (Excel and some ESP exports write one) and recorded;
- UTF-16 or UTF-32 (a byte-order mark, or the NUL-byte pattern of ASCII text in them) is
  decoded to UTF-8 and recorded; text that is not valid in that encoding fails the file;
- anything else is read as UTF-8, record by record (invalid bytes quarantine the record).

A file that cannot be read at all (corrupt or truncated gzip, a plain file named .gz, an I/O
error) raises; :func:`read_failure` turns the exception into the reason the manifest keeps.
"""
from __future__ import annotations

import codecs
import gzip
import zlib
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Encoding:
    codec: str          # Python codec of the delivered text ("utf-8" needs no decoding)
    bom: bytes = b""    # byte-order mark at the start of the text (removed)
    detected_by: str = ""  # "BOM" or "NUL-byte pattern" for UTF-16/32

    @property
    def label(self) -> str:
        """As recorded in ops.load_manifest.encoding."""
        if self.codec == "utf-8":
            return "utf-8 (BOM removed)" if self.bom else "utf-8"
        return f"{self.codec} ({self.detected_by}; decoded to UTF-8)"


UTF8 = Encoding("utf-8")
# Longest BOM first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
SNIFF_BYTES = 512  # a header row or a first JSON line is ASCII enough to tell


def sniff(head: bytes) -> Encoding:
    """The encoding of a text starting with ``head`` (its first bytes, decompressed)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return Encoding(codec, bom, "BOM")
    sample = head[:SNIFF_BYTES]
    # ASCII in UTF-32 has three NUL bytes per character, in UTF-16 one; UTF-8 text has none
    # (a stray NUL quarantines its record, it does not make half the bytes NUL).
    for width, codecs_by_lane in ((4, ("utf-32-le", "utf-32-be")), (2, ("utf-16-le", "utf-16-be"))):
        n = len(sample) // width * width
        if n < 2 * width:
            continue
        lanes = [sample[i:n:width].count(0) / (n // width) for i in range(width)]
        if width == 4:
            le = lanes[0] < 0.1 and min(lanes[1:]) > 0.5
            be = lanes[3] < 0.1 and min(lanes[:3]) > 0.5
        else:
            le = lanes[0] < 0.1 and lanes[1] > 0.5
            be = lanes[1] < 0.1 and lanes[0] > 0.5
        if le or be:
            return Encoding(codecs_by_lane[0] if le else codecs_by_lane[1], b"", "NUL-byte pattern")
    return UTF8


class UndecodableText(Exception):
    """The file's text is not valid in the encoding it was detected in."""


def to_utf8(reads: Iterator[bytes], encoding: Encoding) -> Iterator[bytes]:
    """The reads as UTF-8: the BOM removed, UTF-16/32 decoded (incrementally)."""
    if encoding.codec == "utf-8":
        first = True
        for data in reads:
            if first and encoding.bom:
                data = data[len(encoding.bom):] if data.startswith(encoding.bom) else data
            first = False
            yield data
        return
    decoder = codecs.getincrementaldecoder(encoding.codec)("strict")
    offset = 0
    try:
        for data in reads:
            if offset == 0 and encoding.bom and data.startswith(encoding.bom):
                data = data[len(encoding.bom):]
                offset = len(encoding.bom)
            text = decoder.decode(data)
            offset += len(data)
            if text:
                yield text.encode("utf-8")
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail.encode("utf-8")
    except UnicodeDecodeError as exc:
        raise UndecodableText(f"not valid {encoding.codec.upper()} text ({exc.reason} near byte"
                              f" {offset + exc.start} of the decompressed file)") from None


# What reading a file can raise, and how the manifest says it.
READ_ERRORS = (OSError, EOFError, zlib.error, UndecodableText)


def read_failure(exc: BaseException, gzipped: bool) -> str:
    """A short statement of why a file could not be read (no value from the file)."""
    if isinstance(exc, UndecodableText):
        return str(exc)
    if isinstance(exc, EOFError):
        return "gzip stream truncated (the file ends before the end-of-stream marker): an incomplete upload"
    if isinstance(exc, gzip.BadGzipFile):
        text = str(exc)
        if text.startswith("Not a gzipped file"):
            return "not a gzip file although named .gz (no gzip magic number)"
        return f"corrupt gzip data ({text})"
    if isinstance(exc, zlib.error):
        return f"corrupt gzip data ({str(exc).split(': ', 1)[-1]})"
    if gzipped and isinstance(exc, OSError) and not exc.errno:
        return f"corrupt gzip data ({exc})"
    return f"I/O error ({type(exc).__name__}: {exc.strerror or exc})" if isinstance(exc, OSError) \
        else f"{type(exc).__name__}: {exc}"
