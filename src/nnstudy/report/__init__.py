"""Study reports: figures (matplotlib, PNG) and the report writers (report.md for GitHub, a self-contained
report.html), built from a study directory alone.

    from nnstudy.report import build_report
    build_report("studies/cifar-cnn-ablation")
"""
from .writers import build_report

__all__ = ["build_report"]
