"""Small files in the exact layout of the official dataset files, for tests/test_official_datasets.py.

Every writer keeps the official keys, dtypes, value ranges, image sizes and row order; only the number
of rows is small. Row counts are reduced in the way each reader supports for real files:

- dSprites: a sub-grid of the official grid, rows in the official C order (posY fastest), with the
  official ``latents_classes`` codes (not renumbered) and ``latents_values``, so labels are read from
  the file exactly as for the full file; ``metadata`` is a Python 2 pickle like the official one.
- Shapes3D: a sub-grid with the official real-valued labels; ``images`` pixel (0, 0, :2) holds the row.
- MPI3D: the reader derives labels from the row order, so the fixture is a full C-order grid with
  reduced sizes, read with ``sizes=`` (the option that also reads the older toy release).
- Cars3D: three cars with full-size ``im`` (128, 128, 3, 24, 4) arrays and a non-sorted ``list.txt``.
- SmallNORB: the six binary-matrix files of both splits with a few rows each.
- ImageNet-X: a few fake JPEGs named like annotated validation images; annotations come from the
  installed package.
"""
from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from itertools import product

import numpy as np

# -- dSprites ----------------------------------------------------------------------------------------
DSPRITES_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DSPRITES_SUBGRID = ((0,), (0, 1, 2), (0, 5), (0, 10, 39), (0, 31), (0, 1, 2, 31))  # official codes per factor
ORIENTATIONS = np.linspace(0, 2 * math.pi, 40)  # the official grid includes 2*pi
POSITIONS, SCALES = np.linspace(0, 1, 32), np.linspace(0.5, 1, 6)


class Py2Pickler(pickle._Pickler):
    """Pickles like Python 2 did: every string as a py2 ``str`` (BINSTRING), numpy under ``numpy.core``.

    Unpickling such a file in Python 3 needs ``encoding='latin1'``: the array data inside is binary.
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    def save_py2_global(self, obj, name=None):
        module, name = obj.__module__, name or obj.__qualname__
        if module.startswith("numpy._core"):
            module = "numpy.core" + module[len("numpy._core"):]
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str
    dispatch[type] = save_py2_global


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def py2_object_npy(obj) -> bytes:
    """A ``.npy`` member holding a 0-d object array pickled the Python 2 way."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    Py2Pickler(buf, protocol=2).dump(np.array(obj, dtype=object))
    return buf.getvalue()


def write_npz(path, members: dict[str, bytes], *, compressed: bool) -> None:
    mode = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=mode) as zf:
        for key, data in members.items():
            zf.writestr(key + ".npy", data)


def dsprites_rows():
    """(N, 6) official codes of the sub-grid, by nested loops in the official order (posY innermost)."""
    rows = []
    for color in DSPRITES_SUBGRID[0]:
        for shape in DSPRITES_SUBGRID[1]:
            for scale in DSPRITES_SUBGRID[2]:
                for orientation in DSPRITES_SUBGRID[3]:
                    for pos_x in DSPRITES_SUBGRID[4]:
                        for pos_y in DSPRITES_SUBGRID[5]:
                            rows.append((color, shape, scale, orientation, pos_x, pos_y))
    return np.array(rows, dtype=np.int64)


def write_dsprites(folder, *, compressed: bool = True):
    """The official archive layout (imgs, latents_values, latents_classes, metadata) on a sub-grid."""
    from probekit.data.dsprites import render

    codes = dsprites_rows()
    values = np.column_stack([np.ones(len(codes)), codes[:, 1] + 1.0, SCALES[codes[:, 2]], ORIENTATIONS[codes[:, 3]],
                              POSITIONS[codes[:, 4]], POSITIONS[codes[:, 5]]])
    imgs = render(codes[:, 1], values[:, 2], values[:, 3], values[:, 4], values[:, 5]).astype(np.uint8)  # {0, 1}
    metadata = {
        "date": "April 2017", "title": "dSprites dataset", "version": 1, "author": "lmatthey@google.com",
        "description": "Disentanglement test Sprites dataset.",
        "latents_names": ("color", "shape", "scale", "orientation", "posX", "posY"),
        "latents_sizes": np.array([1, 3, 6, 40, 32, 32]),
        "latents_possible_values": {"color": np.array([1.0]), "shape": np.array([1.0, 2.0, 3.0]), "scale": SCALES,
                                    "orientation": ORIENTATIONS, "posX": POSITIONS, "posY": POSITIONS},
    }
    path = folder / DSPRITES_FILE
    write_npz(path, {"imgs": npy_bytes(imgs), "latents_values": npy_bytes(values),
                     "latents_classes": npy_bytes(codes), "metadata": py2_object_npy(metadata)}, compressed=compressed)
    return path, codes, imgs


# -- Shapes3D ----------------------------------------------------------------------------------------
SHAPES3D_GRIDS = (np.arange(10) / 10, np.arange(10) / 10, np.arange(10) / 10, np.linspace(0.75, 1.25, 8),
                  np.arange(4.0), np.linspace(-30, 30, 15))
SHAPES3D_SUBGRID = ((0, 9), (3,), (5,), tuple(range(8)), (0, 3), tuple(range(15)))


