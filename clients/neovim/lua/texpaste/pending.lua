-- Pending recognitions: each one has an extmark at its insertion point, which tracks edits made
-- meanwhile and shows a "recognising…" marker (inline virtual text, never buffer text), updated from
-- the server's work-done progress (`LspProgress`). Also answers `:TexPaste cancel` and the statusline.
local M = {}

M.ns = vim.api.nvim_create_namespace('texpaste.pending')

---@class texpaste.Job
---@field id integer
---@field buf integer
---@field mark integer extmark id (the insertion point, or the selection to replace)
---@field client_id? integer set once the request is sent
---@field request_id? integer the workspace/executeCommand request, for cancelling
---@field message string what the marker shows
---@field cancelled boolean
---@field done boolean

---@type table<integer, texpaste.Job>
local jobs = {}
local next_id = 0

---@type table<integer, table<integer|string, boolean>> active progress tokens per client id
local tokens = {}

local progress_autocmd ---@type integer?

--- How many pastes were started (for tests and statuslines that count).
M.started = 0

---@param job texpaste.Job
local function draw(job)
  if job.done or not vim.api.nvim_buf_is_valid(job.buf) then
    return
  end
  local pos = vim.api.nvim_buf_get_extmark_by_id(job.buf, M.ns, job.mark, { details = true })
  if not pos[1] then
    return
  end
  local show = require('texpaste.config').get().progress
  vim.api.nvim_buf_set_extmark(job.buf, M.ns, pos[1], pos[2], {
    id = job.mark,
    right_gravity = false,
    end_row = pos[3].end_row,
    end_col = pos[3].end_col,
    end_right_gravity = pos[3].end_row and true or nil,
    virt_text = show and { { '⟨texpaste: ' .. job.message .. '⟩', 'TexpastePending' } } or nil,
    virt_text_pos = show and 'inline' or nil,
  })
end

---@param ev { data: { client_id: integer, params: { token: integer|string, value: table } } }
local function on_progress(ev)
  local client = vim.lsp.get_client_by_id(ev.data.client_id)
  if not client or client.name ~= 'texpaste' then
    return
  end
  local value = ev.data.params.value or {}
  local token = ev.data.params.token
  tokens[client.id] = tokens[client.id] or {}
  if value.kind == 'end' then
    tokens[client.id][token] = nil
  else
    tokens[client.id][token] = true
  end
  local message = value.message or (value.kind == 'begin' and value.title) or nil
  if not message or value.kind == 'end' then
    return
  end
  if value.percentage then
    message = string.format('%s (%d%%)', message, value.percentage)
  end
  for _, job in pairs(jobs) do
    if job.client_id == client.id and not job.done then
      job.message = message
      draw(job)
    end
  end
end

--- Starts tracking a paste at `span` in `buf`.
---@param buf integer
---@param span texpaste.Span
---@return texpaste.Job
function M.start(buf, span)
  -- Set on each use: `:colorscheme` clears highlight groups a plugin defined.
  vim.api.nvim_set_hl(0, 'TexpastePending', { link = 'Comment', default = true })
  if not progress_autocmd then
    progress_autocmd = vim.api.nvim_create_autocmd('LspProgress', {
      group = vim.api.nvim_create_augroup('texpaste.progress', { clear = true }),
      callback = on_progress,
    })
  end
  next_id = next_id + 1
  M.started = M.started + 1
  local mark = vim.api.nvim_buf_set_extmark(buf, M.ns, span.row, span.col, {
    right_gravity = false,
    end_row = span.end_row,
    end_col = span.end_col,
    end_right_gravity = span.end_row and true or nil,
  })
  local job = {
    id = next_id,
    buf = buf,
    mark = mark,
    message = 'recognising…',
    cancelled = false,
    done = false,
  }
  jobs[job.id] = job
  draw(job)
  return job
end

--- Current span of a job's insertion point (it moves with edits made meanwhile).
---@param job texpaste.Job
---@return texpaste.Span?
function M.span(job)
  if not vim.api.nvim_buf_is_valid(job.buf) then
    return nil
  end
  local pos = vim.api.nvim_buf_get_extmark_by_id(job.buf, M.ns, job.mark, { details = true })
  if not pos[1] then
    return nil
  end
  local span = { row = pos[1], col = pos[2] }
  if pos[3].end_row then
    span.end_row, span.end_col = pos[3].end_row, pos[3].end_col
  end
  return span
end

--- Notes that the job's request went to `client`: the newest pending executeCommand request.
---@param job texpaste.Job
---@param client vim.lsp.Client
function M.sent(job, client)
  job.client_id = client.id
  local newest ---@type integer?
  for id, req in pairs(client.requests or {}) do
    if req.type == 'pending' and req.method == 'workspace/executeCommand' then
      newest = math.max(newest or id, id)
    end
  end
  job.request_id = newest
end

--- Ends a job and removes its marker.
---@param job texpaste.Job
function M.finish(job)
  job.done = true
  jobs[job.id] = nil
  if vim.api.nvim_buf_is_valid(job.buf) then
    pcall(vim.api.nvim_buf_del_extmark, job.buf, M.ns, job.mark)
  end
end

--- Cancels every pending recognition and returns how many there were. Jobs already with the
--- server are cancelled there (`$/cancelRequest` and the progress token) and finished here, since
--- Neovim does not pass the RequestCancelled answer on; the others stop before sending.
---@return integer
function M.cancel_all()
  local client_mod = require('texpaste.client')
  local count = 0
  for _, job in pairs(jobs) do
    job.cancelled = true
    count = count + 1
    local client = job.client_id and vim.lsp.get_client_by_id(job.client_id)
    if client and job.request_id then
      client_mod.cancel_request(client, job.request_id)
      M.finish(job)
    end
  end
  for client_id, active in pairs(tokens) do
    local client = vim.lsp.get_client_by_id(client_id)
    if client then
      for token in pairs(active) do
        client_mod.cancel_progress(client, token)
      end
    end
  end
  return count
end

--- Number of pending recognitions.
---@return integer
function M.count()
  return vim.tbl_count(jobs)
end

--- Latest progress message of a pending job, or nil when idle.
---@return string?
function M.message()
  local _, job = next(jobs)
  return job and job.message
end

return M
