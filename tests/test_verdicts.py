"""Verdict statistics (study/verdicts.py): hand-checked against scipy and statsmodels on fixed inputs, and error
rates and power by simulation (`pytest tests/test_verdicts.py -k simulation -s` prints the rates that
docs/verdicts.md quotes). statsmodels, the reference for corrections, TOST and power, is a test dependency only."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from nnstudy.study import power
from nnstudy.study import sequential as sq
from nnstudy.study import verdicts as v

ALPHA = 0.05
# Test accuracy over 5 seeds of a variant and its baseline, seed by seed (the same split per seed).
X = np.array([0.6112, 0.6290, 0.6034, 0.6417, 0.6188])
Y = np.array([0.6051, 0.6183, 0.5987, 0.6219, 0.6120])
# Two groups of other sizes, for the unpaired tests.
A = np.array([93.07, 92.81, 93.40, 92.95, 93.22, 93.11])
B = np.array([92.64, 92.99, 92.51, 92.87])


def _mcse(rate: float, n: int) -> float:
    return math.sqrt(rate * (1 - rate) / n)


# ------------------------------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("alpha", [0.05, 0.1])
@pytest.mark.parametrize("x, y", [(X, Y), (Y, X), (X, X + [0.01, -0.02, 0.03, 0.0, 0.01])])
def test_paired_t_is_scipy_ttest_rel(x, y, alpha):
    c = v.paired_t(x, y, alpha)
    ref = stats.ttest_rel(x, y)
    ci = ref.confidence_interval(confidence_level=1 - alpha)
    assert c.test == "paired t-test" and (c.nx, c.ny, c.df) == (5, 5, 4)
    np.testing.assert_allclose([c.diff, c.p_value, c.statistic, c.ci_low, c.ci_high],
                               [np.mean(x - y), ref.pvalue, ref.statistic, ci.low, ci.high], rtol=1e-12)


def test_paired_t_drops_unfinished_pairs_and_refuses_misaligned_seeds():
    x, y = np.append(X, np.nan), np.append(Y, 0.7)
    assert v.paired_t(x, y) == v.paired_t(X, Y)
    with pytest.raises(ValueError, match="aligned by seed"):
        v.paired_t(X, Y[:4])


def test_paired_t_without_spread_states_the_difference():
    assert v.paired_t(X, X).p_value == 1.0                      # no difference on any seed
    c = v.paired_t(X, X - 0.0021)                               # the same difference on every seed, up to rounding
    assert math.isnan(c.p_value) and c.note == v.NO_SPREAD_PAIRED and c.ci_low == c.ci_high == c.diff
    assert v.verdict(c, "max")["verdict"] == f"better ({v.NO_SPREAD_PAIRED})"
    assert v.paired_t(X[:1], Y[:1]).note == v.NOT_ENOUGH_SEEDS


@pytest.mark.parametrize("x, y", [(A, B), (X, Y), (B, A)])
def test_welch_t_is_scipy_ttest_ind(x, y):
    c = v.welch_t(x, y)
    ref = stats.ttest_ind(x, y, equal_var=False)
    ci = ref.confidence_interval(confidence_level=0.95)
    assert c.test == "Welch's t-test" and (c.nx, c.ny) == (len(x), len(y))
    np.testing.assert_allclose([c.p_value, c.statistic, c.df, c.ci_low, c.ci_high],
                               [ref.pvalue, ref.statistic, ref.df, ci.low, ci.high], rtol=1e-12)


def test_welch_t_edge_cases_keep_the_numbers_of_the_welch_verdicts():
    """Fixed values of results.compare (the Welch verdicts before this module): a constant side has no variance,
    constant equal sides are p = 1, constant unequal sides are not tested."""
    c = v.welch_t([0.5, 0.5, 0.5], [0.4, 0.45, 0.42])
    se = np.std([0.4, 0.45, 0.42], ddof=1) / math.sqrt(3)
    assert c.df == pytest.approx(2) and c.p_value == pytest.approx(2 * stats.t.sf((0.5 - 0.42333333) / se, 2), 1e-6)
    same = v.welch_t([0.1 + 0.2] * 3, [0.3] * 3)
    assert (same.diff, same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    apart = v.welch_t([0.5] * 3, [0.4] * 2)
    assert math.isnan(apart.p_value) and apart.note == v.NO_SPREAD and apart.ci_low == apart.ci_high == apart.diff
    assert v.verdict(apart, "min")["verdict"] == f"worse ({v.NO_SPREAD})"
    assert v.welch_t([0.5], B).note == v.NOT_ENOUGH_SEEDS
    assert v.welch_t(np.append(A, np.nan), B) == v.welch_t(A, B)


def test_wilcoxon_is_scipy_with_an_exact_hodges_lehmann_interval():
    rng = np.random.default_rng(0)
    d = rng.normal(0.4, 0.5, size=9)
    c = v.wilcoxon(d, np.zeros(9))
    assert c.p_value == stats.wilcoxon(d).pvalue
    i, j = np.triu_indices(9)
    assert c.diff == pytest.approx(np.median((d[i] + d[j]) / 2))
    # The interval inverts the exact test: shifts just inside are not rejected at α, shifts just outside are.
    for edge, inward in ((c.ci_low, 1e-9), (c.ci_high, -1e-9)):
        assert stats.wilcoxon(d - (edge + inward), method="exact").pvalue > ALPHA
        assert stats.wilcoxon(d - (edge - inward), method="exact").pvalue <= ALPHA


def test_wilcoxon_needs_six_seeds_at_alpha_005():
    assert v.wilcoxon_min_n(0.05) == 6 and v.wilcoxon_min_n(0.01) == 8
    five = v.wilcoxon(X, Y)                     # all 5 differences positive: the smallest p there is
    assert five.p_value == pytest.approx(1 / 16) and math.isnan(five.ci_low)
    six = v.wilcoxon(np.append(X, 0.7), np.append(Y, 0.6))
    assert six.p_value == pytest.approx(1 / 32) and six.ci_low == pytest.approx(min(X - Y))


def test_choose_test_says_why():
    assert v.choose_test(True, 5) == v.ChosenTest(
        "paired_t", "paired t-test on the 5 per-seed differences: variant and baseline share seeds and splits")
    assert v.choose_test(False, 5).test == "welch_t"
    assert v.choose_test(True, 8, "wilcoxon").test == "wilcoxon"
    fallback = v.choose_test(True, 5, "wilcoxon")
    assert fallback.test == "paired_t" and "fewer than 6 seeds" in fallback.reason
    assert v.choose_test(False, 8, "wilcoxon").test == "welch_t"
    with pytest.raises(ValueError, match="'t' or 'wilcoxon'"):
        v.choose_test(True, 5, "mannwhitney")


@pytest.mark.parametrize("method, sm_method", [("holm", "holm"), ("bh", "fdr_bh"), ("bonferroni", "bonferroni")])
def test_adjust_is_statsmodels_multipletests(method, sm_method):
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(1)
    families = [np.array([0.01, 0.04, 0.03, 0.2, 0.005]), np.array([0.03, 0.03, 0.03, 0.5, 1.0, 0.001]),
                np.array([0.04]), rng.uniform(size=12), rng.uniform(0, 0.05, size=7)]
    for p in families:
        np.testing.assert_array_equal(v.adjust(p, method), multitest.multipletests(p, method=sm_method)[1])
    # NaNs stay NaN and are not counted in the family; rows of a 2-D array are families of their own.
    p = np.array([[0.01, np.nan, 0.04, 0.03], [np.nan, 0.2, np.nan, 0.001]])
    out = v.adjust(p, method)
    for row, adj in zip(p, out):
        ok = ~np.isnan(row)
        np.testing.assert_array_equal(np.isnan(adj), ~ok)
        np.testing.assert_array_equal(adj[ok], multitest.multipletests(row[ok], method=sm_method)[1])
    np.testing.assert_array_equal(v.adjust(p, "none"), p)
    with pytest.raises(ValueError, match="unknown correction"):
        v.adjust(p, "hommel")


@pytest.mark.parametrize("margin", [0.005, 0.01, 0.02])
def test_tost_is_statsmodels_ttost(margin):
    weightstats = pytest.importorskip("statsmodels.stats.weightstats")
    paired = v.tost(X, Y, margin, paired=True)
    assert paired.p_value == pytest.approx(weightstats.ttost_paired(X, Y, -margin, margin)[0], rel=1e-10)
    ind = v.tost(A, B, margin * 100, paired=False)
    ref = weightstats.ttost_ind(A, B, -margin * 100, margin * 100, usevar="unequal")[0]
    assert ind.p_value == pytest.approx(ref, rel=1e-10)
    for e in (paired, ind):   # equivalent exactly when the (1 − 2α) interval lies inside the margin
        assert e.equivalent == (e.p_value < ALPHA) == (-e.margin < e.ci_low and e.ci_high < e.margin)


def test_tost_edge_cases():
    assert v.tost(X, X - 0.001, 0.005, paired=True).equivalent   # no spread, inside the margin
    assert not v.tost(X, X - 0.01, 0.005, paired=True).equivalent
    assert math.isnan(v.tost(X[:1], Y[:1], 0.01, paired=True).p_value)
    with pytest.raises(ValueError, match="margin"):
        v.tost(X, Y, 0.0, paired=True)


@pytest.mark.parametrize("effect", [0.3, 0.5, 0.8, 1.3, 2.0])
def test_seeds_needed_is_statsmodels_power(effect):
    power_sm = pytest.importorskip("statsmodels.stats.power")
    for paired, sm in ((True, power_sm.TTestPower()), (False, power_sm.TTestIndPower())):
        n = power.seeds_needed(effect * 0.01, 0.01, paired=paired)     # effect and spread in metric units
        assert n == math.ceil(sm.solve_power(effect_size=effect, alpha=ALPHA, power=0.8))
        assert sm.power(effect, n, ALPHA) >= 0.8 > sm.power(effect, n - 1, ALPHA)
        assert power.t_power(effect, 1.0, n, paired=paired) == pytest.approx(sm.power(effect, n, ALPHA), rel=1e-9)


def test_seeds_needed_is_none_when_there_is_nothing_to_detect():
    assert power.seeds_needed(0.0, 0.01, paired=True) is None
    assert power.seeds_needed(0.01, 0.0, paired=True) is None
    assert power.seeds_needed(0.01, math.nan, paired=False) is None
    assert power.seeds_needed(0.001, 1.0, paired=True, max_n=100) is None   # more than max_n
    assert power.seeds_needed_equivalence(0.01, 0.01, paired=True, true_diff=0.02) is None


@pytest.mark.parametrize("paired, n, true_diff", [(True, 6, 0.0), (True, 12, 0.2), (False, 10, 0.1)])
def test_tost_power_by_simulation(paired, n, true_diff):
    """The exact TOST power against 200,000 simulated studies (normal data, sd 1, margin 0.8)."""
    rng = np.random.default_rng(2)
    reps, margin = 200_000, 0.8
    if paired:
        d = rng.normal(true_diff, 1.0, size=(reps, n))
        diff, se, df = d.mean(1), d.std(1, ddof=1) / math.sqrt(n), n - 1
    else:
        a, b = rng.normal(true_diff, 1.0, size=(reps, n)), rng.normal(0.0, 1.0, size=(reps, n))
        diff = a.mean(1) - b.mean(1)
        se, df = np.sqrt((a.var(1, ddof=1) + b.var(1, ddof=1)) / n), 2 * n - 2
    tc = stats.t.isf(ALPHA, df)
    rate = np.mean((diff - tc * se > -margin) & (diff + tc * se < margin))
    assert power.tost_power(margin, 1.0, n, paired=paired, true_diff=true_diff) == pytest.approx(
        rate, abs=4 * _mcse(rate, reps))


def test_seeds_needed_for_equivalence():
    n = power.seeds_needed_equivalence(0.5, 1.0, paired=True)
    assert power.tost_power(0.5, 1.0, n, paired=True) >= 0.8 > power.tost_power(0.5, 1.0, n - 1, paired=True)
    assert n == 36   # sd 1, margin ±0.5, true difference 0, α 0.05, 80 %


def test_at_chance():
    assert v.at_chance([0.1, 0.1, 0.1], 0.1)                        # a dead network on 10 balanced classes
    assert v.at_chance([0.1, 0.35], 0.1)                            # too noisy to tell from guessing
    assert not v.at_chance([0.60, 0.62, 0.61], 0.1)
    assert v.at_chance([0.101, 0.103, 0.102], 0.1, tolerance=0.01)  # within the tolerance of chance
    assert v.at_chance([2.31, 2.30, 2.29], math.log(10), mode="min")  # cross-entropy of guessing is ln 10
    assert not v.at_chance([1.1, 1.2], math.log(10), mode="min")
    assert not v.at_chance([], 0.5) and v.at_chance([0.5], 0.5)


def test_verdict_texts():
    c = v.paired_t(X, Y)                    # p ≈ 0.024: variant higher
    assert v.verdict(c, "max")["verdict"] == "better" and v.verdict(c, "min")["verdict"] == "worse"
    row = v.verdict(c, "max", p_adjusted=0.2)
    assert row["verdict"] == "no detectable difference with 5 seeds" and row["p_adjusted"] == 0.2
    assert v.verdict(c, "max", p_adjusted=0.2, seeds_needed=9)["verdict"] == "inconclusive: ~9 seeds would be needed"
    row = v.verdict(c, "max", p_adjusted=0.2, margin=0.01, p_equivalence=0.01, seeds_needed=9)
    assert row["verdict"] == "equivalent within ±0.01" and row["seeds_needed"] is None
    assert v.verdict(c, "max", margin=0.02, p_equivalence=0.01)["verdict"] == "better (by less than 0.02)"
    chance = v.verdict(c, "max", chance="variant")
    assert chance["verdict"] == "variant at chance level: verdicts are not meaningful here"
    assert v.verdict(v.welch_t(A, B[:1]), "max")["verdict"] == v.NOT_ENOUGH_SEEDS
    assert v.verdict(v.welch_t(A, B), "max")["verdict"] == "better"     # p ≈ 0.046
    unequal = v.verdict(v.welch_t(A, B), "max", p_adjusted=0.09)
    assert unequal["verdict"] == "no detectable difference with 6 and 4 seeds"


def test_compare_variants_is_one_family():
    rows = v.compare_variants({"wide": X, "same": Y + [0.001, -0.002, 0.0015, 0.0, -0.001], "dead": [0.1] * 5}, Y,
                              "max", paired=True, margin=0.005, chance_level=0.1)
    p = [v.paired_t(x, Y).p_value for x in (X, Y + [0.001, -0.002, 0.0015, 0.0, -0.001], [0.1] * 5)]
    np.testing.assert_allclose([r["p_adjusted"] for r in rows.values()], v.adjust(p, "holm"))
    assert rows["wide"]["verdict"] == "better"
    assert rows["same"]["verdict"] == "equivalent within ±0.005"
    assert rows["dead"]["verdict"] == "variant at chance level: verdicts are not meaningful here"
    assert rows["wide"]["reason"].startswith("paired t-test on the 5 per-seed differences")
    x = Y + [0.012, 0.0, 0.01, 0.006, 0.002]
    noisy = v.compare_variants({"v": x}, Y, "max", paired=False)["v"]
    assert noisy["verdict"] == "inconclusive: ~32 seeds would be needed" and noisy["seeds_needed"] == 32
    pooled = math.sqrt((np.var(x, ddof=1) + np.var(Y, ddof=1)) / 2)   # the spread the two-sample power takes
    assert power.seeds_needed(np.mean(x - Y), pooled, paired=False) == 32
    assert noisy["test"] == "Welch's t-test"
    with pytest.raises(ValueError, match="mode"):
        v.compare_variants({"v": X}, Y, "up", paired=True)


def test_describe():
    assert v.describe("holm", 3) == ("two-sided tests, α = 0.05; p-values Holm-adjusted over 3 comparisons "
                                     "(family-wise error ≤ 0.05); 95% confidence intervals per comparison")
    assert v.describe("none", 1, margin=0.005).endswith("(TOST) within ±0.005")
    assert "p-values not adjusted (no comparison has a p-value)" in v.describe("holm", 0)   # not "over 0 comparisons"


# ------------------------------------------------------------------------------------------------- sequential

def _normal_boundaries(frac: np.ndarray, spent: np.ndarray, step: float = 0.01) -> np.ndarray:
    """Two-sided symmetric group-sequential boundaries for a normal statistic with independent increments
    (Brownian motion on the information scale), by recursive numerical integration (Armitage, McPherson & Rowe
    1969; Jennison & Turnbull 2000, ch. 19): the reference for the spending convention, and the z-boundaries of
    the nominal-level shortcut that the simulation shows to be too lenient with few seeds."""
    norm = stats.norm
    inc = np.diff(np.concatenate([[0.0], spent]))
    bounds, grid, dens = [], None, None
    for k, t in enumerate(frac):
        if k == 0:
            c = norm.isf(inc[0] / 2)
            grid = np.linspace(-c * math.sqrt(t), c * math.sqrt(t), 2 * int(c * math.sqrt(t) / step) + 1)
            dens = norm.pdf(grid / math.sqrt(t)) / math.sqrt(t)
        else:
            sd = math.sqrt(t - frac[k - 1])
            w = np.full(len(grid), 2.0)
            w[1::2], w[0], w[-1] = 4.0, 1.0, 1.0
            fw = dens * w * (grid[1] - grid[0]) / 3   # Simpson weights
            out = lambda c: fw @ (norm.cdf((-c * math.sqrt(t) - grid) / sd) + norm.sf((c * math.sqrt(t) - grid) / sd))
            c = optimize.brentq(lambda c: out(c) - inc[k], 0.0, 40.0, xtol=1e-12)
            new = np.linspace(-c * math.sqrt(t), c * math.sqrt(t), 2 * int(c * math.sqrt(t) / step) + 1)
            dens = (norm.pdf((new[:, None] - grid[None, :]) / sd) / sd) @ fw
            grid = new
        bounds.append(c)
    return np.array(bounds)


def test_spending_function_is_rpacts_obrien_fleming_type():
    """rpact getDesignGroupSequential(kMax = 3, alpha = 0.025, typeOfDesign = "asOF")$criticalValues: a two-sided
    0.05 plan spends 0.025 per side like this one-sided design (the two-sided crossing adds < 1e-4)."""
    plan = sq.SequentialPlan(max_n=30)
    assert plan.spent(30) == ALPHA and plan.spent(15) == pytest.approx(4 * stats.norm.sf(stats.norm.isf(0.0125)
                                                                                          / math.sqrt(0.5)))
    z = _normal_boundaries(np.array([1, 2, 3]) / 3, np.array([plan.spent(n) for n in (10, 20, 30)]))
    np.testing.assert_allclose(z, [3.7103, 2.5114, 1.9930], atol=2e-4)


def test_sequential_boundaries():
    plan = sq.SequentialPlan(max_n=10)
    one = plan.boundaries([10])                   # a single look at max_n is the ordinary paired t-test
    assert one[0] == pytest.approx(stats.t.isf(ALPHA / 2, 9), abs=0.01)
    full = plan.boundaries(range(3, 11))
    np.testing.assert_array_equal(plan.boundaries(range(3, 7)), full[:4])   # later looks do not move earlier ones
    assert np.all(np.diff(plan.nominal_levels(range(3, 11))) > 0)           # nearly all α is kept for the end
    assert plan.nominal_levels(range(3, 11))[0] < 1e-4
    with pytest.raises(ValueError, match="increasing"):
        plan.boundaries([4, 3])
    with pytest.raises(ValueError, match="increasing"):
        plan.boundaries([3, 11])


def test_sequential_decide():
    plan = sq.SequentialPlan(max_n=10)
    rng = np.random.default_rng(3)
    base = rng.normal(0.6, 0.02, size=10)
    far = base + 0.05 + rng.normal(0, 0.002, size=10)
    step = plan.decide(far[:4], base[:4], "max", looks_before=[3])
    assert step.decision == "better" and step.n == 4 and abs(step.statistic) >= step.boundary
    assert plan.decide(far[:4], base[:4], "min", looks_before=[3]).verdict == "worse"
    near = base + rng.normal(0, 0.002, size=10)
    step = plan.decide(near[:5], base[:5], "max", looks_before=[3, 4])
    assert step.decision == "continue" and step.verdict == "undecided after 5 of up to 10 seeds: add seeds"
    assert plan.decide(near, base, "max", looks_before=range(3, 10)).verdict == "no detectable difference with 10 seeds"
    futile = sq.SequentialPlan(max_n=10, futility=0.2).decide(near[:5], base[:5], "max", looks_before=[3, 4])
    assert futile.decision == "futile" and futile.conditional_power < 0.2
    with pytest.raises(ValueError, match="at least 2 seeds"):
        plan.decide(far[:1], base[:1], "max")


# ------------------------------------------------------------------------------------------------- simulation

def _report(label: str, rate: float, n: int) -> None:
    print(f"{label}: {rate:.4f} (Monte Carlo SE {_mcse(rate, n):.4f}, {n} studies)")


def test_simulation_fixed_seeds_holm_family_wise_rate():
    """4 variants with no true difference against one baseline, 5 seeds each, sharing each seed's split: how often
    does at least one get "better"/"worse"? Paired t-test, Holm over the 4 comparisons."""
    rng = np.random.default_rng(2024)
    studies, m, n = 40_000, 4, 5
    split = rng.normal(0.0, 1.0, size=(studies, 1, n))           # what a seed's split does to every variant
    runs = split + rng.normal(0.0, 0.3, size=(studies, m + 1, n))  # row 0 is the baseline
    p = stats.ttest_rel(runs[:, 1:], runs[:, :1], axis=-1).pvalue
    holm = np.mean(np.any(v.adjust(p, "holm") < ALPHA, axis=1))
    raw = np.mean(np.any(p < ALPHA, axis=1))
    _report("fixed 5 seeds, 4 null variants, Holm: family-wise false-verdict rate", holm, studies)
    _report("fixed 5 seeds, 4 null variants, uncorrected: family-wise false-verdict rate", raw, studies)
    assert holm <= ALPHA + 3 * _mcse(ALPHA, studies)
    assert raw > 2 * ALPHA   # why the correction is there
    # The vectorised rates are those of the verdicts compare_variants gives, study by study.
    for s in range(60):
        rows = v.compare_variants({f"v{j}": runs[s, j] for j in range(1, m + 1)}, runs[s, 0], "max", paired=True)
        decided = [r["verdict"] in ("better", "worse") for r in rows.values()]
        assert decided == list(v.adjust(p[s], "holm") < ALPHA)


def test_simulation_paired_beats_welch_when_seeds_share_splits():
    """A true difference of 0.5 under a per-seed split effect of sd 1 (run noise sd 0.3), 5 seeds: the paired test
    sees through the split effect, Welch's does not."""
    rng = np.random.default_rng(7)
    studies, n = 20_000, 5
    split = rng.normal(0.0, 1.0, size=(studies, n))
    base = split + rng.normal(0.0, 0.3, size=(studies, n))
    var = split + 0.5 + rng.normal(0.0, 0.3, size=(studies, n))
    paired = np.mean(stats.ttest_rel(var, base, axis=1).pvalue < ALPHA)
    welch = np.mean(stats.ttest_ind(var, base, axis=1, equal_var=False).pvalue < ALPHA)
    _report("power, paired t-test (difference 0.5, split sd 1, noise sd 0.3, 5 seeds)", paired, studies)
    _report("power, Welch's t-test (same studies)", welch, studies)
    assert paired - welch > 0.4


