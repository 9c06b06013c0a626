-- texpaste: paste the formula on the clipboard (or a region screenshot) as LaTeX at the cursor.
-- Kept tiny: everything else is required lazily when a command or mapping is used.
if vim.g.loaded_texpaste then
  return
end
vim.g.loaded_texpaste = true

vim.api.nvim_create_user_command('TexPaste', function(cmd)
  require('texpaste').command(cmd.fargs)
end, {
  nargs = '*',
  desc = 'Paste the clipboard formula as LaTeX (:TexPaste [inline|display|raw|alternatives|snip|cancel|status])',
  complete = function(arg_lead, line)
    return require('texpaste').complete(arg_lead, line)
  end,
})

vim.keymap.set('n', '<Plug>(texpaste-paste)', function()
  require('texpaste').paste({ vim_mode = 'n' })
end, { desc = 'texpaste: paste the clipboard formula after the cursor' })
vim.keymap.set('i', '<Plug>(texpaste-paste)', function()
  require('texpaste').paste({ vim_mode = 'i' })
end, { desc = 'texpaste: paste the clipboard formula at the cursor' })
vim.keymap.set('x', '<Plug>(texpaste-paste)', function()
  require('texpaste').paste({ vim_mode = 'v' })
end, { desc = 'texpaste: replace the selection with the clipboard formula' })
vim.keymap.set('n', '<Plug>(texpaste-alternatives)', function()
  require('texpaste').alternatives()
end, { desc = 'texpaste: replace the last formula with another candidate' })
vim.keymap.set('n', '<Plug>(texpaste-snip)', function()
  require('texpaste').snip({ vim_mode = 'n' })
end, { desc = 'texpaste: take a region screenshot and paste its formula' })
