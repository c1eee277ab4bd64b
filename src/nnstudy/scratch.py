"""Backprop from scratch (SPEC H): a NumPy MLP with the hand-derived gradients, for teaching.

The network of the write-up (seed 003, written part), for l = 1..L with h_0 = x:

    s_l = W_l h_{l-1} + b_l,        h_l = f_l(s_l),

f_L = identity, so h_L are the class scores, and the loss is softmax cross-entropy averaged over the batch. The
chain rule gives, with f'_l = diag(f_l'(s_l)):

    ∂L/∂W_l     = f'_l ∂L/∂h_l h_{l-1}ᵀ
    ∂L/∂b_l     = f'_l ∂L/∂h_l
    ∂L/∂h_{l-1} = W_lᵀ f'_l ∂L/∂h_l                (the write-up's row form: ∂L/∂h_lᵀ f'_l W_l)

and at the top ∂L/∂h_L = softmax(h_L) − onehot(y) (per sample, then ÷ batch size for the mean). `MLP.gradients`
computes exactly these, for a batch at once (rows are samples, so h_{l-1}ᵀ becomes a matrix product summed over
the batch). `tests/test_scratch.py` checks them against PyTorch autograd and against finite differences.

    from nnstudy.scratch import MLP
    net = MLP([178, 16, 5], activation="sigmoid", seed=0)
    history = net.fit(x_train, y_train, epochs=20, lr=0.1, batch_size=32)
    accuracy = (net.predict(x_test) == y_test).mean()
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MLP", "ACTIVATIONS", "softmax_cross_entropy"]


def _relu(s: np.ndarray) -> np.ndarray:
    return np.maximum(s, 0.0)


def _relu_grad(s: np.ndarray) -> np.ndarray:
    return (s > 0).astype(s.dtype)          # the subgradient 0 at s = 0, as PyTorch


def _sigmoid(s: np.ndarray) -> np.ndarray:
    # two branches so that exp never overflows
    out = np.empty_like(s)
    pos = s >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-s[pos]))
    e = np.exp(s[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _sigmoid_grad(s: np.ndarray) -> np.ndarray:
    p = _sigmoid(s)
    return p * (1.0 - p)


def _tanh_grad(s: np.ndarray) -> np.ndarray:
    return 1.0 - np.tanh(s) ** 2


# name -> (f, f')
ACTIVATIONS = {
    "relu": (_relu, _relu_grad),
    "sigmoid": (_sigmoid, _sigmoid_grad),
    "tanh": (np.tanh, _tanh_grad),
    "identity": (lambda s: s, np.ones_like),
}


def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer labels `y` under softmax(`scores`), and its gradient w.r.t. the scores."""
    shifted = scores - scores.max(axis=1, keepdims=True)        # log-sum-exp without overflow
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -float(log_p[np.arange(n), y].mean())
    grad = np.exp(log_p)
    grad[np.arange(n), y] -= 1.0
    return loss, grad / n


@dataclass
class _Cache:
    """What the backward pass needs from the forward pass: every layer's input h_{l-1} and pre-activation s_l."""
    inputs: list[np.ndarray] = field(default_factory=list)
    pre: list[np.ndarray] = field(default_factory=list)


