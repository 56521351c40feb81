"""``smkit listing init`` from a model package in moto, the model's manifest and the real image."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import boto3
import joblib
import numpy as np
import pytest
import yaml
from listing_kit import ROLE_ARN, Server, create_package, fill_todos
from sklearn.datasets import load_iris
from smkit.cli import main

SAMPLE_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]


def _model_with_manifest(src: Path, dest: Path) -> Path:
    """Copy the iris model and add a sample input and a valid smkit-manifest/1."""
    shutil.copytree(src, dest)
    (dest / "sample_input.csv").write_text("\n".join(",".join(map(str, r)) for r in SAMPLE_ROWS))
    files = {p.name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                      "size": p.stat().st_size} for p in sorted(dest.iterdir())}
    manifest = {
        "format": "smkit-manifest/1", "files": files,
        "versions": {"python": "3.11", "scikit-learn": "x", "numpy": "x", "joblib": "x",
                     "scipy": "x", "pandas": "x", "smkit": "0.1.0"},
        "image": {"uri": "smkit-inference:latest", "digest": None},
        "model": {"type": "DecisionTreeClassifier", "task": "classification", "n_features": 4,
                  "feature_names": ["sepal_length", "sepal_width", "petal_length",
                                    "petal_width"],
                  "classes": [0, 1, 2]},
        "sample_input": "sample_input.csv",
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return dest


@pytest.fixture
def sagemaker_on_moto(moto: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """Point boto3's SageMaker and S3 clients at the moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", moto.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto.url)
    return moto


