"""``smkit buyer plan``: how many instances of which type a batch transform needs to meet a
deadline or a budget, how long it takes, and what it costs.

The plan is arithmetic on three measured things, each stated with where it came from:

- the input's size: its objects and bytes (a local file or folder, or an ``s3://`` prefix
  listed with ListObjectsV2), and its records, counted in a sample of its bytes (the first
  ``SAMPLE_BYTES`` over the first objects, read with ranged GETs in S3) and scaled to the
  whole; an input the sample covers is counted exactly;
- the product's rate in records per second per instance (``smkit.transform.rates``): the
  listing's ``performance`` facts, or a local measurement, the image run under the instance
  type's CPUs and memory (``aws.instances.RunAs``, as preflight runs it) on a sample of the
  input;
- the prices: the software price per instance-hour from the listing's ``pricing.batch`` (or
  ``--hourly-price``), billed by the minute as AWS Marketplace bills it, and SageMaker's
  instance price from the shipped table (``smkit.aws.prices``, with its source and date) or
  the buyer's ``--infra-price``, billed by the second.

Expected duration = start-up + records / (rate x instances that get work), start-up being
the measured container start-up, or ASSUMED_STARTUP_S when only the listing's rate is known;
every instance is billed for it, so more instances are never free. Without
``--split`` an instance gets whole objects, so instances beyond the number of objects add
cost and no speed (the plan never proposes them); with it, every instance gets work.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from smkit.aws import prices
from smkit.aws.clients import Aws
from smkit.aws.instances import SIZES, run_as
from smkit.buyer.billing import batch_price, listing_pricing, software_cost
from smkit.buyer.s3split import object_reader
from smkit.buyer.staging import list_objects, split_prefix
from smkit.buyer.wait import duration as fmt_duration
from smkit.core.errors import UserError
from smkit.core.yamlfile import load_yaml
from smkit.image import docker
from smkit.listing.model import Performance
from smkit.project.transform_job import TransformJob, input_files
from smkit.transform import rates
from smkit.transform.image import measure_batch_rate, repeat_records

#: Bytes of the input read to count its records.
SAMPLE_BYTES = 4 << 20
#: At most this many objects are sampled (the first, in S3's order).
SAMPLE_OBJECTS = 8
#: SageMaker's InstanceCount limit for a transform job (TransformResources).
MAX_INSTANCES = 100
#: Each instance's start-up (docker run to a healthy /ping) when no measurement says it: the
#: listing states none. Billed on every instance, so more instances cost more; ``--measure``
#: measures it instead.
ASSUMED_STARTUP_S = 60.0

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    """Echo that prints nothing."""


# ----------------------------------------------------------------------------- the input


@dataclass(frozen=True)
class InputSize:
    """What the input holds."""

    where: str
    objects: int
    bytes: int
    #: Records in the whole input (exact when ``exact``, else scaled from the sample).
    records: int
    sample_bytes: int
    sample_records: int
    exact: bool

    def describe(self) -> str:
        """One line: objects, bytes, records and how they were counted."""
        mb = self.bytes / (1 << 20)
        how = ("counted" if self.exact else
               f"about, from {self.sample_records:,} in a {self.sample_bytes / (1 << 20):.1f} "
               "MB sample")
        return (f"{self.where}: {self.objects} object(s), {mb:,.1f} MB, {self.records:,} "
                f"records ({how})")


def _count(sample: bytes, whole: bool) -> tuple[int, int]:
    """(records, bytes they fill) in a sample: whole lines only, blank lines skipped; the
    sample's last partial line counts when the sample is the whole object."""
    cut = len(sample) if whole else sample.rfind(b"\n") + 1
    body = sample[:cut]
    return sum(1 for ln in body.split(b"\n") if ln.strip()), cut


def _scale(where: str, sizes: Sequence[int], samples: Sequence[tuple[bytes, bool]],
           split_type: str) -> InputSize:
    total = sum(sizes)
    if split_type == "None":  # each object is one record
        return InputSize(where, len(sizes), total, len(sizes), total, len(sizes), True)
    records = used = 0
    exact = len(samples) == len(sizes)
    for data, whole in samples:
        n, cut = _count(data, whole)
        records, used = records + n, used + cut
        exact = exact and whole
    if exact:
        return InputSize(where, len(sizes), total, records, used, records, True)
    if records == 0 or used == 0:
        raise UserError(f"--input {where}: no whole record in the first "
                        f"{SAMPLE_BYTES >> 20} MB; give --split-type None for one record per "
                        "object, or check the input")
    estimate = round(total * records / used)
    return InputSize(where, len(sizes), total, estimate, used, records, False)


