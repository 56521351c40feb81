"""``smkit openapi`` and the listing's input description: written from the input signature,
valid OpenAPI, and their examples are accepted by the real server (Flask test client)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import joblib
import orjson
import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from signature_models import fitted_tweet_model, tweet_frame
from smkit.cli import main as cli
from smkit.listing.starter import PackageFacts, build_starter
from smkit.project import openapi
from smkit_contract import manifest as mf
from smkit_serve.app import create_app
from smkit_serve.derive import derive
from smkit_serve.handler import smoke_check
from smkit_serve.model import load_model
from smkit_serve.settings import Settings

TYPES = ["text/csv", "application/json", "application/jsonlines", "application/x-npy"]


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A model folder with the tweet pipeline and a manifest holding its derived signature."""
    root = tmp_path_factory.mktemp("product")
    model = fitted_tweet_model()
    joblib.dump(model, root / "model.joblib")
    frame, _ = tweet_frame(n=20, seed=2)
    out = derive(model, frame.to_csv(header=False, index=False).encode(), "text/csv")
    manifest = mf.build(mf.file_entries(root, ["model.joblib"]),
                        {k: "0" for k in mf.VERSION_KEYS}, "img", None,
                        {"type": "Pipeline", "task": "classification", "classes": [0, 1],
                         "feature_names": ["keyword", "location", "text"], "n_features": 3},
                        None, out["signature"])
    (root / mf.FILENAME).write_bytes(mf.dumps(manifest))
    return root, manifest


def test_the_document_is_valid_openapi_with_the_real_columns(product) -> None:
    _, manifest = product
    doc = openapi.document(manifest, title="tweets", content_types=TYPES,
                           response_types=TYPES)
    validate(doc)
    body = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]
    assert "- text: text (required)" in body["text/csv"]["schema"]["description"]
    assert "- keyword: text" in body["text/csv"]["schema"]["description"]
    schema = body["application/json"]["schema"]
    check = Draft202012Validator(schema)
    assert check.is_valid([{"keyword": None, "location": "Paris", "text": "smoke"}])
    assert check.is_valid([["fire", None, "smoke"]])
    assert not check.is_valid([{"keyword": "fire"}])  # text is required
    assert not check.is_valid([{"txt": "smoke", "text": "x"}])  # no such column
    assert not check.is_valid([["fire", "smoke"]])  # too short


def test_the_documented_examples_are_accepted_by_the_server(product) -> None:
    root, manifest = product
    doc = openapi.document(manifest, title="tweets", content_types=TYPES,
                           response_types=TYPES)
    content = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]
    settings = Settings(model_dir=str(root))
    loaded = load_model(settings.model_dir)
    smoke_check(loaded, settings.model_dir)
    client = create_app(settings, loaded).test_client()
    csv_example = content["text/csv"]["example"]
    assert len(next(csv.reader(io.StringIO(csv_example)))) == 3
    r = client.post("/invocations", data=csv_example.encode(), content_type="text/csv")
    assert r.status_code == 200, r.json
    r = client.post("/invocations", data=orjson.dumps(content["application/json"]["example"]),
                    content_type="application/json")
    assert r.status_code == 200, r.json


def test_smkit_openapi_writes_the_document(product, spec_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _, manifest = product
    (spec_dir / "manifest.json").write_bytes(mf.dumps(manifest))
    spec = {"name": "tweets", "region": "us-east-1", "model_dir": "model",
            "s3": {"bucket": "b-tweets"},
            "content_types": ["text/csv", "application/json"],
            "instance_types": {"realtime": ["ml.m5.large"], "transform": ["ml.m5.large"]},
            "validation": {"role": "arn:aws:iam::123456789012:role/V",
                           "input": "validation/input.csv", "content_type": "text/csv"}}
    (spec_dir / "smkit.yaml").write_text(yaml.safe_dump(spec))
    out = spec_dir / "openapi.json"
    rc = cli(["openapi", str(spec_dir / "smkit.yaml"), "--artifact",
              str(spec_dir / "manifest.json"), "--out", str(out)])
    assert rc == 0, capsys.readouterr()
    doc = json.loads(out.read_text())
    validate(doc)
    assert sorted(doc["paths"]["/invocations"]["post"]["requestBody"]["content"]) == [
        "application/json", "text/csv"]
    capsys.readouterr()
    assert cli(["openapi", str(spec_dir / "smkit.yaml")]) != 0
    assert "run `smkit package` first" in capsys.readouterr().err


def test_the_listing_input_is_described_from_the_signature(product) -> None:
    _, manifest = product
    facts = PackageFacts(arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/x",
                         description="", realtime=["ml.m5.large"], batch=["ml.m5.large"],
                         content_types=["text/csv", "application/jsonlines"],
                         response_types=["text/csv"],
                         environment={}, model_data_url=None, certified=True)
    listing = build_starter(facts, manifest, None, sample=b"a,b,c", sample_name="input.csv",
                            output_name="output.csv", content_type="text/csv",
                            access_role_arn=None, region="us-east-1")
    inp = listing["delivery"]["input"]
    assert [p["name"] for p in inp["parameters"]] == ["keyword", "location", "text"]
    assert [p["required"] for p in inp["parameters"]] == [False, False, True]
    assert "text (text, required)" in inp["description"]
    # Text columns, and the product takes JSON Lines: the page says to send it for newlines.
    assert "send JSON Lines" in inp["description"]
