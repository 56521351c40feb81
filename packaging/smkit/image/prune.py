"""``smkit images``: the images smkit built, and the removal of those no build will use again.

Images are named by their content (:mod:`smkit.image.build`), so every change to the server code
makes a new server base, and every environment a new product image on it. Nothing else
removes the old ones, and each is a few hundred MB. An image is *current* when a build from
this checkout would use it: the OS base and the server base that
:func:`smkit.image.build.current_bases` names (one pair per Python an image can run), and
every product image whose layers start with such a server base's. The rest are *stale*.

Removal only takes away the names smkit made up (``smkit-product:<hash>``,
``smkit-base:<hash>``) and untagged images smkit built. An image that also has a name of its
own (``smkit-inference:latest``, a registry tag for a push) keeps it, and an image any
container uses, running or stopped, is left alone. Whatever is removed is built again, the
same, the next time it is needed.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smkit.core.errors import PlatformError
from smkit.image import build as images
from smkit.image import docker

GB = 1024**3
#: The build cache ``--build-cache`` keeps: the newest layers, the wheels of recent builds.
BUILD_CACHE_KEEP = "5GB"
_SMKIT_REPOS = (images.PRODUCT_REPOSITORY, images.BASE_REPOSITORY)
_CONTENT_TAG = re.compile(r"^[0-9a-f]{16}$")

Log = Callable[[str], None]


@dataclass
class Image:
    """One image smkit built or imported, as the engine describes it."""

    id: str
    tags: list[str]
    created: str
    size: int
    layers: tuple[str, ...]
    in_use: bool = False
    current: bool = False

    @property
    def kind(self) -> str:
        """``server base`` (``smkit-base:<hash>``), ``OS base`` (``smkit-base:<name>``) or
        ``product`` (everything else, the default image and untagged ones included)."""
        bases = [t.partition(":")[2] for t in self.own_tags
                 if t.startswith(f"{images.BASE_REPOSITORY}:")]
        if not bases:
            return "product"
        return "server base" if any(_CONTENT_TAG.match(t) for t in bases) else "OS base"

    @property
    def own_tags(self) -> list[str]:
        """The names smkit made up for it (``smkit-product:…``, ``smkit-base:…``)."""
        return [t for t in self.tags if t.partition(":")[0] in _SMKIT_REPOS]

    @property
    def other_tags(self) -> list[str]:
        """Names somebody chose (the default image's, a push's); never removed."""
        return [t for t in self.tags if t not in self.own_tags]

    @property
    def name(self) -> str:
        """The name to show: its first name, or its short id when it has none."""
        return self.tags[0] if self.tags else self.id.removeprefix("sha256:")[:12]

    @property
    def status(self) -> str:
        """``in use``, ``current`` or ``stale``."""
        return "in use" if self.in_use else "current" if self.current else "stale"


def _inspect_images(ids: Iterable[str]) -> list[dict[str, Any]]:
    ids = sorted(set(ids))
    if not ids:
        return []
    # An image removed since it was listed is left out, not an error (another build or
    # prune may run meanwhile); the engine then still prints the others.
    proc = docker.docker("image", "inspect", *ids, timeout=120, check=False)
    if not proc.stdout.strip():
        return []
    return list(json.loads(proc.stdout))


def _ids(*args: str) -> list[str]:
    out = docker.docker("image", "ls", "-q", "--no-trunc", *args).stdout.decode()
    return out.split()


def _images_in_use() -> set[str]:
    containers = docker.docker("ps", "-aq", "--no-trunc").stdout.decode().split()
    if not containers:
        return set()
    out = docker.docker("inspect", "--format", "{{.Image}}", *containers, check=False)
    return set(out.stdout.decode().split())


def inventory() -> list[Image]:
    """Every image smkit built (labelled) or imported (``smkit-base``), newest first, with
    whether a container uses it and whether this checkout's builds would use it."""
    ids = _ids("--filter", f"label={images.ENV_LABEL}") + _ids(images.BASE_REPOSITORY)
    used = _images_in_use()
    found = []
    for raw in _inspect_images(ids):
        found.append(Image(
            id=raw["Id"], tags=list(raw.get("RepoTags") or []),
            created=str(raw.get("Created", ""))[:19].replace("T", " "),
            size=int(raw.get("Size") or 0),
            layers=tuple((raw.get("RootFS") or {}).get("Layers") or ()),
            in_use=raw["Id"] in used))
    _mark_current(found)
    return sorted(found, key=lambda i: i.created, reverse=True)


