"""Readers of the official dataset files; importing this package registers them.

``dsprites-file``, ``shapes3d``, ``mpi3d-toy``, ``mpi3d-realistic``, ``mpi3d-real``, ``cars3d``,
``smallnorb`` and ``imagenet-x``. Each takes ``root=`` (the official file or its folder; default
``$PROBEKIT_DATA``) and never downloads. See ``docs/datasets.md``.
"""
from . import cars3d, dsprites_npz, imagenet_x, mpi3d, shapes3d, smallnorb  # noqa: F401  (register on import)
from ._files import DATA_ENV
from .npz_files import uncompress_npz

__all__ = ["DATA_ENV", "uncompress_npz"]
