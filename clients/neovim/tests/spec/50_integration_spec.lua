-- End to end: the server-side clipboard fallback, the 0.10 code path, autostart with
-- lsp/texpaste.lua, and :checkhealth.
local t = require('harness')
local H = require('helpers')

t.test('clipboard = "server": texpaste.insertFormulaFromClipboard reads the X clipboard', function()
  local c = H.child({ display = true })
  c:setup({ clipboard = 'server' })
  H.set_clipboard(H.png2)
  local lines = { 'Euler: ' }
  c:edit(H.file('server.md', lines))
  c:lua('vim.api.nvim_win_set_cursor(0, { 1, 6 })')
  c:cmd('TexPaste inline')
  c:wait_idle()
  t.eq(c:lines(), H.inserted(lines, 0, 7, '$' .. H.latex(c, H.png2) .. '$'))
  t.eq(c:notes(), {})
end, { timeout = 40000 })

t.test('settings: mode and delimiters reach the server as init_options', function()
  local c = H.child()
  c:setup({ mode = 'display', delimiters = { markdown = { display = 'mathFence' } } })
  local lines = { 'Fenced:' }
  c:edit(H.file('fence.md', lines))
  c:lua('vim.api.nvim_win_set_cursor(0, { 1, ... })', #lines[1] - 1)
  c:lua("require('texpaste').paste({ path = ... })", H.png)
  c:wait_idle()
  local text = c:last().text
  t.match(text, '\n```math\n', 'a math fence on a line of its own')
  t.match(text, '\n```\n?$', 'closing fence')
  t.eq(c:lines(), H.inserted(lines, 0, #lines[1], text))
  t.eq(c:notes(), {})
end, { timeout = 40000 })

t.test('Neovim 0.10 path (vim.lsp.start + workspace/executeCommand) pastes the same', function()
  local c = H.child()
  c:lua("require('texpaste.client').legacy = true")
  c:setup()
  local lines = { 'Legacy: ' }
  c:edit(H.file('legacy.md', lines))
  c:lua('vim.api.nvim_win_set_cursor(0, { 1, 7 })')
  c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
  c:wait_idle()
  t.eq(c:lines(), H.inserted(lines, 0, 8, '$' .. H.latex(c, H.png) .. '$'))
  local cfg = c:lua(
    "local cl = vim.lsp.get_clients({ name = 'texpaste' })[1]; return { cmd = cl.config.cmd, init = cl.config.init_options }"
  )
  t.eq(cfg.cmd, { 'texpaste', 'serve' })
  t.eq(cfg.init.showErrors, false)
  t.eq(cfg.init.candidates, 1)
  t.eq(c:notes(), {})
end, { timeout = 40000 })

t.test('autostart: lsp/texpaste.lua attaches to Markdown and offers the code action', function()
  local c = H.child()
  c:setup({ autostart = true })
  c:edit(H.file('auto.md', { 'hello' }))
  c:wait(
    "#vim.lsp.get_clients({ name = 'texpaste', bufnr = 0 }) == 1 and vim.lsp.get_clients({ name = 'texpaste' })[1].initialized",
    20000,
    'the client to attach'
  )
  local titles = c:lua([[
    local params = vim.lsp.util.make_range_params(0, 'utf-8')
    params.context = { diagnostics = {} }
    local res = vim.lsp.buf_request_sync(0, 'textDocument/codeAction', params, 5000)
    local titles = {}
    for _, r in pairs(res or {}) do
      for _, a in ipairs(r.result or {}) do table.insert(titles, a.title) end
    end
    return titles
  ]])
  t.ok(vim.list_contains(titles, 'Paste formula from clipboard'), vim.inspect(titles))
  local info = c:lua(
    "local cl = vim.lsp.get_clients({ name = 'texpaste' })[1]; return { ft = cl.config.filetypes, init = cl.config.init_options, enc = cl.offset_encoding }"
  )
  t.eq(info.ft, { 'markdown', 'rmd', 'quarto', 'tex', 'plaintex' })
  t.eq(info.init.candidates, 1)
  t.eq(info.init.showErrors, false)
  t.eq(info.enc, 'utf-8')
  -- a Lua buffer gets no client
  c:edit(H.file('x.lua', { 'return 1' }))
  t.eq(#c:lua("return vim.lsp.get_clients({ name = 'texpaste', bufnr = 0 })"), 0)
end, { timeout = 30000 })

t.test(
  ':checkhealth texpaste reports Neovim, texpaste, the clipboard tool, daemon and model',
  function()
    local c = H.child({ display = true })
    c:setup()
    c:edit(H.file('health.md', { 'x' }))
    -- with a running client the report comes from texpaste/status
    c:lua("require('texpaste').paste({ path = ..., mode = 'raw' })", H.png)
    c:wait_idle()
    c:cmd('checkhealth texpaste')
    local report = table.concat(c:lines(), '\n')
    t.match(report, 'OK Neovim 0%.1%d')
    t.match(report, 'OK texpaste %d+%.%d+')
    t.match(report, 'OK Clipboard tool: xclip')
    t.match(report, 'OK Running: 1 client')
    t.match(report, 'OK State ready, model model, device cpu, engine daemon')
    t.match(report, 'OK Daemon pid %d+')
    t.eq(report:find('ERROR'), nil, report)

    -- :TexPaste status says the same in one line
    c:cmd('bwipeout')
    c:lua('_G.__notes = {}')
    c:cmd('TexPaste status')
    c:wait('#_G.__notes > 0', 10000)
    t.match(c:notes()[1].msg, '^texpaste: Ready, model model on cpu %(daemon pid %d+%)%.$')

    -- without a client, the report asks `texpaste daemon status`
    local fresh = H.child({ display = true })
    fresh:setup()
    fresh:cmd('checkhealth texpaste')
    report = table.concat(fresh:lines(), '\n')
    t.match(report, 'Not running; it starts with the first paste')
    t.match(report, 'OK State ready, model model, device cpu, engine daemon')
    t.match(report, 'OK Daemon pid %d+')
    t.eq(report:find('ERROR'), nil, report)
  end,
  { timeout = 40000 }
)

t.test(
  ':checkhealth texpaste reports a missing texpaste and no clipboard tool as problems',
  function()
    local c = H.child()
    c:setup({ cmd = { 'texpaste-not-installed', 'serve' } })
    c:cmd('checkhealth texpaste')
    local report = table.concat(c:lines(), '\n')
    t.match(report, 'ERROR `texpaste%-not%-installed` was not found')
    -- the clipboard tools are the server's (tests/test_screenshot.py checks `texpaste tools`)
    t.match(report, 'Skipped: the texpaste command does not work')
  end
)