class MLP:
    """A fully connected net in NumPy: hidden layers with `activation`, identity on the score layer.

    Args:
        sizes: [inputs, hidden…, classes], e.g. [178, 16, 5] (the seizure MLP of SPEC F, 2,949 params).
        activation: "relu", "sigmoid" or "tanh" for every hidden layer, or a list with one name per hidden layer.
        seed: initialisation, PyTorch's default for nn.Linear: W, b ~ U(−1/√fan_in, 1/√fan_in).
        dtype: float64 by default (exact enough for gradient checks); float32 trains faster.
    """

    def __init__(self, sizes: list[int], activation: str | list[str] = "relu", seed: int = 0,
                 dtype: type = np.float64) -> None:
        if len(sizes) < 2 or any(int(n) < 1 for n in sizes):
            raise ValueError(f"sizes must list ≥ 2 positive layer widths (inputs … classes), got {sizes}")
        hidden = len(sizes) - 2
        acts = [activation] * hidden if isinstance(activation, str) else list(activation)
        if len(acts) != hidden:
            raise ValueError(f"{len(acts)} activations for {hidden} hidden layers")
        unknown = [a for a in acts if a not in ACTIVATIONS]
        if unknown:
            raise ValueError(f"unknown activation {unknown[0]!r}; choose one of {', '.join(ACTIVATIONS)}")
        self.sizes = [int(n) for n in sizes]
        self.activations = acts + ["identity"]
        rng = np.random.default_rng(seed)
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            bound = 1.0 / np.sqrt(fan_in)
            self.weights.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype))
            self.biases.append(rng.uniform(-bound, bound, fan_out).astype(dtype))

    @property
    def num_params(self) -> int:
        return sum(w.size + b.size for w, b in zip(self.weights, self.biases))

    def forward(self, x: np.ndarray, cache: _Cache | None = None) -> np.ndarray:
        """Scores h_L (N, classes) of a batch x (N, inputs); fills `cache` for the backward pass."""
        h = np.asarray(x, dtype=self.weights[0].dtype)
        for w, b, act in zip(self.weights, self.biases, self.activations):
            s = h @ w.T + b                       # s_l = W_l h_{l-1} + b_l, one row per sample
            if cache is not None:
                cache.inputs.append(h)
                cache.pre.append(s)
            h = ACTIVATIONS[act][0](s)
        return h

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        """Loss and its gradients (∂L/∂W_l, ∂L/∂b_l for every layer) by the hand-derived backward pass."""
        y = np.asarray(y)
        cache = _Cache()
        loss, dh = softmax_cross_entropy(self.forward(x, cache), y)    # dh = ∂L/∂h_L
        grad_w: list[np.ndarray] = [np.empty(0)] * len(self.weights)
        grad_b: list[np.ndarray] = [np.empty(0)] * len(self.weights)
        for k in reversed(range(len(self.weights))):
            delta = ACTIVATIONS[self.activations[k]][1](cache.pre[k]) * dh   # f'_l ∂L/∂h_l, (N, d_l)
            grad_w[k] = delta.T @ cache.inputs[k]                             # Σ_n f'_l ∂L/∂h_l h_{l-1}ᵀ
            grad_b[k] = delta.sum(axis=0)                                     # Σ_n f'_l ∂L/∂h_l
            dh = delta @ self.weights[k]                                      # ∂L/∂h_{l-1}
        return loss, grad_w, grad_b

    def step(self, grad_w: list[np.ndarray], grad_b: list[np.ndarray], lr: float) -> None:
        """One plain gradient-descent step."""
        for w, b, gw, gb in zip(self.weights, self.biases, grad_w, grad_b):
            w -= lr * gw
            b -= lr * gb

    def fit(self, x: np.ndarray, y: np.ndarray, *, epochs: int = 10, lr: float = 0.1, batch_size: int = 32,
            seed: int = 0, x_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> list[dict]:
        """Minibatch SGD; per epoch the mean training loss, training accuracy and (if given) validation accuracy."""
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples, y {len(y)}")
        rng = np.random.default_rng(seed)
        history = []
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(x))
            total = 0.0
            for start in range(0, len(x), batch_size):
                idx = order[start:start + batch_size]
                loss, gw, gb = self.gradients(x[idx], y[idx])
                self.step(gw, gb, lr)
                total += loss * len(idx)
            row = {"epoch": epoch, "train_loss": total / len(x), "train_acc": float((self.predict(x) == y).mean())}
            if x_val is not None and y_val is not None:
                row["val_acc"] = float((self.predict(x_val) == np.asarray(y_val)).mean())
            history.append(row)
        return history

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x).argmax(axis=1)
