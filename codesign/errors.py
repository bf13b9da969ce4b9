"""The error a user sees: one line naming the key and what is wrong."""

__all__ = ["UserError"]


class UserError(Exception):
    """Bad input (config, shape, a design that cannot hold a tile).

    The CLI prints ``error: <message>`` on one line and exits with status 2;
    the message names the offending key, e.g. ``hardware.rows: must be a
    positive integer, got -4``.
    """
