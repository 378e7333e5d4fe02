"""Points and service areas at the API edge: validated with shapely, stored as geography."""

from __future__ import annotations

from typing import Any, Literal

from geoalchemy2.shape import from_shape, to_shape
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.validation import explain_validity

from dispatch.errors import ValidationFailed


class GeoPoint(BaseModel):
    """A WGS84 position."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"lon": 13.405, "lat": 52.52}]})

    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)


class GeoJsonArea(BaseModel):
    """A GeoJSON Polygon or MultiPolygon in lon/lat (RFC 7946)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "Polygon",
        "coordinates": [[[13.25, 52.42], [13.55, 52.42], [13.55, 52.62], [13.25, 52.62],
                         [13.25, 52.42]]],
    }]})

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(min_length=1)


def point_geography(point: GeoPoint) -> Any:
    return from_shape(Point(point.lon, point.lat), srid=4326)


def point_of(geography: Any) -> GeoPoint:
    position = to_shape(geography)
    return GeoPoint(lon=position.x, lat=position.y)


def area_shape(area: GeoJsonArea, field: str = "service_area") -> MultiPolygon:
    """Parse and check a service area: well-formed, valid, non-empty, inside lon/lat ranges."""
    try:
        geometry = shape(area.model_dump())
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise ValidationFailed(f"{field} is not a well-formed GeoJSON {area.type}",
                               field=field) from exc
    if geometry.is_empty:
        raise ValidationFailed(f"{field} is empty", field=field)
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        raise ValidationFailed(f"{field} has coordinates outside lon [-180, 180] / lat [-90, 90]",
                               field=field)
    if not geometry.is_valid:
        raise ValidationFailed(f"{field} is not a valid polygon: {explain_validity(geometry)}",
                               field=field)
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon([geometry])
    if geometry.area <= 0:
        raise ValidationFailed(f"{field} encloses no area", field=field)
    return geometry


def area_geography(area: GeoJsonArea, field: str = "service_area") -> Any:
    return from_shape(area_shape(area, field), srid=4326)


def area_of(geography: Any) -> GeoJsonArea:
    geojson = mapping(to_shape(geography))
    return GeoJsonArea.model_validate({"type": geojson["type"],
                                       "coordinates": _lists(geojson["coordinates"])})


def _lists(value: Any) -> Any:
    """shapely's mapping() nests tuples; JSON wants lists."""
    if isinstance(value, tuple | list):
        return [_lists(item) for item in value]
    return value
