"""Which one-folder bundles exist and which executables go into each.

Entry points are discovered rather than listed by hand: every `[project.scripts]` entry of pyproject.toml whose
module belongs to a bundle's package goes into that bundle, plus the entry points a bundle is known to grow
(`vms_cloud_sync.cli:main`) once their module exists. A new console script therefore needs no change here, and a
bundle whose entry point has not been written yet is skipped with a message instead of failing the build.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Executable:
    name: str  # file name in the bundle, e.g. vms-camsim
    module: str  # vms_camsim.cli
    function: str  # main

    def source(self) -> Path:
        """The module's file in the checkout (a package's __main__ counts)."""
        base = REPO.joinpath(*self.module.split("."))
        package = base / "__init__.py"
        return package if package.is_file() else base.with_suffix(".py")

    def exists(self) -> bool:
        return self.source().is_file()


@dataclass(frozen=True)
class Bundle:
    key: str  # server | desktop | cloud
    name: str  # folder and main executable name
    package: str  # the import package the bundle ships
    expected: dict[str, str] = field(default_factory=dict)  # executable -> "module:function" known to be coming
    excludes: tuple[str, ...] = ()  # heavy packages that must not be dragged in by a stray import


BUNDLES: dict[str, Bundle] = {
    "server": Bundle("server", "vms-server", "vms_server",
                     {"vms-server": "vms_server.cli.main:main", "vms-camsim": "vms_camsim.cli:main"},
                     excludes=("PySide6", "PyQt5", "PyQt6", "tkinter", "pygame", "matplotlib", "IPython", "pytest")),
    "desktop": Bundle("desktop", "vms-desktop", "vms_desktop", {"vms-desktop": "vms_desktop.__main__:main"},
                      excludes=("tkinter", "matplotlib", "IPython", "pytest", "onnxruntime", "cv2")),
    # The cloud runs on vms_common alone: excluding the other parts makes a stray import fail the build's
    # smoke test instead of silently shipping the recording server.
    "cloud": Bundle("cloud", "vms-cloud", "vms_cloud_sync", {"vms-cloud": "vms_cloud_sync.cli:main"},
                    excludes=("PySide6", "tkinter", "pygame", "matplotlib", "IPython", "pytest", "onnxruntime",
                              "cv2", "av", "vms_server", "vms_camsim", "vms_desktop")),
}


def project_scripts() -> dict[str, str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    scripts: dict[str, str] = data.get("project", {}).get("scripts", {})
    return scripts


def executables(bundle: Bundle) -> tuple[list[Executable], list[str]]:
    """The bundle's executables whose module exists (main one first), and a note for each one skipped."""
    targets = dict(bundle.expected)
    for script, target in project_scripts().items():
        if target.split(":")[0].split(".")[0] == bundle.package:
            targets[script] = target
    found: list[Executable] = []
    skipped: list[str] = []
    for name in sorted(targets, key=lambda n: (n != bundle.name, n)):
        module, _, function = targets[name].partition(":")
        exe = Executable(name, module, function or "main")
        if exe.exists():
            found.append(exe)
        else:
            skipped.append(f"{name}: entry point {targets[name]} does not exist yet ({exe.source()} missing)")
    return found, skipped


def version() -> str:
    """The suite's version, read from the source so the build needs no import of the application."""
    for line in (REPO / "vms_common" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise RuntimeError("vms_common/__init__.py has no __version__")
