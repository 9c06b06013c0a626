-- :checkhealth texpaste — Neovim version, settings, the `texpaste` executable and its version, the
-- clipboard and screenshot tools (as the server sees them), and the daemon/model state.
local M = {}

local health = vim.health

---@param cmd string[]
---@param timeout_ms integer
---@return vim.SystemCompleted?
---@return string? err
local function run(cmd, timeout_ms)
  local ok, proc = pcall(vim.system, cmd, { text = true })
  if not ok then
    return nil, tostring(proc)
  end
  local res = proc:wait(timeout_ms)
  if res.code == 124 and res.signal ~= 0 then
    return nil,
      string.format('`%s` did not answer within %d s', table.concat(cmd, ' '), timeout_ms / 1000)
  end
  return res
end

--- The command line prefix that runs the `texpaste` CLI, derived from the server command
--- (`{'texpaste', 'serve'}` → `{'texpaste'}`, `{'python', '-m', 'texpaste', 'serve'}` → the first three).
---@param cmd string[]
---@return string[]
function M.cli_prefix(cmd)
  local prefix = {}
  for _, arg in ipairs(cmd) do
    if arg == 'serve' then
      return prefix
    end
    prefix[#prefix + 1] = arg
  end
  return { cmd[1] }
end

local function check_neovim()
  health.start('Neovim')
  local v = vim.version()
  local version = string.format('%d.%d.%d', v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. version)
  elseif vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. version .. ' (0.10 fallback: no vim.lsp.config; 0.11 is recommended)')
  else
    health.error('Neovim ' .. version .. ' is too old', 'Install Neovim 0.10 or later.')
  end
end

local function check_config()
  health.start('Settings')
  local config = require('texpaste.config')
  if vim.g.texpaste ~= nil then
    local ok, err = config.validate(vim.g.texpaste)
    if not ok then
      health.error('vim.g.texpaste: ' .. err)
    end
  end
  local cfg = config.get()
  health.ok(
    string.format(
      'mode %s, %d candidates%s%s',
      cfg.mode,
      cfg.candidates,
      cfg.model and (', model ' .. cfg.model) or '',
      cfg.device and (', device ' .. cfg.device) or ''
    )
  )
end

