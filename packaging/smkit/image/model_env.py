"""The model's own Python environment, read from the model file (never loaded), for the seller.

``smkit env detect`` prints the spec's ``python:`` section from :func:`scan_for_seller`;
``smkit spec init --model`` writes it into the starter spec with :func:`starter_for_model`.
Both refuse a model with security findings unless the seller allows it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from smkit.core.errors import UserError
from smkit.image.pickle_scan import ModelScan, scan_model
from smkit.project import spec_yaml


def scan_for_seller(model: Path, base_dir: Path, allow_unsafe: bool,
                    warn: Callable[[str], None]) -> ModelScan:
    """Scan ``model``, pass its warnings to ``warn``; refuse security findings (exit 2).

    Security findings stop here unless ``allow_unsafe``: loading such a file runs whatever
    it names, so smkit will not describe an environment for it by default.
    """
    scan = scan_model(model)
    for line in scan.warnings(base_dir):
        warn(line)
    if scan.security_findings and not allow_unsafe:
        names = ", ".join(f"{f.module}.{f.name}" for f in scan.security_findings[:5])
        raise UserError(
            f"{scan.path}: {len(scan.security_findings)} security finding(s) ({names}): "
            "loading this file would run them, and no model needs them: do not sell this "
            "file. If you made it yourself and trust it, rerun with --allow-unsafe")
    return scan


def starter_for_model(model: Path, spec_path: Path, warn: Callable[[str], None],
                      allow_unsafe: bool = False) -> str:
    """The starter spec with its python section (and model_dir) filled in from ``model``."""
    base_dir = spec_path.resolve().parent
    scan = scan_for_seller(model, base_dir, allow_unsafe, warn)
    lines = spec_yaml.STARTER.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("# python:"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("#   "):
        end += 1
    lines[start:end] = [scan.python_yaml(base_dir)]
    text = "".join(lines)
    model_dir = Path(model) if Path(model).is_dir() else Path(model).parent
    rel = _relative(model_dir, base_dir)
    if rel != "model":
        text = re.sub(r"^model_dir: model(\s)", lambda m: f"model_dir: {json.dumps(rel)}"
                      + m.group(1), text, count=1, flags=re.MULTILINE)
    return text


def _relative(path: Path, base_dir: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base_dir)
    except ValueError:
        return str(path.resolve())
