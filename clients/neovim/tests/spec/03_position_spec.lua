-- Unit tests: cursor and encoding positions (the screenshot tools are the server's: tests/test_screenshot.py).
local t = require('harness')
local H = require('helpers')

vim.opt.rtp:prepend(H.plugin)
local position = require('texpaste.position')

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
