"""``python -m vms_camsim`` is the same as ``vms-camsim``."""

from vms_camsim.cli import main

raise SystemExit(main())
