"""The house's plan holds: the mock's layers import only the layers below them, no module imports itself
round a cycle (imports for type checking included), and the kit reaches the mock only through its public face."""

from __future__ import annotations

import ast
from pathlib import Path

import mockserver

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mockserver", "contracts", "conformance")
# The mock's layers, lowest first; the modules at the top of the package (app, cli, ...) stand above them all.
LAYERS = ("wire", "settings", "images", "state", "pipeline", "dialects", "scenarios", "broken_connections", "control")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def imported(name: str) -> set[str]:
    """The project's modules that `name` imports, wherever the import stands (under TYPE_CHECKING too), and the
    packages Python runs on the way: importing mockserver.state.ledger from outside state/ runs state/__init__."""
    path = MODULES[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1]  # the package a relative import starts from
            base = ".".join([*anchor, node.module or ""]).strip(".") if node.level else node.module
            submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found |= submodules or {base}
    own = set(ancestors(name))
    found |= {package for module in found for package in ancestors(module) if package not in own}
    return {module for module in found if module in MODULES and module != name}


def ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


GRAPH = {name: imported(name) for name in MODULES}


def cycle_from(start: str) -> list[str] | None:
    """A chain of imports that leads from `start` back to it, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        name, chain = stack.pop()
        for following in GRAPH[name]:
            if following == start:
                return [*chain, start]
            if following not in seen:
                seen.add(following)
                stack.append((following, [*chain, following]))
    return None


def layer_of(name: str) -> int:
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS)


def test_no_module_imports_itself_round_a_cycle():
    cycles = [chain for name in sorted(GRAPH) if (chain := cycle_from(name))]

    assert not cycles, "\n".join(" -> ".join(chain) for chain in cycles)


def test_each_layer_of_the_mock_imports_only_the_layers_below_it():
    upward = [
        f"{name} imports {other}"
        for name in GRAPH
        if name.startswith("mockserver.")
        for other in GRAPH[name]
        if other.startswith("mockserver.") and layer_of(other) > layer_of(name)
    ]

    assert not upward, "\n".join(upward)


def test_the_layers_are_the_folders():
    folders = {path.name for path in (ROOT / "mockserver").iterdir() if (path / "__init__.py").exists()}

    assert folders == set(LAYERS) - {"settings", "scenarios", "broken_connections"}


def test_the_kit_reaches_the_mock_only_through_its_public_face():
    reaching_in = [
        f"{name}: {what}"
        for name, path in MODULES.items()
        if name.startswith("conformance")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for what in mock_names(node)
        if what not in mockserver.__all__
    ]

    assert not reaching_in, "\n".join(reaching_in)


def mock_names(node: ast.AST) -> list[str]:
    """What an import takes from the mock: a name of its public face, or a module (which is none of them)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "mockserver"]
    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mockserver":
        return [alias.name if node.module == "mockserver" else f"{node.module}.{alias.name}" for alias in node.names]
    return []


def test_the_readmes_layout_names_every_folder_and_module_of_the_mock():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") :].split("```")[1]
    parts = [f"{path.name}/" if path.is_dir() else path.name for path in (ROOT / "mockserver").iterdir()]

    assert [part for part in parts if part not in layout and part != "__pycache__/"] == []
    assert all(f"\n{package}/" in layout for package in PACKAGES)
