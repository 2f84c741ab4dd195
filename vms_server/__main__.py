"""`python -m vms_server` is `vms-server`."""

import sys

from vms_server.cli.main import main

sys.exit(main())
