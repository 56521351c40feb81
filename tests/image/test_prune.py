"""``smkit images``: which images are stale, and that pruning takes only smkit's own names.

The container tests build tiny labelled images on the real engine (a LABEL on an existing
base, no RUN step), so they cost a second, and remove only those images.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from smkit.cli import main as cli_main
from smkit.image import build as images
from smkit.image import docker, prune


def _build(tmp_path: Path, base: str, tag: str, marker: str) -> str:
    context = tmp_path / marker
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\n")
    docker.build(context, [tag], labels={images.ENV_LABEL: marker})
    return docker.docker("image", "inspect", "-f", "{{.Id}}", tag).stdout.decode().strip()


def _exists(name: str) -> bool:
    return docker.image_exists(name)


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Images as a long-lived engine has them: one on the current server base, three on an
    older base (one also named by the seller, one with a stopped container), one untagged."""
    run = uuid.uuid4().hex[:8]
    os_image, server_base = images.current_bases()
    images.ensure_base()
    tags = {
        "current": f"{images.PRODUCT_REPOSITORY}:pt{run}cur",
        "stale": f"{images.PRODUCT_REPOSITORY}:pt{run}old",
        "named": f"{images.PRODUCT_REPOSITORY}:pt{run}nam",
        "used": f"{images.PRODUCT_REPOSITORY}:pt{run}use",
        "untagged": f"{images.PRODUCT_REPOSITORY}:pt{run}unt",
    }
    ids = {"current": _build(tmp_path, server_base, tags["current"], f"{run}-current")}
    for key in ("stale", "named", "used", "untagged"):
        ids[key] = _build(tmp_path, os_image, tags[key], f"{run}-{key}")
    seller_name = f"pt{run}-seller/product:1"
    docker.docker("tag", tags["named"], seller_name)
    container = f"pt{run}-stopped"
    docker.docker("create", "--name", container, tags["used"], "true")
    # Built again under the same name, the first image loses it, as a rebuild leaves one.
    ids["untagged_successor"] = _build(tmp_path, os_image, tags["untagged"], f"{run}-again")
    names = {**{f"{k}_tag": v for k, v in tags.items()}, **{f"{k}_id": v for k, v in ids.items()},
             "seller_name": seller_name}
    try:
        yield names
    finally:
        docker.docker("rm", "-f", container, check=False)
        docker.docker("rmi", "-f", *tags.values(), seller_name, *ids.values(), check=False)


@pytest.mark.container
def test_inventory_tells_current_stale_and_in_use_images_apart(
        planted: dict[str, str]) -> None:
    found = {i.id: i for i in prune.inventory()}
    assert found[planted["current_id"]].status == "current"
    assert found[planted["stale_id"]].status == "stale"
    assert found[planted["named_id"]].status == "stale"
    assert found[planted["used_id"]].status == "in use"
    assert found[planted["untagged_id"]].status == "stale"
    assert found[planted["untagged_id"]].tags == []
    _os_image, server_base = images.current_bases()
    bases = [i for i in found.values() if server_base in i.tags]
    assert len(bases) == 1
    assert bases[0].kind == "server base"
    assert bases[0].current


@pytest.mark.container
def test_prune_removes_only_smkit_names_of_stale_images(
        planted: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["images", "prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would remove {planted['stale_tag']}" in out
    assert f"would remove {planted['named_tag']}" in out
    assert planted["current_tag"] not in out
    assert planted["used_tag"] not in out
    assert _exists(planted["stale_tag"]), "a dry run removed an image"

    ours = {planted[f"{k}_id"] for k in ("current", "stale", "named", "used", "untagged")}
    picked = [i for i in prune.removable(prune.inventory()) if i.id in ours]
    result = prune.remove(picked, log=print)
    assert not result.failed
    assert not _exists(planted["stale_tag"])
    assert not _exists(planted["untagged_id"])
    assert not _exists(planted["named_tag"])
    assert _exists(planted["seller_name"]), "the seller's own name was removed"
    assert _exists(planted["current_tag"])
    assert _exists(planted["used_tag"]), "an image a container uses was removed"

    everything = {i.id for i in prune.removable(prune.inventory(), everything=True)}
    assert planted["current_id"] in everything
    assert planted["used_id"] not in everything
    # The current OS base stays even under --all (it takes the Debian mirror to make
    # again); a stale one, an older recipe's or an unsupported Python's, may go.
    current_os = [i for i in prune.inventory() if i.kind == "OS base" and i.current]
    assert current_os, "the suite's own OS base is not on the engine"
    assert not any(i.id in everything for i in current_os), "--all would remove the OS base"


def test_ensure_space_says_what_to_free_when_pruning_is_not_enough(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Only the measurements and the removal are replaced: a real prune here would empty the
    # build cache under the rest of the run.
    removed: list[bool] = []
    monkeypatch.setattr(prune, "docker_free_bytes", lambda: 3 * prune.GB)
    monkeypatch.setattr(prune, "inventory", lambda: [])
    monkeypatch.setattr(prune, "remove", lambda picked, build_cache, log: (
        removed.append(build_cache), prune.Pruned())[1])
    assert cli_main(["images", "ensure-space", "15"]) == 1
    err = capsys.readouterr().err
    assert removed == [True]
    assert "only 3.0 GB is free" in err
    assert "want 15 GB" in err
    assert "smkit images prune --all" in err
    assert "docker builder prune" in err

    removed.clear()
    assert cli_main(["images", "ensure-space", "2", "--prune-below", "5"]) == 0
    assert removed == [True], "free space under --prune-below did not prune"
    removed.clear()
    assert cli_main(["images", "ensure-space", "2"]) == 0
    assert removed == []
    assert "3.0 GB free" in capsys.readouterr().err


def test_ensure_space_refuses_a_size_that_is_not_positive(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["images", "ensure-space", "0"]) == 2
    assert "positive number of gigabytes" in capsys.readouterr().err
