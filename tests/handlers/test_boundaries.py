"""handlers/ is platform-neutral: it never imports a platform's library."""

from __future__ import annotations

import ast
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
PLATFORM_LIBRARIES = {"telegram", "nio"}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_no_handler_module_imports_telegram_or_nio() -> None:
    paths = sorted(HANDLERS.rglob("*.py"))
    assert len(paths) > 10
    offenders = {
        str(path.relative_to(HANDLERS)): sorted(found)
        for path in paths
        if (found := {m for m in imported_modules(path) if m.split(".")[0] in PLATFORM_LIBRARIES})
    }
    assert offenders == {}


def test_the_check_would_catch_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import telegram.ext\nfrom nio import AsyncClient\nimport json\n")
    assert imported_modules(sample) == {"telegram.ext", "nio", "json"}
