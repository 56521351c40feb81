"""Run the image as a SageMaker instance type and measure it against Marketplace's limits.

The image runs under ``--network none`` with ``docker --cpus/--memory`` from the instance
table (smkit/aws/instances.py), capped at what this machine's engine has. A probe in a second
container that shares only the server's network namespace (so it does not eat the server's
CPU quota) measures: TCP connect (accept) time, ``/ping`` latency while every worker is busy
with the largest payload and one more request waits, and the slowest ``/invocations``. The
probe is the program in ``limits_probe.py``, mounted into that container.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import smkit_contract.content_types as ct
import smkit_contract.limits as limits

from smkit.aws.instances import GIB, RunAs
from smkit.core.errors import PlatformError
from smkit.image import docker
from smkit.preflight import limits_probe

#: Seconds the probe keeps every worker busy while it times connects and /ping.
LOAD_SECONDS = 4.0

#: The load probe (a program of its own) and where it is mounted in the probe's container.
PROBE_FILE = Path(limits_probe.__file__).resolve()
PROBE_IN_CONTAINER = "/opt/smkit/limits_probe.py"


@dataclass
class Run:
    """How one instance type was run."""

    mode: str  # "real-time" or "batch"
    limits: RunAs
    env: dict[str, str]
    payload: bytes
    content_type: str
    payload_note: str = ""


@dataclass
class Measured:
    """Figures of one run (shared by every instance type of the same size and mode)."""

    run: Run
    healthy_s: float | None = None
    workers: int | None = None
    master_rss_bytes: int | None = None
    memory_peak_bytes: int | None = None
    accept_s: list[float | None] = field(default_factory=list)
    pings: list[tuple[int | None, float]] = field(default_factory=list)
    invocations: list[tuple[int | None, float, str]] = field(default_factory=list)
    oom_killed: bool = False
    error: str | None = None

    @property
    def max_accept_s(self) -> float | None:
        """Slowest connect, None when none was timed."""
        got = [a for a in self.accept_s if a is not None]
        return max(got) if got else None

    @property
    def max_ping_s(self) -> float | None:
        """Slowest /ping under load."""
        return max((s for _, s in self.pings), default=None)

    @property
    def max_invocation_s(self) -> float | None:
        """Slowest /invocations."""
        return max((s for _, s, _ in self.invocations), default=None)


def build_payload(sample: Path, content_type: str, target_bytes: int) -> tuple[bytes, str]:
    """The sample records repeated up to ``target_bytes`` (whole records, never more), and a
    note when the type cannot be grown that way (then the sample is sent as it is)."""
    data = sample.read_bytes()
    media = content_type.split(";")[0].strip().lower()
    if media in (ct.CSV, ct.JSONLINES):
        lines = [ln for ln in data.splitlines() if ln.strip()]
        if not lines:
            return data, "the sample has no records"
        unit = b"\n".join(lines) + b"\n"
        copies = max(1, target_bytes // len(unit))
        body = unit * copies
        room = target_bytes - len(body)
        for ln in lines:  # top up with whole records
            if len(ln) + 1 > room:
                break
            body += ln + b"\n"
            room -= len(ln) + 1
        return body, ""
    if media == ct.JSON:
        doc = json.loads(data)
        items = doc.get("instances") if isinstance(doc, dict) else doc
        if isinstance(items, list) and items:
            one = len(json.dumps(items[0])) + 2
            n = max(1, (target_bytes - 32) // one)
            grown = (items * (n // len(items) + 1))[:n]
            body = json.dumps({"instances": grown} if isinstance(doc, dict) else grown).encode()
            while len(body) > target_bytes and len(grown) > 1:
                grown = grown[: len(grown) * 9 // 10]
                body = json.dumps({"instances": grown} if isinstance(doc, dict)
                                  else grown).encode()
            return body, ""
    return data, f"{media} samples are sent as they are ({len(data)} bytes), not grown"


def _workers(log: str) -> int | None:
    found = re.findall(r'"workers":\s*(\d+)', log)
    return int(found[-1]) if found else None


def _read_int(name: str, *paths: str) -> int | None:
    for path in paths:
        proc = docker.docker("exec", name, "cat", path, check=False)
        text = proc.stdout.decode().strip()
        if proc.returncode == 0 and text.isdigit():
            return int(text)
    return None


def _master_rss(name: str) -> int | None:
    proc = docker.docker("exec", name, "cat", "/proc/1/status", check=False)
    m = re.search(r"^VmRSS:\s+(\d+) kB", proc.stdout.decode(), re.MULTILINE)
    return int(m.group(1)) * 1024 if m else None


def measure(image: str, model_dir: Path, run: Run) -> Measured:
    """Start ``image`` as ``run`` says, probe it under load, and remove it."""
    m = Measured(run)
    try:
        with docker.serve(image, model_dir, env=run.env, network="none",
                          startup_timeout=limits.STARTUP_LIMIT_SECONDS,
                          extra_args=run.limits.docker_args()) as server:
            m.healthy_s = server.ready_after
            m.workers = _workers(server.logs())
            m.master_rss_bytes = _master_rss(server.name)
            args = limits_probe.arguments(
                port=docker.CONTAINER_PORT, content_type=run.content_type,
                timeout=limits.INVOCATION_LIMIT_SECONDS + 15, seconds=LOAD_SECONDS,
                clients=(m.workers or 1) + 1)
            proc = docker.docker(
                "run", "--rm", "-i", "--label", docker.LABEL,
                "--label", f"{docker.OWNER_LABEL}={os.getpid()}",
                "--network", f"container:{server.name}",
                "-v", f"{PROBE_FILE}:{PROBE_IN_CONTAINER}:ro",
                "--entrypoint", "python3", image, PROBE_IN_CONTAINER, args,
                input_bytes=run.payload, check=False,
                timeout=LOAD_SECONDS + 4 * (limits.INVOCATION_LIMIT_SECONDS + 15) + 60,
            )
            state = docker.docker("inspect", "-f", "{{.State.OOMKilled}} {{.State.Running}}",
                                  server.name, check=False).stdout.decode().split()
            m.oom_killed = bool(state) and state[0] == "true"
            if not m.oom_killed:
                m.memory_peak_bytes = _read_int(
                    server.name, "/sys/fs/cgroup/memory.peak",
                    "/sys/fs/cgroup/memory/memory.max_usage_in_bytes")
            if proc.returncode != 0:
                m.error = "the probe failed: " + proc.stderr.decode(errors="replace")[-300:]
                return m
            out: limits_probe.Figures = json.loads(proc.stdout)
            m.accept_s = out["accept"]
            m.pings = [(s, t) for s, t in out["ping"]]
            m.invocations = [(s, t, msg) for s, t, msg in out["inv"]]
    except PlatformError as e:
        m.error = str(e).splitlines()[0]
    return m


def breaches(instance_type: str, m: Measured) -> list[str]:
    """One line per broken limit, naming the instance type, the figure and the limit."""
    if m.error is not None and m.healthy_s is None:
        return [f"{instance_type}: {m.error}"]
    out = []
    if m.oom_killed:
        out.append(f"{instance_type}: the container ran out of memory "
                   f"({m.run.limits.memory_bytes / GIB:g} GiB) under load; the model and "
                   f"{m.workers} workers do not fit")
    if m.healthy_s is not None and m.healthy_s >= limits.STARTUP_LIMIT_SECONDS:
        out.append(f"{instance_type}: healthy after {m.healthy_s:.1f} s; the limit is "
                   f"{limits.STARTUP_LIMIT_SECONDS} s")
    acc = m.max_accept_s
    if any(a is None for a in m.accept_s):
        out.append(f"{instance_type}: a connection was not accepted within "
                   f"{limits_probe.CONNECT_TIMEOUT_S} s; the limit "
                   f"is {limits.ACCEPT_LIMIT_SECONDS * 1000:.0f} ms")
    elif acc is not None and acc > limits.ACCEPT_LIMIT_SECONDS:
        out.append(f"{instance_type}: a connection took {acc * 1000:.0f} ms to be accepted; "
                   f"the limit is {limits.ACCEPT_LIMIT_SECONDS * 1000:.0f} ms")
    bad_pings = [s for s, _ in m.pings if s != 200]
    ping = m.max_ping_s
    if bad_pings:
        out.append(f"{instance_type}: /ping answered {bad_pings[0]} under load "
                   f"({len(bad_pings)} of {len(m.pings)}); it must answer 200")
    if ping is not None and ping > limits.PING_TIMEOUT_SECONDS:
        out.append(f"{instance_type}: /ping took {ping:.2f} s under load (every worker busy "
                   f"with the largest payload); the limit is {limits.PING_TIMEOUT_SECONDS} s. Let "
                   "/ping through: leave SMKIT_WORKER_CLASS unset (smkit's sync worker answers "
                   "it beside a long request) or give gthread SMKIT_THREADS=2 or more")
    failed = [(s, msg) for s, _, msg in m.invocations if s != 200]
    if failed:
        status, msg = failed[0]
        out.append(f"{instance_type}: /invocations at {len(m.run.payload) / limits.MB:.1f} MB "
                   f"answered {status if status is not None else 'nothing'} "
                   f"({len(failed)} of {len(m.invocations)}): {msg[:200]}")
    slow = m.max_invocation_s
    if slow is not None and slow > limits.INVOCATION_LIMIT_SECONDS:
        out.append(f"{instance_type}: the slowest /invocations at "
                   f"{len(m.run.payload) / limits.MB:.1f} MB took {slow:.1f} s; the limit is "
                   f"{limits.INVOCATION_LIMIT_SECONDS} s")
    if m.error is not None and not out:
        out.append(f"{instance_type}: {m.error}")
    return out


def summary(m: Measured) -> str:
    """The figures of one run in a line."""
    def fmt(v: float | None, unit: str, scale: float = 1, digits: int = 2) -> str:
        return "n/a" if v is None else f"{v * scale:.{digits}f} {unit}"

    return (f"healthy {fmt(m.healthy_s, 's', digits=1)}, accept max "
            f"{fmt(m.max_accept_s, 'ms', 1000, 1)}, /ping under load max "
            f"{fmt(m.max_ping_s, 's')}, slowest /invocations {fmt(m.max_invocation_s, 's')} at "
            f"{len(m.run.payload) / limits.MB:.1f} MB ({m.workers} workers)")


def table(rows: list[tuple[RunAs, Measured]]) -> str:
    """A Markdown table for the listing's throughput and latency section: one row per
    instance type, as it was run, with the figures of its (possibly shared) run."""
    head = ("| instance type | mode | vCPU | memory GiB | workers | healthy after (s) | "
            "max accept (ms) | max /ping under load (s) | slowest /invocations (s) | "
            "payload (MB) | peak memory (MiB) |")
    lines = [head, "|" + "|".join("---" for _ in range(head.count("|") - 1)) + "|"]

    def num(v: float | None, scale: float = 1, digits: int = 2) -> str:
        return "-" if v is None else f"{v * scale:.{digits}f}"

    for ran, m in rows:
        size = ran.size
        cpus = (f"{size.vcpus}" if ran.cpus >= size.vcpus
                else f"{size.vcpus} (ran as {ran.cpus:g})")
        mem = (f"{size.memory_gib:g}" if ran.memory_bytes >= size.memory_bytes
               else f"{size.memory_gib:g} (ran as {ran.memory_bytes / GIB:.1f})")
        peak = None if m.memory_peak_bytes is None else m.memory_peak_bytes / (1 << 20)
        lines.append(
            f"| {ran.instance_type} | {m.run.mode} | {cpus} | {mem} | {m.workers or '-'} | "
            f"{num(m.healthy_s, digits=1)} | {num(m.max_accept_s, 1000, 1)} | "
            f"{num(m.max_ping_s)} | {num(m.max_invocation_s)} | "
            f"{len(m.run.payload) / limits.MB:.1f} | {num(peak, digits=0)} |"
        )
    return "\n".join(lines)
