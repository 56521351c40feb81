"""vCPUs and memory of SageMaker's CPU instance types, to run the image as a buyer's instance.

``smkit preflight`` starts the image with ``docker --cpus/--memory`` from this table. The
figures are the EC2 sizes SageMaker's ``ml.*`` types are built on (AWS's instance type
pages); the container gets slightly less memory on a real instance, so a model that barely
fits here may not fit there. A type missing from the table is reported with the fix (add it
here, or list a type the table has).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import smkit_contract.limits as limits

GIB = 1024**3


@dataclass(frozen=True)
class InstanceSize:
    """What one instance type gives a container."""

    vcpus: int
    memory_gib: float

    @property
    def memory_bytes(self) -> int:
        """Memory in bytes."""
        return int(self.memory_gib * GIB)


def _family(prefix: str, sizes: Mapping[str, tuple[int, float]]) -> dict[str, InstanceSize]:
    return {f"ml.{prefix}.{size}": InstanceSize(c, m) for size, (c, m) in sizes.items()}


# Sizes shared by several families: (vCPUs, GiB) per size name.
_GENERAL: dict[str, tuple[int, float]] = {
    "large": (2, 8), "xlarge": (4, 16), "2xlarge": (8, 32), "4xlarge": (16, 64),
    "8xlarge": (32, 128), "12xlarge": (48, 192), "16xlarge": (64, 256),
    "24xlarge": (96, 384), "32xlarge": (128, 512), "48xlarge": (192, 768),
}
_COMPUTE = {k: (c, m / 2) for k, (c, m) in _GENERAL.items()}
_MEMORY = {k: (c, m * 2) for k, (c, m) in _GENERAL.items()}


def _pick(table: Mapping[str, tuple[int, float]], *names: str) -> dict[str, tuple[int, float]]:
    return {n: table[n] for n in names}


_M5 = ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge")
_M6 = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge",
       "32xlarge")
_M7 = (*_M6[:-1], "48xlarge")

#: Instance type -> size, for the CPU types the smkit image can run on.
SIZES: dict[str, InstanceSize] = {
    **_family("t2", {"medium": (2, 4), "large": (2, 8), "xlarge": (4, 16), "2xlarge": (8, 32)}),
    **_family("m4", {"xlarge": (4, 16), "2xlarge": (8, 32), "4xlarge": (16, 64),
                     "10xlarge": (40, 160), "16xlarge": (64, 256)}),
    **_family("m5", _pick(_GENERAL, *_M5)),
    **_family("m5d", _pick(_GENERAL, *_M5)),
    **_family("m6i", _pick(_GENERAL, *_M6)),
    **_family("m7i", _pick(_GENERAL, *_M7)),
    **_family("c4", {"large": (2, 3.75), "xlarge": (4, 7.5), "2xlarge": (8, 15),
                     "4xlarge": (16, 30), "8xlarge": (36, 60)}),
    **_family("c5", {"large": (2, 4), "xlarge": (4, 8), "2xlarge": (8, 16), "4xlarge": (16, 32),
                     "9xlarge": (36, 72), "18xlarge": (72, 144)}),
    **_family("c5d", {"large": (2, 4), "xlarge": (4, 8), "2xlarge": (8, 16), "4xlarge": (16, 32),
                      "9xlarge": (36, 72), "18xlarge": (72, 144)}),
    **_family("c6i", _pick(_COMPUTE, *_M6)),
    **_family("c6in", _pick(_COMPUTE, *_M6)),
    **_family("c7i", _pick(_COMPUTE, *_M7)),
    **_family("r5", _pick(_MEMORY, *_M5)),
    **_family("r5d", _pick(_MEMORY, *_M5)),
    **_family("r6i", _pick(_MEMORY, *_M6)),
    **_family("r7i", _pick(_MEMORY, *_M7)),
}

#: A mini-batch is held about this many times its size while it is served: the body, its
#: decoded float64 rows (up to 4 times a CSV body of one-digit numbers) and the answer.
PAYLOAD_COPIES = 6


def size_of(instance_type: str) -> InstanceSize | None:
    """The size of ``instance_type``, or None when the table does not have it."""
    return SIZES.get(instance_type)


@dataclass(frozen=True)
class RunAs:
    """The CPU and memory a container gets to stand in for an instance type on one engine.

    Capped at what the engine's machine has; ``capped`` says so, and ``phrase`` says it in
    the words every measured figure carries (preflight, the listing, the buyer's plan).
    """

    instance_type: str
    size: InstanceSize
    cpus: float
    memory_bytes: int

    @property
    def capped(self) -> bool:
        """True when the machine had less than the instance type gives."""
        return self.cpus < self.size.vcpus or self.memory_bytes < self.size.memory_bytes

    def docker_args(self) -> tuple[str, ...]:
        """``docker run`` options that hold the container to these limits (no swap)."""
        mem = str(self.memory_bytes)
        return ("--cpus", f"{self.cpus:g}", "--memory", mem, "--memory-swap", mem)

    def phrase(self) -> str:
        """Where a figure was measured, e.g. "local Docker limited to ml.m5.large's 2 vCPUs
        and 8 GiB" (with what it really ran as, when the machine had less)."""
        said = (f"local Docker limited to {self.instance_type}'s {self.size.vcpus} vCPUs and "
                f"{self.size.memory_gib:g} GiB")
        if self.capped:
            said += (f" (ran as {self.cpus:g} CPUs and {self.memory_bytes / GIB:.1f} GiB: the "
                     "measuring machine has no more)")
        return said


def run_as(instance_type: str, engine_cpus: int, engine_memory_bytes: int) -> RunAs | None:
    """How to run a container as ``instance_type`` on an engine with these resources, or
    None when the size table does not have the type (see :func:`unknown_type_problem`)."""
    size = size_of(instance_type)
    if size is None:
        return None
    return RunAs(instance_type, size, float(min(size.vcpus, engine_cpus)),
                 min(size.memory_bytes, engine_memory_bytes))


def unknown_type_problem(instance_type: str, use: str) -> str:
    """One line saying that ``instance_type`` has no size in the table, and the fix."""
    family = instance_type.rsplit(".", 1)[0] + "."
    near = sorted(t for t in SIZES if t.startswith(family))[:3] or ["ml.m5.large", "ml.c5.xlarge"]
    return (f"instance_types.{use}: {instance_type} has no vCPU/memory size in smkit's table "
            f"(smkit/aws/instances.py), so it cannot be run as that instance; add its size there "
            f"or list a type the table has (e.g. {', '.join(near)})")


def batch_payload_mb(max_payload_mb: int | None) -> int:
    """The largest mini-batch a transform sends: MaxPayloadInMB, SageMaker's default when
    unset, and the batch cap when 0 (bodies are streamed, up to that cap)."""
    if max_payload_mb is None:
        return limits.DEFAULT_BATCH_PAYLOAD_MB
    return max_payload_mb or limits.BATCH_MAX_PAYLOAD_MB


def payload_problem(instance_type: str, size: InstanceSize, payload_mb: int,
                    concurrent: int, model_bytes: int) -> str | None:
    """One line when one copy of the model plus ``concurrent`` mini-batches of
    ``payload_mb`` (each held about PAYLOAD_COPIES times) cannot fit the instance's memory,
    with the fix; else None."""
    per_batch = payload_mb * limits.MB * PAYLOAD_COPIES
    need = model_bytes + concurrent * per_batch
    if need <= size.memory_bytes:
        return None
    room = size.memory_bytes - model_bytes
    fits = max(0, room // (limits.MB * PAYLOAD_COPIES * concurrent))
    fix = (f"lower validation.max_payload_mb to {fits} or less" if fits
           else "the model alone fills it")
    return (f"{instance_type} cannot hold the payload: the model ({model_bytes / GIB:.2f} GiB) "
            f"and {concurrent} mini-batch(es) of {payload_mb} MB (each held about "
            f"{PAYLOAD_COPIES} times) need {need / GIB:.2f} GiB of its {size.memory_gib:g} GiB; "
            f"{fix}, or lower max_concurrent_transforms, or drop {instance_type} from "
            "instance_types.transform")


def workers_problem(instance_type: str, size: InstanceSize, workers: int,
                    model_bytes: int) -> str | None:
    """A warning when ``workers`` private copies of the model would not fit the instance
    (they share it after fork until pages are written, so this may still work), else None."""
    need = workers * model_bytes
    if need <= size.memory_bytes:
        return None
    fits = max(1, size.memory_bytes // max(model_bytes, 1))
    return (f"{instance_type}: {workers} workers x {model_bytes / GIB:.2f} GiB of model = "
            f"{need / GIB:.2f} GiB, over its {size.memory_gib:g} GiB if the workers' copies "
            f"unshare; set SAGEMAKER_MODEL_SERVER_WORKERS={fits} in environment, or list a "
            "larger type")
