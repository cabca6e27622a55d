"""The simulation's training loop: ``simulate(config) -> result dict`` (paper Sec. 4.1).

Data generating process, drawn once per seed: |C| cluster vectors v_c uniform on S^{d-1} and the
frozen invertible mixing g. Each training step draws B fresh instance labels i, their clusters
c = i mod |C|, fresh latents z ~ p(z | v_c) and observations x = g(z); the model is trained with
cross-entropy to predict c (supervised) or i (DIET) from x, with Adam. Every ``eval_every`` steps
the encoder features of a fixed held-out set of ``n_eval`` draws are regressed onto z (R^2, see
:mod:`.metrics`); each evaluation is appended to ``metrics.jsonl`` and the end result is written to
``result.json`` (config, metrics, run time) when ``out`` is given.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...devices import resolve_device
from .config import SimulationConfig
from .metrics import head_scores, identifiability_scores
from .mixing import InvertibleMLP, make_mixing
from .model import SimulationModel
from .vmf import sample_conditional, sample_uniform_sphere


class SimulationWarning(UserWarning):
    """A legal simulation setting outside the theory's assumptions."""


@dataclass
class World:
    """The ground truth of one seed: cluster vectors and mixing, plus how latents are drawn."""

    config: SimulationConfig
    centres: torch.Tensor  # (|C|, d) float32 cluster vectors v_c
    mixing: InvertibleMLP

    def to(self, device) -> "World":
        return World(self.config, self.centres.to(device), self.mixing.to(device))

    def draw(self, n: int, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw ``n`` fresh samples on the generator's device: z (n, d), x = g(z) (n, d), target (n,)."""
        cfg = self.config
        labels = torch.randint(cfg.instances, (n,), generator=generator, device=generator.device)  # (n,)
        clusters = labels % cfg.clusters
        z = sample_conditional(
            self.centres[clusters], conditional=cfg.conditional, kappa=cfg.kappa, scale=cfg.scale, generator=generator
        )
        x = self.mixing(z)
        return z, x, (clusters if cfg.mode == "supervised" else labels)


def _seeds(seed: int) -> dict[str, int]:
    """Independent sub-seeds, so e.g. the training draws do not depend on how the world was drawn."""
    keys = ("world", "model", "train", "eval")
    states = np.random.SeedSequence(seed).generate_state(len(keys))
    return {k: int(s) for k, s in zip(keys, states)}


def make_world(config: SimulationConfig) -> World:
    """Draw the cluster vectors and the mixing of ``config.seed`` (on the CPU, device-independent)."""
    gen = torch.Generator().manual_seed(_seeds(config.seed)["world"])
    centres = sample_uniform_sphere(config.clusters, dim=config.dim, generator=gen)  # (|C|, d)
    mixing = make_mixing(
        config.dim, n_layers=config.mixing_layers, cond_quantile=config.mixing_cond_quantile, generator=gen
    )
    return World(config, centres, mixing)


def make_model(config: SimulationConfig) -> SimulationModel:
    """The untrained model of ``config.seed``, initialised on the CPU without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_seeds(config.seed)["model"])
        return SimulationModel(config.dim, config.n_classes)


@torch.no_grad()
def evaluate(model: SimulationModel, world: World, z: torch.Tensor, x: torch.Tensor, target: torch.Tensor) -> dict:
    """Held-out metrics of ``model`` on the evaluation draws z (n, d), x (n, d), target (n,)."""
    was_training = model.training
    model.eval()
    feats = model.features(x)  # (n, d)
    logits = model.head(feats)  # (n, n_classes)
    out = {
        "eval_loss": float(F.cross_entropy(logits, target)),
        "eval_acc": float((logits.argmax(dim=1) == target).float().mean()),
        **identifiability_scores(feats, z),
    }
    if world.config.mode == "diet":
        out.update(head_scores(model.head.weight, world.centres))
    model.train(was_training)
    return out


def _adam(model: torch.nn.Module, *, lr: float) -> torch.optim.Adam:
    """Adam, fused into one kernel where this torch supports it (CPU: torch >= 2.4): about 1.3x faster steps."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def simulate(config: SimulationConfig, *, out: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Run one simulation and return its result (also written to ``out/result.json`` if ``out`` is given).

    Parameters
    ----------
    config:
        What to run; see :class:`SimulationConfig`.
    out:
        Run directory for ``metrics.jsonl`` (one line per evaluation) and ``result.json``; None writes nothing.
    progress:
        Show a tqdm progress bar with the loss and the latest R^2.

    Returns
    -------
    dict with ``config``, ``metrics`` (final evaluation), ``initial`` (the untrained encoder),
    ``input`` (R^2 of the raw observations x = g(z)), ``history``, ``run_time_s`` and run details.

    Example
    -------
    >>> cfg = SimulationConfig(steps=20, batch_size=64, clusters=20, instances=100, n_eval=512, device="cpu")
    >>> result = simulate(cfg, progress=False)
    >>> sorted(result["metrics"])[:2]
    ['eval_acc', 'eval_loss']
    """
    from tqdm.auto import tqdm

    cfg = config
    for msg in cfg.warnings():
        warnings.warn(msg, SimulationWarning, stacklevel=2)
    device = resolve_device(cfg.device)
    old_threads = torch.get_num_threads()
    threads = cfg.threads or (1 if device.type == "cpu" else old_threads)
    torch.set_num_threads(threads)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    try:
        seeds = _seeds(cfg.seed)
        world = make_world(cfg).to(device)
        model = make_model(cfg).to(device)
        opt = _adam(model, lr=cfg.lr)
        gen_train = torch.Generator(device=device).manual_seed(seeds["train"])
        gen_eval = torch.Generator(device=device).manual_seed(seeds["eval"])
        z_eval, x_eval, t_eval = world.draw(cfg.n_eval, generator=gen_eval)
        input_scores = identifiability_scores(x_eval, z_eval)

        log = None
        if out is not None:
            out = Path(out)
            out.mkdir(parents=True, exist_ok=True)
            log = open(out / "metrics.jsonl", "w")
        history = []

        def record(step: int, train_loss: float | None) -> dict:
            row = {"step": step, "train_loss": train_loss, **evaluate(model, world, z_eval, x_eval, t_eval)}
            row["elapsed_s"] = round(time.perf_counter() - t_start, 3)
            history.append(row)
            if log is not None:
                log.write(json.dumps(row) + "\n")
                log.flush()
            return row

        initial = record(0, None)
        model.train()
        bar = tqdm(total=cfg.steps, desc=cfg.tag(), disable=not progress, dynamic_ncols=True, mininterval=0.5)
        loss_sum, loss_n, last = torch.zeros((), device=device), 0, initial  # running training loss
        t_train = time.perf_counter()
        for step in range(1, cfg.steps + 1):
            if cfg.lr_schedule == "cosine":  # lr of this step: from cfg.lr down to 0 after the last step
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / cfg.steps))
            _, x, target = world.draw(cfg.batch_size, generator=gen_train)
            loss = F.cross_entropy(model(x), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()  # stays on the device: no per-step sync
            loss_n += 1
            if step % cfg.eval_every == 0 or step == cfg.steps:
                last = record(step, float(loss_sum) / loss_n)
                loss_sum.zero_()
                loss_n = 0
            if progress and (step % 50 == 0 or step == cfg.steps):
                bar.set_postfix(loss=f"{loss.item():.3f}", r2=f"{last['r2_affine']:.4f}", refresh=False)
                bar.update(step - bar.n)
        bar.close()
        train_time = time.perf_counter() - t_train
        if log is not None:
            log.close()
    finally:
        torch.set_num_threads(old_threads)

    run_time = time.perf_counter() - t_start
    result = {
        "config": cfg.to_dict(),
        "tag": cfg.tag(),
        "metrics": {k: v for k, v in last.items() if k not in ("step", "elapsed_s")},
        "initial": {k: v for k, v in initial.items() if k not in ("step", "elapsed_s", "train_loss")},
        "input": {f"input_{k}": v for k, v in input_scores.items()},
        "history": history,
        "run_time_s": round(run_time, 3),
        # CPU seconds of this process: on a shared machine a better measure of cost than wall time
        "cpu_time_s": round(time.process_time() - cpu_start, 3),
        "train_time_s": round(train_time, 3),  # the training loop, evaluations included
        "steps_per_s": round(cfg.steps / train_time, 2) if cfg.steps and train_time > 0 else None,
        "device": str(device),
        "threads": threads,
        "mixing_cond_threshold": float(world.mixing.cond_threshold),
        "mixing_condition_numbers": world.mixing.condition_numbers(),
        "torch_version": torch.__version__,
    }
    if out is not None:
        _write_json(out / "result.json", result)
    return result
