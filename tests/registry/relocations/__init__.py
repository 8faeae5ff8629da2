"""Tests of the relocations area: ledger import, records, reconciliation, tombs and plots."""
