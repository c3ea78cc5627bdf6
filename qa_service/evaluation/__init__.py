"""Offline evaluation: retrieval metrics, answer metrics, tuning on the dev split, and fitting
the answer models. Runs the same search and answer functions as the API and the CLI.
"""
