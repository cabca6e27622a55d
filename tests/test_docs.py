"""The docs promise what the code does: the CLI reference is generated from --help and up to date."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_cli_reference.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_readme_gives_the_three_commands():
    text = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[dev]"' in text and "probekit quickstart" in text and "python -m pytest" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "-m pytest" in ci and '-e ".[dev]"' in ci
