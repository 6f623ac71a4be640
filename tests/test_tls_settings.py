"""Behind a TLS proxy: the settings its environment variables give (studio/settings.py)."""

import subprocess
import sys

from tests.support.server import ROOT

PROBE = """
import django
from django.conf import settings
print(getattr(settings, "SECURE_PROXY_SSL_HEADER", None), settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)
"""


def settings_with(tmp_path, **env):
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "STUDIO_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_by_default_no_proxy_header_is_believed_and_cookies_go_over_http_too(tmp_path):
    assert settings_with(tmp_path) == "None False False"


def test_behind_a_tls_proxy_its_protocol_header_is_believed_and_cookies_are_https_only(tmp_path):
    assert settings_with(tmp_path, STUDIO_PROXY_SSL_HEADER="1") == "('HTTP_X_FORWARDED_PROTO', 'https') True True"
    assert settings_with(tmp_path, STUDIO_PROXY_SSL_HEADER="1", STUDIO_SECURE_COOKIES="0").endswith("False False")
    assert settings_with(tmp_path, STUDIO_SECURE_COOKIES="1") == "None True True"
