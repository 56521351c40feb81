"""The bench's native CSV reader (bench/native/fastcsv.c): bit-identical to ``float()`` on
every number it accepts, and it declines (None) anything that is not a plain number grid, so
a caller can keep its precise path for those. Compiled with the host's C compiler."""

from __future__ import annotations

import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "native"))
import fastcsv


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> fastcsv.Reader:
    lib = fastcsv.build(tmp_path_factory.mktemp("fastcsv"))
    if lib is None:
        pytest.skip("no C compiler on this machine")
    return fastcsv.Reader(lib)


def precise(body: bytes) -> np.ndarray | None:
    """What Python's own float() makes of a plain grid; None when it is not one."""
    text = body.decode()
    lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    try:
        rows = [[float(cell) for cell in line.split(",")] for line in lines]
    except ValueError:
        return None
    if not rows or len({len(r) for r in rows}) != 1:
        return None
    return np.array(rows, dtype=np.float64)


def bits(a: np.ndarray) -> list[int]:
    return a.reshape(-1).view(np.uint64).tolist()


FORMATS = st.one_of(
    st.just(repr),
    st.integers(1, 17).map(lambda k: (lambda v: f"{v:.{k}g}")),
    st.integers(0, 20).map(lambda k: (lambda v: f"{v:.{k}e}")),
    st.integers(0, 25).map(lambda k: (lambda v: f"{v:.{k}f}" if abs(v) < 1e22 else repr(v))),
)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1,
                       max_size=60),
       cols=st.integers(1, 6), fmt=FORMATS, final_newline=st.booleans())
def test_numbers_are_bit_identical_to_float(reader: fastcsv.Reader, values: list[float],
                                            cols: int, fmt: object, final_newline: bool
                                            ) -> None:
    values = values[: len(values) // cols * cols] or values[:1] * cols
    cells = [fmt(v) for v in values]  # type: ignore[operator]
    body = "\n".join(",".join(cells[i:i + cols]) for i in range(0, len(cells), cols))
    body_bytes = (body + ("\n" if final_newline else "")).encode()
    expected = precise(body_bytes)
    assert expected is not None
    got = reader.parse(body_bytes)
    assert got is not None, body_bytes[:200]
    assert got.shape == expected.shape
    assert bits(got) == bits(expected), body_bytes[:200]


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(st.tuples(st.integers(1, 10**19 - 1), st.integers(-360, 330),
                                st.booleans()), min_size=1, max_size=40))
def test_any_mantissa_and_exponent(reader: fastcsv.Reader,
                                   cells: list[tuple[int, int, bool]]) -> None:
    """Up to 19 digits times any power of ten (Clinger's path, Eisel-Lemire, zero, inf)."""
    body = "\n".join(f"{'-' if neg else ''}{m}e{q}" for m, q, neg in cells).encode()
    expected = precise(body)
    assert expected is not None
    got = reader.parse(body)
    assert got is not None
    assert bits(got) == bits(expected), body[:200]


@pytest.mark.parametrize("text", [
    "4.9e-324", "2.4703282292062327e-324", "2.2250738585072011e-308",
    "2.22507385850720138e-308", "2.2250738585072012e-308",
    "1.7976931348623157e308", "1e309", "-1e400", "1e-400", "-0", "-0.0e5", "+1.5", "007.25",
    ".5", "5.", "123456789012345678901234567890", "0.1000000000000000055511151231257827",
    "9007199254740993", "9007199254740992e22", "1e23", "8.98846567431158e307",
    "0.000000000000000000000000000000000000001234",
])
def test_hard_numbers(reader: fastcsv.Reader, text: str) -> None:
    got = reader.parse(f"{text},{text}\n{text},{text}".encode())
    assert got is not None
    want = struct.unpack("<Q", struct.pack("<d", float(text)))[0]
    assert bits(got) == [want] * 4
    assert math.copysign(1.0, got[0, 0]) == math.copysign(1.0, float(text))


@pytest.mark.parametrize("body", [
    b"", b"\n", b"1,2\n\n3,4", b"1,2\n3", b"1,2,3\n4,5", b"1,,2", b"1,2,", b",1,2", b"1, 2",
    b" 1,2", b"1,2\r\n3,4", b"nan,1", b"inf,1", b"1e,2", b"1e+,2", b"-,2", b"1.2.3,4",
    b"1_000,2", b"0x10,1", b"1,2\n\n", b"1;2", b"\xef\xbb\xbf1,2",
])
def test_anything_unusual_is_declined(reader: fastcsv.Reader, body: bytes) -> None:
    assert reader.parse(body) is None


@settings(max_examples=400, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=40),
       cols=st.integers(1, 4), noise=st.lists(
           st.tuples(st.integers(0, 10_000), st.sampled_from(
               [b"", b" ", b"\n", b",", b"\n\n", b"e", b"-", b".", b"nan", b"\r", b"+"])),
           min_size=1, max_size=4))
def test_never_a_wrong_value(reader: fastcsv.Reader, values: list[float], cols: int,
                             noise: list[tuple[int, bytes]]) -> None:
    """Mutated bodies: either declined, or exactly what float() reads (same shape)."""
    cells = [repr(v) for v in values]
    body = bytearray("\n".join(",".join(cells[i:i + cols])
                               for i in range(0, len(cells), cols)).encode())
    for at, junk in noise:
        pos = at % (len(body) + 1)
        body[pos:pos] = junk
    got = reader.parse(bytes(body))
    if got is None:
        return
    expected = precise(bytes(body))
    assert expected is not None, bytes(body)
    assert got.shape == expected.shape, bytes(body)
    assert bits(got) == bits(expected), bytes(body)
