"""Answers: the sentences that answer a question, and whether the reports answer it at all.

Owns answer units and their ranking, the answered / partial / not-answered decision, chat
(follow-ups, progress questions), compare across forces, quote lookup (cite), and the
recommendations and their tracker. Fitted models ship as plain JSON in ``models/``.
Imports ``search`` and below.
"""
