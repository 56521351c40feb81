"""The .npy decoder reads and checks the header before it allocates anything from it.

Bodies are built byte by byte (magic, version, header length, header dict, data), so each
test mutates one part of a header numpy itself would write. Expected predictions come from
the fitted model called directly.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
from pathlib import Path

import joblib
import numpy as np
import pytest
from flask.testing import FlaskClient
from smkit_serve.app import create_app
from smkit_serve.handler import smoke_check
from smkit_serve.model import load_model
from smkit_serve.settings import Settings

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])


def npy(header: str, data: bytes = b"", version: int = 1, length: int | None = None) -> bytes:
    """A .npy body with ``header`` as its dict text (padded as numpy pads it)."""
    text = header.encode("latin1")
    prefix_len = 10 if version == 1 else 12
    pad = (-(prefix_len + len(text) + 1)) % 64
    text += b" " * pad + b"\n"
    size = len(text) if length is None else length
    size_field = struct.pack("<H", size) if version == 1 else struct.pack("<I", size)
    return b"\x93NUMPY" + bytes([version, 0]) + size_field + text + data


def head(descr: str = "'<f8'", shape: str = "(3, 4)", fortran: str = "False") -> str:
    return f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"


@pytest.fixture(scope="module")
def client(iris_model_dir: Path) -> FlaskClient:
    s = Settings(model_dir=str(iris_model_dir))
    loaded = load_model(s.model_dir, s.program)
    smoke_check(loaded, s.model_dir)
    return create_app(s, loaded).test_client()


def post(client: FlaskClient, body: bytes):
    return client.post("/invocations", data=body, content_type="application/x-npy",
                       headers={"Accept": "application/json"})


def predictions(r) -> list[str]:
    return [str(v) for v in r.json["predictions"]]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        # Absurd shapes: refused by their declared size, before any allocation.
        (npy(head(shape="(1000000000000, 4)")), 413, "declares shape (1000000000000, 4)"),
        (npy(head(shape=f"({2**70}, 4)")), 413, "over the 100 MB"),
        (npy(head(shape="(100000, 100000)", descr="'|u1'")), 413, "send fewer rows"),
        # Declared size disagrees with the body.
        (npy(head(shape="(1000000, 4)"), ROWS.tobytes()), 400, "body holds 96 bytes"),
        (npy(head(), ROWS.tobytes()[:-8]), 400, "declares shape (3, 4)"),
        (npy(head(), ROWS.tobytes() + b"\0" * 8), 400, "body holds 104 bytes"),
        (npy(head(shape="(3, 4)", descr="'<f4'"), ROWS.tobytes()), 400, "(48 bytes of data)"),
        # Shapes the model cannot take.
        (npy(head(shape="(3, -4)"), ROWS.tobytes()), 400, "shape"),
        (npy(head(shape="(3, 4.0)"), ROWS.tobytes()), 400, "not a valid .npy header"),
        (npy(head(shape="'3,4'"), ROWS.tobytes()), 400, "not a valid .npy header"),
        (npy(head(shape="(1, 3, 4)"), ROWS.tobytes()), 400, "expected a 2-D array"),
        (npy(head(shape="()"), ROWS.tobytes()[:8]), 400, "single value"),
        (npy(head(shape="(0, 4)")), 400, "empty"),
        # Dtypes.
        (npy(head(descr="'|O'"), b"\0" * 96), 400, "unpickle"),
        (npy(head(descr="[('a', '<f8')]", shape="(3,)"), b"\0" * 24), 400, "unsupported"),
        (npy(head(descr="'<c16'"), b"\0" * 192), 400, "unsupported array dtype"),
        (npy(head(descr="'|S0'")), 400, "zero width"),
        (npy(head(descr="'<f99'"), ROWS.tobytes()), 400, "not a valid .npy header"),
        (npy(head(descr="'nonsense'"), ROWS.tobytes()), 400, "not a valid .npy header"),
        # The header itself.
        (npy("{'descr': '<f8', 'shape': (3, 4), }", ROWS.tobytes()), 400, "not a valid"),
        (npy(head()[:-3] + "'extra': 1, }", ROWS.tobytes()), 400, "not a valid"),
        (npy("[1, 2, 3]", ROWS.tobytes()), 400, "not a valid .npy header"),
        (npy("{'descr': '<f8', ", ROWS.tobytes()), 400, "not a valid .npy header"),  # tokenize
        (npy("{" * 3000 + "}" * 3000, ROWS.tobytes()), 400, "not a valid .npy header"),
        (npy("__import__('os')", ROWS.tobytes()), 400, "not a valid .npy header"),
        (npy(head(), length=60000), 400, "not a valid .npy header"),
        (npy(head(), ROWS.tobytes(), version=2, length=2**31), 400, "not a valid .npy header"),
        (npy(head(), ROWS.tobytes(), version=7), 400, "format version 7.0"),
        (b"\x93NUMPY\x01", 400, "not a valid .npy header"),
        (b"PK\x03\x04" + b"\0" * 40, 400, "not an .npz archive"),
    ],
)
def test_a_bad_header_gets_400_or_413_naming_what_is_wrong(
    client: FlaskClient, body: bytes, status: int, fragment: str
) -> None:
    r = post(client, body)
    assert r.status_code == status, r.data
    assert fragment.lower() in r.json["error"].lower(), r.json["error"]
    assert "Traceback" not in r.get_data(as_text=True)


def test_a_header_declaring_32_mb_over_a_tiny_body_allocates_nothing_of_that_size(
    client: FlaskClient,
) -> None:
    body = npy(head(shape="(1000000, 4)"), ROWS.tobytes())
    tracemalloc.start()
    try:
        r = post(client, body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 400
    assert peak < 4 * 1024 * 1024, peak  # the header declared 32 MB


@pytest.mark.parametrize(
    "body",
    [
        npy(head(), ROWS.tobytes()),
        npy(head(), ROWS.tobytes(), version=2),
        npy(head(), ROWS.tobytes(), version=3),
        npy(head(descr="'>f8'"), ROWS.astype(">f8").tobytes()),
        npy(head(fortran="True"), ROWS.tobytes(order="F")),
        npy(head(descr="'<f4'"), ROWS.astype("<f4").tobytes()),
        npy(head(descr="'<i8'"), np.rint(ROWS * 0).astype("<i8").tobytes()),
    ],
    ids=["v1", "v2", "v3", "big-endian", "fortran", "float32", "int64"],
)
def test_every_valid_header_numpy_writes_still_decodes(
    client: FlaskClient, body: bytes, iris_model_dir: Path
) -> None:
    r = post(client, body)
    assert r.status_code == 200, r.data
    arr = np.load(io.BytesIO(body))
    want = [str(v) for v in joblib.load(iris_model_dir / "model.joblib").predict(arr)]
    assert predictions(r) == want
