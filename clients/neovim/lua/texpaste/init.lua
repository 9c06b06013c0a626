-- texpaste for Neovim: paste the formula on the clipboard as LaTeX at the cursor.
--
-- The language server does the work on this machine: it reads the clipboard
-- (`texpaste.insertFormulaFromClipboard`) or takes a region screenshot
-- (`texpaste.insertFormulaFromScreenshot`), or the plugin sends an image file's bytes
-- (`texpaste.insertFormula`); the server inserts the wrapped LaTeX with workspace/applyEdit and
-- offers the other candidates as code actions. Nothing here waits: every step is a callback.
local alternatives = require('texpaste.alternatives')
local client = require('texpaste.client')
local config = require('texpaste.config')
local pending = require('texpaste.pending')
local position = require('texpaste.position')

local M = {}

local MODES = { 'auto', 'inline', 'display', 'raw' }
local SUBCOMMANDS =
  { 'inline', 'display', 'raw', 'auto', 'alternatives', 'snip', 'cancel', 'status' }

--- Shows one sentence prefixed with the plugin name.
---@param msg string
---@param level? integer default ERROR
local function notify(msg, level)
  msg = vim.trim(msg):gsub('^%l', string.upper)
  if not msg:match('[.!?]$') then
    msg = msg .. '.'
  end
  vim.notify('texpaste: ' .. msg, level or vim.log.levels.ERROR)
end

---@class texpaste.SetupOpts : texpaste.Config
---@field mode? 'auto'|'inline'|'display'|'raw'
---@field candidates? integer
---@field autostart? boolean
---@field clipboard? 'auto'|'server'
---@field progress? boolean
---@field timeout_ms? integer

--- Configures the plugin (optional: without it the defaults and `vim.g.texpaste` apply).
---@param opts? texpaste.SetupOpts
function M.setup(opts)
  local ok, err = config.set(opts)
  if not ok then
    return notify('invalid setup(): ' .. err)
  end
  local cfg = config.get()
  if vim.fn.has('nvim-0.11') == 1 then
    vim.lsp.config(client.name, { cmd = cfg.cmd, init_options = config.server_settings(cfg) })
  end
  if cfg.autostart then
    M.enable()
  end
  client.sync_all()
end

