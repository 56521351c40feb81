"""``smkit buyer transform --listing``: the plan for the job's type and count beside what the
job did, on the demo's model package and emulators (the real product image)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from wheel_kit import DemoRun


def smkit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The CLI as a user runs it."""
    return subprocess.run([sys.executable, "-m", "smkit.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False)


@pytest.mark.container
def test_buyer_transform_prints_the_plan_beside_the_job(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    """Two instances here: the per-instance rate and the start-up on their own lines, then
    the listing's plan for 2 x ml.m5.large beside the job's own figures."""
    listing = tmp_path / "listing.yaml"
    listing.write_text(
        "performance:\n  instance_type: ml.m5.large\n  latency_ms_p50: 3.2\n"
        "  latency_ms_p95: 5.1\n  throughput_per_s: 400\n"
        "  measured_on: an ml.m5.large endpoint in us-east-1\n  measured_at: 2026-11-30\n"
        "pricing:\n  model: hourly\n  batch:\n    ml.m5.large: '0.40'\n")
    rows = (demo_run.out / "validation" / "input.csv").read_text().splitlines()
    folder = tmp_path / "in"
    folder.mkdir()
    half = len(rows) // 2
    (folder / "a.csv").write_text("\n".join(rows[:half]) + "\n")
    (folder / "b.csv").write_text("\n".join(rows[half:]) + "\n")
    proc = smkit("buyer", "transform", "--model-package-arn", demo_run.fact("model package"),
                 "--input", str(folder), "--output", str(tmp_path / "out"), "--local",
                 "--instance-type", "ml.m5.large", "--instance-count", "2", "--listing",
                 str(listing), "--infra-price", "ml.m5.large=0.2", env=demo_env)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.splitlines()
    assert any(f"records/s per instance ({len(rows)} records" in ln and "2 instances" in ln
               for ln in err), proc.stderr
    assert any(ln.startswith("container start-up: ") for ln in err), proc.stderr
    head = next(i for i, ln in enumerate(err) if ln.split() == ["plan", "actual"])
    table = {ln.rsplit(maxsplit=2)[0].strip(): ln.split()[-2:] for ln in err[head + 1:head + 6]}
    assert list(table) == ["duration", "records/s per instance", "software", "infrastructure",
                           "total"]
    assert table["records/s per instance"][0] == "400"
    assert table["records/s per instance"][1] != "unknown"
    # 2 instances x (60 s assumed start-up + records / 800 per s), at the given prices.
    assert all(v.startswith("$") for name in ("software", "infrastructure", "total")
               for v in table[name])


@pytest.mark.container
def test_buyer_plan_measures_the_rate_here_on_a_sample_of_the_input(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path) -> None:
    """--measure: the package's image held to ml.m5.large's CPUs and memory transforms the
    first records of the input; the plan uses that rate and the measured start-up."""
    rows = (demo_run.out / "validation" / "input.csv").read_text().splitlines()
    data = tmp_path / "big.csv"
    data.write_text("\n".join(rows * 200) + "\n")
    proc = smkit("buyer", "plan", "--input", str(data), "--measure", "--model-package-arn",
                 demo_run.fact("model package"), "--instance-type", "ml.m5.large",
                 "--deadline", "1h", "--hourly-price", "0.5", env=demo_env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0].startswith(f"input    {data}: 1 object(s)")
    assert f"{len(rows) * 200:,} records (counted)" in out[0]
    assert out[1].startswith("rate     ")
    # The input's records repeated until they fill every concurrent mini-batch slot.
    assert re.search(r"records/s per instance on ml.m5.large \(measured here: [\d,]+ records "
                     rf"\(the input's first {len(rows) * 200:,}, repeated\) in local Docker "
                     "limited to ml.m5.large's 2 vCPUs", out[1]), out[1]
    assert "s start-up, measured)" in proc.stdout
    assert "  instances       1 x ml.m5.large" in out
    assert "x $0.5/h; your --hourly-price)" in proc.stdout
