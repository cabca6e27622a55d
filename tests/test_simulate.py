"""The synthetic identifiability simulation: config checks, metrics, training runs, sweeps and the CLI."""
import json
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from probekit.cli import cli
from probekit.errors import ConfigError, UnknownNameError
from probekit.train.simulate import SimulationConfig, SimulationWarning, simulate
from probekit.train.simulate.metrics import head_scores, identifiability_scores, linear_r2, r2_score
from probekit.train.simulate.model import SimulationModel
from probekit.train.simulate.sweeps import TABLE2, TABLE3, format_table, get_rows, paper_row, run_sweep

# A small fast problem: d = 5, |C| = 100 as in the paper, smaller batches and a larger step size.
FAST = dict(dim=5, clusters=100, batch_size=256, lr=3e-3, n_eval=2048, eval_every=100, device="cpu")


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ---- config -------------------------------------------------------------------------------------


def test_config_defaults_are_the_paper_baseline():
    cfg = SimulationConfig()
    assert (cfg.mode, cfg.dim, cfg.clusters, cfg.instances, cfg.kappa, cfg.conditional) == (
        "supervised", 5, 100, 1000, 10.0, "vmf")
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.n_eval) == (50_000, 1024, 1e-3, 8192)
    assert cfg.n_classes == 100 and cfg.replace(mode="diet").n_classes == 1000
    assert cfg.tag() == "supervised_d5_c100_n1000_vmf-k10_s0"
    with pytest.raises(Exception):
        cfg.dim = 3  # frozen


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"kappa": 0.0}, "kappa"),
        ({"kappa": -1.0}, "kappa"),
        ({"dim": 1}, "dim"),
        ({"mode": "selfsup"}, "mode"),
        ({"conditional": "cauchy"}, "conditional"),
        ({"batch_size": 1}, "batch_size"),
        ({"device": "tpu"}, "device"),
        ({"mode": "diet", "instances": 5}, "instances"),
        ({"lr_schedule": "step"}, "lr_schedule"),
    ],
)
def test_config_rejects_bad_values(changes, match):
    with pytest.raises(ConfigError, match=match) as e:
        SimulationConfig(**changes)
    assert "\n" not in str(e.value) and "got" in str(e.value)


def test_config_warns_outside_the_theory():
    assert SimulationConfig().warnings() == []
    (msg,) = SimulationConfig(dim=5, clusters=8).warnings()
    assert "2*dim" in msg and "8" in msg
    assert any("only 1000 of the 10000" in m for m in SimulationConfig(clusters=10_000).warnings())


# ---- metrics ------------------------------------------------------------------------------------


def test_r2_matches_scikit_learn():
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score as sk_r2

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    y = np.tanh(x[:, :3] @ rng.normal(size=(3, 3))) + 0.5 + 0.1 * rng.normal(size=(400, 3))
    for intercept in (True, False):
        ref = LinearRegression(fit_intercept=intercept).fit(x[:200], y[:200])
        expected = sk_r2(y[200:], ref.predict(x[200:]))
        assert linear_r2(x, y, fit_intercept=intercept) == pytest.approx(expected, abs=1e-10)
    assert r2_score(y, y) == 1.0


def test_identifiability_scores_of_a_linear_map():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(1000, 4))
    feats = z @ rng.normal(size=(4, 4)) + 3.0  # linear map plus an offset
    scores = identifiability_scores(torch.tensor(feats), z)
    assert scores["r2_affine"] == pytest.approx(1.0, abs=1e-9)
    assert scores["r2_orthogonal"] < 0.99  # no intercept: the offset hurts
    w = head_scores(feats[:100], z[:10])  # rows i -> z[i mod 10]
    assert set(w) == {"w_r2_affine", "w_r2_orthogonal"}


def test_model_shapes():
    model = SimulationModel(5, 100)
    widths = [m.out_features for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert widths == [50, 250, 250, 250, 250, 50, 5]
    assert model.head.bias is None and model.head.weight.shape == (100, 5)
    assert model(torch.randn(8, 5)).shape == (8, 100)


# ---- training runs ------------------------------------------------------------------------------


def test_supervised_run_improves_r2(tmp_path):
    result = simulate(SimulationConfig(steps=300, **FAST), out=tmp_path, progress=False)
    before, after = result["initial"]["r2_affine"], result["metrics"]["r2_affine"]
    assert after > 0.75 and after > before + 0.4, (before, after)  # measured: 0.30 -> 0.83
    assert result["metrics"]["eval_acc"] > 0.1  # 100 overlapping classes: chance is 0.01
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["config"] == SimulationConfig(steps=300, **FAST).to_dict()
    assert saved["metrics"]["r2_affine"] == after and saved["run_time_s"] > 0
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in lines] == [0, 100, 200, 300]


def test_diet_run_learns_z_and_the_cluster_vectors():
    cfg = SimulationConfig(**{**FAST, "mode": "diet", "clusters": 20, "instances": 100, "steps": 200})
    result = simulate(cfg, progress=False)
    m, init = result["metrics"], result["initial"]
    assert m["r2_affine"] > init["r2_affine"] + 0.2  # measured: 0.27 -> 0.65, W: -0.11 -> 0.65
    assert m["w_r2_affine"] > 0.5 > init["w_r2_affine"]
    assert result["config"]["mode"] == "diet"


