"""smkit's batch transform runner against the real image.

Expected outputs come from the model called in-process and from the contract doc's rules
("Batch transform": AssembleWith=Line ends every response with a newline, None concatenates;
one output record per input record; one bad record fails the file).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
from smkit.cli import main
from smkit.image import docker as smkit_docker
from smkit.project.transform_job import TransformConfig
from smkit.transform.image import run_transform_with_image
from smkit.transform.runner import run_transform

pytestmark = pytest.mark.container


def _csv_row(row) -> str:
    return ",".join(repr(float(v)) for v in row)


@pytest.fixture(scope="module")
def predictions(iris, iris_model_dir) -> list[str]:
    """The iris model's labels for the 150 iris rows, as the server prints them."""
    model = joblib.load(iris_model_dir / "model.joblib")
    return [str(v) for v in model.predict(iris[0]).tolist()]


@pytest.fixture(scope="module")
def server(image, iris_model_dir) -> Iterator[str]:
    """One batch-mode container for the module (SAGEMAKER_BATCH=true, as SageMaker sets)."""
    with smkit_docker.serve(image, iris_model_dir, env={"SAGEMAKER_BATCH": "true"}) as s:
        assert s.url is not None
        yield s.url


@pytest.fixture
def iris_files(tmp_path, iris) -> dict[str, Path]:
    """The iris rows as CSV, JSON Lines (arrays), JSON Lines records with ids, CSV with ids."""
    X = iris[0]
    files = {
        "csv": tmp_path / "in" / "iris.csv",
        "jsonl": tmp_path / "in" / "iris.jsonl",
        "records": tmp_path / "in" / "records.jsonl",
        "ids": tmp_path / "in" / "ids.csv",
        "json": tmp_path / "in" / "docs.json",
    }
    files["csv"].parent.mkdir()
    files["csv"].write_text("".join(_csv_row(r) + "\n" for r in X))
    files["jsonl"].write_text("".join(json.dumps([float(v) for v in r]) + "\n" for r in X))
    files["records"].write_text("".join(
        json.dumps({"id": i, "features": [float(v) for v in r]}) + "\n" for i, r in enumerate(X)
    ))
    files["ids"].write_text("".join(f"id{i}," + _csv_row(r) + "\n" for i, r in enumerate(X)))
    files["json"].write_text("".join(
        json.dumps({"instances": [[float(v) for v in r]]}) + "\n" for r in X
    ))
    return files


def _run(server: str, path: Path, out: Path, **kw) -> tuple[object, bytes | None]:
    cfg = TransformConfig(inputs=[path], output_dir=out, progress=False, **kw)
    report = run_transform(cfg, server)
    target = out / (path.name + ".out")
    return report, target.read_bytes() if target.exists() else None


# ----------------------------------------------------------------------------- strategies


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("split", ["None", "Line"])
@pytest.mark.parametrize("strategy", ["SingleRecord", "MultiRecord"])
@pytest.mark.parametrize("assemble", ["None", "Line"])
def test_every_strategy_writes_what_sagemaker_would(server, iris_files, predictions, tmp_path,
                                                    fmt, split, strategy, assemble):
    content_type = {"csv": "text/csv", "jsonl": "application/jsonlines"}[fmt]
    report, out = _run(server, iris_files[fmt], tmp_path / "out", content_type=content_type,
                       split_type=split, batch_strategy=strategy, assemble_with=assemble)
    assert report.ok, report.summary()
    # One request per record only for SplitType=Line + SingleRecord; the 150 rows fit one
    # MultiRecord mini-batch, and SplitType=None sends the whole file.
    if split == "Line" and strategy == "SingleRecord":
        expected = "".join(p + "\n" for p in predictions) if assemble == "Line" \
            else "".join(predictions)
    else:
        expected = "\n".join(predictions) + ("\n" if assemble == "Line" else "")
    assert out == expected.encode()
    assert report.files[iris_files[fmt]].records == (1 if split == "None" else 150)
    single = split == "Line" and strategy == "SingleRecord"
    assert report.files[iris_files[fmt]].batches == (150 if single else 1)


