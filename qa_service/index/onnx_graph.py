"""The embedding model's transformer as an ONNX graph (token embeddings, dynamic batch and
sequence axes), made by torch's ONNX exporters for ``onnx_export``."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from .onnx_files import OnnxUnavailable


def onnx_bytes(hf_model: Any, names: list[str], max_len: int, output: str) -> bytes:
    """The transformer's last hidden state as an ONNX graph with dynamic batch and sequence axes.

    The TorchScript exporter comes first: for this encoder it takes about 1.5 s against about
    8 s for the torch.export-based one (bench/results/index-speed.md, the fresh build), and its
    graph gives the same vectors (both are checked by ``_verify``). The torch.export-based
    exporter is the fallback where the TorchScript one fails or is gone from torch."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra)
            return out.last_hidden_state  # type: ignore[no-any-return]

    shape = (2, min(16, max_len))  # the axes are dynamic; these sizes only trace the graph
    values = {"input_ids": 5, "attention_mask": 1, "token_type_ids": 0}
    example = tuple(torch.full(shape, values[n], dtype=torch.long) for n in names)
    module = TokenEmbeddings(hf_model).eval()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    failures = []
    for exporter in (_torchscript_export, _dynamo_export):
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                return exporter(module, example, names, max_len, output)
        except Exception as exc:  # the exporters raise many kinds; try the next one
            failures.append(f"{exporter.__name__}: {type(exc).__name__}: {exc}")
    raise OnnxUnavailable(f"torch.onnx.export failed ({'; '.join(failures)})")


def _torchscript_export(
    module: Any, example: tuple[Any, ...], names: list[str], _: int, output: str
) -> bytes:
    import io

    import torch

    buffer = io.BytesIO()
    torch.onnx.export(
        module,
        example,
        buffer,  # type: ignore[arg-type]  # the TorchScript exporter writes to a file object
        input_names=names,
        output_names=[output],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names},
        opset_version=17,
        dynamo=False,
    )
    return buffer.getvalue()


def _dynamo_export(
    module: Any, example: tuple[Any, ...], names: list[str], max_len: int, output: str
) -> bytes:
    import torch

    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    sequence = torch.export.Dim("sequence", min=1, max=max_len)
    program = torch.onnx.export(
        module,
        example,
        input_names=names,
        output_names=[output],
        dynamic_shapes={n: {0: batch, 1: sequence} for n in names},
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    assert program is not None
    return program.model_proto.SerializeToString()  # type: ignore[no-any-return]
