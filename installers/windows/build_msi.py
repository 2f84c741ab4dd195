#!/usr/bin/env python3
"""Build `vms-server-<version>-x64.msi` or `vms-desktop-<version>-x64.msi` from a bundle and the WiX source.

    python installers/build_bundle.py server && python installers/windows/build_msi.py server    (Windows)
    python installers/windows/build_msi.py server --placeholder                                (Linux test)

On Windows it runs WiX 3 (candle, light); elsewhere wixl (Debian package `wixl`), which reads the same
source. The bundle's files are harvested into a generated fragment: one component per file with a GUID
derived from the product and the file's path, so upgrades match components across versions.
`--placeholder` packs a small stand-in payload: the installer logic (service, shortcut, upgrade, data
folder) is tested on every CI run without a Windows build of the bundle.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "installers" / "pyinstaller"))
from bundles import version as source_version  # noqa: E402

PATH_DEFINES = ("BundleDir", "ConfigFile")
GUID_NAMESPACE = uuid.UUID("9b0c6f44-2f1e-4a53-8d8e-5f9a1b2c3d4e")


@dataclass(frozen=True)
class Product:
    name: str
    wxs: Path
    authored: tuple[str, ...]  # files the .wxs declares itself (they carry the service or the shortcut)
    placeholder: tuple[str, ...]  # stand-in payload for --placeholder


PRODUCTS = {
    "server": Product("vms-server", HERE / "vms-server.wxs", ("vms-server-service.exe",),
                      ("vms-server.exe", "vms-camsim.exe", "vms-server-service.exe", "_internal/python311.dll",
                       "_internal/vms_server/analytics/plugins/weights/NOTICE-person-detector.txt",
                       "_internal/vms_server/db/migrations/versions/0001_initial_schema.py")),
    "desktop": Product("vms-desktop", HERE / "vms-desktop.wxs", ("vms-desktop.exe",),
                       ("vms-desktop.exe", "_internal/python311.dll",
                        "_internal/PySide6/plugins/platforms/qwindows.dll")),
}


def _id(prefix: str, rel: str) -> str:
    return prefix + hashlib.sha1(rel.encode(), usedforsecurity=False).hexdigest()[:24]


def harvest(product: Product, bundle: Path) -> str:
    """A WiX fragment: the bundle's folders under INSTALLDIR and a component per file in `BundleFiles`."""
    refs: list[str] = []

    def walk(folder: Path, indent: str) -> list[str]:
        lines: list[str] = []
        for path in sorted(folder.iterdir()):
            rel = path.relative_to(bundle).as_posix()
            if path.is_dir():
                lines.append(f'{indent}<Directory Id="{_id("d", rel)}" Name={quoteattr(path.name)}>')
                lines += walk(path, indent + "  ")
                lines.append(f"{indent}</Directory>")
            elif rel not in product.authored:
                cid = _id("c", rel)
                guid = str(uuid.uuid5(GUID_NAMESPACE, f"{product.name}/{rel}")).upper()
                source = quoteattr(f"$(var.BundleDir)/{rel}")
                lines.append(f'{indent}<Component Id="{cid}" Guid="{guid}" Win64="yes">')
                lines.append(f'{indent}  <File Id="{_id("f", rel)}" Name={quoteattr(path.name)} '
                             f'Source={source} KeyPath="yes"/>')
                lines.append(f"{indent}</Component>")
                refs.append(cid)
        return lines

    body = walk(bundle, "      ")
    group = "\n".join(f'      <ComponentRef Id="{ref}"/>' for ref in refs)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">\n  <Fragment>\n'
            '    <DirectoryRef Id="INSTALLDIR">\n' + "\n".join(body) + "\n    </DirectoryRef>\n"
            '    <ComponentGroup Id="BundleFiles">\n' + group + "\n    </ComponentGroup>\n"
            "  </Fragment>\n</Wix>\n")


def make_placeholder(product: Product, root: Path) -> Path:
    bundle = root / product.name
    for rel in product.placeholder:
        path = bundle / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"placeholder for {rel}\n")
    return bundle


def msi_version(version: str) -> str:
    """MSI versions are major.minor.build numbers; drop anything after them (0.1.0rc1 -> 0.1.0)."""
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        parts.append(digits.split()[0] if digits else "0")
    return ".".join(parts + ["0"] * (3 - len(parts)))


def toolset() -> str:
    if sys.platform == "win32" and shutil.which("candle") and shutil.which("light"):
        return "wix3"
    if shutil.which("wixl"):
        return "wixl"
    raise SystemExit("error: no WiX toolset: install WiX 3 (candle, light) on Windows, or wixl (apt-get install wixl)")


def compile_msi(tool: str, sources: list[Path], defines: dict[str, str], out: Path, work: Path) -> None:
    if tool == "wixl":
        # wixl resolves File/@Source relative to the working directory only.
        defines = {k: (os.path.relpath(v, work) if k in PATH_DEFINES else v) for k, v in defines.items()}
        cmd = ["wixl", "-a", "x64", *(f"--define={k}={v}" for k, v in defines.items()), "-o", str(out),
               *map(str, sources)]
        subprocess.run(cmd, check=True, cwd=work)  # noqa: S603
        return
    objects = work / "obj"
    objects.mkdir(exist_ok=True)
    subprocess.run(["candle", "-nologo", "-arch", "x64", *(f"-d{k}={v}" for k, v in defines.items()),  # noqa: S603, S607
                    "-out", str(objects) + os.sep, *map(str, sources)], check=True)
    subprocess.run(["light", "-nologo", "-sval", "-out", str(out),  # noqa: S603, S607
                    *map(str, sorted(objects.glob("*.wixobj")))], check=True)


def build(kind: str, bundle: Path | None, out: Path, version: str, port: int, placeholder: bool) -> Path:
    product = PRODUCTS[kind]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vms-msi-") as tmp:
        work = Path(tmp)
        if placeholder:
            bundle = make_placeholder(product, work)
        assert bundle is not None
        for name in product.authored:
            if not (bundle / name).is_file():
                raise SystemExit(f"error: {bundle / name} missing; build the Windows bundle first "
                                 f"(python installers/build_bundle.py {kind} on Windows)")
        fragment = work / "bundle-files.wxs"
        fragment.write_text(harvest(product, bundle))
        defines = {"Version": msi_version(version), "BundleDir": bundle.as_posix(), "Port": str(port),
                   "ConfigFile": (HERE / "server.toml").as_posix()}
        msi = out / f"{product.name}-{defines['Version']}-x64.msi"
        compile_msi(toolset(), [product.wxs, fragment], defines, msi.resolve(), work)
    return msi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("product", choices=list(PRODUCTS))
    parser.add_argument("--bundle", type=Path, help="bundle folder (default build/installers/dist/vms-<product>)")
    parser.add_argument("--placeholder", action="store_true", help="pack a stand-in payload (installer tests)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "installers" / "msi", help="output folder")
    parser.add_argument("--version", default=None, help="product version (default: the source's __version__)")
    parser.add_argument("--port", type=int, default=8080, help="API port opened in the firewall (server)")
    args = parser.parse_args(argv)
    bundle = None if args.placeholder else (args.bundle or REPO / "build" / "installers" / "dist" /
                                            f"vms-{args.product}")
    try:
        msi = build(args.product, bundle, args.out, args.version or source_version(), args.port, args.placeholder)
    except subprocess.CalledProcessError as exc:
        print(f"error: {exc.cmd[0]} failed with exit code {exc.returncode}", file=sys.stderr)
        return 1
    print(msi)
    return 0


if __name__ == "__main__":
    sys.exit(main())
