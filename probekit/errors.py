"""Errors that probekit raises on purpose.

Every error a user can cause is a :class:`ProbekitError`. Its message is one line that says what was
wrong, the value received, what is allowed and how to fix it; the CLI prints it on stderr without a
traceback and exits non-zero.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class ProbekitError(Exception):
    """Base class of the errors probekit raises for bad input or bad state."""

    exit_code = 2


class UnknownNameError(ProbekitError, KeyError):
    """A name (model, dataset, layer, factor, ...) that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StoreError(ProbekitError):
    """A feature store that is missing, corrupt, locked, incomplete or does not match."""


class WeightsError(ProbekitError):
    """Model weights that are missing, unreadable, unsafe or for another architecture."""


class DataError(ProbekitError):
    """A dataset file or sample that cannot be read, or values outside the allowed range."""


class ConfigError(ProbekitError, ValueError):
    """An option value outside its allowed range."""


class CheckpointError(ProbekitError):
    """A training checkpoint that is corrupt, foreign or does not match the run."""


def closest_matches(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` entries of ``choices`` that look like ``name`` (case-insensitive)."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    # substring matches help with prefixes such as "resnet" -> resnet18, resnet50
    subs = [c for c in choices if name.lower() in c.lower() and lowered.get(c.lower()) not in hits]
    return [lowered[h] for h in hits] + subs[: max(0, n - len(hits))]


def unknown_name(kind: str, name: str, choices: Iterable[str], hint: str = "") -> UnknownNameError:
    """Build the error for an unknown ``kind`` called ``name``, naming the closest ``choices``."""
    choices = sorted(set(choices))
    close = closest_matches(name, choices)
    msg = f"unknown {kind} {name!r}"
    if close:
        msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
    elif len(choices) <= 30:
        msg += f"; available: {', '.join(choices)}"
    if hint:
        msg += f" ({hint})"
    return UnknownNameError(msg)
