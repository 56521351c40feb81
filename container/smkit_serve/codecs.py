"""Request decoders and response encoders, keyed by MIME type, and Accept negotiation.

Decoders turn a body into the rows the model predicts on, column by column as the schema
says (the model's signature from the manifest, or what the fitted model and the data tell):
a float matrix when every column is numeric, otherwise an object matrix or, for models
fitted on a DataFrame, a DataFrame with the fitted column names. Missing cells (empty, null)
become missing values. Every decoding error is a ``BadRequest`` whose message names the
line or row, the column (by name when known), the expected kind and the value.
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import simdjson
from numpy.lib import format as npformat
from smkit_contract import content_types as ct
from smkit_contract import limits
from smkit_contract.signature import (
    BOOLEAN,
    FALSE_WORDS,
    INTEGER,
    KIND_PHRASE,
    NUMBER,
    STRING,
    TRUE_WORDS,
    is_missing,
)

from .errors import BadRequest, NotAcceptable, PayloadTooLarge, UnsupportedMediaType

_ASCII_COMPATIBLE = ("utf-8", "utf8", "ascii", "us-ascii", "latin-1", "iso-8859-1")

#: A column whose kind nobody stated: read from each request's data (numeric when every
#: value parses as a number, else text).
AUTO: str | None = None
_NUMERIC_KINDS = (NUMBER, INTEGER, AUTO)

@dataclass(frozen=True)
class Schema:
    """What the model expects of each row: from its signature, or as far as it tells."""

    #: Number of columns (``n_features_in_``), or None when the model does not say.
    n_features: int | None = None
    #: Column names (``feature_names_in_``) when the model was fitted on a DataFrame.
    feature_names: tuple[str, ...] | None = None
    #: NUMBER, INTEGER, STRING, BOOLEAN or AUTO per column, or None when unknown.
    kinds: tuple[str | None, ...] | None = None
    #: Column names for messages and JSON records when the model has no feature names
    #: (from the signature).
    names: tuple[str, ...] | None = None
    #: Per column, whether it may be missing (None: every column may).
    optional: tuple[bool, ...] | None = None

    @property
    def all_numeric(self) -> bool:
        """True when no column is known to hold text or booleans (the fast paths apply)."""
        return self.kinds is None or all(k in _NUMERIC_KINDS for k in self.kinds)

    @property
    def record_names(self) -> tuple[str, ...] | None:
        """The keys of a JSON record, in column order."""
        return self.feature_names if self.feature_names is not None else self.names

    def kind(self, j: int) -> str | None:
        """The kind of column ``j`` (AUTO when unknown)."""
        return self.kinds[j] if self.kinds is not None and j < len(self.kinds) else AUTO

    def may_be_missing(self, j: int) -> bool:
        """False only when the signature says column ``j`` is required."""
        return self.optional is None or j >= len(self.optional) or self.optional[j]

    def column_label(self, j: int) -> str:
        """A 1-based column label for messages, with the column name when known."""
        names = self.record_names
        if names is not None and j < len(names):
            return f"column {j + 1} ({names[j]!r})"
        return f"column {j + 1}"


@dataclass
class Decoded:
    """Rows ready for the model, and how many records they are."""

    data: Any
    n_rows: int


def parse_media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type or Accept item into a canonical type and its parameters."""
    if not header:
        return "", {}
    parts = header.split(";")
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return ct.canonical(parts[0]), params


# ---------------------------------------------------------------------------- decoding


def _text(body: bytes, charset: str | None) -> str:
    encoding = (charset or "utf-8").lower()
    try:
        return body.decode(encoding)
    except LookupError:
        raise BadRequest(f"unknown charset {charset!r}; send UTF-8") from None
    except UnicodeDecodeError as e:
        raise BadRequest(
            f"the body is not valid {encoding} text (bad byte at offset {e.start}); send UTF-8"
        ) from None


def _check_width(rows: Sequence[Sequence[Any]], schema: Schema, unit: str,
                 lines: Sequence[int] | None = None) -> int:
    expected = schema.n_features if schema.n_features is not None else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != expected:
            hint = ""
            if schema.n_features is not None and schema.record_names is not None:
                hint = f" (the model expects: {', '.join(schema.record_names)})"
            where = lines[i] if lines is not None else i + 1
            raise BadRequest(
                f"expected {expected} columns, got {len(row)} on {unit} {where}{hint}"
            )
    return expected


