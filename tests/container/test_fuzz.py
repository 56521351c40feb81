"""Bad input against the running image: a generated corpus (hypothesis) and schema-based
fuzzing of docs/openapi.yaml (schemathesis). A client's mistake never gets a 5xx, nothing
hangs, no worker dies, and the server still answers correctly afterwards.
"""

from __future__ import annotations

import json
import math
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance
from smkit_testkit import docker

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parents[2]
GOOD = "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3"
TYPES = ["text/csv", "application/json", "application/jsonlines", "application/x-npy"]
ACCEPTS = [None, "*/*", "text/csv", "application/json", "application/jsonlines",
           "application/x-npy", "image/png", "text/*;q=0.5, application/json;q=0.9", ";;;"]
TRIED: dict[str, int] = {"corpus": 0, "schemathesis": 0}


@pytest.fixture(scope="module")
def server(image: str, iris_model_dir: Path) -> Iterator[dict[str, object]]:
    from smkit.image.docker import serve

    with serve(image, iris_model_dir, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2",
                                           "SMKIT_ACCESS_LOG": "false"}) as srv:
        time.sleep(1)
        good = requests.post(f"{srv.url}/invocations", data=GOOD,
                             headers={"Content-Type": "text/csv"}, timeout=10).text
        pids = docker("top", srv.name, "-o", "pid").stdout.split()[1:]
        yield {"url": srv.url, "name": srv.name, "good": good, "pids": pids}
        # Afterwards: same workers, same answer.
        assert docker("top", srv.name, "-o", "pid").stdout.split()[1:] == pids
        again = requests.post(f"{srv.url}/invocations", data=GOOD,
                              headers={"Content-Type": "text/csv"}, timeout=10).text
        assert again == good
        print(f"\nfuzz: inputs tried: {TRIED}")


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.just(1e308), st.just(-0.0),
)
cells = st.one_of(numbers, st.text(max_size=8), st.none(), st.booleans())
rows = st.lists(cells, min_size=0, max_size=6)
nested = st.recursive(cells, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=5), inner, max_size=3), max_leaves=20)


def _num(v: object) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return str(v)


def _dumps(doc: object) -> bytes:
    # The standard library writes NaN, Infinity and 400-digit integers, as careless clients do.
    return json.dumps(doc, default=str).encode()


NPY_DESCRS = ["'<f8'", "'>f4'", "'<i8'", "'|u1'", "'|b1'", "'<U5'", "'|S0'", "'|O'", "'<c16'",
              "'<f99'", "'V8'", "'<M8[s]'", "[('a', '<f8')]", "('<f8', (2,))", "'nonsense'",
              "None", "3"]
npy_dims = st.one_of(st.integers(0, 6), st.just(10**12), st.integers(-3, -1),
                     st.integers(2**31, 2**80), st.sampled_from(["1.5", "'4'", "None"]))


@st.composite
def npy_header_mutations(draw: st.DrawFn) -> bytes:
    """A .npy body whose header numpy could have written, with one or more parts mutated:
    absurd or negative shapes, odd dtypes, a wrong header length, a wrong version, missing or
    extra keys, and a body that does or does not match what the header declares."""
    shape = draw(st.lists(npy_dims, min_size=0, max_size=4))
    dims = ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "")
    descr = draw(st.sampled_from(NPY_DESCRS))
    fortran = draw(st.sampled_from(["False", "True", "0", "'no'"]))
    entries = [f"'descr': {descr}", f"'fortran_order': {fortran}", f"'shape': ({dims})"]
    if draw(st.booleans()):
        entries = draw(st.permutations(entries))[: draw(st.integers(1, 3))]
    if draw(st.integers(0, 5)) == 0:
        entries.append("'extra': 1")
    text = ("{" + ", ".join(entries) + ", }").encode()
    version = draw(st.sampled_from([1, 1, 2, 3, 0, 9]))
    prefix = 10 if version == 1 else 12
    text += b" " * ((-(prefix + len(text) + 1)) % 64) + b"\n"
    length = draw(st.one_of(st.just(len(text)), st.integers(0, 2**16 - 1)))
    size = struct.pack("<H", length) if version == 1 else struct.pack("<I", length)
    data = draw(st.one_of(st.binary(max_size=64), st.just(b"\0" * 96)))
    return b"\x93NUMPY" + bytes([version, 0]) + size + text + data


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    ctype = draw(st.sampled_from(TYPES))
    kind = draw(st.sampled_from(["rows", "truncated", "binary", "nested", "deep", "encoding",
                                 "npy", "npy-header", "empty"]))
    if kind == "rows":
        table = draw(st.lists(rows, min_size=1, max_size=5))
        if ctype == "text/csv":
            body = "\n".join(",".join(_num(c) for c in r) for r in table).encode()
        elif ctype == "application/jsonlines":
            body = b"\n".join(_dumps(r) for r in table)
        else:
            body = _dumps({"instances": table})
    elif kind == "truncated":
        full = orjson.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]] * 3})
        body = full[: draw(st.integers(0, len(full) - 1))]
    elif kind == "binary":
        body = draw(st.binary(max_size=256))
    elif kind == "nested":
        body = _dumps(draw(nested))
    elif kind == "deep":
        depth = draw(st.integers(10, 3000))
        body = b"[" * depth + b"1" + b"]" * depth
    elif kind == "encoding":
        body = "5,1,3,4\n".encode(draw(st.sampled_from(["utf-16", "utf-32", "cp1252"])))
    elif kind == "npy":
        shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=3))
        dims = ",".join(map(str, shape))
        header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), },"
        body = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
        body += draw(st.binary(max_size=64))
    elif kind == "npy-header":
        body, ctype = draw(npy_header_mutations()), "application/x-npy"
    else:
        body = b""
    return body, ctype


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
@given(case=bodies(), accept=st.sampled_from(ACCEPTS))
def test_generated_bad_bodies_never_get_a_5xx(server: dict[str, object],
                                             case: tuple[bytes, str], accept: str | None) -> None:
    body, ctype = case
    headers = {"Content-Type": ctype}
    if accept is not None:
        headers["Accept"] = accept
    TRIED["corpus"] += 1
    r = requests.post(f"{server['url']}/invocations", data=body, headers=headers, timeout=20)
    assert r.status_code < 500, (ctype, accept, body[:80], r.status_code, r.text)
    if r.status_code != 200:
        assert "error" in r.json()
        assert "Traceback" not in r.text


@schemathesis.serializer("application/jsonlines", "application/x-npy")
def _raw_body(ctx: object, value: object) -> bytes:
    """Send generated JSON Lines text and .npy bytes as they are."""
    return value if isinstance(value, bytes) else str(value).encode()


SCHEMA = schemathesis.openapi.from_path(REPO / "docs" / "openapi.yaml")


@SCHEMA.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
def test_the_openapi_description_holds_under_schema_fuzzing(
    case: schemathesis.Case, server: dict[str, object]
) -> None:
    TRIED["schemathesis"] += 1
    response = case.call(base_url=str(server["url"]), timeout=20)
    assert response.status_code < 500, (case.path, case.media_type, response.status_code,
                                        response.text[:200])
    # A schema cannot say how many columns this model takes, so a schema-valid body may be
    # rightly refused with 400: every other check (no 5xx, declared statuses, content types,
    # response schemas, headers, methods) applies.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
