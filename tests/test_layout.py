"""How the package is laid out: which modules may import which."""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent


def imported_modules(path: Path) -> set[str]:
    """The modules a source file imports, at any depth."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_output_plugins_share_code_through_the_pipeline_not_through_corpora():
    for path in sorted((ROOT / "plugins").glob("*.py")):
        corpus_imports = [name for name in imported_modules(path) if name.startswith("charmony.corpora")]
        assert not corpus_imports, f"{path.name} imports {corpus_imports}; move what it shares under pipeline/"


def test_tests_take_charmonys_version_from_the_package():
    from charmony import __version__

    for path in sorted((ROOT / "tests").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert f'"{__version__}"' not in text and f"version {__version__}" not in text, f"{path.name}: use charmony.__version__"
