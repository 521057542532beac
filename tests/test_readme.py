"""The README's commands are the ones CI runs, and the files it names exist."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    command = ci[-1].strip()
    assert command.startswith("pip install")
    assert command in (ROOT / "README.md").read_text()


def test_sample_files_in_the_readme_exist():
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"sample_data/([\w.-]+\.(?:csv|parquet))", readme))
    assert named, "the README shows the sample data"
    for name in named:
        assert (ROOT / "sample_data" / name).exists(), name


def test_the_readme_is_a_users_page():
    """At most 300 lines; the note on CPU-only machines comes before the first command; every
    page it links to exists (the detail lives in docs/)."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    first_command = readme.index("```bash")
    assert readme.index("index-url https://download.pytorch.org/whl/cpu") < first_command
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link


def test_the_docs_say_what_the_code_does():
    """How many files the fuzz test feeds (its default), and that bf16 is any CPU's."""
    fuzz = (ROOT / "tests" / "cli" / "test_commands_fuzz.py").read_text()
    examples = re.search(r'"RNNCAST_FUZZ_EXAMPLES", "(\d+)"', fuzz).group(1)
    pages = {p.name: " ".join(p.read_text().split()) for p in (ROOT / "docs").glob("*.md")}
    pages["README.md"] = " ".join((ROOT / "README.md").read_text().split())
    for name in ("data.md", "unattended.md"):
        assert f"property-based test feeds {examples} generated CSV files" in pages[name]
    for name, text in pages.items():
        assert "hundreds of generated" not in text, name
        assert "CPUs that have bfloat16 instructions" not in text, name
