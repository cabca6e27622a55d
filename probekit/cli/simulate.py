"""``probekit simulate``: the paper's synthetic identifiability experiment (Sec. 4.1, Tables 2 and 3).

Top-level imports are click only; torch and the simulation load when the command runs.
"""
from __future__ import annotations

import click

_PROBLEM_OPTIONS = ("mode", "dim", "clusters", "instances", "kappa", "conditional")


@click.command("simulate")
@click.option("--mode", type=click.Choice(["supervised", "diet"]), default="supervised", show_default=True,
              help="Target of the cross-entropy: the cluster label (supervised) or the instance label (DIET).")
@click.option("--dim", type=int, default=5, show_default=True, help="Latent dimension d (z on S^{d-1}).")
@click.option("--clusters", type=int, default=100, show_default=True, help="Number of cluster vectors |C|.")
@click.option("--instances", type=int, default=1000, show_default=True, help="Number of instance labels N.")
@click.option("--kappa", type=float, default=10.0, show_default=True, help="vMF concentration of p(z|v_c).")
@click.option("--conditional", type=click.Choice(["vmf", "laplace", "normal"]), default="vmf", show_default=True,
              help="p(z|v_c): vMF, or Laplace/Normal noise of scale 1 projected onto the sphere.")
@click.option("--steps", type=int, default=50_000, show_default=True, help="Training steps (the paper: 50,000).")
@click.option("--batch-size", type=int, default=1024, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]), default="constant", show_default=True,
              help="constant (the paper), or cosine decay to 0 over --steps (for reduced step budgets).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (with --sweep: the first seed).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--eval-every", type=int, default=1000, show_default=True, help="Steps between R^2 evaluations.")
@click.option("--threads", type=int, default=0, show_default=True,
              help="torch CPU threads; 0 = 1 on CPU (fastest for these small layers on a shared machine).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run directory [default: runs/simulate/<tag>, or runs/simulate/<sweep>].")
@click.option("--sweep", type=click.Choice(["table3", "table2"]), default=None,
              help="Run the rows of the paper's Table 3 (supervised) or Table 2 (DIET) instead of one config.")
@click.option("--seeds", type=int, default=1, show_default=True, help="With --sweep: seeds per row.")
@click.option("--rows", default=None, help="With --sweep: comma-separated row names (default: all), e.g. baseline,d20.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.pass_context
def simulate(ctx, mode, dim, clusters, instances, kappa, conditional, steps, batch_size, lr, lr_schedule, seed, device,
             eval_every, threads, out, sweep, seeds, rows, progress):
    """Train on the synthetic clusters-on-a-sphere data and report how well f(g(z)) recovers z (R^2).

    \b
    Examples
      probekit simulate --steps 5000                      # Table 3 baseline on a CPU
      probekit simulate --dim 20 --steps 1000 --seed 1
      probekit simulate --mode diet --steps 5000
      probekit simulate --sweep table3 --rows baseline,kappa50,laplace --seeds 3 --steps 5000
    """
    import warnings

    from ..errors import ConfigError
    from ..train.simulate.config import SimulationConfig
    from ..train.simulate.run import SimulationWarning
    from ..train.simulate.run import simulate as run_simulation

    base = dict(mode=mode, dim=dim, clusters=clusters, instances=instances, kappa=kappa, conditional=conditional,
                steps=steps, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule, seed=seed, device=device,
                eval_every=eval_every, threads=threads)
    if sweep is None:
        if rows is not None or ctx.get_parameter_source("seeds").name != "DEFAULT":
            raise ConfigError("--rows and --seeds need --sweep table3|table2; for one run pass --seed S")
        cfg = SimulationConfig(**base)
        for msg in cfg.warnings():
            click.echo(f"probekit: warning: {msg}", err=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SimulationWarning)  # printed above
            result = run_simulation(cfg, out=out or f"runs/simulate/{cfg.tag()}", progress=progress)
        click.echo(_summary(result, out or f"runs/simulate/{cfg.tag()}"))
        return

    given = [p for p in _PROBLEM_OPTIONS if ctx.get_parameter_source(p).name != "DEFAULT"]
    if given:
        raise ConfigError(
            f"--{given[0]} cannot be combined with --sweep {sweep} (each row sets it); "
            "drop it, or run one config without --sweep"
        )
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1; got {seeds} (pass e.g. --seeds 3)")
    from ..train.simulate.sweeps import format_table, get_rows, run_sweep

    row_names = [r.strip() for r in rows.split(",") if r.strip()] if rows else None
    get_rows(sweep, rows=row_names)  # unknown names fail before any training
    out = out or f"runs/simulate/{sweep}"
    base_cfg = SimulationConfig(**{k: v for k, v in base.items() if k not in _PROBLEM_OPTIONS})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SimulationWarning)
        results = run_sweep(sweep, seeds=list(range(seed, seed + seeds)), rows=row_names, base=base_cfg, out=out,
                            progress=progress)
    click.echo(format_table(results))
    click.echo(f"table: {out}/table.md, {out}/table.csv")


def _summary(result: dict, out: str) -> str:
    """A short plain-text table: untrained vs trained R^2, and the paper's value where one exists."""
    from ..train.simulate.config import SimulationConfig
    from ..train.simulate.sweeps import paper_row

    cfg = SimulationConfig(**result["config"])
    match = paper_row(cfg)
    paper = match[1].paper if match else {}
    noise = f"vMF kappa={cfg.kappa:g}" if cfg.conditional == "vmf" else f"{cfg.conditional} scale={cfg.scale:g}"
    lines = [
        f"{cfg.mode}: d={cfg.dim} |C|={cfg.clusters} N={cfg.instances} {noise}; {cfg.steps} steps, seed {cfg.seed}, "
        f"{result['device']}, {result['run_time_s']:.1f} s wall, {result.get('cpu_time_s', 0):.1f} s CPU "
        f"({result['steps_per_s'] or 0:.1f} steps/s)",
        f"{'metric':<18}{'input x':>10}{'untrained':>11}{'trained':>10}{'paper':>8}",
    ]
    m, init, inp = result["metrics"], result["initial"], result["input"]
    for key, name in [("r2_affine", "R^2 affine"), ("r2_orthogonal", "R^2 orthogonal"),
                      ("w_r2_affine", "W->v R^2 affine"), ("w_r2_orthogonal", "W->v R^2 orth.")]:
        if key not in m:
            continue
        x = inp.get(f"input_{key}")
        p = paper.get(key)
        lines.append(
            f"{name:<18}{'' if x is None else f'{x:.4f}':>10}{init[key]:>11.4f}{m[key]:>10.4f}"
            f"{'' if p is None else f'{p / 100:.3f}':>8}"
        )
    if match:
        lines.append(f"paper: Table {match[0][-1]}, row {match[1].name!r} (50,000 steps, 5 seeds)")
    lines.append(f"results: {out}/result.json, {out}/metrics.jsonl")
    return "\n".join(lines)
