"""The Milvus store (``QA_STORE=milvus``): generations held in Milvus collections, published
by switching one alias, read back into the same SearchIndex the embedded store gives.

Per generation ``G`` (its name with ``-`` and ``.`` written ``_``) and prefix ``P``
(``QA_MILVUS_PREFIX``)::

    P_G_passages    row (primary key), doc (position of its report), doc_id, force,
                    report_type, year (0: unknown), chunk (the passage as JSON), vector
    P_G_sentences   id (primary key), owner (passage row), start, end, vector
    P_G_files       the generation's other files (manifest, documents.jsonl, texts/*,
                    acronyms.json) in parts of at most PART_CHARS characters
    P_current       the alias naming the published generation's passages collection

``qa index`` builds a generation as usual (the index folder is its staging area and the
cache an incremental build reuses), copies it into new collections, waits until they are
flushed, indexed and loaded, and only then points the alias at them: a reader resolving the
alias never sees a half-copied generation. Older generations beyond ``keep_generations``
are dropped. A reader resolves the alias (one call: ``published``), reads the generation
back, checks it against the manifest's counts and checksums, and searches its passages
collection by name (so a search stays on the generation it loaded).

The same code reaches Milvus Lite (a local folder, ``QA_MILVUS_URI=path/to/milvus.db``) or a
Milvus server or cluster (``http://host:19530``); docs/milvus.md says what Lite lacks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..settings import Settings
from ..types import Chunk, Document
from . import store
from .dense import DenseIndex, SentenceVectors
from .store import IndexStoreError

PART_CHARS = 16_000  # at most 64 kB of UTF-8 per VARCHAR (Milvus's limit is 65,535 bytes)
CHUNK_BYTES = 65_535
PAGE = 4_096  # rows per query when reading a collection back (Milvus caps a query at 16,384)
INSERT_BATCH = 1_024
_FILE_NAMES = ("manifest.json", "documents.jsonl", "acronyms.json")
# Checksums of the files Milvus keeps in format 3's layout for a generation of format 4.
COPIES = "format3-copies.json"
_lock = threading.Lock()
_clients: dict[tuple[str, str], Any] = {}


def uri_of(settings: Settings) -> str:
    """The Milvus URI: ``QA_MILVUS_URI``, or a Milvus Lite folder beside the generations."""
    return settings.milvus_uri or str(settings.index_dir / "milvus.db")


def client(settings: Settings) -> Any:
    """One MilvusClient per URI and process (a Lite folder is opened by one process only)."""
    from pymilvus import MilvusClient

    uri = uri_of(settings)
    token = settings.milvus_token.get_secret_value() if settings.milvus_token else ""
    key = (uri, token)
    with _lock:
        found = _clients.get(key)
        if found is None:
            if uri.endswith(".db"):
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            # pymilvus logs every failed call with its traceback; the store turns the failures
            # it expects into IndexStoreError messages (the CLI prints no tracebacks).
            logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
            try:
                found = MilvusClient(uri=uri, token=token)
            except Exception as exc:  # pymilvus raises its own types, and grpc's
                hint = (
                    "; a Milvus Lite folder is opened by one process at a time: to share it,"
                    " run scripts/milvus-lite-server.sh and set QA_MILVUS_URI to its address"
                    if uri.endswith(".db")
                    else ""
                )
                raise IndexStoreError(
                    f"cannot open the Milvus store at {uri} ({exc}){hint}"
                ) from None
            _clients[key] = found
        return found


def alias_of(settings: Settings) -> str:
    """The alias that names the published generation."""
    return f"{settings.milvus_prefix}_current"


def collection_of(settings: Settings, generation: str, part: str) -> str:
    """The name of one collection of a generation (Milvus allows letters, digits and _)."""
    return f"{settings.milvus_prefix}_{re.sub(r'[^0-9A-Za-z]', '_', generation)}_{part}"


def published(settings: Settings) -> str | None:
    """The passages collection the alias names (None: nothing published yet)."""
    milvus = client(settings)
    alias = alias_of(settings)
    try:
        # Listed first: describing a missing alias makes pymilvus log an error.
        if alias not in milvus.list_aliases(timeout=10).get("aliases", []):
            return None
        return str(milvus.describe_alias(alias, timeout=10)["collection_name"])
    except Exception as exc:  # pymilvus's and grpc's error types vary by server
        raise IndexStoreError(
            f"cannot reach the Milvus store at {uri_of(settings)} ({exc})"
        ) from None


# ---------------------------------------------------------------- writing


def _schema(milvus: Any, fields: list[tuple[str, Any, dict[str, Any]]]) -> Any:
    schema = milvus.create_schema(auto_id=False, enable_dynamic_field=False)
    for name, dtype, kwargs in fields:
        schema.add_field(name, dtype, **kwargs)
    return schema


def _create(milvus: Any, name: str, schema: Any, index: dict[str, Any]) -> None:
    params = milvus.prepare_index_params()
    params.add_index(field_name="vector", **index)
    if milvus.has_collection(name):  # left by an interrupted copy of the same generation
        milvus.drop_collection(name)
    milvus.create_collection(name, schema=schema, index_params=params)


def _insert(milvus: Any, name: str, rows: Iterable[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= INSERT_BATCH:
            milvus.insert(name, batch)
            batch = []
    if batch:
        milvus.insert(name, batch)
    milvus.flush(name)
    milvus.load_collection(name)


def _decoded(
    rows: Callable[[NDArray[np.int64]], NDArray[np.float32]], n: int
) -> Iterator[list[float]]:
    """Rows 0..n-1 of a vector store as lists of floats, decoded INSERT_BATCH rows at a time."""
    for a in range(0, n, INSERT_BATCH):
        yield from rows(np.arange(a, min(a + INSERT_BATCH, n), dtype=np.int64)).tolist()


def _vector_index(kind: str) -> dict[str, Any]:
    """FLAT (exact) for a flat generation, HNSW with the embedded store's parameters else."""
    if kind.startswith("hnsw"):  # "hnsw", "hnsw-sq8" or "hnsw-int8" (codes on the embedded side)
        return {
            "index_type": "HNSW",
            "metric_type": "IP",
            "params": {"M": 32, "efConstruction": 80},
        }
    return {"index_type": "FLAT", "metric_type": "IP"}


