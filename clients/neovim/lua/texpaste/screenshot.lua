-- Takes an interactive region screenshot with the platform's tool (`:TexPaste snip`) and returns the
-- PNG bytes. The tools are tried in the order below; `snip_command` overrides the choice. Shares the
-- injectable OS access of texpaste.clipboard.
local clipboard = require('texpaste.clipboard')

local M = {}

---@class texpaste.ScreenshotTool
---@field name string
---@field needs string[] Executables that must exist.
---@field session 'mac'|'wayland'|'x11'
---@field cmd? string[] One command; `%f` is the output file, else the PNG comes on stdout.
---@field region? boolean Two steps: `slurp` picks the region, `grim -g REGION %f` captures it.

---@type texpaste.ScreenshotTool[]
M.tools = {
  {
    name = 'screencapture',
    needs = { 'screencapture' },
    session = 'mac',
    cmd = { 'screencapture', '-i', '-x', '%f' },
  },
  { name = 'grim+slurp', needs = { 'grim', 'slurp' }, session = 'wayland', region = true },
  {
    name = 'gnome-screenshot',
    needs = { 'gnome-screenshot' },
    session = 'wayland',
    cmd = { 'gnome-screenshot', '-a', '-f', '%f' },
  },
  {
    name = 'spectacle',
    needs = { 'spectacle' },
    session = 'wayland',
    cmd = { 'spectacle', '-r', '-b', '-n', '-o', '%f' },
  },
  {
    name = 'flameshot',
    needs = { 'flameshot' },
    session = 'wayland',
    cmd = { 'flameshot', 'gui', '--raw' },
  },
  { name = 'maim', needs = { 'maim' }, session = 'x11', cmd = { 'maim', '-s', '%f' } },
  {
    name = 'flameshot',
    needs = { 'flameshot' },
    session = 'x11',
    cmd = { 'flameshot', 'gui', '--raw' },
  },
  {
    name = 'gnome-screenshot',
    needs = { 'gnome-screenshot' },
    session = 'x11',
    cmd = { 'gnome-screenshot', '-a', '-f', '%f' },
  },
  {
    name = 'spectacle',
    needs = { 'spectacle' },
    session = 'x11',
    cmd = { 'spectacle', '-r', '-b', '-n', '-o', '%f' },
  },
  { name = 'scrot', needs = { 'scrot' }, session = 'x11', cmd = { 'scrot', '-s', '%f' } },
  {
    name = 'xfce4-screenshooter',
    needs = { 'xfce4-screenshooter' },
    session = 'x11',
    cmd = { 'xfce4-screenshooter', '-r', '-s', '%f' },
  },
  { name = 'import', needs = { 'import' }, session = 'x11', cmd = { 'import', '%f' } },
}

-- The user picks the region, so allow time.
M.timeout = 120000

local with_defaults = clipboard.with_defaults

--- The screenshot tool to use here, or nil and why there is none.
---@param deps? table Partial `texpaste.ClipboardDeps`.
---@return texpaste.ScreenshotTool? tool
---@return string? why
function M.detect(deps)
  local d = with_defaults(deps)
  local function set(name)
    return clipboard.env_set(d, name)
  end
  local sessions = {}
  if d.has('mac') then
    sessions.mac = true
  elseif d.has('win32') or d.has('wsl') then
    return nil,
      'no region screenshot tool is known on Windows; press Win+Shift+S, then run :TexPaste'
  else
    sessions.wayland = set('WAYLAND_DISPLAY') or d.getenv('XDG_SESSION_TYPE') == 'wayland'
    sessions.x11 = set('DISPLAY') and not sessions.wayland
  end
  for _, tool in ipairs(M.tools) do
    if sessions[tool.session] then
      local ok = true
      for _, exe in ipairs(tool.needs) do
        ok = ok and d.executable(exe)
      end
      if ok then
        return tool
      end
    end
  end
  if not (sessions.mac or sessions.wayland or sessions.x11) then
    return nil, 'there is no graphical session to take a screenshot in'
  end
  return nil, 'no screenshot tool was found (install grim and slurp, maim, flameshot or scrot)'
end

---@param cmd string[]
---@param path string
---@return string[] cmd
---@return boolean to_file
local function substitute(cmd, path)
  local out, to_file = {}, false
  for _, arg in ipairs(cmd) do
    if arg:find('%f', 1, true) then
      to_file = true
      arg = arg:gsub('%%f', (path:gsub('%%', '%%%%')))
    end
    out[#out + 1] = arg
  end
  return out, to_file
end

--- Runs a screenshot command and calls back with the PNG bytes.
---@param d texpaste.ClipboardDeps
---@param cmd string[]
---@param cb fun(err: string?, bytes: string?)
local function run(d, cmd, cb)
  local path = vim.fn.tempname() .. '.png'
  local argv, to_file = substitute(cmd, path)
  d.execute(argv, { timeout = M.timeout }, function(res)
    local bytes = res.stdout
    if to_file then
      bytes = d.read_file(path)
      os.remove(path)
    end
    if res.code ~= 0 or not bytes or #bytes == 0 then
      return cb('the screenshot was cancelled or failed')
    end
    cb(nil, bytes)
  end)
end

--- Takes a region screenshot asynchronously.
---@param on_done fun(err: string?, bytes: string?)
---@param opts? { command?: string[], deps?: table }
function M.capture(on_done, opts)
  opts = opts or {}
  local d = with_defaults(opts.deps)
  if opts.command then
    return run(d, opts.command, on_done)
  end
  local tool, why = M.detect(d)
  if not tool then
    return on_done(why)
  end
  if not tool.region then
    return run(d, assert(tool.cmd), on_done)
  end
  d.execute({ 'slurp' }, { timeout = M.timeout }, function(res)
    local region = vim.trim(res.stdout or '')
    if res.code ~= 0 or region == '' then
      return on_done('the screenshot was cancelled or failed')
    end
    run(d, { 'grim', '-g', region, '%f' }, on_done)
  end)
end

return M