def _sequential_t(d: np.ndarray, looks: range) -> np.ndarray:
    """|paired t| at each look of simulated per-seed differences d (studies × seeds [× …] on axis 1)."""
    out = []
    for n in looks:
        x = d[:, :n]
        out.append(np.abs(x.mean(1)) / (x.std(1, ddof=1) / math.sqrt(n)))
    return np.stack(out, axis=1)


def test_simulation_sequential_false_verdict_rate():
    """Seeds added one at a time from 3 to 10, the paired t-test after each, no true difference."""
    rng = np.random.default_rng(99)
    studies, looks = 40_000, range(3, 11)
    plan = sq.SequentialPlan(max_n=10)
    d = rng.normal(0.0, 1.0, size=(studies, 10))
    t = _sequential_t(d, looks)
    seq = np.mean(np.any(t >= plan.boundaries(looks), axis=1))
    naive = np.mean(np.any(t >= stats.t.isf(ALPHA / 2, np.array(looks) - 1), axis=1))
    # The usual shortcut: normal Lan–DeMets boundaries, applied to t through their nominal p-value levels.
    z = _normal_boundaries(np.array(looks) / 10, np.array([plan.spent(n) for n in looks]))
    shortcut = np.mean(np.any(t >= stats.t.isf(stats.norm.sf(z), np.array(looks) - 1), axis=1))
    _report("adaptive 3→10 seeds, one comparison, calibrated boundaries: false-verdict rate", seq, studies)
    _report("adaptive 3→10 seeds, normal boundaries at nominal levels (shortcut): false-verdict rate", shortcut,
            studies)
    _report("adaptive 3→10 seeds, p < 0.05 at every look (naive): false-verdict rate", naive, studies)
    assert seq <= ALPHA + 3 * _mcse(ALPHA, studies)
    assert shortcut > ALPHA + 3 * _mcse(ALPHA, studies)
    assert naive > 2 * ALPHA
    # The same decisions as SequentialPlan.decide, study by study.
    for s in range(100):
        before, decision = [], "continue"
        for k, n in enumerate(looks):
            step = plan.decide(d[s, :n], np.zeros(n), "max", looks_before=before)
            before.append(n)
            if step.decision != "continue":
                decision = step.decision
                break
        assert (decision in ("better", "worse")) == bool(np.any(t[s] >= plan.boundaries(looks)))