def passage_row(
    row: int, doc: int, document: Document, chunk: Chunk, vector: Any
) -> dict[str, Any]:
    """One passage as the passages collection stores it: the filter fields as columns."""
    text = json.dumps(store.chunk_to_json(chunk), ensure_ascii=False)
    if len(text.encode("utf-8")) > CHUNK_BYTES:
        raise IndexStoreError(f"passage {chunk.chunk_id} is too long for the Milvus store")
    m = document.metadata
    return {
        "row": row,
        "doc": doc,
        "doc_id": chunk.doc_id,
        "force": m.force or "",
        "report_type": m.report_type or "",
        "year": m.inspection_year or 0,
        "chunk": text,
        "vector": vector,
    }


def _file_rows(files: dict[str, str]) -> Iterator[dict[str, Any]]:
    n = 0
    for name, text in files.items():
        for seq, a in enumerate(range(0, max(len(text), 1), PART_CHARS)):
            yield {
                "id": n,
                "file": name,
                "seq": seq,
                "part": text[a : a + PART_CHARS],
                "vector": [0.0, 0.0],
            }
            n += 1


def _generation_files(loaded: store.LoadedIndex) -> dict[str, str]:
    """The files Milvus keeps beside the vectors: the manifest, documents.jsonl and
    acronyms.json (the texts are added by the caller). A generation of store format 4 has
    neither documents.jsonl nor chunks.jsonl: they are written here as format 3 wrote them,
    and COPIES gives their sha256 (with the manifest checksum it goes with), so
    ``read_generation`` checks what Milvus holds the same way for every format."""
    gen = loaded.path
    if loaded.manifest.get("format_version", 0) < 4:
        return {rel: (gen / rel).read_text(encoding="utf-8") for rel in _FILE_NAMES}
    documents = "".join(
        json.dumps(store.document_to_json(d), ensure_ascii=False) + "\n"
        for d in loaded.documents.values()
    )
    chunks = hashlib.sha256()
    for c in loaded.chunks:
        chunks.update((json.dumps(store.chunk_to_json(c), ensure_ascii=False) + "\n").encode())
    copies = {
        store.MANIFEST_SHA: loaded.manifest[store.MANIFEST_SHA],
        "files": {
            "documents.jsonl": hashlib.sha256(documents.encode("utf-8")).hexdigest(),
            "chunks.jsonl": chunks.hexdigest(),
            # Format 5 stores the texts compressed (texts/<doc_id>.txt.z): Milvus keeps them
            # plain, with these checksums.
            **{
                f"texts/{doc_id}.txt": hashlib.sha256(d.text.encode("utf-8")).hexdigest()
                for doc_id, d in loaded.documents.items()
                if loaded.manifest.get("format_version", 0) >= 5
            },
        },
    }
    return {
        "manifest.json": (gen / "manifest.json").read_text(encoding="utf-8"),
        COPIES: json.dumps(copies),
        "documents.jsonl": documents,
        "acronyms.json": (gen / "acronyms.json").read_text(encoding="utf-8"),
    }


