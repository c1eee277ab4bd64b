"""The training engine: one loop driven by a Task, plus evaluation, checkpoints, optimisers, devices."""
from .evaluation import evaluate_run, evaluate_weights, weights_run
from .loop import RunResult, TrainingDiverged, evaluate, train

__all__ = ["train", "evaluate", "evaluate_run", "evaluate_weights", "weights_run", "RunResult", "TrainingDiverged"]
