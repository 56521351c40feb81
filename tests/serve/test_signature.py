"""Text, categorical and mixed inputs (issue 13), through Flask's test client.

Real pipelines are trained here (signature_models). Expected predictions come from the
fitted model on frames read by pandas (``read_csv``) or built directly, never from the
server's own decoding.
"""

from __future__ import annotations

import io
from pathlib import Path

import joblib
import numpy as np
import orjson
import pandas as pd
import pytest
from flask.testing import FlaskClient
from signature_models import (
    custom_frame,
    custom_pipeline,
    fitted_tweet_model,
    mixed_frame,
    mixed_pipeline,
    tweet_frame,
)
from smkit_contract import manifest as mf
from smkit_contract.signature import Signature
from smkit_serve.app import create_app
from smkit_serve.derive import derive
from smkit_serve.handler import smoke_check
from smkit_serve.model import load_model
from smkit_serve.settings import Settings

TWEET_COLUMNS = ["keyword", "location", "text"]
MIXED_COLUMNS = ["zip", "rooms", "pool", "area"]


def make_client(model_dir: Path) -> FlaskClient:
    s = Settings(model_dir=str(model_dir))
    loaded = load_model(s.model_dir, s.program)
    smoke_check(loaded, s.model_dir)
    return create_app(s, loaded).test_client()


def save(model: object, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / "model.joblib")
    return directory


def write_manifest(model_dir: Path, signature: dict[str, object]) -> None:
    """A manifest as smkit package writes it, holding ``signature``."""
    rels = sorted(p.name for p in model_dir.iterdir() if p.name != mf.FILENAME)
    versions = {k: "0" for k in mf.VERSION_KEYS}
    manifest = mf.build(mf.file_entries(model_dir, rels), versions, "img", None,
                        {"type": "Pipeline", "task": "classification"}, None, signature)
    (model_dir / mf.FILENAME).write_bytes(mf.dumps(manifest))


def read_csv(body: bytes, columns: list[str], dtype: dict[str, object] | None = None
             ) -> pd.DataFrame:
    """The oracle: pandas' own CSV reader."""
    return pd.read_csv(io.BytesIO(body), header=None, names=columns, dtype=dtype,
                       keep_default_na=False, na_values=[""])


def predictions(body: bytes, accept: str) -> list[object]:
    if accept == "text/csv":
        return [int(v) for v in body.decode().split("\n")]
    if accept == "application/json":
        return list(orjson.loads(body)["predictions"])
    if accept == "application/jsonlines":
        return [orjson.loads(line) for line in body.split(b"\n")]
    return np.load(io.BytesIO(body), allow_pickle=False).tolist()  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=["tfidf", "hashing"])
