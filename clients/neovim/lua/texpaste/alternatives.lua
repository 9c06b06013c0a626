-- Remembers the last formula inserted in each buffer (an extmark spanning it, so edits elsewhere do
-- not break it) with the server's candidates, and replaces it in place with another candidate
-- picked through `vim.ui.select` (`:TexPaste alternatives`).
local M = {}

M.ns = vim.api.nvim_create_namespace('texpaste.last')

---@class texpaste.Candidate
---@field latex string
---@field text string the candidate wrapped for the same spot
---@field score? number

---@class texpaste.Last
---@field mark integer extmark spanning the inserted text
---@field text string the text now in the span
---@field candidates texpaste.Candidate[]
---@field current integer index of the inserted candidate

---@type table<integer, texpaste.Last>
local last = {}

---@param buf integer
---@return integer row, integer col, integer end_row, integer end_col
local function span_of(buf, mark)
  local pos = vim.api.nvim_buf_get_extmark_by_id(buf, M.ns, mark, { details = true })
  if not pos[1] then
    return -1, -1, -1, -1
  end
  return pos[1], pos[2], pos[3].end_row or pos[1], pos[3].end_col or pos[2]
end

--- Records the formula now at (row, col)–(end_row, end_col) of `buf`.
---@param buf integer
---@param row integer
---@param col integer
---@param end_row integer
---@param end_col integer
---@param text string
---@param candidates texpaste.Candidate[]
function M.remember(buf, row, col, end_row, end_col, text, candidates)
  for b in pairs(last) do
    if not vim.api.nvim_buf_is_valid(b) then
      last[b] = nil
    end
  end
  vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  local mark = vim.api.nvim_buf_set_extmark(buf, M.ns, row, col, {
    end_row = end_row,
    end_col = end_col,
    -- Text typed right before or right after the formula stays outside it.
    right_gravity = true,
    end_right_gravity = false,
  })
  local current = 1
  for i, c in ipairs(candidates) do
    if c.text == text then
      current = i
      break
    end
  end
  last[buf] = { mark = mark, text = text, candidates = candidates, current = current }
end

--- The remembered formula of `buf` and its current span, if it is still intact.
---@param buf integer
---@return texpaste.Last? entry
---@return string? err
function M.get(buf)
  if buf == 0 then
    buf = vim.api.nvim_get_current_buf()
  end
  local entry = last[buf]
  if not entry then
    return nil, 'no formula was pasted in this buffer yet'
  end
  local row, col, end_row, end_col = span_of(buf, entry.mark)
  if row < 0 then
    return nil, 'the last pasted formula is gone'
  end
  local ok, now = pcall(vim.api.nvim_buf_get_text, buf, row, col, end_row, end_col, {})
  if not ok or table.concat(now, '\n') ~= entry.text then
    return nil, 'the last pasted formula was edited since, so it is left alone'
  end
  return entry
end

--- Replaces the remembered formula of `buf` with candidate `index`.
---@param buf integer
---@param index integer
---@return boolean ok
---@return string? err
function M.replace(buf, index)
  local entry, err = M.get(buf)
  if not entry then
    return false, err
  end
  local candidate = entry.candidates[index]
  if not candidate then
    return false, 'there is no such candidate'
  end
  local row, col, end_row, end_col = span_of(buf, entry.mark)
  local lines = vim.split(candidate.text, '\n', { plain = true })
  vim.api.nvim_buf_set_text(buf, row, col, end_row, end_col, lines)
  local new_end_row = row + #lines - 1
  local new_end_col = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_buf_set_extmark(buf, M.ns, row, col, {
    id = entry.mark,
    end_row = new_end_row,
    end_col = new_end_col,
    right_gravity = true,
    end_right_gravity = false,
  })
  entry.text = candidate.text
  entry.current = index
  return true
end

--- Lets the user pick another candidate for the last formula of `buf` and puts it in place.
---@param buf integer
---@param notify fun(msg: string, level?: integer)
function M.pick(buf, notify)
  local entry, err = M.get(buf)
  if not entry then
    return notify(err)
  end
  if #entry.candidates < 2 then
    return notify(
      'the last formula has no alternatives (set `candidates` above 1)',
      vim.log.levels.INFO
    )
  end
  local indices = {}
  for i in ipairs(entry.candidates) do
    indices[#indices + 1] = i
  end
  vim.ui.select(indices, {
    prompt = 'texpaste: replace the formula with',
    kind = 'texpaste.candidate',
    format_item = function(i)
      local c = entry.candidates[i]
      local flat = c.latex:gsub('\n', ' ')
      local score = c.score and string.format('  (%.3f)', c.score) or ''
      return (i == entry.current and '* ' or '  ') .. flat .. score
    end,
  }, function(choice)
    if not choice or choice == entry.current then
      return
    end
    if not vim.api.nvim_buf_is_valid(buf) then
      return
    end
    local ok, replace_err = M.replace(buf, choice)
    if not ok then
      notify(replace_err)
    end
  end)
end

return M
