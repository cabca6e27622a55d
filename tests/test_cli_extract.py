"""The CLI as users type it: `probekit extract`, listings, and one-line errors for bad input."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from probekit.cli import cli
from probekit.store import FeatureStore


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_extract_as_typed_writes_the_default_output(in_tmp):
    r = run("extract", "resnet18", "--weights", "none", "--image-size", "32", "--limit", "16", "--quiet")
    assert r.exit_code == 0, r.output
    path = in_tmp / "features" / "resnet18-random__color-dsprites.h5"
    assert path.is_file() and "wrote features/resnet18-random__color-dsprites.h5" in r.output
    with FeatureStore.open(path) as s:
        assert s.complete and s.n_rows == 16 and set(s.factor_specs) == {"color", "shape", "scale", "orientation",
                                                                         "posX", "posY"}


def test_list_layers_and_listings():
    r = run("extract", "resnet18", "--weights", "none", "--list-layers")
    assert r.exit_code == 0 and r.output.split()[-1] == "penultimate" and "layer4" in r.output
    r = run("models")
    assert r.exit_code == 0 and "random-projection" in r.output and "timm:<...>" in r.output
    r = run("datasets")
    assert r.exit_code == 0 and "color-dsprites" in r.output and "posX (continuous, 32)" in r.output


@pytest.mark.parametrize("args, message", [
    (["extract", "resnet5"], "unknown backbone 'resnet5'; did you mean"),
    (["extract", "resnet18", "--weights", "none", "--dataset", "dsprite"], "unknown dataset 'dsprite'"),
    (["extract", "resnet18", "--weights", "none", "--layers", "layer9"], "unknown layer 'layer9'"),
    (["extract", "resnet18", "--weights", "none", "--limit", "0"], "--limit must be a positive number"),
    (["extract", "resnet18", "--weights", "none", "--limit", "-5"], "--limit must be a positive number"),
    (["extract", "resnet18", "--weights", "none", "--batch-size", "0", "--limit", "4"], "--batch-size must be a positive"),
    (["extract", "resnet18"], "are not cached: expected the file"),
    (["extract", "resnet18", "--weights", "missing.pth"], "does not exist"),
    (["extract", "resnet18", "--weights", "none", "--device", "cuda:0"] if not __import__("torch").cuda.is_available()
     else ["extract", "resnet18", "--device", "tpu"], "--device|unknown device"),
])
def test_bad_input_is_one_line_and_exit_2(in_tmp, args, message):
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [l for l in r.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("probekit: error:"), r.output
    assert __import__("re").search(message, lines[0]), lines[0]
    assert not list(in_tmp.glob("features/*.h5"))


def test_existing_output_and_resume_mismatch(in_tmp):
    base = ["extract", "resnet18", "--weights", "none", "--image-size", "32", "--limit", "8", "--quiet", "--out", "x.h5"]
    assert run(*base).exit_code == 0
    r = CliRunner().invoke(cli, base)
    assert r.exit_code == 2 and "already exists; pass --resume" in r.output
    r = CliRunner().invoke(cli, base + ["--resume", "--layers", "layer4"])
    assert r.exit_code == 2 and "different layers" in r.output


def test_help_is_instant_and_does_not_import_torch():
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "import sys; from probekit.cli import main; "
                          "sys.argv=['probekit','--help']\ntry:\n main()\nexcept SystemExit: pass\n"
                          "print('torch' in sys.modules)"], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False") and "extract" in out
    assert time.perf_counter() - t < 10


def test_file_backed_dataset_through_data_root_and_options(in_tmp):
    from official_fixtures import write_shapes3d

    path, codes, _ = write_shapes3d(in_tmp)
    r = CliRunner().invoke(cli, ["extract", "pixels", "--dataset", "shapes3d", "--data-root", str(path), "--limit", "20",
                                 "-O", "bogus=1", "--quiet", "--out", "s.h5"])
    assert r.exit_code == 2 and "bogus" in r.output, r.output   # unknown options are refused, not ignored
    r = CliRunner().invoke(cli, ["extract", "pixels", "--dataset", "shapes3d", "--data-root", str(path), "--limit", "20",
                                 "--quiet", "--out", "s.h5"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with FeatureStore.open("s.h5") as s:
        assert s.n_rows == 20 and s.complete and s.dataset_name == "shapes3d"