def tweet_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Path:
    return save(fitted_tweet_model(request.param), tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def tweet_client(tweet_dir: Path) -> FlaskClient:
    return make_client(tweet_dir)


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame, label = mixed_frame()
    return save(mixed_pipeline().fit(frame, label), tmp_path_factory.mktemp("mixed"))


# ----------------------------------------------------------- no manifest: inferred kinds


def test_the_tweet_pipeline_is_healthy_with_no_sample_file(tweet_client: FlaskClient) -> None:
    r = tweet_client.get("/ping")
    assert r.status_code == 200, r.json


def test_quoted_utf8_csv_with_commas_quotes_newlines_and_empty_cells(
    tweet_dir: Path, tweet_client: FlaskClient
) -> None:
    frame, _ = tweet_frame(n=12, seed=3)
    from signature_models import TRICKY_TEXTS

    frame.loc[: len(TRICKY_TEXTS) - 1, "text"] = TRICKY_TEXTS
    body = frame.to_csv(header=False, index=False).encode()
    assert b'""' in body
    assert "🔥".encode() in body
    assert b"\n" in body
    expected = joblib.load(tweet_dir / "model.joblib").predict(read_csv(body, TWEET_COLUMNS))
    r = tweet_client.post("/invocations", data=body, content_type="text/csv")
    assert r.status_code == 200, r.json
    assert predictions(r.data, "text/csv") == expected.tolist()


def test_a_text_that_looks_like_a_number_is_not_refused(tweet_client: FlaskClient) -> None:
    r = tweet_client.post("/invocations", data=b"fire,,12\nflood,Zurich,3.5",
                          content_type="text/csv")
    assert r.status_code == 200, r.json
    assert len(r.data.split(b"\n")) == 2


BODIES = ["csv", "json-rows", "json-instances", "json-records", "json-split", "jsonl-rows",
          "jsonl-records", "npy"]
ACCEPTS = ["text/csv", "application/json", "application/jsonlines", "application/x-npy"]


def encode(frame: pd.DataFrame, how: str) -> tuple[bytes, str]:
    """The frame in one of the request formats (missing cells as empty or null)."""
    plain = frame.astype(object).where(frame.notna(), None)
    rows = plain.values.tolist()
    records = [dict(zip(frame.columns, row, strict=True)) for row in rows]
    if how == "csv":
        return frame.to_csv(header=False, index=False).encode(), "text/csv"
    if how == "json-rows":
        return orjson.dumps(rows), "application/json"
    if how == "json-instances":
        return orjson.dumps({"instances": rows}), "application/json"
    if how == "json-records":
        return orjson.dumps(records), "application/json"
    if how == "json-split":
        return orjson.dumps({"columns": list(frame.columns), "data": rows}), "application/json"
    if how == "jsonl-rows":
        return b"\n".join(orjson.dumps(r) for r in rows), "application/jsonlines"
    if how == "jsonl-records":
        return b"\n".join(orjson.dumps(r) for r in records), "application/jsonlines"
    buf = io.BytesIO()
    np.save(buf, np.array([["" if v is None else str(v) for v in r] for r in rows]),
            allow_pickle=False)
    return buf.getvalue(), "application/x-npy"


# The body is decoded by its own type and the answer encoded by Accept alone (codecs.ENCODERS
# take the predictions, not the request), so each body once and each Accept twice cover both.
@pytest.mark.parametrize(("how", "accept"),
                         [(how, ACCEPTS[i % len(ACCEPTS)]) for i, how in enumerate(BODIES)])
def test_every_format_and_accept_type_on_the_tweet_pipeline(
    tweet_dir: Path, tweet_client: FlaskClient, how: str, accept: str
) -> None:
    frame, _ = tweet_frame(n=9, seed=5)
    expected = joblib.load(tweet_dir / "model.joblib").predict(frame).tolist()
    body, content_type = encode(frame, how)
    r = tweet_client.post("/invocations", data=body, content_type=content_type,
                          headers={"Accept": accept})
    assert r.status_code == 200, r.json
    assert r.content_type.startswith(accept)
    assert predictions(r.data, accept) == expected


def test_mixed_kinds_with_missing_values_in_every_column(mixed_dir: Path) -> None:
    frame, _ = mixed_frame(n=8, seed=7)
    body = frame.to_csv(header=False, index=False).encode()
    # One missing cell in each column, on different lines.
    lines = body.decode().split("\n")
    cells = [line.split(",") for line in lines if line]
    for j in range(4):
        cells[j][j] = ""
    body = "\n".join(",".join(c) for c in cells).encode()
    oracle = read_csv(body, MIXED_COLUMNS, dtype={"zip": str})
    assert all(oracle.isna().sum() >= 1)
    expected = joblib.load(mixed_dir / "model.joblib").predict(oracle)
    client = make_client(mixed_dir)
    assert client.get("/ping").status_code == 200
    r = client.post("/invocations", data=body, content_type="text/csv")
    assert r.status_code == 200, r.json
    assert predictions(r.data, "text/csv") == expected.tolist()


def test_numeric_looking_codes_stay_strings_for_a_string_encoder(mixed_dir: Path) -> None:
    client = make_client(mixed_dir)
    model = joblib.load(mixed_dir / "model.joblib")
    frame = pd.DataFrame({"zip": ["02134"], "rooms": [1], "pool": [False], "area": [60.0]})
    frame["zip"] = frame["zip"].astype(object)
    r = client.post("/invocations", data=b"02134,1,false,60", content_type="text/csv",
                    headers={"Accept": "application/json",
                             "X-Amzn-SageMaker-Custom-Attributes": "output=probabilities"})
    assert r.status_code == 200, r.json
    np.testing.assert_allclose(r.json["predictions"], model.predict_proba(frame))
    # "2134" is not a category the encoder knows: a different answer from "02134"'s.
    r2 = client.post("/invocations", data=b"2134,1,false,60", content_type="text/csv",
                     headers={"Accept": "application/json",
                              "X-Amzn-SageMaker-Custom-Attributes": "output=probabilities"})
    assert r2.json["predictions"] != r.json["predictions"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"02134,1,true,60\n02139,two,false,70",
         "column 2 ('rooms') must be an integer, got 'two' on line 2"),
        (b"02134,1.5,true,60", "column 2 ('rooms') must be an integer, got '1.5' on line 1"),
        (b"02134,1,maybe,60", "column 3 ('pool') must be a boolean (true or false), got 'maybe'"),
        (b"02134,1,true,big", "column 4 ('area') must be a number, got 'big' on line 1"),
        (b'"x",1,true,1\n"a\nb",2,true,"q"', "column 4 ('area') must be a number, got 'q' on "
         "line 2"),
    ],
)
def test_a_bad_cell_names_line_column_kind_and_value(mixed_dir: Path, body: bytes,
                                                     message: str) -> None:
    r = make_client(mixed_dir).post("/invocations", data=body, content_type="text/csv")
    assert r.status_code == 400
    assert message in r.json["error"]