def publish(settings: Settings, gen: Path) -> str:
    """Copy a published local generation into Milvus and point the alias at it; returns
    the passages collection's name. Older generations beyond ``keep_generations`` go."""
    from pymilvus import DataType

    loaded = store.load_generation(gen)  # checked against its manifest's checksums
    manifest = loaded.manifest
    name = str(manifest["generation"])
    kind = str(manifest.get("dense", {}).get("kind", "flat"))
    # The vectors as every score reads them (8-bit codes decoded, or float32): Milvus holds
    # float vectors, so a reader scores exactly what the embedded store scores.
    # Decoded a batch at a time, as they are inserted (never the whole matrix at once).
    dense = DenseIndex.load(gen / "dense", kind, mmap=True)
    vectors = _decoded(dense.rows, len(dense))
    stored = SentenceVectors.load(gen / "sentences")
    sentences = _decoded(stored.rows, len(stored))
    owner, spans = stored.owner, stored.spans
    dim = dense.dimension
    milvus = client(settings)
    v = DataType.VARCHAR
    passages = collection_of(settings, name, "passages")
    _create(
        milvus,
        passages,
        _schema(
            milvus,
            [
                ("row", DataType.INT64, {"is_primary": True}),
                ("doc", DataType.INT32, {}),
                ("doc_id", v, {"max_length": 512}),
                ("force", v, {"max_length": 512}),
                ("report_type", v, {"max_length": 512}),
                ("year", DataType.INT32, {}),
                ("chunk", v, {"max_length": CHUNK_BYTES}),
                ("vector", DataType.FLOAT_VECTOR, {"dim": dim}),
            ],
        ),
        _vector_index(kind),
    )
    position = {doc_id: i for i, doc_id in enumerate(loaded.documents)}
    _insert(
        milvus,
        passages,
        (
            passage_row(i, position[c.doc_id], loaded.documents[c.doc_id], c, vector)
            for (i, c), vector in zip(enumerate(loaded.chunks), vectors, strict=True)
        ),
    )
    sent = collection_of(settings, name, "sentences")
    _create(
        milvus,
        sent,
        _schema(
            milvus,
            [
                ("id", DataType.INT64, {"is_primary": True}),
                ("owner", DataType.INT64, {}),
                ("start", DataType.INT32, {}),
                ("end", DataType.INT32, {}),
                ("vector", DataType.FLOAT_VECTOR, {"dim": dim}),
            ],
        ),
        _vector_index("flat"),
    )
    _insert(
        milvus,
        sent,
        (
            {
                "id": i,
                "owner": int(owner[i]),
                "start": int(spans[i][0]),
                "end": int(spans[i][1]),
                "vector": vector,
            }
            for i, vector in zip(range(len(owner)), sentences, strict=True)
        ),
    )
    files = _generation_files(loaded)
    files.update(
        {
            f"texts/{doc_id}.txt": d.text  # read and checked by the store (any format)
            for doc_id, d in loaded.documents.items()
        }
    )
    blobs = collection_of(settings, name, "files")
    _create(
        milvus,
        blobs,
        _schema(
            milvus,
            [
                ("id", DataType.INT64, {"is_primary": True}),
                ("file", v, {"max_length": 1024}),
                ("seq", DataType.INT32, {}),
                ("part", v, {"max_length": CHUNK_BYTES}),
                # Milvus wants a vector field in every collection; this one is never searched.
                ("vector", DataType.FLOAT_VECTOR, {"dim": 2}),
            ],
        ),
        {"index_type": "FLAT", "metric_type": "L2"},
    )
    _insert(milvus, blobs, _file_rows(files))
    # Everything is flushed, indexed and loaded: now, and only now, readers see it.
    alias = alias_of(settings)
    if published(settings) is None:
        milvus.create_alias(passages, alias)
    else:
        milvus.alter_alias(passages, alias)
    drop_old(settings, keep=settings.keep_generations)
    return passages


