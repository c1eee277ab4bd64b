#!/usr/bin/env python3
"""Build the PJM energy sample bundled with nnstudy (src/nnstudy/data/samples/energy-sample/*.csv.gz).

    python scripts/make_energy_sample.py [PJM_FOLDER] [--out FOLDER]

PJM_FOLDER holds the Kaggle files (robikscube/hourly-energy-consumption; default ../shared/data/pjm_hourly
beside the repository); each is checked against the published sha256 first. For AEP and DEOK, the sample keeps
the header and every row whose timestamp is 2017-11-01 01:00 or later (to the end, 2018-08-03 00:00), as bytes,
in file order, so it is as dirty as the original: rows out of order, the autumn DST duplicate 2017-11-05 02:00,
and the spring DST missing hour 2018-03-11 03:00. The gzip is written with mtime 0, so rebuilding gives the same
bytes.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

from nnstudy.data.energy import EXPECTED, SAMPLE_DIR, SAMPLE_REGIONS, _read_bytes, region_files

ROOT = Path(__file__).resolve().parents[1]
FROM = b"2017-11-01 01:00:00"   # first kept timestamp: 9 months, ~6,570 hours per region


def cut(raw: bytes) -> tuple[bytes, int]:
    """The header and the rows from FROM on (timestamps compare as text: fixed-width ISO format)."""
    lines = raw.split(b"\n")
    header, body = lines[0], [ln for ln in lines[1:] if ln]
    kept = [ln for ln in body if ln[:len(FROM)] >= FROM]
    return b"\n".join([header, *kept]) + b"\n", len(kept)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", default=str(ROOT.parent / "shared" / "data" / "pjm_hourly"))
    ap.add_argument("--out", default=str(ROOT / "src" / "nnstudy" / "data" / "samples" / SAMPLE_DIR))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for region, path in region_files(Path(args.folder), SAMPLE_REGIONS).items():
        raw = _read_bytes(path)
        if hashlib.sha256(raw).hexdigest() != EXPECTED[region].csv_sha256:
            sys.exit(f"{path}: sha256 differs from the published {region} file")
        data, rows = cut(raw)
        target = out / f"{region}_hourly.csv.gz"
        target.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
        print(f"{target}: {rows:,} rows, CSV sha256 {hashlib.sha256(data).hexdigest()}, "
              f"{target.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
