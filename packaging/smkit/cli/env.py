"""``smkit env``: the model's own Python environment, read from the model file (never loaded).

``smkit env detect`` prints the spec's ``python:`` section on stdout (ready to paste into
smkit.yaml) and what the seller must check on stderr; ``smkit spec init --model`` writes it
into the starter spec (both through :mod:`smkit.image.model_env`). The versions come from
the seller's training interpreter (``--python``), their files (``--from``, or beside the
model), else smkit's own environment (:mod:`smkit.image.env_files`).
"""

from __future__ import annotations

from pathlib import Path

import click

from smkit.cli.common import guarded, warn
from smkit.core.errors import UserError
from smkit.image import build as images_mod
from smkit.image import env_files
from smkit.image.env_files import Installed
from smkit.image.model_env import environment_beside, scan_for_seller

ALLOW_UNSAFE_HELP = ("Write the python section even when the model references globals no "
                     "model needs (os.system, eval, subprocess, ...). Only for a file you made "
                     "and trust.")
ALLOW_TODO_HELP = ("Write the python section even when no image can load the model yet (a "
                   "class defined in __main__, a module only a newer Python has), with a TODO "
                   "for it. Exits 2 without it.")


#: Where the seller's versions come from; shared by ``env detect`` and ``spec init``.
PYTHON_OPT = click.option(
    "--python", "python", type=click.Path(path_type=Path), default=None,
    help="The interpreter you trained with (e.g. /path/to/venv/bin/python, or the venv "
         "folder), CPython 3.8 to 3.13: asked what it has installed, with nothing installed "
         "into it.")
FROM_OPT = click.option(
    "--from", "from_file", type=click.Path(path_type=Path), default=None,
    help="Read the versions from a file: requirements.txt or pip freeze output, uv.lock, "
         "poetry.lock, a conda environment.yml, or an MLflow model directory.")


def seller_environment(python: Path | None, from_file: Path | None,
                       model: Path) -> Installed | None:
    """Where the versions come from: ``--python``, ``--from``, else the files beside the
    model (an MLflow model directory, a requirements.txt), else None (smkit's own)."""
    if python is not None and from_file is not None:
        raise click.UsageError("give --python or --from, not both")
    if python is not None:
        return env_files.ask_python(python)
    if from_file is not None:
        return env_files.read_environment(from_file)
    return environment_beside(model)


@click.group("env")
def env_group() -> None:
    """The model's own Python environment (the spec's python section)."""


@env_group.command("detect")
@click.option("--model", type=click.Path(path_type=Path), default=Path("model"),
              show_default=True,
              help="The model file, or the folder holding it (model.joblib, an MLflow model "
                   "directory, ...).")
@PYTHON_OPT
@FROM_OPT
@click.option("--check", is_flag=True,
              help="Also resolve the packages for the image (Python 3.11 or the proposed "
                   "python.version, Linux x86_64) as "
                   "`smkit build` will, and name any pin it cannot honour (uses the package "
                   "index).")
@click.option("--allow-unsafe", is_flag=True, help=ALLOW_UNSAFE_HELP)
@click.option("--allow-todo", is_flag=True, help=ALLOW_TODO_HELP)
@guarded
def detect(model: Path, python: Path | None, from_file: Path | None, check: bool,
           allow_unsafe: bool, allow_todo: bool) -> None:
    """Print the python section the model needs, read from the file without loading it.

    Modules are mapped to distributions, with the versions of the interpreter given with
    --python, of the file given with --from, else of the MLflow model directory or the
    requirements.txt the model is in, else of this Python environment. The scikit-learn
    version the model records wins over the others. Notes, version mismatches, your own
    modules and security findings go to stderr. Exits 2 on a security finding unless
    --allow-unsafe.
    """
    base_dir = Path.cwd()
    installed = seller_environment(python, from_file, model)
    notes: list[str] = []  # after the error, if there is one: the error comes first
    try:
        scan = scan_for_seller(model, base_dir, allow_unsafe, notes.append, installed,
                               allow_todo)
        if check:
            image_python = images_mod.IMAGE_PYTHONS[scan.python_version
                                                    or images_mod.DEFAULT_PYTHON]
            images_mod.resolve(list(scan.requirements), find_links=[], log=notes.append,
                               python=image_python)
            notes.append(f"check: every pin has a wheel for the image (Python "
                         f"{image_python.version}, Linux x86_64) and fits the server's "
                         "own")
    except UserError as e:
        raise UserError("\n".join([str(e), *notes])) from None
    for note in notes:
        warn(note)
    click.echo(scan.python_yaml(base_dir), nl=False)
