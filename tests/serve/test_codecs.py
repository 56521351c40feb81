"""Property tests of the CSV decoder: the orjson fast path and the precise path agree."""

from __future__ import annotations

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


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda w: st.lists(st.lists(finite, min_size=w, max_size=w), min_size=1, max_size=20)
    ),
    styles,
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_fast_and_precise_csv_paths_agree(rows, style, newline, trailing) -> None:
    width = len(rows[0])
    text = newline.join(",".join(fmt(v, style) for v in row) for row in rows)
    body = (text + (newline if trailing else "")).encode()
    schema = codecs.Schema(n_features=width)
    assert codecs._numeric_csv_fast(body, schema) is not None  # the fast path is taken
    fast = codecs.decode_csv(body, None, schema)
    precise = codecs.rows_to_data(
        [line.split(",") for line in text.replace("\r\n", "\n").split("\n")], schema, "line"
    )
    assert fast.n_rows == len(rows)
    np.testing.assert_array_equal(np.asarray(fast.data), np.asarray(precise))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=8))
def test_ragged_lines_are_never_reshaped(widths) -> None:
    expected = widths[0]
    body = "\n".join(",".join("1" for _ in range(w)) for w in widths).encode()
    schema = codecs.Schema(n_features=expected)
    if all(w == expected for w in widths):
        assert codecs.decode_csv(body, None, schema).n_rows == len(widths)
    else:
        with pytest.raises(BadRequest, match=r"expected .* columns, got"):
            codecs.decode_csv(body, None, schema)
