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

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..settings import BUNDLED_MODEL
from .embedding import SentenceTransformerEmbedder
from .onnx_files import (
    BATCH_TOKENS,
    MODEL_FILE,
    TOKENIZER_FILE,
    OnnxUnavailable,
    Pipeline,
    encoder_dir,
    encoder_key,
    l2_normalize,
    local_model_dir,
    pool,
    read_checked,
    read_pipeline,
    read_sidecar,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)


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
        models_dir: Path | None = None,
    ) -> None:
        self.model_name = model
        self.models_dir = models_dir
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
        location = local_model_dir(self.model_name, self.models_dir)
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
