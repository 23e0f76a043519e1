-- wrk script: POST the JSON body from the BODY environment variable (with AUTH, when set, as
-- the Authorization header).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
