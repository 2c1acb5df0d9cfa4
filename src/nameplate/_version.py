"""The version of nameplate (one place: read by the package, the build and the generator stamp)."""

__version__ = "0.1.0"
