-- End to end: a child Neovim with the plugin, the real `texpaste serve` and the shared daemon with
-- the tiny random model. Buffer contents are checked exactly against what the server recognises.
local t = require('harness')
local H = require('helpers')

--- Records LspProgress events and the pending marker's texts in the child.
local WATCH = [=[
  _G.__progress, _G.__markers = {}, {}
  vim.api.nvim_create_autocmd('LspProgress', { callback = function(ev)
    local v = ev.data.params.value
    table.insert(_G.__progress, { kind = v.kind, title = v.title, message = v.message })
  end })
  local ns = require('texpaste.pending').ns
  local timer = vim.uv.new_timer()
  timer:start(0, 20, vim.schedule_wrap(function()
    for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })) do
      local vt = m[4].virt_text
      if vt then _G.__markers[vt[1][1]] = true end
    end
  end))
]=]

t.test(
  'markdown: inline formula after the cursor on a multibyte line (cold daemon start)',
  function()
    local c = H.child()
    c:setup()
    c:lua(WATCH)
    local lines = { '# Notes', 'Größe: é∑ und mehr', '' }
    local path = H.file('note.md', lines)
    c:edit(path)
    t.eq(c:lua('return vim.bo.filetype'), 'markdown')
    c:lua('vim.api.nvim_win_set_cursor(0, { 2, ... })', #'Größe: é') -- on "∑"
    c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
    t.eq(
      c:lua("return require('texpaste').statusline()"):find('^texpaste: ') ~= nil,
      true,
      'statusline while pending'
    )
    c:wait_idle(100000)
    local latex = H.latex(c, H.png)
    local text = '$' .. latex .. '$'
    local col = #'Größe: é∑'
    t.eq(c:lines(), H.inserted(lines, 1, col, text))
    t.eq(c:cursor(), { 2, col + #text - 1 }, 'cursor on the closing $')
    t.eq(c:last().text, text)
    t.eq(c:notes(), {})
    t.eq(c:lua("return require('texpaste').statusline()"), '')
    -- progress was visible: LspProgress begin/end from the server, and the inline marker
    local progress = c:lua('return _G.__progress')
    t.eq(progress[1].kind, 'begin')
    t.eq(progress[1].title, 'texpaste')
    t.eq(progress[#progress].kind, 'end')
    local markers = vim.tbl_keys(c:lua('return _G.__markers'))
    t.ok(#markers > 0, 'a marker was shown')
    t.match(table.concat(markers, '|'), 'texpaste: ', 'marker text')
    -- the marker is virtual text: it never entered the buffer or the undo history
    t.eq(
      c:lua('return #vim.api.nvim_buf_get_extmarks(0, require("texpaste.pending").ns, 0, -1, {})'),
      0
    )
  end,
  { timeout = 120000 }
)

t.test(
  'markdown: :TexPaste on a blank line inserts a $$ display block from the X clipboard',
  function()
    local c = H.child({ display = true })
    c:setup()
    H.set_clipboard(H.png)
    local lines = { 'Intro', '', 'Outro' }
    c:edit(H.file('display.md', lines))
    c:lua('vim.api.nvim_win_set_cursor(0, { 2, 0 })')
    c:cmd('TexPaste')
    c:wait_idle()
    local latex = H.latex(c, H.png)
    local text = '$$\n' .. latex .. '\n$$'
    t.eq(c:lines(), H.inserted(lines, 1, 0, text))
    local out = c:lines()
    t.eq(out[2], '$$')
    t.eq(out[#out - 1], '$$')
    t.eq(c:cursor(), { #out - 1, 1 }, 'cursor on the closing $$')
    t.eq(c:notes(), {})
  end,
  { timeout = 40000 }
)

t.test(
  'tex: the keymap in insert mode pastes \\(…\\) from the X clipboard and typing goes on after it',
  function()
    local c = H.child({ display = true })
    c:setup()
    H.set_clipboard(H.png)
    local lines = { '\\documentclass{article}', '\\begin{document}', 'Let ', '\\end{document}' }
    c:edit(H.file('paper.tex', lines))
    t.eq(c:lua('return vim.bo.filetype'), 'tex')
    -- the mapping the README suggests
    c:lua("vim.keymap.set({ 'n', 'i' }, '<C-l>', '<Plug>(texpaste-paste)')")
    c:lua('vim.api.nvim_win_set_cursor(0, { 3, 0 })')
    c:input('A<C-l>')
    c:wait('vim.api.nvim_get_mode().mode == "i"', 5000)
    c:wait_idle()
    local latex = H.latex(c, H.png)
    local text = '\\(' .. latex .. '\\)'
    t.eq(c:lines(), H.inserted(lines, 2, 4, text))
    t.eq(c:cursor(), { 3, 4 + #text }, 'insert-mode cursor after the formula')
    c:input(' holds.<Esc>')
    c:wait('vim.api.nvim_get_mode().mode == "n"', 5000)
    t.eq(c:lines()[3], 'Let ' .. text .. ' holds.')
    t.eq(c:notes(), {})
  end,
  { timeout = 40000 }
)

t.test(
  'plaintex: :TexPaste display puts \\[ … \\] on lines of their own; raw inserts bare LaTeX',
  function()
    local c = H.child()
    c:setup()
    local lines = { 'Consider the sum and more.' }
    c:edit(H.file('plain.tex', lines))
    t.eq(c:lua('return vim.bo.filetype'), 'plaintex')
    c:lua('vim.api.nvim_win_set_cursor(0, { 1, ... })', #'Consider the sum' - 1)
    c:lua("require('texpaste').paste({ path = ..., mode = 'display' })", H.png)
    c:wait_idle()
    local latex = H.latex(c, H.png)
    local text = c:last().text
    t.eq(c:lines(), H.inserted(lines, 0, #'Consider the sum', text))
    local out = c:lines()
    t.ok(vim.list_contains(out, '\\['), 'a line with only \\[: ' .. vim.inspect(out))
    t.ok(vim.list_contains(out, '\\]'), 'a line with only \\]')
    t.match(text, '\\%[\n' .. vim.pesc(latex) .. '\n\\%]', 'display block')

    -- raw: the bare LaTeX at the cursor (end of the last line)
    local before = c:lines()
    c:lua('vim.api.nvim_win_set_cursor(0, { ..., 0 })', #before)
    c:lua('vim.cmd.normal({ "$", bang = true })')
    local col = #before[#before]
    c:lua("require('texpaste').paste({ path = ..., mode = 'raw' })", H.png)
    c:wait_idle()
    t.eq(c:last().text, latex)
    t.eq(c:lines(), H.inserted(before, #before - 1, col, latex))
    t.eq(c:notes(), {})
  end,
  { timeout = 40000 }
)

t.test('visual mode: the mapping replaces the selection', function()
  local c = H.child()
  c:setup()
  local lines = { 'a', 'The PLACEHOLDER here.' }
  c:edit(H.file('replace.md', lines))
  -- <Plug> mappings read the clipboard; here the test feeds the file through a wrapper mapping
  c:lua(
    [[local png = ...
  vim.keymap.set('x', '<C-l>', function()
    require('texpaste').paste({ path = png, mode = 'inline', vim_mode = 'v' })
  end)]],
    H.png
  )
  c:lua('vim.api.nvim_win_set_cursor(0, { 2, 4 })')
  c:input('vf<Space>h<C-l>') -- select "PLACEHOLDER"
  c:wait_idle()
  local text = '$' .. H.latex(c, H.png) .. '$'
  t.eq(c:lines(), { 'a', 'The ' .. text .. ' here.' })
  t.eq(c:lua('return vim.api.nvim_get_mode().mode'), 'n')
  t.eq(c:notes(), {})
end, { timeout = 40000 })

t.test(':TexPaste snip pastes the screenshot taken by snip_command', function()
  local c = H.child()
  c:setup({ snip_command = { 'cp', H.png, '%f' } })
  local lines = { 'Shot: ' }
  c:edit(H.file('snip.md', lines))
  c:lua('vim.api.nvim_win_set_cursor(0, { 1, 5 })')
  c:cmd('TexPaste snip inline')
  c:wait_idle()
  t.eq(c:lines(), H.inserted(lines, 0, 6, '$' .. H.latex(c, H.png) .. '$'))
  t.eq(c:notes(), {})
end, { timeout = 40000 })
