"""A loopback fleet of feeds for the benchmark: asyncio, keep-alive, added latency, ETag/304, and a
count of the feed requests in flight (GET /stats: their time-weighted mean while any is open, and the peak)."""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.jobs.feeds import airbnb_feed, google_history_feed  # noqa: E402 - real-looking feeds


class Fleet:
    """Feed bodies by index; `google_every` th feed is a 2,000-event Google history."""

    def __init__(self, links: int, google_every: int):
        self.today = date.today()
        self.google = google_history_feed(self.today, events=2000)
        self.versions = [0] * links
        self.google_every = google_every
        self.bodies: dict[int, tuple[bytes, str]] = {}

    def body(self, index: int) -> tuple[bytes, str]:
        """The current body of feed `index` and its ETag."""
        if index not in self.bodies:
            if index % self.google_every == 0:
                body = self.google if self.versions[index] == 0 else self.google.replace(
                    b"END:VCALENDAR", self._google_extra(index), 1)
            else:
                body = self._airbnb(index)
            self.bodies[index] = (body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
        return self.bodies[index]

    def _google_extra(self, index: int) -> bytes:
        start = self.today + timedelta(days=30 + self.versions[index])
        return (f"BEGIN:VEVENT\r\nUID:extra-{index}-{self.versions[index]}@google.com\r\n"
                f"DTSTART;VALUE=DATE:{start:%Y%m%d}\r\nDTEND;VALUE=DATE:"
                f"{start + timedelta(days=2):%Y%m%d}\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\n"
                "END:VCALENDAR").encode()

    def _airbnb(self, index: int) -> bytes:
        rng = random.Random(index)
        stays, day = [], self.today + timedelta(days=rng.randint(0, 10) + self.versions[index])
        for n in range(8):
            nights = rng.randint(2, 7)
            stays.append((day, day + timedelta(days=nights),
                          "Reserved" if n % 3 else "Airbnb (Not available)"))
            day += timedelta(days=nights + rng.randint(1, 12))
        return airbnb_feed(stays)

    def change(self, percent: float, seed: int) -> int:
        """Move one stay in `percent` of the feeds (a new version); return how many changed."""
        rng = random.Random(seed)
        chosen = rng.sample(range(len(self.versions)), int(len(self.versions) * percent / 100))
        for index in chosen:
            self.versions[index] += 1
            self.bodies.pop(index, None)
        return len(chosen)


class InFlight:
    """Feed requests open at once, integrated over time (a mean the client cannot fake): over the whole
    time any is open, and over the time while links remain (before the expected last request began)."""

    def __init__(self):
        self.open, self.peak, self.requests, self.expect = 0, 0, 0, 0
        self.area = self.busy = self.area_remaining = self.busy_remaining = 0.0
        self.since = time.monotonic()

    def _tick(self) -> None:
        now = time.monotonic()
        if self.open:
            self.area += self.open * (now - self.since)
            self.busy += now - self.since
            if self.requests < self.expect:
                self.area_remaining += self.open * (now - self.since)
                self.busy_remaining += now - self.since
        self.since = now

    def begin(self) -> None:
        self._tick()
        self.open, self.requests = self.open + 1, self.requests + 1
        self.peak = max(self.peak, self.open)

    def end(self) -> None:
        self._tick()
        self.open -= 1

    def take(self, expect: int) -> dict:
        """The figures since the last take; then start again, expecting `expect` requests."""
        self._tick()
        figures = {"mean": self.area / self.busy if self.busy else 0.0,
                   "mean_while_remaining": self.area_remaining / self.busy_remaining
                   if self.busy_remaining else 0.0,
                   "peak": self.peak, "requests": self.requests, "busy_seconds": self.busy}
        self.peak, self.requests, self.expect = self.open, 0, expect
        self.area = self.busy = self.area_remaining = self.busy_remaining = 0.0
        return figures


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    """One request's path and headers (lower-cased names); IncompleteReadError when the client closed."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    return lines[0].split(" ")[1], headers


async def serve(fleet: Fleet, port: int, latency: float) -> None:
    """Answer GET /feed/<n>.ics (and /change?percent=&seed=, /stats) until killed."""
    flight = InFlight()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                path, headers = await read_request(reader)
                feed = path.startswith("/feed/")
                if feed:
                    flight.begin()
                try:
                    await asyncio.sleep(latency)  # stands for the internet
                    status, body, extra = await answer(path, headers)
                    writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}"
                                 f"Connection: keep-alive\r\n\r\n".encode() + body)
                    await writer.drain()
                finally:
                    if feed:
                        flight.end()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def answer(path: str, headers: dict) -> tuple[str, bytes, str]:
        status, body, extra = "200 OK", b"", ""
        if path.startswith("/stats"):
            expect = int(path.partition("expect=")[2] or 0)
            body = json.dumps(flight.take(expect)).encode()
        elif path.startswith("/change"):
            query = dict(p.split("=") for p in path.split("?", 1)[1].split("&"))
            body = str(fleet.change(float(query["percent"]), int(query["seed"]))).encode()
        elif path.startswith("/feed/"):
            body, etag = fleet.body(int(path[6:].split(".")[0]))
            extra = f"ETag: {etag}\r\nContent-Type: text/calendar; charset=utf-8\r\n"
            if headers.get("if-none-match") == etag:
                status, body = "304 Not Modified", b""
        else:
            status = "404 Not Found"
        return status, body, extra

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=2048)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Run the fleet server (killed by the benchmark when done)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--links", type=int, required=True)
    parser.add_argument("--google-every", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.150)
    args = parser.parse_args()
    asyncio.run(serve(Fleet(args.links, args.google_every), args.port, args.latency))


if __name__ == "__main__":
    main()
