-- Default configuration of the texpaste language server for `vim.lsp.config` (Neovim 0.11+).
-- Override any field with `vim.lsp.config('texpaste', {...})`; `require('texpaste').setup()`
-- adds the plugin's settings as `init_options`. On Neovim 0.10 the plugin reads this file itself.
---@type vim.lsp.Config
return {
  cmd = { 'texpaste', 'serve' },
  filetypes = { 'markdown', 'rmd', 'quarto', 'tex', 'plaintex' },
  root_markers = { '.git' },
  -- The plugin reports errors itself (one `vim.notify` per failure), so the server does not
  -- repeat them with window/showMessage.
  init_options = { showErrors = false },
  -- Send edits at once (no 150 ms debounce), so the server knows about text typed while it
  -- recognises before its edit arrives, and the formula lands where the cursor's spot moved to.
  flags = { debounce_text_changes = 0 },
  -- Neovim applies versioned edits (`documentChanges`) but does not announce it; announced, the
  -- server sends the paste for the buffer version it was computed for, and the handler below
  -- refuses it when the buffer has moved on instead of Neovim silently dropping it.
  capabilities = { workspace = { workspaceEdit = { documentChanges = true } } },
  handlers = {
    ['workspace/applyEdit'] = function(err, params, ctx)
      return require('texpaste.client').apply_edit(err, params, ctx)
    end,
  },
}
