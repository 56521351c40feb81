"""``smkit listing init`` from a model package in moto, the model's manifest and the real image."""

from __future__ import annotations

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
from listing_kit import ROLE_ARN, Server, create_package
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


def _fill_todos(data: Any) -> Any:
    """What the seller would write in place of each TODO."""
    if isinstance(data, dict):
        return {k: _fill_todos(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_fill_todos(v) for v in data]
    if isinstance(data, str) and data.startswith("TODO"):
        if "https" in data:
            return "https://example.com/asset"
        if "USD" in data:
            return "0.25"
        if "role" in data:
            return ROLE_ARN
        return "Seller text"
    return data


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

    data = yaml.safe_load(out.read_text())
    accuracy = float(np.mean(model.predict(X[rows]) == y[rows]))
    assert data["accuracy"]["metric"] == "accuracy"
    assert data["accuracy"]["value"] == pytest.approx(accuracy, abs=1e-4)
    assert data["accuracy"]["dataset"] == "30 held-out rows (validation.csv)"
    perf = data["performance"]
    assert perf["instance_type"] == "ml.m5.large"
    assert 0 < perf["latency_ms_p50"] <= perf["latency_ms_p95"]
    assert perf["throughput_per_s"] > 0
    assert "not on ml.m5.large" in perf["measured_on"]
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
    out.write_text(yaml.safe_dump(_fill_todos(data), sort_keys=False))
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
