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
    lib = out_dir / "libfastcsv.so"
    subprocess.run([cc, "-O2", "-std=c11", "-shared", "-fPIC", "-o", str(lib), str(SOURCE)],
                   check=True, capture_output=True)
    return lib


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
