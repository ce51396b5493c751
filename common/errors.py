"""The root of Baraza's own exceptions."""


class BarazaError(Exception):
    """Every exception Baraza defines derives from this one.

    Catching it catches what Baraza raises on purpose (a bad file, an unreachable store, a
    refused send) and nothing that is a bug in the code or an error of a library.
    """
