"""ImageNet-X: 16 binary factor annotations of ImageNet images, plus the class split in two.

Annotations come from the installed ``imagenet-x`` package (``load_annotations()``); they are licensed
CC BY-NC and are never copied into probekit or its outputs beyond the factor codes of a store. Install
them with ``pip install 'probekit[imagenet]'``. Images come from the user's own ImageNet-1k folder:
the validation images ``ILSVRC2012_val_XXXXXXXX.JPEG`` in one folder (or in class sub-folders), or
for ``split="train"`` the training folder with its ``nXXXXXXXX/`` sub-folders.

Defaults follow the paper: the val split, the one-hot "top" labels, prototype images removed (46,110
rows), and ``class`` binarised at its mean over those rows (``class >= 497.69``, i.e. ``>= 498``);
``class_threshold=500`` splits at 500 instead, ``None`` keeps the 1000 classes. ``labels="multi"``
selects the labels that allow several factors per image. Rows are sorted by file name. Images are
decoded with Pillow to RGB, the shorter side resized to ``resize`` (bilinear), then centre-cropped to
``size`` (default 256 -> 224, as in torchvision's ImageNet evaluation).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from ...errors import ConfigError, DataError
from ..base import FactorDataset
from ..factors import Factor
from ..registry import register_dataset
from ._files import DATA_ENV, check_choice, check_size, digest

FACTOR_NAMES = ("multiple_objects", "background", "color", "brighter", "darker", "style", "larger", "smaller",
                "object_blocking", "person_blocking", "partial_view", "pattern", "pose", "shape", "subcategory",
                "texture")  # the 16 annotation columns, in the order of the package's files
LABELS, SPLITS, MISSING = ("top", "multi"), ("val", "train"), ("error", "skip")
VAL_HINT = ("the ImageNet-1k validation images ILSVRC2012_val_00000001.JPEG .. ILSVRC2012_val_00050000.JPEG "
            "(ILSVRC2012_img_val.tar from image-net.org) in one folder")


def _package():
    try:
        import imagenet_x
    except ImportError as e:
        raise DataError("dataset 'imagenet-x' needs the optional package imagenet-x for its annotations; install "
                        "it with pip install 'probekit[imagenet]' (or pip install imagenet-x)") from e
    return imagenet_x


@functools.lru_cache(maxsize=4)
def load_annotations(labels: str, split: str, keep_prototypes: bool):
    """The package's annotation table (cached: reading it takes a few seconds). Do not modify it."""
    table = _package().load_annotations(which_factor=labels, partition=split, filter_prototypes=not keep_prototypes)
    missing = [c for c in ("file_name", "class", *FACTOR_NAMES) if c not in table.columns]
    if missing:
        raise DataError(f"the installed imagenet-x annotations lack the columns {missing}; install imagenet-x>=0.0.7")
    return table.sort_values("file_name", kind="stable").reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def wordnet_ids() -> tuple[tuple[str, str], ...]:
    """(wnid, name) of the 1000 classes in class-index order, from the package's label list."""
    from importlib.resources import files

    lines = (files("imagenet_x") / "annotations" / "imagenet_labels.txt").read_text().splitlines()
    return tuple(tuple(line.split(",", 1)) for line in lines if line.strip())


def class_factor(classes: np.ndarray, threshold) -> tuple[Factor, np.ndarray, float | None]:
    """The ``class`` factor: binarised at ``threshold`` ("mean", a number) or all 1000 classes (None)."""
    if threshold is None:
        names = tuple(n for _, n in wordnet_ids())
        return Factor("class", "categorical", class_names=names, aliases=("category", "label"),
                      description="ImageNet class"), classes.astype(np.int64), None
    if threshold == "mean":
        t = float(classes.mean())
    elif isinstance(threshold, (int, float, np.integer, np.floating)) and not isinstance(threshold, bool):
        t = float(threshold)
    else:
        raise ConfigError(f"imagenet-x: class_threshold={threshold!r} is not allowed; use 'mean' (the paper), "
                          "a number such as 500, or None for all 1000 classes")
    factor = Factor("class", "binary", class_names=(f"class < {t:g}", f"class >= {t:g}"), aliases=("category", "label"),
                    description=f"ImageNet class index >= {t:g}")
    return factor, (classes >= t).astype(np.int64), t


