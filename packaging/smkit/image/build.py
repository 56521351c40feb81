"""Plan, fetch and build the images smkit runs: one server base, one layer per environment.

Every image is the server base (``container/Dockerfile``: Python, the inference server and
its own pinned dependencies) plus one layer of model packages (``container/Dockerfile.product``)
and the seller's source. With no ``python`` section in the spec, that layer is the default
environment (``container/requirements.txt``), which is what ``make build-container`` builds.
Those files come from :mod:`smkit.core.resources` (the checkout, or the installed wheel); the
wheelhouse, the resolution locks and the build contexts go where :mod:`smkit.core.paths` says.

The build is offline: requirements are resolved together with the server's on the host
(pip's resolver, for the image's Python and platform), the wheels are downloaded into a
shared cache, and the build installs them with no index. Images are named by the hash of
everything that goes into them, so the same environment is never built twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from smkit import __version__
from smkit.core import paths, resources
from smkit.core.errors import PlatformError, UserError
from smkit.image import docker
from smkit.project.spec import (
    DEFAULT_IMAGE_REPOSITORY,
    DEFAULT_PYTHON,
    IMAGE_PYTHONS,
    ImagePython,
    PythonEnv,
    Spec,
)

#: The default image's interpreter and platform (Debian bookworm: CPython 3.11, glibc 2.36);
#: a spec's ``python.version`` may pick another of ``IMAGE_PYTHONS``.
DEFAULT = IMAGE_PYTHONS[DEFAULT_PYTHON]
PYTHON_VERSION = DEFAULT.version
GLIBC_MINOR = DEFAULT.glibc_minor
#: The default image's names (``make build-container``); product images are content-named.
DEFAULT_REPOSITORY = DEFAULT_IMAGE_REPOSITORY
PRODUCT_REPOSITORY = "smkit-product"
BASE_REPOSITORY = "smkit-base"
#: Label carrying the content hash an image was built from.
ENV_LABEL = "smkit.environment"

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def canonical_name(name: str) -> str:
    """PEP 503 normalised distribution name (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of a file of ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        text = line.split("#")[0].strip()
        if text:
            name, _, version = text.partition("==")
            pins[canonical_name(name)] = version.strip()
    return pins


def _platform_args(python: ImagePython = DEFAULT) -> list[str]:
    """pip's target-platform flags for wheels an image on ``python`` can install."""
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python.version,
            "--abi", f"cp{python.version.replace('.', '')}", "--abi", "abi3", "--abi", "none",
            "--platform", "manylinux2014_x86_64", "--platform", "linux_x86_64",
            "--platform", "any"]
    for minor in range(17, python.glibc_minor + 1):
        args += ["--platform", f"manylinux_2_{minor}_x86_64"]
    return args


def _pip(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PlatformError(f"pip {args[0]} did not finish within {timeout:.0f} s; is the "
                            "package index reachable?") from None


def _sha256_tree(paths: Iterable[Path]) -> str:
    """One hash over files (and the files under folders), by relative name and content."""
    digest = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and p.suffix != ".pyc")
        for path in files:
            rel = path.name if path == root else f"{root.name}/{path.relative_to(root)}"
            digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# ----------------------------------------------------------------------------- resolving


@dataclass(frozen=True)
class Wheel:
    """One pinned wheel of a layer."""

    name: str
    version: str
    filename: str

    @property
    def pin(self) -> str:
        """``name==version``."""
        return f"{self.name}=={self.version}"


@dataclass
class Plan:
    """What an image is made of, before anything is built."""

    #: The server base image this layer goes on.
    base: str
    #: The model layer's wheels (the server's own are in the base).
    wheels: list[Wheel]
    #: Local wheel files the seller supplied (also in ``wheels`` by name).
    local_wheels: list[Path] = field(default_factory=list)
    #: The seller's source: (path on the host, name under /opt/smkit/src or "" for contents).
    source: list[tuple[Path, str]] = field(default_factory=list)
    #: Content hash of everything above; names the image.
    key: str = ""
    #: The image's Python (the base is built on it).
    python: ImagePython = DEFAULT

    @property
    def tag(self) -> str:
        """The content-addressed image name."""
        return f"{PRODUCT_REPOSITORY}:{self.key[:16]}"


