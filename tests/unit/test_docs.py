"""The README and the docs site never drift from the code (issue 18, the docs check).

Every ``brandcare`` command in a fenced code block of ``README.md`` or ``docs/*.md`` (also
as ``.venv/bin/brandcare``, after ``VAR=value`` prefixes, ``&&``, ``;`` or a pipe) must
name a command of the Typer app, with flags it takes and no more arguments than it
accepts; read from the click command tree, so a renamed command or flag fails here.
Also: the scorer's output shown in the docs has the contract's keys, every setting is on
the settings page, every part of ``brandcare/`` and every top-level folder is on the
layout page, every page is in ``mkdocs.yml``'s navigation, the README's links resolve
(anchors included) and the README stays a front door. ``mkdocs build --strict`` (in
``.ci/run``) checks the links between the pages.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from brandcare.cli import app
from brandcare.config import Settings
from tests.contract import ADDED_KEYS, SCORE_KEYS

yaml: Any = importlib.import_module("yaml")  # no stubs installed; only safe_load is used

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
SHELL_FENCES = {"", "sh", "bash", "shell", "console"}
PROGRAMS = {"brandcare", ".venv/bin/brandcare"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# A segment that runs brandcare: optional VAR=value words, then the program.
RUNS_BRANDCARE = re.compile(
    r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:\.venv/bin/)?brandcare(?:\s|$)"
)
SEPARATOR = re.compile(r"\s(?:&&|\|\||\||;)\s")
# The README's first command and its test command, which .ci/run greps and runs.
FIRST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/brandcare demo"
TEST_COMMAND = re.compile(r"^python3 -m venv \.venv && .*pytest", re.MULTILINE)


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def where(path: Path, line: int) -> str:
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    return f"{shown}:{line}"


@dataclass(frozen=True)
class Fence:
    path: Path
    line: int  # of the first line inside the fence
    info: str
    text: str


def fences(path: Path) -> Iterator[Fence]:
    """The fenced code blocks of a Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^\s*(`{3,})\s*([\w+-]*)", lines[i])
        if opening is None:
            i += 1
            continue
        ticks, info = opening.groups()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(ticks):
            body.append(lines[j])
            j += 1
        yield Fence(path, i + 2, info.lower(), "\n".join(body))
        i = j + 1


@dataclass(frozen=True)
class DocCommand:
    where: str
    line: str
    words: tuple[str, ...]  # what follows the program


def shell_lines(fence: Fence) -> Iterator[tuple[int, str]]:
    """The fence's lines with backslash continuations joined, numbered in the file."""
    pending, start = "", 0
    for offset, raw in enumerate(fence.text.splitlines()):
        if not pending:
            start = fence.line + offset
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        yield start, pending + raw
        pending = ""
    if pending:
        yield start, pending


def brandcare_words(segment: str) -> tuple[str, ...] | None:
    """What follows ``brandcare`` in one shell command, or None if it runs something else."""
    if RUNS_BRANDCARE.match(segment) is None:
        return None
    words = shlex.split(segment, comments=True)
    while words and ASSIGNMENT.match(words[0]):
        words.pop(0)
    assert words, segment
    assert words[0] in PROGRAMS, segment
    # Optional parts are shown in brackets: `approve 12 [--text "..."]`.
    return tuple(w.strip("[]") for w in words[1:] if w.strip("[]"))


def commands_in(path: Path) -> list[DocCommand]:
    found: list[DocCommand] = []
    for fence in fences(path):
        if fence.info not in SHELL_FENCES:
            continue
        for number, line in shell_lines(fence):
            for segment in SEPARATOR.split(line):
                words = brandcare_words(segment)
                if words is not None:
                    found.append(DocCommand(where(path, number), line.strip(), words))
    return found


def all_commands() -> list[DocCommand]:
    return [command for path in pages() for command in commands_in(path)]


def problems(words: tuple[str, ...], root: Any) -> list[str]:
    """What in ``brandcare WORDS`` the command tree does not have (empty: it all exists).

    Duck-typed on click's objects (typer ships its own copy of click as ``typer._click``).
    """
    command, path, i = root, ["brandcare"], 0
    while hasattr(command, "commands") and i < len(words) and not words[i].startswith("-"):
        sub = command.commands.get(words[i])
        if sub is None:
            return [f"`{' '.join(path)}` has no command {words[i]!r}"]
        command, i = sub, i + 1
        path.append(words[i - 1])
    name = " ".join(path)
    options: dict[str, Any] = {"--help": None}
    for param in command.params:
        if param.param_type_name == "option":
            for opt in (*param.opts, *param.secondary_opts):
                options[opt] = param
    slots = [p.nargs for p in command.params if p.param_type_name == "argument"]
    found: list[str] = []
    positional = 0
    rest = list(words[i:])
    while rest:
        word = rest.pop(0)
        if word.startswith("-") and word != "-" and not re.match(r"^-\d", word):
            flag, _, inline = word.partition("=")
            if flag not in options:
                found.append(f"`{name}` has no option {flag}")
                continue
            param = options[flag]
            takes_value = param is not None and not param.is_flag and not param.count
            if takes_value and not inline:
                if not rest:
                    found.append(f"`{name} {flag}` needs a value")
                else:
                    rest.pop(0)
            if not takes_value and inline:
                found.append(f"`{name} {flag}` takes no value")
        else:
            positional += 1
    if hasattr(command, "commands"):
        if positional:
            found.append(f"`{name}` is a group: it takes a command, not {words[i:]!r}")
    elif -1 not in slots and positional > sum(slots):
        found.append(f"`{name}` takes {sum(slots)} argument(s), the docs give {positional}")
    return found


@pytest.fixture(scope="module")
def tree() -> Any:
    return typer.main.get_command(app)


def test_the_docs_hold_the_commands_to_check() -> None:
    commands = all_commands()
    assert len(commands) >= 40, [c.line for c in commands]
    readme = {c.line for c in commands if c.where.startswith("README.md")}
    assert FIRST_COMMAND in readme
    assert any("brandcare score" in line for line in readme)


def test_every_documented_command_exists_with_the_flags_it_uses(tree: Any) -> None:
    failures = [
        f"{c.where}: {problem}\n    {c.line}"
        for c in all_commands()
        for problem in problems(c.words, tree)
    ]
    assert not failures, "commands in the docs that the CLI does not have:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("brandcare nosuch", "has no command 'nosuch'"),
        ("brandcare bench nosuch --n 3", "has no command 'nosuch'"),
        ("brandcare queue --nope 3", "has no option --nope"),
        ("brandcare approve 12 13", "takes 1 argument(s)"),
        ("brandcare queue --limit", "needs a value"),
        ("brandcare health --pipeline=yes", "takes no value"),
        ("brandcare users ana", "has no command 'ana'"),
    ],
)
def test_the_check_catches_drift(tree: Any, line: str, expected: str) -> None:
    words = brandcare_words(line)
    assert words is not None
    assert any(expected in p for p in problems(words, tree)), problems(words, tree)


@pytest.mark.parametrize(
    "line",
    [
        "BRANDCARE_DATABASE_URL=sqlite:///x.db .venv/bin/brandcare approve 57 --text 'ok' # why",
        'brandcare approve 12 [--text "..."]',
        "brandcare bench load --mentions=2000 --workers 1,2",
        "brandcare evaluate --no-fp32",
        "brandcare --help",
        "brandcare bench",
    ],
)
def test_the_check_passes_what_exists(tree: Any, line: str) -> None:
    words = brandcare_words(line)
    assert words is not None
    assert problems(words, tree) == []


def test_commands_are_found_after_prefixes_and_in_pipes(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```sh\npython3 -m venv .venv && .venv/bin/brandcare demo --no-serve\n"
        "echo '{\"id\": 1}' | brandcare score --batch 8\n"
        "brandcare bench load --approve-share 0.2 \\\n  --out load.json\n"
        "docker compose run --rm migrate users add ana\n```\n"
        "```json\nbrandcare queue --nope\n```\n"
    )
    words = [c.words for c in commands_in(page)]
    assert words == [
        ("demo", "--no-serve"),
        ("score", "--batch", "8"),
        ("bench", "load", "--approve-share", "0.2", "--out", "load.json"),
    ]


