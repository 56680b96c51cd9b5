"""No import circles in shared/: each arrow points one way (the demo uses the CLI, never the reverse)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "shared"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The shared modules `path` imports when it runs (function-level imports included; TYPE_CHECKING not)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.update(candidate for candidate in (target, *(f"{target}.{a.name}" for a in node.names)))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {target for target in found if target in modules and target != name}


def import_graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in files}
    return {module_name(path): runtime_imports(path, modules) for path in files}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, as the path that closes it."""
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            found.append([*path[path.index(module) :], module])
            return
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return found


def test_the_graph_sees_the_imports_it_should():
    graph = import_graph()

    assert "shared.cli" in graph["shared.demo"]
    assert "shared.config" in graph["shared.checker"]
    assert "shared.config" in graph["shared.notify.command"]  # a function-level import counts


def test_there_is_no_import_circle_in_shared():
    assert cycles(import_graph()) == []


def test_the_cli_does_not_import_the_demo():
    assert "shared.demo" not in import_graph()["shared.cli"]


def test_a_circle_would_be_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