def generations(settings: Settings) -> list[str]:
    """The generations held in Milvus under this prefix, oldest first (names sort by time)."""
    milvus = client(settings)
    pattern = re.compile(rf"{re.escape(settings.milvus_prefix)}_(gen_\w+?)_passages")
    found = [m.group(1) for c in milvus.list_collections() if (m := pattern.fullmatch(c))]
    return sorted(found)


def drop_old(settings: Settings, keep: int) -> list[str]:
    """Drop generations beyond the newest ``keep`` (never the published one)."""
    milvus = client(settings)
    current = published(settings)
    dropped = []
    gens = generations(settings)
    for g in gens[:-keep] if keep > 0 else gens:
        if f"{settings.milvus_prefix}_{g}_passages" == current:
            continue
        for part in ("passages", "sentences", "files"):
            name = f"{settings.milvus_prefix}_{g}_{part}"
            if milvus.has_collection(name):
                milvus.drop_collection(name)
        dropped.append(g)
    return dropped


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class StoredGeneration:
    """A generation as read back from Milvus."""

    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: NDArray[np.float32]  # one per passage, in row order
    acronyms: dict[str, Any]
    sentences: SentenceVectors


def ensure_loaded(milvus: Any, name: str) -> None:
    """Load a collection for search and query (Milvus Lite forgets it between processes; a
    Milvus server keeps it, and loading a loaded collection does nothing)."""
    state = milvus.get_load_state(name).get("state")
    if "Loaded" not in str(state):
        milvus.load_collection(name)


def read_rows(
    milvus: Any, name: str, key: str, fields: list[str], total: int
) -> list[dict[str, Any]]:
    """Every row of a collection whose primary key ``key`` runs 0..total-1, in key order."""
    rows: list[dict[str, Any]] = []
    for a in range(0, total, PAGE):
        page = milvus.query(
            name, filter=f"{key} >= {a} and {key} < {a + PAGE}", output_fields=fields, limit=PAGE
        )
        rows.extend(sorted(page, key=lambda r: int(r[key])))
    if len(rows) != total or any(int(r[key]) != i for i, r in enumerate(rows)):
        raise IndexStoreError(
            f"Milvus collection {name} has {len(rows)} rows, not {total}; rebuild"
        )
    return rows


def _count(milvus: Any, name: str) -> int:
    return int(milvus.get_collection_stats(name)["row_count"])


def read_files(milvus: Any, name: str) -> dict[str, str]:
    """The generation's files, reassembled from their parts."""
    rows = read_rows(milvus, name, "id", ["id", "file", "seq", "part"], _count(milvus, name))
    parts: dict[str, list[tuple[int, str]]] = {}
    for r in rows:
        parts.setdefault(str(r["file"]), []).append((int(r["seq"]), str(r["part"])))
    return {f: "".join(p for _, p in sorted(ps)) for f, ps in parts.items()}


