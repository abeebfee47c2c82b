"""Production-like feed hosts on loopback for the lateness benchmark: several loopback addresses (hosts), latency
with a median of 300 ms and a long tail to 5 s, 1% of requests that never answer in time, 2% that answer 500,
ETag/304 for unchanged calendars, and a small share of calendars changing every minute."""
from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.feed_server import Fleet, read_request  # noqa: E402 - the same real-looking feeds as bench_fleet


def latency(rng: random.Random) -> float:
    """Seconds: lognormal around 300 ms (p90 ~ 0.9 s, p99 ~ 2.5 s), capped at 5 s."""
    return min(5.0, rng.lognormvariate(-1.2, 0.85))


async def serve(fleet: Fleet, hosts: list[tuple[str, int]], hang: float, timeout_share: float, error_share: float,
                change_per_minute: float) -> None:
    """Answer GET /feed/<n>.ics on every host (address, port) until killed."""
    rng = random.Random(11)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                path, headers = await read_request(reader)
                roll = rng.random()
                if roll < timeout_share:
                    await asyncio.sleep(hang)  # longer than the fetch timeout: the client gives up
                    break
                await asyncio.sleep(latency(rng))
                if not path.startswith("/feed/"):
                    status, body, extra = "404 Not Found", b"", ""
                elif roll < timeout_share + error_share:
                    status, body, extra = "500 Internal Server Error", b"oops", ""
                else:
                    body, etag = fleet.body(int(path[6:].split(".")[0]))
                    status = "200 OK"
                    extra = f"ETag: {etag}\r\nContent-Type: text/calendar; charset=utf-8\r\n"
                    if headers.get("if-none-match") == etag:
                        status, body = "304 Not Modified", b""
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}"
                             f"Connection: keep-alive\r\n\r\n".encode() + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def change() -> None:
        minute = 0
        while True:
            await asyncio.sleep(60)
            minute += 1
            fleet.change(change_per_minute, seed=minute)

    servers = [await asyncio.start_server(handle, address, port, backlog=4096) for address, port in hosts]
    print("ready", flush=True)
    await asyncio.gather(change(), *(s.serve_forever() for s in servers))


def main() -> None:
    """Run the hosts (killed by the benchmark when done)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", required=True, help="comma-separated address:port, one per host")
    parser.add_argument("--links", type=int, required=True)
    parser.add_argument("--hang", type=float, default=20.0)
    parser.add_argument("--timeouts", type=float, default=0.01)
    parser.add_argument("--errors", type=float, default=0.02)
    parser.add_argument("--change-per-minute", type=float, default=0.2, help="percent of calendars")
    args = parser.parse_args()
    hosts = [(address, int(port)) for address, port in (h.rsplit(":", 1) for h in args.hosts.split(","))]
    asyncio.run(serve(Fleet(args.links, google_every=10**9), hosts,
                      args.hang, args.timeouts, args.errors, args.change_per_minute))


if __name__ == "__main__":
    main()