def test_same_seed_same_result_other_seed_differs():
    cfg = SimulationConfig(**{**FAST, "dim": 3, "clusters": 10, "instances": 50, "steps": 30})
    a = simulate(cfg, progress=False)
    b = simulate(cfg, progress=False)
    c = simulate(cfg.replace(seed=1), progress=False)
    strip = lambda r: [{k: v for k, v in h.items() if k != "elapsed_s"} for h in r["history"]]  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)
    assert a["mixing_condition_numbers"] == b["mixing_condition_numbers"] != c["mixing_condition_numbers"]


def test_cosine_schedule_runs_and_differs_from_constant():
    cfg = SimulationConfig(dim=3, clusters=6, steps=6, batch_size=32, n_eval=128, eval_every=3, device="cpu")
    const = simulate(cfg, progress=False)
    cos = simulate(cfg.replace(lr_schedule="cosine"), progress=False)
    assert const["history"][0]["r2_affine"] == cos["history"][0]["r2_affine"]  # same start
    assert const["metrics"]["r2_affine"] != cos["metrics"]["r2_affine"]
    assert cos["config"]["lr_schedule"] == "cosine"


def test_simulate_warns_for_few_clusters():
    with pytest.warns(SimulationWarning, match="2\\*dim"):
        simulate(SimulationConfig(dim=3, clusters=4, steps=2, batch_size=16, n_eval=64, device="cpu"), progress=False)


def test_simulate_leaves_global_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    simulate(SimulationConfig(dim=3, clusters=6, steps=2, batch_size=16, n_eval=64, device="cpu", threads=1),
             progress=False)
    assert torch.equal(torch.rand(3), expected)  # the global RNG was not consumed
    assert torch.get_num_threads() == 1  # restored (the fixture set 1)


# ---- sweeps -------------------------------------------------------------------------------------


def test_paper_tables_as_data():
    assert len(TABLE3) == 10 and len(TABLE2) == 10
    t3 = {r.name: r for r in TABLE3}
    assert t3["baseline"].paper == {"r2_affine": 99.8}
    assert t3["d20"].overrides == {"dim": 20} and t3["d20"].paper["r2_affine"] == 82.1
    assert t3["kappa50"].paper["r2_affine"] == 65.5 and t3["laplace"].paper["r2_affine"] == 85.4
    t2 = {r.name: r for r in TABLE2}
    assert t2["baseline"].paper == {"r2_orthogonal": 98.6, "r2_affine": 99.0, "w_r2_affine": 99.9}
    assert all(r.overrides["mode"] == "diet" for r in TABLE2)
    for row in TABLE3 + TABLE2:
        SimulationConfig().replace(**row.overrides)  # every row is a valid config
    assert paper_row(SimulationConfig(steps=10))[1].name == "baseline"
    assert paper_row(SimulationConfig(conditional="laplace", kappa=3.0))[1].name == "laplace"
    assert paper_row(SimulationConfig(mode="diet", dim=20))[0] == "table2"
    assert paper_row(SimulationConfig(dim=7)) is None


def test_get_rows_unknown_name():
    with pytest.raises(UnknownNameError, match="did you mean 'baseline'"):
        get_rows("table3", rows=["basline"])


def test_run_sweep_writes_tables(tmp_path):
    base = SimulationConfig(batch_size=32, n_eval=256, eval_every=5, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SimulationWarning)
        results = run_sweep("table3", seeds=2, steps=3, rows=["baseline", "laplace"], base=base, out=tmp_path,
                            progress=False)
    assert [r["name"] for r in results] == ["baseline", "laplace"]
    assert results[1]["config"]["conditional"] == "laplace" and results[0]["seeds"] == [0, 1]
    md = (tmp_path / "table.md").read_text()
    assert "| baseline |" in md and "99.8" in md and "85.4" in md
    assert (tmp_path / "table.csv").read_text().startswith("sweep,row,label")
    assert (tmp_path / "laplace" / "seed1" / "result.json").exists()
    assert "| baseline |" in format_table(results)


# ---- CLI ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,match",
    [
        (["--kappa", "0"], "kappa must be > 0"),
        (["--kappa", "-2"], "kappa must be > 0"),
        (["--dim", "1"], "dim must be an integer >= 2"),
        (["--batch-size", "1"], "batch_size"),
        (["--sweep", "table3", "--dim", "4"], "cannot be combined with --sweep"),
        (["--sweep", "table3", "--rows", "basline"], "did you mean 'baseline'"),
        (["--seeds", "3"], "need --sweep"),
    ],
)
def test_cli_bad_input_is_one_clean_line(args, match, tmp_path):
    res = CliRunner().invoke(cli, ["simulate", *args, "--out", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert match in err
    assert len([line for line in err.splitlines() if line.startswith("probekit: error")]) == 1
    assert not (tmp_path / "x").exists()


def test_cli_rejects_unknown_choice():
    res = CliRunner().invoke(cli, ["simulate", "--mode", "selfsup"])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_cli_writes_result_json_and_summary(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(
        cli,
        ["simulate", "--dim", "3", "--clusters", "4", "--steps", "10", "--batch-size", "64", "--eval-every", "5",
         "--seed", "2", "--device", "cpu", "--out", str(out), "--no-progress"],
    )
    assert res.exit_code == 0, res.output
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["seed"] == 2 and result["config"]["steps"] == 10
    assert "R^2 affine" in res.output and "result.json" in res.output
    assert "warning" in (res.stderr if hasattr(res, "stderr") else res.output)  # 4 clusters < 2*dim


def test_cli_module_imports_only_click():
    import subprocess
    import sys

    code = "import sys, probekit.cli.simulate; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