def test_many_mini_batches_over_concurrent_requests_keep_their_order(server, tmp_path,
                                                                     iris_model_dir):
    """A 100k-row file, 1 MB mini-batches, 2 requests at a time."""
    rng = np.random.default_rng(7)
    X = rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(100_000, 4)).round(6)
    path = tmp_path / "big.csv"
    path.write_text("".join(_csv_row(r) + "\n" for r in X))
    model = joblib.load(iris_model_dir / "model.joblib")
    expected = "".join(f"{v}\n" for v in model.predict(X).tolist()).encode()
    started = time.monotonic()
    report, out = _run(server, path, tmp_path / "out", max_payload_mb=1,
                       max_concurrent_transforms=2)
    seconds = time.monotonic() - started
    assert report.ok, report.summary()
    assert out == expected
    assert report.records == 100_000
    # 3.6 MB in mini-batches of at most 1 MB: at least four requests.
    assert report.files[path].batches >= 4
    print(f"\n100k rows ({path.stat().st_size / 1e6:.1f} MB) in {seconds:.2f} s: "
          f"{100_000 / seconds:,.0f} rows/s")


def test_payload_zero_streams_the_whole_file_with_chunked_encoding(server, iris_files,
                                                                   predictions, tmp_path):
    report, out = _run(server, iris_files["csv"], tmp_path / "out", split_type="None",
                       max_payload_mb=0)
    assert report.ok, report.summary()
    assert out == ("\n".join(predictions) + "\n").encode()


# ----------------------------------------------------------------------------- filters


@pytest.mark.parametrize("strategy", ["SingleRecord", "MultiRecord"])
def test_csv_input_filter_join_and_output_filter_keep_the_id_and_the_prediction(
        server, iris_files, predictions, tmp_path, strategy):
    report, out = _run(server, iris_files["ids"], tmp_path / "out", batch_strategy=strategy,
                       input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]")
    assert report.ok, report.summary()
    assert out == "".join(f"id{i},{p}\n" for i, p in enumerate(predictions)).encode()


def test_csv_join_without_output_filter_appends_the_prediction_to_the_input(
        server, iris_files, predictions, tmp_path):
    report, out = _run(server, iris_files["ids"], tmp_path / "out", input_filter="$[1:]",
                       join_source="Input")
    assert report.ok, report.summary()
    lines = iris_files["ids"].read_text().splitlines()
    assert out == "".join(f"{line},{p}\n" for line, p in zip(lines, predictions,
                                                             strict=True)).encode()


def test_csv_output_filter_alone_selects_from_the_output(server, iris_files, predictions,
                                                         tmp_path):
    report, out = _run(server, iris_files["csv"], tmp_path / "out", output_filter="$[-1]")
    assert report.ok, report.summary()
    assert out == ("\n".join(predictions) + "\n").encode()


@pytest.mark.parametrize("strategy", ["SingleRecord", "MultiRecord"])
def test_jsonlines_features_filter_and_id_output_filter(server, iris_files, predictions,
                                                        tmp_path, strategy):
    report, out = _run(server, iris_files["records"], tmp_path / "out",
                       content_type="application/jsonlines", accept="application/jsonlines",
                       batch_strategy=strategy, input_filter="$.features",
                       join_source="Input", output_filter="$['id','SageMakerOutput']")
    assert report.ok, report.summary()
    got = [json.loads(line) for line in out.decode().splitlines()]
    assert got == [{"id": i, "SageMakerOutput": int(p)} for i, p in enumerate(predictions)]


def test_jsonlines_arrays_joined_go_under_sagemakerinput(server, iris_files, iris,
                                                         predictions, tmp_path):
    report, out = _run(server, iris_files["jsonl"], tmp_path / "out",
                       content_type="application/jsonlines", join_source="Input")
    assert report.ok, report.summary()
    got = [json.loads(line) for line in out.decode().splitlines()]
    assert got == [{"SageMakerInput": [float(v) for v in row], "SageMakerOutput": int(p)}
                   for row, p in zip(iris[0], predictions, strict=True)]


def test_json_documents_per_line_join_the_whole_json_answer(server, iris_files, iris,
                                                            predictions, tmp_path):
    report, out = _run(server, iris_files["json"], tmp_path / "out",
                       content_type="application/json", accept="application/json",
                       batch_strategy="SingleRecord", input_filter="$.instances",
                       join_source="Input")
    assert report.ok, report.summary()
    got = [json.loads(line) for line in out.decode().splitlines()]
    assert got == [{"instances": [[float(v) for v in row]],
                    "SageMakerOutput": {"predictions": [int(p)]}}
                   for row, p in zip(iris[0], predictions, strict=True)]


