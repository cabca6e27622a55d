"""Reports: joining results files, tables and figures."""
from __future__ import annotations

import numpy as np
import pytest
from probe_fixtures import make_store

from probekit.errors import ProbekitError
from probekit.probes import ProbeResults, probe_factors
from probekit.report import join_results, plot_bars, plot_results, write_report

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    out = []
    for i, model in enumerate(("net-a", "net-b")):
        store = make_store(root / f"{model}.h5", model=model, seed=i, n=300, signal=3.0)
        res = probe_factors(store, factors="shape,scale,orientation", seeds=2, progress=False, Cs=[0.1, 1.0])
        out.append(res.to_json(root / model / "results.json"))
    return out


def _synthetic(dataset="synthetic", model="m", layers=("l1",), fingerprint=None):
    rows = []
    for layer in layers:
        for factor, metric, chance in (("color", "accuracy", 0.5), ("scale", "r2", 0.0)):
            for seed, v in enumerate((0.8, 0.9, 0.85)):
                rows.append({"model": model, "layer": layer, "factor": factor, "metric": metric, "split": "test",
                             "seed": seed, "value": v, "chance": chance, "dataset": dataset, "protocol": "default",
                             "fingerprint": fingerprint or model})
    return ProbeResults(rows, {"protocol": "default"})


def test_join_two_models_into_one_table_and_plot(two_models, tmp_path):
    joined = join_results(two_models)
    assert {r["model"] for r in joined.rows} == {"net-a", "net-b"}
    assert joined.meta["joined_from"] == [str(p) for p in two_models] and joined.meta["dataset"] == "synthetic"
    table = joined.format_table()
    for word in ("net-a", "net-b", "shape", "scale", "orientation", "R^2 of the (sin, cos)"):
        assert word in table
    written = write_report(joined, tmp_path / "rep")
    names = sorted(p.name for p in written["figures"])
    assert names == ["bars.png", "heatmap.png"]  # two layers per model -> a heat map too
    for p in written["figures"]:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000
    assert ProbeResults.from_json(written["json"]).rows == ProbeResults.from_json(written["json"]).rows
    assert written["csv"].exists() and "net-b" in written["table"].read_text()


def test_join_refuses_different_datasets_naming_them(tmp_path):
    a = _synthetic("dsprites").to_json(tmp_path / "a" / "results.json")
    b = _synthetic("shapes3d", model="n").to_json(tmp_path / "b" / "results.json")
    with pytest.raises(ProbekitError, match=r"different datasets: dsprites \(.*a/results.json\); shapes3d \(.*b/"):
        join_results([a, b])


def test_join_refuses_the_same_results_twice(tmp_path):
    a = _synthetic().to_json(tmp_path / "a.json")
    b = _synthetic().to_json(tmp_path / "b.json")
    with pytest.raises(ProbekitError, match="both hold model 'm' layer 'l1'"):
        join_results([a, b])


def test_from_json_refuses_other_files(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(ProbekitError, match="not probekit probe results"):
        ProbeResults.from_json(tmp_path / "x.json")
    with pytest.raises(ProbekitError, match="no results file"):
        ProbeResults.from_json(tmp_path / "missing.json")


def test_single_layer_gives_bars_only_and_summary_numbers(tmp_path):
    res = _synthetic()
    paths = plot_results(res, tmp_path)
    assert [p.name for p in paths] == ["bars.png"]
    line = [ln for ln in res.summary() if ln["metric"] == "accuracy"][0]
    assert line["mean"] == pytest.approx(0.85) and line["sem"] == pytest.approx(np.std([0.8, 0.9, 0.85], ddof=1) / 3 ** 0.5)
    assert line["test"] == "t-test vs chance" and line["family_size"] == 1  # no n_train/n_test: plain
    assert plot_bars(res, tmp_path / "b.png", layer="l1").read_bytes()[:8] == PNG


def test_nan_values_round_trip_through_json(tmp_path):
    res = _synthetic()
    res.rows[0]["value"] = float("nan")
    back = ProbeResults.from_json(res.to_json(tmp_path / "r.json"))
    assert np.isnan(back.rows[0]["value"]) and back.rows[1]["value"] == 0.9


def test_same_model_name_from_two_stores_stays_apart(tmp_path):
    a = _synthetic(fingerprint="aaaaaaaa1111").to_json(tmp_path / "a.json")
    b = _synthetic(fingerprint="bbbbbbbb2222").to_json(tmp_path / "b.json")
    joined = join_results([a, b])
    table = joined.format_table()
    assert "m [aaaaaaaa]" in table and "m [bbbbbbbb]" in table
    assert len([ln for ln in joined.summary() if ln["metric"] == "accuracy"]) == 2
    assert [p.name for p in plot_results(joined, tmp_path / "fig")] == ["bars.png"]


def test_to_dataframe_without_pandas_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` raise ImportError
    with pytest.raises(ProbekitError, match="needs pandas.*results.to_csv"):
        _synthetic().to_dataframe()