def test_line_numbers_count_newlines_inside_quotes(mixed_dir: Path) -> None:
    body = b'"a\nb\nc",1,true,1\n02134,x,true,1'
    r = make_client(mixed_dir).post("/invocations", data=body, content_type="text/csv")
    assert r.status_code == 400
    assert "got 'x' on line 4" in r.json["error"]


def test_a_custom_transformer_over_strings_is_served_without_a_sample(tmp_path: Path) -> None:
    frame, label = custom_frame()
    model = custom_pipeline().fit(frame, label)
    client = make_client(save(model, tmp_path))
    assert client.get("/ping").status_code == 200, client.get("/ping").json
    test = frame.iloc[:6].copy()
    test.loc[test.index[0], "comment"] = 'one, "two" three'
    body = test.to_csv(header=False, index=False).encode()
    r = client.post("/invocations", data=body, content_type="text/csv")
    assert r.status_code == 200, r.json
    assert predictions(r.data, "text/csv") == model.predict(test).tolist()


def test_when_no_row_can_be_made_the_reason_says_which_sample_to_add(tmp_path: Path) -> None:
    from signature_models import dates_pipeline

    model = dates_pipeline()
    client = make_client(save(model, tmp_path))
    r = client.get("/ping")
    assert r.status_code == 503
    assert "add sample_input.csv" in r.json["error"]
    assert "columns in this order: when" in r.json["error"]


# ------------------------------------------------------------ signature from the manifest


def tweet_signature(model_dir: Path) -> dict[str, object]:
    frame, _ = tweet_frame(n=30, seed=1)
    body = frame.to_csv(header=False, index=False).encode()
    out = derive(joblib.load(model_dir / "model.joblib"), body, "text/csv")
    assert "error" not in out, out
    return out["signature"]  # type: ignore[no-any-return]


def test_derive_states_kinds_and_proves_which_columns_may_be_missing(tweet_dir: Path) -> None:
    sig = Signature.from_json(tweet_signature(tweet_dir))
    assert sig.names == tuple(TWEET_COLUMNS)
    assert sig.kinds == ("string", "string", "string")
    assert sig.frame
    # keyword/location have missing values in the data; a vectorizer refuses a missing text.
    assert [c.optional for c in sig.columns] == [True, True, False]


def test_a_manifest_signature_refuses_a_missing_required_column(tweet_dir: Path,
                                                                tmp_path: Path) -> None:
    model_dir = save(joblib.load(tweet_dir / "model.joblib"), tmp_path / "m")
    write_manifest(model_dir, tweet_signature(tweet_dir))
    client = make_client(model_dir)
    assert client.get("/ping").status_code == 200
    r = client.post("/invocations", data=b"fire,Paris,\n", content_type="text/csv")
    assert r.status_code == 400
    assert "column 3 ('text') may not be missing" in r.json["error"]
    assert "line 1" in r.json["error"]
    # An optional column may be left out of a record entirely.
    r = client.post("/invocations", data=orjson.dumps([{"text": "big fire"}]),
                    content_type="application/json")
    assert r.status_code == 200, r.json
    r = client.post("/invocations", data=orjson.dumps([{"txt": "big fire"}]),
                    content_type="application/json")
    assert r.status_code == 400
    assert "'txt', which is not a column" in r.json["error"]


def test_a_manifest_signature_that_does_not_fit_the_model_is_503(tweet_dir: Path,
                                                                 tmp_path: Path) -> None:
    model_dir = save(joblib.load(tweet_dir / "model.joblib"), tmp_path / "m")
    sig = tweet_signature(tweet_dir)
    sig["columns"] = sig["columns"][:2]  # type: ignore[index]
    write_manifest(model_dir, sig)
    r = make_client(model_dir).get("/ping")
    assert r.status_code == 503
    assert "signature has 2 columns but the model takes 3" in r.json["error"]


