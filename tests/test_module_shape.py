"""The core's shape: a cold resolution passes through few modules; none import in a circle."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import awsrefs

SOURCE = Path(awsrefs.__file__).parent
MAX_MODULES = 10  # issue 19: a cold awsrefs.resolve passes through at most 10 awsrefs modules

_LOADED = "print(sorted(m for m in sys.modules if m == 'awsrefs' or m.startswith('awsrefs.')))"


def _cold(code: str, env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\n{_LOADED}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    loaded: list[str] = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    return loaded


def test_a_cold_resolve_through_a_static_backend_loads_at_most_ten_awsrefs_modules():
    loaded = _cold(
        "import awsrefs\n"
        "from awsrefs.backends import StaticBackend\n"
        "resolver = awsrefs.Resolver(backend=StaticBackend({'ssm:/app/host': 'db'}))\n"
        "assert resolver.resolve({'host': 'ssm:/app/host'}) == {'host': 'db'}"
    )
    assert len(loaded) <= MAX_MODULES, loaded


def test_a_cold_awsrefs_resolve_under_static_values_passes_through_at_most_ten_modules():
    # awsrefs.testing itself is the test's import, not a module the call passes through.
    loaded = _cold(
        "import awsrefs\n"
        "from awsrefs.testing import static_values\n"
        "with static_values({'ssm:/app/host': 'db'}):\n"
        "    assert awsrefs.resolve('ssm:/app/host') == 'db'"
    )
    assert len(set(loaded) - {"awsrefs.testing"}) <= MAX_MODULES, loaded


def test_a_cold_awsrefs_resolve_from_aws_loads_at_most_ten_awsrefs_modules(aws):
    aws.put_parameter("/app/host", "db.internal")
    env = {**os.environ, "AWS_REGION": aws.region, "AWS_ENDPOINT_URL": aws.endpoint_url}
    loaded = _cold(
        "import awsrefs\nassert awsrefs.resolve('ssm:/app/host') == 'db.internal'", env=env
    )
    assert len(loaded) <= MAX_MODULES, loaded


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The awsrefs modules ``path`` imports, at import time or later in a function.

    Imports for type checkers only (under ``if TYPE_CHECKING:``) are not imports.
    """
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending += node.orelse
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: package.count(".") + 2 - node.level]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from package import module`` needs the module; ``from module import name``
            # the module (its package is loaded already: every name here is under awsrefs).
            named = {f"{base}.{alias.name}" for alias in node.names} & modules
            found |= named or {base}
        pending += ast.iter_child_nodes(node)
    return {m for m in found if m in modules and m != name}


def test_no_awsrefs_module_imports_itself_through_others():
    paths = {_module_name(path): path for path in SOURCE.rglob("*.py")}
    graph = {name: _imports(path, name, set(paths)) for name, path in paths.items()}
    assert "awsrefs._fetch" in graph["awsrefs._resolver"]  # the graph sees what it should

    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == [], cycles
