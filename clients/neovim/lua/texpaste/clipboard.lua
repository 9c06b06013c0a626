-- Reads an image from the OS clipboard with the platform's tool (README, "Editors"): PowerShell 5.1 on
-- Windows and WSL, pngpaste or osascript on macOS, wl-paste on Wayland (checked before XWayland's
-- DISPLAY), xclip on X11. PNG, JPEG, BMP (WSLg), GIF, WebP and TIFF are accepted, and so is a
-- copied image file. Everything runs asynchronously; the OS access goes through `deps`, which tests
-- replace to drive each branch without a clipboard.
local M = {}

---@class texpaste.ExecResult
---@field code integer
---@field stdout string
---@field stderr string

---@alias texpaste.Execute fun(cmd: string[], opts: { timeout: integer }, on_exit: fun(res: texpaste.ExecResult))

---@class texpaste.ClipboardDeps
---@field execute texpaste.Execute Runs a command asynchronously; calls back on the main loop.
---@field getenv fun(name: string): string?
---@field has fun(feature: string): boolean `vim.fn.has()` as a boolean.
---@field executable fun(name: string): boolean
---@field read_file fun(path: string): string? Whole file as bytes, nil when unreadable.
---@field timeout integer Milliseconds each command may run.

---@class texpaste.ClipboardImage
---@field base64 string The image bytes, base64-encoded.
---@field mime string
---@field tool string The tool that read it.

--- Image types in order of preference.
M.image_types = {
  'image/png',
  'image/jpeg',
  'image/bmp',
  'image/x-bmp',
  'image/webp',
  'image/gif',
  'image/tiff',
}

local image_extensions = {
  png = true,
  jpg = true,
  jpeg = true,
  bmp = true,
  gif = true,
  webp = true,
  tif = true,
  tiff = true,
}

---@type texpaste.Execute
local function system_execute(cmd, opts, on_exit)
  local ok, err = pcall(vim.system, cmd, { text = false, timeout = opts.timeout }, function(res)
    vim.schedule(function()
      on_exit({ code = res.code, stdout = res.stdout or '', stderr = res.stderr or '' })
    end)
  end)
  if not ok then
    vim.schedule(function()
      on_exit({ code = 127, stdout = '', stderr = tostring(err) })
    end)
  end
end

--- The real OS access.
---@return texpaste.ClipboardDeps
function M.default_deps()
  return {
    execute = system_execute,
    getenv = os.getenv,
    has = function(feature)
      return vim.fn.has(feature) == 1
    end,
    executable = function(name)
      return vim.fn.executable(name) == 1
    end,
    read_file = function(path)
      local f = io.open(path, 'rb')
      if not f then
        return nil
      end
      local data = f:read('*a')
      f:close()
      return data
    end,
    timeout = 5000,
  }
end

--- The default dependencies with `deps` (partial, for tests) laid over them.
---@param deps? table
---@return texpaste.ClipboardDeps
function M.with_defaults(deps)
  return vim.tbl_extend('force', M.default_deps(), deps or {})
end
local with_defaults = M.with_defaults

--- Whether environment variable `name` is set and not empty.
---@param d texpaste.ClipboardDeps
---@param name string
---@return boolean
function M.env_set(d, name)
  local v = d.getenv(name)
  return v ~= nil and v ~= ''
end

