"""The operations the conformance tests call, per client-library service, with the Profile (S or T)
that requires them and parameters that fit the simulator's fixed tokens (profiles main/sub, video
source vsrc0 and its configuration vsc0, encoders vec_<profile>, PTZ configuration ptz0 on node0).

Order matters inside a service: SetPreset makes preset1, which GotoPreset and RemovePreset use.
Only JSON-able values, because the classic client runs in a subprocess fed with this table.
"""

from __future__ import annotations

from typing import Any

Call = tuple[str, str, str, dict[str, Any] | None]  # (profile, service, operation, params)

_PROFILE = {"ProfileToken": "main"}
_SOURCE = {"VideoSourceToken": "vsrc0"}
_STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
_EXTRA = {"ProfileToken": "extra"}  # the profile CreateProfile makes, DeleteProfile removes
# vec_main and vsc0 of the 'fixed' camera as they are (the simulator refuses changes with ter:ConfigModify)
_ENCODER = {"token": "vec_main", "Name": "main", "UseCount": 1, "Encoding": "H264",
            "Resolution": {"Width": 320, "Height": 176}, "Quality": 5.0,
            "RateControl": {"FrameRateLimit": 5, "EncodingInterval": 1, "BitrateLimit": 200},
            "Multicast": {"Address": {"Type": "IPv4", "IPv4Address": "0.0.0.0"}, "Port": 0, "TTL": 0,
                          "AutoStart": False}, "SessionTimeout": "PT60S"}
_SOURCE_CONFIG = {"token": "vsc0", "Name": "vsc0", "UseCount": 2, "SourceToken": "vsrc0",
                  "Bounds": {"x": 0, "y": 0, "width": 320, "height": 176}}