def _json_objects(text: str) -> Iterator[Any]:
    try:
        yield json.loads(text)
    except json.JSONDecodeError:
        # A block of several lines, or an example with "..." in it: each score line must parse.
        for line in text.splitlines():
            if "urgency_level" in line:
                yield json.loads(line)


def test_scores_shown_in_the_docs_follow_the_score_contract() -> None:
    shown = 0
    for path in pages():
        for fence in fences(path):
            if fence.info != "json":
                continue
            for value in _json_objects(fence.text):
                if isinstance(value, dict) and "urgency_level" in value:
                    shown += 1
                    at = where(path, fence.line)
                    assert set(value) == SCORE_KEYS | ADDED_KEYS, at
                    assert value["sentiment"] in {"negative", "neutral", "positive"}, at
                    assert set(value["probs"]) == {"negative", "neutral", "positive"}, at
                    assert value["urgency_level"] in {"low", "medium", "high"}, at
    assert shown >= 2  # the README's tour and the scorer page


def _env_name(name: str, alias: object) -> str:
    return alias if isinstance(alias, str) else f"BRANDCARE_{name.upper()}"


def test_every_setting_is_on_the_settings_page() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = [
        _env_name(name, field.validation_alias)
        for name, field in Settings.model_fields.items()
        if name != "credential_profiles"  # the `__<PROFILE>` variables
        and f"`{_env_name(name, field.validation_alias)}`" not in text
    ]
    assert not missing, f"settings not in docs/settings.md: {missing}"
    assert "__<PROFILE>`" in text


