"""``smkit env``: the model's own Python environment, read from the model file (never loaded).

``smkit env detect`` prints the spec's ``python:`` section on stdout (ready to paste into
smkit.yaml) and what the seller must check on stderr; ``smkit spec init --model`` writes it
into the starter spec with :func:`starter_for_model`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smkit.cli.product import guarded
from smkit.core.errors import UserError

if TYPE_CHECKING:
    from smkit.image.pickle_scan import ModelScan

ALLOW_UNSAFE_HELP = ("Write the python section even when the model references globals no "
                     "model needs (os.system, eval, subprocess, ...). Only for a file you made "
                     "and trust.")


def scan_for_seller(model: Path, base_dir: Path, allow_unsafe: bool) -> ModelScan:
    """Scan ``model``, print its warnings on stderr; refuse security findings (exit 2).

    Security findings stop here unless ``allow_unsafe``: loading such a file runs whatever
    it names, so smkit will not describe an environment for it by default.
    """
    from smkit.image.pickle_scan import scan_model

    scan = scan_model(model)
    for line in scan.warnings(base_dir):
        click.echo(line, err=True)
    if scan.security_findings and not allow_unsafe:
        names = ", ".join(f"{f.module}.{f.name}" for f in scan.security_findings[:5])
        raise UserError(
            f"{scan.path}: {len(scan.security_findings)} security finding(s) ({names}): "
            "loading this file would run them, and no model needs them: do not sell this "
            "file. If you made it yourself and trust it, rerun with --allow-unsafe")
    return scan


def starter_for_model(model: Path, spec_path: Path, allow_unsafe: bool = False) -> str:
    """The starter spec with its python section (and model_dir) filled in from ``model``."""
    from smkit.project import spec as spec_mod

    base_dir = spec_path.resolve().parent
    scan = scan_for_seller(model, base_dir, allow_unsafe)
    lines = spec_mod.STARTER.splitlines(keepends=True)
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
    import os

    try:
        return os.path.relpath(path.resolve(), base_dir)
    except ValueError:
        return str(path.resolve())


def register(group: click.Group) -> None:
    """Add the ``env`` commands to the ``smkit`` group."""

    @group.group("env")
    def env_group() -> None:
        """The model's own Python environment (the spec's python section)."""

    @env_group.command("detect")
    @click.option("--model", type=click.Path(path_type=Path), default=Path("model"),
                  show_default=True,
                  help="The model file, or the folder holding it (model.joblib, ...).")
    @click.option("--allow-unsafe", is_flag=True, help=ALLOW_UNSAFE_HELP)
    @guarded
    def detect(model: Path, allow_unsafe: bool) -> None:
        """Print the python section the model needs, read from the file without loading it.

        Modules are mapped to the distributions installed in this Python environment; the
        scikit-learn version the model records wins over the installed one. Notes, version
        mismatches, your own modules and security findings go to stderr. Exits 2 on a
        security finding unless --allow-unsafe.
        """
        base_dir = Path.cwd()
        scan = scan_for_seller(model, base_dir, allow_unsafe)
        click.echo(scan.python_yaml(base_dir), nl=False)
