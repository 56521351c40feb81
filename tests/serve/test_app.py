"""The invocation logic through Flask's test client: every content type both ways, every error.

Expected predictions come from calling the fitted model directly, never from the server.
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
from sklearn.tree import DecisionTreeClassifier
from smkit_serve.app import create_app
from smkit_serve.handler import smoke_check
from smkit_serve.model import load_model
from smkit_serve.settings import Settings

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


def make_client(model_dir: Path, **settings: object) -> FlaskClient:
    s = Settings(model_dir=str(model_dir), **settings)  # type: ignore[arg-type]
    loaded = load_model(s.model_dir, s.program)
    smoke_check(loaded, s.model_dir)
    return create_app(s, loaded).test_client()


def csv_body(rows: list[list[object]]) -> bytes:
    return "\n".join(",".join(str(v) for v in row) for row in rows).encode()


def npy_body(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=arr.dtype == object)
    return buf.getvalue()


@pytest.fixture(scope="module")
def iris_client(iris_model_dir: Path) -> FlaskClient:
    return make_client(iris_model_dir)


@pytest.fixture(scope="module")
def iris_expected(iris_model_dir: Path) -> np.ndarray:
    return joblib.load(iris_model_dir / "model.joblib").predict(np.array(ROWS))


@pytest.fixture(scope="module")
def iris_proba(iris_model_dir: Path) -> np.ndarray:
    return joblib.load(iris_model_dir / "model.joblib").predict_proba(np.array(ROWS))


# ------------------------------------------------------------------ health and parameters


def test_ping_is_200_once_the_model_loaded_and_predicted(iris_client: FlaskClient) -> None:
    assert iris_client.get("/ping").status_code == 200


def test_ping_is_503_with_the_reason_when_there_is_no_model(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    r = client.get("/ping")
    assert r.status_code == 503
    assert "model.joblib" in r.json["error"]
    inv = client.post("/invocations", data=b"1,2", content_type="text/csv")
    assert inv.status_code == 503


def test_a_corrupt_model_is_503_and_says_to_resave(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"this is not a pickle")
    r = make_client(tmp_path).get("/ping")
    assert r.status_code == 503
    assert "joblib.dump" in r.json["error"]


def test_ping_is_503_when_the_start_up_prediction_fails(tmp_path: Path, iris) -> None:
    X, y = iris
    (tmp_path / "sample_input.csv").write_text("1,2,3\n")  # wrong width for the model
    from sklearn.tree import DecisionTreeClassifier

    joblib.dump(DecisionTreeClassifier().fit(X, y), tmp_path / "model.joblib")
    r = make_client(tmp_path).get("/ping")
    assert r.status_code == 503
    assert "expected 4 columns, got 3" in r.json["error"]


def test_execution_parameters_follow_workers_and_batch_settings(iris_model_dir: Path) -> None:
    client = make_client(iris_model_dir, max_concurrent_transforms=3, batch_payload_mb=12,
                         batch_strategy="SINGLE_RECORD")
    r = client.get("/execution-parameters")
    assert r.status_code == 200
    assert r.json == {"MaxConcurrentTransforms": 3, "BatchStrategy": "SINGLE_RECORD",
                      "MaxPayloadInMB": 12}


# ------------------------------------------------------------------ every type in


def test_csv_in_gives_one_label_per_line_without_a_trailing_newline(
    iris_client: FlaskClient, iris_expected: np.ndarray
) -> None:
    r = iris_client.post("/invocations", data=csv_body(ROWS), content_type="text/csv",
                         headers={"Accept": "text/csv"})
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert not r.data.endswith(b"\n")
    assert [int(x) for x in r.data.decode().split("\n")] == iris_expected.tolist()


def test_csv_with_crlf_and_a_trailing_newline_is_the_same_records(
    iris_client: FlaskClient, iris_expected: np.ndarray
) -> None:
    body = csv_body(ROWS).replace(b"\n", b"\r\n") + b"\r\n"
    r = iris_client.post("/invocations", data=body, content_type="text/csv; charset=utf-8")
    assert r.status_code == 200
    assert len(r.data.split(b"\n")) == len(ROWS)


@pytest.mark.parametrize(
    "doc",
    [
        ROWS,
        {"instances": ROWS},
        {"inputs": ROWS},
    ],
)
def test_json_in_accepts_rows_instances_and_inputs(
    iris_client: FlaskClient, iris_expected: np.ndarray, doc: object
) -> None:
    r = iris_client.post("/invocations", data=orjson.dumps(doc), content_type="application/json")
    assert r.status_code == 200, r.data
    assert r.json == {"predictions": iris_expected.tolist()}


def test_jsonlines_in_and_out_is_one_line_per_record(
    iris_client: FlaskClient, iris_expected: np.ndarray
) -> None:
    body = b"\n".join(orjson.dumps(row) for row in ROWS)
    r = iris_client.post("/invocations", data=body, content_type="application/jsonlines")
    assert r.status_code == 200
    assert r.mimetype == "application/jsonlines"
    assert [orjson.loads(line) for line in r.data.split(b"\n")] == iris_expected.tolist()


def test_npy_in_and_out_round_trips(iris_client: FlaskClient, iris_expected: np.ndarray) -> None:
    r = iris_client.post("/invocations", data=npy_body(np.array(ROWS)),
                         content_type="application/x-npy")
    assert r.status_code == 200
    assert r.mimetype == "application/x-npy"
    out = np.load(io.BytesIO(r.data), allow_pickle=False)
    assert out.tolist() == iris_expected.tolist()


@pytest.mark.parametrize("accept", ["text/csv", "application/json", "application/jsonlines",
                                    "application/x-npy"])
def test_every_accept_type_encodes_the_same_predictions(
    iris_client: FlaskClient, iris_expected: np.ndarray, accept: str
) -> None:
    r = iris_client.post("/invocations", data=csv_body(ROWS), content_type="text/csv",
                         headers={"Accept": accept})
    assert r.status_code == 200
    assert r.mimetype == accept
    if accept == "text/csv":
        got = [int(x) for x in r.data.split(b"\n")]
    elif accept == "application/json":
        got = r.json["predictions"]
    elif accept == "application/jsonlines":
        got = [orjson.loads(x) for x in r.data.split(b"\n")]
    else:
        got = np.load(io.BytesIO(r.data)).tolist()
    assert got == iris_expected.tolist()


# ------------------------------------------------------------------ accept negotiation


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json;q=0.5, text/csv;q=0.9", "text/csv"),
        ("application/jsonlines, text/csv", "application/jsonlines"),
        ("image/png, application/json;q=0.1", "application/json"),
        ("*/*", "text/csv"),
        ("application/*", "application/json"),
        ("text/csv;q=0, application/json", "application/json"),
    ],
)
def test_accept_takes_the_highest_q_then_the_first(
    iris_client: FlaskClient, accept: str, expected: str
) -> None:
    r = iris_client.post("/invocations", data=csv_body(ROWS), content_type="text/csv",
                         headers={"Accept": accept})
    assert r.status_code == 200
    assert r.mimetype == expected


def test_no_accept_mirrors_the_request_type(iris_client: FlaskClient) -> None:
    r = iris_client.post("/invocations", data=orjson.dumps(ROWS), content_type="application/json")
    assert r.mimetype == "application/json"


def test_configured_default_accept_answers_star_slash_star(iris_model_dir: Path) -> None:
    client = make_client(iris_model_dir, default_accept="application/jsonlines")
    r = client.post("/invocations", data=csv_body(ROWS), content_type="text/csv",
                    headers={"Accept": "*/*"})
    assert r.mimetype == "application/jsonlines"


def test_unsupported_accept_is_406_listing_the_types(iris_client: FlaskClient) -> None:
    r = iris_client.post("/invocations", data=csv_body(ROWS), content_type="text/csv",
                         headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert "text/csv" in r.json["error"]
    assert "application/x-npy" in r.json["error"]


# ------------------------------------------------------------------ probabilities


def test_custom_attributes_ask_for_probabilities_and_are_echoed(
    iris_client: FlaskClient, iris_proba: np.ndarray
) -> None:
    attrs = "trace=abc, output=probabilities"
    r = iris_client.post("/invocations", data=csv_body(ROWS), content_type="text/csv",
                         headers={"Accept": "application/json",
                                  "X-Amzn-SageMaker-Custom-Attributes": attrs})
    assert r.status_code == 200
    assert np.allclose(r.json["predictions"], iris_proba)
    assert r.headers["X-Amzn-SageMaker-Custom-Attributes"] == attrs


def test_probabilities_as_csv_are_one_row_of_class_columns_per_record(
    iris_client: FlaskClient, iris_proba: np.ndarray
) -> None:
    r = iris_client.post("/invocations", data=csv_body(ROWS), content_type="text/csv",
                         headers={"X-Amzn-SageMaker-Custom-Attributes": "output=probabilities"})
    lines = r.data.decode().split("\n")
    assert len(lines) == len(ROWS)
    assert np.allclose([[float(v) for v in line.split(",")] for line in lines], iris_proba)


def test_settings_default_can_be_probabilities(iris_model_dir: Path, iris_proba) -> None:
    client = make_client(iris_model_dir, default_output="probabilities")
    r = client.post("/invocations", data=orjson.dumps(ROWS), content_type="application/json")
    assert np.allclose(r.json["predictions"], iris_proba)


def test_unknown_custom_attributes_are_ignored(
    iris_client: FlaskClient, iris_expected: np.ndarray
) -> None:
    r = iris_client.post("/invocations", data=orjson.dumps(ROWS), content_type="application/json",
                         headers={"X-Amzn-SageMaker-Custom-Attributes": "foo=bar;baz"})
    assert r.status_code == 200
    assert r.json["predictions"] == iris_expected.tolist()


def test_custom_attributes_over_1024_characters_are_400(iris_client: FlaskClient) -> None:
    r = iris_client.post("/invocations", data=csv_body(ROWS), content_type="text/csv",
                         headers={"X-Amzn-SageMaker-Custom-Attributes": "a=" + "x" * 1023})
    assert r.status_code == 400
    assert "1024" in r.json["error"]


def test_probabilities_from_a_regressor_are_400(regressor_model_dir: Path) -> None:
    client = make_client(regressor_model_dir)
    r = client.post("/invocations", data=csv_body([[0.0] * 10]), content_type="text/csv",
                    headers={"X-Amzn-SageMaker-Custom-Attributes": "output=probabilities"})
    assert r.status_code == 400
    assert "cannot return probabilities" in r.json["error"]


# ------------------------------------------------------------------ pipelines with strings


def test_a_dataframe_pipeline_takes_headerless_csv_with_string_columns(
    pipeline_model_dir: Path,
) -> None:
    from smkit_testkit import penguin_like_frame

    frame, _ = penguin_like_frame(n=5, seed=1)
    expected = joblib.load(pipeline_model_dir / "model.joblib").predict(frame)
    body = frame.to_csv(header=False, index=False).encode()
    client = make_client(pipeline_model_dir)
    assert client.get("/ping").status_code == 200
    r = client.post("/invocations", data=body, content_type="text/csv")
    assert r.status_code == 200, r.data
    assert r.data.decode().split("\n") == expected.tolist()


def test_json_records_keyed_by_feature_name_in_any_order(pipeline_model_dir: Path) -> None:
    from smkit_testkit import penguin_like_frame

    frame, _ = penguin_like_frame(n=4, seed=2)
    expected = joblib.load(pipeline_model_dir / "model.joblib").predict(frame)
    records = [dict(reversed(list(rec.items()))) for rec in frame.to_dict(orient="records")]
    client = make_client(pipeline_model_dir)
    r = client.post("/invocations", data=orjson.dumps({"instances": records}),
                    content_type="application/json")
    assert r.status_code == 200, r.data
    assert r.json["predictions"] == expected.tolist()
    lines = b"\n".join(orjson.dumps(rec) for rec in records)
    r = client.post("/invocations", data=lines, content_type="application/jsonlines",
                    headers={"Accept": "text/csv"})
    assert r.data.decode().split("\n") == expected.tolist()


def test_a_record_missing_a_feature_names_it(pipeline_model_dir: Path) -> None:
    client = make_client(pipeline_model_dir)
    rec = {"island": "Dream", "bill_length_mm": 40.0, "sex": "male"}
    r = client.post("/invocations", data=orjson.dumps([rec]), content_type="application/json")
    assert r.status_code == 400
    assert "'body_mass_g'" in r.json["error"]
    assert "row 1" in r.json["error"]


def test_text_in_a_numeric_column_names_column_and_line(pipeline_model_dir: Path) -> None:
    client = make_client(pipeline_model_dir)
    body = b"Dream,40.1,male,3900\nBiscoe,abc,female,4100"
    r = client.post("/invocations", data=body, content_type="text/csv")
    assert r.status_code == 400
    assert "column 2 ('bill_length_mm') must be a number" in r.json["error"]
    assert "line 2" in r.json["error"]


def test_a_header_row_is_recognised_and_refused(pipeline_model_dir: Path) -> None:
    client = make_client(pipeline_model_dir)
    body = b"island,bill_length_mm,sex,body_mass_g\nDream,40.1,male,3900"
    r = client.post("/invocations", data=body, content_type="text/csv")
    assert r.status_code == 400
    assert "header" in r.json["error"]


def test_an_unknown_category_is_a_400_not_a_500(pipeline_model_dir: Path) -> None:
    client = make_client(pipeline_model_dir)
    r = client.post("/invocations", data=b"Atlantis,40.1,male,3900", content_type="text/csv")
    assert r.status_code == 400
    assert "rejected the input" in r.json["error"]


def test_quoted_csv_fields_with_commas_are_one_cell(pipeline_model_dir: Path) -> None:
    client = make_client(pipeline_model_dir)
    r = client.post("/invocations", data=b'"Dream",40.1,"male",3900', content_type="text/csv")
    assert r.status_code == 200, r.data


def test_empty_csv_cells_are_missing_values(tmp_path: Path, iris) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = iris
    joblib.dump(HistGradientBoostingClassifier(max_iter=5).fit(X, y), tmp_path / "model.joblib")
    r = make_client(tmp_path).post("/invocations", data=b"5.1,,1.4,0.2", content_type="text/csv")
    assert r.status_code == 200, r.data


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"5.1,3.5,1.4\n6.7,3.0,5.2,2.3", "text/csv", "expected 4 columns, got 3 on line 1"),
        (b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2", "text/csv", "expected 4 columns, got 3 on line 2"),
        (b"5.1,3.5,1.4,0.2\n\n6.7,3.0,5.2,2.3", "text/csv", "line 2 is empty"),
        # Eight numbers on two lines, but ragged: the fast path must not reshape them.
        (b"1,2,3\n4,5,6,7,8", "text/csv", "expected 4 columns, got 3 on line 1"),
        (b"", "text/csv", "empty"),
        (b"\xff\xfe,1,2,3", "text/csv", "not valid utf-8"),
        (b'"5.1,3.5', "text/csv", "malformed CSV"),
        (b"[[5.1, 3.5, 1.4, 0.2]", "application/json", "malformed JSON"),
        (b'{"rows": [[1,2,3,4]]}', "application/json", '"instances"'),
        (b"42", "application/json", "got a JSON int"),
        (b"[]", "application/json", "no rows"),
        (b"[[1,2,3,[4]]]", "application/json", "nested list"),
        (b"[[1,2,3,4],[1,2]]", "application/json", "expected 4 columns, got 2 on row 2"),
        (b'[{"a": 1}]', "application/json", "no feature names"),
        (b"[1,2,3,4]\n{oops", "application/jsonlines", "malformed JSON on line 2"),
        (b"[1,2,3,4]\n7", "application/jsonlines", "line 2 is a JSON int"),
        (b"\x93NUMPY garbage", "application/x-npy", "not a valid .npy"),
        (b"1,a,2,3", "text/csv", "column 2 must be a number, got 'a' on line 1"),
    ],
)
def test_malformed_bodies_are_400_with_what_to_fix(
    iris_client: FlaskClient, body: bytes, content_type: str, fragment: str
) -> None:
    r = iris_client.post("/invocations", data=body, content_type=content_type)
    assert r.status_code == 400, r.data
    assert fragment.lower() in r.json["error"].lower()
    assert "Traceback" not in r.get_data(as_text=True)


def test_npy_object_arrays_are_refused_without_unpickling(iris_client: FlaskClient) -> None:
    evil = np.array([[object()]], dtype=object)
    r = iris_client.post("/invocations", data=npy_body(evil), content_type="application/x-npy")
    assert r.status_code == 400
    assert "unpickle" in r.json["error"]


def test_npy_with_the_wrong_width_says_expected_and_got(iris_client: FlaskClient) -> None:
    r = iris_client.post("/invocations", data=npy_body(np.zeros((2, 3))),
                         content_type="application/x-npy")
    assert r.status_code == 400
    assert "expected 4 columns, got 3" in r.json["error"]


def test_unsupported_content_type_is_415_listing_the_types(iris_client: FlaskClient) -> None:
    r = iris_client.post("/invocations", data=b"x", content_type="text/plain")
    assert r.status_code == 415
    for t in ("text/csv", "application/json", "application/jsonlines", "application/x-npy"):
        assert t in r.json["error"]


def test_a_body_over_6_mb_is_413_on_a_real_time_endpoint(iris_client: FlaskClient) -> None:
    body = b"5.1,3.5,1.4,0.2\n" * (7 * 1024 * 1024 // 16)
    r = iris_client.post("/invocations", data=body, content_type="text/csv")
    assert r.status_code == 413
    assert "6 MB" in r.json["error"]


def test_batch_mode_accepts_bodies_up_to_max_payload(iris_model_dir: Path) -> None:
    s = Settings.from_env({"SMKIT_MODEL_DIR": str(iris_model_dir), "SAGEMAKER_BATCH": "true",
                           "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"})
    loaded = load_model(s.model_dir)
    smoke_check(loaded, s.model_dir)
    client = create_app(s, loaded).test_client()
    rows = 7 * 1024 * 1024 // 16
    r = client.post("/invocations", data=b"5.1,3.5,1.4,0.2\n" * rows, content_type="text/csv")
    assert r.status_code == 200
    assert r.data.count(b"\n") == rows - 1
    big = b"5.1,3.5,1.4,0.2\n" * (21 * 1024 * 1024 // 16)
    assert client.post("/invocations", data=big, content_type="text/csv").status_code == 413


def test_unknown_routes_and_methods_are_json_errors(iris_client: FlaskClient) -> None:
    assert iris_client.get("/nope").status_code == 404
    r = iris_client.get("/invocations")
    assert r.status_code == 405
    assert "POST" in r.headers["Allow"]  # RFC 9110 requires Allow on a 405
    assert "error" in r.json


# ------------------------------------------------------------------ seller hooks


HOOKS = '''
import json
import numpy as np

def model_fn(model_dir):
    import joblib, os
    return {"inner": joblib.load(os.path.join(model_dir, "model.joblib")), "scale": 10}

def input_fn(body, content_type):
    if content_type != "application/json":
        raise ValueError("only JSON, please")
    return np.array(json.loads(body)["x"], dtype=float)

def predict_fn(data, model):
    return model["inner"].predict(data) * model["scale"]

def output_fn(prediction, accept):
    return json.dumps({"scaled": prediction.tolist()}), "application/vnd.custom+json"
'''


def test_inference_py_hooks_replace_every_step(tmp_path: Path, iris, iris_expected) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), tmp_path / "model.joblib")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(HOOKS)
    # model_fn returns a dict, so the start-up check needs the seller's sample input.
    assert make_client(tmp_path).get("/ping").status_code == 503
    (tmp_path / "sample_input.json").write_bytes(orjson.dumps({"x": ROWS[:1]}))
    client = make_client(tmp_path)
    assert client.get("/ping").status_code == 200
    r = client.post("/invocations", data=orjson.dumps({"x": ROWS}),
                    content_type="application/json")
    assert r.status_code == 200, r.data
    assert r.mimetype == "application/vnd.custom+json"
    assert r.json == {"scaled": (iris_expected * 10).tolist()}
    bad = client.post("/invocations", data=b"1,2,3,4", content_type="text/csv")
    assert bad.status_code == 400
    assert "only JSON" in bad.json["error"]


def test_a_hook_that_fails_to_import_is_503_with_the_module(tmp_path: Path, iris) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    joblib.dump(DecisionTreeClassifier().fit(X, y), tmp_path / "model.joblib")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("import xgboost_not_here\n")
    r = make_client(tmp_path).get("/ping")
    assert r.status_code == 503
    assert "xgboost_not_here" in r.json["error"]


class Exploding:
    """A model whose predict raises something that is not the caller's fault."""

    n_features_in_ = 4

    def __init__(self) -> None:
        self.armed = False

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.armed:
            raise RuntimeError("GPU on fire: secret=hunter2")
        return np.zeros(len(X))


