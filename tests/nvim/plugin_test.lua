-- The Neovim plugin (editors/neovim) in real Neovim (headless), with `require('splitlink').setup{}`
-- against the real `splitlink lsp` on a workspace whose `ffi` crate calls an extern function
-- defined nowhere. Plain Lua: prints `ok - …` / `not ok - …` and a closing `N passed, N failed`.
-- Usage: nvim --headless --clean -n -l plugin_test.lua REPO SPLITLINK_BIN WORKSPACE
local repo, bin, ws = arg[1], arg[2], arg[3]
vim.opt.rtp:prepend(repo .. '/editors/neovim')

local passed, failed = 0, 0
-- io.stdout, not print(): in -l mode print() ends a line only when the next message comes.
local function say(line)
  io.stdout:write(line, '\n')
  io.stdout:flush()
end
local function check(name, ok, detail)
  if ok then
    passed = passed + 1
    say('ok - ' .. name)
  else
    failed = failed + 1
    say('not ok - ' .. name .. (detail ~= nil and (': ' .. tostring(detail)) or ''))
  end
end

local function write_file(path, text)
  vim.fn.mkdir(vim.fs.dirname(path), 'p')
  local f = assert(io.open(path, 'w'))
  f:write(text)
  f:close()
end

local MAIN_FINE = { 'fn main() {', '    println!("{}", ffi::fine());', '}' }
local MAIN_LINK_ERROR = { 'fn main() {', '    println!("{}", ffi::call_it(1));', '}' }
local MAIN_SLEEPS = { 'fn main() {', '    println!("value {}", ffi::fine());', '    std::thread::sleep(std::time::Duration::from_secs(600));', '}' }