def test_an_index_outside_the_record_fails_the_file_naming_the_filter(server, iris_files,
                                                                      tmp_path):
    report, out = _run(server, iris_files["csv"], tmp_path / "out", input_filter="$[0,9]")
    assert out is None
    (failure,) = report.files[iris_files["csv"]].failures
    assert failure.first_record == 1
    assert "InputFilter failed: $[0,9]: index 9 is out of range" in failure.describe()


# ----------------------------------------------------------------------------- bad records


@pytest.fixture
def bad_file(tmp_path, iris) -> Path:
    """The iris CSV with record 57 one column short."""
    lines = [_csv_row(r) for r in iris[0]]
    lines[56] = ",".join(lines[56].split(",")[:3])
    path = tmp_path / "bad" / "bad.csv"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_bad_record_fails_its_file_with_the_record_status_and_message(server, bad_file,
                                                                        tmp_path):
    report, out = _run(server, bad_file, tmp_path / "out", batch_strategy="SingleRecord")
    assert out is None
    assert not list((tmp_path / "out").glob("*"))  # no .out and no leftover .partial
    assert not report.ok
    (failure,) = report.files[bad_file].failures
    text = failure.describe()
    assert str(bad_file) in text
    assert "record 57 (line 57)" in text
    assert "HTTP 400" in text
    assert "expected 4 columns, got 3" in text


def test_a_bad_record_in_a_mini_batch_names_the_batch_range(server, bad_file, tmp_path):
    report, out = _run(server, bad_file, tmp_path / "out", batch_strategy="MultiRecord")
    assert out is None
    (failure,) = report.files[bad_file].failures
    assert (failure.first_record, failure.last_record, failure.status) == (1, 150, 400)
    assert "records 1-150 (lines 1-150)" in failure.describe()
    assert "(line 57 of the mini-batch is record 57)" in failure.message


def test_keep_going_writes_a_placeholder_for_the_bad_record_only(server, bad_file, iris_files,
                                                                 predictions, tmp_path):
    cfg = TransformConfig(inputs=[bad_file, iris_files["csv"]], output_dir=tmp_path / "out",
                          batch_strategy="MultiRecord", keep_going=True, progress=False)
    report = run_transform(cfg, server)
    result = report.files[bad_file]
    assert result.ok
    assert result.placeholders == 1
    (failure,) = result.failures  # the bad record itself, found by resending one by one
    assert (failure.first_record, failure.last_record, failure.status) == (57, 57, 400)
    expected = [*predictions[:56], "ERROR", *predictions[57:]]
    assert result.output.read_text() == "".join(p + "\n" for p in expected)
    assert report.files[iris_files["csv"]].output.read_text() == "".join(
        p + "\n" for p in predictions)
    # Both files fit one 6 MB mini-batch together, but a mini-batch never spans files.
    assert [r.batches for r in report.files.values()] == [1, 1]


def test_one_failed_file_does_not_stop_the_others(server, bad_file, iris_files, predictions,
                                                  tmp_path):
    cfg = TransformConfig(inputs=[bad_file, iris_files["csv"]], output_dir=tmp_path / "out",
                          progress=False)
    report = run_transform(cfg, server)
    assert not report.files[bad_file].ok
    assert report.files[iris_files["csv"]].output.read_text() == "".join(
        p + "\n" for p in predictions)


# ----------------------------------------------------------------------------- image + CLI


def test_the_image_runner_passes_batch_env_and_obeys_execution_parameters(
        image, iris_model_dir, iris_files, predictions, tmp_path):
    """The container's /execution-parameters answer (SINGLE_RECORD from the environment
    SageMaker would set) decides when the request leaves BatchStrategy open."""
    tarball = tmp_path / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(iris_model_dir / "model.joblib", arcname="model.joblib")
    cfg = TransformConfig(inputs=[iris_files["csv"]], output_dir=tmp_path / "out",
                          assemble_with="None", progress=False,
                          environment={"SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD"})
    report = run_transform_with_image(cfg, image, tarball)
    assert report.ok, report.summary()
    assert report.parameters.batch_strategy == "SingleRecord"
    assert report.parameters.sources[0] == "container"
    assert report.execution_parameters["BatchStrategy"] == "SINGLE_RECORD"
    # SingleRecord + AssembleWith=None: the one-record responses run together.
    assert (tmp_path / "out" / "iris.csv.out").read_text() == "".join(predictions)


