// What the small LSP tests share: the server binary, and waiting for a condition that
// notifications make true (call `wake()` from every handler).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = process.env.SPLITLINK_BIN || path.join(repo, 'target/debug/splitlink');

/** `until(pred, what)` resolves with pred()'s first truthy value; `describe()` goes in the timeout message. */
export function waiter(describe) {
  let check = () => {};
  const wake = () => check();
  const until = (pred, what, ms = 90000) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out: ${what}; ${describe()}`)), ms);
    check = () => { const v = pred(); if (v) { clearTimeout(t); resolve(v); } };
    check();
  });
  return { wake, until };
}
