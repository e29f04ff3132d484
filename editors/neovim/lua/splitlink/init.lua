--- splitlink for Neovim: starts `splitlink lsp` for Rust buffers of a Cargo workspace, adds
--- :SplitlinkBuild / :SplitlinkRun / :SplitlinkStop / :SplitlinkExplain / :SplitlinkTest, statusline
--- components (`require('splitlink').status()`, `.test_status()`) and `:checkhealth splitlink`.
--- Protocol: docs/lsp-extensions.md in the splitlink repository.
local M = {}

local uv = vim.uv or vim.loop
local has_011 = vim.fn.has('nvim-0.11') == 1

--- Default options (see `:help splitlink-setup`).
M.defaults = {
  --- The server command; `cmd[1]` may be a name on PATH or a path.
  cmd = { 'splitlink', 'lsp' },
  --- Buffers to attach to (Cargo.toml buffers only among `toml` ones).
  filetypes = { 'rust', 'toml' },
  --- Server settings (sent as initializationOptions and workspace/didChangeConfiguration):
  --- bin, profile, features, allFeatures, noDefaultFeatures, compilerDiagnostics, runOnLink, runArgs,
  --- targets ('all' | 'default'), testOnSave, testArgs, testTimeout, fast, check ('build' | 'clippy'),
  --- clippyArgs.
  settings = {},
  --- Open a window with the binary's output on :SplitlinkRun.
  open_run_output = true,
  --- Notify (vim.notify) when the binary started by :SplitlinkRun starts and exits.
  notify_run = true,
  --- Notify (vim.notify) the result of each test run (:SplitlinkTest, testOnSave).
  notify_tests = true,
  --- Text before the state in `status()`; icons per state.
  status = {
    prefix = 'splitlink: ',
    icons = { starting = '…', building = '⟳', linked = '✓', skipped = '↷', failed = '✗', ok = '✓', error = '✗' },
  },
  --- Called when the client attaches to a buffer: function(client, bufnr).
  on_attach = nil,
  --- Extra fields merged into the LSP client config (capabilities, handlers, ...).
  lsp = {},
}

M.config = nil

--- Per-client build state: { kind = 'starting'|'building'|'finished', step?, build? }.
local states = {}
--- Last buildFinished per client, run output lines per binary name.
local run_lines = {}
local run_buf = nil
local SERVER_NAME = 'splitlink'

-- ---------------------------------------------------------------------------------------------
-- Root detection

local function read_file(path)
  local f = io.open(path, 'r')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

local function exists(path)
  return uv.fs_stat(path) ~= nil
end

--- The Cargo workspace root of a file or directory: the topmost directory whose Cargo.toml has a
--- `[workspace]` table; else the nearest directory with a Cargo.lock; else the nearest Cargo.toml.
---@param path string
---@return string|nil
function M.find_root(path)
  if not path or path == '' then return nil end
  path = vim.fs.normalize(vim.fn.fnamemodify(path, ':p'))
  local dir = (uv.fs_stat(path) or {}).type == 'directory' and path or vim.fs.dirname(path)
  local nearest_manifest, nearest_lock, top_workspace
  local d = dir
  while d do
    local manifest = d .. '/Cargo.toml'
    if exists(manifest) then
      nearest_manifest = nearest_manifest or d
      local text = read_file(manifest) or ''
      if text:find('^%s*%[workspace%]') or text:find('\n%s*%[workspace%]') then top_workspace = d end
    end
    if not nearest_lock and exists(d .. '/Cargo.lock') then nearest_lock = d end
    local parent = vim.fs.dirname(d)
    d = (parent ~= d) and parent or nil
  end
  return top_workspace or nearest_lock or nearest_manifest
end

local function attachable(bufnr)
  if vim.bo[bufnr].buftype ~= '' then return nil end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' then return nil end
  if vim.bo[bufnr].filetype == 'toml' and vim.fs.basename(name) ~= 'Cargo.toml' then return nil end
  return M.find_root(name)
end

-- ---------------------------------------------------------------------------------------------
-- Status

local function fmt_duration(ms)
  local s = math.max(0, ms or 0) / 1000
  if s < 10 then return string.format('%.2f s', s) end
  if s < 100 then return string.format('%.1f s', s) end
  return string.format('%d s', math.floor(s + 0.5))
