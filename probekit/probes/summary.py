"""Summaries of tidy probe rows (pure): mean +- sem over seeds, significance, and the plain-text table."""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from . import stats

# columns that identify one summary line (every seed of one model/layer/factor/metric/split)
GROUP_KEYS = ("protocol", "dataset", "model", "fingerprint", "layer", "factor", "metric", "split")
METRIC_ORDER = ("accuracy", "balanced_accuracy", "roc_auc", "r2", "pearson_r")
SHORT = {"accuracy": "acc", "balanced_accuracy": "bal_acc", "roc_auc": "auc", "r2": "R2", "pearson_r": "r"}


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _common(values: list):
    """The most common non-empty value (lists compared as tuples), or None."""
    values = [tuple(v) if isinstance(v, list) else v for v in values if v is not None and v != ""]
    if not values:
        return None
    value = Counter(values).most_common(1)[0][0]
    return list(value) if isinstance(value, tuple) else value


def _group(rows: Sequence[dict]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k) for k in GROUP_KEYS), []).append(r)
    return groups


TTESTS = ("corrected", "plain")


def _p_value(rows: list[dict], values: np.ndarray, chance: float, ttest: str) -> tuple[float, str]:
    """p of "above chance" for one group of per-seed test rows, and which test gave it."""
    nulls = [r.get("null") for r in rows]
    if all(isinstance(n, list) and n for n in nulls) and len({len(n) for n in nulls}) == 1:
        return stats.pooled_permutation_pvalue(values, nulls), f"permutation ({len(nulls[0])} shuffles)"
    if len(values) >= 2 and np.isfinite(chance):
        n_tr = stats.mean([_num(r.get("n_train")) for r in rows])
        n_te = stats.mean([_num(r.get("n_test")) for r in rows])
        if ttest == "corrected" and np.isfinite(n_tr / n_te):
            p = stats.ttest_1samp(values, chance, alternative="greater", test_train_ratio=n_te / n_tr)[1]
            return p, "t-test vs chance, corrected for split overlap"
        return stats.ttest_1samp(values, chance, alternative="greater")[1], "t-test vs chance"
    return float("nan"), "none (one seed, no null)"


def summarize(rows: Sequence[dict], *, correction: str = "holm", alpha: float = 0.05,
              ttest: str = "corrected") -> list[dict]:
    """One line per (model, layer, factor, metric, split): mean, sem and n over seeds, and significance.

    Test-split lines carry ``p``, ``p_adj`` (corrected by ``correction`` within each metric's family
    of test lines) and ``significant`` (``p_adj < alpha``). ``p`` is the pooled permutation p-value
    when every seed has a null; otherwise a one-sided one-sample t-test of the seeds against chance,
    with the Nadeau-Bengio correction for overlapping repeated splits (``ttest="corrected"``, default)
    or without it (``ttest="plain"``, as the paper did).
    Skipped factors give one line with ``metric == "skipped"`` and the reason in ``note``.
    """
    if ttest not in TTESTS:
        raise ConfigError(f"ttest must be one of {', '.join(TTESTS)}, got {ttest!r}")
    out = []
    for key, grp in _group(rows).items():
        line = dict(zip(GROUP_KEYS, key))
        line["kind"] = _common([r.get("kind") for r in grp])
        if line["metric"] == "skipped":
            line.update(note=_common([r.get("note") for r in grp]), n=0)
            out.append(line)
            continue
        values = np.array([_num(r.get("value")) for r in grp])
        chance = stats.mean([_num(r.get("chance")) for r in grp])
        line.update(mean=stats.mean(values), sem=stats.sem(values), n=int(np.isfinite(values).sum()),
                    seeds=[r.get("seed") for r in grp], chance=chance,
                    n_train=_common([r.get("n_train") for r in grp]), n_test=_common([r.get("n_test") for r in grp]),
                    decoder=_common([r.get("decoder") for r in grp]), note=_common([r.get("note") for r in grp]))
        for reg in ("C", "alpha"):
            if any(reg in r for r in grp):
                line[reg] = _common([r.get(reg) for r in grp])
        if any("null_mean" in r for r in grp):
            line["null_mean"] = stats.mean([_num(r.get("null_mean")) for r in grp])
        if line["split"] == "test":
            line["p"], line["test"] = _p_value(grp, values, chance, ttest)
        out.append(line)
    _label_models(out)
    metrics = sorted({ln["metric"] for ln in out if ln["split"] == "test" and "p" in ln})
    for metric in metrics:  # one family per metric: every model, layer and factor tested on it
        family = [ln for ln in out if ln["split"] == "test" and ln["metric"] == metric and "p" in ln]
        adjusted = stats.correct([ln["p"] for ln in family], correction)
        for ln, p_adj in zip(family, adjusted):
            ln.update(p_adj=float(p_adj), significant=bool(np.isfinite(p_adj) and p_adj < alpha),
                      correction=correction, family_size=len(family))
    return out


