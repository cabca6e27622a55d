"""The torch probe backend (default): closed-form ridge and batched logistic regression, CPU or CUDA."""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ...errors import ConfigError, DataError
from . import torch_ridge
from ._util import as_matrix, as_targets, check_alphas, check_cv, check_dtype, check_tasks, kfold_indices
from .base import LogisticFit, LogisticTask, ProbeBackend, RidgeFit
from .torch_logistic import LBFGSConfig, num_threads, plan_blocks, solve_block
from .torch_precond import SharedPreconditioner
from .torch_rowspace import row_space_basis, worth_reducing
from ...devices import resolve_device


# Below this many multiply-adds per product, CPU work runs on one thread: waking a thread pool costs more
# than it saves on small and mid-size matrices (milliseconds per op when the cores are shared).
_SMALL_WORK = 1 << 29


def block_work(n_rows: int, n_features: int, n_tasks: int, n_outputs: int) -> int:
    """Multiply-adds of one product of a logistic block (what decides one thread or all)."""
    return n_rows * n_features * n_tasks * n_outputs


def cpu_threads_for(work: int, device: torch.device):
    """One CPU thread for small problems (a context manager; a no-op on GPUs and for big problems)."""
    return num_threads(1 if device.type == "cpu" and work < _SMALL_WORK else None)


