"""Measure what a listing states, by running the real inference image on this machine.

Latency: sequential one-record requests (median and p95). Throughput: concurrent one-record
requests, in records per second. Accuracy: a labeled validation CSV (headerless, label in the
last column) sent through the model. The sample output is the model's answer to the sample
input, so the listing never shows a hand-typed answer. When the model package meters per
inference, the metering header is checked against the number of records.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from smkit_contract.limits import METERING_DIMENSION, METERING_HEADER

from smkit.core.errors import PlatformError, UserError
from smkit.image.docker import serve
from smkit.listing.samples import head_records, to_csv
from smkit.project.labeled import label_first


@dataclass(frozen=True)
class Accuracy:
    """A metric on labeled validation data."""

    metric: str
    value: float
    rows: int


@dataclass(frozen=True)
class Measurements:
    """What one run of the image measured."""

    latency_ms_p50: float
    latency_ms_p95: float
    throughput_per_s: float
    sample_output: bytes
    accuracy: Accuracy | None
    #: The metering header's value on the sample request, if the container sent one.
    metering: dict[str, object] | None
    #: The day the figures were measured.
    measured_at: datetime.date
    #: Records/s of a batch transform of the sample's records (None: not measured).
    batch_throughput_per_s: float | None = None


def _post(url: str, body: bytes, content_type: str,
          timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(  # noqa: S310 (a local container over http)
        f"{url}/invocations", data=body, method="POST",
        headers={"Content-Type": content_type, "Accept": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310
            return int(r.status), {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return int(e.code), {k.lower(): v for k, v in e.headers.items()}, e.read()


def _ok(status: int, body: bytes, what: str) -> None:
    if status != 200:
        raise PlatformError(f"the model answered {status} to {what}: "
                            f"{body[:500].decode(errors='replace')}")


def read_validation(path: Path) -> tuple[list[list[str]], list[str]]:
    """Feature rows and labels of a headerless CSV whose last column is the label."""
    try:
        rows = [r for r in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))) if r]
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"--validation {path}: cannot read it ({e})") from None
    if not rows or any(len(r) < 2 for r in rows):
        raise UserError(f"--validation {path}: expected a headerless CSV with the features "
                        "and then the label in the last column, at least 2 columns per row")
    return [r[:-1] for r in rows], [r[-1] for r in rows]


def _in_classes(values: list[str], classes: list[object]) -> bool:
    """True when every value is one of the model's classes (compared as text or number)."""
    def norm(v: object) -> str:
        try:
            return repr(float(str(v)))
        except ValueError:
            return str(v).strip()

    known = {norm(c) for c in classes}
    return all(norm(v) in known for v in values)


def check_labeled(path: Path, *, n_features: int | None, classes: list[object] | None,
                  task: str) -> None:
    """Refuse a labeled validation file that cannot be what it should be, before any image
    runs: the wrong width for the model, or the label not in the last column."""
    features, labels = read_validation(path)
    widths = sorted({len(r) + 1 for r in features})
    name = f"--validation {path.name}"
    if n_features is not None and widths != [n_features + 1]:
        width = widths[0] if len(widths) == 1 else f"{widths[0]}-{widths[-1]}"
        bad = next(i for i, r in enumerate(features, 1) if len(r) != n_features)
        if widths == [n_features]:
            raise UserError(f"{name}: rows have {n_features} columns, as many as the model's "
                            "features: the label column is missing. Give the held-out rows "
                            f"with their label appended as the last column ({n_features + 1} "
                            "columns; input.csv is the same rows without it)")
        raise UserError(f"{name}: line {bad} has {width} columns; the model takes "
                        f"{n_features} features, so a labeled row has {n_features + 1} "
                        "(the features, then the label last)")
    if task == "classification" and classes:
        first = [r[0] for r in features]
        if not _in_classes(labels, classes):
            if _in_classes(first, classes):
                raise UserError(label_first(name, "the first column holds the classes and "
                                            "the last does not"))
            stray = next(v for v in labels if not _in_classes([v], classes))
            shown = ", ".join(map(str, classes[:10]))
            raise UserError(f"{name}: last-column value {stray!r} is not one of the model's "
                            f"classes ({shown}); the label must be the last column")


def check_accuracy(accuracy: Accuracy, labels: list[str], path: Path) -> None:
    """Refuse an accuracy no real listing has: at or below always guessing the most common
    label, which means the labels do not belong to these rows."""
    if accuracy.metric != "accuracy" or not labels:
        return
    counts: dict[str, int] = {}
    for v in labels:
        counts[v] = counts.get(v, 0) + 1
    chance = max(counts.values()) / len(labels)
    if accuracy.value <= chance:
        raise UserError(
            f"--validation {path.name}: accuracy {accuracy.value:.4f} on {accuracy.rows} rows "
            f"is no better than always answering the most common label ({chance:.4f}). The "
            "labels likely do not belong to these rows: a shuffled or swapped column, or "
            "another data set. Buyers see this figure; check the file"
        )


