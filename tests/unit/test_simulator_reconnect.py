"""The simulator reconnects after every close code the protocol document does not call final,
and stops a driver on the final ones (the document's list and the simulator's agree)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.simulator.session import FINAL_CLOSES, reconnects_after

DOC = Path(__file__).parents[2] / "docs" / "realtime-protocol.md"


def documented_final_codes() -> set[int]:
    line = re.search(r"\*\*Final close codes: ([0-9, ]+)\.\*\*", DOC.read_text())
    assert line is not None, "the protocol document names its final close codes"
    return {int(code) for code in line.group(1).split(",")}


def documented_codes() -> set[int]:
    return {int(code) for code in re.findall(r"^\| (\d{4}) \|", DOC.read_text(), re.M)}


def test_the_simulator_stops_on_exactly_the_documented_final_codes() -> None:
    assert set(FINAL_CLOSES) == documented_final_codes()
    assert documented_final_codes() <= documented_codes()


@pytest.mark.parametrize("code", [1000, 1001, 1006, 1011, 1012, 1013, 4408, 4429, 4999])
def test_it_reconnects_after_transient_codes(code: int) -> None:
    assert reconnects_after(code)


@pytest.mark.parametrize("code", [1003, 1009, 4400, 4401, 4403, 4410])
def test_it_stops_on_final_codes(code: int) -> None:
    assert not reconnects_after(code)


def test_every_documented_code_is_decided() -> None:
    for code in documented_codes():
        assert reconnects_after(code) is (code not in documented_final_codes())
