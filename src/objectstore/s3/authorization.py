"""The S3 pipeline's authorization: the store a request names, the steps its operation's
rule declares (``routing.Step``: a POST form, the ACL it sets, DeleteObjects' keys, the
governance bypass, a copy source) around the one ``decide`` call, in a fixed order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import unquote

from starlette.types import Message, Scope

from ..domain.errors import AccessDenied
from ..domain.models import Credential, ObjectStore
from ..domain.names import validate_object_key
from ..domain.operations import Op
from ..services.access import (
    Access,
    AclIntent,
    RequestContext,
    authorize,
    authorize_each,
    check_acl,
)
from ..services.access.acl import CANNED
from ..services.access.authorize import NO_DOCUMENTS
from ..services.access.principals import canonical_id
from ..services.registry import Services
from . import post as form_post
from . import xml
from .access import condition_keys, decide
from .context import CopySource, S3Context
from .errors import S3Error, no_such_bucket
from .handlers.acl import acl_from_headers
from .handlers.post import PostContext
from .routing import Step

MAX_DELETE_BODY = 2 * 1024 * 1024


async def authorize_request(services: Services, ctx: S3Context, bucket: str | None,
                            scope: Scope) -> None:
    """The one authorization decision of a request, with the steps its operation's rule
    declares (``routing.Step``) before and after it, in the pipeline's order."""
    rule = ctx.rule
    if bucket is None or Step.NO_STORE in rule.steps:
        authorize(ctx.credential, rule.access, None)
        return
    store = await resolve_store(services, ctx, bucket)
    check_expected_owner(ctx.headers.get("x-amz-expected-bucket-owner"), store)
    auth = Authorization(ctx, scope, store, ctx.credential)
    for step in rule.before:
        await STEPS[step](services, auth)
    request = RequestContext(rule.op, ctx.key, ctx.version_id)
    auth.bucket, obj = await decide(services, auth.principal, rule.access, store,
                                    request, auth.keys)
    ctx.store, ctx.version = store, obj
    for step in rule.after:
        await STEPS[step](services, auth)

async def form_step(services: Services, auth: Authorization) -> None:
    """Step.FORM: a POST form's fields and signer; the caller is the form's signer and
    the fields count as headers for the condition keys."""
    ctx = auth.ctx
    assert isinstance(ctx, PostContext)
    await read_form(services, ctx, auth.store)
    auth.principal = ctx.credential
    auth.fields = ctx.form.fields if ctx.form else None
    auth.acl = auth.fields.get("acl") if auth.fields else None
    auth.auth_type = "POST"

async def acl_step(services: Services, auth: Authorization) -> None:
    """Step.ACL: an ACL the request sets (headers, or a form's ``acl`` field) is refused
    where ownership controls disable ACLs or the public access block public ones."""
    if auth.fields is None:
        intent = acl_from_headers(auth.ctx)
    else:
        intent = AclIntent(auth.acl) if auth.acl is not None else None
    if intent is not None:
        check_acl(auth.bucket, intent, auth.store.credential_id)

async def delete_keys_step(services: Services, auth: Authorization) -> None:
    """Step.DELETE_KEYS: under a policy, each key of a DeleteObjects body is decided as a
    DeleteObject of its own; they are the request's targets (none without a policy)."""
    keys: list[tuple[str, str | None]] = []
    if auth.bucket.policy is not None:
        keys = await read_delete_keys(auth.ctx)
        authorize_each(auth.principal, auth.store, auth.bucket, Op.DeleteObject, keys,
                       lambda: condition_keys(auth.ctx, auth.scope))
    auth.targets = list(keys)

async def bypass_step(services: Services, auth: Authorization) -> None:
    """Step.BYPASS: ``x-amz-bypass-governance-retention: true`` is a permission of its own
    (a policy may deny it), decided for every target of the request."""
    ctx = auth.ctx
    if ctx.headers.get("x-amz-bypass-governance-retention", "").strip().lower() != "true":
        return
    targets = auth.targets if auth.targets is not None else [(ctx.key, ctx.version_id)]
    try:
        for key, version in targets:
            await decide(services, auth.principal, Access.WRITE, auth.store,
                         RequestContext(Op.BypassGovernanceRetention, key, version),
                         auth.keys)
        ctx.may_bypass_governance = True
    except AccessDenied:
        ctx.may_bypass_governance = False

async def copy_source_step(services: Services, auth: Authorization) -> None:
    """Step.COPY_SOURCE: ``x-amz-copy-source`` resolved, and authorized as a GetObject."""
    ctx = auth.ctx
    src_bucket, src_key, src_version = parse_copy_source(
        ctx.headers.get("x-amz-copy-source", ""))
    src_store = await resolve_store(services, ctx, src_bucket)
    check_expected_owner(ctx.headers.get("x-amz-source-expected-bucket-owner"), src_store)
    await decide(services, auth.principal, Access.READ, src_store, RequestContext(
        Op.GetObject, src_key, src_version,
        {"s3:versionid": src_version} if src_version else {}), auth.keys)
    ctx.copy_source = CopySource(src_store, src_key, src_version)

