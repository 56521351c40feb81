"""``smkit env``: the model's own Python environment, read from the model file (never loaded).

``smkit env detect`` prints the spec's ``python:`` section on stdout (ready to paste into
smkit.yaml) and what the seller must check on stderr; ``smkit spec init --model`` writes it
into the starter spec (both through :mod:`smkit.image.model_env`).
"""

from __future__ import annotations

from pathlib import Path

import click

from smkit.cli.common import guarded, warn
from smkit.image.model_env import scan_for_seller

ALLOW_UNSAFE_HELP = ("Write the python section even when the model references globals no "
                     "model needs (os.system, eval, subprocess, ...). Only for a file you made "
                     "and trust.")


@click.group("env")
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
    scan = scan_for_seller(model, base_dir, allow_unsafe, warn)
    click.echo(scan.python_yaml(base_dir), nl=False)