def _label_models(lines: list[dict]) -> None:
    """Set ``label``: the model name, plus a short fingerprint where one name covers several stores."""
    prints: dict = {}
    for ln in lines:
        prints.setdefault(ln.get("model"), set()).add(ln.get("fingerprint"))
    for ln in lines:
        fp = ln.get("fingerprint")
        ln["label"] = (f"{ln.get('model')} [{str(fp)[:8]}]" if len(prints[ln.get("model")]) > 1 and fp
                       else str(ln.get("model")))


def metric_order(metrics) -> list[str]:
    """Known metrics in their usual order, then any others alphabetically."""
    metrics = set(metrics)
    return [m for m in METRIC_ORDER if m in metrics] + sorted(metrics - set(METRIC_ORDER))


def _cell(line: dict | None) -> str:
    if line is None or not np.isfinite(line.get("mean", np.nan)):
        return "-"
    text = f"{line['mean']:.3f}"
    if np.isfinite(line.get("sem", np.nan)):
        text += f" ± {line['sem']:.3f}"
    return text + (" *" if line.get("significant") else "")


def format_table(lines: Sequence[dict], *, split: str = "test", correction: str = "holm",
                 alpha: float = 0.05) -> str:
    """Plain-text table of summary ``lines``: one row per (model, layer, factor), one column per metric."""
    shown = [ln for ln in lines if ln["split"] == split]
    skipped = [ln for ln in lines if ln["metric"] == "skipped"]
    metrics = metric_order(ln["metric"] for ln in shown)
    multi_protocol = len({ln.get("protocol") for ln in shown}) > 1
    keys: dict[tuple, dict[str, dict]] = {}
    for ln in shown:
        k = ((ln.get("protocol"),) if multi_protocol else ()) + (ln.get("label", ln.get("model")), ln.get("layer"),
                                                                 ln.get("factor"))
        keys.setdefault(k, {})[ln["metric"]] = ln
    head = (["protocol"] if multi_protocol else []) + ["model", "layer", "factor", "n train/test"]
    if "accuracy" in metrics:
        head.append("acc chance")
    head += metrics
    body = []
    for k, by_metric in keys.items():
        any_line = next(iter(by_metric.values()))
        row = [str(x) for x in k] + [f"{any_line.get('n_train', '?')}/{any_line.get('n_test', '?')}"]
        if "accuracy" in metrics:
            acc = by_metric.get("accuracy")
            row.append(f"{acc['chance']:.3f}" if acc and np.isfinite(acc.get("chance", np.nan)) else "-")
        row += [_cell(by_metric.get(m)) for m in metrics]
        body.append(row)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(head)]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    text = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body]
    for ln in skipped:
        text.append(f"skipped: {ln.get('label', ln.get('model'))} {ln.get('layer')} {ln['factor']}: {ln.get('note')}")
    text.append(_legend(shown, split=split, correction=correction, alpha=alpha))
    by_note: dict[str, list[str]] = {}
    for ln in shown:
        if ln.get("note") and ln["factor"] not in by_note.setdefault(ln["note"], []):
            by_note[ln["note"]].append(ln["factor"])
    text += [f"note ({', '.join(factors)}): {note}" for note, factors in by_note.items()]
    return "\n".join(text)


def _legend(shown: Sequence[dict], *, split: str, correction: str, alpha: float) -> str:
    ns = sorted({ln.get("n") for ln in shown if ln.get("n")})
    seeds = "/".join(str(n) for n in ns) or "?"
    text = f"mean ± sem over {seeds} seed(s), {split} split"
    tests = sorted({ln["test"] for ln in shown if ln.get("test")})
    if split == "test" and tests:
        fam = max((ln.get("family_size", 0) for ln in shown), default=0)
        text += (f"; * = above chance at alpha={alpha:g} after {correction} correction over {fam} tests "
                 f"per metric ({', '.join(tests)})")
        text += _power_warning(shown, correction=correction, alpha=alpha)
    return text


def _power_warning(shown: Sequence[dict], *, correction: str, alpha: float) -> str:
    """Say so when too few shuffles make significance impossible (smallest p is 1 / (N + 1))."""
    worst = None
    for ln in shown:
        m = re.match(r"permutation \((\d+) shuffles\)", ln.get("test") or "")
        if m:
            n_perm, fam = int(m.group(1)), int(ln.get("family_size", 1))
            smallest = (fam if correction != "none" else 1) / (n_perm + 1)
            if smallest >= alpha and (worst is None or fam > worst[1]):
                worst = (n_perm, fam)
    if worst is None:
        return ""
    n_perm, fam = worst
    need = math.floor(fam / alpha) if correction != "none" else math.floor(1 / alpha)
    return (f"\nwarning: with {n_perm} shuffles the smallest p is {1 / (n_perm + 1):.3g}, so nothing can be "
            f"significant after {correction} correction over {fam} tests; use at least {need} shuffles")
