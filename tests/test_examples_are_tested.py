"""Every example in examples/ is run by some test (the docs include them, so they must work)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _test_sources() -> str:
    files = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("integrations/*/tests/**/*.py")]
    return "\n".join(f.read_text() for f in files if f.name != Path(__file__).name)


def test_every_example_is_exercised_by_a_test():
    sources = _test_sources()
    examples = [
        p
        for p in (ROOT / "examples").iterdir()
        if p.name not in ("__init__.py", "__pycache__") and not p.name.startswith(".")
    ]
    assert examples
    untested = []
    for example in examples:
        stem = example.stem
        spellings = (
            f'"{stem}"',
            f"examples/{example.name}",
            f"examples.{stem}",
            f'/ "{example.name}"',
        )
        if not any(s in sources for s in spellings):
            untested.append(example.name)
    assert not untested, f"examples no test runs: {untested}"