def test_a_model_failure_is_500_without_the_traceback_or_message(tmp_path: Path) -> None:
    s = Settings(model_dir=str(tmp_path))
    loaded = load_model(str(tmp_path))
    loaded.model = Exploding()
    loaded.reason = ""
    smoke_check(loaded, str(tmp_path))
    loaded.model.armed = True
    client = create_app(s, loaded).test_client()
    r = client.post("/invocations", data=csv_body(ROWS), content_type="text/csv")
    assert r.status_code == 500
    text = r.get_data(as_text=True)
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert "log" in r.json["error"]


def test_a_model_returning_the_wrong_number_of_rows_is_500(tmp_path: Path) -> None:
    class Short(Exploding):
        def predict(self, X: np.ndarray) -> np.ndarray:
            return np.zeros(max(1, len(X) - 1))

    loaded = load_model(str(tmp_path))
    loaded.model = Short()
    smoke_check(loaded, str(tmp_path))
    client = create_app(Settings(model_dir=str(tmp_path)), loaded).test_client()
    r = client.post("/invocations", data=csv_body(ROWS), content_type="text/csv")
    assert r.status_code == 500
    assert "3 records" in r.json["error"]


def test_string_labels_are_quoted_in_csv_when_needed(tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    y = np.array(["plain", "with,comma", "plain", "with,comma"])
    from sklearn.tree import DecisionTreeClassifier

    joblib.dump(DecisionTreeClassifier().fit(X, y), tmp_path / "model.joblib")
    r = make_client(tmp_path).post("/invocations", data=b"1\n0", content_type="text/csv")
    assert r.status_code == 200
    assert r.data == b'"with,comma"\nplain'


# ------------------------------------------------------------------ metering


def test_per_inference_metering_counts_records_on_success_only(iris_model_dir: Path) -> None:
    s = Settings.from_env({"SMKIT_MODEL_DIR": str(iris_model_dir),
                           "SMKIT_METERING": "per-inference"})
    loaded = load_model(s.model_dir)
    smoke_check(loaded, s.model_dir)
    client = create_app(s, loaded).test_client()
    r = client.post("/invocations", data=csv_body(ROWS), content_type="text/csv")
    assert r.status_code == 200
    assert orjson.loads(r.headers["X-Amzn-Inference-Metering"]) == {
        "Dimension": "inference.count", "ConsumedUnits": len(ROWS)}
    bad = client.post("/invocations", data=b"1,2", content_type="text/csv")
    assert bad.status_code == 400
    assert "X-Amzn-Inference-Metering" not in bad.headers


def test_metering_is_off_by_default(iris_client: FlaskClient) -> None:
    r = iris_client.post("/invocations", data=csv_body(ROWS), content_type="text/csv")
    assert "X-Amzn-Inference-Metering" not in r.headers


def test_settings_refuse_values_they_cannot_use() -> None:
    from smkit_serve.settings import SettingsError

    for env in ({"SAGEMAKER_MODEL_SERVER_WORKERS": "lots"},
                {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "101"},
                {"SAGEMAKER_BATCH_STRATEGY": "SOMETIMES"},
                {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "image/png"},
                {"SMKIT_METERING": "per-hour"}):
        with pytest.raises(SettingsError):
            Settings.from_env(env)


def test_concurrency_times_payload_stays_within_100() -> None:
    s = Settings.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "64",
                           "SAGEMAKER_MAX_PAYLOAD_IN_MB": "10", "SAGEMAKER_BATCH": "true"})
    assert s.max_concurrent_transforms * s.batch_payload_mb <= 100


