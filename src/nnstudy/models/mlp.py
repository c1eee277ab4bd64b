"""Multi-layer perceptrons on the flattened input (SPEC A: CIFAR-10 MLP depth study)."""
import math

from torch import nn

from . import register_model
from .layers import get_act

__all__ = ["MLP", "mlp", "mlp2", "mlp3", "mlp4", "mlp5"]

# Hidden widths of the depth study (seed 003, §2.1); depth counts Linear layers, output layer included.
DEPTH_HIDDEN: dict[int, tuple[int, ...]] = {
    2: (120,),
    3: (120, 84),
    4: (256, 120, 84),
    5: (512, 256, 120, 84),
}


class MLP(nn.Sequential):
    """Flatten → [Linear → act → (Dropout)] per hidden width → Linear to the classes.

    ``act`` is one activation for every hidden layer or a list with one per hidden layer (the seizure write-up's
    improved MLP: ReLU, ReLU, ReLU, sigmoid).
    """

    def __init__(self, in_features: int, hidden: list[int] | tuple[int, ...], num_classes: int,
                 act: str | list[str] | tuple[str, ...] = "relu", dropout: float = 0.0) -> None:
        acts = [act] * len(hidden) if isinstance(act, str) else list(act)
        if len(acts) != len(hidden):
            raise ValueError(f"{len(acts)} activations for {len(hidden)} hidden layers; give one name, or one per "
                             f"hidden layer")
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h, a in zip(hidden, acts):
            layers += [nn.Linear(width, h), get_act(a)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)


def _mlp(hidden: tuple[int, ...] | list[int], act: str | list[str], dropout: float,
         input_shape: tuple[int, ...], num_classes: int) -> MLP:
    return MLP(math.prod(input_shape), list(hidden), num_classes, act=act, dropout=dropout)


@register_model()
def mlp(*, depth: int = 2, hidden: list[int] | None = None, act: str | list[str] = "relu", dropout: float = 0.0,
        num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)) -> MLP:
    """MLP on the flattened input, by depth (2-5, the CIFAR depth study) or by explicit hidden widths.

    Args:
        depth: number of Linear layers, output layer included, with the widths of SPEC A
            (2: 120; 3: 120-84; 4: 256-120-84; 5: 512-256-120-84). Ignored when ``hidden`` is given.
        hidden: explicit hidden widths, e.g. ``[16]`` for the seizure MLP 178-16-5 (``act="sigmoid"``).
        act: activation between layers (see ``layers.ACTIVATIONS``), or a list with one per hidden layer, e.g.
            ``[relu, relu, relu, sigmoid]`` with ``hidden=[100, 50, 24, 12]`` (the seizure write-up's improved
            MLP, 24,539 params).
        dropout: dropout probability after each hidden activation (0 = none).
        num_classes, input_shape: filled from the dataset; the input is flattened to prod(input_shape).
    """
    if hidden is None:
        if depth not in DEPTH_HIDDEN:
            raise ValueError(f"mlp depth must be one of {sorted(DEPTH_HIDDEN)} (or pass hidden=[...]), got {depth}")
        hidden = list(DEPTH_HIDDEN[depth])
    return _mlp(hidden, act, dropout, input_shape, num_classes)


@register_model()
def mlp2(*, act: str = "relu", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)) -> MLP:
    """2-layer MLP 3072-120-10 (369,970 params on CIFAR-10; seed 003 §2.1)."""
    return _mlp(DEPTH_HIDDEN[2], act, 0.0, input_shape, num_classes)


@register_model()
def mlp3(*, act: str = "relu", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)) -> MLP:
    """3-layer MLP 3072-120-84-10 (379,774 params on CIFAR-10; seed 003 §2.1)."""
    return _mlp(DEPTH_HIDDEN[3], act, 0.0, input_shape, num_classes)


@register_model()
def mlp4(*, act: str = "relu", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)) -> MLP:
    """4-layer MLP 3072-256-120-84-10 (828,542 params on CIFAR-10; seed 003 §2.1)."""
    return _mlp(DEPTH_HIDDEN[4], act, 0.0, input_shape, num_classes)


@register_model()
def mlp5(*, act: str = "relu", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32)) -> MLP:
    """5-layer MLP 3072-512-256-120-84-10 (1,746,558 params on CIFAR-10; seed 003 §2.1)."""
    return _mlp(DEPTH_HIDDEN[5], act, 0.0, input_shape, num_classes)
