"""OpenTelemetry traces for every process MoveHub owns: the gateway, the fleet shards, the outbox
worker and the scheduler (Ray actors), all exporting to one OTLP/HTTP endpoint.

Off unless the standard variables ask for it (`OTEL_TRACES_EXPORTER`, or an
`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`; `OTEL_SDK_DISABLED=true` wins), and then costing
nothing: no provider is built, no library instrumented, and every helper here returns at once
on one module flag. When on, `setup()` builds a tracer provider with the sampler of
`OTEL_TRACES_SAMPLER`/`_ARG` and a batch processor (`OTEL_BSP_*`) feeding the exporters named
by `OTEL_TRACES_EXPORTER` (`otlp`, the default, over HTTP/protobuf to
`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`; `console`), and instruments SQLAlchemy (the DB spans),
Redis, and the HTTP clients of the provider SDKs: httpx (Stripe), aiohttp (Twilio) and
urllib (SendGrid's python_http_client). FastAPI is instrumented per app (`instrument_app`).

Each process reports as service `<OTEL_SERVICE_NAME or movehub>-<role>` (movehub-gateway,
movehub-fleet-shard, movehub-outbox-worker, movehub-scheduler), all in the service namespace
`<OTEL_SERVICE_NAME or movehub>`. The context crosses our process boundaries by hand, as W3C
trace context: a carrier dict given to each fleet-shard call (`carrier()` / `span(carrier=)`),
a `traceparent` column on every outbox row (`traceparent()` / `span(traceparent=)`).

Ray actors are not started by a shell that has the variables: their creator hands them its
`environment()` (the OTEL_* variables) and the actor calls `setup(role, env)` first thing.
"""

from __future__ import annotations

import functools
import inspect
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Link, Span, SpanKind, Tracer

P = ParamSpec("P")
R = TypeVar("R")
DEFAULT_NAME = "movehub"
_active = False  # the one flag every helper reads first: False means no OTel code runs
_provider: TracerProvider | None = None
_tracer: Tracer | None = None
_instrumentors: list[Any] = []
_role = ""


def configured(env: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables ask for traces (the SDK's own rules, simplified): an
    exporter named other than `none`, or an OTLP endpoint; OTEL_SDK_DISABLED=true says no."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER")
    if exporters is not None:
        return any(e.strip().lower() not in ("", "none") for e in exporters.split(","))
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's OTEL_* variables: what a Ray actor it creates needs to trace alike."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if k.startswith("OTEL_")}


def active() -> bool:
    return _active


def setup(role: str, env: Mapping[str, str] | None = None) -> bool:
    """Trace this process as `<name>-<role>` when the variables ask for it (once per
    process; later calls are no-ops). `env`: OTEL_* variables handed over by the creator
    (a Ray actor's), applied under the process's own. Returns whether tracing is on."""
    global _active, _provider, _tracer, _role
    for key, value in (env or {}).items():
        if key.startswith("OTEL_"):
            os.environ.setdefault(key, value)
    if _active or not configured():
        return _active
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_NAME
    resource = Resource.create(
        {
            "service.name": f"{name}-{role}",
            "service.namespace": name,
            "service.instance.id": uuid.uuid4().hex,
            "process.pid": os.getpid(),
        }
    )
    provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER(_ARG)
    for exporter in _exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))  # OTEL_BSP_* tune it
    _provider, _role = provider, role
    _tracer = provider.get_tracer("movehub")
    _instrument_libraries(provider)
    _active = True
    return True


def _exporters() -> list[Any]:
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    found: list[Any] = []
    if "otlp" in names:
        # HTTP/protobuf whatever OTEL_EXPORTER_OTLP_PROTOCOL says: the gRPC exporter is not
        # installed (collectors and Jaeger take OTLP/HTTP on :4318).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        found.append(OTLPSpanExporter())  # endpoint, headers, timeout from OTEL_EXPORTER_OTLP_*
    if "console" in names:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        found.append(ConsoleSpanExporter())
    return found


def _instrument_libraries(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.instrumentation.urllib import URLLibInstrumentor

    from persistence import session

    # Engines made before setup (a test's process) are instrumented here; later ones by the
    # instrumented create_async_engine (persistence/session.py calls it through its module).
    engines = [e.sync_engine for e in (session._engine, session._analytics_engine) if e is not None]
    # skip_dep_check: its declared range stops below SQLAlchemy 2.1, whose engine events it
    # uses are unchanged (the DB spans are asserted by tests/integration/test_tracing.py).
    SQLAlchemyInstrumentor().instrument(tracer_provider=provider, engines=engines, skip_dep_check=True)
    _instrumentors.append(SQLAlchemyInstrumentor())
    for instrumentor in (
        RedisInstrumentor(),
        HTTPXClientInstrumentor(),  # Stripe's StripeClient(http_client=stripe.HTTPXClient)
        AioHttpClientInstrumentor(),  # Twilio's AsyncTwilioHttpClient
        URLLibInstrumentor(),  # SendGrid's python_http_client
    ):
        instrumentor.instrument(tracer_provider=provider)
        _instrumentors.append(instrumentor)


def instrument_app(app: Any) -> None:
    """Server spans for the app's HTTP requests and websocket sessions (none per frame sent or
    received: the sessions make their own span per frame handled), named by route. The ASGI
    middleware wraps the whole stack, outside gateway/security.py's wrapper (FastAPI's own
    instrument_app expects Starlette's error middleware outermost and would skip this app)."""
    if not _active:
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.instrumentation.fastapi import _get_default_span_details
    from opentelemetry.util.http import parse_excluded_urls

    excluded = parse_excluded_urls(
        os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "livez,readyz,metrics")
    )
    build = app.build_middleware_stack

    def build_traced() -> Any:
        return OpenTelemetryMiddleware(
            build(),
            excluded_urls=excluded,
            default_span_details=_get_default_span_details,
            tracer_provider=_provider,
            exclude_spans=["receive", "send"],
        )

    app.build_middleware_stack = build_traced


