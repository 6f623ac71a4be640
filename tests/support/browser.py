"""Screenshots that browser tests save for a person to look at (test-artifacts/)."""

from .server import ROOT

ARTIFACTS = ROOT / "test-artifacts"


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def log_in(page, url, username, password, path="/"):
    """Log in on Studio's login page, as a person does, starting from `path`."""
    page.goto(url + path)
    page.wait_for_selector("#id_username")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click(".auth-card button[type=submit]")
