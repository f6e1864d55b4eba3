"""Helpers for tests that drive real S3 clients: names, client binaries, boto3, environment."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

REGION = "LON1"
BIN = Path(sys.executable).parent


def uniq(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def binary(name: str) -> str:
    """Path of a client shipped in the virtualenv; fail (never skip) when it is missing."""
    path = BIN / name
    if not path.exists():
        pytest.fail(f"S3 client {name!r} is missing from {BIN}: install the test extras "
                    "(pip install -e '.[test]')")
    return str(path)


def boto_client(endpoint: str, access_key: str | None, secret_key: str | None, *,
                when_required: bool = False, addressing: str = "path",
                region: str = REGION, verify: bool | None = None,
                s3_config: dict[str, Any] | None = None, read_timeout: int = 120,
                **config: Any) -> Any:
    """A boto3 S3 client. Default settings send CRC32 checksums on every upload (current SDK
    default); ``when_required=True`` is the old behaviour."""
    if when_required:
        config.setdefault("request_checksum_calculation", "when_required")
        config.setdefault("response_checksum_validation", "when_required")
    cfg = Config(s3={"addressing_style": addressing, **(s3_config or {})},
                 retries={"total_max_attempts": 1},
                 connect_timeout=10, read_timeout=read_timeout, **config)
    kwargs: dict[str, Any] = {"endpoint_url": endpoint, "config": cfg}
    if verify is not None:
        kwargs["verify"] = verify
    return _session().client("s3", aws_access_key_id=access_key,
                             aws_secret_access_key=secret_key, region_name=region, **kwargs)


_sessions = threading.local()


def _session() -> boto3.session.Session:
    """This thread's boto3 session, shared by the clients it makes (each with its own keys,
    region and config): a new session loads and parses S3's service model again, ~150 ms a
    client against ~6 ms. One per thread: a session is not safe to share between threads."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = boto3.session.Session()
    return session


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The process environment minus anything that could point a client at other config."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "RCLONE_", "S3CMD", "MC_"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    return env


def aws_cli_env(tmp_path: Path, access_key: str, secret_key: str) -> dict[str, str]:
    """Environment for the ``aws`` CLI: these keys, empty config files, no instance metadata."""
    env = clean_env(tmp_path)
    cfg, creds = tmp_path / "aws-config", tmp_path / "aws-credentials"
    cfg.write_text("")
    creds.write_text("")
    env.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key,
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=str(cfg),
               AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_EC2_METADATA_DISABLED="true",
               AWS_PAGER="", AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard")
    return env


def rclone_remote_env(tmp_path: Path, remote: str, endpoint: str, access_key: str,
                      secret_key: str) -> dict[str, str]:
    """Environment defining rclone remote ``remote`` (S3, provider Other, path style)."""
    env = clean_env(tmp_path)
    conf = tmp_path / "rclone.conf"
    conf.write_text("")
    prefix = f"RCLONE_CONFIG_{remote.upper()}_"
    env["RCLONE_CONFIG"] = str(conf)
    env.update({prefix + k: v for k, v in {
        "TYPE": "s3", "PROVIDER": "Other", "ENV_AUTH": "false", "ACCESS_KEY_ID": access_key,
        "SECRET_ACCESS_KEY": secret_key, "ENDPOINT": endpoint, "REGION": REGION,
        "FORCE_PATH_STYLE": "true"}.items()})
    return env


def run(cmd: list[str], env: dict[str, str], *, timeout: float = 180, check: bool = True,
        stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a client command; with ``check``, a non-zero exit fails the test with its output."""
    proc = subprocess.run(cmd, env=env, input=stdin, capture_output=True,  # noqa: S603
                          timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\nstdout: "
                    f"{proc.stdout.decode(errors='replace')[-4000:]}\nstderr: "
                    f"{proc.stderr.decode(errors='replace')[-4000:]}")
    return proc


def error_code(exc: Any) -> str:
    """The S3 error code of a botocore ClientError."""
    return str(exc.response["Error"]["Code"])


def status_of(exc: Any) -> int:
    return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
