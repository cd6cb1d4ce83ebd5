"""Opening a gallery in a web browser, where a graphical one is available."""

from __future__ import annotations

import webbrowser
from pathlib import Path

# Browsers Python's webbrowser falls back to in a terminal; they would take over the terminal `charmony` runs in.
TERMINAL_BROWSERS = {"www-browser", "links", "elinks", "lynx", "w3m"}


def open_in_browser(index: Path) -> bool:
    """Open `index` in the user's web browser; False when no graphical browser is available or it would not open."""
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if getattr(browser, "name", "") in TERMINAL_BROWSERS:
        return False
    try:
        return bool(browser.open(index.resolve().as_uri()))
    except webbrowser.Error:
        return False