end
M._fmt_duration = fmt_duration

local function link_errors(client_id)
  local n = 0
  local client = vim.lsp.get_client_by_id(client_id)
  local root = client and client.config.root_dir
  for _, d in ipairs(vim.diagnostic.get()) do
    if d.source == 'splitlink' and d.severity == vim.diagnostic.severity.ERROR and type(d.code) == 'string' and d.code:sub(1, 5) == 'link:' then
      local name = vim.api.nvim_buf_is_valid(d.bufnr) and vim.api.nvim_buf_get_name(d.bufnr) or ''
      if not root or name:sub(1, #root) == root then n = n + 1 end
    end
  end
  return n
end

--- `client_id`, else the current buffer's splitlink client (or the only one running), else nil.
local function client_id_or_current(client_id)
  if client_id then return client_id end
  local clients = vim.lsp.get_clients({ name = SERVER_NAME, bufnr = vim.api.nvim_get_current_buf() })
  if #clients == 0 then clients = vim.lsp.get_clients({ name = SERVER_NAME }) end
  return clients[1] and clients[1].id
end

--- The state of a client as { text = 'linked 0.41 s', kind = 'linked'|..., build = params|nil }.
---@param client_id integer|nil
function M.state(client_id)
  client_id = client_id_or_current(client_id)
  if not client_id then return nil end
  local s = states[client_id] or { kind = 'starting' }
  if s.kind == 'starting' then return { kind = 'starting', text = 'starting' } end
  if s.kind == 'building' then return { kind = 'building', text = 'building', step = s.step } end
  local b = s.build
  local st = M._state_of(b, client_id)
  st.latest = s.latest
  return st
end

function M._state_of(b, client_id)
  if b.error then return { kind = 'error', text = 'build error', build = b } end
  if b.cancelled then return { kind = 'error', text = 'build cancelled', build = b } end
  if not b.success then
    return { kind = 'failed', text = link_errors(client_id) > 0 and 'link failed' or 'build failed', build = b }
  end
  local fast = b.fastLinker and ' (fast)' or ''
  if #b.linked > 0 then return { kind = 'linked', text = 'linked ' .. fmt_duration(b.durationMs) .. fast, build = b } end
  if #b.linkSkipped > 0 then return { kind = 'skipped', text = 'link skipped' .. fast, build = b } end
  if #b.compiled > 0 then return { kind = 'ok', text = 'built ' .. fmt_duration(b.durationMs), build = b } end
  return { kind = 'ok', text = 'up to date ' .. fmt_duration(b.durationMs), build = b }
end

--- Statusline component: '' when no splitlink client runs, else e.g. `splitlink: linked 0.41 s`.
---@param opts? { icons?: boolean, prefix?: string }
function M.status(opts)
  opts = opts or {}
  local st = M.state()
  if not st then return '' end
  local cfg = (M.config or M.defaults).status
  local prefix = opts.prefix or cfg.prefix or ''
  local icon = ''
  if opts.icons then
    local i = cfg.icons[st.kind]
    if i and i ~= '' then icon = i .. ' ' end
  end
  return prefix .. icon .. st.text
end

local function changed(client_id, data)
  pcall(vim.cmd.redrawstatus)
  vim.api.nvim_exec_autocmds('User', { pattern = 'SplitlinkStatus', modeline = false, data = { client_id = client_id, state = M.state(client_id), build = data } })
end

-- ---------------------------------------------------------------------------------------------
-- Server notifications

local handlers = {}

--- A successful build that compiled, linked and skipped nothing (a save that changed nothing).
local function is_noop(b)
  return b.success and not b.cancelled and not b.error and not b.cargoInvoked and #b.compiled == 0 and #b.linked == 0 and #b.linkSkipped == 0
end
M._is_noop = is_noop

handlers['splitlink/buildFinished'] = function(_, params, ctx)
  local shown = states[ctx.client_id] and states[ctx.client_id].build
  if is_noop(params) and shown and shown.success and shown.workspace == params.workspace then
    -- Nothing to do: keep showing the last result (`linked 0.41 s`), remember the latest build.
    states[ctx.client_id] = { kind = 'finished', build = shown, latest = params }
  else
    states[ctx.client_id] = { kind = 'finished', build = params }
  end
  changed(ctx.client_id, params)
  vim.api.nvim_exec_autocmds('User', { pattern = 'SplitlinkBuildFinished', modeline = false, data = vim.tbl_extend('force', { client_id = ctx.client_id }, params) })
end

local function run_buffer()
  if run_buf and vim.api.nvim_buf_is_valid(run_buf) then return run_buf end
  run_buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(run_buf, 'splitlink://run')
  vim.bo[run_buf].bufhidden = 'hide'
  vim.bo[run_buf].filetype = 'splitlink-run'
  return run_buf
end

local function append_run(line)
  local buf = run_buffer()
  local n = vim.api.nvim_buf_line_count(buf)
  local first = vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1]
  if n == 1 and first == '' then
    vim.api.nvim_buf_set_lines(buf, 0, 1, false, { line })
  else
    vim.api.nvim_buf_set_lines(buf, n, n, false, { line })
  end
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    pcall(vim.api.nvim_win_set_cursor, win, { vim.api.nvim_buf_line_count(buf), 0 })
  end
