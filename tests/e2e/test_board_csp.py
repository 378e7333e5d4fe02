"""The fleet board under its Content-Security-Policy in Chromium: it goes live with no violation.

A listener for `securitypolicyviolation` is installed before the page's own code runs; an
inline script injected at the end proves the listener (and the policy) work.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Browser

from dispatch.auth.tokens import issue_access_token
from persistence.config import get_settings
from tests.factories import caller_for, make_driver, make_org, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""
INJECT_INLINE = """() => new Promise((resolve) => {
  const script = document.createElement("script");
  script.textContent = "window.__inlineRan = true;";
  document.body.appendChild(script);
  setTimeout(() => resolve(window.__inlineRan === true), 200);
})"""


async def test_the_board_goes_live_without_a_csp_violation(gateway_url: str, browser: Browser) -> None:
    org = await make_org(name="CSP Board Movers")
    dispatcher = await make_user("dispatcher", org, email=f"csp-{uuid.uuid4().hex[:8]}@example.com")
    await make_driver(org, lon=13.4, lat=52.52, full_name="Ines Csp")
    context = await browser.new_context()
    try:
        await context.add_init_script(RECORD_VIOLATIONS)
        page = await context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        response = await page.goto(
            f"{gateway_url}/board?token={issue_access_token(caller_for(dispatcher), get_settings())}"
        )
        assert response is not None
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        await page.wait_for_function(
            "() => window.__board && window.__board.status === 'live'", timeout=30_000
        )
        assert await page.evaluate("() => window.__board.drivers.size") == 1
        assert await page.evaluate("() => window.__csp") == []
        assert not [m for m in console if "Content Security Policy" in m or "pageerror" in m]

        # The control: an inline script is blocked, and the violation is seen.
        assert await page.evaluate(INJECT_INLINE) is False
        assert any(v.startswith("script-src") for v in await page.evaluate("() => window.__csp"))
    finally:
        await context.close()
