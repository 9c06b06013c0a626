-- Fixtures for the texpaste tests: paths, the tiny random model, and child Neovims (one per test)
-- that load the plugin exactly as a user's packpath/rtp install does and talk to the real
-- `texpaste serve`.
local t = require('harness')

local H = {}

local this = debug.getinfo(1, 'S').source:sub(2)
H.tests = vim.fn.fnamemodify(this, ':p:h')
H.plugin = vim.fn.fnamemodify(H.tests, ':h')
H.root = vim.fn.fnamemodify(H.plugin, ':h:h')
H.nvim = vim.v.progpath

local venv_bin = H.root .. '/.venv/bin'
H.bin = vim.fn.executable(venv_bin .. '/texpaste') == 1 and venv_bin
  or vim.fn.fnamemodify(vim.fn.exepath('texpaste'), ':h')
H.texpaste = H.bin .. '/texpaste'

H.png = H.root .. '/tests/data/formula.png'
H.png2 = H.root .. '/examples/euler.png'

-- A short scratch directory: the daemon's Unix socket path must stay under ~100 bytes.
H.tmp = os.getenv('TEXPASTE_TEST_TMP')
if not H.tmp or H.tmp == '' then
  H.tmp = vim.fn.tempname()
end
vim.fn.mkdir(H.tmp, 'p')
H.runtime_dir = os.getenv('TEXPASTE_RUNTIME_DIR') or (H.tmp .. '/rt')
vim.fn.mkdir(H.runtime_dir, 'p', tonumber('700', 8))
H.display = os.getenv('TEXPASTE_TEST_DISPLAY')

local WHITE_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAHgAAAAoCAIAAAC6iKlyAAAAdElEQVR4nO3QQREAIRDAsOP8e15UUB4kCjpdM/Nx3n874BVGR4yOGB0xOmJ0xOiI0RGjI0ZHjI4YHTE6YnTE6IjREaMjRkeMjhgdMTpidMToiNERoyNGR4yOGB0xOmJ0xOiI0RGjI0ZHjI4YHTE6YnTE6MgGm9UDTZ7KxsoAAAAASUVORK5CYII='
H.blank = H.tmp .. '/blank.png'
do
  local f = assert(io.open(H.blank, 'wb'))
  f:write(vim.base64.decode(WHITE_PNG))
  f:close()
end

--- The tiny random model (made once per run unless TEXPASTE_TEST_MODEL names one).
---@return string
function H.model()
  if H._model then
    return H._model
  end
  local dir = os.getenv('TEXPASTE_TEST_MODEL')
  if not dir or dir == '' then
    dir = H.tmp .. '/model'
  end
  if vim.fn.filereadable(dir .. '/weights.pth') == 0 then
    local res = vim
      .system(
        { H.texpaste, 'models', 'init', dir, '--config', H.root .. '/configs/tiny-test.yaml' },
        { text = true }
      )
      :wait(120000)
    assert(res.code == 0, 'texpaste models init failed: ' .. (res.stderr or ''))
    -- above every score the random model gives: each paste is marked doubtful (a diagnostic)
    local f = assert(io.open(dir .. '/config.yaml', 'a'))
    f:write('doubt_threshold: 0.0\n')
    f:close()
  end
  H._model = dir
  return dir
end

--- Writes a file (lines joined with "\n", trailing newline) in a fresh directory; returns its path.
---@param name string
---@param lines string[]
---@return string
function H.file(name, lines)
  local dir = H.tmp .. '/w' .. tostring(vim.uv.hrtime())
  vim.fn.mkdir(dir, 'p')
  local path = dir .. '/' .. name
  local f = assert(io.open(path, 'wb'))
  f:write(table.concat(lines, '\n') .. '\n')
  f:close()
  return path
end

---@param path string
---@return string
function H.read(path)
  local f = assert(io.open(path, 'rb'))
  local data = f:read('*a')
  f:close()
  return data
end

---@class texpaste_test.Child
---@field chan integer
---@field pid integer
local Child = {}
Child.__index = Child

---@type texpaste_test.Child[]
local children = {}

table.insert(t.on_timeout, function()
  for _, c in ipairs(children) do
    pcall(vim.uv.kill, c.pid, 'sigkill')
  end
end)

table.insert(t.after_each, function()
  for _, c in ipairs(children) do
    c:stop()
  end
  children = {}
end)

-- Runs in the child before plugins load: record notifications instead of showing them.
local CHILD_INIT =
  [[lua _G.__notes = {}; vim.notify = function(msg, level) table.insert(_G.__notes, { msg = msg, level = level or vim.log.levels.INFO }) end]]