def _cell_to_float(value: Any) -> float:
    """Convert one cell; empty and null mean missing (NaN), as in pandas."""
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise TypeError(type(value).__name__)


class _BadCell(Exception):
    """A cell that does not fit its column's kind (index in the column, and why)."""

    def __init__(self, index: int, why: str = "") -> None:
        super().__init__(index, why)
        self.index = index
        self.why = why


def _floats(col: list[Any]) -> np.ndarray:
    out = np.empty(len(col), dtype=np.float64)
    for i, v in enumerate(col):
        try:
            out[i] = _cell_to_float(v)
        except (ValueError, TypeError, OverflowError):
            raise _BadCell(i) from None
    return out


def _integers(col: list[Any]) -> np.ndarray:
    """int64 when no value is missing, else float64 with NaN (as pandas reads them)."""
    values: list[float] = []
    missing = False
    for i, v in enumerate(col):
        if is_missing(v):
            values.append(math.nan)
            missing = True
            continue
        if isinstance(v, bool):
            raise _BadCell(i)
        try:
            number = float(v) if not isinstance(v, int) else v
        except (ValueError, TypeError, OverflowError):
            raise _BadCell(i) from None
        if isinstance(number, float) and not number.is_integer():
            raise _BadCell(i)
        values.append(number)
    if missing:
        return np.array(values, dtype=np.float64)
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except OverflowError:
        return np.array(values, dtype=np.float64)


def _booleans(col: list[Any]) -> np.ndarray:
    """bool when no value is missing, else an object array of True, False and NaN."""
    values: list[Any] = []
    for i, v in enumerate(col):
        if is_missing(v):
            values.append(math.nan)
        elif isinstance(v, (bool, np.bool_)):
            values.append(bool(v))
        elif isinstance(v, str) and v.strip().lower() in TRUE_WORDS:
            values.append(True)
        elif isinstance(v, str) and v.strip().lower() in FALSE_WORDS:
            values.append(False)
        elif isinstance(v, (int, float)) and v in (0, 1):
            values.append(bool(v))
        else:
            raise _BadCell(i)
    if any(isinstance(v, float) for v in values):
        return np.array(values, dtype=object)
    return np.array(values, dtype=bool)


def _text_cell(v: Any) -> Any:
    if is_missing(v):
        return math.nan  # what pandas.read_csv gives the model for an empty text cell
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v)) if abs(v) < 1e16 else repr(v)
    return str(v)


def _strings(col: list[Any]) -> np.ndarray:
    return np.array([_text_cell(v) for v in col], dtype=object)


_CONVERTERS: dict[str, Callable[[list[Any]], np.ndarray]] = {
    NUMBER: _floats,
    INTEGER: _integers,
    BOOLEAN: _booleans,
    STRING: _strings,
}


def _bad_cell(schema: Schema, j: int, kind: str | None, value: Any, unit: str, where: int,
              rows: Sequence[Sequence[Any]], row_index: int) -> BadRequest:
    header_hint = ""
    names = schema.record_names
    if row_index == 0 and names is not None and [str(c) for c in rows[0]] == list(names):
        header_hint = "; it looks like a header row: send CSV without a header"
    return BadRequest(
        f"{schema.column_label(j)} must be {KIND_PHRASE[kind or NUMBER]}, got {_short(value)} "
        f"on {unit} {where}{header_hint}"
    )


def _numeric_ok(matrix: np.ndarray, schema: Schema) -> bool:
    """True when a float matrix also meets the integer and required-column rules."""
    if schema.kinds is not None:
        ints = [j for j, k in enumerate(schema.kinds) if k == INTEGER]
        if ints:
            sub = matrix[:, ints]
            if not np.all(np.isnan(sub) | (sub == np.floor(sub))):
                return False
    if schema.optional is not None and not all(schema.optional):
        required = [j for j, o in enumerate(schema.optional) if not o]
        if np.isnan(matrix[:, required]).any():
            return False
    return True


