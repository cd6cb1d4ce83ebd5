"""How the package is laid out: which modules may import which."""

import ast
import re
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


def test_make_test_fast_leaves_out_the_slow_tests_and_only_those():
    import subprocess
    import sys

    def collected(*args):
        result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                                capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return {line for line in result.stdout.splitlines() if "::" in line}

    everything, fast = collected(), collected("-m", "not slow", "-W", "error::pytest.PytestUnknownMarkWarning")
    left_out = everything - fast
    assert "tests/test_bach.py::test_every_chorale_round_trips_exactly" in left_out
    assert {name for name in left_out if name.startswith("tests/test_distributed.py")}
    assert not {name for name in fast if name.startswith("tests/test_distributed.py")}
    assert len(left_out) < len(everything) / 10, "the fast run still runs nearly everything"
    assert "make test-fast" in (ROOT / "README.md").read_text() and 'pytest -q -m "not slow"' in (ROOT / "Makefile").read_text()


def grammar_imports(path: Path) -> set[str]:
    """The modules of the ABC grammar package a source file imports, at any depth, however it names them."""
    package = "charmony.pipeline.abc.grammar"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.removeprefix(package + ".") for alias in node.names if alias.name.startswith(package))
        elif isinstance(node, ast.ImportFrom) and node.module == package:
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package + "."):
            names.add(node.module.removeprefix(package + ".").split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level:
            names.update([node.module.split(".")[0]] if node.module else [alias.name for alias in node.names])
    return names


def test_the_abc_grammar_modules_import_only_those_listed_before_them():
    package = ROOT / "pipeline" / "abc" / "grammar"
    order = re.findall(r"^\d+\. `(\w+)`", (package / "__init__.py").read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(order) == sorted(path.stem for path in package.glob("*.py") if path.stem != "__init__")
    assert not imported_modules(package / "__init__.py"), "the package re-exports nothing"
    for at, name in enumerate(order):
        inside = grammar_imports(package / f"{name}.py")
        assert inside <= set(order[:at]), f"{name} imports {sorted(inside - set(order[:at]))}, listed after it"
