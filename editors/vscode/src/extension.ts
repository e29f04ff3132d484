// The splitlink extension: starts `splitlink lsp`, shows the build state in the status bar and
// maps the commands to the server's `workspace/executeCommand`s (docs/lsp-extensions.md).

import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import {
  BUILD_FINISHED,
  BuildFinishedParams,
  RUN_OUTPUT,
  RUN_STATUS,
  RunOutputParams,
  RunStatusParams,
  SERVER_COMMANDS,
  TEST_FINISHED,
  TEST_STARTED,
  TestFinishedParams,
  WorkDoneProgressValue,
} from './protocol';
import { resolveServerPath } from './serverPath';
import { changeKind, didChangeConfigurationParams, toServerSettings } from './settings';
import { BuildState, ErrorCounts, TestState, buildSummaryLine, isLinkCode, onBuildFinished, onProgress, statusView, testSummaryLine, testView } from './status';

/** What `activate` returns: used by the extension-host tests, and by anyone scripting VS Code. */
export interface SplitlinkApi {
  /** The status bar item's current text. */
  statusText(): string;
  /** The last `splitlink/buildFinished`. */
  lastBuild(): BuildFinishedParams | undefined;
  readonly onBuildFinished: vscode.Event<BuildFinishedParams>;
  readonly onRunStatus: vscode.Event<RunStatusParams>;
  /** Fires with the status bar item's new text when it changes. */
  readonly onDidChangeStatus: vscode.Event<string>;
  /** Lines the binary started by Run printed (the last 1000). */
  runOutput(): RunOutputParams[];
  /** The running language client, if any. */
  client(): LanguageClient | undefined;
  /** The test status bar item's current text. */
  testStatusText(): string;
  /** The last `splitlink/testFinished`. */
  lastTestRun(): TestFinishedParams | undefined;
  readonly onTestFinished: vscode.Event<TestFinishedParams>;
}

const INSTALL_HINT = 'cargo install --path server/splitlink --locked';
const EXPLAIN_URI = vscode.Uri.parse('splitlink-explain:/last-build.txt');

class Splitlink implements SplitlinkApi {
  private lc: LanguageClient | undefined;
  private state: BuildState = { kind: 'starting' };
  private last: BuildFinishedParams | undefined;
  private readonly binaries = new Map<string, BuildFinishedParams['binaries']>();
  private readonly runLines: RunOutputParams[] = [];
  private explainText = '';
  private readonly output: vscode.OutputChannel;
  private readonly status: vscode.StatusBarItem;
  private readonly runItem: vscode.StatusBarItem;
  private readonly testItem: vscode.StatusBarItem;
  private testState: TestState = { kind: 'idle' };
  private readonly testEmitter = new vscode.EventEmitter<TestFinishedParams>();
  readonly onTestFinished = this.testEmitter.event;
  private readonly buildEmitter = new vscode.EventEmitter<BuildFinishedParams>();
  private readonly runEmitter = new vscode.EventEmitter<RunStatusParams>();
  private readonly explainEmitter = new vscode.EventEmitter<vscode.Uri>();
  private readonly statusEmitter = new vscode.EventEmitter<string>();
  readonly onBuildFinished = this.buildEmitter.event;
  readonly onRunStatus = this.runEmitter.event;
  readonly onDidChangeStatus = this.statusEmitter.event;
  private clientDisposables: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('splitlink');
    this.status = vscode.window.createStatusBarItem('splitlink.status', vscode.StatusBarAlignment.Left, 10);
    this.status.name = 'splitlink build';
    this.status.command = 'splitlink.showOutput';
    this.runItem = vscode.window.createStatusBarItem('splitlink.run', vscode.StatusBarAlignment.Left, 9);
    this.runItem.name = 'splitlink running binary';
    this.runItem.command = 'splitlink.stopBinary';
    this.testItem = vscode.window.createStatusBarItem('splitlink.test', vscode.StatusBarAlignment.Left, 8);
    this.testItem.name = 'splitlink tests';
    this.testItem.command = 'splitlink.runTests';
    context.subscriptions.push(
      this.output,
      this.status,
      this.runItem,
      this.testItem,
      this.buildEmitter,
      this.runEmitter,
      this.explainEmitter,
      this.statusEmitter,
      this.testEmitter,
    );
    this.render();
    this.renderTests();
    this.status.show();
    this.testItem.show();