def local_size(data: Path, split_type: str = "Line") -> InputSize:
    """The size of a local file or folder (UserError when it has no files)."""
    if not data.exists():
        raise UserError(f"--input {data} does not exist (a local file or folder, or an s3:// "
                        "prefix)")
    files = [p for p, _ in input_files([data])]
    if not files:
        raise UserError(f"--input {data} has no files")
    sizes = [p.stat().st_size for p in files]
    samples: list[tuple[bytes, bool]] = []
    left = SAMPLE_BYTES
    for path, size in zip(files[:SAMPLE_OBJECTS], sizes, strict=False):
        if left <= 0:
            break
        with open(path, "rb") as f:
            chunk = f.read(left)
        samples.append((chunk, len(chunk) == size))
        left -= len(chunk)
    return _scale(str(data), sizes, samples, split_type)


def s3_size(aws: Aws, url: str, split_type: str = "Line") -> InputSize:
    """The size of the objects under an ``s3://`` prefix: listed, and sampled with ranged
    GETs (nothing else is downloaded)."""
    bucket, _ = split_prefix(url)
    s3 = aws.client("s3")
    objects = list_objects(s3, url)
    if not objects:
        raise UserError(f"no objects under {url}; check the --input prefix")
    samples: list[tuple[bytes, bool]] = []
    left = SAMPLE_BYTES
    for key, size in objects[:SAMPLE_OBJECTS]:
        if left <= 0:
            break
        body = object_reader(s3, bucket, key)(0, min(size, left))  # b"" for an empty object
        samples.append((body, len(body) == size))
        left -= len(body)
    return _scale(url, [s for _, s in objects], samples, split_type)


@dataclass(frozen=True)
class InputSample:
    """The input's first records (at most SAMPLE_BYTES of them); called with ``n``, a local
    file of ``n`` records, repeated as needed (``measure_batch_rate`` may ask for more)."""

    lines: list[bytes]
    folder: Path

    def __call__(self, records: int) -> Path:
        target = self.folder / f"sample-{records}"
        target.write_bytes(repeat_records(self.lines, records))
        return target

    def describe(self, records: int) -> str:
        """``records`` measured records, and whether they were the input's own."""
        if records <= len(self.lines):
            return f"{records:,} records"
        return f"{records:,} records (the input's first {len(self.lines):,}, repeated)"


def sample_maker(data: Path | str, folder: Path, aws: Aws | None) -> InputSample:
    """The :class:`InputSample` of a local file or folder, or of an ``s3://`` prefix's first
    object (a ranged GET)."""
    if str(data).startswith("s3://"):
        assert aws is not None
        bucket, _ = split_prefix(str(data))
        s3 = aws.client("s3")
        keys = [key for key, _ in list_objects(s3, str(data))]
        if not keys:
            raise UserError(f"no objects under {data}; check the --input prefix")
        chunk = object_reader(s3, bucket, keys[0])(0, SAMPLE_BYTES)
    else:
        path = next(p for p, _ in input_files([Path(data)]))
        with open(path, "rb") as f:
            chunk = f.read(SAMPLE_BYTES)
    return InputSample([ln for ln in chunk.split(b"\n")[:-1] if ln.strip()] or [chunk], folder)


# ----------------------------------------------------------------------------- rates


@dataclass(frozen=True)
class Rate:
    """Records per second per instance on one instance type, and where the figure is from."""

    instance_type: str
    per_s: float
    source: str
    #: Container start-up measured with it (None when not measured).
    startup_s: float | None = None


