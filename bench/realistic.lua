-- The realistic route of bench_framework.py: GET /items/<id>?page=<n> with a browser's head and a Cookie
-- (the `theme` the view reads, a session id and an analytics cookie). The id, page and session change on
-- every request, so no two heads of a run are equal; one request in four asks for the light theme.
local n = 0

-- One step of the MINSTD generator: every product stays below 2^53, exact in a Lua number.
local function step(x)
   return x * 48271 % 2147483647
end

request = function()
   n = n + 1
   local s1 = step(n)
   local s2 = step(s1)
   local theme = "dark"
   if n % 4 == 0 then
      theme = "light"
   end
   local path = string.format("/items/%d?page=%d", 1 + n * 7 % 5000, 1 + n % 20)
   local headers = {
      ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
      ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      ["Accept-Language"] = "en-US,en;q=0.9",
      ["Accept-Encoding"] = "gzip, deflate, br, zstd",
      ["Cookie"] = string.format("theme=%s; session=%08x%08x; _ga=GA1.1.%d.1735689600", theme, s1, s2,
                                 n % 100000),
   }
   return wrk.format("GET", path, headers)
end
