"""``--split`` on the real image: one 50,000-row file on two instances is cut so both get
work, and the joined output is byte for byte what one instance writes for the unsplit file
(CSV by lines and whole, JSON Lines; JoinSource=Input is run by the buyer's tests in
tests/demo/test_buyer_split.py); a job that fails leaves the input as it was and no parts
behind."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
import pytest
from smkit.project.transform_job import TransformJob
from smkit.transform.shard import run_sharded

ROWS = 50_000


def iris_rows(X, rows: int = ROWS) -> list[list[float]]:
    """The iris features repeated to ``rows`` rows."""
    return [[float(v) for v in X[i % len(X)]] for i in range(rows)]


def write_csv(path: Path, rows: list[list[float]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(repr(v) for v in row) + "\n" for row in rows))
    return path


@pytest.fixture
def own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder smkit's parts go to, to check they are removed."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def one_and_two(job: TransformJob, source: Path, tmp_path: Path, image: str, model: Path
                ) -> tuple[bytes, bytes, list[str]]:
    """The .out of a 1-instance run without --split and of a 2-instance run with it, and
    what the split run said."""
    one = run_sharded(job, [source], tmp_path / "one", image=image, model=model)
    assert one.report.ok, one.summary()
    said: list[str] = []
    two = run_sharded(job.replace(instance_count=2), [source], tmp_path / "two", image=image,
                      model=model, split=True, echo=said.append)
    assert two.report.ok, two.summary()
    assert [len(i.files) for i in two.instances] == [1, 1]
    if job.split_type == "Line":  # (a SplitType=None part counts as one record)
        assert all(i.report is not None and i.report.records > ROWS // 3
                   for i in two.instances)
        assert two.report.records == one.report.records
    assert list(two.report.files) == [source]
    name = source.name + ".out"
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [name]
    return (tmp_path / "one" / name).read_bytes(), (tmp_path / "two" / name).read_bytes(), said


@pytest.mark.container
@pytest.mark.parametrize("split_type", ["Line", "None"])
def test_a_split_csv_file_on_two_instances_is_one_instances_output(
        tmp_path: Path, own_tmp: Path, image: str, iris, iris_model_dir: Path,
        split_type: str) -> None:
    X, _ = iris
    rows = iris_rows(X)
    source = write_csv(tmp_path / "in" / "big.csv", rows)
    before = source.read_bytes()
    job = TransformJob(split_type=split_type, batch_strategy="MultiRecord")
    one, two, said = one_and_two(job, source, tmp_path, image, iris_model_dir)
    assert two == one
    assert "--split: big.csv into 2 parts at record boundaries" in said
    assert "2 parts over 2 instance(s): 1, 1" in said
    # Against the model itself.
    model = joblib.load(iris_model_dir / "model.joblib")
    assert two.decode().splitlines() == [str(v) for v in model.predict(rows).tolist()]
    assert source.read_bytes() == before
    assert list(own_tmp.iterdir()) == []


@pytest.mark.container
def test_split_json_lines_match_one_instance(
        tmp_path: Path, own_tmp: Path, image: str, iris, iris_model_dir: Path) -> None:
    X, _ = iris
    rows = iris_rows(X)
    lines = tmp_path / "in" / "big.jsonl"
    lines.parent.mkdir(parents=True)
    lines.write_text("".join(json.dumps(r) + "\n" for r in rows))
    job = TransformJob(content_type="application/jsonlines", batch_strategy="MultiRecord")
    one, two, _ = one_and_two(job, lines, tmp_path / "jsonl", image, iris_model_dir)
    assert two == one
    assert len(two.splitlines()) == ROWS
    assert list(own_tmp.iterdir()) == []


@pytest.mark.container
def test_a_failed_split_job_leaves_the_input_as_it_was_and_no_parts(
        tmp_path: Path, own_tmp: Path, image: str, iris, iris_model_dir: Path) -> None:
    X, _ = iris
    rows = [",".join(repr(v) for v in row) for row in iris_rows(X)]
    rows[40_000] = "not,a,number,here"  # in the second part
    source = tmp_path / "in" / "bad.csv"
    source.parent.mkdir()
    source.write_text("".join(r + "\n" for r in rows))
    before = source.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "smkit.cli", "transform", str(source), "--output",
         str(tmp_path / "out"), "--model", str(iris_model_dir), "--image", image,
         "--instances", "2", "--split", "--strategy", "MultiRecord", "--max-payload", "1"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
        env={**__import__("os").environ, "TMPDIR": str(own_tmp)})
    assert proc.returncode == 1, proc.stderr
    first = next(x for x in proc.stderr.splitlines() if x.startswith("error: "))
    # The failure names the input file and its own record and line numbers, not a part's.
    assert first.startswith(f"error: {source}: records ")
    assert "is record 40001)" in first
    span = first.split("(lines ")[1].split(")")[0]
    lo, hi = (int(x) for x in span.split("-"))
    assert lo <= 40_001 <= hi
    assert source.read_bytes() == before
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert list(own_tmp.iterdir()) == []


def test_split_refuses_a_binary_input_with_the_fix_first(tmp_path: Path) -> None:
    source = tmp_path / "x.npy"
    source.write_bytes(b"\x93NUMPY")
    proc = subprocess.run(
        [sys.executable, "-m", "smkit.cli", "transform", str(source), "--output",
         str(tmp_path / "out"), "--url", "http://127.0.0.1:9", "--content-type",
         "application/x-npy", "--split"],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "--split cannot cut application/x-npy input" in proc.stderr.splitlines()[0]
