-- Test runner: nvim --headless --clean -l clients/neovim/tests/run.lua [FILTER]
-- Runs tests/spec/*_spec.lua serially, prints one line per test and "N passed, N failed", and
-- exits non-zero on failure. tests/run.sh sets up Xvfb and a scratch directory first.
local tests_dir = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
package.path = tests_dir .. '/?.lua;' .. package.path

local t = require('harness')
local H = require('helpers')

local filter = _G.arg and _G.arg[1] or nil
if filter == '' then
  filter = nil
end

local files = vim.fn.glob(tests_dir .. '/spec/*_spec.lua', false, true)
table.sort(files)

local failed = t.run(files, filter)

-- Stop the daemons the tests started: the shared one and any of their own (rt-*).
local dirs = vim.fn.glob(H.tmp .. '/rt-*', false, true)
table.insert(dirs, H.runtime_dir)
local stops = {}
for _, dir in ipairs(dirs) do
  stops[#stops + 1] = vim.system(
    { H.texpaste, 'daemon', 'stop' },
    { env = { TEXPASTE_RUNTIME_DIR = dir }, text = true }
  )
end
for _, stop in ipairs(stops) do
  stop:wait(20000)
end

os.exit(failed > 0 and 1 or 0)
