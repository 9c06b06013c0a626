-- End to end: the server's code actions turn formula images already in a note into LaTeX, through
-- Neovim's own vim.lsp.buf.code_action() (no plugin code involved beyond starting the server).
local t = require('harness')
local H = require('helpers')

t.test('code action "Replace image with LaTeX" and "Convert all" on Markdown image links', function()
  local c = H.child()
  c:setup({ autostart = true })
  local lines = { 'Euler:', '![identity](eq%201.png "Euler")', 'Inline ![x](<eq 1.png>) here.' }
  local path = H.file('images.md', lines)
  vim.uv.fs_copyfile(H.png, vim.fs.dirname(path) .. '/eq 1.png')
  c:edit(path)
  c:wait(
    "#vim.lsp.get_clients({ name = 'texpaste', bufnr = 0 }) == 1 and vim.lsp.get_clients({ name = 'texpaste' })[1].initialized",
    20000,
    'the client to attach'
  )
  local latex = H.latex(c, H.png)
  c:lua('vim.api.nvim_win_set_cursor(0, { 2, 3 })')
  c:lua([[vim.lsp.buf.code_action({
    apply = true,
    filter = function(a) return a.title == 'Replace image with LaTeX' end,
  })]])
  c:wait('vim.api.nvim_buf_get_lines(0, 1, 2, false)[1] == "$$"', 20000, 'the link to be replaced')
  t.eq(c:lines(), { 'Euler:', '$$', latex, '$$', 'Inline ![x](<eq 1.png>) here.' })
  t.ok(vim.uv.fs_stat(vim.fs.dirname(path) .. '/eq 1.png') ~= nil, 'the image stays on disk')

  c:lua('vim.api.nvim_win_set_cursor(0, { 5, 0 })')
  c:lua([[vim.lsp.buf.code_action({
    apply = true,
    filter = function(a) return a.title == 'Convert all formula images in this document' end,
  })]])
  c:wait('not vim.api.nvim_buf_get_lines(0, 4, 5, false)[1]:find("!%[")', 20000, 'the conversion')
  t.eq(c:lines()[5], 'Inline $' .. latex .. '$ here.')
end, { timeout = 60000 })
