"""The loader's line reader: however a file is cut into reads, it yields the file's physical
lines (terminators removed) and flags that cover every line of the chunk."""
from __future__ import annotations

import random

import pytest

from ingestion import loader


def _expected(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final terminator does not start another line
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


@pytest.mark.parametrize("read_chunk", [1, 2, 3, 7, 64, 4 << 20])
def test_lines_are_the_same_for_any_read_size(tmp_path, monkeypatch, read_chunk):
    rng = random.Random(read_chunk)
    pieces = [b"", b"a", b'{"x": "q\\"t"}', b"tab\there", b"\xea\xb0\x80\xeb\x82\x98", b"cr\r", b"x" * 300]
    monkeypatch.setattr(loader, "READ_CHUNK", read_chunk)
    for case in range(40):
        lines = [rng.choice(pieces) for _ in range(rng.randrange(0, 30))]
        data = b"\n".join(lines) + rng.choice([b"", b"\n", b"\r\n"])
        path = tmp_path / f"f{case}.jsonl"
        path.write_bytes(data)
        got: list[bytes] = []
        for chunk, quotes, special, _ in loader._chunks(path):
            got += chunk
            # Flags may be set by a line of the next chunk, never missing for a line of this one.
            assert quotes or not any(b'"' in ln for ln in chunk)
            assert special or not any(b"\\" in ln or b"\t" in ln for ln in chunk)
        assert got == _expected(data), (case, data)
