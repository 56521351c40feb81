"""The ``smkit`` command line. Each area registers its own subcommands from ``cli_<area>``."""

from __future__ import annotations

import sys

import click

from smkit import __version__
from smkit.cli import buyer, demo, env, images, listing, local, product
from smkit.core.errors import SmkitError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smkit")
def cli() -> None:
    """smkit: from a trained scikit-learn model to an AWS Marketplace product."""


for _area in (local, product, env, images, listing, buyer, demo):
    _area.register(cli)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected errors print one clear line and exit non-zero."""
    try:
        cli.main(args=argv, prog_name="smkit", standalone_mode=False)
    except SmkitError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        return e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
