"""The package's layout: stages in subpackages, imports running one way, small modules.

The pipeline reads from the tree: ``ingest`` -> ``index`` -> ``search`` -> ``answer`` ->
``evaluation`` -> the edges (``api``, ``cli``). A module imports only its own stage, stages below
it and the shared modules at the package's top (types, settings, forces), which import no stage.
Imports inside ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
import graphlib
import importlib.util
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qa_service"

# Stage of each subpackage, lowest first; the top-level modules are stage 0.
STAGES = {"ingest": 1, "index": 2, "search": 3, "answer": 4, "evaluation": 5, "api": 6, "cli": 6}
MAX_TOP_LEVEL = 8
MAX_LINES = 500
# Libraries only an edge may import: the web framework and server, and the CLI library.
EDGE_ONLY = {"fastapi": "api", "starlette": "api", "uvicorn": "api", "click": "cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage(module: str) -> int:
    parts = module.split(".")
    return STAGES[parts[1]] if len(parts) > 2 or (parts[1:] and parts[1] in STAGES) else 0


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement except those under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in skipped
    ]


def _from(prefix: str, node: ast.ImportFrom) -> list[str]:
    """What ``from prefix import a, b`` imports: each name that is a module, else ``prefix``."""
    return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix for a in node.names]


def imports_of(module: str) -> tuple[set[str], set[str]]:
    """The package modules and the outside libraries (top names) ``module`` imports."""
    path = MODULES[module]
    inside: set[str] = set()
    outside: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif node.level:
            base = module.split(".")
            if path.name != "__init__.py":
                base.pop()
            base = base[: len(base) - node.level + 1]
            targets = _from(".".join(base + ([node.module] if node.module else [])), node)
        else:
            targets = _from(node.module or "", node)
        for target in targets:
            if not target.startswith("qa_service"):
                outside.add(target.split(".")[0])
                continue
            while target not in MODULES:  # a name imported from a module: the module
                target = target.rpartition(".")[0]
            if target not in (module, "qa_service"):
                inside.add(target)
    return inside, outside


IMPORTS = {m: imports_of(m) for m in MODULES}  # (package modules, outside libraries)
GRAPH = {m: inside for m, (inside, _) in IMPORTS.items()}


def test_stages_are_subpackages_and_the_top_stays_small() -> None:
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL, sorted(top)
    for name in STAGES:
        init = PACKAGE / name / "__init__.py"
        assert init.is_file(), name
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{name}/__init__.py says what the stage owns"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_too_long(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module}: {lines} lines"


def test_imports_run_one_way() -> None:
    upward = [
        f"{m} (stage {stage(m)}) imports {t} (stage {stage(t)})"
        for m, targets in GRAPH.items()
        for t in sorted(targets)
        if stage(t) > stage(m)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle() -> None:
    try:
        graphlib.TopologicalSorter(GRAPH).prepare()
    except graphlib.CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")


def test_core_imports_neither_the_web_framework_nor_the_cli_library() -> None:
    wrong = []
    for m in MODULES:
        home = m.split(".")[1] if "." in m else ""
        for lib in IMPORTS[m][1]:
            if lib in EDGE_ONLY and EDGE_ONLY[lib] != home:
                wrong.append(f"{m} imports {lib}")
    assert not wrong, "\n".join(wrong)


def test_the_checks_see_a_cycle_and_an_upward_import() -> None:
    """The checks above are not blind: a made-up graph with both faults fails them."""
    graph = {"qa_service.search.a": {"qa_service.answer.b"}, "qa_service.answer.b": set()}
    graph["qa_service.answer.b"].add("qa_service.search.a")
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(graph).prepare()
    assert stage("qa_service.answer.b") > stage("qa_service.search.a")
    assert stage("qa_service.types") == 0
    assert stage("qa_service.api") == STAGES["api"]


def test_the_pipeline_picture_is_current() -> None:
    """docs/pipeline.svg lists the stages' modules: redraw it when they change
    (.venv/bin/python scripts/draw_pipeline.py)."""
    script = PACKAGE.parent / "scripts" / "draw_pipeline.py"
    spec = importlib.util.spec_from_file_location("draw_pipeline", script)
    assert spec and spec.loader
    draw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(draw)
    assert draw.OUT.read_text(encoding="utf-8") == draw.draw(), "run scripts/draw_pipeline.py"
