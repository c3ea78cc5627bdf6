"""The index directory: plain files in generations, published atomically, loaded with checks.

Layout::

    index/
      CURRENT                 name of the published generation (replaced atomically)
      gen-<time>-<rand>/      one complete, immutable generation
        manifest.json         written last: versions, settings, counts, sha256 and size of
                              every file
        documents/            report metadata, and one record per report (section tree,
                              blocks, footnotes) read when first used (document_store.py)
        texts/<doc_id>.txt.z  canonical text of each report, zlib (format 4: plain .txt)
        passages/             passages as columns and zlib blocks of UTF-8 (passage_store.py)
        dense/, sentences/, bm25/, acronyms.json   the vectors, BM25 and acronyms

Formats 1-3 kept reports in documents.jsonl and passages in chunks.jsonl, parsed whole on load;
they are still read.

A reader never sees a half-built generation: it is assembled under a temporary name,
fsynced, renamed, and only then does CURRENT point at it. No pickle anywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..types import Chunk, Document
from . import document_store, passage_store
from .records import (
    IndexStoreError,
    chunk_from_json,
    chunk_to_json,
    document_from_json,
    document_to_json,
    read_jsonl_generation,
)

__all__ = [
    "IndexStoreError",
    "chunk_from_json",
    "chunk_to_json",
    "document_from_json",
    "document_to_json",
]

# Format 2 adds ``manifest_sha256`` (the manifest's own checksum); format 3 may store sentence
# vectors as int8 codes and scales (``dense.SentenceVectors``); format 4 stores passages as
# columns, reports as records read on first use, and every file's size; format 5 compresses
# the passages' texts (zlib blocks), each report's record and text (zlib), and may store
# sentence vectors as product-quantised codes; format 6 keeps an HNSW passage index's vectors
# only as the graph's 8-bit codes (``dense.DenseIndex``, kind "hnsw-sq8"). Formats 1-5 are read.
FORMAT_VERSION = 6
SUPPORTED_FORMATS = (1, 2, 3, 4, 5, 6)
CURRENT = "CURRENT"
MANIFEST_SHA = "manifest_sha256"
# What CURRENT holds: one generation name and a newline, nothing else.
_CURRENT_RE = re.compile(rb"(gen-[0-9A-Za-z.]+-[0-9a-f]+)\n")
MANIFEST = "manifest.json"
_GEN_PREFIX = "gen-"
_TMP_PREFIX = ".building-"


@dataclass(frozen=True)
class LoadedIndex:
    """A generation read back from disk (format 4: reports and passages read on first use)."""

    path: Path
    manifest: dict[str, Any]
    documents: Mapping[str, Document]
    chunks: Sequence[Chunk]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """fsync a directory, so a rename or new file in it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def build_lock(index_dir: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the index directory's build lock: one builder at a time.

    ``wait_s``: how long to keep trying while someone else holds it (a build writing its
    generation, or a few milliseconds of ``sweep_leftovers``) before giving up.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("a") as f:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexStoreError(f"another build is running on {index_dir}") from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def sweep_leftovers(index_dir: Path) -> list[str]:
    """Remove what interrupted builds left in the index folder (unfinished ``.building-*``
    generations, ``.CURRENT.*`` pointers) and return their names.

    They are only ever made under the build lock, and a killed build's lock dies with it: so
    whoever holds the lock owns every one of them. While another build holds it, nothing is
    touched (those folders are its work in progress).
    """
    if not index_dir.is_dir():
        return []
    try:
        with build_lock(index_dir):
            return _remove_temps(index_dir)
    except IndexStoreError:
        return []  # a build is running: its folders are not leftovers


def _remove_temps(index_dir: Path) -> list[str]:
    """Remove temporary entries of the index folder; the caller holds the build lock."""
    removed = []
    for tmp in index_dir.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp.name)
    for stale in index_dir.glob(f".{CURRENT}.*"):
        stale.unlink(missing_ok=True)
        removed.append(stale.name)
    return removed


