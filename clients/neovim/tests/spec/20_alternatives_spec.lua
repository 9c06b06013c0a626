-- End to end: `:TexPaste alternatives` replaces the last formula in place, also after edits
-- elsewhere in the buffer (the server's candidate code actions, picked with vim.ui.select).
local t = require('harness')
local H = require('helpers')

-- vim.ui.select stub: records the items as shown and picks _G.__pick.
local STUB_SELECT = [[
  vim.ui.select = function(items, opts, on_choice)
    local shown = {}
    for _, item in ipairs(items) do
      table.insert(shown, opts.format_item and opts.format_item(item) or tostring(item))
    end
    _G.__select = { shown = shown, prompt = opts.prompt }
    on_choice(_G.__pick and items[_G.__pick] or nil)
  end
]]

t.test(
  ':TexPaste alternatives swaps in another candidate where the formula is, after edits elsewhere',
  function()
    local c = H.child()
    c:setup({ candidates = 3 })
    c:lua(STUB_SELECT)
    local lines = { 'Text before ', 'last line' }
    c:edit(H.file('alt.md', lines))
    c:lua('vim.api.nvim_win_set_cursor(0, { 1, 11 })')
    c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
    c:wait_idle(60000)
    local last = c:last()
    t.ok(#last.candidates >= 2, 'several candidates: ' .. #last.candidates)
    t.eq(last.current, 1)
    t.eq(last.text, last.candidates[1].text)
    t.eq(last.text, '$' .. last.candidates[1].latex .. '$')
    t.eq(c:lines(), H.inserted(lines, 0, 12, last.text))

    -- edits around it: a new first line, text typed right after the formula
    c:lua("vim.api.nvim_buf_set_lines(0, 0, 0, false, { 'A new first line' })")
    c:lua(
      "local l = vim.api.nvim_buf_get_lines(0, 1, 2, false)[1]; vim.api.nvim_buf_set_text(0, 1, #l, 1, #l, { ' (after)' })"
    )
    local edited = c:lines()

    c:lua('_G.__pick = 2')
    c:alternatives()
    local shown = c:lua('return _G.__select.shown')
    t.eq(#shown, #last.candidates)
    t.match(shown[1], '^%* ', 'current candidate marked')
    t.match(shown[2], '^  ', 'others not marked')
    local second = last.candidates[2].text
    t.eq(c:lines(), { 'A new first line', 'Text before ' .. second .. ' (after)', 'last line' })
    t.eq(edited[2], 'Text before ' .. last.text .. ' (after)')
    t.eq(c:last().current, 2)

    -- and back to the first one
    c:lua('_G.__pick = 1')
    c:alternatives()
    t.eq(c:lines(), edited)
    -- cancelling the picker changes nothing
    c:lua('_G.__pick = nil')
    c:alternatives()
    t.eq(c:lines(), edited)
    t.eq(c:notes(), {})
  end,
  { timeout = 60000 }
)

t.test(':TexPaste alternatives explains when there is nothing to replace', function()
  local c = H.child()
  c:setup()
  c:lua(STUB_SELECT)
  local lines = { 'Nothing pasted yet' }
  c:edit(H.file('none.md', lines))
  c:alternatives()
  H.one_error(c, 'No formula was pasted in this buffer yet')
  t.eq(c:lua('return _G.__select'), nil, 'no picker')

  -- with one candidate (greedy), say so instead of opening a picker
  c:lua('_G.__notes = {}')
  c:lua("require('texpaste').paste({ path = ..., mode = 'raw' })", H.png)
  c:wait_idle()
  c:alternatives()
  local notes = c:notes()
  t.eq(#notes, 1)
  t.match(notes[1].msg, '^texpaste: The last formula has no alternatives')
  t.eq(c:lua('return _G.__select'), nil, 'no picker')

  -- an edited formula is left alone (setup() again: the running server gets the new settings)
  c:lua('_G.__notes = {}')
  c:setup({ candidates = 2 })
  c:edit(H.file('edited.md', { 'x ' }))
  c:lua('vim.api.nvim_win_set_cursor(0, { 1, 1 })')
  c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
  c:wait_idle()
  local last = c:last()
  t.eq(#last.candidates, 2, 'candidates after setup()')
  t.eq(c:lines(), { 'x ' .. last.text })
  c:lua(
    'local l = vim.api.nvim_get_current_line(); vim.api.nvim_buf_set_text(0, 0, #l - 1, 0, #l - 1, { "X" })'
  )
  local edited = c:lines()
  c:lua('_G.__pick = 2')
  c:alternatives()
  H.one_error(c, 'was edited since')
  t.eq(c:lines(), edited)
end, { timeout = 60000 })
