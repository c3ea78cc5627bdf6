"""Passages as columns (store formats 4 and 5): what search reads of every passage as numpy arrays,
the texts as UTF-8 blobs with offsets, and a ``Chunk`` built only when its row is read.

Layout of ``passages/`` (every file listed with its sha256 in the manifest)::

    columns.npy      int32 (rows, 14): see the column names below
    ids.npy          chunk ids as fixed-width UTF-8 bytes, in row order
    id_order.npy     int64 stable argsort of ids.npy: ids are looked up by binary search
    text.bin         every passage's ``text``, UTF-8, in row order, as zlib blocks of
                     ROWS_PER_BLOCK rows (format 5; format 4: plain); text.off.npy the rows'
                     offsets in the uncompressed text, text.blocks.npy the blocks' in text.bin
    embed.bin        ``embed_text``, or only the part before ``text`` when embed_text ends
                     with it (most do: heading context + newline + text); embed.off.npy and
                     embed.blocks.npy as for text
    tables.json      heading paths, sources and metadata objects the columns index

Loading reads the small tables and memory-maps the rest: nothing is parsed per passage, and
a passage's strings are decoded on first access (then kept). No pickle anywhere.
"""

from __future__ import annotations

import io
import json
import mmap
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from numpy.typing import NDArray

from ..types import BLOCK_TYPES, Chunk
from .records import IndexStoreError

if TYPE_CHECKING:
    from .store import GenerationWriter

FOLDER = "passages"
# Columns of columns.npy.
(DOC, SOURCE, SECTION, SECTION_INDEX, TYPE, START, END) = range(7)
(N_TOKENS, N_MODEL_TOKENS, ORDINAL, META, HOST, ATTACHED, EMBED_SUFFIX) = range(7, 14)
N_COLUMNS = 14
_INT32_MAX = 2**31 - 1
# Store format 5 keeps text.bin and embed.bin as zlib blocks of this many rows (about 40 KB
# of passage text, a third of it compressed; inflating one takes ~0.1 ms).
ROWS_PER_BLOCK = 64
ZLIB_LEVEL = 6
_BLOCKS_KEPT = 32


def host_rows(chunks: Sequence[Chunk]) -> NDArray[np.int64]:
    """For each row, the row of the passage it rides along with (chunking's
    ``metadata["attached_to"]``), or -1 for a passage that ranks on its own."""
    row_of = {c.chunk_id: i for i, c in enumerate(chunks)}
    host = np.full(len(chunks), -1, dtype=np.int64)
    for i, c in enumerate(chunks):
        target = c.metadata.get("attached_to")
        if isinstance(target, str) and target in row_of:
            host[i] = row_of[target]
    return host


@dataclass(frozen=True)
class PassageColumns:
    """What the search path reads of every passage, as arrays aligned with the rows."""

    doc: NDArray[np.int32]  # position of the passage's report among the index's documents
    type: NDArray[np.int8]  # index into BLOCK_TYPES
    section: NDArray[np.int32]  # index into ``sections``
    sections: tuple[tuple[str, ...], ...]  # distinct heading paths
    host: NDArray[np.int64]  # row named by metadata["attached_to"], -1 if none

    @classmethod
    def of_chunks(cls, chunks: Sequence[Chunk], doc_ids: Sequence[str]) -> PassageColumns:
        """The columns of chunks held in memory (older formats, the Milvus store)."""
        position = {d: i for i, d in enumerate(doc_ids)}
        paths: dict[tuple[str, ...], int] = {}
        codes = {t: i for i, t in enumerate(BLOCK_TYPES)}
        return cls(
            np.array([position[c.doc_id] for c in chunks], dtype=np.int32),
            np.array([codes[c.type] for c in chunks], dtype=np.int8),
            np.array([paths.setdefault(c.section, len(paths)) for c in chunks], dtype=np.int32),
            tuple(paths),
            host_rows(chunks),
        )

    def passages_per_document(self, n_docs: int) -> NDArray[np.int64]:
        """How many passages each report has, by position."""
        return np.bincount(self.doc, minlength=n_docs)


class _Strings:
    """Strings stored as one UTF-8 blob and int64 byte offsets (``n + 1`` of them)."""

    def __init__(self, blob: bytes | mmap.mmap, offsets: NDArray[np.int64]) -> None:
        self._blob = blob
        self._offsets = offsets

    def __getitem__(self, row: int) -> str:
        a, b = int(self._offsets[row]), int(self._offsets[row + 1])
        return self._blob[a:b].decode("utf-8")


