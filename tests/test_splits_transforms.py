"""Data layer, splits and transforms: stratified, seeded validation splits and subsets, the builders' typed
signatures, normalisation presets and seeded batch augmentation (crop, flip), the same on CPU and CUDA."""
from __future__ import annotations

import inspect
import pickle

import pytest
import torch

from nnstudy.data import DATASETS, build_dataset, splits
from nnstudy.data.transforms import NORMALIZE, ImageTransform, normalization
from nnstudy.errors import ConfigError, RegistryError

# ------------------------------------------------------------------------------------------------ splits

def test_builder_signature_is_typed_keyword_only():
    for name in ("cifar10", "cifar10-sample"):
        sig = inspect.signature(DATASETS.get(name).builder, eval_str=True)
        for p in sig.parameters.values():
            assert p.kind is p.KEYWORD_ONLY and p.annotation is not p.empty, (name, p)
        assert sig.parameters["val_fraction"].annotation is float
        assert sig.parameters["subset"].annotation == (int | None)


def test_stratified_split_sizes_and_determinism():
    a = build_dataset("cifar10-sample", val_fraction=0.25, split_seed=1)
    b = build_dataset("cifar10-sample", val_fraction=0.25, split_seed=1)
    c = build_dataset("cifar10-sample", val_fraction=0.25, split_seed=2)
    assert (len(a.train), len(a.val)) == (1500, 500)
    assert torch.bincount(a.val.targets).tolist() == [50] * 10
    assert torch.bincount(a.train.targets).tolist() == [150] * 10
    assert torch.equal(a.val.inputs, b.val.inputs) and torch.equal(a.train.inputs, b.train.inputs)
    assert not torch.equal(a.val.inputs, c.val.inputs)
    none = build_dataset("cifar10-sample", val_fraction=0.0)
    assert none.val is None and len(none.train) == 2000


def test_stratified_take_partitions_and_keeps_proportions():
    labels = torch.tensor([0] * 7 + [1] * 3 + [2] * 10)
    g = torch.Generator().manual_seed(0)
    taken, rest = splits.stratified_take(labels, 5, g)
    assert len(taken) == 5 and len(rest) == 15
    assert sorted(torch.cat([taken, rest]).tolist()) == list(range(20))
    # quotas 1.75, 0.75, 2.5 -> floors 1, 0, 2 and the largest remainders (0.75 twice: classes 0 and 1) get +1
    assert torch.bincount(labels[taken], minlength=3).tolist() == [2, 1, 2]


def test_subset_is_stratified_and_seeded():
    a = build_dataset("cifar10-sample", subset=300, split_seed=3)
    b = build_dataset("cifar10-sample", subset=300, split_seed=3)
    assert len(a.train) == 300 and len(a.val) == 200 and len(a.test) == 500
    assert torch.bincount(a.train.targets).tolist() == [30] * 10
    assert torch.equal(a.train.inputs, b.train.inputs)
    full = build_dataset("cifar10-sample", split_seed=3)
    assert torch.equal(a.val.inputs, full.val.inputs)   # the subset never changes the validation split
    with pytest.raises(ValueError, match="exceeds the 1,800 training images"):
        build_dataset("cifar10-sample", subset=1801)


def test_bad_arguments():
    with pytest.raises(ValueError, match="cifar10, half, imagenet, none"):
        build_dataset("cifar10-sample", normalize="imagenet21k")
    with pytest.raises(ValueError, match="none, crop, flip, crop_flip"):
        build_dataset("cifar10-sample", augment="rotate")
    with pytest.raises(ValueError, match="val_fraction"):
        build_dataset("cifar10-sample", val_fraction=1.0)
    with pytest.raises(ConfigError, match="unexpected keyword argument 'path'"):
        build_dataset("cifar10-sample", path="x")
    with pytest.raises(RegistryError, match="did you mean 'cifar10'"):
        build_dataset("cifar1O")


# ---------------------------------------------------------------------------------------------- transforms

def _images(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_normalisation_values():
    x = torch.stack([torch.zeros(3, 4, 4, dtype=torch.uint8), torch.full((3, 4, 4), 255, dtype=torch.uint8)])
    for name, (mean, std) in NORMALIZE.items():
        y = ImageTransform.preset(name)(x, False, None)
        assert y.dtype == torch.float32 and y.shape == x.shape
        m, s = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)
        torch.testing.assert_close(y[0], (-m / s).expand(3, 4, 4))
        torch.testing.assert_close(y[1], ((1 - m) / s).expand(3, 4, 4))
    x = _images(8)
    torch.testing.assert_close(ImageTransform.preset("half")(x), x.float() / 127.5 - 1)
    torch.testing.assert_close(ImageTransform.preset("none")(x), x.float() / 255)
    with pytest.raises(ValueError, match="valid: cifar10, half, imagenet, none"):
        normalization("imagenet21k")


def _shift(img: torch.Tensor, dy: int, dx: int, p: int) -> torch.Tensor:
    """`img` seen through the crop window at offset (dy, dx) of the p-padded image (reference, one image)."""
    padded = torch.nn.functional.pad(img, (p, p, p, p))
    return padded[:, dy:dy + img.shape[1], dx:dx + img.shape[2]]


def test_random_crop_shifts_content_within_padding():
    x, p = _images(64), 4
    t = ImageTransform.preset("cifar10", "crop", p)
    y = t(x, True, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == torch.float32
    offsets = set()
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                if torch.equal(y[i], t(_shift(x[i], dy, dx, p)[None], False)[0])]
        assert len(hits) == 1, f"image {i}: not a shift of its input within {p} pixels"
        offsets.add(hits[0])
    assert len(offsets) > 20   # offsets are drawn per image, not per batch


def test_random_flip_per_image():
    x = _images(64)
    t = ImageTransform.preset("half", "flip")
    y, plain = t(x, True, torch.Generator().manual_seed(0)), t(x, False)
    flipped = [torch.equal(y[i], plain[i].flip(-1)) for i in range(len(x))]
    kept = [torch.equal(y[i], plain[i]) for i in range(len(x))]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 16 < sum(flipped) < 48   # p = 0.5 over 64 images


def test_augmentation_only_in_training_and_seeded():
    x = _images(32)
    t = ImageTransform.preset("cifar10", "crop_flip", 4)
    plain = ImageTransform.preset("cifar10")(x)
    assert torch.equal(t(x, False, torch.Generator().manual_seed(5)), plain)
    a = t(x, True, torch.Generator().manual_seed(5))
    b = t(x, True, torch.Generator().manual_seed(5))
    c = t(x, True, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, plain)
    assert t(x, True, None).shape == x.shape   # the global generator when none is given
    again = pickle.loads(pickle.dumps(t))     # travels to worker processes
    assert torch.equal(again(x, True, torch.Generator().manual_seed(5)), a)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_augmentation_same_on_cpu_and_cuda():
    x = _images(32)
    t = ImageTransform.preset("cifar10", "crop_flip", 4)
    cpu = t(x, True, torch.Generator().manual_seed(7))
    gpu = t(x.cuda(), True, torch.Generator().manual_seed(7))
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu)


def test_transform_rejects_bad_names():
    with pytest.raises(ValueError, match="none, crop, flip, crop_flip"):
        ImageTransform([0.5] * 3, [0.5] * 3, "mixup")
    with pytest.raises(ValueError, match="padding"):
        ImageTransform([0.5] * 3, [0.5] * 3, "crop", -1)
