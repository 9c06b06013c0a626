-- End to end: every failure is one vim.notify sentence naming the plugin, and the buffer is left
-- exactly as it was.
local t = require('harness')
local H = require('helpers')

---@param c texpaste_test.Child
---@param lines string[]
local function unchanged(c, lines)
  t.eq(c:lines(), lines, 'buffer unchanged')
  t.eq(c:lua('return vim.bo.modified'), false, 'buffer not modified')
  t.eq(
    c:lua('return #vim.api.nvim_buf_get_extmarks(0, require("texpaste.pending").ns, 0, -1, {})'),
    0,
    'no marker left'
  )
end

t.test('error: a blank image ("no formula")', function()
  local c = H.child()
  c:setup()
  local lines = { 'Blank: ' }
  c:edit(H.file('blank.md', lines))
  c:lua("require('texpaste').paste({ path = ... })", H.blank)
  c:wait_idle()
  H.one_error(c, 'formula')
  unchanged(c, lines)
end)

t.test('error: no image on the X clipboard (text copied)', function()
  local c = H.child({ display = true })
  c:setup()
  local txt = H.file('copied.txt', { 'just text' })
  H.set_clipboard(txt, 'UTF8_STRING')
  local lines = { 'Nothing: ' }
  c:edit(H.file('noimage.md', lines))
  c:cmd('TexPaste')
  c:wait_idle()
  -- the server read the real X clipboard of the test display and found only text
  t.eq(H.one_error(c), 'texpaste: No image on the clipboard: copy a screenshot of a formula first.')
  unchanged(c, lines)
end)

t.test('no graphical session: the server is asked to read the clipboard and says why it cannot', function()
  local c = H.child() -- no DISPLAY: the server cannot reach a clipboard
  c:setup()
  local lines = { 'Over SSH: ' }
  c:edit(H.file('ssh.md', lines))
  c:lua([[
    _G.__cmds = {}
    local orig = require('texpaste.client').exec
    require('texpaste.client').exec = function(cl, command, args, buf, handler)
      table.insert(_G.__cmds, { command = command, image = args.imageBase64 ~= nil })
      return orig(cl, command, args, buf, handler)
    end
  ]])
  c:cmd('TexPaste')
  c:wait_idle()
  t.eq(
    c:lua('return _G.__cmds'),
    { { command = 'texpaste.insertFormulaFromClipboard', image = false } }
  )
  H.one_error(c, 'clipboard')
  unchanged(c, lines)
end)

t.test('error: the texpaste server is not installed', function()
  local c = H.child()
  c:setup({ cmd = { 'texpaste-not-installed', 'serve' } })
  local lines = { 'No server: ' }
  c:edit(H.file('noserver.md', lines))
  c:lua("require('texpaste').paste({ path = ... })", H.png)
  c:wait_idle(10000)
  t.eq(
    H.one_error(c),
    'texpaste: The language server command `texpaste-not-installed` was not found; install texpaste or set `cmd` in setup().'
  )
  unchanged(c, lines)
end)

t.test('error: the server exits at start (e.g. a texpaste without `serve`)', function()
  local c = H.child()
  c:setup({ cmd = { 'sh', '-c', 'exit 2' } })
  local lines = { 'Broken: ' }
  c:edit(H.file('broken.md', lines))
  c:lua("require('texpaste').paste({ path = ... })", H.png)
  c:wait_idle(15000)
  local errors = vim.tbl_filter(function(n)
    return n.msg:find('^texpaste: ')
  end, c:notes())
  t.eq(#errors, 1, vim.inspect(c:notes()))
  t.eq(errors[1].msg, 'texpaste: The language server exited while starting; see :LspLog.')
  unchanged(c, lines)
end)

t.test('error: an unnamed buffer and an unknown mode are refused up front', function()
  local c = H.child()
  c:setup()
  c:lua("require('texpaste').paste({ path = ... })", H.png)
  H.one_error(c, 'no file name')
  c:lua('_G.__notes = {}')
  c:edit(H.file('mode.md', { 'x' }))
  c:cmd('TexPaste sideways')
  H.one_error(c, 'Unknown subcommand `sideways`')
  c:lua('_G.__notes = {}')
  c:lua("require('texpaste').paste({ path = ..., mode = 'sideways' })", H.png)
  H.one_error(c, 'Unknown mode `sideways`')
  t.eq(c:lines(), { 'x' })
end)

t.test('a paste the buffer moved past is refused, not dropped, and the formula is in a register', function()
  local c = H.child()
  c:setup()
  local lines = { 'Formula: ' }
  c:edit(H.file('stale.md', lines))
  c:cmd('normal! $')
  -- The user types just before Neovim applies the server's edit (made for the older version).
  c:lua([[
    local client = require('texpaste.client')
    local apply = client.apply_edit
    client.apply_edit = function(err, params, ctx)
      vim.api.nvim_buf_set_lines(0, 1, 1, false, { 'typed meanwhile' })
      return apply(err, params, ctx)
    end
  ]])
  c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
  c:wait_idle(100000)
  local text = '$' .. H.latex(c, H.png) .. '$'
  t.eq(c:lines(), { 'Formula: ', 'typed meanwhile' }, 'no formula at a stale place')
  t.eq(c:lua([[return vim.fn.getreg('"')]]), text, 'the formula is offered in the unnamed register')
  H.one_error(c, 'unnamed register')
end)

