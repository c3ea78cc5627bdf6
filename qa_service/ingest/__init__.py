"""Read reports of any supported format into ``Document``s.

``read_document`` reads one file; ``read_corpus`` reads a folder, reporting (not raising)
per-file problems so one bad report never stops the rest from being indexed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from ..types import Document
from . import footnotes, markdown, plaintext
from .extracted import Extracted, IngestError
from .metadata import SIDECAR_SUFFIX, apply_sidecar, read_metadata
from .structure import build

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
_IGNORED_NAMES = re.compile(r"^(?:readme|license|licence|changelog)(?:\.\w+)?$", re.IGNORECASE)


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise IngestError(f"{path.name}: looks like a binary file, not {path.suffix} text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{path.name}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start});"
            " save it as UTF-8 and index again"
        ) from None


def _read_txt(path: Path, data: bytes) -> Extracted:
    text = _decode(path, data)
    return Extracted(text, plaintext.raw_items(text))


def _read_md(path: Path, data: bytes) -> Extracted:
    text = _decode(path, data)
    items, refs = markdown.extract(text)
    return Extracted(text, items, refs)


def _read_html(path: Path, data: bytes) -> Extracted:
    from . import html

    return html.extract(_decode(path, data))


def _read_pdf(path: Path, data: bytes) -> Extracted:
    from . import pdf

    return pdf.extract(data, path.name)


READERS: dict[str, Callable[[Path, bytes], Extracted]] = {
    ".txt": _read_txt,
    ".md": _read_md,
    ".markdown": _read_md,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
}

_FORMATS = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}


def doc_id_for(path: Path) -> str:
    """Stable, readable id of a report: its file name without extension, slugified."""
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
    return slug or "report"


def read_document(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Read one report file into a Document, or raise IngestError with a clear message."""
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise IngestError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r};"
            f" supported: {', '.join(SUPPORTED)}"
        )
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(
                f"{path.name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit"
                " per report"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path.name}: cannot be read ({exc.strerror})") from None
    if not data.strip():
        raise IngestError(f"{path.name}: the file is empty")
    extracted = READERS[suffix](path, data)
    if not extracted.text.strip():
        raise IngestError(f"{path.name}: no text could be extracted")
    structure = build(extracted.items, fallback_title=path.stem)
    if not structure.blocks:
        raise IngestError(f"{path.name}: no report content was found")
    meta = read_metadata(structure.front_matter, extracted.text, fallback_title=path.stem)
    meta, warnings = apply_sidecar(meta, path)
    fmt = _FORMATS[suffix]
    found = extracted.references
    if found is None:
        found = footnotes.scan(extracted.text, structure.blocks, structure.sections)
    return Document(
        doc_id=doc_id_for(path),
        source=path.name,
        format=fmt,  # type: ignore[arg-type]
        text=extracted.text,
        metadata=meta,
        sections=tuple(structure.sections),
        blocks=tuple(structure.blocks),
        footnotes=tuple(structure.footnotes),
        references=footnotes.resolve(found, structure.footnotes),
        warnings=tuple(warnings),
    )


def file_fingerprint(path: Path) -> str:
    """sha256 over a report file's bytes and its metadata sidecar's (if any)."""
    h = hashlib.sha256()
    h.update(path.read_bytes())
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.is_file():
        h.update(b"\0sidecar\0")
        h.update(sidecar.read_bytes())
    return h.hexdigest()


def corpus_files(corpus: Path) -> Iterator[Path]:
    """Report files in a corpus folder (recursively), skipping READMEs, sidecars and dotfiles."""
    for path in sorted(corpus.rglob("*")):
        rel = path.relative_to(corpus)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.name.endswith(SIDECAR_SUFFIX) or _IGNORED_NAMES.match(path.name):
            continue
        yield path  # one linking outside the corpus is refused by read_corpus, with a message


def read_corpus(
    corpus: Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[Path], None] | None = None,
    cached: Callable[[str, str], Document | None] | None = None,
) -> tuple[list[Document], list[str]]:
    """Read every report in a folder. Returns the documents and one message per failure.

    ``cached(source, fingerprint)`` may return the already parsed Document of an unchanged
    file (same name, same bytes), which is then used instead of parsing it again.
    """
    docs: list[Document] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    root = corpus.resolve()
    for path in corpus_files(corpus):
        if progress:
            progress(path)
        if not path.resolve().is_relative_to(root):
            problems.append(f"{path.name}: refused, it links outside the corpus folder")
            continue
        try:
            fingerprint = file_fingerprint(path) if path.stat().st_size <= max_bytes else ""
            doc = cached(path.name, fingerprint) if cached and fingerprint else None
            if doc is None:
                doc = replace(read_document(path, max_bytes), fingerprint=fingerprint)
        except OSError as exc:
            problems.append(f"{path.name}: cannot be read ({exc.strerror})")
            continue
        except IngestError as exc:
            problems.append(str(exc))
            continue
        except Exception as exc:  # a reader bug must not abort the other reports
            problems.append(f"{path.name}: could not be parsed ({type(exc).__name__}: {exc})")
            continue
        if doc.doc_id in seen:
            problems.append(f"{path.name}: skipped, same id {doc.doc_id!r} as {seen[doc.doc_id]}")
            continue
        seen[doc.doc_id] = path.name
        docs.append(doc)
    return docs, problems
