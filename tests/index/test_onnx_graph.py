"""The ONNX graph of a transformer: the TorchScript exporter first, torch.export as fallback."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from qa_service.index import onnx_graph  # noqa: E402
from qa_service.index.onnx_files import OnnxUnavailable  # noqa: E402

NAMES = ["input_ids", "attention_mask"]


class TinyEncoder(torch.nn.Module):  # type: ignore[misc]
    """A stand-in with a transformer's call shape: ids and mask in, last_hidden_state out."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(50, 8)
        self.proj = torch.nn.Linear(8, 8)

    def forward(self, input_ids: Any, attention_mask: Any) -> SimpleNamespace:
        hidden = self.proj(self.embed(input_ids)) * attention_mask.unsqueeze(-1)
        return SimpleNamespace(last_hidden_state=hidden)


def _run(graph: bytes, ids: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    out = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
    return np.asarray(out[0])


def _want(model: TinyEncoder, ids: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        t = torch.tensor(ids)
        return np.asarray(model(t, torch.ones_like(t)).last_hidden_state.numpy())


@pytest.mark.parametrize("broken", [None, "_torchscript_export"])
def test_graph_has_dynamic_axes_and_the_model_outputs(
    broken: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if broken:  # the fallback exporter makes the graph on its own

        def fail(*_: object) -> bytes:
            raise RuntimeError("exporter gone")

        monkeypatch.setattr(onnx_graph, broken, fail)
    model = TinyEncoder().eval()
    graph = onnx_graph.onnx_bytes(model, NAMES, 32, "token_embeddings")
    for shape in ((1, 3), (4, 17)):  # other batch and sequence sizes than the traced ones
        ids = np.random.default_rng(1).integers(0, 50, size=shape, dtype=np.int64)
        np.testing.assert_allclose(_run(graph, ids), _want(model, ids), atol=1e-5)


def test_both_exporters_failing_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_torchscript_export", "_dynamo_export"):

        def fail(*_: object, name: str = name) -> bytes:
            raise RuntimeError(f"{name} broke")

        monkeypatch.setattr(onnx_graph, name, fail)
    with pytest.raises(OnnxUnavailable, match=r"_torchscript_export broke.*_dynamo_export broke"):
        onnx_graph.onnx_bytes(TinyEncoder().eval(), NAMES, 32, "token_embeddings")
