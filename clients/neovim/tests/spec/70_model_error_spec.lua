-- End to end: a missing model. This file runs last on purpose: after a failed model load the
-- shared daemon's status stays "error" for every client, even for models that load and recognise
-- fine (a server issue: texpaste/status and `texpaste daemon status` report the last load error of
-- any model), which would fail the :checkhealth test if it ran earlier.
local t = require('harness')
local H = require('helpers')

---@param c texpaste_test.Child
---@param lines string[]
local function unchanged(c, lines)
  t.eq(c:lines(), lines, 'buffer unchanged')
  t.eq(c:lua('return vim.bo.modified'), false, 'buffer not modified')
end

t.test('error: the model is unavailable', function()
  local c = H.child()
  c:setup({ model = H.tmp .. '/no-such-model' })
  local lines = { 'No model: ' }
  c:edit(H.file('nomodel.md', lines))
  c:lua("require('texpaste').paste({ path = ... })", H.png)
  c:wait_idle()
  H.one_error(c, 'no%-such%-model')
  unchanged(c, lines)
end, { timeout = 30000 })
