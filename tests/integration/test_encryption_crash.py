"""The crash loop with encryption on: SIGKILL mid-load loses no acknowledged write, every
object read back decrypts to its bytes and says it is encrypted, no blob leaks. Plus the
`objectstore keys` and `fsck` commands on the killed server's data dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.crash import Harness, run


def test_acknowledged_writes_survive_sigkill_with_encryption(tmp_path: Path) -> None:
    report = run(iterations=3, work=tmp_path, seed=13, min_s=0.5, max_s=1.5, encrypted=True)
    assert report.failures == []
    assert report.kills == 3
    assert report.acked_writes > 20
    assert report.objects_checked > 0
    cli = [sys.executable, "-m", "objectstore.cli.main"]
    data = ["--data-dir", str(tmp_path / "data")]
    fsck = subprocess.run([*cli, "fsck", "--quiet", *data], capture_output=True, text=True,
                          check=False)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    rotated = subprocess.run([*cli, "keys", "rotate", *data], capture_output=True, text=True,
                             check=True)
    assert "active master key" in rotated.stdout
    rewrap = subprocess.run([*cli, "keys", "rewrap", *data], capture_output=True, text=True,
                            check=True)
    assert "object version(s)" in rewrap.stdout and not rewrap.stdout.startswith("rewrap: 0 ")
    again = subprocess.run([*cli, "fsck", "--quiet", *data], capture_output=True, text=True,
                           check=False)
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_encrypted_checker_can_fail(tmp_path: Path) -> None:
    h = Harness(tmp_path, seed=3, encrypted=True)
    h.setup()
    try:
        s3 = h.client()
        s3.delete_bucket_encryption(Bucket="crash-bucket")
        s3.put_object(Bucket="crash-bucket", Key="k/000", Body=b"x", Metadata={"v": "0"})
        h.check()
        assert any("stored without encryption" in f for f in h.report.failures)
    finally:
        h.server.kill()
