"""The framework the VMS parts share: declared API routes, middleware, OpenAPI, principals and roles,
password hashing, database column types, the error hierarchy and JSON logging.

It depends on none of the applications (`vms_server`, `vms_cloud_sync`, ...); they depend on it and wire
their own pieces in through typed app keys (`vms_common.api.keys`). That is what lets the cloud backend be
installed and run without the recording server. The import contracts in pyproject.toml enforce it.
"""

# The suite is one distribution with one version; every part reports this number.
__version__ = "0.1.0"
