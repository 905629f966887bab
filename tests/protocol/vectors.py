"""Loading the captured vectors of tests/vectors (see its README for provenance)."""

from __future__ import annotations

import pathlib

VECTORS = pathlib.Path(__file__).resolve().parents[1] / "vectors"


def load_hex(name: str) -> bytes:
    """A vector file: hex digits, any whitespace, '#' starts a comment (provenance)."""
    text = (VECTORS / name).read_text()
    return bytes.fromhex("".join(line.split("#", 1)[0] for line in text.splitlines()))


def names(prefix: str = "") -> list[str]:
    return sorted(p.name for p in VECTORS.glob(f"{prefix}*.hex"))