def test_a_string_signature_keeps_numeric_looking_text_for_a_custom_transformer(
    tmp_path: Path,
) -> None:
    frame, label = custom_frame()
    model = custom_pipeline().fit(frame, label)
    model_dir = save(model, tmp_path / "m")
    out = derive(model, frame.to_csv(header=False, index=False).encode(), "text/csv")
    assert [c["kind"] for c in out["signature"]["columns"]] == ["string", "number"]
    write_manifest(model_dir, out["signature"])
    client = make_client(model_dir)
    # "12 7" is two words; read as text the custom transformer counts them.
    test = pd.DataFrame({"comment": pd.Series(["12", "1 2 3 4 5 6"], dtype=object),
                         "score": [0.1, 0.2]})
    r = client.post("/invocations", data=b"12,0.1\n1 2 3 4 5 6,0.2", content_type="text/csv",
                    headers={"Accept": "application/json",
                             "X-Amzn-SageMaker-Custom-Attributes": "output=probabilities"})
    assert r.status_code == 200, r.json
    np.testing.assert_allclose(r.json["predictions"], model.predict_proba(test))


def test_an_all_numeric_signature_keeps_the_numeric_path(iris_model_dir: Path,
                                                         tmp_path: Path) -> None:
    from smkit_serve import codecs

    model = joblib.load(iris_model_dir / "model.joblib")
    body = b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3"
    out = derive(model, body, "text/csv")
    sig = Signature.from_json(out["signature"])
    assert sig.kinds == ("number",) * 4
    assert sig.names == ("x1", "x2", "x3", "x4")
    model_dir = save(model, tmp_path / "m")
    write_manifest(model_dir, out["signature"])
    loaded = load_model(str(model_dir))
    assert loaded.schema.all_numeric
    assert codecs._numeric_csv_fast(body, loaded.schema) is not None
    client = make_client(model_dir)
    r = client.post("/invocations", data=body, content_type="text/csv")
    assert r.data.decode().split("\n") == [str(v) for v in model.predict(
        np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]))]
    # Records keyed by the signature's names work for a model fitted without names.
    r = client.post("/invocations", content_type="application/json",
                    data=orjson.dumps([{"x1": 5.1, "x2": 3.5, "x3": 1.4, "x4": 0.2}]))
    assert r.status_code == 200, r.json
    r = client.post("/invocations", data=b"5.1,3.5,oops,0.2", content_type="text/csv")
    assert "column 3 ('x3') must be a number, got 'oops' on line 1" in r.json["error"]


# --------------------------------------------------------------------- derive's reports


def test_derive_reports_codes_that_lost_their_leading_zeros(mixed_dir: Path) -> None:
    model = joblib.load(mixed_dir / "model.joblib")
    body = b"2134,1,true,60\n2139,2,false,70\n10001,3,true,80"
    out = derive(model, body, "text/csv")
    assert out["signature"]["columns"][0]["kind"] == "string"
    note = " ".join(out["notes"])
    assert "column 'zip'" in note
    assert "leading zeros" in note
    assert "smkit.yaml" in note


def test_derive_applies_overrides_and_proves_them(mixed_dir: Path) -> None:
    model = joblib.load(mixed_dir / "model.joblib")
    body = b"02134,1,true,60\n02139,2,false,70"
    out = derive(model, body, "text/csv", {"area": {"optional": False}})
    assert out["signature"]["columns"][3] == {"name": "area", "kind": "number",
                                              "optional": False}
    bad = derive(model, body, "text/csv", {"rooms": "boolean"})
    assert "rooms" in bad["error"]
    assert "boolean" in bad["error"]


def test_derive_names_a_sample_that_does_not_fit(mixed_dir: Path) -> None:
    model = joblib.load(mixed_dir / "model.joblib")
    out = derive(model, b"02134,1,true\n", "text/csv")
    assert "has 3 columns" in out["error"]
    assert "takes 4" in out["error"]


def test_whole_numbers_in_the_sample_alone_do_not_make_a_column_integer() -> None:
    from signature_models import WordCount
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    frame, label = custom_frame()
    frame["score"] = (frame["score"] * 10).round().astype(int)  # passed through as is
    pre = ColumnTransformer([("words", WordCount(), ["comment"])], remainder="passthrough")
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(frame, label)
    out = derive(model, frame.to_csv(header=False, index=False).encode(), "text/csv")
    assert [c["kind"] for c in out["signature"]["columns"]] == ["string", "number"]
