-- End to end: answered by the bundled model because pix2tex is not cached (a private cache), the
-- plugin offers the download once with vim.ui.select; "Never" is remembered by the server.
local t = require('harness')
local H = require('helpers')

t.test('the bundled model answers: pix2tex is offered once, and "Never" is remembered', function()
  local c = H.child()
  c:setup({ model = '' }) -- no model setting: the server's default
  c:lua([[
    _G.__offers = {}
    vim.ui.select = function(items, opts, on_choice)
      table.insert(_G.__offers, { items = items, prompt = opts.prompt })
      on_choice('Never')
    end
  ]])
  c:edit(H.file('offer.md', { 'x ' }))
  c:lua('vim.api.nvim_win_set_cursor(0, { 1, 1 })')
  c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
  c:wait_idle(120000)
  c:wait('#_G.__offers == 1', 10000, 'the offer')
  local offer = c:lua('return _G.__offers[1]')
  t.match(offer.items[1], '^Download pix2tex %(~%d+ MB%)$')
  t.eq({ offer.items[2], offer.items[3] }, { 'Not now', 'Never' })
  t.match(offer.prompt, 'small bundled model')
  local choices = H.tmp .. '/xdg/cache/texpaste/choices.json'
  c:wait(string.format('vim.uv.fs_stat(%q) ~= nil', choices), 10000, 'the choice to be saved')
  t.match(H.read(choices), 'pix2tex')
  -- once per session
  c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
  c:wait_idle(60000)
  t.eq(c:lua('return #_G.__offers'), 1)
end, { timeout = 180000 })
