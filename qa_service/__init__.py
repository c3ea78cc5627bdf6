"""ncpi-qa: cited-passage retrieval over HMICFRS child protection inspection reports."""

__version__ = "0.1.0"
