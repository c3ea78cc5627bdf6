"""Export the embedding model's transformer to ONNX, once, for ``OnnxEmbedder`` (``qa index``).

An export is a folder ``<index_dir>/encoders/<key>/`` holding ``model.onnx`` (token embeddings
with dynamic batch and sequence axes), ``tokenizer.json`` (the tokenizer sentence-transformers
itself loaded, so lower-casing and special tokens are exactly the torch model's) and
``encoder.json`` (the key, the sha256 of both files and the tokenizer settings). The key hashes
the model name, every model file and the versions of the exporting libraries, so a changed model
or upgrade never meets a stale export. The folder is written under a temporary name, fsynced,
checked against the torch model on sample texts and only then renamed into place; a server
never writes it. ``IndexEncoder`` is the encoder a ``qa index`` run embeds with.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import inspect
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..settings import Settings
from .embedding import Embedder, SentenceTransformerEmbedder
from .encoders import bf16_embedder, bf16_identity, make_embedder
from .onnx_encoder import OnnxEmbedder
from .onnx_files import (
    EXPORT_FORMAT,
    MODEL_FILE,
    SIDECAR,
    TOKENIZER_FILE,
    OnnxUnavailable,
    encoder_dir,
    encoder_key,
    encoders_root,
    library_versions,
    local_model_dir,
    read_checked,
    read_pipeline,
    read_sidecar,
)
from .onnx_graph import onnx_bytes
from .store import free_bytes, fsync_dir, sha256_file

log = logging.getLogger(__name__)

OUTPUT = "token_embeddings"
# An export must give the torch vectors back to this cosine on every sample, or it is dropped.
# Tight because `qa index` embeds with it too: its vectors and torch's are stored side by side.
MIN_COSINE = 0.99999
VERIFY_TEXTS = [
    "",
    "a",
    "How are children kept safe in police custody overnight?",
    "Façade naïve café – “quoted” text, 日本語, emoji 🙂 and accents: Ångström.",
    " ".join(["The force reviewed missing children cases with partner agencies."] * 80),
]
# One process at a time exports into an encoders folder, holding its lock (flock). Every
# ``.tmp-*`` export folder is made under it, so whoever holds it knows the ones there are
# leftovers of killed exports (a lock dies with its process) and removes them at once.
# Headroom an export needs beyond the model's own files (the graph holds the same weights).
_EXPORT_SPACE_FACTOR = 1.2


def ensure_encoder(settings: Settings) -> Path | None:
    """Make sure the configured model's ONNX export exists in the index folder.

    Nothing to do for the torch backend. A model that cannot be exported is logged and left to
    PyTorch; it never fails the index build.
    """
    if settings.encoder_backend != "onnx":
        return None
    try:
        root = encoders_root(settings.index_dir)
        return export_encoder(settings.model, root, settings.models_dir)
    except (OnnxUnavailable, OSError) as exc:
        log.warning("no ONNX encoder exported, queries will use PyTorch: %s", exc)
        return None


@dataclass(frozen=True)
class Prepared:
    """What ``prepare_encoder`` found or did."""

    folder: Path | None  # the export, or None when queries and builds will use PyTorch
    made: bool  # exported now (False: it was there already)
    seconds: float
    reason: str = ""  # why there is no export


def prepare_encoder(settings: Settings) -> Prepared:
    """Export the configured model to ONNX in the index folder's ``encoders/`` unless a valid
    export is there already, and remove exports made for other models or library versions.

    Model preparation rather than indexing: the README's set-up runs it (``qa prepare``), so the
    first ``qa index`` embeds at once. A build that finds no export still makes one.
    """
    t0 = time.perf_counter()
    if settings.encoder_backend != "onnx" or settings.device != "cpu":
        return Prepared(None, False, 0.0, "the configured encoder is PyTorch (nothing to export)")
    root = encoders_root(settings.index_dir)
    try:
        location = local_model_dir(settings.model, settings.models_dir)
        read_pipeline(location)
        key = encoder_key(settings.model, location, root, remember=root.is_dir())
        folder = encoder_dir(root, key)
        found = is_valid(folder, key)
        if not found:
            folder = export_encoder(settings.model, root, settings.models_dir)
    except (OnnxUnavailable, OSError) as exc:
        return Prepared(None, False, time.perf_counter() - t0, str(exc))
    prune_exports(folder)
    return Prepared(folder, not found, time.perf_counter() - t0)


class IndexEncoder:
    """The encoder one ``qa index`` run embeds with, opened on first use.

    With the ONNX backend that is ONNX Runtime on the export (made first if missing or
    damaged), so a run that embeds a few new passages never imports torch; PyTorch when the
    backend is torch, or when the export cannot be made or opened (with a warning).
    ``finish`` makes sure the export queries need exists even if nothing was embedded.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder: Embedder | None = None
        self._export_checked = False  # the export was found valid, made, or found impossible
        self.load_seconds = 0.0  # time this run waited for opening (and, if need be, exporting)
        self._opening: threading.Thread | None = None
        self._opened: OnnxEmbedder | None = None  # what the background open produced

    @property
    def loaded(self) -> bool:
        """Whether the encoder has been opened."""
        return self._embedder is not None

    @property
    def backend(self) -> str | None:
        """ "onnx" or "torch" once opened, else None."""
        if self._embedder is None:
            return None
        return getattr(self._embedder, "backend", "torch")

    def open_in_background(self) -> None:
        """Start opening an existing ONNX export on another thread while the build goes on.

        Reading and checking the 90 MB export and building the session take ~0.5 s, mostly
        outside the GIL; parsing and chunking overlap them. Only an export that is already
        valid is opened there: exporting or falling back to PyTorch stays on the caller's
        thread, in ``get``.
        """
        if self._embedder is not None or self._opening is not None:
            return
        s = self.settings
        if s.encoder_backend != "onnx" or s.device != "cpu" or s.index_precision != "fp32":
            return
        self._opening = threading.Thread(
            target=self._open_export, name="open-onnx-encoder", daemon=True
        )
        self._opening.start()

    def _configured(self) -> tuple[Embedder, SentenceTransformerEmbedder | None]:
        """The configured embedder, not loaded; an ONNX one remembers its export key and has
        its PyTorch fallback taken off (returned beside it), so a failed open raises. With
        ``index_precision`` "bf16", PyTorch in bfloat16 (queries keep the fp32 encoder)."""
        bf16 = bf16_embedder(self.settings)
        if bf16 is not None:
            return bf16, None
        embedder = make_embedder(self.settings)
        if not isinstance(embedder, OnnxEmbedder):
            return embedder, None
        embedder.remember_key = True
        fallback, embedder.fallback = embedder.fallback, None
        return embedder, fallback

    def _open_export(self) -> None:
        embedder, fallback = self._configured()
        if isinstance(embedder, OnnxEmbedder):
            with contextlib.suppress(Exception):  # anything wrong: `get` opens it the usual way
                embedder.load()
                embedder.fallback = fallback
                self._opened = embedder

    def get(self) -> Embedder:
        """The opened encoder."""
        if self._embedder is None:
            t0 = time.perf_counter()
            if self._opening is not None:
                self._opening.join()
                self._opening = None
            if self._opened is not None:
                self._embedder, self._opened = self._opened, None
                self._export_checked = True
            else:
                self._embedder = self._open()
            self.load_seconds += time.perf_counter() - t0
        return self._embedder

    def _open(self) -> Embedder:
        embedder, fallback = self._configured()
        if not isinstance(embedder, OnnxEmbedder):
            return embedder.load()
        try:
            embedder.load()  # opening checks the export as ensure_encoder would
        except OnnxUnavailable:
            ensure_encoder(self.settings)  # export it (or log why not)
            embedder.fallback = fallback
            embedder.load()
        self._export_checked = True
        return embedder

    def use_torch(self) -> Embedder:
        """Switch to the PyTorch model (the reference the export is checked against)."""
        t0 = time.perf_counter()
        s = self.settings
        self._embedder = SentenceTransformerEmbedder(
            s.model, s.device, s.torch_threads, s.blas_threads, models_dir=s.models_dir
        ).load()
        self.load_seconds += time.perf_counter() - t0
        return self._embedder

    def identity(self) -> dict[str, str] | None:
        """What produced this run's vectors, if it was the ONNX export (its key and the
        onnxruntime version) or PyTorch in bfloat16 (the model and the torch version); None
        for PyTorch in fp32 or before opening."""
        embedder = self._embedder
        if (bf16 := bf16_identity(embedder, self.settings.model)) is not None:
            return bf16
        if not isinstance(embedder, OnnxEmbedder) or embedder.backend != "onnx":
            return None
        return {"export": embedder.export_key, "onnxruntime": embedder.runtime_version}

    def finish(self) -> None:
        """Make sure the export exists (a no-op if this run already opened or made it)."""
        if self._opening is not None:  # opened for nothing: wait, so no thread outlives the run
            self._opening.join()
            self._opening = None
        if self._opened is not None:
            self._export_checked = True  # the background open found it valid
        current = None
        if not self._export_checked:
            current = ensure_encoder(self.settings)
            self._export_checked = True
        for opened in (self._embedder, self._opened):
            if isinstance(opened, OnnxEmbedder) and opened.backend == "onnx":
                current = encoder_dir(encoders_root(self.settings.index_dir), opened.export_key)
        if current is not None:
            prune_exports(current)