def write_shapes3d(folder):
    """``3dshapes.h5`` layout. Labels are the grid values rounded through float32 (a rounding error
    below the value for some), which is what breaks float-division binning."""
    import h5py

    codes = np.array(list(product(*SHAPES3D_SUBGRID)), dtype=np.int64)        # C order, orientation fastest
    labels = np.column_stack([SHAPES3D_GRIDS[j][codes[:, j]] for j in range(6)])
    labels = labels.astype(np.float32).astype(np.float64)                     # (N, 6) float64
    images = np.zeros((len(codes), 64, 64, 3), dtype=np.uint8)
    rows = np.arange(len(codes))
    images[:, 0, 0, 0], images[:, 0, 0, 1] = rows % 256, rows // 256            # the row, readable back
    images[:, 1:, :, 2] = (codes[:, 4] * 60)[:, None, None]                    # shape as brightness
    path = folder / "3dshapes.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, chunks=(16, 64, 64, 3))
        f.create_dataset("labels", data=labels)
    return path, codes, labels


# -- MPI3D -------------------------------------------------------------------------------------------
MPI3D_SMALL_SIZES = (2, 2, 1, 1, 1, 2, 3)


def write_mpi3d(folder, variant="toy", *, n=None, compressed=False):
    """``mpi3d_<variant>.npz`` with the single key ``images`` (N, 64, 64, 3) uint8; pixel (0,0,0) = row."""
    n = int(np.prod(MPI3D_SMALL_SIZES)) if n is None else n
    images = np.zeros((n, 64, 64, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(n) % 256
    path = folder / f"mpi3d_{variant}.npz"
    (np.savez_compressed if compressed else np.savez)(path, images=images)
    return path


# -- Cars3D ------------------------------------------------------------------------------------------
CARS_LIST = ("car_003_mesh", "car_001_mesh", "car_002_mesh")  # list.txt order, deliberately not sorted


def car_value(car_number: int) -> int:
    return 40 * car_number + 10


def write_cars3d(folder):
    """``data/cars/car_XXX_mesh.mat`` with ``im`` (128, 128, 3, 24, 4) uint8 and ``list.txt``.

    Every view is a constant colour: red = the car's number, green = azimuth, blue = elevation."""
    from scipy.io import savemat

    cars = folder / "data" / "cars"
    cars.mkdir(parents=True)
    for name in sorted(CARS_LIST):
        im = np.zeros((128, 128, 3, 24, 4), dtype=np.uint8)
        im[:, :, 0] = car_value(int(name.split("_")[1]))
        im[:, :, 1] = (np.arange(24) * 10)[None, None, :, None]
        im[:, :, 2] = (np.arange(4) * 60)[None, None, None, :]
        savemat(cars / f"{name}.mat", {"im": im}, do_compression=True)
    (cars / "list.txt").write_text("\n".join(CARS_LIST) + "\n")
    return folder


# -- SmallNORB ---------------------------------------------------------------------------------------
NORB_MAGIC = {np.dtype(np.uint8): 0x1E3D4C55, np.dtype(np.int32): 0x1E3D4C54}
NORB_PREFIX = {"train": "smallnorb-5x46789x9x18x6x2x96x96-training",
               "test": "smallnorb-5x01235x9x18x6x2x96x96-testing"}


def write_norb_matrix(path, array: np.ndarray) -> None:
    """LeCun's binary matrix: int32 magic, int32 ndim, max(ndim, 3) int32 dims (unused = 1), data."""
    dims = list(array.shape) + [1] * (3 - array.ndim)
    header = np.array([NORB_MAGIC[array.dtype], array.ndim, *dims], dtype="<i4")
    path.write_bytes(header.tobytes() + np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())


def norb_rows(split: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    instances = (4, 6, 7, 8, 9) if split == "train" else (0, 1, 2, 3, 5)
    cat = rng.integers(0, 5, n).astype(np.int32)
    info = np.column_stack([rng.choice(instances, n), rng.integers(0, 9, n), 2 * rng.integers(0, 18, n),
                            rng.integers(0, 6, n)]).astype(np.int32)
    info[0, 2], info[1, 2] = 0, 34                                               # both ends of the azimuth range
    return cat, info


def write_smallnorb(folder, n_train=10, n_test=6):
    """The six official files; camera 0 image = row + 1 (constant), camera 1 = 200 - row."""
    out = {}
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        cat, info = norb_rows(split, n, seed)
        dat = np.zeros((n, 2, 96, 96), dtype=np.uint8)
        dat[:, 0] = (np.arange(n) + 1)[:, None, None]
        dat[:, 1] = (200 - np.arange(n))[:, None, None]
        for kind, array in (("dat", dat), ("cat", cat), ("info", info)):
            write_norb_matrix(folder / f"{NORB_PREFIX[split]}-{kind}.mat", array)
        out[split] = (cat, info)
    return out


# -- ImageNet-X --------------------------------------------------------------------------------------
def write_imagenet_val(folder, names, *, broken=()):
    """Fake JPEGs with official validation names (40x30, one colour each); ``broken`` ones are garbage."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        if name in broken:
            (folder / name).write_bytes(b"\xff\xd8 not really a jpeg")
        else:
            Image.new("RGB", (40, 30), (10 * k, 100, 200)).save(folder / name, format="JPEG", quality=95)
    return folder
