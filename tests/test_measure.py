"""Params, MACs and FLOPs (nnstudy.measure.flops) against PyTorch, closed formulas and hand counts."""
import json
import math

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.flop_counter import FlopCounterMode

from nnstudy.measure import CONVENTIONS, summarize
from nnstudy.models import MODELS, build_model, count_params


def _default_shape(name):
    return MODELS.get(name).signature.parameters["input_shape"].default


def _leaf_rows(summary):
    return [r for r in summary.rows if not r.container]


# --- the zoo -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS.names())
def test_params_of_every_zoo_model(name):
    model = build_model(name)
    summary = summarize(model, _default_shape(name))
    assert summary.total_params == count_params(model)
    assert sum(r.params for r in _leaf_rows(summary)) == summary.total_params


# FlopCounterMode counts conv, mm, addmm and bmm at 2 FLOPs per MAC, nothing element-wise: our MACs, exactly.
CONV_LINEAR_MODELS = [("mlp2", {}), ("mlp3", {}), ("mlp4", {}), ("mlp5", {}),
                      ("tutorial_cnn", {"conv_layers": 1}), ("tutorial_cnn", {"conv_layers": 2}),
                      ("tutorial_cnn", {"conv_layers": 3}), ("tutorial_cnn", {"width": 2}),
                      ("alexnet", {}), ("resnet18", {}), ("resnet34", {}), ("resnet50", {}), ("d2l_resnet", {})]


@pytest.mark.parametrize("name,kwargs", CONV_LINEAR_MODELS)
def test_macs_equal_flop_counter_mode(name, kwargs):
    model = build_model(name, **kwargs).eval()
    shape = _default_shape(name)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *shape))
    summary = summarize(model, shape)
    assert 2 * summary.total_macs == counter.get_total_flops()
    assert summary.total_flops == 2 * summary.total_macs
    assert summary.total_detailed > summary.total_flops  # activations, pools, BN are added on top


# Recorded per-sample totals (docs/measurement.md): (params, MACs, detailed FLOPs).
RECORDED = {"tutorial_cnn": (62_006, 651_720, 1_314_676), "resnet18": (11_173_962, 140_186_624, 281_161_728),
            "d2l_resnet": (4_978_378, 83_563_520, 167_786_496)}


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_totals(name):
    s = summarize(build_model(name), _default_shape(name))
    assert (s.total_params, s.total_macs, s.total_detailed) == RECORDED[name]


def test_resnet18_summary():
    summary = summarize(build_model("resnet18"), (3, 32, 32))
    assert summary.total_params == 11_173_962
    # The residual additions `out + identity` run in BasicBlock.forward: one add per output element, detailed only.
    adds = [r for r in summary.rows if r.name == "layer1.0 (functional)"]
    assert adds and adds[0].type == "add" and adds[0].detailed == 64 * 16 * 16 and adds[0].macs == 0
    # A ReLU module shared by two calls in a block counts both.
    relu = next(r for r in summary.rows if r.name == "layer1.0.relu")
    assert relu.calls == 2 and relu.detailed == 2 * 64 * 16 * 16
    # Container rows carry the totals of their subtree.
    layer1 = next(r for r in summary.rows if r.name == "layer1")
    inside = [r for r in _leaf_rows(summary) if r.name.startswith("layer1.")]
    assert layer1.container and layer1.depth == 0
    for key in ("params", "macs", "detailed"):
        assert getattr(layer1, key) == sum(getattr(r, key) for r in inside)


def _conv_pool_rows(summary):
    return [r for r in summary.rows if r.kernel is not None and isinstance(r.padding, tuple)]


@pytest.mark.parametrize("name,kwargs", [("tutorial_cnn", {}), ("tutorial_cnn", {"conv_layers": 3}),
                                         ("alexnet", {}), ("resnet18", {}), ("cnn1d", {})])
