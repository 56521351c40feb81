"""Property tests of the CSV decoder: the native fast path (the body as one flat JSON array
through simdjson) reads every number bit for bit as ``float()`` does, declines anything that
is not a plain grid of numbers, and agrees with the precise path on every body."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smkit_serve import codecs
from smkit_serve.errors import BadRequest

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
styles = st.sampled_from(["repr", "g6", "int", "exp", "padded"])


def fmt(v: float, style: str) -> str:
    if style == "g6":
        return f"{v:.6g}"
    if style == "int":
        return str(int(v)) if abs(v) < 1e15 else repr(v)
    if style == "exp":
        return f"{v:e}"
    if style == "padded":
        return f" {v!r}\t"
    return repr(v)


def bits(a: object) -> list[int]:
    """The IEEE bit patterns, so that -0.0 and 0.0 differ."""
    return np.asarray(a, dtype=np.float64).reshape(-1).view(np.uint64).tolist()


def by_float(body: bytes) -> np.ndarray | None:
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


def fast(body: bytes, n_features: int | None = None) -> np.ndarray | None:
    decoded = codecs._numeric_csv_fast(body, codecs.Schema(n_features=n_features))
    return None if decoded is None else np.asarray(decoded.data)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 6).flatmap(
        lambda w: st.lists(st.lists(finite, min_size=w, max_size=w), min_size=1, max_size=20)
    ),
    style=styles,
    newline=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
)
def test_fast_and_precise_csv_paths_agree(rows, style, newline, trailing) -> None:
    width = len(rows[0])
    text = newline.join(",".join(fmt(v, style) for v in row) for row in rows)
    body = (text + (newline if trailing else "")).encode()
    schema = codecs.Schema(n_features=width)
    decoded = codecs.decode_csv(body, None, schema)
    precise = codecs.rows_to_data(
        [line.split(",") for line in text.replace("\r\n", "\n").split("\n")], schema, "line"
    )
    assert decoded.n_rows == len(rows)
    assert bits(decoded.data) == bits(precise)
    if "-0" not in text:  # an integer minus zero is left to the precise path on purpose
        assert codecs._numeric_csv_fast(body, schema) is not None  # the fast path is taken


FORMATS = st.one_of(
    st.just(repr),
    st.integers(1, 17).map(lambda k: (lambda v: f"{v:.{k}g}")),
    st.integers(0, 20).map(lambda k: (lambda v: f"{v:.{k}e}")),
    st.integers(0, 25).map(lambda k: (lambda v: f"{v:.{k}f}" if abs(v) < 1e22 else repr(v))),
)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=60), cols=st.integers(1, 6), fmt=FORMATS,
       final_newline=st.booleans())
def test_numbers_are_bit_identical_to_float(values: list[float], cols: int, fmt: object,
                                            final_newline: bool) -> None:
    values = values[: len(values) // cols * cols] or values[:1] * cols
    cells = [fmt(v) for v in values]  # type: ignore[operator]
    body = "\n".join(",".join(cells[i:i + cols]) for i in range(0, len(cells), cols))
    body_bytes = (body + ("\n" if final_newline else "")).encode()
    expected = by_float(body_bytes)
    assert expected is not None
    got = fast(body_bytes)
    if got is None:  # declined: only an integer minus zero or a number past a double's range
        assert codecs._MINUS_ZERO.search(body_bytes) or not np.isfinite(expected).all(), (
            body_bytes[:200])
        return
    assert got.shape == expected.shape
    assert bits(got) == bits(expected), body_bytes[:200]


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(st.tuples(st.integers(1, 10**19 - 1), st.integers(-360, 300),
                                st.booleans()), min_size=1, max_size=40))
def test_any_mantissa_and_exponent(cells: list[tuple[int, int, bool]]) -> None:
    """Up to 19 digits times any power of ten: the fast and slow algorithms, zero."""
    body = "\n".join(f"{'-' if neg else ''}{m}e{q}" for m, q, neg in cells).encode()
    expected = by_float(body)
    got = fast(body)
    assert expected is not None
    if got is None:
        assert not np.isfinite(expected).all(), body[:200]  # 1e309 and up: float() says inf
        return
    assert bits(got) == bits(expected), body[:200]


@settings(max_examples=200, deadline=None)
@given(ints=st.lists(st.integers(-(2**64), 2**64), min_size=1, max_size=30))
def test_integers_round_as_float_does(ints: list[int]) -> None:
    """Integers past 2**53 round to nearest even, as float() rounds them; past 64 bits the
    precise path takes the body."""
    body = "\n".join(str(i) for i in ints).encode()
    expected = by_float(body)
    got = fast(body)
    if got is None:
        assert any(not -(2**63) <= i < 2**64 for i in ints) or any(i == 0 for i in ints)
        return
    assert bits(got) == bits(expected), body[:200]


@pytest.mark.parametrize("text", [
    "4.9e-324", "2.4703282292062327e-324", "2.2250738585072011e-308",
    "2.22507385850720138e-308", "2.2250738585072012e-308",
    "1.7976931348623157e308", "1e-400", "-0", "-0.0", "-0e5", "0", "-0.0e5", "+1.5",
    "007.25", ".5", "5.", "123456789012345678901234567890",
    "0.1000000000000000055511151231257827", "9007199254740993", "9007199254740992e22",
    "1e23", "8.98846567431158e307", "0.000000000000000000000000000000000000001234",
])
def test_hard_numbers_decode_as_float_reads_them(text: str) -> None:
    """Whichever path takes them, the model gets float()'s value, sign of zero included."""
    body = f"{text},{text}\n{text},{text}".encode()
    got = np.asarray(codecs.decode_csv(body, None, codecs.Schema(n_features=2)).data)
    want = struct.unpack("<Q", struct.pack("<d", float(text)))[0]
    assert bits(got) == [want] * 4
    assert math.copysign(1.0, got[0, 0]) == math.copysign(1.0, float(text))


