"""How `manage.py runserver`'s serving child ends on a code change (studio/management/commands/
runserver.py): at once, with the exit code on which the autoreloader's parent starts a new one."""

import os
import subprocess
import sys

from studio.management.commands.runserver import RELOAD_EXIT_CODE, _exit_at_once_on_a_change
from tests.support.server import ROOT

# A thread that never ends, as a request the change interrupted: sys.exit would wait for it.
CHANGED_WITH_A_THREAD_HELD_UP = """
import threading
import django
django.setup()
from studio.management.commands.runserver import _exit_at_once_on_a_change
threading.Thread(target=threading.Event().wait).start()
_exit_at_once_on_a_change(None, file_path="/project/runs/models.py")
print("still running")
"""


def test_a_python_files_change_ends_the_process_at_once_with_the_reload_code(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings", "STUDIO_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", CHANGED_WITH_A_THREAD_HELD_UP],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == RELOAD_EXIT_CODE == 3, done.stderr  # 3: the autoreloader's "restart me"
    output = done.stdout + done.stderr
    assert "/project/runs/models.py changed, reloading." in output  # Django's own line, still logged
    assert "still running" not in output


def test_a_templates_change_leaves_the_reload_to_django():
    # None: not handled here, so Django's receiver (a template change resets the loaders) decides.
    assert _exit_at_once_on_a_change(None, file_path="/project/templates/runs/run.html") is None
