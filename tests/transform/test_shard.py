"""One job description for both halves, the ShardedByS3Key assignment, and a sharded run
over N real containers whose output is byte for byte one instance's (and the model's own).

The request dicts are checked against botocore's own CreateTransformJob shape (an
independent definition of a valid request) and against the API's field names written out
here; the sharding rule's properties are those AWS documents (see smkit.transform.shard).
"""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import sys
from pathlib import Path

import botocore.session
import joblib
import pytest
from botocore.validate import ParamValidator
from smkit.core.errors import UserError
from smkit.transform.job import TransformJob
from smkit.transform.shard import file_key, run_sharded, shard

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
CREATE = SAGEMAKER.operation_model("CreateTransformJob").input_shape


def botocore_errors(request: dict) -> str:
    """botocore's validation report for a CreateTransformJob request ('' when valid)."""
    return ParamValidator().validate(request, CREATE).generate_report()


def build(job: TransformJob, count_type: str = "ml.m5.large") -> dict:
    return job.request("job", "model", "s3://in/prefix/", "s3://out/prefix/",
                       instance_type=count_type)


# ----------------------------------------------------------------------------- requests


def test_defaults_send_only_what_the_buyer_set() -> None:
    assert build(TransformJob()) == {
        "TransformJobName": "job", "ModelName": "model",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                           "S3Uri": "s3://in/prefix/"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://out/prefix/", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }


def test_every_option_lands_where_the_api_reference_puts_it() -> None:
    job = TransformJob(content_type="application/jsonlines", accept="application/json",
                       split_type="Line", batch_strategy="SingleRecord", max_payload_mb=5,
                       max_concurrent_transforms=20, assemble_with="None",
                       input_filter="$.features", join_source="Input",
                       output_filter="$.SageMakerOutput", invocation_timeout_s=900,
                       invocation_retries=1, environment={"A": "1"}, instance_count=4)
    assert build(job, "ml.c5.xlarge") == {
        "TransformJobName": "job", "ModelName": "model", "BatchStrategy": "SingleRecord",
        "MaxPayloadInMB": 5, "MaxConcurrentTransforms": 20,
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": 900, "InvocationsMaxRetries": 1},
        "Environment": {"A": "1"},
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                           "S3Uri": "s3://in/prefix/"}},
                           "ContentType": "application/jsonlines", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://out/prefix/", "AssembleWith": "None",
                            "Accept": "application/json"},
        "TransformResources": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 4},
        "DataProcessing": {"InputFilter": "$.features", "OutputFilter": "$.SageMakerOutput",
                           "JoinSource": "Input"},
    }


COMBINATIONS = list(itertools.product(
    ["None", "Line"],                       # SplitType
    [None, "MultiRecord", "SingleRecord"],  # BatchStrategy
    [None, 0, 6, 50],                       # MaxPayloadInMB
    [None, 1, 2],                           # MaxConcurrentTransforms
    ["None", "Line"],                       # AssembleWith
    [(None, "None", None), ("$[1:]", "None", None), (None, "Input", "$[0,-1]"),
     ("$[1:]", "Input", None)],             # InputFilter, JoinSource, OutputFilter
    [None, "text/csv"],                     # Accept
    [1, 3],                                 # InstanceCount
))


@pytest.mark.parametrize("combo", COMBINATIONS, ids=lambda c: "-".join(map(str, c)))
def test_every_option_combination_is_a_valid_request_or_refused_in_one_line(combo) -> None:
    split, strategy, payload, concurrency, assemble, (infilter, join, outfilter), accept, \
        count = combo
    job = TransformJob(split_type=split, batch_strategy=strategy, max_payload_mb=payload,
                       max_concurrent_transforms=concurrency, assemble_with=assemble,
                       input_filter=infilter, join_source=join, output_filter=outfilter,
                       accept=accept, instance_count=count)
    if split == "None" and payload == 0 and (infilter or join != "None" or outfilter):
        with pytest.raises(UserError, match="MaxPayloadInMB above 0") as e:
            job.validate()
        assert "\n" not in str(e.value)
        return
    if payload and concurrency and payload * concurrency > 100:
        with pytest.raises(UserError, match="--max-concurrent"):
            job.validate()
        return
    job.validate()
    request = build(job)
    assert botocore_errors(request) == ""
    assert request["TransformInput"]["SplitType"] == split
    assert request["TransformOutput"]["AssembleWith"] == assemble
    assert request["TransformResources"]["InstanceCount"] == count
    assert request.get("BatchStrategy") == strategy
    assert request.get("MaxPayloadInMB") == payload
    assert request.get("MaxConcurrentTransforms") == concurrency
    assert request["TransformOutput"].get("Accept") == accept
    processing = request.get("DataProcessing", {})
    assert processing.get("InputFilter") == infilter
    assert processing.get("OutputFilter") == outfilter
    assert processing.get("JoinSource", "None") == join
    # The local runner's configuration comes from the same description.
    cfg = job.to_config([], Path("out"))
    assert (cfg.split_type, cfg.batch_strategy, cfg.max_payload_mb,
            cfg.max_concurrent_transforms, cfg.assemble_with, cfg.input_filter,
            cfg.join_source, cfg.output_filter, cfg.accept) == (
        split, strategy, payload, concurrency, assemble, infilter, join, outfilter, accept)


