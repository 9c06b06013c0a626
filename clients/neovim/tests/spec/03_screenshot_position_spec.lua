-- Unit tests: screenshot tool choice and capture flows (fake OS), and cursor/encoding positions.
local t = require('harness')
local H = require('helpers')

vim.opt.rtp:prepend(H.plugin)
local screenshot = require('texpaste.screenshot')
local position = require('texpaste.position')

local function fake(o)
  local calls = {}
  return {
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
      return o.file_bytes and path:match('%.png$') and o.file_bytes or nil
    end,
    execute = function(cmd, _, on_exit)
      calls[#calls + 1] = cmd
      local answer = o.answer and o.answer(cmd) or { code = 0, stdout = '' }
      on_exit({ code = answer.code or 0, stdout = answer.stdout or '', stderr = '' })
    end,
  },
    calls
end

t.test('screenshot: tool per platform', function()
  local cases = {
    { { features = { mac = true }, exes = { 'screencapture' } }, 'screencapture' },
    {
      { env = { WAYLAND_DISPLAY = 'w', DISPLAY = ':0' }, exes = { 'grim', 'slurp', 'maim' } },
      'grim+slurp',
    },
    { { env = { WAYLAND_DISPLAY = 'w' }, exes = { 'grim', 'spectacle' } }, 'spectacle' },
    { { env = { DISPLAY = ':0' }, exes = { 'grim', 'slurp', 'scrot' } }, 'scrot' },
    { { env = { DISPLAY = ':0' }, exes = { 'maim', 'flameshot' } }, 'maim' },
  }
  for _, case in ipairs(cases) do
    local tool = screenshot.detect(fake(case[1]))
    t.eq(tool and tool.name, case[2], vim.inspect(case[1]))
  end
  local tool, why = screenshot.detect(fake({ features = { wsl = true } }))
  t.eq(tool, nil)
  t.match(why, 'Win%+Shift%+S')
  tool, why = screenshot.detect(fake({ env = { DISPLAY = ':0' } }))
  t.eq(tool, nil)
  t.match(why, 'no screenshot tool')
end)

t.test('screenshot: grim+slurp runs slurp, then grim on the region into a file', function()
  local deps, calls = fake({
    env = { WAYLAND_DISPLAY = 'w' },
    exes = { 'grim', 'slurp' },
    file_bytes = 'PNGBYTES',
    answer = function(cmd)
      if cmd[1] == 'slurp' then
        return { stdout = '10,20 300x40\n' }
      end
      return { code = 0 }
    end,
  })
  local got
  screenshot.capture(function(err, bytes)
    got = { err = err, bytes = bytes }
  end, { deps = deps })
  t.eq(got.err, nil)
  t.eq(got.bytes, 'PNGBYTES')
  t.eq(calls[1], { 'slurp' })
  t.eq({ calls[2][1], calls[2][2], calls[2][3] }, { 'grim', '-g', '10,20 300x40' })
  t.match(calls[2][4], '%.png$')
end)

t.test(
  'screenshot: a cancelled selection is an error, stdout tools and snip_command work',
  function()
    local got
    local deps = fake({
      env = { DISPLAY = ':0' },
      exes = { 'maim' },
      answer = function()
        return { code = 1 }
      end,
    })
    screenshot.capture(function(err)
      got = err
    end, { deps = deps })
    t.match(got, 'cancelled')

    deps = fake({
      env = { DISPLAY = ':0' },
      exes = { 'flameshot' },
      answer = function()
        return { stdout = 'RAWPNG' }
      end,
    })
    screenshot.capture(function(_, bytes)
      got = bytes
    end, { deps = deps })
    t.eq(got, 'RAWPNG')

    local calls
    deps, calls = fake({ file_bytes = 'FROMFILE' })
    screenshot.capture(function(_, bytes)
      got = bytes
    end, { deps = deps, command = { 'my-shot', '--out=%f' } })
    t.eq(got, 'FROMFILE')
    t.match(calls[1][2], '^%-%-out=.*%.png$')
  end
)

t.test(
  'position: normal mode inserts after the (multibyte) cursor character, insert mode at it',
  function()
    local buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_set_current_buf(buf)
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, { 'Größe: é∑x', '' })
    vim.api.nvim_win_set_cursor(0, { 1, 2 }) -- on "ö" (2 bytes)
    t.eq(position.insertion_span(0, 'n'), { row = 0, col = 4 })
    t.eq(position.insertion_span(0, 'i'), { row = 0, col = 2 })
    vim.api.nvim_win_set_cursor(0, { 1, #'Größe: é' }) -- on "∑" (3 bytes)
    t.eq(position.insertion_span(0, 'n'), { row = 0, col = #'Größe: é∑' })
    vim.api.nvim_win_set_cursor(0, { 2, 0 }) -- empty line
    t.eq(position.insertion_span(0, 'n'), { row = 1, col = 0 })
    vim.api.nvim_buf_delete(buf, { force = true })
  end
)

t.test('position: utf-16 and utf-32 columns convert both ways', function()
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { 'a😀é b' })
  local byte = #'a😀é' -- 1 + 4 + 2 = 7
  t.eq(position.to_lsp(buf, 0, byte, 'utf-8'), { line = 0, character = 7 })
  t.eq(position.to_lsp(buf, 0, byte, 'utf-16'), { line = 0, character = 4 })
  t.eq(position.to_lsp(buf, 0, byte, 'utf-32'), { line = 0, character = 3 })
  t.eq({ position.from_lsp(buf, { line = 0, character = 4 }, 'utf-16') }, { 0, byte })
  t.eq({ position.from_lsp(buf, { line = 0, character = 3 }, 'utf-32') }, { 0, byte })
  t.eq({ position.last_char(buf, 0, byte) }, { 0, 5 })
  vim.api.nvim_buf_delete(buf, { force = true })
end)