def rows_to_data(rows: Sequence[Sequence[Any]], schema: Schema, unit: str,
                 lines: Sequence[int] | None = None) -> Any:
    """Build the model input from rows of cells, column by column as the schema says.

    ``lines`` gives the line each row starts on, for messages (CSV with quoted newlines).
    """
    width = _check_width(rows, schema, unit, lines)
    n = len(rows)
    if schema.all_numeric:
        try:
            matrix = np.array(rows, dtype=np.float64)
        except (ValueError, TypeError):
            pass
        else:
            if matrix.shape == (n, width) and _numeric_ok(matrix, schema):
                return _frame(matrix, schema)
    columns: list[np.ndarray] = []
    numeric = True
    for j in range(width):
        kind = schema.kind(j)
        col = [row[j] for row in rows]
        for i, value in enumerate(col):
            if isinstance(value, (list, dict)):
                raise BadRequest(
                    f"{schema.column_label(j)} on {unit} {lines[i] if lines else i + 1} is a "
                    f"nested {type(value).__name__}; each cell must be a number or a string"
                )
        if not schema.may_be_missing(j):
            for i, value in enumerate(col):
                if is_missing(value):
                    raise BadRequest(
                        f"{schema.column_label(j)} may not be missing, got an empty cell on "
                        f"{unit} {lines[i] if lines else i + 1}; the model needs "
                        f"{KIND_PHRASE[kind or NUMBER]} there"
                    )
        if kind is None:  # AUTO
            # Read from the data: numeric when every value parses as a number, else text.
            try:
                array = _floats(col)
            except _BadCell:
                array = _strings(col)
        else:
            try:
                array = _CONVERTERS[kind](col)
            except _BadCell as e:  # kind is a str here (AUTO is None)
                where = lines[e.index] if lines else e.index + 1
                raise _bad_cell(schema, j, kind, col[e.index], unit, where, rows,
                                e.index) from None
        if array.dtype.kind not in "fiub":
            numeric = False
        columns.append(array)
    if schema.feature_names is not None:
        import pandas as pd  # only models fitted on DataFrames pay for pandas

        return pd.DataFrame(dict(zip(schema.feature_names, columns, strict=True)))
    if numeric:
        return np.column_stack([c.astype(np.float64, copy=False) for c in columns])
    matrix = np.empty((n, width), dtype=object)
    for j, col_values in enumerate(columns):
        matrix[:, j] = col_values
    return matrix


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _frame(matrix: np.ndarray, schema: Schema) -> Any:
    if schema.feature_names is None:
        return matrix
    import pandas as pd

    return pd.DataFrame(matrix, columns=list(schema.feature_names))


# An integer minus zero ("-0" and then no ".", exponent or digit): JSON reads it as the
# integer 0, float() as -0.0.
_MINUS_ZERO = re.compile(rb"-0(?![0-9.eE])")
_parsers = threading.local()


def _simdjson_parser() -> Any:
    """This thread's simdjson parser (a parser is not thread-safe; it keeps its buffers)."""
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = simdjson.Parser()
    return parser


def _numeric_csv_fast(body: bytes, schema: Schema) -> Decoded | None:
    """Parse an all-numeric CSV body in one native call; None sends anything unusual to the
    precise path, which also words the errors.

    The body, newlines turned into commas, is one flat JSON array of numbers, which
    simdjson parses into a buffer of doubles without a Python object per cell (the parse
    alone about twice pandas' C reader per core; bit-identical to ``float()``). CSV that is
    not such JSON (empty cells, "1.", ".5", "+1", "inf") fails to parse and goes the
    precise way.
    """
    # Brackets would make nested arrays, which simdjson flattens into one buffer. Anything
    # else that is not a number (true, null, strings, objects) fails its typed read below.
    if b"[" in body or b"]" in body or not body.strip():
        return None
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")
    body = body.rstrip(b"\n")
    raw = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    rows = len(newlines) + 1
    try:
        doc = _simdjson_parser().parse(b"[" + body.replace(b"\n", b",") + b"]")
        try:
            flat = np.frombuffer(doc.as_buffer(of_type="d"), dtype=np.float64)
        finally:
            del doc  # the parser refuses the next body while a document is alive
    except (ValueError, RuntimeError, TypeError):
        return None  # not a flat array of numbers, or a number no double holds
    width, extra = divmod(len(flat), rows)
    if extra or width == 0 or (schema.n_features is not None and width != schema.n_features):
        return None
    if rows > 1:
        # Equal totals can hide ragged lines; count the commas of every line.
        starts = np.concatenate(([0], newlines + 1))
        per_line = np.add.reduceat((raw == 44).view(np.uint8), starts, dtype=np.int32)
        if np.any(per_line != width - 1):
            return None
    if not flat.all() and _MINUS_ZERO.search(body):
        return None  # rare: the precise path keeps the sign
    matrix = flat.reshape(rows, width)
    return Decoded(_frame(matrix, schema), rows)


