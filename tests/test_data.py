"""Data layer: the CIFAR-10 reader and its safety, and the download/import store (splits and transforms:
test_splits_transforms.py)."""
from __future__ import annotations

import hashlib
import http.server
import io
import os
import pickle
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import platformdirs
import pytest
import torch

from nnstudy.data import build_dataset, store
from nnstudy.data import cifar10 as c10
from nnstudy.data.base import Dataset
from nnstudy.errors import DataError

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()   # the development data beside the repository, never /work itself


# --------------------------------------------------------------------------------------------- fixtures

class _Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 strings (BINSTRING), as the Toronto files do, instead of Python 3's
    protocol-2 ``_codecs.encode(...)`` call, which the restricted unpickler refuses."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj if n < 256
                   else pickle.BINSTRING + n.to_bytes(4, "little") + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_bytes


def _py2_dumps(obj: object) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _batch_pickle(images: np.ndarray, labels: list[int], *, py2: bool = True) -> bytes:
    """A batch file like the canonical ones: a dict with data (N×3072 uint8), labels, filenames, batch_label.

    py2: Python 2 style (protocol 2, byte-string keys, as the originals); else Python 3 protocol 4, str keys.
    """
    k = (lambda s: s.encode()) if py2 else (lambda s: s)
    record = {k("batch_label"): k("fake batch"), k("labels"): labels,
              k("data"): images.reshape(len(images), -1),
              k("filenames"): [k(f"img_{i}.png") for i in range(len(images))]}
    return _py2_dumps(record) if py2 else pickle.dumps(record, protocol=4)


def make_layout(root: Path, per_class: tuple[int, int] = (3, 2), seed: int = 0) -> dict:
    """Write a tiny canonical layout under root/cifar-10-batches-py; return EXPECTED-style checksums."""
    rng = np.random.default_rng(seed)
    folder = root / c10.FOLDER
    folder.mkdir(parents=True)
    expected = {}
    for i, name in enumerate((*c10.TRAIN_BATCHES, c10.TEST_BATCH)):
        n = per_class[1] if name == c10.TEST_BATCH else per_class[0]
        labels = rng.permutation(np.repeat(np.arange(10), n)).tolist()
        images = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
        raw = _batch_pickle(images, labels, py2=i % 2 == 0)   # both pickle styles must load
        (folder / name).write_bytes(raw)
        expected[name] = (len(labels), hashlib.sha256(images.tobytes()).hexdigest(),
                          hashlib.sha256(np.asarray(labels, np.uint8).tobytes()).hexdigest())
    meta = {b"num_cases_per_batch": 10000, b"label_names": [s.encode() for s in c10.CLASSES], b"num_vis": 3072}
    (folder / c10.META).write_bytes(_py2_dumps(meta))
    return expected


