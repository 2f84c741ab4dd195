"""`vms-server-service.exe`: the Windows side of the server bundle (only built on Windows).

The Service Control Manager needs a program that speaks its protocol; the server itself is a console program.
This helper is that program: it runs `vms-server.exe run` as a child, stops it when the service stops, and
exits abnormally when the child dies so that the service's recovery actions (restart on failure) apply. The
MSI also calls it (custom actions, as LocalSystem) to do what the DEB's postinst does: first-time init with a
generated admin password, migrations on upgrade, recovery options and the firewall rule, and, when asked,
removal of the data at uninstall.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
from pathlib import Path

SERVICE = "VMSServer"
FIREWALL_RULE = "VMS Server"
STOP_TIMEOUT = 30


def bundle_dir() -> Path:
    return Path(sys.executable).resolve().parent


def data_dir() -> Path:
    return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "VMS"


def server(*args: str) -> list[str]:
    return [str(bundle_dir() / "vms-server.exe"), "--config", str(data_dir() / "server.toml"), *args]


def _run(cmd: list[str], check: bool = True, env: dict[str, str] | None = None) -> int:
    return subprocess.run(cmd, check=check, env=env, capture_output=True).returncode  # noqa: S603


def initialise() -> None:
    """First install: init with a random admin password readable by Administrators only; later: migrate."""
    data = data_dir()
    if (data / "secret.key").exists():
        _run(server("migrate"))
        return
    password = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))
    note = data / "initial-admin-password.txt"
    note.write_text(f"user: admin\npassword: {password}\nLog in, enrol TOTP, change it, then delete this file.\n")
    _run(["icacls", str(note), "/inheritance:r", "/grant:r", "*S-1-5-32-544:F", "*S-1-5-18:F"])
    _run(server("init"), env={**os.environ, "VMS_ADMIN_PASSWORD": password})


def configure(port: int) -> None:
    initialise()
    # Restart after 5 s, 10 s, then every minute; count a non-zero exit as a failure too.
    _run(["sc.exe", "failure", SERVICE, "reset=", "86400", "actions=",
          "restart/5000/restart/10000/restart/60000"])
    _run(["sc.exe", "failureflag", SERVICE, "1"])
    unconfigure()
    _run(["netsh", "advfirewall", "firewall", "add", "rule", f"name={FIREWALL_RULE}", "dir=in",
          "action=allow", "protocol=TCP", f"localport={port}", f"program={bundle_dir() / 'vms-server.exe'}"])


def unconfigure() -> None:
    _run(["netsh", "advfirewall", "firewall", "delete", "rule", f"name={FIREWALL_RULE}"], check=False)


def remove_data() -> None:
    shutil.rmtree(data_dir(), ignore_errors=True)


def serve() -> None:
    import servicemanager
    import win32event
    import win32service
    import win32serviceutil

    class VmsService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
        _svc_name_ = SERVICE
        _svc_display_name_ = "VMS Server"

        def __init__(self, args: object) -> None:
            super().__init__(args)
            self.stop_event = win32event.CreateEvent(None, 0, 0, None)

        def SvcStop(self) -> None:  # noqa: N802 (pywin32's name)
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=(STOP_TIMEOUT + 5) * 1000)
            win32event.SetEvent(self.stop_event)

        def SvcDoRun(self) -> None:  # noqa: N802
            logs = data_dir() / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            log = logs / "server.log"
            if log.exists() and log.stat().st_size > 50_000_000:
                log.replace(logs / "server.log.1")
            with log.open("ab") as out:
                child = subprocess.Popen(server("run"), stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                         creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
                while True:
                    if win32event.WaitForSingleObject(self.stop_event, 1000) == win32event.WAIT_OBJECT_0:
                        child.send_signal(signal.CTRL_BREAK_EVENT)
                        try:
                            child.wait(STOP_TIMEOUT)
                        except subprocess.TimeoutExpired:
                            child.kill()
                        return
                    if child.poll() is not None:
                        servicemanager.LogErrorMsg(f"vms-server exited with {child.returncode}; see {log}")
                        os._exit(1)  # an abnormal end: the SCM's recovery actions restart the service

    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(VmsService)
    servicemanager.StartServiceCtrlDispatcher()


def main() -> int:
    if len(sys.argv) == 1:
        serve()
        return 0
    parser = argparse.ArgumentParser(prog="vms-server-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    conf = sub.add_parser("configure", help="init or migrate, recovery options, firewall rule (MSI install)")
    conf.add_argument("--port", type=int, default=8080)
    sub.add_parser("unconfigure", help="remove the firewall rule (MSI uninstall)")
    sub.add_parser("remove-data", help="delete %%ProgramData%%\\VMS (MSI uninstall with REMOVEDATA=1)")
    args = parser.parse_args()
    if args.command == "configure":
        configure(args.port)
    elif args.command == "unconfigure":
        unconfigure()
    else:
        remove_data()
    return 0


if __name__ == "__main__":
    sys.exit(main())