end

handlers['splitlink/runOutput'] = function(_, params)
  run_lines[params.name] = run_lines[params.name] or {}
  table.insert(run_lines[params.name], params)
  if #run_lines[params.name] > 1000 then table.remove(run_lines[params.name], 1) end
  append_run((params.stream == 'stderr' and '! ' or '') .. params.line)
end

handlers['splitlink/runStatus'] = function(_, params, ctx)
  local msg
  if params.running then
    msg = string.format('%s started (pid %s)', params.name, tostring(params.pid))
  else
    msg = string.format('%s exited%s', params.name, params.exitCode ~= nil and (' with code ' .. params.exitCode) or '')
  end
  append_run('[' .. msg .. ']')
  if (M.config or M.defaults).notify_run then vim.notify('splitlink: ' .. msg, vim.log.levels.INFO) end
  vim.api.nvim_exec_autocmds('User', { pattern = 'SplitlinkRunStatus', modeline = false, data = vim.tbl_extend('force', { client_id = ctx.client_id }, params) })
end

-- Test runs (:SplitlinkTest): the last result per client.
local test_states = {}

handlers['splitlink/testStarted'] = function(_, _, ctx)
  test_states[ctx.client_id] = { kind = 'running' }
  pcall(vim.cmd.redrawstatus)
  vim.api.nvim_exec_autocmds('User', { pattern = 'SplitlinkTestStatus', modeline = false, data = { client_id = ctx.client_id, kind = 'running' } })
end

--- One line for a finished test run: `tests: 8 passed`, `tests: 1 failed (tests::adds at line 14)`.
function M._test_summary(r)
  if r.error then return 'tests not run: ' .. r.error end
  if r.failed > 0 then
    local where = {}
    for _, f in ipairs(r.failures or {}) do table.insert(where, string.format('%s at line %d', f.test, f.line)) end
    return string.format('tests: %d failed, %d passed (%s)', r.failed, r.passed, table.concat(where, ', '))
  end
  if not r.success then
    return string.format('tests: crashed (%s)', table.concat(r.crashed or {}, ', '))
  end
  return string.format('tests: %d passed, %d ignored (%d binaries run, %d unchanged)', r.passed, r.ignored, r.ran, r.unchanged)
end

handlers['splitlink/testFinished'] = function(_, params, ctx)
  test_states[ctx.client_id] = { kind = 'finished', run = params }
  pcall(vim.cmd.redrawstatus)
  if (M.config or M.defaults).notify_tests then
    vim.notify('splitlink: ' .. M._test_summary(params), params.success and vim.log.levels.INFO or vim.log.levels.ERROR)
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'SplitlinkTestFinished', modeline = false, data = vim.tbl_extend('force', { client_id = ctx.client_id }, params) })
end

--- The last test run of the current buffer's client: nil, { kind = 'running' } or
--- { kind = 'finished', run = <splitlink/testFinished params> }.
function M.test_state(client_id)
  client_id = client_id_or_current(client_id)
  return client_id and test_states[client_id]
end

