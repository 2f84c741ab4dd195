"""Runs the conformance table with the classic, synchronous onvif-zeep client (its own WSDL files).

onvif-zeep and onvif-zeep-async both install a package named ``onvif``, so the classic one lives in
its own prefix and this script runs in a subprocess with that prefix first on PYTHONPATH.
Usage: python onvif_classic_driver.py HOST PORT USER PASSWORD < calls.json > outcomes.json
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any


def _durations(value: Any) -> Any:
    """zeep wants xs:duration values as timedelta; the JSON table carries 'PT<n>S'."""
    if isinstance(value, dict):
        return {k: _durations(v) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("PT") and value.endswith("S") and value[2:-1].isdigit():
        return dt.timedelta(seconds=int(value[2:-1]))
    return value


def main() -> None:
    import onvif
    from onvif import ONVIFCamera  # the classic client, from the PYTHONPATH the test sets

    sys.path.insert(0, str(Path(__file__).parent))
    from onvif_profiles import outcome_of

    host, port, user, password = sys.argv[1:5]
    calls: list[list[Any]] = json.load(sys.stdin)
    camera = ONVIFCamera(host, int(port), user, password)  # also creates a pull point, as the client does
    makers = {"devicemgmt": lambda: camera.devicemgmt, "media": camera.create_media_service,
              "ptz": camera.create_ptz_service, "imaging": camera.create_imaging_service,
              "events": camera.create_events_service, "pullpoint": camera.create_pullpoint_service}
    services: dict[str, Any] = {}
    outcomes = []
    for profile, service, operation, params in calls:
        try:
            if service not in services:
                services[service] = makers[service]()
            getattr(services[service], operation)(_durations(params))
            outcome = "ok"
        except Exception as exc:  # every failure is a result to report, not a crash
            outcome = outcome_of(exc)
        outcomes.append([profile, service, operation, outcome])
    json.dump({"client": onvif.__file__, "outcomes": outcomes}, sys.stdout)


if __name__ == "__main__":
    main()
