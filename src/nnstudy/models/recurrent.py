"""Recurrent nets (RNN / LSTM / GRU) over sequences: classifiers (SPEC F) and forecasters (SPEC E)."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from . import register_model
from .layers import get_act

__all__ = ["RecurrentNet", "VariableRNN", "rnn_classifier", "rnn_forecaster", "variable_rnn", "RNN_CELLS"]

RNN_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    """A recurrent stack over (B, T, F) sequences; the last step's output → (act) → Linear to the outputs.

    A (B, T) input is read as T steps of one feature. ``nn.RNN`` uses tanh.
    """

    def __init__(self, cell: str, input_size: int, hidden: int, layers: int, outputs: int,
                 bidirectional: bool = False, dropout: float = 0.0, head_act: str = "identity") -> None:
        super().__init__()
        if cell not in RNN_CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(RNN_CELLS)}")
        if layers < 1 or hidden < 1:
            raise ValueError(f"layers and hidden must be positive, got layers={layers}, hidden={hidden}")
        # PyTorch applies dropout between stacked layers only; with one layer it would warn and do nothing.
        self.rnn = RNN_CELLS[cell](input_size, hidden, num_layers=layers, batch_first=True,
                                   bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0)
        self.act = get_act(head_act)
        self.fc = nn.Linear(hidden * (2 if bidirectional else 1), outputs)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(-1)
        out, _ = self.rnn(x)
        return self.fc(self.act(out[:, -1]))

    def forward_steps(self, x: Tensor) -> Tensor:
        """The head at every step: (B, T, outputs) — step j's prediction has seen inputs 0..j. Used to train a
        forecaster on long chunks (a target per hour) instead of one window per target."""
        if x.dim() == 2:
            x = x.unsqueeze(-1)
        out, _ = self.rnn(x)
        return self.fc(self.act(out))


@register_model()
def rnn_classifier(*, cell: str = "gru", hidden: int = 16, layers: int = 1, bidirectional: bool = False,
                   dropout: float = 0.0, head_act: str = "identity", num_classes: int = 5,
                   input_shape: tuple[int, ...] = (178,)) -> RecurrentNet:
    """RNN/LSTM/GRU classifier on the last step; defaults are the seizure GRU of SPEC F (997 params).

    At the defaults: GRU(1→16) over 178 steps of one feature, last step → FC 16→5. Parameters with PyTorch's
    two bias vectors per gate: 3·(16·1 + 16·16 + 16 + 16) + (16·5 + 5) = 912 + 85 = 997 (the write-up's 18,885
    assumed a different model).

    Args:
        cell: "rnn" (tanh), "lstm" or "gru".
        hidden: hidden size; layers: stacked layers; bidirectional: run both directions.
        dropout: between stacked layers (PyTorch's convention).
        head_act: activation on the last step before the FC layer (identity: none).
        num_classes, input_shape: filled from the dataset; (T,) is T steps of one feature, (T, F) of F features.

    Source: Georgia Tech CSE6250 HW5 Q1.2e (seed 004).
    """
    features = 1 if len(input_shape) == 1 else input_shape[-1]
    return RecurrentNet(cell, features, hidden, layers, num_classes, bidirectional, dropout, head_act)


@register_model()
def rnn_forecaster(*, cell: str = "gru", hidden: int = 256, layers: int = 2, bidirectional: bool = False,
                   dropout: float = 0.2, head_act: str = "relu", outputs: int = 1,
                   input_shape: tuple[int, ...] = (90, 5)) -> RecurrentNet:
    """RNN/LSTM/GRU regressor on the last step; defaults are the FloydHub blog's GRU (SPEC E, 596,993 params).

    At the defaults: GRU(5→256, 2 layers, dropout 0.2) over 90 hours of 5 features, the last step → ReLU →
    Linear 256→1 (the next hour's scaled load). LSTM at the same size: 795,905 params.

    Args:
        cell: "rnn" (tanh), "lstm" or "gru".
        hidden, layers, bidirectional, dropout: the recurrent stack (dropout between stacked layers).
        head_act: activation on the last step before the Linear layer (the blog: relu).
        outputs: values predicted per window.
        input_shape: (lookback steps, features), filled from the dataset.

    Source: G. Loye, "Gated Recurrent Unit (GRU) With PyTorch", FloydHub blog, 2019 (seeds 000, 001).
    """
    features = 1 if len(input_shape) == 1 else input_shape[-1]
    return RecurrentNet(cell, features, hidden, layers, outputs, bidirectional, dropout, head_act)


class VariableRNN(nn.Module):
    """Variable-length sequences, padded in a batch: FC(features→embed) → tanh → GRU → FC on each sequence's
    last real step (SPEC G's "variable RNN").

    Input (B, T, 1 + F): channel 0 flags real steps (1) and padding (0, after the sequence's end); channels
    1..F are the features. Lengths come from the flags, and the GRU runs on a PackedSequence, so padding never
    reaches the recurrence: a sequence's output does not depend on how much padding its batch has, nor on the
    other sequences in the batch (tests/test_models.py checks both). Sequences of length 0 (no real step) are
    given one step of zeros so they still get a prediction (the bias path).
    """

    # train.precision auto keeps fp32 (engine/runtime.py): measured on SPEC G's recipe, seeds 0-4, the test ROC AUC
    # in bf16 equals fp32's within ±0.0002, but the epochs take ~1.5× longer (a net this small is all casts)
    fp32_reason = ("variable_rnn: bf16 autocast is slower than fp32 for a recurrent net this small (no accuracy "
                   "gained; benchmarks/precision_accuracy.py)")

    def __init__(self, features: int, embed: int, hidden: int, outputs: int, layers: int = 1,
                 dropout: float = 0.0, input_dropout: float = 0.0) -> None:
        super().__init__()
        self.input_dropout = nn.Dropout(input_dropout)
        self.embed = nn.Linear(features, embed)
        self.rnn = nn.GRU(embed, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.fc = nn.Linear(hidden, outputs)

    @staticmethod
    def example_input(batch: int, shape: tuple[int, ...], dtype: torch.dtype,
                      device: torch.device | None) -> Tensor:
        """For counting MACs: every step real (the longest sequence), features zero."""
        x = torch.zeros((batch, *shape), dtype=dtype, device=device)
        x[..., 0] = 1.0
        return x

    def forward(self, x: Tensor) -> Tensor:
        lengths = x[..., 0].gt(0.5).sum(1).clamp_min(1)
        z = torch.tanh(self.embed(self.input_dropout(x[..., 1:])))
        # lengths on the CPU (pack_padded_sequence's requirement); unsorted: PyTorch sorts and restores the order
        packed = pack_padded_sequence(z, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)          # h: (layers, B, hidden), each sequence's state at its own last step
        return self.fc(h[-1])


@register_model()
def variable_rnn(*, embed: int = 32, hidden: int = 16, layers: int = 1, dropout: float = 0.0,
                 input_dropout: float = 0.0, num_classes: int = 2,
                 input_shape: tuple[int, ...] = (48, 2)) -> VariableRNN:
    """SPEC G's variable RNN: FC(features→32) → tanh → GRU(32→16) → FC(16→2) over padded + packed sequences.

    Args:
        embed, hidden: widths of the first FC layer and of the GRU; layers, dropout: the GRU stack (dropout
            between stacked layers).
        input_dropout: dropout on the input features during training (not on the step flag): a regulariser for
            small clinical data sets, where the model otherwise learns a few patients by heart.
        num_classes: outputs (2: survived / died), filled from the dataset.
        input_shape: (max steps, 1 + features), filled from the dataset; channel 0 flags real steps.

    Source: Georgia Tech CSE6250 HW5 Q2 (seed 004).
    """
    if len(input_shape) != 2 or input_shape[-1] < 2:
        raise ValueError(f"variable_rnn needs (steps, 1 + features) inputs with a step flag in channel 0, "
                         f"got input_shape {tuple(input_shape)}")
    return VariableRNN(input_shape[-1] - 1, embed, hidden, num_classes, layers, dropout, input_dropout)