class ImageNetX(FactorDataset):
    """ImageNet-X annotations (through the ``imagenet-x`` package) over the user's ImageNet images.

    Parameters
    ----------
    root: the image folder (default: ``$PROBEKIT_DATA/imagenet/val`` or ``.../train``).
    labels: ``top`` (one-hot, the paper) or ``multi``.
    split: ``val`` (the paper) or ``train`` (the annotated subset of the training set).
    keep_prototypes: keep the prototype images that ``load_annotations`` removes by default.
    class_threshold: ``"mean"`` (paper, >= 498 on val), a number (e.g. 500) or None (1000 classes).
    size, resize: centre-crop side, and shorter side before cropping (default ``round(size / 0.875)``).
    missing: ``error`` if an annotated image is not in ``root``, or ``skip`` to use only those present.
    """

    name = "imagenet-x"

    def __init__(self, root=None, *, labels: str = "top", split: str = "val", keep_prototypes: bool = False,
                 class_threshold="mean", size: int = 224, resize: int | None = None, missing: str = "error"):
        self.labels = check_choice("labels", labels, LABELS, dataset=self.name)
        self.split = check_choice("split", split, SPLITS, dataset=self.name)
        self.missing = check_choice("missing", missing, MISSING, dataset=self.name)
        self.keep_prototypes = bool(keep_prototypes)
        self.size = check_size(size, dataset=self.name, native=224)
        self.resize = check_size(resize if resize is not None else round(self.size / 0.875), dataset=self.name,
                                 native=256)
        if self.resize < self.size:
            raise ConfigError(f"imagenet-x: resize={self.resize} is smaller than the crop size={self.size}; use resize >= size")
        self.root = self._image_folder(root)
        table = load_annotations(self.labels, self.split, self.keep_prototypes)
        classes = table["class"].to_numpy(np.int64)                            # (M,)
        factor, class_codes, self.threshold = class_factor(classes, class_threshold)
        files = table["file_name"].tolist()
        paths = self._find_images(files, classes)
        keep = np.array([p is not None for p in paths], dtype=bool)
        self.files = [p for p in paths if p is not None]
        self.names = [f for f, k in zip(files, keep) if k]
        codes = table[list(FACTOR_NAMES)].to_numpy(np.int64)[keep]             # (N, 16) in {0, 1}
        self._codes = np.column_stack([codes, class_codes[keep]])             # (N, 17)
        self.factors = tuple(Factor(n, "binary", class_names=("no", "yes"), description=f"ImageNet-X factor {n}")
                             for n in FACTOR_NAMES) + (factor,)
        self.image_shape = (3, self.size, self.size)

    def _where(self) -> str:
        """Where the images of this split must go, for messages."""
        if self.split == "val":
            return VAL_HINT
        return "the ImageNet-1k training images (in their nXXXXXXXX/ sub-folders)"

    def _image_folder(self, root) -> Path:
        if root is None or str(root) == "":
            env = os.environ.get(DATA_ENV)
            if not env:
                raise DataError(f"dataset 'imagenet-x' needs your ImageNet-1k {self.split} images: pass root=<folder> "
                                f"holding {self._where()} (or set {DATA_ENV} with them in imagenet/{self.split}); "
                                "probekit never downloads them")
            root = Path(env) / "imagenet" / self.split
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DataError(f"imagenet-x: no image folder at {root}; put {self._where()} there and pass "
                            "root=<that folder>; probekit never downloads them")
        return root

    def _find_images(self, files: list[str], classes: np.ndarray) -> list[Path | None]:
        """Path of each annotated image: ``root/name``, else ``root/<wnid>/name``; None when absent."""
        flat, subdirs = set(), {}
        for entry in os.scandir(self.root):  # one listing of root, and one of each class folder if needed
            if entry.is_dir():
                subdirs[entry.name] = None
            else:
                flat.add(entry.name)
        wnids = wordnet_ids()
        out: list[Path | None] = []
        for name, c in zip(files, classes):
            if name in flat:
                out.append(self.root / name)
                continue
            wnid = name.split("_", 1)[0] if self.split == "train" else wnids[int(c)][0]
            if wnid in subdirs and subdirs[wnid] is None:
                subdirs[wnid] = set(os.listdir(self.root / wnid))
            out.append(self.root / wnid / name if wnid in subdirs and name in subdirs[wnid] else None)
        absent = [f for f, p in zip(files, out) if p is None]
        if absent and (self.missing == "error" or len(absent) == len(files)):
            skip = "" if len(absent) == len(files) else ", or pass missing='skip' to use only the images present"
            raise DataError(f"imagenet-x: {len(absent):,} of the {len(files):,} annotated images are not in "
                            f"{self.root} (e.g. {absent[0]}); put {self._where()} there{skip}; "
                            "probekit never downloads them")
        return out

    def __len__(self) -> int:
        return len(self.files)

    def config(self) -> dict:
        return {"name": self.name, "labels": self.labels, "split": self.split, "keep_prototypes": self.keep_prototypes,
                "class_threshold": self.threshold, "size": self.size, "resize": self.resize, "n": len(self),
                "files_sha256": digest(self.names), "annotations": f"imagenet-x {_version()}"}

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        codes = self._codes if indices is None else self._codes[self.check_indices(indices)]
        return {f.name: codes[:, j].copy() for j, f in enumerate(self.factors)}

    def _decode(self, i: int) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(self.files[i]) as im:
                im = im.convert("RGB")
                w, h = im.size
                scale = self.resize / min(w, h)  # shorter side -> resize, as torchvision's Resize(int)
                nw, nh = (self.resize, int(self.resize * h / w)) if w <= h else (int(self.resize * w / h), self.resize)
                im = im.resize((nw, nh), Image.BILINEAR) if scale != 1 else im
                left, top = int(round((nw - self.size) / 2.0)), int(round((nh - self.size) / 2.0))
                arr = np.asarray(im.crop((left, top, left + self.size, top + self.size)), dtype=np.uint8)
        except Exception as e:
            raise DataError(f"cannot read image {self.files[i]} (sample index {i}): {str(e).splitlines()[0][:120]}") from e
        return arr  # (size, size, 3)

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        idx = self.check_indices(indices)
        out = np.empty((len(idx), self.size, self.size, 3), dtype=np.uint8)
        for k, i in enumerate(idx):
            out[k] = self._decode(int(i))
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()  # (B, 3, size, size)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("imagenet-x")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return "unknown"


@register_dataset("imagenet-x", help="ImageNet-X factor annotations (package imagenet-x) over your ImageNet images "
                                     "(root=<val folder>; labels=top|multi)")
def _imagenet_x(root=None, **options) -> FactorDataset:
    return ImageNetX(root, **options)