def listing_rate(listing: Path) -> Rate:
    """The listing's ``performance``: throughput and the type it was measured on."""
    data = load_yaml(listing, what="--listing", missing="give the listing.yaml of the product")
    section = data.get("performance") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise UserError(f"--listing {listing} has no performance section: measure the rate "
                        "here with --measure (needs --model-package-arn)")
    try:
        perf = Performance.model_validate(section)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(["performance", *map(str, first["loc"])])
        raise UserError(f"--listing {listing}: {where}: {first['msg']} (a TODO is not a "
                        "figure); measure the rate here with --measure instead") from None
    delivery = data.get("delivery") if isinstance(data, dict) else None
    types = delivery.get("supported_instance_types") if isinstance(delivery, dict) else None
    batch = types.get("batch") if isinstance(types, dict) else None
    if isinstance(batch, list) and batch and perf.instance_type not in batch:
        raise UserError(f"--listing {listing}: its rate was measured on {perf.instance_type}, "
                        "which the product does not offer for batch transform (its batch "
                        f"types: {', '.join(map(str, batch))}); measure one of those here: "
                        f"--measure --model-package-arn ARN --instance-type {batch[0]}")
    when = perf.measured_at.isoformat()
    if perf.batch_throughput_per_s is not None:
        return Rate(perf.instance_type, perf.batch_throughput_per_s,
                    f"the listing's batch throughput, measured on {perf.measured_on} ({when})")
    return Rate(perf.instance_type, perf.throughput_per_s,
                f"the listing's performance, measured on {perf.measured_on} ({when}; one "
                "record per request: a batch's mini-batches are usually faster, so this "
                "overstates the time; --measure measures a batch)")


def measure_rate(image: str, model: Path, sample: InputSample, instance_type: str, *,
                 job: TransformJob, environment: dict[str, str], echo: Echo = _quiet) -> Rate:
    """Transform a sample (``sample_maker``) with ``image`` held to ``instance_type``'s CPUs
    and memory (capped at this engine's); records/s from the first request to the last
    answer (``measure_batch_rate``)."""
    machine = docker.engine_resources()
    as_type = run_as(instance_type, machine.cpus, machine.memory_bytes)
    if as_type is None:
        raise UserError(_unknown_type(instance_type))
    echo(f"measuring {instance_type}: the input's first records in {as_type.phrase()}")
    measured = measure_batch_rate(image, model, sample, as_type, job=job,
                                  environment=environment)
    return Rate(instance_type, measured.per_s, f"measured here: "
                f"{sample.describe(measured.records)} in {as_type.phrase()}"
                + measured.caveat,
                measured.startup_s)


def _unknown_type(instance_type: str) -> str:
    near = sorted(t for t in SIZES if t.startswith(instance_type.rsplit(".", 1)[0] + "."))[:3]
    return (f"--instance-type {instance_type} is not an instance type smkit knows (its sizes "
            f"are in smkit/aws/instances.py); give one such as "
            f"{', '.join(near or ['ml.m5.large', 'ml.c5.xlarge'])}")


# ----------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Estimate:
    """One instance type and count: how long, and what it costs."""

    instance_type: str
    count: int
    seconds: float
    rate: Rate
    #: USD per instance-hour; None when not known.
    software_hourly: float | None
    infra_hourly: float | None
    #: Instances that get work (fewer than ``count`` when objects run out without --split).
    working: int

    @property
    def software_usd(self) -> float | None:
        """Marketplace's charge (:func:`billing.software_cost`)."""
        if self.software_hourly is None:
            return None
        return software_cost(self.count, self.seconds, self.software_hourly)

    @property
    def infra_usd(self) -> float | None:
        """SageMaker's charge: instance-seconds at the hourly price."""
        if self.infra_hourly is None:
            return None
        return self.count * self.seconds / 3600 * self.infra_hourly

    @property
    def total_usd(self) -> float | None:
        """Software plus infrastructure, when both are known."""
        s, i = self.software_usd, self.infra_usd
        return None if s is None or i is None else s + i


def estimate(size: InputSize, rate: Rate, count: int, *, software_hourly: float | None,
             infra_hourly: float | None, split: bool = False) -> Estimate:
    """The duration and costs of ``count`` instances of ``rate.instance_type``."""
    working = count if split else min(count, size.objects)
    startup = ASSUMED_STARTUP_S if rate.startup_s is None else rate.startup_s
    seconds = startup + size.records / (rate.per_s * working)
    return Estimate(rate.instance_type, count, seconds, rate, software_hourly, infra_hourly,
                    working)


@dataclass(frozen=True)
class Goal:
    """A deadline (seconds) or a budget (USD); exactly one is set."""

    deadline_s: float | None = None
    budget_usd: float | None = None

    def describe(self) -> str:
        """``a deadline of 2h00m`` or ``a budget of $10.00``."""
        if self.deadline_s is not None:
            return f"a deadline of {fmt_duration(self.deadline_s)}"
        return f"a budget of ${self.budget_usd:,.2f}"