def make_tarball(root: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(root / c10.FOLDER, arcname=c10.FOLDER)
    return out


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A tiny CIFAR-10 copy (folder and tar.gz) that the checksum table is patched to accept."""
    src = tmp_path / "src"
    expected = make_layout(src)
    monkeypatch.setattr(c10, "EXPECTED", expected)
    tar = make_tarball(src, tmp_path / c10.ARCHIVE)
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "root"))
    return {"dir": src / c10.FOLDER, "parent": src, "tar": tar, "expected": expected, "root": tmp_path / "root"}


# ------------------------------------------------------------------------------------------------ reader

def test_sample_dataset():
    data = build_dataset("cifar10-sample")
    assert isinstance(data, Dataset)
    assert data.info.input_shape == (3, 32, 32) and data.info.num_classes == 10
    assert data.info.class_names == list(c10.CLASSES)
    assert (len(data.train), len(data.val), len(data.test)) == (1800, 200, 500)
    for split in (data.train, data.val, data.test):
        assert split.inputs.dtype == torch.uint8 and split.inputs.shape[1:] == (3, 32, 32)
        assert split.targets.dtype == torch.int64
    assert torch.bincount(data.val.targets).tolist() == [20] * 10
    assert torch.bincount(data.test.targets).tolist() == [50] * 10
    assert data.test.targets[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]   # the canonical test order


def test_reader_folder_parent_and_tarball(fake):
    a = c10.read_cifar10(fake["dir"], check=True)
    b = c10.read_cifar10(fake["parent"])
    t = c10.read_cifar10(fake["tar"], check=True)
    assert a.train_images.shape == (150, 3, 32, 32) and a.train_images.dtype == torch.uint8
    assert a.test_images.shape == (20, 3, 32, 32) and a.train_labels.dtype == torch.int64
    assert a.class_names == c10.CLASSES
    for x in (b, t):
        assert torch.equal(a.train_images, x.train_images) and torch.equal(a.test_labels, x.test_labels)
    # Rows of `data` are R, G, B planes of 32×32: image 0 of data_batch_1 is its first row reshaped.
    raw = pickle.loads((fake["dir"] / "data_batch_1").read_bytes(), encoding="bytes")
    assert torch.equal(a.train_images[0], torch.from_numpy(raw[b"data"][0].reshape(3, 32, 32)))
    assert a.checksums == fake["expected"]


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path, fake):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"data": _Evil(marker), "labels": []}, protocol=4)
    with pytest.raises(DataError, match="refused to unpickle.*system"):
        c10.load_pickle(payload, "evil.pkl")
    assert not marker.exists()
    # The same inside a batches folder: the error names the file.
    (fake["dir"] / "data_batch_4").write_bytes(payload)
    with pytest.raises(DataError, match=r"data_batch_4: refused"):
        c10.read_cifar10(fake["dir"])
    assert not marker.exists()
    # Only the numpy globals are resolved, whatever else a pickle asks for.
    with pytest.raises(DataError, match="builtins.eval"):
        c10.load_pickle(b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1q\x85R.", "evil2.pkl")


def test_missing_and_corrupt_files_name_the_path(fake, tmp_path):
    d = fake["dir"]
    raw = (d / "data_batch_2").read_bytes()
    (d / "data_batch_2").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=f"{d / 'data_batch_2'}: not a readable"):
        c10.read_cifar10(d)
    (d / "data_batch_2").unlink()
    with pytest.raises(DataError, match=f"{d / 'data_batch_2'}: missing"):
        c10.read_cifar10(d)
    with pytest.raises(DataError, match="no such file"):
        c10.read_cifar10(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds neither"):
        c10.read_cifar10(tmp_path / "empty")

    tar = fake["tar"].read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tar[: len(tar) // 2])
    with pytest.raises(DataError, match=f"{cut}: not a readable"):
        c10.read_cifar10(cut)
    partial = tmp_path / "partial.tar.gz"
    with tarfile.open(partial, "w:gz") as t:
        t.add(fake["dir"] / c10.META, arcname=f"{c10.FOLDER}/{c10.META}")
    with pytest.raises(DataError, match=f"{partial}: archive has no {c10.FOLDER}/data_batch_1"):
        c10.read_cifar10(partial)


def test_content_checksum_mismatch(fake):
    # Change one pixel inside the pickle: the file still loads, the data sha256 no longer matches.
    f = fake["dir"] / "data_batch_3"
    raw = bytearray(f.read_bytes())
    pixels = pickle.loads(bytes(raw), encoding="bytes")[b"data"].tobytes()
    at = bytes(raw).index(pixels[:64]) + 10
    raw[at] ^= 0xFF
    f.write_bytes(bytes(raw))
    c10.read_cifar10(fake["dir"])   # readable
    with pytest.raises(DataError, match=r"data_batch_3: pixel data sha256 mismatch \(expected [0-9a-f]{64}, got"):
        c10.read_cifar10(fake["dir"], check=True)


def test_full_dataset_from_path(fake):
    data = build_dataset("cifar10", path=str(fake["tar"]), val_fraction=0.2)
    assert (len(data.train), len(data.val), len(data.test)) == (120, 30, 20)
    assert data.source.endswith(c10.ARCHIVE)


def test_missing_full_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"nnstudy data fetch cifar10.*nnstudy data add cifar10 PATH"):
        build_dataset("cifar10")


# ----------------------------------------------------------------------------------------- store: local

def test_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "d"))
    assert store.data_root() == tmp_path / "d"
    assert store.dataset_dir("cifar10") == tmp_path / "d" / "cifar10"
    assert not (tmp_path / "d").exists()   # asking creates nothing
    monkeypatch.delenv("NNSTUDY_DATA")
    assert store.data_root() == Path(platformdirs.user_cache_dir("nnstudy")) / "data"
    with pytest.raises(DataError, match="did you mean 'cifar10'"):
        store.dataset_dir("cifar")


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("what", ["tar", "dir", "parent"])
def test_add_and_verify(fake, what):
    assert store.list_datasets()[0]["status"] == "missing"
    dest = store.add("cifar10", fake[what])
    assert dest == fake["root"] / "cifar10"
    assert (dest / c10.FOLDER / "data_batch_5").is_file()
    assert not any(p.name.startswith(".") for p in dest.iterdir())   # no staging folder left
    lines = store.verify("cifar10")
    assert any("data_batch_1" in line and "ok" in line for line in lines)
    entry = store.list_datasets()[0]
    assert entry["status"] == "present" and entry["sample"] == "cifar10-sample"
    # Corrupt an installed file: verify names it.
    f = dest / c10.FOLDER / "data_batch_1"
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(DataError, match=f"{f}: not a readable"):
        store.verify("cifar10")
    # Adding again replaces the broken copy.
    store.add("cifar10", fake[what])
    assert len(store.verify("cifar10")) == 8


def test_add_refuses_bad_copies_and_leaves_nothing(fake, tmp_path, monkeypatch):
    with pytest.raises(DataError, match="no such file"):
        store.add("cifar10", tmp_path / "missing.tar.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="contains neither"):
        store.add("cifar10", tmp_path / "empty")
    monkeypatch.setitem(c10.EXPECTED, "test_batch", (20, "0" * 64, "0" * 64))
    with pytest.raises(DataError, match=f"{fake['tar']}.*test_batch: pixel data sha256 mismatch"):
        store.add("cifar10", fake["tar"])
    with pytest.raises(DataError, match=f"{fake['dir']}/test_batch: pixel data sha256 mismatch"):
        store.add("cifar10", fake["dir"])
    assert _leftovers(fake["root"]) == []
    with pytest.raises(DataError, match="not installed"):
        store.verify("cifar10")


def test_add_refuses_path_traversal(fake, tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"boom"))
    with pytest.raises(DataError, match=f"{evil}: not a readable"):
        store.add("cifar10", evil)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert _leftovers(fake["root"]) == []


# -------------------------------------------------------------------------------------- store: download

class _Server:
    """A local HTTP file server with Range support that can drop a transfer half-way or ignore Range."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.drop_next: set[str] = set()      # paths whose next response stops after half the body
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []   # (path, Range header)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                if rng and not server.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if self.path in server.drop_next:
                    server.drop_next.discard(self.path)
                    self.wfile.write(body[start:start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.close_connection = True   # the socket closes with the length unmet
                    return
                self.wfile.write(body[start:])

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server():
    s = _Server()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def served(fake, server, monkeypatch):
    body = fake["tar"].read_bytes()
    server.files["/cifar-10-python.tar.gz"] = body
    monkeypatch.setattr(store, "_BACKOFF_S", (0.0, 0.0))   # no waiting between retries in tests
    return {"url": server.url("/cifar-10-python.tar.gz"), "sha": hashlib.sha256(body).hexdigest(),
            "size": len(body), "server": server, **fake}


def test_fetch_downloads_extracts_and_verifies(served):
    dest = store.fetch("cifar10", url=served["url"], sha256=served["sha"], progress=True)
    assert dest == served["root"] / "cifar10"
    assert (dest / c10.FOLDER / "test_batch").is_file()
    assert sorted(p.name for p in dest.iterdir()) == [c10.FOLDER]   # archive and .part removed
    assert len(store.verify("cifar10")) == 8
    # Already installed and valid: nothing is downloaded again.
    n = len(served["server"].requests)
    store.fetch("cifar10", url=served["url"], sha256=served["sha"], progress=False)
    assert len(served["server"].requests) == n


def test_fetch_resumes_an_interrupted_download(served, monkeypatch):
    server, path = served["server"], "/cifar-10-python.tar.gz"
    monkeypatch.setattr(store, "_ATTEMPTS", 1)
    server.drop_next.add(path)
    with pytest.raises(DataError, match="interrupted after .* again to resume"):
        store.fetch("cifar10", url=served["url"], sha256=served["sha"], progress=False)
    part = served["root"] / "cifar10" / (c10.ARCHIVE + ".part")
    half = served["size"] // 2
    assert part.stat().st_size == half
    store.fetch("cifar10", url=served["url"], sha256=served["sha"], progress=False)
    assert server.requests[-1] == (path, f"bytes={half}-")
    assert not part.exists() and len(store.verify("cifar10")) == 8


def test_fetch_retries_within_one_call(served):
    server, path = served["server"], "/cifar-10-python.tar.gz"
    server.drop_next.add(path)
    store.fetch("cifar10", url=served["url"], sha256=served["sha"], progress=False)
    assert [r for _, r in server.requests] == [None, f"bytes={served['size'] // 2}-"]


def test_fetch_restarts_when_the_server_ignores_range(served, monkeypatch):
    server = served["server"]
    monkeypatch.setattr(store, "_ATTEMPTS", 1)
    server.drop_next.add("/cifar-10-python.tar.gz")
    with pytest.raises(DataError):
        store.fetch("cifar10", url=served["url"], sha256=served["sha"], progress=False)
    server.ignore_range = True
    store.fetch("cifar10", url=served["url"], sha256=served["sha"], progress=False)
    assert len(store.verify("cifar10")) == 8


def test_fetch_wrong_checksum_leaves_nothing(served):
    wrong = "f" * 64
    with pytest.raises(DataError) as e:
        store.fetch("cifar10", url=served["url"], sha256=wrong, progress=False)
    msg = str(e.value)
    assert c10.ARCHIVE in msg and wrong in msg and served["sha"] in msg and "\n" not in msg
    assert _leftovers(served["root"]) == []


def test_fetch_http_and_network_errors(served):
    with pytest.raises(DataError, match="64 hexadecimal digits"):   # checked before downloading anything
        store.fetch("cifar10", url=served["url"], sha256="c58f30108f718f92721af3b95e74349a", progress=False)
    assert served["server"].requests == []
    with pytest.raises(DataError, match="HTTP 404"):
        store.fetch("cifar10", url=served["server"].url("/nope.tar.gz"), sha256=served["sha"], progress=False)
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match="cannot connect"):
        store.fetch("cifar10", url=f"http://127.0.0.1:{port}/x.tar.gz", sha256=served["sha"], progress=False)


# -------------------------------------------------------------------------------------- the real dataset

@pytest.mark.slow
def test_add_real_cifar10(full_cifar10, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(full_cifar10))
    lines = store.verify("cifar10")
    assert len(lines) == 8 and all("ok" in line for line in lines[1:])
    arrays = c10.read_cifar10(store.dataset_dir("cifar10"), check=True)
    assert arrays.train_images.shape == (50_000, 3, 32, 32) and arrays.test_images.shape == (10_000, 3, 32, 32)
    assert arrays.checksums == c10.EXPECTED
    assert torch.bincount(arrays.test_labels).tolist() == [1000] * 10
    data = build_dataset("cifar10", augment="crop_flip")
    assert (len(data.train), len(data.val), len(data.test)) == (45_000, 5_000, 10_000)
    assert torch.bincount(data.val.targets).tolist() == [500] * 10
    # The bundled sample is the first 200 per class of data_batch_1 and 50 per class of test_batch.
    sample = c10.load_sample()
    z = np.load(REPO / "src/nnstudy/data/samples/cifar10-sample.npz")
    assert torch.equal(sample.train_images, arrays.train_images[torch.from_numpy(z["train_indices"])])
    assert torch.equal(sample.test_images, arrays.test_images[torch.from_numpy(z["test_indices"])])
