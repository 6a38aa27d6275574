-- A new target on every request (/?1, /?2, ...): no request head repeats, so no server can reuse the
-- work of parsing an earlier one.
local n = 0

request = function()
   n = n + 1
   return wrk.format(nil, "/?" .. n)
end
