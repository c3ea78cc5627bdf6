"""Whether vectors stored by earlier builds may sit beside new ones: the encoder must give
them back (``check_agreement``), and the manifest records which export they came from."""

from __future__ import annotations

import functools
import logging

import numpy as np
from numpy.typing import NDArray

from . import reuse
from .onnx_export import IndexEncoder
from .quantize import round_trip, sq8_round_trip

log = logging.getLogger(__name__)

# New vectors are stored beside reused ones only if the encoder gives the stored ones back to
# this cosine (ONNX Runtime and PyTorch agree to 0.9999999 on this model:
# bench/results/encoder-backends.md).
AGREEMENT_MIN_COSINE = 0.99999


def vectors_encoder(
    encoder: IndexEncoder,
    own_encoder: bool,
    stored_by: dict[str, str] | None,
    agreement: float | None,
) -> dict[str, str] | None:
    """The ONNX export every vector of this build came from or was checked against, if one
    did: the next build then mixes its new vectors in without re-checking stored ones."""
    if not own_encoder:
        return None
    if not encoder.loaded:  # nothing embedded: every vector is a stored one
        return stored_by  # (None when there were no stored vectors)
    if agreement is not None and agreement < AGREEMENT_MIN_COSINE:
        return None  # stored vectors were dropped, but a run that disagrees is no reference
    # Every vector was embedded here, reproduced by this encoder, or (same_encoder) made by it.
    return encoder.identity()


def check_agreement(
    encoder: IndexEncoder,
    passage_cache: reuse.VectorCache,
    sentence_cache: reuse.VectorCache,
    passage_texts: list[str],
    sentence_texts: list[str],
    sentences_coded: bool = False,
    passage_ranges: NDArray[np.float32] | None = None,
) -> tuple[float | None, reuse.VectorCache, reuse.VectorCache]:
    """Min cosine between a few stored vectors this build reuses and the encoder's own.

    An ONNX encoder that disagrees is replaced by PyTorch (the reference); if that disagrees
    too, the stored vectors are not reused at all. So vectors that differ are never mixed.
    ``sentences_coded``: stored sentence vectors are product-quantised (a centroid per
    slice, far from any encoder's output): the passages' vectors are checked instead.
    ``passage_ranges``: stored passage vectors are 8-bit codes with these ranges (an
    "hnsw-sq8" index); both sides of the passages' check are then coded with them.
    """
    sample = [] if sentences_coded else reuse.reused_sample(sentence_texts, sentence_cache, 8)
    sample_passages = reuse.reused_sample(passage_texts, passage_cache, 8 if sentences_coded else 2)
    if not sample and not sample_passages:
        return None, passage_cache, sentence_cache
    passage_codec = (
        round_trip
        if passage_ranges is None
        else functools.partial(sq8_round_trip, ranges=passage_ranges)
    )
    cosine = 1.0
    for _ in range(2):
        embedder = encoder.get()
        cosine = min(
            reuse.min_cosine(sample, sentence_cache, embedder.encode),
            reuse.min_cosine(sample_passages, passage_cache, embedder.encode, passage_codec),
        )
        if cosine >= AGREEMENT_MIN_COSINE or encoder.backend != "onnx":
            break
        log.warning(
            "the ONNX encoder reproduces stored vectors only to cosine %.7f; embedding with"
            " PyTorch instead",
            cosine,
        )
        encoder.use_torch()
    if cosine >= AGREEMENT_MIN_COSINE:
        return round(cosine, 7), passage_cache, sentence_cache
    log.warning(
        "stored vectors differ from this model's (min cosine %.7f): embedding every text again",
        cosine,
    )
    dim = passage_cache.dimension
    return round(cosine, 7), reuse.VectorCache(dim), reuse.VectorCache(dim)
