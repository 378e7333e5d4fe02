"""Organization input checks: service areas (GeoJSON through shapely), points, time zones."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dispatch.errors import ValidationFailed
from dispatch.kit.geo import GeoJsonArea, GeoPoint, area_geography, area_of, area_shape
from dispatch.organizations.schemas import OrganizationUpdate, StaffInvite

SQUARE = [[[13.2, 52.4], [13.6, 52.4], [13.6, 52.65], [13.2, 52.65], [13.2, 52.4]]]


def test_polygon_becomes_multipolygon_and_round_trips() -> None:
    area = GeoJsonArea(type="Polygon", coordinates=SQUARE)
    assert area_shape(area).geom_type == "MultiPolygon"
    assert area_of(area_geography(area)).model_dump() == {"type": "MultiPolygon", "coordinates": [SQUARE]}


@pytest.mark.parametrize(
    "coordinates",
    [
        [[[13.0, 52.0], [13.5, 52.5], [13.5, 52.0], [13.0, 52.5], [13.0, 52.0]]],  # bow tie
        [[[13.0, 52.0], [190.0, 52.0], [13.0, 53.0], [13.0, 52.0]]],  # lon out of range
        [[[13.0, 52.0], [14.0, 52.0], [13.0, 95.0], [13.0, 52.0]]],  # lat out of range
        [[[13.0, 52.0], [14.0, 52.0], [15.0, 52.0], [13.0, 52.0]]],  # no area
        [[[13.0, 52.0]]],  # too few points
        [[["a", "b"], ["c", "d"], ["e", "f"], ["a", "b"]]],  # not numbers
        [[]],  # empty ring
        [[[13.0, 52.0], [14.0, 52.0], [14.0, 53.0], [13.0, 53.0]]],  # ring not closed
        [[[13.0, 52.0], [14.0, 52.0], [True, 53.0], [13.0, 52.0]]],  # a boolean is no number
        [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]],  # the whole planet
        [[[-179, -60], [179, -60], [179, 60], [-179, 60], [-179, -60]]],  # 358 degrees wide
        [[[0, -89.9], [0.1, -89.9], [179.9, 89.9], [179.8, 89.9], [0, -89.9]]],  # antipodal edge
        [[[0, 80], [10, 80], [10, 90], [0, 90], [0, 80]]],  # touches a pole
    ],
)
def test_bad_areas_are_rejected_naming_the_field(coordinates: list[Any]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        area_shape(GeoJsonArea(type="Polygon", coordinates=coordinates))
    assert caught.value.extra["field"] == "service_area"


@pytest.mark.parametrize("coordinates", [[{}], [[{}]], [1], [[[[1, 2]]]], [[]]])
def test_malformed_multipolygons_are_rejected(coordinates: list[Any]) -> None:
    with pytest.raises(ValidationFailed):
        area_shape(GeoJsonArea(type="MultiPolygon", coordinates=coordinates))


def test_only_polygons_and_multipolygons() -> None:
    with pytest.raises(ValidationError):
        GeoJsonArea.model_validate({"type": "Point", "coordinates": [13.4, 52.5]})
    with pytest.raises(ValidationError):
        GeoJsonArea.model_validate({"type": "Polygon", "coordinates": []})


def test_points_stay_on_earth() -> None:
    for lon, lat in ((181, 0), (0, -90.5), (float("nan"), 0)):
        with pytest.raises(ValidationError):
            GeoPoint(lon=lon, lat=lat)


def test_profile_fields_are_checked() -> None:
    with pytest.raises(ValidationError):
        OrganizationUpdate.model_validate({"timezone": "Mars/Olympus"})
    with pytest.raises(ValidationError):
        OrganizationUpdate.model_validate({"currency": "euro"})
    with pytest.raises(ValidationError):
        OrganizationUpdate.model_validate({"hourly_rate_cents": -1})
    assert OrganizationUpdate.model_validate({"timezone": "Europe/Berlin"}).timezone


def test_staff_invite_needs_a_way_to_sign_in() -> None:
    with pytest.raises(ValidationError):
        StaffInvite.model_validate({"role": "driver", "full_name": "Nobody"})
    with pytest.raises(ValidationError):
        StaffInvite.model_validate({"role": "mover_admin", "full_name": "Boss", "phone": "+4930123456"})
    invite = StaffInvite.model_validate({"role": "driver", "full_name": "Jo", "phone": "+4930123456"})
    assert invite.skills == ["driver"]
