"""The shape of the package: which part may import which, no cycles between modules, no project import
hidden inside a function, and no part reaching into another's routes or forms.

Every module of `onboarding/` is parsed with `ast` (imports inside functions included). The parts and
their order are declared once, below; the README's layout section describes the same table. A part may
import itself and the parts listed before it, never one after it. The test names the offending import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "onboarding"

# Lowest first. A part is a top-level module or package of `onboarding/` (or a named group of them).
PARTS: list[tuple[str, set[str]]] = [
    ("foundation", {"paths", "errors", "keyring", "config", "db", "extensions", "security", "templating",
                    "countries", "forms", "storage", "ipaddresses", "textsearch"}),
    ("audit", {"audit"}),
    ("jobs", {"jobs"}),
    ("notifications", {"notifications"}),
    ("institutions", {"institutions"}),
    ("accounts", {"accounts"}),
    ("agreements", {"agreements"}),
    ("applications", {"applications"}),
    ("documents", {"documents"}),
    ("screening", {"screening"}),
    ("checks", {"checks"}),
    ("referrals", {"referrals"}),
    ("letters", {"letters"}),
    ("keys", {"keys"}),
    ("review", {"review"}),
    ("enforcement", {"enforcement"}),
    ("portal", {"portal"}),
    ("api", {"api"}),
    ("dashboard", {"dashboard"}),
    ("admin", {"admin"}),
    ("metrics", {"metrics"}),
    ("pages", {"home", "health"}),
    ("entry points", {"demo", "worker", "reseal", "cli"}),
    # The application factory (`onboarding/__init__.py`) composes every part; nothing imports it.
    ("factory", {"__init__"}),
]
RANK = {name: rank for rank, (name, _) in enumerate(PARTS)}
PART_OF = {member: name for name, members in PARTS for member in members}

# Libraries a function may import lazily: large, and needed only on the path that uses them.
LAZY_LIBRARIES = {"pypdf", "PIL", "pypdfium2", "weasyprint"}


@dataclass(frozen=True)
class Import:
    source: str  # module importing, e.g. "onboarding.review.guards"
    target: str  # module imported
    line: int
    in_function: bool

    def where(self) -> str:
        return f"{self.source.replace('.', '/')}.py:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def part_of(module: str) -> str:
    pieces = module.split(".")
    top = pieces[1] if len(pieces) > 1 else "__init__"
    if top not in PART_OF:
        raise AssertionError(f"{module} belongs to no declared part: add `{top}` to PARTS in {__file__}")
    return PART_OF[top]


def resolve(source: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The project modules an import statement names (third-party ones are left out)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "onboarding"]
    package = source if MODULES[source].name == "__init__.py" else source.rsplit(".", 1)[0]
    if node.level:
        base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base.split(".")[0] != "onboarding":
        return []
    targets = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        targets.append(candidate if candidate in MODULES else base)
    return targets


def imports_of(source: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function.update(id(inner) for inner in ast.walk(node) if inner is not node)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in resolve(source, node):
                found.append(Import(source, target, node.lineno, id(node) in in_function))
    return found


def lazy_imports_of(path: Path) -> list[tuple[int, str]]:
    """Third-party imports inside functions: (line, root package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    found.append((node.lineno, (node.module or "").split(".")[0]))
    return found


ALL_IMPORTS = [imp for source, path in sorted(MODULES.items()) for imp in imports_of(source, path)]


def upward_imports(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        source_part, target_part = part_of(imp.source), part_of(imp.target)
        if RANK[target_part] > RANK[source_part]:
            problems.append(f"{imp.where()}: {imp.source} ({source_part}) imports {imp.target} ({target_part}), "
                            f"a part above it")
    return problems


def module_cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), package-to-own-child edges included."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for imp in imports:
        if imp.target != imp.source:
            graph[imp.source].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_module_belongs_to_a_declared_part():
    for module in MODULES:
        part_of(module)


def test_no_part_imports_a_part_above_it():
    problems = upward_imports(ALL_IMPORTS)
    assert not problems, "imports against the declared direction:\n" + "\n".join(problems)


def test_no_import_cycle_between_modules():
    cycles = module_cycles(ALL_IMPORTS)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(group) for group in cycles)


def test_no_project_import_inside_a_function():
    """Imports inside functions are for large optional libraries only, never to dodge a cycle."""
    hidden = [f"{imp.where()}: {imp.target}" for imp in ALL_IMPORTS if imp.in_function]
    assert not hidden, "project modules imported inside functions:\n" + "\n".join(hidden)
    lazy = [f"{module.replace('.', '/')}.py:{line}: {root}" for module, path in sorted(MODULES.items())
            for line, root in lazy_imports_of(path) if root not in LAZY_LIBRARIES]
    assert not lazy, f"imports inside functions of libraries not in LAZY_LIBRARIES {sorted(LAZY_LIBRARIES)}:\n" + \
        "\n".join(lazy)


def test_no_part_reaches_into_another_parts_routes_or_forms():
    """A module imports another part's models, operations or queries; its routes and forms are its own."""
    problems = []
    for imp in ALL_IMPORTS:
        leaf = imp.target.rsplit(".", 1)[-1]
        crosses = part_of(imp.source) != part_of(imp.target) and part_of(imp.source) != "factory"
        if crosses and part_of(imp.target) != "foundation" and (leaf in ("routes", "forms") or
                                                                leaf.endswith("_routes")):
            problems.append(f"{imp.where()}: {imp.source} imports {imp.target}")
    assert not problems, "\n".join(problems)


def test_sinks_import_no_feature_part():
    """audit and notifications are sinks anyone may call (DESIGN 6.3)."""
    for imp in ALL_IMPORTS:
        if part_of(imp.source) in ("audit", "notifications"):
            assert part_of(imp.target) in ("foundation", "audit", "jobs", "notifications"), imp.where()


def test_only_the_one_writer_sets_an_institutions_status():
    """`institutions.status.change_status` is the only code that assigns `Institution.status`."""
    writers = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Attribute) and leaf.attr == "status" and \
                            "institution" in ast.unparse(leaf.value).lower():
                        writers.append(f"{module}:{node.lineno}")
    assert [w.split(":")[0] for w in writers] == ["onboarding.institutions.status"], writers


# --- the checker itself fails where it should ------------------------------------------------------


def _with_extra(source: str, code: str) -> list[Import]:
    path = MODULES[source]
    tree = ast.parse(path.read_text(encoding="utf-8") + "\n" + code)
    extra = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            extra += [Import(source, target, node.lineno, False) for target in resolve(source, node)]
    return [imp for imp in ALL_IMPORTS if imp.source != source] + extra


def test_an_upward_import_is_named():
    imports = _with_extra("onboarding.applications.states", "from ..review import guards\n")
    problems = upward_imports(imports)
    assert any("onboarding/applications/states.py" in p and "onboarding.review.guards (review)" in p
               for p in problems), problems


def test_a_cycle_is_found():
    imports = _with_extra("onboarding.institutions.models", "from ..accounts import models\n")
    assert any({"onboarding.accounts.models", "onboarding.institutions.models"} <= set(group)
               for group in module_cycles(imports))


@pytest.mark.parametrize("part", [name for name, _ in PARTS])
def test_declared_parts_exist(part):
    members = dict(PARTS)[part]
    assert all(member == "__init__" or (PACKAGE / member).is_dir() or (PACKAGE / f"{member}.py").is_file()
               for member in members), f"{part}: {members}"