class GenerationWriter:
    """Writes one generation under a temporary name; ``publish`` makes it current."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        now = time.time_ns()
        # Names sort in build order (nanoseconds), so cleanup can keep the newest by name.
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
        self.name = f"{_GEN_PREFIX}{stamp}.{now % 10**9:09d}-{secrets.token_hex(3)}"
        self.tmp = index_dir / f"{_TMP_PREFIX}{self.name}"
        self.files: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self._doc_ids: list[str] = []

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write one file of the generation and remember its checksum."""
        _write_file(self.tmp / rel, data)
        self.files[rel] = hashlib.sha256(data).hexdigest()
        self.sizes[rel] = len(data)

    def write_dir(self, rel: str, save: Callable[[Path], None]) -> None:
        """Let ``save`` write a folder of files, then checksum every file it wrote."""
        folder = self.tmp / rel
        folder.mkdir(parents=True, exist_ok=True)
        save(folder)
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                with path.open("rb+") as f:
                    os.fsync(f.fileno())
                rel_path = str(path.relative_to(self.tmp))
                self.files[rel_path] = sha256_file(path)
                self.sizes[rel_path] = path.stat().st_size

    def write_stream(self, rel: str, parts: Iterable[bytes]) -> None:
        """Write a file as its parts come (no whole-file copy in memory), checksummed."""
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        with path.open("wb") as f:
            for part in parts:
                h.update(part)
                f.write(part)
                size += len(part)
            f.flush()
            os.fsync(f.fileno())
        self.files[rel] = h.hexdigest()
        self.sizes[rel] = size

    def write_documents(self, docs: list[Document]) -> None:
        """The reports: metadata, records and canonical texts (document_store.py)."""
        document_store.write(self, docs)
        self._doc_ids = [d.doc_id for d in docs]

    def write_chunks(self, chunks: list[Chunk]) -> None:
        """The passages as columns (passage_store.py); after ``write_documents``."""
        passage_store.write(self, chunks, self._doc_ids)

    def publish(self, manifest: dict[str, Any], keep: int = 2) -> Path:
        """Write the manifest last, rename into place, then switch CURRENT atomically."""
        manifest = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "generation": self.name,
            "files": dict(sorted(self.files.items())),
            "sizes": dict(sorted(self.sizes.items())),
        }
        manifest[MANIFEST_SHA] = manifest_digest(manifest)
        _write_file(
            self.tmp / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        )
        for sub in [self.tmp, *(p for p in self.tmp.rglob("*") if p.is_dir())]:
            fsync_dir(sub)
        final = self.index_dir / self.name
        os.rename(self.tmp, final)
        fsync_dir(self.index_dir)
        pointer = self.index_dir / f".{CURRENT}.{secrets.token_hex(3)}"
        _write_file(pointer, (self.name + "\n").encode())
        os.replace(pointer, self.index_dir / CURRENT)
        fsync_dir(self.index_dir)
        cleanup(self.index_dir, keep)
        return final

    def abort(self) -> None:
        """Remove the unfinished generation."""
        shutil.rmtree(self.tmp, ignore_errors=True)


# Allowance per file for filesystem blocks, and for everything the estimate leaves out.
_FILE_OVERHEAD = 4096
_SLACK = 1.15


def estimate_generation_bytes(
    docs: list[Document],
    chunks: list[Chunk],
    sentences: int,
    dimension: int,
    approx: bool,
    sentence_bytes: int | None = None,
) -> int:
    """About how many bytes a generation of these reports will take on disk (an upper bound
    in practice: tests/reliability/test_leftovers.py compares it with real builds).
    ``sentence_bytes``: of one stored sentence vector (default: int8 codes and a scale)."""
    text = sum(len(d.text.encode()) for d in docs)
    chunk_text = sum(
        len(c.text.encode("utf-8")) + len(c.embed_text.encode("utf-8")) for c in chunks
    )
    # HNSW (M=32) adds a file holding its own copy of the vectors and ~300 bytes of graph each.
    dense = len(chunks) * dimension * 4 * (3 if approx else 1)
    size = (
        text  # texts/ and documents/, zlib: about a third of the text, and the records less
        + chunk_text // 2  # passages/ texts in zlib blocks
        + 400 * len(chunks)  # passages/: columns and ids (format 3's JSON lines took ~400 B)
        + chunk_text  # bm25/: postings and vocabulary
        + dense
        + sentences * ((dimension + 4 if sentence_bytes is None else sentence_bytes) + 12)
        + _FILE_OVERHEAD * (len(docs) + 16)
    )
    return int(size * _SLACK)


