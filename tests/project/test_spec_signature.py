"""``smkit package`` derives the input signature inside the image, proves it, stores it in
the manifest, and reports what the seller must fix (issue 13, item 1)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import joblib
import pytest
import yaml
from pkg_helpers import base_spec, unique
from signature_models import fitted_tweet_model, mixed_frame, mixed_pipeline, tweet_frame
from smkit.core.errors import UserError
from smkit.image import artifact
from smkit.project import spec_yaml

pytestmark = pytest.mark.container


def write_spec(root: Path, model: Any, validation: bytes, image: str, **extra: Any) -> Path:
    (root / "model").mkdir(parents=True, exist_ok=True)
    joblib.dump(model, root / "model" / "model.joblib")
    (root / "validation").mkdir(exist_ok=True)
    (root / "validation" / "input.csv").write_bytes(validation)
    spec = base_spec(unique("sig"), image)
    spec.update(extra)
    path = root / "smkit.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def manifest_of(tarball: Path) -> dict[str, Any]:
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return json.loads(member.read())  # type: ignore[no-any-return]


def test_the_tweet_pipeline_packages_with_its_signature_and_is_proven(
    tmp_path: Path, pinned_image: str
) -> None:
    frame, _ = tweet_frame(n=40, seed=11)
    # One record per line: SplitType=Line cannot carry a newline inside quotes.
    frame["text"] = frame["text"].str.replace("\n", " ")
    body = frame.to_csv(header=False, index=False).encode()
    spec = spec_yaml.load(write_spec(tmp_path, fitted_tweet_model(), body, pinned_image))
    built = artifact.package(spec)
    assert built.startup_seconds is not None  # served by the image and predicted
    sig = manifest_of(built.path)["signature"]
    assert sig == {"frame": True, "columns": [
        {"name": "keyword", "kind": "string", "optional": True},
        {"name": "location", "kind": "string", "optional": True},
        {"name": "text", "kind": "string", "optional": False},
    ]}


def test_codes_that_lost_their_zeros_are_reported_with_what_to_do(
    tmp_path: Path, pinned_image: str
) -> None:
    frame, label = mixed_frame()
    model = mixed_pipeline().fit(frame, label)
    sample = b"2134,1,true,60\n2139,2,false,70\n10001,3,true,80\n"
    spec = spec_yaml.load(write_spec(tmp_path, model, sample, pinned_image))
    built = artifact.build(spec, out=tmp_path / "out" / "model.tar.gz")
    kinds = [c["kind"] for c in built.manifest["signature"]["columns"]]
    assert kinds == ["string", "integer", "boolean", "number"]
    notes = " ".join(built.signature_notes)
    assert "column 'zip'" in notes
    assert "leading zeros" in notes


def test_an_override_the_model_cannot_take_is_refused_by_the_proof(
    tmp_path: Path, pinned_image: str
) -> None:
    frame, label = mixed_frame()
    model = mixed_pipeline().fit(frame, label)
    sample = b"02134,1,true,60\n02139,2,false,70\n"
    spec = spec_yaml.load(write_spec(tmp_path, model, sample, pinned_image,
                                    signature={"rooms": "boolean"}))
    with pytest.raises(UserError, match=r"signature: .*rooms.*boolean"):
        artifact.build(spec, out=tmp_path / "out" / "model.tar.gz")


def test_an_override_names_an_unknown_column(tmp_path: Path, pinned_image: str) -> None:
    frame, label = mixed_frame()
    spec = spec_yaml.load(write_spec(tmp_path, mixed_pipeline().fit(frame, label),
                                    b"02134,1,true,60\n", pinned_image,
                                    signature={"zipcode": "string"}))
    with pytest.raises(UserError, match="no column 'zipcode'; its columns are zip, rooms"):
        artifact.build(spec, out=tmp_path / "out" / "model.tar.gz")


def test_the_spec_refuses_an_unknown_kind(tmp_path: Path, pinned_image: str) -> None:
    path = write_spec(tmp_path, mixed_pipeline().fit(*mixed_frame()), b"x\n", pinned_image,
                      signature={"zip": "text"})
    with pytest.raises(UserError, match="kind must be one of number, integer, string"):
        spec_yaml.load(path)