--- Which tool reads the clipboard here, or nil and why none does.
---@param deps? table Partial `texpaste.ClipboardDeps`.
---@return string? tool 'powershell'|'pngpaste'|'osascript'|'wl-paste'|'xclip'
---@return string? why One sentence when no tool applies.
function M.detect(deps)
  local d = with_defaults(deps)
  local function set(name)
    return M.env_set(d, name)
  end
  if d.has('win32') or d.has('wsl') then
    -- Under WSL, wl-paste sees Windows images only as BMP and X11 sees none: prefer PowerShell.
    if d.executable('powershell.exe') then
      return 'powershell'
    end
    if d.has('win32') then
      return nil, 'powershell.exe was not found'
    end
  end
  if d.has('mac') then
    return d.executable('pngpaste') and 'pngpaste' or 'osascript'
  end
  local wayland = set('WAYLAND_DISPLAY') or d.getenv('XDG_SESSION_TYPE') == 'wayland'
  if wayland and d.executable('wl-paste') then
    return 'wl-paste'
  end
  if set('DISPLAY') and d.executable('xclip') then
    return 'xclip'
  end
  if wayland then
    return nil, 'wl-paste was not found (install wl-clipboard)'
  end
  if set('DISPLAY') then
    return nil, 'xclip was not found (install xclip)'
  end
  return nil, 'there is no graphical session (neither WAYLAND_DISPLAY nor DISPLAY is set)'
end

--- Decodes `%XX` escapes of a file URI path.
---@param s string
---@return string
local function uri_unescape(s)
  return (s:gsub('%%(%x%x)', function(hex)
    return string.char(tonumber(hex, 16))
  end))
end

--- The bytes of the first image file named in a `text/uri-list` (or a plain path list).
---@param text string
---@param d texpaste.ClipboardDeps
---@return string?
function M.file_from_uri_list(text, d)
  for line in vim.gsplit(text, '\r?\n') do
    line = vim.trim(line)
    if line ~= '' and line:sub(1, 1) ~= '#' then
      local path = line
      if path:match('^file://') then
        path = uri_unescape((path:gsub('^file://[^/]*', '')))
      end
      local ext = (path:match('%.(%w+)$') or ''):lower()
      if image_extensions[ext] then
        local data = d.read_file(path)
        if data and #data > 0 then
          return data
        end
      end
    end
  end
  return nil
end

--- Parses the `«data PNGf89504E…»` form osascript prints for clipboard data.
---@param out string
---@return string? bytes
function M.parse_osascript_data(out)
  local hex = out:match('«data %w%w%w%w(%x+)»')
  if not hex or #hex % 2 ~= 0 then
    return nil
  end
  return (hex:gsub('%x%x', function(byte)
    return string.char(tonumber(byte, 16))
  end))
end

---@param bytes string
---@param mime string
---@param tool string
---@return texpaste.ClipboardImage
local function image(bytes, mime, tool)
  return { base64 = vim.base64.encode(bytes), mime = mime, tool = tool }
end

local NO_IMAGE = 'there is no image on the clipboard'

--- The list-then-read flow of wl-paste and xclip.
---@param d texpaste.ClipboardDeps
---@param tool string
---@param list_cmd string[]
---@param read_cmd fun(mime: string): string[]
---@param cb fun(err: string?, img: texpaste.ClipboardImage?)
local function read_targets(d, tool, list_cmd, read_cmd, cb)
  d.execute(list_cmd, { timeout = d.timeout }, function(res)
    if res.code ~= 0 then
      return cb(NO_IMAGE)
    end
    local offered = {}
    for target in res.stdout:gmatch('%S+') do
      offered[target] = true
    end
    for _, mime in ipairs(M.image_types) do
      if offered[mime] then
        return d.execute(read_cmd(mime), { timeout = d.timeout }, function(r)
          if r.code ~= 0 or #r.stdout == 0 then
            return cb(string.format('%s could not read the %s image on the clipboard', tool, mime))
          end
          cb(nil, image(r.stdout, mime, tool))
        end)
      end
    end
    for _, mime in ipairs({ 'text/uri-list', 'x-special/gnome-copied-files' }) do
      if offered[mime] then
        return d.execute(read_cmd(mime), { timeout = d.timeout }, function(r)
          local bytes = r.code == 0 and M.file_from_uri_list(r.stdout, d) or nil
          if not bytes then
            return cb(NO_IMAGE)
          end
          cb(nil, image(bytes, 'image/*', tool))
        end)
      end
    end
    cb(NO_IMAGE)
  end)
end