def free_bytes(path: Path) -> int:
    """Bytes free for an unprivileged writer on the filesystem holding ``path`` (or its
    nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of a manifest's canonical JSON, without its own checksum field."""
    body = {k: v for k, v in manifest.items() if k != MANIFEST_SHA}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def current_generation(index_dir: Path) -> Path:
    """The published generation's folder, or IndexStoreError saying how to build one."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexStoreError(
            f"no index at {index_dir}: build one with `qa index --index {index_dir}`"
        )
    try:
        raw = pointer.read_bytes()
    except OSError as exc:
        raise IndexStoreError(f"cannot read {pointer} ({exc})") from None
    # Exactly "<generation>\n": a damaged pointer is refused, never guessed at.
    match = _CURRENT_RE.fullmatch(raw)
    if match is None:
        shown = raw[:80].decode("utf-8", errors="replace")
        raise IndexStoreError(f"{pointer} is corrupt ({shown!r}); rebuild the index")
    name = match.group(1).decode("ascii")
    gen = index_dir / name
    if not gen.is_dir():
        raise IndexStoreError(f"{pointer} points to a missing generation {name!r}; rebuild it")
    return gen


def current_signature(index_dir: Path) -> tuple[int, int, int] | None:
    """A cheap fingerprint of CURRENT (one stat): it changes when a generation is published."""
    try:
        st = (index_dir / CURRENT).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def current_name(index_dir: Path) -> str | None:
    """The generation CURRENT names, without checking it (None if unreadable)."""
    try:
        raw = (index_dir / CURRENT).read_bytes()
    except OSError:
        return None
    match = _CURRENT_RE.fullmatch(raw)
    return match.group(1).decode("ascii") if match else None


def cleanup(index_dir: Path, keep: int) -> None:
    """Delete generations beyond the newest ``keep`` (never the current one) and stale temps."""
    try:
        current = current_generation(index_dir).name
    except IndexStoreError:
        current = ""
    gens = sorted(p for p in index_dir.glob(f"{_GEN_PREFIX}*") if p.is_dir())
    for old in gens[:-keep] if keep > 0 else gens:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)
    _remove_temps(index_dir)  # only under the build lock: nobody else owns them


def _safe_rel(rel: object) -> bool:
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel:
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def read_manifest(gen: Path) -> dict[str, Any]:
    """The manifest of a generation, checked for format version and file checksums.

    Every file the manifest lists is hashed here, before anything (json, numpy, FAISS,
    bm25s) parses it, so a damaged file is refused with a message instead of being read.
    Format 4 also lists every file's size, all checked here; its reports' records and texts
    (``document_store.deferred``) are hashed when a report is first read instead.
    """
    path = gen / MANIFEST
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise IndexStoreError(f"{gen.name} has no manifest: it is incomplete; rebuild") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise IndexStoreError(f"{path} is corrupt ({exc}); rebuild the index") from None
    except OSError as exc:
        raise IndexStoreError(f"cannot read {path} ({exc}); rebuild the index") from None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if type(version) is not int or version not in SUPPORTED_FORMATS:
        raise IndexStoreError(
            f"{path}: index format {version} is not the supported format {FORMAT_VERSION};"
            " rebuild with `qa index`"
        )
    assert isinstance(manifest, dict)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise IndexStoreError(f"{path} is corrupt (no file list); rebuild the index")
    if version >= 2 and not isinstance(manifest.get(MANIFEST_SHA), str):
        raise IndexStoreError(f"{path} is corrupt (no manifest checksum); rebuild the index")
    if MANIFEST_SHA in manifest and manifest.get("generation") != gen.name:
        raise IndexStoreError(
            f"{path} names generation {manifest.get('generation')!r}, not {gen.name!r}"
            " (corrupt); rebuild the index"
        )
    sizes = manifest.get("sizes") if version >= 4 else {}
    if not isinstance(sizes, dict) or (version >= 4 and set(sizes) != set(files)):
        raise IndexStoreError(f"{path} is corrupt (bad file sizes); rebuild the index")
    hashed = []
    for rel, digest in files.items():
        if not _safe_rel(rel) or not isinstance(digest, str):
            raise IndexStoreError(f"{path} is corrupt (bad entry {rel!r}); rebuild the index")
        f = gen / rel
        if not f.is_file():
            raise IndexStoreError(f"{gen.name}/{rel} is missing; rebuild the index")
        if rel in sizes and f.stat().st_size != sizes[rel]:
            raise IndexStoreError(
                f"{gen.name}/{rel} has {f.stat().st_size} bytes, the manifest says {sizes[rel]}"
                " (truncated or corrupt); rebuild"
            )
        if version < 4 or not document_store.deferred(rel):
            hashed.append(rel)
    for rel, actual in zip(hashed, _hash_files(gen, hashed), strict=True):
        if isinstance(actual, OSError):
            raise IndexStoreError(f"cannot read {gen.name}/{rel} ({actual}); rebuild") from None
        if actual != files[rel]:
            raise IndexStoreError(f"{gen.name}/{rel} fails its checksum (corrupt); rebuild")
    return dict(manifest)


# sha256 runs at ~0.3-0.7 GB/s a core here (bench/results/scale-load-format.md), and hashlib
# releases the GIL while it hashes, so two threads check a generation's vectors in about half
# the time. A faster stdlib checksum does not pay: zlib.crc32 is ~2x sha256, adler32 ~1.5x,
# blake2b and sha1 about the same. Hashing everything the search reads at load is what keeps a
# flipped bit from changing an answer; what a query reads only per report (records, texts) is
# hashed on first use instead (document_store.py), the largest part a load no longer hashes.
_HASH_THREADS = 2


def _hash_files(gen: Path, rels: list[str]) -> list[str | OSError]:
    """sha256 of each file (or the OSError reading it), largest first across threads."""

    def one(rel: str) -> str | OSError:
        try:
            return sha256_file(gen / rel)
        except OSError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=_HASH_THREADS) as pool:
        order = sorted(range(len(rels)), key=lambda i: -(gen / rels[i]).stat().st_size)
        done = dict(zip(order, pool.map(one, [rels[i] for i in order]), strict=True))
    return [done[i] for i in range(len(rels))]


def check_manifest_digest(gen: Path, manifest: dict[str, Any]) -> None:
    """Refuse a manifest whose own checksum does not match its content (format 2)."""
    expected = manifest.get(MANIFEST_SHA)
    if expected is None and manifest.get("format_version") == 1:
        return  # written before manifests carried their checksum
    if expected != manifest_digest(manifest):
        raise IndexStoreError(
            f"{gen.name}/{MANIFEST} fails its checksum (corrupt); rebuild the index"
        )


def load(index_dir: Path) -> LoadedIndex:
    """Load the current generation whole, verifying checksums and counts."""
    return load_generation(current_generation(index_dir))


def load_generation(gen: Path) -> LoadedIndex:
    """Load one generation folder, verifying checksums and counts (format 4: reports and
    passages are read when first used, see ``document_store`` and ``passage_store``)."""
    manifest = read_manifest(gen)
    counts = manifest.get("counts", {})
    counts = counts if isinstance(counts, dict) else {}
    documents: Mapping[str, Document]
    chunks: Sequence[Chunk]
    if manifest["format_version"] >= 4:
        compressed = manifest["format_version"] >= 5
        documents = document_store.load(gen, manifest["files"], compressed)
        n = counts.get("chunks")
        if isinstance(n, int) and counts.get("documents") == len(documents):
            chunks = passage_store.load(gen, n, list(documents), compressed)
        else:
            chunks = []  # refused just below
    else:
        documents, chunks = read_jsonl_generation(gen)
    if counts.get("documents") != len(documents) or counts.get("chunks") != len(chunks):
        raise IndexStoreError(
            f"{gen.name}: counts do not match the manifest ({len(documents)} documents,"
            f" {len(chunks)} chunks); rebuild"
        )
    # Last, so the more specific messages above win; still before any vector file is read.
    check_manifest_digest(gen, manifest)
    return LoadedIndex(gen, manifest, documents, chunks)
