// The build state shown in the status bar, and its text. No `vscode` import (unit-tested).

import type { BuildFinishedParams, TestFinishedParams, WorkDoneProgressValue } from './protocol';

export type BuildState =
  | { kind: 'starting' }
  | { kind: 'stopped' }
  | { kind: 'notFound'; path: string }
  | { kind: 'building'; step?: string; previous?: BuildFinishedParams }
  /** `build` is what the status shows; `latest`, when set, a later build that had nothing to do. */
  | { kind: 'finished'; build: BuildFinishedParams; latest?: BuildFinishedParams };

/** Errors currently shown for the workspace, split by phase (counted from the diagnostics). */
export interface ErrorCounts {
  link: number;
  compile: number;
}

export interface StatusView {
  /** Status bar text, with codicons (`$(check) linked 0.41 s`). */
  text: string;
  /** Markdown tooltip. */
  tooltip: string;
  /** Background: `error` for a failed build or a missing server. */
  severity?: 'error' | 'warning';
}

/** `410` → `0.41 s`, `12345` → `12.3 s`, `123456` → `123 s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 100) return `${s.toFixed(1)} s`;
  return `${Math.round(s)} s`;
}

function shownBuild(state: BuildState): BuildFinishedParams | undefined {
  return state.kind === 'finished' ? state.build : state.kind === 'building' ? state.previous : undefined;
}

/** The next state after a `$/progress` value of a build. */
export function onProgress(state: BuildState, value: WorkDoneProgressValue): BuildState {
  const previous = shownBuild(state);
  switch (value.kind) {
    case 'begin':
      return { kind: 'building', step: value.message, previous };
    case 'report':
      return { kind: 'building', step: value.message ?? (state.kind === 'building' ? state.step : undefined), previous };
    case 'end':
      // `splitlink/buildFinished` follows right away and carries the result.
      return state.kind === 'building' ? { ...state, step: value.message } : state;
  }
}

/** A successful build that compiled, linked and skipped nothing (e.g. a save that changed nothing). */
export function isNoop(b: BuildFinishedParams): boolean {
  return b.success && !b.cancelled && !b.error && !b.cargoInvoked && b.compiled.length === 0 && b.linked.length === 0 && b.linkSkipped.length === 0;
}

/**
 * The state after `splitlink/buildFinished`. A build with nothing to do does not replace a
 * successful result of the same workspace: `linked 0.41 s` stays (the tooltip tells about both).
 */
export function onBuildFinished(state: BuildState, b: BuildFinishedParams): BuildState {
  const shown = shownBuild(state);
  if (isNoop(b) && shown && shown.success && shown.workspace === b.workspace) return { kind: 'finished', build: shown, latest: b };
  return { kind: 'finished', build: b };
}

function list(names: string[]): string {
  return names.length ? names.map((n) => `\`${n}\``).join(', ') : '—';
}

function buildTooltip(b: BuildFinishedParams, errors: ErrorCounts): string {
  const lines = [
    `**splitlink** — build #${b.generation} of \`${b.workspace}\``,
    '',
    `- result: ${b.error ? 'could not start' : b.cancelled ? 'cancelled' : b.success ? 'success' : 'failed'} in ${formatDuration(b.durationMs)}`,
    `- cargo: ${b.cargoInvoked ? 'invoked (the build graph was (re)captured)' : 'not invoked'}`,
    `- compiled: ${list(b.compiled)}`,
    `- linked: ${list(b.linked)}`,
    `- link skipped (objects unchanged): ${list(b.linkSkipped)}`,
  ];
  if (b.fastLinker) lines.push(`- fast mode: linked with ${b.fastLinker} (behaves as cargo's binary, not byte-identical)`);
  if (!b.success && !b.cancelled && !b.error) lines.push(`- errors: ${errors.link} linker, ${errors.compile} compiler`);
  if (b.error) lines.push('', b.error);
  lines.push('', 'Click to show the output.');
  return lines.join('\n');
}

