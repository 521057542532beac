"""The layout keeps its promises: no import cycle, dependencies that point one way (the
core never imports the command line), no function longer than a page, torch imported only
where it is needed, and every module with a test file."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT, help_imports

PACKAGE = ROOT / "rnncast"
MAX_BODY_LINES = 60

# Who may import whom, by layer: a module may import its own layer and those below it.
LAYERS = [
    {"rnncast.version", "rnncast.errors", "rnncast.settings"},
    {"rnncast.data"},
    {"rnncast.engine"},
    {"rnncast.forecast", "rnncast.store", "rnncast.plan"},
    {"rnncast.jobs", "rnncast.tracking"},
    {"rnncast.library", "rnncast.cli", "rnncast.__main__"},
    {"rnncast"},  # the package: `rnncast.train` and friends, from the library, when used
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The rnncast modules `path` imports anywhere in it (inside functions too): `from
    rnncast.data import series` imports rnncast.data.series, `from rnncast.data.series import
    SeriesSet` rnncast.data.series."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module in modules and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found


def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: imports(path, modules) - {name} for name, path in modules.items()}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules around it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle():
    assert _cycle(graph()) is None


def _layer(module: str) -> int:
    for k, names in enumerate(LAYERS):
        if any(module == n or (n != "rnncast" and module.startswith(n + ".")) for n in names):
            return k
    raise AssertionError(f"{module} is in no layer")


def test_dependencies_point_one_way():
    """cli, library -> jobs -> plan, forecast, store -> engine -> data -> settings, errors;
    within a layer, forecast and store stay apart from plan."""
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            if _layer(target) > _layer(module):
                wrong.append(f"{module} -> {target}")
            apart = {[*name.split("."), ""][1] for name in (module, target)}
            if "plan" in apart and apart & {"forecast", "store"}:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_core_never_imports_the_command_line_or_prints():
    for module, path in _modules().items():
        if module.startswith("rnncast.cli") or module == "rnncast.__main__":
            continue
        assert not any(t.startswith("rnncast.cli") for t in graph()[module]), module
        calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]
        assert not any(isinstance(c.func, ast.Name) and c.func.id == "print" for c in calls), module


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def body_lines(node: ast.FunctionDef) -> int:
    """Lines of a function's body, its docstring included; its signature (where the
    commands declare their options) excepted."""
    return node.end_lineno - node.body[0].lineno + 1


def test_body_lines_count_the_body_only():
    tree = ast.parse("def f(\n    a,\n    b,\n):\n    '''doc'''\n    return a\n")
    assert body_lines(next(_functions(tree))) == 2


def test_no_function_is_longer_than_a_page():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({body_lines(node)} lines)"
        for path in _modules().values()
        for node in _functions(ast.parse(path.read_text()))
        if body_lines(node) > MAX_BODY_LINES
    ]
    assert long == []


def test_the_data_layer_imports_no_torch():
    """Reading and checking data needs no torch: nothing in data/ imports it."""
    for module, path in _modules().items():
        if not module.startswith("rnncast.data"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "torch" for n in names), module


def test_help_imports_neither_torch_nor_pandas():
    """`rnncast --help` stays fast: the commands import the heavy modules when they run."""
    done = help_imports(["train", "--help"], ("torch", "pandas"))
    assert done.stderr.strip() == ""


def test_every_module_has_its_tests():
    missing = []
    for module in _modules():
        parts = module.split(".")[1:]
        if not parts or parts[-1] in ("__main__", "version"):
            continue
        if module in ("rnncast.data", "rnncast.engine", "rnncast.forecast", "rnncast.store",
                      "rnncast.cli"):  # fmt: skip
            continue
        test = ROOT / "tests" / Path(*parts[:-1]) / f"test_{parts[-1]}.py"
        if not test.exists():
            missing.append(str(test.relative_to(ROOT)))
    assert missing == []


def test_the_commands_are_thin():
    """train, predict and evaluate read as a short sequence (build the request, call a job,
    write, render): their bodies, docstrings included, stay under 25 lines."""
    tree = ast.parse((PACKAGE / "cli" / "commands.py").read_text())
    bodies = {n.name: body_lines(n) for n in tree.body if isinstance(n, ast.FunctionDef)}
    for command in ("train", "predict", "evaluate", "info"):
        assert bodies[command] <= 25, (command, bodies[command])
