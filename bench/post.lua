-- wrk script for bench/observability.py: POSTs the JSON body in TAYLORDASH_BENCH_BODY, then
-- reports like report.lua (which adds the API key and prints the BENCH_JSON line).
wrk.method = "POST"
wrk.body = os.getenv("TAYLORDASH_BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
dofile(os.getenv("TAYLORDASH_BENCH_DIR") .. "/report.lua")