async def read_form(services: Services, ctx: PostContext, store: ObjectStore) -> None:
    """POST object: the form's fields, its signer, its policy's conditions and key."""
    form = await form_post.read_form(ctx)
    ctx.credential = await form_post.authenticate(services, form)
    key = form.fields.get("key")
    if key is None:
        raise S3Error("InvalidArgument", "Bucket POST must contain a field named 'key'.  "
                      "If it is specified, please check the order of the fields.", 400,
                      {"ArgumentName": "key", "ArgumentValue": ""})
    key = key.replace("${filename}", form.filename)
    validate_object_key(key)
    form_post.check_policy(form, store.name, key, datetime.now(UTC))
    acl = form.fields.get("acl")
    if acl is not None and acl.strip() not in CANNED:
        raise S3Error("InvalidArgument", f"Invalid canned ACL {acl[:64]}", 400)
    ctx.form, ctx.key = form, key

async def read_delete_keys(ctx: S3Context) -> list[tuple[str, str | None]]:
    """The keys of a DeleteObjects body, read here (for the per-key decision) and
    replayed to the handler, which verifies and parses it again."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await ctx.receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if size > MAX_DELETE_BODY:
            raise S3Error("MaxMessageLengthExceeded", "Your request was too big.", 400)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    replay = iter(messages)
    original = ctx.receive

    async def receive() -> Message:
        return next(replay, None) or await original()

    ctx.receive = receive
    data = b"".join(m.get("body", b"") for m in messages)
    try:
        root = xml.parse(data)
    except S3Error:
        return []  # the handler refuses the body
    return [(o.findtext("Key") or "", o.findtext("VersionId"))
            for o in root.findall("Object")]

async def resolve_store(services: Services, ctx: S3Context, bucket: str) -> ObjectStore:
    """The store a bucket name means to this caller (the caller's own, where names repeat
    across regions; else the default region's)."""
    stores = await services.stores.resolve_bucket_async(bucket)
    if not stores:  # anonymous callers too (AWS: bucket names are public knowledge)
        raise no_such_bucket(bucket)
    cred = ctx.credential
    if cred is not None:
        mine = [s for s in stores if s.credential_id == cred.id]
        if mine:
            return mine[0]
    default = services.regions.default.code
    return next((s for s in stores if s.region == default), stores[0])


class Authorization:
    """One request's authorization as the pipeline's steps build it."""

    __slots__ = ("acl", "auth_type", "bucket", "ctx", "fields", "keys", "principal", "scope",
                 "store", "targets")

    def __init__(self, ctx: S3Context, scope: Scope, store: ObjectStore,
                 principal: Credential | None) -> None:
        self.ctx, self.scope, self.store, self.principal = ctx, scope, store, principal
        self.bucket = NO_DOCUMENTS  # the store's access documents, once decided
        self.fields: dict[str, str] | None = None  # a POST form's fields
        self.acl: str | None = None                # its canned ACL field
        self.auth_type: str | None = None
        # the (key, version) pairs a request on several keys acts on (None: its own key)
        self.targets: list[tuple[str | None, str | None]] | None = None
        # the condition keys, computed once, only if the store has a policy to read them
        self.keys = Once(lambda: condition_keys(ctx, scope, acl=self.acl,
                                                 auth_type=self.auth_type, fields=self.fields))




class Once:
    """``fn()``, computed at the first call only (``functools.cache`` builds a wrapper with
    copied attributes: several µs for each request)."""

    __slots__ = ("_fn", "_value")

    def __init__(self, fn: Callable[[], dict[str, str]]) -> None:
        self._fn: Callable[[], dict[str, str]] | None = fn
        self._value: dict[str, str] = {}

    def __call__(self) -> dict[str, str]:
        fn = self._fn
        if fn is not None:
            self._value, self._fn = fn(), None
        return self._value


def check_expected_owner(expected: str | None, store: ObjectStore) -> None:
    """``x-amz-expected-bucket-owner`` (or ``-source-`` for a copy source): a store owned by
    someone else is refused with 403 AccessDenied, as AWS does. The owner is named by the
    ID ListBuckets reports as ``Owner`` (its canonical ID) or by its account id."""
    if expected is None:
        return
    expected = expected.strip()
    if expected not in (canonical_id(store.credential_id), store.account_id):
        raise S3Error("AccessDenied", "Access Denied", 403)


def parse_copy_source(raw: str) -> tuple[str, str, str | None]:
    """(bucket, key, versionId) of an ``x-amz-copy-source`` header, with the key checked by
    the same rules as request keys."""
    path, _, query = raw.partition("?")
    version: str | None = None
    if query:
        name, _, value = query.partition("=")
        if name != "versionId" or not value:
            raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and "
                          "key: sourcebucket/sourcekey[?versionId=id]", 400)
        version = unquote(value)
    try:
        decoded = unquote(path, errors="strict").lstrip("/")
    except UnicodeDecodeError as exc:
        raise S3Error("InvalidArgument", "Copy Source is not valid UTF-8", 400) from exc
    bucket, _, key = decoded.partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and "
                      "key: sourcebucket/sourcekey", 400)
    validate_object_key(key)
    return bucket, key, version


STEPS: dict[Step, Callable[[Services, Authorization], Awaitable[None]]] = {
    Step.FORM: form_step,
    Step.ACL: acl_step,
    Step.DELETE_KEYS: delete_keys_step,
    Step.BYPASS: bypass_step,
    Step.COPY_SOURCE: copy_source_step,
}