@pytest.mark.container
def test_init_measures_the_model_and_writes_samples_produced_by_it(
        sagemaker_on_moto: Server, catalog: Server, image: str, iris_model_dir: Path,
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    arn = create_package(sagemaker_on_moto.url, "iris-init", realtime=["ml.m5.large"],
                         batch=["ml.m5.large", "ml.c5.xlarge"], metering="per-inference")
    model_dir = _model_with_manifest(iris_model_dir, tmp_path / "model")
    X, y = load_iris(return_X_y=True)
    rows = list(range(0, 150, 5))
    validation = tmp_path / "validation.csv"
    validation.write_text("\n".join(",".join([*map(str, X[i]), str(y[i])]) for i in rows))
    out = tmp_path / "listing" / "listing.yaml"
    out.parent.mkdir()

    code = main(["listing", "init", "--model-package", arn, "--model-dir", str(model_dir),
                 "--validation", str(validation), "--image", image, "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert 'metering header: {"Dimension": "inference.count", "ConsumedUnits": 3}' in printed.out

    model = joblib.load(model_dir / "model.joblib")
    expected = model.predict(np.array(SAMPLE_ROWS))
    sample_out = (out.parent / "samples" / "output.csv").read_text()
    assert [int(float(v)) for v in sample_out.split()] == expected.tolist()
    assert (out.parent / "samples" / "input.csv").read_text() == \
        (model_dir / "sample_input.csv").read_text()

    text = out.read_text()
    assert "&id" not in text  # every value in place: two sections' one date is not an alias
    data = yaml.safe_load(text)
    accuracy = float(np.mean(model.predict(X[rows]) == y[rows]))
    assert data["accuracy"]["metric"] == "accuracy"
    assert data["accuracy"]["value"] == pytest.approx(accuracy, abs=1e-4)
    assert data["accuracy"]["dataset"] == "30 held-out rows"  # no file of the seller's
    perf = data["performance"]
    assert perf["instance_type"] == "ml.m5.large"
    assert 0 < perf["latency_ms_p50"] <= perf["latency_ms_p95"]
    assert perf["throughput_per_s"] > 0
    # A batch transform of the sample's records, mini-batched: what a buyer's plan uses.
    assert perf["batch_throughput_per_s"] > perf["throughput_per_s"]
    assert "records: the 30 held-out rows, repeated)" in printed.out
    # Measured under ml.m5.large's limits, and it says so (2 vCPUs fit on this machine).
    assert perf["measured_on"] == "local Docker limited to ml.m5.large's 2 vCPUs and 8 GiB"
    assert perf["measured_by"] == "smkit listing init"
    assert perf["measured_at"]
    delivery = data["delivery"]
    assert delivery["model_package_arn"] == arn
    assert delivery["supported_instance_types"] == {"realtime": ["ml.m5.large"],
                                                    "batch": ["ml.m5.large", "ml.c5.xlarge"]}
    assert delivery["metering"] == "per-inference"
    assert data["pricing"]["model"] == "per-inference"
    assert set(data["pricing"]["batch"]) == {"ml.m5.large", "ml.c5.xlarge"}
    assert [p["name"] for p in delivery["input"]["parameters"]] == [
        "sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert "one of 0, 1, 2" in delivery["output"]["description"]
    assert "--content-type text/csv" in delivery["usage_instructions"]

    # The starter is not publishable until the seller replaces every TODO ...
    assert main(["listing", "check", str(out)]) == 2
    assert "product.title: still holds the TODO placeholder" in capsys.readouterr().err
    # ... and then it is, and the Catalog API (emulator) accepts it.
    out.write_text(yaml.safe_dump(fill_todos(data), sort_keys=False))
    assert main(["listing", "check", str(out), "--against-package"]) == 0
    assert "they agree" in capsys.readouterr().out
    monkeypatch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_CATALOG", catalog.url)
    assert main(["listing", "publish", str(out), "--intent", "VALIDATE",
                 "--interval", "0.1"]) == 0
    assert "SUCCEEDED" in capsys.readouterr().out


def test_init_downloads_the_model_from_the_package_when_no_dir_is_given(
        sagemaker_on_moto: Server, iris_model_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    arn = create_package(sagemaker_on_moto.url, "iris-s3", realtime=["ml.m5.large"],
                         batch=["ml.m5.large"])
    model_dir = _model_with_manifest(iris_model_dir, tmp_path / "model")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in model_dir.iterdir():
            tar.add(p, arcname=p.name)
    s3 = boto3.client("s3", endpoint_url=sagemaker_on_moto.url, region_name="us-east-1")
    s3.create_bucket(Bucket="smkit-models")
    s3.put_object(Bucket="smkit-models", Key="iris/model.tar.gz", Body=buf.getvalue())
    out = tmp_path / "listing.yaml"

    assert main(["listing", "init", "--model-package", arn, "--no-measure",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    data = yaml.safe_load(out.read_text())
    assert data["delivery"]["input"]["parameters"][0]["name"] == "sepal_length"
    assert data["pricing"]["model"] == "hourly"
    assert data["performance"]["latency_ms_p50"].startswith("TODO")
    assert (tmp_path / "samples" / "input.csv").read_text().startswith("5.1,3.5,1.4,0.2")
    notebook = json.loads((tmp_path / "notebook" / "sample-notebook.ipynb").read_text())
    assert arn in "".join(notebook["cells"][1]["source"])
    assert "notebook/sample-notebook.ipynb" in data["delivery"]["sample_notebook_url"]


def test_init_refuses_a_package_not_certified_for_marketplace(
        sagemaker_on_moto: Server, iris_model_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    arn = create_package(sagemaker_on_moto.url, "iris-nocert", realtime=["ml.m5.large"],
                         batch=["ml.m5.large"], certify=False)
    code = main(["listing", "init", "--model-package", arn, "--model-dir", str(iris_model_dir),
                 "--no-measure", "--out", str(tmp_path / "listing.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "CertifyForMarketplace=False" in err
    assert "Traceback" not in err


def test_init_reports_an_unknown_model_package_as_the_service_answered(
        sagemaker_on_moto: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/nothing-here"
    code = main(["listing", "init", "--model-package", arn, "--no-measure",
                 "--out", str(tmp_path / "listing.yaml")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"DescribeModelPackage {arn}" in err


# ----------------------------------------------------------------------------- the starter
# These run without Docker: the starter's data, and what becomes of it once filled in.

def _facts(**overrides: Any) -> Any:
    from smkit.listing.starter import PackageFacts

    values: dict[str, Any] = {
        "arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/iris-tree",
        "description": "Iris decision tree", "realtime": ["ml.m5.large"],
        "batch": ["ml.m5.large"], "content_types": ["text/csv"], "response_types": ["text/csv"],
        "environment": {}, "model_data_url": None, "certified": True}
    values.update(overrides)
    return PackageFacts(**values)


def _starter() -> dict[str, Any]:
    from smkit.listing.starter import build_starter

    manifest = {"model": {"type": "DecisionTreeClassifier", "task": "classification",
                          "feature_names": ["a", "b"], "classes": [0, 1]}}
    return build_starter(_facts(), manifest, None, sample=b"1,2\n3,4",
                         sample_name="samples/input.csv", output_name="samples/output.csv",
                         content_type="text/csv", access_role_arn=None, region="us-east-1")


def _empties(node: Any, where: str = "") -> list[str]:
    if isinstance(node, dict):
        return [e for k, v in node.items() for e in _empties(v, f"{where}.{k}".lstrip("."))]
    if isinstance(node, list):
        return [where] if not node and where.endswith("keywords") else [
            e for i, v in enumerate(node) for e in _empties(v, f"{where}[{i}]")]
    return [where] if node == "" else []


def test_the_starter_writes_no_empty_value_and_asks_for_a_keyword_and_the_repository() -> None:
    data = _starter()
    assert _empties(data) == []
    assert len(data["product"]["keywords"]) == 1
    assert data["product"]["keywords"][0].startswith("TODO")
    assert data["delivery"]["repository_url"].startswith("TODO")
    assert "limitations" not in data["delivery"]["input"]
    assert all(p.get("constraints", "x") != "" for p in data["delivery"]["input"]["parameters"])


def test_the_filled_starter_passes_every_aws_rule(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = fill_todos(_starter())
    data["performance"].update({"latency_ms_p50": 2.0, "latency_ms_p95": 3.0,
                                "throughput_per_s": 100.0, "measured_on": "a laptop"})
    data["accuracy"].update({"value": 0.9})
    data["delivery"]["access_role_arn"] = ROLE_ARN
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "input.csv").write_text("1,2\n3,4")
    (tmp_path / "samples" / "output.csv").write_text("0\n1")
    path = tmp_path / "listing.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["listing", "check", str(path)]) == 0, capsys.readouterr().err


def test_a_long_sample_is_trimmed_to_whole_records_and_said_so() -> None:
    from smkit.listing.starter import SAMPLE_INLINE_MAX, trim_sample

    # A sample text may hold 10,000 characters (Sample.RealtimeInferenceText maxLength,
    # MachineLearningProduct@1.0 schema); the starter keeps each one to 3,000.
    assert SAMPLE_INLINE_MAX <= 10000
    rows = [",".join(["1.2345678"] * 10) for _ in range(100)]  # 99 characters each
    body, kept, total = trim_sample("\n".join(rows).encode(), limit=1000)
    assert (kept, total) == (10, 100)
    assert body.decode().splitlines() == rows[:10]
    assert len(body.decode()) <= 1000
    with pytest.raises(Exception, match="first record has 5000 characters"):
        trim_sample(b"9" * 5000, limit=1000)


def test_init_trims_a_sample_input_longer_than_the_listing_inlines(
        sagemaker_on_moto: Server, iris_model_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    arn = create_package(sagemaker_on_moto.url, "iris-long-sample", realtime=["ml.m5.large"],
                         batch=["ml.m5.large"])
    model_dir = _model_with_manifest(iris_model_dir, tmp_path / "model")
    long_rows = [",".join(map(str, SAMPLE_ROWS[i % 3])) for i in range(500)]  # 15 chars each
    (model_dir / "sample_input.csv").write_text("\n".join(long_rows))
    out = tmp_path / "listing" / "listing.yaml"
    assert main(["listing", "init", "--model-package", arn, "--model-dir", str(model_dir),
                 "--no-measure", "--out", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    written = (out.parent / "samples" / "input.csv").read_text()
    assert len(written) <= 3000
    kept = len(written.splitlines())
    assert written.splitlines() == long_rows[:kept]
    assert f"samples/ keeps its first {kept} of 500 records" in printed


def test_the_listing_yaml_repeats_a_shared_value_rather_than_aliasing_it() -> None:
    from smkit.listing.starter import dump_yaml

    day = datetime.date(2026, 12, 6)
    text = dump_yaml({"accuracy": {"measured_at": day}, "performance": {"measured_at": day}})
    assert "&id" not in text
    assert "*id" not in text
    assert text.count("measured_at: 2026-12-06") == 2
