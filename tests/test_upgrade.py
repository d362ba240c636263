"""`invoke deploy --chart-version X` over a deployment of another chart, as a user runs it:
a real hub of each chart's JupyterHub (the older one from a virtualenv of its own)."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from jupyterhub import dbutil

from fixtures.scratch import Contents
from hubharness import backup, chart, upgrades
from hubharness.errors import HarnessError
from hubharness.hubapi import UserSession
from hubharness.kernel import Kernel

NOTE = ("notes/kept.txt", b"written on the previous chart\n")


def _hub_version(url: str) -> str:
    return requests.get(f"{url}/hub/api/", timeout=10).json()["version"]


def test_only_a_move_to_an_older_chart_needs_force():
    assert upgrades.move("ns", None, "4.4.0", force=False) == ""
    assert upgrades.move("ns", "4.4.0", "4.4.0", force=False) == ""
    assert upgrades.move("ns", "4.2.0", "4.4.0", force=False) == "upgrade"
    assert upgrades.move("ns", "4.4.0", "4.2.0", force=True) == "downgrade"
    with pytest.raises(HarnessError, match=r"runs chart 4\.4\.0 .* pass --force"):
        upgrades.move("ns", "4.4.0", "4.2.0", force=False)


def test_the_upgrade_check_starts_from_4_2_0_or_the_chart_named_or_the_one_before():
    assert upgrades.upgrade_from("4.4.0") == upgrades.upgrade_from("4.3.5") == "4.2.0"
    assert upgrades.upgrade_from("4.2.0") == "4.1.0"
    assert upgrades.upgrade_from("4.0.0") is None
    assert upgrades.upgrade_from("4.4.0", given="4.0.0") == "4.0.0"
    with pytest.raises(HarnessError, match="not older than chart 4.2.0"):
        upgrades.upgrade_from("4.2.0", given="4.4.0")
    with pytest.raises(HarnessError, match="unknown chart version"):
        upgrades.upgrade_from("4.4.0", given="3.9.9")


def test_an_upgrade_keeps_a_logged_in_users_server_kernel_and_files_and_a_downgrade_is_refused(harness):
    old, new = upgrades.upgrade_from(chart.DEFAULT_CHART_VERSION), chart.DEFAULT_CHART_VERSION
    assert old is not None
    ran = harness.deploy("upg", "--chart-version", old, timeout=900)  # may install the old JupyterHub first
    assert ran.code == 0, ran.err
    url = harness.status("upg")["hub_url"]
    assert _hub_version(url) == chart.hub_version(old)
    password = json.loads((harness.state_dir("upg") / "secrets" / "urbalurba-secrets.json").read_text())
    gil = UserSession(url, "gil", password["JUPYTERHUB_AUTH_PASSWORD"])
    api = gil.api()
    api.start_server("gil")
    before = api.wait_server_ready("gil", 120)
    server_url = f"{url}{before['url']}".rstrip("/")
    Contents(server_url, api).put(*NOTE)
    kernel = Kernel(server_url, api.token).start()
    kernel.run("x = 'kept'", timeout=60)
    kernel.disconnect()

    ran = harness.deploy("upg")
    assert ran.code == 0, ran.err
    assert ran.out.startswith(f"upgraded (chart {old} → {new}, JupyterHub {chart.hub_version(old)} → "), ran.out
    backup = next(line for line in ran.out.splitlines() if "database: backed up to " in line)
    copy = backup.split("backed up to ", 1)[1].split(";", 1)[0]
    assert oct(os.stat(copy).st_mode & 0o777) == "0o600"
    with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as db:
        assert ("gil",) in db.execute("SELECT name FROM users").fetchall()
    assert _hub_version(url) == chart.hub_version(new)
    assert harness.status("upg")["chart"] == new

    after = api.server("gil")
    assert after and after["ready"] and after["started"] == before["started"], f"gil's server: {after}"
    assert gil.session.get(f"{url}/hub/home", timeout=10, allow_redirects=False).status_code == 200
    kernel = Kernel(server_url, api.token).attach(kernel.kernel_id or "")
    assert kernel.run("print(x)", timeout=30).stdout.strip() == "kept"
    kernel.disconnect()
    assert Contents(server_url, api).get(NOTE[0]) == NOTE[1]

    refused = harness.deploy("upg", "--chart-version", old)
    assert refused.code != 0 and len(refused.err_lines) == 1, refused.err
    assert "--force" in refused.err and f"runs chart {new}" in refused.err
    assert _hub_version(url) == chart.hub_version(new), "a refused downgrade changed the running hub"
    assert api.server("gil")["started"] == before["started"]
    assert harness.invoke("remove", "--namespace", "upg", "--purge").code == 0


def _one_schema_back(db: str, tmp_path) -> str:
    """Take a hub database one migration back with JupyterHub's own alembic scripts: the
    database an older JupyterHub left (restored from its backup, say)."""
    ini = tmp_path / "alembic.ini"
    dbutil.write_alembic_ini(str(ini), f"sqlite:///{db}")
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ini), "downgrade", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return backup.schema_revision(Path(db)) or ""


def test_a_database_on_an_older_schema_is_backed_up_then_upgraded_before_the_hub_starts(harness, tmp_path):
    assert harness.deploy("schema").code == 0
    url = harness.status("schema")["hub_url"]
    password = json.loads((harness.state_dir("schema") / "secrets" / "urbalurba-secrets.json").read_text())
    UserSession(url, "hal", password["JUPYTERHUB_AUTH_PASSWORD"])  # hal is in the database
    assert harness.invoke("remove", "--namespace", "schema").code == 0  # keeps it
    db = harness.state_dir("schema") / "jupyterhub.sqlite"
    head = backup.schema_revision(db)
    older = _one_schema_back(str(db), tmp_path)
    assert older and older != head

    ran = harness.deploy("schema")
    assert ran.code == 0, ran.err
    line = next(line for line in ran.out.splitlines() if "database: backed up to " in line)
    assert line.endswith(f"schema {older} → {head} (jupyterhub upgrade-db)"), line
    copy = Path(line.split("backed up to ", 1)[1].split(";", 1)[0])
    assert backup.schema_revision(copy) == older, "the backup was taken after the upgrade"
    assert backup.schema_revision(db) == head
    hal = UserSession(url, "hal", password["JUPYTERHUB_AUTH_PASSWORD"]).api().user("hal")
    assert hal and hal["created"] < hal["last_activity"], f"hal as the upgraded hub has him: {hal}"
    assert harness.invoke("remove", "--namespace", "schema", "--purge").code == 0
