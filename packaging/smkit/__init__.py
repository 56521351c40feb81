"""smkit seller tooling: runs on the host (boto3, Docker, the SageMaker SDK, the CLI)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smkit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
