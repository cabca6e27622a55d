"""Batched L2 logistic regression in torch: many problems that share one feature matrix, one program.

Task ``t`` minimises scikit-learn's objective ``f_t = C_t sum_r m_rt loss(x_r w_t + b_t, y_rt) +
0.5 ||w_t||^2`` where ``m_rt`` counts how often row ``r`` belongs to task ``t``. All tasks of a block
are stacked as columns: one ``X @ (D, T*K)`` product and one ``X^T @ (n, T*K)`` product per iteration
serve them all. The solver is L-BFGS with, per task,

* an exact line search that costs no extra pass over ``X``: ``X (w + s d) = X w + s X d``, so the 1-d
  function along ``d`` and its derivatives come from the cached ``X w`` and ``X d``;
* the initial inverse Hessian ``(I + c_t Sigma)^-1`` (``c_t = C_t n_t / 4`` for binary tasks,
  ``Sigma`` the covariance of a row sample of ``X``, sketched by its top eigenpairs: torch_precond),
  close to the inverse Hessian at ``theta = 0``; it removes most of the ill-conditioning of correlated
  features;
* a convergence mask: a task stops when ``max |grad f_t| / (C_t n_t) <= tol``, scikit-learn's
  criterion for its lbfgs solver (the gradient of the mean loss plus ``||w||^2 / (2 C n)``), or when
  two successful line searches in a row lower ``f`` by less than scipy's ``ftol = 64 eps`` (relative),
  which scipy and scikit-learn also count as convergence. Three line searches in a row that find no
  step stop a task unconverged.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

# Cost model of one block, in units of (row x task column): a product over |R| rows and T tasks costs
# about |R| * (T + _MEM_COLS) (below ~8 columns the product is bound by reading X), plus a fixed cost
# per block (kernel launches and small ops per iteration).
_MEM_COLS = 8
_BLOCK_OVERHEAD = 4096
_ELEMENTWISE_PARALLEL = 1 << 21  # (n, T, K) elements from which the line search uses the block's threads


@dataclass(frozen=True)
class LBFGSConfig:
    """Options of the batched solver (defaults suit 10^2..10^6 rows and 10..10^4 features)."""

    history: int = 10               # L-BFGS correction pairs kept per task
    max_iter: int = 10_000          # cap when the caller asks for convergence (max_iter=None)
    line_search_steps: int = 12     # safeguarded Newton / bisection steps along each direction
    line_search_c2: float = 0.1     # accept a step once |phi'(s)| <= c2 |phi'(0)| (near-exact search)
    precondition: bool = True       # (I + c Sigma)^-1 as initial inverse Hessian (False: a scalar multiple of I)
    precondition_rows: int = 8192   # rows sampled to estimate Sigma
    precondition_rank: int = 256    # eigenpairs of Sigma kept exactly (the rest: their mean eigenvalue)
    scale_h0: bool = True           # rescale H0 each iteration by s.y / y.H0.y (Shanno-Phua)
    dense_fraction: float = 0.5     # a block covering more than this share of X reads X in place (no copy)


@contextmanager
def num_threads(n: int | None):
    """Use ``n`` CPU threads for torch ops inside the block (None: leave the setting alone)."""
    if n is None or n == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def plan_blocks(rows: list[np.ndarray], n: int, *, dense_fraction: float = 0.5) -> list[tuple[np.ndarray | None, list[int]]]:
    """Group tasks whose row sets overlap so that one matrix product serves each group.

    Greedy: tasks in decreasing size join the block whose union of rows grows the modelled cost the
    least, or open a new block when that is cheaper. Returns ``(block rows or None for all rows, task
    indices)`` per block.
    """
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    blocks: list[dict] = []
    for i in order:
        u = np.unique(rows[i])
        best, best_cost = None, len(u) * (1 + _MEM_COLS) + _BLOCK_OVERHEAD
        for b in blocks:
            size = b["size"] + int(np.count_nonzero(~b["mask"][u]))
            T = len(b["tasks"])
            extra = size * (T + 1 + _MEM_COLS) - b["size"] * (T + _MEM_COLS)
            if extra < best_cost:
                best, best_cost = b, extra
        if best is None:
            best = {"mask": np.zeros(n, dtype=bool), "size": 0, "tasks": []}
            blocks.append(best)
        best["mask"][u] = True
        best["size"] = int(np.count_nonzero(best["mask"]))
        best["tasks"].append(i)
    return [(None if b["size"] > dense_fraction * n else np.flatnonzero(b["mask"]), sorted(b["tasks"]))
            for b in blocks]


def _loss_terms(Z: torch.Tensor, Y: torch.Tensor, K: int):
    """Per-row loss (n, T) and its gradient wrt the logits (n, T, K). Z is (n, T, K) float64."""
    if K == 1:
        z = Z[..., 0]
        loss = torch.nn.functional.softplus(z) - Y * z
        return loss, (torch.sigmoid(z) - Y)[..., None]
    lse = torch.logsumexp(Z, dim=2)                                   # (n, T)
    loss = lse - Z.gather(2, Y[..., None])[..., 0]
    P = torch.exp(Z - lse[..., None])
    P.scatter_add_(2, Y[..., None], -torch.ones_like(Z[..., :1]))
    return loss, P


def _line_derivatives(Z, Zd, Y, M, C, K, a, q, s):
    """phi'(s) and phi''(s) (T,) of ``phi(s) = C sum m loss(Z + s Zd) + 0.5 ||w + s d||^2``."""
    Zs = Z + s[None, :, None] * Zd
    if K == 1:
        p = torch.sigmoid(Zs[..., 0])
        zd = Zd[..., 0]
        d1 = ((p - Y) * zd * M).sum(0)
        d2 = (p * (1 - p) * zd.square() * M).sum(0)
    else:
        P = torch.softmax(Zs, dim=2)
        pz = (P * Zd).sum(2)                                            # (n, T)
        d1 = ((pz - Zd.gather(2, Y[..., None])[..., 0]) * M).sum(0)
        d2 = (((P * Zd.square()).sum(2) - pz.square()) * M).sum(0)
    return C * d1 + a + s * q, C * d2 + q