def _score(predictions: list[str], labels: list[str], task: str) -> Accuracy:
    if task == "regression":
        try:
            y = [float(v) for v in labels]
            p = [float(v) for v in predictions]
        except ValueError as e:
            raise UserError(f"a regression's validation labels must be numbers: {e}") from None
        mean = statistics.fmean(y)
        ss_tot = sum((v - mean) ** 2 for v in y)
        ss_res = sum((a - b) ** 2 for a, b in zip(y, p, strict=True))
        return Accuracy("R^2", 1 - ss_res / ss_tot if ss_tot else 0.0, len(y))

    def norm(v: str) -> str:
        try:
            return repr(float(v))
        except ValueError:
            return v.strip()

    hits = sum(norm(a) == norm(b) for a, b in zip(predictions, labels, strict=True))
    return Accuracy("accuracy", hits / len(labels), len(labels))


def _refuse_label_first(url: str, features: list[list[str]], labels: list[str], start: int,
                        validation: Path) -> None:
    """Raise ``label_first`` when the model refuses the first row of a refused batch as
    given and takes it with its first cell moved to the end: the model itself tells, with
    no signature to read the columns against."""
    row = features[start]
    as_given = _post(url, to_csv([row]), "text/csv")[0]
    if as_given != 200 and _post(url, to_csv([[*row[1:], labels[start]]]), "text/csv")[0] == 200:
        raise UserError(label_first(
            f"--validation {validation.name}",
            f"the model refuses line {start + 1} as it is and takes it with its first cell "
            "moved to the end"))


def measure(image: str, model_dir: Path, sample: bytes, content_type: str, *,
            env: Mapping[str, str] | None = None, validation: Path | None = None,
            task: str = "classification", latency_requests: int = 50,
            throughput_requests: int = 200, concurrency: int | None = None,
            limits: tuple[str, ...] = ()) -> Measurements:
    """Run ``image`` on ``model_dir`` (``docker run`` options ``limits``) and measure it."""
    one_record = head_records(sample, content_type, 1)[0].encode()
    measured_at = datetime.date.today()
    with serve(image, model_dir, env=env, extra_args=limits) as server:
        assert server.url is not None  # served with a network
        if validation is not None:  # the sample may come from it: its label position first
            _refuse_label_first(server.url, *read_validation(validation), 0, validation)
        status, headers, sample_output = _post(server.url, sample, content_type)
        _ok(status, sample_output, "the sample input")
        metering = None
        if METERING_HEADER.lower() in headers:
            metering = json.loads(headers[METERING_HEADER.lower()])
            if metering.get("Dimension") != METERING_DIMENSION:
                raise PlatformError(f"{METERING_HEADER} reports dimension "
                                    f"{metering.get('Dimension')!r}, not {METERING_DIMENSION}")
        for _ in range(3):  # warm-up, not timed
            _post(server.url, one_record, content_type)
        times = []
        for _ in range(latency_requests):
            t0 = time.perf_counter()
            status, _, body = _post(server.url, one_record, content_type)
            times.append((time.perf_counter() - t0) * 1000)
            _ok(status, body, "a one-record request")
        times.sort()
        p50 = statistics.median(times)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        workers = concurrency or max(2, os.cpu_count() or 2)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda _: _post(server.url or "", one_record, content_type)[0],
                                    range(throughput_requests)))
        elapsed = time.perf_counter() - t0
        if any(s != 200 for s in results):
            raise PlatformError(f"{sum(s != 200 for s in results)} of {len(results)} "
                                "concurrent requests failed while measuring throughput")
        accuracy = None
        if validation is not None:
            features, labels = read_validation(validation)
            predictions: list[str] = []
            for start in range(0, len(features), 1000):
                status, _, body = _post(server.url, to_csv(features[start:start + 1000]),
                                        "text/csv")
                if status != 200:
                    _refuse_label_first(server.url, features, labels, start, validation)
                _ok(status, body, f"validation rows {start + 1}-"
                    f"{min(start + 1000, len(features))}")
                predictions += [r[0] for r in csv.reader(io.StringIO(body.decode())) if r]
            if len(predictions) != len(labels):
                raise PlatformError(f"the model returned {len(predictions)} predictions for "
                                    f"{len(labels)} validation rows")
            accuracy = _score(predictions, labels, task)
            check_accuracy(accuracy, labels, validation)
    return Measurements(p50, p95, throughput_requests / elapsed, sample_output, accuracy,
                        metering, measured_at)
