"""Client commands (`store`, `credential`, `regions`, `quota`) over the management API SDK."""

from __future__ import annotations

import functools
import json
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol
from urllib.parse import urlsplit

import click

from ..client import (
    ApiError,
    Credential,
    ObjectStore,
    ObjectStoreClient,
    ObjectStoreError,
    Quota,
    Region,
    StoreStats,
)

DEFAULT_API_URL = "http://127.0.0.1:8000"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}$")


@dataclass
class Env:
    client: ObjectStoreClient
    output: str

    @property
    def json(self) -> bool:
        return self.output == "json"


def fail(code: str, reason: str) -> NoReturn:
    click.echo(f"error: {code}: {reason}", err=True)
    raise click.exceptions.Exit(1)


def with_client(*, output: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the connection options; call the command with an ``Env`` first; map SDK errors."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(api_url: str, api_key: str | None, region: str | None,
                output: str = "table", **kwargs: Any) -> None:
            if not api_key:
                fail("missing_api_key", "pass --api-key or set OBJECTSTORE_API_KEY")
            try:
                with ObjectStoreClient(api_url, api_key, region=region) as client:
                    fn(Env(client, output), **kwargs)
            except ObjectStoreError as exc:
                fail(exc.code, exc.reason)
            except ValueError as exc:
                fail("invalid_argument", str(exc))

        opts = [
            click.option("--api-url", envvar="OBJECTSTORE_API_URL", default=DEFAULT_API_URL,
                         show_default=True, help="Management API URL [env OBJECTSTORE_API_URL]"),
            click.option("--api-key", envvar="OBJECTSTORE_API_KEY", default=None,
                         help="API key [env OBJECTSTORE_API_KEY]"),
            click.option("--region", envvar="OBJECTSTORE_REGION", default=None,
                         help="Region code; the server's default if unset "
                              "[env OBJECTSTORE_REGION]"),
        ]
        if output:
            opts.append(click.option("--output", "-o", type=click.Choice(["table", "json"]),
                                     default="table", show_default=True, help="Output format"))
        for opt in reversed(opts):
            run = opt(run)
        return run

    return decorate


