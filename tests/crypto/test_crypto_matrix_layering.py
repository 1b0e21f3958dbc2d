"""crypto.matrix imports only itself, the standard library, vodozemac and pynacl."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "crypto" / "matrix"
ALLOWED = {"vodozemac", "nacl"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_crypto_matrix_depends_on_nothing_else_of_the_project() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            ok = (
                name == "crypto.matrix"
                or name.startswith("crypto.matrix.")
                or top in ALLOWED
                or top in sys.stdlib_module_names
                or top == "__future__"
            )
            assert ok, f"{path.name} imports {name}"


def test_modules_stay_small() -> None:
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) < 600, path.name
