"""``smkit buyer plan``: the input's size, the rate, the prices and the choice for a deadline or
a budget; the errors say what to fix on their first line (exit 2)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import boto3
import pytest
from smkit.aws import prices
from smkit.aws.clients import connect
from smkit.aws.instances import SIZES
from smkit.buyer import plan
from smkit.cli import main
from smkit.core.errors import UserError
from smkit.project.transform_job import TransformJob
from smkit.transform import image as image_mod

RATE = plan.Rate("ml.m5.large", 400.0, "test", startup_s=0.0)
TABLE = prices.PriceTable({"ml.m5.large": 0.115, "ml.c5.xlarge": 0.204}, "test table",
                          "2026-12-06")


def _rows(n: int, width: int = 40) -> bytes:
    """``n`` CSV records of ``width`` bytes each (newline included)."""
    return b"".join(f"{i:0{width - 9}d},1,2,3,4\n".encode() for i in range(n))


def _size(records: int, objects: int = 1) -> plan.InputSize:
    return plan.InputSize("x", objects, records * 40, records, 0, 0, True)


# ----------------------------------------------------------------------------- input size


def test_a_small_input_is_counted_exactly(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_bytes(_rows(1000))
    (tmp_path / "in" / "b.csv").write_bytes(_rows(500) + b"last,row,without,newline")
    size = plan.local_size(tmp_path / "in")
    assert (size.objects, size.records, size.exact) == (2, 1501, True)
    assert size.bytes == 1500 * 40 + len(b"last,row,without,newline")


def test_a_large_input_is_estimated_from_a_sample_of_its_bytes(tmp_path: Path) -> None:
    data = tmp_path / "big.csv"
    data.write_bytes(_rows(300_000))  # 12 MB: more than the 4 MB sample
    size = plan.local_size(data)
    assert not size.exact
    assert size.sample_bytes <= plan.SAMPLE_BYTES
    assert size.records == 300_000  # every record is the same width, so the scale is exact
    assert "about, from" in size.describe()


def test_split_type_none_counts_one_record_per_object(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"x": [1, 2]}\n{"y": 3}\n')
    size = plan.local_size(tmp_path / "a.json", split_type="None")
    assert (size.objects, size.records) == (1, 1)


def test_an_s3_prefix_is_listed_and_sampled_with_ranged_gets(aws_env, tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = "plan-size-test"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/a.csv", Body=_rows(150_000))  # 6 MB
    s3.put_object(Bucket=bucket, Key="in/b.csv", Body=_rows(50_000))
    s3.put_object(Bucket=bucket, Key="other/c.csv", Body=_rows(10))
    size = plan.s3_size(connect("us-east-1"), f"s3://{bucket}/in/")
    assert size.objects == 2
    assert size.bytes == 200_000 * 40
    assert not size.exact
    # The first 4 MB of a.csv, cut at its last whole record; b.csv is not read at all.
    assert plan.SAMPLE_BYTES - 40 < size.sample_bytes <= plan.SAMPLE_BYTES
    assert size.records == 200_000


# ----------------------------------------------------------------------------- the choice


def test_software_is_billed_by_the_minute_and_infrastructure_by_the_second() -> None:
    e = plan.estimate(_size(400 * 61), RATE, 1, software_hourly=0.60, infra_hourly=0.115)
    assert e.seconds == 61
    assert e.software_usd == pytest.approx(2 / 60 * 0.60)  # 61 s is two billed minutes
    assert e.infra_usd == pytest.approx(61 / 3600 * 0.115)
    assert e.total_usd == pytest.approx(e.software_usd + e.infra_usd)


def test_instances_beyond_the_objects_get_no_work_without_split() -> None:
    size = _size(400 * 600, objects=2)
    assert plan.estimate(size, RATE, 4, software_hourly=0, infra_hourly=0).working == 2
    assert plan.estimate(size, RATE, 4, software_hourly=0, infra_hourly=0,
                         split=True).working == 4


def test_a_deadline_gets_the_cheapest_plan_that_meets_it() -> None:
    slow = plan.Rate("ml.m5.large", 100.0, "t", startup_s=60.0)
    fast = plan.Rate("ml.c5.xlarge", 250.0, "t", startup_s=60.0)
    size = _size(360_000, objects=1)
    chosen = plan.choose(size, [slow, fast], plan.Goal(deadline_s=3600),
                         software=lambda t: 1.0, infra=TABLE, split=True)
    assert chosen.seconds <= 3600
    # Every option that meets the deadline costs at least as much as the one chosen.
    for rate in (slow, fast):
        for n in range(1, 20):
            e = plan.estimate(size, rate, n, software_hourly=1.0,
                              infra_hourly=TABLE.price(rate.instance_type), split=True)
            if e.seconds <= 3600:
                assert e.total_usd >= chosen.total_usd - 1e-9
    assert (chosen.instance_type, chosen.count) == ("ml.c5.xlarge", 1)


def test_a_budget_gets_the_fastest_plan_within_it() -> None:
    size = _size(400 * 3600, objects=1)  # one instance-hour of work
    rate = plan.Rate("ml.m5.large", 400.0, "t", startup_s=60.0)
    chosen = plan.choose(size, [rate], plan.Goal(budget_usd=0.8), software=lambda t: 0.5,
                         infra=TABLE, split=True)
    assert chosen.total_usd <= 0.8
    assert 1 < chosen.count < plan.MAX_INSTANCES
    # Every faster plan costs more than the budget (each instance pays its start-up).
    for n in range(chosen.count + 1, plan.MAX_INSTANCES + 1):
        e = plan.estimate(size, rate, n, software_hourly=0.5, infra_hourly=0.115, split=True)
        assert e.seconds < chosen.seconds
        assert e.total_usd > 0.8


def test_no_plan_says_what_to_change() -> None:
    size = _size(400 * 3600, objects=1)
    with pytest.raises(UserError, match=r"^no plan meets a deadline of 10m00s: the fastest is "
                                        r"1 x ml.m5.large in 1h00m; allow more time; --split "):
        plan.choose(size, [RATE], plan.Goal(deadline_s=600), software=lambda t: 1.0,
                    infra=TABLE)
    with pytest.raises(UserError, match=r"^no plan fits a budget of \$0.01: the cheapest is 1 x "
                                        r"ml.m5.large at \$1.11 \(1h00m\); raise --budget"):
        plan.choose(size, [RATE], plan.Goal(budget_usd=0.01), software=lambda t: 1.0,
                    infra=TABLE)
    with pytest.raises(UserError, match=r"^a budget needs both prices; no SageMaker price for "
                                        r"ml.m5.large in empty: give --infra-price "):
        plan.choose(size, [RATE], plan.Goal(budget_usd=5), software=lambda t: 1.0,
                    infra=prices.PriceTable({}, "empty", "2026-12-06"))


def test_durations_are_read_as_buyers_write_them() -> None:
    assert plan.parse_duration("90m") == 5400
    assert plan.parse_duration("1h30m") == 5400
    assert plan.parse_duration("45s") == 45
    assert plan.parse_duration("120") == 120
    for bad in ("", "1d", "h", "-5m", "0"):
        with pytest.raises(UserError, match=r"^--deadline .*: give a duration such as 90m"):
            plan.parse_duration(bad)


def test_the_plan_beside_the_job_shows_both_columns() -> None:
    e = plan.estimate(_size(400 * 120), RATE, 1, software_hourly=0.6, infra_hourly=0.115)
    text = plan.comparison(e, seconds=150.0, records=48_000, instances=1, span_s=100.0)
    lines = text.splitlines()
    assert lines[0].split() == ["plan", "actual"]
    rows = {ln.rsplit(maxsplit=2)[0].strip(): ln.split()[-2:] for ln in lines[1:]}
    assert rows["duration"] == ["2m00s", "2m30s"]
    assert rows["records/s per instance"] == ["400", "480"]
    assert rows["software"] == ["$0.02", "$0.03"]


# ----------------------------------------------------------------------------- prices


def test_the_shipped_table_names_its_source_and_date_and_knows_its_types() -> None:
    table = prices.shipped()
    assert table.source.startswith("https://aws.amazon.com/sagemaker/pricing/")
    assert table.as_of == "2026-12-06"
    assert table.hourly
    assert set(table.hourly) <= set(SIZES)
    assert "not checked against AWS's page" in table.provenance("ml.m5.large")


def test_the_buyers_prices_override_the_table(tmp_path: Path) -> None:
    file = tmp_path / "mine.json"
    file.write_text(json.dumps({"ml.c5.xlarge": 0.3, "note": "from my bill"}))
    table = prices.with_buyer_prices(prices.shipped(), ["ml.m5.large=0.2", str(file)])
    assert (table.price("ml.m5.large"), table.price("ml.c5.xlarge")) == (0.2, 0.3)
    assert table.provenance("ml.m5.large") == "your --infra-price"
    with pytest.raises(UserError, match=r"^--infra-price 'm5.large=1': give TYPE=USD"):
        prices.with_buyer_prices(table, ["m5.large=1"])
    with pytest.raises(UserError, match=r"^--infra-price ml.m5.large must be a non-negative"):
        prices.with_buyer_prices(table, ["ml.m5.large=-1"])


# ----------------------------------------------------------------------------- the command


@pytest.fixture
def listing(tmp_path: Path) -> Path:
    """The parts of a listing.yaml the plan reads: performance and pricing."""
    path = tmp_path / "listing.yaml"
    path.write_text(
        "performance:\n  instance_type: ml.m5.large\n  latency_ms_p50: 3.2\n"
        "  latency_ms_p95: 5.1\n  throughput_per_s: 400\n"
        "  measured_on: an ml.m5.large endpoint in us-east-1\n"
        "  measured_at: 2026-11-30\n"
        "pricing:\n  model: hourly\n  batch:\n    ml.m5.large: '0.40'\n")
    return path


def _plan(tmp_path: Path, listing: Path, records: int, capsys, *args: str) -> str:
    """What ``buyer plan`` prints for ``records`` rows with ``listing`` and ``args``."""
    data = tmp_path / "in.csv"
    data.write_bytes(_rows(records))
    code = main(["buyer", "plan", "--input", str(data), "--listing", str(listing), *args,
                 "--infra-price", "ml.m5.large=0.2"])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_the_command_prints_the_plan_from_the_listing(tmp_path: Path, listing: Path,
                                                      capsys) -> None:
    out = _plan(tmp_path, listing, 300_000, capsys, "--deadline", "10m", "--split")
    assert "300,000 records" in out
    assert "400 records/s per instance on ml.m5.large (the listing's performance" in out
    # 300,000 records at 400/s: 12.5 min on one instance; two meet 10 minutes.
    assert "  instances       2 x ml.m5.large" in out
    expected = plan.ASSUMED_STARTUP_S + 300_000 / 800
    assert f"2 x {math.ceil(expected / 60)} min, billed by the minute, x $0.4/h" in out
    assert "x $0.2/h; your --infra-price)" in out
    assert "--instance-count 2 --split" in out


def test_a_free_product_costs_nothing_in_software(
        tmp_path: Path, listing: Path, capsys) -> None:
    listing.write_text(listing.read_text().split("pricing:")[0] + "pricing:\n  model: free\n")
    out = _plan(tmp_path, listing, 1000, capsys, "--deadline", "1h")
    assert "  software        $0.00 (1 x 2 min, billed by the minute, x $0/h;" in out
    assert ": free)" in out


def test_a_listing_with_a_measured_batch_rate_plans_with_it(tmp_path: Path, listing: Path,
                                                             capsys) -> None:
    # listing init measures a batch transform too; one-record requests are far slower, so
    # planning with them would buy many more instances than the job needs.
    listing.write_text(listing.read_text().replace(
        "  throughput_per_s: 400\n", "  throughput_per_s: 400\n  batch_throughput_per_s: 5000\n"))
    out = _plan(tmp_path, listing, 300_000, capsys, "--deadline", "10m", "--split")
    assert "5,000 records/s per instance on ml.m5.large (the listing's batch throughput" in out
    # 300,000 records at 5,000/s is a minute: one instance meets 10 minutes.
    assert "  instances       1 x ml.m5.large" in out


@pytest.mark.parametrize(("args", "first"), [
    ([], "error: give --deadline DURATION (e.g. 2h) or --budget USD"),
    (["--deadline", "1h", "--budget", "5"], "error: give --deadline DURATION (e.g. 2h) or"),
    (["--deadline", "soon"], "error: --deadline 'soon': give a duration such as 90m"),
    (["--deadline", "1h", "--no-listing"], "error: no rate to plan with: give --listing"),
    (["--deadline", "1h", "--instance-type", "ml.m5.huge"],
     "error: --instance-type ml.m5.huge is not an instance type smkit knows"),
    (["--deadline", "1h", "--instance-type", "ml.c5.xlarge"],
     "error: the listing's rate was measured on ml.m5.large, not ml.c5.xlarge"),
    (["--deadline", "1h", "--measure"],
     "error: --measure runs the product's image: give --model-package-arn ARN"),
    (["--budget", "5", "--hourly-price", "1", "--infra-price", "nonsense"],
     "error: --infra-price nonsense: cannot read it"),
])
def test_mistakes_exit_2_saying_what_to_fix(tmp_path: Path, listing: Path, capsys,
                                            args: list[str], first: str) -> None:
    data = tmp_path / "in.csv"
    data.write_bytes(_rows(10))
    given = ["--listing", str(listing)] if "--no-listing" not in args else []
    args = [a for a in args if a != "--no-listing"]
    code = main(["buyer", "plan", "--input", str(data), *given, *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.splitlines()[0].startswith(first), err


def test_a_rate_measured_on_a_type_the_product_does_not_sell_for_batch_is_refused(
        tmp_path: Path, listing: Path, capsys) -> None:
    # listing init measures the recommended real-time type; batch may be sold on others.
    listing.write_text(listing.read_text() + "delivery:\n  supported_instance_types:\n"
                       "    realtime: [ml.m5.large]\n    batch: [ml.c5.xlarge]\n")
    data = tmp_path / "in.csv"
    data.write_bytes(_rows(10))
    code = main(["buyer", "plan", "--input", str(data), "--listing", str(listing),
                 "--deadline", "1h"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.splitlines()[0] == (
        f"error: --listing {listing}: its rate was measured on ml.m5.large, which the product "
        "does not offer for batch transform (its batch types: ml.c5.xlarge); measure one of "
        "those here: --measure --model-package-arn ARN --instance-type ml.c5.xlarge")


def test_the_rate_sample_repeats_the_inputs_first_records_only_when_asked_for_more(
        tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    # The piece after the last newline may be cut short by the sample's size: left out.
    data.write_bytes(b"1,a\n2,b\n3,c\n4,partial")
    sample = plan.sample_maker(data, tmp_path, None)
    assert sample(2).read_bytes() == b"1,a\n2,b\n"
    assert sample(5).read_bytes() == b"1,a\n2,b\n3,c\n1,a\n2,b\n"
    assert sample.describe(3) == "3 records"
    assert sample.describe(5) == "5 records (the input's first 3, repeated)"


@pytest.mark.container
def test_a_rate_measured_under_the_instance_types_limits(
        tmp_path: Path, image: str, iris_model_dir: Path, iris,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The real image held to ml.m5.large's CPUs and memory transforms a sample: a rate from
    the first request to the last answer, and the start-up beside it. Iris rows are small:
    20,000 fill one mini-batch, so a sample filling every concurrent slot is measured
    again, unless that would take too long."""
    rows = [",".join(repr(float(v)) for v in row) for row in iris[0]]
    data = tmp_path / "in.csv"
    data.write_text("\n".join(rows) + "\n")
    sample = plan.sample_maker(data, tmp_path, None)
    monkeypatch.setattr(image_mod, "MEASURE_BUDGET_S", 1e9)
    rate = plan.measure_rate(image, iris_model_dir, sample, "ml.m5.large", job=TransformJob(),
                             environment={})
    assert rate.instance_type == "ml.m5.large"
    assert rate.per_s > 0
    assert rate.startup_s is not None
    assert rate.startup_s > 0
    # 2 slots x 2 mini-batches x 6 MB of ~16-byte rows: far more than the first 20,000.
    measured = re.match(r"measured here: ([\d,]+) records \(the input's first 150, repeated\) "
                        r"in local Docker limited to ml.m5.large's 2 vCPUs", rate.source)
    assert measured is not None, rate.source
    assert int(measured.group(1).replace(",", "")) > 1_000_000
    assert "one mini-batch at a time" not in rate.source
    # With no time to spare, the first measurement stands and says what it is.
    monkeypatch.setattr(image_mod, "MEASURE_BUDGET_S", 0.0)
    rate = plan.measure_rate(image, iris_model_dir, sample, "ml.m5.large", job=TransformJob(),
                             environment={})
    assert rate.source.startswith("measured here: 20,000 records (the input's first 150, "
                                  "repeated) in local Docker"), rate.source
    assert "one mini-batch at a time" in rate.source
    with pytest.raises(UserError, match=r"^--instance-type ml.x9.large is not an instance type"):
        plan.measure_rate(image, iris_model_dir, sample, "ml.x9.large", job=TransformJob(),
                          environment={})