# ------------------------------------------------------------------ integrity and skops


def write_manifest(model_dir: Path) -> None:
    from smkit_contract import manifest

    rels = [p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file()]
    versions = {k: "x" for k in manifest.VERSION_KEYS}
    doc = manifest.build(manifest.file_entries(model_dir, rels), versions, "img", None,
                         {"task": "classification"}, None)
    (model_dir / manifest.FILENAME).write_bytes(manifest.dumps(doc))


def test_a_model_matching_its_manifest_serves(tmp_path: Path, iris) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    joblib.dump(DecisionTreeClassifier().fit(X, y), tmp_path / "model.joblib")
    write_manifest(tmp_path)
    assert make_client(tmp_path).get("/ping").status_code == 200


def test_a_tampered_model_is_refused_before_it_is_unpickled(tmp_path: Path, iris) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    joblib.dump(DecisionTreeClassifier().fit(X, y), tmp_path / "model.joblib")
    write_manifest(tmp_path)
    joblib.dump(DecisionTreeClassifier(max_depth=1).fit(X, y), tmp_path / "model.joblib")
    r = make_client(tmp_path).get("/ping")
    assert r.status_code == 503
    assert "model.joblib: " in r.json["error"]
    assert "does not match manifest.json" in r.json["error"]


def test_code_added_after_packaging_is_refused(tmp_path: Path, iris) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    joblib.dump(DecisionTreeClassifier().fit(X, y), tmp_path / "model.joblib")
    write_manifest(tmp_path)
    (tmp_path / "code").mkdir()
    marker = tmp_path / "ran"
    (tmp_path / "code" / "inference.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    r = make_client(tmp_path).get("/ping")
    assert r.status_code == 503
    assert "code/inference.py: not listed" in r.json["error"]
    assert not marker.exists()  # the injected code never ran


def test_a_skops_model_serves_without_pickle(tmp_path: Path, iris, iris_expected) -> None:
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    sio.dump(DecisionTreeClassifier(random_state=0).fit(X, y), tmp_path / "model.skops")
    client = make_client(tmp_path)
    assert client.get("/ping").status_code == 200
    r = client.post("/invocations", data=csv_body(ROWS), content_type="text/csv")
    assert [int(v) for v in r.data.split(b"\n")] == iris_expected.tolist()


class Custom(DecisionTreeClassifier):
    """A subclass skops does not trust by default."""


def test_a_skops_model_with_untrusted_types_names_them(tmp_path: Path, iris) -> None:
    import skops.io as sio

    X, y = iris
    sio.dump(Custom().fit(X, y), tmp_path / "model.skops")
    r = make_client(tmp_path).get("/ping")
    assert r.status_code == 503
    assert "Custom" in r.json["error"]
    assert "skops-trusted.txt" in r.json["error"]


def test_files_the_server_never_reads_need_not_be_listed(tmp_path: Path, iris) -> None:
    X, y = iris
    joblib.dump(DecisionTreeClassifier().fit(X, y), tmp_path / "model.joblib")
    write_manifest(tmp_path)
    # SageMaker local mode mounts the tarball beside what it unpacked.
    (tmp_path / "model.tar.gz").write_bytes(b"\x1f\x8b not read")
    assert make_client(tmp_path).get("/ping").status_code == 200
    (tmp_path / "extra.joblib").write_bytes(b"a second model is read: it must be listed")
    r = make_client(tmp_path).get("/ping")
    assert r.status_code == 503
    assert "extra.joblib: not listed" in r.json["error"]


def test_an_uncompressed_models_arrays_are_mapped_from_the_file_and_still_writable(
        tmp_path) -> None:
    """Issue 14: big models stay shared. joblib maps an uncompressed file's arrays
    copy-on-write, so workers share their pages and a model that writes still can."""
    import numpy as np
    from sklearn.linear_model import LinearRegression
    from smkit_serve.model import load_model

    X = np.random.default_rng(0).random((50, 3))
    joblib.dump(LinearRegression().fit(X, X @ [1.0, 2.0, 3.0]), tmp_path / "model.joblib")
    loaded = load_model(str(tmp_path))
    assert isinstance(loaded.model.coef_, np.memmap)
    assert loaded.model.coef_.flags.writeable
    np.testing.assert_allclose(loaded.model.predict(X[:2]), X[:2] @ [1.0, 2.0, 3.0])
    compressed = tmp_path / "c"
    compressed.mkdir()
    joblib.dump(LinearRegression().fit(X, X @ [1.0, 2.0, 3.0]), compressed / "model.joblib",
                compress=3)
    assert not isinstance(load_model(str(compressed)).model.coef_, np.memmap)
