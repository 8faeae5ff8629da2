"""Tests of the running system: the store, settings, sign-in, serving, headers and backups."""