def _checked(files: dict[str, str], manifest: dict[str, Any], rel: str) -> str:
    """A file's text, refused unless its sha256 is the one the manifest recorded."""
    text = files.get(rel)
    if text is None:
        raise IndexStoreError(
            f"the Milvus store lacks {rel} of {manifest.get('generation')}; rebuild"
        )
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != manifest["files"].get(rel):
        raise IndexStoreError(f"{rel} in the Milvus store fails its checksum; rebuild")
    return text


def _with_copies(manifest: dict[str, Any], copies: str | None, prefix: str) -> dict[str, Any]:
    """The manifest with the checksums of the format-3 copies of a format-4 generation."""
    if copies is None:
        return manifest
    try:
        data = json.loads(copies)
        if data[store.MANIFEST_SHA] != manifest[store.MANIFEST_SHA]:
            raise ValueError("it belongs to another manifest")
        return {**manifest, "files": {**manifest["files"], **data["files"]}}
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexStoreError(f"{COPIES} in {prefix}_files is corrupt ({exc}); rebuild") from None


def read_generation(settings: Settings, passages: str) -> StoredGeneration:
    """The generation whose passages collection is ``passages``, checked against its
    manifest (its own checksum, each file's sha256, the row counts)."""
    milvus = client(settings)
    prefix = passages[: -len("_passages")]
    for part in ("passages", "sentences", "files"):
        ensure_loaded(milvus, f"{prefix}_{part}")
    files = read_files(milvus, f"{prefix}_files")
    manifest = json.loads(files["manifest.json"])
    if store.manifest_digest(manifest) != manifest.get(store.MANIFEST_SHA):
        raise IndexStoreError(f"the manifest in {prefix}_files fails its checksum; rebuild")
    checked = _with_copies(manifest, files.get(COPIES), prefix)
    documents: dict[str, Document] = {}
    for line in _checked(files, checked, "documents.jsonl").splitlines():
        if line.strip():
            d = json.loads(line)
            rel = f"texts/{d['doc_id']}.txt"
            documents[d["doc_id"]] = store.document_from_json(d, _checked(files, checked, rel))
    acronyms = json.loads(_checked(files, checked, "acronyms.json"))
    counts = manifest.get("counts", {})
    n = int(counts.get("chunks", -1))
    rows = read_rows(milvus, passages, "row", ["row", "chunk", "vector"], n)
    # The rows hold chunks.jsonl's lines as they were written: its checksum covers them.
    digest = hashlib.sha256("".join(r["chunk"] + "\n" for r in rows).encode("utf-8"))
    if digest.hexdigest() != checked["files"].get("chunks.jsonl"):
        raise IndexStoreError(f"the passages in {passages} fail their checksum; rebuild")
    chunks = [store.chunk_from_json(json.loads(r["chunk"])) for r in rows]
    vectors = np.array([r["vector"] for r in rows], dtype=np.float32).reshape(n, -1)
    m = int(manifest.get("sentences", 0))
    srows = read_rows(
        milvus, f"{prefix}_sentences", "id", ["id", "owner", "start", "end", "vector"], m
    )
    sv = np.array([r["vector"] for r in srows], dtype=np.float32).reshape(m, vectors.shape[1])
    owner = np.array([r["owner"] for r in srows], dtype=np.int32)
    spans = np.array([(r["start"], r["end"]) for r in srows], dtype=np.int32).reshape(m, 2)
    if len(documents) != counts.get("documents"):
        raise IndexStoreError(
            f"{prefix}: {len(documents)} documents, the manifest says"
            f" {counts.get('documents')}; rebuild"
        )
    return StoredGeneration(
        manifest, documents, chunks, vectors, acronyms, SentenceVectors(sv, owner, spans)
    )
