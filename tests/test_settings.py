"""Settings that depend on how Studio is started."""

import subprocess
import sys

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
    result = subprocess.run([sys.executable, "-c", PROBE.format(argv0=argv0)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.split()


def test_manage_py_runserver_has_daphne(tmp_path):
    assert started_as(str(ROOT / "manage.py"), tmp_path) == ["True", "True"]


def test_the_team_command_under_uvicorn_does_without_daphne_and_twisted(tmp_path):
    assert started_as(str(ROOT / ".venv/bin/uvicorn"), tmp_path) == ["False", "False"]
    assert started_as("/usr/lib/python3/site-packages/uvicorn/__main__.py", tmp_path) == ["False", "False"]