def test_output_sizes_follow_the_rule(name, kwargs):
    summary = summarize(build_model(name, **kwargs), _default_shape(name))
    rows = _conv_pool_rows(summary)
    assert rows
    for r in rows:
        n = len(r.kernel)
        for n_in, n_out, k, s, p in zip(r.input_shape[-n:], r.output_shape[-n:], r.kernel, r.stride, r.padding):
            assert n_out == math.floor((n_in + 2 * p - k) / s) + 1, r  # N_out = ⌊(N_in + 2p − k)/s⌋ + 1


def test_tutorial_cnn_sizes():
    rows = _conv_pool_rows(summarize(build_model("tutorial_cnn"), (3, 32, 32)))
    assert [r.output_shape[-1] for r in rows] == [28, 14, 10, 5]  # 32 → 28 → 14 → 10 → 5


# --- SPEC F: the seizure models (built here; same layers as the zoo's) -----------------------------------------

def test_seizure_mlp_matches_the_write_up():
    model = nn.Sequential(nn.Linear(178, 16), nn.Sigmoid(), nn.Linear(16, 5))
    s = summarize(model, (178,))
    assert s.total_params == 2_949
    assert s.total_macs == 2_928 == 178 * 16 + 16 * 5
    assert s.total_flops == 5_856
    assert s.totals("detailed") == 5_904 == 2 * 2_928 + 16 * 3  # 16 sigmoids × 3 ops (exp, add, divide)


def _seizure_cnn():
    return nn.Sequential(nn.Conv1d(1, 6, 5), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool1d(2), nn.Flatten(), nn.Linear(656, 128), nn.ReLU(), nn.Linear(128, 5))


def test_seizure_cnn_by_hand():
    s = summarize(_seizure_cnn(), (1, 178))
    assert s.total_params == 85_273
    conv1 = 6 * 174 * 5          # 6 filters × 174 positions × 5 taps of 1 input channel
    conv2 = 16 * 83 * (6 * 5)    # 16 filters × 83 positions × (6 input channels × 5 taps)
    fc1, fc2 = 656 * 128, 128 * 5
    assert (conv1, conv2, fc1, fc2) == (5_220, 39_840, 83_968, 640)
    assert s.total_macs == conv1 + conv2 + fc1 + fc2 == 129_668
    assert s.total_flops == 259_336
    # ReLU: 1 compare per output element (6·174, 16·83, 128); max-pool 2: 1 compare per output (6·87, 16·41).
    elementwise = 6 * 174 + 16 * 83 + 128 + 6 * 87 + 16 * 41
    assert s.total_detailed == 259_336 + elementwise == 263_014
    # The write-up's 194,264 = ours − conv2's 5 missing input channels − ReLUs counted once per filter.
    assert s.total_detailed - 2 * 16 * 83 * 5 * 5 - (6 * 174 - 6) - (16 * 83 - 16) == 194_264
    assert [r.output_shape for r in s.rows[:6]] == [(6, 174), (6, 174), (6, 87), (16, 83), (16, 83), (16, 41)]


