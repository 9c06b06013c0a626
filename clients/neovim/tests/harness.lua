-- A zero-dependency test harness for `nvim --headless -l`: register tests with `test()`, run them
-- with `run()`. Each test has a timeout; when it expires the test's child Neovims are killed, so a
-- hang fails the test instead of blocking CI.
local M = {}

---@class texpaste_test.Case
---@field name string
---@field fn fun()
---@field timeout integer ms
---@field file string

---@type texpaste_test.Case[]
M.cases = {}

M.current_file = '?'

--- Called when a test times out (the helpers kill its children here).
---@type fun()[]
M.on_timeout = {}

--- Called after each test (cleanup).
---@type fun()[]
M.after_each = {}

M.timed_out = false

---@param name string
---@param fn fun()
---@param opts? { timeout?: integer }
function M.test(name, fn, opts)
  M.cases[#M.cases + 1] = {
    name = name,
    fn = fn,
    timeout = (opts and opts.timeout) or 20000,
    file = M.current_file,
  }
end

---@param v any
---@return string
local function show(v)
  if type(v) == 'string' then
    return string.format('%q', v)
  end
  return vim.inspect(v)
end

--- Fails the test with `msg`.
---@param msg string
function M.fail(msg)
  error(msg, 2)
end

---@param actual any
---@param expected any
---@param what? string
function M.eq(actual, expected, what)
  if not vim.deep_equal(actual, expected) then
    error(
      string.format('%s: expected %s, got %s', what or 'value', show(expected), show(actual)),
      2
    )
  end
end

---@param value any
---@param what? string
function M.ok(value, what)
  if not value then
    error((what or 'expected a true value') .. ', got ' .. show(value), 2)
  end
end

---@param s string
---@param pattern string
---@param what? string
function M.match(s, pattern, what)
  if type(s) ~= 'string' or not s:find(pattern) then
    error(string.format('%s: %s does not match %s', what or 'string', show(s), show(pattern)), 2)
  end
end

--- Waits (processing events) until `cond()` is truthy; fails after `timeout_ms`.
---@param cond fun(): any
---@param timeout_ms? integer
---@param what? string
---@return any value the condition's last value
function M.wait_for(cond, timeout_ms, what)
  local value
  local ok = vim.wait(timeout_ms or 10000, function()
    if M.timed_out then
      return true
    end
    value = cond()
    return value
  end, 20)
  if M.timed_out then
    error('test timed out', 2)
  end
  if not ok or not value then
    error('timed out waiting for ' .. (what or 'a condition'), 2)
  end
  return value
end

--- Loads the spec files and runs every test; returns the number of failures.
---@param files string[]
---@param filter? string only tests whose name contains this
---@return integer failed
function M.run(files, filter)
  for _, file in ipairs(files) do
    M.current_file = vim.fn.fnamemodify(file, ':t')
    local chunk, err = loadfile(file)
    if not chunk then
      M.test('load ' .. M.current_file, function()
        error(err)
      end)
    else
      local ok, load_err = pcall(chunk)
      if not ok then
        M.test('load ' .. M.current_file, function()
          error(load_err)
        end)
      end
    end
  end

  local passed, failed, started = 0, 0, vim.uv.hrtime()
  for _, case in ipairs(M.cases) do
    if not filter or (case.file .. ': ' .. case.name):find(filter, 1, true) then
      M.timed_out = false
      local timer = assert(vim.uv.new_timer())
      timer:start(case.timeout, 0, function()
        M.timed_out = true
        for _, kill in ipairs(M.on_timeout) do
          pcall(kill)
        end
      end)
      local t0 = vim.uv.hrtime()
      local ok, err = xpcall(case.fn, debug.traceback)
      timer:stop()
      timer:close()
      for _, cleanup in ipairs(M.after_each) do
        pcall(cleanup)
      end
      local ms = (vim.uv.hrtime() - t0) / 1e6
      if ok and not M.timed_out then
        passed = passed + 1
        io.stdout:write(string.format('ok    %s: %s (%.1f s)\n', case.file, case.name, ms / 1000))
      else
        failed = failed + 1
        local why = M.timed_out and string.format('timed out after %d s', case.timeout / 1000) or ''
        io.stdout:write(
          string.format(
            'FAIL  %s: %s (%.1f s) %s\n      %s\n',
            case.file,
            case.name,
            ms / 1000,
            why,
            tostring(err):gsub('\n', '\n      ')
          )
        )
      end
      io.stdout:flush()
    end
  end
  io.stdout:write(string.format('time: %.1f s\n', (vim.uv.hrtime() - started) / 1e9))
  io.stdout:write(string.format('%d passed, %d failed\n', passed, failed))
  io.stdout:flush()
  return failed
end

return M
