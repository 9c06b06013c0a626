-- Unit tests (in the runner's own Neovim): settings, init_options, command completion.
local t = require('harness')
local H = require('helpers')

vim.opt.rtp:prepend(H.plugin)

local function fresh(name)
  package.loaded[name] = nil
  return require(name)
end

t.test('config: defaults become camelCase init_options with showErrors off', function()
  local config = fresh('texpaste.config')
  local s = config.server_settings()
  t.eq(s.mode, 'auto', 'mode')
  t.eq(s.candidates, 5, 'candidates')
  t.eq(s.showErrors, false, 'showErrors')
  t.eq(s.model, nil, 'model')
end)

t.test('config: setup() settings mirror the server keys', function()
  local config = fresh('texpaste.config')
  local ok = config.set({
    model = 'texpaste-small',
    device = 'cpu',
    mode = 'display',
    candidates = 3,
    delimiters = {
      markdown = { inline = 'paren', display = 'mathFence' },
      tex = { display = 'equation*' },
    },
  })
  t.ok(ok, 'valid settings accepted')
  t.eq(config.server_settings(), {
    model = 'texpaste-small',
    device = 'cpu',
    mode = 'display',
    candidates = 3,
    delimiters = {
      markdown = { inline = 'paren', display = 'mathFence' },
      tex = { display = 'equation*' },
    },
    keepImageLink = false,
    showErrors = false,
  })
end)

t.test('config: invalid settings are refused with one reason', function()
  local config = fresh('texpaste.config')
  local cases = {
    { { mode = 'fancy' }, 'mode' },
    { { candidates = 0 }, 'candidates' },
    { { candidates = 2.5 }, 'candidates' },
    { { device = 'tpu' }, 'device' },
    { { modle = 'x' }, 'unknown setting `modle`' },
    { { cmd = {} }, 'cmd' },
    { { cmd = 'texpaste serve' }, 'cmd' },
    { { clipboard = 'x11' }, 'clipboard' },
  }
  for _, case in ipairs(cases) do
    local ok, err = config.validate(case[1])
    t.eq(ok, false, vim.inspect(case[1]))
    t.match(err, case[2], vim.inspect(case[1]))
  end
end)

t.test('config: vim.g.texpaste is read and setup() wins over it', function()
  local config = fresh('texpaste.config')
  vim.g.texpaste = { mode = 'raw', candidates = 2 }
  t.eq(config.get().mode, 'raw')
  config.set({ mode = 'inline' })
  t.eq(config.get().mode, 'inline')
  t.eq(config.get().candidates, 2)
  vim.g.texpaste = nil
end)

t.test('setup(): invalid settings notify one sentence naming the plugin', function()
  fresh('texpaste.config')
  local texpaste = fresh('texpaste')
  local notes = {}
  local orig = vim.notify
  vim.notify = function(msg, level)
    notes[#notes + 1] = { msg, level }
  end
  texpaste.setup({ mode = 'fancy' })
  vim.notify = orig
  t.eq(#notes, 1, 'one notification')
  t.match(
    notes[1][1],
    '^texpaste: Invalid setup%(%): setting `mode` must be one of auto, inline, display, raw%.$'
  )
  t.eq(notes[1][2], vim.log.levels.ERROR)
end)

t.test(':TexPaste completion lists subcommands and snip modes', function()
  local texpaste = fresh('texpaste')
  t.eq(
    texpaste.complete('', 'TexPaste '),
    { 'inline', 'display', 'raw', 'auto', 'alternatives', 'snip', 'cancel', 'status' }
  )
  t.eq(texpaste.complete('a', 'TexPaste a'), { 'auto', 'alternatives' })
  t.eq(texpaste.complete('', 'TexPaste snip '), { 'auto', 'inline', 'display', 'raw' })
  t.eq(texpaste.complete('d', 'TexPaste snip d'), { 'display' })
  t.eq(texpaste.complete('', 'TexPaste inline '), {})
end)

t.test('health: the CLI prefix is derived from the server command', function()
  local health = fresh('texpaste.health')
  t.eq(health.cli_prefix({ 'texpaste', 'serve' }), { 'texpaste' })
  t.eq(
    health.cli_prefix({ 'python3', '-m', 'texpaste', 'serve', '--engine', 'in-process' }),
    { 'python3', '-m', 'texpaste' }
  )
  t.eq(health.cli_prefix({ 'my-wrapper' }), { 'my-wrapper' })
end)
