// splitlink's LSP extensions, as documented in docs/lsp-extensions.md. Types only: no `vscode`
// import, so the logic built on them can be unit-tested with `node --test`.

export interface Binary {
  name: string;
  path: string;
}

/** `splitlink/buildFinished` (server → client), after every build. */
export interface BuildFinishedParams {
  workspace: string;
  generation: number;
  success: boolean;
  cancelled: boolean;
  cargoInvoked: boolean;
  compiled: string[];
  linked: string[];
  linkSkipped: string[];
  durationMs: number;
  binaries: Binary[];
  /** Only when the build could not start (broken Cargo.toml, no toolchain). */
  error?: string;
  /** Fast mode (`splitlink.fast`): the linker its links used. */
  fastLinker?: string;
}

/** `splitlink/runStatus` (server → client). */
export interface RunStatusParams {
  name: string;
  running: boolean;
  pid?: number;
  exitCode?: number;
}

/** `splitlink/runOutput` (server → client). */
export interface RunOutputParams {
  name: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

/** One failed test, where it panicked. */
export interface TestFailure {
  binary: string;
  test: string;
  uri?: string;
  /** 1-based. */
  line: number;
  column: number;
  message: string;
}

/** `splitlink/testFinished` (server → client), after a test run. */
export interface TestFinishedParams {
  workspace: string;
  success: boolean;
  stopped: boolean;
  ran: number;
  unchanged: number;
  passed: number;
  failed: number;
  ignored: number;
  durationMs: number;
  failures: TestFailure[];
  crashed: string[];
  error?: string;
}

/** The value of a `$/progress` notification for a work-done progress. */
export interface WorkDoneProgressValue {
  kind: 'begin' | 'report' | 'end';
  title?: string;
  message?: string;
  percentage?: number;
  cancellable?: boolean;
}

export const BUILD_FINISHED = 'splitlink/buildFinished';
export const RUN_STATUS = 'splitlink/runStatus';
export const RUN_OUTPUT = 'splitlink/runOutput';
export const TEST_STARTED = 'splitlink/testStarted';
export const TEST_FINISHED = 'splitlink/testFinished';

/** The server's `workspace/executeCommand` commands. */
export const SERVER_COMMANDS = {
  build: 'splitlink.build',
  run: 'splitlink.run',
  stop: 'splitlink.stop',
  explain: 'splitlink.explain',
  test: 'splitlink.test',
} as const;