FIXED: list[Call] = [
    *(("S", "devicemgmt", op, params) for op, params in [
        ("GetCapabilities", {"Category": "All"}), ("GetServices", {"IncludeCapability": False}),
        ("GetServiceCapabilities", None), ("GetDeviceInformation", None), ("GetSystemDateAndTime", None),
        ("GetScopes", None), ("GetHostname", None), ("GetNetworkInterfaces", None),
        ("GetNetworkProtocols", None), ("GetDNS", None), ("GetNTP", None), ("GetNetworkDefaultGateway", None),
        ("GetDiscoveryMode", None), ("GetUsers", None), ("GetWsdlUrl", None),
        ("SetHostname", {"Name": "lobby-cam"}), ("AddScopes", {"ScopeItem": ["onvif://www.onvif.org/location/lab"]}),
        ("RemoveScopes", {"ScopeItem": ["onvif://www.onvif.org/location/lab"]}),
        ("SetScopes", {"Scopes": ["onvif://www.onvif.org/location/hall"]}),
        ("SetDiscoveryMode", {"DiscoveryMode": "Discoverable"}), ("SystemReboot", None),
        ("SetNTP", {"FromDHCP": False, "NTPManual": [{"Type": "DNS", "DNSname": "pool.ntp.org"}]}),
        ("SetDNS", {"FromDHCP": False, "DNSManual": [{"Type": "IPv4", "IPv4Address": "192.0.2.53"}]}),
        ("SetNetworkDefaultGateway", {"IPv4Address": ["192.0.2.1"]}),
        ("SetSystemDateAndTime", {"DateTimeType": "NTP", "DaylightSavings": False}),
        ("CreateUsers", {"User": [{"Username": "op9", "Password": "op9-pass", "UserLevel": "Operator"}]}),
        ("SetUser", {"User": [{"Username": "op9", "Password": "op9-new", "UserLevel": "User"}]}),
        ("DeleteUsers", {"Username": ["op9"]}), ("GetRelayOutputs", None),
        ("SetNetworkProtocols", {"NetworkProtocols": [{"Name": "HTTP", "Enabled": True, "Port": [8080]}]}),
        ("SetNetworkInterfaces", {"InterfaceToken": "eth0", "NetworkInterface": {"Enabled": True, "MTU": 1400}}),
        ("SetSystemFactoryDefault", {"FactoryDefault": "Soft"}),
    ]),
    *(("S", "media", op, params) for op, params in [
        ("GetServiceCapabilities", None), ("GetProfiles", None), ("GetProfile", _PROFILE),
        ("GetVideoSources", None), ("GetVideoSourceConfigurations", None),
        ("GetVideoSourceConfiguration", {"ConfigurationToken": "vsc0"}),
        ("GetCompatibleVideoSourceConfigurations", _PROFILE),
        ("GetVideoSourceConfigurationOptions", {"ConfigurationToken": "vsc0"}),
        ("GetVideoEncoderConfigurations", None),
        ("GetVideoEncoderConfiguration", {"ConfigurationToken": "vec_main"}),
        ("GetCompatibleVideoEncoderConfigurations", _PROFILE),
        ("GetVideoEncoderConfigurationOptions", {"ConfigurationToken": "vec_main"}),
        ("AddVideoEncoderConfiguration", {**_PROFILE, "ConfigurationToken": "vec_main"}),
        ("AddVideoSourceConfiguration", {**_PROFILE, "ConfigurationToken": "vsc0"}),
        ("SetVideoEncoderConfiguration", {"Configuration": _ENCODER, "ForcePersistence": True}),
        ("SetVideoSourceConfiguration", {"Configuration": _SOURCE_CONFIG, "ForcePersistence": True}),
        ("CreateProfile", {"Name": "Extra", "Token": "extra"}),
        ("AddVideoSourceConfiguration", {**_EXTRA, "ConfigurationToken": "vsc0"}),
        ("AddVideoEncoderConfiguration", {**_EXTRA, "ConfigurationToken": "vec_sub"}),
        ("GetStreamUri", {**_EXTRA, "StreamSetup": _STREAM_SETUP}),
        ("RemoveVideoEncoderConfiguration", _EXTRA), ("RemoveVideoSourceConfiguration", _EXTRA),
        ("DeleteProfile", _EXTRA),
        ("GetGuaranteedNumberOfVideoEncoderInstances", {"ConfigurationToken": "vsc0"}),
        ("GetStreamUri", {**_PROFILE, "StreamSetup": _STREAM_SETUP}), ("GetSnapshotUri", _PROFILE),
    ]),
    *(("S", "events", op, params) for op, params in [
        ("GetServiceCapabilities", None), ("GetEventProperties", None), ("CreatePullPointSubscription", None),
    ]),
    *(("S", "pullpoint", op, params) for op, params in [
        ("PullMessages", {"Timeout": "PT1S", "MessageLimit": 10}), ("SetSynchronizationPoint", None),
    ]),
    *(("T", "imaging", op, params) for op, params in [
        ("GetServiceCapabilities", None), ("GetImagingSettings", _SOURCE),
        ("SetImagingSettings", {**_SOURCE, "ImagingSettings": {"Brightness": 60.0, "IrCutFilter": "ON"}}),
        ("GetOptions", _SOURCE), ("GetMoveOptions", _SOURCE),
        ("Move", {**_SOURCE, "Focus": {"Continuous": {"Speed": 0.5}}}), ("GetStatus", _SOURCE), ("Stop", _SOURCE),
    ]),
]

PTZ: list[Call] = [("S", "ptz", op, params) for op, params in [
    ("GetServiceCapabilities", None), ("GetNodes", None), ("GetNode", {"NodeToken": "node0"}),
    ("GetConfigurations", None), ("GetConfiguration", {"PTZConfigurationToken": "ptz0"}),
    ("GetConfigurationOptions", {"ConfigurationToken": "ptz0"}),
    ("GetCompatibleConfigurations", _PROFILE),
    ("SetConfiguration", {"PTZConfiguration": {"token": "ptz0", "Name": "ptz0", "UseCount": 2, "NodeToken": "node0",
                                               "DefaultPTZTimeout": "PT10S"}, "ForcePersistence": True}),
    ("GetStatus", _PROFILE),
    ("ContinuousMove", {**_PROFILE, "Velocity": {"PanTilt": {"x": 0.2, "y": 0.0}, "Zoom": {"x": 0.0}}}),
    ("Stop", {**_PROFILE, "PanTilt": True, "Zoom": True}),
    ("AbsoluteMove", {**_PROFILE, "Position": {"PanTilt": {"x": 0.1, "y": 0.1}, "Zoom": {"x": 0.2}}}),
    ("RelativeMove", {**_PROFILE, "Translation": {"PanTilt": {"x": -0.05, "y": 0.0}}}),
    ("SetPreset", {**_PROFILE, "PresetName": "door"}), ("GetPresets", _PROFILE),
    ("SetHomePosition", _PROFILE), ("GotoHomePosition", _PROFILE),
    ("GotoPreset", {**_PROFILE, "PresetToken": "preset1"}), ("RemovePreset", {**_PROFILE, "PresetToken": "preset1"}),
    ("SendAuxiliaryCommand", {**_PROFILE, "AuxiliaryData": "tt:Wiper|On"}),
]]

