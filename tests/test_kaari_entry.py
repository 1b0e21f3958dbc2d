"""The `kaari` console script: `kaari client …` reaches the client, the rest the server."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import kaari_entry


def test_the_console_script_is_the_entry_module() -> None:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"kaari": "kaari_entry:main"}


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["--help"], "usage: kaari [-h] {serve,"),
        (["client", "--help"], "usage: kaari client [-h]"),
        (["client", "homework", "--help"], "usage: kaari client homework [-h]"),
    ],
)
def test_commands_go_to_the_server_or_the_client(
    argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        kaari_entry.main(argv)
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(usage)


def test_the_server_cli_points_client_commands_to_the_entry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli import main as server_main

    assert server_main(["client", "login", "--server", "http://x"]) == 2
    assert "kaari client" in capsys.readouterr().err
