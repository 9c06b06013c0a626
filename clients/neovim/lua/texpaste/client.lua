-- The texpaste language client: finds or starts it for a buffer (asynchronously), keeps its settings
-- in sync, and sends commands and requests. Neovim 0.11 uses `vim.lsp.config`/`Client:exec_cmd`;
-- 0.10 reads lsp/texpaste.lua itself and uses `vim.lsp.start` + `workspace/executeCommand`.
local config = require('texpaste.config')

local M = {}

M.name = 'texpaste'

--- Command ids and request methods of docs/protocol.md.
M.INSERT_FORMULA = 'texpaste.insertFormula'
M.INSERT_FORMULA_FROM_CLIPBOARD = 'texpaste.insertFormulaFromClipboard'
M.INSERT_FORMULA_FROM_SCREENSHOT = 'texpaste.insertFormulaFromScreenshot'
M.REPLACE_WITH_CANDIDATE = 'texpaste.replaceWithCandidate'
M.DOWNLOAD_MODEL = 'texpaste.downloadModel'
M.DECLINE_OFFER = 'texpaste.declineModelOffer'
--- The code-action kind of a pasted formula's other candidates.
M.CANDIDATE_KIND = 'refactor.rewrite.texpaste.candidate'
M.RECOGNIZE = 'texpaste/recognize'
M.STATUS = 'texpaste/status'

local has_011 = vim.fn.has('nvim-0.11') == 1

--- True when the 0.10 code path is used (tests set it on 0.11 to exercise that path).
M.legacy = not has_011

-- How long a starting server may take to initialise.
M.start_timeout_ms = 30000

---@type table<integer, table> settings last sent to each client (by client id)
local synced = {}

--- Calls a client method in the style the running Neovim expects.
---@param client vim.lsp.Client
---@param method string
local function call(client, method, ...)
  if has_011 then
    return client[method](client, ...)
  end
  return client[method](...)
end

--- `workspace/applyEdit` for the texpaste client. Neovim's own handler skips a `TextDocumentEdit`
--- made for an older version of the buffer (it only prints "newer than edits") and still answers
--- `applied = true`, so a paste the user typed over would vanish. Refusing it instead makes the
--- server report a conflict that carries the formula (see `on_result` in init.lua).
---@param err lsp.ResponseError?
---@param params lsp.ApplyWorkspaceEditParams
---@param ctx lsp.HandlerContext
function M.apply_edit(err, params, ctx)
  local changes = type(params) == 'table' and type(params.edit) == 'table' and params.edit.documentChanges
  for _, change in ipairs(type(changes) == 'table' and changes or {}) do
    local doc = change.textDocument
    local version = type(doc) == 'table' and doc.version
    if type(version) == 'number' then
      local buf = vim.uri_to_bufnr(doc.uri)
      if vim.lsp.util.buf_versions[buf] ~= version then
        return { applied = false, failureReason = 'the buffer changed' }
      end
    end
  end
  return vim.lsp.handlers['workspace/applyEdit'](err, params, ctx)
end

--- The server configuration: lsp/texpaste.lua (through `vim.lsp.config` on 0.11, with the user's
--- overrides), then the plugin's `cmd` and settings.
---@return table
function M.server_config()
  local base
  if not M.legacy then
    base = vim.lsp.config[M.name]
  end
  if not base then
    local file = vim.api.nvim_get_runtime_file('lsp/' .. M.name .. '.lua', false)[1]
    base = file and dofile(file) or {}
  end
  base = vim.deepcopy(base)
  base.name = M.name
  local cfg = config.get()
  if cfg.cmd then
    base.cmd = cfg.cmd
  end
  base.cmd = base.cmd or { 'texpaste', 'serve' }
  base.init_options =
    vim.tbl_deep_extend('force', base.init_options or {}, config.server_settings(cfg))
  return base
end

--- The initialised texpaste client attached to `buf`, if any.
---@param buf integer
---@return vim.lsp.Client?
function M.get(buf)
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name, bufnr = buf })) do
    if client.initialized then
      return client
    end
  end
end

--- Sends the current settings to a running client when they differ from what it has.
---@param client vim.lsp.Client
function M.sync_settings(client)
  local settings = config.server_settings()
  local current = synced[client.id] or client.config.init_options or {}
  if vim.deep_equal(current, settings) then
    return
  end
  synced[client.id] = settings
  call(client, 'notify', 'workspace/didChangeConfiguration', { settings = { texpaste = settings } })
end

--- Sends the current settings to every running texpaste client.
function M.sync_all()
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    if client.initialized then
      M.sync_settings(client)
    end
  end
end

--- Whether the server offers a command.
---@param client vim.lsp.Client
---@param command string
---@return boolean
function M.supports(client, command)
  local provider = client.server_capabilities and client.server_capabilities.executeCommandProvider
  return type(provider) == 'table' and vim.list_contains(provider.commands or {}, command)