class _BlockStrings(_Strings):
    """Strings stored as zlib blocks of ``ROWS_PER_BLOCK`` rows (store format 5): int64
    offsets of the rows in the uncompressed stream and of the blocks in the blob. A block is
    inflated when one of its rows is read; the last few are kept (neighbours are read
    together)."""

    def __init__(
        self, blob: bytes | mmap.mmap, offsets: NDArray[np.int64], blocks: NDArray[np.int64]
    ) -> None:
        super().__init__(blob, offsets)
        self._blocks = blocks
        self._cache: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def _block(self, k: int) -> bytes:
        with self._lock:
            found = self._cache.get(k)
        if found is None:
            a, b = int(self._blocks[k]), int(self._blocks[k + 1])
            try:
                found = zlib.decompress(self._blob[a:b])
            except zlib.error as exc:
                raise ValueError(f"block {k} does not inflate ({exc})") from None
            with self._lock:
                if len(self._cache) >= _BLOCKS_KEPT:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[k] = found
        return found

    def __getitem__(self, row: int) -> str:
        k = row // ROWS_PER_BLOCK
        base = int(self._offsets[k * ROWS_PER_BLOCK])
        a, b = int(self._offsets[row]) - base, int(self._offsets[row + 1]) - base
        data = self._block(k)
        if b > len(data):
            raise ValueError(f"block {k} is shorter than its rows")
        return data[a:b].decode("utf-8")


class IdIndex(Mapping[str, int]):
    """Passage id -> row (the last row with that id, as a dict built in row order gives), by
    binary search over the sorted ids: nothing is built at load."""

    def __init__(self, ids: NDArray[np.bytes_], order: NDArray[np.int64]) -> None:
        self._ids = ids
        self._order = order
        self._sorted: NDArray[np.bytes_] | None = None
        self._lock = threading.Lock()

    def id_at(self, row: int) -> str:
        """The id of one row."""
        return bytes(self._ids[row]).decode("utf-8")

    def _sorted_ids(self) -> NDArray[np.bytes_]:
        with self._lock:
            if self._sorted is None:
                self._sorted = self._ids[self._order]
            return self._sorted

    def __getitem__(self, key: str) -> int:
        raw = key.encode("utf-8") if isinstance(key, str) else b""
        if not raw or len(raw) > self._ids.dtype.itemsize or raw.endswith(b"\0"):
            raise KeyError(key)
        ids = self._sorted_ids()
        at = int(np.searchsorted(ids, np.bytes_(raw), side="right"))
        if at == 0 or bytes(ids[at - 1]) != raw:
            raise KeyError(key)
        return int(self._order[at - 1])

    def __iter__(self) -> Iterator[str]:
        return (self.id_at(i) for i in range(len(self._ids)))

    def __len__(self) -> int:
        return len(self._ids)


class LazyChunks(Sequence[Chunk]):
    """The passages of a format-4 generation: a ``Chunk`` is built when its row is first
    read and kept; ``columns`` and ``row_of`` serve the search path without building any."""

    def __init__(
        self,
        cols: NDArray[np.int32],
        ids: IdIndex,
        text: _Strings,
        embed: _Strings,
        tables: dict[str, Any],
        doc_ids: Sequence[str],
    ) -> None:
        self._cols = cols
        self.row_of = ids
        self._text = text
        self._embed = embed
        self._doc_ids = list(doc_ids)
        self._sources: list[str] = tables["sources"]
        self._meta: list[dict[str, Any]] = tables["metadata"]
        self._built: list[Chunk | None] = [None] * len(cols)
        sections = tuple(tuple(p) for p in tables["sections"])
        self.columns = PassageColumns(
            np.ascontiguousarray(cols[:, DOC]),
            np.ascontiguousarray(cols[:, TYPE]).astype(np.int8),
            np.ascontiguousarray(cols[:, SECTION]),
            sections,
            np.ascontiguousarray(cols[:, HOST]).astype(np.int64),
        )

    def __len__(self) -> int:
        return len(self._built)

    @overload
    def __getitem__(self, row: int) -> Chunk: ...

    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...

    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        chunk = self._built[row]
        if chunk is None:  # two threads may both build it: equal values, either is kept
            chunk = self._built[row] = self._build(row % len(self) if row < 0 else row)
        return chunk

    def _build(self, row: int) -> Chunk:
        c = self._cols[row].tolist()
        try:
            text = self._text[row]
            embed = self._embed[row] + (text if c[EMBED_SUFFIX] else "")
        except ValueError as exc:  # UnicodeDecodeError, or a block that does not inflate
            raise IndexStoreError(f"passage row {row} is corrupt ({exc}); rebuild") from None
        meta = dict(self._meta[c[META]])
        if c[ATTACHED]:
            meta["attached_to"] = self.row_of.id_at(c[HOST])
        return Chunk(
            chunk_id=self.row_of.id_at(row),
            doc_id=self._doc_ids[c[DOC]],
            source=self._sources[c[SOURCE]],
            section=self.columns.sections[c[SECTION]],
            section_index=c[SECTION_INDEX],
            type=BLOCK_TYPES[c[TYPE]],
            start=c[START],
            end=c[END],
            text=text,
            embed_text=embed,
            n_tokens=c[N_TOKENS],
            n_model_tokens=c[N_MODEL_TOKENS],
            ordinal=c[ORDINAL],
            metadata=meta,
        )