def _server_conflicts(requirements: list[str], server: dict[str, str]) -> None:
    """A seller pin of a package the server pins too, at another version: say so now."""
    for text in requirements:
        req = Requirement(text)
        name = canonical_name(req.name)
        if name in server and not req.specifier.contains(server[name], prereleases=True):
            raise UserError(
                f"python: {text} conflicts with the inference server's own dependency "
                f"{name}=={server[name]} (container/requirements-server.txt); remove it from "
                f"the python section or pin {name}=={server[name]}"
            )


def _name_lines(text: str, reqs: list[str]) -> str:
    """pip's output with ``-r FILE (line N)`` replaced by the requirement on that line."""
    return re.sub(r"-r \S+ \(line (\d+)\)",
                  lambda m: reqs[int(m.group(1)) - 1] if int(m.group(1)) <= len(reqs)
                  else m.group(0), text)


def _explain_resolution_failure(stderr: str, requirements: list[str],
                                python: ImagePython = DEFAULT) -> str:
    """One line that names the requirement to fix, from pip's resolver output."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()
             and not ln.startswith("WARNING: Location")]
    missing = re.search(r"No matching distribution found for (\S+)", stderr)
    if missing:
        wanted = missing.group(1)
        name = canonical_name(Requirement(wanted).name)
        index = _pip("index", "versions", name, timeout=120)
        if index.returncode != 0 or "Available versions" not in index.stdout:
            return (f"python: {wanted}: no package named {name} on the package index; check "
                    "the name (the distribution's name as pip installs it, e.g. "
                    "scikit-learn, not sklearn)")
        available = index.stdout.split("Available versions:", 1)[1].strip().split(", ")
        version = wanted.split("==", 1)[1] if "==" in wanted else ""
        if version and version not in available and _for_other_pythons(name, version):
            return (f"python: {wanted}: {name} {version} does not support the image's Python "
                    f"({python.version}); pin the release closest to yours that has a wheel "
                    f"for it ({', '.join(_closest(_wheel_versions(name, python), version))}) "
                    "and check "
                    "the model still loads with it (smkit package proves it)")
        if version and version not in available:
            shown = ", ".join(available[:8])
            return (f"python: {wanted}: {name} has no version {version}; available: {shown}")
        closest = _closest(_wheel_versions(name, python), version) if version else []
        return (
            f"python: {wanted}: no wheel for the image's Python ({python.version}, Linux "
            f"x86_64, glibc 2.{python.glibc_minor}), and the build installs wheels only. "
            + (f"Pin the release closest to yours that has one ({', '.join(closest)}), or b"
               if closest else "B")
            + f"uild one on Linux x86_64 with Python {python.version} (`pip wheel {wanted} -w "
            "wheels/`) and list the folder under python.wheels"
        )
    if "ResolutionImpossible" in stderr or "conflict is caused by" in stderr:
        causes = [ln for ln in lines if " depends on " in ln or "The user requested" in ln
                  or ln.startswith("ERROR: Cannot install")]
        server = read_pins(resources.SERVER_PINS)
        hint = ""
        for text in requirements:
            name = canonical_name(Requirement(text).name)
            if name in server:
                hint = f" ({name} is also a dependency of the inference server)"
        return ("python: these requirements conflict with each other or with the inference "
                f"server's own{hint}: " + "; ".join(causes[:6])
                + ". Change the pins so one version satisfies all of them")
    # pip's own ERROR lines say why; its progress lines only say where it stopped.
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    tail = "; ".join(errors[:3] or lines[-4:])
    return f"python: pip could not resolve the requirements: {tail}"


def _for_other_pythons(name: str, version: str) -> bool:
    """Whether ``name`` has ``version`` on the index for other Pythons (Requires-Python)."""
    every = _pip("index", "versions", "--ignore-requires-python", name, timeout=120)
    listed = every.stdout.split("Available versions:", 1)[-1].strip().split(", ")
    return every.returncode == 0 and version in listed


def _wheel_versions(name: str, python: ImagePython = DEFAULT) -> list[Version]:
    """The releases of ``name`` with a wheel the image can install, newest first."""
    proc = _pip("index", "versions", *_platform_args(python), name, timeout=120)
    listed = proc.stdout.split("Available versions:", 1)[-1].split("\n", 1)[0].split(", ")
    out = []
    for text in listed if proc.returncode == 0 else []:
        try:
            out.append(Version(text.strip()))
        except InvalidVersion:
            continue
    return sorted(out, reverse=True)


def _closest(available: list[Version], version: str, count: int = 4) -> list[str]:
    """The ``count`` releases nearest above ``version`` (else the newest), oldest first."""
    try:
        wanted = Version(version)
    except InvalidVersion:
        return [str(v) for v in available[:count]]
    above = sorted(v for v in available if v >= wanted)
    return [str(v) for v in above[:count] or available[:count]]


def resolve(requirements: list[str], *, find_links: list[Path], log: Log = _stderr,
            python: ImagePython = DEFAULT) -> list[Wheel]:
    """Resolve ``requirements`` together with the server's pins for the image's platform
    (an image on ``python``).

    Packages of the default environment that the seller does not name keep their default
    version when that fits; the result is every wheel the model layer installs.
    """
    server = read_pins(resources.SERVER_PINS)
    _server_conflicts(requirements, server)
    named = {canonical_name(Requirement(r).name) for r in requirements}
    defaults = [f"{n}=={v}" for n, v in read_pins(resources.DEFAULT_PINS).items()
                if n not in named]
    server_reqs = [f"{n}=={v}" for n, v in server.items() if n != "pip"]
    # joblib loads the model and numpy carries the server's codecs: always there.
    needed = [r for r in ("joblib", "numpy", "scikit-learn") if r not in named]
    # The default versions where they fit; else the same packages at whatever fits; else
    # only what the server itself needs beside the seller's own.
    loose = [d.split("==")[0] for d in defaults]
    attempts = [requirements + defaults + server_reqs, requirements + loose + server_reqs,
                requirements + needed + server_reqs]
    result = None
    failure = ""
    for attempt, reqs in enumerate(attempts):
        with tempfile.TemporaryDirectory(prefix="smkit-resolve-") as tmp:
            req_file = Path(tmp) / "requirements.txt"
            req_file.write_text("\n".join(reqs) + "\n")
            report = Path(tmp) / "report.json"
            links = [a for p in find_links for a in ("--find-links", str(p))]
            proc = _pip("install", "--dry-run", "--ignore-installed", "--report",
                        str(report), "--target", str(Path(tmp) / "t"), *_platform_args(python),
                        *links, "-r", str(req_file))
            if proc.returncode == 0:
                result = json.loads(report.read_text())
                if attempt:
                    log("smkit: the default environment's versions do not all fit your pins; "
                        "the packages you did not pin get versions that do")
                break
            if not failure:  # the first attempt's reason is the seller's
                failure = _name_lines(proc.stderr + "\n" + proc.stdout, reqs)
    if result is None:
        raise UserError(_explain_resolution_failure(failure, requirements, python))
    picked = {canonical_name(i["metadata"]["name"]): i["metadata"]["version"]
              for i in result["install"]}
    problem = _numpy_abi_problem(picked)
    if problem is not None and "numpy" not in named:
        # The seller left numpy open: numpy 1.x is what such a build needs.
        log("smkit: a package you pinned was built for numpy 1.x and numpy is not pinned; "
            "resolving again with numpy<2")
        return resolve([*requirements, "numpy<2"], find_links=find_links, log=log,
                       python=python)
    if problem is not None:
        raise UserError(f"python: {problem}")
    wheels = []
    for item in result["install"]:
        name = canonical_name(item["metadata"]["name"])
        if name in server:
            continue
        filename = item["download_info"]["url"].rsplit("/", 1)[-1]
        wheels.append(Wheel(name, item["metadata"]["version"], filename))
    return sorted(wheels, key=lambda w: w.name)


#: The first release of each package built for numpy 2; older ones need numpy 1.x.
NUMPY2_SINCE: dict[str, str] = {"scikit-learn": "1.4.2", "pandas": "2.2.2",
                                "scipy": "1.13.0"}


def _numpy_abi_problem(picked: dict[str, str]) -> str | None:
    """A package built for numpy 1.x resolved together with numpy 2, which it cannot import
    with (pip cannot see this: those releases declare no upper bound on numpy)."""
    numpy = picked.get("numpy")
    if numpy is None or Version(numpy) < Version("2"):
        return None
    for name, since in NUMPY2_SINCE.items():
        if name in picked and Version(picked[name]) < Version(since):
            return (f"{name}=={picked[name]} was built for numpy 1.x and does not import "
                    f"with numpy {numpy}: pin numpy to the 1.x version you trained with "
                    f"(e.g. numpy==1.26.4), or {name}>={since}")
    return None


def _pins_as_wheels(pins: dict[str, str]) -> list[Wheel]:
    """Wheels for an already complete lock (no resolution; filenames found at download)."""
    return [Wheel(n, v, "") for n, v in sorted(pins.items())]


def fetch(wheels: list[Wheel], *, find_links: list[Path], log: Log = _stderr,
          python: ImagePython = DEFAULT) -> list[Path]:
    """Make sure every wheel (for an image on ``python``) is in the shared wheelhouse; return
    their paths.

    Downloads only what is missing, with pip's normal client. Local wheels the seller gave
    are taken from their folders and never downloaded.
    """
    wheelhouse = paths.wheelhouse()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    local = {p.name: p for d in find_links for p in (d.glob("*.whl") if d.is_dir() else [d])}
    found_paths: list[Path] = []
    missing: list[Wheel] = []
    for w in wheels:
        if w.filename in local:
            found_paths.append(local[w.filename])
        elif w.filename and (wheelhouse / w.filename).is_file():
            found_paths.append(wheelhouse / w.filename)
        else:
            found = _find_wheel(w, python)
            if found is not None:
                found_paths.append(found)
            else:
                missing.append(w)
    if missing:
        log(f"smkit: downloading {len(missing)} wheel(s) into {wheelhouse}")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(w.pin for w in missing) + "\n")
        try:
            proc = _pip("download", "--no-deps", "--quiet", "-d", str(wheelhouse),
                        *_platform_args(python), "-r", f.name)
        finally:
            os.unlink(f.name)
        if proc.returncode != 0:
            raise UserError(_explain_resolution_failure(proc.stderr, [w.pin for w in missing],
                                                        python))
        for w in missing:
            found = _find_wheel(w, python)
            if found is None:
                raise PlatformError(f"pip reported success but no wheel of {w.pin} is in "
                                    f"{wheelhouse}")
            found_paths.append(found)
    return found_paths


def _find_wheel(w: Wheel, python: ImagePython = DEFAULT) -> Path | None:
    """The wheelhouse file of ``w`` by name and version (wheel names use underscores) that
    an image on ``python`` installs (the wheelhouse holds every image Python's wheels)."""
    stem = re.sub(r"[-_.]+", "_", w.name)
    for path in paths.wheelhouse().glob("*.whl"):
        dist, version = path.name.split("-")[:2]
        if (re.sub(r"[-_.]+", "_", dist).lower() == stem and version == w.version
                and _installs_on(path.name, python)):
            return path
    return None


def _installs_on(filename: str, python: ImagePython) -> bool:
    """Whether a wheel's Python tags fit ``python`` (pure, abi3 of an older CPython, or
    built for exactly it); its platform is one ``_platform_args`` fetched it for."""
    cp = f"cp{python.version.replace('.', '')}"
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return False
    for tag in tags:
        if tag.abi == "none" and tag.interpreter.startswith("py"):
            return True
        if tag.interpreter == cp and tag.abi in (cp, "none"):
            return True
        if (tag.abi == "abi3" and tag.interpreter.startswith("cp3")
                and int(tag.interpreter[3:]) <= int(cp[3:])):
            return True
    return False


# ----------------------------------------------------------------------------- building


def _context(name: str) -> Path:
    path = paths.build_contexts() / name
    if path.exists():
        shutil.rmtree(path)
    (path / "wheels").mkdir(parents=True)
    return path


def _link_wheels(context: Path, wheels: list[Path], pins: list[str]) -> None:
    """Wheels into the build context (hard links when possible) with their lock file."""
    for src in wheels:
        dst = context / "wheels" / src.name
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    (context / "wheels" / "requirements.lock").write_text("\n".join(pins) + "\n")


def os_base(*, name_only: bool = False, python: ImagePython = DEFAULT) -> str:
    """The OS + Python base image (``scripts/base-image.sh`` makes it offline if needed).

    ``name_only`` gives the name a build would use now, pulling and making nothing.
    """
    env: dict[str, str] | None = {**os.environ, "SMKIT_BASE_NAME_ONLY": "1"} if name_only else None
    if python != DEFAULT:
        env = {**(env or os.environ), "SMKIT_PYTHON": python.version,
               "SMKIT_DEBIAN_SUITE": python.suite}
    proc = subprocess.run(["bash", str(resources.script("base-image.sh"))],
                          capture_output=True, text=True, check=False, timeout=1800, env=env)
    if proc.returncode != 0:
        raise PlatformError(f"could not make the OS base image: {proc.stderr.strip()[-1500:]}")
    sys.stderr.write(proc.stderr)
    return proc.stdout.strip().splitlines()[-1]


def _base_name(os_image: str) -> tuple[str, str]:
    """The server base's tag and content key on ``os_image``: this smkit's server code, its
    pins and its Dockerfile."""
    key = _sha256_tree([resources.DOCKERFILE, resources.INSTALL_LAYER,
                        resources.SERVER_PINS, *resources.server_packages()])
    key = hashlib.sha256(f"{key}|{os_image}|{__version__}".encode()).hexdigest()
    return f"{BASE_REPOSITORY}:{key[:16]}", key


def current_bases(python: ImagePython = DEFAULT) -> tuple[str, str]:
    """The OS base and the server base a build on ``python`` from this checkout would use
    now, by name; nothing is pulled or built."""
    os_image = os_base(name_only=True, python=python)
    return os_image, _base_name(os_image)[0]


def ensure_base(log: Log = _stderr, *, no_cache: bool = False,
                python: ImagePython = DEFAULT) -> str:
    """The server base image on ``python``, built when its content changed; returns its tag.

    ``no_cache`` builds it again even when it exists, every step without the layer cache.
    """
    os_image = os_base(python=python)
    tag, key = _base_name(os_image)
    if docker.image_exists(tag) and not no_cache:
        return tag
    server = read_pins(resources.SERVER_PINS)
    wheels = fetch(_pins_as_wheels(server), find_links=[], log=log, python=python)
    context = _context(f"base-{key[:16]}")
    _link_wheels(context, wheels, [f"{n}=={v}" for n, v in server.items() if n != "pip"])
    shutil.copy2(resources.DOCKERFILE, context / "Dockerfile")
    shutil.copy2(resources.INSTALL_LAYER, context / "install-layer.sh")
    for d in resources.server_packages():
        shutil.copytree(d, context / d.name, ignore=shutil.ignore_patterns("__pycache__"))
    log(f"smkit: building the server base {tag} on {os_image}")
    docker.build(context, [tag], build_args={"BASE_IMAGE": os_image,
                                             "SMKIT_VERSION": __version__},
                 labels={ENV_LABEL: key}, no_cache=no_cache)
    shutil.rmtree(context, ignore_errors=True)
    return tag


def _source_layout(sources: list[Path]) -> list[tuple[Path, str]]:
    """Where each source entry goes under /opt/smkit/src; refuses two of one name."""
    layout: list[tuple[Path, str]] = []
    seen: dict[str, Path] = {}
    for src in sources:
        if src.is_file() or (src / "__init__.py").is_file():
            names = [src.name]
            dest = src.name
        else:
            names = [p.name for p in src.iterdir() if p.name != "__pycache__"]
            dest = ""
        for n in names:
            if n in seen:
                raise UserError(f"python.source: {n} comes from both {seen[n]} and {src}; "
                                "rename one")
            seen[n] = src
        layout.append((src, dest))
    return layout


@dataclass
class Layer:
    """The model layer of an image, resolved: every user error is found by now."""

    wheels: list[Wheel]
    local_wheels: list[Path]
    source: list[tuple[Path, str]]
    #: The image's Python, which the wheels were resolved for.
    python: ImagePython = DEFAULT

    def plan(self, base: str) -> Plan:
        """The plan of this layer on ``base``, named by the hash of its content."""
        digest = hashlib.sha256()
        digest.update(base.encode())
        digest.update(resources.PRODUCT_DOCKERFILE.read_bytes())
        digest.update("\n".join(w.pin for w in self.wheels).encode())
        digest.update(_sha256_tree(self.local_wheels).encode() if self.local_wheels else b"")
        if self.source:
            digest.update(_sha256_tree([s for s, _ in self.source]).encode())
            digest.update("|".join(dest for _, dest in self.source).encode())
        # ``base`` names the image's Python too (each has its own OS base), so the key does.
        return Plan(base=base, wheels=self.wheels, local_wheels=self.local_wheels,
                    source=self.source, key=digest.hexdigest(), python=self.python)


def layer_for(env: PythonEnv | None, log: Log = _stderr) -> Layer:
    """Resolve the model layer for ``env`` (None: the default environment)."""
    if env is None or not env.declared:
        return Layer(_pins_as_wheels(read_pins(resources.DEFAULT_PINS)), [], [])
    find_links = list(env.wheels)
    local = sorted(p for d in find_links for p in (d.glob("*.whl") if d.is_dir() else [d]))
    python = env.image_python
    wheels = _locked(env.all_requirements(), find_links, local, log, python)
    return Layer(wheels, local, _source_layout(list(env.source)), python)


def _locked(requirements: list[str], find_links: list[Path], local: list[Path],
            log: Log, python: ImagePython = DEFAULT) -> list[Wheel]:
    """``resolve``, once per input: the result is kept in the user's resolution locks
    (:func:`paths.resolution_locks`), keyed by everything the resolution reads, so an
    unchanged environment costs no call to the index and always gets the same wheels (delete
    the folder to resolve afresh)."""
    digest = hashlib.sha256()
    for part in (*sorted(requirements), resources.SERVER_PINS.read_text(),
                 resources.DEFAULT_PINS.read_text(), python.version, str(python.glibc_minor)):
        digest.update(part.encode() + b"\0")
    digest.update(_sha256_tree(local).encode() if local else b"")
    lock = paths.resolution_locks() / f"{digest.hexdigest()[:32]}.json"
    if lock.is_file():
        return [Wheel(*row) for row in json.loads(lock.read_text())]
    wheels = resolve(requirements, find_links=find_links, log=log, python=python)
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps([[w.name, w.version, w.filename] for w in wheels]))
    return wheels


