"""Packaging commands: spec, package, push, publish, preflight, emulators."""

from __future__ import annotations

from pathlib import Path

import click

from smkit.aws import clients as aws_mod
from smkit.aws import publish as publish_mod
from smkit.aws import push as push_mod
from smkit.aws.roles import require_role
from smkit.cli.common import guarded, warn
from smkit.cli.env import ALLOW_TODO_HELP, FROM_OPT, PYTHON_OPT, seller_environment
from smkit.cli.local import context_after
from smkit.core.errors import PlatformError, UserError
from smkit.emulators import manager
from smkit.image import artifact as artifact_mod
from smkit.image import build as images_mod
from smkit.image.model_env import starter_for_model
from smkit.preflight import checks as preflight_mod
from smkit.project import openapi as openapi_mod
from smkit.project import spec_yaml

SPEC_ARG = click.argument("spec_file", metavar="SPEC", type=click.Path(path_type=Path),
                          default="smkit.yaml")
PROFILE_OPT = click.option("--profile", default=None, help="AWS profile (default: the usual "
                           "chain: env vars, AWS_PROFILE, ...).")


def _artifact_lines(art: artifact_mod.Artifact) -> None:
    click.echo(f"artifact: {art.path}")
    click.echo(f"  sha256 {art.sha256}  {art.size:,} bytes  built in {art.build_seconds:.2f} s")
    if art.startup_seconds is not None:
        click.echo(f"  proven in the image (--network none): healthy after "
                   f"{art.startup_seconds:.1f} s, validation sample predicted")
    columns = (art.manifest.get("signature") or {}).get("columns", [])
    if columns:
        click.echo("  input signature: " + ", ".join(
            f"{c['name']} ({c['kind']}{'' if c['optional'] else ', required'})" for c in columns))
    for note in art.signature_notes:
        warn(f"  note: {note}")


@click.group("spec")
def spec_group() -> None:
    """Write or check a package spec (YAML)."""


@spec_group.command("init")
@click.argument("path", type=click.Path(path_type=Path), default="smkit.yaml")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Fill the python section from this model file (read, never loaded), or "
                   "an MLflow model directory (its pins are used).")
@click.option("--allow-unsafe", is_flag=True,
              help="With --model: write it despite security findings (see smkit env).")
@click.option("--allow-todo", is_flag=True, help="With --model: " + ALLOW_TODO_HELP)
@PYTHON_OPT
@FROM_OPT
@guarded
def spec_init(path: Path, model: Path | None, allow_unsafe: bool, allow_todo: bool,
              python: Path | None, from_file: Path | None) -> None:
    """Write a starter spec to PATH (refuses to overwrite).

    With --model, the python section is filled as `smkit env detect` would print it, with
    the versions of --python or --from (else those beside the model, else smkit's own).
    """
    if path.exists():
        raise UserError(f"{path} already exists; edit it or choose another path")
    if model is None and (python is not None or from_file is not None):
        raise click.UsageError("--python and --from need --model (the model file)")
    text = spec_yaml.STARTER
    if model is not None:
        text = starter_for_model(model, path, warn, allow_unsafe=allow_unsafe,
                                 installed=seller_environment(python, from_file, model),
                                 allow_todo=allow_todo)
    path.write_text(text)
    click.echo(f"wrote {path}; fill in name, model_dir, s3.bucket and validation")


@spec_group.command("check")
@SPEC_ARG
@guarded
def spec_check(spec_file: Path) -> None:
    """Validate SPEC without touching AWS or Docker (the model file is read, never loaded)."""
    spec = spec_yaml.load(spec_file)
    artifact_mod.check_model(spec.model_dir)
    click.echo(f"{spec_file}: ok ({spec.name}, {spec.region}, account "
               f"{spec.account or 'from credentials'})")


@click.command("package")
@SPEC_ARG
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to write model.tar.gz (default: output_dir/name/).")
@click.option("--no-verify", is_flag=True, help="Skip the prediction inside the image.")
@guarded
def package(spec_file: Path, out: Path | None, no_verify: bool) -> None:
    """Build a deterministic model.tar.gz with a manifest and prove it in the image."""
    spec = spec_yaml.load(spec_file)
    # The pickle scan needs no engine: a model no image can load is refused before the
    # image is asked for (or built).
    artifact_mod.check_model(spec.model_dir)
    with context_after() as held:  # the build's progress follows an error, never precedes it
        spec = images_mod.for_spec(spec, held.append)
        _artifact_lines(artifact_mod.package(spec, verify=not no_verify, out=out))


@click.command("openapi")
@SPEC_ARG
@click.option("--artifact", type=click.Path(path_type=Path), default=None,
              help="model.tar.gz (or its manifest.json); default: output_dir/name/.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("openapi.yaml"),
              show_default=True, help="Where to write it (.yaml, else JSON).")
@guarded
def openapi(spec_file: Path, artifact: Path | None, out: Path) -> None:
    """Write the product's OpenAPI document for /invocations (real column names and
    kinds, from the packaged input signature)."""
    spec = spec_yaml.load(spec_file)
    path = artifact or spec.output_dir / spec.name / "model.tar.gz"
    doc = openapi_mod.document(openapi_mod.read_manifest(path), title=spec.name,
                               content_types=spec.content_types,
                               response_types=spec.response_types)
    click.echo(f"wrote {openapi_mod.write(out, doc)}")


@click.command("build")
@click.argument("spec_file", metavar="[SPEC]", type=click.Path(path_type=Path),
                required=False)
