"""`probekit probe` and `probekit report` as users type them: files written, one-line errors, exit 2."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from click.testing import CliRunner
from probe_fixtures import make_store, synthetic_data

from probekit.cli import cli

PNG = b"\x89PNG\r\n\x1a\n"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_probe_writes_json_csv_png_and_prints_the_table(in_tmp):
    store = make_store(in_tmp / "features" / "net__synthetic.h5", n=300, signal=3.0)
    r = run("probe", "--store", store, "--factors", "shape,size", "--seeds", "2", "--out", "out")
    assert r.exit_code == 0, r.output
    assert re.search(r"late\s+shape\s+211/89", r.output) and "wrote out/results.json" in r.output
    blob = json.loads((in_tmp / "out" / "results.json").read_text())
    assert blob["meta"]["seeds"] == [0, 1] and {r["factor"] for r in blob["rows"]} == {"shape", "scale"}
    assert (in_tmp / "out" / "results.csv").read_text().startswith("model,layer,factor")
    for name in ("bars.png", "heatmap.png"):
        assert (in_tmp / "out" / name).read_bytes()[:8] == PNG


def test_probe_defaults_to_the_newest_store_and_names_it(in_tmp):
    make_store(in_tmp / "features" / "old.h5", n=200)
    newest = make_store(in_tmp / "features" / "new.h5", n=200)
    os.utime(in_tmp / "features" / "old.h5", (1, 1))
    r = run("probe", "--factors", "scale", "--layers", "late", "--seeds", "1", "-o", "test_fraction=0.25",
            "--protocol", "default")
    assert r.exit_code == 0, r.output
    assert f"store: {newest.relative_to(in_tmp)} (newest under features/)" in r.output
    res = json.loads((in_tmp / "results" / "new" / "results.json").read_text())
    assert res["meta"]["protocol_config"]["test_fraction"] == 0.25
    assert [row["n_test"] for row in res["rows"] if row["split"] == "test"][0] == 50


def test_probe_skipped_factor_is_reported_not_dropped(in_tmp):
    store = make_store(in_tmp / "s.h5", n=200)
    r = run("probe", "--store", store, "--factors", "scale,const", "--layers", "late", "--seeds", "1")
    assert r.exit_code == 0, r.output
    assert "skipped factor 'const': constant: every row has value 1" in r.output
    assert "skipped: synth-net late const" in r.output


def test_report_joins_two_models(in_tmp):
    for i, model in enumerate(("net-a", "net-b")):
        store = make_store(in_tmp / f"{model}.h5", model=model, seed=i, n=200)
        assert run("probe", "--store", store, "--factors", "shape", "--layers", "late", "--seeds", "2",
                   "-o", "Cs=[0.1,1]", "--out", model).exit_code == 0
    r = run("report", "net-a", "net-b/results.json", "--out", "joined")
    assert r.exit_code == 0, r.output
    assert "net-a" in r.output and "net-b" in r.output
    assert (in_tmp / "joined" / "bars.png").read_bytes()[:8] == PNG
    assert {row["model"] for row in json.loads((in_tmp / "joined" / "results.json").read_text())["rows"]} == {
        "net-a", "net-b"}


def _nan_store(path):
    feats, values = synthetic_data(100)
    feats["early"][[3, 9], 0] = np.nan
    return make_store(path, features=feats, values=values)


def _tiny_class_store(path):
    feats, values = synthetic_data(100)
    values["shape"] = np.where(np.arange(100) == 0, 2, values["shape"] % 2)  # one 'heart'
    return make_store(path, features=feats, values=values)


BAD = [
    (lambda p: ["probe", "--store", make_store(p), "--factors", "colour"],
     r"unknown factor 'colour'.*available: const, noise_bin"),
    (lambda p: ["probe", "--store", make_store(p), "--layers", "fc9"], r"unknown layer 'fc9'.*early, late"),
    (lambda p: ["probe", "--store", make_store(p), "--factors", "const"],
     r"nothing was probed: every requested factor was skipped \(const: constant"),
    (lambda p: ["probe", "--store", _tiny_class_store(p), "--factors", "shape"],
     r"class 'heart' has 1 sample\(s\) but the split needs at least 3 per class"),
    (lambda p: ["probe", "--store", _nan_store(p), "--factors", "scale"],
     r"layer 'early' of .* NaN or inf features in 2 of 100 rows; first bad rows 3, 9"),
    (lambda p: ["probe", "--store", make_store(p, n=100, committed=50, complete=False), "--factors", "scale"],
     r"incomplete \(50/100 rows committed.*--allow-partial"),
    (lambda p: ["probe", "--store", make_store(p), "--protocol", "paper-dislb"], r"unknown protocol 'paper-dislb'"),
    (lambda p: ["probe", "--store", make_store(p), "--null", "permutations:x"], r"permutations:N"),
    (lambda p: ["probe", "--store", make_store(p), "-o", "tset_fraction=0.2"], r"no option 'tset_fraction'"),
    (lambda p: ["probe", "--store", p.parent / "missing.h5"], r"no feature store at"),
    (lambda p: ["probe"], r"no --store given and no \*\.h5"),
]


@pytest.mark.parametrize("make_args, message", BAD)
def test_bad_input_is_one_line_and_exit_2(in_tmp, make_args, message):
    r = run(*make_args(in_tmp / "s.h5"))
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("probekit: error:"), r.output
    assert re.search(message, lines[0]), lines[0]
    assert not (in_tmp / "results").exists()


def test_report_refuses_different_datasets_naming_them(in_tmp):
    for name, dataset in (("a", "dsprites"), ("b", "shapes3d")):
        store = make_store(in_tmp / f"{name}.h5", dataset=dataset, n=100)
        assert run("probe", "--store", store, "--factors", "scale", "--layers", "late", "--seeds", "1",
                   "--out", name).exit_code == 0
    r = run("report", "a", "b")
    assert r.exit_code == 2
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and re.search(r"different datasets: dsprites \(a\); shapes3d \(b\)", lines[0]), r.output


def test_cli_modules_import_click_only():
    import subprocess
    import sys

    code = ("import sys, probekit.cli.probe, probekit.cli.report; "
            "print(sorted(m for m in ('torch', 'numpy', 'matplotlib', 'h5py') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
