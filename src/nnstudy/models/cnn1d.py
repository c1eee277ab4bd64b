"""1-D convolutional nets over a signal, e.g. an EEG window of 178 samples (SPEC F: seed 004 Q1)."""
from __future__ import annotations

from torch import Tensor, nn

from . import register_model
from .layers import conv_out_size, get_act
from .mlp import MLP

__all__ = ["Conv1dNet", "cnn1d"]


class Conv1dNet(nn.Module):
    """[Conv1d(k) → act → MaxPool1d(2)] per entry of ``channels`` → flatten → MLP head.

    Accepts (B, L) signals (one channel) or (B, C, L).
    """

    def __init__(self, in_channels: int, length: int, channels: tuple[int, ...], kernel: int,
                 hidden: tuple[int, ...], num_classes: int, act: str = "relu") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, n = in_channels, length
        for out in channels:
            layers += [nn.Conv1d(c, out, kernel), get_act(act), nn.MaxPool1d(2)]
            c, n = out, conv_out_size(conv_out_size(n, kernel), 2, 2)   # conv (stride 1), then pool 2
            if n < 1:
                raise ValueError(f"a signal of length {length} is too short for {len(channels)} conv blocks "
                                 f"of kernel {kernel}")
        self.features = nn.Sequential(*layers)
        self.classifier = MLP(c * n, hidden, num_classes, act=act)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:          # (B, L): a single-channel signal
            x = x.unsqueeze(1)
        return self.classifier(self.features(x))


@register_model()
def cnn1d(*, channels: tuple[int, ...] = (6, 16), kernel: int = 5, hidden: tuple[int, ...] = (128,),
          act: str = "relu", num_classes: int = 5, input_shape: tuple[int, ...] = (178,)) -> Conv1dNet:
    """1-D CNN over a signal; defaults are the seizure CNN of SPEC F (85,273 params).

    Layers at the defaults (178 samples, 5 classes)::

        Conv1d(1→6, k5)    178→174   ReLU   MaxPool1d(2) 174→87
        Conv1d(6→16, k5)    87→83    ReLU   MaxPool1d(2) 83→41
        FC 656→128 → ReLU → 5                       (16·41 = 656)

    Args:
        channels: output channels of each conv block.
        kernel: conv kernel length (stride 1, no padding).
        hidden: widths of the hidden FC layers.
        act: activation after every conv and hidden FC layer.
        num_classes, input_shape: filled from the dataset; (L,) is one channel of length L, (C, L) C channels.

    Source: Georgia Tech CSE6250 HW5 Q1.2 (seed 004).
    """
    in_channels, length = (1, input_shape[0]) if len(input_shape) == 1 else input_shape
    return Conv1dNet(in_channels, length, tuple(channels), kernel, tuple(hidden), num_classes, act)
