"""Before the window starts on Linux: can Qt's xcb plugin load its system libraries?

Qt's own message when it cannot ("Could not load the Qt platform plugin "xcb" …
xcb-cursor0 or libxcb-cursor0 is needed") names one library whatever is missing, and
then aborts. ``ldd`` on the plugin names the libraries that are really missing; this
module turns them into the one ``apt-get install`` line that fixes them. macOS and
Windows need nothing: the PySide6 wheels carry what Qt needs there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

DEBIAN_PACKAGES = (
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-render-util0",
    "libxcb-randr0",
    "libxcb-shape0",
    "libxcb-xfixes0",
    "libxcb-xkb1",
    "libxkbcommon-x11-0",
    "libx11-xcb1",
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libdbus-1-3",
)
"""What the README's apt line installs: every Debian/Ubuntu package the xcb plugin
needs beyond a minimal system (the rest come in as their dependencies)."""

# Libraries whose Debian package name does not follow the usual rule.
_PACKAGE_OF = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libstdc++.so.6": "libstdc++6",
    "libfreetype.so.6": "libfreetype6",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def debian_package(soname: str) -> str:
    """``libxcb-icccm.so.4`` → ``libxcb-icccm4``; ``libxkbcommon-x11.so.0`` →
    ``libxkbcommon-x11-0`` (Debian puts a dash before the version when the name ends in
    a digit)."""
    if soname in _PACKAGE_OF:
        return _PACKAGE_OF[soname]
    name, _, version = soname.partition(".so.")
    name = name.lower()
    version = version.split(".")[0]
    if not version:
        return name
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames ``ldd`` reported as "not found", in order, once each."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd_output)))


def install_line(sonames: Iterable[str]) -> str:
    packages = sorted({debian_package(s) for s in sonames})
    return "sudo apt-get install -y " + " ".join(packages)


def xcb_plugin() -> Path | None:
    """The xcb platform plugin of the installed PySide6, if it has one."""
    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    plugin = plugins / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def uses_xcb(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """Whether Qt will pick the xcb platform: on Linux, unless another one is asked for
    (``QT_QPA_PLATFORM=offscreen``, ``wayland`` …) or a Wayland session is there."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return False
    asked = env.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(";")[0].split(":")[0] == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def xcb_problem(plugin: Path | None = None, ldd: str | None = None) -> str | None:
    """A message naming the missing libraries and the apt line, or None when the plugin
    would load (or cannot be checked: no plugin, no ``ldd``)."""
    plugin = plugin or xcb_plugin()
    ldd = ldd or shutil.which("ldd")
    if plugin is None or ldd is None:
        return None
    try:
        out = subprocess.run(
            [ldd, str(plugin)], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    missing = missing_libraries(out)
    if not missing:
        return None
    return (
        "mtlabel: the window cannot start: Qt's xcb platform plugin needs system "
        f"libraries that are not installed ({', '.join(missing)}).\n"
        "On Debian or Ubuntu install them with:\n\n"
        f"    {install_line(missing)}\n\n"
        "(or the README's full line: sudo apt-get install -y "
        + " ".join(DEBIAN_PACKAGES)
        + ")\nWithout a screen, QT_QPA_PLATFORM=offscreen runs the window headless."
    )
