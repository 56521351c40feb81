"""Transform rates: records per second per instance, first request to last answer, start-up
on its own line (smkit.transform.rates and the runner's summary)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from smkit.cli import main
from smkit.image import docker
from smkit.transform import rates
from smkit.transform.config import Resolved
from smkit.transform.runner import FileResult, TransformReport


def test_span_keeps_the_first_request_and_the_last_answer() -> None:
    span = rates.Span()
    assert span.seconds == 0.0
    span.request(10.0)
    span.request(12.0)  # later requests do not move the start
    span.answer(11.0)
    span.answer(14.5)
    span.answer(13.0)  # an earlier answer does not move the end
    assert (span.first_request, span.last_answer) == (10.0, 14.5)
    assert span.seconds == 4.5


def test_span_marks_from_many_threads_keep_the_extremes() -> None:
    span = rates.Span()
    marks = [float(i) for i in range(200)]

    def mark(at: float) -> None:
        span.request(at)
        span.answer(at + 1)

    threads = [threading.Thread(target=mark, args=(m,)) for m in reversed(marks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (span.first_request, span.last_answer) == (0.0, 200.0)


def test_a_job_span_runs_from_the_first_request_anywhere_to_the_last_answer_anywhere() -> None:
    a, b, idle = rates.Span(), rates.Span(), rates.Span()
    a.request(5.0)
    a.answer(9.0)
    b.request(6.0)
    b.answer(11.0)
    job = rates.union([a, b, idle])
    assert (job.first_request, job.last_answer, job.seconds) == (5.0, 11.0, 6.0)


def test_per_instance_rate_divides_by_instances_and_time() -> None:
    assert rates.per_instance(50_000, 2.0) == 25_000
    assert rates.per_instance(50_000, 2.0, instances=2) == 12_500
    assert rates.per_instance(50_000, 0.0) == 0.0


def test_rate_line_says_per_instance_and_the_span() -> None:
    one = rates.rate_line(50_000, 2.0)
    assert one == ("25,000 records/s per instance (50,000 records, 2.0 s from first request "
                   "to last answer)")
    two = rates.rate_line(50_000, 2.0, instances=2)
    assert two.startswith("12,500 records/s per instance")
    assert "2 instances, 25,000 records/s in all" in two


def test_startup_line_names_the_slowest_container() -> None:
    assert rates.startup_line([]) is None
    assert rates.startup_line([1.25]) == ("container start-up: 1.2 s (before the first "
                                          "request, not counted above)")
    line = rates.startup_line([1.0, 3.4])
    assert line is not None
    assert line.startswith("container start-up: 3.4 s, the slowest of 2")


def _report(tmp_path: Path, *, seconds: float, span: rates.Span, instances: int,
            startup: list[float]) -> TransformReport:
    result = FileResult(tmp_path / "in.csv", tmp_path / "in.csv.out", records=50_000)
    params = Resolved("MultiRecord", 6, 1, ("default", "default", "default"))
    return TransformReport({result.input: result}, params, seconds, None, span, instances,
                           startup)


def test_the_summary_rate_leaves_start_up_out(tmp_path: Path) -> None:
    # The case: the job took 2.0 s of wall time, 1.6 s of it starting containers.
    span = rates.Span(first_request=100.0, last_answer=100.4)
    report = _report(tmp_path, seconds=2.0, span=span, instances=2, startup=[1.5, 1.6])
    first, second = report.summary().splitlines()[:2]
    assert first.startswith("1/1 files transformed: 62,500 records/s per instance "
                            "(50,000 records, 0.4 s from first request to last answer, "
                            "2 instances, 125,000 records/s in all)")
    assert "BatchStrategy=MultiRecord" in first
    assert second.startswith("container start-up: 1.6 s, the slowest of 2")


def test_a_running_server_has_no_start_up_line(tmp_path: Path) -> None:
    span = rates.Span(first_request=0.0, last_answer=4.0)
    report = _report(tmp_path, seconds=4.2, span=span, instances=1, startup=[])
    assert "start-up" not in report.summary()
    assert "12,500 records/s per instance" in report.summary()


@pytest.mark.container
def test_smkit_transform_holds_each_container_to_cpus_and_prints_rate_and_start_up(
        tmp_path: Path, image: str, iris_model_dir: Path, iris, capsys, monkeypatch) -> None:
    """The CLI on the real image: two instances, each container started with --cpus 0.5
    (docker's own record of the container says so), and the rate lines."""
    started: list[tuple[str, ...]] = []
    real_serve = docker.serve

    def serve(*args, **kwargs):  # records the containers' docker options, starts them as is
        cm = real_serve(*args, **kwargs)

        class Watch:
            def __enter__(self):
                server = cm.__enter__()
                nano = docker.docker("inspect", "-f", "{{.HostConfig.NanoCpus}}",
                                     server.name).stdout.decode().strip()
                started.append((server.name, nano))
                return server

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Watch()

    monkeypatch.setattr(docker, "serve", serve)
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [",".join(repr(float(v)) for v in row) for row in iris[0]]
    (folder / "a.csv").write_text("\n".join(rows[:75]) + "\n")
    (folder / "b.csv").write_text("\n".join(rows[75:]) + "\n")
    code = main(["transform", str(folder), "-o", str(tmp_path / "out"), "--model",
                 str(iris_model_dir), "--image", image, "--instances", "2", "--cpus", "0.5",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert [nano for _, nano in started] == ["500000000", "500000000"]
    summary = err[err.index("2/2 files transformed"):]
    lines = summary.splitlines()
    assert "records/s per instance (150 records" in lines[0]
    assert "2 instances" in lines[0]
    assert lines[1].startswith("container start-up: ")
    assert sum(1 for ln in lines if ln.startswith("  instance ")) == 2


def test_cpus_with_a_running_server_says_what_to_do(tmp_path: Path, capsys) -> None:
    data = tmp_path / "in.csv"
    data.write_text("1,2,3,4\n")
    code = main(["transform", str(data), "-o", str(tmp_path / "out"), "--url",
                 "http://127.0.0.1:9", "--cpus", "1"])
    assert code == 2
    assert capsys.readouterr().err.splitlines()[0].endswith(
        "--cpus limits the containers smkit starts: give --model, not --url")
