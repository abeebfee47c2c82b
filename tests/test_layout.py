"""The fence around the layout: pure packages stay pure, jobs import only downwards, the JSON API is
reached only by the app factory, and no import cycle exists anywhere (late imports included)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("console", "jobs", "config.py", "wsgi.py", "bench")

# jobs, bottom to top: a module may import its own package and anything ranked lower.
# Packages of one rank (fetch, kigo, the embedded server) are independent of each other.
JOBS_RANKS = {
    "jobs.rules": 0,
    "jobs.ical": 1,
    "jobs.fetch": 2, "jobs.kigo": 2, "jobs.embedded_redis": 2,
    "jobs.broker": 3, "jobs.outage": 3,
    "jobs.notify": 4,
    "jobs.sync": 5,
    "jobs.queue": 6,
    "jobs.lost_syncs": 7, "jobs.batches": 7,
    "jobs.tasks": 8,
    "jobs.schedule": 9, "jobs.periodic": 9,
    "jobs.worker": 10,
}
# console, bottom to top, the same way: its rooms (packages, and the few modules left flat) import only
# rooms ranked lower; rooms of one rank are independent of each other. Every console module has a room.
CONSOLE_RANKS = {
    "console.extensions": 0, "console.timeutil": 0,
    "console.models": 1,
    "console.actions.errors": 2,  # the one refusal type every face answers with
    "console.audit": 3, "console.reports": 3, "console.public": 3, "console.faults": 3, "console.inputs": 3,
    "console.security": 3,
    "console.queries": 4,
    "console.actions": 5, "console.operations": 5,
    "console.demo": 6, "console.signin": 6,
    "console.api": 7, "console.admin": 7, "console.cli": 7,
}
FACTORY = "console"  # the app factory (console/__init__.py) sits on top and mounts every room
# What jobs may use of console: the data and its session, never a face (API, pages, actions, CLI).
JOBS_MAY_USE = ("console.models", "console.extensions", "console.timeutil")
NETWORK = ("socket", "ssl", "http", "urllib.request", "requests", "urllib3", "redis", "rq",
           "psycopg", "smtplib", "ftplib")
FRAMEWORKS = ("flask", "flask_admin", "flask_login", "flask_wtf", "flask_sqlalchemy", "flask_migrate",
              "sqlalchemy", "werkzeug", "console")
ICAL_LIBRARIES = ("icalendar", "recurring_ical_events", "x_wr_timezone", "dateutil")


def module_name(path: Path) -> str:
    """The dotted module name of a file under ROOT."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_files(roots=PRODUCT) -> dict[str, Path]:
    """Every product module by name."""
    found = {}
    for root in roots:
        path = ROOT / root
        for file in ([path] if path.is_file() else sorted(path.rglob("*.py"))):
            found[module_name(file)] = file
    return found


def imports_of(name: str, path: Path, known=()) -> set[str]:
    """Every module `name` imports, at any depth of its code (late and TYPE_CHECKING imports too).

    `from a import b` names a.b when that is one of the `known` modules, else a."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found


def within(name: str, prefixes) -> bool:
    """Whether module `name` is one of `prefixes` or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the product modules it imports."""
    return {name: {t for t in imports_of(name, path, files) if t in files and t != name}
            for name, path in files.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def room_rank(name: str, ranks: dict[str, int]) -> tuple[str, int] | None:
    """(the room of `ranks` that holds `name`, the innermost one, its rank), or None outside them."""
    rooms = [prefix for prefix in ranks if within(name, [prefix])]
    if not rooms:
        return None
    room = max(rooms, key=len)
    return room, ranks[room]


def jobs_rank(name: str) -> tuple[str, int] | None:
    """(the jobs package or module that holds `name`, its rank), or None outside jobs."""
    return room_rank(name, JOBS_RANKS)


def layout_violations(files: dict[str, Path]) -> list[str]:
    """Every import that breaks the layout's rules, as 'module imports target: why'."""
    problems = []
    for name, path in sorted(files.items()):
        for target in sorted(imports_of(name, path, files)):
            top = target.split(".")[0]
            if within(name, ["jobs.rules"]) and not (
                    top in sys.stdlib_module_names or within(target, ["jobs.rules"])):
                problems.append(f"{name} imports {target}: jobs.rules uses the standard library only")
            if within(name, ["jobs.rules", "jobs.ical"]):
                if within(target, FRAMEWORKS + NETWORK):
                    problems.append(f"{name} imports {target}: pure code touches no framework, "
                                    "database or network")
                if top not in sys.stdlib_module_names and not within(
                        target, ICAL_LIBRARIES + ("jobs.rules", "jobs.ical")):
                    problems.append(f"{name} imports {target}: not a library pure iCal code may use")
            if within(target, ["console.api"]) and not within(name, ["console.api"]) \
                    and name != "console":
                problems.append(f"{name} imports {target}: only the app factory mounts the JSON API")
            if within(name, ["jobs"]) and within(target, ["console"]) \
                    and not within(target, JOBS_MAY_USE):
                problems.append(f"{name} imports {target}: jobs use console's data, never its faces")
            mine, theirs = jobs_rank(name), jobs_rank(target)
            if mine and theirs and mine[0] != theirs[0] and theirs[1] >= mine[1]:
                problems.append(f"{name} imports {target}: jobs import only downwards "
                                f"({mine[0]} is rank {mine[1]}, {theirs[0]} rank {theirs[1]})")
            mine, theirs = room_rank(name, CONSOLE_RANKS), room_rank(target, CONSOLE_RANKS)
            if mine and theirs and mine[0] != theirs[0] and theirs[1] >= mine[1]:
                problems.append(f"{name} imports {target}: console rooms import only downwards "
                                f"({mine[0]} is rank {mine[1]}, {theirs[0]} rank {theirs[1]})")
    return problems


