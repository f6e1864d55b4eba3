"""Static website serving, what it costs: small-file GETs per second from the website
listener (``--web-port``, Host ``site.<domain>``, anonymous, index/policy decided per request)
next to S3 presigned GETs of the same objects (SigV4 checked per request), on one server in
one run (alternating, so both see the same machine state). wrk, 64 connections.

Run by hand: ``.venv/bin/python -m bench.website [--seconds 10] [--reps 3] [--objects 200]
[--size 4096] [--workers N]``."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import boto3

from .servers import HOST, ThisServer, free_port
from .workloads import _cpu_per_request, _targets_file, _wrk

DOMAIN = "bench.test"
BUCKET = "site"


class WebServer(ThisServer):
    """This server with its website listener on."""

    def __init__(self, workdir: Path, workers: int | None) -> None:
        super().__init__(workdir)
        self.web_port = 0
        self.worker_flag = workers

    def _serve_flags(self) -> list[str]:
        self.web_port = free_port()
        return [*super()._serve_flags(), "--web-port", str(self.web_port),
                "--web-domain", DOMAIN]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.website", description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--objects", type=int, default=200)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--tmp", type=Path, default=None)
    args = ap.parse_args(argv)
    results: dict[str, list[dict[str, Any]]] = {"website": [], "s3 presigned": []}
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        server = WebServer(Path(tmp), args.workers)
        server.start()
        try:
            server.make_bucket(BUCKET)
            ak, sk = server.creds(BUCKET)
            s3 = boto3.client("s3", endpoint_url=f"http://{HOST}:{server.port}",
                              aws_access_key_id=ak, aws_secret_access_key=sk,
                              region_name="LON1")
            s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
            s3.put_bucket_website(Bucket=BUCKET, WebsiteConfiguration={
                "IndexDocument": {"Suffix": "index.html"}})
            body = b"<p>" + b"x" * max(0, args.size - 7) + b"</p>"
            keys = [f"pages/{i}.html" for i in range(args.objects)]
            for key in keys:
                s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="text/html",
                              CacheControl="max-age=60")
            wdir = Path(tmp) / "wrk"
            web_file = _targets_file(wdir / "web.txt", [f"/{k}" for k in keys])
            presigner = server.presigner(BUCKET)
            s3_file = _targets_file(wdir / "s3.txt", [
                presigner.target("GET", f"/{BUCKET}/{k}") for k in keys])
            web_url = f"http://{HOST}:{server.web_port}"
            s3_url = f"http://{HOST}:{server.port}"
            runs = {
                "website": lambda: _wrk(web_url, web_file, "GET", 0, args.seconds,
                                        args.conns, 1, {"Host": f"{BUCKET}.{DOMAIN}"}),
                "s3 presigned": lambda: _wrk(s3_url, s3_file, "GET", 0, args.seconds,
                                             args.conns, 1),
            }
            for name in runs:  # warm both (caches, connections)
                _wrk(web_url if name == "website" else s3_url,
                     web_file if name == "website" else s3_file, "GET", 0, 1, args.conns, 1,
                     {"Host": f"{BUCKET}.{DOMAIN}"} if name == "website" else None)
            for _ in range(args.reps):
                for name, run in runs.items():
                    results[name].append(_cpu_per_request(server, run))
            workers = server.workers()
        finally:
            server.stop()
    print(f"{args.objects} objects of {args.size} bytes, {args.conns} connections, "
          f"{args.seconds:.0f} s per run, median of {args.reps}, server workers: {workers}")
    summary = {}
    for name, runs_ in results.items():
        ops = statistics.median(r["ops"] for r in runs_)
        p99 = statistics.median(r["p99"] for r in runs_) / 1000
        cpu = statistics.median(r["cpu_ms_per_request"] or 0 for r in runs_)
        errors = max(r["error_fraction"] for r in runs_)
        summary[name] = ops
        print(f"  {name:13} {ops:8.0f} GET/s   p99 {p99:6.1f} ms   server CPU "
              f"{cpu:.3f} ms/request   errors {100 * errors:.2f}%")
    print(f"  website / S3 presigned = {summary['website'] / summary['s3 presigned']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