# -- names where IDs go ---------------------------------------------------------------------------
class _Named(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


def _resolve(kind: str, ref: str, get: Callable[[str], object],
             items: Callable[[], Iterable[_Named]]) -> str:
    """The ID of the store or credential that ``ref`` names: an existing ID as is, else the
    one item called ``ref`` (several: an error listing their IDs). Nothing by that name: ``ref``
    as is, so the API answers with its own not-found error."""
    if UUID_RE.match(ref):
        try:
            get(ref)
            return ref
        except ApiError as exc:
            if exc.status != 404:
                raise
    ids = [item.id for item in items() if item.name == ref]
    if len(ids) > 1:
        fail("ambiguous_name", f"{len(ids)} {kind}s are named {ref} ({', '.join(ids)}); "
                               "give the ID")
    return ids[0] if ids else ref


def store_id(client: ObjectStoreClient, ref: str) -> str:
    return _resolve("object store", ref, client.get_store, lambda: client.iter_stores())


def credential_id(client: ObjectStoreClient, ref: str) -> str:
    return _resolve("credential", ref, client.get_credential,
                    lambda: client.iter_credentials())


def owner_access_key(client: ObjectStoreClient, ref: str | None) -> str | None:
    """The access key the API takes for a store's owner, from ``ref``: a credential's access
    key (as is), ID or name, in that order (several of that name: an error listing their
    IDs). Nothing matches: ``ref`` as is, so the API answers with its own error."""
    if ref is None:
        return None
    creds = list(client.iter_credentials())
    if any(c.access_key_id == ref for c in creds):
        return ref
    by_id = [c for c in creds if c.id == ref]
    named = by_id or [c for c in creds if c.name == ref]
    if len(named) > 1:
        fail("ambiguous_name", f"{len(named)} credentials are named {ref} "
                               f"({', '.join(c.id for c in named)}); give the ID")
    return named[0].access_key_id if named else ref


# -- rendering ------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def echo_fields(fields: Sequence[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        click.echo(f"{key.ljust(width)} : {_cell(value)}")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def show_store(env: Env, s: ObjectStore) -> None:
    if env.json:
        echo_json(s.to_dict())
        return
    echo_fields([
        ("ID", s.id), ("Name", s.name), ("Region", s.region), ("Size (GB)", s.max_size_gb),
        ("Owner", s.owner_info.name), ("Owner credential", s.owner_info.credential_id),
        ("Access key", s.owner_info.access_key_id), ("Endpoint", s.objectstore_endpoint),
        ("Status", s.status), ("Created", s.created_at),
    ])


def show_credential(env: Env, c: Credential) -> None:
    if env.json:
        echo_json(c.to_dict())
        return
    echo_fields([
        ("ID", c.id), ("Name", c.name), ("Region", c.region), ("Access key", c.access_key_id),
        ("Secret key", c.secret_access_key_id), ("Max size (GB)", c.max_size_gb or "unlimited"),
        ("Suspended", c.suspended), ("Status", c.status), ("Created", c.created_at),
    ])


def show_deleted(env: Env, kind: str, id: str) -> None:
    if env.json:
        echo_json({"result": "success", "id": id})
    else:
        click.echo(f"deleted {kind} {id}")


# -- object stores --------------------------------------------------------------------------------
@click.group("store")
def store() -> None:
    """Manage object stores (S3 buckets) through the management API."""


@store.command("list")
@with_client()
def store_list(env: Env) -> None:
    """List all object stores in the region."""
    stores = list(env.client.iter_stores())
    if env.json:
        echo_json([s.to_dict() for s in stores])
        return
    echo_table(["ID", "NAME", "SIZE_GB", "OWNER", "ACCESS_KEY", "ENDPOINT", "STATUS"],
               [[s.id, s.name, s.max_size_gb, s.owner_info.name, s.owner_info.access_key_id,
                 s.objectstore_endpoint, s.status] for s in stores])


@store.command("create")
@with_client()
@click.argument("name")
@click.option("--size", type=click.IntRange(min=1), default=None,
              help="Size in GB [server default, 500]")
@click.option("--access-key-id", "--credential", "access_key_id", default=None,
              metavar="KEY|NAME|ID",
              help="Owner credential: its access key, name or ID (default: a new "
                   "credential for the store)")
def store_create(env: Env, name: str, size: int | None, access_key_id: str | None) -> None:
    """Create an object store NAME."""
    owner = owner_access_key(env.client, access_key_id)
    show_store(env, env.client.create_store(name, max_size_gb=size, access_key_id=owner))


@store.command("show")
@with_client()
@click.argument("id", metavar="NAME|ID")
def store_show(env: Env, id: str) -> None:
    """Show one object store (by name or ID)."""
    show_store(env, env.client.get_store(store_id(env.client, id)))


@store.command("update")
@with_client()
@click.argument("id", metavar="NAME|ID")
@click.option("--size", type=click.IntRange(min=1), default=None, help="New size in GB")
@click.option("--access-key-id", "--credential", "access_key_id", default=None,
              metavar="KEY|NAME|ID",
              help="Move the store to this credential (its access key, name or ID)")
def store_update(env: Env, id: str, size: int | None, access_key_id: str | None) -> None:
    """Resize an object store (by name or ID) or change its owner credential."""
    if size is None and access_key_id is None:
        fail("nothing_to_update", "give --size and/or --access-key-id")
    target = store_id(env.client, id)
    show_store(env, env.client.update_store(
        target, max_size_gb=size, access_key_id=owner_access_key(env.client, access_key_id)))


@store.command("delete")
@with_client()
@click.argument("id", metavar="NAME|ID")
def store_delete(env: Env, id: str) -> None:
    """Delete an object store (by name or ID) and all its objects (no confirmation)."""
    id = store_id(env.client, id)
    env.client.delete_store(id)
    show_deleted(env, "object store", id)


@store.command("stats")
@with_client()
@click.argument("id", metavar="NAME|ID")
def store_stats(env: Env, id: str) -> None:
    """Show an object store's usage (decimal kilobytes; by name or ID)."""
    st: StoreStats = env.client.store_stats(store_id(env.client, id))
    if env.json:
        echo_json(st.to_dict())
        return
    echo_fields([("Objects", st.num_objects), ("Used (KB)", st.size_kb_utilised),
                 ("Max size (KB)", st.max_size_kb)])


# -- credentials ----------------------------------------------------------------------------------
@click.group("credential")
def credential() -> None:
    """Manage object store credentials (S3 access keys)."""


@credential.command("list")
@with_client()
def credential_list(env: Env) -> None:
    """List all credentials in the region."""
    creds = list(env.client.iter_credentials())
    if env.json:
        echo_json([c.to_dict() for c in creds])
        return
    echo_table(["ID", "NAME", "ACCESS_KEY", "MAX_SIZE_GB", "SUSPENDED", "STATUS"],
               [[c.id, c.name, c.access_key_id, c.max_size_gb or "unlimited", c.suspended,
                 c.status] for c in creds])


@credential.command("create")
@with_client()
@click.argument("name")
@click.option("--access-key-id", default=None, help="Access key (default: generated)")
@click.option("--secret-access-key", default=None, help="Secret key (default: generated)")
@click.option("--size", type=click.IntRange(min=1), default=None,
              help="Cap in GB on the stores this credential owns")
def credential_create(env: Env, name: str, access_key_id: str | None,
                      secret_access_key: str | None, size: int | None) -> None:
    """Create a credential NAME."""
    show_credential(env, env.client.create_credential(
        name, access_key_id=access_key_id, secret_access_key=secret_access_key,
        max_size_gb=size))


@credential.command("show")
@with_client()
@click.argument("id", metavar="NAME|ID")
def credential_show(env: Env, id: str) -> None:
    """Show one credential (by name or ID), with its secret key."""
    show_credential(env, env.client.get_credential(credential_id(env.client, id)))


@credential.command("update")
@with_client()
@click.argument("id", metavar="NAME|ID")
@click.option("--name", default=None, help="New name")
@click.option("--access-key-id", default=None, help="New access key")
@click.option("--secret-access-key", default=None, help="New secret key")
@click.option("--size", type=click.IntRange(min=0), default=None, help="Cap in GB (0: no cap)")
@click.option("--suspend/--unsuspend", "suspended", default=None,
              help="Suspend (or reactivate) the credential")
def credential_update(env: Env, id: str, name: str | None, access_key_id: str | None,
                      secret_access_key: str | None, size: int | None,
                      suspended: bool | None) -> None:
    """Rename, re-key, cap, suspend or unsuspend a credential (by name or ID)."""
    if all(v is None for v in (name, access_key_id, secret_access_key, size, suspended)):
        fail("nothing_to_update", "give at least one option to change")
    show_credential(env, env.client.update_credential(
        credential_id(env.client, id), name=name, access_key_id=access_key_id,
        secret_access_key=secret_access_key, max_size_gb=size, suspended=suspended))


@credential.command("delete")
@with_client()
@click.argument("id", metavar="NAME|ID")
def credential_delete(env: Env, id: str) -> None:
    """Delete a credential (by name or ID; it must own no object store)."""
    id = credential_id(env.client, id)
    env.client.delete_credential(id)
    show_deleted(env, "credential", id)


def endpoint_base(url: str, store_name: str | None = None) -> str:
    """``scheme://host[:port]`` of an S3 URL (path-style or virtual-hosted)."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = parts.netloc
    if store_name and parts.path.strip("/") == "" and host.startswith(f"{store_name}."):
        host = host[len(store_name) + 1:]
    if not host:
        raise ValueError(f"not an endpoint URL: {url!r}")
    return f"{parts.scheme}://{host}"


def _credential_endpoint(client: ObjectStoreClient, cred: Credential) -> str:
    for s in client.iter_stores():
        owner = s.owner_info
        if owner.credential_id == cred.id or (not owner.credential_id
                                              and owner.access_key_id == cred.access_key_id):
            return endpoint_base(s.objectstore_endpoint, s.name)
    fail("endpoint_unknown",
         f"credential {cred.name} owns no object store here; pass --endpoint URL")


def _export_region(client: ObjectStoreClient, cred: Credential) -> str:
    if cred.region:
        return cred.region
    if client.region:
        return client.region.upper()
    default = next((r for r in client.regions() if r.default), None)
    return default.code if default else "us-east-1"


@credential.command("export")
@with_client(output=False)
@click.argument("id", metavar="NAME|ID")
@click.option("--format", "fmt", type=click.Choice(["env", "s3cfg"]), default="env",
              show_default=True, help="Shell exports, or an s3cmd config file")
@click.option("--endpoint", default=None,
              help="S3 endpoint URL (default: from a store the credential owns; "
                   "https is assumed without a scheme)")
def credential_export(env: Env, id: str, fmt: str, endpoint: str | None) -> None:
    """Print a credential's keys (by name or ID) for AWS tools (env) or s3cmd (s3cfg)."""
    client = env.client
    cred = client.get_credential(credential_id(client, id))
    base = endpoint_base(endpoint) if endpoint else _credential_endpoint(client, cred)
    region = _export_region(client, cred)
    if fmt == "env":
        values = [("AWS_ACCESS_KEY_ID", cred.access_key_id),
                  ("AWS_SECRET_ACCESS_KEY", cred.secret_access_key_id),
                  ("AWS_DEFAULT_REGION", region), ("AWS_ENDPOINT_URL", base),
                  ("AWS_HOST", base)]
        for key, value in values:
            click.echo(f"export {key}={shlex.quote(value)}")
        return
    parts = urlsplit(base)
    click.echo("\n".join([
        "[default]",
        f"access_key = {cred.access_key_id}",
        f"secret_key = {cred.secret_access_key_id}",
        f"bucket_location = {region}",
        f"host_base = {parts.netloc}",
        f"host_bucket = {parts.netloc}",
        f"use_https = {parts.scheme == 'https'}",
        "signature_v2 = True",
    ]))


# -- account --------------------------------------------------------------------------------------
@click.command("regions")
@with_client()
def regions(env: Env) -> None:
    """List the regions and whether they offer object stores."""
    items: list[Region] = env.client.regions()
    if env.json:
        echo_json([r.to_dict() for r in items])
        return
    echo_table(["CODE", "NAME", "COUNTRY", "DEFAULT", "OBJECT_STORE"],
               [[r.code, r.name, r.country_name or r.country, r.default, r.object_store]
                for r in items])


@click.command("quota")
@with_client()
def quota(env: Env) -> None:
    """Show the account's object store quota and usage."""
    q: Quota = env.client.quota()
    if env.json:
        echo_json(q.to_dict())
        return
    echo_fields([("Limit (GB)", q.objectstore_gb_limit), ("Allocated (GB)", q.objectstore_gb_usage),
                 ("Object stores", q.objectstore_count_usage)])


def register(main: click.Group) -> None:
    for cmd in (store, credential, regions, quota):
        main.add_command(cmd)
