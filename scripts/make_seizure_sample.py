#!/usr/bin/env python3
"""Build the Epileptic Seizure Recognition sample bundled with nnstudy (src/nnstudy/data/samples/seizure-sample.csv.gz).

    python scripts/make_seizure_sample.py [CSV_OR_GZ] [--out FILE] [--per-class N]

CSV_OR_GZ is the Kaggle file (default ../shared/data/epileptic_seizure/Epileptic_Seizure_Recognition.csv.gz beside
the repository), checked against the published sha256 of the .gz or of the CSV inside it first. The sample keeps
the header and every row of the first N (10) source segments of each class, segments taken in the order they
first appear in the file, as bytes and in file order: all 23 chunks of each, so a segment split works on it. The
gzip is written with mtime 0, so rebuilding gives the same bytes.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

from nnstudy.data.seizure import CLASSES, SAMPLE_FILE, parse

ROOT = Path(__file__).resolve().parents[1]
# The README of ../shared/data/epileptic_seizure: the gzip, and the original CSV inside it.
GZ_SHA256 = "021d4f96f6060a852a6a7173b35769a5cc6344c8e92a8b0bef80d491da58370e"
CSV_SHA256 = "5ac55c71de5df20d2f47c39300c5b61df18ac5d1c40315e586310b794c32a98b"


def cut(raw: bytes, per_class: int) -> tuple[bytes, int, int]:
    """(sample CSV bytes, rows, segments): the header and the rows of the first `per_class` segments per class."""
    table = parse(raw, "source")
    chosen: set[int] = set()
    taken = [0] * len(CLASSES)
    for seg, y in zip(table.segment, table.y):          # file order: a segment counts where it first appears
        if seg not in chosen and taken[y - 1] < per_class:
            chosen.add(int(seg))
            taken[y - 1] += 1
    if min(taken) < per_class:
        sys.exit(f"only {min(taken)} segments in some class, asked for {per_class}")
    lines = raw.split(b"\n")
    body = [ln for ln in lines[1:] if ln.strip()]      # parse() numbers the same non-blank lines
    if len(body) != len(table.y):
        sys.exit(f"{len(body)} lines but {len(table.y)} parsed rows: unexpected line separators")
    kept = [ln for ln, seg in zip(body, table.segment) if seg in chosen]
    return b"\n".join([lines[0], *kept]) + b"\n", len(kept), len(chosen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?",
                    default=str(ROOT.parent / "shared" / "data" / "epileptic_seizure" /
                                "Epileptic_Seizure_Recognition.csv.gz"))
    ap.add_argument("--out", default=str(ROOT / "src" / "nnstudy" / "data" / "samples" / SAMPLE_FILE))
    ap.add_argument("--per-class", type=int, default=10, help="source segments per class (23 rows each)")
    args = ap.parse_args()
    raw = Path(args.source).read_bytes()
    packed = raw[:2] == b"\x1f\x8b"
    if packed:
        # Our .gz passes on its own sha256; another gzip of the same CSV (other mtime or level) on the CSV's.
        ok = hashlib.sha256(raw).hexdigest() == GZ_SHA256
        raw = gzip.decompress(raw)
    if not (packed and ok) and hashlib.sha256(raw).hexdigest() != CSV_SHA256:
        sys.exit(f"{args.source}: sha256 differs from the published Kaggle file (gz {GZ_SHA256}, CSV {CSV_SHA256})")
    data, rows, segments = cut(raw, args.per_class)
    out = Path(args.out)
    out.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{out}: {rows:,} rows of {segments} segments, CSV sha256 {hashlib.sha256(data).hexdigest()}, "
          f"{out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
