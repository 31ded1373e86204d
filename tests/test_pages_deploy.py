"""Production serving: the inspect file, scripts/serve-production.sh as a real replica, and the
`datasette publish` command line of `payerkb deploy publish` (checked against Datasette's own
publish command and the Dockerfile it would build, since no cloud can be reached from here)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from servers import free_port, serving
from click.testing import CliRunner

from payerkb import deploy
from payerkb.cli import SERVE_SETTINGS, datasette_command

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "metadata.yml"
BIN = Path(sys.executable).parent


@pytest.fixture()
def shippable(tmp_path, built_db) -> tuple[Path, Path]:
    """A built database with its search index, and a payerkb wheel in a plugins folder."""
    db = tmp_path / "payerkb.db"
    shutil.copy(built_db, db)
    index = deploy.whoosh_dir(built_db)
    if index.is_dir():
        shutil.copytree(index, deploy.whoosh_dir(db))
    else:  # the search index step is not in this build: stand in its table of contents
        deploy.whoosh_dir(db).mkdir()
        (deploy.whoosh_dir(db) / "_MAIN_1.toc").write_bytes(b"")
    wheel = tmp_path / "plugins" / "payerkb-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"")
    return db, wheel


def test_cloudrun_command_is_valid_for_datasette_publish_and_ships_index_and_plugin(shippable):
    from datasette.cli import cli as datasette_cli
    from datasette.utils import make_dockerfile

    db, wheel = shippable
    cmd = deploy.publish_command("cloudrun", "payerkb-test", db, wheel, metadata=METADATA,
                                 max_instances=4, version_note="abc123")
    assert cmd[1:4] == ["publish", "cloudrun", str(db)]
    cloudrun = datasette_cli.commands["publish"].commands["cloudrun"]
    params = cloudrun.make_context("cloudrun", cmd[3:]).params  # raises on any option it does not take
    assert params["service"] == "payerkb-test" and params["max_instances"] == 4
    dockerfile = make_dockerfile(
        [db.name], "metadata.json", params["extra_options"], None, None, params["plugins_dir"],
        params["static"], params["install"], False, params["version_note"], "secret")
    # payerkb (with its dependencies) is installed from the wheel copied into the image
    assert f"RUN pip install -U datasette plugins/{wheel.name}" in dockerfile
    cmd_line = dockerfile.split("CMD ", 1)[1]
    # immutable, with an inspect file, the metadata and payerkb's limits
    assert f"-i {db.name}" in cmd_line and "--inspect-file inspect-data.json" in cmd_line
    assert "--metadata metadata.json" in cmd_line
    for name, value in SERVE_SETTINGS.items():
        assert f"--setting {name} {value}" in cmd_line
    # the Whoosh index lands beside the database, where payerkb's search looks for it
    mount, source = params["static"][0]
    assert Path(source) == deploy.whoosh_dir(db).resolve()
    assert mount == deploy.whoosh_dir(Path("/app") / db.name).name == "payerkb.whoosh"
    assert f"--static {mount}:{mount}" in cmd_line


def test_fly_command_names_the_app_and_shares_the_rest(shippable):
    db, wheel = shippable
    fly = deploy.publish_command("fly", "payerkb-fly", db, wheel, metadata=METADATA)
    assert fly[1:3] == ["publish", "fly"] and fly[fly.index("--app") + 1] == "payerkb-fly"
    assert "--max-instances" not in fly and "--service" not in fly
    assert fly[fly.index("--static") + 1] == f"payerkb.whoosh:{deploy.whoosh_dir(db)}"
    with pytest.raises(deploy.DeployError, match="heroku"):
        deploy.publish_command("heroku", "x", db, wheel)


def test_deploy_refuses_without_database_or_search_index(tmp_path):
    db = tmp_path / "payerkb.db"
    with pytest.raises(deploy.DeployError, match=f"{db} does not exist"):
        deploy.check_ready(db, METADATA)
    db.write_bytes(b"")
    with pytest.raises(deploy.DeployError, match="payerkb.whoosh/ holds no search index"):
        deploy.check_ready(db, METADATA)
    result = CliRunner().invoke(deploy.deploy, ["publish", "cloudrun", "--db", str(db), "--dry-run"])
    assert result.exit_code == 1 and "holds no search index" in result.output


def test_publish_dry_run_builds_the_wheel_and_prints_the_command(shippable, monkeypatch, tmp_path):
    db, _ = shippable
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        if "wheel" in cmd:  # pip wheel: leave a wheel where it was asked to
            out = Path(cmd[cmd.index("-w") + 1])
            (out / "payerkb-0.1.0-py3-none-any.whl").write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(deploy.subprocess, "run", fake_run)
    monkeypatch.setattr(deploy, "DEPLOY_DIR", tmp_path / "deploy")
    result = CliRunner().invoke(deploy.deploy, ["publish", "cloudrun", "--db", str(db), "--metadata",
                                                str(METADATA), "--name", "kb", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "publish cloudrun" in result.output and "--service kb" in result.output
    assert "--install plugins/payerkb-0.1.0-py3-none-any.whl" in result.output
    assert not any("publish" in c for c in calls)  # dry run: datasette publish never ran


def test_inspect_file_is_written_and_used_only_while_fresh(tmp_path, built_db):
    db = tmp_path / "payerkb.db"
    shutil.copy(built_db, db)
    result = CliRunner().invoke(deploy.deploy, ["inspect", "--db", str(db)])
    assert result.exit_code == 0, result.output
    data = json.loads(deploy.inspect_path(db).read_text())
    assert data["payerkb"]["tables"]["payers"]["count"] > 0
    assert "--inspect-file" in datasette_command(db, 8001, "127.0.0.1", METADATA)
    later = deploy.inspect_path(db).stat().st_mtime + 10
    os.utime(db, (later, later))  # the database was rebuilt after the inspect file
    assert "--inspect-file" not in datasette_command(db, 8001, "127.0.0.1", METADATA)


def test_serve_production_script_runs_an_immutable_replica(tmp_path, built_db):
    db = tmp_path / "payerkb.db"
    shutil.copy(built_db, db)
    port = free_port()
    env = {**os.environ, "BUILD": "0", "DB": str(db), "HOST": "127.0.0.1", "PORT": str(port),
           "PAYERKB": str(BIN / "payerkb"), "PATH": f"{BIN}:{os.environ['PATH']}"}
    with serving(["bash", str(ROOT / "scripts" / "serve-production.sh")], port, env=env, seconds=40) as (base, _):
        get = lambda path: json.loads(urllib.request.urlopen(base + path, timeout=10).read())
        databases = get("/-/databases.json")
        assert databases[0]["is_mutable"] is False and databases[0]["hash"]
        settings = get("/-/settings.json")
        assert settings["sql_time_limit_ms"] == SERVE_SETTINGS["sql_time_limit_ms"]
        assert settings["max_returned_rows"] == SERVE_SETTINGS["max_returned_rows"]
        assert settings["suggest_facets"] is False and settings["num_sql_threads"] == SERVE_SETTINGS["num_sql_threads"]
        assert deploy.inspect_path(db).exists()
        assert get("/-/home.json")["counts"]["payers"] > 0


def test_serve_production_script_says_what_is_missing(tmp_path):
    env = {**os.environ, "BUILD": "0", "DB": str(tmp_path / "nothing.db"), "PAYERKB": str(BIN / "payerkb")}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "serve-production.sh")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "nothing.db does not exist" in out.stderr
