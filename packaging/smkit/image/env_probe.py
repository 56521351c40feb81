"""The environment probe of ``smkit env detect --python``: a program of its own.

:func:`smkit.image.env_files.ask_python` runs this file with the seller's own interpreter
(any CPython 3.8 to 3.13), so it uses the standard library only and Python 3.8 syntax, and
never imports smkit, which that environment does not hold::

    /path/to/training/venv/bin/python -I env_probe.py

``-I`` keeps the caller's ``PYTHONPATH`` and the script's own folder out of ``sys.path``; the
interpreter's site-packages stay (``-S`` would hide them). It prints one JSON object on
stdout (:data:`SCHEMA` names its version)::

    {"schema": 1, "python": "3.12.1", "implementation": "CPython",
     "executable": "...", "platform": "linux", "machine": "x86_64",
     "stdlib": ["abc", ...] or null (before 3.10),
     "distributions": [{"name": "scikit-learn", "version": "1.5.2",
                        "top_level": ["sklearn"], "direct_url": null or {...}}]}
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import site
import sys
from collections.abc import Iterable
from typing import Any

#: The version of the JSON this probe prints; the host refuses another one.
SCHEMA = 1


def _search_path() -> list[str]:
    """``sys.path``, plus the user's site-packages that ``-I`` hid (outside a venv only,
    where a plain ``python`` would see them)."""
    paths = list(sys.path)
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    user_site = site.getusersitepackages() if not in_venv else None
    if user_site and os.path.isdir(user_site) and user_site not in paths:
        paths.append(user_site)
    return paths


def top_level(dist: Any) -> list[str]:
    """The top-level modules a distribution provides: its ``top_level.txt``, else the first
    part of the paths in its RECORD (what ``packages_distributions`` does from 3.10 on)."""
    text = dist.read_text("top_level.txt")
    if text:
        return sorted({line.strip() for line in text.splitlines() if line.strip()})
    names = set()
    for path in dist.files or ():
        parts = str(path).replace("\\", "/").split("/")
        first = parts[0]
        if first in ("..", "") or first.endswith((".dist-info", ".egg-info", ".data")):
            continue
        if first == "__pycache__":
            continue
        if len(parts) == 1:  # a module file at the top: name.py, name.cpython-311-...so
            if not first.endswith((".py", ".so", ".pyd")):
                continue
            first = first.split(".")[0]
        names.add(first)
    return sorted(names)


def _direct_url(dist: Any) -> dict[str, Any] | None:
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def distributions(paths: Iterable[str]) -> list[dict[str, Any]]:
    """Every distribution found on ``paths``, first one wins per name (as imports do)."""
    seen = set()
    out = []
    for dist in importlib.metadata.distributions(path=list(paths)):
        name = dist.metadata["Name"]
        if not name:
            continue
        key = name.lower().replace("_", "-").replace(".", "-")
        if key in seen:
            continue
        seen.add(key)
        out.append({"name": name, "version": dist.version, "top_level": top_level(dist),
                    "direct_url": _direct_url(dist)})
    return sorted(out, key=lambda d: d["name"].lower())


def probe() -> dict[str, Any]:
    """What this interpreter is and what it has installed."""
    stdlib = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    return {
        "schema": SCHEMA,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": sys.platform,
        "machine": platform.machine(),
        "stdlib": sorted(stdlib) if stdlib is not None else None,
        "distributions": distributions(_search_path()),
    }


def main() -> int:
    """Print the probe's JSON on stdout."""
    print(json.dumps(probe()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