def test_simulation_sequential_family_and_power():
    """Three null variants against one baseline, each adaptive 3→10 seeds at α/3 (Bonferroni); and, for one
    variant with a true difference of 1 sd of the per-seed differences, power and seeds used against a fixed 10."""
    rng = np.random.default_rng(5)
    studies, looks, m = 40_000, range(3, 11), 3
    plan = sq.SequentialPlan(max_n=10, comparisons=m)
    split = rng.normal(0.0, 1.0, size=(studies, 1, 10))
    runs = split + rng.normal(0.0, 1.0, size=(studies, m + 1, 10))
    d = np.moveaxis(runs[:, 1:] - runs[:, :1], 1, 2)                  # studies × seeds × variants
    family = np.mean(np.any(_sequential_t(d, looks) >= plan.boundaries(looks)[None, :, None], axis=(1, 2)))
    _report("adaptive 3→10 seeds, 3 null variants at α/3 each: family-wise false-verdict rate", family, studies)
    assert family <= ALPHA + 3 * _mcse(ALPHA, studies)

    one = sq.SequentialPlan(max_n=10)
    effect = rng.normal(1.0, 1.0, size=(studies, 10))
    t = _sequential_t(effect, looks)
    crossed = t >= one.boundaries(looks)
    power = np.mean(crossed.any(axis=1))
    stop = np.where(crossed.any(axis=1), np.array(looks)[np.argmax(crossed, axis=1)], 10)
    fixed = np.mean(stats.ttest_1samp(effect, 0.0, axis=1).pvalue < ALPHA)
    _report("power, adaptive 3→10 seeds (difference 1 sd)", power, studies)
    _report("power, fixed 10 seeds (same studies)", fixed, studies)
    print(f"seeds per variant, adaptive (difference 1 sd): mean {stop.mean():.2f}, fixed: 10")
    assert fixed - 0.1 < power < fixed and stop.mean() < 9


