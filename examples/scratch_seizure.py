"""Backprop from scratch (SPEC H) on the bundled seizure sample: the NumPy MLP of `nnstudy.scratch`.

    python examples/scratch_seizure.py

Output and discussion: docs/scratch.md.
"""
from nnstudy.data import build_dataset
from nnstudy.scratch import MLP

data = build_dataset("seizure-sample")                 # 1,150 real rows, standardised with training statistics
x, y = data.train.inputs.numpy(), data.train.targets.numpy()
xv, yv = data.val.inputs.numpy(), data.val.targets.numpy()
# the write-up's improved MLP 178-100-50-24-12-5 (ReLU ×3, sigmoid), 24,539 params
net = MLP([178, 100, 50, 24, 12, 5], activation=["relu", "relu", "relu", "sigmoid"], seed=0)
history = net.fit(x, y, epochs=30, lr=0.1, batch_size=32, x_val=xv, y_val=yv)
for row in history[::5] + history[-1:]:
    print(f"epoch {row['epoch']:2d}  loss {row['train_loss']:.3f}  train acc {row['train_acc']:.3f}  "
          f"val acc {row['val_acc']:.3f}")
xt, yt = data.test.inputs.numpy(), data.test.targets.numpy()
test_acc = float((net.predict(xt) == yt).mean())
print(f"test accuracy {test_acc:.3f} on {len(yt)} rows (chance 0.2)")
