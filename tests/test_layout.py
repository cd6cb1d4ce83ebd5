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


# The packages of pipeline/, lowest first: a module may import from its own package and from those
# before it, never from one after it (docs/architecture.md draws the same order).
LAYERS = ("system", "audio", "poetry", "plugin", "run", "data", "model", "training", "outputs", "abc",
          "evaluation", "sampling", "series", "gallery")
TOP = ("charmony.cli", "charmony.cli_options", "charmony.api", "charmony.__main__")


def package_modules() -> dict[str, Path]:
    """Every module of the charmony package (tests, benchmarks and examples aside), by dotted name."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[0] in ("tests", "benchmarks", "examples", "build", ".venv", "docs"):
            continue
        name = ".".join(("charmony",) + (parts[:-1] if parts[-1] == "__init__" else parts))
        modules[name] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Which charmony modules each charmony module imports, at any depth (under TYPE_CHECKING too)."""
    modules = package_modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
            else:
                continue
            found.update(target for target in targets if target in modules and target != name)
        graph[name] = found
    return graph


def layer(module: str) -> str:
    """The top-level part a module belongs to: a pipeline package's name, or corpora, plugins, top or root."""
    parts = module.split(".")
    if module in TOP:
        return "top"
    if len(parts) >= 3 and parts[1] == "pipeline":
        return parts[2]
    return parts[1] if len(parts) > 1 else "root"


def test_every_pipeline_package_has_a_place_in_the_layers():
    packages = {path.name for path in (ROOT / "pipeline").iterdir() if (path / "__init__.py").is_file()}
    assert packages == set(LAYERS), "add the new package to LAYERS here and to docs/architecture.md"


def test_imports_only_go_down():
    order = {name: index for index, name in enumerate(("root",) + LAYERS + ("corpora", "plugins", "top"))}
    upward = []
    for module, imported in import_graph().items():
        for target in imported:
            source_layer, target_layer = layer(module), layer(target)
            same_band = {source_layer, target_layer} == {"corpora", "plugins"}
            if same_band or (order.get(target_layer, 0) > order.get(source_layer, 0)):
                upward.append(f"{module} imports {target}")
    assert not upward, "imports that go up:\n" + "\n".join(sorted(upward))


def test_no_module_imports_itself_round_a_cycle():
    graph = import_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(module, path):
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_is_over_500_lines():
    long = [f"{path.relative_to(ROOT)}: {n}" for path in package_modules().values()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 500]
    assert not long, f"split these along their seams: {long}"


def test_pyproject_lists_every_package():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {name for name, path in package_modules().items() if path.name == "__init__.py"}
    assert listed == packages


def test_every_module_imports():
    import importlib

    for name in package_modules():
        if name != "charmony.__main__":
            importlib.import_module(name)


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
