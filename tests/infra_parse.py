"""Parse infrastructure files with the Bicep tools and print one JSON document (run in .tools/bicep-venv).

tests/test_infra.py runs this in the separate tools venv (checkov's dependency tree conflicts with the
project's pins), so it imports nothing from the project. Usage:

    .tools/bicep-venv/bin/python tests/infra_parse.py ROOT [YAML_FILE ...]

For every ``*.bicep`` under ROOT: tree-sitter-bicep syntax errors (the syntax gate) and pycep's
structure (what the tests inspect, and what checkov itself parses with). Each YAML file is loaded too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import tree_sitter
import tree_sitter_bicep
import yaml
from pycep import BicepParser


def syntax_errors(parser: tree_sitter.Parser, source: bytes) -> list[str]:
    """Every ERROR or MISSING node as 'line:column: text' (1-based), or nothing for a clean file."""
    problems: list[str] = []
    pending = [parser.parse(source).root_node]
    while pending:
        node = pending.pop()
        if node.is_error or node.is_missing:
            line, column = node.start_point
            text = source[node.start_byte : node.end_byte].decode(errors="replace")[:60]
            kind = "missing" if node.is_missing else "unexpected"
            problems.append(f"{line + 1}:{column + 1}: {kind} {node.type} {text!r}")
        elif node.has_error:
            pending.extend(node.children)
    return sorted(problems)


def structure(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return BicepParser().parse(file_path=path), None
    # pycep raises lark's exceptions and others besides; any of them means "does not parse".
    except Exception as error:  # noqa: BLE001
        return None, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def main(argv: list[str]) -> int:
    root = Path(argv[1])
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))
    bicep: dict[str, Any] = {}
    for path in sorted(root.rglob("*.bicep")):
        template, error = structure(path)
        bicep[path.relative_to(root).as_posix()] = {
            "syntax_errors": syntax_errors(parser, path.read_bytes()),
            "structure_error": error,
            "template": template,
        }
    documents = {name: yaml.safe_load(Path(name).read_text()) for name in argv[2:]}
    json.dump({"bicep": bicep, "yaml": documents}, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
