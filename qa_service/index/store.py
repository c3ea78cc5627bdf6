"""The index directory: plain files in generations, published atomically, loaded with checks.

Layout::

    index/
      CURRENT                 name of the published generation (replaced atomically)
      gen-<time>-<rand>/      one complete, immutable generation
        manifest.json         written last: versions, settings, counts, sha256 of every file
        documents.jsonl       metadata, section tree, blocks, footnotes per report
        texts/<doc_id>.txt    canonical text of each report
        chunks.jsonl          passages with offsets and embedded text

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..types import Block, Chunk, Document, Footnote, FootnoteRef, Metadata, Section

# Format 2 adds ``manifest_sha256`` (the manifest's own checksum); format 3 may store sentence
# vectors as int8 codes and scales (``dense.SentenceVectors``). Formats 1 and 2 are still read.
FORMAT_VERSION = 3
SUPPORTED_FORMATS = (1, 2, 3)
CURRENT = "CURRENT"
MANIFEST_SHA = "manifest_sha256"
# What CURRENT holds: one generation name and a newline, nothing else.
_CURRENT_RE = re.compile(rb"(gen-[0-9A-Za-z.]+-[0-9a-f]+)\n")
MANIFEST = "manifest.json"
_GEN_PREFIX = "gen-"
_TMP_PREFIX = ".building-"


class IndexStoreError(Exception):
    """The index is missing, incomplete, corrupt or does not match the settings."""


@dataclass(frozen=True)
class LoadedIndex:
    """A generation read back from disk."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]


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


def document_to_json(doc: Document) -> dict[str, Any]:
    """A document as JSON (its text is stored separately)."""
    d = asdict(doc)
    d.pop("text")
    d["text_sha256"] = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
    return d


def document_from_json(d: dict[str, Any], text: str) -> Document:
    """Inverse of ``document_to_json``."""
    return Document(
        doc_id=d["doc_id"],
        source=d["source"],
        format=d["format"],
        text=text,
        metadata=Metadata(**d["metadata"]),
        sections=tuple(Section(**{**s, "path": tuple(s["path"])}) for s in d["sections"]),
        blocks=tuple(
            Block(**{**b, "gaps": tuple(tuple(g) for g in b["gaps"])}) for b in d["blocks"]
        ),
        footnotes=tuple(Footnote(**f) for f in d["footnotes"]),
        references=tuple(FootnoteRef(**r) for r in d.get("references", ())),
        warnings=tuple(d.get("warnings", ())),
        fingerprint=str(d.get("fingerprint", "")),
    )


_CHUNK_FIELDS = tuple(f.name for f in fields(Chunk))


def chunk_to_json(chunk: Chunk) -> dict[str, Any]:
    """A chunk as JSON (the same dict as ``asdict``, without its deep copies: a chunk's
    fields are strings, numbers, a tuple of strings and a flat dict)."""
    return {name: getattr(chunk, name) for name in _CHUNK_FIELDS}


