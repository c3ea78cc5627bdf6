"""The encoder the settings ask for: ONNX Runtime (with PyTorch as its fallback) or PyTorch."""

from __future__ import annotations

import os

from ..settings import Settings
from .embedding import Embedder, SentenceTransformerEmbedder
from .onnx_encoder import OnnxEmbedder
from .onnx_files import encoders_root


def make_embedder(settings: Settings) -> Embedder:
    """The configured encoder, not loaded yet (ONNX falls back to torch when it cannot run).

    ``encoder_backend`` chooses it for queries and for ``qa index`` alike: the ONNX export
    reproduces the torch vectors (checked at export, ``onnx_export.MIN_COSINE``), embeds batches
    of passages at least as fast and spares an index run the torch import and model load
    (bench/results/incremental.md).
    """
    torch_embedder = SentenceTransformerEmbedder(
        settings.model,
        settings.device,
        settings.torch_threads,
        settings.blas_threads,
        models_dir=settings.models_dir,
    )
    if settings.encoder_backend == "onnx" and settings.device == "cpu":
        return OnnxEmbedder(
            settings.model,
            encoders_root(settings.index_dir),
            threads=settings.onnx_threads,
            blas_threads=settings.blas_threads,
            spin=settings.onnx_spin,
            fallback=torch_embedder,
            models_dir=settings.models_dir,
        )
    return torch_embedder


def bf16_embedder(settings: Settings) -> SentenceTransformerEmbedder | None:
    """``qa index``'s encoder when ``index_precision`` is "bf16": PyTorch in bfloat16, a model
    copy per core (at most four) on one torch thread each; None in fp32."""
    if settings.index_precision != "bf16":
        return None
    return SentenceTransformerEmbedder(
        settings.model,
        settings.device,
        settings.torch_threads,
        settings.blas_threads,
        precision="bf16",
        workers=min(4, os.cpu_count() or 1),
        models_dir=settings.models_dir,
    )


def bf16_identity(embedder: Embedder | None, model: str) -> dict[str, str] | None:
    """What made a bf16 build's vectors (the model and the torch version), else None."""
    if not isinstance(embedder, SentenceTransformerEmbedder) or embedder.precision != "bf16":
        return None
    import torch

    return {"bf16": model, "torch": str(torch.__version__)}
