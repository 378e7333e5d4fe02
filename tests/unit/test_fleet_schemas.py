"""Fleet input checks and the shared sorting helper."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from dispatch.fleet.schemas import DriverCreate, DriverSort, TruckCreate
from persistence.models import Driver
from persistence.repositories.base import sort_field, sorted_by

HOME = {"lon": 13.4, "lat": 52.5}


def test_skills_are_known_and_distinct() -> None:
    driver = DriverCreate.model_validate(
        {"full_name": "Jo", "home_base": HOME, "skills": ["packer", "driver", "packer"]}
    )
    assert driver.skills == ["packer", "driver"]
    for skills in ([], ["pilot"]):
        with pytest.raises(ValidationError):
            DriverCreate.model_validate({"full_name": "Jo", "home_base": HOME, "skills": skills})


@pytest.mark.parametrize(
    "body",
    [
        {"plate": "b-mh 1", "capacity_m3": 10},  # lower case
        {"plate": "B-MH 1", "capacity_m3": 0},
        {"plate": "B-MH 1", "capacity_m3": float("inf")},
        {"plate": "B-MH 1", "capacity_m3": 10, "status": "stolen"},
    ],
)
def test_bad_trucks(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TruckCreate.model_validate(body)


def test_sort_keys_map_to_order_by_with_a_tiebreak() -> None:
    assert sort_field(DriverSort.rating_desc) == ("rating_avg", True)
    assert sort_field(DriverSort.full_name) == ("full_name", False)
    statement = sorted_by(
        select(Driver),
        [DriverSort.rating_desc, DriverSort.full_name],
        {"rating_avg": Driver.rating_avg, "full_name": Driver.full_name},
        Driver.id,
    )
    sql = str(statement.compile(dialect=postgresql.dialect()))
    assert sql.endswith("ORDER BY drivers.rating_avg DESC, drivers.full_name ASC, drivers.id ASC")
