"""Profile S management operations driven by the classic, synchronous onvif-zeep client (its own WSDL
files, WS-Security UsernameToken digest): users and their authentication, network settings read back,
encoder settings kept or refused, factory default, PTZ home. Runs in a subprocess (see
onvif_classic_driver.py for why) and prints what it saw as JSON for test_onvif_profile_s.py to check.
Usage: python onvif_classic_profile_s.py HOST PORT ADMIN_USER ADMIN_PASSWORD > results.json
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any


def _subcodes(exc: BaseException) -> list[str]:
    """Fault subcodes of a failure (the classic client wraps zeep's Fault in ONVIFError)."""
    seen: BaseException | None = exc
    while seen is not None:
        codes = getattr(seen, "subcodes", None)
        if codes:
            return [str(getattr(code, "localname", code)) for code in codes]
        seen = seen.__cause__ or seen.__context__
    return [f"{type(exc).__name__}: {exc}"]


def _try(call: Callable[[], Any]) -> Any:
    """'ok' (or the call's plain result) or the fault's subcodes."""
    try:
        result = call()
    except Exception as exc:  # a refusal is a result to report
        return _subcodes(exc)
    return "ok" if result is None else result


def main() -> None:
    from onvif import ONVIFCamera

    host, port, admin, admin_pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    out: dict[str, Any] = {}

    def as_user(user: str, password: str) -> Any:
        return ONVIFCamera(host, port, user, password, no_cache=True)

    def login(user: str, password: str) -> Any:
        return _try(lambda: as_user(user, password).devicemgmt.GetDeviceInformation() and "ok")

    cam = as_user(admin, admin_pw)
    dev, media, ptz = cam.devicemgmt, cam.create_media_service(), cam.create_ptz_service()
    users = [{"Username": "op1", "Password": "op1-pass", "UserLevel": "Operator"},
             {"Username": "viewer", "Password": "view-pass", "UserLevel": "User"}]
    out["create"] = _try(lambda: dev.CreateUsers({"User": users}))
    out["create_again"] = _try(lambda: dev.CreateUsers({"User": users[:1]}))
    out["create_anonymous"] = _try(lambda: dev.CreateUsers(
        {"User": [{"Username": "anon", "Password": "anon-pass", "UserLevel": "Anonymous"}]}))
    out["users"] = sorted([u.Username, u.UserLevel] for u in dev.GetUsers())
    out["op1_login"] = login("op1", "op1-pass")
    out["op1_sets_hostname"] = _try(lambda: as_user("op1", "op1-pass").devicemgmt.SetHostname({"Name": "by-op1"}))
    viewer = as_user("viewer", "view-pass").devicemgmt
    out["viewer_reads"] = _try(lambda: viewer.GetHostname().Name)
    out["viewer_sets_hostname"] = _try(lambda: viewer.SetHostname({"Name": "by-viewer"}))
    out["viewer_creates_user"] = _try(lambda: viewer.CreateUsers({"User": [dict(users[0], Username="x1")]}))
    out["set_user"] = _try(lambda: dev.SetUser({"User": [{"Username": "op1", "Password": "op1-new",
                                                          "UserLevel": "Operator"}]}))
    out["op1_old_password"] = login("op1", "op1-pass")
    out["op1_new_password"] = login("op1", "op1-new")
    out["delete_fixed"] = _try(lambda: dev.DeleteUsers({"Username": [admin]}))
    out["delete_missing"] = _try(lambda: dev.DeleteUsers({"Username": ["nobody"]}))
    out["delete"] = _try(lambda: dev.DeleteUsers({"Username": ["op1"]}))
    out["op1_after_delete"] = login("op1", "op1-new")
    out["admin_wrong_password"] = login(admin, admin_pw + "x")

    out["set_protocols"] = _try(lambda: dev.SetNetworkProtocols({"NetworkProtocols": [
        {"Name": "HTTP", "Enabled": True, "Port": [8080]}, {"Name": "RTSP", "Enabled": True, "Port": [8554]}]}))
    out["protocols"] = {p.Name: p.Port for p in dev.GetNetworkProtocols()}
    out["set_https"] = _try(lambda: dev.SetNetworkProtocols(
        {"NetworkProtocols": [{"Name": "HTTPS", "Enabled": True, "Port": [443]}]}))
    interface = {"Enabled": True, "MTU": 1400,
                 "IPv4": {"Enabled": True, "DHCP": False, "Manual": [{"Address": "192.0.2.10", "PrefixLength": 25}]}}
    out["reboot_needed"] = _try(lambda: dev.SetNetworkInterfaces(
        {"InterfaceToken": "eth0", "NetworkInterface": interface}))  # the client unwraps RebootNeeded
    eth0 = dev.GetNetworkInterfaces()[0]
    out["interface"] = [eth0.Info.MTU, eth0.IPv4.Config.Manual[0].Address, eth0.IPv4.Config.Manual[0].PrefixLength]
    out["set_interface_unknown"] = _try(lambda: dev.SetNetworkInterfaces(
        {"InterfaceToken": "eth9", "NetworkInterface": interface}))
    out["set_interface_mtu"] = _try(lambda: dev.SetNetworkInterfaces(
        {"InterfaceToken": "eth0", "NetworkInterface": dict(interface, MTU=10)}))

    vec = media.GetVideoEncoderConfiguration({"ConfigurationToken": "vec_main"})
    out["set_encoder_same"] = _try(lambda: media.SetVideoEncoderConfiguration(
        {"Configuration": vec, "ForcePersistence": True}))
    vec.Resolution.Width = 1920
    out["set_encoder_bigger"] = _try(lambda: media.SetVideoEncoderConfiguration(
        {"Configuration": vec, "ForcePersistence": True}))
    out["width_after"] = media.GetVideoEncoderConfiguration({"ConfigurationToken": "vec_main"}).Resolution.Width
    options = media.GetVideoEncoderConfigurationOptions({"ConfigurationToken": "vec_main"})
    out["options_sizes"] = [[r.Width, r.Height] for r in options.H264.ResolutionsAvailable]
    out["compatible"] = [c.token for c in media.GetCompatibleVideoEncoderConfigurations({"ProfileToken": "main"})]
    out["add_encoder"] = _try(lambda: media.AddVideoEncoderConfiguration(
        {"ProfileToken": "main", "ConfigurationToken": "vec_main"}))
    out["add_source"] = _try(lambda: media.AddVideoSourceConfiguration(
        {"ProfileToken": "main", "ConfigurationToken": "vsc0"}))
    vsc = media.GetVideoSourceConfiguration({"ConfigurationToken": "vsc0"})
    out["set_source_same"] = _try(lambda: media.SetVideoSourceConfiguration(
        {"Configuration": vsc, "ForcePersistence": True}))
    out["add_other_encoder"] = _try(lambda: media.AddVideoEncoderConfiguration(
        {"ProfileToken": "main", "ConfigurationToken": "vec_nope"}))
    out["delete_fixed_profile"] = _try(lambda: media.DeleteProfile({"ProfileToken": "main"}))
    out["remove_from_fixed"] = _try(lambda: media.RemoveVideoEncoderConfiguration({"ProfileToken": "main"}))
    # a created profile: empty, streams once it has an encoder configuration, then goes
    created = media.CreateProfile({"Name": "Extra", "Token": "extra"})
    out["created"] = [created.token, created.Name, created.fixed]
    out["create_clash"] = _try(lambda: media.CreateProfile({"Name": "Again", "Token": "extra"}))
    setup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
    out["uri_empty"] = _try(lambda: media.GetStreamUri({"ProfileToken": "extra", "StreamSetup": setup}))
    media.AddVideoSourceConfiguration({"ProfileToken": "extra", "ConfigurationToken": "vsc0"})
    media.AddVideoEncoderConfiguration({"ProfileToken": "extra", "ConfigurationToken": "vec_main"})
    main_uri = media.GetStreamUri({"ProfileToken": "main", "StreamSetup": setup}).Uri
    out["uri_same_as_main"] = media.GetStreamUri({"ProfileToken": "extra", "StreamSetup": setup}).Uri == main_uri
    extra = next(p for p in media.GetProfiles() if p.token == "extra")
    out["listed"] = [extra.VideoSourceConfiguration.token, extra.VideoEncoderConfiguration.token]
    media.RemoveVideoEncoderConfiguration({"ProfileToken": "extra"})
    out["encoder_after_remove"] = media.GetProfile({"ProfileToken": "extra"}).VideoEncoderConfiguration
    out["delete_profile"] = _try(lambda: media.DeleteProfile({"ProfileToken": "extra"}))
    out["profiles_after"] = [p.token for p in media.GetProfiles()]

    def settle(target: tuple[float, float, float]) -> list[float]:
        deadline = time.monotonic() + 20
        while True:
            status = ptz.GetStatus({"ProfileToken": "main"})
            pos, moving = status.Position, status.MoveStatus
            now = [pos.PanTilt.x, pos.PanTilt.y, pos.Zoom.x]
            idle = moving.PanTilt == "IDLE" and moving.Zoom == "IDLE"  # arrived: exactly at the target
            if (idle and all(abs(a - b) < 0.01 for a, b in zip(now, target, strict=True))) \
                    or time.monotonic() > deadline:
                return [round(v, 2) for v in now]
            time.sleep(0.1)

    out["home_supported"] = ptz.GetNodes()[0].HomeSupported
    fast = {"PanTilt": {"x": 1.0, "y": 1.0}, "Zoom": {"x": 1.0}}
    ptz.AbsoluteMove({"ProfileToken": "main", "Position": {"PanTilt": {"x": 0.5, "y": 0.2}, "Zoom": {"x": 0.3}},
                      "Speed": fast})
    settle((0.5, 0.2, 0.3))
    out["set_home"] = _try(lambda: ptz.SetHomePosition({"ProfileToken": "main"}))
    ptz.AbsoluteMove({"ProfileToken": "main", "Position": {"PanTilt": {"x": -0.5, "y": 0.0}, "Zoom": {"x": 0.0}},
                      "Speed": fast})
    out["away"] = settle((-0.5, 0.0, 0.0))
    out["goto_home"] = _try(lambda: ptz.GotoHomePosition({"ProfileToken": "main", "Speed": fast}))
    out["at_home"] = settle((0.5, 0.2, 0.3))

    dev.SetHostname({"Name": "before-reset"})
    media.CreateProfile({"Name": "Temporary"})
    dev.CreateUsers({"User": [{"Username": "temp", "Password": "temp-pass", "UserLevel": "Operator"}]})
    out["soft_reset"] = _try(lambda: dev.SetSystemFactoryDefault({"FactoryDefault": "Soft"}))
    out["hostname_after_soft"] = dev.GetHostname().Name
    out["users_after_soft"] = sorted(u.Username for u in dev.GetUsers())
    out["profiles_after_soft"] = [p.token for p in media.GetProfiles()]
    out["temp_after_soft"] = login("temp", "temp-pass")
    out["protocols_after_soft"] = {p.Name: p.Port for p in dev.GetNetworkProtocols()}
    out["hard_reset"] = _try(lambda: dev.SetSystemFactoryDefault({"FactoryDefault": "Hard"}))
    out["protocols_after_hard"] = {p.Name: p.Port for p in dev.GetNetworkProtocols()}
    out["mtu_after_hard"] = dev.GetNetworkInterfaces()[0].Info.MTU
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