--- Attaches the server to Markdown and TeX buffers as they open (so its code action "Paste
--- formula from clipboard" is offered too). Pasting does not need this: it starts the server.
function M.enable()
  if not client.legacy then
    vim.lsp.enable(client.name)
    return
  end
  local filetypes = client.server_config().filetypes or {}
  vim.api.nvim_create_autocmd('FileType', {
    group = vim.api.nvim_create_augroup('texpaste.autostart', { clear = true }),
    pattern = filetypes,
    callback = function(ev)
      if vim.bo[ev.buf].buftype == '' then
        client.ensure(ev.buf, function(err)
          if err then
            notify(err)
          end
        end)
      end
    end,
  })
end

---@return 'n'|'i'|'v'
local function editor_mode()
  local m = vim.api.nvim_get_mode().mode
  if m:sub(1, 1) == 'i' then
    return 'i'
  elseif m == 'v' or m == 'V' or m == '\22' then
    return 'v'
  end
  return 'n'
end

--- Gives the image's bytes, or the server command that fetches the image itself.
---@alias texpaste.ImageProvider fun(on_image: fun(err: string?, base64: string?, command: string?))

--- The server reads the clipboard: it runs on this machine (README, "Editors").
---@type texpaste.ImageProvider
local function from_clipboard(on_image)
  on_image(nil, nil, client.INSERT_FORMULA_FROM_CLIPBOARD)
end

---@param path string
---@return texpaste.ImageProvider
local function from_file(path)
  return function(on_image)
    local f = io.open(path, 'rb')
    if not f then
      return on_image(string.format('cannot read the image file %s', path))
    end
    local bytes = f:read('*a')
    f:close()
    on_image(nil, vim.base64.encode(bytes))
  end
end

---@class texpaste.PasteCtx
---@field buf integer
---@field win integer
---@field vim_mode 'n'|'i'|'v'
---@field mode? string
---@field job texpaste.Job
---@field cursor integer[] 0-based cursor when the paste was asked for

--- Puts the cursor after the inserted text when the user has not moved it meanwhile.
---@param ctx texpaste.PasteCtx
---@param sr integer
---@param sc integer
---@param er integer
---@param ec integer
local function place_cursor(ctx, sr, sc, er, ec)
  local win = ctx.win
  if
    not vim.api.nvim_win_is_valid(win)
    or vim.api.nvim_get_current_win() ~= win
    or vim.api.nvim_win_get_buf(win) ~= ctx.buf
  then
    return
  end
  local cur = vim.api.nvim_win_get_cursor(win)
  local row, col = cur[1] - 1, cur[2]
  local r0, c0 = ctx.cursor[1], ctx.cursor[2]
  local untouched = (row == r0 and col == c0)
  -- Text inserted at or before the cursor on its line shifts the cursor with it.
  if r0 == sr and c0 >= sc and row == er and col == ec + (c0 - sc) then
    untouched = true
  end
  if
    ctx.vim_mode == 'v'
    and (row > sr or (row == sr and col >= sc))
    and (row < er or (row == er and col <= ec))
  then
    untouched = true
  end
  if not untouched then
    return
  end
  if ctx.vim_mode == 'i' and editor_mode() == 'i' then
    vim.api.nvim_win_set_cursor(win, { er + 1, ec })
  else
    local lr, lc = position.last_char(ctx.buf, er, ec)
    vim.api.nvim_win_set_cursor(win, { lr + 1, lc })
  end
end

local offered = false

--- When the bundled model answered because pix2tex is not cached, offer once per session to
--- download it (the server fetches and verifies it with progress, and uses it from the next paste);
--- "Never" is remembered by the server on this machine.
---@param c vim.lsp.Client
function M.offer_model(c)
  if offered then
    return
  end
  offered = true
  client.request(c, client.STATUS, vim.empty_dict(), nil, function(err, st)
    local offer = not err and type(st) == 'table' and st.offer
    if type(offer) ~= 'table' then
      return
    end
    local download = string.format('Download %s (~%d MB)', offer.model, offer.megabytes or 0)
    vim.ui.select({ download, 'Not now', 'Never' }, {
      prompt = string.format(
        'texpaste is using its small bundled model; download the more accurate %s?',
        offer.model
      ),
      kind = 'texpaste.offer',
    }, function(choice)
      if choice == download then
        client.exec(c, client.DOWNLOAD_MODEL, { model = offer.model }, nil, function(dl_err)
          if dl_err then
            return notify(dl_err.message or 'the download failed')
          end
          notify(offer.model .. ' is ready: texpaste uses it from the next paste', vim.log.levels.INFO)
        end)
      elseif choice == 'Never' then
        client.exec(c, client.DECLINE_OFFER, { model = offer.model }, nil, function() end)
      end
    end)
  end)
end

---@param ctx texpaste.PasteCtx
---@param c vim.lsp.Client
---@param err lsp.ResponseError?
---@param result table?
local function on_result(ctx, c, err, result)
  local cancelled = ctx.job.cancelled
  local tracked = pending.span(ctx.job) -- where the paste point is now, after edits meanwhile
  pending.finish(ctx.job)
  if err then
    if err.code == -32800 or cancelled then
      return -- :TexPaste cancel has said so
    end
    local data = type(err.data) == 'table' and err.data or {}
    if data.kind == 'conflict' and type(data.text) == 'string' then
      -- Never inserted at a stale place: the formula goes to the unnamed register instead.
      vim.fn.setreg('"', data.text)
      local msg = (err.message or 'The buffer changed, so nothing was changed'):gsub('%.$', '')
      return notify(msg .. '; it is in the unnamed register (press p).')
    end
    return notify(err.message or 'the server failed')
  end
  if type(result) ~= 'table' or result.applied == false then
    return notify('the editor did not apply the formula')
  end
  local buf = ctx.buf
  if not (result.range and vim.api.nvim_buf_is_valid(buf)) then
    return
  end
  local enc = c.offset_encoding or 'utf-16'
  local sr, sc = position.from_lsp(buf, result.range.start, enc)
  local er, ec = position.from_lsp(buf, result.range['end'], enc)
  local ok, now = pcall(vim.api.nvim_buf_get_text, buf, sr, sc, er, ec, {})
  if not ok or table.concat(now, '\n') ~= result.text then
    -- The server's range does not hold the text (the buffer changed again): do not guess.
    return
  end
  if tracked and (tracked.row ~= sr or tracked.col ~= sc) then
    -- The server follows edits made meanwhile; should it still land elsewhere than the spot the
    -- plugin tracked (a client/server disagreement), say where the formula went.
    local what = tracked.end_row and 'replaced the text at' or 'went to'
    notify(
      string.format(
        'the buffer changed during recognition, so the formula %s the old position'
          .. ' (line %d, column %d) instead of line %d, column %d; press u to undo it',
        what,
        sr + 1,
        sc + 1,
        tracked.row + 1,
        tracked.col + 1
      ),
      vim.log.levels.WARN
    )
  end
  place_cursor(ctx, sr, sc, er, ec)
  M.offer_model(c)
end

---@param ctx texpaste.PasteCtx
---@param c vim.lsp.Client
---@param base64 string?
---@param command string? a server command that fetches the image itself
local function send(ctx, c, base64, command)
  local job, buf = ctx.job, ctx.buf
  local span = pending.span(job)
  if not span then
    pending.finish(job)
    return notify('the buffer was closed before the formula was recognised')
  end
  local enc = c.offset_encoding or 'utf-16'
  local start = position.to_lsp(buf, span.row, span.col, enc)
  local args = {
    uri = vim.uri_from_bufnr(buf),
    position = start,
    mode = ctx.mode,
  }
  local ft = vim.bo[buf].filetype
  if ft ~= '' then
    args.languageId = ft
  end
  if span.end_row then
    args.range = { start = start, ['end'] = position.to_lsp(buf, span.end_row, span.end_col, enc) }
  end
  if not command then
    command = client.INSERT_FORMULA
    args.imageBase64 = base64
  end
  if not client.supports(c, command) then
    pending.finish(job)
    return notify(string.format('the server does not offer %s; update texpaste', command))
  end
  client.exec(c, command, args, buf, function(err, result)
    on_result(ctx, c, err, result)
  end)
  pending.sent(job, c)
end

---@class texpaste.PasteOpts
---@field mode? 'auto'|'inline'|'display'|'raw' Overrides the `mode` setting for this paste.
---@field vim_mode? 'n'|'i'|'v' Where to insert (default: from the current mode): 'n' after the
--- cursor character, 'i' at the cursor, 'v' replacing the selection.
---@field path? string Recognise this image file instead of the clipboard.
---@field base64? string Recognise these base64-encoded image bytes instead of the clipboard.
---@field provider? texpaste.ImageProvider Where the image comes from (internal).
---@field waiting? string What the marker says until the image is there.

--- Pastes the formula on the clipboard (or from `opts.path`/`opts.base64`) at the cursor.
--- Returns at once; the formula appears when the server has recognised it.
---@param opts? texpaste.PasteOpts
function M.paste(opts)
  opts = opts or {}
  if opts.mode and not vim.list_contains(MODES, opts.mode) then
    return notify(string.format('unknown mode `%s` (use %s)', opts.mode, table.concat(MODES, ', ')))
  end
  local win = vim.api.nvim_get_current_win()
  local buf = vim.api.nvim_win_get_buf(win)
  local vim_mode = opts.vim_mode or editor_mode()
  local span, span_err = position.insertion_span(win, vim_mode)
  if vim_mode == 'v' then
    vim.api.nvim_feedkeys(vim.keycode('<Esc>'), 'nx', false)
  end
  if not span then
    return notify(span_err or 'nowhere to paste')
  end
  if not vim.bo[buf].modifiable then
    return notify('the buffer is not modifiable')
  end
  if vim.api.nvim_buf_get_name(buf) == '' then
    return notify('the buffer has no file name; save it first so the language server can edit it')
  end

  local provider = opts.provider
  if not provider then
    if opts.base64 then
      provider = function(on_image)
        on_image(nil, opts.base64)
      end
    elseif opts.path then
      provider = from_file(opts.path)
    else
      provider = from_clipboard
    end
  end

  local job = pending.start(buf, span)
  if opts.waiting then
    job.message = opts.waiting
  end
  local cur = vim.api.nvim_win_get_cursor(win)
  ---@type texpaste.PasteCtx
  local ctx = {
    buf = buf,
    win = win,
    vim_mode = vim_mode,
    mode = opts.mode,
    job = job,
    cursor = { cur[1] - 1, cur[2] },
  }
  provider(function(err, base64, command)
    if job.cancelled then
      return pending.finish(job)
    end
    if err then
      pending.finish(job)
      return notify(err)
    end
    if not (command and opts.waiting) then
      job.message = 'recognising…'
    end
    client.ensure(buf, function(start_err, c)
      if job.cancelled then
        return pending.finish(job)
      end
      if start_err or not c then
        pending.finish(job)
        return notify(start_err or 'the language server is not available')
      end
      send(ctx, c, base64, command)
    end)
  end)
end

--- Has the server take a region screenshot with the platform's tool (or `snip_command`) and
--- pastes its formula at the cursor.
---@param opts? { mode?: string, vim_mode?: 'n'|'i' }
function M.snip(opts)
  opts = opts or {}
  M.paste({
    mode = opts.mode,
    vim_mode = opts.vim_mode,
    waiting = 'taking a screenshot…',
    provider = function(on_image)
      on_image(nil, nil, client.INSERT_FORMULA_FROM_SCREENSHOT)
    end,
  })
end

--- Replaces the last formula pasted in the current buffer with another candidate.
function M.alternatives()
  alternatives.pick(vim.api.nvim_get_current_buf(), notify)
end

--- Cancels the recognitions in progress; the document stays as it is.
function M.cancel()
  if pending.cancel_all() == 0 then
    return notify('nothing to cancel', vim.log.levels.INFO)
  end
  notify('the recognition was cancelled', vim.log.levels.INFO)
end

--- Shows the server's state (model, device, daemon) in one message.
function M.status()
  local c = client.get(vim.api.nvim_get_current_buf())
    or vim.lsp.get_clients({ name = client.name })[1]
  if not c then
    return notify(
      'the language server is not running; it starts with the first paste',
      vim.log.levels.INFO
    )
  end
  client.request(c, client.STATUS, vim.empty_dict(), nil, function(err, st)
    if err or type(st) ~= 'table' then
      return notify(err and err.message or 'the server gave no status')
    end
    local parts = { string.format('%s, model %s', st.state or '?', st.model or '?') }
    if st.device and st.device ~= vim.NIL then
      parts[#parts + 1] = 'on ' .. st.device
    end
    if type(st.daemon) == 'table' and st.daemon.pid then
      parts[#parts + 1] = string.format('(daemon pid %s)', st.daemon.pid)
    end
    if st.error and st.error ~= vim.NIL then
      parts[#parts + 1] = '- ' .. st.error
    end
    notify(table.concat(parts, ' '), vim.log.levels.INFO)
  end)
end

--- Statusline component: "texpaste: recognising…" while a paste is pending, else ''.
---@return string
function M.statusline()
  local msg = pending.message()
  return msg and ('texpaste: ' .. msg) or ''
end

--- Runs `:TexPaste {args}`.
---@param fargs string[]
function M.command(fargs)
  local sub = fargs[1]
  if not sub then
    return M.paste({})
  end
  if vim.list_contains(MODES, sub) then
    return M.paste({ mode = sub })
  elseif sub == 'alternatives' then
    return M.alternatives()
  elseif sub == 'snip' then
    return M.snip({ mode = fargs[2] })
  elseif sub == 'cancel' then
    return M.cancel()
  elseif sub == 'status' then
    return M.status()
  end
  notify(string.format('unknown subcommand `%s` (use %s)', sub, table.concat(SUBCOMMANDS, ', ')))
end

--- Completion for `:TexPaste`.
---@param arg_lead string
---@param line string
---@return string[]
function M.complete(arg_lead, line)
  local words = vim.split(vim.trim(line), '%s+')
  local nth = #words - (arg_lead == '' and 0 or 1)
  local list = nth <= 1 and SUBCOMMANDS or (words[2] == 'snip' and nth == 2 and MODES or {})
  return vim.tbl_filter(function(item)
    return vim.startswith(item, arg_lead)
  end, list)
end

return M