@pytest.mark.parametrize("body", [
    b"", b"\n", b"1,2\n\n3,4", b"1,2\n3", b"1,2,3\n4,5", b"1,,2", b"1,2,", b",1,2",
    b"nan,1", b"inf,1", b"1e,2", b"1e+,2", b"-,2", b"1.2.3,4", b"1_000,2", b"0x10,1",
    b"1;2", b"\xef\xbb\xbf1,2", b"1,[2,3]", b"[1,2],3", b"1,2]\n[3,4", b'"1",2', b"1e400,2",
    b"-0,1", b"1,-0", b"1,2\n3,-0\n", b"1,true", b"null,2", b"1,{}", b'1,{"a":2}',
    b"1,\x0b2", b"1,\x0c2", b"1,NaN", b"1,Infinity", b"1,\xc2\xa02", b"1,2\n[]",
])
def test_anything_unusual_is_declined(body: bytes) -> None:
    assert fast(body) is None


@settings(max_examples=400, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=40),
       cols=st.integers(1, 4), noise=st.lists(
           st.tuples(st.integers(0, 10_000), st.sampled_from(
               [b"", b" ", b"\n", b",", b"\n\n", b"e", b"-", b".", b"nan", b"\r", b"+",
                b"[", b"]", b"\t", b"true", b"null", b'"', b"{", b"}", b":", b"\x0b"])),
           min_size=1, max_size=4))
def test_never_a_wrong_value(values: list[float], cols: int,
                             noise: list[tuple[int, bytes]]) -> None:
    """Mutated bodies: either declined, or exactly what float() reads (same shape)."""
    cells = [repr(v) for v in values]
    body = bytearray("\n".join(",".join(cells[i:i + cols])
                               for i in range(0, len(cells), cols)).encode())
    for at, junk in noise:
        pos = at % (len(body) + 1)
        body[pos:pos] = junk
    got = fast(bytes(body))
    if got is None:
        return
    text = bytes(body).replace(b"\r\n", b"\n").rstrip(b"\n")
    expected = by_float(text)
    assert expected is not None, bytes(body)
    assert got.shape == expected.shape, bytes(body)
    assert bits(got) == bits(expected), bytes(body)