-- Events from the plugin.
local builds, statuses, runs = {}, {}, {}
vim.api.nvim_create_autocmd('User', { pattern = 'SplitlinkBuildFinished', callback = function(ev) table.insert(builds, ev.data) end })
vim.api.nvim_create_autocmd('User', { pattern = 'SplitlinkStatus', callback = function(ev) table.insert(statuses, ev.data.state and ev.data.state.kind) end })
vim.api.nvim_create_autocmd('User', { pattern = 'SplitlinkRunStatus', callback = function(ev) table.insert(runs, ev.data) end })
local function build_after(n, ms)
  local ok = vim.wait(ms or 90000, function() return #builds > n end, 20)
  return ok and builds[n + 1] or nil
end
-- Waits until no build finished for `quiet` ms and none runs: a change can reach the server twice
-- (didSave, and a file watcher), so the previous step's trailing build must be over before the
-- next step counts builds.
local function settle(quiet)
  quiet = quiet or 600
  local seen, since = #builds, vim.uv.now()
  vim.wait(60000, function()
    local st = require('splitlink').state()
    if #builds ~= seen or (st and st.kind == 'building') then
      seen, since = #builds, vim.uv.now()
      return false
    end
    return vim.uv.now() - since >= quiet
  end, 20)
end

local splitlink = require('splitlink')
-- SPLITLINK_TEST_LSP_START=1: the plugin's Neovim 0.10 code path (vim.lsp.start) on this Neovim.
splitlink._use_lsp_start = os.getenv('SPLITLINK_TEST_LSP_START') == '1'
say('# plugin client start: ' .. (splitlink._use_lsp_start and 'vim.lsp.start (the 0.10 path)' or 'vim.lsp.config + vim.lsp.enable'))

-- find_root: the topmost Cargo.toml with [workspace], else Cargo.lock, else the nearest Cargo.toml.
do
  local t = vim.fn.tempname()
  write_file(t .. '/w/Cargo.toml', '[workspace]\nmembers = ["crates/a"]\n')
  write_file(t .. '/w/crates/a/Cargo.toml', '[package]\nname = "a"\n')
  write_file(t .. '/w/crates/a/src/lib.rs', '')
  write_file(t .. '/l/Cargo.toml', '[package]\nname = "l"\n')
  write_file(t .. '/l/Cargo.lock', '')
  write_file(t .. '/l/sub/Cargo.toml', '[package]\nname = "sub"\n')
  write_file(t .. '/l/sub/src/main.rs', '')
  write_file(t .. '/p/Cargo.toml', '[package]\nname = "p"\n')
  write_file(t .. '/p/src/main.rs', '')
  local n = vim.fs.normalize
  check('find_root: member crate → workspace root', splitlink.find_root(t .. '/w/crates/a/src/lib.rs') == n(t .. '/w'), splitlink.find_root(t .. '/w/crates/a/src/lib.rs'))
  check('find_root: no [workspace] → the directory with Cargo.lock', splitlink.find_root(t .. '/l/sub/src/main.rs') == n(t .. '/l'), splitlink.find_root(t .. '/l/sub/src/main.rs'))
  check('find_root: only a package → its Cargo.toml', splitlink.find_root(t .. '/p/src/main.rs') == n(t .. '/p'))
  check('find_root: outside any crate → nil', splitlink.find_root('/') == nil)
  vim.fn.delete(t, 'rf')
end
check('durations read like the terminal', splitlink._fmt_duration(410) == '0.41 s' and splitlink._fmt_duration(12345) == '12.3 s')

splitlink.setup({ cmd = { bin, 'lsp' }, notify_run = false })
check('user commands exist', vim.fn.exists(':SplitlinkBuild') == 2 and vim.fn.exists(':SplitlinkRun') == 2 and vim.fn.exists(':SplitlinkStop') == 2 and vim.fn.exists(':SplitlinkExplain') == 2)
check('status() is empty before a client runs', splitlink.status() == '', splitlink.status())

-- Open a file of the member crate `app`: the client starts at the workspace root.
vim.cmd('edit ' .. ws .. '/app/src/main.rs')
local main_buf = vim.api.nvim_get_current_buf()
local client
vim.wait(20000, function()
  client = vim.lsp.get_clients({ name = 'splitlink', bufnr = main_buf })[1]
  return client ~= nil
end, 20)
check('setup{} attaches a splitlink client to a Rust buffer', client ~= nil)
if not client then
  say(string.format('%d passed, %d failed', passed, failed + 1))
  vim.cmd('cquit! 1')
end
check('rooted at the workspace (Cargo.toml with [workspace])', client.config.root_dir == vim.fs.normalize(ws), client.config.root_dir)
local first = build_after(0)
check('the first build finishes', first and first.success, vim.inspect(first))
settle() -- the server may build again (e.g. after cargo wrote Cargo.lock)
check('status() shows a successful build', splitlink.status():match('^splitlink: linked %d+%.%d%d s$') or splitlink.status():match('^splitlink: up to date') or splitlink.status() == 'splitlink: link skipped', splitlink.status())
check('status() with icons', splitlink.status({ icons = true }):match('^splitlink: ✓ ') ~= nil or splitlink.status({ icons = true }):match('^splitlink: ↷ ') ~= nil, splitlink.status({ icons = true }))

-- A call to a function whose extern symbol is defined nowhere; :write.
settle()
local n = #builds
vim.api.nvim_buf_set_lines(main_buf, 0, -1, false, MAIN_LINK_ERROR)
vim.cmd('silent write')
local b = build_after(n)
check('a build follows :write and fails', b and b.success == false, vim.inspect(b))
vim.cmd('edit ' .. ws .. '/ffi/src/lib.rs')
local lib_buf = vim.api.nvim_get_current_buf()
local diag
vim.wait(20000, function()
  for _, d in ipairs(vim.diagnostic.get(lib_buf)) do
    if d.code == 'link:undefined-symbol' then diag = d return true end
  end
  return false
end, 20)
check('the linker diagnostic is on ffi/src/lib.rs line 6', diag and diag.lnum == 5, vim.inspect(vim.diagnostic.get(lib_buf)))
check('it names the symbol and comes from splitlink', diag and diag.message:find('not_defined_anywhere', 1, true) and diag.source == 'splitlink' and diag.severity == vim.diagnostic.severity.ERROR)
local lib_clients = {}
vim.wait(10000, function()
  lib_clients = vim.lsp.get_clients({ name = 'splitlink', bufnr = lib_buf })
  return #lib_clients > 0
end, 20)
check('the plugin attached to lib.rs too (same client)', #lib_clients == 1 and lib_clients[1].id == client.id, vim.inspect(vim.tbl_map(function(c) return c.id end, lib_clients)))
check('status() says link failed', splitlink.status() == 'splitlink: link failed', splitlink.status())

-- :SplitlinkBuild
settle()
n = #builds
local s0 = #statuses
local gen = builds[#builds].generation
vim.cmd('SplitlinkBuild')
b = build_after(n)
check(':SplitlinkBuild triggers a build (splitlink/buildFinished, a new generation)', b and b.generation > gen, vim.inspect(b))
check('the statusline went through "building"', vim.tbl_contains(vim.list_slice(statuses, s0 + 1), 'building'), vim.inspect(vim.list_slice(statuses, s0 + 1)))

-- :SplitlinkExplain
vim.cmd('SplitlinkExplain')
local explain
vim.wait(20000, function()
  local eb = vim.fn.bufnr('splitlink://explain')
  if eb == -1 then return false end
  explain = table.concat(vim.api.nvim_buf_get_lines(eb, 0, -1, false), '\n')
  return explain ~= ''
end, 20)
check(':SplitlinkExplain shows the explanation of the last build', explain and explain:find('workspace ' .. ws, 1, true) and explain:find('app (bin)', 1, true), explain)
check('… in a window', explain and #vim.fn.win_findbuf(vim.fn.bufnr('splitlink://explain')) == 1)
vim.cmd('only')

-- Back to the last linked source: the diagnostic clears and the link is skipped.
vim.cmd('buffer ' .. main_buf)
settle()
n = #builds
vim.api.nvim_buf_set_lines(main_buf, 0, -1, false, MAIN_FINE)
vim.cmd('silent write')
b = build_after(n)
-- All targets by default: the binary's unit-test build is skipped as well.
local skipped = b and vim.deepcopy(b.linkSkipped) or {}
table.sort(skipped)
check('fixed: the build succeeds and skips the link', b and b.success and vim.deep_equal(skipped, { 'app', 'app (test)' }), vim.inspect(b))
vim.wait(10000, function() return #vim.diagnostic.get(lib_buf) == 0 end, 20)
check('the linker diagnostic is cleared', #vim.diagnostic.get(lib_buf) == 0, vim.inspect(vim.diagnostic.get(lib_buf)))
check('status() says link skipped', splitlink.status() == 'splitlink: link skipped', splitlink.status())

-- :SplitlinkRun / :SplitlinkStop on a binary that keeps running.
settle()
n = #builds
vim.api.nvim_buf_set_lines(main_buf, 0, -1, false, MAIN_SLEEPS)
vim.cmd('silent write')
b = build_after(n)
check('an edit to the binary relinks', b and b.success and vim.tbl_contains(b.linked, 'app'), vim.inspect(b))
check('status() says linked with the time', splitlink.status():match('^splitlink: linked %d+%.%d%d s$') ~= nil, splitlink.status())
local linked_status = splitlink.status()
settle()
n = #builds
vim.cmd('SplitlinkBuild')
b = build_after(n)
check('a build with nothing to do: nothing compiled or linked', b and b.success and #b.compiled == 0 and #b.linked == 0 and #b.linkSkipped == 0, vim.inspect(b))
check('… and the statusline keeps the last result', splitlink.status() == linked_status and splitlink.state().latest ~= nil, splitlink.status())
local r0 = #runs
vim.cmd('SplitlinkRun app')
vim.wait(20000, function() return #runs > r0 and runs[#runs].running end, 20)
check(':SplitlinkRun starts the binary', #runs > r0 and runs[#runs].running and runs[#runs].name == 'app', vim.inspect(runs))
vim.wait(20000, function()
  for _, l in ipairs(splitlink.run_output('app')) do
    if l.line == 'value 5' then return true end
  end
  return false
end, 20)
local run_buf = vim.fn.bufnr('splitlink://run')
local run_text = run_buf ~= -1 and table.concat(vim.api.nvim_buf_get_lines(run_buf, 0, -1, false), '\n') or ''
check('its output arrives in the splitlink://run window', run_text:find('value 5', 1, true) and #vim.fn.win_findbuf(run_buf) == 1, run_text)
r0 = #runs
vim.cmd('SplitlinkStop')
vim.wait(20000, function() return #runs > r0 and not runs[#runs].running end, 20)
check(':SplitlinkStop stops it', #runs > r0 and runs[#runs].running == false, vim.inspect(runs))
vim.cmd('only')

-- :SplitlinkTest: a failed test is a diagnostic at its panic line, cleared once it passes.
local tests = {}
vim.api.nvim_create_autocmd('User', { pattern = 'SplitlinkTestFinished', callback = function(ev) table.insert(tests, ev.data) end })
local function main_with_test(n, what)
  return { 'fn main() {', '    println!("{}", ffi::fine());', '}', '', '#[cfg(test)]', 'mod tests {', '    #[test]', '    fn fine_is_five() {',
    string.format('        assert_eq!(ffi::fine(), %d, "%s");', n, what), '    }', '}' }
end
local function test_diags()
  return vim.tbl_filter(function(d) return d.source == 'splitlink test' end, vim.diagnostic.get(main_buf))
end
vim.cmd('buffer ' .. main_buf)
settle()
n = #builds
vim.api.nvim_buf_set_lines(main_buf, 0, -1, false, main_with_test(6, 'fine should be six'))
vim.cmd('silent write')
b = build_after(n)
check('a unit test in the binary builds on save (all targets)', b and b.success and vim.tbl_contains(b.compiled, 'app (test)'), vim.inspect(b))
settle()
local t0 = #tests
vim.cmd('SplitlinkTest')
vim.wait(120000, function() return #tests > t0 end, 20)
local t = tests[#tests]
check(':SplitlinkTest reports the failed test', #tests > t0 and not t.success and t.failed == 1 and t.failures[1].test == 'tests::fine_is_five' and t.failures[1].line == 9, vim.inspect(t))
vim.wait(20000, function() return #test_diags() > 0 end, 20)
local td = test_diags()[1]
check('… as an error diagnostic at the assertion (line 9)', td and td.lnum == 8 and td.severity == vim.diagnostic.severity.ERROR and td.message:find('fine should be six', 1, true), vim.inspect(test_diags()))
check('test_status() says 1 failed', splitlink.test_status() == 'tests: 1 failed', splitlink.test_status())
settle()
n = #builds
vim.api.nvim_buf_set_lines(main_buf, 0, -1, false, main_with_test(5, 'fine should be five'))
vim.cmd('silent write')
b = build_after(n)
settle()
t0 = #tests
vim.cmd('SplitlinkTest')
vim.wait(120000, function() return #tests > t0 end, 20)
t = tests[#tests]
check('fixed: the next run passes', #tests > t0 and t.success and t.failed == 0, vim.inspect(t))
vim.wait(20000, function() return #test_diags() == 0 end, 20)
check('… and the test diagnostic is cleared', #test_diags() == 0, vim.inspect(test_diags()))
check('test_status() says passed', splitlink.test_status():match('^tests: %d+ passed$') ~= nil, splitlink.test_status())
settle()
n = #builds
vim.api.nvim_buf_set_lines(main_buf, 0, -1, false, MAIN_FINE)
vim.cmd('silent write')
build_after(n)

-- :checkhealth splitlink
local function checkhealth()
  vim.cmd('silent checkhealth splitlink')
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local text = table.concat(lines, '\n')
  vim.cmd('tabclose')
  return text
end
local h = checkhealth()
check(':checkhealth splitlink has no ERROR', not h:find('ERROR', 1, true), h)
check('… reports the binary and its version', h:find('splitlink 0%.%d+%.%d+ %(' .. vim.pesc(bin) .. '%)') ~= nil, h)
check('… reports the Neovim version', h:find('Neovim 0.11.4', 1, true) ~= nil, h)
check('… reports the attached client', h:find('client ' .. client.id .. ': root ' .. vim.fs.normalize(ws), 1, true) ~= nil, h)
-- The same check with a binary that does not exist must report an ERROR.
splitlink.setup({ cmd = { '/nonexistent/splitlink', 'lsp' }, notify_run = false })
h = checkhealth()
check(':checkhealth splitlink reports a missing binary as an ERROR', h:find('ERROR', 1, true) ~= nil and h:find('/nonexistent/splitlink', 1, true) ~= nil, h)
splitlink.setup({ cmd = { bin, 'lsp' }, notify_run = false })

client:stop()
vim.wait(5000, function() return vim.lsp.get_client_by_id(client.id) == nil end, 20)
check('the client stops', vim.lsp.get_client_by_id(client.id) == nil)
say(string.format('%d passed, %d failed', passed, failed))
if failed > 0 then vim.cmd('cquit! 1') else vim.cmd('qall!') end
