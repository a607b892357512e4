"""Locust users for the concurrent-load benchmark (run by bench/load.py, headless).

- `Administrator` (50): signs in through the login form, then browses Settings > Security >
  Audit Log with varied filters (event types, sub-filters, date ranges, page sizes), pages
  Older by following the page's own link, jumps to deep pages by cursor, sometimes searches;
  like a browser, it then loads the page's embedded volume strip (events per day).
- `ApiClient` (10): pages `/api/v1/audit-events/` with a Bearer token, following `next`.

FastHttpUser (geventhttpclient): the load generator shares the 2 cores with the server, so
its own CPU per request matters; it costs several times less than the requests-based client.

Each request is named after what it measures ("viewer: first page", "api: next page", …) so
the report gives percentiles per kind. Raw response times are kept in memory and written to
BENCH_LOAD_OUT when the test stops (exact percentiles, not Locust's rounded buckets);
everything before all users have started (the sign-ins) is discarded.
"""

import html
import itertools
import json
import os
import random
import re
import time
from collections import defaultdict
from urllib.parse import urlencode

from locust import FastHttpUser, between, events, task

CONFIG = json.loads(open(os.environ["BENCH_LOAD_CONFIG"]).read())  # noqa: SIM115
VIEWER = "/settings/security/audit-log/"
API = "/api/v1/audit-events/"
_OLDER = re.compile(r'rel="next" href="([^"]+)"')
_VOLUME = re.compile(r'<iframe class="volume-strip"[^>]* src="([^"]+)"')
_MAX_AGE = re.compile(r"max-age=(\d+)")

_admins = itertools.cycle(CONFIG["admins"])
_tokens = itertools.cycle(CONFIG["tokens"])
_samples: dict[str, list[float]] = defaultdict(list)
_failures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
_window = {"start": None, "end": None}


@events.spawning_complete.add_listener
def _measure_after_warmup(user_count: int, **kwargs: object) -> None:
    # Sign-ins (password hashing) and cold caches first; measure from here on.
    _window["start"] = time.time() + float(os.environ.get("BENCH_LOAD_WARMUP", "0"))


@events.request.add_listener
def _keep(name: str, response_time: float, exception: object, **kwargs: object) -> None:
    if _window["start"] is None or time.time() < _window["start"]:
        return
    if exception is not None:
        _failures[name][str(exception)[:120]] += 1
    else:
        _samples[name].append(response_time)


@events.test_stop.add_listener
def _write(**kwargs: object) -> None:
    _window["end"] = time.time()
    out = os.environ.get("BENCH_LOAD_OUT")
    if out:
        with open(out, "w") as handle:
            json.dump(
                {"window": _window, "samples": _samples, "failures": _failures},
                handle,
            )


def _filters(org: dict) -> dict[str, str]:
    """One varied filter set an Administrator might use."""
    days = random.choice((7, 7, 7, 30, 90))
    window = {"start": org["days_ago"][str(days)], "end": org["today"]}
    choice = random.random()
    if choice < 0.25:
        return {}  # the default view: last 7 days, everything
    if choice < 0.55:
        return {**window, "event_type": random.choice(CONFIG["event_types"])}
    if choice < 0.65:
        return {**window, "event_type": "authorization", "user": random.choice(org["users"])}
    if choice < 0.75:
        return {**window, "event_type": "work_session", "agent": random.choice(org["users"])}
    if choice < 0.82:
        return {**window, "event_type": "settings", "kind": random.choice(CONFIG["kinds"])}
    if choice < 0.87:
        return {
            **window,
            "event_type": "settings",
            "performed_by": random.choice(org["users"]),
        }
    if choice < 0.94:
        return {
            **window,
            "event_type": "conversation",
            "subject_id": random.choice(org["conversations"]),
        }
    return {**window, "event_type": "customer", "subject_id": random.choice(org["customers"])}


def _check(response: object, name: str) -> bool:
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}")
        return False
    return True


