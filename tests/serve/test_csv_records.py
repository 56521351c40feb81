"""Property tests: the server's CSV reader against Python's csv module (RFC 4180 quoting,
embedded delimiters, quotes and newlines, empty fields, UTF-8), and text cells decoded by a
string signature keep every character."""

from __future__ import annotations

import csv
import io
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smkit_serve import codecs
from smkit_serve.errors import BadRequest

cells = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\té🔥0.-')), max_size=8)


def written(rows: list[list[str]], newline: str) -> str:
    """Rows as RFC 4180 CSV: with a CRLF terminator the writer quotes every CR and LF in a
    cell (a bare CR is quoted too); records are then joined by ``newline``."""
    out = []
    for row in rows:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow(row)
        out.append(buf.getvalue()[:-2])
    return newline.join(out) + newline


def blank_looking(row: list[str]) -> bool:
    # One unquoted cell of only spaces/tabs reads as a blank line, which the server refuses.
    return len(row) == 1 and row[0] != "" and not row[0].strip(" \t")


@settings(max_examples=300, deadline=None)
@given(
    rows=st.integers(1, 5).flatmap(
        lambda w: st.lists(st.lists(cells, min_size=w, max_size=w), min_size=1, max_size=8)
    ),
    newline=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
)
def test_csv_records_agree_with_the_csv_module(rows, newline, trailing) -> None:
    text = written(rows, newline)
    if not trailing:
        text = text[: -len(newline)]
    expected = list(csv.reader(io.StringIO(text, newline="")))
    if any(blank_looking(r) for r in rows) or any(r == [] for r in expected):
        with pytest.raises(BadRequest, match="is empty"):
            codecs.csv_records(text)
        return
    got, lines = codecs.csv_records(text)
    assert got == expected
    assert lines[0] == 1
    assert lines == sorted(lines)


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(2, 4).flatmap(
    lambda w: st.lists(st.lists(cells, min_size=w, max_size=w), min_size=1, max_size=6)))
def test_a_string_signature_keeps_every_cell_and_empty_is_missing(rows) -> None:
    width = len(rows[0])
    body = written(rows, "\n").encode()
    schema = codecs.Schema(n_features=width, kinds=(codecs.STRING,) * width)
    data = codecs.decode_csv(body, "utf-8", schema).data
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            value = data[i, j]
            if cell == "":
                assert isinstance(value, float)
                assert math.isnan(value)
            else:
                assert value == cell