def choose(size: InputSize, rates_: Sequence[Rate], goal: Goal, *,
           software: Callable[[str], float | None], infra: prices.PriceTable,
           split: bool = False) -> Estimate:
    """The plan for ``goal``: for a deadline, the cheapest type and count that meets it
    (fewest instances on a tie); for a budget, the fastest within it (cheapest on a tie).
    UserError saying what to change when no plan meets it."""
    limit = MAX_INSTANCES if split else min(MAX_INSTANCES, size.objects)
    options = [estimate(size, r, n, software_hourly=software(r.instance_type),
                        infra_hourly=infra.price(r.instance_type), split=split)
               for r in rates_ for n in range(1, limit + 1)]
    more = ("" if split or size.objects >= MAX_INSTANCES else
            f"; --split lets more than {size.objects} instance(s) share the "
            f"{size.objects} object(s)")
    if goal.deadline_s is not None:
        fits = [e for e in options if e.seconds <= goal.deadline_s]
        if not fits:
            best = min(options, key=lambda e: e.seconds)
            raise UserError(
                f"no plan meets {goal.describe()}: the fastest is {best.count} x "
                f"{best.instance_type} in {fmt_duration(best.seconds)}; allow more time"
                + more)

        def cost_key(e: Estimate) -> tuple[float, int]:
            total = e.total_usd if e.total_usd is not None else (
                e.software_usd or 0.0) + (e.infra_usd or 0.0)
            return (round(total, 6), e.count)

        return min(fits, key=cost_key)
    assert goal.budget_usd is not None
    for r in rates_:
        missing = []
        if software(r.instance_type) is None:
            missing.append(f"no software price for {r.instance_type}: give --hourly-price USD "
                           "or a --listing whose pricing.batch prices it")
        if infra.price(r.instance_type) is None:
            missing.append(f"no SageMaker price for {r.instance_type} in "
                           f"{infra.source}: give --infra-price {r.instance_type}=USD")
        if missing:
            raise UserError(f"a budget needs both prices; {'; '.join(missing)}")
    within = [e for e in options if (e.total_usd or 0.0) <= goal.budget_usd]
    if not within:
        cheapest = min(options, key=lambda e: e.total_usd or 0.0)
        raise UserError(
            f"no plan fits {goal.describe()}: the cheapest is {cheapest.count} x "
            f"{cheapest.instance_type} at ${cheapest.total_usd:,.2f} "
            f"({fmt_duration(cheapest.seconds)}); raise --budget")
    return min(within, key=lambda e: (round(e.seconds, 3), e.total_usd or 0.0))


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def render(size: InputSize, plan: Estimate, goal: Goal, infra: prices.PriceTable,
           software_source: str | None, *, split: bool) -> str:
    """The plan as the buyer reads it."""
    r = plan.rate
    lines = [f"input    {size.describe()}",
             f"rate     {r.per_s:,.0f} records/s per instance on {r.instance_type} ({r.source})",
             f"plan for {goal.describe()}:",
             f"  instances       {plan.count} x {plan.instance_type}"
             + (f" ({plan.working} get work: --split shares objects)"
                if plan.working < plan.count else ""),
             f"  expected        {fmt_duration(plan.seconds)} ({size.records:,} records / "
             f"({r.per_s:,.0f}/s x {plan.working}) + "
             + (f"{r.startup_s:.1f} s start-up, measured)" if r.startup_s is not None else
                f"{ASSUMED_STARTUP_S:.0f} s start-up, assumed: --measure measures it)")]
    minutes = math.ceil(plan.seconds / 60)
    if plan.software_hourly is None:
        lines.append("  software        unknown: give --hourly-price USD or a --listing whose "
                     "pricing.batch prices " + plan.instance_type)
    else:
        lines.append(f"  software        {_usd(plan.software_usd)} ({plan.count} x {minutes} "
                     f"min, billed by the minute, x ${plan.software_hourly:g}/h; "
                     f"{software_source})")
    if plan.infra_hourly is None:
        lines.append(f"  infrastructure  unknown: {infra.source} has no {plan.instance_type}; "
                     f"give --infra-price {plan.instance_type}=USD")
    else:
        lines.append(f"  infrastructure  {_usd(plan.infra_usd)} ({plan.count} x "
                     f"{fmt_duration(plan.seconds)} x ${plan.infra_hourly:g}/h; "
                     f"{infra.provenance(plan.instance_type)})")
    lines.append(f"  total           {_usd(plan.total_usd)}")
    lines.append("  not included: SageMaker's provisioning before the containers start, S3 "
                 "requests and storage")
    lines.append(f"  run it: smkit buyer transform --cloud --instance-type {plan.instance_type} "
                 f"--instance-count {plan.count}" + (" --split" if split else "") + " ...")
    return "\n".join(lines)


