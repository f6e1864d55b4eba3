"""The client CLI (`objectstore store|credential|regions|quota`) against a real server."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from objectstore.cli.main import main
from objectstore.client import ObjectStoreClient
from objectstore.storage.sql.tables import objectstores
from tests.support.pg import free_port

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACCESS_KEY_RE = re.compile(r"^[A-Z0-9]{20}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9]{40}$")
GB = 10**9  # decimal gigabytes, as on Civo
# Never let the developer's environment leak into the CLI under test.
CLEAN_ENV: dict[str, str | None] = {"OBJECTSTORE_API_URL": None, "OBJECTSTORE_API_KEY": None,
                                    "OBJECTSTORE_REGION": None}

Cli = Callable[..., Result]


@pytest.fixture
def cli(server) -> Cli:
    """Run `objectstore ARGS --api-url URL --api-key KEY`; expect exit 0 unless told."""

    def run(*args: str, code: int = 0, env: dict[str, str | None] | None = None) -> Result:
        runner = CliRunner(env={**CLEAN_ENV, **(env or {})})
        argv = [*args, "--api-url", server.api_url, "--api-key", server.api_key]
        result = runner.invoke(main, argv, catch_exceptions=False)
        assert result.exit_code == code, (argv, result.output)
        return result

    return run


def js(cli: Cli, *args: str) -> Any:
    """Run a command with `--output json` and parse its stdout."""
    result = cli(*args, "--output", "json")
    assert result.stderr == ""
    return json.loads(result.stdout)


def fields(stdout: str) -> dict[str, str]:
    """Parse the `Key : value` lines of a table-mode `show`."""
    out = {}
    for line in stdout.splitlines():
        key, _, value = line.partition(" : ")
        out[key.strip()] = value.strip()
    return out


def table(stdout: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines()]


@pytest.fixture
def sdk(server) -> Iterator[ObjectStoreClient]:
    with ObjectStoreClient(server.api_url, server.api_key) as c:
        yield c


# -- object stores --------------------------------------------------------------------------------
def test_store_create_and_show_table(server, cli, sdk):
    out = fields(cli("store", "create", "cli-table", "--size", "12").stdout)
    assert UUID_RE.match(out["ID"])
    assert out["Name"] == "cli-table"
    assert out["Region"] == "LON1"
    assert out["Size (GB)"] == "12"
    assert out["Owner"] == "cli-table"
    assert ACCESS_KEY_RE.match(out["Access key"])
    assert out["Endpoint"] == f"{server.s3_url}/cli-table"
    assert out["Status"] == "ready"
    store = sdk.get_store(out["ID"])
    assert store.max_size_gb == 12
    assert out["Owner credential"] == store.owner_info.credential_id

    shown = fields(cli("store", "show", store.id).stdout)
    assert shown == out


def test_store_create_json_and_list(server, cli, sdk):
    a = js(cli, "store", "create", "cli-a")
    assert UUID_RE.match(a["id"])
    assert a["name"] == "cli-a"
    assert a["max_size_gb"] == 500
    assert a["status"] == "ready"
    assert a["objectstore_endpoint"] == f"{server.s3_url}/cli-a"
    cred = sdk.create_credential("cli-owner")
    b = js(cli, "store", "create", "cli-b", "--size", "7", "--access-key-id", cred.access_key_id)
    assert b["max_size_gb"] == 7
    assert b["owner_info"] == {"name": "cli-owner", "access_key_id": cred.access_key_id,
                               "credential_id": cred.id}

    listed = js(cli, "store", "list")
    assert [s["id"] for s in listed] == [a["id"], b["id"]]
    assert listed[0] == a
    assert listed[1] == b
    assert js(cli, "store", "show", b["id"]) == b

    rows = table(cli("store", "list").stdout)
    assert rows[0] == ["ID", "NAME", "SIZE_GB", "OWNER", "ACCESS_KEY", "ENDPOINT", "STATUS"]
    assert rows[1] == [a["id"], "cli-a", "500", "cli-a", a["owner_info"]["access_key_id"],
                       f"{server.s3_url}/cli-a", "ready"]
    assert rows[2] == [b["id"], "cli-b", "7", "cli-owner", cred.access_key_id,
                       f"{server.s3_url}/cli-b", "ready"]


def test_store_list_pages_through_everything(cli, sdk):
    ids = [sdk.create_store(f"cli-many-{i:03d}", max_size_gb=1).id for i in range(105)]
    assert [s["id"] for s in js(cli, "store", "list")] == ids
    assert len(table(cli("store", "list").stdout)) == 106


def test_store_update(cli, sdk):
    store = sdk.create_store("cli-upd", max_size_gb=10)
    assert js(cli, "store", "update", store.id, "--size", "25")["max_size_gb"] == 25
    assert sdk.get_store(store.id).max_size_gb == 25

    cred = sdk.create_credential("new-owner")
    moved = fields(cli("store", "update", store.id, "--access-key-id", cred.access_key_id).stdout)
    assert moved["Owner"] == "new-owner"
    assert moved["Owner credential"] == cred.id
    assert moved["Size (GB)"] == "25"
    assert sdk.get_store(store.id).owner_info.credential_id == cred.id

    r = cli("store", "update", store.id, code=1)
    assert r.stdout == ""
    assert r.stderr.startswith("error: nothing_to_update: ")


def test_store_delete(cli, sdk):
    store = sdk.create_store("cli-del")
    r = cli("store", "delete", store.id)
    assert r.stdout == f"deleted object store {store.id}\n"
    assert list(sdk.iter_stores()) == []
    # its private credential went with it
    assert list(sdk.iter_credentials()) == []

    other = sdk.create_store("cli-del-json")
    assert js(cli, "store", "delete", other.id) == {"result": "success", "id": other.id}

    r = cli("store", "delete", store.id, code=1)
    assert r.stderr == (f"error: database_objectstore_not_found: "
                        f"object store {store.id} was not found\n")


def test_store_stats(server, cli, sdk):
    store = sdk.create_store("cli-stats", max_size_gb=3)
    with server.services.engine.begin() as conn:
        conn.execute(update(objectstores).where(objectstores.c.id == store.id)
                     .values(used_bytes=5_000_999, object_count=4))
    assert js(cli, "store", "stats", store.id) == {
        "size_kb_utilised": 5000, "max_size_kb": 3 * GB // 1000, "num_objects": 4}
    out = fields(cli("store", "stats", store.id).stdout)
    assert out == {"Objects": "4", "Used (KB)": "5000", "Max size (KB)": str(3 * GB // 1000)}


def test_store_errors(cli, sdk):
    sdk.create_store("cli-dup")
    r = cli("store", "create", "cli-dup", code=1)
    assert r.stdout == ""
    assert r.stderr.startswith("error: database_objectstore_exists: ")
    assert r.stderr.count("\n") == 1

    r = cli("store", "show", "00000000-0000-4000-8000-000000000000", code=1)
    assert r.stderr.startswith("error: database_objectstore_not_found: ")
    r = cli("store", "stats", "nope", code=1)
    assert r.stderr.startswith("error: database_objectstore_not_found: ")
    r = cli("store", "create", "cli-huge", "--size", "999999", code=1)
    assert r.stderr.startswith("error: objectstore_quota_exceeded: ")
    r = cli("store", "create", "x", code=1)
    assert r.stderr.startswith("error: parameter_name_invalid: ")
    assert [s.name for s in sdk.iter_stores()] == ["cli-dup"]


# -- credentials ----------------------------------------------------------------------------------
def test_credential_create_show_list(cli, sdk):
    gen = js(cli, "credential", "create", "cli-gen")
    assert UUID_RE.match(gen["id"])
    assert ACCESS_KEY_RE.match(gen["access_key_id"])
    assert SECRET_RE.match(gen["secret_access_key_id"])
    assert (gen["name"], gen["max_size_gb"], gen["suspended"], gen["status"], gen["region"]) == (
        "cli-gen", 0, False, "ready", "LON1")

    out = fields(cli("credential", "create", "cli-set", "--access-key-id", "CLIKEY01",
                     "--secret-access-key", "cli-secret-01", "--size", "40").stdout)
    assert (out["Name"], out["Access key"], out["Secret key"], out["Max size (GB)"]) == (
        "cli-set", "CLIKEY01", "cli-secret-01", "40")
    assert out["Suspended"] == "no"
    cred = sdk.get_credential(out["ID"])
    assert (cred.access_key_id, cred.secret_access_key, cred.max_size_gb) == (
        "CLIKEY01", "cli-secret-01", 40)

    assert js(cli, "credential", "show", cred.id) == cred.to_dict()
    assert fields(cli("credential", "show", cred.id).stdout) == out

    listed = js(cli, "credential", "list")
    assert [c["id"] for c in listed] == [gen["id"], cred.id]
    assert listed[0] == gen
    rows = table(cli("credential", "list").stdout)
    assert rows == [
        ["ID", "NAME", "ACCESS_KEY", "MAX_SIZE_GB", "SUSPENDED", "STATUS"],
        [gen["id"], "cli-gen", gen["access_key_id"], "unlimited", "no", "ready"],
        [cred.id, "cli-set", "CLIKEY01", "40", "no", "ready"],
    ]


def test_credential_update(cli, sdk):
    cred = sdk.create_credential("cli-upd")
    suspended = js(cli, "credential", "update", cred.id, "--suspend")
    assert suspended["suspended"] is True
    assert sdk.get_credential(cred.id).suspended is True
    out = fields(cli("credential", "update", cred.id, "--unsuspend").stdout)
    assert out["Suspended"] == "no"
    assert sdk.get_credential(cred.id).suspended is False

    changed = js(cli, "credential", "update", cred.id, "--name", "cli-renamed",
                 "--access-key-id", "CLIKEY02", "--secret-access-key", "cli-secret-02",
                 "--size", "9")
    assert (changed["name"], changed["access_key_id"], changed["secret_access_key_id"],
            changed["max_size_gb"], changed["suspended"]) == (
        "cli-renamed", "CLIKEY02", "cli-secret-02", 9, False)
    got = sdk.get_credential(cred.id)
    assert (got.name, got.access_key_id, got.secret_access_key, got.max_size_gb) == (
        "cli-renamed", "CLIKEY02", "cli-secret-02", 9)

    r = cli("credential", "update", cred.id, code=1)
    assert r.stderr.startswith("error: nothing_to_update: ")
    other = sdk.create_credential("cli-other")
    r = cli("credential", "update", other.id, "--access-key-id", "CLIKEY02", code=1)
    assert r.stderr.startswith("error: database_objectstore_credential_exists: ")


def test_credential_delete(cli, sdk):
    cred = sdk.create_credential("cli-del")
    r = cli("credential", "delete", cred.id)
    assert r.stdout == f"deleted credential {cred.id}\n"
    assert list(sdk.iter_credentials()) == []
    r = cli("credential", "show", cred.id, code=1)
    assert r.stderr == (f"error: database_objectstore_credential_not_found: "
                        f"credential {cred.id} was not found\n")

    store = sdk.create_store("cli-owned")
    r = cli("credential", "delete", store.owner_info.credential_id, code=1)
    assert r.stderr.startswith("error: database_objectstore_credential_in_use: ")
    other = sdk.create_credential("cli-del-json")
    assert js(cli, "credential", "delete", other.id) == {"result": "success", "id": other.id}


# -- export ---------------------------------------------------------------------------------------
def test_credential_export_env(server, cli, sdk):
    store = sdk.create_store("cli-export")
    cred = sdk.get_credential(store.owner_info.credential_id)
    r = cli("credential", "export", cred.id)
    lines = r.stdout.splitlines()
    assert all(line.startswith("export ") for line in lines)
    env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert env == {
        "AWS_ACCESS_KEY_ID": cred.access_key_id,
        "AWS_SECRET_ACCESS_KEY": cred.secret_access_key,
        "AWS_DEFAULT_REGION": "LON1",
        "AWS_ENDPOINT_URL": server.s3_url,
        "AWS_HOST": server.s3_url,
    }
    assert cli("credential", "export", cred.id, "--format", "env").stdout == r.stdout


def test_credential_export_s3cfg(server, cli, sdk):
    cred = sdk.create_credential("cli-s3cfg", access_key_id="CLIS3CFGKEY",
                                 secret_access_key="cli-s3cfg-secret")
    sdk.create_store("cli-s3cfg-bucket", access_key_id=cred.access_key_id)
    r = cli("credential", "export", cred.id, "--format", "s3cfg")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(r.stdout)
    assert parser.sections() == ["default"]
    host = urlsplit(server.s3_url).netloc
    assert host.startswith("127.0.0.1:")
    assert dict(parser["default"]) == {
        "access_key": "CLIS3CFGKEY",
        "secret_key": "cli-s3cfg-secret",
        "bucket_location": "LON1",
        "host_base": host,
        "host_bucket": host,
        "use_https": "False",
        "signature_v2": "True",
    }


def test_exported_configs_work_with_s3cmd_and_boto3(server, cli, sdk, tmp_path):
    """The exported s3cmd config (path-style, SigV2) and env (SigV4) really reach the data."""
    store = sdk.create_store("cli-roundtrip")
    cred_id = store.owner_info.credential_id
    cfg = tmp_path / "s3cfg"
    cfg.write_text(cli("credential", "export", cred_id, "--format", "s3cfg").stdout)
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello from s3cmd\n")
    s3cmd = [sys.executable, str(Path(sys.executable).with_name("s3cmd")), "-c", str(cfg)]
    put = subprocess.run([*s3cmd, "put", str(src), "s3://cli-roundtrip/dir/hello.txt"],
                         capture_output=True, text=True, timeout=60)
    assert put.returncode == 0, put.stderr
    ls = subprocess.run([*s3cmd, "ls", "s3://cli-roundtrip/dir/"], capture_output=True,
                        text=True, timeout=60)
    assert ls.returncode == 0, ls.stderr
    assert "s3://cli-roundtrip/dir/hello.txt" in ls.stdout
    assert sdk.store_stats(store.id).num_objects == 1

    lines = cli("credential", "export", cred_id).stdout.splitlines()
    env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                      region_name=env["AWS_DEFAULT_REGION"])
    body = s3.get_object(Bucket="cli-roundtrip", Key="dir/hello.txt")["Body"].read()
    assert body == b"hello from s3cmd\n"


def test_credential_export_endpoint_option_and_region(server, sdk):
    runner = CliRunner(env={**CLEAN_ENV, "OBJECTSTORE_API_URL": server.api_url,
                            "OBJECTSTORE_API_KEY": server.api_key,
                            "OBJECTSTORE_REGION": "fra1"})
    r = runner.invoke(main, ["credential", "create", "cli-fra", "-o", "json"])
    assert r.exit_code == 0, r.output
    cred = json.loads(r.stdout)
    assert cred["region"] == "FRA1"

    # it owns no store: the endpoint must be given
    r = runner.invoke(main, ["credential", "export", cred["id"]])
    assert r.exit_code == 1
    assert r.stderr.startswith("error: endpoint_unknown: ")

    r = runner.invoke(main, ["credential", "export", cred["id"], "--format", "s3cfg",
                             "--endpoint", "https://s3.example.test:8443/"])
    assert r.exit_code == 0, r.output
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(r.stdout)
    cfg = parser["default"]
    assert (cfg["host_base"], cfg["host_bucket"], cfg["use_https"]) == (
        "s3.example.test:8443", "s3.example.test:8443", "True")
    assert cfg["bucket_location"] == "FRA1"
    assert (cfg["access_key"], cfg["secret_key"]) == (
        cred["access_key_id"], cred["secret_access_key_id"])

    r = runner.invoke(main, ["credential", "export", cred["id"], "--endpoint",
                             "http://10.1.2.3:9000"])
    assert r.exit_code == 0, r.output
    assert "export AWS_ENDPOINT_URL=http://10.1.2.3:9000\n" in r.stdout
    assert "export AWS_DEFAULT_REGION=FRA1\n" in r.stdout
    # the default-region client does not see the FRA1 credential
    assert [c.id for c in sdk.iter_credentials()] == []


# -- account --------------------------------------------------------------------------------------
def test_regions(cli):
    regions = js(cli, "regions")
    assert [r["code"] for r in regions] == ["LON1", "NYC1", "FRA1", "PHX1"]
    assert [r["code"] for r in regions if r["default"]] == ["LON1"]
    assert regions[0]["features"]["object_store"] is True
    assert regions[3]["features"]["object_store"] is False
    assert regions[1]["country_name"] == "United States"
    rows = table(cli("regions").stdout)
    assert rows == [
        ["CODE", "NAME", "COUNTRY", "DEFAULT", "OBJECT_STORE"],
        ["LON1", "London", "United Kingdom", "yes", "yes"],
        ["NYC1", "New York 1", "United States", "no", "yes"],
        ["FRA1", "Frankfurt 1", "Germany", "no", "yes"],
        ["PHX1", "Phoenix 1", "United States", "no", "no"],
    ]


def test_quota(cli, sdk):
    sdk.create_store("cli-q1", max_size_gb=100)
    sdk.create_store("cli-q2", max_size_gb=11)
    q = js(cli, "quota")
    assert (q["objectstore_gb_limit"], q["objectstore_gb_usage"],
            q["objectstore_count_usage"]) == (10000, 111, 2)
    assert fields(cli("quota").stdout) == {"Limit (GB)": "10000", "Allocated (GB)": "111",
                                           "Object stores": "2"}


# -- configuration and errors ---------------------------------------------------------------------
def test_region_option(cli, sdk):
    created = js(cli, "store", "create", "cli-nyc", "--region", "NYC1")
    assert created["region"] == "NYC1"
    assert [s["id"] for s in js(cli, "store", "list", "--region", "nyc1")] == [created["id"]]
    assert js(cli, "store", "list") == []
    r = cli("store", "show", created["id"], code=1)
    assert r.stderr.startswith("error: database_objectstore_not_found: ")
    r = cli("store", "list", "--region", "XXX9", code=1)
    assert r.stderr.startswith("error: database_region_not_found: ")
    r = cli("store", "create", "cli-phx", "--region", "PHX1", code=1)
    assert r.stderr.startswith("error: database_region_feature_not_supported: ")
    assert list(sdk.iter_stores()) == []


def test_environment_configuration(server):
    runner = CliRunner(env={**CLEAN_ENV, "OBJECTSTORE_API_URL": server.api_url,
                            "OBJECTSTORE_API_KEY": server.api_key})
    r = runner.invoke(main, ["quota", "--output", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["objectstore_gb_limit"] == 10000
    # a flag wins over the environment
    r = runner.invoke(main, ["quota", "--api-key", "wrong-key-123"])
    assert r.exit_code == 1
    assert r.stderr.startswith("error: database_account_not_found: ")


def test_missing_and_bad_credentials(server):
    runner = CliRunner(env=CLEAN_ENV)
    r = runner.invoke(main, ["regions", "--api-url", server.api_url])
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr.startswith("error: missing_api_key: ")
    r = runner.invoke(main, ["store", "list", "--api-url", server.api_url, "--api-key",
                             "invalid-key-123"])
    assert r.exit_code == 1
    assert r.stderr.startswith("error: database_account_not_found: ")


def test_unreachable_api():
    runner = CliRunner(env=CLEAN_ENV)
    r = runner.invoke(main, ["regions", "--api-url", f"http://127.0.0.1:{free_port()}",
                             "--api-key", "whatever-123"])
    assert r.exit_code == 1
    assert r.stderr.startswith("error: connection_error: ")


def test_help_documents_the_defaults():
    runner = CliRunner(env=CLEAN_ENV)
    r = runner.invoke(main, ["store", "list", "--help"])
    assert r.exit_code == 0
    assert "http://127.0.0.1:8000" in r.stdout
    assert "OBJECTSTORE_API_URL" in r.stdout


# -- names where IDs go ---------------------------------------------------------------------------
def test_store_commands_take_a_name_for_the_id(cli, sdk):
    store = sdk.create_store("cli-by-name", max_size_gb=3)
    assert js(cli, "store", "show", "cli-by-name") == store.to_dict()
    assert fields(cli("store", "show", "cli-by-name").stdout)["ID"] == store.id
    assert js(cli, "store", "update", "cli-by-name", "--size", "4")["max_size_gb"] == 4
    assert sdk.get_store(store.id).max_size_gb == 4
    assert js(cli, "store", "stats", "cli-by-name")["max_size_kb"] == 4 * 10**6
    # the ID still works, and an unknown name is the API's own not-found error
    assert js(cli, "store", "show", store.id)["name"] == "cli-by-name"
    r = cli("store", "show", "cli-no-such-store", code=1)
    assert r.stderr.startswith("error: database_objectstore_not_found: ")
    r = cli("store", "delete", "cli-by-name")
    assert r.stdout == f"deleted object store {store.id}\n"
    assert list(sdk.iter_stores()) == []


def test_credential_commands_take_a_name_for_the_id(server, cli, sdk):
    cred = sdk.create_credential("cli-cred-name")
    assert js(cli, "credential", "show", "cli-cred-name")["id"] == cred.id
    updated = js(cli, "credential", "update", "cli-cred-name", "--suspend")
    assert (updated["id"], updated["suspended"]) == (cred.id, True)
    store = sdk.create_store("cli-cred-store", access_key_id=cred.access_key_id)
    out = cli("credential", "export", "cli-cred-name").stdout
    assert f"export AWS_ACCESS_KEY_ID={cred.access_key_id}\n" in out
    sdk.delete_store(store.id)
    r = cli("credential", "delete", "cli-cred-name")
    assert r.stdout == f"deleted credential {cred.id}\n"
    r = cli("credential", "show", "cli-cred-name", code=1)
    assert r.stderr.startswith("error: database_objectstore_credential_not_found: ")


def test_an_ambiguous_credential_name_is_refused_with_the_ids(cli, sdk):
    a = sdk.create_credential("cli-twin")
    b = sdk.create_credential("cli-twin")
    for args in (["show"], ["update", "--suspend"], ["delete"], ["export"]):
        r = cli("credential", args[0], "cli-twin", *args[1:], code=1)
        assert r.stdout == ""
        assert r.stderr == (f"error: ambiguous_name: 2 credentials are named cli-twin "
                            f"({a.id}, {b.id}); give the ID\n")
    assert {c.id for c in sdk.iter_credentials()} == {a.id, b.id}
    assert not any(c.suspended for c in sdk.iter_credentials())
    assert js(cli, "credential", "show", a.id)["id"] == a.id


def test_an_id_wins_over_a_name(cli, sdk):
    first = sdk.create_credential("cli-first")
    second = sdk.create_credential(first.id)  # a credential named like another's ID
    assert js(cli, "credential", "show", first.id)["id"] == first.id
    assert js(cli, "credential", "show", second.id)["name"] == first.id


def test_store_owner_option_takes_a_credential_name_id_or_access_key(cli, sdk):
    owner = sdk.create_credential("cli-owner")
    other = sdk.create_credential("cli-other")
    by_name = js(cli, "store", "create", "cli-own-name", "--access-key-id", "cli-owner")
    assert by_name["owner_info"]["credential_id"] == owner.id
    by_id = js(cli, "store", "create", "cli-own-id", "--credential", owner.id)
    assert by_id["owner_info"]["credential_id"] == owner.id
    by_key = js(cli, "store", "create", "cli-own-key", "--access-key-id", owner.access_key_id)
    assert by_key["owner_info"]["credential_id"] == owner.id
    # update moves a store (given by name) to a credential given by name or ID
    moved = js(cli, "store", "update", "cli-own-name", "--access-key-id", "cli-other")
    assert (moved["id"], moved["owner_info"]["credential_id"]) == (by_name["id"], other.id)
    moved = js(cli, "store", "update", "cli-own-name", "--credential", owner.id)
    assert moved["owner_info"]["credential_id"] == owner.id
    assert sdk.get_store(by_name["id"]).owner_info.credential_id == owner.id
    # an access key wins over a credential named like it
    decoy = sdk.create_credential(other.access_key_id)
    moved = js(cli, "store", "update", "cli-own-id", "--credential", other.access_key_id)
    assert moved["owner_info"]["credential_id"] == other.id
    sdk.delete_credential(decoy.id)
    # nothing by that name: the API's own error; two by that name: refused with their IDs
    r = cli("store", "create", "cli-own-none", "--credential", "cli-no-such-cred", code=1)
    assert r.stderr.startswith("error: database_objectstore_credential_not_found: "), r.stderr
    twin = sdk.create_credential("cli-owner")
    r = cli("store", "update", "cli-own-key", "--credential", "cli-owner", code=1)
    assert r.stderr == (f"error: ambiguous_name: 2 credentials are named cli-owner "
                        f"({owner.id}, {twin.id}); give the ID\n")
    assert sorted(s.name for s in sdk.iter_stores()) == ["cli-own-id", "cli-own-key",
                                                         "cli-own-name"]


def test_version_is_the_installed_package_version():
    from importlib.metadata import version

    result = CliRunner().invoke(main, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == f"objectstore, version {version('objectstore')}\n"
