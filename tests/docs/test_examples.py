"""Every ```python block of the documentation (docs/*.md and README.md) runs.

The blocks of one page run in order in one namespace, in a fresh temporary directory, with
NumPy's and Python's global random generators seeded. A block preceded by the line
``<!-- skip-test -->`` is not run (it needs a browser, a cluster address or the user's files).
"""

from __future__ import annotations

import random
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIP_MARKER = "<!-- skip-test -->"
FENCE_OPEN = re.compile(r"^(?P<indent>\s*)```python\s*$")
# Calls that wait for a person or a remote machine; an unmarked block with one would hang.
UNATTENDED_ONLY = re.compile(r"\bcalab\.tune\(|\btune\(|tcp://|\bsleep\(\s*\d{3,}")


@dataclass(frozen=True)
class CodeBlock:
    page: str
    line: int  # 1-based line of the first code line
    code: str
    skipped: bool


def extract_blocks(text: str, page: str) -> list[CodeBlock]:
    """The ```python fenced blocks of a Markdown text, with their skip markers."""
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    index = 0
    while index < len(lines):
        match = FENCE_OPEN.match(lines[index])
        if not match:
            index += 1
            continue
        indent = match.group("indent")
        start = index + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{page}:{index + 1}: ```python block is never closed")
        body = "\n".join(line.removeprefix(indent) for line in lines[start:end])
        blocks.append(CodeBlock(page, start + 1, textwrap.dedent(body), _marked(lines, index)))
        index = end + 1
    return blocks


def _marked(lines: list[str], fence_index: int) -> bool:
    previous = fence_index - 1
    while previous >= 0 and not lines[previous].strip():
        previous -= 1
    return previous >= 0 and lines[previous].strip() == SKIP_MARKER


def documentation_pages() -> list[Path]:
    pages = sorted((REPO_ROOT / "docs").glob("*.md"))
    readme = REPO_ROOT / "README.md"
    return [*pages, readme] if readme.is_file() else pages


def _pages_with_code() -> list[Path]:
    found = []
    for page in documentation_pages():
        blocks = extract_blocks(page.read_text(encoding="utf-8"), page.name)
        if any(not block.skipped for block in blocks):
            found.append(page)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("page", _pages_with_code(), ids=lambda page: page.name)
def test_page_examples_run(page: Path, tmp_path, monkeypatch):
    relative = page.relative_to(REPO_ROOT).as_posix()
    blocks = extract_blocks(page.read_text(encoding="utf-8"), relative)
    blocking = [b.line for b in blocks if not b.skipped and UNATTENDED_ONLY.search(b.code)]
    if blocking:
        pytest.fail(
            f"{relative}: the examples at lines {blocking} wait for a browser or a remote "
            f"machine; put a '{SKIP_MARKER}' line before them"
        )
    monkeypatch.chdir(tmp_path)
    np.random.seed(0)
    random.seed(0)
    namespace: dict[str, object] = {"__name__": "__docs_example__"}
    for block in blocks:
        if block.skipped:
            continue
        code = compile(block.code, f"{relative}:{block.line}", "exec")
        try:
            exec(code, namespace)
        except Exception as error:
            pytest.fail(
                f"the example at {relative} line {block.line} failed: "
                f"{type(error).__name__}: {error}",
                pytrace=True,
            )


def test_extractor_finds_blocks_and_skip_markers():
    text = "\n".join(
        [
            "# Title",
            "```python",
            "x = 1",
            "```",
            "",
            SKIP_MARKER,
            "",
            "```python",
            "calab.tune(traces)",
            "```",
            "```bash",
            "calab --help",
            "```",
            "1. a list item:",
            "",
            "    ```python",
            "    y = x + 1",
            "    ```",
        ]
    )
    blocks = extract_blocks(text, "page.md")
    assert [(b.line, b.code, b.skipped) for b in blocks] == [
        (3, "x = 1", False),
        (9, "calab.tune(traces)", True),
        (17, "y = x + 1", False),
    ]
    with pytest.raises(ValueError, match="never closed"):
        extract_blocks("```python\nx = 1\n", "broken.md")


def test_skip_markers_stay_few():
    blocks = [
        block
        for page in documentation_pages()
        for block in extract_blocks(page.read_text(encoding="utf-8"), page.name)
    ]
    skipped = [block for block in blocks if block.skipped]
    assert blocks, "the documentation has no Python examples"
    assert len(skipped) <= max(12, len(blocks) // 2), (
        "most examples should run; skipped: " + ", ".join(f"{b.page}:{b.line}" for b in skipped)
    )


def test_cli_page_names_every_subcommand():
    from calab.cli.main import SUBCOMMANDS

    page = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert ":module: calab.cli.main" in page
    missing = [name for name in SUBCOMMANDS if f"`calab {name}`" not in page]
    assert not missing, f"docs/cli.md does not mention: {missing}"


def test_changelog_page_includes_the_root_changelog():
    page = (REPO_ROOT / "docs" / "changelog.md").read_text(encoding="utf-8")
    assert '--8<-- "CHANGELOG.md"' in page
    assert (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8").startswith("# Changelog")
