"""The registry test suite; mirrors the packages."""
