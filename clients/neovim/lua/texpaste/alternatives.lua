-- `:TexPaste alternatives`: the server's "Replace with candidate N" code actions for the formula
-- under the cursor (or, elsewhere, the last one pasted in the buffer), picked through
-- `vim.ui.select`. The server remembers its pastes and follows them through edits; the plugin
-- tracks nothing itself.
local client = require('texpaste.client')
local position = require('texpaste.position')

local M = {}

--- Picks started and finished (the tests wait for them to match).
M.started, M.finished = 0, 0

---@class texpaste.Candidate
---@field latex string
---@field text string the candidate wrapped for the same spot
---@field score? number

---@param buf integer
---@param c vim.lsp.Client
---@return lsp.CodeActionParams
local function params(buf, c)
  local row, col = 0, 0
  if vim.api.nvim_get_current_buf() == buf then
    local cur = vim.api.nvim_win_get_cursor(0)
    row, col = cur[1] - 1, cur[2]
  end
  local pos = position.to_lsp(buf, row, col, c.offset_encoding or 'utf-16')
  return {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = { start = pos, ['end'] = pos },
    context = { diagnostics = {}, only = { client.CANDIDATE_KIND }, triggerKind = 1 },
  }
end

---@param actions lsp.CodeAction[]?
---@return lsp.CodeAction[]
local function candidates_of(actions)
  return vim.tbl_filter(function(a)
    return type(a) == 'table' and a.kind == client.CANDIDATE_KIND and type(a.data) == 'table'
  end, actions or {})
end

--- The formula the server would offer candidates for in `buf` (0: the current one), asked
--- synchronously: `{ text, candidates, current }` (1-based), or nil.
---@param buf integer
---@return table?
function M.get(buf)
  buf = buf == 0 and vim.api.nvim_get_current_buf() or buf
  local c = client.get(buf)
  if not c then
    return nil
  end
  local actions = candidates_of(
    client.request_sync(c, 'textDocument/codeAction', 5000, params(buf, c), buf)
  )
  if #actions == 0 then
    return nil
  end
  local list = {}
  for _, a in ipairs(actions) do
    list[#list + 1] = { latex = a.data.latex, text = a.data.text, score = a.data.score }
  end
  local current = actions[1].data.current + 1
  return { text = list[current].text, candidates = list, current = current }
end

---@param action lsp.CodeAction
---@return string
local function format_item(action)
  local d = action.data
  local flat = tostring(d.latex):gsub('\n', ' ')
  local score = type(d.score) == 'number' and string.format('  (%.3f)', d.score) or ''
  return (d.index == d.current and '* ' or '  ') .. flat .. score
end

--- Lets the user pick another candidate for the formula and has the server put it in place.
---@param buf integer
---@param notify fun(msg: string, level?: integer)
function M.pick(buf, notify)
  M.started = M.started + 1
  local function done(msg, level)
    M.finished = M.finished + 1
    if msg then
      notify(msg, level)
    end
  end
  local c = client.get(buf)
  if not c then
    return done('no formula was pasted in this buffer yet')
  end
  client.request(c, 'textDocument/codeAction', params(buf, c), buf, function(err, result)
    if err then
      return done(err.message or 'the server gave no candidates')
    end
    local actions = candidates_of(result)
    if #actions == 0 then
      return done(
        'no formula was pasted in this buffer yet, or the last one was edited since, so there is nothing to replace'
      )
    end
    if #actions < 2 then
      return done(
        'the last formula has no alternatives (set `candidates` above 1)',
        vim.log.levels.INFO
      )
    end
    vim.ui.select(actions, {
      prompt = 'texpaste: replace the formula with',
      kind = 'texpaste.candidate',
      format_item = format_item,
    }, function(choice)
      if not (choice and choice.command and vim.api.nvim_buf_is_valid(buf)) then
        return done() -- cancelled, or the candidate already in place
      end
      local cmd = choice.command
      client.exec(c, cmd.command, cmd.arguments[1], buf, function(exec_err)
        done(exec_err and (exec_err.message or 'the formula was not replaced') or nil)
      end)
    end)
  end)
end

return M
