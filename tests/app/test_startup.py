"""Starting the window: the xcb check that replaces Qt's misleading abort, and the crash
log that keeps a Python stack of a native crash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from app.crash_log import FAULT_MARK, last_session_crashed
from app.platform_check import (
    DEBIAN_PACKAGES,
    debian_package,
    install_line,
    missing_libraries,
    uses_xcb,
    xcb_problem,
)

ROOT = Path(__file__).resolve().parents[2]
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
"""


def test_missing_libraries_become_the_debian_packages_that_hold_them() -> None:
    missing = missing_libraries(LDD_OUTPUT)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"]
    assert install_line(missing) == (
        "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0"
    )
    assert debian_package("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert debian_package("libX11-xcb.so.1") == "libx11-xcb1"
    assert debian_package("libdbus-1.so.3") == "libdbus-1-3"
    assert debian_package("libglib-2.0.so.0") == "libglib2.0-0"


def test_the_readme_apt_line_is_the_list_the_check_names() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- system-packages -->\s*```\s*(.*?)\s*```", readme, re.S)
    assert block is not None
    assert block.group(1).split() == ["sudo", "apt-get", "install", "-y", *DEBIAN_PACKAGES]


def test_xcb_is_checked_only_when_qt_would_choose_it() -> None:
    if not sys.platform.startswith("linux"):
        assert not uses_xcb({})
        return
    assert uses_xcb({})
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"})
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"})
    assert not uses_xcb({"WAYLAND_DISPLAY": "wayland-0"})
    assert uses_xcb({"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"})


def fake_ldd(folder: Path, output: str) -> Path:
    folder.mkdir(exist_ok=True)
    ldd = folder / "ldd"
    (folder / "ldd-output.txt").write_text(output, encoding="utf-8")
    ldd.write_text(f"#!/bin/sh\ncat '{folder / 'ldd-output.txt'}'\n", encoding="utf-8")
    ldd.chmod(0o755)
    return ldd


def test_the_problem_names_the_libraries_and_the_apt_line(tmp_path: Path) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    message = xcb_problem(plugin, str(fake_ldd(tmp_path / "bin", LDD_OUTPUT)))
    assert message is not None
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1, libxkbcommon-x11.so.0" in message
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0" in message
    clean = LDD_OUTPUT.replace("not found", "/lib/x.so (0x1)")
    assert xcb_problem(plugin, str(fake_ldd(tmp_path / "bin2", clean))) is None


def test_mtlabel_gui_prints_the_apt_line_instead_of_qts_abort(tmp_path: Path) -> None:
    """With the xcb platform and libraries missing (a stand-in ldd says so), the window
    does not start; the command says what to install and exits 3, no core dump."""
    bin_dir = tmp_path / "bin"
    fake_ldd(bin_dir, LDD_OUTPUT)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "QT_QPA_PLATFORM": "xcb",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DISPLAY", None)
    done = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "gui"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    if not sys.platform.startswith("linux"):
        return
    assert done.returncode == 3, done.stderr
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0" in (
        done.stderr
    )
    assert "Could not load the Qt platform plugin" not in done.stderr


CRASHING_CHILD = """
import faulthandler, sys
from pathlib import Path
from app.crash_log import enable
log, crashed = enable(Path(sys.argv[1]))
print(crashed, flush=True)
if sys.argv[2] == "crash":
    def paint_thumbnails():
        faulthandler._sigsegv()
    paint_thumbnails()
"""


def run_child(folder: Path, what: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, str(folder), what],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=False,
    )


def test_a_native_crash_leaves_its_python_stack_in_the_crash_log(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    first = run_child(folder, "crash")
    assert first.returncode != 0  # killed by SIGSEGV
    assert first.stdout.strip() == "False"
    log = folder / "crash.log"
    text = log.read_text(encoding="utf-8")
    assert FAULT_MARK in text and "paint_thumbnails" in text
    assert last_session_crashed(log)
    second = run_child(folder, "fine")  # the next start is told the last one crashed
    assert second.returncode == 0 and second.stdout.strip() == "True"
    assert not last_session_crashed(log)  # and a clean session clears it
