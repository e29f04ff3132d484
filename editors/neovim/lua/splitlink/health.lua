--- :checkhealth splitlink
local M = {}

local health = vim.health
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local err = health.error or health.report_error
local info = health.info or health.report_info

local function run(cmd)
  if vim.system then
    local r = vim.system(cmd, { text = true }):wait(10000)
    return r.code == 0, vim.trim((r.stdout or '') .. (r.stderr or ''))
  end
  local out = vim.fn.system(cmd)
  return vim.v.shell_error == 0, vim.trim(out)
end

function M.check()
  local splitlink = require('splitlink')
  local cfg = splitlink.config or splitlink.defaults

  start('Neovim')
  local v = vim.version()
  local version = string.format('%d.%d.%d', v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.11') == 1 then
    ok('Neovim ' .. version .. ': uses vim.lsp.config() and vim.lsp.enable()')
  elseif vim.fn.has('nvim-0.10') == 1 then
    ok('Neovim ' .. version .. ': uses vim.lsp.start()')
  else
    err('Neovim ' .. version .. ' is too old', { 'splitlink.nvim needs Neovim 0.10 or newer (0.11 recommended)' })
  end
  if splitlink.config then
    ok('require("splitlink").setup() was called')
  else
    warn('require("splitlink").setup() was not called', { 'Add require("splitlink").setup({}) to your config (lazy.nvim: opts = {})' })
  end

  start('splitlink binary')
  local exe = cfg.cmd[1]
  local path = vim.fn.exepath(exe)
  if path == '' then
    err(string.format('`%s` was not found (not executable, not on PATH)', exe), {
      'Install it from a splitlink checkout: cargo install --path server/splitlink --locked',
      'or point setup({ cmd = { "/path/to/splitlink", "lsp" } }) at it',
    })
  else
    local good, out = run({ path, '--version' })
    if good and out:match('^splitlink') then
      ok(string.format('%s (%s)', out, path))
    else
      err(string.format('`%s --version` failed: %s', path, out))
    end
  end
  for _, tool in ipairs({ 'cargo', 'rustc' }) do
    local p = vim.fn.exepath(tool)
    if p == '' then
      err(tool .. ' was not found on PATH: splitlink builds with the Rust toolchain', { 'Install Rust 1.95 or newer (rustup)' })
    else
      local good, out = run({ p, '--version' })
      if good then
        ok(out)
      else
        local first = table.concat(vim.list_slice(vim.split(out, '\n'), 1, 2), ' ')
        err(string.format('`%s --version` failed: %s', p, first), { 'splitlink builds with cargo and rustc: fix the toolchain (rustup default stable)' })
      end
    end
  end

  start('LSP client')
  local clients = vim.lsp.get_clients({ name = 'splitlink' })
  if #clients == 0 then
    info('No splitlink client is running: open a Rust file of a Cargo workspace')
  end
  local buf = vim.api.nvim_get_current_buf()
  for _, c in ipairs(clients) do
    local attached = vim.tbl_count(c.attached_buffers or {})
    ok(string.format('client %d: root %s, attached to %d buffer(s)', c.id, tostring(c.config.root_dir or c.root_dir), attached))
    local st = splitlink.state(c.id)
    if st then
      local b = st.build
      info(string.format('last state: %s%s', st.text, b and string.format(' (build #%d, %d ms)', b.generation, b.durationMs) or ''))
      if b and b.error then
        warn('the last build could not start: ' .. vim.split(b.error, '\n')[1], { 'See :SplitlinkExplain and :LspLog' })
      end
    end
  end
  if #clients > 0 and #vim.lsp.get_clients({ name = 'splitlink', bufnr = buf }) == 0 and vim.bo[buf].filetype == 'rust' then
    warn('splitlink is not attached to the current buffer', { 'Is the file inside a Cargo workspace? root: ' .. tostring(splitlink.find_root(vim.api.nvim_buf_get_name(buf))) })
  end
end

return M
