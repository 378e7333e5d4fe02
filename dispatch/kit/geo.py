"""Points and service areas at the API edge: validated with shapely, stored as geography."""

from __future__ import annotations

import itertools
import math
from typing import Any, Literal

from geoalchemy2.shape import from_shape, to_shape
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import MultiPolygon, Point, Polygon, mapping
from shapely.validation import explain_validity

from dispatch.errors import ValidationFailed


class GeoPoint(BaseModel):
    """A WGS84 position."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"lon": 13.405, "lat": 52.52}]})

    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)


class GeoJsonArea(BaseModel):
    """A GeoJSON Polygon or MultiPolygon in lon/lat (RFC 7946)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[13.25, 52.42], [13.55, 52.42], [13.55, 52.62], [13.25, 52.62], [13.25, 52.42]]
                    ],
                }
            ]
        }
    )

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(min_length=1)


def point_geography(point: GeoPoint) -> Any:
    return from_shape(Point(point.lon, point.lat), srid=4326)


def point_of(geography: Any) -> GeoPoint:
    position = to_shape(geography)
    return GeoPoint(lon=position.x, lat=position.y)


Position = tuple[float, float]
Ring = list[Position]
# PostGIS geography joins two vertices by the shorter great circle: an edge of 180 degrees has
# no shorter one (an error), and a near-antipodal edge is numerically ambiguous.
MAX_EDGE_DEGREES = 179.0


def _invalid(field: str, detail: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {detail}", field=field)


def _position(value: Any, field: str) -> Position:
    """[lon, lat] (an altitude, which RFC 7946 allows, is dropped): finite numbers in range."""
    if (
        not isinstance(value, list)
        or len(value) not in (2, 3)
        or not all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in value)
    ):
        raise _invalid(field, "has a position that is not [lon, lat] in numbers")
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _invalid(field, "has coordinates outside lon [-180, 180] / lat [-90, 90]")
    return lon, lat


def _ring(value: Any, field: str) -> Ring:
    if not isinstance(value, list) or len(value) < 4:
        raise _invalid(field, "has a ring of fewer than 4 positions")
    ring = [_position(position, field) for position in value]
    if ring[0] != ring[-1]:
        raise _invalid(field, "has a ring that is not closed (the last position must repeat the first)")
    for start, end in itertools.pairwise(ring):
        _check_edge(start, end, field)
    return ring


def _check_edge(start: Position, end: Position, field: str) -> None:
    if _arc_degrees(start, end) > MAX_EDGE_DEGREES:
        raise _invalid(
            field,
            f"has an edge longer than {MAX_EDGE_DEGREES:g} degrees of arc (nearly antipodal ends); split it",
        )


def _arc_degrees(start: Position, end: Position) -> float:
    """The great-circle angle between two lon/lat positions (haversine)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*start, *end))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))


def _polygon(value: Any, field: str) -> Polygon:
    if not isinstance(value, list) or not value:
        raise _invalid(field, "has a polygon without rings")
    shell, *holes = (_ring(ring, field) for ring in value)
    return Polygon(shell, holes)


def area_shape(area: GeoJsonArea, field: str = "service_area") -> MultiPolygon:
    """Parse and check a service area: well-formed (closed rings of [lon, lat] numbers), valid,
    non-empty, inside lon/lat ranges, and with edges PostGIS geography takes as drawn. Every
    check happens here, so the database never sees a geometry it would refuse (a 500)."""
    polygons = area.coordinates if area.type == "MultiPolygon" else [area.coordinates]
    geometry = MultiPolygon([_polygon(polygon, field) for polygon in polygons])
    if geometry.is_empty:
        raise _invalid(field, "is empty")
    if not geometry.is_valid:
        raise _invalid(field, f"is not a valid polygon: {explain_validity(geometry)}")
    if geometry.area <= 0:
        raise _invalid(field, "encloses no area")
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if max_lon - min_lon >= 180 or max(abs(min_lat), abs(max_lat)) >= 90:
        # On the sphere -180 and 180 are one meridian and a pole has no longitude: such an
        # area is not what its planar drawing shows (a whole-planet ring has zero area there).
        raise _invalid(field, "must span less than 180 degrees of longitude and stay off the poles")
    return geometry


def area_geography(area: GeoJsonArea, field: str = "service_area") -> Any:
    return from_shape(area_shape(area, field), srid=4326)


def area_of(geography: Any) -> GeoJsonArea:
    geojson = mapping(to_shape(geography))
    return GeoJsonArea.model_validate(
        {"type": geojson["type"], "coordinates": _lists(geojson["coordinates"])}
    )


def _lists(value: Any) -> Any:
    """shapely's mapping() nests tuples; JSON wants lists."""
    if isinstance(value, tuple | list):
        return [_lists(item) for item in value]
    return value
