"""What every area stands on: health, serving, sign-in, history and local assets.

- ``health``: blueprint ``system``, ``/healthz`` and ``/readyz``;
- ``serving``: blueprint ``serving``, proxy handling, request ids and ``/metrics``;
- ``auth``: blueprint ``auth``, sign-in and out, sessions, passwords, accounts;
- ``history``: blueprint ``history``, the audit trail;
- ``assets``: blueprint ``assets``, the npm-installed scripts, styles and fonts served locally.
"""
