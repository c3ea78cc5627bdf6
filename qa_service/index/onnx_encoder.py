"""ONNX Runtime encoder: the sentence-transformers pipeline without torch, for queries and for
the passages and sentences ``qa index`` embeds.

The model's transformer is exported once (``onnx_export``, run by ``qa index``) to
``<index_dir>/encoders/<key>/``; this module runs it: the exported tokenizer (the one
sentence-transformers itself used, saved as ``tokenizer.json``), ONNX Runtime for the token
embeddings, then the pooling and normalisation the model's own ``modules.json`` asks for.
Only pipelines made of Transformer -> Pooling (mean, cls, max, mean_sqrt_len_tokens) ->
optional Normalize are reproduced; anything else is refused with ``UnsupportedModel``.

Any problem with the exported files (missing, damaged, exported for another model or other
library versions) raises ``OnnxUnavailable``; ``OnnxEmbedder`` given a ``fallback`` then logs a
warning and encodes with PyTorch instead, so a bad file costs speed, never a wrong vector.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..settings import BUNDLED_MODEL
from .embedding import ModelError, SentenceTransformerEmbedder, resolve_model
from .store import sha256_file

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

# Bump when the exported files or their meaning change: old exports then no longer match.
EXPORT_FORMAT = 1
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
SIDECAR = "encoder.json"
# Libraries whose versions decide what the export contains (the key changes with them).
EXPORT_LIBRARIES = (
    "torch",
    "transformers",
    "sentence-transformers",
    "tokenizers",
    "onnx",
    "onnxscript",
)
# Padded tokens per ONNX Runtime batch. On 2 cores, batches of 256 to 512 tokens (one or two
# passages, or eight to sixteen sentences) embedded 1.5 to 2.2 times as fast as the 32 and 64
# texts per batch the torch path uses (bench/results/incremental.md, idle and loaded).
BATCH_TOKENS = 256
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens")
# sentence-transformers' legacy Pooling keys, in the order it concatenates them.
_LEGACY_POOLING = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# Files that never change what the torch model computes (and exports some hub folders carry).
_NOT_HASHED = {"README.md", ".gitattributes"}
_NOT_HASHED_DIRS = {"onnx", "openvino", ".cache", ".git"}
_SIDECAR_FIELDS = (
    "files",
    "output",
    "dimension",
    "max_seq_length",
    "pad_token_id",
    "pad_token_type_id",
)


class OnnxUnavailable(ModelError):
    """The ONNX encoder cannot be used (the caller falls back to PyTorch)."""


class UnsupportedModel(OnnxUnavailable):
    """The model's sentence-transformers pipeline has a part this encoder does not reproduce."""


@dataclass(frozen=True)
class Pipeline:
    """What the model's own config files say happens after the transformer."""

    transformer_dir: Path
    pooling: tuple[str, ...]
    normalize: bool


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnsupportedModel(f"cannot read {path}: {exc}") from exc


def _module_kind(entry: dict[str, Any]) -> str:
    return str(entry.get("type", "")).rsplit(".", 1)[-1]


