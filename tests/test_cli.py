from click.testing import CliRunner

from payerkb.cli import cli


def test_help_lists_the_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("validate", "build", "serve"):
        assert f"  {command}" in result.output


def test_serve_refuses_a_missing_database(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "nope.db")])
    assert result.exit_code == 1
    assert "run `payerkb build` first" in result.output
