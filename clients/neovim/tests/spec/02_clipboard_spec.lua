-- Unit tests: the clipboard tool matrix and read flows, with the OS access replaced by fakes.
local t = require('harness')
local H = require('helpers')

vim.opt.rtp:prepend(H.plugin)
local clipboard = require('texpaste.clipboard')

local PNG = '\137PNG\r\n\26\nfake'

--- Fake OS: `env` variables, `features` for has(), `exes` on PATH, `commands` answers by command
--- line (joined with spaces), `files` by path.
local function fake(o)
  o = o or {}
  local calls = {}
  local deps = {
    getenv = function(name)
      return (o.env or {})[name]
    end,
    has = function(feature)
      return (o.features or {})[feature] == true
    end,
    executable = function(name)
      return vim.list_contains(o.exes or {}, name)
    end,
    read_file = function(path)
      return (o.files or {})[path]
    end,
    execute = function(cmd, _, on_exit)
      local line = table.concat(cmd, ' ')
      calls[#calls + 1] = line
      local answer = (o.commands or {})[line] or { code = 1, stdout = '', stderr = 'unexpected' }
      on_exit({
        code = answer.code or 0,
        stdout = answer.stdout or '',
        stderr = answer.stderr or '',
      })
    end,
    timeout = 1000,
  }
  return deps, calls
end

local function read(deps)
  local got
  clipboard.read(function(err, img, kind)
    got = { err = err, img = img, kind = kind }
  end, deps)
  return t.wait_for(function()
    return got
  end, 1000, 'the clipboard callback')
end

t.test('clipboard: detection order (Windows/WSL, macOS, Wayland before X11, none)', function()
  local cases = {
    { { features = { win32 = true }, exes = { 'powershell.exe' } }, 'powershell' },
    {
      {
        features = { wsl = true },
        exes = { 'powershell.exe', 'wl-paste' },
        env = { WAYLAND_DISPLAY = 'wayland-0' },
      },
      'powershell',
    },
    {
      { features = { wsl = true }, exes = { 'wl-paste' }, env = { WAYLAND_DISPLAY = 'wayland-0' } },
      'wl-paste',
    },
    { { features = { mac = true }, exes = { 'pngpaste' } }, 'pngpaste' },
    { { features = { mac = true } }, 'osascript' },
    {
      { exes = { 'wl-paste', 'xclip' }, env = { WAYLAND_DISPLAY = 'wayland-0', DISPLAY = ':0' } },
      'wl-paste',
    },
    {
      { exes = { 'wl-paste', 'xclip' }, env = { XDG_SESSION_TYPE = 'wayland', DISPLAY = ':0' } },
      'wl-paste',
    },
    { { exes = { 'xclip' }, env = { WAYLAND_DISPLAY = 'wayland-0', DISPLAY = ':0' } }, 'xclip' },
    { { exes = { 'xclip' }, env = { DISPLAY = ':1' } }, 'xclip' },
  }
  for _, case in ipairs(cases) do
    local deps = fake(case[1])
    t.eq(clipboard.detect(deps), case[2], vim.inspect(case[1]))
  end
  local tool, why = clipboard.detect(fake({ exes = { 'xclip' } }))
  t.eq(tool, nil)
  t.match(why, 'no graphical session')
  tool, why = clipboard.detect(fake({ env = { DISPLAY = ':0' } }))
  t.eq(tool, nil)
  t.match(why, 'xclip was not found')
  tool, why = clipboard.detect(fake({ env = { WAYLAND_DISPLAY = 'w' } }))
  t.eq(tool, nil)
  t.match(why, 'wl%-paste was not found')
end)

t.test('clipboard: xclip lists TARGETS and reads image/png', function()
  local deps, calls = fake({
    env = { DISPLAY = ':0' },
    exes = { 'xclip' },
    commands = {
      ['xclip -selection clipboard -t TARGETS -o'] = {
        stdout = 'TIMESTAMP\nTARGETS\nimage/png\ntext/html\n',
      },
      ['xclip -selection clipboard -t image/png -o'] = { stdout = PNG },
    },
  })
  local got = read(deps)
  t.eq(got.err, nil)
  t.eq(got.img.tool, 'xclip')
  t.eq(got.img.mime, 'image/png')
  t.eq(vim.base64.decode(got.img.base64), PNG)
  t.eq(#calls, 2)
end)

t.test('clipboard: wl-paste accepts BMP (WSLg) and prefers PNG when both are offered', function()
  local deps = fake({
    env = { WAYLAND_DISPLAY = 'wayland-0' },
    exes = { 'wl-paste' },
    commands = {
      ['wl-paste --list-types'] = { stdout = 'image/bmp\n' },
      ['wl-paste --no-newline --type image/bmp'] = { stdout = 'BMdata' },
    },
  })
  local got = read(deps)
  t.eq(got.img.mime, 'image/bmp')
  t.eq(vim.base64.decode(got.img.base64), 'BMdata')

  deps = fake({
    env = { WAYLAND_DISPLAY = 'wayland-0' },
    exes = { 'wl-paste' },
    commands = {
      ['wl-paste --list-types'] = { stdout = 'image/jpeg\nimage/png\n' },
      ['wl-paste --no-newline --type image/png'] = { stdout = PNG },
    },
  })
  t.eq(read(deps).img.mime, 'image/png')
end)

t.test('clipboard: a copied image file (text/uri-list) is read', function()
  local deps = fake({
    env = { DISPLAY = ':0' },
    exes = { 'xclip' },
    files = { ['/home/u/my shot.png'] = PNG },
    commands = {
      ['xclip -selection clipboard -t TARGETS -o'] = { stdout = 'TARGETS\ntext/uri-list\n' },
      ['xclip -selection clipboard -t text/uri-list -o'] = {
        stdout = '# comment\r\nfile:///home/u/notes.txt\r\nfile:///home/u/my%20shot.png\r\n',
      },
    },
  })
  local got = read(deps)
  t.eq(got.err, nil)
  t.eq(vim.base64.decode(got.img.base64), PNG)
end)

t.test('clipboard: text only, or a failing tool, means "no image"', function()
  local deps = fake({
    env = { DISPLAY = ':0' },
    exes = { 'xclip' },
    commands = {
      ['xclip -selection clipboard -t TARGETS -o'] = { stdout = 'TARGETS\nUTF8_STRING\nSTRING\n' },
    },
  })
  local got = read(deps)
  t.eq(got.kind, 'no-image')
  t.eq(got.err, 'there is no image on the clipboard')

  deps = fake({ env = { DISPLAY = ':0' }, exes = { 'xclip' } }) -- every command fails
  t.eq(read(deps).kind, 'no-image')
end)

t.test('clipboard: no tool is reported as "no-tool" (the server may read it instead)', function()
  local got = read(fake({}))
  t.eq(got.kind, 'no-tool')
  t.match(got.err, 'no graphical session')
end)

t.test('clipboard: macOS pngpaste, then osascript PNGf/TIFF hex data', function()
  local got = read(fake({
    features = { mac = true },
    exes = { 'pngpaste' },
    commands = { ['pngpaste -'] = { stdout = PNG } },
  }))
  t.eq(got.img.tool, 'pngpaste')
  t.eq(vim.base64.decode(got.img.base64), PNG)

  local hex = PNG:gsub('.', function(c)
    return string.format('%02X', c:byte())
  end)
  got = read(fake({
    features = { mac = true },
    commands = {
      ['osascript -e the clipboard as «class PNGf»'] = {
        code = 1,
        stderr = "Can't make some data",
      },
      ['osascript -e the clipboard as «class TIFF»'] = { stdout = '«data TIFF' .. hex .. '»\n' },
    },
  }))
  t.eq(got.img.tool, 'osascript')
  t.eq(got.img.mime, 'image/tiff')
  t.eq(vim.base64.decode(got.img.base64), PNG)
  t.eq(clipboard.parse_osascript_data('«data PNGf8950»'), '\137P')
  t.eq(clipboard.parse_osascript_data('text'), nil)
end)

t.test('clipboard: PowerShell 5.1 prints base64 PNG; exit 3 means no image', function()
  local b64 = vim.base64.encode(PNG)
  local deps, calls = fake({ features = { wsl = true }, exes = { 'powershell.exe' } })
  deps.execute = function(cmd, _, on_exit)
    calls[#calls + 1] = cmd
    on_exit({ code = 0, stdout = b64 .. '\r\n', stderr = '' })
  end
  local got = read(deps)
  t.eq(got.img.base64, b64)
  t.eq(calls[1][1], 'powershell.exe')
  t.ok(vim.list_contains(calls[1], '-STA'), 'runs single-threaded apartment')
  t.match(calls[1][#calls[1]], 'System.Windows.Forms.Clipboard')

  deps.execute = function(_, _, on_exit)
    on_exit({ code = 3, stdout = '', stderr = '' })
  end
  t.eq(read(deps).kind, 'no-image')
end)

t.test('clipboard: the real executor reports a missing program instead of raising', function()
  local got
  clipboard.read(function(err, img, kind)
    got = { err = err, img = img, kind = kind }
  end, {
    getenv = function(name)
      return name == 'DISPLAY' and ':0' or nil
    end,
    executable = function()
      return true -- claims xclip exists; the spawn fails for real
    end,
    execute = function(cmd, opts, on_exit)
      cmd[1] = 'texpaste-test-no-such-program'
      clipboard.default_deps().execute(cmd, opts, on_exit)
    end,
  })
  t.wait_for(function()
    return got
  end, 5000, 'callback')
  t.eq(got.kind, 'no-image')
end)
