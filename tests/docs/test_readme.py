"""The README stays true (issue 23): every ```sh and ```python block runs, in order, against a
fresh server, with the README's endpoints and placeholders replaced by that server's.

A block that is not meant to run has `<!-- not-tested: reason -->` on the line before it; keep
that list short. Shell blocks run in bash with `set -e -o pipefail` and `curl` failing on an
HTTP error; variables a block assigns carry over to the next blocks (as in one terminal).
Python blocks see the shell's variables (`KEY`) and `AK`/`SK`, the S3 keys of `bucket-a`.
The rclone config block (```ini with `type = s3`) is written to the rclone config file the
shell blocks use. Placeholders (`<ID>`, `<VersionId>`...) are resolved just before the block
that uses them, from what the server holds then."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from objectstore.client import ObjectStoreClient
from tests.support.pg import free_port
from tests.support.proc import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NOT_TESTED = re.compile(r"<!--\s*not-tested:\s*(.+?)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")
PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z_ ]*)>")
WEB = "OBJECTSTORE_WEB_PORT"


@dataclass
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    skip: str | None  # the not-tested reason, if any


def blocks(text: str) -> list[Block]:
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = i + 1
        while not lines[j].startswith("```"):
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        note = NOTE.group(1) if (NOTE := NOT_TESTED.search(prev)) else None
        out.append(Block(m.group(1), "\n".join(lines[start + 1:j]), start + 1, note))
        i = j + 1
    return out


def test_the_extractor_sees_every_block_and_the_not_tested_ones() -> None:
    found = blocks("a\n<!-- not-tested: starts a server -->\n```sh\nmake run\n```\n\n"
                   "```python\nx = 1\n```\n```\nplain\n```\n")
    assert [(b.lang, b.code, b.line, b.skip) for b in found] == [
        ("sh", "make run", 3, "starts a server"), ("python", "x = 1", 7, None),
        ("", "plain", 10, None)]


def test_the_not_tested_list_stays_short() -> None:
    skipped = [b for b in blocks(README.read_text()) if b.skip and b.lang in ("sh", "python")]
    assert len(skipped) <= 5, [(b.line, b.skip) for b in skipped]


class Readme:
    """A fresh server and the state the README's reader would have."""

    def __init__(self, server: ServerProcess, work: Path) -> None:
        self.server = server
        self.work = work
        self.rclone_conf = work / "rclone.conf"
        self.state_file = work / ".state"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("OBJECTSTORE_", "AWS_", "RCLONE_"))}
        self.env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            # the CLI's default API URL is the README's http://127.0.0.1:8000: this server's
            OBJECTSTORE_API_URL=server.api_url,
            AWS_CONFIG_FILE=str(work / "aws-config"), AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            AWS_MAX_ATTEMPTS="1", RCLONE_CONFIG=str(self.rclone_conf), HOME=str(work))
        self.sdk = ObjectStoreClient(server.api_url, server.api_key, region="LON1")

    # -- placeholders ---------------------------------------------------------------------
    def _store(self, name: str) -> object:
        return next(s for s in self.sdk.iter_stores() if s.name == name)

    def _bucket_a_keys(self) -> tuple[str, str]:
        store = self._store("bucket-a")
        cred = self.sdk.get_credential(store.owner_info.credential_id)  # type: ignore[attr-defined]
        return cred.access_key_id, cred.secret_access_key

    def _old_version(self) -> str:
        ak, sk = self._bucket_a_keys()
        s3 = boto3.client("s3", endpoint_url=self.server.s3_url, aws_access_key_id=ak,
                          aws_secret_access_key=sk, region_name="LON1",
                          config=Config(retries={"total_max_attempts": 1}))
        versions = s3.list_object_versions(Bucket="bucket-a", Prefix="notes.txt")["Versions"]
        return str(next(v["VersionId"] for v in versions if not v["IsLatest"]))

    def placeholders(self) -> dict[str, Callable[[], str]]:
        return {
            "the key make run printed": lambda: self.server.api_key,
            "ID": lambda: self._store("bucket-a").id,  # type: ignore[attr-defined]
            "CREDENTIAL_ID": lambda: self._store(  # type: ignore[attr-defined]
                "bucket-a").owner_info.credential_id,
            "access_key_id": lambda: self._bucket_a_keys()[0],
            "secret_access_key_id": lambda: self._bucket_a_keys()[1],
            "VersionId": self._old_version,
        }

    def substitute(self, code: str) -> str:
        known = self.placeholders()
        for name in dict.fromkeys(PLACEHOLDER.findall(code)):
            assert name in known, f"README placeholder <{name}> has no value in this test"
            code = code.replace(f"<{name}>", known[name]())
        s3_host = self.server.s3_url.removeprefix("http://")
        return (code.replace("http://127.0.0.1:8000", self.server.api_url)
                .replace("http://127.0.0.1:9000", self.server.s3_url)
                .replace("127.0.0.1:9000", s3_host)
                .replace("localhost:9001", f"localhost:{self.server.extra_env.get(WEB, '')}"))

    # -- running ----------------------------------------------------------------------------
    def run(self, block: Block) -> None:
        code = self.substitute(block.code)
        if block.lang == "ini":
            if re.search(r"^type = s3$", code, re.M):
                self.rclone_conf.write_text(code + "\n")
            return
        if block.lang == "sh":
            script = ("set -a -e -o pipefail\n"
                      "curl() { command curl --fail-with-body \"$@\"; }\n"
                      f"{code}\nenv -0 > {self.state_file}\n")
            cmd = ["bash", "-c", script]
        else:
            ak, sk = self._bucket_a_keys() if "AK" in code else ("", "")
            prelude = f"import os\nKEY = os.environ.get('KEY', '')\nAK = {ak!r}\nSK = {sk!r}\n"
            cmd = [sys.executable, "-c", prelude + code]
        done = subprocess.run(cmd, cwd=self.work, env=self.env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, (
            f"README.md line {block.line} ({block.lang}) failed ({done.returncode}):\n{code}\n"
            f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
        if block.lang == "sh":
            self.env = dict(item.split("=", 1) for item in
                            self.state_file.read_text().split("\0") if "=" in item)


@pytest.fixture
def readme(tmp_path: Path) -> Iterator[Readme]:
    work = tmp_path / "work"
    work.mkdir()
    (work / "big.iso").write_bytes(os.urandom(3 * 1024 * 1024))  # the reader's own file
    # ./data: where admin commands look by default; websites as `make run` serves them
    server = ServerProcess(work / "data", extra_env={WEB: str(free_port()),
                                                     "OBJECTSTORE_WEB_DOMAIN": "localhost"})
    server.start()
    try:
        r = Readme(server, work)
        yield r
        r.sdk.close()
    finally:
        server.stop()


def test_every_readme_example_runs_in_order_against_a_fresh_server(readme: Readme) -> None:
    ran = []
    for block in blocks(README.read_text()):
        if block.skip or block.lang not in ("sh", "python", "ini"):
            continue
        readme.run(block)
        ran.append(block.line)
    assert len(ran) >= 10
