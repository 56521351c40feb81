"""Sample bodies in the product's own content types.

A listing shows a sample request in a type the product declares. Sellers usually have their
sample as CSV (sample_input.csv, or labeled validation rows); a product that takes only JSON
or JSON Lines gets the same records written in that type, with numbers as JSON numbers where
the packaged signature says the column is numeric, and null for a missing value.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import smkit_contract.content_types as ct
from smkit_contract.signature import (
    INTEGER,
    NUMBER,
    Signature,
    is_missing,
    parses_as_number,
)

from smkit.core.errors import UserError
from smkit.transform.image import repeat_records


def text_type(content_types: list[str]) -> str:
    """The first declared type whose bodies are text (the listing inlines its sample)."""
    for media in content_types:
        if ct.canonical(media) in ct.TEXT:
            return ct.canonical(media)
    raise UserError(f"the model package declares only {', '.join(content_types)}: a listing "
                    "shows its sample input inline, so declare a text type too (text/csv, "
                    "application/json or application/jsonlines) in smkit.yaml's content_types")


def csv_rows(body: bytes) -> list[list[str]]:
    """The records of a headerless CSV body, as cells."""
    return [r for r in csv.reader(io.StringIO(body.decode("utf-8"))) if r]


def head_records(sample: bytes, media: str, n: int) -> list[str]:
    """The first ``n`` records of a text sample of ``media``, as lines of that type: a JSON
    sample's rows (a list, or the list inside ``{"instances": [...]}``) stay one JSON line."""
    if ct.canonical(media) == ct.JSON:
        doc = json.loads(sample)
        rows = doc.get("instances", doc) if isinstance(doc, dict) else doc
        return [json.dumps(rows[:n] if isinstance(rows, list) else rows)]
    return sample.decode(errors="replace").splitlines()[:n]


def repeated(body: bytes, media: str, n: int) -> bytes:
    """A CSV or JSON Lines body of ``n`` records, ``body``'s records over and over (a file
    to measure a batch transform on), ending in a newline."""
    media = ct.canonical(media)
    if media == ct.CSV:
        records = to_csv(csv_rows(body)).split(b"\n")
    elif media == ct.JSONLINES:
        records = [ln for ln in body.split(b"\n") if ln.strip()]
    else:
        raise UserError(f"a batch of {media} records is not line-delimited; measure the "
                        "batch rate with a text/csv or application/jsonlines sample")
    if not records:
        raise UserError("the sample input has no records to measure a batch transform on")
    return repeat_records(records, n)


def _value(cell: str, kind: str | None) -> Any:
    if is_missing(cell):
        return None
    if kind in (NUMBER, INTEGER) or (kind is None and parses_as_number(cell)):
        try:
            return int(cell)
        except ValueError:
            return float(cell)
    return cell


def to_csv(rows: list[list[str]]) -> bytes:
    """Rows as headerless CSV with no trailing newline (as the container answers)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().rstrip("\n").encode()


def encode_rows(rows: list[list[str]], media: str, signature: Signature | None) -> bytes:
    """``rows`` (CSV cells) as a body of ``media``: CSV, a JSON list of rows, or JSON Lines."""
    media = ct.canonical(media)
    if media == ct.CSV:
        return to_csv(rows)
    kinds = [c.kind for c in signature.columns] if signature is not None else []
    typed = [[_value(cell, kinds[i] if i < len(kinds) else None) for i, cell in enumerate(row)]
             for row in rows]
    if media == ct.JSON:
        return json.dumps(typed).encode()
    if media == ct.JSONLINES:
        return "\n".join(json.dumps(row) for row in typed).encode()
    raise UserError(f"cannot write a sample as {media}; the listing inlines text samples only")


def in_type(body: bytes, body_type: str, wanted: str, signature: Signature | None) -> bytes:
    """``body`` (a sample of ``body_type``) as ``wanted``: as it is when the types agree, else
    rewritten from CSV. Other conversions are refused with the fix."""
    body_type, wanted = ct.canonical(body_type), ct.canonical(wanted)
    if body_type == wanted:
        return body
    if body_type == ct.CSV:
        return encode_rows(csv_rows(body), wanted, signature)
    raise UserError(f"the sample input is {body_type} but the product takes {wanted}: put a "
                    f"sample_input{ct.SUFFIX[wanted]} (or sample_input.csv) in the model "
                    "directory")
