-- The README's install recipes in a fresh Neovim (no --clean): the packpath `rtp` line in init.lua,
-- and the lazy.nvim `config` body run after startup. Both must give a working keymap.
local t = require('harness')
local H = require('helpers')

t.test(
  'README packpath recipe: init.lua with the rtp line and the keymap pastes from the X clipboard',
  function()
    local init = H.file('init.lua', {
      string.format("vim.opt.rtp:append('%s')", H.plugin),
      "vim.keymap.set({ 'n', 'i', 'x' }, '<C-l>', '<Plug>(texpaste-paste)', { desc = 'Paste formula' })",
      -- the tests' tiny model (a user would leave the default)
      string.format("vim.g.texpaste = { model = '%s', candidates = 1 }", H.model()),
    })
    local c = H.child({ display = true, init = init })
    t.eq(c:lua('return vim.fn.exists(":TexPaste")'), 2, ':TexPaste exists')
    H.set_clipboard(H.png)
    local lines = { 'See ' }
    c:edit(H.file('readme.md', lines))
    c:lua('vim.api.nvim_win_set_cursor(0, { 1, 3 })')
    c:input('<C-l>')
    c:wait_idle()
    local last = c:last()
    t.ok(last, 'a formula was pasted')
    t.eq(c:lines(), H.inserted(lines, 0, 4, last.text))
    -- mode auto on a line with text: inline, unless the LaTeX has several lines
    local latex = H.latex(c, H.png)
    if latex:find('\\\\', 1, true) or latex:find('\\begin{', 1, true) then
      t.eq(last.text, '$$\n' .. latex .. '\n$$', 'multi-line LaTeX: a display block')
    else
      t.eq(last.text, '$' .. latex .. '$', 'inline')
    end
    t.eq(c:notes(), {})
  end,
  { timeout = 40000 }
)

t.test(
  'README lazy.nvim recipe: rtp append + runtime after startup, then setup() and the keymap',
  function()
    local init =
      H.file('init.lua', { '-- empty: the plugin is added after startup, as lazy.nvim does' })
    local c = H.child({ init = init })
    t.eq(c:lua('return vim.fn.exists(":TexPaste")'), 0)
    c:lua(
      [[
    local dir, model = ...
    vim.opt.rtp:append(dir)
    vim.cmd.runtime('plugin/texpaste.lua')
    require('texpaste').setup({ model = model, candidates = 1 })
    vim.keymap.set({ 'n', 'i', 'x' }, '<C-l>', '<Plug>(texpaste-paste)', { desc = 'Paste formula' })
  ]],
      H.plugin,
      H.model()
    )
    t.eq(c:lua('return vim.fn.exists(":TexPaste")'), 2)
    t.eq(c:lua("return vim.fn.maparg('<C-l>', 'i')"), '<Plug>(texpaste-paste)')
    t.eq(
      c:lua('return vim.lsp.config.texpaste.cmd'),
      { 'texpaste', 'serve' },
      'lsp/texpaste.lua found'
    )
    local lines = { '' }
    c:edit(H.file('lazy.tex', lines))
    c:lua("require('texpaste').paste({ path = ..., mode = 'inline' })", H.png)
    c:wait_idle()
    t.eq(c:lines(), { '\\(' .. H.latex(c, H.png) .. '\\)' })
    t.eq(c:notes(), {})
  end,
  { timeout = 40000 }
)
