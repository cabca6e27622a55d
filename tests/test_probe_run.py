"""probe_factors on real HDF5 stores: columns, name resolution, bad input, backends, results files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from probe_fixtures import make_store, synthetic_data

from probekit.errors import ConfigError, DataError, StoreError, UnknownNameError
from probekit.probes import ProbeResults, probe_factors
from probekit.store import FeatureStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("stores") / "synth.h5", n=400, signal=3.0)


@pytest.fixture(scope="module")
def results(store):
    return probe_factors(store, factors="shape,size,noise_bin,const", seeds=3, progress=False)


def test_rows_are_tidy_and_carry_store_columns(results, store):
    rows = [r for r in results.rows if r["metric"] != "skipped"]
    keys = [(r["model"], r["layer"], r["factor"], r["metric"], r["split"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys))  # one row per (model, layer, factor, metric, split, seed)
    assert {r["layer"] for r in rows} == {"early", "late"}
    assert {r["factor"] for r in rows} == {"shape", "scale", "noise_bin"}  # the alias "size" resolved
    assert {r["seed"] for r in rows} == {0, 1, 2}
    with FeatureStore.open(store) as s:
        fp = s.fingerprint
    assert all(r["model"] == "synth-net" and r["store"] == str(store) and r["fingerprint"] == fp and
               r["dataset"] == "synthetic" and r["protocol"] == "default" for r in rows)
    skipped = [r for r in results.rows if r["metric"] == "skipped"]
    assert {(r["layer"], r["factor"]) for r in skipped} == {("early", "const"), ("late", "const")}
    meta = results.meta
    assert meta["seeds"] == [0, 1, 2] and meta["protocol"] == "default" and meta["stores"][0]["fingerprint"] == fp
    assert meta["protocol_config"]["test_fraction"] == 0.3 and meta["probekit_version"]
    assert set(meta["regularisation"]["synth-net/late/shape"]["C"]) <= set(meta["protocol_config"]["Cs"])


def test_signal_only_where_planted_and_summary_marks_it(results):
    lines = {(ln["layer"], ln["factor"], ln["metric"]): ln for ln in results.summary() if ln["split"] == "test"}
    assert lines[("late", "shape", "accuracy")]["mean"] > 0.8
    assert lines[("late", "shape", "accuracy")]["significant"]
    assert lines[("late", "scale", "r2")]["significant"] and lines[("late", "scale", "r2")]["test"].startswith("t-test vs chance, corrected")
    assert lines[("early", "shape", "balanced_accuracy")]["mean"] < 0.5
    assert not lines[("late", "noise_bin", "roc_auc")]["significant"]
    assert not lines[("early", "scale", "r2")]["significant"]
    assert lines[("late", "shape", "accuracy")]["n"] == 3
    table = results.format_table()
    assert "shape" in table and "*" in table and "skipped: synth-net late const: constant" in table


def test_permutation_null_through_probe_factors(store):
    res = probe_factors(store, factors=["shape", "noise_cont"], layers="late", seeds=2, null="permutations:19",
                        progress=False, Cs=[1.0])
    lines = {(ln["factor"], ln["metric"]): ln for ln in res.summary() if ln["split"] == "test"}
    assert lines[("shape", "accuracy")]["p"] == pytest.approx(1 / 20)
    assert lines[("shape", "accuracy")]["test"] == "permutation (19 shuffles)"
    assert lines[("noise_cont", "r2")]["p"] > 0.05
    assert res.meta["null_permutations"] == 19
    assert "with 19 shuffles the smallest p is 0.05" in res.format_table()  # 1/20 cannot beat alpha
    assert "use at least 20 shuffles" in res.format_table()
    with pytest.raises(ConfigError, match="permutations:N"):
        probe_factors(store, factors="shape", null="shuffle:10", progress=False)


def test_each_layer_is_read_once(store, monkeypatch):
    calls = []
    original = FeatureStore.read_features

    def counting(self, layer, *a, **kw):
        calls.append(layer)
        return original(self, layer, *a, **kw)

    monkeypatch.setattr(FeatureStore, "read_features", counting)
    probe_factors(store, factors="shape,scale", seeds=1, progress=False, Cs=[1.0])
    assert sorted(calls) == ["early", "late"]


def test_unknown_factor_and_layer_list_the_available_ones(store):
    with pytest.raises(UnknownNameError, match=r"available: const, noise_bin, noise_cont, orientation, scale, shape\)"):
        probe_factors(store, factors="colour", progress=False)
    with pytest.raises(UnknownNameError, match="layers in .*: early, late"):
        probe_factors(store, layers=["fc9"], progress=False)


def test_nan_features_name_the_layer_and_rows(tmp_path):
    feats, values = synthetic_data(100)
    feats["late"][[7, 42], 3] = np.nan
    feats["late"][50, 0] = np.inf
    path = make_store(tmp_path / "nan.h5", features=feats, values=values)
    with pytest.raises(DataError, match=r"layer 'late' .* NaN or inf features in 3 of 100 rows; first bad rows 7, 42, 50"):
        probe_factors(path, factors="scale", progress=False)


def test_incomplete_store_refused_unless_allow_partial(tmp_path):
    path = make_store(tmp_path / "partial.h5", n=300, committed=200, complete=False)
    with pytest.raises(StoreError, match=r"incomplete \(200/300 rows.*--allow-partial"):
        probe_factors(path, factors="scale", progress=False)
    res = probe_factors(path, factors="scale", layers="late", seeds=1, allow_partial=True, progress=False)
    row = [r for r in res.rows if r["split"] == "test"][0]
    assert row["n_train"] + row["n_test"] == 200 and res.meta["stores"][0]["n_used"] == 200


def test_seeds_list_and_bad_seeds(store):
    res = probe_factors(store, factors="scale", layers="late", seeds=[42, 7], progress=False)
    assert {r["seed"] for r in res.rows} == {42, 7}
    with pytest.raises(ConfigError, match="seeds"):
        probe_factors(store, factors="scale", seeds=0, progress=False)


def test_torch_and_sklearn_backends_agree(store):
    kw = dict(factors="shape,noise_bin,scale,orientation", layers="late", seeds=2, progress=False)
    a = probe_factors(store, backend="torch", device="cpu", **kw)
    b = probe_factors(store, backend="sklearn", **kw)
    key = lambda r: (r["factor"], r["metric"], r["split"], r["seed"])  # noqa: E731
    va, vb = {key(r): r for r in a.rows}, {key(r): r for r in b.rows}
    assert va.keys() == vb.keys()
    for k in va:
        assert va[k].get("C") == vb[k].get("C") and va[k].get("alpha") == vb[k].get("alpha"), k
        tol = 1e-4 if k[1] in ("r2", "pearson_r") else 0.01  # a boundary prediction may flip in float32
        assert va[k]["value"] == pytest.approx(vb[k]["value"], abs=tol), k


def test_several_stores_and_results_files(store, tmp_path):
    other = make_store(tmp_path / "other.h5", model="other-net", seed=1)
    res = probe_factors([store, FeatureStore.open(other)], factors="scale", layers="late", seeds=2, progress=False)
    assert {r["model"] for r in res.rows} == {"synth-net", "other-net"}
    path = res.to_json(tmp_path / "out" / "results.json")
    back = ProbeResults.from_json(path)
    assert back.rows == json.loads(path.read_text())["rows"] and len(back) == len(res)
    assert [ln["mean"] for ln in back.summary()] == pytest.approx([ln["mean"] for ln in res.summary()])
    csv_path = res.to_csv(tmp_path / "out" / "results.csv")
    header = csv_path.read_text().splitlines()[0].split(",")
    assert header[:8] == ["model", "layer", "factor", "kind", "metric", "split", "seed", "value"]
    assert len(csv_path.read_text().splitlines()) == len(res) + 1
    df = res.to_dataframe()
    assert len(df) == len(res) and "null" not in df.columns


def test_docs_custom_probe_example_runs(in_tmp):
    """The worked custom-probe example of docs/probing.md runs as written."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "probing.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", doc, flags=re.S) if "probe = {" in b]
    assert len(blocks) == 1
    make_store(in_tmp / "features" / "resnet18-random__color-dsprites.h5", n=300, signal=3.0,
               dims=(("penultimate", 16),))
    namespace: dict = {}
    exec(compile(blocks[0], "docs/probing.md", "exec"), namespace)
    lines = {(ln["factor"], ln["metric"]): ln for ln in namespace["res"].summary() if ln["split"] == "test"}
    assert lines[("shape", "accuracy")]["mean"] > 0.8 and lines[("scale", "pearson_r")]["mean"] > 0.7


def test_regularisation_of_two_stores_with_one_label_is_kept_apart():
    from probekit.probes.run import _regularisation

    rows = [{"model": "mlp", "layer": "penultimate", "factor": "shape", "seed": 0, "C": c, "fingerprint": fp}
            for c, fp in ((0.1, "a" * 64), (10.0, "b" * 64))]
    reg = _regularisation(rows)
    assert sorted(v["C"][0] for v in reg.values()) == [0.1, 10.0] and len(reg) == 2
    single = _regularisation(rows[:1])
    assert list(single) == ["mlp/penultimate/shape"]
