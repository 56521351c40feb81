"""Request decoders and response encoders, keyed by MIME type, and Accept negotiation.

Decoders turn a body into the rows the model predicts on (a float matrix when every column
is numeric, otherwise an object matrix or, for models fitted on a DataFrame, a DataFrame
with the fitted column names). Every decoding error is a ``BadRequest`` whose message says
which line, row or column is wrong and what was expected.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.lib import format as npformat
from smkit_contract import content_types as ct
from smkit_contract import limits

from .errors import BadRequest, NotAcceptable, PayloadTooLarge, UnsupportedMediaType

_ASCII_COMPATIBLE = ("utf-8", "utf8", "ascii", "us-ascii", "latin-1", "iso-8859-1")

NUMBER = "number"
STRING = "string"


@dataclass(frozen=True)
class Schema:
    """What the model expects of each row, as far as the fitted model tells."""

    #: Number of columns (``n_features_in_``), or None when the model does not say.
    n_features: int | None = None
    #: Column names (``feature_names_in_``) when the model was fitted on a DataFrame.
    feature_names: tuple[str, ...] | None = None
    #: NUMBER or STRING per column, or None when unknown.
    kinds: tuple[str, ...] | None = None

    @property
    def all_numeric(self) -> bool:
        """True when every column is known or assumed to be numeric."""
        return self.kinds is None or all(k == NUMBER for k in self.kinds)

    def column_label(self, j: int) -> str:
        """A 1-based column label for messages, with the feature name when known."""
        if self.feature_names is not None and j < len(self.feature_names):
            return f"column {j + 1} ({self.feature_names[j]!r})"
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


def _check_width(rows: Sequence[Sequence[Any]], schema: Schema, unit: str) -> int:
    expected = schema.n_features if schema.n_features is not None else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != expected:
            hint = ""
            if schema.n_features is not None and schema.feature_names is not None:
                hint = f" (the model expects: {', '.join(schema.feature_names)})"
            raise BadRequest(
                f"expected {expected} columns, got {len(row)} on {unit} {i + 1}{hint}"
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


def rows_to_data(rows: Sequence[Sequence[Any]], schema: Schema, unit: str) -> Any:
    """Build the model input from rows of cells, checking widths and numeric columns."""
    width = _check_width(rows, schema, unit)
    n = len(rows)
    if schema.all_numeric:
        try:
            matrix = np.array(rows, dtype=np.float64)
        except (ValueError, TypeError):
            pass
        else:
            if matrix.shape == (n, width):
                return _frame(matrix, schema)
    columns: list[np.ndarray] = []
    numeric = True
    for j in range(width):
        kind = schema.kinds[j] if schema.kinds is not None else None
        col = [row[j] for row in rows]
        for i, value in enumerate(col):
            if isinstance(value, (list, dict)):
                raise BadRequest(
                    f"{schema.column_label(j)} on {unit} {i + 1} is a nested "
                    f"{type(value).__name__}; each cell must be a number or a string"
                )
        if kind == STRING:
            columns.append(
                np.array([None if v is None else str(v) for v in col], dtype=object)
            )
            numeric = False
            continue
        try:
            columns.append(np.array([_cell_to_float(v) for v in col], dtype=np.float64))
        except (ValueError, TypeError, OverflowError):
            if kind == NUMBER:
                bad = next(i for i, v in enumerate(col) if not _is_number(v))
                header_hint = ""
                if bad == 0 and schema.feature_names is not None and [
                    str(c) for c in rows[0]
                ] == list(schema.feature_names):
                    header_hint = "; it looks like a header row: send CSV without a header"
                raise BadRequest(
                    f"{schema.column_label(j)} must be a number, got {_short(col[bad])} "
                    f"on {unit} {bad + 1}{header_hint}"
                ) from None
            columns.append(np.array(col, dtype=object))
            numeric = False
    if numeric:
        return _frame(np.column_stack(columns), schema)
    if schema.feature_names is not None:
        import pandas as pd  # only models fitted on DataFrames pay for pandas

        return pd.DataFrame(dict(zip(schema.feature_names, columns, strict=True)))
    matrix = np.empty((n, width), dtype=object)
    for j, col_values in enumerate(columns):
        matrix[:, j] = col_values
    return matrix


def _is_number(value: Any) -> bool:
    try:
        _cell_to_float(value)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _frame(matrix: np.ndarray, schema: Schema) -> Any:
    if schema.feature_names is None:
        return matrix
    import pandas as pd

    return pd.DataFrame(matrix, columns=list(schema.feature_names))


_NUMERIC_BYTES = b"0123456789.eE+-, \t\n\r"
#: Numeric CSV bodies at least this large go to pandas' C reader when pandas is loaded
#: (batch transforms and DataFrame models load it before fork); below this size its fixed
#: cost is more than it saves, and without it orjson does the work.
BULK_CSV_BYTES = 64 * 1024


def _numeric_csv_fast(body: bytes, schema: Schema) -> Decoded | None:
    """Parse an all-numeric CSV body in one call to a native parser; None sends anything
    unusual to the precise path, which also words the errors."""
    if body.translate(None, _NUMERIC_BYTES) or not body.strip():
        return None
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")
    body = body.rstrip(b"\n")
    pd = sys.modules.get("pandas") if len(body) >= BULK_CSV_BYTES else None
    matrix = _parse_with_pandas(pd, body, schema) if pd is not None else None
    if matrix is None:
        matrix = _parse_with_orjson(body, schema)
    return None if matrix is None else Decoded(_frame(matrix, schema), matrix.shape[0])


def _parse_with_orjson(body: bytes, schema: Schema) -> np.ndarray | None:
    """The body as one flat JSON array (newlines become commas)."""
    raw = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    rows = len(newlines) + 1
    try:
        flat = orjson.loads(b"[" + body.replace(b"\n", b",") + b"]")
    except orjson.JSONDecodeError:
        return None  # empty cells, "1.", ".5", "+1" and the like: CSV, but not JSON
    width, extra = divmod(len(flat), rows)
    if extra or (schema.n_features is not None and width != schema.n_features):
        return None
    if rows > 1:
        # Equal totals can hide ragged lines; count the commas of every line.
        per_line = np.diff(np.searchsorted(np.flatnonzero(raw == 44), newlines), prepend=0)
        if np.any(per_line != width - 1):
            return None
    # fromiter skips the list-of-objects pass np.array makes (about a third faster here).
    return np.fromiter(flat, dtype=np.float64, count=len(flat)).reshape(rows, width)


def _parse_with_pandas(pd: Any, body: bytes, schema: Schema) -> np.ndarray | None:
    """The body through pandas' C reader (about twice orjson's speed on large bodies)."""
    if b"\n\n" in body or body[:1] == b"\n" or b" " in body or b"\t" in body:
        return None  # pandas skips blank (or blank-looking) lines; others refuse them
    try:
        frame = pd.read_csv(io.BytesIO(body), header=None, dtype=np.float64, engine="c")
    except ValueError:  # pandas' parser errors are ValueErrors too
        return None
    matrix = frame.to_numpy()
    if schema.n_features is not None and matrix.shape[1] != schema.n_features:
        return None
    if np.isnan(matrix).any():
        return None  # short lines and empty cells: the precise path tells them apart
    # Row-major, as trees walk one row at a time (a column-major copy predicts ~25% slower).
    return np.ascontiguousarray(matrix)


def decode_csv(body: bytes, charset: str | None, schema: Schema) -> Decoded:
    """Headerless CSV, one record per line; quoted fields allowed."""
    if schema.all_numeric and (charset is None or charset.lower() in _ASCII_COMPATIBLE):
        fast = _numeric_csv_fast(body, schema)
        if fast is not None:
            return fast
    text = _text(body, charset)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    text = text.rstrip("\n")
    if not text.strip():
        raise BadRequest("the body is empty; send one CSV record per line, without a header")
    if '"' in text:
        try:
            rows: list[list[str]] = list(csv.reader(io.StringIO(text), strict=True))
        except csv.Error as e:
            raise BadRequest(f"malformed CSV: {e}") from None
    else:
        rows = [line.split(",") for line in text.split("\n")]
    for i, row in enumerate(rows):
        if row == [] or row == [""]:
            raise BadRequest(f"line {i + 1} is empty; every line must be one record")
    return Decoded(rows_to_data(rows, schema, "line"), len(rows))


def _json_rows(doc: Any, schema: Schema, unit: str) -> list[Any]:
    """Turn a parsed JSON document into a list of rows (lists) or records (dicts)."""
    if isinstance(doc, dict):
        for key in ("instances", "inputs"):
            if key in doc:
                doc = doc[key]
                break
        else:
            if schema.feature_names is not None and all(
                name in doc for name in schema.feature_names
            ):
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


def _records_to_rows(items: list[Any], schema: Schema, unit: str) -> list[Any]:
    """Replace records (objects keyed by feature name) with rows in the fitted order."""
    if not any(isinstance(item, dict) for item in items):
        for i, item in enumerate(items):
            if not isinstance(item, list):
                raise BadRequest(
                    f"{unit} {i + 1} is a JSON {type(item).__name__}; "
                    "each row must be a list of values (or an object keyed by feature name)"
                )
        return items
    names = schema.feature_names
    if names is None:
        raise BadRequest(
            "records keyed by feature name need a model fitted on a DataFrame; this model "
            "has no feature names, so send each row as a list of values in training order"
        )
    rows = []
    for i, item in enumerate(items):
        if isinstance(item, list):
            rows.append(item)
            continue
        if not isinstance(item, dict):
            raise BadRequest(f"{unit} {i + 1} must be a list or an object")
        try:
            rows.append([item[name] for name in names])
        except KeyError as e:
            raise BadRequest(
                f"{unit} {i + 1} has no {e.args[0]!r}; every record needs: {', '.join(names)}"
            ) from None
    return rows


def _loads(raw: bytes | str, where: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"malformed JSON{where}: {e}") from None
    except RecursionError:
        raise BadRequest(f"JSON nested too deeply{where}") from None


def decode_json(body: bytes, charset: str | None, schema: Schema) -> Decoded:
    """A list of rows, ``{"instances": ...}``, ``{"inputs": ...}``, or a list of records."""
    raw: bytes | str = body if not charset or charset.lower() in ("utf-8", "utf8") else _text(
        body, charset
    )
    if not body.strip():
        raise BadRequest('the body is empty; send a JSON list of rows or {"instances": [...]}')
    rows = _records_to_rows(_json_rows(_loads(raw, ""), schema, "row"), schema, "row")
    return Decoded(rows_to_data(rows, schema, "row"), len(rows))


def decode_jsonlines(body: bytes, charset: str | None, schema: Schema) -> Decoded:
    """One JSON row (a list) or record (an object keyed by feature name) per line."""
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
    arrays are refused (loading them would unpickle)."""
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
        return Decoded(_frame(arr.astype(np.float64, copy=False), schema), arr.shape[0])
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
    values = arr.tolist()
    cell = str if arr.dtype.kind in "fiub" else _csv_cell
    if arr.ndim == 1:
        return "\n".join(map(cell, values)).encode()
    return "\n".join([",".join(map(cell, row)) for row in values]).encode()


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