def _mark_current(found: list[Image]) -> None:
    # Every Python an image can run has its own current bases (python.version).
    bases = [images.current_bases(p) for p in images.IMAGE_PYTHONS.values()]
    os_images = {os_image for os_image, _ in bases}
    server_bases = {server_base for _, server_base in bases}
    base_layers = [image.layers for image in found if server_bases & set(image.tags)]
    for image in found:
        if image.kind == "OS base":
            image.current = bool(os_images & set(image.tags))
        elif image.kind == "server base":
            image.current = bool(server_bases & set(image.tags))
        else:
            image.current = bool(image.tags) and any(
                image.layers[:len(layers)] == layers for layers in base_layers)


def removable(found: list[Image], *, everything: bool = False) -> list[Image]:
    """The images ``prune`` takes names from: stale ones (``everything``: current ones too,
    except the OS base, which takes the Debian mirror to make again); never one in use, and
    never one that has only names somebody chose."""
    picked = []
    for image in found:
        if image.in_use or (image.tags and not image.own_tags):
            continue
        if image.current and not (everything and image.kind != "OS base"):
            continue
        picked.append(image)
    return picked


@dataclass
class Pruned:
    """What a prune did."""

    removed: list[Image] = field(default_factory=list)
    failed: list[tuple[Image, str]] = field(default_factory=list)
    freed_bytes: int | None = None


@functools.cache
def _docker_root() -> Path:
    root = docker.docker("info", "--format", "{{.DockerRootDir}}", check=False).stdout
    return Path(root.decode().strip() or "/var/lib/docker")


def docker_free_bytes() -> int | None:
    """Free bytes where the engine keeps its images, or None when that disk is not this
    machine's (a remote engine, Docker Desktop's VM)."""
    path = _docker_root()
    if not path.is_dir():
        return None
    return shutil.disk_usage(path).free


def remove(picked: list[Image], *, build_cache: bool = False, log: Log) -> Pruned:
    """Take ``picked``'s own names away (an untagged one by id); with ``build_cache``, trim
    the engine's build cache to its newest :data:`BUILD_CACHE_KEEP`."""
    before = docker_free_bytes()
    result = Pruned()
    for image in picked:
        names = image.own_tags or [image.id]
        proc = docker.docker("rmi", *names, check=False, timeout=120)
        if proc.returncode == 0:
            result.removed.append(image)
        else:
            result.failed.append((image, proc.stderr.decode(errors="replace").strip()[-300:]))
    if build_cache:
        proc = docker.docker("builder", "prune", "-f", "--keep-storage", BUILD_CACHE_KEEP,
                             check=False, timeout=600)
        if proc.returncode != 0:
            log("smkit: could not trim the build cache: "
                + proc.stderr.decode(errors="replace").strip()[-300:])
    after = docker_free_bytes()
    if before is not None and after is not None:
        result.freed_bytes = max(0, after - before)
    return result


def ensure_space(need_gb: float, *, prune_below_gb: float | None = None, log: Log) -> None:
    """Make sure the engine's disk has ``need_gb`` GB free for builds.

    Below ``prune_below_gb`` (default: ``need_gb``) free, stale images are removed and the
    build cache is trimmed; when less than ``need_gb`` is free after that, PlatformError
    says what to remove.
    """
    threshold = max(need_gb, prune_below_gb or 0)
    free = docker_free_bytes()
    if free is None:
        log("smkit: the engine's disk is not on this machine; not checking its free space")
        return
    if free >= threshold * GB:
        log(f"smkit: {free / GB:.1f} GB free for the Docker engine")
        return
    log(f"smkit: {free / GB:.1f} GB free for the Docker engine, under {threshold:g} GB; "
        "removing stale smkit images and trimming the build cache")
    pruned = remove(removable(inventory()), build_cache=True, log=log)
    free = docker_free_bytes() or 0
    log(f"smkit: removed {len(pruned.removed)} stale image(s); {free / GB:.1f} GB free now")
    if free < need_gb * GB:
        raise PlatformError(
            f"only {free / GB:.1f} GB is free on the Docker engine's disk and smkit's builds "
            f"and tests want {need_gb:g} GB. smkit removed what it could. Free some space: "
            "`smkit images list` shows smkit's images (`smkit images prune --all` removes "
            "them all), `docker system df` shows the engine's use, and `docker builder prune` "
            "empties its build cache")
