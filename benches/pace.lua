-- wrk script for benches/soak.sh: POST the JSON body from BODY, each connection waiting
-- DELAY_MS milliseconds between its requests, so the total rate is bounded by
-- connections * 1000 / (DELAY_MS + latency) instead of by how fast the server answers.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
local pause = tonumber(os.getenv("DELAY_MS") or "10")
function delay()
  return pause
end