def shutdown() -> None:
    """Flush and stop: undo the instrumentation and drop the provider (tests; a process
    that exits flushes through the SDK's atexit hook)."""
    global _active, _provider, _tracer
    if not _active:
        return
    _active = False
    for instrumentor in _instrumentors:
        instrumentor.uninstrument()
    _instrumentors.clear()
    if _provider is not None:
        _provider.force_flush()
        _provider.shutdown()
    _provider = _tracer = None


def flush(timeout_ms: int = 5000) -> None:
    if _provider is not None:
        _provider.force_flush(timeout_ms)


# --- the context across process boundaries ----------------------------------------------


def carrier() -> dict[str, str] | None:
    """The current span's context as W3C headers (`traceparent`, `tracestate`), for a call into
    another process; None when tracing is off or no span is current."""
    if not _active:
        return None
    from opentelemetry import propagate

    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers or None


def traceparent() -> str | None:
    """The current span's W3C traceparent (stored with an outbox row), or None."""
    headers = carrier()
    return headers.get("traceparent") if headers else None


def trace_id() -> str | None:
    """The current trace's id in hex (the logs' correlation id), or None."""
    if not _active:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


@contextmanager
def span(
    name: str,
    *,
    carrier: Mapping[str, str] | None = None,
    traceparent: str | None = None,
    kind: str = "internal",
    attributes: Mapping[str, Any] | None = None,
    root: bool = False,
    link_current: bool = False,
) -> Iterator[Span | None]:
    """A span around the block, current inside it (None when tracing is off). Its parent:
    the remote context in `carrier` or `traceparent` when given (continued from another
    process), else the current span; `root`: a new trace instead (`link_current` links it
    to the span it would have been a child of, e.g. a websocket session's)."""
    if not _active or _tracer is None:
        yield None
        return
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace

    links: Sequence[Link] = ()
    parent: otel_context.Context | None = None
    if carrier or traceparent:
        parent = propagate.extract(dict(carrier) if carrier else {"traceparent": str(traceparent)})
    elif root:
        current = trace.get_current_span().get_span_context()
        if link_current and current.is_valid:
            links = (trace.Link(current),)
        parent = otel_context.Context()
    with _tracer.start_as_current_span(
        name, context=parent, kind=_kind(kind), attributes=dict(attributes or {}), links=links
    ) as current_span:
        yield current_span


def _kind(kind: str) -> SpanKind:
    from opentelemetry.trace import SpanKind

    return SpanKind[kind.upper()]


def traced(
    name: str | Callable[..., str],
    *,
    kind: str = "internal",
    parent: str | Callable[..., Mapping[str, str] | str | None] | None = None,
    root: bool = False,
    link_current: bool = False,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """`span()` around every call of an async function (one flag read when tracing is off).
    `name`: the span's, or a function of the call's arguments giving it. `parent`: the
    argument carrying the remote context (a carrier dict or a traceparent: a fleet shard's
    `trace`), or a function of the arguments finding it (an outbox row's traceparent)."""

    def wrap(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)  # Ray reads the signature through __wrapped__
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            # All the work in a module-level function: Ray pickles an actor class (and so this
            # closure) by value, with a copy of the globals it names; `_run` is pickled by
            # reference, so it reads this process's tracing state, not the creator's.
            return await _run(fn, (name, kind, parent, root, link_current), args, kwargs)

        return call

    return wrap


async def _run(
    fn: Callable[..., Awaitable[R]], how: tuple[Any, str, Any, bool, bool], args: Any, kwargs: Any
) -> R:
    if not _active:
        return await fn(*args, **kwargs)
    name, kind, parent, root, link_current = how
    remote: Mapping[str, str] | str | None = None
    if isinstance(parent, str):
        remote = inspect.signature(fn).bind_partial(*args, **kwargs).arguments.get(parent)
    elif parent is not None:
        remote = parent(*args, **kwargs)
    with span(
        name if isinstance(name, str) else name(*args, **kwargs),
        carrier=remote if isinstance(remote, Mapping) else None,
        traceparent=remote if isinstance(remote, str) else None,
        kind=kind,
        root=root,
        link_current=link_current,
    ):
        return await fn(*args, **kwargs)