    const cmd = (id: string, f: (...args: any[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, f));
    cmd('splitlink.buildWorkspace', () => this.execute(SERVER_COMMANDS.build));
    cmd('splitlink.runBinary', (name?: string) => this.run(name));
    cmd('splitlink.stopBinary', () => this.execute(SERVER_COMMANDS.stop));
    cmd('splitlink.runTests', () => this.execute(SERVER_COMMANDS.test));
    cmd('splitlink.runChangedTests', () => this.execute(SERVER_COMMANDS.test, [{ changed: true }]));
    cmd('splitlink.explainBuild', () => this.explain());
    cmd('splitlink.showOutput', () => this.output.show(true));
    cmd('splitlink.restartServer', () => this.restart());

    context.subscriptions.push(
      vscode.workspace.registerTextDocumentContentProvider(EXPLAIN_URI.scheme, {
        onDidChange: this.explainEmitter.event,
        provideTextDocumentContent: () => this.explainText,
      }),
      vscode.workspace.onDidChangeConfiguration((e) => this.configurationChanged(e)),
    );
  }

  // --- SplitlinkApi -------------------------------------------------------------------------
  statusText(): string {
    return this.status.text;
  }
  lastBuild(): BuildFinishedParams | undefined {
    return this.last;
  }
  runOutput(): RunOutputParams[] {
    return [...this.runLines];
  }
  client(): LanguageClient | undefined {
    return this.lc;
  }
  testStatusText(): string {
    return this.testItem.text;
  }
  lastTestRun(): TestFinishedParams | undefined {
    return this.testState.kind === 'finished' ? this.testState.run : undefined;
  }

  // --- status -------------------------------------------------------------------------------
  private setState(s: BuildState): void {
    this.state = s;
    this.render();
  }

  private errorCounts(): ErrorCounts {
    const counts = { link: 0, compile: 0 };
    this.lc?.diagnostics?.forEach((_uri, diags) => {
      for (const d of diags) {
        if (d.severity !== vscode.DiagnosticSeverity.Error || d.source === 'splitlink test') continue;
        if (isLinkCode(d.code)) counts.link++;
        else counts.compile++;
      }
    });
    return counts;
  }

  private render(): void {
    const v = statusView(this.state, this.errorCounts());
    const changed = this.status.text !== v.text;
    this.status.text = v.text;
    const md = new vscode.MarkdownString(v.tooltip);
    md.supportThemeIcons = true;
    this.status.tooltip = md;
    this.status.accessibilityInformation = { label: `splitlink: ${v.text.replace(/\$\([^)]*\)\s*/g, '')}`, role: 'button' };
    this.status.backgroundColor =
      v.severity === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : v.severity === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    if (changed) this.statusEmitter.fire(v.text);
  }

