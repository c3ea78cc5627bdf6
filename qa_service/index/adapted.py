"""Adapted encoders by name: where ``qa prepare`` keeps them, and the hash of their weights
that an index's stored vectors are tied to. Training them is evaluation/adaptation.py's work
(it reads the dev questions), run by ``qa prepare``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..settings import BUNDLED_MODEL

ADAPTED_PREFIX = "adapted:"
RECIPE_FILE = "adaptation.json"
WEIGHTS_FILE = "model.safetensors"


class AdaptationError(Exception):
    """The adapted encoder cannot be built (message says why)."""


def is_adapted(model: str) -> bool:
    """Whether a model name names an adapted encoder ("adapted:<base name>")."""
    return model.startswith(ADAPTED_PREFIX)


def base_of(model: str) -> str:
    """The bundled model an adapted one starts from."""
    name = model.removeprefix(ADAPTED_PREFIX)
    if f"bundled:{name}" != BUNDLED_MODEL:
        raise AdaptationError(f"only the bundled model can be adapted, not {name!r}")
    return BUNDLED_MODEL


def adapted_dir(model: str, models_dir: Path) -> Path:
    """Where the adapted model ``model`` lives."""
    return models_dir / f"{model.removeprefix(ADAPTED_PREFIX)}-adapted"


def read_recipe(folder: Path) -> dict[str, Any] | None:
    """The recipe an adapted model folder was trained from (None: no valid folder)."""
    try:
        data = json.loads((folder / RECIPE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not (folder / WEIGHTS_FILE).is_file():
        return None
    return data


def fingerprint(model: str, models_dir: Path) -> str | None:
    """The hash of an adapted model's weights (None if it is not built)."""
    data = read_recipe(adapted_dir(model, models_dir))
    return str(data["weights"]) if data and "weights" in data else None
