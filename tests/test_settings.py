"""Settings that depend on how Studio is started."""

import subprocess
import sys

import pytest
import requests

from tests.support.backends import sqlite_only
from tests.support.server import ROOT

PROBE = """
import os, sys
sys.argv = [{argv0!r}]
os.environ["DJANGO_SETTINGS_MODULE"] = "studio.settings"
import studio.asgi
from django.conf import settings
print("daphne" in settings.INSTALLED_APPS, "twisted" in sys.modules)
"""


def started_as(argv0, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "STUDIO_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv0=argv0)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


def test_manage_py_runserver_does_without_daphne_and_twisted_too(tmp_path):
    # It serves under uvicorn; only `runserver --server daphne` imports daphne.
    assert started_as(str(ROOT / "manage.py"), tmp_path) == ["False", "False"]


def test_the_team_command_under_uvicorn_does_without_daphne_and_twisted(tmp_path):
    assert started_as(str(ROOT / ".venv/bin/uvicorn"), tmp_path) == ["False", "False"]
    assert started_as("/usr/lib/python3/site-packages/uvicorn/__main__.py", tmp_path) == ["False", "False"]
    assert started_as("C:/studio/.venv/Scripts/uvicorn.exe", tmp_path) == ["False", "False"]


def cache_size_in_thread(name):
    import threading

    from django.db import connection

    found = []

    def probe():
        try:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size")
                found.append(cursor.fetchone()[0])
        finally:
            connection.close()

    thread = threading.Thread(target=probe, name=name)
    thread.start()
    thread.join()
    return found[0]


@sqlite_only
def test_the_agents_thread_gets_a_big_sqlite_cache_and_page_threads_a_small_one(db):
    from studio.db import AGENT_CACHE_KB, AGENT_THREAD_PREFIX

    assert cache_size_in_thread(f"{AGENT_THREAD_PREFIX}_0") == -AGENT_CACHE_KB
    assert cache_size_in_thread("studio-pages_0") == -4000


@pytest.mark.parametrize("kind", ["uvicorn", "runserver"])
def test_the_servers_write_no_line_per_request_but_still_log_failures(tmp_path, kind):
    from tests.support.server import StudioServer

    server = StudioServer(tmp_path / "data", server=kind).start()
    try:
        body = {"id": "quiet-run", "project": "Quiet", "name": "q", "pid": 1, "status": "running"}
        assert server.post("registerRun", body).status_code == 200
        assert server.post("pushMessage", {"runId": "no-such-run"}).status_code == 400
        assert requests.get(server.url + "/projects/NoSuchProject/").status_code == 404
    finally:
        server.stop()
    log = server.log()
    assert "/trpc/registerRun" not in log  # agents POST every streaming chunk: no line for each
    assert "Not Found: /projects/NoSuchProject/" in log
