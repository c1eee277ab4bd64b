"""The benchmarks keep working: each script run end to end at toy sizes (slow), and docs/benchmarks.md in step with
the results it is rendered from.

CI does not run the benchmarks (they take hours and want a quiet machine), so an API change can break one silently —
energy_formulations and energy_recipe_trial both went on calling `task.setup(data.info)` after the signature changed
(the second was found by this file). The smoke runs below catch that: every script, its real code path, a few
steps. Their results go to a temporary folder
(NNSTUDY_BENCHMARK_RESULTS), never over the measured ones. cifar_speedrun alone is left out: its smallest run is a
whole airbench94 recipe on the full CIFAR-10 (an hour on 2 cores); tests/test_speedrun.py covers its table.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"

# name -> (arguments for a run of seconds to a minute or two, the data it needs beyond the bundled samples,
#          whether it saves a result file at these sizes)
SMOKE: dict[str, tuple[list[str], str | None, bool]] = {
    "matmul_precision": (["--repeats", "1", "--threads", "1"], None, True),
    "precision_speed": (["--repeats", "1", "--steps", "2", "--only", "quickstart mlp3, batch 32",
                         "seizure GRU, batch 32"], None, True),
    "compile_speed": (["--repeats", "1", "--steps", "2", "--only", "quickstart mlp3, batch 32"], None, True),
    "inference": (["--models", "resnet18", "--batch", "8", "--repeats", "1", "--threads", "1"], None, True),
    "training_formats": (["--repeats", "1", "--steps", "1", "--threads", "2"], None, True),
    "study_overhead": (["--runs", "4", "--repeats", "1", "--parallel-runs", "2", "--parallel-epochs", "1"], None,
                       True),
    "ddp_speedup": (["--repeats", "1"], None, True),
    "tracking_overhead": (["--epochs", "2", "--repeats", "1"], None, True),
    "ray_overhead": (["--runs", "2", "--repeats", "1"], None, True),
    "seed_protocol": (["--steps", "20", "--repeats", "1", "--data", "cifar10-sample"], None, True),
    "engine_overhead": (["--epochs", "1", "--repeats", "1", "--data", "cifar10-sample"], None, True),
    "precision_accuracy": (["--quick", "--seeds", "0", "--recipes", "energy", "--threads", "1"], None, False),
    "seed_protocol_e2e": (["--studies", "cifar-mlp-depth", "--epochs", "1", "--subset", "200"], "cifar10", False),
    "energy_formulations": (["--steps", "1", "--cells", "gru", "--threads", "1"], "energy", True),
    "energy_recipe_trial": (["--minutes", "0.05", "--threads", "1"], "energy", False),
}


def _run_benchmark(name: str, args: list[str], results: Path, data_root: Path | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NNSTUDY_BENCHMARK_RESULTS": str(results)}
    if data_root is not None:
        env["NNSTUDY_DATA"] = str(data_root)
    return subprocess.run([sys.executable, f"benchmarks/{name}.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


def _measured() -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in (BENCHMARKS / "results").rglob("*.json")}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMOKE))
def test_benchmark_runs_at_toy_size(name, tmp_path, request, monkeypatch):
    args, data, saves = SMOKE[name]
    data_root = {None: None, "cifar10": "full_cifar10", "energy": "full_energy"}[data]
    root = request.getfixturevalue(data_root) if data_root else None
    before = _measured()
    done = _run_benchmark(name, args, tmp_path / "results", root)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    # a table, or (the recipe trial) the final scores as JSON
    printed = '"final"' if name == "energy_recipe_trial" else "|"
    assert printed in done.stdout, f"{name} printed no results:\n{done.stdout[-2000:]}"
    saved = sorted((tmp_path / "results").rglob("*.json"))
    if saves:
        assert [p.parent.name for p in saved] == [name]
        result = json.loads(saved[0].read_text())
        # what every result must carry to be re-run and placed: the command, the machine type and its features
        assert result["command"].startswith(f"python benchmarks/{name}.py")
        assert result["machine_type"] and "cpu_features" in result and "cpu_id" in result and result["torch"]
        monkeypatch.syspath_prepend(str(BENCHMARKS))
        assert "|" in importlib.import_module(name).markdown(result)
    else:
        assert saved == [], f"{name} saved a toy-sized result: {saved}"
    assert _measured() == before, "a smoke run touched benchmarks/results"


@pytest.mark.slow
def test_precision_speed_redecides_from_saved_times(tmp_path):
    """`--redecide` times nothing: it decides auto's column again from the times a first run saved."""
    results = tmp_path / "results"
    args = SMOKE["precision_speed"][0]
    assert _run_benchmark("precision_speed", args, results, None).returncode == 0
    first = json.loads(next(results.rglob("*.json")).read_text())
    done = _run_benchmark("precision_speed", ["--redecide"], results, None)
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads(next(results.rglob("*.json")).read_text())
    assert [r["recipe"] for r in again["rows"]] == [r["recipe"] for r in first["rows"]]
    assert [r["fp32_ms"] for r in again["rows"]] == [r["fp32_ms"] for r in first["rows"]]
    assert again["auto_command"] == "python benchmarks/precision_speed.py --redecide"


