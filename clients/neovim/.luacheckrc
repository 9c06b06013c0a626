-- luacheck (Debian: lua-check): luacheck clients/neovim
std = 'luajit'
globals = { 'vim' }
max_line_length = 120
max_string_line_length = false -- long messages and test data stay on one line
ignore = { '212/_.*' } -- unused arguments starting with _
files['tests'] = { max_line_length = false } -- test data and expected messages stay on one line