--- Statusline component for tests: '' before any run, `testing`, `tests: 8 passed`, `tests: 1 failed`.
function M.test_status()
  local t = M.test_state()
  if not t then return '' end
  if t.kind == 'running' then return 'testing' end
  local r = t.run
  if r.error then return 'tests not run' end
  if r.failed > 0 then return string.format('tests: %d failed', r.failed) end
  if not r.success then return 'tests crashed' end
  return string.format('tests: %d passed', r.passed)
end

--- Lines the binary started by :SplitlinkRun printed: { { name, stream, line }, ... }.
function M.run_output(name)
  if name then return run_lines[name] or {} end
  local all = {}
  for _, l in pairs(run_lines) do vim.list_extend(all, l) end
  return all
end

-- ---------------------------------------------------------------------------------------------
-- Commands

local function request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function notify(client, method, params)
  if has_011 then return client:notify(method, params) end
  return client.notify(method, params)
end

--- The splitlink client for the current buffer (or the only one running).
local function current_client()
  local clients = vim.lsp.get_clients({ name = SERVER_NAME, bufnr = vim.api.nvim_get_current_buf() })
  if #clients == 0 then clients = vim.lsp.get_clients({ name = SERVER_NAME }) end
  if #clients == 0 then
    vim.notify('splitlink: no splitlink language server is running (open a Rust file of a Cargo workspace; see :checkhealth splitlink)', vim.log.levels.WARN)
    return nil
  end
  return clients[1]
end

--- Sends `workspace/executeCommand` to the current buffer's splitlink client.
---@param command string splitlink.build | splitlink.run | splitlink.stop | splitlink.explain
---@param args? any[]
---@param cb? fun(err: table|nil, result: any)
function M.execute(command, args, cb)
  local client = current_client()
  if not client then return false end
  request(client, 'workspace/executeCommand', { command = command, arguments = args or {} }, function(err, result)
    if err then vim.notify(string.format('splitlink: %s failed: %s', command, err.message or vim.inspect(err)), vim.log.levels.ERROR) end
    if cb then cb(err, result) end
  end, vim.api.nvim_get_current_buf())
  return true
end

function M.build()
  return M.execute('splitlink.build')
end

function M.run(name)
  local args = (name and name ~= '') and { name } or {}
  local ok = M.execute('splitlink.run', args)
  if ok and (M.config or M.defaults).open_run_output then
    local buf = run_buffer()
    if #vim.fn.win_findbuf(buf) == 0 then
      local cur = vim.api.nvim_get_current_win()
      vim.cmd('botright 10split')
      vim.api.nvim_win_set_buf(0, buf)
      vim.api.nvim_set_current_win(cur)
    end
  end
  return ok
end

function M.stop()
  return M.execute('splitlink.stop')
end

--- Build what `cargo test` builds and run the tests; failed tests become diagnostics at their
--- panic line. With `changed`, only the test binaries that changed since they last passed run.
---@param changed? boolean
function M.test(changed)
  return M.execute('splitlink.test', changed and { { changed = true } } or {})
end

--- Shows the server's explanation of the last build in a scratch buffer (`splitlink://explain`).
---@param cb? fun(text: string|nil)
function M.explain(cb)
  return M.execute('splitlink.explain', {}, function(err, text)
    if err or type(text) ~= 'string' then
      if cb then cb(nil) end
      return
    end
    local buf = vim.fn.bufnr('splitlink://explain')
    if buf == -1 then
      buf = vim.api.nvim_create_buf(false, true)
      vim.api.nvim_buf_set_name(buf, 'splitlink://explain')
      vim.bo[buf].bufhidden = 'wipe'
    end
    vim.bo[buf].modifiable = true
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, '\n', { trimempty = true }))
    vim.bo[buf].modifiable = false
    if #vim.fn.win_findbuf(buf) == 0 then
      vim.cmd('botright split')
      vim.api.nvim_win_set_buf(0, buf)
    end
    if cb then cb(text) end
  end)
end

local function binaries()
  local names = {}
  for _, s in pairs(states) do
    if s.build then
      for _, b in ipairs(s.build.binaries or {}) do names[b.name] = true end
    end
  end
  return vim.tbl_keys(names)
end

