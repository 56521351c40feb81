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
from smkit.project.transform_job import TransformJob
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


class _Absent:
    """Marks a request part that must be left out."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


def part(request: dict, path: str) -> object:
    """The request's value at a dotted ``path`` (ABSENT when it is not there)."""
    node: object = request
    for name in path.split("."):
        if not isinstance(node, dict) or name not in node:
            return ABSENT
        node = node[name]
    return node


#: One accepted job per branch of TransformJob.validate (TransformConfig.validate_parameters)
#: and TransformJob.request that the two tests above do not reach, with the request parts
#: that branch decides. The refusals are in the test after this one.
ACCEPTED = [
    pytest.param(TransformJob(split_type="None", max_payload_mb=0),
                 {"TransformInput.SplitType": "None", "MaxPayloadInMB": 0,
                  "DataProcessing": ABSENT},
                 id="split-none-payload-0-without-processing-streams-and-0-is-sent"),
    pytest.param(TransformJob(split_type="None", max_payload_mb=0, input_filter="$"),
                 {"MaxPayloadInMB": 0, "DataProcessing": {"InputFilter": "$"}},
                 id="root-filter-is-no-processing-so-payload-0-is-allowed"),
    pytest.param(TransformJob(split_type="None", max_payload_mb=6, input_filter="$[1:]"),
                 {"TransformInput.SplitType": "None", "MaxPayloadInMB": 6,
                  "DataProcessing": {"InputFilter": "$[1:]"}},
                 id="split-none-with-processing-and-payload-above-0"),
    pytest.param(TransformJob(max_payload_mb=50, max_concurrent_transforms=2),
                 {"MaxPayloadInMB": 50, "MaxConcurrentTransforms": 2},
                 id="payload-times-concurrency-exactly-100"),
    pytest.param(TransformJob(max_payload_mb=100),
                 {"MaxPayloadInMB": 100, "MaxConcurrentTransforms": ABSENT},
                 id="payload-without-concurrency-skips-the-product-check"),
    pytest.param(TransformJob(join_source="Input", output_filter="$[0,-1]"),
                 {"DataProcessing": {"OutputFilter": "$[0,-1]", "JoinSource": "Input"}},
                 id="join-with-an-index-output-filter-on-csv"),
    pytest.param(TransformJob(join_source="Input", input_filter="$[1:]"),
                 {"DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input"}},
                 id="join-without-output-filter"),
    pytest.param(TransformJob(output_filter="$.label", accept="application/json"),
                 {"DataProcessing": {"OutputFilter": "$.label"},
                  "TransformOutput.Accept": "application/json"},
                 id="output-filter-without-join-is-not-held-to-csv-input"),
    pytest.param(TransformJob(instance_count=3),
                 {"TransformResources.InstanceCount": 3},
                 id="sharded-over-several-instances"),
]


@pytest.mark.parametrize(("job", "decided"), ACCEPTED)
def test_an_accepted_job_is_a_valid_request_carrying_what_its_branch_decides(
        job: TransformJob, decided: dict[str, object]) -> None:
    job.validate()
    request = build(job)
    assert botocore_errors(request) == ""
    assert {path: part(request, path) for path in decided} == decided


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
    pytest.param(TransformJob(instance_type="ml.p3.2xlarge"),
                 "--instance-type ml.p3.2xlarge is not supported by the model package for "
                 "batch transform; use one of ml.m5.large, ml.m5.xlarge",
                 id="instance-type-not-in-package"),
    pytest.param(TransformJob(content_type="application/x-npy"),
                 "--content-type application/x-npy is not supported by the model package; "
                 "use one of text/csv, application/json",
                 id="content-type-not-in-package"),
    pytest.param(TransformJob(accept="application/jsonlines"),
                 "--accept application/jsonlines is not supported by the model package",
                 id="accept-not-in-package"),
    pytest.param(TransformJob(max_payload_mb=20, max_concurrent_transforms=6),
                 "MaxConcurrentTransforms x MaxPayloadInMB = 6 x 20 is over 100; lower "
                 "MaxConcurrentTransforms (--max-concurrent) or MaxPayloadInMB (--max-payload)",
                 id="payload-times-concurrency-over-100"),
    pytest.param(TransformJob(split_type="None", max_payload_mb=0, join_source="Input"),
                 "InputFilter/JoinSource/OutputFilter with SplitType=None need a MaxPayloadInMB "
                 "above 0",
                 id="split-none-payload-0-with-processing"),
    pytest.param(TransformJob(distribution="FullyReplicated", instance_count=3),
                 "use --distribution ShardedByS3Key or --instance-count 1",
                 id="replicated-over-several-instances"),
    pytest.param(TransformJob(distribution="Replicated"),
                 "--distribution 'Replicated' must be ShardedByS3Key or FullyReplicated",
                 id="distribution-unknown"),
    pytest.param(TransformJob(instance_count=0), "--instance-count 0 must be at least 1",
                 id="no-instances"),
    pytest.param(TransformJob(invocation_retries=5), "--invocation-retries 5 must be 0 to 3",
                 id="retries-out-of-range"),
    pytest.param(TransformJob(invocation_timeout_s=7200),
                 "--invocation-timeout 7200 must be 1 to 3600", id="timeout-out-of-range"),
    pytest.param(TransformJob(input_filter="$.a", content_type="text/csv"),
                 "InputFilter '$.a': CSV records are arrays", id="csv-input-filter-by-name"),
    pytest.param(TransformJob(join_source="Input", output_filter="$.a"),
                 "OutputFilter '$.a': CSV records are arrays",
                 id="csv-join-output-filter-by-name"),
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