CHANGED = {
    "content_type": "application/json", "accept": "application/json", "split_type": "None",
    "batch_strategy": "SingleRecord", "max_payload_mb": 3, "max_concurrent_transforms": 4,
    "assemble_with": "None", "input_filter": "$[1:]", "join_source": "Input",
    "output_filter": "$[0]", "invocation_timeout_s": 120, "invocation_retries": 0,
    "environment": {"X": "y"}, "instance_type": "ml.c5.large", "instance_count": 2,
}
#: Fields that choose where the job runs rather than how records are processed.
PLACEMENT = {"instance_type", "instance_count", "distribution"}


def test_no_field_of_the_job_is_left_out_of_either_half() -> None:
    """A field added to the description must reach the request and (unless it only places
    the job) the local runner: this is what keeps the two from drifting apart."""
    names = {f.name for f in dataclasses.fields(TransformJob)}
    assert names - {"distribution"} == set(CHANGED), "add the new field to CHANGED"
    base = TransformJob()
    for name, value in CHANGED.items():
        job = base.replace(**{name: value})
        instance = value if name == "instance_type" else "ml.m5.large"
        assert build(job, instance) != build(base), name
        if name not in PLACEMENT:
            assert job.to_config([], Path("o")) != base.to_config([], Path("o")), name


# ----------------------------------------------------------------------------- refusals


PACKAGE = {"content_types": ["text/csv", "application/json"],
           "response_types": ["text/csv", "application/json"],
           "transform_types": ["ml.m5.large", "ml.m5.xlarge"]}


@pytest.mark.parametrize(("job", "says"), [
    (TransformJob(instance_type="ml.p3.2xlarge"),
     "--instance-type ml.p3.2xlarge is not supported by the model package for batch "
     "transform; use one of ml.m5.large, ml.m5.xlarge"),
    (TransformJob(content_type="application/x-npy"),
     "--content-type application/x-npy is not supported by the model package; use one of "
     "text/csv, application/json"),
    (TransformJob(accept="application/jsonlines"),
     "--accept application/jsonlines is not supported by the model package"),
    (TransformJob(max_payload_mb=20, max_concurrent_transforms=6),
     "MaxConcurrentTransforms x MaxPayloadInMB = 6 x 20 is over 100; lower "
     "MaxConcurrentTransforms (--max-concurrent) or MaxPayloadInMB (--max-payload)"),
    (TransformJob(distribution="FullyReplicated", instance_count=3),
     "use --distribution ShardedByS3Key or --instance-count 1"),
    (TransformJob(instance_count=0), "--instance-count 0 must be at least 1"),
    (TransformJob(invocation_retries=5), "--invocation-retries 5 must be 0 to 3"),
    (TransformJob(invocation_timeout_s=7200), "--invocation-timeout 7200 must be 1 to 3600"),
    (TransformJob(input_filter="$.a", content_type="text/csv"), "CSV records are arrays"),
])
def test_bad_combinations_are_refused_in_one_line_saying_what_to_change(
        job: TransformJob, says: str) -> None:
    with pytest.raises(UserError) as e:
        job.validate_for(**PACKAGE)
    assert says in str(e.value)
    assert "\n" not in str(e.value)


def test_the_instance_type_defaults_to_the_packages_first_and_parameters_are_canonical() -> None:
    assert TransformJob().validate_for(**PACKAGE) == "ml.m5.large"
    assert TransformJob(content_type="text/CSV", accept="application/JSON").validate_for(
        **PACKAGE) == "ml.m5.large"
    assert TransformJob(distribution="FullyReplicated").validate_for(**PACKAGE)


# ----------------------------------------------------------------------------- sharding