def chunk_from_json(d: dict[str, Any]) -> Chunk:
    """Inverse of ``chunk_to_json``."""
    return Chunk(**{**d, "section": tuple(d["section"])})


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

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write one file of the generation and remember its checksum."""
        _write_file(self.tmp / rel, data)
        self.files[rel] = hashlib.sha256(data).hexdigest()

    def write_dir(self, rel: str, save: Callable[[Path], None]) -> None:
        """Let ``save`` write a folder of files, then checksum every file it wrote."""
        folder = self.tmp / rel
        folder.mkdir(parents=True, exist_ok=True)
        save(folder)
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                with path.open("rb+") as f:
                    os.fsync(f.fileno())
                self.files[str(path.relative_to(self.tmp))] = sha256_file(path)

    def write_lines(self, rel: str, rows: Iterable[dict[str, Any]]) -> None:
        """Write JSON lines as they come (no whole-file string in memory), checksummed."""
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        with path.open("wb") as f:
            for row in rows:
                line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
                h.update(line)
                f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.files[rel] = h.hexdigest()

    def write_documents(self, docs: list[Document]) -> None:
        """Documents (JSON lines) and their canonical texts."""
        self.write_lines("documents.jsonl", (document_to_json(d) for d in docs))
        for d in docs:
            self.write_bytes(f"texts/{d.doc_id}.txt", d.text.encode("utf-8"))

    def write_chunks(self, chunks: list[Chunk]) -> None:
        """Chunks as JSON lines."""
        self.write_lines("chunks.jsonl", (chunk_to_json(c) for c in chunks))

    def publish(self, manifest: dict[str, Any], keep: int = 2) -> Path:
        """Write the manifest last, rename into place, then switch CURRENT atomically."""
        manifest = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "generation": self.name,
            "files": dict(sorted(self.files.items())),
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
    docs: list[Document], chunks: list[Chunk], sentences: int, dimension: int, approx: bool
) -> int:
    """About how many bytes a generation of these reports will take on disk (an upper bound
    in practice: tests/reliability/test_leftovers.py compares it with real builds)."""
    text = sum(len(d.text.encode()) for d in docs)
    chunk_text = sum(
        len(c.text.encode("utf-8")) + len(c.embed_text.encode("utf-8")) for c in chunks
    )
    # HNSW (M=32) adds a file holding its own copy of the vectors and ~300 bytes of graph each.
    dense = len(chunks) * dimension * 4 * (3 if approx else 1)
    size = (
        2 * text  # texts/ and documents.jsonl (sections, blocks, footnotes: under half the text)
        + chunk_text * 12 // 10
        + 400 * len(chunks)  # chunks.jsonl: JSON and metadata per chunk
        + chunk_text  # bm25/: postings and vocabulary
        + dense
        + sentences * (dimension * 4 + 12)  # sentences/: float32 vectors (int8: less), positions
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
    for rel, digest in files.items():
        if not _safe_rel(rel) or not isinstance(digest, str):
            raise IndexStoreError(f"{path} is corrupt (bad entry {rel!r}); rebuild the index")
        f = gen / rel
        if not f.is_file():
            raise IndexStoreError(f"{gen.name}/{rel} is missing; rebuild the index")
        try:
            actual = sha256_file(f)
        except OSError as exc:
            raise IndexStoreError(f"cannot read {gen.name}/{rel} ({exc}); rebuild") from None
        if actual != digest:
            raise IndexStoreError(f"{gen.name}/{rel} fails its checksum (corrupt); rebuild")
    return dict(manifest)


def check_manifest_digest(gen: Path, manifest: dict[str, Any]) -> None:
    """Refuse a manifest whose own checksum does not match its content (format 2)."""
    expected = manifest.get(MANIFEST_SHA)
    if expected is None and manifest.get("format_version") == 1:
        return  # written before manifests carried their checksum
    if expected != manifest_digest(manifest):
        raise IndexStoreError(
            f"{gen.name}/{MANIFEST} fails its checksum (corrupt); rebuild the index"
        )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except (json.JSONDecodeError, RecursionError) as exc:
                        raise IndexStoreError(f"{path}:{n} is corrupt ({exc})") from None
                    if not isinstance(row, dict):
                        raise IndexStoreError(f"{path}:{n} is corrupt (not an object)")
                    rows.append(row)
    except UnicodeDecodeError as exc:
        raise IndexStoreError(f"{path} is corrupt ({exc}); rebuild the index") from None
    return rows


def load(index_dir: Path) -> LoadedIndex:
    """Load the current generation whole, verifying checksums and counts."""
    return load_generation(current_generation(index_dir))


def load_generation(gen: Path) -> LoadedIndex:
    """Load one generation folder whole, verifying checksums and counts."""
    manifest = read_manifest(gen)
    docs: dict[str, Document] = {}
    try:
        for d in _read_jsonl(gen / "documents.jsonl"):
            text = (gen / "texts" / f"{d['doc_id']}.txt").read_text(encoding="utf-8")
            docs[d["doc_id"]] = document_from_json(d, text)
        chunks = [chunk_from_json(c) for c in _read_jsonl(gen / "chunks.jsonl")]
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
        # ValueError covers UnicodeDecodeError of a text file
        raise IndexStoreError(f"{gen.name} is not a valid index ({exc}); rebuild") from None
    counts = manifest.get("counts", {})
    if (
        not isinstance(counts, dict)
        or counts.get("documents") != len(docs)
        or counts.get("chunks") != len(chunks)
    ):
        raise IndexStoreError(
            f"{gen.name}: counts do not match the manifest ({len(docs)} documents,"
            f" {len(chunks)} chunks); rebuild"
        )
    # Last, so the more specific messages above win; still before any vector file is read.
    check_manifest_digest(gen, manifest)
    return LoadedIndex(gen, manifest, docs, chunks)