-- PowerShell 5.1 (powershell.exe): print the clipboard image, or a copied image file, as base64 PNG.
local POWERSHELL_SCRIPT = table.concat({
  'Add-Type -AssemblyName System.Windows.Forms, System.Drawing;',
  '$img = [System.Windows.Forms.Clipboard]::GetImage();',
  'if ($img -ne $null) {',
  '  $ms = New-Object System.IO.MemoryStream;',
  '  $img.Save($ms, [System.Drawing.Imaging.ImageFormat]::Png);',
  '  [Console]::Out.Write([Convert]::ToBase64String($ms.ToArray())); exit 0 }',
  '$files = [System.Windows.Forms.Clipboard]::GetFileDropList();',
  'foreach ($f in $files) { if ($f -match "\\.(png|jpe?g|bmp|gif|tiff?)$") {',
  '  [Console]::Out.Write([Convert]::ToBase64String([IO.File]::ReadAllBytes($f))); exit 0 } }',
  'exit 3',
}, ' ')

---@type table<string, fun(d: texpaste.ClipboardDeps, cb: fun(err: string?, img: texpaste.ClipboardImage?))>
local readers = {
  ['wl-paste'] = function(d, cb)
    read_targets(d, 'wl-paste', { 'wl-paste', '--list-types' }, function(mime)
      return { 'wl-paste', '--no-newline', '--type', mime }
    end, cb)
  end,
  xclip = function(d, cb)
    read_targets(
      d,
      'xclip',
      { 'xclip', '-selection', 'clipboard', '-t', 'TARGETS', '-o' },
      function(mime)
        return { 'xclip', '-selection', 'clipboard', '-t', mime, '-o' }
      end,
      cb
    )
  end,
  pngpaste = function(d, cb)
    d.execute({ 'pngpaste', '-' }, { timeout = d.timeout }, function(res)
      if res.code ~= 0 or #res.stdout == 0 then
        return cb(NO_IMAGE)
      end
      cb(nil, image(res.stdout, 'image/png', 'pngpaste'))
    end)
  end,
  osascript = function(d, cb)
    local function try(class, mime, next_try)
      d.execute(
        { 'osascript', '-e', 'the clipboard as «class ' .. class .. '»' },
        { timeout = d.timeout },
        function(res)
          local bytes = res.code == 0 and M.parse_osascript_data(res.stdout) or nil
          if bytes and #bytes > 0 then
            return cb(nil, image(bytes, mime, 'osascript'))
          end
          next_try()
        end
      )
    end
    try('PNGf', 'image/png', function()
      try('TIFF', 'image/tiff', function()
        cb(NO_IMAGE)
      end)
    end)
  end,
  powershell = function(d, cb)
    d.execute({
      'powershell.exe',
      '-NoProfile',
      '-NonInteractive',
      '-STA',
      '-Command',
      POWERSHELL_SCRIPT,
    }, { timeout = d.timeout }, function(res)
      local b64 = res.stdout:gsub('%s', '')
      if res.code ~= 0 or b64 == '' then
        return cb(NO_IMAGE)
      end
      cb(nil, { base64 = b64, mime = 'image/png', tool = 'powershell' })
    end)
  end,
}

--- Reads the clipboard image asynchronously.
---
--- `on_done(nil, image)` on success; `on_done(message, nil, 'no-tool')` when no tool can read the
--- clipboard here (the caller may let the server try); `on_done(message, nil, 'no-image')` when the
--- clipboard holds no image.
---@param on_done fun(err: string?, img: texpaste.ClipboardImage?, kind: 'no-tool'|'no-image'|nil)
---@param deps? table Partial `texpaste.ClipboardDeps`.
function M.read(on_done, deps)
  local d = with_defaults(deps)
  local tool, why = M.detect(d)
  if not tool then
    return on_done(why, nil, 'no-tool')
  end
  readers[tool](d, function(err, img)
    if err then
      return on_done(err, nil, 'no-image')
    end
    on_done(nil, img)
  end)
end

return M