def test_the_matrix_is_writable_and_row_major() -> None:
    """Seller transformers may write into their input, and trees walk rows."""
    got = fast(b"1,2,3\n4,5,6\n")
    assert got is not None
    assert got.flags.writeable
    assert got.flags.c_contiguous
    got[0, 0] = 7.0


@settings(max_examples=200, deadline=None)
@given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=8))
def test_ragged_lines_are_never_reshaped(widths) -> None:
    expected = widths[0]
    body = "\n".join(",".join("1" for _ in range(w)) for w in widths).encode()
    schema = codecs.Schema(n_features=expected)
    if all(w == expected for w in widths):
        assert codecs.decode_csv(body, None, schema).n_rows == len(widths)
    else:
        assert codecs._numeric_csv_fast(body, codecs.Schema()) is None
        with pytest.raises(BadRequest, match=r"expected .* columns, got"):
            codecs.decode_csv(body, None, schema)


@pytest.mark.parametrize("body", [b"1,2\n\n3,4", b"1,2\n  \n3,4", b"\n1,2\n3,4",
                                  b"1,2\n3,\n", b"1,2\n,4\n", b"1, 2\n3 ,4", b"1,2\r\n3,4\r\n"])
def test_blank_lines_and_empty_cells_mean_the_same_on_every_path(body) -> None:
    schema = codecs.Schema(n_features=2)
    outcomes = []
    for fast_path in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            if not fast_path:  # the precise path alone
                mp.setattr(codecs, "_numeric_csv_fast", lambda body, schema: None)
            try:
                data = np.asarray(codecs.decode_csv(body, None, schema).data)
                outcomes.append(("ok", data.shape, bits(data)))
            except BadRequest as e:
                outcomes.append(("400", str(e)))
    assert outcomes[0] == outcomes[1]


def one_by_one(arr: np.ndarray) -> bytes:
    """The reference CSV encoding of a 1-D output: one str() (quoted when needed) per record."""
    cell = str if arr.dtype.kind in "fiub" else codecs._csv_cell
    return "\n".join(cell(v) for v in arr.tolist()).encode()


@settings(max_examples=60, deadline=None)
@given(labels=st.one_of(
    st.lists(st.integers(-5, 5), min_size=1, max_size=6),
    st.lists(st.booleans(), min_size=1, max_size=2),
    st.lists(st.text(min_size=0, max_size=5), min_size=1, max_size=6),
    st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=6),
), n=st.integers(1, 5000), seed=st.integers(0, 2**32 - 1), as_object=st.booleans())
def test_labels_encode_as_one_str_per_record(labels: list[object], n: int, seed: int,
                                              as_object: bool) -> None:
    """Large label outputs are formatted once per distinct label: same bytes as one by one."""
    picks = np.random.default_rng(seed).integers(0, len(labels), n)
    arr = np.array(labels, dtype=object if as_object else None)[picks]
    assert codecs.encode_csv(arr) == one_by_one(arr)


def test_mixed_object_labels_still_encode() -> None:
    arr = np.array(["a", 1, None, 2.5, "b,c"] * 400, dtype=object)
    assert codecs.encode_csv(arr) == one_by_one(arr)


def test_a_declined_body_leaves_the_parser_usable() -> None:
    """A body simdjson reads but cannot type (true, strings) must not wedge the next one."""
    for bad in (b"1,true", b'"1",2', b"1,{}", b"1.,2"):
        assert fast(bad) is None
        got = fast(b"1,2\n3,4")
        assert got is not None
        assert bits(got) == bits([[1.0, 2.0], [3.0, 4.0]])
