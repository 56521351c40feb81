"""The buyer's arguments: `buyer transform --local` refuses s3:// paths before anything is
fetched (naming --cloud), S3 URLs split or say the shape they want, and only moto is moto."""

from __future__ import annotations

from pathlib import Path

import pytest
from smkit.buyer import jobs as buyer
from smkit.buyer.staging import split_s3
from smkit.core.errors import UserError
from smkit.emulators.manager import is_moto
from smkit.image.docker import free_port as docker_free_port

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/example"


def test_an_s3_input_is_named_as_such_not_as_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"--local transforms local files.*--cloud"):
        buyer.local_transform(ARN, "s3://bucket/input/part-0.csv", tmp_path)


def test_an_s3_output_is_refused_with_the_same_advice(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("1,2\n")
    with pytest.raises(UserError, match=r"--local writes to a local --output.*--cloud"):
        buyer.local_transform(ARN, data, "s3://bucket/output/")


@pytest.mark.parametrize(("url", "key_required", "parts"), [
    ("s3://b/k/x.csv", True, ("b", "k/x.csv")),
    ("s3://b/", True, ("b", "")),
    ("s3://b", False, ("b", "")),
    ("s3://b/in/", False, ("b", "in/")),
])
def test_s3_urls_split_into_bucket_and_key(url: str, key_required: bool,
                                           parts: tuple[str, str]) -> None:
    assert split_s3(url, key_required=key_required) == parts


@pytest.mark.parametrize(("url", "key_required", "shape"), [
    ("s3://b", True, "s3://bucket/key"),
    ("s3:///k", True, "s3://bucket/key"),
    ("s3:///k", False, "s3://bucket/prefix"),
    ("b/k", False, "s3://bucket/prefix"),
    ("https://b.s3.amazonaws.com/k", True, "s3://bucket/key"),
])
def test_a_malformed_s3_url_says_the_shape_it_wants(url: str, key_required: bool,
                                                    shape: str) -> None:
    with pytest.raises(UserError, match=f"is not an {shape} URL"):
        split_s3(url, key_required=key_required)


def test_only_a_server_with_motos_api_counts_as_moto() -> None:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/moto-api/" and self.server.moto else 404)  # type: ignore[attr-defined]
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    for moto in (True, False):
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        server.moto = moto  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            assert is_moto(f"http://127.0.0.1:{server.server_port}/") is moto
        finally:
            server.shutdown()
            server.server_close()
    assert is_moto(f"http://127.0.0.1:{docker_free_port()}") is False
