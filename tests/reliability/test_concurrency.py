"""Many threads against one app instance: no errors, and every answer identical to the one
the same question gets when asked alone."""

from __future__ import annotations

import random
import threading
from typing import Any

from fastapi.testclient import TestClient

THREADS = 16
REQUESTS = 250
QUESTIONS = [
    "does Kent still hold under-18s at the station after charge?",
    "how do forces handle missing children?",
    "appropriate adults for children in custody",
    "recording the voice of the child",
    "managing registered sex offenders",
    "supervision of child abuse investigations",
    "domestic abuse referrals to children's social care",
    "What did the review find about MOSOVO training in Kent?",
    "Are Lincolnshire officers recording the voice of the child?",
    "How quickly do appropriate adults arrive in Lancashire custody?",
    "Is supervision good enough in Leicestershire?",
    "children detained overnight",
    "child sexual exploitation risk assessments",
    "online child abuse investigations backlog",
    "How does Essex Police handle missing children?",
    "multi-agency safeguarding hub",
    "strategy discussions with social care",
    "training for frontline officers",
    "AWOL kids",
    "cells",
]


def _search(client: TestClient, q: str) -> dict[str, Any]:
    r = client.post("/v1/search", json={"question": q, "top_k": 5})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    data.pop("timings_ms")
    return data


def test_threads_agree_with_serial_run(api: TestClient) -> None:
    expected = {q: _search(api, q) for q in QUESTIONS}
    passages = [p["passage_id"] for d in expected.values() for p in d["results"]]
    documents = api.get("/v1/documents").json()
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(REQUESTS):
            kind = rng.random()
            try:
                if kind < 0.5:
                    q = rng.choice(QUESTIONS)
                    if _search(api, q) != expected[q]:
                        errors.append(f"different results for {q!r}")
                elif kind < 0.7:
                    if api.get("/v1/documents").json() != documents:
                        errors.append("different documents")
                else:
                    pid = rng.choice(passages)
                    r = api.get(f"/v1/passages/{pid}")
                    if r.status_code != 200 or r.json()["passage_id"] != pid:
                        errors.append(f"passage {pid}: {r.status_code}")
            except Exception as exc:  # any failure is a finding
                errors.append(f"{type(exc).__name__}: {exc}")
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert done[0] == THREADS * REQUESTS
    assert errors == []
