-- The help file: tags generate without errors, every |link| resolves, and the public surface is
-- documented.
local t = require('harness')
local H = require('helpers')

vim.opt.rtp:prepend(H.plugin)

t.test('doc: :helptags succeeds and every |link| resolves', function()
  local dir = H.tmp .. '/doc'
  vim.fn.mkdir(dir, 'p')
  local text = H.read(H.plugin .. '/doc/texpaste.txt')
  local f = assert(io.open(dir .. '/texpaste.txt', 'wb'))
  f:write(text)
  f:close()
  vim.cmd.helptags(vim.fn.fnameescape(dir)) -- raises on duplicate tags (E154)
  local tags = {}
  for line in io.lines(dir .. '/tags') do
    tags[line:match('^([^\t]+)')] = true
  end
  local builtin = {}
  for line in io.lines(vim.env.VIMRUNTIME .. '/doc/tags') do
    builtin[line:match('^([^\t]+)')] = true
  end
  for _, tag in ipairs({
    'texpaste',
    'texpaste.txt',
    ':TexPaste',
    ':TexPaste-alternatives',
    ':TexPaste-snip',
    ':TexPaste-cancel',
    ':TexPaste-status',
    '<Plug>(texpaste-paste)',
    '<Plug>(texpaste-alternatives)',
    '<Plug>(texpaste-snip)',
    'texpaste.setup()',
    'g:texpaste',
    'texpaste-install',
    'texpaste-health',
    'texpaste-lsp',
    'hl-TexpastePending',
  }) do
    t.ok(tags[tag], 'tag ' .. tag)
  end
  for _, key in ipairs(vim.tbl_keys(require('texpaste.config').defaults)) do
    t.ok(tags['texpaste-config-' .. key], 'setting documented: ' .. key)
  end
  -- |links| outside code blocks
  local in_code = false
  for line in vim.gsplit(text, '\n') do
    if line:match('>%w*$') then
      in_code = true
    elseif in_code and line:match('^<') then
      in_code = false
    end
    if not in_code then
      for link in line:gmatch('|([^|%s]+)|') do
        t.ok(tags[link] or builtin[link], 'link |' .. link .. '| resolves')
      end
    end
  end
  -- lines fit 'textwidth' 78
  local n = 0
  for line in vim.gsplit(text, '\n') do
    n = n + 1
    t.ok(vim.fn.strdisplaywidth(line) <= 78, 'line ' .. n .. ' is at most 78 columns')
  end
end)

t.test('doc: the README shows the rtp line, lazy.nvim, the keymap and every subcommand', function()
  local readme = H.read(H.plugin .. '/README.md')
  t.match(readme, "vim%.opt%.rtp:append%(plugin%.dir %.%. '/clients/neovim'%)")
  t.match(readme, "vim%.opt%.rtp:append%('[^']*/clients/neovim'%)")
  t.match(readme, '<Plug>%(texpaste%-paste%)')
  t.match(readme, 'checkhealth texpaste')
  for _, sub in ipairs({ 'inline', 'display', 'raw', 'alternatives', 'snip', 'cancel', 'status' }) do
    t.match(readme, ':TexPaste ' .. sub, 'subcommand ' .. sub)
  end
end)
