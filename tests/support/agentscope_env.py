"""Virtual environments holding the real agentscope client, apart from Studio's own packages.

Created once under .cache/ (the README's test command does it up front; a test that needs one
creates it if missing). A test runs a script from tests/e2e/agents/ with that interpreter.
"""

import os
import subprocess
import sys

from .server import ROOT

CACHE = ROOT / ".cache"
# 1.0.21 fails on import without the three extras (see shared/reference/CLIENT-FACTS.md); 2.x
# needs none (it brings the OpenTelemetry SDK and exporter, its only way to reach Studio).
EXTRAS = ["mcp<2", "greenlet", "tqdm"]


def extras(version):
    return [] if version.startswith("2.") else EXTRAS


AGENTS = ROOT / "tests" / "e2e" / "agents"


def agentscope_python(version):
    venv = CACHE / f"agentscope-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"agentscope=={version}", *extras(version)], check=True
        )
        marker.write_text(version)
    return python


def run_agent(version, script, studio_url, *args, timeout=120, env=None, **popen):
    """Run tests/e2e/agents/<script> with agentscope <version>; returns the CompletedProcess."""
    python = agentscope_python(version)
    full_env = {**os.environ, "STUDIO_URL": studio_url, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [str(python), str(AGENTS / script), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def start_agent(version, script, studio_url, *args, env=None):
    """Start an agent script in the background (it waits for input, say); returns the Popen."""
    python = agentscope_python(version)
    full_env = {**os.environ, "STUDIO_URL": studio_url, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen(
        [str(python), str(AGENTS / script), *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
