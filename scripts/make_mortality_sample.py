#!/usr/bin/env python3
"""Build the PhysioNet/CinC 2012 sample bundled with nnstudy (src/nnstudy/data/samples/mortality-sample*.csv.gz).

    python scripts/make_mortality_sample.py [FOLDER] [--stays N] [--seed S]

FOLDER holds set-a.csv.gz and Outcomes-a.txt (default ../shared/data/physionet2012 beside the repository); both are
checked against the sha256 in its README first (the .gz, or the CSV inside it for another gzip of the same CSV).
The sample is N (200) stays drawn stratified by In-hospital_death (so 28 deaths, 13.85 % as in set-a) with a
generator seeded S (0), in the same way as the datasets' splits. It keeps, as bytes and in file order, the long
CSV's header and every row of the chosen records (mortality-sample.csv.gz) and the Outcomes header and their lines
(mortality-sample-outcomes.csv.gz). Both are gzipped with mtime 0, so rebuilding gives the same bytes.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

import torch

from nnstudy.data.mortality import EXPECTED, SAMPLE_FILE, SAMPLE_OUTCOMES, read_outcomes
from nnstudy.data.splits import stratified_take

ROOT = Path(__file__).resolve().parents[1]
GZ_SHA256 = "0a7e10ea4cc7e047d174228cc82d297957b7e6c36c0b0b64831d58a9aad9af94"   # set-a.csv.gz, ../shared README


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", default=str(ROOT.parent / "shared" / "data" / "physionet2012"))
    ap.add_argument("--stays", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "src" / "nnstudy" / "data" / "samples"))
    args = ap.parse_args()
    folder, out = Path(args.folder), Path(args.out)
    packed = (folder / "set-a.csv.gz").read_bytes()
    raw = gzip.decompress(packed)
    if sha256(packed) != GZ_SHA256 and sha256(raw) != EXPECTED.csv_sha256:
        sys.exit(f"{folder / 'set-a.csv.gz'}: sha256 differs from the published set-a (gz {GZ_SHA256}, "
                 f"CSV {EXPECTED.csv_sha256})")
    outcomes = (folder / "Outcomes-a.txt").read_bytes()
    if sha256(outcomes) != EXPECTED.outcomes_sha256:
        sys.exit(f"{folder / 'Outcomes-a.txt'}: sha256 differs from the published {EXPECTED.outcomes_sha256}")

    ids, deaths = read_outcomes(folder / "Outcomes-a.txt")
    order = ids.argsort()
    ids, deaths = ids[order], deaths[order]
    taken, _ = stratified_take(torch.from_numpy(deaths), args.stays, torch.Generator().manual_seed(args.seed))
    chosen = {str(int(i)).encode() for i in ids[taken.numpy()]}

    lines = raw.split(b"\n")
    rows = [ln for ln in lines[1:] if ln.split(b",", 1)[0] in chosen]
    data = b"\n".join([lines[0], *rows]) + b"\n"
    o_lines = outcomes.split(b"\n")
    o_rows = [ln for ln in o_lines[1:] if ln.split(b",", 1)[0] in chosen]
    o_data = b"\n".join([o_lines[0], *o_rows]) + b"\n"
    if len(o_rows) != args.stays or len({r.split(b",", 1)[0] for r in rows}) != args.stays:
        sys.exit("a chosen record has no rows or no outcome line: unexpected source layout")
    for name, content in ((SAMPLE_FILE, data), (SAMPLE_OUTCOMES, o_data)):
        target = out / name
        target.write_bytes(gzip.compress(content, compresslevel=9, mtime=0))
        rows_written = content.count(b"\n") - 1
        print(f"{target}: {rows_written:,} rows, content sha256 {sha256(content)}, "
              f"{target.stat().st_size:,} bytes")
    print(f"{args.stays} stays, {int(deaths[taken.numpy()].sum())} deaths")


if __name__ == "__main__":
    main()
