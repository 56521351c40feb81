"""Derive the model's input signature from the seller's sample data, and prove it.

Runs inside the product image (``describe``), so the model is loaded where it will be
served. For each column: the kind the fitted model states (encoder categories, text
vectorizers, numeric steps) wins, else the kind the data shows; a column is optional when
the data has a missing value in it or the model predicts with one there. The seller's
overrides apply last, then the signature is proven by decoding the sample with it and
predicting. Disagreements between data and model come back as notes that say what to do.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from smkit_contract.signature import (
    INTEGER,
    KIND_PHRASE,
    NUMBER,
    STRING,
    Column,
    Signature,
    SignatureError,
    apply_overrides,
    default_names,
    has_leading_zero,
    is_missing,
    kind_of_values,
)

from . import codecs
from .columns import model_columns, schema_for
from .errors import ServingError

#: Columns beyond this many are not probed one by one for missing values.
MAX_PROBED_COLUMNS = 256


def raw_rows(body: bytes, content_type: str, schema: codecs.Schema) -> list[list[Any]]:
    """The sample's records as rows of raw cells (strings from CSV, JSON values)."""
    media, params = codecs.parse_media_type(content_type)
    charset = params.get("charset")
    if media == codecs.ct.CSV:
        return codecs.csv_records(codecs._text(body, charset))[0]
    if media == codecs.ct.JSON:
        doc = codecs._loads(body, "")
        return codecs._records_to_rows(codecs._json_rows(doc, schema, "row"), schema, "row")
    if media == codecs.ct.JSONLINES:
        lines = [ln for ln in codecs._text(body, charset).splitlines() if ln.strip()]
        items = [codecs._loads(ln, f" on line {i + 1}") for i, ln in enumerate(lines)]
        return codecs._records_to_rows(items, schema, "line")
    decoded = codecs.decode(body, content_type, schema)
    return list(np.asarray(decoded.data, dtype=object).tolist())


def _examples(values: list[Any], limit: int = 3) -> str:
    shown = [repr(v) for v in values if not is_missing(v)][:limit]
    return ", ".join(shown)


def _categories(model: Any) -> dict[int, list[Any]]:
    """Fitted categories per column index, where an encoder states them."""
    from .columns import _column_indices, _flatten, first_step, width_and_names

    width, names = width_and_names(model)
    out: dict[int, list[Any]] = {}
    transformers = getattr(first_step(model), "transformers_", None) or []
    for _, trans, cols in transformers:
        if isinstance(trans, str) or width is None:
            continue
        idx = _column_indices(cols, names, width)
        for step in _flatten(trans):
            cats = getattr(step, "categories_", None)
            if isinstance(cats, list) and len(cats) == len(idx):
                for i, c in zip(idx, cats, strict=True):
                    out[i] = [v for v in np.asarray(c).tolist() if not is_missing(v)]
                break
    return out


def _note_conflict(name: str, model_kind: str, data_kind: str, values: list[Any],
                   categories: list[Any] | None) -> str | None:
    """What to tell the seller when the data and the model disagree about a column."""
    if model_kind == STRING and data_kind in (NUMBER, INTEGER):
        unknown = [v for v in values if not is_missing(v) and categories is not None
                   and str(v) not in {str(c) for c in categories}]
        lost = ""
        if unknown and categories and any(has_leading_zero(str(c)) for c in categories):
            lost = (f" {len(unknown)} sample value(s) are not among the fitted categories "
                    f"(e.g. {_examples(unknown, 2)}) while the categories have leading zeros "
                    f"(e.g. {_examples(categories, 2)}): your data may have lost them, "
                    "so fix it where it is read (dtype=str) or re-fit on the same form.")
        return (f"column {name!r}: the model was fitted on text "
                f"(e.g. {_examples(categories or [], 2)}) but the sample's values look "
                f"like numbers (e.g. {_examples(values, 2)}); the signature keeps it text, "
                "so a buyer's '02134' stays '02134'." + lost +
                f" To confirm, set `signature: {{{name}: string}}` in smkit.yaml")
    if model_kind in (NUMBER, INTEGER) and data_kind == STRING:
        zeros = [v for v in values if has_leading_zero(v)]
        if zeros:
            return (f"column {name!r}: the model takes {KIND_PHRASE[model_kind]} but the "
                    f"sample has codes with leading zeros (e.g. {_examples(zeros, 2)}), "
                    "which are lost when read as numbers. If the zeros matter, re-fit with "
                    "this column as text (read it with dtype=str); otherwise remove them "
                    "from the sample")
        return (f"column {name!r}: the model takes {KIND_PHRASE[model_kind]} but the sample "
                f"has text (e.g. {_examples(values, 2)}); fix the sample, or set its kind "
                "under `signature:` in smkit.yaml if the model really takes text")
    return None


