"""The body shared by the three .spec files: one Analysis per bundle, one EXE per entry point, one folder.

All executables of a bundle share one analysis (the bundle's whole package is collected, so every entry point's
modules are in the archive) and one `_internal` folder, so `vms-camsim` next to `vms-server` costs a launcher,
not a second copy of FFmpeg and onnxruntime.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bundles import BUNDLES, REPO, Bundle, Executable, executables
from PyInstaller.utils.hooks import collect_data_files, collect_submodules

LAUNCHER = """\
import multiprocessing
import sys

from {module} import {function} as _entry

if __name__ == "__main__":
    # Worker processes of a frozen program re-run this file; freeze_support lets them become workers.
    multiprocessing.freeze_support()
    sys.exit(_entry())
"""

# Extra packages whose data files (templates, WSDL, static assets) a bundle needs at run time.
DATA_PACKAGES: dict[str, tuple[str, ...]] = {
    "server": ("swagger_ui_bundle", "onvif", "alembic"),
    "desktop": (),
    "cloud": ("swagger_ui_bundle", "alembic"),  # vms_common.api.openapi serves Swagger UI from its files
}
# Sibling packages of the bundle's own that its other executables run (`vms-camsim` in the server bundle): the
# import analysis starts from the main executable only, and the server itself never imports the simulator.
SIBLINGS: dict[str, tuple[str, ...]] = {
    "server": ("vms_camsim",),
    "desktop": (),
    "cloud": (),
}
# Top-level folders of non-code resources a bundle ships beside its package (`ui/`: the desktop client's
# themes, icons and alarm sounds, found by vms_desktop.ui_theme next to the package); their scripts stay behind.
RESOURCE_FOLDERS: dict[str, tuple[str, ...]] = {
    "server": (),
    "desktop": ("ui",),
    "cloud": (),
}
# Modules loaded by name at run time (SQLAlchemy dialect drivers), invisible to the import analysis.
HIDDEN: dict[str, tuple[str, ...]] = {
    "server": ("aiosqlite", "asyncpg", "sqlalchemy.dialects.sqlite.aiosqlite",
               "sqlalchemy.dialects.postgresql.asyncpg", "vms_cloud_sync"),
    "desktop": (),
    "cloud": ("asyncpg", "sqlalchemy.dialects.postgresql.asyncpg"),
}


def _launcher(exe: Executable, workdir: Path) -> Path:
    path = workdir / f"launch_{exe.name.replace('-', '_')}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LAUNCHER.format(module=exe.module, function=exe.function))
    return path


def _datas(bundle: Bundle) -> list[tuple[str, str]]:
    datas: list[tuple[str, str]] = list(collect_data_files(bundle.package))
    # Alembic reads migration scripts from disk by path, so they ship as source files.
    datas += collect_data_files(bundle.package, include_py_files=True, includes=["**/migrations/**"])
    for package in DATA_PACKAGES[bundle.key]:
        datas += collect_data_files(package)
    for folder in RESOURCE_FOLDERS[bundle.key]:
        datas += [(str(path), str(path.parent.relative_to(REPO))) for path in sorted((REPO / folder).rglob("*"))
                  if path.is_file() and path.suffix != ".py"]
    return datas


def _icon(bundle: Bundle) -> str | None:
    icon = REPO / "installers" / "assets" / f"{bundle.name}.ico"
    return str(icon) if sys.platform == "win32" and icon.is_file() else None


def build(key: str, spec: dict[str, Any]) -> None:
    """Run inside a .spec file with its globals (Analysis, PYZ, EXE, COLLECT, workpath...)."""
    bundle = BUNDLES[key]
    exes, skipped = executables(bundle)
    for note in skipped:
        print(f"[vms] skipping {note}")
    if not exes or exes[0].name != bundle.name:
        raise SystemExit(f"[vms] bundle {bundle.name}: its main entry point does not exist yet")
    workdir = Path(spec["workpath"])
    launchers = [_launcher(exe, workdir) for exe in exes]
    hidden = collect_submodules(bundle.package) + list(HIDDEN[key])
    for sibling in SIBLINGS[key]:
        hidden += collect_submodules(sibling)
    if sys.platform == "win32" and key == "server":
        hidden += ["win32serviceutil", "win32service", "win32event", "servicemanager"]
    analysis = spec["Analysis"]([str(launchers[0])], pathex=[str(REPO)], datas=_datas(bundle),
                                hiddenimports=hidden, excludes=list(bundle.excludes), noarchive=False)
    pyz = spec["PYZ"](analysis.pure)
    main_script = launchers[0].stem
    runtime_hooks = [entry for entry in analysis.scripts if entry[0] != main_script]
    # On Windows a console program opens a console window: the operator's client is a windowed program.
    console = not (sys.platform == "win32" and key == "desktop")
    targets = []
    for exe, launcher in zip(exes, launchers, strict=True):
        scripts = [*runtime_hooks, (launcher.stem, str(launcher), "PYSOURCE")]
        targets.append(spec["EXE"](pyz, scripts, [], exclude_binaries=True, name=exe.name, console=console,
                                   strip=False, upx=False, icon=_icon(bundle)))
    extra_exes = _windows_service(bundle, spec, pyz, runtime_hooks, workdir)
    spec["COLLECT"](*targets, *extra_exes, analysis.binaries, analysis.datas, strip=False, upx=False,
                    name=bundle.name)


def _windows_service(bundle: Bundle, spec: dict[str, Any], pyz: Any, hooks: list[Any], workdir: Path) -> list[Any]:
    """On Windows the server bundle also gets `vms-server-service.exe`, the Service Control Manager's side."""
    if sys.platform != "win32" or bundle.key != "server":
        return []
    source = Path(__file__).with_name("winservice.py")
    return [spec["EXE"](pyz, [*hooks, ("winservice", str(source), "PYSOURCE")], [], exclude_binaries=True,
                        name="vms-server-service", console=True, strip=False, upx=False)]
