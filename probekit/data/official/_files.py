"""Where the official files are: resolve a reader's ``root`` option to a file, or fail saying where it goes.

probekit never downloads a dataset. Each reader takes ``root=`` (the official file itself, or the
folder that holds it); without ``root`` it looks in the folder named by the environment variable
``PROBEKIT_DATA``. A missing file is a :class:`~probekit.errors.DataError` that names the expected file
and its official source.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError

DATA_ENV = "PROBEKIT_DATA"  # folder searched when a reader gets no root=


def locate(root: str | os.PathLike | None, names: Sequence[str], *, dataset: str, source: str,
           want_dir: bool = False, marker: str | None = None) -> Path:
    """Resolve ``root`` to the official file (or folder, ``want_dir``) of ``dataset``.

    Parameters
    ----------
    root: the file itself, a folder holding one of ``names``, or None (use ``$PROBEKIT_DATA``).
    names: accepted names inside a folder, the official one first (may contain ``/``).
    dataset: registered dataset name, for messages.
    source: where the official file comes from, for messages.
    want_dir: the dataset is a folder of files rather than one file.
    marker: for folders, a file that must exist inside the folder (``"."`` in ``names``: ``root`` itself).
    """
    expected = names[0]
    if root is None or str(root) == "":
        env = os.environ.get(DATA_ENV)
        if not env:
            raise DataError(
                f"dataset {dataset!r} reads the official {expected!r}, but no root was given; pass "
                f"root=<the file or the folder holding it> (or set {DATA_ENV}=<folder>); probekit never "
                f"downloads it: get it from {source}")
        root = env
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"dataset {dataset!r}: no file or folder at {path}; it needs the official {expected!r} "
                        f"there (probekit never downloads it: get it from {source})")
    if path.is_dir():
        for name in names:
            candidate = path / name
            if want_dir:
                if candidate.is_dir() and (marker is None or (candidate / marker).is_file()):
                    return candidate
            elif candidate.is_file():
                return candidate
        what = f"{expected}/{marker}" if want_dir and marker else expected
        raise DataError(f"dataset {dataset!r}: no {what!r} in {path}; put the official "
                        f"{'folder' if want_dir else 'file'} there or pass root=<its path> (probekit never "
                        f"downloads it: get it from {source})")
    if want_dir:
        raise DataError(f"dataset {dataset!r} needs a folder ({expected!r}), got the file {path}; pass root=<folder>")
    return path


def file_identity(path: Path) -> dict:
    """Name and size of a file: what identifies an official file in fingerprints (not its folder)."""
    return {"file": path.name, "bytes": int(path.stat().st_size)}


def digest(items: Sequence[str]) -> str:
    """Short sha256 of a list of strings (file lists in fingerprints)."""
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


def resize_square(images: np.ndarray, size: int) -> np.ndarray:
    """(B, H, W[, C]) uint8 -> (B, size, size[, C]) uint8 with Pillow's antialiased LANCZOS (as DisLib)."""
    from PIL import Image

    if images.shape[1] == size and images.shape[2] == size:
        return images
    out = [np.asarray(Image.fromarray(im).resize((size, size), Image.LANCZOS)) for im in images]
    return np.stack(out).astype(np.uint8, copy=False)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, H, W) or (B, H, W, C) uint8 -> contiguous (B, C, H, W) uint8 tensor."""
    if images.ndim == 3:
        images = images[:, None]
    else:
        images = images.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))


def check_choice(name: str, value, allowed: Sequence, *, dataset: str):
    """Raise a ConfigError unless ``value`` is one of ``allowed``."""
    from ...errors import ConfigError

    if value not in allowed:
        raise ConfigError(f"{dataset}: {name}={value!r} is not allowed; use one of {', '.join(map(repr, allowed))}")
    return value


def check_size(size, *, dataset: str, native: int) -> int:
    """A positive image side in pixels (``None`` means the native ``native``)."""
    from ...errors import ConfigError

    if size is None:
        return native
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 8:
        raise ConfigError(f"{dataset}: size={size!r} is not a valid image side; use an integer >= 8 "
                          f"(native {native})")
    return int(size)


class LazyFileMixin:
    """Readers that open file handles or caches lazily: drop them when pickled (DataLoader workers).

    Subclasses list the attribute names in ``_transient``; each is reset to ``None`` in the copy, and
    the reader reopens it on first use in the new process.
    """

    _transient: tuple[str, ...] = ()

    def __getstate__(self):
        state = dict(self.__dict__)
        for key in self._transient:
            state[key] = None
        return state
