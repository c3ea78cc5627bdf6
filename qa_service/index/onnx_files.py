"""An exported ONNX encoder's files: where they live, what they must contain, and the key
that names them.

``<index_dir>/encoders/<key>/`` holds ``model.onnx``, ``tokenizer.json`` and ``encoder.json``
(their checksums, the model and the library versions). The key changes with the model's files
and the libraries, so a stale export is never read; a file that does not match its checksum
raises ``OnnxUnavailable``. onnx_export.py writes these files, onnx_encoder.py runs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .embedding import ModelError, resolve_model
from .store import sha256_file

if TYPE_CHECKING:
    from numpy.typing import NDArray


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
# texts per batch the torch path uses (bench/results/index-speed.md, idle and loaded).
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


def local_model_dir(model: str, models_dir: Path | None = None) -> Path:
    """The model's local folder; hub names are not exported (nothing is downloaded)."""
    location = Path(resolve_model(model, models_dir))
    if not location.is_dir():
        raise OnnxUnavailable(f"the ONNX encoder needs a local model folder, not {model!r}")
    return location


def library_versions(packages: tuple[str, ...] = EXPORT_LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries that shape an export (read without importing them)."""
    out = {}
    for pkg in packages:
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