def _npy(array: NDArray[Any]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _strings(writer: GenerationWriter, rel: str, values: Sequence[str]) -> None:
    """Write strings as zlib blocks of ROWS_PER_BLOCK rows, the rows' offsets and the blocks'
    (streamed: no whole-blob copy in memory)."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    packed = [
        zlib.compress(b"".join(encoded[i : i + ROWS_PER_BLOCK]), ZLIB_LEVEL)
        for i in range(0, len(encoded), ROWS_PER_BLOCK)
    ]
    blocks = np.zeros(len(packed) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in packed], out=blocks[1:])
    writer.write_stream(f"{rel}.bin", iter(packed))
    writer.write_bytes(f"{rel}.off.npy", _npy(offsets))
    writer.write_bytes(f"{rel}.blocks.npy", _npy(blocks))


def write(writer: GenerationWriter, chunks: Sequence[Chunk], doc_ids: Sequence[str]) -> None:
    """Write the passages of a generation as columns (the layout in the module docstring)."""
    base = PassageColumns.of_chunks(chunks, doc_ids)
    row_of = {c.chunk_id: i for i, c in enumerate(chunks)}
    sources: dict[str, int] = {}
    metas: dict[str, int] = {}
    cols = np.zeros((len(chunks), N_COLUMNS), dtype=np.int64)
    embeds: list[str] = []
    for i, c in enumerate(chunks):
        meta = dict(c.metadata)
        keys = list(meta)
        attached = bool(
            keys
            and keys[-1] == "attached_to"
            and isinstance(meta["attached_to"], str)
            and row_of.get(meta["attached_to"]) == base.host[i]
        )
        if attached:
            del meta["attached_to"]  # rebuilt from the host row's id
        key = json.dumps(meta, ensure_ascii=False)
        suffix = c.embed_text.endswith(c.text)
        embeds.append(c.embed_text[: len(c.embed_text) - len(c.text)] if suffix else c.embed_text)
        cols[i] = (
            base.doc[i],
            sources.setdefault(c.source, len(sources)),
            base.section[i],
            c.section_index,
            base.type[i],
            c.start,
            c.end,
            c.n_tokens,
            c.n_model_tokens,
            c.ordinal,
            metas.setdefault(key, len(metas)),
            base.host[i],
            attached,
            suffix,
        )
    if len(cols) and (cols.max() > _INT32_MAX or cols.min() < -_INT32_MAX):
        raise ValueError("a passage's offsets or counts do not fit the int32 columns")
    ids = np.array([c.chunk_id.encode("utf-8") for c in chunks], dtype=np.bytes_)
    if any(c.chunk_id == "" or c.chunk_id.endswith("\0") for c in chunks):
        raise ValueError("a passage id is empty or ends with NUL")
    tables = {
        "sections": [list(p) for p in base.sections],
        "sources": list(sources),
        "metadata": [json.loads(k) for k in metas],
    }
    writer.write_bytes(f"{FOLDER}/columns.npy", _npy(cols.astype(np.int32)))
    writer.write_bytes(f"{FOLDER}/ids.npy", _npy(ids))
    writer.write_bytes(f"{FOLDER}/id_order.npy", _npy(np.argsort(ids, kind="stable")))
    writer.write_bytes(f"{FOLDER}/tables.json", json.dumps(tables, ensure_ascii=False).encode())
    _strings(writer, f"{FOLDER}/text", [c.text for c in chunks])
    _strings(writer, f"{FOLDER}/embed", embeds)


def _blob(path: Path) -> bytes | mmap.mmap:
    with path.open("rb") as f:
        if path.stat().st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _offsets(
    folder: Path, name: str, n: int, blob: bytes | mmap.mmap, blocked: bool = False
) -> _Strings:
    off = np.load(folder / f"{name}.off.npy", mmap_mode="r", allow_pickle=False)
    if off.shape != (n + 1,) or off.dtype != np.int64:
        raise ValueError(f"{name}.off.npy has shape {off.shape}, expected ({n + 1},)")
    if n and (off[0] != 0 or (np.diff(off) < 0).any()):
        raise ValueError(f"{name}.off.npy is not a run of offsets")
    if not blocked:
        if n and off[-1] != len(blob):
            raise ValueError(f"{name}.off.npy does not match {name}.bin")
        return _Strings(blob, off)
    blocks = np.load(folder / f"{name}.blocks.npy", mmap_mode="r", allow_pickle=False)
    expected = (-(-n // ROWS_PER_BLOCK) + 1,)
    if blocks.shape != expected or blocks.dtype != np.int64:
        raise ValueError(f"{name}.blocks.npy has shape {blocks.shape}, expected {expected}")
    if blocks[0] != 0 or blocks[-1] != len(blob) or (np.diff(blocks) < 0).any():
        raise ValueError(f"{name}.blocks.npy does not match {name}.bin")
    return _BlockStrings(blob, off, np.asarray(blocks))


def load(gen: Path, n: int, doc_ids: Sequence[str], blocked: bool = True) -> LazyChunks:
    """Open the passages of a format-4 or 5 generation whose files the caller has checked
    against the manifest; ``n``: the manifest's passage count; ``blocked``: the texts are
    zlib blocks (format 5). Shapes and ranges are checked too."""
    folder = gen / FOLDER
    try:
        cols = np.load(folder / "columns.npy", mmap_mode="r", allow_pickle=False)
        ids = np.load(folder / "ids.npy", mmap_mode="r", allow_pickle=False)
        order = np.load(folder / "id_order.npy", mmap_mode="r", allow_pickle=False)
        tables = json.loads((folder / "tables.json").read_bytes().decode("utf-8"))
        if cols.ndim == 2 and len(cols) != n:
            raise IndexStoreError(
                f"{gen.name}: counts do not match the manifest ({len(doc_ids)} documents,"
                f" {len(cols)} chunks); rebuild"
            )
        if cols.shape != (n, N_COLUMNS) or cols.dtype != np.int32:
            raise ValueError(f"columns.npy has shape {cols.shape}, expected ({n}, {N_COLUMNS})")
        if ids.shape != (n,) or ids.dtype.kind != "S" or order.shape != (n,):
            raise ValueError("ids.npy or id_order.npy does not match the passage count")
        if not all(isinstance(tables.get(k), list) for k in ("sections", "sources", "metadata")):
            raise ValueError("tables.json lacks a table")
        _check_ranges(cols, n, len(doc_ids), tables)
        text = _offsets(folder, "text", n, _blob(folder / "text.bin"), blocked)
        embed = _offsets(folder, "embed", n, _blob(folder / "embed.bin"), blocked)
        return LazyChunks(cols, IdIndex(ids, np.asarray(order)), text, embed, tables, doc_ids)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise IndexStoreError(f"{gen.name}/{FOLDER} is not valid ({exc}); rebuild") from None


def _check_ranges(cols: NDArray[np.int32], n: int, n_docs: int, tables: dict[str, Any]) -> None:
    """Every index a column holds points inside what it indexes."""
    if not n:
        return
    limits = {
        DOC: (0, n_docs),
        SOURCE: (0, len(tables["sources"])),
        SECTION: (0, len(tables["sections"])),
        TYPE: (0, len(BLOCK_TYPES)),
        META: (0, len(tables["metadata"])),
        HOST: (-1, n),
        ATTACHED: (0, 2),
        EMBED_SUFFIX: (0, 2),
    }
    for col, (lo, hi) in limits.items():
        values = cols[:, col]
        if int(values.min()) < lo or int(values.max()) >= hi:
            raise ValueError(f"column {col} of columns.npy is out of range")
    if ((cols[:, ATTACHED] == 1) & (cols[:, HOST] < 0)).any():
        raise ValueError("an attached passage has no host row")