def test_the_cli_transform_reports_a_failed_file_in_one_line_and_exits_1(
        server, bad_file, iris_files, tmp_path, capsys):
    code = main(["transform", str(iris_files["csv"]), "-o", str(tmp_path / "ok"),
                 "--url", server, "--no-progress"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "ok" / "iris.csv.out")
    code = main(["transform", str(bad_file), "-o", str(tmp_path / "bad"), "--url", server,
                 "--strategy", "SingleRecord"])
    err = capsys.readouterr().err
    assert code == 1
    # The cause is the first line of the error; the count follows it.
    first = next(ln for ln in err.splitlines() if ln.startswith("error:"))
    assert "record 57 (line 57) failed, HTTP 400: expected 4 columns, got 3" in first
    assert "1 of 1 files failed (1 failed request(s))" in err
    assert "Traceback" not in err
    code = main(["transform", str(bad_file), "-o", str(tmp_path / "x"), "--url", server,
                 "--input-filter", "$..a"])
    assert code == 2
    assert "deep scan" in capsys.readouterr().err


def _containers_mounting(directory: Path) -> list[str]:
    ids = smkit_docker.docker("ps", "-aq", "--filter", "label=smkit.managed=true").stdout.split()
    found = []
    for cid in ids:
        mounts = smkit_docker.docker("inspect", "-f", "{{range .Mounts}}{{.Source}} {{end}}",
                                     cid.decode(), check=False).stdout.decode()
        if str(directory) in mounts.split():
            found.append(cid.decode())
    return found


def test_sigterm_mid_run_removes_the_container_and_the_partial_output(
        image, iris_model_dir, iris_files, tmp_path):
    model = tmp_path / "own-model"  # a folder only this run mounts
    model.mkdir()
    (model / "model.joblib").write_bytes((iris_model_dir / "model.joblib").read_bytes())
    big = tmp_path / "slow.csv"
    big.write_text(iris_files["csv"].read_text() * 200)  # 30k single-record requests
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "smkit.cli", "transform", str(big), "-o", str(out),
         "--model", str(model), "--image", image, "--strategy", "SingleRecord"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / "slow.csv.out.partial").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the transform never started writing"
            time.sleep(0.1)
        assert _containers_mounting(model)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        left = _containers_mounting(model)
        if left:  # never leave our container behind, even when the test fails
            smkit_docker.docker("rm", "-f", *left, check=False)
    assert proc.returncode == 130, err.decode()
    assert list(out.iterdir()) == []
    assert left == []


# ----------------------------------------------------------------------------- the CLI's flags


@pytest.mark.parametrize("split", ["Line", "None"])
@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
@pytest.mark.parametrize("placeholder", [None, "NA"])
def test_keep_going_and_placeholder_through_the_cli_in_every_branch(
        server, bad_file, predictions, tmp_path, capsys, split, strategy, placeholder):
    args = ["transform", str(bad_file), "--url", server, "-o", str(tmp_path / "out"),
            "--split-type", split, "--strategy", strategy, "--no-progress", "--keep-going"]
    if placeholder is not None:
        args += ["--placeholder", placeholder]
    assert main(args) == 0, capsys.readouterr().err
    written = (tmp_path / "out" / "bad.csv.out").read_text().splitlines()
    mark = placeholder or "ERROR"
    if split == "Line":
        # Only the bad record (57) is replaced; every other one is the model's own answer.
        assert written == [*predictions[:56], mark, *predictions[57:]]
    else:
        # SplitType None: the whole file is one record, so it is one placeholder.
        assert written == [mark]


@pytest.mark.parametrize("split", ["Line", "None"])
@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_without_keep_going_a_failed_record_exits_non_zero_naming_it(
        server, bad_file, tmp_path, capsys, split, strategy):
    args = ["transform", str(bad_file), "--url", server, "-o", str(tmp_path / "out"),
            "--split-type", split, "--strategy", strategy, "--no-progress"]
    assert main(args) != 0
    first = next(ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error"))
    assert "bad.csv" in first
    assert "HTTP 400" in first
    assert "expected 4 columns, got 3" in first
    if split == "Line":
        assert "record 57" in first or "records 1-150" in first
    assert not (tmp_path / "out" / "bad.csv.out").exists()