class TorchBackend(ProbeBackend):
    """Ridge and logistic regression as batched tensor programs.

    Parameters
    ----------
    device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"`` or ``"cuda:i"``.
    dtype: ``"float32"`` (default) or ``"float64"``: the precision of the products with ``X``. The
        optimiser state (coefficients, gradients, line search) is always float64.
    solver: options of the batched L-BFGS solver (:class:`LBFGSConfig`).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(60, 5))
    >>> fit = TorchBackend(device="cpu").ridge(X, X[:, :2] @ [[1.0], [2.0]], alphas=[0.1, 1.0])
    >>> fit.coef.shape, fit.alpha.shape
    ((5, 1), (1,))
    """

    name = "torch"

    def __init__(self, *, device: str = "auto", dtype: str = "float32", solver: LBFGSConfig | None = None):
        self.device = resolve_device(device)
        self.dtype_name = check_dtype(dtype)
        self.dtype = getattr(torch, self.dtype_name)
        self.solver = solver or LBFGSConfig()

    def __repr__(self) -> str:
        return f"TorchBackend(device={str(self.device)!r}, dtype={self.dtype_name!r})"

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        with warnings.catch_warnings():  # read-only inputs (memmaps) are never written to
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.as_tensor(X).to(device=self.device, dtype=self.dtype)

    # ------------------------------------------------------------------ ridge
    def ridge(self, X, Y, *, alphas: Sequence[float], fit_intercept: bool = True, cv: str | int = "gcv",
              seed: int = 0) -> RidgeFit:
        """Ridge for every column of ``Y``; alpha per target by efficient LOO (``"gcv"``) or k-fold.

        ``seed`` shuffles the k folds (``KFold(k, shuffle=True, random_state=seed)``).
        """
        X = as_matrix(X)
        Yn = as_targets(Y, X.shape[0])                                  # (n, T) float64
        a = check_alphas(alphas)
        cv = check_cv(cv)
        folds = kfold_indices(X.shape[0], cv, seed=seed) if cv != "gcv" and len(a) > 1 else None
        Xt = self._tensor(X)                                            # (n, D)
        Yt = torch.as_tensor(Yn, device=self.device)                    # (n, T) float64
        n, D = X.shape
        with cpu_threads_for(n * D * min(n, D), self.device):
            return torch_ridge.ridge(Xt, Yt, a, fit_intercept=fit_intercept, cv=cv, folds=folds)

    # --------------------------------------------------------------- logistic
    def logistic(self, X, y, *, n_classes: int, C: float = 1.0, fit_intercept: bool = True,
                 max_iter: int | None = None, tol: float = 1e-6) -> LogisticFit:
        """Fit one L2 logistic regression (a batch of one)."""
        y = np.asarray(y).reshape(-1)
        task = LogisticTask(rows=np.arange(len(y)), y=y, n_classes=n_classes, C=C)
        return self.logistic_many(X, [task], fit_intercept=fit_intercept, max_iter=max_iter, tol=tol)[0]

    def logistic_many(self, X, tasks: Sequence[LogisticTask], *, fit_intercept: bool = True,
                      max_iter: int | None = None, tol: float = 1e-6) -> list[LogisticFit]:
        """Fit every task in batched L-BFGS runs over shared products with ``X`` (see torch_logistic)."""
        X = as_matrix(X)
        n, D = X.shape
        checked = check_tasks(tasks, n)
        if not checked:
            return []
        if max_iter is not None and (not isinstance(max_iter, (int, np.integer)) or max_iter < 1):
            raise ConfigError(f"max_iter must be a positive int or None (run to convergence), got {max_iter!r}")
        if not tol > 0:
            raise ConfigError(f"tol must be positive, got {tol!r}")
        limit = int(max_iter) if max_iter is not None else self.solver.max_iter
        Xt = self._tensor(X)                                            # (n, D) compute dtype
        used = np.unique(np.concatenate([r for r, _ in checked]))
        sel = None if len(used) == n else torch.as_tensor(used, device=self.device)
        basis = None
        if worth_reducing(len(used), D):                                # e.g. raw pixels: D >> rows
            basis = row_space_basis(Xt if sel is None else Xt[sel])     # (D, r) float64, r <= len(used)
            Xt = Xt @ basis.to(self.dtype)                              # (n, r): same optimum, r columns
            D = Xt.shape[1]
        Xp = Xt if sel is None else Xt[sel]                             # the rows some task trains on
        rank = self.solver.precondition_rank if self.solver.precondition else 0
        with cpu_threads_for(min(len(used), self.solver.precondition_rows) * D * D, self.device):
            precond = SharedPreconditioner(Xp, n_rows=self.solver.precondition_rows, rank=rank, dtype=self.dtype)
        fits: list[LogisticFit | None] = [None] * len(tasks)
        widths = [1 if t.n_classes == 2 else int(t.n_classes) for t in tasks]
        jobs = []                                                       # (block rows or None, task ids, K)
        for K in sorted(set(widths)):
            ids = [i for i, w in enumerate(widths) if w == K]
            plan = plan_blocks([checked[i][0] for i in ids], n, dense_fraction=self.solver.dense_fraction)
            jobs += [(rows_b, [ids[j] for j in members], K) for rows_b, members in plan]

        def solve(job) -> None:
            rows_b, ids, K = job
            self._solve(Xt, rows_b, ids, tasks, checked, K, fits, fit_intercept=fit_intercept, limit=limit,
                        tol=float(tol), precond=precond)

        self._run_blocks(solve, jobs, n_rows=n, n_features=Xt.shape[1])
        if basis is not None:                                           # back to the D original features
            B = basis.cpu().numpy()
            for f in fits:
                f.coef = B @ f.coef                                     # (D, K')
                f.extra["row_space_rank"] = int(B.shape[1])
        return fits  # type: ignore[return-value]

    def _run_blocks(self, solve, jobs, *, n_rows: int, n_features: int) -> None:
        """Solve every block: big ones one after another on all threads, small ones side by side.

        A small block runs on one CPU thread (waking the pool costs more than it saves), which would
        leave the other cores idle; so the small blocks go to a pool of one-thread workers instead,
        longest first. Blocks are independent and each runs on one thread, so the results do not
        depend on the scheduling.
        """
        def work(job) -> int:
            rows_b, ids, K = job
            return block_work(n_rows if rows_b is None else len(rows_b), n_features, len(ids), K)

        workers = torch.get_num_threads() if self.device.type == "cpu" else 1
        is_small = [workers > 1 and work(job) < _SMALL_WORK for job in jobs]
        for job, small_job in zip(jobs, is_small):
            if not small_job:
                solve(job)
        small = sorted((job for job, small_job in zip(jobs, is_small) if small_job), key=work, reverse=True)
        if len(small) <= 1:
            for job in small:
                solve(job)
            return
        with num_threads(1), ThreadPoolExecutor(workers, thread_name_prefix="probekit-block") as pool:
            for done in [pool.submit(solve, job) for job in small]:
                done.result()                                           # re-raises a block's error

    def _solve(self, Xt, rows_b, ids, tasks, checked, K, fits, *, fit_intercept, limit, tol, precond):
        """Build the weights/labels of one block, solve it and store one LogisticFit per task."""
        n = Xt.shape[0]
        if rows_b is None:
            Xb, local = Xt, np.arange(n)
        else:
            Xb = Xt[torch.as_tensor(rows_b, device=self.device)]        # (n_b, D) gathered rows
            local = np.full(n, -1, dtype=np.int64)
            local[rows_b] = np.arange(len(rows_b))
        nb, T = Xb.shape[0], len(ids)
        M = np.zeros((nb, T))                                           # (n_b, T) row multiplicity
        Y = np.zeros((nb, T), dtype=np.int64)                           # (n_b, T) class codes
        for j, i in enumerate(ids):
            rows, y = checked[i]
            pos = local[rows]
            np.add.at(M[:, j], pos, 1.0)
            Y[pos, j] = y
            if len(np.unique(pos)) < len(pos) and np.any(Y[pos, j] != y):
                raise DataError(f"task {i} lists a row twice with different labels; give each row once")
        C = torch.as_tensor([float(tasks[i].C) for i in ids], dtype=torch.float64, device=self.device)
        Mt = torch.as_tensor(M, device=self.device)
        Yt = torch.as_tensor(Y, device=self.device)
        if K == 1:
            Yt = Yt.to(torch.float64)
        cpu = self.device.type == "cpu"
        heavy = torch.get_num_threads() if cpu and block_work(nb, Xb.shape[1], T, K) >= _SMALL_WORK else None
        with num_threads(1 if cpu else None):
            theta, n_iter, conv = solve_block(Xb, Mt, Yt, C, K, fit_intercept=fit_intercept, max_iter=limit,
                                              tol=tol, precond=precond, cfg=self.solver, threads=heavy)
        theta = theta.numpy()                                           # (D + 1, T, K)
        for j, i in enumerate(ids):
            fits[i] = LogisticFit(coef=theta[:-1, j, :].copy(), intercept=theta[-1, j, :].copy(),
                                  n_classes=int(tasks[i].n_classes), C=float(tasks[i].C),
                                  n_iter=int(n_iter[j]), converged=bool(conv[j]),
                                  extra={"backend": "torch", "block_rows": int(nb), "block_tasks": T})
