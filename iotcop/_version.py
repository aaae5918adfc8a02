"""The single source of iotcop's version (read by the build and by ``iotcop --version``)."""

__version__ = "0.1.0"
