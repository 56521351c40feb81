"""One large file on one instance and on two, each container held to one CPU (issue 25, item 4).

``smkit transform --split`` cuts the file at record boundaries so both instances get work;
each container runs with ``docker --cpus 1``, so this 2-core machine can show the scaling
(without the limit, one instance would already use both cores). Figures are records per
second from the first request to the last answer (``smkit.transform.rates``): the
containers' start-up is timed on its own and left out. The two runs' outputs must be the
same bytes. Other work on this machine takes CPU from the containers and drifts within
minutes, so the two runs alternate for a few rounds (1, 2, 1, 2, ...) and the ratio is the
median of each round's own ratio; the load average is printed with it.

Target: two instances give at least 1.8 times the records per second of one.
For ``make bench`` (``bench/run.py``); alone: ``python bench/split_bench.py [--rows N]``.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import shard_bench
from smkit.project.transform_job import TransformJob
from smkit.transform import rates
from smkit.transform.image import cpu_limit
from smkit.transform.shard import run_sharded

IMAGE = os.environ.get("SMKIT_IMAGE", "smkit-inference:latest")
#: What the target asks of two instances against one.
TARGET_RATIO = 1.8


@dataclass
class Run:
    """One run of the file."""

    instances: int
    records: int
    #: First request to last answer over the job.
    span_s: float
    startup_s: float
    wall_s: float
    output: Path

    @property
    def records_per_s(self) -> float:
        """The job's records per second (all instances together)."""
        return self.records / self.span_s if self.span_s > 0 else 0.0

    @property
    def per_instance(self) -> float:
        """Records per second per instance."""
        return rates.per_instance(self.records, self.span_s, self.instances)


@dataclass
class Result:
    """Both runs in every round, and what they show."""

    rows: int
    trees: int
    file_mb: float
    #: (one instance, two instances) per round.
    rounds: list[tuple[Run, Run]]
    identical: bool
    load_before: float
    load_after: float

    @property
    def ratios(self) -> list[float]:
        """Each round's two-instance records/s over its one-instance records/s."""
        return [two.records_per_s / one.records_per_s if one.records_per_s else 0.0
                for one, two in self.rounds]

    @property
    def ratio(self) -> float:
        """The median round's ratio."""
        return statistics.median(self.ratios)

    def median_run(self, instances: int) -> Run:
        """The run with the median records/s for that instance count."""
        runs = sorted((pair[instances - 1] for pair in self.rounds),
                      key=lambda r: r.records_per_s)
        return runs[len(runs) // 2]

    @property
    def one(self) -> Run:
        """One instance's median run."""
        return self.median_run(1)

    @property
    def two(self) -> Run:
        """Two instances' median run."""
        return self.median_run(2)

    def lines(self) -> list[str]:
        """The figures as the bench prints them."""
        out = [f"one file of {self.rows:,} rows ({self.file_mb:.1f} MB, a {self.trees}-tree "
               f"forest), --split, each container --cpus 1; {os.cpu_count()} CPUs, load "
               f"average {self.load_before:.1f} before, {self.load_after:.1f} after; "
               f"{len(self.rounds)} round(s), medians:"]
        for r in (self.one, self.two):
            out.append(f"  {r.instances} instance(s): {r.records_per_s:,.0f} records/s "
                       f"({r.per_instance:,.0f} per instance; {r.records:,} records in "
                       f"{r.span_s:.2f} s first request to last answer; start-up "
                       f"{r.startup_s:.1f} s; wall {r.wall_s:.1f} s)")
        met = "met" if self.ratio >= TARGET_RATIO else "NOT met"
        out.append(f"  ratio 2/1: {self.ratio:.2f}x (target >= {TARGET_RATIO}x: {met}; rounds: "
                   + ", ".join(f"{x:.2f}" for x in self.ratios) + ")")
        out.append(f"  outputs byte-identical: {'yes' if self.identical else 'NO'}")
        return out


def _run(image: str, model: Path, data: Path, out: Path, instances: int) -> Run:
    job = TransformJob(batch_strategy="MultiRecord", max_payload_mb=6,
                       max_concurrent_transforms=2, instance_count=instances)
    started = time.monotonic()
    run = run_sharded(job, [data], out, image=image, model=model, progress=False, split=True,
                      limits=cpu_limit(1))
    wall = time.monotonic() - started
    if not run.report.ok:
        raise RuntimeError(run.summary())
    report = run.report
    return Run(instances, report.records, report.span.seconds, max(report.startup_s or [0.0]),
               wall, out / f"{data.name}.out")


def measure(image: str = IMAGE, *, rows: int = 150_000, trees: int = 800,
            rounds: int = 3) -> Result:
    """Transform one file of ``rows`` rows with 1 and with 2 instances (``--split``, each
    ``--cpus 1``), alternating for ``rounds`` rounds; every output is compared with the
    first one-instance output; the file and outputs are removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="smkit-split-bench-") as tmp:
        folder = Path(tmp)
        inputs = shard_bench.write_inputs(folder, rows, files=1)
        data = next(inputs.iterdir())
        # Enough work per record that the containers, not smkit's runner on the host, set the pace.
        model = shard_bench.train_model(folder, trees=trees, depth=10, samples=4000)
        load_before = os.getloadavg()[0]
        pairs: list[tuple[Run, Run]] = []
        identical = True
        for i in range(rounds):
            one = _run(image, model, data, folder / f"out1-{i}", 1)
            two = _run(image, model, data, folder / f"out2-{i}", 2)
            reference = pairs[0][0].output if pairs else one.output
            identical = identical and all(filecmp.cmp(reference, r.output, shallow=False)
                                          for r in (one, two))
            pairs.append((one, two))
        return Result(rows, trees, data.stat().st_size / (1 << 20), pairs, identical,
                      load_before, os.getloadavg()[0])


def main(argv: list[str] | None = None) -> int:
    """Print both rates, the ratio and whether the outputs match; 1 when the outputs differ."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--trees", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image", default=IMAGE)
    args = parser.parse_args(argv)
    result = measure(args.image, rows=args.rows, trees=args.trees, rounds=args.rounds)
    print("\n".join(result.lines()))
    return 0 if result.identical else 1


if __name__ == "__main__":
    sys.exit(main())
