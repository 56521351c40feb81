"""The bench's native CSV reader prototype (issue 18): compile ``fastcsv.c``, call it on a body.

Not part of the image yet: the image build has no C compiler (see bench/README.md). The bench
uses it to measure what a reader about twice as fast per core as pandas' would allow, and
``tests/bench`` checks that it is bit-identical to ``float()`` and declines anything unusual.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("fastcsv.c")


def build(out_dir: Path) -> Path | None:
    """Compile the reader into ``out_dir``; None when no C compiler is installed."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    (out_dir / "fastcsv_pow5.h").write_text(pow5_header())
    lib = out_dir / "libfastcsv.so"
    subprocess.run([cc, "-O2", "-std=gnu11", "-shared", "-fPIC", "-I", str(out_dir), "-o",
                    str(lib), str(SOURCE)], check=True, capture_output=True)
    return lib


def pow5_table() -> list[int]:
    """5^q for q in [-342, 308], normalised to 128 bits and truncated (fast_float's table):
    2^b // 5^-q + 1 for negative q, the top 128 bits of 5^q otherwise."""
    table = []
    for q in range(-342, 0):
        power5 = 5 ** -q
        z = power5.bit_length() - (1 if power5 & (power5 - 1) == 0 else 0)
        c = 2 ** (z + 127 if q >= -27 else 2 * z + 128) // power5 + 1
        while c >= 1 << 128:
            c //= 2
        table.append(c)
    for q in range(309):
        power5 = 5 ** q
        shift = 128 - power5.bit_length()
        table.append(power5 << shift if shift >= 0 else power5 >> -shift)
    return table


def pow5_header() -> str:
    """The C table: high and low 64 bits of each 128-bit power of five."""
    mask = (1 << 64) - 1
    words = ",\n".join(f"    0x{c >> 64:016x}ULL, 0x{c & mask:016x}ULL" for c in pow5_table())
    return f"static const uint64_t POW5_128[] = {{\n{words}\n}};\n"


class Reader:
    """The compiled reader, loaded."""

    def __init__(self, lib: Path) -> None:
        self._fn = ctypes.CDLL(str(lib)).fastcsv_parse
        self._fn.restype = ctypes.c_long
        self._fn.argtypes = [ctypes.c_char_p, ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                             ctypes.c_long]

    def parse(self, body: bytes) -> np.ndarray | None:
        """The body's rows as a C-ordered float64 matrix, or None to decline it."""
        if not body:
            return None
        newline = body.find(b"\n")
        cols = (body if newline < 0 else body[:newline]).count(b",") + 1
        rows = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
        out = np.empty(rows * cols)
        if self._fn(body, len(body), cols, out.ctypes.data, out.size) != out.size:
            return None
        return out.reshape(rows, cols)