def test_sharding_gives_each_instance_a_disjoint_subset_in_s3_key_order() -> None:
    keys = [f"part-{i:03d}.csv" for i in range(10)]
    parts = shard(keys, 3)
    assert parts == [["part-000.csv", "part-003.csv", "part-006.csv", "part-009.csv"],
                     ["part-001.csv", "part-004.csv", "part-007.csv"],
                     ["part-002.csv", "part-005.csv", "part-008.csv"]]
    # S3 lists by UTF-8 bytes: "B" < "a", "a-b" < "a/b" ("-" is 0x2d, "/" 0x2f), "z" < "é".
    assert shard(["é.csv", "a/b.csv", "z.csv", "B.csv", "a-b.csv"], 1) == [
        ["B.csv", "a-b.csv", "a/b.csv", "z.csv", "é.csv"]]


@pytest.mark.parametrize(("keys", "count"), [(7, 2), (7, 7), (3, 5), (1, 4), (100, 6)])
def test_sharding_covers_every_key_once_with_sizes_within_one(keys: int, count: int) -> None:
    names = [f"k{i}" for i in range(keys)]
    parts = shard(names, count)
    assert len(parts) == count
    flat = [k for part in parts for k in part]
    assert sorted(flat) == sorted(names)
    assert len(flat) == len(set(flat))
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    # "One input file but multiple instances: only one processes it, the rest are idle."
    assert sum(1 for s in sizes if s) == min(keys, count)


def test_a_local_files_key_is_its_path_under_the_input_folder() -> None:
    assert file_key((Path("/data/in/sub/a.csv"), Path("sub/a.csv.out"))) == "sub/a.csv"


# ----------------------------------------------------------------------------- containers


def _write_inputs(root: Path, X) -> list[Path]:
    """Seven files of uneven size, one in a sub-folder (keys keep sub-folders)."""
    files = []
    bounds = [0, 10, 35, 36, 60, 100, 130, 150]
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        path = root / ("sub" if i == 3 else "") / f"part-{i}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(",".join(repr(float(v)) for v in row) + "\n"
                                for row in X[lo:hi]))
        files.append(path)
    return files


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.container
def test_sharded_run_over_real_containers_matches_one_instance_and_the_model(
        tmp_path: Path, image: str, iris, iris_model_dir: Path) -> None:
    X, _ = iris
    _write_inputs(tmp_path / "in", X)
    job = TransformJob(batch_strategy="MultiRecord", max_payload_mb=1)
    one = run_sharded(job, [tmp_path / "in"], tmp_path / "one", image=image,
                      model=iris_model_dir)
    lines: list[str] = []
    three = run_sharded(job.replace(instance_count=3), [tmp_path / "in"], tmp_path / "three",
                        image=image, model=iris_model_dir, echo=lines.append)
    assert one.report.ok, one.summary()
    assert three.report.ok, three.summary()
    assert _outputs(tmp_path / "three") == _outputs(tmp_path / "one")
    assert sorted(_outputs(tmp_path / "one")) == sorted(
        [f"part-{i}.csv.out" for i in (0, 1, 2, 4, 5, 6)] + ["sub/part-3.csv.out"])
    # Against the model itself, not only one smkit output against another.
    model = joblib.load(iris_model_dir / "model.joblib")
    expected = [str(v) for v in model.predict(X).tolist()]
    got = [line for i in range(7) for line in (
        tmp_path / "three" / ("sub" if i == 3 else "") / f"part-{i}.csv.out"
    ).read_text().splitlines()]
    assert got == expected
    # Each instance got its own subset: 7 keys over 3 instances is 3 + 2 + 2.
    assert [len(i.files) for i in three.instances] == [3, 2, 2]
    seen = [p for inst in three.instances for p, _ in inst.files]
    assert len(seen) == len(set(seen)) == 7
    assert lines[0] == "7 files over 3 instance(s): 3, 2, 2"
    assert three.report.records == 150


@pytest.mark.container
def test_smkit_transform_with_instances_from_the_cli(tmp_path: Path, image: str, iris,
                                                     iris_model_dir: Path) -> None:
    X, _ = iris
    _write_inputs(tmp_path / "in", X)

    def cli(out: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "smkit.cli", "transform", str(tmp_path / "in"), "--output",
             str(tmp_path / out), "--model", str(iris_model_dir), "--image", image, *extra],
            capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)

    two = cli("two", "--instances", "2")
    assert two.returncode == 0, two.stderr
    assert "instance 1: 4 files" in two.stderr
    assert "instance 2: 3 files" in two.stderr
    one = cli("one")
    assert one.returncode == 0, one.stderr
    assert _outputs(tmp_path / "two") == _outputs(tmp_path / "one")
    bad = cli("bad", "--instances", "2", "--max-payload", "60", "--max-concurrent", "2")
    assert bad.returncode == 2
    assert "--max-concurrent" in bad.stderr
    assert "Traceback" not in bad.stderr
