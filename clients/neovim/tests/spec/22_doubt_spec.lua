-- End to end: a formula the model is unsure of (the test model's doubt threshold is above every score)
-- carries the server's diagnostic in vim.diagnostic until it is edited or another candidate is chosen.
local t = require('harness')
local H = require('helpers')

local DIAGS = [[
  return vim.tbl_map(function(d) return { msg = d.message, lnum = d.lnum, col = d.col, sev = d.severity } end,
    vim.diagnostic.get(0))
]]

t.test('a doubtful formula is marked, and the mark goes when it is edited or replaced', function()
  local c = H.child()
  c:setup({ candidates = 3 })
  c:edit(H.file('doubt.md', { 'x ', 'y ' }))
  c:lua('vim.api.nvim_win_set_cursor(0, { 1, 1 })')
  c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
  c:wait_idle()
  c:wait('#vim.diagnostic.get(0) == 1', 5000, 'the diagnostic')
  local diags = c:lua(DIAGS)
  t.eq(diags[1].msg, 'texpaste is unsure of this formula: Choose another candidate')
  t.eq({ diags[1].lnum, diags[1].col }, { 0, 2 })
  t.eq(diags[1].sev, vim.diagnostic.severity.INFO)
  c:lua('vim.api.nvim_buf_set_text(0, 0, 3, 0, 3, { "Z" })') -- inside the formula
  c:wait('#vim.diagnostic.get(0) == 0', 5000, 'the diagnostic to clear after an edit')

  c:lua('vim.api.nvim_win_set_cursor(0, { 2, 1 })')
  c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
  c:wait_idle()
  c:wait('#vim.diagnostic.get(0) == 1', 5000, 'the second diagnostic')
  c:lua([[vim.ui.select = function(items, _, on_choice) on_choice(items[2]) end]])
  c:alternatives()
  c:wait('#vim.diagnostic.get(0) == 0', 5000, 'the diagnostic to clear after choosing')
  t.eq(c:notes(), {})
end, { timeout = 60000 })