/** What the status bar shows for a state. */
export function statusView(state: BuildState, errors: ErrorCounts = { link: 0, compile: 0 }): StatusView {
  switch (state.kind) {
    case 'starting':
      return { text: '$(sync~spin) splitlink', tooltip: 'splitlink: starting the language server…' };
    case 'stopped':
      return { text: '$(circle-slash) splitlink', tooltip: 'splitlink: the language server is not running. Click to show the output.', severity: 'warning' };
    case 'notFound':
      return {
        text: '$(error) splitlink not found',
        tooltip: `splitlink: \`${state.path}\` was not found. Install splitlink or set \`splitlink.server.path\`. Click to show the output.`,
        severity: 'error',
      };
    case 'building':
      return { text: '$(sync~spin) building', tooltip: `splitlink: building${state.step ? ` — ${state.step}` : ''}…` };
    case 'finished': {
      const b = state.build;
      let tooltip = buildTooltip(b, errors);
      if (state.latest) tooltip = `${tooltip}\n\nLatest build #${state.latest.generation}: nothing to do (${formatDuration(state.latest.durationMs)}).`;
      if (b.error) return { text: '$(error) build error', tooltip, severity: 'error' };
      if (b.cancelled) return { text: '$(circle-slash) build cancelled', tooltip };
      if (!b.success) {
        if (errors.link > 0) return { text: '$(error) link failed', tooltip, severity: 'error' };
        return { text: '$(error) build failed', tooltip, severity: 'error' };
      }
      const fast = b.fastLinker ? ' (fast)' : '';
      if (b.linked.length > 0) return { text: `$(check) linked ${formatDuration(b.durationMs)}${fast}`, tooltip };
      if (b.linkSkipped.length > 0) return { text: `$(debug-step-over) link skipped${fast}`, tooltip };
      if (b.compiled.length > 0) return { text: `$(check) built ${formatDuration(b.durationMs)}`, tooltip };
      return { text: `$(check) up to date ${formatDuration(b.durationMs)}`, tooltip };
    }
  }
}

/** The test status bar item's state. */
export type TestState = { kind: 'idle' } | { kind: 'running' } | { kind: 'finished'; run: TestFinishedParams };

/** What the test status bar item shows (clicking it runs the tests). */
export function testView(state: TestState): StatusView {
  switch (state.kind) {
    case 'idle':
      return { text: '$(beaker) Test', tooltip: 'splitlink: run the tests (what `cargo test` runs)' };
    case 'running':
      return { text: '$(sync~spin) testing', tooltip: 'splitlink: building and running the tests…' };
    case 'finished': {
      const r = state.run;
      const lines = [`**splitlink test** — \`${r.workspace}\``, ''];
      if (r.error) {
        lines.push(r.error);
        return { text: '$(error) tests not run', tooltip: lines.join('\n'), severity: 'error' };
      }
      lines.push(
        `- ${r.passed} passed, ${r.failed} failed, ${r.ignored} ignored in ${formatDuration(r.durationMs)}`,
        `- test binaries run: ${r.ran}; unchanged since they last passed: ${r.unchanged}`,
      );
      for (const f of r.failures) lines.push(`- \`${f.test}\` (${f.binary}) at line ${f.line}: ${f.message.split('\n')[0]}`);
      for (const c of r.crashed) lines.push(`- crashed: ${c}`);
      lines.push('', 'Click to run the tests again.');
      const tooltip = lines.join('\n');
      if (r.stopped) return { text: '$(circle-slash) tests stopped', tooltip };
      if (r.failed > 0) return { text: `$(error) ${r.failed} failed`, tooltip, severity: 'error' };
      if (!r.success) return { text: `$(error) tests crashed`, tooltip, severity: 'error' };
      return { text: `$(pass) ${r.passed} passed`, tooltip };
    }
  }
}

/** One line for the output channel after a test run. */
export function testSummaryLine(r: TestFinishedParams): string {
  if (r.error) return `tests: ${r.error}`;
  const parts = [`tests ${r.success ? 'ok' : 'FAILED'}: ${r.passed} passed, ${r.failed} failed, ${r.ignored} ignored`, `${r.ran} binaries run, ${r.unchanged} unchanged`];
  for (const f of r.failures) parts.push(`${f.test} failed at line ${f.line}`);
  for (const c of r.crashed) parts.push(`crashed: ${c}`);
  return parts.join('; ');
}

/** One line for the output channel after a build. */
export function buildSummaryLine(b: BuildFinishedParams): string {
  const result = b.error ? `could not start: ${b.error}` : b.cancelled ? 'cancelled' : b.success ? 'ok' : 'failed';
  const parts = [`build #${b.generation} ${result} in ${formatDuration(b.durationMs)}`];
  if (b.cargoInvoked) parts.push('through cargo');
  if (b.compiled.length) parts.push(`compiled ${b.compiled.join(', ')}`);
  if (b.linked.length) parts.push(`linked ${b.linked.join(', ')}`);
  if (b.linkSkipped.length) parts.push(`link skipped ${b.linkSkipped.join(', ')}`);
  return parts.join('; ');
}

/** A diagnostic's `code` as VS Code holds it: a string, a number or `{ value, target }`. */
export type DiagnosticCode = string | number | { value: string | number } | undefined;

/** Whether a diagnostic code is one of the linker's (`link:<kind>`). */
export function isLinkCode(code: DiagnosticCode): boolean {
  const v = typeof code === 'object' && code !== null ? code.value : code;
  return typeof v === 'string' && v.startsWith('link:');
}
