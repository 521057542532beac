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