def _needs_checks(schema: Schema) -> bool:
    return (schema.kinds is not None and INTEGER in schema.kinds) or (
        schema.optional is not None and not all(schema.optional))


def csv_records(text: str) -> tuple[list[list[str]], list[int]]:
    """Split CSV text (RFC 4180: quoted fields may hold commas, quotes and newlines) into
    records, with the line each record starts on. Blank lines are refused."""
    text = text.rstrip("\r\n")
    if not text.strip():
        raise BadRequest("the body is empty; send one CSV record per line, without a header")
    rows: list[list[str]] = []
    lines: list[int] = []
    if '"' not in text:
        for i, line in enumerate(text.replace("\r\n", "\n").split("\n")):
            if not line.strip():
                raise BadRequest(f"line {i + 1} is empty; every line must be one record")
            rows.append(line.split(","))
            lines.append(i + 1)
        return rows, lines
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for row in reader:
            # A blank line is [], a quoted "" is [""] (one empty cell, a record).
            if row == [] or (len(row) == 1 and row[0] != "" and not row[0].strip(" \t")):
                raise BadRequest(f"line {start} is empty; every line must be one record")
            rows.append(row)
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise BadRequest(f"malformed CSV on line {reader.line_num}: {e}") from None
    return rows, lines


def decode_csv(body: bytes, charset: str | None, schema: Schema) -> Decoded:
    """Headerless CSV, one record per line (RFC 4180 quoting), UTF-8 unless a charset says."""
    if schema.all_numeric and (charset is None or charset.lower() in _ASCII_COMPATIBLE):
        fast = _numeric_csv_fast(body, schema)
        if fast is not None and (not _needs_checks(schema)
                                 or _numeric_ok(np.asarray(fast.data), schema)):
            return fast
    rows, lines = csv_records(_text(body, charset))
    return Decoded(rows_to_data(rows, schema, "line", lines), len(rows))


def _json_rows(doc: Any, schema: Schema, unit: str) -> list[Any]:
    """Turn a parsed JSON document into a list of rows (lists) or records (dicts)."""
    if isinstance(doc, dict):
        for key in ("instances", "inputs"):
            if key in doc:
                doc = doc[key]
                break
        else:
            names = schema.record_names
            if "columns" in doc and "data" in doc and isinstance(doc["data"], list):
                return _split_rows(doc, schema)  # pandas' to_json(orient="split")
            if names is not None and doc and all(k in names for k in doc):
                return [doc]
            raise BadRequest(
                'expected a list of rows, {"instances": [...]} or {"inputs": [...]}; '
                f"got an object with keys {', '.join(list(doc)[:5]) or '(none)'}"
            )
    if not isinstance(doc, list):
        raise BadRequest(
            f"expected a list of rows, got a JSON {type(doc).__name__}; "
            'send [[...], ...] or {"instances": [[...], ...]}'
        )
    if not doc:
        raise BadRequest("the request has no rows; send at least one")
    if all(not isinstance(v, (list, dict)) for v in doc):
        # A flat list is one row when its length is the feature count, else one value per row.
        if schema.n_features not in (None, 1) and len(doc) == schema.n_features:
            return [doc]
        return [[v] for v in doc]
    return doc


