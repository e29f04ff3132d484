-- Real Neovim 0.11 (headless) as the LSP client of `splitlink lsp`: open a file of a workspace
-- that fails to link, :write it, and expect the linker's diagnostic on the call's line.
-- Usage: nvim --headless --clean -l lsp_link_error.lua SPLITLINK_BIN WORKSPACE
local bin, ws = arg[1], arg[2]
local passed, failed = 0, 0
local function check(name, ok, detail)
  if ok then
    passed = passed + 1
    print('ok - ' .. name)
  else
    failed = failed + 1
    print('not ok - ' .. name .. (detail and (': ' .. detail) or ''))
  end
end

local finished = {}
vim.cmd('edit ' .. ws .. '/app/src/main.rs')
local main_buf = vim.api.nvim_get_current_buf()
local client_id = vim.lsp.start({
  name = 'splitlink',
  cmd = { bin, 'lsp' },
  root_dir = ws,
  handlers = {
    ['splitlink/buildFinished'] = function(_, params) table.insert(finished, params) end,
  },
})
check('client started', client_id ~= nil)
local ok = vim.wait(60000, function() return #finished >= 1 end, 50)
check('first build finished', ok and finished[1].success, vim.inspect(finished))

-- Call the function whose extern symbol is defined nowhere, and save.
vim.api.nvim_buf_set_lines(main_buf, 1, 2, false, { '    println!("{}", ffi::call_it(1));' })
vim.cmd('write')
ok = vim.wait(60000, function() return #finished >= 2 end, 50)
check('build after :write', ok and finished[2].success == false, vim.inspect(finished[2]))

vim.cmd('edit ' .. ws .. '/ffi/src/lib.rs')
local lib_buf = vim.api.nvim_get_current_buf()
local diag
vim.wait(20000, function()
  for _, d in ipairs(vim.diagnostic.get(lib_buf)) do
    if d.code == 'link:undefined-symbol' then diag = d return true end
  end
  return false
end, 50)
check('linker diagnostic published', diag ~= nil, vim.inspect(vim.diagnostic.get(lib_buf)))
if diag then
  check('on the line of the call (line 6)', diag.lnum == 5, 'lnum=' .. tostring(diag.lnum))
  check('names the symbol', diag.message:find('not_defined_anywhere', 1, true) ~= nil, diag.message)
  check('is an error from splitlink', diag.severity == vim.diagnostic.severity.ERROR and diag.source == 'splitlink')
end

vim.lsp.stop_client(client_id)
vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 50)
print(string.format('%d passed, %d failed', passed, failed))
if failed > 0 then vim.cmd('cquit! 1') else vim.cmd('qall!') end