def read_pipeline(location: Path) -> Pipeline:
    """Parse modules.json and the module configs; refuse what cannot be reproduced exactly."""
    modules_file = location / "modules.json"
    if not modules_file.is_file():
        raise UnsupportedModel(f"{location} has no modules.json: not a sentence-transformers model")
    modules = sorted(_read_json(modules_file), key=lambda m: int(m.get("idx", 0)))
    kinds = [_module_kind(m) for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise UnsupportedModel(
            f"the ONNX encoder reproduces Transformer -> Pooling -> optional Normalize only;"
            f" this model's modules are {' -> '.join(kinds) or 'none'}"
            f" (use QA_ENCODER_BACKEND=torch)"
        )
    transformer_dir = location / str(modules[0].get("path", ""))
    _check_transformer(transformer_dir)
    _check_prompts(location)
    pooling = _pooling_modes(_read_json(location / str(modules[1]["path"]) / "config.json"))
    return Pipeline(transformer_dir, pooling, normalize=len(kinds) > 2)


def _check_transformer(folder: Path) -> None:
    cfg_file = folder / "sentence_bert_config.json"
    cfg: dict[str, Any] = _read_json(cfg_file) if cfg_file.is_file() else {}
    problems = []
    if cfg.get("transformer_task", "feature-extraction") != "feature-extraction":
        problems.append(f"transformer_task={cfg['transformer_task']!r}")
    if cfg.get("module_output_name") not in (None, "token_embeddings"):
        problems.append(f"module_output_name={cfg['module_output_name']!r}")
    for key in ("processing_kwargs", "query_length", "document_length", "query_expansion"):
        if cfg.get(key):
            problems.append(f"{key}={cfg[key]!r}")
    modality = cfg.get("modality_config")
    if modality and set(modality) != {"text"}:
        problems.append(f"modality_config with {sorted(modality)}")
    if problems:
        raise UnsupportedModel(
            f"the ONNX encoder does not reproduce the Transformer options {', '.join(problems)}"
        )


def _check_prompts(location: Path) -> None:
    cfg_file = location / "config_sentence_transformers.json"
    if cfg_file.is_file() and _read_json(cfg_file).get("default_prompt_name"):
        raise UnsupportedModel("the ONNX encoder does not apply default prompts")


def _pooling_modes(cfg: dict[str, Any]) -> tuple[str, ...]:
    """The pooling modes in concatenation order, from either config format."""
    mode = cfg.get("pooling_mode")
    if mode is None:
        legacy = tuple(name for key, name in _LEGACY_POOLING.items() if cfg.get(key))
        modes: tuple[str, ...] = legacy or ("mean",)
    else:
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    unsupported = [m for m in modes if m not in POOLING_MODES]
    if unsupported:
        raise UnsupportedModel(
            f"the ONNX encoder does not reproduce pooling mode(s) {unsupported};"
            f" supported: {list(POOLING_MODES)}"
        )
    return modes


def pool(
    token_embeddings: NDArray[np.float32], mask: NDArray[np.int64], modes: tuple[str, ...]
) -> NDArray[np.float32]:
    """Sentence vectors from token vectors (batch, tokens, dim), as sentence-transformers pools."""
    weights = mask[..., None].astype(np.float32)
    out: list[NDArray[np.float32]] = []
    for mode in modes:
        if mode == "cls":  # the first attended token, whichever side the padding is on
            first = mask.argmax(axis=1)
            out.append(token_embeddings[np.arange(len(first)), first])
        elif mode == "max":
            out.append(np.where(weights > 0, token_embeddings, -np.inf).max(axis=1))
        else:
            count = np.maximum(weights.sum(axis=1), 1e-9)
            total = (token_embeddings * weights).sum(axis=1)
            out.append(total / (count if mode == "mean" else np.sqrt(count)))
    vectors: NDArray[np.float32] = np.concatenate(out, axis=1).astype(np.float32, copy=False)
    return vectors


def l2_normalize(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """Rows scaled to unit length (torch.nn.functional.normalize's eps for zero rows)."""
    norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    unit: NDArray[np.float32] = (vectors / norms).astype(np.float32, copy=False)
    return unit


def local_model_dir(model: str) -> Path:
    """The model's local folder; hub names are not exported (nothing is downloaded)."""
    location = Path(resolve_model(model))
    if not location.is_dir():
        raise OnnxUnavailable(f"the ONNX encoder needs a local model folder, not {model!r}")
    return location


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape an export (read without importing them)."""
    out = {}
    for pkg in EXPORT_LIBRARIES:
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            out[pkg] = importlib_metadata.version(pkg)
    return out


def encoder_key(
    model: str, location: Path, cache_dir: Path | None = None, remember: bool = False
) -> str:
    """sha256 over the export format, model name, every model file and the library versions.

    ``cache_dir`` (the encoders folder) may hold the key last computed for the same files
    (``KEY_CACHE``, trusted while every file's size, mtime and inode are unchanged, as within
    one process); ``remember`` writes it there (``qa index`` does, a server never writes).
    """
    files = [
        (path, path.relative_to(location)) for path in sorted(location.rglob("*")) if path.is_file()
    ]
    files = [
        (path, rel)
        for path, rel in files
        if rel.name not in _NOT_HASHED
        and rel.suffix != ".onnx"
        and not _NOT_HASHED_DIRS & set(rel.parts[:-1])
    ]
    versions = json.dumps(library_versions(), sort_keys=True)
    # Hashing the weights (90 MB) twice per `qa index` run is measurable; a file whose size,
    # mtime and inode are unchanged within one process is not hashed again.
    stamp = (model, str(location), versions, tuple(_stat(path) for path, _ in files))
    key = _KEYS.get(stamp)
    stored = None  # the key the cache file holds for these files (read at most once)
    if cache_dir is not None and (key is None or remember):
        stored = _cached_key(cache_dir, stamp)
    if key is None:
        key = stored
    if key is None:
        h = hashlib.sha256(f"ncpi-qa onnx encoder {EXPORT_FORMAT}\0{model}\0".encode())
        h.update(versions.encode())
        for path, rel in files:
            h.update(f"\0{rel.as_posix()}\0{sha256_file(path)}".encode())
        key = h.hexdigest()
    _KEYS[stamp] = key
    if remember and cache_dir is not None and stored != key:
        _remember_key(cache_dir, stamp, key)
    return key


KEY_CACHE = "keys.json"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _stamp_id(stamp: tuple[Any, ...]) -> str:
    return hashlib.sha256(json.dumps(stamp).encode()).hexdigest()


def _cached_key(cache_dir: Path, stamp: tuple[Any, ...]) -> str | None:
    try:
        known = json.loads((cache_dir / KEY_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = known.get(_stamp_id(stamp)) if isinstance(known, dict) else None
    return key if isinstance(key, str) and _HEX64.fullmatch(key) else None


def _remember_key(cache_dir: Path, stamp: tuple[Any, ...], key: str) -> None:
    """Best effort: replace the cache file atomically with this one key."""
    if not cache_dir.is_dir():
        return
    tmp = cache_dir / f".tmp-{KEY_CACHE}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        tmp.write_text(json.dumps({_stamp_id(stamp): key}), encoding="utf-8")
        os.replace(tmp, cache_dir / KEY_CACHE)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


_KEYS: dict[tuple[Any, ...], str] = {}


def _stat(path: Path) -> tuple[str, int, int, int]:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ino)


def encoders_root(index_dir: Path) -> Path:
    """Where exported encoders live, beside the index generations."""
    return index_dir / "encoders"


def encoder_dir(root: Path, key: str) -> Path:
    """The folder of one export."""
    return root / key[:32]


def read_sidecar(folder: Path, key: str) -> dict[str, Any]:
    """The export's metadata, checked against ``key`` (the files are checked when read)."""
    try:
        meta: dict[str, Any] = json.loads((folder / SIDECAR).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise OnnxUnavailable(
            f"no exported ONNX encoder at {folder} (`qa index` exports it)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise OnnxUnavailable(f"unreadable {folder / SIDECAR}: {exc}") from exc
    if meta.get("key") != key or meta.get("format") != EXPORT_FORMAT:
        raise OnnxUnavailable(f"the ONNX encoder at {folder} was exported for another model")
    missing = [k for k in _SIDECAR_FIELDS if k not in meta]
    if missing:
        raise OnnxUnavailable(f"{folder / SIDECAR} lacks {missing}")
    return meta


def read_checked(folder: Path, meta: dict[str, Any], name: str) -> bytes:
    """A file of the export, refused unless its sha256 matches the sidecar."""
    try:
        data = (folder / name).read_bytes()
    except OSError as exc:
        raise OnnxUnavailable(f"cannot read {folder / name}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != meta.get("files", {}).get(name):
        raise OnnxUnavailable(f"{folder / name} does not match its checksum (damaged export)")
    return data


class OnnxEmbedder:
    """Encodes texts like ``SentenceTransformerEmbedder``, with ONNX Runtime.

    ``folder`` overrides where the export is looked for (default: found by key under
    ``root``). A batch holds at most ``batch_size`` texts and ``batch_tokens`` padded tokens.
    With a ``fallback``, any ``OnnxUnavailable`` at load is logged and the fallback does the
    work; ``backend`` says which one did.
    """

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        root: Path | None = None,
        threads: int = 1,
        blas_threads: int | None = 1,
        fallback: SentenceTransformerEmbedder | None = None,
        spin: bool = False,
        folder: Path | None = None,
        batch_tokens: int = BATCH_TOKENS,
    ) -> None:
        self.model_name = model
        self.batch_tokens = batch_tokens
        self.root = root
        self.folder = folder
        self.threads = threads
        self.spin = spin  # pool threads busy-wait for work instead of sleeping (Settings)
        self.blas_threads = blas_threads
        self.fallback = fallback
        self.remember_key = False  # write the key cache under ``root`` (``qa index`` only)
        self._session: Any = None
        self._delegate: SentenceTransformerEmbedder | None = None
        self._meta: dict[str, Any] = {}
        self._pipeline: Pipeline | None = None
        self._truncating: Any = None
        self._counting: Any = None
        self._inputs: list[str] = []

    @property
    def backend(self) -> str:
        """Which runtime encodes: "onnx", or "torch" once the fallback was taken."""
        return "torch" if self._delegate is not None else "onnx"

    def load(self) -> OnnxEmbedder:
        """Check and open the export (idempotent); fall back to torch if one was given."""
        if self._session is not None or self._delegate is not None:
            return self
        try:
            self._open()
        except OnnxUnavailable as exc:
            if self.fallback is None:
                raise
            log.warning("ONNX encoder not used, encoding with PyTorch instead: %s", exc)
            self._delegate = self.fallback.load()
        return self

    def _open(self) -> None:
        location = local_model_dir(self.model_name)
        pipeline = read_pipeline(location)
        key = encoder_key(self.model_name, location, self.root, self.remember_key)
        folder = self.folder
        if folder is None:
            if self.root is None:
                raise OnnxUnavailable("no folder was given for exported ONNX encoders")
            folder = encoder_dir(self.root, key)
        meta = read_sidecar(folder, key)
        model_bytes = read_checked(folder, meta, MODEL_FILE)
        tokenizer_json = read_checked(folder, meta, TOKENIZER_FILE).decode("utf-8")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise OnnxUnavailable(f"onnxruntime or tokenizers is not installed: {exc}") from exc
        if self.blas_threads:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=self.blas_threads, user_api="blas")  # see Settings
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Pool threads waiting for work either spin or sleep (Settings.onnx_spin says when
        # spinning pays).
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if self.spin else "0"
        )
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
            truncating = Tokenizer.from_str(tokenizer_json)
            counting = Tokenizer.from_str(tokenizer_json)
        except Exception as exc:  # a damaged file that still had the right checksum
            raise OnnxUnavailable(f"cannot open the ONNX encoder at {folder}: {exc}") from exc
        truncating.no_padding()
        truncating.enable_truncation(
            int(meta["max_seq_length"]), direction=meta.get("truncation_side", "right")
        )
        counting.no_padding()
        counting.no_truncation()
        self._inputs = [i.name for i in session.get_inputs()]
        self._meta, self._pipeline = meta, pipeline
        self._truncating, self._counting, self._session = truncating, counting, session

    @property
    def export_key(self) -> str:
        """The key of the opened export (its model files and exporting library versions)."""
        return str(self.load()._meta.get("key", ""))

    @property
    def runtime_version(self) -> str:
        """The onnxruntime version that runs the export."""
        import onnxruntime as ort

        return str(ort.__version__)

    def _fallen_back(self) -> SentenceTransformerEmbedder | None:
        return self.load()._delegate

    @property
    def dimension(self) -> int:
        """Vector dimension."""
        if (torch := self._fallen_back()) is not None:
            return torch.dimension
        return int(self._meta["dimension"])

    @property
    def max_tokens(self) -> int:
        """The model's input window in word pieces, special tokens included."""
        if (torch := self._fallen_back()) is not None:
            return torch.max_tokens
        return int(self._meta["max_seq_length"])

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` plus the special tokens the model adds."""
        if (torch := self._fallen_back()) is not None:
            return torch.count_tokens(text)
        return len(self._counting.encode(text, add_special_tokens=True).ids)

    def encode(
        self, texts: list[str], batch_size: int = 32, progress: bool = False
    ) -> NDArray[np.float32]:
        """Embed texts; rows are unit length so inner product is cosine similarity."""
        if (torch := self._fallen_back()) is not None:
            return torch.encode(texts, batch_size=batch_size, progress=progress)
        assert self._pipeline is not None
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:  # no thread pool for the common single-query case
            encodings = [self._truncating.encode(texts[0], add_special_tokens=True)]
        else:
            encodings = self._truncating.encode_batch(list(texts), add_special_tokens=True)
        # Longest first, as sentence-transformers does: batches of similar length pad little.
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="Texts", unit="text")
        start = 0
        while start < len(texts):
            # The first row is the batch's longest: it sets the padded width.
            width = max(1, len(encodings[order[start]].ids))
            size = max(1, min(batch_size, self.batch_tokens // width))
            rows = order[start : start + size]
            out[rows] = self._run([encodings[i] for i in rows])
            start += len(rows)
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out

    def _run(self, encodings: list[Any]) -> NDArray[np.float32]:
        assert self._pipeline is not None
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), int(self._meta["pad_token_id"]), dtype=np.int64)
        types = np.full_like(ids, int(self._meta["pad_token_type_id"]))
        mask = np.zeros_like(ids)
        left = self._meta.get("padding_side") == "left"
        for row, enc in enumerate(encodings):
            cols = slice(width - len(enc.ids), width) if left else slice(0, len(enc.ids))
            ids[row, cols] = enc.ids
            types[row, cols] = enc.type_ids
            mask[row, cols] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (tokens,) = self._session.run(
            [self._meta["output"]], {name: feeds[name] for name in self._inputs}
        )
        vectors = pool(tokens, mask, self._pipeline.pooling)
        # The torch embedder always asks for normalised rows, Normalize module or not.
        return l2_normalize(vectors)
