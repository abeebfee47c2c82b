"""The README stays a front door, and the docs stay true to the code they describe."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Pages other branches of issue 21 write; the README links them already. Empty this once they are merged.
WRITTEN_ELSEWHERE: set[str] = set()


def test_the_readme_is_a_front_door_of_at_most_150_lines_with_the_two_commands_first():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    first_section = text.split("\n## ")[1]
    assert first_section.startswith("Two commands") and "make run" in first_section and "make test" in first_section
    assert "admin@only-apartments.com / only-apartments-demo" in text


def test_every_link_between_pages_and_to_the_screenshot_resolves():
    missing = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            path = (page.parent / target).resolve()
            if not path.exists() and str(path.relative_to(ROOT)) not in WRITTEN_ELSEWHERE:
                missing.append(f"{page.relative_to(ROOT)} -> {target}")
    assert missing == []


def test_the_screenshot_is_small():
    assert (ROOT / "docs" / "img" / "dashboard.png").stat().st_size < 200_000


def test_every_variable_config_reads_has_a_row_in_the_configuration_reference():
    read = set(re.findall(r'_(?:int|str|bool|hour)\(\s*env, "([A-Z_]+)"', (ROOT / "config.py").read_text()))
    assert {"DATABASE_URL", "DB_TIMEOUT_SECONDS", "METRICS_TOKEN", "INSTANCE_PATH"} <= read  # the pattern finds them
    rows = [line for line in (ROOT / "docs" / "configuration.md").read_text().splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z_]+)`", row.split("|")[1])}
    assert read - documented == set()


def test_every_table_in_the_docs_has_a_header_row():
    """A table whose rows follow a paragraph without a header renders as plain text."""
    for page in PAGES:
        lines = page.read_text().splitlines()
        for i, line in enumerate(lines):
            starts_table = line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|"))
            if starts_table:
                assert i + 1 < len(lines) and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1]), \
                    f"{page.relative_to(ROOT)}:{i + 1}: a table without a header row"


def test_the_commands_the_readme_names_exist():
    text = README.read_text()
    cli = (ROOT / "console" / "cli" / "commands.py").read_text()
    commands = set(re.findall(r'@click\.command\("([a-z-]+)"\)', cli))
    section = text.split("## Command line")[1].split("\n## ")[0]
    named = set(re.findall(r"`([a-z][a-z-]+)(?: [^`]*)?`", section.split(":", 1)[1])) - {"make"}
    assert named == commands
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    assert set(re.findall(r"`make ([a-z]+)", text)) <= targets


def test_code_points_into_the_repository_never_to_files_a_clone_does_not_have():
    outside = re.compile(r"\bCONTRACT\b|\b(?:DESIGN|FORMATS|STYLE)\.md\b|\bDESIGN:")
    found = [f"{path.relative_to(ROOT)}:{n}" for folder in ("console", "jobs", "tests", "bench")
             for path in (ROOT / folder).rglob("*.py") for n, line in enumerate(path.read_text().splitlines(), 1)
             if outside.search(line)]
    found += [f"config.py:{n}" for n, line in enumerate((ROOT / "config.py").read_text().splitlines(), 1)
              if outside.search(line)]
    assert found == []
