"""Study reports: figures (matplotlib, PNG) and the report writers (report.md for GitHub, a self-contained
report.html), built from a study directory alone.

    from nnstudy.report import build_report
    build_report("studies/cifar-cnn-ablation")
"""
from pathlib import Path

from .writers import build_report

__all__ = ["build_report", "finish_study"]


def finish_study(study_dir: str | Path, progress: bool = False) -> dict[str, Path]:
    """Result tables (results/summary .csv and .parquet) and the report of a study directory: what `nnstudy run`
    does after the runs, and `nnstudy report` at any time."""
    from ..study.results import write_tables
    paths = dict(write_tables(study_dir))
    paths.update(build_report(study_dir, progress=progress))
    return paths
