"""The index: passages cut from documents, their vectors and BM25 terms, and the store that
publishes each build as a complete generation (embedded files, or Milvus) and loads it back.

Owns chunking, the embedding encoders (sentence-transformers and its ONNX export), the dense
(FAISS) and lexical (BM25) indexes, compact vectors, incremental reuse and the build itself.
Imports only ``ingest`` and the package's shared types and settings.
"""
