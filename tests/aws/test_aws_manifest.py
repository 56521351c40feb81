"""The shared poll helper, the retry configuration, and the manifest format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import smkit_contract.manifest as mf
from smkit.aws import clients as aws
from smkit.core.errors import PlatformError

VERSIONS = {"python": "3.11.2", "scikit-learn": "1.9.1", "numpy": "2.4.6", "joblib": "1.6.0",
            "scipy": "1.17.1", "pandas": "3.1.1", "smkit": "0.1.0"}


def test_poll_reports_each_new_state_once_and_returns_the_final_result() -> None:
    states = iter(["NotStarted", "InProgress", "InProgress", "Completed"])
    seen: list[str] = []
    result = aws.poll(lambda: next(states), lambda s: s == "Completed",
                      on_change=lambda s, _t: seen.append(s), interval=0.001)
    assert result == "Completed"
    assert seen == ["NotStarted", "InProgress", "Completed"]


def test_poll_gives_up_at_the_deadline_quoting_the_last_state() -> None:
    with pytest.raises(PlatformError, match=r"did not finish within 0 s \(last state: stuck\)"):
        aws.poll(lambda: "stuck", lambda s: False, timeout=0.05, interval=0.01, what="x")


def test_clients_use_botocore_standard_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = aws.connect("eu-west-1").client("sagemaker")
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.region_name == "eu-west-1"


def _model_dir(tmp_path: Path) -> tuple[Path, dict]:
    (tmp_path / "code").mkdir()
    (tmp_path / "model.joblib").write_bytes(b"model bytes")
    (tmp_path / "code" / "inference.py").write_text("def model_fn(d):\n    return None\n")
    files = mf.file_entries(tmp_path, ["model.joblib", "code/inference.py"])
    manifest = mf.build(files, VERSIONS, "img:1", None,
                        {"type": "Pipeline", "task": "classification", "n_features": 4,
                         "feature_names": None, "classes": [0, 1]}, None)
    (tmp_path / mf.FILENAME).write_bytes(mf.dumps(manifest))
    return tmp_path, manifest


def test_a_manifest_round_trips_and_verifies(tmp_path: Path) -> None:
    root, manifest = _model_dir(tmp_path)
    assert mf.read(root) == manifest
    assert mf.verify(root) == []
    assert list(manifest["files"]) == ["code/inference.py", "model.joblib"]
    assert json.loads(mf.dumps(manifest))["format"] == "smkit-manifest/1"


def test_tampered_missing_and_added_files_are_reported(tmp_path: Path) -> None:
    root, _ = _model_dir(tmp_path)
    (root / "model.joblib").write_bytes(b"model bytez")
    (root / "code" / "inference.py").unlink()
    (root / "code" / "evil.py").write_text("import os")
    assert mf.verify(root) == [
        "code/inference.py: missing",
        "model.joblib: sha256 differs from the manifest",
        "code/evil.py: not listed in the manifest",
    ]


def test_a_malformed_manifest_names_the_field(tmp_path: Path) -> None:
    (tmp_path / mf.FILENAME).write_text(json.dumps({"format": "smkit-manifest/1", "files": {
        "../x": {"sha256": "0" * 64, "size": 1}}}))
    with pytest.raises(mf.ManifestError, match=r"files\['../x'\] must be a relative path"):
        mf.read(tmp_path)
    with pytest.raises(mf.ManifestError, match="versions lacks smkit"):
        mf.build({}, {k: v for k, v in VERSIONS.items() if k != "smkit"}, "i", None,
                  {"task": "other"}, None)
