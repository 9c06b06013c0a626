-- Plugin settings: defaults, `vim.g.texpaste` / `setup()` merge, validation, and the subset that is
-- sent to the server as LSP `init_options` (camelCase keys, docs/protocol.md "Settings").
local M = {}

---@class texpaste.Delimiters
---@field markdown? { inline?: 'dollar'|'paren', display?: 'dollars'|'mathFence'|'brackets' }
---@field tex? { inline?: 'paren'|'dollar', display?: 'brackets'|'equation'|'equation*'|'dollars' }
---@field other? 'raw'|'markdown'

---@class texpaste.Config
---@field model? string Model name or directory (server default: pix2tex if cached, else texpaste-small).
---@field device? 'cpu'|'cuda'|'mps' Device for the model (server default: best available).
---@field mode 'auto'|'inline'|'display'|'raw' Default insertion mode.
---@field candidates integer How many alternatives beam search keeps (1 = greedy only).
---@field delimiters? texpaste.Delimiters Delimiter styles per language family.
---@field cmd? string[] Command that starts the language server (default: lsp/texpaste.lua's).
---@field autostart boolean Attach the server to Markdown/TeX buffers when they open.
---@field clipboard 'auto'|'server' Accepted for older configurations; the server reads the clipboard.
---@field snip_command? string[] Screenshot command the server runs; `%f` is the output PNG path.
---@field progress boolean Show a "recognising…" marker at the insertion point.
---@field keep_image_link boolean Converting an image link keeps the link in a comment.
---@field timeout_ms integer Accepted for older configurations; unused.

---@type texpaste.Config
M.defaults = {
  model = nil,
  device = nil,
  mode = 'auto',
  candidates = 5,
  delimiters = nil,
  cmd = nil,
  autostart = false,
  clipboard = 'auto',
  snip_command = nil,
  progress = true,
  timeout_ms = 5000,
  keep_image_link = false,
}

local enums = {
  device = { 'cpu', 'cuda', 'mps' },
  mode = { 'auto', 'inline', 'display', 'raw' },
  clipboard = { 'auto', 'server' },
}

local types = {
  model = 'string',
  device = 'string',
  mode = 'string',
  candidates = 'number',
  delimiters = 'table',
  cmd = 'table',
  autostart = 'boolean',
  clipboard = 'string',
  snip_command = 'table',
  progress = 'boolean',
  timeout_ms = 'number',
  keep_image_link = 'boolean',
}

---@param list any
---@return boolean
local function is_string_list(list)
  if not vim.islist(list) or #list == 0 then
    return false
  end
  for _, item in ipairs(list) do
    if type(item) ~= 'string' then
      return false
    end
  end
  return true
end

--- Checks a (partial) settings table.
---@param opts table
---@return boolean ok
---@return string? err One sentence naming the first bad setting.
function M.validate(opts)
  if type(opts) ~= 'table' then
    return false, 'settings must be a table'
  end
  for key, value in pairs(opts) do
    local want = types[key]
    if not want then
      return false, string.format('unknown setting `%s`', tostring(key))
    end
    if type(value) ~= want then
      return false, string.format('setting `%s` must be a %s, not a %s', key, want, type(value))
    end
    if enums[key] and not vim.list_contains(enums[key], value) then
      return false,
        string.format('setting `%s` must be one of %s', key, table.concat(enums[key], ', '))
    end
  end
  if opts.candidates and (opts.candidates < 1 or opts.candidates % 1 ~= 0) then
    return false, 'setting `candidates` must be a whole number of at least 1'
  end
  if opts.timeout_ms and opts.timeout_ms <= 0 then
    return false, 'setting `timeout_ms` must be positive'
  end
  for _, key in ipairs({ 'cmd', 'snip_command' }) do
    if opts[key] ~= nil and not is_string_list(opts[key]) then
      return false, string.format('setting `%s` must be a non-empty list of strings', key)
    end
  end
  return true
end

---@type table? settings given to setup(), nil until it is called
local user_opts = nil

--- Records the settings of `setup()`; returns false and the reason when they are invalid.
---@param opts? table
---@return boolean ok
---@return string? err
function M.set(opts)
  opts = opts or {}
  local ok, err = M.validate(opts)
  if not ok then
    return false, err
  end
  user_opts = vim.deepcopy(opts)
  return true
end

--- The effective settings: defaults, then `vim.g.texpaste`, then `setup()`'s (invalid
--- `vim.g.texpaste` entries are ignored here and reported by :checkhealth).
---@return texpaste.Config
function M.get()
  local merged = vim.deepcopy(M.defaults)
  local global = vim.g.texpaste
  if type(global) == 'table' and M.validate(global) then
    merged = vim.tbl_deep_extend('force', merged, global)
  end
  if user_opts then
    merged = vim.tbl_deep_extend('force', merged, user_opts)
  end
  return merged
end

--- The server's settings (docs/protocol.md), as sent in `init_options` and
--- `workspace/didChangeConfiguration`.
---@param cfg? texpaste.Config
---@return table
function M.server_settings(cfg)
  cfg = cfg or M.get()
  return {
    model = cfg.model,
    device = cfg.device,
    mode = cfg.mode,
    candidates = cfg.candidates,
    delimiters = cfg.delimiters,
    screenshotCommand = cfg.snip_command,
    keepImageLink = cfg.keep_image_link,
    -- The plugin shows each failure itself with vim.notify.
    showErrors = false,
  }
end

return M
