"""`bash deploy/alliance.sh`, as someone trying the alliance runs it: three nodes for three universities on this
machine, the secretariat's signed registry and the bus with its principals, and the journey's course, approved at
Saarland, in Silesia's and Primorska's catalogue pages with Saarland University's name."""

import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.stack import ROOT, Stack

pytestmark = pytest.mark.e2e

ALLIANCE_SH = ["bash", str(ROOT / "deploy" / "alliance.sh")]


def test_one_command_starts_an_alliance_of_three_nodes_whose_catalogues_show_each_others_courses(
    stack: Stack, tmp_path: Path
):
    environment = os.environ | {"MC_ALLIANCE_DIR": str(tmp_path / "alliance"), "MC_KEEP_INFRA": "1"}
    try:
        started = subprocess.run(ALLIANCE_SH + ["start"], env=environment, capture_output=True, text=True, timeout=900)
        assert started.returncode == 0, started.stderr[-3000:]
        title = re.search(r"course '([^']+)' approved", started.stdout)
        assert title, started.stdout
        for node, catalogue in (("silesia", "http://127.0.0.1:8201"), ("primorska", "http://127.0.0.1:8301")):
            assert f"At {node}: listed, by Universität des Saarlandes (DE, node saarland)" in started.stdout
            assert f"{node:<10} catalogue {catalogue}/catalogue" in started.stdout
            page = httpx.get(f"{catalogue}/catalogue", params={"q": title.group(1)}, timeout=30)
            assert page.status_code == 200 and title.group(1) in page.text, page.text[:2000]
            assert "Universität des Saarlandes" in page.text
        # The bus is the secretariat's: each node on it as its own principal, made from the signed registry.
        credentials = sorted(path.name for path in (tmp_path / "alliance" / "secretariat" / "kafka").glob("*.properties"))
        assert credentials == ["t4eu.primorska.properties", "t4eu.saarland.properties", "t4eu.silesia.properties"]
        bus = httpx.get("http://127.0.0.1:8206/bus", timeout=30).json()
        assert (bus["node"], bus["connected"], bus["members"]) == ("silesia", True, ["primorska", "saarland"])
    finally:
        subprocess.run(ALLIANCE_SH + ["stop"], env=environment, capture_output=True, timeout=300)