@click.option("--default", "default", is_flag=True,
              help="Build the default image (no spec): the server and "
                   "container/requirements.txt.")
@click.option("-t", "--tag", "tags", multiple=True,
              help="Extra name for the image (repeatable).")
@click.option("--force", is_flag=True, help="Rebuild even when the content is unchanged.")
@guarded
def build(spec_file: Path | None, default: bool, tags: tuple[str, ...],
          force: bool) -> None:
    """Build the image a model runs in; prints its name (content-addressed).

    With SPEC, the product image of its python section: the server base plus the
    model's own packages, resolved on this machine and installed offline. The same
    content is never built twice.
    """
    if default == (spec_file is not None):
        raise UserError("give a SPEC (its python section) or --default, not both")
    if default:
        wanted = list(tags) or images_mod.default_tags()
        click.echo(images_mod.ensure_image(None, tags=wanted, force=force))
        return
    assert spec_file is not None
    spec = spec_yaml.load(spec_file)
    if not spec.python.declared:
        warn(f"{spec_file} has no python section: building the default image")
    tag = images_mod.ensure_image(spec.python if spec.python.declared else None,
                                  tags=tags, force=force)
    click.echo(tag)


@click.command("push")
@SPEC_ARG
@PROFILE_OPT
@guarded
def push(spec_file: Path, profile: str | None) -> None:
    """Push the image to the spec's ECR repository; prints the reference by digest."""
    spec = spec_yaml.load(spec_file)
    aws = aws_mod.connect(spec.region, profile)
    with context_after() as held:
        pushed = push_mod.push(images_mod.for_spec(spec, held.append), aws)
    if pushed.created_repository:
        warn(f"created ECR repository {pushed.repository_uri}")
    if pushed.pushed_to != pushed.repository_uri.split("/")[0]:
        warn(f"layers pushed to {pushed.pushed_to} ({push_mod.REGISTRY_OVERRIDE})")
    click.echo(pushed.reference)


@click.command("publish")
@SPEC_ARG
@PROFILE_OPT
@click.option("--no-wait", is_flag=True, help="Return once the package is created.")
@click.option("--timeout", type=float, default=6 * 3600, show_default=True,
              help="Seconds to wait for validation.")
@click.option("--no-verify", is_flag=True, help="Skip the prediction inside the image.")
@guarded
def publish(spec_file: Path, profile: str | None, no_wait: bool, timeout: float,
            no_verify: bool) -> None:
    """Package, push, upload and create the certified model package (once per content)."""
    spec = spec_yaml.load(spec_file)
    aws = aws_mod.connect(spec.region, profile)
    account = publish_mod.check_account(aws, spec)
    require_role(aws, spec.validation.role, field="validation.role", account=account)
    with context_after() as held:
        spec = images_mod.for_spec(spec, held.append)
        art = artifact_mod.package(spec, verify=not no_verify)
        _artifact_lines(art)
        image_ref = spec.image.uri or push_mod.push(spec, aws).reference
    click.echo(f"image: {image_ref}")
    result = publish_mod.publish(spec, aws, art, image_ref, warn, wait_for=not no_wait,
                                 timeout=timeout)
    click.echo(f"model package: {result.arn}")
    click.echo(f"status: {result.status}")
    if result.failures:
        raise PlatformError("validation failed: " + "; ".join(result.failures))


@click.command("preflight")
@SPEC_ARG
@PROFILE_OPT
@click.option("--image-uri", default=None,
              help="The pushed image by digest to check (default: image.uri in the spec).")
@click.option("--no-aws", is_flag=True, help="Skip the checks that call AWS.")
@guarded
def preflight(spec_file: Path, profile: str | None, image_uri: str | None,
              no_aws: bool) -> None:
    """Run Marketplace's checks locally; one pass/fail line per check."""
    with context_after() as held:
        spec = images_mod.for_spec(spec_yaml.load(spec_file), held.append)
    aws = None
    if not no_aws:
        aws_mod.check_endpoints()  # stale emulator variables fail now, not as a skip
        try:
            aws = aws_mod.connect(spec.region, profile)
        except UserError as e:
            warn(f"note: AWS checks skipped: {e}")
    report = preflight_mod.run(spec, aws, image_ref=image_uri or spec.image.uri)
    click.echo(report.render())
    if report.figures:
        click.echo("figures: " + ", ".join(f"{k}={v}" for k, v in report.figures.items()))
    if not report.ok:
        names = ", ".join(c.name for c in report.failed())
        raise UserError(f"preflight failed: {names}")


@click.group("emulators")
def emulators() -> None:
    """Local stand-ins for AWS: moto, a registry, the Catalog API emulator."""


@emulators.command("up")
@guarded
def emulators_up() -> None:
    """Start them (no-op when they already run); then: eval "$(smkit emulators env)"."""
    services = manager.up()
    for svc in services.values():
        click.echo(f"{svc.name:9} {svc.url}  (pid {svc.pid}, log {svc.log})")
    click.echo('point the kit at them: eval "$(smkit emulators env)"')


@emulators.command("down")
@guarded
def emulators_down() -> None:
    """Stop the emulators `smkit emulators up` started."""
    stopped = manager.down()
    click.echo("stopped: " + (", ".join(stopped) or "nothing was running"))


@emulators.command("env")
@guarded
def emulators_env() -> None:
    """Print export lines pointing boto3 and smkit push at the running emulators."""
    services = manager.read_state()
    if not manager.healthy(services):
        raise UserError("the emulators are not running; start them with "
                        "`smkit emulators up`")
    click.echo(manager.env_lines(services))
