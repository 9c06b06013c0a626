-- End to end: the editor never blocks while recognising, edits made meanwhile survive, and a
-- pending paste can be cancelled.
local t = require('harness')
local H = require('helpers')

--- Makes the next recognitions slow enough to act during them: a large image costs the tiny
--- model more encoder time. Returns the path of a 4x upscaled copy of the test PNG.
local function big_png()
  local path = H.tmp .. '/big.png'
  if vim.fn.filereadable(path) == 0 then
    local py = vim.fn.executable(H.bin .. '/python') == 1 and (H.bin .. '/python') or 'python3'
    local res = vim
      .system({
        py,
        '-c',
        'import sys; from PIL import Image; im = Image.open(sys.argv[1]); im.resize((im.width * 4, im.height * 4)).save(sys.argv[2])',
        H.png,
        path,
      }, { text = true })
      :wait(60000)
    assert(res.code == 0, res.stderr)
  end
  return path
end

t.test('while recognising: the editor answers at once and typing elsewhere is kept', function()
  local c = H.child()
  c:setup()
  local lines = { 'Start: ', 'middle line', 'end' }
  c:edit(H.file('typing.md', lines))
  -- insert mode at the end of line 1, as after pressing the mapping while typing
  c:lua('vim.api.nvim_win_set_cursor(0, { 1, 7 })')
  c:input('A')
  c:wait('vim.api.nvim_get_mode().mode == "i"', 5000)
  local t0 = vim.uv.hrtime()
  c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
  t.ok(c:lua("return require('texpaste.pending').count()") == 1, 'the paste is pending')
  -- the editor is responsive: requests are answered within a fraction of the recognition time
  for _ = 1, 5 do
    local r0 = vim.uv.hrtime()
    t.eq(c:lua('return 1 + 1'), 2)
    t.ok((vim.uv.hrtime() - r0) / 1e6 < 250, 'the child answered quickly')
  end
  -- keep typing: at the cursor, and on other lines below
  c:input('and more')
  c:wait('vim.api.nvim_get_current_line() == "Start: and more"', 5000)
  c:lua("vim.api.nvim_buf_set_text(0, 1, 0, 1, 0, { 'edited ' })")
  c:lua("vim.api.nvim_buf_set_lines(0, -1, -1, false, { 'appended line' })")
  t.eq(c:lua("return require('texpaste.pending').count()"), 1, 'still pending after the edits')
  c:wait_idle()
  local elapsed = (vim.uv.hrtime() - t0) / 1e6
  local text = '$' .. H.latex(c, H.png) .. '$'
  -- the formula sits where the paste was asked for, before what was typed after it
  t.eq(c:lines(), { 'Start: ' .. text .. 'and more', 'edited middle line', 'end', 'appended line' })
  -- the user moved the cursor meanwhile, so it stays after what they typed
  t.eq(c:cursor(), { 1, #('Start: ' .. text .. 'and more') })
  t.eq(c:lua('return vim.api.nvim_get_mode().mode'), 'i')
  t.ok(elapsed > 100, 'recognition took a while: ' .. elapsed)
  t.eq(c:notes(), {})
end, { timeout = 40000 })

-- docs/protocol.md: the server follows the edits made during recognition (textDocument/didChange),
-- so the formula lands where the cursor's spot has moved to, and no text of the user's is lost.
t.test(
  'while recognising: lines added above the paste point move the formula with them',
  function()
    local c = H.child()
    c:setup()
    local lines = { 'Title', 'Energy: ', 'end' }
    c:edit(H.file('above.md', lines))
    c:lua('vim.api.nvim_win_set_cursor(0, { 2, 7 })') -- on the space: the formula goes after it
    c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", big_png())
    c:wait_sent()
    c:lua("vim.api.nvim_buf_set_lines(0, 0, 0, false, { 'a line added above' })")
    c:wait_idle()
    local text = '$' .. H.latex(c, big_png()) .. '$'
    local out = c:lines()
    t.eq(out, { 'a line added above', 'Title', 'Energy: ' .. text, 'end' })
    t.eq(#c:notes(), 0, vim.inspect(c:notes()))
  end,
  { timeout = 40000 }
)

t.test(':TexPaste cancel stops a pending recognition and leaves the buffer as it was', function()
  local c = H.child()
  c:setup()
  local lines = { 'Cancel me: ' }
  c:edit(H.file('cancel.md', lines))
  c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", big_png())
  -- wait until the request is with the server, then cancel
  c:wait_sent()
  c:cmd('TexPaste cancel')
  c:wait_idle()
  t.eq(c:lines(), lines)
  t.eq(c:lua('return vim.bo.modified'), false)
  local notes = c:notes()
  t.eq(#notes, 1, vim.inspect(notes))
  t.eq(notes[1].msg, 'texpaste: The recognition was cancelled.')
  t.eq(notes[1].level, vim.log.levels.INFO)
  -- nothing left to cancel
  c:cmd('TexPaste cancel')
  t.eq(c:notes()[2].msg, 'texpaste: Nothing to cancel.')
end, { timeout = 40000 })