  private renderTests(): void {
    const v = testView(this.testState);
    this.testItem.text = v.text;
    const md = new vscode.MarkdownString(v.tooltip);
    md.supportThemeIcons = true;
    this.testItem.tooltip = md;
    this.testItem.accessibilityInformation = { label: `splitlink tests: ${v.text.replace(/\$\([^)]*\)\s*/g, '')}`, role: 'button' };
    this.testItem.backgroundColor = v.severity === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  // --- the client ---------------------------------------------------------------------------
  async start(): Promise<void> {
    const cfg = vscode.workspace.getConfiguration('splitlink');
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
    const resolved = resolveServerPath(cfg.get<string>('server.path'), { workspaceFolder: folder });
    if (!resolved.ok) {
      this.setState({ kind: 'notFound', path: resolved.tried });
      this.output.appendLine(`splitlink: cannot start the language server: ${resolved.reason}.`);
      this.output.appendLine(`Install it with \`${INSTALL_HINT}\` (from a splitlink checkout), or set \`splitlink.server.path\`.`);
      void this.showMissing(resolved.reason);
      return;
    }
    const serverOptions: ServerOptions = {
      command: resolved.path,
      // No `transport`: with TransportKind.stdio the client library appends `--stdio`, which
      // `splitlink lsp` rejects; a plain executable already talks over stdio.
      args: ['lsp'],
      options: folder ? { cwd: folder } : {},
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: 'file', language: 'rust' },
        { scheme: 'file', pattern: '**/Cargo.toml' },
        { scheme: 'file', pattern: '**/Cargo.lock' },
      ],
      initializationOptions: toServerSettings((k) => cfg.get(k)),
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      diagnosticCollectionName: 'splitlink',
      middleware: {
        handleWorkDoneProgress: (token, params, next) => {
          if (typeof token === 'string' && token.startsWith('splitlink/build/')) {
            this.setState(onProgress(this.state, params as WorkDoneProgressValue));
          }
          next(token, params);
        },
        handleDiagnostics: (uri, diagnostics, next) => {
          next(uri, diagnostics);
          this.render();
        },
      },
    };
    const lc = new LanguageClient('splitlink', 'splitlink', serverOptions, clientOptions);
    this.lc = lc;
    this.clientDisposables = [
      lc.onNotification(BUILD_FINISHED, (p: BuildFinishedParams) => this.buildFinished(p)),
      lc.onNotification(RUN_STATUS, (p: RunStatusParams) => this.runStatus(p)),
      lc.onNotification(TEST_STARTED, () => {
        this.testState = { kind: 'running' };
        this.renderTests();
      }),
      lc.onNotification(TEST_FINISHED, (p: TestFinishedParams) => {
        this.testState = { kind: 'finished', run: p };
        this.output.appendLine(`splitlink: ${testSummaryLine(p)}`);
        this.renderTests();
        this.testEmitter.fire(p);
      }),
      lc.onNotification(RUN_OUTPUT, (p: RunOutputParams) => {
        this.runLines.push(p);
        if (this.runLines.length > 1000) this.runLines.splice(0, this.runLines.length - 1000);
      }),
      lc.onDidChangeState((e) => {
        if (e.newState === State.Stopped && this.lc === lc) this.setState({ kind: 'stopped' });
      }),
    ];
    this.setState({ kind: 'starting' });
    this.output.appendLine(`splitlink: starting ${resolved.path} lsp`);
    try {
      await lc.start();
    } catch (e) {
      this.output.appendLine(`splitlink: the language server did not start: ${e instanceof Error ? e.message : String(e)}`);
      this.setState({ kind: 'stopped' });
      void vscode.window.showErrorMessage(`splitlink: the language server (${resolved.path} lsp) did not start. See the output for details.`, 'Show Output').then((a) => {
        if (a) this.output.show(true);
      });
    }
  }

  private async showMissing(reason: string): Promise<void> {
    const a = await vscode.window.showErrorMessage(
      `splitlink: ${reason}. Install splitlink (\`${INSTALL_HINT}\`) or set "splitlink.server.path".`,
      'Install Instructions',
      'Open Settings',
    );
    if (a === 'Install Instructions') {
      // vsce stores the README as readme.md in the package.
      for (const name of ['README.md', 'readme.md']) {
        const uri = vscode.Uri.joinPath(this.context.extensionUri, name);
        const found = await vscode.workspace.fs.stat(uri).then(() => true, () => false);
        if (found) {
          await vscode.commands.executeCommand('markdown.showPreview', uri);
          return;
        }
      }
      await vscode.commands.executeCommand('extension.open', this.context.extension.id);
    } else if (a === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'splitlink.server.path');
    }
  }

  async stopClient(): Promise<void> {
    const lc = this.lc;
    this.lc = undefined;
    for (const d of this.clientDisposables) d.dispose();
    this.clientDisposables = [];
    this.runItem.hide();
    if (!lc) return;
    try {
      if (lc.state !== State.Stopped) await lc.stop(5000);
    } catch (e) {
      this.output.appendLine(`splitlink: stopping the server: ${e instanceof Error ? e.message : String(e)}`);
    }
    await lc.dispose().catch(() => undefined);
  }

  async restart(): Promise<void> {
    this.output.appendLine('splitlink: restarting the language server');
    await this.stopClient();
    await this.start();
  }

  private running(): LanguageClient | undefined {
    const lc = this.lc;
    if (!lc || lc.state !== State.Running) {
      void vscode.window.showWarningMessage('splitlink: the language server is not running.', 'Restart Server', 'Show Output').then((a) => {
        if (a === 'Restart Server') void this.restart();
        else if (a) this.output.show(true);
      });
      return undefined;
    }
    return lc;
  }

  private async execute(command: string, args: unknown[] = []): Promise<unknown> {
    const lc = this.running();
    if (!lc) return undefined;
    return lc.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
  }

  // --- notifications ------------------------------------------------------------------------
  private buildFinished(p: BuildFinishedParams): void {
    this.last = p;
    this.binaries.set(p.workspace, p.binaries);
    this.output.appendLine(`splitlink: ${buildSummaryLine(p)}`);
    this.setState(onBuildFinished(this.state, p));
    this.buildEmitter.fire(p);
  }

  private runStatus(p: RunStatusParams): void {
    if (p.running) {
      this.runItem.text = `$(debug-stop) ${p.name}`;
      this.runItem.tooltip = `splitlink: ${p.name} is running (pid ${p.pid ?? '?'}). Click to stop it.`;
      this.runItem.show();
      this.output.appendLine(`splitlink: ${p.name} started (pid ${p.pid ?? '?'})`);
    } else {
      this.runItem.hide();
      this.output.appendLine(`splitlink: ${p.name} exited${p.exitCode === undefined ? '' : ` with code ${p.exitCode}`}`);
    }
    this.runEmitter.fire(p);
  }

  // --- commands -----------------------------------------------------------------------------
  private async run(name?: string): Promise<void> {
    let bin = typeof name === 'string' && name ? name : undefined;
    if (!bin && !vscode.workspace.getConfiguration('splitlink').get<string>('bin')) {
      const all = [...this.binaries.values()].flat();
      const names = [...new Set(all.map((b) => b.name))];
      if (names.length > 1) {
        bin = await vscode.window.showQuickPick(names, { placeHolder: 'Binary to run' });
        if (!bin) return;
      }
    }
    this.output.show(true);
    await this.execute(SERVER_COMMANDS.run, bin ? [bin] : []);
  }

  private async explain(): Promise<string | undefined> {
    const text = await this.execute(SERVER_COMMANDS.explain);
    if (typeof text !== 'string') return undefined;
    this.explainText = text;
    this.explainEmitter.fire(EXPLAIN_URI);
    const doc = await vscode.workspace.openTextDocument(EXPLAIN_URI);
    await vscode.window.showTextDocument(doc, { preview: true, preserveFocus: false });
    return text;
  }

  private configurationChanged(e: vscode.ConfigurationChangeEvent): void {
    switch (changeKind((s) => e.affectsConfiguration(s))) {
      case 'restart':
        void this.restart();
        break;
      case 'notify': {
        const lc = this.lc;
        if (lc && lc.state === State.Running) {
          const cfg = vscode.workspace.getConfiguration('splitlink');
          void lc.sendNotification(DidChangeConfigurationNotification.type, didChangeConfigurationParams(toServerSettings((k) => cfg.get(k))));
        }
        break;
      }
      case 'none':
        break;
    }
  }
}

let instance: Splitlink | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<SplitlinkApi> {
  instance = new Splitlink(context);
  await instance.start();
  return instance;
}

export function deactivate(): Promise<void> | undefined {
  const s = instance;
  instance = undefined;
  return s?.stopClient();
}