class _LastStep(nn.Module):
    """GRU over (B, T) as T steps of one feature; the last step's output → Linear."""

    def __init__(self, cell=nn.GRU, hidden=16, classes=5):
        super().__init__()
        self.rnn = cell(1, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        out, _ = self.rnn(x.unsqueeze(-1))
        return self.fc(out[:, -1])


def test_seizure_gru():
    s = summarize(_LastStep(), (178,))
    assert s.total_params == 997
    assert s.total_macs == 178 * 3 * 16 * (1 + 16) + 16 * 5 == 145_328
    # GRU element-wise per step: 17 per hidden unit (2 sigmoids, tanh, gate products and the update).
    assert s.total_detailed == 2 * 145_328 + 178 * 17 * 16


# --- recurrent layers against the closed forms -------------------------------------------------------------------

GATES = {nn.RNN: 1, nn.LSTM: 4, nn.GRU: 3}
ELEMENTWISE_PER_UNIT = {nn.RNN: 5, nn.LSTM: 23, nn.GRU: 17}  # tanh; LSTM and GRU as documented


def _closed_form(cell, input_size, hidden, layers, directions):
    """MACs and element-wise ops of one time step of one sequence, all layers and directions."""
    macs = elementwise = 0
    for layer in range(layers):
        i = input_size if layer == 0 else hidden * directions
        macs += directions * GATES[cell] * hidden * (i + hidden)
        elementwise += directions * ELEMENTWISE_PER_UNIT[cell] * hidden
    return macs, elementwise


@pytest.mark.parametrize("cell", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_closed_form(cell, layers, bidirectional, batch_first):
    steps, batch, input_size, hidden = 7, 3, 5, 6
    rnn = cell(input_size, hidden, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    x = torch.zeros(batch, steps, input_size) if batch_first else torch.zeros(steps, batch, input_size)
    s = summarize(rnn, inputs=x, batch_size=batch)
    macs, elementwise = _closed_form(cell, input_size, hidden, layers, 2 if bidirectional else 1)
    assert s.total_macs == steps * macs
    assert s.total_detailed == steps * (2 * macs + elementwise)
    assert s.total_params == count_params(rnn)
    assert s.rows[0].output_shape == (steps, hidden * (2 if bidirectional else 1))


@pytest.mark.filterwarnings("ignore:LSTM with projections")
def test_lstm_projection():
    steps, i, h, p = 4, 3, 8, 5
    s = summarize(nn.LSTM(i, h, num_layers=2, proj_size=p), inputs=torch.zeros(steps, 1, i), batch_size=1)
    # W_hh reads the projected state (P), then W_hr projects H → P; layer 2 reads P.
    assert s.total_macs == steps * ((4 * h * (i + p) + p * h) + (4 * h * (p + p) + p * h))


def test_packed_sequence_counts_real_steps_only():
    lengths, input_size, hidden = [6, 4, 1], 2, 5
    x = torch.zeros(3, 6, input_size)
    for cell in (nn.RNN, nn.LSTM, nn.GRU):
        rnn = cell(input_size, hidden, batch_first=True)
        packed = pack_padded_sequence(x, lengths, batch_first=True)
        s = summarize(rnn, inputs=packed)
        macs = GATES[cell] * hidden * (input_size + hidden)
        assert s.batch_size == 3 and s.input_shape == (6, input_size)
        assert s.total_macs == sum(lengths) * macs / 3  # 11 real steps of 18 padded, per sample
        padded = summarize(rnn, inputs=x)
        assert padded.total_macs == 6 * macs


@pytest.mark.parametrize("cell,gates", [(nn.RNNCell, 1), (nn.LSTMCell, 4), (nn.GRUCell, 3)])
def test_recurrent_cells(cell, gates):
    s = summarize(cell(4, 7), (4,), batch_size=2)
    assert s.total_macs == gates * 7 * (4 + 7)


# --- attention and functional ops ----------------------------------------------------------------------------

class _SelfAttention(nn.Module):
    """Single-head self-attention with the matmuls written in forward (no counted layer runs them)."""

    def __init__(self, d):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return torch.softmax(scores, dim=-1) @ v


def test_custom_attention_matmuls_are_counted():
    length, d = 5, 8
    model = nn.Sequential(_SelfAttention(d), nn.Linear(d, 2))
    s = summarize(model, (length, d), batch_size=3)
    functional = next(r for r in s.rows if r.name == "0 (functional)")
    assert functional.macs == 2 * length * length * d  # QKᵀ and scores × V
    assert "bmm" in functional.type
    # div by √d (1 per score) and softmax (3 per score)
    assert functional.detailed == 2 * functional.macs + length * length * (1 + 3)
    assert s.total_macs == 3 * length * d * d + 2 * length * length * d + length * d * 2


def test_multihead_attention_formula():
    length, source, e, heads = 4, 6, 8, 2
    mha = nn.MultiheadAttention(e, heads, batch_first=True)
    q, kv = torch.zeros(2, length, e), torch.zeros(2, source, e)
    s = summarize(mha, inputs=(q, kv, kv))
    assert s.total_macs == 2 * length * e * e + 2 * source * e * e + 2 * length * source * e
    assert s.total_params == count_params(mha)


def test_scaled_dot_product_attention_is_counted():
    class Sdpa(nn.Module):
        def forward(self, x):
            return nn.functional.scaled_dot_product_attention(x, x, x)

    s = summarize(Sdpa(), (2, 5, 8))  # heads × L × E
    assert s.total_macs == 2 * 2 * 5 * 5 * 8


# --- element-wise costs and the API ------------------------------------------------------------------------------

def test_pool_costs():
    # max pool 3×3: 8 compares per output; avg pool 2×2: 3 adds + 1 divide per output
    s = summarize(nn.MaxPool2d(3, stride=2, padding=1), (2, 8, 8))
    assert s.total_detailed == 2 * 4 * 4 * 8
    s = summarize(nn.AvgPool2d(2), (2, 8, 8))
    assert s.total_detailed == 2 * 4 * 4 * 4
    # adaptive 5 → 3: windows [0,2), [1,4), [3,5) of 2, 3, 2 elements: 7 per channel (avg), 7 − 3 (max)
    assert summarize(nn.AdaptiveAvgPool1d(3), (2, 5)).total_detailed == 2 * 7
    assert summarize(nn.AdaptiveMaxPool1d(3), (2, 5)).total_detailed == 2 * 4
    row = summarize(nn.AdaptiveAvgPool2d(1), (3, 4, 4)).rows[0]
    assert row.kernel == (4, 4) and row.detailed == 3 * 16


def test_per_sample_and_training_flags():
    model = build_model("tutorial_cnn")
    model.train()
    model.classifier.eval()  # a mixed state must come back as it was
    one = summarize(model, (3, 32, 32))
    four = summarize(model, (3, 32, 32), batch_size=4)
    assert model.training and model.features.training and not model.classifier.training
    for convention in ("params", *CONVENTIONS):
        assert one.totals(convention) == four.totals(convention)
    assert [r.output_shape for r in one.rows] == [r.output_shape for r in four.rows]


def test_tied_parameters_count_once():
    emb = nn.Embedding(10, 4)
    head = nn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    model = nn.Sequential(emb, head)
    s = summarize(model, inputs=torch.zeros(2, 3, dtype=torch.long))
    assert s.total_params == count_params(model) == 40
    assert s.total_macs == 3 * 4 * 10  # the lookup is free; the head is 3 rows × 4 × 10


def test_to_dict_and_dataframe():
    s = summarize(build_model("tutorial_cnn"), (3, 32, 32))
    d = json.loads(json.dumps(s.to_dict()))
    assert set(d) >= {"model", "input_shape", "batch_size", "conventions", "totals", "rows"}
    assert d["totals"] == {"params": 62_006, "macs": s.total_macs, "flops": s.total_flops,
                           "detailed": s.total_detailed}
    assert d["rows"][0]["name"] == "features" and d["rows"][0]["container"]
    assert d["rows"][1]["output_shape"] == [6, 28, 28] and d["rows"][1]["kernel"] == [5, 5]
    df = s.to_dataframe()
    assert len(df) == len(s.rows)
    assert df.loc[~df.container, "macs"].sum() == s.total_macs
    with pytest.raises(ValueError, match="convention"):
        s.totals("gflops")
    with pytest.raises(ValueError, match="exactly one"):
        summarize(nn.Linear(2, 2))


def test_environment_records_the_cpu_id():
    from nnstudy.measure.environment import cpu_id, environment
    assert environment()["cpu_id"] == cpu_id()
    assert cpu_id({"vendor_id": "GenuineIntel", "cpu family": "6", "model": "207"}) == \
        "GenuineIntel family 6 model 207"
    assert cpu_id({"vendor_id": "GenuineIntel"}) is None        # where /proc/cpuinfo does not say
