"""Property tests of the CSV decoder: the native fast paths (orjson for small bodies, pandas'
C reader for large ones) and the precise path agree."""

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


#: BULK_CSV_BYTES for each fast path: 0 sends every body to pandas, a huge value to orjson.
ROUTES = {"pandas": 0, "orjson": 1 << 40}


@pytest.fixture(scope="module", params=sorted(ROUTES))
def route(request: pytest.FixtureRequest) -> str:
    """Run the test once per fast path."""
    return str(request.param)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 6).flatmap(
        lambda w: st.lists(st.lists(finite, min_size=w, max_size=w), min_size=1, max_size=20)
    ),
    style=styles,
    newline=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
)
def test_fast_and_precise_csv_paths_agree(route, rows, style, newline, trailing) -> None:
    width = len(rows[0])
    text = newline.join(",".join(fmt(v, style) for v in row) for row in rows)
    body = (text + (newline if trailing else "")).encode()
    schema = codecs.Schema(n_features=width)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codecs, "BULK_CSV_BYTES", ROUTES[route])
        assert codecs._numeric_csv_fast(body, schema) is not None  # the fast path is taken
        fast = codecs.decode_csv(body, None, schema)
    precise = codecs.rows_to_data(
        [line.split(",") for line in text.replace("\r\n", "\n").split("\n")], schema, "line"
    )
    assert fast.n_rows == len(rows)
    np.testing.assert_array_equal(np.asarray(fast.data), np.asarray(precise))


@settings(max_examples=200, deadline=None)
@given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=8))
def test_ragged_lines_are_never_reshaped(route, widths) -> None:
    expected = widths[0]
    body = "\n".join(",".join("1" for _ in range(w)) for w in widths).encode()
    schema = codecs.Schema(n_features=expected)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codecs, "BULK_CSV_BYTES", ROUTES[route])
        if all(w == expected for w in widths):
            assert codecs.decode_csv(body, None, schema).n_rows == len(widths)
        else:
            with pytest.raises(BadRequest, match=r"expected .* columns, got"):
                codecs.decode_csv(body, None, schema)


@pytest.mark.parametrize("body", [b"1,2\n\n3,4", b"1,2\n  \n3,4", b"\n1,2\n3,4",
                                  b"1,2\n3,\n", b"1,2\n,4\n"])
def test_blank_lines_and_empty_cells_mean_the_same_on_every_path(route, body) -> None:
    schema = codecs.Schema(n_features=2)
    outcomes = []
    for threshold in (ROUTES[route], None):
        with pytest.MonkeyPatch.context() as mp:
            if threshold is not None:
                mp.setattr(codecs, "BULK_CSV_BYTES", threshold)
            else:  # the precise path alone
                mp.setattr(codecs, "_numeric_csv_fast", lambda body, schema: None)
            try:
                data = np.asarray(codecs.decode_csv(body, None, schema).data)
                outcomes.append(("ok", data.shape, np.isnan(data).tolist()))
            except BadRequest as e:
                outcomes.append(("400", str(e)))
    assert outcomes[0] == outcomes[1]