def build_plan(p: Plan, tags: list[str], log: Log = _stderr, *, no_cache: bool = False
               ) -> None:
    """Fetch the plan's wheels and build the image under its content tag and ``tags``.

    ``no_cache`` builds the layer without reusing any cached step.
    """
    wheel_files = fetch(p.wheels, find_links=p.local_wheels, log=log, python=p.python)
    context = _context(p.key[:16])
    pip_wheel = fetch(_pins_as_wheels({"pip": read_pins(resources.SERVER_PINS)["pip"]}),
                      find_links=[], log=log, python=p.python)
    _link_wheels(context, wheel_files + pip_wheel, [w.pin for w in p.wheels])
    shutil.copy2(resources.PRODUCT_DOCKERFILE, context / "Dockerfile")
    src = context / "src"
    src.mkdir()
    for path, dest in p.source:
        if path.is_file():
            shutil.copy2(path, src / dest)
        elif dest:
            shutil.copytree(path, src / dest, ignore=shutil.ignore_patterns("__pycache__",
                                                                            "*.pyc"))
        else:
            shutil.copytree(path, src, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    log(f"smkit: building {p.tag} ({len(p.wheels)} packages on {p.base})")
    docker.build(context, [p.tag, *tags], build_args={"SMKIT_BASE": p.base},
                 labels={ENV_LABEL: p.key}, no_cache=no_cache)
    shutil.rmtree(context, ignore_errors=True)


def ensure_image(env: PythonEnv | None, *, tags: Iterable[str] = (), log: Log = _stderr,
                 force: bool = False) -> str:
    """The image for ``env`` (None: the default), built only when its content is new.

    The requirements are resolved first, so a bad one is reported before anything builds.
    """
    layer = layer_for(env, log)
    docker.require_engine()  # before the base image, whose script would only say "cannot pull"
    p = layer.plan(ensure_base(log, python=layer.python))
    if force or not docker.image_exists(p.tag):
        build_plan(p, list(tags), log)
    else:
        for tag in tags:
            docker.docker("tag", p.tag, tag)
    return p.tag


def default_tags() -> list[str]:
    """The default image's names: ``smkit-inference:<version>`` and ``:latest``."""
    return [f"{DEFAULT_REPOSITORY}:{__version__}", f"{DEFAULT_REPOSITORY}:latest"]


def for_spec(spec: Spec, log: Log = _stderr) -> Spec:
    """The spec with ``image.local`` naming the image its model runs in, built if needed.

    A spec with a python section gets its product image (content-named, built once per
    content); otherwise ``image.local`` stands, and the default image is built when that is
    the one named and it is missing.
    """
    if spec.python.declared:
        tag = ensure_image(spec.python, log=log)
        return spec.model_copy(update={"image": spec.image.model_copy(update={"local": tag})})
    for_spec_default(spec.image.local, log)
    return spec


def for_spec_default(image: str, log: Log = _stderr) -> None:
    """Build the default image when ``image`` names it and it is missing."""
    if image in default_tags() and not docker.image_exists(image):
        ensure_image(None, tags=default_tags(), log=log)
