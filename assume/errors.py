"""Exception types for the kinds of error a user can cause.

Each message names the file, field or peer at fault, so the CLI can print it
as one paragraph without a traceback.
"""


class AssumeError(Exception):
    """Base class of all errors the user can fix; the CLI exits with code 2."""

    exit_code = 2


class ConfigurationError(AssumeError):
    """A scenario configuration or World API call is invalid."""


class InputDataError(AssumeError):
    """An input file (CSV time series, unit table) is malformed or inconsistent."""


class PeerError(AssumeError):
    """A distributed peer (worker, manager, broker) failed or misbehaved."""

    exit_code = 1


class SimulationError(AssumeError):
    """An agent failed while the simulation ran (e.g. an error in a bidding strategy)."""

    exit_code = 1
