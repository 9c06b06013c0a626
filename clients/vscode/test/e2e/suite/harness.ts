/** A tiny sequential test harness for the extension host, with a timeout per test. */

type TestFn = () => Promise<void>;
const tests: { name: string; fn: TestFn; timeoutMs: number }[] = [];

/** Lines for the driver: it prints `texpaste-e2e:log:` messages from the page console. */
export function say(line: string): void {
  console.log(`texpaste-e2e:log:${line}:texpaste-e2e-end`);
}

export function test(name: string, fn: TestFn, timeoutMs = 90_000): void {
  tests.push({ name, fn, timeoutMs });
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every test in order; later tests still run after a failure. Rejects if any failed. */
export async function runAll(): Promise<void> {
  let passed = 0;
  let failed = 0;
  const suiteStart = Date.now();
  for (const t of tests) {
    const start = Date.now();
    try {
      await withTimeout(t.fn(), t.timeoutMs);
      passed++;
      say(`ok - ${t.name} (${((Date.now() - start) / 1000).toFixed(1)}s)`);
    } catch (error) {
      failed++;
      say(
        `not ok - ${t.name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
  }
  say(`e2e suite took ${((Date.now() - suiteStart) / 1000).toFixed(1)}s`);
  say(`e2e: ${passed} passed, ${failed} failed`);
  if (failed > 0) throw new Error(`${failed} end-to-end test(s) failed`);
}
