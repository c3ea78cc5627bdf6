"""Named request examples for the OpenAPI document (shown in /docs and /redoc)."""

from __future__ import annotations

from typing import Any

DOC_ID = "kent-2021-post-inspection-review"
PASSAGE_ID = "a6ee33537fcb9348"
_KENT = "Does Kent still hold under-18s at the station after charge?"

SEARCH: dict[str, Any] = {
    "question": {
        "summary": "A question",
        "description": "A force named in the question becomes a filter.",
        "value": {"question": _KENT},
    },
    "filtered": {
        "summary": "A question with filters",
        "value": {
            "question": "children detained overnight",
            "top_k": 5,
            "filters": {
                "forces": ["Lincs"],
                "report_types": ["post-inspection review"],
                "year_from": 2017,
                "year_to": 2021,
            },
        },
    },
}

CHAT: dict[str, Any] = {
    "first": {
        "summary": "A first question",
        "value": {"messages": [{"role": "user", "content": _KENT}]},
    },
    "follow-up": {
        "summary": "A follow-up",
        "description": "The client sends the history back; 'and Leicestershire?' is completed"
        " from the question before it.",
        "value": {
            "messages": [
                {"role": "user", "content": _KENT},
                {"role": "assistant", "content": "Children are still detained overnight. [1]"},
                {"role": "user", "content": "and Leicestershire?"},
            ],
            "top_k": 5,
        },
    },
}

COMPARE: dict[str, Any] = {
    "every force": {
        "summary": "Every force in the corpus",
        "value": {"question": "how do forces handle missing children?"},
    },
    "two forces": {
        "summary": "Two forces, two passages each",
        "value": {
            "question": "appropriate adults for children in custody",
            "forces": ["Kent", "Lancashire"],
            "per_force": 2,
        },
    },
}

CITE: dict[str, Any] = {
    "quote": {
        "summary": "A sentence pasted from a report",
        "value": {
            "quote": "In April 2019, Her Majesty's Inspectorate of Constabulary and Fire &"
            " Rescue Services (HMICFRS) inspected how well Kent Police keeps children safe."
        },
    },
    "near": {
        "summary": "A quote copied from the PDF, one word changed (a near match with its diff)",
        "value": {
            "quote": "Investigators feel their work-\nloads are too high and they don’t have\n"
            "Page 12\nenough spare time to commit to their enquiries."
        },
    },
}

RECOMMENDATIONS_CSV = (
    "force,area,number,verdict,recommendation,recommendation_source,recommendation_section,"
    "recommendation_char_start,recommendation_char_end,review_finding,review_source,"
    "review_section,review_char_start,review_char_end,deciding_words\r\n"
    'Leicestershire Police,police detention,7,not met,"Within six months, Leicestershire'
    ' Police should: ...",leicestershire-2017-post-inspection-review.txt,2. Post-inspection'
    " review findings > Police detention > Recommendation from the 2017 inspection report,"
    '26533,27604,"In 2017, HMICFRS found'
    ' that attendance of appropriate adults ...",leicestershire-2017-post-inspection-review.txt,'
    "2. Post-inspection review findings > Police detention > Summary of post-inspection review"
    " findings,27650,28257,shortfall: unacceptable; shortfall: still; shortfall: still\r\n"
)
