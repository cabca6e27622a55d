"""Arrays inside ``.npz`` files, read without loading them whole.

``np.load(path, mmap_mode="r")`` silently ignores ``mmap_mode`` for ``.npz`` archives, and an archive
member is only memory-mappable when it is *stored* (uncompressed): the official MPI3D files (~12 GB)
are. A *compressed* (deflated) member cannot be read at random; it can only be streamed from the
start, which :func:`iter_rows` does in chunks, and :func:`uncompress_npz` rewrites an archive with
stored members (streaming, low memory) so that it can be memory-mapped afterwards.

Nothing here unpickles: object arrays (such as dSprites' ``metadata``) are described but never loaded.
"""
from __future__ import annotations

import shutil
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataError

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zip local file header (30 bytes), as in zipfile


@dataclass(frozen=True)
class NpyMember:
    """One array of an ``.npz`` archive: its layout, and where its data starts when stored."""

    path: Path
    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    compressed: bool
    data_offset: int | None  # byte offset of the array data in the archive (stored members only)


def _read_header(fp) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fp)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fp)
    return np.lib.format._read_array_header(fp, version)  # (3, 0): utf-8 header, same fields


def npz_keys(path: Path) -> list[str]:
    """Array names in the archive (``.npy`` suffix removed)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return [n[:-4] if n.endswith(".npy") else n for n in zf.namelist()]
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path} is not a readable .npz (zip) archive: {e}; re-download or re-copy the file") from e


def inspect_member(path: Path, key: str) -> NpyMember:
    """Describe array ``key`` of the archive at ``path`` without reading its data."""
    path = Path(path)
    keys = npz_keys(path)
    if key not in keys:
        raise DataError(f"{path.name} has no array {key!r}; it holds {keys}; is this the official file?")
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(key + ".npy")
        with zf.open(info) as fp:
            shape, fortran, dtype = _read_header(fp)
            header_len = fp.tell()
        offset = None
        compressed = info.compress_type != zipfile.ZIP_STORED
        if not compressed:
            with open(path, "rb") as raw:
                raw.seek(info.header_offset)
                fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
                if fields[0] != b"PK\x03\x04":
                    raise DataError(f"{path.name}: corrupt zip entry for {key!r}; re-download the file")
                offset = info.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11] + header_len
    return NpyMember(path, key, tuple(int(s) for s in shape), np.dtype(dtype), bool(fortran), compressed, offset)


def memmap_member(member: NpyMember) -> np.memmap:
    """A read-only memory map of a stored (uncompressed) member."""
    if member.compressed or member.data_offset is None:
        raise DataError(f"{member.path.name}: array {member.key!r} is compressed and cannot be memory-mapped; "
                        f"convert it once with {convert_hint(member.path)}")
    if member.dtype.hasobject:
        raise DataError(f"{member.path.name}: array {member.key!r} holds Python objects, not numbers")
    return np.memmap(member.path, dtype=member.dtype, mode="r", offset=member.data_offset, shape=member.shape,
                     order="F" if member.fortran else "C")


def iter_rows(member: NpyMember, chunk_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """Stream a member from the start: yields ``(first_row, rows)`` chunks of up to ``chunk_rows`` rows."""
    if member.fortran or member.dtype.hasobject:
        raise DataError(f"{member.path.name}: array {member.key!r} is not a C-order numeric array; cannot stream it")
    row_shape = member.shape[1:]
    row_bytes = int(np.prod(row_shape, dtype=np.int64)) * member.dtype.itemsize
    with zipfile.ZipFile(member.path) as zf, zf.open(member.key + ".npy") as fp:
        _read_header(fp)
        for start in range(0, member.shape[0], chunk_rows):
            n = min(chunk_rows, member.shape[0] - start)
            buf = fp.read(n * row_bytes)
            if len(buf) != n * row_bytes:
                raise DataError(f"{member.path.name}: array {member.key!r} ends early at row {start}; "
                                "the file is truncated, re-download it")
            yield start, np.frombuffer(buf, dtype=member.dtype).reshape((n, *row_shape))


def uncompress_npz(src: str | Path, dst: str | Path, *, buffer_bytes: int = 64 << 20) -> Path:
    """Rewrite the archive ``src`` as ``dst`` with every member stored (uncompressed), streaming.

    The result reads with ``np.load`` as before and its arrays can be memory-mapped. Needs free disk
    space for the uncompressed arrays (about 12.7 GB for an MPI3D file), not that much memory.
    """
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise DataError(f"uncompress_npz: source and destination are the same file {src}; choose another dst")
    tmp = dst.with_name(dst.name + ".partial")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED,
                                                        allowZip64=True) as zout:
        for info in zin.infolist():
            out_info = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            out_info.compress_type = zipfile.ZIP_STORED
            with zin.open(info) as fin, zout.open(out_info, "w", force_zip64=True) as fout:
                shutil.copyfileobj(fin, fout, buffer_bytes)
    tmp.replace(dst)
    return dst


def convert_hint(path: Path) -> str:
    """The one-line command that makes a memory-mappable copy of ``path``."""
    dst = path.with_name(path.stem + "_stored.npz")
    return (f"python -c \"from probekit.data.official.npz_files import uncompress_npz; "
            f"uncompress_npz('{path}', '{dst}')\" and pass root={dst}")
