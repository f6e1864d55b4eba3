"""Settings: every value is checked when the settings are made; a wrong one is refused with a
message naming its environment variable, never read as something else."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from pydantic import ValidationError

from objectstore.cli.main import main
from objectstore.config import Settings, describe_errors, parse_regions


@pytest.fixture(autouse=True)
def _no_objectstore_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("OBJECTSTORE_"):
            monkeypatch.delenv(name)


def refused(**values: Any) -> str:
    with pytest.raises(ValidationError) as info:
        Settings(**values)
    return describe_errors(info.value)


def test_defaults_are_valid() -> None:
    s = Settings()
    assert (s.api_port, s.s3_port, s.verify_reads, s.log_level) == (8000, 9000, "all", "info")
    assert s.sqlite_synchronous == "FULL" and s.fsync is True
    assert s.workers == 0 and s.resolved_workers() == len(os.sched_getaffinity(0))  # auto


def test_workers_auto_or_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw in ("auto", "AUTO", " Auto "):
        monkeypatch.setenv("OBJECTSTORE_WORKERS", raw)
        assert Settings().workers == 0
    monkeypatch.setenv("OBJECTSTORE_WORKERS", "3")
    assert Settings().resolved_workers() == 3
    monkeypatch.setenv("OBJECTSTORE_WORKERS", "many")
    assert "OBJECTSTORE_WORKERS: " in refused()


@pytest.mark.parametrize(("raw", "value"), [
    ("all", "all"), ("ALL", "all"), ("crc", "crc"), ("Crc", "crc"), ("off", "off"),
    ("OFF", "off"), (" Off ", "off"),
])
def test_verify_reads_is_a_case_insensitive_choice(monkeypatch: pytest.MonkeyPatch, raw: str,
                                                   value: str) -> None:
    monkeypatch.setenv("OBJECTSTORE_VERIFY_READS", raw)
    assert Settings().verify_reads == value


@pytest.mark.parametrize("raw", ["none", "false", "0", "", "al", "md5", "yes"])
def test_verify_reads_refuses_anything_else(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("OBJECTSTORE_VERIFY_READS", raw)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert describe_errors(info.value) == (
        "invalid settings:\n  OBJECTSTORE_VERIFY_READS: Input should be 'all', 'crc' or 'off'")


def test_other_choices_are_case_insensitive_too() -> None:
    assert Settings(log_level="WARNING").log_level == "warning"
    assert Settings(sqlite_synchronous="normal").sqlite_synchronous == "NORMAL"
    assert "OBJECTSTORE_LOG_LEVEL" in refused(log_level="loud")
    assert "OBJECTSTORE_SQLITE_SYNCHRONOUS" in refused(sqlite_synchronous="OFF")


@pytest.mark.parametrize(("name", "bad"), [
    ("api_port", 0), ("s3_port", 70000), ("api_port", "http"), ("workers", -1),
    ("default_store_gb", 0), ("account_quota_gb", -1), ("max_api_body_bytes", 0),
    ("max_header_bytes", 10), ("request_body_timeout_s", 0), ("multipart_max_age_hours", 0),
    ("inline_max_bytes", -1), ("fsync", "maybe"), ("host", ""),
])
def test_numbers_and_booleans_are_checked(name: str, bad: Any) -> None:
    assert f"OBJECTSTORE_{name.upper()}: " in refused(**{name: bad})


def test_booleans_accept_the_usual_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, value in (("false", False), ("0", False), ("off", False), ("TRUE", True),
                       ("yes", True)):
        monkeypatch.setenv("OBJECTSTORE_FSYNC", raw)
        assert Settings().fsync is value


def test_database_url() -> None:
    for url in ("sqlite:///tmp/x.db", "postgresql://u:p@h:5432/db", "postgres://u@h/db",
                "postgresql+psycopg://u@h/db"):
        assert Settings(database_url=url).database_url == url
    assert Settings(database_url="").database_url is None  # empty = the default
    for url in ("mysql://u@h/db", "nonsense", "http://h/db"):
        message = refused(database_url=url)
        assert "OBJECTSTORE_DATABASE_URL: must be a sqlite" in message


def test_refused_values_stay_out_of_the_error() -> None:
    """A database URL or key holds a password: the error must not repeat it."""
    with pytest.raises(ValidationError) as info:
        Settings(database_url="mysql://u:hunter2@h/db", server_key="hunter3")
    assert "hunter2" not in str(info.value) and "hunter3" not in str(info.value)
    assert "hunter" not in describe_errors(info.value)


def test_public_s3_url() -> None:
    assert Settings(public_s3_url="https://s3.example.com/").public_s3_url \
        == "https://s3.example.com/"
    assert Settings(public_s3_url="https://s3.example.com/").resolved_public_s3_url() \
        == "https://s3.example.com"
    for url in ("s3.example.com", "ftp://s3.example.com", "http://", "http://h:99999",
                "https://h/?x=1", "https://h/#top"):
        assert "OBJECTSTORE_PUBLIC_S3_URL: " in refused(public_s3_url=url), url


def test_s3_domain() -> None:
    assert Settings(s3_domain="S3.Example.COM.").s3_domain == "s3.example.com"
    for domain in ("https://s3.example.com", "s3.example.com:9000", "s3.example.com/x",
                   "-bad.example.com", "a..b"):
        assert "OBJECTSTORE_S3_DOMAIN: " in refused(s3_domain=domain), domain


def test_server_key() -> None:
    key = Fernet.generate_key().decode()
    assert Settings(server_key=key).server_key == key
    assert "OBJECTSTORE_SERVER_KEY: must be a Fernet key" in refused(server_key="short")
    assert "OBJECTSTORE_SERVER_KEY: " in refused(server_key="!" * 44)


def test_regions_are_checked_when_the_settings_are_made() -> None:
    assert [r.code for r in Settings(regions="lon1,FRA1").region_list()] == ["LON1", "FRA1"]
    assert "region LON1 is listed twice" in refused(regions="LON1:London,lon1")
    assert "default region XX1 is not in the region list" in refused(default_region="xx1")
    assert "at least one region is required" in refused(regions=" , ")
    with pytest.raises(ValueError, match="has no code"):
        parse_regions(":London")


def test_tls_files_go_together(tmp_path: Path) -> None:
    assert "tls_cert and tls_key go together" in refused(tls_cert=tmp_path / "c.pem")
    assert "tls_cert and tls_key go together" in refused(tls_key=tmp_path / "k.pem")
    Settings(tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem")


def test_cli_names_the_refused_setting(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["account", "list", "--data-dir", str(tmp_path)],
                                env={"OBJECTSTORE_VERIFY_READS": "OFFF"})
    assert result.exit_code == 2
    assert "OBJECTSTORE_VERIFY_READS: Input should be 'all', 'crc' or 'off'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "objectstore.db").exists()  # refused before anything was made