def prune_exports(current: Path) -> list[str]:
    """Remove the exports beside ``current`` (made for another model or other library versions:
    no build or server of this installation opens them again; ~90 MB each)."""
    removed = []
    for folder in current.parent.iterdir():
        if folder == current or not _EXPORT_NAME.fullmatch(folder.name) or not folder.is_dir():
            continue
        try:
            _discard(folder)
        except OSError as exc:
            log.warning("could not remove the unused ONNX export %s: %s", folder, exc)
            continue
        removed.append(folder.name)
    if removed:
        log.info("removed %d unused ONNX export(s): %s", len(removed), ", ".join(removed))
    return removed


_EXPORT_NAME = re.compile(r"[0-9a-f]{32}")  # encoder_dir names an export by its key's prefix


def is_valid(folder: Path, key: str) -> bool:
    """Whether ``folder`` holds a complete, undamaged export for ``key``."""
    try:
        meta = read_sidecar(folder, key)
        read_checked(folder, meta, MODEL_FILE)
        read_checked(folder, meta, TOKENIZER_FILE)
    except OnnxUnavailable:
        return False
    return True


def export_encoder(model: str, root: Path, models_dir: Path | None = None) -> Path:
    """The export folder for ``model`` under ``root``, exported now if missing or damaged."""
    location = local_model_dir(model, models_dir)
    read_pipeline(location)  # refuse unsupported models before loading anything
    key = encoder_key(model, location, root, remember=True)
    final = encoder_dir(root, key)
    if is_valid(final, key):
        return final
    root.mkdir(parents=True, exist_ok=True)
    # One export at a time per folder: a second build waits here, then finds the export made.
    with _export_lock(root, wait=True):
        if is_valid(final, key):
            return final  # another build exported it while this one waited
        _remove_leftovers(root)
        _check_space(location, root)
        tmp = root / f".tmp-{key[:12]}-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            _export(model, location, tmp, key, models_dir)
            _publish(tmp, final, key)
        except OnnxUnavailable:
            raise
        except Exception as exc:  # a failed export means "use torch", never a failed build
            raise OnnxUnavailable(
                f"exporting {model!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    encoder_key(model, location, root, remember=True)  # root exists now: keep the key
    return final


def sweep_exports(root: Path) -> list[str]:
    """Remove what interrupted exports left under ``root`` unless an export is running there
    now; returns the names removed. ``qa index`` calls it first thing."""
    if not root.is_dir():
        return []
    try:
        with _export_lock(root, wait=False):
            return _remove_leftovers(root)
    except BlockingIOError:  # an export is running: its folder is no leftover
        return _remove_leftovers(root, exports=False)


@contextlib.contextmanager
def _export_lock(root: Path, wait: bool) -> Iterator[None]:
    """Hold ``root``'s export lock (BlockingIOError if busy and not ``wait``). The lock file
    sits beside the folder (``index/.encoders.lock``), as the build lock does, so the folder
    holds exports only; a file rather than the folder itself, which NFS cannot lock."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with (root.parent / f".{root.name}.lock").open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _check_space(location: Path, root: Path) -> None:
    """Refuse to start an export the disk cannot hold (PyTorch is used instead)."""
    model_bytes = sum(p.stat().st_size for p in location.rglob("*") if p.is_file())
    needed = int(model_bytes * _EXPORT_SPACE_FACTOR)
    free = free_bytes(root)
    if free < needed:
        raise OnnxUnavailable(
            f"not enough disk space in {root} to export the model: it needs about"
            f" {needed / 2**20:.0f} MB, {free / 2**20:.0f} MB are free"
        )


def _export(model: str, location: Path, folder: Path, key: str, models_dir: Path | None) -> None:
    t0 = time.perf_counter()
    st = _load_sentence_transformer(location)
    transformer = st[0]
    tokenizer = transformer.tokenizer
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise OnnxUnavailable(f"model {model!r} has no fast (tokenizers) tokenizer to export")
    hf_model = transformer.auto_model.eval()
    params = inspect.signature(hf_model.forward).parameters
    if not {"input_ids", "attention_mask"} <= set(params):
        raise OnnxUnavailable(f"model {model!r} does not take input_ids and attention_mask")
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in tokenizer.model_input_names and "token_type_ids" in params:
        names.append("token_type_ids")  # exactly what sentence-transformers feeds the model
    max_len = int(st.max_seq_length)
    _write(folder / MODEL_FILE, onnx_bytes(hf_model, names, max_len, OUTPUT))
    _write(folder / TOKENIZER_FILE, tokenizer.backend_tokenizer.to_str().encode("utf-8"))
    meta: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "key": key,
        "model": model,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": library_versions(),
        "inputs": names,
        "output": OUTPUT,
        "dimension": int(st.get_embedding_dimension()),
        "max_seq_length": max_len,
        "padding_side": tokenizer.padding_side,
        "truncation_side": tokenizer.truncation_side,
        "pad_token_id": int(tokenizer.pad_token_id or 0),
        "pad_token_type_id": int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
        "files": {name: sha256_file(folder / name) for name in (MODEL_FILE, TOKENIZER_FILE)},
    }
    _write(folder / SIDECAR, json.dumps(meta, indent=1).encode())
    meta["verified_min_cosine"] = _verify(st, model, folder, models_dir)
    meta["export_seconds"] = round(time.perf_counter() - t0, 1)
    _write(folder / SIDECAR, json.dumps(meta, indent=1).encode())
    del st, transformer, hf_model
    gc.collect()


def _load_sentence_transformer(location: Path) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    return SentenceTransformer(str(location), device="cpu")


def _verify(st: Any, model: str, folder: Path, models_dir: Path | None = None) -> float:
    """Min cosine between torch and the fresh export over sample texts, batched and alone."""
    onnx = OnnxEmbedder(model, folder=folder, blas_threads=None, models_dir=models_dir).load()
    reference = st.encode(VERIFY_TEXTS, convert_to_numpy=True, normalize_embeddings=True)
    batched = onnx.encode(VERIFY_TEXTS)
    alone = np.vstack([onnx.encode([t]) for t in VERIFY_TEXTS])
    cosine = float(min((reference * batched).sum(1).min(), (reference * alone).sum(1).min()))
    if not cosine >= MIN_COSINE:
        raise OnnxUnavailable(
            f"the ONNX export of {model!r} does not reproduce the torch vectors"
            f" (min cosine {cosine:.6f} < {MIN_COSINE})"
        )
    return round(cosine, 7)


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _publish(tmp: Path, final: Path, key: str) -> None:
    """Rename the finished export into place (replacing a damaged one; a valid one wins)."""
    fsync_dir(tmp)
    if final.exists():
        if is_valid(final, key):
            return  # another build exported it meanwhile
        _discard(final)
    try:
        os.replace(tmp, final)
    except OSError as exc:
        if not is_valid(final, key):
            raise OnnxUnavailable(f"cannot publish the ONNX export to {final}: {exc}") from exc
    fsync_dir(final.parent)


def _discard(folder: Path) -> None:
    """Remove a folder: renamed away first (gone from its name at once; raises OSError if it
    cannot be), then deleted."""
    trash = folder.with_name(f".trash-{folder.name}-{secrets.token_hex(4)}")
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


_OWNED_TMP = re.compile(r"\.tmp-.*-(\d+)-[0-9a-f]{8}")  # ...-<pid>-<random>


def _remove_leftovers(root: Path, exports: bool = True) -> list[str]:
    """Remove ``.trash-*`` folders (garbage whoever made them), the key cache's temporary
    files of dead processes and, if ``exports`` (the caller holds the export lock), every
    ``.tmp-*`` export folder."""
    removed = []
    for entry in root.iterdir():
        name = entry.name
        if name.startswith(".trash-"):
            shutil.rmtree(entry, ignore_errors=True)
        elif not name.startswith(".tmp-"):
            continue
        elif entry.is_dir() and not entry.is_symlink():
            if not exports:
                continue
            shutil.rmtree(entry, ignore_errors=True)
        else:
            # The key cache writes its temporary file without the export lock: removed only
            # once the process named in it is gone.
            owner = _OWNED_TMP.fullmatch(name)
            if owner and _alive(int(owner.group(1))):
                continue
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (a reused id only delays a removal)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
