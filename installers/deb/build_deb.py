#!/usr/bin/env python3
"""Build `vms-server_<version>-<rev>_amd64.deb` or `vms-desktop_...deb` from a PyInstaller bundle with dpkg-deb.

    python installers/build_bundle.py server && python installers/deb/build_deb.py server

No network: everything comes from the bundle and the files beside this script. The package installs the
bundle under /usr/lib/<package>/ and links its executables into /usr/bin.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "installers" / "pyinstaller"))
from bundles import version as source_version  # noqa: E402

MAINTAINER = "VMS team <vms@example.com>"


@dataclass(frozen=True)
class Package:
    name: str
    summary: str
    description: str
    depends: tuple[str, ...]
    section: str


PACKAGES = {
    "server": Package(
        "vms-server", "video management server: recording, analytics and API",
        "Records IP cameras (RTSP/ONVIF), runs video analytics and serves the REST and\n"
        "WebSocket API that the operator desktop and the cloud sync use. Runs as the\n"
        "systemd service vms-server under the vms user, configured in\n"
        "/etc/vms/server.toml, with its data under /var/lib/vms. Includes vms-camsim,\n"
        "a camera simulator for tests and demos.",
        ("adduser",), "video"),
    "desktop": Package(
        "vms-desktop", "video management operator client",
        "The control-room client of the VMS: video walls, PTZ control with on-screen\n"
        "and USB joysticks, the alarm queue, playback and evidence export. Connects\n"
        "to a vms-server on the LAN.",
        ("libgl1", "libegl1", "libfontconfig1", "libxkbcommon0", "libxkbcommon-x11-0", "libdbus-1-3",
         "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libglib2.0-0"), "video"),
}


def glibc_version() -> str:
    """The bundle's libraries were linked on this machine: the target needs at least its C library."""
    name, ver = platform.libc_ver()
    return ver if name == "glibc" and ver else "2.31"


def stage_bundle(bundle: Path, root: Path, package: Package) -> list[str]:
    """Hard-link (or copy) the bundle to /usr/lib/<package> and link its executables into /usr/bin."""
    target = root / "usr" / "lib" / package.name
    try:
        shutil.copytree(bundle, target, copy_function=os.link, symlinks=True)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(bundle, target, symlinks=True)
    executables: list[str] = json.loads((bundle / "build-info.json").read_text())["executables"]
    (root / "usr" / "bin").mkdir(parents=True)
    for exe in executables:
        (root / "usr" / "bin" / exe).symlink_to(f"../lib/{package.name}/{exe}")
    return executables