def test_the_layout_page_names_every_part_and_folder() -> None:
    text = (DOCS / "layout.md").read_text(encoding="utf-8")
    ignored = {"build", "dist", "site", "out", "test-output", "__pycache__"}
    parts = [
        f"{p.name}/" if p.is_dir() else p.name
        for p in (REPO / "brandcare").iterdir()
        if (p.is_dir() and p.name not in ignored) or (p.suffix == ".py" and p.name != "__init__.py")
    ]
    folders = [
        f"{p.name}/"
        for p in REPO.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and not p.name.endswith(".egg-info")
        and p.name not in ignored
    ]
    missing = [
        name for name in parts + folders if not re.search(rf"(?m)^\s*{re.escape(name)}", text)
    ]
    assert not missing, f"not in docs/layout.md's map: {missing}"


def test_every_page_is_in_the_site_navigation() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["theme"]["name"] == "material"

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                yield from walk(item)

    listed = sorted(walk(config["nav"]))
    assert listed == sorted(p.name for p in DOCS.glob("*.md"))


def slug(heading: str) -> str:
    """Python-Markdown's toc slug (what mkdocs writes), which GitHub's matches for ours."""
    value = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    code = {f.text for f in fences(path)}
    body = text
    for block in code:
        body = body.replace(block, "")
    found = {slug(m) for m in re.findall(r"(?m)^#{1,6}\s+(.+?)\s*$", body)}
    return found | set(re.findall(r'id="([^"]+)"', text))


def test_the_readme_links_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [link for link in links if not re.match(r"^[a-z]+:", link)]
    assert any(link.startswith("docs/") for link in local)
    for link in local:
        target, _, anchor = link.partition("#")
        path = REPO / target
        assert path.exists(), f"README.md links to {target}, which is not in the repository"
        if anchor:
            assert anchor in anchors(path), f"README.md links to {link}: no such heading"


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    lines = text.splitlines()
    assert FIRST_COMMAND in lines
    assert TEST_COMMAND.search(text), ".ci/run runs the README's test command line"
    for need in ("PostgreSQL", "Redis", "RabbitMQ", "chromium", ".ci/run"):
        assert need in text, f"the README's set-up should say what the tests need: {need}"
    assert (REPO / "docs" / "screenshots" / "desk-inbox.png").exists()