local function create_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('SplitlinkBuild', function() M.build() end, { desc = 'splitlink: build the workspace now' })
  cmd('SplitlinkRun', function(o) M.run(o.args) end, {
    nargs = '?',
    desc = 'splitlink: run (or restart) the binary',
    complete = function(lead)
      return vim.tbl_filter(function(n) return n:sub(1, #lead) == lead end, binaries())
    end,
  })
  cmd('SplitlinkStop', function() M.stop() end, { desc = 'splitlink: stop the running binary' })
  cmd('SplitlinkTest', function(o) M.test(o.args == 'changed') end, {
    nargs = '?',
    desc = 'splitlink: run the tests (`changed`: only test binaries that changed since they last passed)',
    complete = function() return { 'changed' } end,
  })
  cmd('SplitlinkExplain', function() M.explain() end, { desc = 'splitlink: why each unit compiled and each binary linked or not' })
end

-- ---------------------------------------------------------------------------------------------
-- Setup

local augroup = vim.api.nvim_create_augroup('splitlink', { clear = true })

local function on_progress(ev)
  local data = ev.data or {}
  local client = data.client_id and vim.lsp.get_client_by_id(data.client_id)
  if not client or client.name ~= SERVER_NAME then return end
  local params = data.params or {}
  local token, value = params.token, params.value
  if type(token) ~= 'string' or token:sub(1, 16) ~= 'splitlink/build/' or type(value) ~= 'table' then return end
  local prev = states[client.id]
  if value.kind == 'begin' then
    states[client.id] = { kind = 'building', step = value.message, build = prev and prev.build }
  elseif value.kind == 'report' then
    states[client.id] = { kind = 'building', step = value.message or (prev and prev.step), build = prev and prev.build }
  else
    return -- 'end': splitlink/buildFinished follows with the result
  end
  changed(client.id)
end

local function lsp_config(opts)
  local server_settings = { splitlink = vim.deepcopy(opts.settings or {}) }
  local cfg = vim.tbl_deep_extend('force', {
    name = SERVER_NAME,
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    init_options = server_settings,
    settings = server_settings,
    handlers = handlers,
    on_attach = opts.on_attach,
  }, opts.lsp or {})
  return cfg
end

--- Configures and enables the splitlink language server. Can be called again to change options;
--- running clients get the new settings through workspace/didChangeConfiguration.
---@param opts? table see |splitlink-setup|
function M.setup(opts)
  local user = opts or {}
  opts = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), user)
  -- Lists are taken as given, not merged index by index with the defaults.
  for _, k in ipairs({ 'cmd', 'filetypes' }) do
    if user[k] then opts[k] = vim.deepcopy(user[k]) end
  end
  if user.settings then opts.settings = vim.deepcopy(user.settings) end
  M.config = opts
  create_commands()
  vim.api.nvim_clear_autocmds({ group = augroup })
  vim.api.nvim_create_autocmd('LspProgress', { group = augroup, callback = on_progress })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = augroup,
    callback = function(ev)
      local id = ev.data and ev.data.client_id
      if id and not vim.lsp.get_client_by_id(id) then states[id] = nil end
    end,
  })
  local cfg = lsp_config(opts)

  for _, c in ipairs(vim.lsp.get_clients({ name = SERVER_NAME })) do
    c.settings = cfg.settings
    if c.config then c.config.settings = cfg.settings end
    notify(c, 'workspace/didChangeConfiguration', { settings = cfg.settings })
  end

  -- `_use_lsp_start`: take the Neovim 0.10 path (vim.lsp.start per buffer) on 0.11 too (tests).
  if has_011 and not M._use_lsp_start then
    cfg.root_dir = function(bufnr, on_dir)
      local root = attachable(bufnr)
      if root then on_dir(root) end
    end
    vim.lsp.config(SERVER_NAME, cfg)
    vim.lsp.enable(SERVER_NAME)
  else
    local function start(bufnr)
      local root = attachable(bufnr)
      if not root then return end
      local c = vim.deepcopy(cfg)
      c.root_dir = root
      c.handlers = handlers
      c.on_attach = opts.on_attach
      vim.lsp.start(c, { bufnr = bufnr })
    end
    vim.api.nvim_create_autocmd('FileType', {
      group = augroup,
      pattern = opts.filetypes,
      callback = function(ev) start(ev.buf) end,
    })
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) and vim.tbl_contains(opts.filetypes, vim.bo[b].filetype) then start(b) end
    end
  end
end

return M
