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


def test_lazy_commands_are_listed_with_their_own_help_and_load_when_called():
    """`payerkb --help` lists every command without importing it; the one-line help it shows is
    the command's own, and each command loads when called."""
    from payerkb.cli import LAZY_COMMANDS, _lazy_command

    listing = CliRunner().invoke(cli, ["--help"])
    assert listing.exit_code == 0
    for name, (_, _, short) in LAZY_COMMANDS.items():
        command = _lazy_command(name)
        assert command.get_short_help_str(limit=45) == short, name
        assert name in listing.output
        assert CliRunner().invoke(cli, [name, "--help"]).exit_code == 0, name
