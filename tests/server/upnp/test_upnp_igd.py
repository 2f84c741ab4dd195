"""Issue 18, UPnP: against Debian's real miniupnpd in a network namespace the test creates (veth "wan" with
a public-looking address, veth "lan" for SSDP and SOAP, the nftables chains miniupnpd writes its rules in),
the mapper reports 'no IGD found' before the router runs, maps the API port, renews a 4 s lease before it
ends, reports a conflicting mapping as the router's error 718, and deletes its mapping at shutdown; the real
server reports no IGD in health and keeps answering, maps its port, and removes the mapping when it stops."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]

NFT_RULES = """table inet filter {
    chain miniupnpd { }
    chain prerouting_miniupnpd { }
    chain postrouting_miniupnpd { }
    chain forward { type filter hook forward priority 0; policy drop; jump miniupnpd; }
    chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
    chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
}
"""

MINIUPNPD_CONF = """ext_ifname=wan
listening_ip=lan
http_port=0
enable_natpmp=no
enable_upnp=yes
secure_mode=no
system_uptime=yes
clean_ruleset_interval=1
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 10.214.0.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
"""


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def netns() -> Iterator[str]:
    for tool in ("ip", "nft", "miniupnpd"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.skip(f"{tool} is not installed (scripts/apt-packages.txt lists it)")
    if os.geteuid() != 0:
        pytest.skip("creating a network namespace needs root (CI runs the tests as root)")
    name = f"vmsupnp{uuid.uuid4().hex[:8]}"
    made = _run("ip", "netns", "add", name)
    if made.returncode != 0:
        pytest.skip(f"'ip netns add' is not possible here: {made.stderr.strip()}")
    try:
        # The router's WAN address must not be private: miniupnpd refuses to map behind NAT otherwise.
        # 5.6.7.8 exists only inside this namespace, which has no route out.
        steps = [["link", "set", "lo", "up"], ["link", "set", "lo", "multicast", "on"],
                 ["link", "add", "wan", "type", "veth", "peer", "name", "wanp"],
                 ["link", "add", "lan", "type", "veth", "peer", "name", "lanp"],
                 ["addr", "add", "5.6.7.8/24", "dev", "wan"], ["addr", "add", "10.214.0.1/24", "dev", "lan"],
                 *(["link", "set", dev, "up"] for dev in ("wan", "wanp", "lan", "lanp")),
                 ["link", "set", "lan", "multicast", "on"], ["route", "add", "224.0.0.0/4", "dev", "lan"]]
        for step in steps:
            done = _run("ip", "netns", "exec", name, "ip", *step)
            assert done.returncode == 0, f"ip {' '.join(step)}: {done.stderr}"
        done = _run("ip", "netns", "exec", name, "nft", "-f", "-", stdin=NFT_RULES)
        assert done.returncode == 0, f"nft: {done.stderr}"
        yield name
    finally:
        _run("ip", "netns", "del", name)


def test_mapping_renewed_conflict_reported_and_removed(netns: str, tmp_path: Path,
                                                      sqlite_template: Path) -> None:
    conf = tmp_path / "miniupnpd.conf"
    conf.write_text(MINIUPNPD_CONF + f"lease_file={tmp_path / 'leases'}\n", encoding="utf-8")
    cmd = ["ip", "netns", "exec", netns, sys.executable, "-m", "tests.server.upnp.netns_scenario",
           str(tmp_path), str(conf), str(sqlite_template)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    log = (tmp_path / "miniupnpd.log").read_text(errors="replace") if (tmp_path / "miniupnpd.log").exists() else ""
    assert done.returncode == 0, done.stderr[-4000:] + log[-2000:]
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert result["no_igd"]["ok"] is False and result["no_igd"]["detail"].startswith("no IGD found")
    mapped = result["mapped"]
    assert mapped["ok"] is True
    assert mapped["detail"] == "mapped 5.6.7.8:18443 -> 10.214.0.1:8443 (TCP)"
    client, port, description, enabled, lease = result["entry"]
    assert (client, port, description, enabled) == ("10.214.0.1", 8443, "vms test", True)
    assert 0 < lease <= 4
    # Two renewals at half the 4 s lease: the entry outlived its first lease, so a renewal came in time.
    assert result["entry_after_renewals"][:2] == ["10.214.0.1", 8443] and result["entry_after_renewals"][4] > 0
    conflict = result["conflict"]
    assert conflict["ok"] is False
    assert conflict["detail"].startswith("router refused: 718 ConflictInMappingEntry")
    assert result["entry_after_remove"] is None
    # The real server: no IGD is a clear, not-ok health line while the server keeps answering ...
    no_igd = result["server_no_igd"]["upnp"]
    assert no_igd["ok"] is False and no_igd["detail"].startswith("no IGD found")
    # ... and with the router, the server's own mapping is in the router's table until the server stops.
    server = result["server"]
    assert server["upnp"]["ok"] is True
    assert server["upnp"]["detail"].startswith("mapped 5.6.7.8:18444 -> 10.214.0.1:")
    assert server["while_running"][:1] == ["10.214.0.1"]
    assert result["server_entry_after_stop"] is None