def _predicts(model: Any, data: Any) -> str | None:
    """None when ``model.predict(data)`` works, else the reason in one line."""
    try:
        model.predict(data)
    except Exception as e:  # noqa: BLE001  # any failure is reported, never raised
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return f"{type(e).__name__}: {text}"[:400]
    return None


def derive(model: Any, body: bytes, content_type: str,
           overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"signature": ..., "notes": [...]}`` or ``{"error": ..., "notes": [...]}``."""
    notes: list[str] = []
    cols = model_columns(model)
    loose = schema_for(model)  # the model's own view, to read the sample's raw cells
    try:
        rows = raw_rows(body, content_type, loose)
    except ServingError as e:
        return {"error": f"the sample data cannot be read: {e.message}", "notes": notes}
    if not rows:
        return {"error": "the sample data holds no records", "notes": notes}
    width = cols.width if cols.width is not None else len(rows[0])
    bad = [i for i, r in enumerate(rows) if len(r) != width]
    if bad:
        return {"error": f"record {bad[0] + 1} of the sample has {len(rows[bad[0]])} columns; "
                         f"the model takes {width}", "notes": notes}
    names = cols.names or default_names(width)
    categories = _categories(model)
    columns = []
    for j in range(width):
        values = [r[j] for r in rows]
        data_kind = kind_of_values(values)
        model_kind = cols.kinds[j] if j < len(cols.kinds) else None
        if model_kind is not None:
            kind = model_kind
            if data_kind is not None and data_kind != kind:
                note = _note_conflict(names[j], kind, data_kind, values, categories.get(j))
                if note:
                    notes.append(note)
        elif data_kind is not None:
            # Whole numbers in a sample are weak evidence: a buyer's 3.5 must not be refused
            # unless the model itself says integer (an encoder fitted on integers).
            kind = NUMBER if data_kind == INTEGER else data_kind
        else:
            kind = NUMBER
            notes.append(f"column {names[j]!r} is empty in every sample record; it is taken "
                         f"as a number: set its kind under `signature:` in smkit.yaml")
        columns.append(Column(names[j], kind, any(is_missing(v) for v in values)))
    signature = Signature(tuple(columns), frame=cols.names is not None)
    overrides = overrides or {}
    try:
        signature = apply_overrides(signature, overrides)
    except SignatureError as e:
        return {"error": str(e), "notes": notes}
    # The proof: the whole sample, decoded by the signature, predicts.
    schema = schema_for(model, signature)
    try:
        data = codecs.decode(body, content_type, schema).data
    except ServingError as e:
        return {"error": f"the sample does not fit the signature: {e.message}", "notes": notes,
                "signature": signature.to_json()}
    problem = _predicts(model, data)
    if problem is not None:
        return {"error": f"the model cannot predict the sample decoded by the signature: "
                         f"{problem}", "notes": notes, "signature": signature.to_json()}
    signature = _probe_optional(model, signature, rows[0], overrides, notes)
    return {"signature": signature.to_json(), "notes": notes}


def _probe_optional(model: Any, signature: Signature, row: list[Any],
                    overrides: dict[str, Any], notes: list[str]) -> Signature:
    """Mark a column optional when the model predicts with that one cell missing."""
    stated = {n for n, v in overrides.items() if isinstance(v, dict) and "optional" in v}
    lenient = Signature(tuple(Column(c.name, c.kind, True) for c in signature.columns),
                        signature.frame)
    schema = schema_for(model, lenient)
    out = []
    for j, col in enumerate(signature.columns):
        if col.optional or col.name in stated:
            out.append(col)
            continue
        if j >= MAX_PROBED_COLUMNS:
            out.append(Column(col.name, col.kind, True))
            continue
        probe = copy.copy(list(row))
        probe[j] = None
        try:
            data = codecs.rows_to_data([probe], schema, "row")
        except ServingError:
            out.append(col)
            continue
        out.append(Column(col.name, col.kind, _predicts(model, data) is None))
    if len(signature.columns) > MAX_PROBED_COLUMNS:
        notes.append(f"columns after the first {MAX_PROBED_COLUMNS} were not tried with a "
                     "missing value and are marked optional")
    return Signature(tuple(out), signature.frame)