def _line_search(Z, Zd, Y, M, C, K, a, q, g0, cfg: LBFGSConfig, live):
    """Step sizes (T,) minimising phi along d, and whether each met ``|phi'(s)| <= c2 |phi'(0)|``.

    Newton on the increasing phi', kept inside the bracket [lo, hi] with phi'(lo) < 0 <= phi'(hi); when
    Newton leaves the bracket, a secant (regula falsi) step with the Illinois rule (the derivative kept
    at an end that stays put twice is halved) so that one-sided progress cannot stall. A task that never
    met the test takes the last point known to lie before the minimum (0 if none).
    """
    T = Z.shape[1]
    s = torch.ones(T, dtype=torch.float64, device=Z.device)
    lo, dlo = torch.zeros_like(s), g0.clone()
    hi, dhi = torch.full_like(s, math.inf), torch.full_like(s, math.inf)
    last = torch.zeros(T, dtype=torch.long, device=Z.device)           # -1: lo moved last, +1: hi moved last
    done = ~live
    target = cfg.line_search_c2 * g0.abs()
    for _ in range(cfg.line_search_steps):
        d1, d2 = _line_derivatives(Z, Zd, Y, M, C, K, a, q, s)
        done = done | (d1.abs() <= target)
        if bool(done.all()):
            break
        below = ~done & (d1 < 0)
        above = ~done & (d1 >= 0)
        dhi = torch.where(below & (last == -1), 0.5 * dhi, dhi)        # Illinois: lo moved twice
        dlo = torch.where(above & (last == 1), 0.5 * dlo, dlo)         # Illinois: hi moved twice
        lo, dlo = torch.where(below, s, lo), torch.where(below, d1, dlo)
        hi, dhi = torch.where(above, s, hi), torch.where(above, d1, dhi)
        last = torch.where(below, -1, torch.where(above, 1, last))
        newton = s - d1 / d2.clamp_min(1e-300)
        grow = torch.minimum(torch.maximum(newton, 1.1 * s), 4.0 * s)   # no upper bracket yet: x1.1 .. x4
        secant = (lo * dhi - hi * dlo) / (dhi - dlo)                    # root of the chord, inside (lo, hi)
        inside = (newton > lo) & (newton < hi)
        nxt = torch.where(torch.isinf(hi), grow, torch.where(inside, newton, secant))
        s = torch.where(done, s, nxt)
    ok = done & live
    s = torch.where(done, s, lo)
    return torch.where(live, s, torch.zeros_like(s)), ok