def _split_rows(doc: dict[str, Any], schema: Schema) -> list[Any]:
    """``{"columns": [...], "data": [[...], ...]}``: rows reordered into the model's order."""
    columns = doc["columns"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise BadRequest('"columns" must be a list of column names')
    out = []
    for i, row in enumerate(doc["data"]):
        if not isinstance(row, list) or len(row) != len(columns):
            raise BadRequest(f"row {i + 1} of \"data\" must be a list of {len(columns)} values")
        out.append(dict(zip(columns, row, strict=True)))
    return out


def _records_to_rows(items: list[Any], schema: Schema, unit: str) -> list[Any]:
    """Replace records (objects keyed by column name) with rows in the model's order.

    A key absent from a record is a missing value when the signature says the column may
    be missing; otherwise, and for a key that is no column, the error names it.
    """
    if not any(isinstance(item, dict) for item in items):
        for i, item in enumerate(items):
            if not isinstance(item, list):
                raise BadRequest(
                    f"{unit} {i + 1} is a JSON {type(item).__name__}; "
                    "each row must be a list of values (or an object keyed by feature name)"
                )
        return items
    names = schema.record_names
    if names is None:
        raise BadRequest(
            "records keyed by feature name need a model fitted on a DataFrame; this model "
            "has no feature names, so send each row as a list of values in training order"
        )
    known = set(names)
    absent_ok = schema.optional is not None
    rows = []
    for i, item in enumerate(items):
        if isinstance(item, list):
            rows.append(item)
            continue
        if not isinstance(item, dict):
            raise BadRequest(f"{unit} {i + 1} must be a list or an object")
        unknown = [k for k in item if k not in known]
        if unknown:
            raise BadRequest(
                f"{unit} {i + 1} has {unknown[0]!r}, which is not a column of this model; "
                f"its columns are: {', '.join(names)}"
            )
        row = []
        for j, name in enumerate(names):
            if name in item:
                row.append(item[name])
            elif absent_ok and schema.may_be_missing(j):
                row.append(None)
            else:
                raise BadRequest(
                    f"{unit} {i + 1} has no {name!r}; every record needs: {', '.join(names)}"
                )
        rows.append(row)
    return rows


def _loads(raw: bytes | str, where: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"malformed JSON{where}: {e}") from None
    except RecursionError:
        raise BadRequest(f"JSON nested too deeply{where}") from None


def decode_json(body: bytes, charset: str | None, schema: Schema) -> Decoded:
    """A list of rows or records, ``{"instances": ...}``, ``{"inputs": ...}``, one record,
    or ``{"columns": [...], "data": [...]}``."""
    raw: bytes | str = body if not charset or charset.lower() in ("utf-8", "utf8") else _text(
        body, charset
    )
    if not body.strip():
        raise BadRequest('the body is empty; send a JSON list of rows or {"instances": [...]}')
    rows = _records_to_rows(_json_rows(_loads(raw, ""), schema, "row"), schema, "row")
    return Decoded(rows_to_data(rows, schema, "row"), len(rows))


def decode_jsonlines(body: bytes, charset: str | None, schema: Schema) -> Decoded:
    """One JSON row (a list) or record (an object keyed by column name) per line."""
    text = _text(body, charset).replace("\r\n", "\n").rstrip("\n")
    if not text.strip():
        raise BadRequest("the body is empty; send one JSON row per line")
    items = []
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            raise BadRequest(f"line {i + 1} is empty; every line must be one JSON record")
        item = _loads(line, f" on line {i + 1}")
        if isinstance(item, dict) and len(item) == 1:
            (key, value), = item.items()
            if key in ("features", "instance", "inputs") and isinstance(value, list):
                item = value
        items.append(item)
    rows = _records_to_rows(items, schema, "line")
    return Decoded(rows_to_data(rows, schema, "line"), len(rows))


#: Every request body is at most this large (batch transform's MaxPayloadInMB cap), so a
#: .npy header declaring more data is refused before anything is allocated.
_NPY_MAX_DATA_BYTES = limits.BATCH_MAX_PAYLOAD_MB * limits.MB


def _npy_header(body: bytes) -> tuple[tuple[int, ...], bool, np.dtype[Any], int]:
    """Read and check a .npy header: (shape, fortran_order, dtype, data offset).

    Nothing is allocated from what the header declares: its shape, dtype and size are
    checked against each other, the body and the payload limit first (400 or 413).
    """
    fp = io.BytesIO(body)
    try:
        version = npformat.read_magic(fp)
        if version == (1, 0):
            shape, fortran_order, dtype = npformat.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran_order, dtype = npformat.read_array_header_2_0(fp)
        else:
            raise BadRequest(f"not a valid .npy header: unknown format version "
                             f"{version[0]}.{version[1]} (numpy writes 1.0, 2.0 or 3.0)")
    except (ValueError, EOFError, OSError, SyntaxError, TypeError, RecursionError,
            tokenize.TokenError) as e:
        # numpy parses the header text with tokenize and ast.literal_eval (never eval).
        raise BadRequest(f"not a valid .npy header: {e}") from None
    if dtype.hasobject:
        raise BadRequest(
            "object arrays are refused: loading them would unpickle untrusted data; "
            "send a numeric or string array"
        )
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind in "cVMm":
        raise BadRequest(f"unsupported array dtype {dtype}; send numbers or strings")
    if dtype.itemsize == 0:
        raise BadRequest(f"array dtype {dtype} has zero width; send numbers or strings")
    if any(d < 0 for d in shape):
        raise BadRequest(f"the .npy header declares a negative dimension: shape {shape}")
    if len(shape) > 2:
        raise BadRequest(f"expected a 2-D array (rows x columns), got shape {shape}")
    # Python integers: a product of absurd dimensions cannot overflow.
    declared = math.prod(shape) * dtype.itemsize
    if declared > _NPY_MAX_DATA_BYTES:
        raise PayloadTooLarge(
            f"the .npy header declares shape {shape} of {dtype} ({declared} bytes), over "
            f"the {limits.BATCH_MAX_PAYLOAD_MB} MB any request may carry; send fewer rows "
            "per request"
        )
    held = len(body) - fp.tell()
    if declared != held:
        raise BadRequest(
            f"the .npy header declares shape {shape} of {dtype} ({declared} bytes of data) "
            f"but the body holds {held} bytes after the header; send the whole array"
        )
    return shape, fortran_order, dtype, fp.tell()


def decode_npy(body: bytes, charset: str | None, schema: Schema) -> Decoded:
    """A single ``.npy`` array; its header is checked before the data is read, and object
    arrays are refused (loading them would unpickle). Numeric arrays fit numeric
    signatures; string arrays go column by column like any other rows."""
    if body[:2] == b"PK":
        raise BadRequest("send one .npy array, not an .npz archive")
    shape, fortran_order, dtype, offset = _npy_header(body)
    if math.prod(shape) == 0:
        raise BadRequest("the array is empty; send a 2-D array with one row per record")
    if len(shape) == 0:
        raise BadRequest("the array is a single value; send a 2-D array with one row per "
                         "record")
    # A writable copy of exactly the declared bytes (as np.load would give), never more.
    flat = np.frombuffer(body, dtype=dtype, count=math.prod(shape), offset=offset).copy()
    arr = flat.reshape(shape, order="F" if fortran_order else "C")
    if arr.ndim == 1:
        if schema.n_features not in (None, 1) and arr.shape[0] == schema.n_features:
            arr = arr.reshape(1, -1)
        else:
            arr = arr.reshape(-1, 1)
    if schema.n_features is not None and arr.shape[1] != schema.n_features:
        raise BadRequest(f"expected {schema.n_features} columns, got {arr.shape[1]}")
    if arr.dtype.kind in "fiub" and schema.all_numeric:
        matrix = arr.astype(np.float64, copy=False)
        if not _needs_checks(schema) or _numeric_ok(matrix, schema):
            return Decoded(_frame(matrix, schema), arr.shape[0])
    if arr.dtype.kind == "S":
        try:
            arr = np.char.decode(arr, "utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the byte-string array is not UTF-8; send a unicode array") from None
    return Decoded(rows_to_data(arr.tolist(), schema, "row"), arr.shape[0])


Decoder = Callable[[bytes, "str | None", Schema], Decoded]

DECODERS: dict[str, Decoder] = {
    ct.CSV: decode_csv,
    ct.JSON: decode_json,
    ct.JSONLINES: decode_jsonlines,
    ct.NPY: decode_npy,
}


def decode(body: bytes, content_type: str | None, schema: Schema) -> Decoded:
    """Decode a request body by its Content-Type; 415 for a type not in ``DECODERS``."""
    media, params = parse_media_type(content_type)
    decoder = DECODERS.get(media)
    if decoder is None:
        got = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise UnsupportedMediaType(
            f"{got} is not supported; send one of: {', '.join(DECODERS)}"
        )
    return decoder(body, params.get("charset"), schema)


# ---------------------------------------------------------------------------- encoding


def as_output_array(prediction: Any) -> np.ndarray:
    """Normalise a model's output to a 1-D (one value per record) or 2-D array."""
    if hasattr(prediction, "to_numpy"):
        prediction = prediction.to_numpy()
    arr = np.asarray(prediction)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    elif arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    return arr


def _csv_cell(value: Any) -> str:
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def encode_csv(arr: np.ndarray) -> bytes:
    """One line per record, comma-separated values, no trailing newline."""
    cell = str if arr.dtype.kind in "fiub" else _csv_cell
    if arr.ndim == 1:
        labels = _few_labels(arr, cell)
        if labels is not None:
            return labels
        return "\n".join(map(cell, arr.tolist())).encode()
    return "\n".join([",".join(map(cell, row)) for row in arr.tolist()]).encode()


def _few_labels(arr: np.ndarray, cell: Callable[[Any], str]) -> bytes | None:
    """Class labels (integers, booleans, strings) of a large batch: each distinct label is
    formatted once and the lines are gathered by index, about six times faster than one
    str() per record. None for floats, small batches and many distinct values."""
    if arr.dtype.kind not in "iubUO" or len(arr) < 1024:
        return None
    try:
        distinct, index = np.unique(arr, return_inverse=True)
    except TypeError:  # objects that do not sort (mixed types)
        return None
    if len(distinct) > len(arr) // 8:
        return None
    lines = np.array([(cell(v) + "\n").encode() for v in distinct.tolist()], dtype=object)
    return b"".join(lines[index].tolist())[:-1]


def _json_ready(arr: np.ndarray) -> Any:
    if arr.dtype.kind in "fiub" and arr.flags.c_contiguous:
        return arr
    return arr.tolist()


_JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY


def encode_json(arr: np.ndarray) -> bytes:
    """``{"predictions": [...]}``, one entry per record."""
    return orjson.dumps({"predictions": _json_ready(arr)}, option=_JSON_OPTS)


def encode_jsonlines(arr: np.ndarray) -> bytes:
    """One JSON value per line, no trailing newline."""
    return b"\n".join([orjson.dumps(v) for v in arr.tolist()])


def encode_npy(arr: np.ndarray) -> bytes:
    """A ``.npy`` array; strings are stored as fixed-width unicode, never pickled."""
    if arr.dtype.kind == "O":
        arr = arr.astype(str)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


ENCODERS: dict[str, Callable[[np.ndarray], bytes]] = {
    ct.CSV: encode_csv,
    ct.JSON: encode_json,
    ct.JSONLINES: encode_jsonlines,
    ct.NPY: encode_npy,
}


def negotiate(accept: str | None, request_type: str, default: str | None) -> str:
    """Pick the response type: the supported Accept entry with the highest q (RFC 9110).

    Among equal q-values the first listed wins. ``*/*`` or no Accept gives ``default``,
    or the request's own type when no default is configured. 406 when nothing fits.
    """
    fallback = default or (request_type if request_type in ENCODERS else ct.CSV)
    if not accept or not accept.strip():
        return fallback
    best: str | None = None
    best_q = 0.0
    for item in accept.split(","):
        media, params = parse_media_type(item)
        if not media:
            continue
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        if q <= best_q:
            continue
        if media == "*/*":
            choice: str | None = fallback
        elif media.endswith("/*"):
            major = media[:-1]
            choice = fallback if fallback.startswith(major) else next(
                (t for t in ENCODERS if t.startswith(major)), None
            )
        else:
            choice = media if media in ENCODERS else None
        if choice is not None:
            best, best_q = choice, q
    if best is None:
        raise NotAcceptable(
            f"Accept {accept!r} asks for no type this server produces; "
            f"accept one of: {', '.join(ENCODERS)}"
        )
    return best
