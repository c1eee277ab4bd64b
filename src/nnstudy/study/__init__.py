"""Ablation studies: a study file expands to run configs × seeds, executed serially or in worker processes,
collected into result tables with verdicts, and turned into a report."""
from .runner import run_study
from .spec import StudySpec, Variant, builtin_studies, load_study_spec

__all__ = ["StudySpec", "Variant", "load_study_spec", "builtin_studies", "run_study"]