def test_every_benchmark_is_smoke_tested_or_excused():
    scripts = {p.stem for p in BENCHMARKS.glob("*.py") if not p.stem.startswith("_") and p.stem != "run"}
    assert scripts - set(SMOKE) == {"cifar_speedrun"}
    assert set(SMOKE) <= scripts


def test_benchmarks_doc_is_rendered_from_the_results(monkeypatch):
    """docs/benchmarks.md is what `python benchmarks/run.py --docs-only` makes of benchmarks/results and the notes:
    a result or note committed without re-rendering the doc fails here."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import run
    doc = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert run.render() + "\n" == doc, "docs/benchmarks.md is stale: run `python benchmarks/run.py --docs-only`"


@pytest.fixture
def common(monkeypatch, tmp_path):
    """benchmarks/_common with its results in tmp_path and a Zen 5 as the CPU."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import _common
    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    monkeypatch.setattr(_common, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    monkeypatch.setattr(_common, "cpu_model", lambda: "AMD EPYC")
    monkeypatch.setattr(_common, "cpuinfo", lambda: {"vendor_id": "AuthenticAMD", "cpu family": "26",
                                                     "model": "2", "model name": "AMD EPYC"})
    return _common


def _measured_on(results: Path, cpu: str | None, name: str = "inference") -> None:
    path = results / name / "amd-epyc-avx-512-bf16.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"machine_type": "AMD EPYC, AVX-512 BF16", **({"cpu_id": cpu} if cpu else {})}))


def test_machine_type_is_the_model_name_and_instruction_set(common):
    m = common.machine()
    assert m["machine_type"] == "AMD EPYC, AVX-512 BF16"
    assert m["cpu_id"] == "AuthenticAMD family 26 model 2"
    assert common.result_path("inference").name == "amd-epyc-avx-512-bf16.json"


@pytest.mark.parametrize("recorded, qualified", [
    ("AuthenticAMD family 26 model 2", False),    # the same CPU again: its own tables
    (None, False),                                # results from before cpu_id was recorded: nothing to tell apart
    ("AuthenticAMD family 25 model 17", True),    # a Zen 4 measured under the same name: this Zen 5 gets its own
])
def test_another_cpu_under_the_same_name_gets_its_own_type(common, tmp_path, recorded, qualified):
    _measured_on(tmp_path, recorded)
    kind = common.machine()["machine_type"]
    if qualified:
        assert kind == "AMD EPYC, AVX-512 BF16 (AuthenticAMD family 26 model 2)"
        # every benchmark of this CPU goes to the qualified file, also those the other CPU never ran
        assert common.result_path("seed_protocol").name == "amd-epyc-avx-512-bf16-authenticamd-family-26-model-2.json"
    else:
        assert kind == "AMD EPYC, AVX-512 BF16"


def test_cpu_id_is_none_where_cpuinfo_does_not_say(common, monkeypatch, tmp_path):
    monkeypatch.setattr(common, "cpuinfo", lambda: {})
    _measured_on(tmp_path, "AuthenticAMD family 25 model 17")
    m = common.machine()
    assert m["cpu_id"] is None and m["machine_type"] == "AMD EPYC, AVX-512 BF16"
