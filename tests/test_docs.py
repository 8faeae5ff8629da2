"""The docs are tested too: every setting and every command is documented."""

from __future__ import annotations

from pathlib import Path

import click

from registry.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented():
    configuration = (ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for env_name, _default in SETTINGS.values():
        assert f"`{env_name}`" in configuration, f"{env_name} missing from docs/CONFIGURATION.md"
        assert f"{env_name}=" in example, f"{env_name} missing from .env.example"


def test_every_command_is_documented(app):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # Every group the registry adds, found from the app so that a new one cannot go undocumented.
    ours = sorted(set(app.cli.commands) - {"run", "shell", "routes"})
    assert {"db", "demo", "users", "tokens", "import", "uploads"} <= set(ours)
    for group_name in ours:
        group = app.cli.commands[group_name]
        if not isinstance(group, click.Group):
            assert f"`{group_name} " in readme or f"`{group_name}`" in readme, f"'{group_name}' missing from README.md"
            continue
        for name in group.commands:
            assert f"`{group_name} {name}" in readme, f"'{group_name} {name}' missing from README.md"


def test_the_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("run", "test", "bench"):
        assert f"make {target}" in readme
        assert f"\n{target}:" in makefile


# Flask's and its extensions' own keys, set by the code rather than by a deployment.
FRAMEWORK_KEYS = {"BABEL_DOMAIN", "BABEL_TRANSLATION_DIRECTORIES", "WTF_CSRF_TIME_LIMIT", "TESTING"}


def test_every_config_key_the_code_reads_is_documented():
    import re

    configuration = (ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    pattern = re.compile(r"config(?:\.get\(|\.setdefault\(|\[)\"([A-Z][A-Z0-9_]+)\"")
    keys = set()
    for path in (ROOT / "registry").rglob("*.py"):
        keys |= set(pattern.findall(path.read_text(encoding="utf-8")))
    keys -= FRAMEWORK_KEYS
    keys -= set(SETTINGS)  # documented under their environment variable names
    assert keys, "the pattern found no keys at all"
    missing = sorted(k for k in keys if f"`{k}`" not in configuration)
    assert missing == []


def test_make_test_checks_the_import_contracts_first():
    import tomllib

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "lint-imports" in recipe, "make test (what .ci/run runs) must run lint-imports"
    assert recipe.index("lint-imports") < recipe.index("pytest")
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    architecture = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for contract in contracts["contracts"]:
        assert f"`{contract['id']}`" in architecture, f"contract {contract['id']} missing from docs/ARCHITECTURE.md"