---@return string[]? prefix of the texpaste CLI when it works
local function check_server()
  health.start('Language server')
  local conf = require('texpaste.client').server_config()
  local cmd = conf.cmd
  if type(cmd) ~= 'table' then
    health.info('The server command is a function; it cannot be checked here.')
    return nil
  end
  health.info('Command: ' .. table.concat(cmd, ' '))
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    health.error(string.format('`%s` was not found', cmd[1]), {
      'Install texpaste (pip install texpaste) so that `texpaste` is on PATH,',
      "or point the plugin at it: require('texpaste').setup({ cmd = { '/path/to/texpaste', 'serve' } }).",
    })
    return nil
  end
  local prefix = M.cli_prefix(cmd)
  local res, err = run(vim.list_extend(vim.deepcopy(prefix), { '--version' }), 10000)
  if not res or res.code ~= 0 then
    health.error(
      string.format(
        '`%s --version` failed: %s',
        table.concat(prefix, ' '),
        err or vim.trim(res.stderr or '')
      )
    )
    return nil
  end
  health.ok(string.format('%s (%s)', vim.trim(res.stdout ~= '' and res.stdout or res.stderr), exe))
  local help = run(vim.list_extend(vim.deepcopy(prefix), { 'serve', '--help' }), 10000)
  if not help or help.code ~= 0 then
    health.error(
      'This texpaste has no `serve` command',
      'Upgrade texpaste to a version with the language server.'
    )
    return nil
  end
  local clients = vim.lsp.get_clients({ name = 'texpaste' })
  if #clients > 0 then
    health.ok(string.format('Running: %d client(s), id %d', #clients, clients[1].id))
  else
    health.info('Not running; it starts with the first paste (or set autostart = true).')
  end
  return prefix
end

--- What the server reports (texpaste/status, else `texpaste tools --json`) on the clipboard and
--- screenshot tools: the server drives them, on this machine.
---@param prefix string[]?
local function check_tools(prefix)
  health.start('Clipboard and screenshots (driven by the language server)')
  local tools
  local c = vim.lsp.get_clients({ name = 'texpaste' })[1]
  if c and c.initialized then
    local st = require('texpaste.client').request_sync(c, 'texpaste/status', 5000)
    tools = type(st) == 'table' and st.tools or nil
  end
  if not tools and prefix then
    local res = run(vim.list_extend(vim.deepcopy(prefix), { 'tools', '--json' }), 10000)
    local ok, decoded = pcall(vim.json.decode, res and res.code == 0 and res.stdout or '')
    tools = ok and decoded or nil
  end
  if type(tools) ~= 'table' then
    return health.info('Skipped: the texpaste command does not work.')
  end
  local clip, shot = tools.clipboard or {}, tools.screenshot or {}
  if clip.tool then
    health.ok(string.format('Clipboard tool: %s (%s)', clip.tool, tostring(clip.path)))
  else
    health.warn(
      'No clipboard tool: ' .. tostring(clip.problem),
      'Paste an image file with require("texpaste").paste({ path = ... }) meanwhile.'
    )
  end
  if shot.tool then
    health.ok(
      string.format('Screenshot tool for :TexPaste snip: %s (%s)', shot.tool, tostring(shot.path))
    )
  else
    health.warn(':TexPaste snip: ' .. tostring(shot.problem), 'Set `snip_command` in setup().')
  end
end

---@param st table
local function report_status(st)
  local state = st.state or '?'
  local line = string.format(
    'State %s, model %s, device %s, engine %s, server %s',
    state,
    tostring(st.model ~= vim.NIL and st.model or '?'),
    tostring(st.device ~= vim.NIL and st.device or '?'),
    tostring(st.engine or '?'),
    tostring(st.version or '?')
  )
  if state == 'error' then
    health.error(line .. ': ' .. tostring(st.error))
  elseif state == 'ready' or state == 'idle' or state == 'loading' then
    health.ok(line)
  else
    health.warn(line)
  end
  if type(st.notice) == 'string' then
    health.info(st.notice)
  end
  if type(st.offer) == 'table' then
    health.info(
      string.format(
        'The more accurate %s (~%s MB) can be downloaded: the plugin offers it after a paste, or run'
          .. ' `texpaste models pull %s`.',
        st.offer.model,
        tostring(st.offer.megabytes),
        st.offer.model
      )
    )
  end
  if type(st.daemon) == 'table' then
    health.ok(
      string.format(
        'Daemon pid %s, %s client(s), %s model load(s), socket %s',
        tostring(st.daemon.pid),
        tostring(st.daemon.clients),
        tostring(st.daemon.loads),
        tostring(st.daemon.socket)
      )
    )
  elseif st.engine == 'daemon' then
    health.info('No daemon is running; the next recognition starts it.')
  end
end

---@param prefix string[]?
local function check_model(prefix)
  health.start('Daemon and model')
  local c = vim.lsp.get_clients({ name = 'texpaste' })[1]
  if c and c.initialized then
    local st, err = require('texpaste.client').request_sync(c, 'texpaste/status', 5000)
    if st then
      return report_status(st)
    end
    health.warn('texpaste/status failed: ' .. tostring(err))
  end
  if not prefix then
    return health.info('Skipped: the texpaste command does not work.')
  end
  local res, err = run(vim.list_extend(vim.deepcopy(prefix), { 'daemon', 'status' }), 10000)
  if not res then
    return health.warn('`texpaste daemon status` failed: ' .. tostring(err))
  end
  if res.code ~= 0 then
    return health.info('No daemon is running; the first paste starts it and loads the model.')
  end
  local ok, st = pcall(vim.json.decode, res.stdout)
  if not ok or type(st) ~= 'table' then
    return health.warn('Unexpected `texpaste daemon status` output: ' .. vim.trim(res.stdout))
  end
  report_status({
    state = st.state,
    model = st.model,
    device = st.device,
    engine = 'daemon',
    version = st.version,
    error = st.error,
    notice = st.notice,
    daemon = { pid = st.pid, clients = st.clients, loads = st.loads, socket = st.socket },
  })
end

function M.check()
  check_neovim()
  check_config()
  local prefix = check_server()
  check_tools(prefix)
  check_model(prefix)
end

return M
