-- Browser-like requests that never repeat: heads of ~620 bytes with 11 fields, as a browser walking a
-- site sends them (page navigations and the fetch() calls of those pages), from six current browsers'
-- User-Agents. The user, path, query, Referer and cookies vary per request, and the `_dd_s` cookie's
-- expiry grows with every request, so no two heads of a run are equal and no server can reuse the work
-- of parsing an earlier one. bench/browser_heads.py is the same generator in Python (same bytes for the
-- same request number; tests/bench/test_browser_heads.py holds the two equal).
local agents = {
   {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    .. "Chrome/131.0.0.0 Safari/537.36", "gzip, deflate, br, zstd"},
   {"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "gzip, deflate, br, zstd"},
   {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    .. "Version/18.1 Safari/605.1.15", "gzip, deflate, br"},
   {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    .. "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "gzip, deflate, br, zstd"},
   {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    .. "Version/18.1 Mobile/15E148 Safari/604.1", "gzip, deflate, br"},
   {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    .. "Chrome/131.0.0.0 Mobile Safari/537.36", "gzip, deflate, br, zstd"},
}
local languages = {"en-US,en;q=0.9", "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "en-GB,en;q=0.5",
                   "fr-FR,fr;q=0.9,en;q=0.8"}
local words = {"wool", "socks", "merino", "hiking", "winter", "black", "cotton", "kids", "ankle", "sale"}
local colors = {"black", "navy", "grey", "red", "olive"}
local slugs = {"choosing-hiking-socks", "how-we-knit", "washing-merino", "sizes-explained",
               "winter-collection"}
local sections = {"products", "articles", "search", "account/orders", "categories"}
local page_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
local api_accept = "application/json, text/plain, */*"
local epoch_ms = 1767225600000  -- 2026-01-01, the clock of request 0

-- One step of the MINSTD generator: every product stays below 2^53, exact in a Lua number.
local function step(x)
   return x * 48271 % 2147483647
end

-- Lua tables count from 1: pick(t, i) is Python's t[i].
local function pick(t, i)
   return t[i + 1]
end

local function target(n)
   local kind = n % 5
   if kind == 0 then
      return string.format("/products/%d?color=%s&size=%d&ref=listing", 1000 + n * 7 % 9000,
                           pick(colors, n % 5), 36 + n % 11), false
   elseif kind == 1 then
      return string.format("/search?q=%s+%s&page=%d&sort=relevance", pick(words, n * 3 % 10),
                           pick(words, n * 7 % 10), 1 + n % 20), false
   elseif kind == 2 then
      return string.format("/api/v1/cart/items?include=prices,stock&_=%d", epoch_ms + n * 137), true
   elseif kind == 3 then
      return string.format("/articles/%d/%s?utm_source=newsletter&utm_campaign=week%d", 2020 + n % 6,
                           pick(slugs, n % 5), n % 52), false
   end
   return string.format("/api/v1/recommendations?product=%d&limit=12", 1000 + n * 13 % 9000), true
end

local function head(n, host)
   local user = n * 7919 % 1000
   local agent = pick(agents, user % 6)
   local x1 = step(user + 1)
   local x2 = step(x1)
   local x3 = step(x2)
   local x4 = step(x3)
   local x5 = step(x4)
   local now = epoch_ms + n * 137
   local first_visit = 1735689600 + user * 8641
   local path, api = target(n)
   local referer = string.format("http://%s/%s/%d", host, pick(sections, n * 3 % 5), 1 + n * 17 % 500)
   local cookie = string.format("sid=%08x%08x%08x; _ga=GA1.1.%d.%d; _dd_s=rum=1&id=%08x&expire=%d",
                                x1, x2, x3, x4, first_visit, x5, now + 900000)
   local accept, last
   if api then
      accept = api_accept
      last = "Sec-Fetch-Dest: empty\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Site: same-origin\r\n"
   else
      accept = page_accept
      last = "Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n"
   end
   return table.concat({
      "GET ", path, " HTTP/1.1\r\n",
      "Host: ", host, "\r\n",
      "User-Agent: ", agent[1], "\r\n",
      "Accept: ", accept, "\r\n",
      "Accept-Language: ", pick(languages, user % 4), "\r\n",
      "Accept-Encoding: ", agent[2], "\r\n",
      "Referer: ", referer, "\r\n",
      "Connection: keep-alive\r\n",
      "Cookie: ", cookie, "\r\n",
      last,
      "\r\n",
   })
end

-- With several wrk threads (-t), each counts from its own billion, so no two threads send the same head.
local threads = 0

function setup(thread)
   thread:set("thread_id", threads)
   threads = threads + 1
end

local n = nil

request = function()
   n = (n or (thread_id or 0) * 1000000000) + 1
   return head(n, wrk.headers["Host"])
end