def comparison(plan: Estimate, *, seconds: float, records: int | None, instances: int,
               span_s: float | None = None) -> str:
    """The plan beside what the job did: duration, records/s per instance (from the first
    request to the last answer when ``span_s`` is known, else over ``seconds``), costs."""
    actual = estimate_actual(plan, seconds)
    rate = (rates.per_instance(records, span_s or seconds, instances) if records is not None
            else None)
    rows = [("duration", fmt_duration(plan.seconds), fmt_duration(seconds)),
            ("records/s per instance", f"{plan.rate.per_s:,.0f}",
             "unknown" if rate is None else f"{rate:,.0f}"),
            ("software", _usd(plan.software_usd), _usd(actual.software_usd)),
            ("infrastructure", _usd(plan.infra_usd), _usd(actual.infra_usd)),
            ("total", _usd(plan.total_usd), _usd(actual.total_usd))]
    width = max(len(r[0]) for r in rows)
    out = [f"{'':{width}}  {'plan':>12}  {'actual':>12}"]
    out += [f"{name:{width}}  {p:>12}  {a:>12}" for name, p, a in rows]
    return "\n".join(out)


def estimate_actual(plan: Estimate, seconds: float) -> Estimate:
    """The plan's prices applied to the time the job really took."""
    return Estimate(plan.instance_type, plan.count, seconds, plan.rate, plan.software_hourly,
                    plan.infra_hourly, plan.working)


def software_prices(listing: Path | None, hourly_price: float | None
                    ) -> tuple[Callable[[str], float | None], str | None]:
    """The software price per instance type (``--hourly-price`` for every type, else the
    listing's pricing.batch; a free listing costs 0) and where it came from."""
    if hourly_price is not None:
        return (lambda _t: hourly_price), "your --hourly-price"
    if listing is None:
        return (lambda _t: None), None
    pricing = listing_pricing(listing)
    if pricing is None:
        return (lambda _t: None), None
    where = f"{listing}: free" if pricing.model == "free" else f"{listing} pricing.batch"
    return (lambda itype: batch_price(pricing, itype)), where


def parse_duration(text: str) -> float:
    """``90m``, ``2h``, ``1h30m``, ``45s`` or plain seconds -> seconds; UserError otherwise."""
    units = {"h": 3600, "m": 60, "s": 1}
    raw = text.strip().lower()
    try:
        total, number = 0.0, ""
        if raw and raw.replace(".", "", 1).isdigit():
            raw += "s"
        for ch in raw:
            if ch.isdigit() or ch == ".":
                number += ch
            elif ch in units and number:
                total += float(number) * units[ch]
                number = ""
            else:
                raise ValueError(ch)
        if number or total <= 0:
            raise ValueError(raw)
    except ValueError:
        raise UserError(f"--deadline {text!r}: give a duration such as 90m, 2h, 1h30m or "
                        "seconds") from None
    return total


def plan_inputs(data: str, aws_for: Callable[[], Aws], split_type: str) -> InputSize:
    """The input's size, locally or in S3 (``aws_for`` gives a session only when needed)."""
    if data.startswith("s3://"):
        return s3_size(aws_for(), data, split_type)
    return local_size(Path(data), split_type)


def known_type(instance_type: str) -> None:
    """UserError when smkit has no size for ``instance_type``."""
    if instance_type not in SIZES:
        raise UserError(_unknown_type(instance_type))


def plan_from(size: InputSize, found: Sequence[Rate], goal: Goal, *, listing: Path | None,
              hourly_price: float | None, infra: prices.PriceTable,
              split: bool = False) -> tuple[Estimate, str]:
    """The chosen plan and its rendering."""
    software, source = software_prices(listing, hourly_price)
    chosen = choose(size, found, goal, software=software, infra=infra, split=split)
    return chosen, render(size, chosen, goal, infra, source, split=split)


def describe_goal(deadline: str | None, budget: float | None) -> Goal:
    """The one goal given; UserError when neither or both are."""
    if (deadline is None) == (budget is None):
        raise UserError("give --deadline DURATION (e.g. 2h) or --budget USD (e.g. 25), one of "
                        "them: the plan meets a deadline at the lowest cost, or a budget in "
                        "the shortest time")
    if budget is not None:
        if budget <= 0:
            raise UserError(f"--budget {budget:g}: give a positive amount of USD")
        return Goal(budget_usd=budget)
    assert deadline is not None
    return Goal(deadline_s=parse_duration(deadline))