# ------------------------------------------------------------------------------------- in the study's tables

def test_exact_auc_matches_scikit_learn():
    import torch
    metrics = pytest.importorskip("sklearn.metrics")
    from nnstudy.tasks.classification import exact_auc
    rng = np.random.default_rng(0)
    for trial in range(100):
        n = int(rng.integers(3, 300))
        y = rng.random(n) < rng.uniform(0.05, 0.9)
        if y.all() or not y.any():
            continue
        s = rng.normal(size=n) + y * rng.uniform(0, 2)
        if trial % 3 == 0:
            s = np.round(s, 1)   # ties count half
        roc, pr = exact_auc(torch.tensor(s), torch.tensor(y))
        assert roc == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
        assert pr == pytest.approx(metrics.average_precision_score(y, s), abs=1e-12)
    assert all(math.isnan(v) for v in exact_auc(torch.tensor([0.1, 0.2]), torch.tensor([True, True])))


def test_claims_are_judged_by_our_verdict():
    from nnstudy.report.sections import claim_outcome
    assert claim_outcome("better", "better") == "reproduced"
    assert claim_outcome("better", "better (the same difference on every seed; no spread to test)") == "reproduced"
    assert claim_outcome("better", "worse") == "not reproduced"
    assert claim_outcome("better", "equivalent within ±0.005") == "not reproduced"
    assert claim_outcome("equivalent", "equivalent within ±0.005") == "reproduced"
    assert claim_outcome("better", "inconclusive: ~9 seeds would be needed") == "inconclusive"
    assert claim_outcome("better", "no detectable difference with 2 seeds") == "inconclusive"
    assert claim_outcome("better", "baseline at chance level: verdicts are not meaningful here") == "inconclusive"
