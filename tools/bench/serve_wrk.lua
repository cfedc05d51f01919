-- wrk script for tools/bench/serve: POSTs one image to the classify endpoint, counts answers by status and prints
-- one JSON line (requests/s, latency percentiles in ms, status counts) when the run ends.
local image = os.getenv("ZOO_BENCH_IMAGE")
local file = assert(io.open(image, "rb"))
wrk.method = "POST"
wrk.body = file:read("*all")
file:close()
wrk.headers["Content-Type"] = "image/jpeg"

local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local counts = {}
    for _, thread in ipairs(threads) do
        local seen = thread:get("statuses")
        for status, count in pairs(seen) do counts[status] = (counts[status] or 0) + count end
    end
    local parts = {}
    for status, count in pairs(counts) do table.insert(parts, string.format('"%d": %d', status, count)) end
    io.write(string.format('{"requests": %d, "seconds": %.3f, "errors": %d, "p50_ms": %.3f, "p99_ms": %.3f, "mean_ms": %.3f, "statuses": {%s}}\n',
        summary.requests, summary.duration / 1e6,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.mean / 1e3, table.concat(parts, ", ")))
end