end

--- Finds the client for `buf` or starts one, without blocking; `on_ready` gets it once it is
--- initialised and the buffer is attached (so the server has the document).
---@param buf integer
---@param on_ready fun(err: string?, client: vim.lsp.Client?)
function M.ensure(buf, on_ready)
  local ready = M.get(buf)
  if ready then
    M.sync_settings(ready)
    return on_ready(nil, ready)
  end

  local conf = M.server_config()
  if type(conf.cmd) == 'table' and vim.fn.executable(conf.cmd[1]) ~= 1 then
    return on_ready(
      string.format(
        'the language server command `%s` was not found; install texpaste or set `cmd` in setup()',
        conf.cmd[1]
      )
    )
  end
  if type(conf.root_dir) ~= 'string' then
    conf.root_dir = vim.fs.root(buf, conf.root_markers or { '.git' }) or vim.fn.getcwd()
  end

  local finished = false
  local timer = assert(vim.uv.new_timer())
  local autocmd ---@type integer?
  local client_id ---@type integer?
  local function finish(err, client)
    if finished then
      return
    end
    finished = true
    timer:stop()
    timer:close()
    if autocmd then
      pcall(vim.api.nvim_del_autocmd, autocmd)
    end
    if client then
      M.sync_settings(client)
    end
    on_ready(err, client)
  end

  autocmd = vim.api.nvim_create_autocmd('LspAttach', {
    buffer = buf,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == M.name then
        finish(nil, client)
      end
    end,
  })

  local ok, id = pcall(vim.lsp.start, conf, {
    bufnr = buf,
    silent = true,
    reuse_client = function(client, c)
      return client.name == c.name
    end,
  })
  if not ok or not id then
    return finish(
      string.format(
        'the language server `%s` could not be started%s',
        type(conf.cmd) == 'table' and table.concat(conf.cmd, ' ') or M.name,
        ok and '' or ': ' .. tostring(id)
      )
    )
  end
  client_id = id
  if finished then
    return -- an initialised client was reused and LspAttach has already fired
  end

  local waited = 0
  timer:start(
    50,
    50,
    vim.schedule_wrap(function()
      if finished then
        return
      end
      waited = waited + 50
      local client = vim.lsp.get_client_by_id(client_id)
      if not client then
        return finish('the language server exited while starting; see :LspLog')
      end
      if client.initialized and vim.lsp.buf_is_attached(buf, client_id) then
        return finish(nil, client)
      end
      if waited >= M.start_timeout_ms then
        finish(
          string.format('the language server did not start within %d s', M.start_timeout_ms / 1000)
        )
      end
    end)
  )
end

--- Runs a server command with one argument object; `handler(err, result)` on completion.
---@param client vim.lsp.Client
---@param command string
---@param args table
---@param buf integer
---@param handler fun(err: lsp.ResponseError?, result: any)
function M.exec(client, command, args, buf, handler)
  local function on_response(err, result)
    handler(err, result)
  end
  if not M.legacy then
    client:exec_cmd(
      { title = 'texpaste', command = command, arguments = { args } },
      { bufnr = buf },
      on_response
    )
  else
    call(
      client,
      'request',
      'workspace/executeCommand',
      { command = command, arguments = { args } },
      on_response,
      buf
    )
  end
end

--- Sends a request to the server; `handler(err, result)` on completion.
---@param client vim.lsp.Client
---@param method string
---@param params table?
---@param buf integer?
---@param handler fun(err: lsp.ResponseError?, result: any)
---@return boolean ok
function M.request(client, method, params, buf, handler)
  return (
    call(client, 'request', method, params, function(err, result)
      handler(err, result)
    end, buf)
  )
end

--- Cancels a request (`$/cancelRequest`).
---@param client vim.lsp.Client
---@param request_id integer
function M.cancel_request(client, request_id)
  call(client, 'cancel_request', request_id)
end

--- Asks the server to stop a job through its work-done progress token.
---@param client vim.lsp.Client
---@param token integer|string
function M.cancel_progress(client, token)
  call(client, 'notify', 'window/workDoneProgress/cancel', { token = token })
end

--- Sends a request and waits for the answer (only for :checkhealth, never on the paste path).
---@param client vim.lsp.Client
---@param method string
---@param timeout_ms integer
---@return table? result
---@return string? err
function M.request_sync(client, method, timeout_ms, params, buf)
  local response, err =
    call(client, 'request_sync', method, params or vim.empty_dict(), timeout_ms, buf or 0)
  if not response then
    return nil, err or 'no answer'
  end
  if response.err then
    return nil, response.err.message
  end
  return response.result
end

return M
