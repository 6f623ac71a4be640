"""Screenshots that browser tests save for a person to look at (test-artifacts/)."""

from .server import ROOT

ARTIFACTS = ROOT / "test-artifacts"


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