def _dot(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Per-task inner product of parameter tensors (..., P, T, K) -> (..., T)."""
    return (A * B).sum(dim=(-3, -1))


class _Block:
    """Solver state of one block of tasks; parameters are stacked as (D + 1, T, K), last row = intercepts.

    Every per-task tensor is listed in ``_TASK_DIM`` with its task axis, so that :meth:`keep` can drop
    finished tasks and later products only pay for the live ones.
    """

    _TASK_DIM = {"theta": 1, "Z": 1, "M": 1, "Y": 1, "C": 0, "n_t": 0, "c": 0, "G": 1, "f": 0, "S": 2, "Yh": 2,
                 "rho": 1, "gamma": 0, "y_last": 1, "sy_last": 0, "fails": 0, "flats": 0, "ids": 0}

    def __init__(self, X, M, Y, C, K, *, fit_intercept, precond, cfg, threads):
        n, D = X.shape
        self.threads = threads                                          # for the (n, .) products and loss
        T, dev, f64 = M.shape[1], X.device, torch.float64
        self.X, self.K, self.fit_intercept, self.precond = X, K, fit_intercept, precond
        self.M, self.Y, self.C = M, Y, C
        self.n_t = M.sum(0)                                             # (T,) rows per task
        self.c = C * self.n_t * (0.25 if K == 1 else 1.0 / K)           # (T,) curvature scale at theta = 0
        self.theta = torch.zeros(D + 1, T, K, dtype=f64, device=dev)
        self.Z = torch.zeros(n, T, K, dtype=f64, device=dev)            # logits X w + b, updated in place
        self.S = torch.zeros(cfg.history, D + 1, T, K, dtype=f64, device=dev)  # L-BFGS steps
        self.Yh = torch.zeros_like(self.S)                              # gradient changes
        self.rho = torch.zeros(cfg.history, T, dtype=f64, device=dev)   # 1 / s.y; 0 marks an empty slot
        self.gamma = torch.ones(T, dtype=f64, device=dev)               # H0 scale
        self.y_last = torch.zeros_like(self.theta)
        self.sy_last = torch.zeros(T, dtype=f64, device=dev)            # 0: no new pair for the scale
        self.fails = torch.zeros(T, dtype=torch.long, device=dev)     # line searches in a row without a step
        self.flats = torch.zeros(T, dtype=torch.long, device=dev)     # steps in a row that did not lower f
        self.ids = torch.arange(T, device=dev)                          # original task index of each column
        self.f, self.G = self.gradient()

    def keep(self, idx: torch.Tensor) -> None:
        """Keep only the task columns ``idx``."""
        for name, dim in self._TASK_DIM.items():
            setattr(self, name, getattr(self, name).index_select(dim, idx))

    def forward(self, P):
        """(D + 1, T, K) -> logits (n, T, K) float64."""
        D = self.X.shape[1]
        T, K = P.shape[1], P.shape[2]
        with num_threads(self.threads):
            Z = self.X @ P[:D].reshape(D, T * K).to(self.X.dtype)
            return Z.to(torch.float64).reshape(-1, T, K) + P[D][None]

    def gradient(self):
        """Objective (T,) and its gradient (D + 1, T, K) at the current parameters."""
        D, T, K = self.X.shape[1], self.Z.shape[1], self.K
        G = torch.empty_like(self.theta)
        with num_threads(self.threads):
            loss, dl = _loss_terms(self.Z, self.Y, self.K)
            R = dl * (self.M * self.C)[..., None]                       # (n, T, K)
            G[:D] = (R.reshape(-1, T * K).to(self.X.dtype).T @ self.X).T.to(torch.float64).reshape(D, T, K)
            G[D] = R.sum(0) if self.fit_intercept else 0.0
            f = self.C * (loss * self.M).sum(0)
        G[:D] += self.theta[:D]
        f += 0.5 * self.theta[:D].square().sum(dim=(0, 2))
        return f, G

    def apply_h0(self, Q):
        """Initial inverse Hessian (unscaled) applied to (D + 1, r T, K): r stacked copies of the tasks."""
        D = self.X.shape[1]
        cols, K = Q.shape[1], Q.shape[2]
        c = self.c.repeat(cols // len(self.c))                          # (r T,)
        out = torch.empty_like(Q)
        out[:D] = self.precond.apply(Q[:D].reshape(D, cols * K), c[:, None].expand(cols, K).reshape(-1)).reshape(Q[:D].shape)
        out[D] = Q[D] / c.clamp_min(1e-12)[:, None]
        return out

    def direction(self, k: int, m: int) -> torch.Tensor:
        """L-BFGS direction by the two-loop recursion (newest pair first); H0 = gamma (I + c Sigma)^-1."""
        q = -self.G
        alphas = []
        for j in [(k - 1 - i) % m for i in range(min(k, m))]:
            al = self.rho[j] * _dot(self.S[j], q)
            q = q - al[None, :, None] * self.Yh[j]
            alphas.append((j, al))
        T = q.shape[1]
        both = self.apply_h0(torch.cat([q, self.y_last], dim=1))      # one pass: H0 q and H0 y_last
        new = self.sy_last > 0
        if bool(new.any()):
            yHy = _dot(self.y_last, both[:, T:])
            self.gamma = torch.where(new, self.sy_last / yHy.where(new, torch.ones_like(yHy)), self.gamma)
        r = both[:, :T] * self.gamma[None, :, None]
        for j, al in reversed(alphas):
            be = self.rho[j] * _dot(self.Yh[j], r)
            r = r + (al - be)[None, :, None] * self.S[j]
        return r


def solve_block(X, M, Y, C, K, *, fit_intercept: bool, max_iter: int, tol: float, precond, cfg: LBFGSConfig,
                threads: int | None = None):
    """Solve the tasks of one block. Returns (theta (D + 1, T, K), n_iter (T,), converged (T,)) on CPU.

    ``threads``: CPU threads for the products with X and the per-row loss; the caller runs everything
    else on one thread (small ops lose more to waking a thread pool than they gain).
    """
    blk = _Block(X, M, Y, C, K, fit_intercept=fit_intercept, precond=precond, cfg=cfg, threads=threads)
    T = M.shape[1]
    theta = torch.zeros_like(blk.theta)
    n_iter = torch.zeros(T, dtype=torch.long)
    conv = torch.zeros(T, dtype=torch.bool)
    ftol = 64 * torch.finfo(torch.float64).eps                          # scipy's L-BFGS-B default, as in sklearn
    m = cfg.history
    k = 0
    while True:
        # converged: scikit-learn's gradient test, or (like scipy's L-BFGS-B) f no longer decreasing;
        # finished tasks (converged, stalled, out of iterations) are dropped once a quarter has finished
        done = (blk.G.abs().amax(dim=(0, 2)) / (blk.C * blk.n_t) <= tol) | (blk.flats >= 2)
        stop = done | (blk.fails >= 3) | (k >= max_iter)
        theta[:, blk.ids] = blk.theta
        conv[blk.ids.cpu()] = done.cpu()
        if bool(stop.all()):
            break
        if int(stop.sum()) >= max(1, len(stop) // 4):
            blk.keep(torch.nonzero(~stop)[:, 0])
            stop = stop[~stop]
        live = ~stop
        d = blk.direction(k, m)
        d = torch.where(live[None, :, None], d, torch.zeros_like(d))
        g0 = _dot(blk.G, d)                                             # (T,) phi'(0) < 0
        bad = live & (g0 >= 0)
        if bool(bad.any()):                                             # lost descent: restart on -H0 g
            d = torch.where(bad[None, :, None], -blk.apply_h0(blk.G), d)
            g0 = _dot(blk.G, d)
            blk.rho[:, bad] = 0.0
            blk.gamma = torch.where(bad, torch.ones_like(blk.gamma), blk.gamma)
        Zd = blk.forward(d)                                             # (n, T, K)
        dw = d[:-1]
        with num_threads(threads if blk.Z.numel() >= _ELEMENTWISE_PARALLEL else None):
            step, ok = _line_search(blk.Z, Zd, blk.Y, blk.M, blk.C, K, _dot(blk.theta[:-1], dw), _dot(dw, dw),
                                    g0, cfg, live)
        sd = d * step[None, :, None]
        blk.theta += sd
        blk.Z += Zd * step[None, :, None]
        f_new, G_new = blk.gradient()
        yv = G_new - blk.G
        sy = _dot(sd, yv)
        good = live & (step > 0) & (sy > 1e-12 * _dot(yv, yv).sqrt() * _dot(sd, sd).sqrt())
        slot = k % m
        blk.S[slot] = torch.where(good[None, :, None], sd, torch.zeros_like(sd))
        blk.Yh[slot] = torch.where(good[None, :, None], yv, torch.zeros_like(yv))
        blk.rho[slot] = torch.where(good, 1.0 / sy.where(good, torch.ones_like(sy)), torch.zeros_like(sy))
        if cfg.scale_h0:
            blk.y_last, blk.sy_last = yv, torch.where(good, sy, torch.zeros_like(sy))
        flat = ok & ((blk.f - f_new) <= ftol * torch.maximum(blk.f.abs(), torch.ones_like(blk.f)))
        blk.flats = torch.where(live & flat, blk.flats + 1, torch.zeros_like(blk.flats))
        blk.fails = torch.where(live & (step == 0), blk.fails + 1, torch.zeros_like(blk.fails))
        blk.f = torch.where(live, f_new, blk.f)
        blk.G = torch.where(live[None, :, None], G_new, blk.G)
        n_iter[blk.ids.cpu()] += live.long().cpu()
        k += 1
    return theta.cpu(), n_iter, conv
