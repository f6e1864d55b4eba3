"""``python -m bench.profsummary FILE [--top N] [--grep TEXT]``: where the samples went.

Reads py-spy's ``--format raw`` output (collapsed stacks: ``frame;frame;... COUNT`` per
line) and prints, as % of all samples, the frames with the most *own* time (the leaf of
the stack) and the most *inclusive* time (anywhere on the stack, counted once per
stack). Frames are shown as py-spy names them: ``function (file:line)``; ``--by-function``
drops the line number so one function's lines add up. ``--grep`` keeps only stacks
containing TEXT (e.g. ``S3App`` for the requests, without the idle event loop).
See bench/README.md, "Where a small GET's time goes".
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

_LINE = re.compile(r":\d+\)$")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profsummary", description=__doc__)
    ap.add_argument("file")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--grep", default="", help="only stacks containing this text")
    ap.add_argument("--by-function", action="store_true", help="merge a function's lines")
    args = ap.parse_args(argv)
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    with open(args.file) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit() or (args.grep and args.grep not in stack):
                continue
            n = int(count)
            frames = stack.split(";")
            if args.by_function:
                frames = [_LINE.sub(")", fr) for fr in frames]
            total += n
            own[frames[-1]] += n
            for fr in set(frames):
                incl[fr] += n
    if not total:
        print("no samples" + (f" containing {args.grep!r}" if args.grep else ""))
        return 1
    print(f"{total} samples" + (f" containing {args.grep!r}" if args.grep else ""))
    for title, c in (("own time (leaf frame)", own), ("inclusive time", incl)):
        print(f"\n{title}:")
        for fr, n in c.most_common(args.top):
            print(f"  {100 * n / total:5.1f}%  {fr}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