def test_layout_rules_hold():
    problems = layout_violations(product_files())
    assert not problems, "\n".join(problems)


def test_no_import_cycle_anywhere():
    found = cycles(graph(product_files()))
    assert not found, "\n".join(" <-> ".join(group) for group in found)


def test_tests_reach_the_api_only_through_http():
    """Tests use the JSON API as its clients do, so they keep proving the public face."""
    tests = {n: p for n, p in product_files(["tests"]).items()}
    offenders = [f"{name} imports {target}" for name, path in sorted(tests.items())
                 for target in sorted(imports_of(name, path)) if within(target, ["console.api"])]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("package", ["rules", "ical", "fetch", "kigo", "notify", "sync"])
def test_every_jobs_package_says_what_lives_there(package):
    doc = ast.get_docstring(ast.parse((ROOT / "jobs" / package / "__init__.py").read_text()))
    assert doc and "\n" not in doc.strip()


def test_every_console_module_has_a_room():
    """A new module goes into a room of the fence (or is given one here), so the rooms keep reading top to bottom."""
    homeless = [name for name in product_files(["console"]) if name != FACTORY and not room_rank(name, CONSOLE_RANKS)]
    assert homeless == []


def test_console_keeps_few_modules_flat_beside_its_packages():
    flat = sorted(path.name for path in (ROOT / "console").glob("*.py"))
    assert len(flat) <= 8, flat


@pytest.mark.parametrize("package", ["signin", "operations", "reports", "queries", "audit", "public", "demo", "cli"])
def test_every_console_package_says_what_lives_there(package):
    doc = ast.get_docstring(ast.parse((ROOT / "console" / package / "__init__.py").read_text()))
    assert doc and "\n" not in doc.strip()


# The fence itself: each rule fails on a forbidden import written into a scratch tree.
@pytest.mark.parametrize("module, source, expected", [
    ("jobs/rules/bad.py", "from flask import current_app\n", "jobs.rules uses the standard library"),
    ("jobs/ical/bad.py", "import socket\n", "pure code touches no framework"),
    ("jobs/ical/bad.py", "from console.models import Property\n", "pure code touches no framework"),
    ("jobs/rules/bad.py", "def f():\n    import sqlalchemy\n", "jobs.rules uses the standard library"),
    ("console/admin/bad.py", "from console.api.links import x\n", "only the app factory"),
    ("jobs/fetch/bad.py", "from jobs.sync.runner import sync_links\n", "only downwards"),
    ("jobs/kigo/bad.py", "from jobs.fetch.feed import fetch_feed\n", "only downwards"),
    ("jobs/sync/bad.py", "from console.actions import links\n", "never its faces"),
    ("console/models/bad.py", "from console.actions.links import add_link\n", "console rooms import only downwards"),
    ("console/reports/bad.py", "from console.public.ical_feed import feed_response\n", "console rooms import only"),
    ("console/audit/bad.py", "from console.actions.links import add_link\n", "console rooms import only"),
])
def test_the_fence_refuses_a_forbidden_import(tmp_path, module, source, expected):
    path = tmp_path / module
    path.parent.mkdir(parents=True)
    path.write_text(source)
    name = ".".join(Path(module).with_suffix("").parts)
    problems = layout_violations({name: path})
    assert problems and expected in problems[0]


def test_the_fence_finds_a_cycle(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from b import g\n")
    (tmp_path / "b.py").write_text("import a\n")
    files = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    assert cycles(graph(files)) == [["a", "b"]]
