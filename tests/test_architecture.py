"""The layers, enforced: imports run one way and no module of ours is part of an import cycle.

Edges (views, tasks, commands, admin) → services → domain → storage; `webhooks` is the HTTP
edge only, so nothing in `threads`, `courses` or `messaging` may import it, and no module below
the services imports one. Imports inside
functions count: hiding one there does not break a cycle, it only hides it.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("brenda", "courses", "messaging", "threads", "webhooks")
# Who may not import whom: (importer prefix, forbidden prefix).
FORBIDDEN = [
    ("threads", "webhooks"),
    ("courses", "webhooks"),
    ("courses", "threads"),
    ("messaging", "webhooks"),
    ("messaging", "threads"),
    ("messaging", "courses"),
]

# The services (use cases) of docs/ARCHITECTURE.md's layers. Below them (domain, storage) nothing
# may import one; only they and the edges (views, tasks, commands, admin, the project's wiring) may.
SERVICES = {
    f"threads.{name}"
    for name in (
        "inbound",
        "services",
        "background",
        "recovery",
        "staff",
        "handoff",
        "consent_turn",
        "message_templates",
        "migration",
        "replay",
        "doctor",
    )
}


def is_edge(module: str) -> bool:
    return (
        module.split(".")[0] in ("brenda", "webhooks")
        or module in ("threads.tasks", "threads.apps")
        or module.startswith("threads.admin")
        or ".management." in module
    )


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Every module name `module` imports, anywhere in its body, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in modules.items():
        targets = {resolve(name) for name in imported_names(module, path)}
        graph[module] = {target for target in targets if target and target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_our_modules_and_their_imports():
    graph = import_graph()
    assert "threads.services" in graph and "threads.answering" in graph["threads.services"]
    assert "courses.selectors" in graph["threads.tools"]


def test_no_module_is_part_of_an_import_cycle():
    assert cycles(import_graph()) == []


def test_imports_run_one_way_between_apps():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        for importer, forbidden in FORBIDDEN
        if module.startswith(importer + ".") and (target == forbidden or target.startswith(forbidden + "."))
    )
    assert wrong == []


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a service from below the services (a domain or storage module)."""
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module not in SERVICES and not is_edge(module)
        for target in targets
        if target in SERVICES
    )


def test_no_domain_or_storage_module_imports_a_service():
    graph = import_graph()
    assert graph.keys() >= SERVICES  # the list names real modules (a rename must update it)
    assert upward_imports(graph) == []


def test_the_layer_check_finds_an_upward_import():
    graph = {"threads.tools": {"threads.handoff"}, "threads.tasks": {"threads.handoff"}, "threads.handoff": set()}
    assert upward_imports(graph) == ["threads.tools imports threads.handoff"]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def status_writes(path: Path) -> list[int]:
    """Lines that write a turn's status: `<turn>.status = …`, or `.update(status=…)` on Turn rows."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    owner = ast.unparse(target.value)
                    if "turn" in owner.lower():
                        lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "update"
            and any(keyword.arg == "status" for keyword in node.keywords)
            and "Turn" in ast.unparse(node.func.value)
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_turn_module_writes_a_turns_status():
    writers = {
        module: lines
        for module, path in project_modules().items()
        if module != "threads.turns" and (lines := status_writes(path))
    }
    assert writers == {}
    assert status_writes(project_modules()["threads.turns"])  # the scan sees the real writers
