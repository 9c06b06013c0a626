-- Conversions between Neovim's (row, byte column) and LSP positions in the client's negotiated
-- encoding (utf-8 with texpaste: byte columns; utf-16/utf-32 handled for other setups), and the
-- insertion point of a paste for each editor mode.
local M = {}

local has_011 = vim.fn.has('nvim-0.11') == 1

---@param buf integer
---@param row integer 0-based
---@return string
local function line_at(buf, row)
  return vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
end

--- LSP position of a 0-based (row, byte column).
---@param buf integer
---@param row integer
---@param col integer
---@param encoding string 'utf-8'|'utf-16'|'utf-32'
---@return lsp.Position
function M.to_lsp(buf, row, col, encoding)
  if encoding == 'utf-8' then
    return { line = row, character = col }
  end
  local line = line_at(buf, row)
  col = math.min(col, #line)
  local character
  if has_011 then
    character = vim.str_utfindex(line, encoding, col, false)
  else
    local utf32, utf16 = vim.str_utfindex(line, col)
    character = encoding == 'utf-16' and utf16 or utf32
  end
  return { line = row, character = character }
end

--- 0-based (row, byte column) of an LSP position.
---@param buf integer
---@param pos lsp.Position
---@param encoding string
---@return integer row
---@return integer col
function M.from_lsp(buf, pos, encoding)
  local line = line_at(buf, pos.line)
  if encoding == 'utf-8' then
    return pos.line, math.min(pos.character, #line)
  end
  local col
  if has_011 then
    col = vim.str_byteindex(line, encoding, pos.character, false)
  else
    col = vim.str_byteindex(line, pos.character, encoding == 'utf-16')
  end
  return pos.line, col
end

---@class texpaste.Span
---@field row integer 0-based
---@field col integer byte column
---@field end_row? integer set when a selection is replaced (exclusive end)
---@field end_col? integer

--- Where a paste goes: insert mode at the cursor; normal mode after the character under the
--- cursor (like `p`); visual mode replaces the selection.
---@param win integer
---@param vim_mode 'n'|'i'|'v'
---@return texpaste.Span? span
---@return string? err
function M.insertion_span(win, vim_mode)
  local buf = vim.api.nvim_win_get_buf(win)
  local cursor = vim.api.nvim_win_get_cursor(win)
  local row, col = cursor[1] - 1, cursor[2]
  if vim_mode == 'i' then
    return { row = row, col = col }
  end
  if vim_mode == 'n' then
    local line = line_at(buf, row)
    if col < #line then
      -- Step over the (possibly multibyte) character under the cursor.
      col = col + vim.str_utf_end(line, col + 1) + 1
    end
    return { row = row, col = math.min(col, #line) }
  end
  local vmode = vim.fn.mode()
  local a, b = vim.fn.getpos('v'), vim.fn.getpos('.')
  local s_row, s_col, e_row, e_col = a[2] - 1, a[3] - 1, b[2] - 1, b[3] - 1
  if s_row > e_row or (s_row == e_row and s_col > e_col) then
    s_row, s_col, e_row, e_col = e_row, e_col, s_row, s_col
  end
  if vmode == 'V' then
    return { row = s_row, col = 0, end_row = e_row, end_col = #line_at(buf, e_row) }
  elseif vmode == 'v' then
    local last = line_at(buf, e_row)
    e_col = math.min(e_col, #last)
    if e_col < #last then
      e_col = e_col + vim.str_utf_end(last, e_col + 1) + 1
    end
    return {
      row = s_row,
      col = math.min(s_col, #line_at(buf, s_row)),
      end_row = e_row,
      end_col = e_col,
    }
  end
  return nil, 'only characterwise and linewise selections can be replaced'
end

--- The (row, col) just before the end of a text span, for the normal-mode cursor (on the last
--- inserted character, like `p`).
---@param buf integer
---@param row integer
---@param col integer exclusive end
---@return integer row
---@return integer col
function M.last_char(buf, row, col)
  if col == 0 then
    if row == 0 then
      return 0, 0
    end
    local prev = line_at(buf, row - 1)
    return row - 1, math.max(#prev - 1, 0)
  end
  local line = line_at(buf, row)
  col = math.min(col, #line)
  return row, col - 1 + vim.str_utf_start(line, col)
end

return M
