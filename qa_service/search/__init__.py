"""Retrieval: from a question to ranked passages.

Owns query understanding (forces, everyday words, acronyms), dense and lexical scoring over a
loaded index, rank fusion, candidate scoring for large indexes, merging adjacent passages and
the request limits that the API and the CLI check the same way. Imports ``index`` and below.
"""
