"""``python -m vms_server.simulator`` is the same as ``vms-camsim``."""

from vms_server.simulator.cli import main

raise SystemExit(main())