--- Starts a child Neovim with the plugin on 'runtimepath'.
---@param opts? { display?: boolean, env?: table<string, string>, init?: string }
--- `init`: start like a user would, with this init.lua (`-u`) instead of `--clean` + rtp.
---@return texpaste_test.Child
function H.child(opts)
  opts = opts or {}
  local env = vim.fn.environ()
  for _, k in ipairs({
    'DISPLAY',
    'WAYLAND_DISPLAY',
    'XDG_SESSION_TYPE',
    'NVIM',
    'NVIM_LISTEN_ADDRESS',
    'VIMINIT',
    'MYVIMRC',
  }) do
    env[k] = nil
  end
  env.PATH = H.bin .. ':' .. (env.PATH or '/usr/bin:/bin')
  env.TEXPASTE_RUNTIME_DIR = H.runtime_dir
  for _, xdg in ipairs({ 'CONFIG', 'DATA', 'STATE', 'CACHE' }) do
    env['XDG_' .. xdg .. '_HOME'] = H.tmp .. '/xdg/' .. xdg:lower()
  end
  if opts.display then
    assert(
      H.display,
      'TEXPASTE_TEST_DISPLAY is not set: run the tests with tests/run.sh (it starts Xvfb)'
    )
    env.DISPLAY = H.display
  end
  for k, v in pairs(opts.env or {}) do
    env[k] = v
  end
  local argv = { H.nvim, '--embed', '--headless', '-n', '-i', 'NONE', '--cmd', CHILD_INIT }
  if opts.init then
    vim.list_extend(argv, { '-u', opts.init })
  else
    vim.list_extend(argv, { '--clean', '--cmd', 'set rtp^=' .. vim.fn.fnameescape(H.plugin) })
  end
  local chan = vim.fn.jobstart(argv, { rpc = true, env = env, clear_env = true, cwd = H.tmp })
  assert(chan > 0, 'could not start a child nvim')
  local child = setmetatable({ chan = chan, pid = vim.fn.jobpid(chan) }, Child)
  children[#children + 1] = child
  return child
end

--- Runs Lua in the child and returns its result.
---@param code string
---@return any
function Child:lua(code, ...)
  if t.timed_out then
    error('test timed out', 2)
  end
  local result = vim.rpcrequest(self.chan, 'nvim_exec_lua', code, { ... })
  if result == vim.NIL then
    return nil
  end
  return result
end

---@param cmd string
function Child:cmd(cmd)
  return vim.rpcrequest(self.chan, 'nvim_command', cmd)
end

--- Types keys as the user would (processed by the child's main loop).
---@param keys string
function Child:input(keys)
  return vim.rpcrequest(self.chan, 'nvim_input', keys)
end

--- Waits until the Lua expression `code` is truthy in the child; returns its value.
---@param code string an expression, e.g. "vim.g.done"
---@param timeout_ms? integer
---@param what? string
function Child:wait(code, timeout_ms, what)
  return t.wait_for(function()
    return self:lua('return ' .. code)
  end, timeout_ms, what or code)
end

--- Edits `path` in the child.
---@param path string
function Child:edit(path)
  self:cmd('edit ' .. vim.fn.fnameescape(path))
end

---@return string[]
function Child:lines()
  return self:lua('return vim.api.nvim_buf_get_lines(0, 0, -1, false)')
end

---@return integer[] 1-based row, 0-based byte col
function Child:cursor()
  return self:lua('return vim.api.nvim_win_get_cursor(0)')
end

---@return { msg: string, level: integer }[]
function Child:notes()
  return self:lua('return _G.__notes')
end

--- `require('texpaste').setup()` with the test model and greedy decoding unless overridden.
---@param opts? table
function Child:setup(opts)
  self:lua(
    "require('texpaste').setup(...)",
    vim.tbl_extend('force', { model = H.model(), candidates = 1 }, opts or {})
  )
end

--- Waits until the next paste has started and no paste is pending in the child.
---@param timeout_ms? integer
function Child:wait_idle(timeout_ms)
  self.seen = (self.seen or 0) + 1
  self:wait(
    string.format(
      "require('texpaste.pending').started >= %d and require('texpaste.pending').count() == 0",
      self.seen
    ),
    timeout_ms or 30000,
    'the paste to finish'
  )
end

--- Waits until the child's texpaste client has a request pending with the server.
---@param timeout_ms? integer
function Child:wait_sent(timeout_ms)
  self:wait(
    "(function() local c = vim.lsp.get_clients({ name = 'texpaste' })[1]"
      .. ' return c ~= nil and next(c.requests) ~= nil end)()',
    timeout_ms or 20000,
    'the request to reach the server'
  )
end

--- The last formula the plugin remembers for the current buffer: { text, candidates, current }.
---@return table?
function Child:last()
  return self:lua([[
    local entry = require('texpaste.alternatives').get(0)
    return entry and { text = entry.text, candidates = entry.candidates, current = entry.current } or nil
  ]])
end

--- Runs `:TexPaste alternatives` and waits until its pick has been carried out.
function Child:alternatives()
  local before = self:lua("return require('texpaste.alternatives').started")
  self:cmd('TexPaste alternatives')
  self:wait(
    string.format(
      "require('texpaste.alternatives').finished >= %d and require('texpaste.alternatives').finished == require('texpaste.alternatives').started",
      before + 1
    ),
    10000,
    'the candidate to be replaced'
  )
end

--- Sends `texpaste/recognize` for an image through the child's running client.
---@param png string
---@param params? table
---@return table result
function Child:recognize(png, params)
  self:lua(
    [[
    local png, params = ...
    _G.__rec = nil
    local c = assert(vim.lsp.get_clients({ name = 'texpaste' })[1], 'no texpaste client')
    local f = assert(io.open(png, 'rb'))
    params.imageBase64 = vim.base64.encode(f:read('*a'))
    f:close()
    c:request('texpaste/recognize', params, function(err, res)
      _G.__rec = { err = err, res = res }
    end)
  ]],
    png,
    params or vim.empty_dict()
  )
  local rec = self:wait('_G.__rec', 30000, 'texpaste/recognize')
  assert(not rec.err, 'texpaste/recognize failed: ' .. vim.inspect(rec.err))
  return rec.res
end

function Child:stop()
  pcall(vim.fn.jobstop, self.chan)
end

--- The recognised LaTeX of an image (greedy), cached: recognition is deterministic.
---@type table<string, string>
local latex_cache = {}

---@param child texpaste_test.Child a child with a running client
---@param png string
---@return string
function H.latex(child, png)
  if not latex_cache[png] then
    latex_cache[png] = child:recognize(png, { candidates = 1 }).latex
  end
  return latex_cache[png]
end

--- The lines after inserting `text` at 0-based (row, byte col) of `lines`, or replacing the span up
--- to (end_row, end_col).
---@param lines string[]
---@param row integer
---@param col integer
---@param text string
---@param end_row? integer
---@param end_col? integer
---@return string[]
function H.inserted(lines, row, col, text, end_row, end_col)
  end_row, end_col = end_row or row, end_col or col
  local before = table.concat(vim.list_slice(lines, 1, row), '\n')
  before = (row > 0 and before .. '\n' or '') .. lines[row + 1]:sub(1, col)
  local after = lines[end_row + 1]:sub(end_col + 1)
  if end_row + 2 <= #lines then
    after = after .. '\n' .. table.concat(vim.list_slice(lines, end_row + 2), '\n')
  end
  return vim.split(before .. text .. after, '\n', { plain = true })
end

--- Puts an image (or text) on the X clipboard of the test display with xclip.
---@param path string
---@param mime? string default image/png
function H.set_clipboard(path, mime)
  local done
  vim.system(
    { 'xclip', '-selection', 'clipboard', '-t', mime or 'image/png', '-i', path },
    { env = { DISPLAY = H.display }, stdout = false, stderr = false },
    function(res)
      done = res
    end
  )
  t.wait_for(function()
    return done
  end, 5000, 'xclip')
  assert(done.code == 0, 'xclip failed')
end

--- Checks that the child showed exactly one error notification: one sentence, prefixed with the
--- plugin name; returns its text.
---@param child texpaste_test.Child
---@param pattern? string
---@return string
function H.one_error(child, pattern)
  local notes = child:notes()
  local errors = vim.tbl_filter(function(n)
    return n.level == vim.log.levels.ERROR
  end, notes)
  t.eq(#errors, 1, 'error notifications ' .. vim.inspect(notes))
  local msg = errors[1].msg
  t.match(msg, '^texpaste: %u[^\n]*%.$', 'the error message')
  t.eq(msg:find('%. %u'), nil, 'one sentence: ' .. msg)
  if pattern then
    t.match(msg, pattern, 'the error message')
  end
  return msg
end

--- Splits text on "\n" like a buffer would hold it.
---@param s string
---@return string[]
function H.split(s)
  return vim.split(s, '\n', { plain = true })
end

return H