def install(source: Path, dest: Path, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    dest.chmod(mode)


def changelog(package: Package, version: str) -> bytes:
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    text = (f"{package.name} ({version}) stable; urgency=medium\n\n"
            f"  * Release {version}; see the project's release notes.\n\n"
            f" -- {MAINTAINER}  {date}\n")
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def stage_docs(root: Path, package: Package, version: str) -> None:
    doc = root / "usr" / "share" / "doc" / package.name
    install(HERE / "copyright", doc / "copyright")
    (doc / "changelog.Debian.gz").write_bytes(changelog(package, version))
    readme = HERE / package.name.removeprefix("vms-") / "README.Debian"
    if readme.is_file():
        install(readme, doc / "README.Debian")
    overrides = HERE / package.name.removeprefix("vms-") / "lintian-overrides"
    if overrides.is_file():
        install(overrides, root / "usr" / "share" / "lintian" / "overrides" / package.name)


def stage_server(root: Path, debian: Path) -> None:
    src = HERE / "server"
    install(src / "server.toml", root / "etc" / "vms" / "server.toml")
    install(src / "vms-server.service", root / "lib" / "systemd" / "system" / "vms-server.service")
    for script in ("postinst", "prerm", "postrm"):
        install(src / script, debian / script, 0o755)
    (debian / "conffiles").write_text("/etc/vms/server.toml\n")


def stage_desktop(root: Path) -> None:
    install(HERE / "desktop" / "vms-desktop.desktop", root / "usr" / "share" / "applications" / "vms-desktop.desktop")
    install(REPO / "installers" / "assets" / "vms-desktop.svg",
            root / "usr" / "share" / "icons" / "hicolor" / "scalable" / "apps" / "vms-desktop.svg")


def normalise_modes(root: Path) -> None:
    """Directories 0755, shared libraries and data 0644, programs 0755 (as the bundle had them)."""
    for path in root.rglob("*"):
        if path.is_symlink() or path.name == "DEBIAN":
            continue
        if path.is_dir():
            path.chmod(0o755)
        elif path.parent.name != "DEBIAN":
            library = path.name.endswith(".so") or ".so." in path.name
            path.chmod(0o755 if path.stat().st_mode & 0o111 and not library else 0o644)


def control(root: Path, debian: Path, package: Package, version: str) -> None:
    size_kib = sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and "DEBIAN" not in p.parts) // 1024
    depends = ", ".join([f"libc6 (>= {glibc_version()})", *package.depends])
    summary_lines = "\n".join(f" {line}" if line else " ." for line in package.description.splitlines())
    (debian / "control").write_text(
        f"Package: {package.name}\nVersion: {version}\nArchitecture: amd64\nMaintainer: {MAINTAINER}\n"
        f"Installed-Size: {size_kib}\nDepends: {depends}\nSection: {package.section}\nPriority: optional\n"
        f"Homepage: https://github.com/softdew/vms-platform\nDescription: {package.summary}\n{summary_lines}\n")
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and "DEBIAN" not in p.parts):
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        lines.append(f"{digest}  {path.relative_to(root)}\n")
    (debian / "md5sums").write_text("".join(lines))
    (debian / "md5sums").chmod(0o644)
    (debian / "control").chmod(0o644)


def build(kind: str, bundle: Path, out: Path, version: str, compression: str, level: int | None) -> Path:
    package = PACKAGES[kind]
    if not (bundle / package.name).is_file():
        raise SystemExit(f"error: no bundle at {bundle}; run: python installers/build_bundle.py {kind}")
    stage = out / "stage" / package.name
    shutil.rmtree(stage, ignore_errors=True)
    debian = stage / "DEBIAN"
    debian.mkdir(parents=True)
    stage_bundle(bundle, stage, package)
    (stage_server(stage, debian) if kind == "server" else stage_desktop(stage))
    stage_docs(stage, package, version)
    normalise_modes(stage)
    control(stage, debian, package, version)
    deb = out / f"{package.name}_{version}_amd64.deb"
    if level is None:
        level = {"xz": 6, "gzip": 6, "zstd": 19, "none": 0}[compression]
    cmd = ["dpkg-deb", "--root-owner-group", f"-Z{compression}", f"-z{level}", "--build", str(stage), str(deb)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    shutil.rmtree(stage)
    if not any(stage.parent.iterdir()):
        stage.parent.rmdir()
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", choices=list(PACKAGES))
    parser.add_argument("--bundle", type=Path, help="bundle folder (default build/installers/dist/vms-<package>)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "installers" / "deb", help="output folder")
    parser.add_argument("--version", default=None, help="upstream version (default: the source's __version__)")
    parser.add_argument("--revision", default="1", help="Debian revision; bump it for a rebuild of one version")
    parser.add_argument("--compression", choices=["xz", "gzip", "zstd", "none"], default="xz",
                        help="xz (default) is smallest; gzip builds fastest; lintian refuses none")
    parser.add_argument("--level", type=int, choices=range(10), metavar="0-9",
                        help="compression level (default: xz 6, gzip 6, zstd 19)")
    args = parser.parse_args(argv)
    if shutil.which("dpkg-deb") is None:
        print("error: dpkg-deb not found (Debian/Ubuntu only)", file=sys.stderr)
        return 2
    bundle = args.bundle or REPO / "build" / "installers" / "dist" / f"vms-{args.package}"
    version = f"{args.version or source_version()}-{args.revision}"
    args.out.mkdir(parents=True, exist_ok=True)
    deb = build(args.package, bundle.resolve(), args.out.resolve(), version, args.compression, args.level)
    print(f"{deb} ({deb.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
