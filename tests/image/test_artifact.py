"""``smkit package``: deterministic bytes, the manifest, the version guard, the in-image proof."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import joblib
import pytest
import sklearn
import yaml
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
from smkit.core.errors import PlatformError, UserError
from smkit.image import artifact
from smkit.project import spec_yaml
from smkit_testkit import penguin_like_frame

pytestmark = pytest.mark.container


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_same_input_gives_the_same_bytes(write_spec, tmp_path: Path) -> None:
    spec = spec_yaml.load(write_spec())
    first = artifact.build(spec, out=tmp_path / "a" / "model.tar.gz")
    # Same content, other mtimes and another folder: still the same bytes.
    os.utime(spec.model_dir / "model.joblib", (1, 1))
    second = artifact.build(spec, out=tmp_path / "b" / "model.tar.gz")
    assert first.sha256 == second.sha256 == sha(second.path)
    with tarfile.open(first.path) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["manifest.json", "model.joblib", "sample_input.csv"]
    assert {(m.mtime, m.uid, m.gid, m.mode, m.uname) for m in members} == {
        (artifact.MTIME, 0, 0, 0o644, "")}
    assert first.path.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime 0


def test_the_manifest_describes_files_versions_and_model(write_spec, tmp_path: Path) -> None:
    spec = spec_yaml.load(write_spec())
    built = artifact.build(spec, out=tmp_path / "model.tar.gz")
    m = built.manifest
    assert m["format"] == "smkit-manifest/1"
    assert m["files"]["model.joblib"] == {
        "sha256": sha(spec.model_dir / "model.joblib"),
        "size": (spec.model_dir / "model.joblib").stat().st_size,
    }
    assert m["versions"]["scikit-learn"] == sklearn.__version__
    assert m["versions"]["python"].startswith("3.11.")
    assert m["model"] == {"type": "DecisionTreeClassifier", "task": "classification",
                          "n_features": 4, "feature_names": None, "classes": [0, 1, 2]}
    # No sample_input in the model folder: the first validation record becomes one.
    assert m["sample_input"] == "sample_input.csv"
    assert m["image"] == {"uri": spec.image.local, "digest": None}


def test_a_model_pickled_with_another_scikit_learn_is_refused(write_spec, tmp_path: Path,
                                                               iris_model_dir: Path) -> None:
    raw = (iris_model_dir / "model.joblib").read_bytes()
    current = sklearn.__version__.encode()
    old = b"1.0.0"[: len(current)].ljust(len(current), b"0")
    assert raw.count(current) >= 1
    altered = tmp_path / "old-model"
    altered.mkdir()
    # Same length, so the pickle's framing stays valid; only _sklearn_version changes.
    (altered / "model.joblib").write_bytes(raw.replace(current, old))
    spec = spec_yaml.load(write_spec(model_dir=altered))
    with pytest.raises(UserError) as info:
        artifact.build(spec, out=tmp_path / "model.tar.gz")
    msg = str(info.value)
    assert f"saved with scikit-learn {old.decode()}" in msg
    assert f"the image serves scikit-learn {sklearn.__version__}" in msg
    assert f"declare scikit-learn=={old.decode()} under python.packages" in msg
    assert not (tmp_path / "model.tar.gz").exists()


def test_the_artifact_is_proven_in_the_image_with_a_pipeline(write_spec, tmp_path: Path,
                                                             pipeline_model_dir: Path) -> None:
    path = write_spec(model_dir=pipeline_model_dir)
    frame, _ = penguin_like_frame(n=20, seed=3)
    (path.parent / "validation" / "input.csv").write_text(
        frame.to_csv(header=False, index=False))
    spec = spec_yaml.load(path)
    built = artifact.package(spec, out=tmp_path / "model.tar.gz")
    assert built.startup_seconds is not None
    assert built.startup_seconds < 240
    assert built.manifest["model"]["feature_names"] == [
        "island", "bill_length_mm", "sex", "body_mass_g"]
    assert built.manifest["model"]["classes"] == ["Adelie", "Gentoo"]


def test_a_validation_sample_the_model_cannot_take_stops_the_package(write_spec,
                                                                     tmp_path: Path) -> None:
    path = write_spec()
    spec = spec_yaml.load(path)
    built = artifact.build(spec, out=tmp_path / "model.tar.gz")
    # The start-up sample stays valid, but the validation data has 3 columns, not 4.
    (path.parent / "validation" / "input.csv").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(UserError) as info:
        artifact.prove(built, spec_yaml.load(path))
    assert "validation.input: the image answered 400" in str(info.value)
    assert "expected 4 columns, got 3" in str(info.value)


def test_a_tampered_tarball_is_caught_before_serving(write_spec, tmp_path: Path) -> None:
    spec = spec_yaml.load(write_spec())
    built = artifact.build(spec, out=tmp_path / "model.tar.gz")
    with tarfile.open(built.path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    files["model.joblib"] += b"\0"
    artifact.write_tarball(built.path, files)
    with pytest.raises(PlatformError, match=r"does not match its manifest.*model.joblib: size"):
        artifact.prove(built, spec)


def test_smkit_package_prints_the_same_sha256_on_every_run(write_spec) -> None:
    path = write_spec()
    runs = [subprocess.run([sys.executable, "-m", "smkit.cli", "package", str(path),
                            "--no-verify"], capture_output=True, text=True, timeout=120)
            for _ in range(2)]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
    shas = [line.split()[1] for p in runs for line in p.stdout.splitlines()
            if line.strip().startswith("sha256 ")]
    assert len(shas) == 2
    assert shas[0] == shas[1]
    tarball = path.parent / "build" / "smkit" / yaml.safe_load(path.read_text())["name"]
    assert sha(tarball / "model.tar.gz") == shas[0]


def test_a_folder_holding_only_clf_joblib_packages(write_spec, tmp_path: Path) -> None:
    # The server loads the only *.joblib of a folder; `smkit package` must take it too.
    folder = tmp_path / "clf-only"
    folder.mkdir()
    X, y = load_iris(return_X_y=True)
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), folder / "clf.joblib")
    path = write_spec(model_dir=folder)
    proc = subprocess.run([sys.executable, "-m", "smkit.cli", "package", str(path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    tarball = path.parent / "build" / "smkit" / yaml.safe_load(path.read_text())["name"]
    with tarfile.open(tarball / "model.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["clf.joblib", "manifest.json", "sample_input.csv"]
