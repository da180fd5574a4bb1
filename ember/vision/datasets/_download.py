"""Download helpers shared by the torchvision-style datasets: md5 checks, URL fetches and
archive extraction (tar / zip / gz / xz), all with the standard library only."""
from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import shutil
import sys
import tarfile
import urllib.request
import zipfile


def calculate_md5(fpath: str, chunk_size: int = 1024 * 1024) -> str:
    """Hex md5 of a file, read in chunks so large archives do not fill memory."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            md5.update(chunk)
    return md5.hexdigest()


def check_integrity(fpath: str, md5: str | None = None) -> bool:
    """True when ``fpath`` is a file and, if ``md5`` is given, has that md5."""
    if not os.path.isfile(fpath):
        return False
    return md5 is None or calculate_md5(fpath) == md5


def download_url(url: str, root: str, filename: str | None = None,
                 md5: str | None = None) -> str:
    """Fetch ``url`` into ``root/filename`` unless a verified copy is there; return its path.

    Raises RuntimeError when the downloaded file fails the md5 check.
    """
    root = os.path.expanduser(str(root))
    filename = filename or os.path.basename(url)
    fpath = os.path.join(root, filename)
    os.makedirs(root, exist_ok=True)
    if check_integrity(fpath, md5):
        print(f"Using downloaded and verified file: {fpath}", file=sys.stderr)
        return fpath
    print(f"Downloading {url} to {fpath}", file=sys.stderr)
    # A .part file keeps an interrupted download from passing for a complete one.
    with urllib.request.urlopen(url, timeout=60) as resp, open(fpath + ".part", "wb") as out:
        shutil.copyfileobj(resp, out)
    os.replace(fpath + ".part", fpath)
    if not check_integrity(fpath, md5):
        raise RuntimeError(f"File not found or corrupted: {url} (md5 mismatch)")
    return fpath


def _safe_members(tar: tarfile.TarFile, dest: str):
    # Refuse members that would land outside ``dest`` (absolute paths, "..").
    base = os.path.realpath(dest)
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(dest, member.name))
        if os.path.commonpath([base, target]) != base:
            raise RuntimeError(f"archive member {member.name!r} escapes {dest}")
        yield member


def extract_archive(from_path: str, to_path: str | None = None,
                    remove_finished: bool = False) -> str:
    """Extract a .tar(.gz/.xz/.bz2), .tgz or .zip archive, or decompress a single .gz/.xz
    file, into ``to_path`` (default: the archive's folder). Returns ``to_path``."""
    to_path = to_path or os.path.dirname(from_path)
    os.makedirs(to_path, exist_ok=True)
    name = from_path.lower()
    if tarfile.is_tarfile(from_path):
        with tarfile.open(from_path, "r:*") as tar:
            tar.extractall(to_path, members=list(_safe_members(tar, to_path)))
    elif name.endswith(".zip"):
        with zipfile.ZipFile(from_path) as zf:
            zf.extractall(to_path)
    elif name.endswith(".gz") or name.endswith(".xz"):
        opener = gzip.open if name.endswith(".gz") else lzma.open
        out = os.path.join(to_path, os.path.splitext(os.path.basename(from_path))[0])
        with opener(from_path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        raise RuntimeError(f"Extraction of {from_path} not supported")
    if remove_finished:
        os.remove(from_path)
    return to_path


def download_and_extract_archive(url: str, download_root: str,
                                 extract_root: str | None = None,
                                 filename: str | None = None, md5: str | None = None,
                                 remove_finished: bool = False) -> None:
    """``download_url`` then ``extract_archive`` (into ``download_root`` by default)."""
    archive = download_url(url, download_root, filename, md5)
    extract_archive(archive, extract_root or download_root, remove_finished)


def verify_str_arg(value: str, arg: str, valid_values) -> str:
    """Return ``value`` when it is one of ``valid_values``, else raise ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"Expected type str for argument {arg}, but got type {type(value)}.")
    if value not in valid_values:
        opts = ", ".join(repr(v) for v in valid_values)
        raise ValueError(f"Unknown value '{value}' for argument {arg}. "
                         f"Valid values are {{{opts}}}.")
    return value


def not_found() -> RuntimeError:
    return RuntimeError("Dataset not found or corrupted. You can use download=True to download it")
