"""The benchmark harness's own pieces (the benchmarks themselves are not part of the test run)."""

from __future__ import annotations

import pytest

from benchmarks.load import Load, milliseconds, parse, script

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8000/generate
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  451.20us  12.66ms   90.12%
    Req/Sec    16.02k     1.10k   17.20k    84.00%
  Latency Distribution
     50%  881.00us
     75%    1.03ms
     90%    1.31ms
     99%    5.40ms
  80100 requests in 5.00s, 15.12MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  16020.51
Transfer/sec:      3.02MB
"""


def test_wrk_output_is_read_whole():
    result = parse(WRK_OUTPUT)

    assert (result.requests, result.requests_per_second, result.p50_ms, result.p99_ms) == (80100, 16020.51, 0.881, 5.40)
    assert (result.non_2xx, result.errors) == (7, 3)


@pytest.mark.parametrize(("text", "ms"), [("881.00us", 0.881), ("5.40ms", 5.4), ("1.50s", 1500.0)])
def test_latencies_are_read_in_milliseconds(text, ms):
    assert milliseconds(text) == pytest.approx(ms)


def test_the_lua_script_numbers_each_request_in_its_body():
    lua = script(Load("POST", "http://x/generate", {"Authorization": "Bearer k"}, '{"prompt": "fox {n}"}'))

    assert 'string.gsub("{\\"prompt\\": \\"fox {n}\\"}", "{n}", tostring(counter))' in lua
    assert '["Authorization"] = "Bearer k"' in lua
    assert 'wrk.format("POST", nil, headers, body)' in lua
