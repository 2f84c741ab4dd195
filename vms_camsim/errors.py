"""Exception hierarchy of the camera simulator."""


class SimulatorError(Exception):
    """Base of every error the simulator raises on purpose."""


class ConfigError(SimulatorError):
    """The configuration (CLI flags, fleet file or API object) is not usable."""


class EncodeError(SimulatorError):
    """A scene or file could not be encoded into the requested stream."""