TR2 = "http://www.onvif.org/ver20/media/wsdl"
_REF = "<Configuration><Type>{}</Type><Token>{}</Token></Configuration>"
# Media2 (Profile T): no ONVIF client library ships its WSDL, so these are sent as raw SOAP bodies.
MEDIA2: list[tuple[str, str]] = [
    ("GetServiceCapabilities", f'<GetServiceCapabilities xmlns="{TR2}"/>'),
    ("GetProfiles", f'<GetProfiles xmlns="{TR2}"><Type>All</Type></GetProfiles>'),
    ("GetStreamUri", f'<GetStreamUri xmlns="{TR2}"><Protocol>RtspUnicast</Protocol>'
                     "<ProfileToken>main</ProfileToken></GetStreamUri>"),
    ("GetSnapshotUri", f'<GetSnapshotUri xmlns="{TR2}"><ProfileToken>main</ProfileToken></GetSnapshotUri>'),
    ("GetVideoSourceConfigurations", f'<GetVideoSourceConfigurations xmlns="{TR2}"/>'),
    ("GetVideoEncoderConfigurations", f'<GetVideoEncoderConfigurations xmlns="{TR2}"/>'),
    ("GetVideoEncoderConfigurationOptions", f'<GetVideoEncoderConfigurationOptions xmlns="{TR2}"/>'),
    # the encoder's own settings back (a change is re-encoded: test_onvif_encoder_changes)
    ("SetVideoEncoderConfiguration", f'<SetVideoEncoderConfiguration xmlns="{TR2}"><Configuration token="vec_main">'
                                     '<Encoding xmlns="http://www.onvif.org/ver10/schema">H265</Encoding>'
                                     "</Configuration></SetVideoEncoderConfiguration>"),
    ("CreateProfile", f'<CreateProfile xmlns="{TR2}"><Name>conformance</Name></CreateProfile>'),
    ("AddConfiguration", f'<AddConfiguration xmlns="{TR2}"><ProfileToken>profile_1</ProfileToken>'
                         f"{_REF.format('VideoSource', 'vsc0')}{_REF.format('VideoEncoder', 'vec_main')}"
                         "</AddConfiguration>"),
    ("RemoveConfiguration", f'<RemoveConfiguration xmlns="{TR2}"><ProfileToken>profile_1</ProfileToken>'
                            f"{_REF.format('VideoEncoder', 'vec_main')}</RemoveConfiguration>"),
    ("DeleteProfile", f'<DeleteProfile xmlns="{TR2}"><Token>profile_1</Token></DeleteProfile>'),
]


def outcome_of(exc: BaseException) -> str:
    """'ActionNotSupported' when a SOAP fault carries that subcode, else 'failed: <message>'. Follows
    the cause chain, because client libraries wrap zeep's Fault in their own errors."""
    seen: BaseException | None = exc
    while seen is not None:
        subcodes = getattr(seen, "subcodes", None) or []
        names = [str(getattr(code, "localname", code)) for code in subcodes]
        if "ActionNotSupported" in names:
            return "ActionNotSupported"
        seen = seen.__cause__ or seen.__context__
    return f"failed: {type(exc).__name__}: {exc}"