class Administrator(FastHttpUser):
    fixed_count = CONFIG["administrators"]
    wait_time = between(*CONFIG["admin_wait"])

    def on_start(self) -> None:
        self.browser_cache: dict[str, float] = {}
        account = next(_admins)
        self.org = CONFIG["orgs"][account["org"]]
        page = self.client.get("/accounts/login/", name="sign in (form)")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text or "")
        response = self.client.post(
            "/accounts/login/",
            data=urlencode(
                {
                    "csrfmiddlewaretoken": match[1] if match else "",
                    "username": account["email"],
                    "password": account["password"],
                }
            ),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": self.host + "/accounts/login/",
            },
            name="sign in",
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(f"sign-in failed for {account['email']}: {response.status_code}")

    def _get(self, url: str, name: str) -> str | None:
        with self.client.get(url, name=name, catch_response=True) as response:
            if not _check(response, name):
                return None
            if "Audit Log" not in response.text:
                response.failure("not the Audit Log page")
                return None
            text = response.text
        # The browser then loads the page's embedded volume strip (its own request).
        volume = _VOLUME.search(text) if CONFIG.get("volume_strip", True) else None
        if volume:
            url = html.unescape(volume[1])
            # Like a browser, reuse a strip its Cache-Control allows (paging keeps its URL).
            if self.browser_cache.get(url, 0) > time.monotonic():
                return text
            with self.client.get(url, name="viewer: volume strip", catch_response=True) as response:
                if _check(response, "viewer: volume strip"):
                    age = _MAX_AGE.search(response.headers.get("Cache-Control") or "")
                    if age:
                        self.browser_cache[url] = time.monotonic() + int(age[1])
        return text

    @task(10)
    def browse(self) -> None:
        params = _filters(self.org)
        size = random.choice((None, None, None, 25, 100))
        if size:
            params["page_size"] = str(size)
        page = self._get(VIEWER + ("?" + urlencode(params) if params else ""), "viewer: first page")
        for _ in range(random.choice((0, 0, 1, 1, 2, 3))):
            if page is None:
                return
            older = _OLDER.search(page)
            if older is None:
                return
            self.wait()
            page = self._get(VIEWER + html.unescape(older[1]), "viewer: next page")

    @task(3)
    def deep(self) -> None:
        url = random.choice(self.org["deep_viewer"])
        self._get(url, "viewer: deep page")

    @task(1)
    def search(self) -> None:
        # Typed into the page's form, which carries its date fields (the last 7 days).
        params = {
            "start": self.org["days_ago"]["7"],
            "end": self.org["today"],
            "q": random.choice(self.org["searches"]),
        }
        self._get(VIEWER + "?" + urlencode(params), "viewer: search (q)")


class ApiClient(FastHttpUser):
    fixed_count = CONFIG["api_clients"]
    wait_time = between(*CONFIG["api_wait"])

    def on_start(self) -> None:
        account = next(_tokens)
        self.org = CONFIG["orgs"][account["org"]]
        self.headers = {"Authorization": f"Bearer {account['secret']}"}

    def _get(self, url: str, name: str) -> dict | None:
        with self.client.get(url, name=name, headers=self.headers, catch_response=True) as response:
            if not _check(response, name):
                return None
            try:
                return response.json()
            except ValueError:
                response.failure("not JSON")
                return None

    @task(8)
    def sync(self) -> None:
        params = {"page_size": random.choice(("50", "100"))}
        if random.random() < 0.5:
            params["event_type"] = random.choice(CONFIG["event_types"])
        body = self._get(API + "?" + urlencode(params), "api: first page")
        for _ in range(random.choice((1, 2, 3))):
            if not body or not body.get("next"):
                return
            self.wait()
            nxt = body["next"]
            body = self._get(nxt[nxt.index("/api/") :], "api: next page")

    @task(3)
    def deep(self) -> None:
        self._get(random.choice(self.org["deep_api"]), "api: deep page")

    @task(1)
    def bulk(self) -> None:
        self._get(API + "?page_size=500", "api: first page of 500")
