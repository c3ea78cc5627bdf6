"""The recommendation tracker over HTTP (JSON and CSV) and on the command line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.api.state import AppState
from qa_service.cli import cli
from qa_service.settings import Settings

COUNTS = {
    "Kent Police": 7,
    "Lancashire Constabulary": 10,
    "Leicestershire Police": 7,
    "Lincolnshire Police": 9,
}


@pytest.fixture(scope="module")
def client(built_index: Path, retriever) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    state = AppState(Settings(index_dir=built_index))
    state.retriever = retriever
    with TestClient(create_app(state=state)) as c:
        yield c


def test_every_recommendation_with_its_verdict(client: TestClient) -> None:
    data = client.get("/v1/recommendations").json()
    per_force: dict[str, int] = {}
    for rec in data["recommendations"]:
        per_force[rec["force"]] = per_force.get(rec["force"], 0) + 1
        assert rec["verdict"] in data["verdicts"]
        if rec["verdict"] == "not reviewed":
            assert rec["summary"] is None and rec["findings"] == []
        else:
            assert rec["summary"]["text"] and rec["findings"]
    assert per_force == COUNTS
    assert data["counts"] == {"met": 7, "partly met": 14, "not met": 2, "not reviewed": 10}


def test_filters_by_force_area_and_verdict(client: TestClient) -> None:
    got = client.get(
        "/v1/recommendations", params={"area": "Police-detention", "verdict": "Not met"}
    ).json()
    assert [(r["force"], r["number"]) for r in got["recommendations"]] == [
        ("Leicestershire Police", 7)
    ]
    assert any(f["wording"] == "shortfall" for f in got["recommendations"][0]["findings"])
    none = client.get("/v1/recommendations", params={"force": "Kent", "verdict": "met"}).json()
    assert none["recommendations"] == [] and "verdict 'met'" in none["message"]
    lancs = client.get("/v1/recommendations", params={"force": "lancs"}).json()
    assert lancs["counts"]["not reviewed"] == 10
    bad = client.get("/v1/recommendations", params={"verdict": "done"})
    assert bad.status_code == 422 and "verdict" in bad.json()["detail"]


def test_csv_download(client: TestClient) -> None:
    r = client.get("/v1/recommendations.csv", params={"force": "Lincolnshire"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 9 and {row["force"] for row in rows} == {"Lincolnshire Police"}
    assert [row["verdict"] for row in rows].count("not met") == 1
    spec = client.get("/openapi.json").json()["paths"]["/v1/recommendations.csv"]["get"]
    assert "text/csv" in spec["responses"]["200"]["content"]


def test_cli_recommendations(built_index: Path) -> None:
    runner = CliRunner()
    index = ["--index", str(built_index)]
    res = runner.invoke(cli, ["recommendations", "--json", *index])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["recommendations"]) == sum(COUNTS.values())
    res = runner.invoke(cli, ["recommendations", "--csv", "--force", "Kent", *index])
    assert res.exit_code == 0 and len(list(csv.DictReader(io.StringIO(res.stdout)))) == 7
    res = runner.invoke(cli, ["recommendations", "--verdict", "not met", *index])
    assert res.exit_code == 0 and res.stdout.count("NOT MET") == 2
    res = runner.invoke(cli, ["recommendations", "--area", "custody", *index])
    assert res.exit_code == 2 and "--area" in res.stderr and "Traceback" not in res.output
    res = runner.invoke(cli, ["recommendations", "--help"])
    assert "Examples:" in res.stdout and "qa recommendations --csv" in res.stdout
