-- The README's Neovim 0.11 install (a pack/*/start link, helptags, setup() in init.lua), in a real
-- Neovim started normally (user config and packages loaded) with a temp XDG_CONFIG_HOME/XDG_DATA_HOME.
-- Usage (see run.sh): nvim --headless -i NONE -n -c 'luafile install_test.lua'
local passed, failed = 0, 0
local function check(name, ok, detail)
  if ok then passed = passed + 1 else failed = failed + 1 end
  io.stdout:write((ok and 'ok - ' or 'not ok - ') .. name .. ((not ok and detail) and (': ' .. tostring(detail)) or '') .. '\n')
end
local ok, splitlink = pcall(require, 'splitlink')
check('require("splitlink") from pack/*/start', ok, splitlink)
check('init.lua setup() ran: commands exist', vim.fn.exists(':SplitlinkBuild') == 2 and vim.fn.exists(':SplitlinkExplain') == 2)
check('setup() took the options', ok and splitlink.config and splitlink.config.settings.compilerDiagnostics == 'errors', ok and vim.inspect(splitlink.config))
for _, tag in ipairs({ 'splitlink', 'splitlink-setup', ':SplitlinkBuild', ':SplitlinkRun', ':SplitlinkStop', ':SplitlinkExplain', 'splitlink-statusline', 'splitlink-health' }) do
  local hok, herr = pcall(vim.cmd, 'help ' .. tag)
  check(':help ' .. tag, hok and vim.bo.filetype == 'help', herr)
  pcall(vim.cmd, 'helpclose')
end
io.stdout:write(string.format('%d passed, %d failed\n', passed, failed))
vim.cmd(failed > 0 and 'cquit! 1' or 'qall!')
